"""The relay sandbox's data and rules: what relay accepts, what it refuses, what a write changes.

Thread-safe (one lock); every method returns fresh copies, never live records.  Refusals raise
:class:`RelayStoreError` with the HTTP status relay would answer.  Rules where the document
is silent (decisions of this sandbox, which the bridge must cope with):

- ``PATCH /orders/{id}`` with a status different from the current one changes it, moves
  ``updatedAt`` and adds a comment with ``statusChange`` = the new status and empty text (the
  document's "comments with status changes"); the same status again changes nothing.
- A new comment does **not** move the order's ``updatedAt`` unless the knob
  ``comments_touch_order`` is on: the document does not say, so the harder case is the default.
- ``PATCH`` answers the order id as a bare number (the document's example ``0``); creates of
  order fields, contact persons and addresses likewise; the others answer ``{"id": n}``.
- ``PATCH`` with ``"dueDate": null``: the document types dueDate as a date-time and says
  nothing about clearing it.  By default (knob ``null_clears_due_date`` off) a null is ignored
  — answered like any PATCH, the old date kept — which breaks a client that does not read the
  order back; with the knob on, it clears the date.  ``internalId`` (a string) is stored as sent.
- Files of a comment are kept as name, type, size and SHA-256 (the API shows name, itemType,
  updatedAt; the control API also the size and hash, so tests can prove what arrived).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import itertools
import threading
import time
from datetime import datetime, timezone
from typing import Any, Iterable

from bridge.sandbox.relay.generator import RelayDataset, iso

ORDER_STATUSES = ("OPEN", "IN_PROGRESS", "FINISHED", "DECLINED", "NULL", "PREPARE")
MAX_COMMENT_FILES = 10
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
API_AUTHOR = "relay API"  # author of the status-change comment a PATCH adds


class RelayStoreError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _bad(message: str) -> RelayStoreError:
    return RelayStoreError(400, message)


def _text(body: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise _bad(f"{key} must be a non-empty string" if required else f"{key} must be a string")
    return value


def _number(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _bad(f"{key} must be a number")
    try:
        number = float(value)
    except ValueError:
        raise _bad(f"{key} must be a number") from None
    if not number.is_integer():
        raise _bad(f"{key} must be a whole number")
    return int(number)


def _date_time(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise _bad(f"{key} must be a date-time string")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _bad(f"{key} must be a date-time (ISO 8601)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return iso(parsed)


def _appointment_time(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise _bad(f"{key} must be a string like 2021-02-06 11:00:00")
    try:
        datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise _bad(f"{key} must look like 2021-02-06 11:00:00") from None
    return value


class RelayStore:
    def __init__(self, data: RelayDataset, *, clock=time.time):
        self._lock = threading.RLock()
        self._clock = clock
        self._last_ms = 0
        self.orders: dict[int, dict[str, Any]] = {o["id"]: o for o in copy.deepcopy(data.orders)}
        self.customers: dict[int, dict[str, Any]] = {c["id"]: c for c in copy.deepcopy(data.customers)}
        self.properties: dict[int, dict[str, Any]] = {p["id"]: p for p in copy.deepcopy(data.properties)}
        self.units: list[dict[str, Any]] = copy.deepcopy(data.units)
        self.addresses: dict[int, dict[str, Any]] = {a["id"]: a for a in copy.deepcopy(data.addresses)}
        self.appointments: dict[int, dict[str, Any]] = {}
        self.documents: dict[int, dict[str, Any]] = {}
        highest = max([0, *self.orders] + [c["id"] for o in self.orders.values() for c in o["comments"]])
        self._ids = itertools.count(max(highest, 10**6) + 1)
        self.comments_touch_order = False
        self.null_clears_due_date = False

    # -- time and lookups -------------------------------------------------------------------

    def _now(self) -> str:
        """Server time, strictly increasing in milliseconds (two writes never share a stamp)."""
        ms = max(int(self._clock() * 1000), self._last_ms + 1)
        self._last_ms = ms
        return iso(datetime.fromtimestamp(ms / 1000, tz=timezone.utc))

    def _order(self, order_id: int | str) -> dict[str, Any]:
        try:
            key = int(str(order_id))
        except ValueError:
            raise _bad("orderId must be a number") from None
        order = self.orders.get(key)
        if order is None:
            raise RelayStoreError(404, f"Order {order_id} not found")
        return order

    @staticmethod
    def render(order: dict[str, Any], *, with_files: bool = False) -> dict[str, Any]:
        out = copy.deepcopy(order)
        for comment in out["comments"]:
            files = comment.pop("_files", [])
            if with_files:
                comment["_files"] = files
        return out

    # -- orders ------------------------------------------------------------------------------

    def list_orders(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self.render(self.orders[k]) for k in sorted(self.orders)]

    def get_order(self, order_id: int | str, *, with_files: bool = False) -> dict[str, Any]:
        with self._lock:
            return self.render(self._order(order_id), with_files=with_files)

    def patch_order(self, order_id: int | str, body: Any, *, author: str = API_AUTHOR,
                    comment: str = "", manager: bool = False) -> int:
        """PatchOrder; ``manager=True`` (control API) also changes title, follow-up date and type
        and may give the status change a comment text and author."""
        if not isinstance(body, dict):
            raise _bad("body must be a JSON object")
        changes: dict[str, Any] = {}
        if "status" in body:
            if body["status"] not in ORDER_STATUSES:
                raise _bad(f"status must be one of {', '.join(ORDER_STATUSES)}")
            changes["status"] = body["status"]
        if "dueDate" in body:
            if body["dueDate"] is not None:
                changes["dueDate"] = _date_time(body["dueDate"], "dueDate")
            elif manager or self.null_clears_due_date:  # the manager's own screen can clear it
                changes["dueDate"] = None
        if "internalId" in body:
            changes["internalId"] = _text(body, "internalId", required=False)
        if "address" in body:
            if not isinstance(body["address"], dict):
                raise _bad("address must be an object")
            changes["address"] = dict(body["address"])
        for key in ("title", "followUpDate", "type"):
            if manager and key in body:
                changes[key] = body[key]
        with self._lock:
            order = self._order(order_id)
            current = "NULL" if order["status"] is None else order["status"]
            new_status = changes.pop("status", None)
            changed = {k: v for k, v in changes.items() if order.get(k) != v}
            if not changed and (new_status is None or new_status == current):
                return order["id"]
            now = self._now()
            order.update(changed)
            if new_status is not None and new_status != current:
                order["status"] = new_status
                order["comments"].append({"id": next(self._ids), "text": comment, "orderId": order["id"],
                                          "author": author, "statusChange": new_status, "attachments": [],
                                          "createdAt": now})
            order["updatedAt"] = now
            return order["id"]

    def add_comment(self, order_id: int | str, text: Any, author: Any,
                    files: Iterable[tuple[str, str, int, str]] = ()) -> int:
        """A comment; ``files`` as (name, content type, size, sha256)."""
        if not isinstance(text, str) or not text.strip():
            raise _bad("text must be a non-empty string")
        if not isinstance(author, str) or not author.strip():
            raise _bad("authorName must be a non-empty string")
        with self._lock:
            order = self._order(order_id)
            now = self._now()
            comment_id = next(self._ids)
            stored = list(files)
            order["comments"].append({
                "id": comment_id, "text": text, "orderId": order["id"], "author": author, "statusChange": None,
                "attachments": [{"name": n, "itemType": t, "updatedAt": now} for n, t, _, _ in stored],
                "createdAt": now,
                "_files": [{"name": n, "itemType": t, "size": s, "sha256": h} for n, t, s, h in stored],
            })
            if self.comments_touch_order:
                order["updatedAt"] = now
            return comment_id

    def list_comments(self, order_id: int | str) -> list[dict[str, Any]]:
        return self.get_order(order_id)["comments"]

    def add_order_field(self, body: Any) -> int:
        if not isinstance(body, dict):
            raise _bad("body must be a JSON object")
        name, content = _text(body, "name"), _text(body, "content")
        position, order_id = _number(body, "position"), _number(body, "orderId")
        with self._lock:
            order = self._order(order_id)
            field_id = next(self._ids)
            order["fields"].append({"id": field_id, "position": position, "name": name, "content": content})
            order["updatedAt"] = self._now()
            return field_id

    def add_contact_person(self, body: Any) -> int:
        if not isinstance(body, dict):
            raise _bad("body must be a JSON object")
        name, kind, email = _text(body, "name"), _text(body, "type"), _text(body, "email")
        telephone, mobile = _text(body, "telephone", required=False), _text(body, "mobile", required=False)
        order_id = _number(body, "orderId")
        with self._lock:
            order = self._order(order_id)
            person_id = next(self._ids)
            order["contactPersons"].append({"type": kind, "name": name, "id": person_id, "telephone": telephone,
                                            "mobile": mobile, "emailAddress": email})
            order["updatedAt"] = self._now()
            return person_id

    # -- the property manager's side (control API) ---------------------------------------------

    def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        title = _text(body, "title")
        status = body.get("status", "OPEN")
        if status not in ORDER_STATUSES:
            raise _bad(f"status must be one of {', '.join(ORDER_STATUSES)}")
        with self._lock:
            prop = self.properties.get(_number(body, "propertyId") if body.get("propertyId") else min(self.properties))
            if prop is None:
                raise RelayStoreError(404, "property not found")
            order_id = next(self._ids)
            now = self._now()
            self.orders[order_id] = {
                "id": order_id, "title": title, "status": status, "address": copy.deepcopy(prop["address"]),
                "dueDate": _date_time(body["dueDate"], "dueDate") if body.get("dueDate") else None,
                "followUpDate": None, "createdAt": now, "updatedAt": now, "internalId": None,
                "isInternal": False, "type": body.get("type", "Reparatur"), "taskId": None,
                "propertyId": prop["id"], "casaviOrderId": None, "casaviTicketId": None,
                "fields": [{"id": next(self._ids), "position": i, "name": f.get("name", ""),
                            "content": f.get("content", "")} for i, f in enumerate(body.get("fields") or [])],
                "attachments": [{"name": a["name"], "itemType": a.get("itemType", "application/pdf"),
                                 "updatedAt": now} for a in body.get("attachments") or []],
                "comments": [],
                "contactPersons": [dict(p, id=next(self._ids)) for p in body.get("contactPersons") or []],
                "customerId": prop["customerId"],
            }
            return self.render(self.orders[order_id])

    # -- appointments --------------------------------------------------------------------------

    def create_appointment(self, body: Any) -> int:
        if not isinstance(body, dict):
            raise _bad("body must be a JSON object")
        record = {"title": _text(body, "title"), "description": _text(body, "description", required=False),
                  "dateStart": _appointment_time(body.get("dateStart"), "dateStart"),
                  "dateEnd": _appointment_time(body.get("dateEnd"), "dateEnd"),
                  "location": _text(body, "location"), "customerId": _number(body, "customerId")}
        with self._lock:
            if record["customerId"] not in self.customers:
                raise RelayStoreError(404, f"Customer {record['customerId']} not found")
            appointment_id = next(self._ids)
            self.appointments[appointment_id] = dict(record, id=appointment_id)
            return appointment_id

    def update_appointment(self, appointment_id: str, body: Any) -> int:
        if not isinstance(body, dict):
            raise _bad("body must be a JSON object")
        changes: dict[str, Any] = {}
        for key in ("title", "description", "location"):
            if key in body:
                changes[key] = _text(body, key, required=key != "description")
        for key in ("dateStart", "dateEnd"):
            if key in body:
                changes[key] = _appointment_time(body[key], key)
        if "customerId" in body:
            changes["customerId"] = _number(body, "customerId")
        with self._lock:
            record = self.appointments.get(int(appointment_id)) if appointment_id.isdigit() else None
            if record is None:
                raise RelayStoreError(404, f"Appointment {appointment_id} not found")
            record.update(changes)
            return record["id"]

    # -- customers, properties, addresses, units -------------------------------------------------

    def list_customers(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(self.customers[k]) for k in sorted(self.customers)]

    def create_customer(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("customer"), dict):
            raise _bad("customer must be an object")
        customer = dict(body["customer"])
        _text(customer, "name")
        with self._lock:
            customer_id = next(self._ids)
            self.customers[customer_id] = dict(customer, id=customer_id, accountId=None, status="ACTIVE")
            return {"casaviAccountId": body.get("casaviAccountId"), "customer": dict(customer, id=str(customer_id))}

    def list_properties(self, limit: int, offset: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = [self.properties[k] for k in sorted(self.properties)]
            return copy.deepcopy(rows[offset:offset + limit])

    def upsert_properties(self, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("properties"), list):
            raise _bad("properties must be an array")
        out = []
        with self._lock:
            for entry in body["properties"]:
                if not isinstance(entry, dict):
                    raise _bad("every property must be an object")
                _text(entry, "name")
                known = str(entry.get("id", "")).isdigit() and int(entry["id"]) in self.properties
                property_id = int(entry["id"]) if known else next(self._ids)
                record = dict(self.properties.get(property_id, {}), **entry, id=property_id)
                self.properties[property_id] = record
                out.append(dict(record, id=str(property_id)))
        return out

    def create_address(self, body: Any) -> int:
        if not isinstance(body, dict):
            raise _bad("body must be a JSON object")
        record = {key: _text(body, key) for key in ("streetAddress", "postalCode", "locality", "country")}
        if len(record["country"] or "") != 2 or not (record["country"] or "").isalpha():
            raise _bad("country must be a 2-letter code (ISO 3166-1 alpha-2)")
        record["additionalInfo"] = _text(body, "additionalInfo", required=False) or ""
        with self._lock:
            address_id = next(self._ids)
            self.addresses[address_id] = dict(record, id=address_id)
            return address_id

    def list_units(self, limit: int, offset: int, *, msc_only: bool) -> list[dict[str, Any]]:
        with self._lock:
            rows = [u for u in self.units if u.get("unitMscNumber") or not msc_only]
            return copy.deepcopy(rows[offset:offset + limit])

    # -- documents ------------------------------------------------------------------------------

    def create_document(self, body: Any) -> int:
        if not isinstance(body, dict):
            raise _bad("body must be a JSON object")
        title = _text(body, "title")
        if not (body.get("propertyId") or body.get("internalPropertyId")):
            raise _bad("a property id or an internal property id is required")
        if not (body.get("customerId") or body.get("internalCustomerId")):
            raise _bad("a customer id or an internal customer id is required")
        with self._lock:
            document_id = next(self._ids)
            self.documents[document_id] = {"id": document_id, "title": title, "attachments": []}
            return document_id

    def add_document_attachment(self, document_id: str, body: Any) -> None:
        if not isinstance(body, dict):
            raise _bad("body must be a JSON object")
        name = _text(body, "name")
        if body.get("fileType") != "application/pdf":
            raise _bad("fileType must be application/pdf")
        try:
            content = base64.b64decode(_text(body, "content") or "", validate=True)
        except (binascii.Error, ValueError):
            raise _bad("content must be base64") from None
        if not content.startswith(b"%PDF"):
            raise _bad("content is not a PDF")
        with self._lock:
            document = self.documents.get(int(document_id)) if document_id.isdigit() else None
            if document is None:
                raise RelayStoreError(404, f"Document {document_id} not found")
            document["attachments"].append({"name": name, "size": len(content),
                                            "sha256": hashlib.sha256(content).hexdigest()})

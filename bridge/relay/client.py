"""Client of casavi's relay API: every operation of the path table (:mod:`bridge.relay.paths`).

No I/O in the constructor; :meth:`RelayClient.check` is the one explicit probe.  Every call
goes through :class:`bridge.http.HttpPolicy`.  What may be repeated after it reached the
server: GET, PATCH and PUT-like updates.  Creates have no caller-chosen id in relay, so they
are repeated only when the request never left (connection refused); a comment's duplicate
protection is the trailer check in :mod:`bridge.relay.source`.
"""

from __future__ import annotations

import base64
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import structlog

from bridge.errors import FatalError, PayloadTooLargeError
from bridge.lenient import format_datetime
from bridge.relay import paths
from bridge.relay.parse import (
    MalformedPayloadError,
    OrderParseError,
    parse_comment_list,
    parse_created_id,
    parse_customer,
    parse_order,
    parse_order_list,
    parse_property,
    parse_unit,
    parse_wrapped,
)
from bridge.relay.records import Customer, Order, OrderComment, Property, Unit
from bridge.relay.session import RelaySession
from bridge.rest_session import response_json

log = structlog.get_logger()


@dataclass(frozen=True)
class CommentFile:
    """A file for CreateOrderComment, streamed from disk."""

    name: str
    content_type: str
    path: Path


def _date_time(value: date | datetime | str) -> str:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00.000Z"
    return value


def _created_id(payload: Any, what: str) -> str:
    created = parse_created_id(payload)
    if created is None:
        raise MalformedPayloadError(f"{what}: the answer carries no id")
    return created


class RelayClient(RelaySession):
    """``RelayClient(base_url, api_key, *, policy, transport=None, timeout=None)``."""

    max_comment_files = paths.MAX_COMMENT_FILES
    max_comment_bytes = paths.MAX_COMMENT_BYTES
    order_pages = 0  # requests the last list_orders took
    orders_unpaged = False  # GET /orders was seen (or probed) to answer every order at once

    # -- probe -------------------------------------------------------------------------------

    def _probe(self) -> None:
        """One cheap authenticated read, one property (for :meth:`check`)."""
        self._get_json(paths.PROPERTIES, [("limit", 1), ("offset", 0)])

    def probe_order_paging(self) -> str:
        """One ``GET /orders?limit=1&offset=0`` (read-only): "paged" when the answer honours the
        limit, "unpaged" when it carries more orders, "unknown" when there are none."""
        payload = self._get_json(paths.ORDERS, [("limit", 1), ("offset", 0)])
        rows = payload.get("orders") if isinstance(payload, Mapping) else payload
        if not isinstance(rows, list) or not rows:
            return "unknown"
        if len(rows) > 1:
            self.orders_unpaged = True
            return "unpaged"
        return "paged"

    # -- orders ------------------------------------------------------------------------------

    def list_orders(self) -> list[Order | OrderParseError]:
        """GetOrders, every page; an unreadable entry as OrderParseError in place.

        The document shows no paging for GetOrders; relay's other lists page by
        ``limit``/``offset``.  Both readings are handled (paths.py): ``limit``/``offset`` are
        sent, ``offset`` moves on by the rows received (a server may cap ``limit`` lower than
        asked), and reading stops at an empty page or a page shorter than the longest seen
        (the server's page size).  A server that does not page shows itself by a page longer
        than asked or by answering the first page again at a later offset; from then on one
        request per listing.  :attr:`order_pages` counts the requests of the last listing.
        """
        entries: list[Order | OrderParseError] = []
        offset, longest, first_ids = 0, 0, None
        pages = 0
        for _ in range(self.max_pages):
            payload = self._get_json(paths.ORDERS, [("limit", paths.ORDER_PAGE_LIMIT), ("offset", offset)])
            rows = payload.get("orders") if isinstance(payload, Mapping) else payload
            if not isinstance(rows, list):
                raise MalformedPayloadError(f"GET {paths.ORDERS}: expected a list of orders")
            pages += 1
            if not rows:
                break
            ids = [row.get("id") if isinstance(row, Mapping) else None for row in rows]
            if first_ids is not None and ids[:len(first_ids)] == first_ids:
                self.orders_unpaged = True  # offset ignored: the first answer held every order
                break
            first_ids = first_ids or ids
            entries.extend(parse_order_list(rows))
            if len(rows) > paths.ORDER_PAGE_LIMIT:
                self.orders_unpaged = True
            if self.orders_unpaged or len(rows) < longest:
                break
            longest = max(longest, len(rows))
            offset += len(rows)
        else:
            raise self._page_limit_reached(paths.ORDERS)
        self.order_pages = pages
        for entry in entries:
            if isinstance(entry, OrderParseError):
                log.warning("relay_order_parse_failed", order=entry.order_id, reason=entry.reason)
        return entries

    def get_order(self, order_id: str) -> Order:
        """GetOrder with its comments, fields, contact persons; NotFoundError when gone."""
        return parse_order(self._get_json(paths.order(order_id)))

    def patch_order(self, order_id: str, *, status: str | None = None,
                    due_date: date | datetime | str | None = None, internal_id: str | None = None,
                    address: Mapping[str, Any] | None = None, clear_due_date: bool = False) -> None:
        """PatchOrder: only the given fields are sent (``clear_due_date``: ``"dueDate": null``,
        which relay's document neither offers nor forbids; read the order back to know whether
        it took it).  An invalid status → 400 → FatalError."""
        body: dict[str, Any] = {}
        if status is not None:
            body["status"] = status
        if clear_due_date:
            body["dueDate"] = None
        elif due_date is not None:
            body["dueDate"] = _date_time(due_date)
        if internal_id is not None:
            body["internalId"] = internal_id
        if address is not None:
            body["address"] = dict(address)
        if not body:
            return
        self._call("PATCH", paths.order(order_id), idempotent=True, json_body=body)

    # -- comments ----------------------------------------------------------------------------

    def list_comments(self, order_id: str) -> list[OrderComment]:
        comments, problems = parse_comment_list(self._get_json(paths.order_comments(order_id)))
        for problem in problems:
            log.warning("relay_comment_skipped", order=order_id, reason=problem)
        return comments

    comment_encoding = "multipart"  # the encoding CreateOrderComment took last (paths.py)

    def create_comment(self, order_id: str, text: str, author_name: str,
                       files: Iterable[CommentFile] = ()) -> str:
        """CreateOrderComment; returns the new comment id.

        The document names the fields but not the encoding: the client sends the one that
        worked last (multipart first); an answer 415 or 400 — refused before anything was
        stored — makes it send the other one (JSON, files base64) once and remember it.
        More than 10 files or more than 100 MB in total: PayloadTooLargeError, nothing sent.
        Not repeated once it may have reached the server (relay takes no caller-chosen id).
        """
        first = self.comment_encoding
        try:
            return self._create_comment(order_id, text, author_name, files, first)
        except FatalError as exc:
            if exc.status not in (400, 415) or isinstance(exc, PayloadTooLargeError):
                raise
            other = "json" if first == "multipart" else "multipart"
            log.info("relay_comment_encoding_switched", refused=first, trying=other, status=exc.status)
            try:
                comment_id = self._create_comment(order_id, text, author_name, files, other)
            except FatalError as second:
                if second.status in (400, 415):
                    raise exc from None  # neither encoding taken: the first refusal says why
                raise
            self.comment_encoding = other
            return comment_id

    def _create_comment(self, order_id: str, text: str, author_name: str, files: Iterable[CommentFile],
                        encoding: str) -> str:
        chosen = list(files)
        if len(chosen) > self.max_comment_files:
            raise PayloadTooLargeError(f"{len(chosen)} files for one relay comment; relay accepts at most "
                                       f"{self.max_comment_files}")
        total = sum(Path(f.path).stat().st_size for f in chosen)
        if total > self.max_comment_bytes:
            raise PayloadTooLargeError(f"files of {total / 1024 / 1024:.1f} MB for one relay comment; relay "
                                       f"accepts at most {self.max_comment_bytes // 1024 // 1024} MB")
        if encoding == "json":
            body = {"text": text, "authorName": author_name,
                    "files": [{"name": f.name, "contentType": f.content_type or "application/octet-stream",
                               "content": base64.b64encode(Path(f.path).read_bytes()).decode("ascii")}
                              for f in chosen]}
            response = self._call("POST", paths.order_comments(order_id), idempotent=False, json_body=body)
            return self._created_comment(order_id, response, len(chosen))
        with ExitStack() as stack:
            handles = [(f, stack.enter_context(Path(f.path).open("rb"))) for f in chosen]

            def parts() -> list[tuple[str, tuple[str, Any, str]]]:
                out = []
                for f, handle in handles:
                    handle.seek(0)  # a fresh stream for every attempt
                    out.append(("files", (f.name, handle, f.content_type or "application/octet-stream")))
                return out

            response = self._call("POST", paths.order_comments(order_id), idempotent=False,
                                  form={"text": text, "authorName": author_name},
                                  files=parts if handles else None)
        return self._created_comment(order_id, response, len(chosen))

    def _created_comment(self, order_id: str, response: Any, files: int) -> str:
        comment_id = parse_created_id(response_json(response))
        if comment_id is None:
            raise MalformedPayloadError(f"POST {paths.order_comments(order_id)}: the answer carries no id")
        log.info("relay_comment_created", order=order_id, comment=comment_id, files=files)
        return comment_id

    # -- order details -----------------------------------------------------------------------

    def create_order_field(self, order_id: str, name: str, content: str, position: int) -> str:
        payload = response_json(self._call("POST", paths.ORDER_FIELDS, idempotent=False, json_body={
            "name": name, "content": content, "position": position, "orderId": _number(order_id)}))
        return _created_id(payload, f"POST {paths.ORDER_FIELDS}")

    def create_contact_person(self, order_id: str, name: str, type: str, email: str, *,
                              telephone: str | None = None, mobile: str | None = None) -> str:
        body: dict[str, Any] = {"name": name, "type": type, "email": email, "orderId": _number(order_id)}
        if telephone:
            body["telephone"] = telephone
        if mobile:
            body["mobile"] = mobile
        payload = response_json(self._call("POST", paths.CONTACT_PERSONS, idempotent=False, json_body=body))
        return _created_id(payload, f"POST {paths.CONTACT_PERSONS}")

    # -- appointments ------------------------------------------------------------------------

    def create_appointment(self, title: str, date_start: str, date_end: str, location: str,
                           customer_id: str, description: str | None = None) -> str:
        """CreateAppointment; dates as the document writes them: ``"2021-02-06 11:00:00"``."""
        body: dict[str, Any] = {"title": title, "dateStart": date_start, "dateEnd": date_end,
                                "location": location, "customerId": _number(customer_id)}
        if description is not None:
            body["description"] = description
        payload = response_json(self._call("POST", paths.APPOINTMENTS, idempotent=False, json_body=body))
        return _created_id(payload, f"POST {paths.APPOINTMENTS}")

    def update_appointment(self, appointment_id: str, **changes: Any) -> None:
        """UpdateAppointment with the document's field names (title, dateStart, ...)."""
        allowed = {"title", "description", "dateStart", "dateEnd", "location", "customerId"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"UpdateAppointment has no fields {sorted(unknown)}")
        self._call("PATCH", paths.appointment(appointment_id), idempotent=True, json_body=changes)

    # -- customers, properties, addresses, units ---------------------------------------------

    def list_customers(self) -> list[Customer]:
        customers, problems = parse_wrapped(self._get_json(paths.CUSTOMERS), "customers", parse_customer)
        for problem in problems:
            log.warning("relay_customer_skipped", reason=problem)
        return customers

    def create_customer(self, customer: Mapping[str, Any], casavi_account_id: int | None = None) -> Any:
        body: dict[str, Any] = {"customer": dict(customer)}
        if casavi_account_id is not None:
            body["casaviAccountId"] = casavi_account_id
        return response_json(self._call("POST", paths.CUSTOMERS, idempotent=False, json_body=body))

    def list_properties(self) -> Iterator[Property]:
        for payload in self._offset_pages(paths.PROPERTIES, "properties"):
            rows, problems = parse_wrapped(payload, "properties", parse_property)
            for problem in problems:
                log.warning("relay_property_skipped", reason=problem)
            yield from rows

    def create_properties(self, properties: Iterable[Mapping[str, Any]],
                          casavi_account_id: int | None = None) -> Any:
        """CreateProperties creates *or updates* by id: repeating it is harmless."""
        body: dict[str, Any] = {"properties": [dict(p) for p in properties]}
        if casavi_account_id is not None:
            body["casaviAccountId"] = casavi_account_id
        return response_json(self._call("POST", paths.PROPERTIES, idempotent=True, json_body=body))

    def create_address(self, street_address: str, postal_code: str, locality: str, country: str,
                       additional_info: str | None = None) -> str:
        body = {"streetAddress": street_address, "postalCode": postal_code, "locality": locality,
                "country": country}
        if additional_info:
            body["additionalInfo"] = additional_info
        payload = response_json(self._call("POST", paths.ADDRESSES, idempotent=False, json_body=body))
        return _created_id(payload, f"POST {paths.ADDRESSES}")

    def list_units(self, *, msc_only: bool = False) -> Iterator[Unit]:
        path = paths.UNITS_MSC if msc_only else paths.UNITS
        for payload in self._offset_pages(path, "units"):
            rows, problems = parse_wrapped(payload, "units", parse_unit)
            for problem in problems:
                log.warning("relay_unit_skipped", reason=problem)
            yield from rows

    # -- documents ---------------------------------------------------------------------------

    def create_document(self, title: str, *, property_id: str | None = None,
                        internal_property_id: str | None = None, customer_id: str | None = None,
                        internal_customer_id: str | None = None) -> str:
        """CreateDocument: needs a property reference and a customer reference (either kind)."""
        if not (property_id or internal_property_id) or not (customer_id or internal_customer_id):
            raise FatalError("a relay document needs a property id and a customer id (or their internal ids)")
        body = {"title": title, "propertyId": property_id, "internalPropertyId": internal_property_id,
                "customerId": customer_id, "internalCustomerId": internal_customer_id}
        payload = response_json(self._call("POST", paths.DOCUMENTS, idempotent=False,
                                           json_body={k: v for k, v in body.items() if v is not None}))
        return _created_id(payload, f"POST {paths.DOCUMENTS}")

    def add_document_attachment(self, document_id: str, name: str, path: Path,
                                metadata: Mapping[str, Any] | None = None) -> None:
        """AddDocumentAttachment: a PDF, sent base64-encoded in JSON (so it is read into memory)."""
        data = Path(path).read_bytes()
        if not data.startswith(b"%PDF"):
            raise FatalError(f"{name}: relay document attachments must be PDF files")
        body: dict[str, Any] = {"name": name, "fileType": "application/pdf",
                                "content": base64.b64encode(data).decode("ascii")}
        if metadata is not None:
            body["metadata"] = dict(metadata)
        self._call("POST", paths.document_attachments(document_id), idempotent=False, json_body=body)


def _number(value: str) -> int | str:
    """Ids go out as numbers (the document types them so); a non-numeric id as given."""
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() else text

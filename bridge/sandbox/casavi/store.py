"""The casavi sandbox's state: in memory, thread-safe, alive as long as the process.

Every change to a ticket (and, under the reading ``comments_move_modified``, to one of its
comments or tasks) bumps the ticket's ``lastModified`` to a stamp that is strictly greater than every stamp handed out before
(millisecond precision: ``max(now, last + 1 ms)``), so no two changes share a stamp and a
cursor on ``lastModified`` never misses one.

Tickets are kept in an index sorted by ``(lastModified, internalId)``: the list order of
``GET /tickets``.  Methods take and return plain values; request bodies are validated here,
because only the store knows which ids exist.  Errors are :class:`StoreError` subclasses that
carry the HTTP status the real service answers with.
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import Any, Callable, Iterable

from bridge.sandbox.casavi import render as render
from bridge.sandbox.casavi.payload import file_id_list, optional_int, optional_str, required_str, str_list
from bridge.sandbox.casavi.records import (
    HOOK_EVENTS, MAX_FILE_BYTES, PAGE_SIZE, TICKET_STATUSES, TYPE_GROUPS, Conflict, Dataset, FileRecord,
    InvalidRequest, NotFound, TicketRecord, TooLarge,
)
from bridge.sandbox.casavi.store_items import TicketItemsMixin


class CasaviStore(TicketItemsMixin):
    """All casavi data of one sandbox; every public method holds the lock while it runs."""

    # Set by the sandbox from its readings (bridge.sandbox.casavi.readings).
    comments_move_modified = False
    custom_fields_as_text = False
    task_files_apart = False
    task_put_adds_files = False

    def apply_readings(self, readings: Any) -> None:
        """Take the readings the store itself applies (the rest are the routes')."""
        with self._lock:
            self.comments_move_modified = readings.comments_move_modified
            self.custom_fields_as_text = readings.custom_fields_as_text
            self.task_files_apart = readings.task_files_apart
            self.task_put_adds_files = readings.task_put_adds_files

    def __init__(self, dataset: Dataset | None = None, *, clock: Callable[[], float] = time.time):
        dataset = dataset or Dataset()
        self._lock = threading.RLock()
        self._clock = clock
        self.properties = {p["id"]: p for p in dataset.properties}
        self.units = {u["id"]: u for u in dataset.units}
        self.contacts = {c["id"]: c for c in dataset.contacts}
        self.staff = {s["id"]: s for s in dataset.staff}
        self._units_by_property: dict[str, list[str]] = {}
        for unit in dataset.units:
            self._units_by_property.setdefault(unit["propertyId"], []).append(unit["id"])
        self._emails: dict[str, dict[str, Any]] = {}
        for contact in dataset.contacts:
            if contact.get("email"):
                self._emails.setdefault(contact["email"].lower(), contact)
        for member in dataset.staff:  # a manager wins over a contact with the same e-mail
            if member.get("email"):
                self._emails[member["email"].lower()] = member
        self.files = {f.file_id: f for f in dataset.files}
        self.tickets = {t.ticket_id: t for t in dataset.tickets}
        self._order = sorted((t.modified_ms, t.internal_id, t.ticket_id) for t in dataset.tickets)
        self.hooks: dict[int, dict[str, Any]] = {}
        self._last_stamp = max((t.modified_ms for t in dataset.tickets), default=0)
        self._next_internal_id = max((t.internal_id for t in dataset.tickets), default=40000) + 1
        self._next_number = max((t.number for t in dataset.tickets), default=0) + 1
        self._next_file_id = max(self.files, default=100) + 1
        self._next_hook_id = 1

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    # -- time ---------------------------------------------------------------------------------

    def _stamp(self) -> int:
        self._last_stamp = max(int(self._clock() * 1000), self._last_stamp + 1)
        return self._last_stamp

    def _touch(self, ticket: TicketRecord, stamp: int) -> None:
        old = (ticket.modified_ms, ticket.internal_id, ticket.ticket_id)
        index = bisect.bisect_left(self._order, old)
        if index < len(self._order) and self._order[index] == old:
            del self._order[index]
        ticket.modified_ms = stamp
        bisect.insort(self._order, (stamp, ticket.internal_id, ticket.ticket_id))

    # -- lookups ------------------------------------------------------------------------------

    def ticket(self, ticket_id: str) -> TicketRecord:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound(f"Ticket {ticket_id} not found")
        return ticket

    def _one(self, table: dict[str, Any], key: str, what: str) -> Any:
        if key not in table:
            raise NotFound(f"{what} {key} not found")
        return table[key]

    def property(self, property_id: str) -> dict[str, Any]:
        with self._lock:
            return self._one(self.properties, property_id, "Property")

    def unit(self, unit_id: str) -> dict[str, Any]:
        with self._lock:
            return self._one(self.units, unit_id, "Unit")

    def contact(self, contact_id: str) -> dict[str, Any]:
        with self._lock:
            return self._one(self.contacts, contact_id, "Contact")

    def staff_member(self, staff_id: str) -> dict[str, Any]:
        with self._lock:
            return self._one(self.staff, staff_id, "Staff member")

    def units_of(self, property_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._one(self.properties, property_id, "Property")
            return [self.units[u] for u in self._units_by_property.get(property_id, [])]

    def file(self, file_id: int) -> FileRecord:
        with self._lock:
            record = self.files.get(file_id)
            if record is None:
                raise NotFound(f"File {file_id} not found")
            return record

    # -- rendering ----------------------------------------------------------------------------

    def render_ticket(self, ticket_id: str, files_url: str | None, *, detail: bool = True,
                      embed_comments: bool = True) -> dict[str, Any]:
        """``files_url`` None: attachment details carry no ``url``; ``embed_comments`` False:
        ``"comments": []`` (only the paged endpoint lists them)."""
        with self._lock:
            return render.render_ticket(self.ticket(ticket_id), files=self.files, files_url=files_url,
                                        contacts=self.contacts, staff=self.staff, detail=detail,
                                        embed_comments=embed_comments, custom_as_text=self.custom_fields_as_text,
                                        task_files=not self.task_files_apart)

    def render_comment(self, ticket_id: str, comment_id: str, files_url: str | None) -> dict[str, Any]:
        with self._lock:
            comment = self.ticket(ticket_id).comments.get(comment_id)
            if comment is None:
                raise NotFound(f"Comment {comment_id} not found in ticket {ticket_id}")
            return render.render_comment(comment, self.files, files_url)

    def render_comments(self, ticket_id: str, files_url: str | None, page: int) -> list[dict[str, Any]]:
        with self._lock:
            comments = list(self.ticket(ticket_id).comments.values())
            start = (page - 1) * PAGE_SIZE
            return [render.render_comment(c, self.files, files_url) for c in comments[start:start + PAGE_SIZE]]

    def render_task(self, ticket_id: str, task_id: str, files_url: str | None) -> dict[str, Any]:
        with self._lock:
            task = self.ticket(ticket_id).tasks.get(task_id)
            if task is None:
                raise NotFound(f"Task {task_id} not found in ticket {ticket_id}")
            return render.render_task(task, self.files, files_url)

    # -- ticket list --------------------------------------------------------------------------

    def list_tickets(
        self,
        files_url: str | None,
        *,
        page: int = 1,
        since_ms: int | None = None,
        date_semantics: str = "modified",
        property_id: str | None = None,
        unit_id: str | None = None,
        statuses: Iterable[str] = (),
    ) -> list[dict[str, Any]]:
        """One page of tickets ordered by (lastModified, internalId) ascending.

        ``since_ms`` keeps tickets whose lastModified (``date_semantics="modified"``) or
        createdAt (``"created"``) is **at or after** the date (inclusive, so a client that
        passes the last stamp it saw re-reads that ticket instead of missing a sibling with
        the same stamp).
        """
        wanted = set(statuses)
        skip = (page - 1) * PAGE_SIZE
        with self._lock:
            start = 0
            if since_ms is not None and date_semantics == "modified":
                start = bisect.bisect_left(self._order, (since_ms,))
            simple = not wanted and property_id is None and unit_id is None and (
                since_ms is None or date_semantics == "modified")
            if simple:
                keys = self._order[start + skip:start + skip + PAGE_SIZE]
                chosen = [self.tickets[k[2]] for k in keys]
            else:
                chosen = []
                for _, _, ticket_id in self._order[start:]:
                    ticket = self.tickets[ticket_id]
                    if wanted and ticket.status not in wanted:
                        continue
                    if property_id is not None and ticket.property_id != property_id:
                        continue
                    if unit_id is not None and ticket.unit_id != unit_id:
                        continue
                    if since_ms is not None and date_semantics == "created" and ticket.created_ms < since_ms:
                        continue
                    if skip:
                        skip -= 1
                        continue
                    chosen.append(ticket)
                    if len(chosen) == PAGE_SIZE:
                        break
            return [render.render_ticket(t, files=self.files, files_url=files_url, contacts=self.contacts,
                                         staff=self.staff, detail=False, custom_as_text=self.custom_fields_as_text,
                                         task_files=not self.task_files_apart)
                    for t in chosen]

    # -- ticket writes ------------------------------------------------------------------------

    def create_ticket(self, payload: dict[str, Any], *, generate_id: bool = False) -> str:
        """POST /tickets.  ``generate_id`` (sandbox control only) fills a missing id and property."""
        with self._lock:
            ticket_id = optional_str(payload, "id")
            if not ticket_id:
                if not generate_id:
                    raise InvalidRequest("id is required")
                ticket_id = self._free_ticket_id()
            if ticket_id in self.tickets:
                raise Conflict(f"Ticket {ticket_id} already exists")
            property_id = optional_str(payload, "propertyId")
            if not property_id and generate_id and self.properties:
                property_id = next(iter(self.properties))
            title = required_str(payload, "title")
            if not property_id:
                raise InvalidRequest("propertyId is required")
            stamp = self._stamp()
            ticket = TicketRecord(
                ticket_id=ticket_id, internal_id=self._next_internal_id,
                number=optional_int(payload, "number") or self._next_number,
                title=title, description="", property_id=property_id, status="OPEN",
                created_ms=stamp, modified_ms=stamp, reported_ms=stamp)
            self._apply_ticket_fields(ticket, payload, stamp, ui=generate_id)
            ticket.attachments = self._known_files(file_id_list(payload, "attachments"))
            self._next_internal_id += 1
            self._next_number = max(self._next_number, ticket.number) + 1
            self.tickets[ticket_id] = ticket
            bisect.insort(self._order, (stamp, ticket.internal_id, ticket_id))
            if optional_str(payload, "comment"):
                self._add_comment(ticket, {"text": payload["comment"]}, author=None)
            return ticket_id

    def update_ticket(self, ticket_id: str, payload: dict[str, Any], *, partial: bool, ui: bool = False) -> None:
        """PUT /tickets/{id}: the document marks id, title and propertyId required; ``partial``
        (sandbox knob) accepts bodies without them.  ``attachments`` are ignored on PUT
        (changelog 1.11.5: attachments are added through comments).  ``ui`` (the control
        endpoints: an edit in the casavi web app) may also set ``customFields``."""
        with self._lock:
            ticket = self.ticket(ticket_id)
            body_id = optional_str(payload, "id")
            if body_id is not None and body_id != ticket_id:
                raise InvalidRequest(f"id {body_id!r} does not match the ticket in the path ({ticket_id!r})")
            if not partial:
                for key in ("id", "title", "propertyId"):
                    required_str(payload, key)
            if "title" in payload:
                required_str(payload, "title")
            if "number" in payload:
                ticket.number = optional_int(payload, "number") or ticket.number
            stamp = self._stamp()
            self._apply_ticket_fields(ticket, payload, stamp, ui=ui)
            self._touch(ticket, stamp)
            if optional_str(payload, "comment"):
                self._add_comment(ticket, {"text": payload["comment"]}, author=None)

    def _apply_ticket_fields(self, ticket: TicketRecord, payload: dict[str, Any], stamp: int, *,
                             ui: bool = False) -> None:
        """Validate every given field first, then set them (a refused body changes nothing).
        ``typeGroup`` follows ``type`` (the account's type catalog, :data:`TYPE_GROUPS`); the API
        takes neither ``typeGroup`` nor ``customFields`` (not in the document's request bodies: they
        are ignored), the casavi web app (``ui``) sets ``customFields`` whole."""
        changes: dict[str, Any] = {}
        for key, attr in (("title", "title"), ("description", "description"), ("type", "type"),
                          ("statusText", "status_text")):
            if key in payload:
                changes[attr] = optional_str(payload, key)
        if "type" in changes:
            changes["type_group"] = TYPE_GROUPS.get(changes["type"] or "")
        if ui and "customFields" in payload:
            if not isinstance(payload["customFields"], dict):
                raise InvalidRequest("customFields must be an object")
            changes["custom_fields"] = dict(payload["customFields"])
        if "propertyId" in payload:
            changes["property_id"] = self._known("propertyId", optional_str(payload, "propertyId"), self.properties)
        if "unitId" in payload:
            changes["unit_id"] = self._known("unitId", optional_str(payload, "unitId"), self.units)
        if "contactId" in payload:
            changes["contact_id"] = self._known("contactId", optional_str(payload, "contactId"), self.contacts)
        if "assignedToId" in payload:
            changes["assigned_to_id"] = self._known("assignedToId", optional_str(payload, "assignedToId"), self.staff)
        if "sharedWithContacts" in payload:
            shared = str_list(payload, "sharedWithContacts")
            for contact_id in shared:
                self._known("sharedWithContacts", contact_id, self.contacts)
            changes["shared_with_contacts"] = shared
        if "status" in payload:
            status = optional_str(payload, "status")
            if status not in TICKET_STATUSES:
                raise InvalidRequest(f"status must be one of {', '.join(TICKET_STATUSES)}")
            changes["status"] = status
        if "title" in payload:
            changes["title"] = required_str(payload, "title")
        if "description" in changes:
            changes["description"] = changes["description"] or ""
        if "property_id" in changes and changes["property_id"] is None:
            raise InvalidRequest("propertyId must not be empty")
        was_closed = ticket.status == "CLOSED"
        for attr, value in changes.items():
            setattr(ticket, attr, value)
        if "status" in changes:
            if changes["status"] != "CLOSED":
                ticket.closed_ms = None
            elif not was_closed or ticket.closed_ms is None:
                ticket.closed_ms = stamp
                if payload.get("suppressRatingRequest") is not True:
                    ticket.rating_requests += 1

    def delete_ticket(self, ticket_id: str) -> None:
        with self._lock:
            ticket = self.ticket(ticket_id)
            key = (ticket.modified_ms, ticket.internal_id, ticket.ticket_id)
            index = bisect.bisect_left(self._order, key)
            if index < len(self._order) and self._order[index] == key:
                del self._order[index]
            del self.tickets[ticket_id]

    def _free_ticket_id(self) -> str:
        number = len(self.tickets) + 1
        while f"T-{number:05d}" in self.tickets:
            number += 1
        return f"T-{number:05d}"

    def _known(self, key: str, value: str | None, table: dict[str, Any]) -> str | None:
        if value is not None and value not in table:
            raise InvalidRequest(f"{key} {value!r} does not exist")
        return value

    def _known_files(self, file_ids: list[int]) -> list[int]:
        for file_id in file_ids:
            if file_id not in self.files:
                raise InvalidRequest(f"file {file_id} does not exist (upload it to /files first)")
        return file_ids

    # -- files and hooks ----------------------------------------------------------------------

    def add_file(self, name: str, content_type: str, data: bytes, *, max_bytes: int = MAX_FILE_BYTES) -> int:
        if len(data) > max_bytes:
            raise TooLarge(f"file is larger than {max_bytes} bytes")
        with self._lock:
            file_id = self._next_file_id
            self._next_file_id += 1
            self.files[file_id] = FileRecord(file_id, name, content_type, data, int(self._clock() * 1000))
            return file_id

    def add_hook(self, payload: dict[str, Any]) -> int:
        """POST /hooks.  Decision: like casavi's default, only https hook URLs are accepted (400)."""
        event = required_str(payload, "eventName")
        if event not in HOOK_EVENTS:
            raise InvalidRequest(f"eventName must be one of {', '.join(HOOK_EVENTS)}")
        url = required_str(payload, "hookUrl")
        if not url.lower().startswith("https://"):
            raise InvalidRequest("hookUrl must be an https URL")
        with self._lock:
            hook_id = self._next_hook_id
            self._next_hook_id += 1
            self.hooks[hook_id] = {"id": hook_id, "eventName": event, "hookUrl": url}
            return hook_id

    def delete_hook(self, hook_id: int) -> None:
        with self._lock:
            if self.hooks.pop(hook_id, None) is None:
                raise NotFound(f"Hook {hook_id} not found")

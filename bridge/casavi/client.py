"""Client of the casavi manager API v1: every call of the path table (bridge/casavi/paths.py).

No I/O in the constructor; :meth:`CasaviClient.check` is the one explicit probe.  Every call
goes through :class:`bridge.http.HttpPolicy`.  What may be repeated after it reached the
server: GET, PUT and DELETE, and POSTs with a caller-chosen id (a repeat of an already
applied create answers 409, raised as ConflictError for the caller to treat as "exists").
POST /files, POST /hooks and creates without an id are repeated only when the request never
left (connection refused).

Listings are generators that read page after page (25 per page) until a short page; a
ticket that cannot be parsed is yielded as a :class:`TicketParseError` in its place, so one
bad ticket never breaks a page.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

import structlog

from bridge.casavi import files, paths
from bridge.casavi.parse import (
    Contact,
    MalformedPayloadError,
    Property,
    Staff,
    Ticket,
    TicketComment,
    TicketParseError,
    TicketTask,
    Unit,
    as_id,
    format_datetime,
    parse_comment,
    parse_contact,
    parse_list,
    parse_page,
    parse_property,
    parse_staff,
    parse_task,
    parse_ticket,
    parse_ticket_list,
    parse_unit,
)
from bridge.casavi.session import CasaviSession, PaginationError, response_json  # noqa: F401  (PaginationError re-exported)

log = structlog.get_logger()

# Ticket pages asked for at once while a listing is read (see CasaviSession._array_pages; at
# most [casavi] concurrency): the listing comes before any ticket of the pass is worked on, so
# this adds no load beside the workers; a 2,000-ticket listing (81 pages) takes about 22 round
# trips instead of 81.
LISTING_READ_AHEAD = 4

T = TypeVar("T")


def _file_ids(ids: Iterable[str | int]) -> list[int | str]:
    # The API takes file ids as integers; an id that is not numeric is passed on as given.
    out: list[int | str] = []
    for file_id in ids:
        text = str(file_id).strip()
        out.append(int(text) if text.isascii() and text.isdigit() else text)
    return out


def _given(**fields: Any) -> dict[str, Any]:
    """The fields whose value is not None: what a PUT changes."""
    return {name: value for name, value in fields.items() if value is not None}


def _record(payload: Any, parse: Any, what: str) -> Any:
    try:
        return parse(payload)
    except (ValueError, TypeError) as exc:
        raise MalformedPayloadError(f"{what}: {exc}") from None


class CasaviClient(CasaviSession):
    """``CasaviClient(base_url, key, secret, *, policy, transport=None, timeout=None)``."""

    # -- probe -------------------------------------------------------------------------------

    def _probe(self) -> None:
        """Log in and read the first ticket page (for :meth:`check`)."""
        self._get_json(paths.TICKETS, [("page", paths.FIRST_PAGE)])

    # -- tickets -----------------------------------------------------------------------------

    def list_tickets(
        self,
        *,
        date: datetime | None = None,
        property_id: str | None = None,
        unit_id: str | None = None,
        statuses: Iterable[str] | None = None,
        read_ahead: int = LISTING_READ_AHEAD,
    ) -> Iterator[Ticket | TicketParseError]:
        """Every ticket matching the filters, all pages; bad entries as TicketParseError.
        ``read_ahead``: pages asked for at once (1: one after the other, for a caller that
        reads only the first page or so).

        Page-number paging over a list that changes while it is read can skip an entry: a
        ticket modified meanwhile moves to the end (casavi lists by lastModified), and every
        ticket behind it moves up one place, one of them across a page boundary already read.
        Such a move shows as the same ticket seen twice; then the listing is read once more
        and only what was not seen yet (or has a newer lastModified) is yielded.  A ticket
        may therefore come twice, with different versions; callers de-duplicate.
        """
        params: list[tuple[str, str | int]] = []
        if date is not None:
            params.append(("date", format_datetime(date)))
        if property_id:
            params.append(("propertyId", property_id))
        if unit_id:
            params.append(("unitId", unit_id))
        for status in statuses or ():
            params.append(("status", status))
        seen: dict[str, str | None] = {}  # ticket id -> lastModified as yielded
        shifted = False
        for entry in self._ticket_entries(params, read_ahead=read_ahead):
            if isinstance(entry, Ticket):
                shifted = shifted or entry.ticket_id in seen
                seen[entry.ticket_id] = entry.last_modified
            yield entry
        if not shifted:
            return
        log.info("casavi_ticket_listing_reread", tickets=len(seen))
        for entry in self._ticket_entries(params, report=False, read_ahead=read_ahead):
            if isinstance(entry, Ticket):
                if entry.ticket_id in seen and seen[entry.ticket_id] == entry.last_modified:
                    continue
                seen[entry.ticket_id] = entry.last_modified
                yield entry
            # Unreadable entries were reported on the first read already.

    def _ticket_entries(self, params: list[tuple[str, str | int]], *, read_ahead: int,
                        report: bool = True) -> Iterator[Ticket | TicketParseError]:
        for rows in self._array_pages(paths.TICKETS, params, read_ahead=read_ahead):
            for entry in parse_ticket_list(rows):
                if report and isinstance(entry, TicketParseError):
                    log.warning("casavi_ticket_parse_failed", ticket=entry.ticket_id, reason=entry.reason)
                yield entry

    def get_ticket(self, ticket_id: str) -> Ticket:
        """The ticket with its tasks and attachmentDetails, and its comments if casavi embeds
        them (the document's sample shows ``"comments": []``; :meth:`list_comments` is the
        paged list); NotFoundError when gone."""
        return parse_ticket(self._get_json(paths.ticket(ticket_id)))

    def create_ticket(self, fields: Mapping[str, Any]) -> Ticket | None:
        """POST /tickets with casavi's field names; ``id`` (caller-chosen) makes it repeatable."""
        body = dict(fields)
        if "number" in body and isinstance(body["number"], str) and body["number"].isdigit():
            body["number"] = int(body["number"])  # an integer in requests
        idempotent = as_id(body.get("id")) is not None
        payload = response_json(self._call("POST", paths.TICKETS, idempotent=idempotent, json_body=body))
        return parse_ticket(payload) if isinstance(payload, Mapping) else None

    def update_ticket(self, ticket_id: str, fields: Mapping[str, Any], *,
                      comment: str | None = None) -> Ticket | None:
        """PUT /tickets/{id}: ``fields`` must carry id, title, propertyId (the API requires
        them).  ``comment`` is casavi's shorthand for a comment on a status change.  Returns
        the ticket as the answer shows it, None when the answer has no ticket."""
        body = dict(fields)
        body.setdefault("id", ticket_id)
        if comment:
            body["comment"] = comment
        payload = response_json(self._call("PUT", paths.ticket(ticket_id), idempotent=True, json_body=body))
        if not isinstance(payload, Mapping) or as_id(payload.get("id")) is None:
            return None
        return parse_ticket(payload)

    def delete_ticket(self, ticket_id: str) -> None:
        """DELETE /tickets/{id}; NotFoundError when it does not exist (also after a repeat)."""
        self._call("DELETE", paths.ticket(ticket_id), idempotent=True)

    # -- comments ----------------------------------------------------------------------------

    def list_comments(self, ticket_id: str) -> Iterator[TicketComment]:
        """"Get comments of a ticket": every page (25 per page), oldest first."""
        return self._array_records(paths.ticket_comments(ticket_id), parse_comment, "comments",
                                   "casavi_comment_skipped", ticket=ticket_id)

    def create_comment(
        self,
        ticket_id: str,
        text: str,
        comment_id: str | None = None,
        is_internal: bool = False,
        author_id: str | None = None,
        author_email: str | None = None,
        fallback_to_account: bool = True,
        attachments: Iterable[str | int] = (),
    ) -> TicketComment:
        """POST a comment; with ``comment_id`` a repeat is harmless (409 → ConflictError)."""
        body: dict[str, Any] = {"text": text, "isInternal": is_internal,
                                "fallbackToAccount": fallback_to_account}
        if comment_id is not None:
            body["id"] = comment_id
        if author_id:
            body["authorId"] = author_id
        if author_email:
            body["authorEmail"] = author_email
        file_ids = _file_ids(attachments)
        if file_ids:
            body["attachments"] = file_ids
        payload = response_json(self._call("POST", paths.ticket_comments(ticket_id),
                                   idempotent=comment_id is not None, json_body=body))
        try:
            return parse_comment(payload)
        except ValueError:
            # The document shows an empty answer; what we sent is what exists now.
            if comment_id is None:
                log.warning("casavi_comment_id_not_returned", ticket=ticket_id)
            return TicketComment(comment_id=comment_id or "", text=text, is_internal=is_internal,
                                 author_id=author_id, author_email=author_email,
                                 attachments=tuple(str(i) for i in file_ids))

    def update_comment(self, ticket_id: str, comment_id: str, *, text: str | None = None,
                       is_internal: bool | None = None) -> TicketComment | None:
        body = {"id": comment_id, **_given(text=text, isInternal=is_internal)}
        return self._put_record(paths.ticket_comment(ticket_id, comment_id), body, parse_comment)

    def _put_record(self, path: str, body: dict[str, Any], parse: Callable[[Any], T]) -> T | None:
        """PUT ``body``; the record the answer shows, None when it shows none."""
        payload = response_json(self._call("PUT", path, idempotent=True, json_body=body))
        try:
            return parse(payload)
        except ValueError:
            return None

    # -- tasks -------------------------------------------------------------------------------

    def create_task(
        self,
        ticket_id: str,
        task_id: str,
        title: str,
        *,
        description: str = "",
        status: str = "OPEN",
        assigned_to_id: str | None = None,
        created_by_id: str | None = None,
        attachments: Iterable[str | int] = (),
    ) -> TicketTask:
        """POST a task with its caller-chosen id (required by the API); 409 → ConflictError."""
        body: dict[str, Any] = {"id": task_id, "title": title, "description": description,
                                "status": status}
        if assigned_to_id:
            body["assignedToId"] = assigned_to_id
        if created_by_id:
            body["createdById"] = created_by_id
        file_ids = _file_ids(attachments)
        if file_ids:
            body["attachments"] = file_ids
        payload = response_json(self._call("POST", paths.ticket_tasks(ticket_id), idempotent=True, json_body=body))
        try:
            return parse_task(payload)
        except ValueError:
            return TicketTask(task_id=task_id, title=title, description=description, status=status)

    def get_task(self, ticket_id: str, task_id: str) -> TicketTask:
        return _record(self._get_json(paths.ticket_task(ticket_id, task_id)), parse_task,
                       f"task {task_id}")

    def update_task(
        self,
        ticket_id: str,
        task_id: str,
        *,
        title: str,
        status: str | None = None,
        description: str | None = None,
        assigned_to_id: str | None = None,
    ) -> TicketTask | None:
        """PUT a task (id and title are required by the API)."""
        body = {"id": task_id, "title": title,
                **_given(status=status, description=description, assignedToId=assigned_to_id)}
        return self._put_record(paths.ticket_task(ticket_id, task_id), body, parse_task)

    def put_task(self, ticket_id: str, task: TicketTask, *, status: str | None = None) -> TicketTask | None:
        """PUT ``task`` whole (every field the document names, as read), optionally with a new
        ``status``: correct whether casavi merges a PUT or replaces the task with it."""
        body: dict[str, Any] = {"id": task.task_id, "title": task.title, "description": task.description,
                                "status": status or task.status}
        if task.assigned_to_id:
            body["assignedToId"] = task.assigned_to_id
        if task.created_by_id:
            body["createdById"] = task.created_by_id
        if task.attachments:
            body["attachments"] = _file_ids(task.attachments)
        return self._put_record(paths.ticket_task(ticket_id, task.task_id), body, parse_task)

    def delete_task(self, ticket_id: str, task_id: str) -> None:
        self._call("DELETE", paths.ticket_task(ticket_id, task_id), idempotent=True)

    # -- files -------------------------------------------------------------------------------

    def upload_file(self, path: Path, filename: str | None = None,
                    content_type: str = "application/octet-stream") -> str:
        """Stream a file to POST /files; returns its id.  > 10 MB: PayloadTooLargeError, unsent."""
        return files.upload(self, Path(path), filename or Path(path).name, content_type)

    def download_file(self, url_or_id: str, dest_path: Path, *, max_bytes: int | None = None) -> int:
        """Stream a file (attachmentDetails url, absolute or relative, or a file id) to disk."""
        return files.download(self, url_or_id, Path(dest_path), max_bytes=max_bytes)

    # -- properties, units, contacts, staff ---------------------------------------------------

    def list_properties(self) -> Iterator[Property]:
        for payload in self._object_pages(paths.PROPERTIES, first_page=paths.FIRST_PAGE):
            page = parse_page(payload, parse_property, "properties")
            for problem in page.problems:
                log.warning("casavi_property_skipped", reason=problem)
            yield from page.rows

    def get_property(self, property_id: str) -> Property:
        return _record(self._get_json(paths.property_(property_id)), parse_property,
                       f"property {property_id}")

    def list_property_units(self, property_id: str, *,
                            include_inactive_contracts: bool = False) -> Iterator[Unit]:
        params = [("includeInactiveContracts", "true")] if include_inactive_contracts else []
        for payload in self._object_pages(paths.property_units(property_id),
                                          first_page=paths.UNITS_FIRST_PAGE, params=params):
            page = parse_page(payload, parse_unit, "units")
            for problem in page.problems:
                log.warning("casavi_unit_skipped", property=property_id, reason=problem)
            yield from page.rows

    def get_unit(self, unit_id: str) -> Unit:
        return _record(self._get_json(paths.unit(unit_id)), parse_unit, f"unit {unit_id}")

    def list_contacts(self) -> Iterator[Contact]:
        return self._array_records(paths.CONTACTS, parse_contact, "contacts", "casavi_contact_skipped")

    def get_contact(self, contact_id: str) -> Contact:
        return _record(self._get_json(paths.contact(contact_id)), parse_contact,
                       f"contact {contact_id}")

    def list_staff(self) -> Iterator[Staff]:
        return self._array_records(paths.STAFF, parse_staff, "staff", "casavi_staff_member_skipped")

    def get_staff_member(self, staff_id: str) -> Staff:
        return _record(self._get_json(paths.staff_member(staff_id)), parse_staff,
                       f"staff member {staff_id}")

    def _array_records(self, path: str, parse: Callable[[Any], T], what: str, skipped_event: str,
                       **log_fields: str) -> Iterator[T]:
        """Every record of a JSON-array listing; an unreadable entry is logged as ``skipped_event``."""
        for rows in self._array_pages(path):
            records, problems = parse_list(rows, parse, what)
            for problem in problems:
                log.warning(skipped_event, **log_fields, reason=problem)
            yield from records

    # -- REST hooks --------------------------------------------------------------------------

    def subscribe_hook(self, event_name: str, hook_url: str) -> str:
        """POST /hooks; returns the hook id (from the answer, else from its Location header)."""
        response = self._call("POST", paths.HOOKS, idempotent=False,
                              json_body={"eventName": event_name, "hookUrl": hook_url})
        payload = response_json(response)
        hook_id = as_id(payload.get("id")) if isinstance(payload, Mapping) else None
        if hook_id is None and response.headers.get("Location"):
            hook_id = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1] or None
        if hook_id is None:
            raise MalformedPayloadError(f"POST {paths.HOOKS}: the answer carries no hook id")
        return hook_id

    def delete_hook(self, hook_id: str | int) -> None:
        self._call("DELETE", paths.hook(hook_id), idempotent=True)

"""Tolerant, typed parsing of casavi manager API payloads.  Pure: no I/O, no httpx.

casavi's answers do not always match its own document: ``number`` is a string in responses
and an integer in requests, ``postalCode`` is either, ``reportedAt`` may be the text
``"Invalid Date"``, task dates come as ``"2016-08-05T23:30:00Z,"``.  The rules (the scalar and
list ones shared with relay, in :mod:`bridge.lenient`):

- unparsable dates become ``None``; valid ones become aware UTC datetimes;
- ids and numbers given as int or str become ``str``;
- unknown statuses are kept exactly as given (the engine decides what to do with them);
- fields we do not know are kept in ``extra`` so nothing is lost on a write-back;
- a missing or wrongly typed optional field gets its default;
- a ticket without a usable id, or that is not an object, raises :class:`TicketParseError`
  (with the id when known); a bad comment, task or attachment inside an otherwise good ticket
  is dropped and described in ``Ticket.problems``.
"""

from __future__ import annotations

from typing import Any, Mapping

from bridge.casavi.records import (  # noqa: F401  (re-exported: parse.Ticket etc.)
    AttachmentDetail,
    Contact,
    Page,
    Property,
    Staff,
    Ticket,
    TicketComment,
    TicketTask,
    Unit,
    format_datetime,
    ticket_to_json,
)
from bridge.errors import SkippableError
from bridge.lenient import (
    MalformedPayloadError,
    as_bool,
    as_id,
    as_int,
    as_opt_text,
    as_text,
    extra_fields,
    parse_datetime,
    record_id,
    records,
)


class TicketParseError(SkippableError):
    """A ticket payload that cannot be read; ``ticket_id`` when it was recognisable."""

    def __init__(self, ticket_id: str | None, message: str):
        super().__init__(f"ticket {ticket_id or '<unknown>'}: {message}")
        self.ticket_id = ticket_id
        self.reason = message


# -- casavi-only helpers -------------------------------------------------------------------


def _ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(i for i in (as_id(v) for v in value) if i is not None)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


# -- parsers -------------------------------------------------------------------------------

_ATTACHMENT_KEYS = frozenset({"id", "name", "contentType", "size", "url"})
_COMMENT_KEYS = frozenset({
    "id", "text", "isInternal", "authorId", "authorName", "authorEmail", "createdAt",
    "attachments", "attachmentDetails",
})
_TASK_KEYS = frozenset({
    "id", "title", "description", "status", "assignedToId", "createdById", "createdAt",
    "acceptedAt", "declinedAt", "completedAt", "attachments", "attachmentDetails",
})
_TICKET_KEYS = frozenset({
    "id", "internalId", "number", "title", "description", "type", "typeGroup", "propertyId",
    "unitId", "status", "statusText", "contactId", "contactName", "contactTelephone",
    "contactEmail", "sharedWithContacts", "sharedWithProperty", "assignedToId",
    "assignedToName", "createdAt", "lastModified", "closedAt", "reportedAt", "attachments",
    "attachmentDetails", "comments", "tasks", "customFields", "appLink",
})


def parse_attachment(obj: Any) -> AttachmentDetail:
    if not isinstance(obj, Mapping):
        raise ValueError("attachment is not an object")
    file_id = as_id(obj.get("id"))
    if file_id is None:
        raise ValueError("attachment has no id")
    size = as_int(obj.get("size"))
    return AttachmentDetail(
        file_id=file_id,
        name=as_text(obj.get("name")) or f"file-{file_id}",
        content_type=as_text(obj.get("contentType")) or "application/octet-stream",
        size=size if size is not None and size >= 0 else 0,
        url=as_opt_text(obj.get("url")),
        extra=extra_fields(obj, _ATTACHMENT_KEYS),
    )


def _attachments(obj: Mapping[str, Any], problems: list[str]) -> tuple[AttachmentDetail, ...]:
    return records(obj.get("attachmentDetails"), parse_attachment, "attachmentDetails", problems)


def parse_comment(obj: Any) -> TicketComment:
    if not isinstance(obj, Mapping):
        raise ValueError("comment is not an object")
    comment_id = as_id(obj.get("id"))
    if comment_id is None:
        raise ValueError("comment has no id")
    ignored: list[str] = []
    return TicketComment(
        comment_id=comment_id,
        text=as_text(obj.get("text")),
        is_internal=as_bool(obj.get("isInternal")),
        author_id=as_id(obj.get("authorId")),
        author_name=as_opt_text(obj.get("authorName")),
        author_email=as_opt_text(obj.get("authorEmail")),
        created_at=parse_datetime(obj.get("createdAt")),
        attachments=_ids(obj.get("attachments")),
        attachment_details=_attachments(obj, ignored),
        extra=extra_fields(obj, _COMMENT_KEYS),
    )


def parse_task(obj: Any) -> TicketTask:
    if not isinstance(obj, Mapping):
        raise ValueError("task is not an object")
    task_id = as_id(obj.get("id"))
    if task_id is None:
        raise ValueError("task has no id")
    status = as_text(obj.get("status"))
    if not status and "completed" in obj:  # before API 1.7.0 tasks only had `completed`
        status = "COMPLETED" if as_bool(obj.get("completed")) else "OPEN"
    ignored: list[str] = []
    return TicketTask(
        task_id=task_id,
        title=as_text(obj.get("title")),
        description=as_text(obj.get("description")),
        status=status or "OPEN",
        assigned_to_id=as_id(obj.get("assignedToId")),
        created_by_id=as_id(obj.get("createdById")),
        created_at=parse_datetime(obj.get("createdAt")),
        accepted_at=parse_datetime(obj.get("acceptedAt")),
        declined_at=parse_datetime(obj.get("declinedAt")),
        completed_at=parse_datetime(obj.get("completedAt")),
        attachments=_ids(obj.get("attachments")),
        attachment_details=_attachments(obj, ignored),
        extra=extra_fields(obj, _TASK_KEYS),
    )


def parse_ticket(obj: Any) -> Ticket:
    """One ticket (list entry or ``GET /tickets/{id}``); TicketParseError when unreadable."""
    if not isinstance(obj, Mapping):
        raise TicketParseError(None, f"not an object but {type(obj).__name__}")
    ticket_id = as_id(obj.get("id"))
    if ticket_id is None:
        raise TicketParseError(None, "missing id")
    try:
        problems: list[str] = []
        status = obj.get("status")
        if not isinstance(status, str) or not status:
            problems.append("status missing or not text")
        last_modified = as_opt_text(obj.get("lastModified"))
        return Ticket(
            ticket_id=ticket_id,
            internal_id=as_int(obj.get("internalId")),
            number=as_id(obj.get("number")),
            title=as_text(obj.get("title")),
            description=as_text(obj.get("description")),
            type=as_text(obj.get("type")),
            type_group=as_opt_text(obj.get("typeGroup")),
            property_id=as_id(obj.get("propertyId")),
            unit_id=as_id(obj.get("unitId")),
            status=status if isinstance(status, str) else "",
            status_text=as_opt_text(obj.get("statusText")),
            contact_id=as_id(obj.get("contactId")),
            contact_name=as_opt_text(obj.get("contactName")),
            contact_telephone=as_opt_text(obj.get("contactTelephone")),
            contact_email=as_opt_text(obj.get("contactEmail")),
            shared_with_contacts=_ids(obj.get("sharedWithContacts")),
            shared_with_property=as_bool(obj.get("sharedWithProperty")),
            assigned_to_id=as_id(obj.get("assignedToId")),
            assigned_to_name=as_opt_text(obj.get("assignedToName")),
            created_at=parse_datetime(obj.get("createdAt")),
            last_modified=last_modified,
            modified_at=parse_datetime(last_modified),
            closed_at=parse_datetime(obj.get("closedAt")),
            reported_at=parse_datetime(obj.get("reportedAt")),
            attachments=_ids(obj.get("attachments")),
            attachment_details=_attachments(obj, problems),
            comments=records(obj.get("comments"), parse_comment, "comments", problems),
            tasks=records(obj.get("tasks"), parse_task, "tasks", problems),
            custom_fields=_mapping(obj.get("customFields")),
            app_link=as_opt_text(obj.get("appLink")),
            extra=extra_fields(obj, _TICKET_KEYS),
            problems=tuple(problems),
        )
    except (ValueError, TypeError, RecursionError) as exc:  # defensive: never anything else
        raise TicketParseError(ticket_id, f"unreadable: {type(exc).__name__}") from exc


def parse_ticket_list(payload: Any) -> list[Ticket | TicketParseError]:
    """A ``GET /tickets`` page: each entry parsed on its own, problems returned in place."""
    rows = _rows_of(payload, "ticket list")
    out: list[Ticket | TicketParseError] = []
    for entry in rows:
        try:
            out.append(parse_ticket(entry))
        except TicketParseError as exc:
            out.append(exc)
    return out


def _rows_of(payload: Any, what: str) -> list[Any]:
    # The document shows JSON arrays; a paged object {rows: [...]} is accepted as well.
    if isinstance(payload, list):
        return payload
    if isinstance(payload, Mapping) and isinstance(payload.get("rows"), list):
        return payload["rows"]
    raise MalformedPayloadError(f"{what} is not a JSON array but {type(payload).__name__}")


def parse_property(obj: Any) -> Property:
    property_id = record_id(obj, "property")
    return Property(
        property_id=property_id,
        internal_id=as_int(obj.get("internalId")),
        name=as_text(obj.get("name")),
        note=as_text(obj.get("note")),
        country=as_opt_text(obj.get("country")),
        city=as_opt_text(obj.get("city")),
        postal_code=as_id(obj.get("postalCode")),
        number=as_id(obj.get("number")),
        app_link=as_opt_text(obj.get("appLink")),
        extra=extra_fields(obj, frozenset({"id", "internalId", "name", "note", "country", "city",
                                          "postalCode", "number", "appLink"})),
    )


def parse_unit(obj: Any) -> Unit:
    unit_id = record_id(obj, "unit")
    return Unit(
        unit_id=unit_id,
        internal_id=as_int(obj.get("internalId")),
        name=as_text(obj.get("name")),
        number=as_id(obj.get("number")),
        note=as_text(obj.get("note")),
        address=as_opt_text(obj.get("address")),
        floor=as_opt_text(obj.get("floor")),
        purpose=as_opt_text(obj.get("purpose")),
        app_link=as_opt_text(obj.get("appLink")),
        extra=extra_fields(obj, frozenset({"id", "internalId", "name", "number", "note", "address",
                                          "floor", "purpose", "appLink"})),
    )


def parse_contact(obj: Any) -> Contact:
    contact_id = record_id(obj, "contact")
    return Contact(
        contact_id=contact_id,
        internal_id=as_int(obj.get("internalId")),
        first_name=as_text(obj.get("firstName")),
        last_name=as_text(obj.get("lastName")),
        company=as_opt_text(obj.get("company")),
        email=as_opt_text(obj.get("email")),
        telephone=as_opt_text(obj.get("telephone")),
        mobile=as_opt_text(obj.get("mobile")),
        postal_code=as_id(obj.get("postalCode")),
        city=as_opt_text(obj.get("city")),
        app_link=as_opt_text(obj.get("appLink")),
        extra=extra_fields(obj, frozenset({"id", "internalId", "firstName", "lastName", "company",
                                          "email", "telephone", "mobile", "postalCode", "city", "appLink"})),
    )


def parse_staff(obj: Any) -> Staff:
    staff_id = record_id(obj, "staff member")
    return Staff(
        staff_id=staff_id,
        internal_id=as_int(obj.get("internalId")),
        first_name=as_text(obj.get("firstName")),
        last_name=as_text(obj.get("lastName")),
        email=as_opt_text(obj.get("email")),
        role=as_opt_text(obj.get("role")),
        extra=extra_fields(obj, frozenset({"id", "internalId", "firstName", "lastName", "email", "role"})),
    )


def parse_list(payload: Any, parse: Any, what: str) -> tuple[list[Any], list[str]]:
    """A JSON-array page of records: (records, problems); bad entries are reported, not fatal."""
    problems: list[str] = []
    rows = _rows_of(payload, what)
    return list(records(rows, parse, what, problems)), problems


def parse_page(payload: Any, parse: Any, what: str) -> Page[Any]:
    """A paged object ``{count, page, pageCount, rows}`` (a bare array is accepted too)."""
    problems: list[str] = []
    rows = records(_rows_of(payload, what), parse, what, problems)
    meta = payload if isinstance(payload, Mapping) else {}
    return Page(
        rows=rows,
        page=as_int(meta.get("page")),
        page_count=as_int(meta.get("pageCount")),
        count=as_int(meta.get("count")),
        problems=tuple(problems),
    )

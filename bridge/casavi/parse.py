"""Tolerant, typed parsing of casavi manager API payloads.  Pure: no I/O, no httpx.

casavi's answers do not always match its own document: ``number`` is a string in responses
and an integer in requests, ``postalCode`` is either, ``reportedAt`` may be the text
``"Invalid Date"``, task dates come as ``"2016-08-05T23:30:00Z,"``.  The rules here:

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

import math
from datetime import datetime, timezone
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
from bridge.errors import RetriableError, SkippableError

_MAX_DATE_CHARS = 64


class TicketParseError(SkippableError):
    """A ticket payload that cannot be read; ``ticket_id`` when it was recognisable."""

    def __init__(self, ticket_id: str | None, message: str):
        super().__init__(f"ticket {ticket_id or '<unknown>'}: {message}")
        self.ticket_id = ticket_id
        self.reason = message


class MalformedPayloadError(RetriableError):
    """A whole answer is not what the API promises (not JSON, not a list where one is due).

    Retriable: a proxy's error page answered with 200 is the usual cause, and it passes.
    """


# -- scalar helpers ------------------------------------------------------------------------


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 text (``...Z``, ``+hh:mm``, ms or not, trailing commas) → aware UTC; else None."""
    if not isinstance(value, str) or len(value) > _MAX_DATE_CHARS:
        return None
    text = value.strip().rstrip(",").strip()
    if len(text) < 10:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def as_id(value: Any) -> str | None:
    """An id or number given as text or integer → text; anything else (bool, dict, "") → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value.strip() or None
    number = as_int(value)
    return str(number) if number is not None else None


def as_text(value: Any, default: str = "") -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:  # an integer too long to print
            return default
    return default


def as_opt_text(value: Any) -> str | None:
    text = as_text(value, "")
    return text if text else None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) < 10**18 else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e18:
        return int(value)
    if isinstance(value, str) and len(value) < 30:
        digits = value.strip()
        if digits.lstrip("-").isascii() and digits.lstrip("-").isdigit():
            return int(digits)
    return None


def as_bool(value: Any, default: bool = False) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return default


def _ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(i for i in (as_id(v) for v in value) if i is not None)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _extra(obj: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in known}


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
        extra=_extra(obj, _ATTACHMENT_KEYS),
    )


def _sub_records(value: Any, parse: Any, what: str, problems: list[str]) -> tuple[Any, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(f"{what} is not a list")
        return ()
    out = []
    for index, entry in enumerate(value):
        try:
            out.append(parse(entry))
        except (ValueError, TypeError) as exc:
            problems.append(f"{what}[{index}] dropped: {exc}")
    return tuple(out)


def _attachments(obj: Mapping[str, Any], problems: list[str]) -> tuple[AttachmentDetail, ...]:
    return _sub_records(obj.get("attachmentDetails"), parse_attachment, "attachmentDetails", problems)


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
        extra=_extra(obj, _COMMENT_KEYS),
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
        extra=_extra(obj, _TASK_KEYS),
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
            comments=_sub_records(obj.get("comments"), parse_comment, "comments", problems),
            tasks=_sub_records(obj.get("tasks"), parse_task, "tasks", problems),
            custom_fields=_mapping(obj.get("customFields")),
            app_link=as_opt_text(obj.get("appLink")),
            extra=_extra(obj, _TICKET_KEYS),
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
    if not isinstance(obj, Mapping) or as_id(obj.get("id")) is None:
        raise ValueError("property without id")
    return Property(
        property_id=as_id(obj.get("id")) or "",
        internal_id=as_int(obj.get("internalId")),
        name=as_text(obj.get("name")),
        note=as_text(obj.get("note")),
        country=as_opt_text(obj.get("country")),
        city=as_opt_text(obj.get("city")),
        postal_code=as_id(obj.get("postalCode")),
        number=as_id(obj.get("number")),
        app_link=as_opt_text(obj.get("appLink")),
        extra=_extra(obj, frozenset({"id", "internalId", "name", "note", "country", "city",
                                     "postalCode", "number", "appLink"})),
    )


def parse_unit(obj: Any) -> Unit:
    if not isinstance(obj, Mapping) or as_id(obj.get("id")) is None:
        raise ValueError("unit without id")
    return Unit(
        unit_id=as_id(obj.get("id")) or "",
        internal_id=as_int(obj.get("internalId")),
        name=as_text(obj.get("name")),
        number=as_id(obj.get("number")),
        note=as_text(obj.get("note")),
        address=as_opt_text(obj.get("address")),
        floor=as_opt_text(obj.get("floor")),
        purpose=as_opt_text(obj.get("purpose")),
        app_link=as_opt_text(obj.get("appLink")),
        extra=_extra(obj, frozenset({"id", "internalId", "name", "number", "note", "address",
                                     "floor", "purpose", "appLink"})),
    )


def parse_contact(obj: Any) -> Contact:
    if not isinstance(obj, Mapping) or as_id(obj.get("id")) is None:
        raise ValueError("contact without id")
    return Contact(
        contact_id=as_id(obj.get("id")) or "",
        internal_id=as_int(obj.get("internalId")),
        first_name=as_text(obj.get("firstName")),
        last_name=as_text(obj.get("lastName")),
        company=as_opt_text(obj.get("company")),
        email=as_opt_text(obj.get("email")),
        telephone=as_opt_text(obj.get("telephone")),
        postal_code=as_id(obj.get("postalCode")),
        city=as_opt_text(obj.get("city")),
        app_link=as_opt_text(obj.get("appLink")),
        extra=_extra(obj, frozenset({"id", "internalId", "firstName", "lastName", "company",
                                     "email", "telephone", "postalCode", "city", "appLink"})),
    )


def parse_staff(obj: Any) -> Staff:
    if not isinstance(obj, Mapping) or as_id(obj.get("id")) is None:
        raise ValueError("staff member without id")
    return Staff(
        staff_id=as_id(obj.get("id")) or "",
        internal_id=as_int(obj.get("internalId")),
        first_name=as_text(obj.get("firstName")),
        last_name=as_text(obj.get("lastName")),
        email=as_opt_text(obj.get("email")),
        role=as_opt_text(obj.get("role")),
        extra=_extra(obj, frozenset({"id", "internalId", "firstName", "lastName", "email", "role"})),
    )


def parse_list(payload: Any, parse: Any, what: str) -> tuple[list[Any], list[str]]:
    """A JSON-array page of records: (records, problems); bad entries are reported, not fatal."""
    problems: list[str] = []
    rows = _rows_of(payload, what)
    return list(_sub_records(rows, parse, what, problems)), problems


def parse_page(payload: Any, parse: Any, what: str) -> Page[Any]:
    """A paged object ``{count, page, pageCount, rows}`` (a bare array is accepted too)."""
    problems: list[str] = []
    rows = _sub_records(_rows_of(payload, what), parse, what, problems)
    meta = payload if isinstance(payload, Mapping) else {}
    return Page(
        rows=rows,
        page=as_int(meta.get("page")),
        page_count=as_int(meta.get("pageCount")),
        count=as_int(meta.get("count")),
        problems=tuple(problems),
    )

"""Tolerant, typed parsing of relay payloads.  Pure: no I/O, no httpx.

The rules are those of :mod:`bridge.casavi.parse` (both read through :mod:`bridge.lenient`):

- unparsable dates become ``None``; valid ones aware UTC datetimes (due and follow-up dates
  become the calendar date *as written*, ``"2025-07-01T22:00:00Z"`` → 1 July: relay's
  document gives no time zone to convert into, and a date-only text stays exact);
- ids and numbers given as int or str become ``str``;
- unknown statuses are kept exactly as given; a missing or ``null`` status is relay's
  ``"NULL"`` status;
- fields we do not know are kept in ``extra``;
- an order without a usable id, or that is not an object, raises :class:`OrderParseError`
  (with the id when known); a bad comment, field, contact person or attachment inside an
  otherwise good order is dropped and described in ``Order.problems``.

It also holds the trailer the bridge appends to comments it writes (see
:func:`with_trailer`): relay's CreateOrderComment takes no caller-chosen id, so the
deterministic id travels in the text and is read back from it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Callable, Mapping, TypeVar

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
from bridge.model import content_hash
from bridge.relay.records import (
    Address,
    ContactPerson,
    Customer,
    Order,
    OrderAttachment,
    OrderComment,
    OrderField,
    Property,
    Unit,
)

__all__ = [
    "MalformedPayloadError", "OrderParseError", "as_id", "parse_address", "parse_comment",
    "parse_comment_list", "parse_created_id", "parse_customer", "parse_date", "parse_order",
    "parse_order_list", "parse_property", "parse_unit", "split_trailer", "with_trailer",
]

T = TypeVar("T")

# -- the write-back trailer ----------------------------------------------------------------

TRAILER_LABEL = "via casavi-bridge"
# Read tolerantly: relay may trim whitespace or turn the em dash into a hyphen.
_TRAILER = re.compile(r"\s*(?:—|–|--?)\s*via casavi-bridge\s*\[(?P<id>[^\[\]\s]{1,200})\]\s*\Z")


def with_trailer(text: str, written_id: str) -> str:
    """``text`` + ``"\\n\\n— via casavi-bridge [jira-10042-c-10311]"``.

    Decision: CreateOrderComment has no id field, so a comment written by the bridge carries
    its deterministic id (:func:`bridge.sync.plan.written_id`) as this short trailer.  Reading
    it back gives the comment that id (the planner recognises its own write-back), and before
    posting the bridge looks for the trailer among the order's comments, so a retry after a
    lost answer never posts twice.
    """
    if any(ch.isspace() or ch in "[]" for ch in written_id) or not written_id:
        raise ValueError(f"not usable as a comment trailer id: {written_id!r}")
    return f"{text.rstrip()}\n\n— {TRAILER_LABEL} [{written_id}]"


def split_trailer(text: str) -> tuple[str, str | None]:
    """(text without the trailer, the id in it) — ``(text, None)`` when there is none."""
    match = _TRAILER.search(text)
    if match is None:
        return text, None
    return text[: match.start()], match.group("id")


# -- scalars -------------------------------------------------------------------------------


def parse_date(value: Any) -> date | None:
    """The calendar date a due/follow-up date names, as written: ``"2025-07-01..."`` → 1 July."""
    if not isinstance(value, str):
        return None
    text = value.strip()[:10]
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_created_id(payload: Any) -> str | None:
    """The id a create answered: a bare number (the document's ``0``) or ``{"id": n}``."""
    if isinstance(payload, Mapping):
        return as_id(payload.get("id"))
    return as_id(payload)


# -- records -------------------------------------------------------------------------------


def parse_address(obj: Any) -> Address | None:
    if not isinstance(obj, Mapping):
        return None
    return Address(
        address_id=as_id(obj.get("id")),
        street_address=as_text(obj.get("streetAddress")).strip(),
        postal_code=as_text(obj.get("postalCode")).strip(),  # a number or text, like casavi's
        locality=as_text(obj.get("locality")).strip(),
        country=as_text(obj.get("country")).strip(),
        additional_info=as_text(obj.get("additionalInfo")).strip(),
    )


def parse_attachment(obj: Any) -> OrderAttachment:
    if not isinstance(obj, Mapping):
        raise ValueError("attachment is not an object")
    name = as_text(obj.get("name")).strip()
    if not name:
        raise ValueError("attachment has no name")
    return OrderAttachment(name=name, item_type=as_text(obj.get("itemType")),
                           updated_at=parse_datetime(obj.get("updatedAt")))


def parse_field(obj: Any) -> OrderField:
    if not isinstance(obj, Mapping):
        raise ValueError("field is not an object")
    name = as_text(obj.get("name")).strip()
    content = as_text(obj.get("content"))
    if not name and not content:
        raise ValueError("field has neither name nor content")
    return OrderField(field_id=as_id(obj.get("id")), name=name, content=content,
                      position=as_int(obj.get("position")) or 0)


def parse_contact_person(obj: Any) -> ContactPerson:
    if not isinstance(obj, Mapping):
        raise ValueError("contact person is not an object")
    name = as_text(obj.get("name")).strip()
    email = as_opt_text(obj.get("emailAddress")) or as_opt_text(obj.get("email"))
    if not name and not email:
        raise ValueError("contact person has neither name nor email")
    return ContactPerson(person_id=as_id(obj.get("id")), name=name, type=as_text(obj.get("type")).strip(),
                         telephone=as_opt_text(obj.get("telephone")), mobile=as_opt_text(obj.get("mobile")),
                         email=email)


_COMMENT_KEYS = frozenset({"id", "text", "orderId", "author", "statusChange", "attachments", "createdAt"})


def parse_comment(obj: Any) -> OrderComment:
    if not isinstance(obj, Mapping):
        raise ValueError("comment is not an object")
    comment_id = as_id(obj.get("id"))
    if comment_id is None:
        raise ValueError("comment has no id")
    text = as_text(obj.get("text"))
    body, written = split_trailer(text)
    ignored: list[str] = []
    return OrderComment(
        comment_id=comment_id,
        text=text,
        body=body,
        written_id=written,
        author=as_opt_text(obj.get("author")),
        status_change=as_opt_text(obj.get("statusChange")),
        created_at=parse_datetime(obj.get("createdAt")),
        attachments=records(obj.get("attachments"), parse_attachment, "attachments", ignored),
        extra=extra_fields(obj, _COMMENT_KEYS),
    )


class OrderParseError(SkippableError):
    """An order payload that cannot be read; ``order_id`` when it was recognisable."""

    def __init__(self, order_id: str | None, message: str):
        super().__init__(f"order {order_id or '<unknown>'}: {message}")
        self.order_id = order_id
        self.reason = message


_ORDER_KEYS = frozenset({
    "id", "title", "status", "address", "dueDate", "followUpDate", "createdAt", "updatedAt",
    "internalId", "isInternal", "type", "taskId", "propertyId", "casaviOrderId", "casaviTicketId",
    "fields", "attachments", "comments", "contactPersons", "customerId",
})


def parse_order(obj: Any) -> Order:
    """One order (list entry or ``GET /orders/{id}``); OrderParseError when unreadable."""
    if not isinstance(obj, Mapping):
        raise OrderParseError(None, f"not an object but {type(obj).__name__}")
    order_id = as_id(obj.get("id"))
    if order_id is None:
        raise OrderParseError(None, "missing id")
    try:
        problems: list[str] = []
        status = obj.get("status")
        if status is not None and (not isinstance(status, str) or not status.strip()):
            problems.append("status not text")
        updated_at = as_opt_text(obj.get("updatedAt"))
        comments = obj.get("comments")
        return Order(
            order_id=order_id,
            title=as_text(obj.get("title")),
            status=status.strip() if isinstance(status, str) and status.strip() else "NULL",
            address=parse_address(obj.get("address")),
            due_date=parse_date(obj.get("dueDate")),
            due_date_text=as_opt_text(obj.get("dueDate")),
            follow_up_date=parse_date(obj.get("followUpDate")),
            created_at=parse_datetime(obj.get("createdAt")),
            updated_at=updated_at,
            modified_at=parse_datetime(updated_at),
            internal_id=as_id(obj.get("internalId")),
            is_internal=as_bool(obj.get("isInternal")),
            type=as_text(obj.get("type")),
            task_id=as_id(obj.get("taskId")),
            property_id=as_id(obj.get("propertyId")),
            customer_id=as_id(obj.get("customerId")),
            casavi_order_id=as_id(obj.get("casaviOrderId")),
            casavi_ticket_id=as_id(obj.get("casaviTicketId")),
            fields=tuple(sorted(records(obj.get("fields"), parse_field, "fields", problems),
                                key=lambda f: f.position)),
            contact_persons=records(obj.get("contactPersons"), parse_contact_person, "contactPersons", problems),
            attachments=records(obj.get("attachments"), parse_attachment, "attachments", problems),
            comments=records(comments, parse_comment, "comments", problems),
            complete=isinstance(comments, list),
            fingerprint=content_hash(obj),
            problems=tuple(problems),
            extra=extra_fields(obj, _ORDER_KEYS),
        )
    except (ValueError, TypeError, RecursionError) as exc:  # defensive: never anything else
        raise OrderParseError(order_id, f"unreadable: {type(exc).__name__}") from exc


def _rows_of(payload: Any, what: str, key: str | None = None) -> list[Any]:
    if isinstance(payload, list):
        return payload
    if key is not None and isinstance(payload, Mapping) and isinstance(payload.get(key), list):
        return payload[key]
    raise MalformedPayloadError(f"{what} is not a list but {type(payload).__name__}")


def parse_order_list(payload: Any) -> list[Order | OrderParseError]:
    """A ``GET /orders`` answer: each entry parsed on its own, problems returned in place.

    The document shows a bare JSON array; ``{"orders": [...]}`` is accepted as well.
    """
    out: list[Order | OrderParseError] = []
    for entry in _rows_of(payload, "order list", "orders"):
        try:
            out.append(parse_order(entry))
        except OrderParseError as exc:
            out.append(exc)
    return out


def parse_comment_list(payload: Any) -> tuple[list[OrderComment], list[str]]:
    """A ``GET /orders/{id}/comments`` answer: (comments, problems)."""
    problems: list[str] = []
    rows = _rows_of(payload, "comment list", "comments")
    return list(records(rows, parse_comment, "comments", problems)), problems


def parse_customer(obj: Any) -> Customer:
    customer_id = record_id(obj, "customer")
    return Customer(
        customer_id=customer_id,
        name=as_text(obj.get("name")).strip(),
        email=as_opt_text(obj.get("emailAddress")),
        telephone=as_opt_text(obj.get("telephone")),
        address=parse_address(obj.get("address")),
        extra=extra_fields(obj, frozenset({"id", "name", "emailAddress", "telephone", "address"})),
    )


def parse_property(obj: Any) -> Property:
    property_id = record_id(obj, "property")
    return Property(
        property_id=property_id,
        name=as_text(obj.get("name")).strip(),
        customer_id=as_id(obj.get("customerId")),
        msc_number=as_opt_text(obj.get("mscNumber")),
        address=parse_address(obj.get("address")),
        extra=extra_fields(obj, frozenset({"id", "name", "customerId", "mscNumber", "address"})),
    )


def parse_unit(obj: Any) -> Unit:
    unit_id = record_id(obj, "unit")
    return Unit(
        unit_id=unit_id,
        name=as_text(obj.get("name")).strip(),
        property_id=as_id(obj.get("propertyId")),
        unit_msc_number=as_opt_text(obj.get("unitMscNumber")),
        property_msc_number=as_opt_text(obj.get("propertyMscNumber")),
        extra=extra_fields(obj, frozenset({"id", "name", "propertyId", "unitMscNumber",
                                           "propertyMscNumber"})),
    )


def parse_wrapped(payload: Any, key: str, parse: Callable[[Any], T]) -> tuple[list[T], list[str]]:
    """``{"customers": [...]}`` / ``{"properties": [...]}`` / ``{"units": [...]}``: (records, problems)."""
    problems: list[str] = []
    return list(records(_rows_of(payload, key, key), parse, key, problems)), problems

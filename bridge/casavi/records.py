"""The typed records casavi payloads are parsed into (see :mod:`bridge.casavi.parse`), and
their way back to JSON.  Pure: plain frozen dataclasses, no I/O.

``extra`` keeps every field casavi sent that is not modelled here, so a record written back
(``ticket_to_json``) loses nothing and a parse of it gives the same record again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from bridge.lenient import format_datetime


@dataclass(frozen=True)
class AttachmentDetail:
    file_id: str
    name: str = ""
    content_type: str = "application/octet-stream"
    size: int = 0
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class TicketComment:
    comment_id: str
    text: str = ""
    is_internal: bool = False
    author_id: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    created_at: datetime | None = None
    attachments: tuple[str, ...] = ()
    attachment_details: tuple[AttachmentDetail, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class TicketTask:
    task_id: str
    title: str = ""
    description: str = ""
    status: str = "OPEN"
    assigned_to_id: str | None = None
    created_by_id: str | None = None
    created_at: datetime | None = None
    accepted_at: datetime | None = None
    declined_at: datetime | None = None
    completed_at: datetime | None = None
    attachments: tuple[str, ...] = ()
    attachment_details: tuple[AttachmentDetail, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    internal_id: int | None = None
    number: str | None = None
    title: str = ""
    description: str = ""
    type: str = ""
    type_group: str | None = None
    property_id: str | None = None
    unit_id: str | None = None
    status: str = ""  # as given; "" when casavi sent none
    status_text: str | None = None
    contact_id: str | None = None
    contact_name: str | None = None
    contact_telephone: str | None = None
    contact_email: str | None = None
    shared_with_contacts: tuple[str, ...] = ()
    shared_with_property: bool = False
    assigned_to_id: str | None = None
    assigned_to_name: str | None = None
    created_at: datetime | None = None
    last_modified: str | None = None  # exactly as given: the version stamp
    modified_at: datetime | None = None  # last_modified parsed
    closed_at: datetime | None = None
    reported_at: datetime | None = None
    attachments: tuple[str, ...] = ()
    attachment_details: tuple[AttachmentDetail, ...] = ()
    comments: tuple[TicketComment, ...] = ()
    tasks: tuple[TicketTask, ...] = ()
    custom_fields: dict[str, Any] = field(default_factory=dict, hash=False)
    app_link: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)
    problems: tuple[str, ...] = ()  # sub-records that were dropped, and why


@dataclass(frozen=True)
class Property:
    property_id: str
    internal_id: int | None = None
    name: str = ""
    note: str = ""
    country: str | None = None
    city: str | None = None
    postal_code: str | None = None
    number: str | None = None
    app_link: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Unit:
    unit_id: str
    internal_id: int | None = None
    name: str = ""
    number: str | None = None
    note: str = ""
    address: str | None = None
    floor: str | None = None
    purpose: str | None = None
    app_link: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Contact:
    contact_id: str
    internal_id: int | None = None
    first_name: str = ""
    last_name: str = ""
    company: str | None = None
    email: str | None = None
    telephone: str | None = None
    mobile: str | None = None
    postal_code: str | None = None
    city: str | None = None
    app_link: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.company or self.contact_id

    def reach_line(self) -> str:
        """Who it is and how to reach them, as the contact has it: ``Joe Smith (ACME Industries),
        joe.smith@acme.com, +49 89 132`` (the company only when it is not the name; the mobile
        number when there is no telephone)."""
        who = self.display_name
        if self.company and self.company != who:
            who = f"{who} ({self.company})"
        return ", ".join(p for p in (who, self.email, self.telephone or self.mobile) if p)


@dataclass(frozen=True)
class Staff:
    staff_id: str
    internal_id: int | None = None
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    role: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.staff_id


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """A paged object ``{count, page, pageCount, rows}`` (properties, property units)."""

    rows: tuple[T, ...]
    page: int | None = None
    page_count: int | None = None
    count: int | None = None
    problems: tuple[str, ...] = ()




# -- back to JSON --------------------------------------------------------------------------


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def _date(value: datetime | None) -> str | None:
    return format_datetime(value) if value is not None else None


def attachment_to_json(a: AttachmentDetail) -> dict[str, Any]:
    out: dict[str, Any] = dict(a.extra)
    out.update(id=a.file_id, name=a.name, contentType=a.content_type, size=a.size)
    _put(out, "url", a.url)
    return out


def comment_to_json(c: TicketComment) -> dict[str, Any]:
    out: dict[str, Any] = dict(c.extra)
    out.update(id=c.comment_id, text=c.text, isInternal=c.is_internal)
    _put(out, "authorId", c.author_id)
    _put(out, "authorName", c.author_name)
    _put(out, "authorEmail", c.author_email)
    _put(out, "createdAt", _date(c.created_at))
    out["attachments"] = list(c.attachments)
    out["attachmentDetails"] = [attachment_to_json(a) for a in c.attachment_details]
    return out


def task_to_json(t: TicketTask) -> dict[str, Any]:
    out: dict[str, Any] = dict(t.extra)
    out.update(id=t.task_id, title=t.title, description=t.description, status=t.status)
    _put(out, "assignedToId", t.assigned_to_id)
    _put(out, "createdById", t.created_by_id)
    for key, value in (("createdAt", t.created_at), ("acceptedAt", t.accepted_at),
                       ("declinedAt", t.declined_at), ("completedAt", t.completed_at)):
        _put(out, key, _date(value))
    out["attachments"] = list(t.attachments)
    out["attachmentDetails"] = [attachment_to_json(a) for a in t.attachment_details]
    return out


def ticket_to_json(t: Ticket) -> dict[str, Any]:
    """The ticket as casavi's JSON (response shape); ``parse_ticket`` of it gives ``t`` back."""
    out: dict[str, Any] = dict(t.extra)
    out.update(id=t.ticket_id, title=t.title, description=t.description, type=t.type)
    _put(out, "internalId", t.internal_id)
    _put(out, "number", t.number)
    _put(out, "typeGroup", t.type_group)
    _put(out, "propertyId", t.property_id)
    _put(out, "unitId", t.unit_id)
    if t.status:
        out["status"] = t.status
    _put(out, "statusText", t.status_text)
    _put(out, "contactId", t.contact_id)
    _put(out, "contactName", t.contact_name)
    _put(out, "contactTelephone", t.contact_telephone)
    _put(out, "contactEmail", t.contact_email)
    out["sharedWithContacts"] = list(t.shared_with_contacts)
    out["sharedWithProperty"] = t.shared_with_property
    _put(out, "assignedToId", t.assigned_to_id)
    _put(out, "assignedToName", t.assigned_to_name)
    _put(out, "createdAt", _date(t.created_at))
    _put(out, "lastModified", t.last_modified)
    _put(out, "closedAt", _date(t.closed_at))
    _put(out, "reportedAt", _date(t.reported_at))
    out["attachments"] = list(t.attachments)
    out["attachmentDetails"] = [attachment_to_json(a) for a in t.attachment_details]
    out["comments"] = [comment_to_json(c) for c in t.comments]
    out["tasks"] = [task_to_json(k) for k in t.tasks]
    out["customFields"] = dict(t.custom_fields)
    _put(out, "appLink", t.app_link)
    return out


def ticket_write_fields(t: Ticket) -> dict[str, Any]:
    """The fields ``PUT /tickets/{id}`` takes, as the ticket has them now.

    ``PUT`` requires id, title and propertyId, so a status change sends the current values
    back.  Left out on purpose: ``attachments`` (not changeable by PUT since API 1.11.5),
    ``statusText`` (a custom label belongs to the old status; the caller adds it if wanted)
    and everything read-only (names, dates).  ``number`` is an integer in requests.
    """
    out: dict[str, Any] = {"id": t.ticket_id, "title": t.title, "description": t.description}
    if t.number is not None and t.number.isdigit():
        out["number"] = int(t.number)
    if t.type:
        out["type"] = t.type
    _put(out, "propertyId", t.property_id)
    _put(out, "unitId", t.unit_id)
    if t.status:
        out["status"] = t.status
    _put(out, "contactId", t.contact_id)
    if t.shared_with_contacts:
        out["sharedWithContacts"] = list(t.shared_with_contacts)
    _put(out, "assignedToId", t.assigned_to_id)
    return out

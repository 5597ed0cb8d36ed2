"""The typed records relay payloads are parsed into (see :mod:`bridge.relay.parse`).

Pure: plain frozen dataclasses, no I/O.  ``extra`` keeps every field relay sent that is not
modelled here, so nothing is lost for a later reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class Address:
    address_id: str | None = None
    street_address: str = ""
    postal_code: str = ""
    locality: str = ""
    country: str = ""
    additional_info: str = ""

    def one_line(self) -> str:
        """``"Hauptstraße 1, 80331 München, DE (Hinterhaus)"``; empty parts are left out."""
        town = " ".join(p for p in (self.postal_code, self.locality) if p)
        text = ", ".join(p for p in (self.street_address, town, self.country) if p)
        if self.additional_info:
            text = f"{text} ({self.additional_info})" if text else self.additional_info
        return text


@dataclass(frozen=True)
class OrderAttachment:
    """A file on an order or a comment: the document gives name, itemType and updatedAt only."""

    name: str
    item_type: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class OrderField:
    field_id: str | None
    name: str
    content: str = ""
    position: int = 0


@dataclass(frozen=True)
class ContactPerson:
    person_id: str | None
    name: str
    type: str = ""
    telephone: str | None = None
    mobile: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class OrderComment:
    """One comment.  ``text`` is as relay holds it; ``body`` without the bridge's trailer, and
    ``written_id`` the deterministic id from that trailer (None for comments people wrote)."""

    comment_id: str
    text: str = ""
    body: str = ""
    written_id: str | None = None
    author: str | None = None
    status_change: str | None = None
    created_at: datetime | None = None
    attachments: tuple[OrderAttachment, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Order:
    order_id: str
    title: str = ""
    status: str = "NULL"  # as given; a missing or null status reads as relay's "NULL"
    address: Address | None = None
    due_date: date | None = None
    due_date_text: str | None = None  # dueDate exactly as given (its time of day is kept on a write)
    follow_up_date: date | None = None
    created_at: datetime | None = None
    updated_at: str | None = None  # exactly as given
    modified_at: datetime | None = None  # updated_at parsed
    internal_id: str | None = None
    is_internal: bool = False
    type: str = ""
    task_id: str | None = None
    property_id: str | None = None
    customer_id: str | None = None
    casavi_order_id: str | None = None
    casavi_ticket_id: str | None = None
    fields: tuple[OrderField, ...] = ()
    contact_persons: tuple[ContactPerson, ...] = ()
    attachments: tuple[OrderAttachment, ...] = ()
    comments: tuple[OrderComment, ...] = ()
    complete: bool = True  # False when the payload carried no ``comments`` list at all
    fingerprint: str = ""  # content hash of the whole payload as received
    problems: tuple[str, ...] = ()  # sub-records that were dropped, and why
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def version(self) -> str:
        """What the engine compares to skip unchanged orders: updatedAt and the content hash.

        The hash is part of it because relay may not move ``updatedAt`` for every change (a
        new comment), and the list carries whole orders, so the hash costs no request.
        """
        return f"{self.updated_at or ''}#{self.fingerprint}"


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str = ""
    email: str | None = None
    telephone: str | None = None
    address: Address | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Property:
    property_id: str
    name: str = ""
    customer_id: str | None = None
    msc_number: str | None = None
    address: Address | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Unit:
    unit_id: str
    name: str = ""
    property_id: str | None = None
    unit_msc_number: str | None = None
    property_msc_number: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

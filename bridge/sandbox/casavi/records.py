"""The records the casavi sandbox keeps, the errors its store raises, and its time format.

Records are plain mutable dataclasses owned by :class:`~bridge.sandbox.casavi.store.CasaviStore`
(only ever touched under its lock).  Times are integer milliseconds since the epoch, UTC, and
are rendered the way the casavi document says: ``YYYY-MM-DDThh:mm:ss.sssZ``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

TICKET_STATUSES = ("PENDING", "OPEN", "INPROGRESS", "POSTPONED", "CLOSED")
TASK_STATUSES = ("OPEN", "ACCEPTED", "COMPLETED", "DECLINED")
HOOK_EVENTS = ("contact_created", "contact_updated", "contact_archived", "document_downloaded",
               "contract_enddate_updated")
MAX_FILE_BYTES = 10_000_000  # "Maximum request size is 10 MB" (strict reading; see readings.max_file_bytes)
PAGE_SIZE = 25  # "a list of max 25 tickets"; the same for comments, contacts, staff, properties
ACCOUNT_NAME = "Sandbox Hausverwaltung GmbH"  # the account name used when no author is given
APP_LINK_BASE = "https://app.casavi.example"  # appLink host (fixed, so generated data is deterministic)
# The account's ticket types and the category (``typeGroup``, "Category for this ticket type")
# each belongs to: casavi derives typeGroup from the type (no create or update body takes it).
TYPE_GROUPS = {"Schaden": "Reparatur", "Wasserschaden": "Reparatur", "Heizungsausfall": "Reparatur",
                "Wartung": "Wartung", "Damage": "Billable", "Sonderleistung": "Sonderauftrag",
                "Anfrage": None, "Beschwerde": None}


class StoreError(Exception):
    """A request the real casavi would refuse; ``status`` is the HTTP status to answer with."""

    status = 400
    error = "Bad Request"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidRequest(StoreError):
    status, error = 400, "Bad Request"


class NotFound(StoreError):
    status, error = 404, "Not Found"


class Conflict(StoreError):
    status, error = 409, "Conflict"


class TooLarge(StoreError):
    status, error = 413, "Payload Too Large"


@dataclass
class FileRecord:
    file_id: int
    name: str
    content_type: str
    data: bytes
    created_ms: int

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class CommentRecord:
    comment_id: str
    text: str
    is_internal: bool
    author_id: str | None
    author_name: str
    author_email: str | None
    created_ms: int
    modified_ms: int
    attachments: list[int] = field(default_factory=list)


@dataclass
class TaskRecord:
    task_id: str
    title: str
    description: str
    status: str
    created_ms: int
    modified_ms: int
    assigned_to_id: str | None = None
    created_by_id: str | None = None
    accepted_ms: int | None = None
    declined_ms: int | None = None
    completed_ms: int | None = None
    attachments: list[int] = field(default_factory=list)


@dataclass
class TicketRecord:
    ticket_id: str
    internal_id: int
    number: int
    title: str
    description: str
    property_id: str
    status: str
    created_ms: int
    modified_ms: int
    reported_ms: int | None  # None renders as "Invalid Date" (documented in changelog 1.11.5)
    unit_id: str | None = None
    type: str | None = None
    type_group: str | None = None
    status_text: str | None = None
    contact_id: str | None = None
    shared_with_contacts: list[str] = field(default_factory=list)
    shared_with_property: bool = False
    assigned_to_id: str | None = None
    closed_ms: int | None = None
    # Sandbox bookkeeping: rating requests casavi sent to the tenant on closing (the document:
    # sent when the feature is active unless the closing PUT says suppressRatingRequest).
    rating_requests: int = 0
    attachments: list[int] = field(default_factory=list)
    comments: dict[str, CommentRecord] = field(default_factory=dict)
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    custom_fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Dataset:
    """Everything a store starts with (what :mod:`bridge.sandbox.casavi.generator` produces)."""

    properties: list[dict[str, Any]] = field(default_factory=list)
    units: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    staff: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[TicketRecord] = field(default_factory=list)
    files: list[FileRecord] = field(default_factory=list)


def format_ms(value: int | None) -> str | None:
    """``1438959297000`` → ``"2015-08-07T14:54:57.000Z"``."""
    if value is None:
        return None
    moment = datetime.fromtimestamp(value / 1000.0, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value % 1000:03d}Z"


def parse_date_ms(text: str) -> int:
    """Milliseconds for an ISO 8601 date or date-time (``Z``, offset, or none = UTC); ValueError if bad."""
    text = text.strip()
    if re.search(r" \d\d:?\d\d$", text):  # an unencoded "+01:00" arrives as " 01:00"
        text = text[: text.rindex(" ")] + "+" + text[text.rindex(" ") + 1:]
    if not text:
        raise ValueError("empty date")
    if len(text) == 10:
        day = date.fromisoformat(text)
        moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    else:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    return int(round(moment.timestamp() * 1000))


def ms_from_datetime(moment: datetime) -> int:
    return int(round(moment.timestamp() * 1000))

"""The state database's tables (sqlmodel).  Schema changes go through Alembic migrations in
``bridge/state/migrations/versions``; ``tests/unit/test_state.py`` checks that the migrated
schema equals these models.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Link(SQLModel, table=True):
    """One mirrored object: a ticket ↔ issue, comment ↔ comment, task ↔ sub-item, file ↔ attachment.

    ``source_key`` is source-qualified (``casavi:P-1``; children ``casavi:P-1/comment/C-7``),
    ``item_key`` the ticket's source key for every row of that ticket.  The hashes are the
    last-synced content hashes per field of each side; the versions the last-synced
    modification stamps, used to skip items that did not change.  ``read_whole_at`` (ticket
    rows): when the source item was last read whole (the time taken before the read) with what
    that read showed in the ledger — its version recorded, or, when it could not be planned,
    its failure in the quarantine, which retries it on its own schedule; the sweep reads only
    the items not read whole within its interval.  None: never, or not since this column
    exists (due at once).
    """

    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("kind", "source_key", name="uq_links_kind_source"),
        UniqueConstraint("kind", "target_id", name="uq_links_kind_target"),
        # The sweep's "due" query: ticket rows read whole before a time (or never), oldest first.
        Index("ix_links_kind_read_whole_at", "kind", "read_whole_at"),
    )

    link_id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(index=True)  # ticket | comment | task | attachment
    item_key: str = Field(index=True)
    source_key: str
    source_internal_id: Optional[int] = None
    target_id: str
    target_display_id: Optional[str] = None
    source_hashes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    target_hashes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    source_version: Optional[str] = None
    target_version: Optional[str] = None
    orphaned_at: Optional[datetime] = None  # the source or target answered 404; nothing was deleted
    orphan_side: Optional[str] = None
    read_whole_at: Optional[datetime] = None
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)


class Cursor(SQLModel, table=True):
    """Where a stream's incremental read stands (server time), and the signpost of the run that set it."""

    __tablename__ = "cursors"

    stream: str = Field(primary_key=True)  # e.g. "source:casavi", "target:jira", "sweep:casavi"
    position: Optional[datetime] = None
    signpost: Optional[datetime] = None
    updated_at: datetime = Field(default_factory=utc_now)


class Intent(SQLModel, table=True):
    """A create about to be sent.  A leftover intent at start means the process died in between:
    it is resolved by looking for the marker on the remote side, never by creating again."""

    __tablename__ = "intents"

    intent_id: Optional[int] = Field(default=None, primary_key=True)
    item_key: str = Field(index=True, unique=True)
    source_internal_id: Optional[int] = None
    created_at: datetime = Field(default_factory=utc_now)


class Quarantine(SQLModel, table=True):
    """A write that failed (or an item that could not be read): the counterpart's answer, how
    often, and when to try again.  The item's other writes go on.

    ``action_key`` is the write's identity within its item (``status→tool``,
    ``comment:C-7→tool``; empty for the whole item: it could not be read or planned), and
    ``fingerprint`` what that write carried: planned again with the same fingerprint it waits
    for ``next_retry_at`` and stops at ``max_attempts``, however often the item's version
    changes; a different fingerprint (a person changed something) is tried at once.
    """

    __tablename__ = "quarantine"

    item_key: str = Field(primary_key=True)
    action_key: str = Field(default="", primary_key=True)
    action: str = ""  # the write, in words ("status → New in the tool")
    # "failed": retried on its schedule; "dropped": it went through but the counterpart did not
    # store all of it: never retried (it would write twice), listed until a person clears it.
    kind: str = "failed"
    fingerprint: Optional[str] = None
    error_class: str
    error: str  # the counterpart's answer
    attempts: int = 1
    first_failed_at: datetime = Field(default_factory=utc_now)
    last_failed_at: datetime = Field(default_factory=utc_now)
    next_retry_at: datetime = Field(default_factory=utc_now)
    item_version: Optional[datetime] = None  # the failed item's modification time (holds the cursor)


class Conflict(SQLModel, table=True):
    """Both sides changed the same field since the last sync; how the policy settled it."""

    __tablename__ = "conflicts"

    conflict_id: Optional[int] = Field(default=None, primary_key=True)
    item_key: str = Field(index=True)
    field_name: str
    source_value: str
    target_value: str
    policy: str
    winner: str
    detected_at: datetime = Field(default_factory=utc_now)


class RunLog(SQLModel, table=True):
    """One pass or reconcile: when, what it did, what failed."""

    __tablename__ = "runs"

    run_id: Optional[int] = Field(default=None, primary_key=True)
    kind: str  # pass | reconcile
    started_at: datetime = Field(default_factory=utc_now)
    finished_at: Optional[datetime] = None
    outcome: Optional[str] = None  # ok | partial | failed | braked
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    errors: int = 0
    message: Optional[str] = None


class CachedName(SQLModel, table=True):
    """A name the source looked up (casavi property and unit names), kept across passes and
    restarts until it is older than the source's expiry; ``name`` None: the lookup failed for good."""

    __tablename__ = "names"

    kind: str = Field(primary_key=True)  # property | unit
    item_id: str = Field(primary_key=True)
    name: Optional[str] = None
    fetched_at: datetime = Field(default_factory=utc_now)

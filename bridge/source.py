"""The contract of a source system (casavi manager API tickets, casavi relay orders).

The planner sees only neutral records (:mod:`bridge.model`); everything casavi-specific
lives in the source adapter (``bridge/casavi/source.py``, ``bridge/relay/source.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Iterable, Protocol, runtime_checkable

from bridge.model import Attachment, SourceItem, SourceRef, Task


@dataclass(frozen=True)
class SourceSummary:
    """What a list call tells about an item: enough to filter and to skip unchanged ones."""

    ref: SourceRef
    status: str
    version: str | None  # e.g. casavi lastModified as given; equal version → nothing to fetch
    modified_at: datetime | None
    created_at: datetime | None = None
    property_id: str | None = None
    # When the item was read whole for this summary (taken before the read): set only by a
    # sweep's whole reads, never for a list row.  A linked item found at its synced version is
    # recorded as read then, so the sweep does not read it again within its interval.
    read_whole_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ParseProblem:
    """A list entry that could not be read; reported with its id, never fatal for the page.
    ``missing``: a linked item the source answered 404 for when the sweep read it (deleted, or
    no longer readable by this account): an orphan, not a failure."""

    item_id: str | None
    message: str
    missing: bool = False


def same_version(stored: str | None, seen: str | None) -> bool:
    """Whether a version seen equals the one synced.  A source may report a short version in
    lists (casavi: ``lastModified``) and a long one for an item read whole
    (``lastModified#digest``); a short one matches the long one it starts."""
    if stored is None or seen is None:
        return False
    return stored == seen or ("#" not in seen and stored.split("#", 1)[0] == seen)


@runtime_checkable
class Source(Protocol):
    name: str  # "casavi" or "relay"; the first part of every SourceRef it makes
    # True when ``changed_since`` only sees items *created* after ``since`` (casavi
    # ``--date-semantics created``).
    date_means_created: bool
    # True when ``update_comment`` rewrites a comment the bridge wrote (an edit in the tool
    # reaches the source); relay takes no edits.
    comment_edits: bool
    # True when ``staff_emails`` and ``set_assignee`` exist (casavi tickets; relay orders not).
    assignees: bool
    # True when ``set_reference`` writes the tool's key into the item (relay: the order's internalId).
    references: bool
    # True when ``set_due_date`` exists: a due date changed in the tool is written back (relay orders).
    due_dates: bool
    closed_statuses: frozenset[str]  # an item in one of these (and closed in the tool) is not swept
    # True when ``sweep`` reads items whole only on the passes it lists (``list_open``): the
    # engine then takes every item not read during such a pass as due (casavi under created
    # dates with comments seen to move ``lastModified``).  May change once the source has probed.
    sweep_reads_only_with_listing: bool

    def check(self) -> list[str]:
        """Authenticate and make one cheap read; one line per problem."""

    def begin_pass(self) -> None:
        """Called at the start of every pass (e.g. to refill the per-pass request budget)."""

    def requests_made(self) -> int:
        """Requests sent to the source's side so far by this source (each attempt, retries and
        logins included; a count that never goes back).  The engine takes its difference over
        a phase of the pass: the sweep's cost (the pass report's ``sweep_requests``)."""

    def changed_since(self, since: datetime | None) -> Iterable[SourceSummary | ParseProblem]:
        """Items changed at or after ``since`` (every item when None), all statuses."""

    def sweep(self, item_ids: Iterable[str], *, list_open: bool = True) -> Iterable[SourceSummary | ParseProblem]:
        """For changes the incremental read may not see: the linked items ``item_ids`` read
        whole, as summaries whose version changes with everything mirrored (comments, tasks,
        status), each with ``read_whole_at``.  The engine passes the items due on every pass
        (linked, not closed on both sides, not read whole within ``[sync]
        sweep_interval_seconds``), lazily: a source that reads none need not iterate them.
        ``list_open`` (once per interval): also list what the incremental read cannot see
        otherwise (casavi under created dates: the tickets in an open status, as list rows).
        May yield nothing when the incremental read is known to see every change."""

    def get(self, ref: SourceRef) -> SourceItem:
        """The full item with comments, tasks and attachments, with ``read_whole_at`` where the
        source can tell (casavi; relay may answer from its listing); NotFoundError when gone."""

    def named_task(self, task: Task) -> Task:
        """``task`` as its sub-item shows it: the facts not counted in its hash
        (``UNHASHED_TASK_FACTS``) carry ids in ``get``'s item and are named here, so a name is
        looked up only when a sub-item is written, never for a ticket that is only read.
        Returns ``task`` itself when there is nothing to name; never raises (an id that cannot
        be named stays as it is)."""

    def set_status(self, ref: SourceRef, status: str, *, status_text: str | None = None,
                   suppress_rating_request: bool = False) -> str | None:
        """Write the status; returns the item's new version when the reply carries it.

        ``status_text`` (casavi ``statusText``: None = not sent, "" = cleared) and
        ``suppress_rating_request`` go with it where the source has them (relay has not)."""

    def add_comment(self, ref: SourceRef, comment_id: str, text: str, *, internal: bool,
                    author_email: str | None, file_ids: list[str] | None = None) -> str:
        """Create a comment with a caller-chosen id; ConflictError (409) means it exists already."""

    def staff_emails(self) -> dict[str, str | None]:
        """Every staff member's e-mail address by staff id (only when ``assignees``)."""

    def set_assignee(self, ref: SourceRef, staff_id: str | None) -> None:
        """Assign the item to a staff member, or to nobody (only when ``assignees``)."""

    def update_comment(self, ref: SourceRef, comment_id: str, text: str) -> None:
        """Rewrite the text of a comment the bridge wrote (only when ``comment_edits``)."""

    def set_reference(self, ref: SourceRef, reference: str) -> None:
        """Store the tool's key in the item, verified by reading it back (only when ``references``);
        RefusedError when the source answered but did not store it."""

    def set_due_date(self, ref: SourceRef, due: date | None) -> None:
        """Store the due date (None: none), verified by reading it back (only when ``due_dates``)."""

    def add_task(self, ref: SourceRef, task_id: str, title: str, description: str, status: str) -> str:
        """Create a task with a caller-chosen id; ConflictError means it exists already."""

    def set_task_status(self, ref: SourceRef, task_id: str, title: str, status: str) -> None:
        """Write a task's status."""

    def add_task_file(self, ref: SourceRef, task_id: str, file_id: str) -> None:
        """Attach an uploaded file (``upload_file``) to a task, keeping its other files; verified
        by reading the task back (RefusedError when the source answered but did not store it)."""

    def upload_file(self, name: str, content_type: str, path: Path) -> str:
        """Upload a file (streamed); returns the new file id."""

    def download_attachment(self, ref: SourceRef, attachment: Attachment, dest: Path) -> None:
        """Stream the attachment's bytes to ``dest``."""

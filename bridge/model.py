"""The neutral model the planner works on.

Sources (casavi tickets, relay orders) are turned into :class:`SourceItem`; connectors
(Jira, Redmine, memory) turn their issues into :class:`TargetItem`.  Nothing here imports
httpx, jira or sqlmodel: it is plain, frozen data, so the planner stays pure.

Naming: ``source_*`` ids belong to the source system (casavi ticket id ``"P-1"``), ``target_*``
ids to the workflow tool (Jira key ``"OPS-12"``).  A :class:`SourceRef` qualifies an item id
with its source (``casavi`` or ``relay``) so one state database can hold both.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Mapping

# Task statuses as casavi defines them (ticket tasks / orders).
TASK_STATUSES = ("OPEN", "ACCEPTED", "COMPLETED", "DECLINED")

# Field names the planner compares and hashes on both sides.
FIELD_TITLE = "title"
FIELD_DESCRIPTION = "description"
FIELD_STATUS = "status"
FIELD_DUE_DATE = "due_date"
FIELD_MARKER = "marker"  # a tool file's marker, as its link records it once the tool stored it
FIELD_ASSIGNEE = "assignee"  # source: a staff id; tool: its own user reference ("" = nobody)
FIELD_REFERENCE = "reference"  # source only: the tool's key as the source holds it (relay internalId)


@dataclass(frozen=True, order=True)
class SourceRef:
    """Which source item: ``SourceRef("casavi", "P-1", 41251)``."""

    source: str
    item_id: str
    internal_id: int | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """The source-qualified id stored in the links table, e.g. ``casavi:P-1``."""
        return f"{self.source}:{self.item_id}"


@dataclass(frozen=True)
class Marker:
    """What a connector stamps on a target item so it can be found again by its source id.

    Jira stores it as the issue entity property ``casavi`` =
    ``{"ticketId": item_id, "internalId": internal_id}`` (plus ``"source"`` when not casavi).
    """

    source: str
    item_id: str
    internal_id: int | None = None

    @classmethod
    def for_ref(cls, ref: SourceRef) -> "Marker":
        return cls(ref.source, ref.item_id, ref.internal_id)

    def as_property(self) -> dict[str, Any]:
        value: dict[str, Any] = {"ticketId": self.item_id, "internalId": self.internal_id}
        if self.source != "casavi":
            value["source"] = self.source
        return value

    @classmethod
    def from_property(cls, value: Mapping[str, Any] | None) -> "Marker | None":
        if not value or not value.get("ticketId"):
            return None
        internal = value.get("internalId")
        try:
            internal = int(internal) if internal is not None else None
        except (TypeError, ValueError):
            internal = None
        return cls(str(value.get("source") or "casavi"), str(value["ticketId"]), internal)


@dataclass(frozen=True)
class Attachment:
    """A file on either side.  ``attachment_id`` is the side's own id (casavi file id, Jira attachment id).

    ``marker`` (target side) is the source attachment id it was copied from, when the tool
    can carry one; ``sha256`` is filled when known, so the same bytes are never uploaded twice.
    """

    attachment_id: str
    name: str
    content_type: str = "application/octet-stream"
    size: int = 0
    url: str | None = None
    marker: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Comment:
    """A comment on either side; ``text`` is markdown (connectors convert at their boundary).

    ``marker`` (target side) is the source comment id this comment was written from, when the
    connector can store one (Jira comment property, memory field); it lets a crashed write be
    adopted instead of repeated.
    """

    comment_id: str
    text: str  # a connector may keep a marked comment's text in the tool's markup (never copied back)
    internal: bool = False
    author: str | None = None
    author_email: str | None = None
    created_at: datetime | None = None
    marker: str | None = None
    # Source side: the ids of the files the comment carries (casavi comment ``attachments``).
    file_ids: tuple[str, ...] = field(default=(), compare=False)
    # Going to the tool: names of the ticket's own files; an image in the text naming one of
    # them is shown as that file, any other image becomes a link or text (bridge.markup).
    files: tuple[str, ...] = field(default=(), compare=False)


# Header facts that never change once a task exists: they are shown, but not counted in the
# task's hash, so adding them did not rewrite sub-items mirrored before (they show the line from
# their next change on).
UNHASHED_TASK_FACTS = frozenset({"Created by"})


@dataclass(frozen=True)
class Task:
    """A casavi ticket task (or an order step): status is one of :data:`TASK_STATUSES`.

    ``facts`` are header lines of the sub-item's description (the craftsman it is assigned to:
    ``("Craftsman", "Joe Smith (ACME Industries), joe@acme.example, +49 89 132")``; who created
    it: ``("Created by", "Anna Berger")``); ``attachments`` the task's own files (mirrored to the
    sub-item, kept apart from the ticket's).
    """

    task_id: str
    title: str
    description: str = ""
    status: str = "OPEN"
    facts: tuple[tuple[str, str], ...] = ()
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class SubItem:
    """A sub-item in the tool (Jira sub-task, Redmine child issue, memory child).

    ``status`` is the tool's status name; ``resolution`` the tool's resolution if any.
    ``marker`` is the source task id it was created from (connectors store it).
    ``description`` is markdown; for a marked sub-item (written by the bridge, never copied
    back) a connector may keep it in the tool's own markup, which saves a conversion per read.
    """

    sub_id: str
    title: str
    status: str
    description: str = ""
    resolution: str | None = None
    marker: str | None = None
    # The sub-item's own files (where the tool has them: ``Capabilities.sub_item_attachments``);
    # a file's ``marker`` is the source file it was copied from, like an item's files.
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class SourceItem:
    """One source record (a casavi ticket, a relay order) with everything the tool mirrors."""

    ref: SourceRef
    title: str
    description: str = ""
    status: str = "OPEN"
    facts: tuple[tuple[str, str], ...] = ()  # ordered header lines: ("Property", "P-1 Easy Living")
    labels: tuple[str, ...] = ()
    link_url: str | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    due_date: date | None = None
    comments: tuple[Comment, ...] = ()
    tasks: tuple[Task, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    property_id: str | None = None
    unit_id: str | None = None
    assignee: str | None = None  # source staff id (mapped to a tool user by the connector config)
    version: str | None = None  # the source's modification stamp (casavi lastModified), as given
    # Where the source can hold the tool's key (relay: the order's internalId), what it holds
    # now; ``reference_fact`` names the header fact showing it (left out while it is the key).
    reference: str | None = None
    reference_fact: str | None = None
    # What kind of item it is, by the source's names, for a connector to map to its own fields:
    # casavi ``type``, ``typeGroup`` and ``customFields.<key>`` (values as casavi sent them:
    # text, numbers, booleans, lists, None).  Followed source → tool only.
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # When the source read this item whole (taken before the read; None: not a whole read, or a
    # source that does not say).  Recorded with its version, so the sweep skips it for an interval.
    read_whole_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class TargetItem:
    """One item in the workflow tool as the connector read it."""

    target_id: str
    fields: Mapping[str, str]  # at least title, description, status; values normalised by the connector
    version: str  # the tool's own modification stamp (Jira ``updated``); changes on every write
    marker: Marker | None = None
    comments: tuple[Comment, ...] = ()
    sub_items: tuple[SubItem, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    url: str | None = None
    resolution: str | None = None
    updated_at: datetime | None = None  # server time of the last change, for cursors
    display_id: str | None = None  # what people call it (Jira key "OPS-12"); target_id stays stable
    # A summary from ``changed_since``: target_id, version, updated_at, marker and display_id
    # only.  The engine reads the whole item with ``get`` when the version is not the synced one.
    partial: bool = False
    # False when the item carries its marker where a search cannot find it (a Jira issue created
    # before the marker label): the planner then stamps it again (MarkItem).
    marker_findable: bool = True
    # False for an item read in a batch (``snapshots``): its comments carry ids but neither
    # markers nor text (the connector leaves out an item with a comment edited since it was
    # written), and its sub-items' and files' markers may be missing (a search row may carry no
    # properties).  Enough to see that every child is linked (``in_recorded_state``); the
    # engine reads the item with ``get`` before planning on an unlinked child.
    markers_read: bool = True


class Changes(list):
    """What ``changed_since`` may return instead of a plain iterable: the items, plus ``as_of``,
    the tool's own clock when the read was complete (e.g. the HTTP ``Date`` of the first search
    page).  Every change made before ``as_of`` that the tool had made visible is in the list, so
    the engine may move the cursor to ``as_of`` rather than to the newest item seen; that keeps
    an idle poll's overlap window short instead of re-reading the last busy minutes forever."""

    def __init__(self, items=(), as_of: datetime | None = None):
        super().__init__(items)
        self.as_of = as_of


@dataclass(frozen=True)
class StatusTarget:
    """Where a source status lands in the tool: a status name and, optionally, a resolution."""

    status: str
    resolution: str | None = None


@dataclass(frozen=True)
class ItemDraft:
    """What the planner asks a connector to create or update; the connector renders it."""

    title: str
    description: str  # markdown, without the header
    status: StatusTarget
    facts: tuple[tuple[str, str], ...] = ()
    labels: tuple[str, ...] = ()
    link_url: str | None = None
    due_date: date | None = None
    assignee: str | None = None
    files: tuple[str, ...] = ()  # the ticket's file names: images in the text may show these
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)  # see SourceItem.attributes


@dataclass(frozen=True)
class WriteResult:
    """What every connector write returns.

    ``target_id`` is the id of what was written (issue key, comment id, sub-item id,
    attachment id).  ``version`` is the item's new modification stamp when the tool's reply
    says it (optional: the engine records the versions it planned on, never these).  ``fields``
    (for ``create``, ``update`` and ``set_status``) are the item's fields as a later ``get``
    will read them, so the planner never mistakes its own write for a change in the tool; a
    connector may compute them from what it sent instead of reading the item back.

    ``display_id`` (``create``) is the new item's key where the reply names it.

    ``dropped`` names what the tool silently did not store although the write went through
    (a private flag, a field value, the marker), each with the setting or permission to change:
    the engine links what was written (it is never written a second time) and lists the
    difference as that write's failure.
    """

    target_id: str
    version: str | None = None
    fields: Mapping[str, str] | None = None
    dropped: tuple[str, ...] = ()
    display_id: str | None = None  # for ``create``: what people call the new item (Jira key "OPS-12")
    # For ``create``: the attributes (``ItemDraft.attributes`` names) the new item holds; the
    # others are written in steps of their own after the create.
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Capabilities:
    """What a tool can hold; the planner degrades clearly where one is missing."""

    sub_items: bool = True
    attachments: bool = True
    comment_visibility: bool = True  # restricted (internal) comments
    markers_on_comments: bool = True  # comments can carry the source comment id
    due_date: bool = True
    # The file's marker is written after the upload (Jira: an issue property), so a crash in
    # between leaves an unmarked copy: the connector then offers ``mark_attachment``.
    attachment_marker_after_upload: bool = False
    comment_edits: bool = False  # the connector offers ``update_comment`` (an edit reaches the tool)
    # The connector offers ``find_person`` and ``set_assignee`` and reads ``fields["assignee"]``.
    assignee: bool = False
    # Sub-items have files of their own: read into ``SubItem.attachments``; ``add_attachment``,
    # ``download_attachment`` (and ``mark_attachment``) take a sub-item's id as the target.
    sub_item_attachments: bool = False
    # ``create`` and ``add_sub_item`` take ``place_later=True``: the item stays where the tool
    # creates it, and the engine has the new items of a chunk placed in their statuses together
    # (``placed`` in batches, ``place`` one by one for the rest) instead of one status read each.
    place_later: bool = False
    # ``create`` takes ``assignee`` (the tool's person) and sets it in the creating request; a
    # person the tool refuses leaves the item created without one (``fields["assignee"]`` says
    # who it holds), so the engine's assignee step after the create writes only when needed.
    assignee_in_create: bool = False


def content_hash(value: Any) -> str:
    """A short, stable hash of a JSON-able value (dict keys sorted, dates as ISO text).

    Any text hashes, also text a counterpart sent with a lone surrogate (``"\\ud800"`` in JSON
    decodes to one): it is encoded with ``surrogatepass`` instead of failing.
    """
    blob = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:20]

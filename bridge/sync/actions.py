"""What the planner decides and the applier carries out: one small frozen class per kind of step.

Every action names the item (``item_key``, e.g. ``casavi:P-1``).  Children refer to their
item's target by the item link the applier holds, so a plan for a new ticket can contain the
create and all of its comments, tasks and attachments at once.

Every write also has an identity within its item (``action_key``: ``status→tool``,
``comment:C-7→tool``, ``file:1042→tool``...) and a ``fingerprint`` of what it would write and
what it was planned on.  A write fails, waits and gives up on its own under that key (see
:mod:`bridge.sync.holds`); the same write planned again with the same fingerprint is the same
attempt, a different fingerprint is a new situation (a person changed something).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from typing import Mapping, Sequence

from bridge.model import Attachment, Comment, ItemDraft, Marker, StatusTarget, SubItem, Task, content_hash

TO_TARGET = "to_target"
TO_SOURCE = "to_source"


@dataclass(frozen=True)
class Action:
    item_key: str

    # Which way the action writes; None for record-only actions.
    direction = None
    # True when the action changes something on an already linked item (mass-change brake).
    changes_linked = False

    def describe(self) -> str:
        return type(self).__name__

    @property
    def action_key(self) -> str:
        """The write's identity within its item; quarantine entries are kept under it."""
        return type(self).__name__

    @property
    def fingerprint(self) -> str:
        """A hash of what the action writes and what it was planned on; the items' versions and
        the time of the source's read are left out (they move with every change or read, the
        bridge's own refused writes included)."""
        return content_hash({f.name: _canonical(getattr(self, f.name)) for f in fields(self)
                             if f.name not in ("item_key", "read_whole_at") and not f.name.endswith("_version")})


def _canonical(value):
    """A JSON-able form that is the same in every process (sets sorted, dataclasses as dicts)."""
    if is_dataclass(value):
        return {f.name: _canonical(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_canonical(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


@dataclass(frozen=True)
class CreateItem(Action):
    draft: ItemDraft
    marker: Marker
    source_hashes: Mapping[str, str]
    source_version: str | None
    # What the link records of each attribute the create sets (name → hash, see bridge.sync.attributes).
    attribute_hashes: Mapping[str, str] = field(default_factory=dict)
    direction = TO_TARGET

    def describe(self) -> str:
        return f"create issue {self.draft.title!r}"

    @property
    def action_key(self) -> str:
        return "create"


@dataclass(frozen=True)
class AdoptItem(Action):
    """The item exists in the tool with our marker but has no link (a create interrupted by a crash)."""

    target_id: str
    display_id: str | None
    target_hashes: Mapping[str, str]

    def describe(self) -> str:
        return f"adopt existing issue {self.display_id or self.target_id}"

    @property
    def action_key(self) -> str:
        return "adopt"


@dataclass(frozen=True)
class UpdateFields(Action):
    target_id: str
    fields: frozenset[str]
    draft: ItemDraft
    source_hashes: Mapping[str, str]
    direction = TO_TARGET
    changes_linked = True

    def describe(self) -> str:
        return f"update {', '.join(sorted(self.fields))}"

    @property
    def action_key(self) -> str:
        return "fields"


@dataclass(frozen=True)
class SetTargetStatus(Action):
    target_id: str
    status: StatusTarget
    source_hash: str
    direction = TO_TARGET
    changes_linked = True

    def describe(self) -> str:
        return f"status → {self.status.status} in the tool"

    @property
    def action_key(self) -> str:
        return "status→tool"


@dataclass(frozen=True)
class SetSourceStatus(Action):
    status: str
    target_hash: str
    # casavi's statusText for the new status: None = not sent, "" = cleared (see SyncRules).
    status_text: str | None = None
    suppress_rating_request: bool = False
    direction = TO_SOURCE
    changes_linked = True

    def describe(self) -> str:
        return f"status → {self.status} in the source"

    @property
    def action_key(self) -> str:
        return "status→source"


@dataclass(frozen=True)
class SetTargetAssignee(Action):
    """Assign the tool's item to the person the source's staff member is (None: unassign)."""

    staff_id: str | None
    source_hash: str
    direction = TO_TARGET
    changes_linked = True

    def describe(self) -> str:
        return f"assignee → {self.staff_id or 'nobody'} in the tool"

    @property
    def action_key(self) -> str:
        return "assignee→tool"


@dataclass(frozen=True)
class SetSourceAssignee(Action):
    """Assign the source's item to the staff member the tool's user is ("": unassign)."""

    tool_person: str
    target_hash: str
    source_hash: str  # the source's assignee hash as planned on (kept when nobody matches)
    direction = TO_SOURCE
    changes_linked = True

    def describe(self) -> str:
        return f"assignee → {self.tool_person or 'nobody'} in the source"

    @property
    def action_key(self) -> str:
        return "assignee→source"


@dataclass(frozen=True)
class SetSourceReference(Action):
    """Write the tool's key into the source item (relay: the order's internalId), so people on
    the source's side see where it is handled.  ``reference`` None: the key of the item created
    earlier in the same plan (known once the create answered).

    Not counted by the mass-change brake: it fills a field the bridge keeps (empty, or holding
    the key it wrote), it changes nothing a person wrote."""

    reference: str | None
    direction = TO_SOURCE

    def describe(self) -> str:
        return f"tool key {self.reference or '(new item)'} → source"

    @property
    def action_key(self) -> str:
        return "reference→source"


@dataclass(frozen=True)
class SetSourceDueDate(Action):
    """Write the tool's due date back to the source ("": none)."""

    due_date: str  # ISO date as the tool holds it, "" for none
    target_hash: str
    direction = TO_SOURCE
    changes_linked = True

    def describe(self) -> str:
        return f"due date → {self.due_date or 'none'} in the source"

    @property
    def action_key(self) -> str:
        return "due_date→source"


@dataclass(frozen=True)
class SetTargetAttribute(Action):
    """Write what kind of item it is (one source attribute: ``typeGroup``, ``customFields.x``)
    to the tool's fields; ``mapping`` is the digest of the connector's mapping for it."""

    name: str
    value: object
    mapping: str
    source_hash: str
    direction = TO_TARGET
    changes_linked = True

    def describe(self) -> str:
        return f"{self.name} → tool"

    @property
    def action_key(self) -> str:
        return f"attribute:{self.name}→tool"


@dataclass(frozen=True)
class RecordHashes(Action):
    """Nothing to write; remember what each side now holds (e.g. a change the policy kept)."""

    source_hashes: Mapping[str, str] = field(default_factory=dict)
    target_hashes: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return "record " + ", ".join(sorted(set(self.source_hashes) | set(self.target_hashes)))


@dataclass(frozen=True)
class AddTargetComment(Action):
    comment: Comment  # the source comment
    direction = TO_TARGET

    def describe(self) -> str:
        return f"comment {self.comment.comment_id} → tool"

    @property
    def action_key(self) -> str:
        return f"comment:{self.comment.comment_id}→tool"


@dataclass(frozen=True)
class AddSourceComment(Action):
    comment_id: str  # deterministic: <connector>-<target item>-c-<target comment>
    comment: Comment  # the tool's comment
    internal: bool = True  # written as an internal (staff-only) comment in the source
    direction = TO_SOURCE

    def describe(self) -> str:
        return f"comment {self.comment.comment_id} → source as {self.comment_id}"

    @property
    def action_key(self) -> str:
        return f"comment:{self.comment.comment_id}→source"


@dataclass(frozen=True)
class UpdateTargetComment(Action):
    """The source's comment was edited: rewrite its copy in the tool."""

    target_comment_id: str
    comment: Comment  # the source comment as it reads now
    text_hash: str
    direction = TO_TARGET
    changes_linked = True

    def describe(self) -> str:
        return f"edited comment {self.comment.comment_id} → tool comment {self.target_comment_id}"

    @property
    def action_key(self) -> str:
        return f"comment:{self.comment.comment_id}→tool:edit"


@dataclass(frozen=True)
class UpdateSourceComment(Action):
    """The tool's comment was edited: rewrite its copy in the source."""

    source_comment_id: str  # the copy's id in the source (<connector>-<item>-c-<comment>)
    comment: Comment  # the tool's comment as it reads now
    text_hash: str
    direction = TO_SOURCE
    changes_linked = True

    def describe(self) -> str:
        return f"edited comment {self.comment.comment_id} → source comment {self.source_comment_id}"

    @property
    def action_key(self) -> str:
        return f"comment:{self.comment.comment_id}→source:edit"


@dataclass(frozen=True)
class AdoptChild(Action):
    """Link a child that both sides already hold (our own earlier write, recognised by marker or id)."""

    kind: str  # comment | task | attachment
    source_child_id: str
    target_child_id: str
    source_hashes: Mapping[str, str] = field(default_factory=dict)
    target_hashes: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return f"link {self.kind} {self.source_child_id} ↔ {self.target_child_id}"

    @property
    def action_key(self) -> str:
        return f"link:{self.kind}:{self.source_child_id}"


@dataclass(frozen=True)
class CreateSubItem(Action):
    task: Task
    status: StatusTarget
    source_hashes: Mapping[str, str]
    direction = TO_TARGET

    def describe(self) -> str:
        return f"task {self.task.task_id} → sub-item"

    @property
    def action_key(self) -> str:
        return f"task:{self.task.task_id}→tool"


@dataclass(frozen=True)
class UpdateSubItem(Action):
    task: Task
    sub_id: str
    status: StatusTarget | None
    source_hashes: Mapping[str, str]
    direction = TO_TARGET
    changes_linked = True

    def describe(self) -> str:
        return f"task {self.task.task_id} → sub-item {self.sub_id}" + (f" ({self.status.status})" if self.status else "")

    @property
    def action_key(self) -> str:
        return f"task:{self.task.task_id}→tool"


@dataclass(frozen=True)
class SetSourceTaskStatus(Action):
    task: Task
    sub: SubItem
    status: str
    target_hashes: Mapping[str, str]
    direction = TO_SOURCE
    changes_linked = True

    def describe(self) -> str:
        return f"task {self.task.task_id} status → {self.status} in the source"

    @property
    def action_key(self) -> str:
        return f"task:{self.task.task_id}→source"


@dataclass(frozen=True)
class CreateSourceTask(Action):
    task_id: str  # deterministic: <connector>-<target item>-t-<sub-item>
    sub: SubItem
    status: str
    target_hashes: Mapping[str, str]
    direction = TO_SOURCE

    def describe(self) -> str:
        return f"sub-item {self.sub.sub_id} → source task {self.task_id}"

    @property
    def action_key(self) -> str:
        return f"task:{self.task_id}→source"


@dataclass(frozen=True)
class CopyToTarget(Action):
    attachment: Attachment  # the source attachment
    direction = TO_TARGET

    def describe(self) -> str:
        return f"file {self.attachment.name} → tool"

    @property
    def action_key(self) -> str:
        return f"file:{self.attachment.attachment_id}→tool"


@dataclass(frozen=True)
class CopyToSource(Action):
    attachment: Attachment  # the tool's attachment
    comment_id: str  # deterministic: <connector>-<target item>-a-<attachment>
    internal: bool = True  # the comment carrying the file is internal (staff-only) in the source
    direction = TO_SOURCE

    def describe(self) -> str:
        return f"file {self.attachment.name} → source"

    @property
    def action_key(self) -> str:
        return f"file:{self.attachment.attachment_id}→source"


@dataclass(frozen=True)
class CopyTaskFileToTarget(Action):
    """A task's own file → its sub-item (the sub-item's id is the task link's, so the file of a
    task created in the same plan follows its sub-item's create)."""

    task_id: str
    attachment: Attachment  # the source task's file
    direction = TO_TARGET

    def describe(self) -> str:
        return f"task {self.task_id} file {self.attachment.name} → sub-item"

    @property
    def action_key(self) -> str:
        return f"task-file:{self.task_id}/{self.attachment.attachment_id}→tool"


@dataclass(frozen=True)
class CopyTaskFileToSource(Action):
    """A file added to a sub-item in the tool → its task in the source: attached to the task
    (``internal`` False: the task's audience, the craftsman, sees it), or staff-only as an
    internal comment of the ticket carrying the file (``comment_id`` deterministic:
    ``<connector>-<sub-item>-a-<attachment>``)."""

    task_id: str
    task_title: str
    sub_id: str
    attachment: Attachment  # the sub-item's file
    comment_id: str
    internal: bool = True
    direction = TO_SOURCE

    def describe(self) -> str:
        where = "an internal comment" if self.internal else f"task {self.task_id}"
        return f"sub-item {self.sub_id} file {self.attachment.name} → {where}"

    @property
    def action_key(self) -> str:
        return f"task-file:{self.sub_id}/{self.attachment.attachment_id}→source"


@dataclass(frozen=True)
class MarkTaskFile(Action):
    """Stamp a sub-item's file with the source file it is linked to (the marker write after an
    upload or a write-back was lost)."""

    task_id: str
    sub_id: str
    attachment_id: str  # the tool's
    source_file_id: str
    direction = TO_TARGET

    def describe(self) -> str:
        return f"mark sub-item {self.sub_id} file {self.attachment_id} as task file {self.source_file_id}"

    @property
    def action_key(self) -> str:
        return f"mark:{self.sub_id}/{self.attachment_id}"


@dataclass(frozen=True)
class RecordConflict(Action):
    field_name: str
    source_value: str
    target_value: str
    policy: str
    winner: str  # source | target

    def describe(self) -> str:
        return f"conflict on {self.field_name}: {self.winner} wins ({self.policy})"


@dataclass(frozen=True)
class ReportOrphan(Action):
    side: str  # source | target

    def describe(self) -> str:
        return f"linked item missing on the {self.side} side (nothing deleted)"


@dataclass(frozen=True)
class Note(Action):
    """Something the operator should know that needs no write (unmapped status, skipped file)."""

    message: str

    def describe(self) -> str:
        return self.message


@dataclass(frozen=True)
class MarkAttachment(Action):
    """Stamp a tool file with the source file it was copied from: the marker write that follows
    an upload was lost (a crash in between), and without it the copy reads as a person's file."""

    attachment_id: str  # the tool's
    source_file_id: str
    direction = TO_TARGET

    def describe(self) -> str:
        return f"mark tool file {self.attachment_id} as the copy of file {self.source_file_id}"

    @property
    def action_key(self) -> str:
        return f"mark:{self.attachment_id}"


@dataclass(frozen=True)
class MarkItem(Action):
    """Stamp the tool item with the marker in the form the tool can search (e.g. the Jira marker
    label on an issue created by an earlier version, which set only the issue property)."""

    target_id: str
    marker: Marker
    direction = TO_TARGET

    def describe(self) -> str:
        return f"mark {self.target_id} as the item of {self.marker.item_id}"

    @property
    def action_key(self) -> str:
        return "mark-item"


@dataclass(frozen=True)
class FinishItem(Action):
    """Last step of every item: remember the versions seen, so an unchanged item is skipped,
    and when the source item was read whole with that version (``read_whole_at``, taken before
    the read; None when it was not read), so the sweep does not read it again within its interval."""

    source_version: str | None
    target_version: str | None
    read_whole_at: datetime | None = None

    def describe(self) -> str:
        return "done"


WRITES = (CreateItem, UpdateFields, SetTargetStatus, SetSourceStatus, AddTargetComment, AddSourceComment,
          UpdateTargetComment, UpdateSourceComment, SetTargetAssignee, SetSourceAssignee, SetTargetAttribute,
          SetSourceReference, SetSourceDueDate,
          CreateSubItem, UpdateSubItem, SetSourceTaskStatus, CreateSourceTask, CopyToTarget, CopyToSource,
          CopyTaskFileToTarget, CopyTaskFileToSource, MarkAttachment, MarkTaskFile, MarkItem)


def is_write(action: Action) -> bool:
    return isinstance(action, WRITES)


def linked_changes(plan: Sequence[Action]) -> set[str]:
    """The directions in which ``plan`` changes an item that was already linked (what the
    mass-change brake counts).  None for a plan that creates the item: the writes after its
    create (its assignee, say) fill in a new item, they change nothing anyone had before."""
    if any(isinstance(x, CreateItem) for x in plan):
        return set()
    return {x.direction for x in plan if x.changes_linked}

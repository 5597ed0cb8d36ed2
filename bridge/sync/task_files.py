"""A task's own files ↔ its sub-item's files.  Pure: the planner's rules for them.

A casavi task carries files of its own (``attachments`` of the task, not of the ticket).  They
are mirrored to the sub-item of the task, and files people add to a sub-item in the tool go
back, with the rules of ticket files:

- Each file is copied once and linked (``task_file`` links, child id ``<task>/<file>``); a copy
  carries the source file's id as its marker.  A file both sides hold that the ledger does not
  link (a copy a crash left unrecorded) is recognised by that marker, else by name and size, and
  linked, never copied again.  A sub-item's file that is linked but unmarked is marked (the marker
  write after an upload or a write-back was lost).
- Size and type limits as for ticket files; a refused file is noted, not copied.
- A file added to a sub-item in the tool goes back as ``[sync] tool_files_to_casavi`` says:
  ``"public"`` attaches it to the casavi task (whoever sees the task, the craftsman included, sees
  it); ``"internal"`` (the default) writes it staff-only, as an internal comment of the ticket
  that carries the file and names the task (comment id ``<connector>-<sub-item>-a-<file>``, so a
  repeat after a crash is recognised).  Either way the tool's file is marked with the casavi file
  it became, so both directions read alike afterwards.
- A ticket file is not a task file: files linked as task files, and files carried by those
  internal comments, are left out of the ticket's files (:func:`task_owned_files`), and those
  comments are not mirrored as comments (:func:`is_task_file_carrier`).
- Absence is not deletion: a file gone from either side removes nothing.
"""

from __future__ import annotations

from typing import Iterable

from bridge.model import Attachment, SourceItem, SubItem, Task, TargetItem
from bridge.sync import actions as a
from bridge.sync.file_markers import marker_hashes, marker_held, shows_no_held_marker, twin_of
from bridge.sync.links import (KIND_TASK, KIND_TASK_FILE, ItemLinks, LinkView, split_task_file_key, task_file_key,
                               written_id)
from bridge.sync.rules import SyncRules

def follows_task_files(rules: SyncRules) -> bool:
    caps = rules.capabilities
    return rules.tasks and rules.attachments and caps.sub_items and caps.attachments and caps.sub_item_attachments


def carrier_id(rules: SyncRules, sub_id: str, attachment_id: str) -> str:
    """The id of the internal comment that carries a sub-item's file into the source."""
    return written_id(rules.connector, sub_id, "a", attachment_id)


def sub_item_ids(target: TargetItem, links: ItemLinks) -> set[str]:
    return {s.sub_id for s in target.sub_items} | {l.target_id for l in links.of_kind(KIND_TASK)}


def is_task_file_carrier(comment_id: str, rules: SyncRules, sub_ids: Iterable[str]) -> bool:
    return any(comment_id.startswith(f"{rules.connector}-{sub_id}-a-") for sub_id in sub_ids)


def task_owned_files(source: SourceItem, target: TargetItem, links: ItemLinks, rules: SyncRules) -> set[str]:
    """Source file ids that belong to tasks, not to the ticket: linked as task files, or carried
    by a comment that carries a sub-item's file."""
    owned = {split_task_file_key(l.source_id)[1] for l in links.of_kind(KIND_TASK_FILE)}
    subs = sub_item_ids(target, links)
    for c in source.comments:
        if c.file_ids and is_task_file_carrier(c.comment_id, rules, subs):
            owned.update(c.file_ids)
    return owned


def _file_id(link: LinkView) -> str:
    return split_task_file_key(link.source_id)[1]


def marker_recorded(link: LinkView) -> bool:
    """The ledger holds that the tool stored this task file's marker (:mod:`bridge.sync.file_markers`)."""
    return marker_held(link, _file_id(link))


def plan_task_files(source: SourceItem, target: TargetItem, links: ItemLinks, rules: SyncRules,
                    task_plan: Iterable[a.Action]) -> list[a.Action]:
    """Actions for the files of every task whose sub-item exists, is linked, or is created or
    adopted in ``task_plan`` (the actions the planner chose for the tasks)."""
    if not follows_task_files(rules):
        return []
    key = source.ref.key
    tasks = {t.task_id: t for t in source.tasks}
    subs = {s.sub_id: s for s in target.sub_items}
    pairs: dict[str, str | None] = {l.source_id: l.target_id for l in links.of_kind(KIND_TASK)}
    for action in task_plan:
        if isinstance(action, a.CreateSubItem):
            pairs[action.task.task_id] = None  # created in this plan: its id is known once created
        elif isinstance(action, a.AdoptChild) and action.kind == KIND_TASK:
            pairs[action.source_child_id] = action.target_child_id
    file_links: dict[str, dict[str, LinkView]] = {}
    for l in links.of_kind(KIND_TASK_FILE):
        task_id, file_id = split_task_file_key(l.source_id)
        file_links.setdefault(task_id, {})[file_id] = l
    carriers = {c.comment_id: c for c in source.comments}
    plan: list[a.Action] = []
    for task_id, sub_id in pairs.items():
        task = tasks.get(task_id)
        if task is None:
            continue  # the task is gone from the source: absence is not deletion
        if sub_id is None:
            plan += _to_new_sub_item(key, task, rules)
            continue
        sub = subs.get(sub_id)
        if sub is None:
            continue
        plan += _pair(key, task, sub, file_links.get(task_id, {}), carriers, target.markers_read, rules)
    return plan


def _to_new_sub_item(key: str, task: Task, rules: SyncRules) -> list[a.Action]:
    plan: list[a.Action] = []
    for f in task.attachments:
        refused = rules.attachment_allowed(f.content_type, f.size)
        plan.append(a.Note(key, f"task {task.task_id} file {f.name} not mirrored: {refused}") if refused
                    else a.CopyTaskFileToTarget(key, task.task_id, f))
    return plan


def _pair(key: str, task: Task, sub: SubItem, linked: dict[str, LinkView], carriers: dict,
          markers_read: bool, rules: SyncRules) -> list[a.Action]:
    plan: list[a.Action] = []
    marks = rules.capabilities.attachment_marker_after_upload
    linked_tgt = {l.target_id for l in linked.values()}
    sub_files = {f.attachment_id: f for f in sub.attachments}
    free = [f for f in sub.attachments if f.attachment_id not in linked_tgt]

    def mark(t: Attachment, file_id: str) -> list[a.Action]:
        if marks and markers_read and t.marker != file_id:
            return [a.MarkTaskFile(key, task.task_id, sub.sub_id, t.attachment_id, file_id)]
        return []

    for file_id, l in linked.items():  # a linked file whose marker the tool does not hold
        t = sub_files.get(l.target_id)
        if t is not None and not marker_recorded(l):
            if t.marker == file_id:
                plan.append(a.AdoptChild(key, KIND_TASK_FILE, l.source_id, t.attachment_id,
                                         target_hashes=marker_hashes(file_id)))
            else:
                plan += mark(t, file_id)
    taken: set[str] = set()
    for f in task.attachments:
        if f.attachment_id in linked:
            continue
        twin = twin_of(free, f, taken)
        if twin is not None:
            taken.add(twin.attachment_id)
            held = twin.marker == f.attachment_id
            plan.append(a.AdoptChild(key, KIND_TASK_FILE, task_file_key(task.task_id, f.attachment_id),
                                     twin.attachment_id, target_hashes=marker_hashes(f.attachment_id) if held else {}))
            plan += mark(twin, f.attachment_id)
            continue
        refused = rules.attachment_allowed(f.content_type, f.size)
        plan.append(a.Note(key, f"task {task.task_id} file {f.name} not mirrored: {refused}") if refused
                    else a.CopyTaskFileToTarget(key, task.task_id, f))
    for t in free:
        if t.attachment_id in taken or t.marker or not markers_read:
            continue  # a marked file is a copy of a task file (absent from the task now: kept as it is)
        carried = carriers.get(carrier_id(rules, sub.sub_id, t.attachment_id))
        if carried is not None and carried.file_ids:  # written back before, its link lost
            file_id = carried.file_ids[0]
            plan.append(a.AdoptChild(key, KIND_TASK_FILE, task_file_key(task.task_id, file_id), t.attachment_id))
            plan += mark(t, file_id)
            continue
        refused = rules.attachment_allowed(t.content_type, t.size)
        if refused:
            plan.append(a.Note(key, f"sub-item {sub.sub_id} file {t.name} not written back: {refused}"))
            continue
        plan.append(a.CopyTaskFileToSource(key, task.task_id, task.title, sub.sub_id, t,
                                           carrier_id(rules, sub.sub_id, t.attachment_id),
                                           rules.files_internal_in_source))
    return plan


def task_files_in_recorded_state(target: TargetItem, links: ItemLinks, rules: SyncRules) -> bool:
    """Every sub-item file linked, and marked where the tool marks after the upload."""
    if not follows_task_files(rules):
        return True
    files = {l.target_id: l for l in links.of_kind(KIND_TASK_FILE)}
    marks = rules.capabilities.attachment_marker_after_upload
    for sub in target.sub_items:
        for f in sub.attachments:
            link = files.get(f.attachment_id)
            if link is None or (marks and f.marker is None and not marker_recorded(link)):
                return False
    return True


def task_file_marker_unknown(target: TargetItem, links: ItemLinks, rules: SyncRules) -> bool:
    """A linked sub-item file whose marker a batch read may not carry (see ``plan.marker_unknown``)."""
    if target.markers_read or not rules.capabilities.attachment_marker_after_upload or not follows_task_files(rules):
        return False
    files = {l.target_id: l for l in links.of_kind(KIND_TASK_FILE)}
    return shows_no_held_marker((f for sub in target.sub_items for f in sub.attachments), files, _file_id)

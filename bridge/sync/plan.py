"""The planner: a pure function from (source item, tool item, stored links) to actions.

It holds every sync rule and does no I/O.  The rules, in the order they are applied:

- An unlinked source item that the filters select is created in the tool, with its comments,
  tasks (as sub-items) and attachments.  An unlinked item the tool already holds with our
  marker (a create interrupted by a crash) is adopted, never created twice.
- For each field, each side's content hash is compared with the last-synced one.  Changed on
  one side only → that side wins (title, description and due date only flow source → tool;
  status flows both ways through the status maps).  Changed on both → the conflict policy
  (``casavi-wins`` | ``tool-wins`` | ``newest``), recorded as a conflict.
- Comments never conflict: every comment not yet linked is copied to the other side once.
  Our own writes are recognised (by link, by marker, or by their deterministic id) and never
  copied back.  An edit of a comment's original is written over its copy
  (:mod:`bridge.sync.comment_edits`).
- Absence is never deletion: a missing side is reported, nothing is closed or deleted.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from bridge.model import (
    FIELD_DESCRIPTION,
    FIELD_ASSIGNEE,
    FIELD_DUE_DATE,
    FIELD_STATUS,
    FIELD_TITLE,
    UNHASHED_TASK_FACTS,
    Attachment,
    ItemDraft,
    Marker,
    SourceItem,
    StatusTarget,
    SubItem,
    Task,
    TargetItem,
    content_hash,
)
from bridge.sync import actions as a
from bridge.sync.assignee import follows_assignee, plan_assignee, plan_new_assignee, target_assignee_hash
from bridge.sync.attributes import plan_attributes, plan_new_attributes
from bridge.sync.comment_edits import FIELD_TEXT, plan_comment_edits, text_hash
from bridge.sync.file_markers import marker_hashes, marker_held, shows_no_held_marker, twin_of
from bridge.sync.links import KIND_ATTACHMENT, KIND_COMMENT, KIND_TASK, KIND_TICKET, ItemLinks, LinkView, written_id
from bridge.sync.rules import SyncRules
from bridge.sync.source_fields import plan_new_reference, plan_reference, shows_own_reference
from bridge.sync.task_files import (is_task_file_carrier, plan_task_files, sub_item_ids, task_file_marker_unknown,
                                    task_files_in_recorded_state, task_owned_files)

def source_field_values(item: SourceItem) -> dict[str, object]:
    return {
        FIELD_TITLE: item.title,
        # The description as mirrored includes the header facts and the link back.
        FIELD_DESCRIPTION: [item.description, [list(f) for f in item.facts], item.link_url],
        FIELD_STATUS: item.status,
        FIELD_DUE_DATE: item.due_date.isoformat() if item.due_date else "",
    }


def source_hashes(item: SourceItem) -> dict[str, str]:
    return {k: content_hash(v) for k, v in source_field_values(item).items()}


def target_hashes(fields: Mapping[str, str]) -> dict[str, str]:
    return {k: content_hash(v) for k, v in fields.items()}


def task_hashes(task: Task) -> dict[str, str]:
    # The header lines (the craftsman) count with the text; a task without any hashes as before.
    facts = [list(f) for f in task.facts if f[0] not in UNHASHED_TASK_FACTS]
    text = [task.title, task.description] + ([facts] if facts else [])
    return {FIELD_TITLE: content_hash(text), FIELD_STATUS: content_hash(task.status)}


def sub_hashes(sub: SubItem) -> dict[str, str]:
    return {FIELD_TITLE: content_hash([sub.title, sub.description]),
            FIELD_STATUS: content_hash([sub.status, sub.resolution])}


def draft_for(item: SourceItem, rules: SyncRules) -> ItemDraft | None:
    target = rules.status_map.get(item.status)
    if target is None:
        return None
    return ItemDraft(
        title=item.title,
        description=item.description,
        status=StatusTarget(target),
        facts=item.facts,
        labels=item.labels,
        link_url=item.link_url,
        due_date=item.due_date,
        assignee=item.assignee,
        files=tuple(f.name for f in item.attachments),
    )


def plan_item(source: SourceItem | None, target: TargetItem | None, links: ItemLinks, rules: SyncRules,
              *, item_key: str | None = None) -> list[a.Action]:
    """All actions that bring one item's two sides into agreement."""
    key = source.ref.key if source is not None else item_key
    assert key is not None, "plan_item needs a source item or an item_key"
    link = links.item
    if source is not None:
        source = shows_own_reference(source, target, link)

    if link is None:
        if source is None:
            return []
        if target is None:
            return _plan_new(source, links, rules)
        # Our marker is on a tool item we have no link for: adopt it, then reconcile as linked.
        adopted = a.AdoptItem(key, target.target_id, target.display_id, target_hashes(target.fields))
        link = LinkView(KIND_TICKET, key, target.target_id, {}, dict(adopted.target_hashes))
        return [adopted] + _plan_linked(source, target, link, links, rules)

    if source is None:
        return [a.ReportOrphan(key, "source")]
    if target is None:
        return [a.ReportOrphan(key, "target")]
    return _plan_linked(source, target, link, links, rules)


def in_recorded_state(target: TargetItem, links: ItemLinks, rules: SyncRules) -> bool:
    """True when the tool item holds exactly what the ledger recorded of it: every field the
    planner compares has its recorded hash, every comment, sub-item and file is linked (sub-items
    in their recorded status, files marked where the tool marks them after the upload).

    Such an item changed only by the bridge's own writes (or by nothing the planner sees), so
    with an unchanged source item its plan would be empty: the engine records its version
    without reading the source.  Anything else — a person's edit, comment, transition or file,
    between our read and our write or after — makes this False, and the item is planned."""
    link = links.item
    if link is None or target.partial or target.target_id != link.target_id or not target.marker_findable:
        return False
    fields = [FIELD_TITLE, FIELD_DESCRIPTION, FIELD_STATUS]
    if rules.capabilities.due_date and FIELD_DUE_DATE in target.fields:
        fields.append(FIELD_DUE_DATE)
    hashes = target_hashes({name: target.fields.get(name, "") for name in fields})
    if any(hashes[name] != link.target_hashes.get(name) for name in fields):
        return False
    if follows_assignee(rules) and FIELD_ASSIGNEE in target.fields and \
            target_assignee_hash(target) != link.target_hashes.get(FIELD_ASSIGNEE):
        return False
    if rules.comments:
        linked = {l.target_id: l for l in links.of_kind(KIND_COMMENT)}
        if any(c.comment_id not in linked for c in target.comments):
            return False
        if target.markers_read:  # texts read: a person's edit of a comment they wrote in the tool
            written = f"{rules.connector}-{target.target_id}-c-"
            for c in target.comments:
                link_of = linked[c.comment_id]
                if link_of.source_id.startswith(written) and text_hash(c.text) != link_of.target_hashes.get(FIELD_TEXT):
                    return False
    if rules.tasks and rules.capabilities.sub_items:
        tasks = {l.target_id: l for l in links.of_kind(KIND_TASK)}
        for sub in target.sub_items:
            link_of = tasks.get(sub.sub_id)
            if link_of is None or sub_hashes(sub)[FIELD_STATUS] != link_of.target_hashes.get(FIELD_STATUS):
                return False
    if rules.attachments and rules.capabilities.attachments:
        files = {l.target_id: l for l in links.of_kind(KIND_ATTACHMENT)}
        marked = rules.capabilities.attachment_marker_after_upload
        for f in target.attachments:
            link_of = files.get(f.attachment_id)
            if link_of is None or (marked and f.marker is None and not marker_recorded(link_of)):
                return False
    return task_files_in_recorded_state(target, links, rules)


def marker_recorded(link: LinkView) -> bool:
    """The ledger holds that the tool stored this ticket file's marker
    (:mod:`bridge.sync.file_markers`)."""
    return marker_held(link, link.source_id)


def marker_unknown(target: TargetItem, links: ItemLinks, rules: SyncRules) -> bool:
    """A linked file whose marker the planner needs but ``target`` (a batch read) may not carry:
    the ledger does not hold that it was stored, and the read shows none."""
    if target.markers_read or not rules.capabilities.attachment_marker_after_upload:
        return False
    files = {l.target_id: l for l in links.of_kind(KIND_ATTACHMENT)}
    return (task_file_marker_unknown(target, links, rules)
            or shows_no_held_marker(target.attachments, files, lambda l: l.source_id))


def _plan_new(source: SourceItem, links: ItemLinks, rules: SyncRules) -> list[a.Action]:
    key = source.ref.key
    draft = draft_for(source, rules)
    if draft is None:
        return [a.Note(key, f"source status {source.status!r} has no entry in the status map; not mirrored")]
    if follows_assignee(rules):  # assigned in a step of its own: a refused person never fails the create
        draft = replace(draft, assignee=None)
    if rules.attributes:  # what the create cannot set is written in the steps after it
        draft = replace(draft, attributes={name: source.attributes.get(name) for name in sorted(rules.attributes)})
    attributes = plan_new_attributes(source, rules)
    plan: list[a.Action] = [a.CreateItem(key, draft, Marker.for_ref(source.ref), source_hashes(source), source.version,
                                         {x.name: x.source_hash for x in attributes})]
    plan += attributes
    plan += plan_new_assignee(source, rules)
    plan += plan_new_reference(source, rules)
    empty = TargetItem(target_id="", fields={}, version="")
    plan += _plan_comments(source, empty, links, rules)
    tasks = _plan_tasks(source, empty, links, rules)
    plan += tasks
    plan += _plan_attachments(source, empty, links, rules)
    plan += plan_task_files(source, empty, links, rules, tasks)
    plan.append(a.FinishItem(key, source.version, None, source.read_whole_at))
    return plan


def _plan_linked(source: SourceItem, target: TargetItem, link: LinkView, links: ItemLinks,
                 rules: SyncRules) -> list[a.Action]:
    plan: list[a.Action] = []
    if not target.marker_findable:
        plan.append(a.MarkItem(source.ref.key, target.target_id, Marker.for_ref(source.ref)))
    plan += _plan_fields(source, target, link, rules)
    plan += plan_attributes(source, link, rules)
    # Sub-items before the item's status: some tools (Redmine) refuse to close an item whose
    # sub-items are still open.
    tasks = _plan_tasks(source, target, links, rules)
    plan += tasks
    plan += _plan_status(source, target, link, rules)
    plan += plan_assignee(source, target, link, rules, _winner(rules, source, target))
    plan += plan_reference(source, target, link, rules)
    plan += _plan_comments(source, target, links, rules)
    plan += plan_comment_edits(source, target, links, rules)
    plan += _plan_attachments(source, target, links, rules)
    plan += plan_task_files(source, target, links, rules, tasks)
    plan.append(a.FinishItem(source.ref.key, source.version, target.version, source.read_whole_at))
    return plan


def _winner(rules: SyncRules, source: SourceItem, target: TargetItem) -> str:
    if rules.conflict_policy == "casavi-wins":
        return "source"
    if rules.conflict_policy == "tool-wins":
        return "target"
    # newest: server times of two different systems; ties and unknown times go to the source.
    if source.modified_at and target.updated_at and target.updated_at > source.modified_at:
        return "target"
    return "source"


def _plan_fields(source: SourceItem, target: TargetItem, link: LinkView, rules: SyncRules) -> list[a.Action]:
    key = source.ref.key
    s_hashes, t_hashes = source_hashes(source), target_hashes(target.fields)
    values = source_field_values(source)
    fields = [FIELD_TITLE, FIELD_DESCRIPTION]
    if rules.capabilities.due_date and FIELD_DUE_DATE in target.fields:
        fields.append(FIELD_DUE_DATE)
    push: set[str] = set()
    keep_s: dict[str, str] = {}
    keep_t: dict[str, str] = {}
    plan: list[a.Action] = []
    for name in fields:
        s_changed = s_hashes[name] != link.source_hashes.get(name)
        t_changed = t_hashes.get(name) != link.target_hashes.get(name)
        # A due date the source takes back (relay) flows both ways; every other field source → tool.
        back = name == FIELD_DUE_DATE and rules.source_due_dates
        if s_changed and t_changed and name in link.target_hashes:
            winner = _winner(rules, source, target)
            if back and s_hashes[name] == t_hashes.get(name):
                keep_s[name], keep_t[name] = s_hashes[name], t_hashes[name]  # both made the same change
                continue
            plan.append(a.RecordConflict(key, name, str(values[name])[:500], str(target.fields.get(name, ""))[:500],
                                         rules.conflict_policy, winner))
            if winner == "source":
                push.add(name)
            elif back:
                plan.append(a.SetSourceDueDate(key, target.fields.get(name, ""), t_hashes[name]))
            else:
                keep_s[name], keep_t[name] = s_hashes[name], t_hashes[name]
        elif s_changed:
            push.add(name)
        elif t_changed and back:
            plan.append(a.SetSourceDueDate(key, target.fields.get(name, ""), t_hashes[name]))
        elif t_changed:
            keep_t[name] = t_hashes[name]  # edited in the tool only: kept; source edits will overwrite it later
    if push:
        draft = draft_for(source, rules) or ItemDraft(source.title, source.description, StatusTarget(""),
                                                      source.facts, source.labels, source.link_url, source.due_date)
        plan.append(a.UpdateFields(key, link.target_id, frozenset(push), draft, {n: s_hashes[n] for n in push}))
    if keep_s or keep_t:
        plan.append(a.RecordHashes(key, keep_s, keep_t))
    return plan


def tool_status_changed(now_hash: str, recorded: Mapping[str, str]) -> bool:
    """Whether the tool's status moved since the bridge recorded it.  A status never recorded
    (a create whose status step did not finish: a failure, a crash, a batch still to place it)
    is no change in the tool: the source's status is then the one to hold, as for an adopted
    create, and the walk into it reads where the item stands."""
    return FIELD_STATUS in recorded and now_hash != recorded[FIELD_STATUS]


def _plan_status(source: SourceItem, target: TargetItem, link: LinkView, rules: SyncRules) -> list[a.Action]:
    key = source.ref.key
    s_hash = content_hash(source.status)
    t_status = target.fields.get(FIELD_STATUS, "")
    t_hash = content_hash(t_status)
    s_changed = s_hash != link.source_hashes.get(FIELD_STATUS)
    t_changed = tool_status_changed(t_hash, link.target_hashes)
    forward = rules.status_map.get(source.status)
    back = rules.status_map_back.get(t_status)
    if forward == t_status or back == source.status:
        # In agreement.  The second test keeps a tool status the forward map does not produce:
        # "Resolved" (back: CLOSED) stays Resolved while casavi says CLOSED, instead of being
        # moved to "Closed" (CLOSED's forward status) by the round trip.
        if s_changed or t_changed or FIELD_STATUS not in link.target_hashes:
            return [a.RecordHashes(key, {FIELD_STATUS: s_hash}, {FIELD_STATUS: t_hash})]
        return []
    plan: list[a.Action] = []
    direction = "source"
    if t_changed and not s_changed:
        direction = "target"
    elif t_changed and s_changed and FIELD_STATUS in link.target_hashes:
        direction = _winner(rules, source, target)
        plan.append(a.RecordConflict(key, FIELD_STATUS, source.status, t_status, rules.conflict_policy, direction))
    if direction == "target":
        if back is None:
            return plan + [a.Note(key, f"tool status {t_status!r} has no entry in status_map_back; not written back")]
        if back == source.status:
            return plan + [a.RecordHashes(key, {FIELD_STATUS: s_hash}, {FIELD_STATUS: t_hash})]
        return plan + [a.SetSourceStatus(key, back, t_hash, *rules.status_write_extras(back))]
    if forward is None:
        return plan + [a.Note(key, f"source status {source.status!r} has no entry in the status map")]
    return plan + [a.SetTargetStatus(key, link.target_id, StatusTarget(forward), s_hash)]


def _plan_comments(source: SourceItem, target: TargetItem, links: ItemLinks, rules: SyncRules) -> list[a.Action]:
    if not rules.comments:
        return []
    key = source.ref.key
    linked = links.of_kind(KIND_COMMENT)
    linked_src = {l.source_id for l in linked}
    linked_tgt = {l.target_id for l in linked}
    tgt_by_id = {c.comment_id: c for c in target.comments}
    tgt_by_marker = {c.marker: c for c in target.comments if c.marker and c.comment_id not in linked_tgt}
    prefix = f"{rules.connector}-{target.target_id}-c-" if target.target_id else None
    # Comments the bridge wrote only to carry a tool file into the source: never mirrored back.
    carrier = f"{rules.connector}-{target.target_id}-a-" if target.target_id else None
    subs = sub_item_ids(target, links)  # comments carrying a sub-item's file (bridge.sync.task_files)
    plan: list[a.Action] = []
    adopted_tgt: set[str] = set()
    for c in source.comments:
        if c.comment_id in linked_src or (carrier and c.comment_id.startswith(carrier)):
            continue
        if subs and is_task_file_carrier(c.comment_id, rules, subs):
            continue
        if prefix and c.comment_id.startswith(prefix) and c.comment_id[len(prefix):] in tgt_by_id:
            tid = c.comment_id[len(prefix):]  # our own write-back whose link was lost
            if tid not in linked_tgt:
                plan.append(a.AdoptChild(key, KIND_COMMENT, c.comment_id, tid))
                adopted_tgt.add(tid)
            continue
        if c.comment_id in tgt_by_marker:
            tid = tgt_by_marker[c.comment_id].comment_id
            plan.append(a.AdoptChild(key, KIND_COMMENT, c.comment_id, tid))
            adopted_tgt.add(tid)
            continue
        if c.internal and (rules.internal_comments == "skip" or not rules.capabilities.comment_visibility):
            continue  # internal casavi comments stay in casavi unless the tool can restrict them
        plan.append(a.AddTargetComment(key, replace(c, files=tuple(f.name for f in source.attachments))))
    src_ids = {c.comment_id for c in source.comments}
    for t in target.comments:
        if t.comment_id in linked_tgt or t.comment_id in adopted_tgt:
            continue
        if t.marker:  # written by the bridge from a source comment; never copied back
            if t.marker not in linked_src:
                plan.append(a.AdoptChild(key, KIND_COMMENT, t.marker, t.comment_id))
            continue
        cid = written_id(rules.connector, target.target_id, "c", t.comment_id)
        if cid in src_ids:
            continue  # handled above as an adoption
        plan.append(a.AddSourceComment(key, cid, t, rules.comment_internal_in_source(t.internal)))
    return plan


def _task_in_sync(rules: SyncRules, task: Task, sub: SubItem) -> bool:
    back = rules.task_status_back(sub.status, sub.resolution)
    if back is not None:
        return back == task.status
    forward = rules.task_status_map.get(task.status)
    return forward is not None and forward.status == sub.status


def _plan_tasks(source: SourceItem, target: TargetItem, links: ItemLinks, rules: SyncRules) -> list[a.Action]:
    if not rules.tasks:
        return []
    key = source.ref.key
    if not rules.capabilities.sub_items:
        return [a.Note(key, "the tool has no sub-items; tasks are not mirrored")] if source.tasks else []
    linked = {l.source_id: l for l in links.of_kind(KIND_TASK)}
    linked_tgt = {l.target_id for l in linked.values()}
    subs = {s.sub_id: s for s in target.sub_items}
    subs_by_marker = {s.marker: s for s in target.sub_items if s.marker and s.sub_id not in linked_tgt}
    prefix = f"{rules.connector}-{target.target_id}-t-" if target.target_id else None
    plan: list[a.Action] = []
    handled_subs: set[str] = set()
    for task in source.tasks:
        link = linked.get(task.task_id)
        if link is None:
            own = prefix and task.task_id.startswith(prefix) and task.task_id[len(prefix):] in subs
            sub = subs[task.task_id[len(prefix):]] if own else subs_by_marker.get(task.task_id)
            if sub is not None:
                plan.append(a.AdoptChild(key, KIND_TASK, task.task_id, sub.sub_id, task_hashes(task), sub_hashes(sub)))
                handled_subs.add(sub.sub_id)
                forward = rules.task_status_map.get(task.status)
                if not own and forward is not None and not _task_in_sync(rules, task, sub):
                    # Our create reached the tool but its status step did not (e.g. the transition
                    # failed): the task is the truth.  Adopting alone would record the mismatch as
                    # synced, and nothing would look at the item again until either side changed.
                    plan.append(a.UpdateSubItem(key, task, sub.sub_id, forward, task_hashes(task)))
                continue
            status = rules.task_status_map.get(task.status)
            if status is None:
                plan.append(a.Note(key, f"task status {task.status!r} has no entry in task_status_map"))
                continue
            plan.append(a.CreateSubItem(key, task, status, task_hashes(task)))
            continue
        sub = subs.get(link.target_id)
        handled_subs.add(link.target_id)
        if sub is None:
            continue  # sub-item gone from the tool: absence is not deletion
        plan += _plan_linked_task(key, task, sub, link, rules)
    for sub in target.sub_items:
        if sub.sub_id in linked_tgt or sub.sub_id in handled_subs or sub.marker:
            continue
        status = rules.task_status_back(sub.status, sub.resolution)
        if status is None:
            plan.append(a.Note(key, f"sub-item status {sub.status!r} has no task status; sub-item not mirrored"))
            continue
        task_id = written_id(rules.connector, target.target_id, "t", sub.sub_id)
        plan.append(a.CreateSourceTask(key, task_id, sub, status, sub_hashes(sub)))
    return plan


def _plan_linked_task(key: str, task: Task, sub: SubItem, link: LinkView, rules: SyncRules) -> list[a.Action]:
    s_now, t_now = task_hashes(task), sub_hashes(sub)
    title_changed = s_now[FIELD_TITLE] != link.source_hashes.get(FIELD_TITLE)
    s_changed = s_now[FIELD_STATUS] != link.source_hashes.get(FIELD_STATUS)
    t_changed = tool_status_changed(t_now[FIELD_STATUS], link.target_hashes)
    in_sync = _task_in_sync(rules, task, sub)
    if in_sync:
        if title_changed:
            return [a.UpdateSubItem(key, task, sub.sub_id, None, s_now)]
        if s_changed or t_changed or FIELD_STATUS not in link.target_hashes:
            return [a.AdoptChild(key, KIND_TASK, task.task_id, sub.sub_id, s_now, t_now)]
        return []
    to_source = t_changed and (not s_changed or rules.conflict_policy == "tool-wins")
    if to_source:
        back = rules.task_status_back(sub.status, sub.resolution)
        if back is not None:
            return [a.SetSourceTaskStatus(key, task, sub, back, t_now)]
        return [a.Note(key, f"sub-item status {sub.status!r} has no task status")]
    forward = rules.task_status_map.get(task.status)
    if forward is None:
        return [a.Note(key, f"task status {task.status!r} has no entry in task_status_map")]
    return [a.UpdateSubItem(key, task, sub.sub_id, forward, s_now)]


def _plan_attachments(source: SourceItem, target: TargetItem, links: ItemLinks, rules: SyncRules) -> list[a.Action]:
    if not rules.attachments:
        return []
    key = source.ref.key
    if not rules.capabilities.attachments:
        return [a.Note(key, "the tool takes no attachments; files are not mirrored")] if source.attachments else []
    owned = task_owned_files(source, target, links, rules)  # a task's files are not the ticket's
    if owned:
        source = replace(source, attachments=tuple(f for f in source.attachments if f.attachment_id not in owned))
    linked = links.of_kind(KIND_ATTACHMENT)
    linked_src = {l.source_id for l in linked}
    linked_tgt = {l.target_id for l in linked}
    free_tgt = [t for t in target.attachments if t.attachment_id not in linked_tgt]
    plan: list[a.Action] = []
    source_comment_ids = {c.comment_id for c in source.comments}

    def lost_marker(t: Attachment) -> bool:
        # Our copy of a source file whose marker write was lost; not a person's tool file that
        # went to the source (that one has its carrier comment there, and stays unmarked).  A
        # batch read (``markers_read`` False) may carry no file markers at all (Jira Data
        # Center's search rows have no properties): a missing marker there is no evidence.
        return (rules.capabilities.attachment_marker_after_upload and target.markers_read and t.marker is None
                and bool(target.target_id)
                and written_id(rules.connector, target.target_id, "a", t.attachment_id) not in source_comment_ids)

    if rules.capabilities.attachment_marker_after_upload and linked:
        source_files = {f.attachment_id for f in source.attachments}
        tgt_by_id = {t.attachment_id: t for t in target.attachments}
        for l in linked:
            t = tgt_by_id.get(l.target_id)
            if t is None or l.source_id not in source_files or marker_recorded(l):
                continue
            if lost_marker(t):
                plan.append(a.MarkAttachment(key, t.attachment_id, l.source_id))
            elif t.marker == l.source_id:  # linked when its marker was already there: record it
                plan.append(a.AdoptChild(key, KIND_ATTACHMENT, l.source_id, t.attachment_id,
                                         target_hashes=marker_hashes(l.source_id)))
    taken: set[str] = set()
    for f in source.attachments:
        if f.attachment_id in linked_src:
            continue
        # The same file already in the tool (our earlier copy, or the copy back of a tool file).
        twin = twin_of(free_tgt, f, taken)
        if twin is not None:
            taken.add(twin.attachment_id)
            if lost_marker(twin):  # marked before it is linked: a failed mark is planned again
                plan.append(a.MarkAttachment(key, twin.attachment_id, f.attachment_id))
            marked_already = twin.marker == f.attachment_id  # the ledger keeps that the tool holds it
            plan.append(a.AdoptChild(key, KIND_ATTACHMENT, f.attachment_id, twin.attachment_id,
                                     target_hashes=marker_hashes(f.attachment_id) if marked_already else {}))
            continue
        refused = rules.attachment_allowed(f.content_type, f.size)
        if refused:
            plan.append(a.Note(key, f"file {f.name} not mirrored: {refused}"))
            continue
        plan.append(a.CopyToTarget(key, f))
    src_free = [f for f in source.attachments if f.attachment_id not in linked_src]
    for t in free_tgt:
        if t.attachment_id in taken or t.marker:
            continue
        if any(f.name == t.name and f.size == t.size for f in src_free):
            continue
        refused = rules.attachment_allowed(t.content_type, t.size)
        if refused:
            plan.append(a.Note(key, f"tool file {t.name} not written back: {refused}"))
            continue
        plan.append(a.CopyToSource(key, t, written_id(rules.connector, target.target_id, "a", t.attachment_id),
                                   rules.files_internal_in_source))
    return plan

"""Who works on it: the rule that follows the assignee both ways.  Pure.

The two sides name people differently (casavi: a staff id; Jira: an accountId or user name;
Redmine: a user id), so each side's value is compared only with what that side held at the
last sync, like every other field: changed on one side → written to the other; changed on both
→ the conflict policy.  Who is who is decided when the write happens (the applier asks a
:class:`bridge.people.People` directory), never here.

- A new item gets its assignee in a step of its own after the create, so a person the tool will
  not take never fails the create (Jira refuses a whole create request over one bad assignee).
  Where the connector takes the person in the creating request and mends a refusal itself
  (``capabilities.assignee_in_create``: Jira), the applier sends it there and, when the tool
  took it, records it with the create's link; the step then only reports it.  Otherwise the
  step writes it as before.
- A link from before assignees were followed (no assignee hash on either side) records both
  sides' values without writing: followed from the next change on; an upgrade reassigns nothing.
"""

from __future__ import annotations

from bridge.model import FIELD_ASSIGNEE, SourceItem, TargetItem, content_hash
from bridge.sync import actions as a
from bridge.sync.links import LinkView
from bridge.sync.rules import SyncRules


def source_assignee_hash(item: SourceItem) -> str:
    return content_hash(item.assignee or "")


def target_assignee_hash(item: TargetItem) -> str:
    return content_hash(item.fields.get(FIELD_ASSIGNEE, ""))


def follows_assignee(rules: SyncRules) -> bool:
    return rules.assignees and rules.source_assignees and rules.capabilities.assignee


def plan_new_assignee(source: SourceItem, rules: SyncRules) -> list[a.Action]:
    """The assignee of an item being created (after its CreateItem)."""
    if not follows_assignee(rules) or not source.assignee:
        return []
    return [a.SetTargetAssignee(source.ref.key, source.assignee, source_assignee_hash(source))]


def plan_assignee(source: SourceItem, target: TargetItem, link: LinkView, rules: SyncRules,
                  winner: str) -> list[a.Action]:
    """Actions for a linked item's assignee; ``winner`` is the conflict policy's side for this item."""
    if not follows_assignee(rules) or FIELD_ASSIGNEE not in target.fields:
        return []
    key = source.ref.key
    s_now, t_now = source_assignee_hash(source), target_assignee_hash(target)
    s_known, t_known = link.source_hashes.get(FIELD_ASSIGNEE), link.target_hashes.get(FIELD_ASSIGNEE)
    if s_known is None and t_known is None:
        return [a.RecordHashes(key, {FIELD_ASSIGNEE: s_now}, {FIELD_ASSIGNEE: t_now})]
    # Created while the source named nobody, or stopped before the assignee step after the create
    # was recorded: no source value recorded, which is nobody.  Not a conflict with the tool's
    # value then: that can be our own assignee write whose record a crash prevented.
    recorded = s_known is not None
    s_known = s_known if recorded else content_hash("")
    s_changed, t_changed = s_now != s_known, t_now != t_known
    plan: list[a.Action] = []
    direction = "source" if s_changed else "target" if t_changed else None
    if s_changed and t_changed and recorded and t_known is not None:
        direction = winner
        plan.append(a.RecordConflict(key, FIELD_ASSIGNEE, source.assignee or "",
                                     target.fields.get(FIELD_ASSIGNEE, ""), rules.conflict_policy, winner))
    if direction == "source":
        plan.append(a.SetTargetAssignee(key, source.assignee, s_now))
    elif direction == "target":
        plan.append(a.SetSourceAssignee(key, target.fields.get(FIELD_ASSIGNEE, ""), t_now, s_now))
    return plan

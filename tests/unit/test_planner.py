"""Every planner rule, with plain literals: no I/O, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from bridge.model import (Attachment, Capabilities, Comment, Marker, SourceItem, SourceRef, StatusTarget, SubItem, Task,
                          TargetItem, content_hash)
from bridge.sync import actions as a
from bridge.sync.links import ItemLinks, LinkView
from bridge.sync.comment_edits import text_hash
from bridge.sync.plan import in_recorded_state, plan_item, source_hashes, sub_hashes, target_hashes, task_hashes
from tests.integration.test_engine_memory import make_rules

RULES = make_rules()
REF = SourceRef("casavi", "P-1", 7)


def ticket(**kw) -> SourceItem:
    values = dict(ref=REF, title="Heizung", description="kalt", status="OPEN", version="v1")
    values.update(kw)
    return SourceItem(**values)


def issue(**kw) -> TargetItem:
    fields = {"title": "Heizung", "description": "kalt", "status": "To Do"}
    fields.update(kw.pop("fields", {}))
    values = dict(target_id="10", fields=fields, version="t1", marker=Marker("casavi", "P-1", 7))
    values.update(kw)
    return TargetItem(**values)


def synced(src: SourceItem, tgt: TargetItem, children=()) -> ItemLinks:
    """Links as they are right after a sync of exactly these two states."""
    return ItemLinks(LinkView("ticket", src.ref.key, tgt.target_id, source_hashes(src), target_hashes(tgt.fields)),
                     tuple(children))


def kinds(plan):
    return [type(x).__name__ for x in plan]


def test_new_ticket_creates_item_then_children():
    src = ticket(comments=(Comment("c1", "hallo"),), tasks=(Task("t1", "Rohr"),),
                 attachments=(Attachment("5", "a.png", "image/png", 10),))
    plan = plan_item(src, None, ItemLinks(), RULES)
    assert kinds(plan) == ["CreateItem", "AddTargetComment", "CreateSubItem", "CopyToTarget", "FinishItem"]
    assert plan[0].draft.status == StatusTarget("To Do")
    assert plan[0].marker == Marker("casavi", "P-1", 7)


def test_unmapped_source_status_is_noted_not_created():
    assert kinds(plan_item(ticket(status="ARCHIVED"), None, ItemLinks(), RULES)) == ["Note"]


def test_unchanged_item_plans_no_write():
    src, tgt = ticket(), issue()
    assert not any(a.is_write(x) for x in plan_item(src, tgt, synced(src, tgt), RULES))


def test_source_title_change_updates_the_tool():
    src, tgt = ticket(), issue()
    plan = plan_item(ticket(title="Heizung defekt"), tgt, synced(src, tgt), RULES)
    update = [x for x in plan if isinstance(x, a.UpdateFields)]
    assert update and update[0].fields == {"title"}


def test_title_edited_only_in_the_tool_is_kept_and_recorded():
    src, tgt = ticket(), issue()
    plan = plan_item(src, issue(fields={"title": "Meine Überschrift"}), synced(src, tgt), RULES)
    assert not any(a.is_write(x) for x in plan)
    assert any(isinstance(x, a.RecordHashes) and "title" in x.target_hashes for x in plan)


def test_title_changed_on_both_sides_follows_tool_wins():
    src, tgt = ticket(), issue()
    plan = plan_item(ticket(title="neu in casavi"), issue(fields={"title": "neu im Tool"}), synced(src, tgt),
                     make_rules(conflict_policy="tool-wins"))
    assert not any(isinstance(x, a.UpdateFields) for x in plan)
    assert [x.winner for x in plan if isinstance(x, a.RecordConflict)] == ["target"]


def test_newest_policy_takes_the_later_change():
    src, tgt = ticket(), issue()
    later = datetime(2026, 11, 2, tzinfo=timezone.utc)
    earlier = datetime(2026, 11, 1, tzinfo=timezone.utc)
    plan = plan_item(ticket(title="casavi", modified_at=earlier), issue(fields={"title": "tool"}, updated_at=later),
                     synced(src, tgt), make_rules(conflict_policy="newest"))
    assert [x.winner for x in plan if isinstance(x, a.RecordConflict)] == ["target"]


def test_status_change_in_casavi_moves_the_issue():
    src, tgt = ticket(), issue()
    plan = plan_item(ticket(status="INPROGRESS"), tgt, synced(src, tgt), RULES)
    assert [x.status.status for x in plan if isinstance(x, a.SetTargetStatus)] == ["In Progress"]


def test_status_change_in_the_tool_is_written_back():
    src, tgt = ticket(), issue()
    plan = plan_item(src, issue(fields={"status": "Done"}), synced(src, tgt), RULES)
    assert [x.status for x in plan if isinstance(x, a.SetSourceStatus)] == ["CLOSED"]


def test_statuses_that_map_onto_each_other_are_in_sync():
    src, tgt = ticket(status="PENDING"), issue()
    assert not any(a.is_write(x) for x in plan_item(src, tgt, synced(ticket(), tgt), RULES))


def test_a_tool_status_the_forward_map_does_not_produce_survives_the_round_trip():
    rules = make_rules(status_map_back={**RULES.status_map_back, "Resolved": "CLOSED"})
    src, tgt = ticket(), issue()
    resolved = issue(fields={"status": "Resolved"})
    plan = plan_item(src, resolved, synced(src, tgt), rules)
    assert [x.status for x in plan if isinstance(x, a.SetSourceStatus)] == ["CLOSED"]
    closed = ticket(status="CLOSED")  # casavi now says CLOSED; forward CLOSED → "Done", not "Resolved"
    plan = plan_item(closed, resolved, synced(closed, resolved), rules)
    assert not any(a.is_write(x) for x in plan)
    # ... also when casavi's CLOSED arrives some other way while the tool says Resolved.
    plan = plan_item(closed, resolved, synced(src, resolved), rules)
    assert not any(a.is_write(x) for x in plan)
    assert kinds([x for x in plan if not isinstance(x, a.FinishItem)]) == ["RecordHashes"]
    # A tenant who reopens still moves the issue.
    plan = plan_item(ticket(status="OPEN"), resolved, synced(closed, resolved), rules)
    assert [x.status.status for x in plan if isinstance(x, a.SetTargetStatus)] == ["To Do"]


def test_tool_status_without_a_way_back_is_noted():
    src, tgt = ticket(), issue()
    plan = plan_item(src, issue(fields={"status": "Review"}), synced(src, tgt), RULES)
    assert kinds([x for x in plan if not isinstance(x, a.FinishItem)]) == ["Note"]


def test_new_tool_comment_goes_to_casavi_with_a_deterministic_id():
    src, tgt = ticket(), issue(comments=(Comment("311", "Techniker kommt"),))
    plan = plan_item(src, tgt, synced(src, issue()), RULES)
    assert [x.comment_id for x in plan if isinstance(x, a.AddSourceComment)] == ["memory-10-c-311"]


def test_comment_written_by_the_bridge_is_recognised_by_its_marker():
    src = ticket(comments=(Comment("c1", "hallo"),))
    tgt = issue(comments=(Comment("311", "hallo", marker="c1"),))
    plan = plan_item(src, tgt, synced(src, tgt), RULES)
    assert kinds([x for x in plan if not isinstance(x, a.FinishItem)]) == ["AdoptChild"]


def test_write_back_recognised_by_its_deterministic_id():
    src = ticket(comments=(Comment("memory-10-c-311", "Techniker kommt"),))
    tgt = issue(comments=(Comment("311", "Techniker kommt"),))
    plan = plan_item(src, tgt, synced(src, tgt), RULES)
    assert kinds([x for x in plan if not isinstance(x, a.FinishItem)]) == ["AdoptChild"]


def test_linked_comments_are_left_alone():
    src = ticket(comments=(Comment("c1", "hallo"),))
    tgt = issue(comments=(Comment("311", "hallo"),))
    links = synced(src, tgt, [LinkView("comment", "c1", "311", {"text": text_hash("hallo")}, {})])
    assert kinds(plan_item(src, tgt, links, RULES)) == ["FinishItem"]


def test_a_comment_linked_before_edits_were_followed_records_its_text_without_writing():
    src = ticket(comments=(Comment("c1", "hallo"),))
    tgt = issue(comments=(Comment("311", "hallo"),))
    links = synced(src, tgt, [LinkView("comment", "c1", "311", {}, {})])
    plan = plan_item(src, tgt, links, make_rules(capabilities=Capabilities(comment_edits=True)))
    assert not any(a.is_write(x) for x in plan)
    adopted = [x for x in plan if isinstance(x, a.AdoptChild)]
    assert [(x.source_child_id, dict(x.source_hashes)) for x in adopted] == [("c1", {"text": text_hash("hallo")})]


def test_edited_source_comment_rewrites_its_copy_and_an_edited_copy_is_left():
    src = ticket(comments=(Comment("c1", "neu"),))
    tgt = issue(comments=(Comment("311", "im Tool geändert", marker="c1"),))
    links = synced(src, tgt, [LinkView("comment", "c1", "311", {"text": text_hash("alt")}, {})])
    plan = plan_item(src, tgt, links, make_rules(capabilities=Capabilities(comment_edits=True)))
    edits = [x for x in plan if isinstance(x, a.UpdateTargetComment)]
    assert [(x.target_comment_id, x.comment.text) for x in edits] == [("311", "neu")]
    unchanged = synced(src, tgt, [LinkView("comment", "c1", "311", {"text": text_hash("neu")}, {})])
    assert kinds(plan_item(src, tgt, unchanged, make_rules(capabilities=Capabilities(comment_edits=True)))) == ["FinishItem"]


def test_edited_tool_comment_rewrites_its_copy_in_the_source_only_where_the_source_takes_edits():
    tgt = issue(comments=(Comment("311", "Montag", author="Bob"),))
    copy_id = f"{RULES.connector}-{tgt.target_id}-c-311"
    src = ticket(comments=(Comment(copy_id, "**Bob** (Jira):\n\nFreitag"),))
    links = synced(src, tgt, [LinkView("comment", copy_id, "311", {}, {"text": text_hash("Freitag")})])
    plan = plan_item(src, tgt, links, make_rules(source_comment_edits=True))
    assert [(x.source_comment_id, x.comment.text) for x in plan if isinstance(x, a.UpdateSourceComment)] == \
        [(copy_id, "Montag")]
    assert not any(isinstance(x, a.UpdateSourceComment) for x in plan_item(src, tgt, links, make_rules()))


def test_internal_comment_skipped_by_policy():
    src = ticket(comments=(Comment("c1", "intern", internal=True),))
    tgt = issue()
    plan = plan_item(src, tgt, synced(src, tgt), make_rules(internal_comments="skip"))
    assert not any(isinstance(x, a.AddTargetComment) for x in plan)


def test_task_status_written_back_with_resolution():
    task = Task("t1", "Rohr", status="OPEN")
    sub = SubItem("55", "Rohr", "To Do", marker="t1")
    src, tgt = ticket(tasks=(task,)), issue(sub_items=(sub,))
    links = synced(src, tgt, [LinkView("task", "t1", "55", task_hashes(task), sub_hashes(sub))])
    declined = SubItem("55", "Rohr", "Done", resolution="Won't Do", marker="t1")
    plan = plan_item(src, issue(sub_items=(declined,)), links, RULES)
    assert [x.status for x in plan if isinstance(x, a.SetSourceTaskStatus)] == ["DECLINED"]


def test_new_sub_item_in_the_tool_becomes_a_casavi_task():
    src, tgt = ticket(), issue(sub_items=(SubItem("56", "Gutachten", "In Progress"),))
    plan = plan_item(src, tgt, synced(src, issue()), RULES)
    created = [x for x in plan if isinstance(x, a.CreateSourceTask)]
    assert [(x.task_id, x.status) for x in created] == [("memory-10-t-56", "ACCEPTED")]


def test_same_file_on_both_sides_is_linked_not_copied():
    src = ticket(attachments=(Attachment("900", "plan.pdf", "application/pdf", 42),))
    tgt = issue(attachments=(Attachment("77", "plan.pdf", "application/pdf", 42),))
    plan = plan_item(src, tgt, synced(src, tgt), RULES)
    assert kinds([x for x in plan if not isinstance(x, a.FinishItem)]) == ["AdoptChild"]


def test_files_too_large_or_of_a_refused_type_are_noted():
    src = ticket(attachments=(Attachment("1", "big.bin", "application/zip", 50), Attachment("2", "a.exe", "x/exe", 1)))
    plan = plan_item(src, None, ItemLinks(), make_rules(attachment_max_bytes=10, attachment_types=("x/*",)))
    assert kinds(plan).count("Note") == 1 and kinds(plan).count("CopyToTarget") == 1


def test_absence_is_not_deletion():
    src, tgt = ticket(), issue()
    links = synced(src, tgt)
    assert kinds(plan_item(None, tgt, links, RULES, item_key=REF.key)) == ["ReportOrphan"]
    assert kinds(plan_item(src, None, links, RULES)) == ["ReportOrphan"]


def test_marker_without_link_is_adopted_then_reconciled():
    plan = plan_item(ticket(title="neu"), issue(), ItemLinks(), RULES)
    assert kinds(plan)[0] == "AdoptItem"
    assert any(isinstance(x, a.UpdateFields) and "title" in x.fields for x in plan)
    assert not any(isinstance(x, a.CreateItem) for x in plan)


def test_tool_without_sub_items_degrades_with_a_note():
    from bridge.model import Capabilities

    plan = plan_item(ticket(tasks=(Task("t1", "x"),)), None, ItemLinks(),
                     make_rules(capabilities=Capabilities(sub_items=False)))
    assert "CreateSubItem" not in kinds(plan) and "Note" in kinds(plan)


def test_comment_carrying_a_tool_file_is_not_mirrored_back():
    src = ticket(comments=(Comment("memory-10-a-77", "📎 plan.pdf"),),
                 attachments=(Attachment("900", "plan.pdf", "application/pdf", 42),))
    tgt = issue(attachments=(Attachment("77", "plan.pdf", "application/pdf", 42),))
    links = synced(src, tgt, [LinkView("attachment", "900", "77", {}, {})])
    assert kinds(plan_item(src, tgt, links, RULES)) == ["FinishItem"]


def test_sub_item_found_by_marker_with_a_stale_status_is_moved_when_adopted():
    # The sub-task was created with its marker, but moving it to the task's status failed.
    task = Task("t1", "Rohr", status="COMPLETED")
    src, tgt = ticket(tasks=(task,)), issue(sub_items=(SubItem("55", "Rohr", "To Do", marker="t1"),))
    plan = plan_item(src, tgt, synced(src, issue()), RULES)
    assert kinds(plan) == ["AdoptChild", "UpdateSubItem", "FinishItem"]
    assert plan[1].sub_id == "55" and plan[1].status == StatusTarget("Done")


def test_our_copy_left_unmarked_by_a_crash_is_marked_before_it_is_linked():
    from bridge.model import Capabilities

    rules = make_rules(capabilities=Capabilities(attachment_marker_after_upload=True))
    src = ticket(attachments=(Attachment("900", "plan.pdf", "application/pdf", 42),))
    tgt = issue(attachments=(Attachment("77", "plan.pdf", "application/pdf", 42),))  # uploaded, marker lost
    plan = [x for x in plan_item(src, tgt, synced(src, tgt), rules) if not isinstance(x, a.FinishItem)]
    assert kinds(plan) == ["MarkAttachment", "AdoptChild"]
    assert (plan[0].attachment_id, plan[0].source_file_id) == ("77", "900")
    # Linked earlier without its marker (before this rule): marked when the item is planned.
    links = synced(src, tgt, [LinkView("attachment", "900", "77", {}, {})])
    assert kinds(plan_item(src, tgt, links, rules)) == ["MarkAttachment", "FinishItem"]
    marked = issue(attachments=(Attachment("77", "plan.pdf", "application/pdf", 42, marker="900"),))
    # Marked meanwhile: the ledger only records that it is (no write).
    assert kinds(plan_item(src, marked, synced(src, marked, links.children), rules)) == ["AdoptChild", "FinishItem"]


def test_a_batch_read_without_file_markers_plans_no_mark_and_a_whole_read_records_the_marker():
    from bridge.model import Capabilities
    from bridge.sync.plan import marker_unknown

    rules = make_rules(capabilities=Capabilities(attachment_marker_after_upload=True))
    src = ticket(attachments=(Attachment("900", "plan.pdf", "application/pdf", 42),))
    whole = issue(attachments=(Attachment("77", "plan.pdf", "application/pdf", 42, marker="900"),))
    # Jira Data Center's search rows carry no properties: the batch read shows no marker at all.
    row = replace(whole, attachments=(replace(whole.attachments[0], marker=None),), markers_read=False)
    # Adopted after a crash while its marker was there: the adoption records the marker.
    [adopt] = [x for x in plan_item(src, whole, synced(src, whole), rules) if isinstance(x, a.AdoptChild)]
    assert dict(adopt.target_hashes) == {"marker": content_hash("900")}
    # A link made without that record: the batch read is no evidence of a lost marker...
    links = synced(src, whole, [LinkView("attachment", "900", "77", {}, {})])
    assert "MarkAttachment" not in kinds(plan_item(src, row, links, rules))
    assert marker_unknown(row, links, rules) and not marker_unknown(whole, links, rules)  # ...it is read whole
    # ...and the whole read that shows the marker records it, without writing to the tool.
    plan = plan_item(src, whole, links, rules)
    assert kinds(plan) == ["AdoptChild", "FinishItem"] and not any(a.is_write(x) for x in plan)
    recorded = synced(src, whole, [LinkView("attachment", "900", "77", {}, dict(plan[0].target_hashes))])
    assert not marker_unknown(row, recorded, rules) and kinds(plan_item(src, row, recorded, rules)) == ["FinishItem"]


def test_a_tool_file_written_back_to_casavi_is_never_marked_as_our_copy():
    from bridge.model import Capabilities

    rules = make_rules(capabilities=Capabilities(attachment_marker_after_upload=True))
    src = ticket(comments=(Comment("memory-10-a-77", "📎 plan.pdf"),),
                 attachments=(Attachment("900", "plan.pdf", "application/pdf", 42),))
    tgt = issue(attachments=(Attachment("77", "plan.pdf", "application/pdf", 42),))
    assert "MarkAttachment" not in kinds(plan_item(src, tgt, synced(src, tgt), rules))  # the crash case
    links = synced(src, tgt, [LinkView("attachment", "900", "77", {}, {})])
    assert kinds(plan_item(src, tgt, links, rules)) == ["FinishItem"]


def _ours():
    """A tool item holding only what the bridge wrote, and the links it recorded."""
    src = ticket(comments=(Comment("c1", "hallo"),), tasks=(Task("t1", "Rohr"),),
                 attachments=(Attachment("5", "a.png", "image/png", 10),))
    sub = SubItem("11", "Rohr", "To Do", marker="t1")
    tgt = issue(comments=(Comment("20", "hallo", marker="c1"),), sub_items=(sub,),
                attachments=(Attachment("30", "a.png", "image/png", 10, marker="5"),))
    children = (LinkView("comment", "c1", "20", {}, {}),
                LinkView("task", "t1", "11", task_hashes(Task("t1", "Rohr")), sub_hashes(sub)),
                LinkView("attachment", "5", "30", {}, {}))
    return src, tgt, synced(src, tgt, children)


def test_a_tool_item_holding_only_our_writes_is_in_its_recorded_state():
    _, tgt, links = _ours()
    assert in_recorded_state(tgt, links, RULES)


def test_any_change_by_a_person_in_the_tool_leaves_the_recorded_state():
    _, tgt, links = _ours()
    person = Comment("21", "Ich komme morgen")
    changed = [
        replace(tgt, comments=tgt.comments + (person,)),
        replace(tgt, fields={**tgt.fields, "status": "In Progress"}),
        replace(tgt, fields={**tgt.fields, "title": "Heizung (dringend)"}),
        replace(tgt, sub_items=(replace(tgt.sub_items[0], status="Done"),)),
        replace(tgt, sub_items=tgt.sub_items + (SubItem("12", "Auch prüfen", "To Do"),)),
        replace(tgt, attachments=tgt.attachments + (Attachment("31", "b.pdf", "application/pdf", 3),)),
        replace(tgt, partial=True),  # a summary says nothing about the content
    ]
    for item in changed:
        assert not in_recorded_state(item, links, RULES), item
        assert any(a.is_write(x) or isinstance(x, (a.RecordHashes, a.AdoptChild, a.MarkAttachment, a.Note))
                   for x in plan_item(_ours()[0], item, links, RULES)) or item.partial, item
    # Where the file's marker is written after the upload (Jira), our copy may have lost it.
    marked_later = replace(RULES, capabilities=replace(RULES.capabilities, attachment_marker_after_upload=True))
    assert in_recorded_state(tgt, links, marked_later)
    unmarked = replace(tgt, attachments=(replace(tgt.attachments[0], marker=None),))
    assert not in_recorded_state(unmarked, links, marked_later)
    assert "MarkAttachment" in kinds(plan_item(_ours()[0], unmarked, links, marked_later))
    # A search row without properties shows no marker: the ledger's record of the stored marker counts.
    recorded = replace(links, children=tuple(
        replace(l, target_hashes={"marker": content_hash("5")}) if l.kind == "attachment" else l for l in links.children))
    assert in_recorded_state(unmarked, recorded, marked_later)
    assert "MarkAttachment" not in kinds(plan_item(_ours()[0], unmarked, recorded, marked_later))


def test_a_persons_edit_of_their_tool_comment_leaves_the_recorded_state():
    _, tgt, links = _ours()
    theirs = Comment("22", "Danke, ich bin da")  # written in the tool, copied to the source
    link = LinkView("comment", f"{RULES.connector}-{tgt.target_id}-c-22", "22", {}, {"text": text_hash(theirs.text)})
    links = replace(links, children=links.children + (link,))
    assert in_recorded_state(replace(tgt, comments=tgt.comments + (theirs,)), links, RULES)
    edited = replace(theirs, text="Danke, ich bin erst ab 15 Uhr da")
    assert not in_recorded_state(replace(tgt, comments=tgt.comments + (edited,)), links, RULES)


def test_the_writes_after_a_create_are_not_counted_as_changes_to_linked_items():
    rules = make_rules(assignees=True, source_assignees=True, capabilities=Capabilities(assignee=True))
    new = plan_item(ticket(assignee="staff-1"), None, ItemLinks(), rules)
    assert kinds(new)[:2] == ["CreateItem", "SetTargetAssignee"]
    assert a.linked_changes(new) == set()  # an initial mirror never trips the mass-change brake
    src, tgt = ticket(), issue()
    moved = plan_item(replace(src, status="INPROGRESS", version="v2"), tgt, synced(src, tgt), rules)
    assert a.linked_changes(moved) == {a.SetTargetStatus.direction}


def test_an_item_created_without_an_assignee_plans_no_assignee_write_on_a_full_read():
    rules = make_rules(assignees=True, source_assignees=True, capabilities=Capabilities(assignee=True))
    src, tgt = ticket(), issue(fields={"assignee": ""})
    links = synced(src, tgt)  # as after the create: the tool's assignee recorded, the source's not
    assert "assignee" in links.item.target_hashes and "assignee" not in links.item.source_hashes
    assert not any(isinstance(x, a.SetTargetAssignee) for x in plan_item(src, tgt, links, rules))
    assigned = plan_item(replace(src, assignee="staff-1", version="v2"), tgt, links, rules)
    assert [x.staff_id for x in assigned if isinstance(x, a.SetTargetAssignee)] == ["staff-1"]


def test_an_assignee_write_a_crash_left_unrecorded_is_written_again_without_a_conflict():
    rules = make_rules(assignees=True, source_assignees=True, capabilities=Capabilities(assignee=True))
    src, tgt = ticket(assignee="staff-1"), issue(fields={"assignee": ""})
    links = synced(replace(src, assignee=None), tgt)  # the create recorded; the assignee step not
    assigned_in_jira = replace(tgt, fields={**tgt.fields, "assignee": "acc-1"})
    plan = plan_item(src, assigned_in_jira, links, rules)
    assert [x.staff_id for x in plan if isinstance(x, a.SetTargetAssignee)] == ["staff-1"]
    assert not any(isinstance(x, a.RecordConflict) for x in plan)


def _without_status(hashes: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in hashes.items() if k != "status"}


def test_a_status_never_recorded_is_no_change_in_the_tool_the_source_status_is_walked_into():
    # A create whose status step did not finish (failed, or cut off by a crash) recorded no tool
    # status: the workflow's start ("Backlog") is not a person's change to write back.
    src, tgt = ticket(), issue(fields={"status": "Backlog"})
    links = ItemLinks(LinkView("ticket", REF.key, "10", source_hashes(src), _without_status(target_hashes(issue().fields))))
    plan = plan_item(src, tgt, links, RULES)
    assert [x.status for x in plan if isinstance(x, a.SetTargetStatus)] == [StatusTarget("To Do")]
    assert not any(isinstance(x, (a.SetSourceStatus, a.RecordConflict)) for x in plan)


def test_a_status_never_recorded_is_recorded_when_both_sides_agree():
    src, tgt = ticket(), issue()
    links = ItemLinks(LinkView("ticket", REF.key, "10", source_hashes(src), _without_status(target_hashes(tgt.fields))))
    plan = plan_item(src, tgt, links, RULES)
    assert not any(a.is_write(x) for x in plan)
    assert [x.target_hashes for x in plan if isinstance(x, a.RecordHashes)] == [{"status": content_hash("To Do")}]
    assert not in_recorded_state(tgt, links, RULES)  # planned, not skipped, until it is recorded


def test_a_sub_item_status_never_recorded_is_walked_to_the_task_not_written_back():
    task = Task("t1", "Rohr", status="OPEN")
    sub = SubItem("55", "Rohr", "Backlog", marker="t1")
    src, tgt = ticket(tasks=(task,)), issue(sub_items=(sub,))
    links = synced(src, tgt, [LinkView("task", "t1", "55", task_hashes(task), _without_status(sub_hashes(sub)))])
    plan = plan_item(src, tgt, links, RULES)
    assert [(x.sub_id, x.status) for x in plan if isinstance(x, a.UpdateSubItem)] == [("55", StatusTarget("To Do"))]
    assert not any(isinstance(x, a.SetSourceTaskStatus) for x in plan)
    in_step = SubItem("55", "Rohr", "To Do", marker="t1")
    plan = plan_item(src, issue(sub_items=(in_step,)), links, RULES)
    assert [x.target_hashes for x in plan if isinstance(x, a.AdoptChild)] == [sub_hashes(in_step)]

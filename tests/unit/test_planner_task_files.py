"""The planner's rules for a task's own files and its craftsman (bridge.sync.task_files): plain
literals, a Jira-like tool (files marked after the upload) unless said otherwise."""

from __future__ import annotations

from bridge.model import (Attachment, Capabilities, Comment, Marker, SourceItem, SourceRef, SubItem, Task,
                          TargetItem, content_hash)
from bridge.sync import actions as a
from bridge.sync.links import KIND_TASK, KIND_TASK_FILE, ItemLinks, LinkView
from bridge.sync.plan import in_recorded_state, plan_item, source_hashes, sub_hashes, target_hashes, task_hashes
from tests.integration.test_engine_memory import make_rules

JIRA_LIKE = Capabilities(attachment_marker_after_upload=True, sub_item_attachments=True)
RULES = make_rules(connector="jira", capabilities=JIRA_LIKE)
REF = SourceRef("casavi", "T-1", 7)
QUOTE = Attachment("501", "Angebot.txt", "text/plain", 7)
CRAFTSMAN = (("Craftsman", "Klaus Wassermann (Sanitär Wassermann), k@w.example, +49 89 1"),)


def ticket(*tasks: Task, **kw) -> SourceItem:
    return SourceItem(ref=REF, title="Rohrbruch", status="OPEN", version="v1", tasks=tasks, **kw)


def issue(*subs: SubItem, **kw) -> TargetItem:
    return TargetItem(target_id="100", fields={"title": "Rohrbruch", "description": "", "status": "To Do"},
                      version="t1", marker=Marker("casavi", "T-1", 7), sub_items=subs, **kw)


def task(*files: Attachment, **kw) -> Task:
    return Task("K-1", "Rohr abdichten", "Bis Freitag", "OPEN", attachments=files, **kw)


def sub(*files: Attachment, **kw) -> SubItem:
    return SubItem("200", "Rohr abdichten", "To Do", marker="K-1", attachments=files, **kw)


def linked(src: SourceItem, tgt: TargetItem, *children: LinkView) -> ItemLinks:
    task_links = tuple(LinkView(KIND_TASK, t.task_id, s.sub_id, task_hashes(t), sub_hashes(s))
                       for t, s in zip(src.tasks, tgt.sub_items))
    return ItemLinks(LinkView("ticket", src.ref.key, tgt.target_id, source_hashes(src), target_hashes(tgt.fields)),
                     task_links + children)


def file_link(file_id: str, attachment_id: str, *, marked: bool = True) -> LinkView:
    return LinkView(KIND_TASK_FILE, f"K-1/{file_id}", attachment_id, {},
                    {"marker": content_hash(file_id)} if marked else {})


def writes(plan):
    return [x for x in plan if a.is_write(x)]


def names(plan):
    return [type(x).__name__ for x in writes(plan)]


def test_a_new_tickets_task_files_follow_its_sub_item_create():
    plan = plan_item(ticket(task(QUOTE)), None, ItemLinks(), RULES)
    assert names(plan) == ["CreateItem", "CreateSubItem", "CopyTaskFileToTarget"]
    assert plan[2].task_id == "K-1" and plan[2].attachment == QUOTE


def test_a_task_file_above_the_limit_is_noted_not_copied():
    rules = make_rules(connector="jira", capabilities=JIRA_LIKE, attachment_max_bytes=5)
    src, tgt = ticket(task()), issue(sub())
    plan = plan_item(ticket(task(QUOTE)), tgt, linked(src, tgt), rules)
    assert not writes(plan) and any(isinstance(x, a.Note) and "Angebot.txt" in x.message for x in plan)


def test_no_task_files_where_the_tool_keeps_none_on_sub_items():
    rules = make_rules(connector="jira", capabilities=Capabilities())
    src, tgt = ticket(task()), issue(sub())
    assert not writes(plan_item(ticket(task(QUOTE)), tgt, linked(src, tgt), rules))


def test_a_file_added_to_the_sub_item_goes_back_internal_by_default_public_when_set():
    src, tgt = ticket(task()), issue(sub())
    photo = Attachment("9001", "Foto.jpg", "image/jpeg", 10)
    now = issue(sub(photo))
    [back] = writes(plan_item(src, now, linked(src, tgt), RULES))
    assert (type(back).__name__, back.internal, back.comment_id, back.task_id) == (
        "CopyTaskFileToSource", True, "jira-200-a-9001", "K-1")
    public = make_rules(connector="jira", capabilities=JIRA_LIKE, tool_files_to_source="public")
    assert [x.internal for x in writes(plan_item(src, now, linked(src, tgt), public))] == [False]


def test_a_file_written_back_whose_link_was_lost_is_adopted_from_its_carrier_comment_and_marked():
    photo = Attachment("9001", "Foto.jpg", "image/jpeg", 10)
    carrier = Comment("jira-200-a-9001", "📎 Foto.jpg (task: Rohr abdichten)", internal=True, file_ids=("777",))
    src, tgt = ticket(task(), comments=(carrier,), attachments=(Attachment("777", "Foto.jpg", "image/jpeg", 10),)), issue(sub(photo))
    plan = plan_item(src, tgt, linked(src, issue(sub())), RULES)
    assert [(type(x).__name__, getattr(x, "source_child_id", None) or getattr(x, "source_file_id", None))
            for x in plan if isinstance(x, (a.AdoptChild, a.MarkTaskFile))] == [("AdoptChild", "K-1/777"),
                                                                              ("MarkTaskFile", "777")]
    assert not any(isinstance(x, (a.AddTargetComment, a.CopyToTarget, a.CopyTaskFileToSource)) for x in plan)


def test_a_copy_whose_link_was_lost_is_adopted_by_its_marker_or_by_name_and_size():
    src = ticket(task(QUOTE))
    by_marker = issue(sub(Attachment("9001", "Angebot.txt", "text/plain", 7, marker="501")))
    by_name = issue(sub(Attachment("9002", "Angebot.txt", "text/plain", 7)))
    empty = issue(sub())
    plan = plan_item(src, by_marker, linked(ticket(task()), empty), RULES)
    assert names(plan) == [] and [x.target_child_id for x in plan if isinstance(x, a.AdoptChild)] == ["9001"]
    plan = plan_item(src, by_name, linked(ticket(task()), empty), RULES)
    assert names(plan) == ["MarkTaskFile"] and [x.target_child_id for x in plan if isinstance(x, a.AdoptChild)] == ["9002"]


def test_a_linked_file_whose_marker_is_missing_is_marked_on_a_whole_read_only():
    src, tgt = ticket(task(QUOTE)), issue(sub(Attachment("9001", "Angebot.txt", "text/plain", 7)))
    links = linked(src, tgt, file_link("501", "9001", marked=False))
    assert names(plan_item(src, tgt, links, RULES)) == ["MarkTaskFile"]
    batch = issue(sub(Attachment("9001", "Angebot.txt", "text/plain", 7)), markers_read=False)
    assert names(plan_item(src, batch, links, RULES)) == []
    assert names(plan_item(src, tgt, linked(src, tgt, file_link("501", "9001")), RULES)) == []


def test_task_files_are_not_the_tickets_and_their_carrier_comments_are_not_comments():
    carried = Attachment("777", "Foto.jpg", "image/jpeg", 10)
    carrier = Comment("jira-200-a-9001", "📎 Foto.jpg (task: Rohr abdichten)", internal=True, file_ids=("777",))
    src = ticket(task(QUOTE), attachments=(QUOTE, carried), comments=(carrier,))  # listed on the ticket too
    tgt = issue(sub(Attachment("9000", "Angebot.txt", "text/plain", 7, marker="501"),
                    Attachment("9001", "Foto.jpg", "image/jpeg", 10, marker="777")))
    links = linked(src, tgt, file_link("501", "9000"), file_link("777", "9001"))
    assert writes(plan_item(src, tgt, links, RULES)) == []


def test_an_item_with_an_unlinked_sub_item_file_is_not_in_its_recorded_state():
    src, tgt = ticket(task()), issue(sub())
    assert in_recorded_state(tgt, linked(src, tgt), RULES)
    photo = issue(sub(Attachment("9001", "Foto.jpg", "image/jpeg", 10)))
    assert not in_recorded_state(photo, linked(src, tgt), RULES)
    marked = issue(sub(Attachment("9001", "Foto.jpg", "image/jpeg", 10, marker="777")))
    assert in_recorded_state(marked, linked(src, tgt, file_link("777", "9001", marked=False)), RULES)


def test_a_change_of_craftsman_rewrites_the_sub_item_and_a_task_without_one_hashes_as_before():
    before, tgt = ticket(task()), issue(sub())
    assert task_hashes(task()) == {"title": content_hash(["Rohr abdichten", "Bis Freitag"]),
                                   "status": content_hash("OPEN")}
    plan = plan_item(ticket(task(facts=CRAFTSMAN)), tgt, linked(before, tgt), RULES)
    [update] = writes(plan)
    assert isinstance(update, a.UpdateSubItem) and update.task.facts == CRAFTSMAN and update.status is None


def test_ticket_files_still_go_to_the_item():
    src, tgt = ticket(task()), issue(sub())
    plan = plan_item(ticket(task(), attachments=(QUOTE,)), tgt, linked(src, tgt), RULES)
    assert names(plan) == ["CopyToTarget"]


def test_who_created_a_task_is_shown_but_not_counted_in_its_hash():
    # "Created by" never changes once a task exists; counting it would have rewritten every
    # sub-item mirrored before the line was added. The craftsman counts (it changes).
    bare = Task("T-1", "Rohr", "Bis Freitag")
    created = Task("T-1", "Rohr", "Bis Freitag", facts=(("Created by", "Anna Berger"),))
    assert task_hashes(created) == task_hashes(bare)
    assert task_hashes(Task("T-1", "Rohr", "Bis Freitag", facts=CRAFTSMAN + (("Created by", "Anna Berger"),))) == \
        task_hashes(Task("T-1", "Rohr", "Bis Freitag", facts=CRAFTSMAN)) != task_hashes(bare)

"""The sync engine end to end against the in-memory source and the memory connector.

Every test runs on a SQLite and on a PostgreSQL state database (``state_url``)."""

from __future__ import annotations
from datetime import timedelta

import pytest

from bridge.model import Comment, StatusTarget, Task
from bridge.state.db import migrate, open_engine
from bridge.state.ledger import Ledger
from bridge.sync.engine import Engine, EngineSettings
from bridge.sync.rules import SyncRules, default_task_status_map_back
from connectors.memory import MemoryConnector, MemorySettings
from tests.fakes import FakeSource, SummarisingTool

TASK_MAP = {"OPEN": StatusTarget("To Do"), "ACCEPTED": StatusTarget("In Progress"),
            "COMPLETED": StatusTarget("Done"), "DECLINED": StatusTarget("Done", "Won't Do")}


def make_rules(**overrides) -> SyncRules:
    values = dict(
        connector="memory",
        status_map={"PENDING": "To Do", "OPEN": "To Do", "INPROGRESS": "In Progress", "POSTPONED": "Waiting",
                    "CLOSED": "Done"},
        status_map_back={"To Do": "OPEN", "In Progress": "INPROGRESS", "Waiting": "POSTPONED", "Done": "CLOSED"},
        task_status_map=TASK_MAP,
        task_status_map_back=default_task_status_map_back(TASK_MAP),
    )
    values.update(overrides)
    return SyncRules(**values)


class World:
    def __init__(self, tmp_path, state_url, **rule_overrides):
        self.source = FakeSource(tmp_path / "casavi-files")
        self.tool = MemoryConnector(MemorySettings(path=str(tmp_path / "tool.json")))
        engine = open_engine(state_url)
        migrate(engine)
        self.ledger = Ledger(engine)
        rule_overrides.setdefault("capabilities", self.tool.capabilities)
        self.engine = Engine(self.source, self.tool, self.ledger, make_rules(**rule_overrides),
                             EngineSettings(mass_change_min_items=1000))

    def sync(self, **kw):
        return self.engine.run_pass(**kw)

    def issue_for(self, ticket_id: str):
        matches = [i for i in self.tool.all_items() if i.marker and i.marker.item_id == ticket_id]
        assert len(matches) <= 1, f"{len(matches)} issues for {ticket_id}"
        return matches[0] if matches else None


@pytest.fixture
def world(tmp_path, state_url) -> World:
    return World(tmp_path, state_url)


def test_new_ticket_is_mirrored_with_comments_tasks_and_files(world):
    world.source.add_ticket("P-1", "Heizung kalt", comments=(Comment("c1", "Bitte schnell"),),
                            tasks=(Task("t1", "Installateur rufen"),), facts=(("Property", "P-00451"),))
    world.source.add_file("P-1", "foto.txt", b"bytes of a photo")
    world.sync()
    issue = world.issue_for("P-1")
    assert issue.fields["title"] == "Heizung kalt"
    assert issue.fields["status"] == "To Do"
    assert "Property: P-00451" in issue.fields["description"]
    assert [c.text for c in issue.comments] == ["Bitte schnell"]
    assert [s.title for s in issue.sub_items] == ["Installateur rufen"]
    assert [f.name for f in issue.attachments] == ["foto.txt"]


def test_second_pass_changes_nothing(world):
    world.source.add_ticket("P-1", "Heizung kalt", comments=(Comment("c1", "Bitte"),), tasks=(Task("t1", "Rufen"),))
    world.sync()
    before = world.tool.get(world.issue_for("P-1").target_id).version
    report = world.sync()
    assert report.differences == 0
    assert world.tool.get(world.issue_for("P-1").target_id).version == before
    assert world.source.writes == []


def test_filters_decide_what_starts_being_mirrored(world):
    world.source.add_ticket("P-1", "geschlossen", status="CLOSED")
    world.sync()
    assert world.issue_for("P-1") is None


def test_ticket_closed_in_casavi_is_closed_in_the_tool(world):
    world.source.add_ticket("P-1", "offen")
    world.sync()
    world.source.edit("P-1", status="CLOSED")
    world.sync()
    assert world.issue_for("P-1").fields["status"] == "Done"


def test_transition_in_the_tool_is_written_back_once(world):
    world.source.add_ticket("P-1", "offen")
    world.sync()
    world.tool.edit_as_user(world.issue_for("P-1").target_id, status="Done")
    world.sync()
    world.sync()
    assert world.source.items["P-1"].status == "CLOSED"
    assert [w for w in world.source.writes if w[0] == "status"] == [("status", "P-1", "CLOSED")]


def test_comment_written_back_is_not_mirrored_again(world):
    world.source.add_ticket("P-1", "offen")
    world.sync()
    target_id = world.issue_for("P-1").target_id
    world.tool.add_comment(target_id, Comment("x", "Techniker kommt Montag", author="Max"), marker=None)
    world.sync()
    world.sync()
    comments = world.source.items["P-1"].comments
    assert len(comments) == 1 and "Techniker kommt Montag" in comments[0].text
    assert len(world.tool.get(target_id).comments) == 1


def test_casavi_comment_added_later_appears_once(world):
    world.source.add_ticket("P-1", "offen")
    world.sync()
    world.source.tenant_comment("P-1", "c9", "Noch immer kalt!")
    world.sync()
    world.sync()
    texts = [c.text for c in world.tool.get(world.issue_for("P-1").target_id).comments]
    assert texts == ["Noch immer kalt!"]


def test_internal_comments_can_be_kept_in_casavi(tmp_path, state_url):
    w = World(tmp_path, state_url, internal_comments="skip")
    w.source.add_ticket("P-1", "offen", comments=(Comment("c1", "intern", internal=True), Comment("c2", "öffentlich")))
    w.sync()
    assert [c.text for c in w.issue_for("P-1").comments] == ["öffentlich"]


def test_sub_item_status_goes_back_to_the_task(world):
    world.source.add_ticket("P-1", "offen", tasks=(Task("t1", "Rohr"),))
    world.sync()
    sub = world.issue_for("P-1").sub_items[0]
    world.tool.edit_sub_item_as_user(sub.sub_id, status="Done", resolution="Won't Do")
    world.sync()
    world.sync()
    assert world.source.items["P-1"].tasks[0].status == "DECLINED"
    assert len([w for w in world.source.writes if w[0] == "task_status"]) == 1


def test_tool_attachment_goes_to_casavi_once_and_never_back(world, tmp_path):
    world.source.add_ticket("P-1", "offen")
    world.sync()
    target_id = world.issue_for("P-1").target_id
    f = tmp_path / "plan.pdf"
    f.write_bytes(b"%PDF-1.4 plan")
    world.tool.add_attachment(target_id, "plan.pdf", "application/pdf", f, marker=None)
    world.sync()
    world.sync()
    assert len(world.source.items["P-1"].attachments) == 1
    assert len(world.tool.get(target_id).attachments) == 1
    assert world.tool.get(target_id).comments == ()  # the comment carrying the file stays in casavi


def test_missing_ticket_is_reported_not_deleted(world):
    world.source.add_ticket("P-1", "offen")
    world.sync()
    target_id = world.issue_for("P-1").target_id
    del world.source.items["P-1"]
    world.tool.edit_as_user(target_id, title="changed in tool")
    world.sync()
    assert world.tool.get(target_id).fields["status"] == "To Do"
    assert [o.source_key for o in world.ledger.orphans()] == ["casavi:P-1"]


def test_crash_between_create_and_record_is_adopted_not_duplicated(world):
    world.source.add_ticket("P-1", "offen")
    ref = world.source.items["P-1"].ref
    from bridge.model import ItemDraft, Marker

    world.ledger.add_intent(ref.key, ref.internal_id)  # the process died after this ...
    world.tool.create(ItemDraft("offen", "", StatusTarget("To Do")), Marker.for_ref(ref))  # ... and this
    world.sync()
    world.sync()
    assert len([i for i in world.tool.all_items() if i.marker.item_id == "P-1"]) == 1
    assert world.ledger.intents() == []


def test_conflicting_status_follows_the_policy(world):
    world.source.add_ticket("P-1", "offen")
    world.sync()
    target_id = world.issue_for("P-1").target_id
    world.source.edit("P-1", status="POSTPONED")
    world.tool.edit_as_user(target_id, status="In Progress")
    world.sync()
    assert world.tool.get(target_id).fields["status"] == "Waiting"
    assert world.source.items["P-1"].status == "POSTPONED"
    assert [c.field_name for c in world.ledger.conflicts()] == ["status"]


def test_mass_change_brake_stops_the_pass(tmp_path, state_url):
    w = World(tmp_path, state_url)
    w.engine.settings = w.engine.settings.__class__(mass_change_min_items=3, mass_change_share=0.5)
    for n in range(6):
        w.source.add_ticket(f"P-{n}", "offen")
    w.sync()
    for n in range(6):
        w.source.edit(f"P-{n}", status="CLOSED")
    report = w.sync()
    assert report.braked is not None
    assert all(i.fields["status"] == "To Do" for i in w.tool.all_items())
    w.sync(full=True)
    assert all(i.fields["status"] == "Done" for i in w.tool.all_items())


def test_chunks_overlap_but_the_brake_still_stops_before_a_chunks_first_write(tmp_path, state_url):
    # The next chunk is read and planned while this chunk's writes run; its writes still wait
    # for its whole plan, so the brake stops a pass before the chunk that trips it writes.
    w = World(tmp_path, state_url)
    w.engine.settings = w.engine.settings.__class__(chunk_size=2, concurrency=2, mass_change_min_items=3,
                                                    mass_change_share=0.2)
    for n in range(12):
        w.source.add_ticket(f"P-{n:02d}", "offen")
    first = w.sync()
    assert first.braked is None and len(w.tool.all_items()) == 12  # six chunks, every ticket once
    for n in range(8):
        w.source.edit(f"P-{n:02d}", status="CLOSED")
    report = w.sync()
    assert report.braked is not None
    done = sorted(i.marker.item_id for i in w.tool.all_items() if i.fields["status"] == "Done")
    assert done == ["P-00", "P-01"]  # the first chunk (2 of 12 changed); the second trips the brake


def test_failing_item_is_quarantined_and_others_go_on(world):
    world.source.add_ticket("P-1", "gut")
    world.source.add_ticket("P-2", "schlecht", status="OPEN")
    world.engine.rules = make_rules(status_map={"OPEN": "To Do", "CLOSED": "Nirgendwo"})
    world.engine.applier.rules = world.engine.rules
    world.sync()
    world.source.edit("P-2", status="CLOSED")
    world.sync()
    assert world.issue_for("P-1") is not None
    assert [q.item_key for q in world.ledger.quarantined()] == ["casavi:P-2"]


def _reads_within_budget(source) -> dict[str, int]:
    """``source.get`` raises BudgetExceededError once ``budget["left"]`` reads were made."""
    from bridge.errors import BudgetExceededError

    budget = {"left": 0}
    real_get = source.get

    def get_within_budget(ref):
        if budget["left"] <= 0:
            raise BudgetExceededError("request budget of this pass used up")
        budget["left"] -= 1
        return real_get(ref)

    source.get = get_within_budget
    return budget


def test_request_budget_ends_the_pass_without_quarantine_or_skipping(world):
    for n in range(10):
        world.source.add_ticket(f"P-{n}", f"Ticket {n}")
    budget = _reads_within_budget(world.source)
    passes = 0
    while len(world.tool.all_items()) < 10 and passes < 10:
        budget["left"] = 4
        report = world.sync()
        passes += 1
        assert world.ledger.quarantined() == []
        if len(world.tool.all_items()) < 10:
            assert report.cut_short is not None
            assert world.ledger.cursor("source:casavi") is None  # nothing skipped by the cursor
    assert 3 <= passes < 10
    assert sorted(i.marker.item_id for i in world.tool.all_items()) == sorted(f"P-{n}" for n in range(10))


def test_a_budget_that_runs_out_within_a_chunk_still_writes_what_was_read(tmp_path, state_url):
    # Chunks of 3 overlap: the second chunk is read while the first writes, and the budget (4
    # reads a pass) runs out in it.  The ticket read before that is written in the same pass.
    w = World(tmp_path, state_url)
    w.engine.settings = w.engine.settings.__class__(chunk_size=3, concurrency=2)
    for n in range(10):
        w.source.add_ticket(f"P-{n}", f"Ticket {n}")
    budget = _reads_within_budget(w.source)
    mirrored = []
    for _ in range(3):
        budget["left"] = 4
        w.sync()
        mirrored.append(len(w.tool.all_items()))
    assert mirrored == [4, 8, 10]
    assert w.ledger.quarantined() == []


def test_change_in_the_tool_during_our_write_is_not_lost(world):
    world.source.add_ticket("P-1", "offen")
    world.sync()
    target_id = world.issue_for("P-1").target_id
    real_set_status = world.tool.set_status

    def person_comments_just_before(target, status):
        world.tool.add_comment(target, Comment("x", "Zwischendurch kommentiert", author="Eva"), marker=None)
        return real_set_status(target, status)

    world.tool.set_status = person_comments_just_before
    world.source.edit("P-1", status="INPROGRESS")
    world.sync()
    world.tool.set_status = real_set_status
    world.sync()
    assert any("Zwischendurch kommentiert" in c.text for c in world.source.items["P-1"].comments)


def test_tool_summaries_are_read_whole_only_when_their_version_is_new(tmp_path, state_url):
    world = World(tmp_path, state_url)
    tool = world.engine.connector = world.engine.applier.connector = SummarisingTool(world.tool)
    world.source.add_ticket("P-1", "Heizung kalt", comments=(Comment("c1", "Bitte"),), tasks=(Task("t1", "Rufen"),))
    world.source.add_ticket("P-2", "Fenster klemmt")
    world.sync()
    world.sync()  # items written last pass are read once more (versions recorded are the planned ones)
    tool.gets = 0
    assert world.sync().differences == 0
    assert tool.gets == 0  # nothing changed: summaries alone decide
    issue = world.issue_for("P-1")
    world.tool.set_status(issue.target_id, StatusTarget("In Progress"))  # a person moves it in the tool
    world.sync()
    assert tool.gets == 1
    assert world.source.items["P-1"].status == "INPROGRESS"


def test_target_cursor_moves_to_the_tools_clock_when_it_reports_one(tmp_path, state_url):
    from datetime import datetime, timedelta, timezone

    world = World(tmp_path, state_url)
    clock = [datetime.now(timezone.utc) + timedelta(minutes=10)]
    world.engine.connector = world.engine.applier.connector = SummarisingTool(world.tool, lambda: clock[0])
    world.source.add_ticket("P-1", "Heizung kalt")
    world.sync()
    assert world.ledger.cursor(world.engine.target_stream) == clock[0]
    clock[0] += timedelta(minutes=5)
    world.sync()  # an idle pass: the window slides forward with the tool's clock
    assert world.ledger.cursor(world.engine.target_stream) == clock[0]


def test_a_pass_that_keeps_no_plans_still_counts_the_items_it_writes(world):
    world.source.add_ticket("P-1", "Heizung kalt")
    world.source.add_ticket("P-2", "Fenster klemmt")
    report = world.sync(keep_plans=False)
    assert report.planned == [] and report.differences == 2
    assert world.issue_for("P-1") is not None


def test_edited_casavi_comment_is_edited_in_the_tool_not_duplicated_and_not_echoed(tmp_path, state_url):
    world = World(tmp_path, state_url, source_comment_edits=True)
    world.source.add_ticket("P-1", "Heizung kalt", comments=(Comment("c1", "Bitte schnell", author="Mieterin"),))
    world.sync()
    world.source.edit_comment("P-1", "c1", "Bitte schnell, Kinder im Haus")
    world.source.writes.clear()
    world.sync()
    issue = world.issue_for("P-1")
    assert [(c.text, c.marker) for c in issue.comments] == [("Bitte schnell, Kinder im Haus", "c1")]
    assert world.sync().differences == 0 and world.source.writes == []


def test_edited_tool_comment_is_edited_in_casavi_with_its_author_and_not_echoed(tmp_path, state_url):
    world = World(tmp_path, state_url, source_comment_edits=True)
    world.source.add_ticket("P-1", "Heizung kalt")
    world.sync()
    issue = world.issue_for("P-1")
    world.tool.add_comment(issue.target_id, Comment("x", "Monteur kommt Mo", author="Alice"), marker=None)
    world.sync()
    tool_comment = world.tool.get(issue.target_id).comments[0]
    world.tool.edit_comment_as_user(issue.target_id, tool_comment.comment_id, "Monteur kommt Di")
    world.source.writes.clear()
    world.sync()
    copies = world.source.items["P-1"].comments
    assert [c.text for c in copies] == ["**Alice** (Memory):\n\nMonteur kommt Di"]
    assert [w[0] for w in world.source.writes] == ["comment_edit"]
    assert world.sync().differences == 0
    assert len(world.tool.get(issue.target_id).comments) == 1


def test_an_edit_of_the_copy_is_not_carried_back_and_deleting_is_not_mirrored(tmp_path, state_url):
    world = World(tmp_path, state_url, source_comment_edits=True)
    world.source.add_ticket("P-1", "Heizung kalt", comments=(Comment("c1", "Original"), Comment("c2", "Zweiter")))
    world.sync()
    issue = world.issue_for("P-1")
    copy = next(c for c in world.tool.get(issue.target_id).comments if c.marker == "c1")
    world.tool.edit_comment_as_user(issue.target_id, copy.comment_id, "im Tool geändert")
    item = world.source.items["P-1"]
    world.source.edit("P-1", comments=tuple(c for c in item.comments if c.comment_id != "c2"))
    world.source.writes.clear()
    world.sync()
    assert world.source.writes == []
    assert sorted(c.text for c in world.tool.get(issue.target_id).comments) == ["Zweiter", "im Tool geändert"]


def test_a_tool_status_the_forward_map_does_not_produce_stays_after_the_round_trip(tmp_path, state_url):
    world = World(tmp_path, state_url, status_map_back={"To Do": "OPEN", "In Progress": "INPROGRESS", "Waiting": "POSTPONED",
                                             "Done": "CLOSED", "Resolved": "CLOSED"})
    world.tool = world.engine.connector = world.engine.applier.connector = MemoryConnector(
        MemorySettings(path=str(tmp_path / "tool2.json"), statuses=("To Do", "In Progress", "Waiting", "Done", "Resolved")))
    world.source.add_ticket("P-1", "offen")
    world.sync()
    target_id = world.issue_for("P-1").target_id
    world.tool.edit_as_user(target_id, status="Resolved")
    for _ in range(3):
        world.sync()
    assert world.source.items["P-1"].status == "CLOSED"
    assert world.tool.get(target_id).fields["status"] == "Resolved"


def test_a_budget_that_runs_out_in_the_sweep_cuts_the_pass_short_and_keeps_what_was_read(tmp_path, state_url):
    from bridge.errors import BudgetExceededError

    w = World(tmp_path, state_url)
    w.engine.settings = w.engine.settings.__class__(sweep_interval=timedelta(seconds=0))
    for n in range(6):
        w.source.add_ticket(f"P-{n}", f"Ticket {n}")
    w.sync()
    real_sweep = w.source.sweep
    reads = {"left": 3}

    def sweep_within_budget(item_ids, *, list_open=True):
        for summary in real_sweep(item_ids, list_open=list_open):
            if reads["left"] <= 0:
                raise BudgetExceededError("request budget of this pass used up")
            reads["left"] -= 1
            yield summary

    w.source.sweep = sweep_within_budget
    w.source.add_ticket("NEW-1", "Neues Ticket")
    stamped = {k: w.ledger.item_link(k).read_whole_at for k in w.ledger.linked_item_keys()}
    report = w.sync()  # ends cut short, not failed
    assert report.cut_short is not None and w.ledger.cursor("source:casavi") is not None
    restamped = [k for k in stamped if w.ledger.item_link(k).read_whole_at > stamped[k]]
    assert len(restamped) == 3  # the sweep's reads before the cut are kept
    reads["left"] = 100
    w.sync()
    assert w.issue_for("NEW-1") is not None and w.ledger.quarantined() == []

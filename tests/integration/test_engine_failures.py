"""Each write fails, waits and gives up on its own; refusals never loop; one failing write never
holds back the item's other writes.  Against the in-memory source and the memory connector,
whose workflow (``final_statuses``) answers a forbidden status change as done, keeps the old
status and moves the item's version, as Redmine does.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from bridge.model import Comment, StatusTarget, Task
from bridge.reconcile import print_status, status_data
from bridge.state.db import migrate, open_engine
from bridge.state.ledger import Ledger
from bridge.sync.engine import Engine, EngineSettings
from connectors.memory import MemoryConnector, MemorySettings
from tests.fakes import FakeSource
from tests.integration.test_engine_memory import make_rules

MAX_ATTEMPTS = 3


class World:
    def __init__(self, tmp_path, *, retry_after: timedelta, sweep_every_pass: bool = False, **tool):
        self.source = FakeSource(tmp_path / "casavi-files")
        self.tool = MemoryConnector(MemorySettings(path=str(tmp_path / "tool.json"), **tool))
        engine = open_engine(f"sqlite:///{tmp_path / 'state.db'}")
        migrate(engine)
        self.ledger = Ledger(engine)
        extra = {"sweep_interval": timedelta(microseconds=1)} if sweep_every_pass else {}
        self.engine = Engine(self.source, self.tool, self.ledger, make_rules(),
                             EngineSettings(mass_change_min_items=1000, max_attempts=MAX_ATTEMPTS,
                                            retry_base_delay=retry_after, **extra))

    def sync(self, **kw):
        return self.engine.run_pass(**kw)

    def issue(self, ticket_id: str):
        [issue] = [i for i in self.tool.all_items() if i.marker and i.marker.item_id == ticket_id]
        return issue

    def entries(self) -> dict[tuple[str, str], object]:
        return {(q.item_key, q.action_key): q for q in self.ledger.quarantined()}

    def reopened_after_final(self) -> str:
        """A ticket the tool's user set to the final "Done", reopened by the tenant in casavi."""
        self.source.add_ticket("P-1", "Heizung kalt")
        self.sync()
        target_id = self.issue("P-1").target_id
        self.tool.edit_as_user(target_id, status="Done")
        self.sync()
        assert self.source.items["P-1"].status == "CLOSED"
        self.source.edit("P-1", status="OPEN")
        return target_id


def test_a_refused_status_stops_at_max_attempts_and_the_next_comment_still_arrives(tmp_path):
    w = World(tmp_path, retry_after=timedelta(0), final_statuses=("Done",))
    target_id = w.reopened_after_final()
    for n in range(8):
        w.source.tenant_comment("P-1", f"c{n}", f"Immer noch kalt ({n})")
        w.sync()
    issue = w.tool.get(target_id)
    assert issue.fields["status"] == "Done"  # the workflow's answer stands
    assert [c.text for c in issue.comments] == [f"Immer noch kalt ({n})" for n in range(8)]
    entries = w.entries()
    assert list(entries) == [("casavi:P-1", "status→tool")]
    entry = entries[("casavi:P-1", "status→tool")]
    assert entry.attempts == MAX_ATTEMPTS
    assert "kept status 'Done'" in entry.error and "memory.final_statuses" in entry.error
    # Given up: further passes (the tool's version moved by our refused writes) send nothing.
    before = w.tool.get(target_id).version
    w.sync()
    w.sync()
    assert w.tool.get(target_id).version == before
    assert w.entries()[("casavi:P-1", "status→tool")].attempts == MAX_ATTEMPTS


def test_after_giving_up_a_refused_reopening_later_comments_still_arrive_under_the_strict_reading(tmp_path):
    # casavi's strict reading: a tenant's comment does not move the ticket's version, so the
    # sweep of linked open tickets must find it.  The tool still says closed (its workflow refused
    # the reopening) and the last status both sides agreed on was closed, yet casavi's ticket is
    # open again and the refused write is in the quarantine: the ticket is not at rest.
    w = World(tmp_path, retry_after=timedelta(0), final_statuses=("Done",), sweep_every_pass=True)
    w.source.comments_move_version = False
    target_id = w.reopened_after_final()
    for n in range(6):
        w.source.tenant_comment("P-1", f"c{n}", f"Immer noch kalt ({n})")
        w.sync()
    issue = w.tool.get(target_id)
    assert issue.fields["status"] == "Done"
    assert [c.text for c in issue.comments] == [f"Immer noch kalt ({n})" for n in range(6)]
    assert w.entries()[("casavi:P-1", "status→tool")].attempts == MAX_ATTEMPTS


def test_a_refused_write_waits_for_its_retry_time_although_the_items_version_moved(tmp_path):
    w = World(tmp_path, retry_after=timedelta(hours=1), final_statuses=("Done",))
    target_id = w.reopened_after_final()
    w.sync()
    refused_at = w.tool.get(target_id).version  # our refused write moved the tool's version
    for n in range(3):
        w.source.tenant_comment("P-1", f"c{n}", f"Nachricht {n}")
        report = w.sync()
        assert [h.action.action_key for _, h in report.held] == ["status→tool"]
    assert w.entries()[("casavi:P-1", "status→tool")].attempts == 1
    assert len(w.tool.get(target_id).comments) == 3
    assert refused_at != w.tool.get(target_id).version


def test_a_persons_new_change_is_tried_at_once_and_agreement_clears_the_entry(tmp_path):
    w = World(tmp_path, retry_after=timedelta(hours=1), final_statuses=("Done",))
    target_id = w.reopened_after_final()
    w.sync()
    w.source.edit("P-1", status="INPROGRESS")  # another status: a new write, not a retry
    w.sync()
    entry = w.entries()[("casavi:P-1", "status→tool")]
    assert entry.attempts == 1 and "In Progress" in entry.action
    w.tool.edit_as_user(target_id, status="In Progress")  # a person in the tool makes it possible
    w.sync()
    assert w.entries() == {}
    assert w.source.items["P-1"].status == "INPROGRESS"


def test_one_failing_write_does_not_hold_back_the_items_other_writes(tmp_path):
    w = World(tmp_path, retry_after=timedelta(hours=1), attachment_max_bytes=10)
    w.source.add_ticket("P-1", "Wasserschaden", comments=(Comment("c1", "Foto anbei"),),
                        tasks=(Task("t1", "Gutachter"),))
    w.source.add_file("P-1", "gross.txt", b"x" * 100)  # the tool refuses it
    w.source.add_file("P-1", "klein.txt", b"ok")
    w.sync()
    issue = w.issue("P-1")
    assert [c.text for c in issue.comments] == ["Foto anbei"]
    assert [s.title for s in issue.sub_items] == ["Gutachter"]
    assert [f.name for f in issue.attachments] == ["klein.txt"]
    [(key, action_key)] = w.entries()
    assert action_key.startswith("file:") and action_key.endswith("→tool")
    # The item's versions were recorded: an unchanged item is not planned again before its retry
    # (after the one re-read that follows every write); the refused file is not sent again.
    w.sync()
    assert w.entries()[(key, action_key)].attempts == 1
    assert w.sync().counts["candidates"] == 0
    w.source.tenant_comment("P-1", "c2", "Und noch eins")
    w.sync()
    assert [c.text for c in w.issue("P-1").comments] == ["Foto anbei", "Und noch eins"]
    assert [f.name for f in w.issue("P-1").attachments] == ["klein.txt"]


def test_a_failed_write_is_retried_when_due_even_if_nothing_changed(tmp_path):
    w = World(tmp_path, retry_after=timedelta(0), attachment_max_bytes=10)
    w.source.add_ticket("P-1", "Wasserschaden")
    w.source.add_file("P-1", "gross.txt", b"x" * 100)
    w.sync()
    w.tool.settings = w.tool.settings.model_copy(update={"attachment_max_bytes": 1000})  # the admin raises the limit
    w.sync()
    assert [f.name for f in w.issue("P-1").attachments] == ["gross.txt"]
    assert w.entries() == {}


def test_status_names_each_failing_write_with_the_tools_answer(tmp_path, capsys):
    w = World(tmp_path, retry_after=timedelta(0), final_statuses=("Done",))
    w.reopened_after_final()
    for _ in range(MAX_ATTEMPTS + 1):
        w.sync()
    data = status_data(w.ledger, MAX_ATTEMPTS)
    [entry] = data["quarantine"]
    assert entry["item"] == "casavi:P-1" and entry["action"] == "status → To Do in the tool"
    assert entry["given_up"] is True and "kept status 'Done'" in entry["error"]
    json.dumps(data, default=str)
    print_status(data)
    out = capsys.readouterr().out
    assert "casavi:P-1 status → To Do in the tool: RefusedError: the tool kept status 'Done'" in out
    assert "given up" in out


def test_a_write_stored_only_in_part_is_linked_once_and_listed_until_cleared(tmp_path, capsys):
    w = World(tmp_path, retry_after=timedelta(0), restricted_comments=False)
    w.source.add_ticket("P-1", "Mietrückstand")
    w.source.tenant_comment("P-1", "c1", "Rückstand 3 Monatsmieten", internal=True)
    w.sync()
    for _ in range(3):
        w.sync()
    issue = w.issue("P-1")
    assert [c.text for c in issue.comments] == ["Rückstand 3 Monatsmieten"]  # written once, never again
    [entry] = w.ledger.quarantined()
    assert (entry.action_key, entry.kind) == ("comment:c1→tool", "dropped")
    assert "visible to everyone" in entry.error and "memory.restricted_comments" in entry.error
    assert w.ledger.due_for_retry(datetime.now(timezone.utc), MAX_ATTEMPTS) == []
    print_status(status_data(w.ledger, MAX_ATTEMPTS))
    assert "not all stored; not retried" in capsys.readouterr().out
    assert w.ledger.clear("casavi:P-1", "comment:c1→tool") == 1
    w.sync()
    assert w.ledger.quarantined() == [] and len(w.issue("P-1").comments) == 1


def test_clear_makes_a_waiting_write_due_at_once(tmp_path):
    w = World(tmp_path, retry_after=timedelta(hours=1), attachment_max_bytes=10)
    w.source.add_ticket("P-1", "Wasserschaden")
    w.source.add_file("P-1", "gross.txt", b"x" * 100)
    w.sync()
    w.tool.settings = w.tool.settings.model_copy(update={"attachment_max_bytes": 1000})  # the admin raises the limit
    w.sync()
    assert w.issue("P-1").attachments == ()  # still waiting for its retry time
    assert w.ledger.clear("casavi:P-1") == 1
    w.sync()
    assert [f.name for f in w.issue("P-1").attachments] == ["gross.txt"]
    assert w.entries() == {}


def test_a_swept_ticket_that_cannot_be_planned_waits_for_its_retry_not_for_every_pass(tmp_path):
    from bridge.errors import FatalError

    w = World(tmp_path, retry_after=timedelta(hours=1))
    w.source.comments_move_version = False  # casavi's strict reading: only the sweep sees the comment
    w.source.add_ticket("P-1", "Heizung kalt")
    w.sync()
    w.source.tenant_comment("P-1", "c1", "Immer noch kalt")
    w.ledger.record_read_whole({"casavi:P-1": datetime.now(timezone.utc) - timedelta(hours=1)})
    real_get = w.source.get

    def unreadable(ref):
        raise FatalError(f"cannot read {ref.item_id}")

    w.source.get = unreadable
    w.sync()
    assert w.source.swept == ["P-1"]  # due: swept, changed, then not planned
    assert w.entries()[("casavi:P-1", "")].attempts == 1
    w.sync()
    # Its quarantine entry waits an hour; the sweep does not bring it back on every pass.
    assert w.source.swept == [] and w.entries()[("casavi:P-1", "")].attempts == 1
    w.source.get = real_get
    w.ledger.clear("casavi:P-1")  # due at once, as after its retry time
    w.sync()
    assert [c.text for c in w.issue("P-1").comments] == ["Immer noch kalt"]


def test_a_dry_run_that_cannot_plan_a_swept_ticket_writes_nothing_to_the_ledger(tmp_path):
    from bridge.errors import FatalError

    w = World(tmp_path, retry_after=timedelta(hours=1))
    w.source.comments_move_version = False  # only the sweep sees the comment
    w.source.add_ticket("P-1", "Heizung kalt")
    w.sync()
    w.source.tenant_comment("P-1", "c1", "Immer noch kalt")
    stale = datetime.now(timezone.utc) - timedelta(hours=1)
    w.ledger.record_read_whole({"casavi:P-1": stale})

    def unreadable(ref):
        raise FatalError(f"cannot read {ref.item_id}")

    w.source.get = unreadable
    report = w.sync(dry_run=True)
    assert w.source.swept == ["P-1"] and "casavi:P-1" in report.failed  # swept, changed, not planned
    # Neither the time of the sweep's read nor a quarantine entry: a dry run only reports.
    assert w.ledger.item_link("casavi:P-1").read_whole_at == stale
    assert w.entries() == {}


@pytest.mark.parametrize("full", [False, True], ids=["pass", "reconcile"])
def test_a_dry_run_that_lists_an_unreadable_entry_reports_it_without_quarantining_it(tmp_path, full):
    w = World(tmp_path, retry_after=timedelta(hours=1))
    w.source.add_ticket("P-1", "Heizung kalt")
    w.sync()
    w.source.unreadable_rows["P-2"] = "status: not a string"
    report = w.sync(full=full, dry_run=True)
    assert report.failed == {"casavi:P-2": "status: not a string"}
    assert report.problems == ["P-2: status: not a string"]
    assert w.entries() == {}  # a dry run writes nothing to the ledger
    w.sync(full=full)  # the same list in a real pass: the entry is quarantined, to be read again
    assert [(q.item_key, q.action) for q in w.ledger.quarantined()] == [("casavi:P-2", "read")]


def test_a_dry_run_reconcile_that_cannot_read_a_ticket_reports_it_without_quarantining_it(tmp_path):
    from bridge.errors import FatalError

    w = World(tmp_path, retry_after=timedelta(hours=1))
    w.source.add_ticket("P-1", "Heizung kalt")
    w.sync()

    def unreadable(ref):
        raise FatalError(f"cannot read {ref.item_id}")

    w.source.get = unreadable
    report = w.sync(full=True, dry_run=True)
    assert "casavi:P-1" in report.failed and w.entries() == {}

"""relay as the source, end to end: the relay sandbox over real sockets, the engine, and the tool —
the memory connector (every rule), the Jira sandbox through the Jira connector, and the
commands an operator runs (``sandbox --source relay --write-config``, ``check``, ``run --once``)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from bridge.app import build_bridge, build_rules
from bridge.config import load_config, settings_from_dict
from bridge.http import HttpPolicy
from bridge.model import Comment
from bridge.relay.client import RelayClient
from bridge.relay.source import RelaySource
from bridge.sandbox.relay.generator import FIRST_ORDER_ID
from bridge.sandbox.written_config import sandbox_config
from bridge.sandbox.server import start_sandboxes
from bridge.state.db import migrate, open_engine
from bridge.state.ledger import Ledger
from bridge.sync.engine import Engine, EngineSettings
from connectors.memory import MemoryConnector, MemorySettings
from tests.contract.relay_helpers import SMALL_RELAY, api, control, faults, relay_client, requests, reset_stats
from tests.fixtures.processes import run_bridge

STARTS = ("OPEN", "IN_PROGRESS")
WAITING = ("NULL", "PREPARE", "FINISHED", "DECLINED")


class World:
    """relay sandbox → engine → memory tool, with the settings a relay config gives."""

    def __init__(self, sandbox, tmp_path: Path):
        self.sandbox = sandbox
        self.source = RelaySource(relay_client(sandbox), staging_dir=tmp_path)
        self.tool = MemoryConnector(MemorySettings(path=str(tmp_path / "tool.json")))
        settings = settings_from_dict({"source": {"kind": "relay"}, "connector": {"kind": "memory"},
                                       "relay": {"base_url": sandbox.info["relay_url"], "api_key": "unused"}})
        db = open_engine(f"sqlite:///{tmp_path / 'state.db'}")
        migrate(db)
        self.ledger = Ledger(db)
        self.engine = Engine(self.source, self.tool, self.ledger, build_rules(settings, self.tool, self.source),
                             EngineSettings(mass_change_min_items=1000), workdir=tmp_path)

    def sync(self):
        report = self.engine.run_pass()
        assert report.failed == {}, report.failed
        return report

    def order(self, order_id: str) -> dict:
        return control(self.sandbox, "GET", f"/orders/{order_id}")

    def issue_for(self, order_id: str):
        matches = [i for i in self.tool.all_items() if i.marker and i.marker.item_id == order_id]
        assert len(matches) <= 1, f"{len(matches)} issues for order {order_id}"
        return matches[0] if matches else None

    def first_order(self) -> str:
        """The first order that is mirrored (OPEN or IN_PROGRESS)."""
        return next(str(o["id"]) for o in self.orders() if (o["status"] or "NULL") in STARTS)

    def orders(self) -> list[dict]:
        return [self.order(str(i)) for i in range(FIRST_ORDER_ID, FIRST_ORDER_ID + SMALL_RELAY.tickets)]


@pytest.fixture
def world(tmp_path):
    with start_sandboxes(SMALL_RELAY) as sandbox:
        yield World(sandbox, tmp_path)


def test_open_orders_are_mirrored_with_fields_due_date_and_comments(world):
    world.sync()
    orders = world.orders()
    assert {o["status"] or "NULL" for o in orders} & set(WAITING), "the data should hold orders not to mirror"
    for order in orders:
        issue = world.issue_for(str(order["id"]))
        if (order["status"] or "NULL") not in STARTS:
            assert issue is None
            continue
        assert (issue.marker.source, issue.fields["title"]) == ("relay", order["title"])
        assert issue.fields["status"] == {"OPEN": "To Do", "IN_PROGRESS": "In Progress"}[order["status"]]
        assert issue.fields["due_date"] == (order["dueDate"] or "")[:10]
        assert f"relay order: {order['id']}" in issue.fields["description"]
        for field in order["fields"]:
            assert f"**{field['name']}**: {field['content']}" in issue.fields["description"]
        spoken = [c for c in order["comments"] if c["text"] or c["attachments"]]
        assert len(issue.comments) == len(spoken)


def test_a_second_pass_writes_nothing_and_an_idle_poll_reads_only_the_order_pages(world):
    world.sync()
    versions = {i.target_id: i.version for i in world.tool.all_items()}
    assert world.sync().differences == 0
    assert {i.target_id: i.version for i in world.tool.all_items()} == versions
    reset_stats(world.sandbox)
    report = world.sync()
    assert report.counts["candidates"] == 0
    assert requests(world.sandbox) == {"GET /orders": 2}  # the one page and the empty one that ends it


def test_done_in_the_tool_is_finished_in_relay_once(world):
    world.sync()
    order_id = world.first_order()
    issue = world.issue_for(order_id)
    world.tool.edit_as_user(issue.target_id, status="Done")
    reset_stats(world.sandbox)
    world.sync()
    world.sync()
    world.sync()
    assert world.order(order_id)["status"] == "FINISHED"
    assert requests(world.sandbox).get("PATCH /orders/{order_id}") == 1
    assert world.tool.get(issue.target_id).fields["status"] == "Done"
    assert len(world.tool.get(issue.target_id).comments) == len(issue.comments)  # no echo of the change


def test_comments_travel_both_ways_exactly_once(world):
    world.sync()
    order_id = world.first_order()
    target_id = world.issue_for(order_id).target_id
    before_tool = len(world.tool.get(target_id).comments)
    before_relay = len(world.order(order_id)["comments"])
    control(world.sandbox, "POST", f"/orders/{order_id}/comments", {"text": "Bitte Zugang über den Hof"})
    world.tool.add_comment(target_id, Comment("u1", "Komme Montag um 9", author="Max Monteur"), marker=None)
    for _ in range(3):
        world.sync()
    tool_texts = [c.text for c in world.tool.get(target_id).comments]
    relay_texts = [c["text"] for c in world.order(order_id)["comments"]]
    assert len(tool_texts) == before_tool + 2 and tool_texts.count("Bitte Zugang über den Hof") == 1
    assert len(relay_texts) == before_relay + 2
    written = [t for t in relay_texts if "Komme Montag um 9" in t]
    assert len(written) == 1 and written[0].startswith("**Max Monteur** (Memory):")
    tool_id = next(c.comment_id for c in world.tool.get(target_id).comments if c.text == "Komme Montag um 9")
    assert written[0].endswith(f"— via casavi-bridge [memory-{target_id}-c-{tool_id}]")


def test_a_status_change_by_the_manager_reaches_the_tool_with_its_comment(world):
    world.sync()
    order_id = world.first_order()
    control(world.sandbox, "PATCH", f"/orders/{order_id}", {"status": "DECLINED", "comment": "Auftrag storniert"})
    world.sync()
    issue = world.issue_for(order_id)
    assert issue.fields["status"] == "Done"
    assert issue.comments[-1].text == "*Status: DECLINED*\n\nAuftrag storniert"
    assert world.order(order_id)["status"] == "DECLINED"  # Done maps back to FINISHED, but nothing moved in the tool


def test_a_file_added_in_the_tool_reaches_relay_once_with_its_comment(world, tmp_path):
    world.sync()
    order_id = world.first_order()
    target_id = world.issue_for(order_id).target_id
    comments_before = len(world.tool.get(target_id).comments)
    plan = tmp_path / "plan.pdf"
    plan.write_bytes(b"%PDF-1.4 Grundriss")
    world.tool.add_attachment(target_id, "Grundriss.pdf", "application/pdf", plan, marker=None)
    for _ in range(3):
        world.sync()
    carriers = [c for c in world.order(order_id)["comments"] if c.get("_files")]
    assert [[f["name"] for f in c["_files"]] for c in carriers][-1:] == [["Grundriss.pdf"]]
    assert sum(1 for c in carriers if "casavi-bridge [" in c["text"]) == 1
    assert len(world.tool.get(target_id).attachments) == 1
    assert len(world.tool.get(target_id).comments) == comments_before  # the carrier comment is not echoed


def test_a_new_order_is_mirrored_on_the_next_pass(world):
    world.sync()
    created = control(world.sandbox, "POST", "/orders", {"title": "Wasserzähler tauschen", "dueDate": "2026-05-04",
                                                         "fields": [{"name": "Zähler", "content": "Nr. 4711"}]})
    world.sync()
    issue = world.issue_for(str(created["id"]))
    assert (issue.fields["title"], issue.fields["due_date"]) == ("Wasserzähler tauschen", "2026-05-04")
    assert "**Zähler**: Nr. 4711" in issue.fields["description"]


def test_the_tool_key_is_written_into_the_order_and_left_out_of_the_header(world):
    world.sync()
    mirrored = [o for o in world.orders() if (o["status"] or "NULL") in STARTS]
    for order in mirrored:  # what relay stored, read back through its own control API
        issue = world.issue_for(str(order["id"]))
        assert order["internalId"] == f"MEM-{issue.target_id}"
        assert "Internal id" not in issue.fields["description"]
    unmirrored = [o for o in world.orders() if (o["status"] or "NULL") not in STARTS]
    assert all(o["internalId"] is None for o in unmirrored)
    versions = {i.target_id: i.version for i in world.tool.all_items()}
    assert world.sync().differences == 0  # the new internalIds change no description
    assert {i.target_id: i.version for i in world.tool.all_items()} == versions


def test_an_internal_id_the_provider_set_is_kept_and_shown(world):
    created = control(world.sandbox, "POST", "/orders", {"title": "Heizung entlüften"})
    api(world.sandbox, "PATCH", f"/orders/{created['id']}", json={"internalId": "AUF-2024-17"}).raise_for_status()
    world.sync()
    world.sync()
    issue = world.issue_for(str(created["id"]))
    assert world.order(str(created["id"]))["internalId"] == "AUF-2024-17"
    assert "Internal id: AUF-2024-17" in issue.fields["description"]


def test_a_due_date_changed_in_the_tool_reaches_relay_at_the_orders_time_of_day(world):
    created = control(world.sandbox, "POST", "/orders", {"title": "Rauchmelder prüfen", "dueDate": "2026-05-04T09:30:00Z"})
    order_id = str(created["id"])
    world.sync()
    issue = world.issue_for(order_id)
    world.tool.edit_as_user(issue.target_id, due_date="2026-05-11")
    reset_stats(world.sandbox)
    world.sync()
    world.sync()
    assert world.order(order_id)["dueDate"] == "2026-05-11T09:30:00.000Z"
    assert requests(world.sandbox).get("PATCH /orders/{order_id}") == 1
    control(world.sandbox, "PATCH", f"/orders/{order_id}", {"dueDate": "2026-06-01T09:30:00Z"})  # the manager moves it
    world.sync()
    assert world.tool.get(issue.target_id).fields["due_date"] == "2026-06-01"
    assert world.order(order_id)["dueDate"] == "2026-06-01T09:30:00.000Z"


def test_a_due_date_changed_on_both_sides_follows_the_conflict_policy(world):
    created = control(world.sandbox, "POST", "/orders", {"title": "Dachrinne", "dueDate": "2026-05-04"})
    order_id = str(created["id"])
    world.sync()
    issue = world.issue_for(order_id)
    world.tool.edit_as_user(issue.target_id, due_date="2026-05-20")
    control(world.sandbox, "PATCH", f"/orders/{order_id}", {"dueDate": "2026-05-08T00:00:00Z"})
    world.sync()
    world.sync()
    assert world.tool.get(issue.target_id).fields["due_date"] == "2026-05-08"  # casavi-wins: the source's date
    assert world.order(order_id)["dueDate"].startswith("2026-05-08")
    assert [c.field_name for c in world.ledger.conflicts()] == ["due_date"]


def test_a_due_date_cleared_in_the_tool_that_relay_keeps_fails_visibly(world):
    created = control(world.sandbox, "POST", "/orders", {"title": "Zaun", "dueDate": "2026-05-04T12:00:00Z"})
    order_id = str(created["id"])
    world.sync()
    issue = world.issue_for(order_id)
    world.tool.edit_as_user(issue.target_id, due_date="")
    report = world.engine.run_pass()  # relay's sandbox reads "dueDate": null as nothing to change (its default)
    assert "relay may not clear a due date" in report.failed[f"relay:{order_id}"]
    assert world.order(order_id)["dueDate"] == "2026-05-04T12:00:00.000Z"  # the order keeps its date
    faults(world.sandbox, null_clears_due_date=True)  # the other reading: null clears it
    world.ledger.clear(f"relay:{order_id}")  # the operator's "try again"
    world.sync()
    assert world.order(order_id)["dueDate"] is None
    assert world.tool.get(issue.target_id).fields["due_date"] == ""


# -- relay → Jira --------------------------------------------------------------------------------


def jira_issues(handle) -> list[dict]:
    return httpx.get(handle.root_url("jira") + "/_sandbox/issues", timeout=10).json()


def test_relay_to_jira_mirror_rerun_done_and_comments_both_ways(tmp_path):
    # Few orders: the Jira connector converts every text it reads with jira2markdown (~0.2 s each).
    with start_sandboxes(tickets=3, seed=3, apps=("relay", "jira"), source="relay") as handle:
        raw = sandbox_config(handle.info, config_path=tmp_path / "bridge.toml", source="relay")
        bridge = build_bridge(settings_from_dict(raw), workdir=tmp_path)
        try:
            assert bridge.engine.run_pass().failed == {}
            issues = {i["properties"]["casavi"]["ticketId"]: i for i in jira_issues(handle)}
            orders = relay_client(handle).list_orders()
            assert set(issues) == {o.order_id for o in orders if o.status in STARTS}
            assert all(i["properties"]["casavi"]["source"] == "relay" for i in issues.values())
            assert bridge.engine.run_pass().differences == 0
            reset_stats(handle)
            assert bridge.engine.run_pass().counts["candidates"] == 0
            assert requests(handle) == {"GET /orders": 2}

            order_id, issue = sorted(issues.items())[0]
            jira = handle.root_url("jira") + "/_sandbox/issues/" + issue["key"]
            httpx.post(jira + "/transition", json={"status": "Done"}, timeout=10).raise_for_status()
            httpx.post(jira + "/comment", json={"body": "Termin steht: Montag 9 Uhr"}, timeout=10).raise_for_status()
            control(handle, "POST", f"/orders/{order_id}/comments", {"text": "Danke, Mieterin informiert"})
            for _ in range(3):
                assert bridge.engine.run_pass().failed == {}
            order = control(handle, "GET", f"/orders/{order_id}")
            assert (order["status"] or "NULL") == "FINISHED"
            assert sum("Termin steht: Montag 9 Uhr" in c["text"] for c in order["comments"]) == 1
            after = next(i for i in jira_issues(handle) if i["key"] == issue["key"])
            assert after["comments"] == issue["comments"] + 2  # the Jira user's, and the manager's once
            assert after["status"] == "Done"
        finally:
            bridge.close()
            bridge.source.close()


def test_the_sandbox_command_writes_a_relay_config_that_check_and_run_once_work_with(sandbox_process, tmp_path):
    config = tmp_path / "bridge.toml"
    proc = sandbox_process("--source", "relay", "--tickets", "6", "--write-config", str(config))
    deadline = time.monotonic() + 30
    while not config.exists() and time.monotonic() < deadline:  # written (atomically) after the ready file
        time.sleep(0.05)
    settings = load_config(config)
    assert (settings.source.kind, settings.relay.base_url, settings.connector.kind) == (
        "relay", proc.info["relay_url"], "jira")
    checked = run_bridge("check", "--config", str(config), timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr[-2000:]
    result = run_bridge("run", "--config", str(config), "--once", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    issues = httpx.get(proc.info["jira_url"].rstrip("/") + "/_sandbox/issues", timeout=10).json()
    orders = RelayClient(proc.info["relay_url"], proc.info["relay_key"], policy=HttpPolicy()).list_orders()
    assert sorted(i["properties"]["casavi"]["ticketId"] for i in issues) == sorted(
        o.order_id for o in orders if o.status in STARTS)
    assert all(i["properties"]["casavi"] == {"ticketId": i["properties"]["casavi"]["ticketId"],
                                             "internalId": None, "source": "relay"} for i in issues)


@pytest.mark.parametrize("mode", ["server", "cloud"])
def test_relay_holds_the_jira_key_and_takes_the_due_date_set_in_jira(tmp_path, mode):
    with start_sandboxes(tickets=0, seed=3, apps=("relay", "jira"), source="relay", jira_mode=mode) as handle:
        created = control(handle, "POST", "/orders", {"title": "Aufzug prüfen", "dueDate": "2026-05-04T07:00:00Z"})
        order_id = str(created["id"])
        raw = sandbox_config(handle.info, config_path=tmp_path / "bridge.toml", source="relay",
                             jira_deployment="cloud" if mode == "cloud" else "server")
        bridge = build_bridge(settings_from_dict(raw), workdir=tmp_path)
        try:
            assert bridge.engine.run_pass().failed == {}
            issue = next(i for i in jira_issues(handle) if i["properties"]["casavi"]["ticketId"] == order_id)
            assert control(handle, "GET", f"/orders/{order_id}")["internalId"] == issue["key"]
            jira = handle.root_url("jira") + "/_sandbox/issues/" + issue["key"]
            httpx.post(jira + "/edit", json={"as": "alice", "duedate": "2026-05-15"}, timeout=10).raise_for_status()
            for _ in range(2):
                assert bridge.engine.run_pass().failed == {}
            order = control(handle, "GET", f"/orders/{order_id}")
            assert (order["dueDate"], order["internalId"]) == ("2026-05-15T07:00:00.000Z", issue["key"])
            rest = httpx.get(f"{handle.root_url('jira')}/rest/api/2/issue/{issue['key']}",
                             auth=(handle.info["jira_user"], handle.info["jira_token"]), timeout=10).json()
            assert rest["fields"]["duedate"] == "2026-05-15"
            assert "Internal id" not in rest["fields"]["description"]
        finally:
            bridge.close()
            bridge.source.close()

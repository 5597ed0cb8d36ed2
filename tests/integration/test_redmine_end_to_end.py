"""casavi → a real Redmine server and back, through the whole bridge (engine, ledger, connector)."""

from __future__ import annotations

import tomllib
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import tomli_w

from bridge.app import build_bridge
from bridge.config import load_config
from bridge.model import Marker
from bridge.reconcile import status_data
from bridge.sync.actions import is_write
from bridge.sandbox.server import start_sandboxes
from tests.fixtures.processes import write_config

REDMINE_EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "redmine.example.toml"
MAPS = ("status_map", "status_map_back", "task_status_map", "task_status_map_back")


@pytest.fixture
def world(redmine_server, tmp_path):
    with start_sandboxes(tickets=10, seed=5, apps=("casavi",)) as sandbox:
        path = write_config(sandbox.info, tmp_path / "bridge.toml", connector="memory")
        config = tomllib.loads(path.read_text())
        example = tomllib.loads(REDMINE_EXAMPLE.read_text())
        config.pop("memory", None)
        config["connector"] = {"kind": "redmine"}
        # A project of its own: the seeded tickets (T-00001, ...) are the same in every test that
        # takes this fixture, and in the session's shared server an earlier test's issues would
        # be found by their markers and adopted instead of created.
        config["redmine"] = redmine_server.settings(attachment_max_bytes=redmine_server.attachment_max_bytes,
                                                    project=redmine_server.new_project())
        # casavi's sandbox runs the strict reading: a new or edited comment does not move the
        # ticket's lastModified, so the bridge finds it by the sweep of linked open tickets;
        # every pass sweeps here, as the tests add and edit comments after the first pass.
        config["sync"]["sweep_interval_seconds"] = 0.001
        for name in MAPS:
            config[name] = example[name]
        path.write_text(tomli_w.dumps(config))
        bridge = build_bridge(load_config(path))
        try:
            yield sandbox, bridge, redmine_server
        finally:
            bridge.close()


def casavi_ticket(sandbox, ticket_id: str) -> dict:
    return httpx.get(f"{sandbox.casavi_root}/_sandbox/tickets/{ticket_id}", timeout=10).json()


def writes(report) -> int:
    """The writes a pass planned (counts also hold what it read: candidates, swept)."""
    return sum(1 for _, plan in report.planned for action in plan if is_write(action))


def test_mirror_rerun_and_write_back_against_real_redmine(world, tmp_path):
    sandbox, bridge, redmine = world
    first = bridge.engine.run_pass()
    assert first.failed == {}, first.failed
    linked = bridge.ledger.linked_item_keys()
    assert len(linked) == first.counts["item_created"] > 0
    for key in linked:
        found = bridge.connector.find_by_marker(Marker("casavi", key.split(":", 1)[1]))
        assert found is not None, key
    with_files = 0
    for key in linked:
        files = casavi_ticket(sandbox, key.split(":", 1)[1])["attachmentDetails"]
        issue = bridge.connector.get(bridge.ledger.item_link(key).target_id)
        assert sorted(f["name"] for f in files) == sorted(a.name for a in issue.attachments), key
        with_files += bool(files)
    assert with_files > 0  # the generated data has files: casavi → Redmine was exercised
    bridge.engine.run_pass()  # reads back the bridge's own writes once
    quiet = bridge.engine.run_pass()
    assert writes(quiet) == 0, quiet.counts

    # A person in Redmine closes an issue without children and writes a note.
    key = next(k for k in sorted(linked) if not bridge.connector.get(bridge.ledger.item_link(k).target_id).sub_items)
    ticket_id, issue_id = key.split(":", 1)[1], bridge.ledger.item_link(key).target_id
    with redmine.admin() as admin:
        statuses = {s["name"]: s["id"] for s in admin.get("/issue_statuses.json").json()["issue_statuses"]}
        admin.put(f"/issues/{issue_id}.json", json={"issue": {"status_id": statuses["Closed"],
                                                              "notes": "Erledigt, Ventil getauscht."}}).raise_for_status()
        # ... and attaches a file.
        token = admin.post("/uploads.json?filename=bericht.txt", content=b"Pruefbericht",
                           headers={"Content-Type": "application/octet-stream"}).json()["upload"]["token"]
        admin.put(f"/issues/{issue_id}.json", json={"issue": {"uploads": [
            {"token": token, "filename": "bericht.txt", "content_type": "text/plain"}]}}).raise_for_status()
    for _ in range(3):
        bridge.engine.run_pass()
    ticket = casavi_ticket(sandbox, ticket_id)
    assert ticket["status"] == "CLOSED"
    assert sum("Ventil getauscht" in c["text"] for c in ticket["comments"]) == 1
    assert sum(a["name"] == "bericht.txt" for a in ticket["attachmentDetails"]) == 1
    issue = bridge.connector.get(issue_id)
    assert sum("Ventil getauscht" in c.text for c in issue.comments) == 1
    assert sum(a.name == "bericht.txt" for a in issue.attachments) == 1

    # A tenant comments in casavi afterwards: it reaches Redmine exactly once.
    other = next(k for k in sorted(linked) if k != key)
    other_id = other.split(":", 1)[1]
    httpx.post(f"{sandbox.casavi_root}/_sandbox/tickets/{other_id}/comments",
               json={"text": "Wann kommt der Techniker?"}, timeout=10).raise_for_status()
    for _ in range(3):
        bridge.engine.run_pass()
    other_issue = bridge.connector.get(bridge.ledger.item_link(other).target_id)
    assert sum("Wann kommt der Techniker?" in c.text for c in other_issue.comments) == 1
    assert sum("Wann kommt der Techniker?" in c["text"] for c in casavi_ticket(sandbox, other_id)["comments"]) == 1
    assert writes(bridge.engine.run_pass()) == 0


@contextmanager
def quiet_bridge(redmine, tmp_path, **settings):
    """A casavi with no tickets yet (each test adds its own, with ids no other test uses), a
    bridge on ``redmine`` (``settings``: keys of [redmine] changed) that retries a failed write
    at once and gives up after 3 attempts."""
    with start_sandboxes(tickets=0, seed=7, apps=("casavi",)) as sandbox:
        path = write_config(sandbox.info, tmp_path / "bridge.toml", connector="memory")
        config = tomllib.loads(path.read_text())
        example = tomllib.loads(REDMINE_EXAMPLE.read_text())
        config.pop("memory", None)
        config["connector"] = {"kind": "redmine"}
        config["redmine"] = redmine.settings(attachment_max_bytes=redmine.attachment_max_bytes, **settings)
        # Every pass sweeps: the tenant's comments arrive under casavi's strict reading too
        # (a new comment does not move the ticket's lastModified there).
        config["sync"].update(max_attempts=3, retry_base_seconds=0, sweep_interval_seconds=0.001)
        for name in MAPS:
            config[name] = example[name]
        path.write_text(tomli_w.dumps(config))
        bridge = build_bridge(load_config(path))
        try:
            yield sandbox, bridge, redmine
        finally:
            bridge.close()


@pytest.fixture
def quiet_world(redmine_server, tmp_path):
    with quiet_bridge(redmine_server, tmp_path) as world:
        yield world


def new_ticket(sandbox, title: str, *, files: tuple[int, ...] = (), description: str = "") -> str:
    ticket_id = f"RM-{uuid.uuid4().hex[:10]}"
    tenant = next(iter(sandbox.casavi.store.contacts))
    httpx.post(f"{sandbox.casavi_root}/_sandbox/tickets", json={"id": ticket_id, "title": title, "contactId": tenant,
                                                                 "attachments": list(files),
                                                                 "description": description},
               timeout=10).raise_for_status()
    return ticket_id


def stored_issue(redmine, issue_id: str) -> dict:
    """The issue as Redmine's administrator reads it (journals and attachments)."""
    with redmine.admin() as admin:
        return admin.get(f"/issues/{issue_id}.json", params={"include": "journals,attachments"}).json()["issue"]


def uploads_of(redmine, filename: str) -> int:
    """How often Redmine was sent ``filename`` (its access log in the fixture's server.log)."""
    return redmine.log.read_text(errors="replace").count(f'"POST /uploads.json?filename={filename} ')


def test_case_1_a_status_the_workflow_refuses_stops_at_max_attempts_and_later_comments_arrive(quiet_world):
    sandbox, bridge, redmine = quiet_world
    ticket_id = new_ticket(sandbox, "Heizung fällt aus")
    bridge.engine.run_pass()
    key = f"casavi:{ticket_id}"
    issue_id = bridge.ledger.item_link(key).target_id
    with redmine.admin() as admin:  # a person in Redmine rejects the Task ("Rejected" is final for it)
        statuses = {s["name"]: s["id"] for s in admin.get("/issue_statuses.json").json()["issue_statuses"]}
        admin.put(f"/issues/{issue_id}.json",
                  json={"issue": {"status_id": statuses[redmine.final_status]}}).raise_for_status()
    bridge.engine.run_pass()
    assert casavi_ticket(sandbox, ticket_id)["status"] == "CLOSED"
    # The tenant reopens the ticket in casavi, then keeps writing.
    httpx.put(f"{sandbox.casavi_root}/_sandbox/tickets/{ticket_id}", json={"status": "OPEN"},
              timeout=10).raise_for_status()
    for n in range(6):
        httpx.post(f"{sandbox.casavi_root}/_sandbox/tickets/{ticket_id}/comments",
                   json={"text": f"Bitte wieder öffnen ({n})"}, timeout=10).raise_for_status()
        bridge.engine.run_pass()
    issue = bridge.connector.get(issue_id)
    assert issue.fields["status"] == redmine.final_status
    for n in range(6):
        assert sum(f"Bitte wieder öffnen ({n})" in c.text for c in issue.comments) == 1, n
    entries = {q.action_key: q for q in bridge.ledger.quarantined() if q.item_key == key}
    assert list(entries) == ["status→tool"]
    assert entries["status→tool"].attempts == 3
    assert "Workflow" in entries["status→tool"].error and redmine.final_status in entries["status→tool"].error
    # Given up: the bridge's own refused writes moved updated_on, yet nothing more is sent.
    version = bridge.connector.get(issue_id).version
    bridge.engine.run_pass()
    bridge.engine.run_pass()
    assert bridge.connector.get(issue_id).version == version
    assert casavi_ticket(sandbox, ticket_id)["status"] == "OPEN"  # the tenant's reopening stands in casavi


def test_case_3_a_file_redmine_will_not_take_is_noted_once_and_everything_else_arrives(quiet_world):
    sandbox, bridge, redmine = quiet_world
    store = sandbox.casavi.store
    unique = uuid.uuid4().hex[:8]  # the server's log is the session's: its name counts this test's uploads only
    if redmine.attachment_max_bytes < 10_000_000:  # Redmine's default 5,120 KB: a 6 MB plan is too large
        refused, data, why = f"Grundriss-{unique}.pdf", b"%PDF" + b"\0" * redmine.attachment_max_bytes, "larger than"
    else:  # 10 MB, above casavi's own limit: a file type the instance disallows
        refused, data, why = f"setup-{unique}.exe", b"MZ" + b"\0" * 100, ".exe"
    files = (store.add_file("Foto_Bad.jpg", "image/jpeg", b"\xff\xd8jpeg"),
             store.add_file(refused, "application/octet-stream", data),
             store.add_file("Protokoll.txt", "text/plain", b"Wasser im Keller"))
    ticket_id = new_ticket(sandbox, "Wasserschaden im Keller", files=files)
    key = f"casavi:{ticket_id}"
    httpx.post(f"{sandbox.casavi_root}/_sandbox/tickets/{ticket_id}/comments",
               json={"text": "Bitte schnell kommen."}, timeout=10).raise_for_status()
    for _ in range(3):
        bridge.engine.run_pass()
    issue_id = bridge.ledger.item_link(key).target_id
    issue = stored_issue(redmine, issue_id)
    assert sorted(a["filename"] for a in issue["attachments"]) == ["Foto_Bad.jpg", "Protokoll.txt"]
    notices = [j["notes"] for j in issue["journals"] if refused in (j.get("notes") or "")]
    assert len(notices) == 1 and "is not attached here" in notices[0] and why in notices[0]
    assert sum("Bitte schnell kommen." in (j.get("notes") or "") for j in issue["journals"]) == 1
    [entry] = [q for q in status_data(bridge.ledger)["quarantine"] if q["item"] == key]
    assert entry["action_key"] == f"file:{files[1]}→tool"
    assert (entry["kind"], entry["error_class"]) == ("dropped", "SkippedError")
    sent = uploads_of(redmine, refused)
    assert sent <= 1  # over [redmine] attachment_max_bytes it is not sent at all; a disallowed type once

    # The next passes do not send it again, the tenant's next comment still arrives, and the
    # notice never travels back to casavi.
    httpx.post(f"{sandbox.casavi_root}/_sandbox/tickets/{ticket_id}/comments",
               json={"text": "Der Keller ist jetzt trocken."}, timeout=10).raise_for_status()
    for _ in range(3):
        bridge.engine.run_pass()
    issue = stored_issue(redmine, issue_id)
    assert uploads_of(redmine, refused) == sent
    assert sum(refused in (j.get("notes") or "") for j in issue["journals"]) == 1
    assert sum("Der Keller ist jetzt trocken." in (j.get("notes") or "") for j in issue["journals"]) == 1
    assert len(issue["attachments"]) == 2
    assert not any("is not attached here" in c["text"] for c in casavi_ticket(sandbox, ticket_id)["comments"])
    assert writes(bridge.engine.run_pass()) == 0

    # `casavi-bridge clear` tries it once more (e.g. after an admin raised the limit): still
    # refused here, skipped again, and no second notice.
    assert bridge.ledger.clear(key, entry["action_key"]) == 1
    bridge.engine.run_pass()
    issue = stored_issue(redmine, issue_id)
    assert uploads_of(redmine, refused) == 2 * sent
    assert sum(refused in (j.get("notes") or "") for j in issue["journals"]) == 1
    assert [q.kind for q in bridge.ledger.quarantined() if q.item_key == key] == ["dropped"]


def test_case_4_writes_to_a_closed_project_wait_with_the_reason_and_go_through_once_it_is_reopened(redmine_server,
                                                                                                   tmp_path):
    project = redmine_server.new_project()
    with quiet_bridge(redmine_server, tmp_path, project=project) as (sandbox, bridge, redmine):
        first = new_ticket(sandbox, "Heizung fällt aus")
        bridge.engine.run_pass()
        issue_id = bridge.ledger.item_link(f"casavi:{first}").target_id
        with redmine.admin() as admin:  # a person closes the project (Redmine 5: read-only)
            admin.put(f"/projects/{project}/close.json").raise_for_status()
        httpx.post(f"{sandbox.casavi_root}/_sandbox/tickets/{first}/comments",
                   json={"text": "Es ist immer noch kalt."}, timeout=10).raise_for_status()
        second = new_ticket(sandbox, "Klingel defekt")
        for _ in range(2):  # under max_attempts (3): the writes wait, nothing is given up
            report = bridge.engine.run_pass()
        assert set(report.failed) == {f"casavi:{first}", f"casavi:{second}"}, report.failed
        entries = status_data(bridge.ledger)["quarantine"]
        assert {e["item"] for e in entries} == {f"casavi:{first}", f"casavi:{second}"}
        assert all("is closed" in e["error"] and "redmine.project" in e["error"] for e in entries), entries
        assert all("cannot be blank" not in e["error"] for e in entries)
        with redmine.admin() as admin:  # what Redmine holds: the one issue, no note
            issues = admin.get("/issues.json", params={"project_id": project, "status_id": "*"}).json()["issues"]
            assert [str(i["id"]) for i in issues] == [issue_id]
            assert not [j for j in stored_issue(redmine, issue_id)["journals"] if j.get("notes")]
            admin.put(f"/projects/{project}/reopen.json").raise_for_status()
        bridge.engine.run_pass()
        # Reopened: the waiting writes went through, each once, and nothing is left waiting.
        with redmine.admin() as admin:
            issues = admin.get("/issues.json", params={"project_id": project, "status_id": "*"}).json()["issues"]
        assert sorted(i["subject"] for i in issues) == ["Heizung fällt aus", "Klingel defekt"]
        notes = [j["notes"] for j in stored_issue(redmine, issue_id)["journals"] if j.get("notes")]
        assert sum("Es ist immer noch kalt." in n for n in notes) == 1
        assert status_data(bridge.ledger)["quarantine"] == []
        assert writes(bridge.engine.run_pass()) == 0

"""The craftsman's task against a real Redmine: the child issue names the craftsman and follows
a change; the task's own files are attached to the child issue (marker in the attachment's
description) and a file attached to the child issue in Redmine comes back to casavi — as an
internal comment by default, attached to the task with ``tool_files_to_casavi = "public"`` —
once.  casavi under its strict reading: every pass sweeps (``sweep_interval_seconds`` tiny)."""

from __future__ import annotations

import tomllib
from typing import Any

import httpx
import tomli_w

from bridge.app import build_bridge
from bridge.config import load_config
from bridge.sandbox.server import start_sandboxes
from bridge.sync.engine import READ_COUNTS
from tests.fixtures.processes import write_config
from tests.integration.test_redmine_end_to_end import MAPS, REDMINE_EXAMPLE, casavi_ticket

SWEEP_EVERY_PASS = 0.001  # casavi's strict reading: a task change does not move lastModified


def _bridge(sandbox, redmine_server, tmp_path, **sync: Any):
    path = write_config(sandbox.info, tmp_path / "bridge.toml", connector="memory")
    config = tomllib.loads(path.read_text())
    example = tomllib.loads(REDMINE_EXAMPLE.read_text())
    config.pop("memory", None)
    config["connector"] = {"kind": "redmine"}
    config["redmine"] = redmine_server.settings(attachment_max_bytes=redmine_server.attachment_max_bytes)
    config["sync"].update(sweep_interval_seconds=SWEEP_EVERY_PASS, **sync)
    for name in MAPS:
        config[name] = example[name]
    path.write_text(tomli_w.dumps(config))
    return build_bridge(load_config(path))


def _child(admin: httpx.Client, issue_id: str) -> dict:
    [child] = admin.get("/issues.json", params={"parent_id": issue_id, "status_id": "*"}).json()["issues"]
    return admin.get(f"/issues/{child['id']}.json", params={"include": "attachments"}).json()["issue"]


def _sync(bridge) -> None:
    report = bridge.engine.run_pass()
    assert report.failed == {}, report.failed


def test_craftsman_and_task_files_both_ways_against_real_redmine(redmine_server, tmp_path):
    with start_sandboxes(tickets=0, seed=5, apps=("casavi",)) as sandbox:
        bridge = _bridge(sandbox, redmine_server, tmp_path)
        root = f"{sandbox.casavi_root}/_sandbox/tickets"
        try:
            tenant = next(iter(sandbox.casavi.store.contacts))
            # An id of its own: the Redmine server is shared by the session's tests (markers name the ticket).
            ticket = httpx.post(root, json={"id": "RT-CRAFT-1", "title": "Rohrbruch", "status": "OPEN",
                                            "contactId": tenant}, timeout=10).json()["id"]
            quote = sandbox.casavi.store.add_file("Angebot.txt", "text/plain", "420 €".encode())
            httpx.post(f"{root}/{ticket}/tasks", json={"id": "T-1", "title": "Rohr abdichten", "description": "Bis Freitag",
                                                       "assignedToId": "H-0000001", "attachments": [quote]},
                       timeout=10).raise_for_status()
            _sync(bridge)
            issue_id = bridge.ledger.item_link(f"casavi:{ticket}").target_id
            with redmine_server.admin() as admin:
                child = _child(admin, issue_id)
                assert "Klaus Wassermann (Sanitär Wassermann & Söhne GmbH)" in child["description"]
                assert "service@sanitaer-wassermann.example" in child["description"]
                assert child["description"].rstrip().endswith("Bis Freitag")
                [copy] = child["attachments"]
                assert (copy["filename"], copy["description"]) == ("Angebot.txt", f"casavi-file: {quote}")
                assert admin.get(copy["content_url"]).content == "420 €".encode()
                parent = admin.get(f"/issues/{issue_id}.json", params={"include": "attachments"}).json()["issue"]
                assert parent["attachments"] == []

            httpx.put(f"{root}/{ticket}/tasks/T-1", json={"assignedToId": "H-0000003"}, timeout=10).raise_for_status()
            with redmine_server.admin() as admin:  # a person attaches the invoice to the child issue
                token = admin.post("/uploads.json", content=b"380 EUR",
                                   headers={"Content-Type": "application/octet-stream"}).json()["upload"]["token"]
                admin.put(f"/issues/{child['id']}.json", json={"issue": {"uploads": [
                    {"token": token, "filename": "Rechnung.txt", "content_type": "text/plain"}]}}).raise_for_status()
            _sync(bridge)
            _sync(bridge)
            stored = casavi_ticket(sandbox, ticket)
            carriers = [c for c in stored["comments"] if "Rechnung.txt" in c["text"]]
            assert len(carriers) == 1 and carriers[0]["isInternal"] is True and len(carriers[0]["attachments"]) == 1
            assert [t["attachments"] for t in stored["tasks"]] == [[quote]]
            with redmine_server.admin() as admin:
                child = _child(admin, issue_id)
                assert "Dachdeckerei Ziegler KG" in child["description"] and "Wassermann" not in child["description"]
                assert sorted(a["filename"] for a in child["attachments"]) == ["Angebot.txt", "Rechnung.txt"]
            _sync(bridge)
            quiet = bridge.engine.run_pass()
            assert sum(v for k, v in quiet.counts.items() if k not in READ_COUNTS) == 0, quiet.counts
        finally:
            bridge.close()


def test_public_setting_attaches_a_child_issue_file_to_the_casavi_task(redmine_server, tmp_path):
    with start_sandboxes(tickets=0, seed=5, apps=("casavi",)) as sandbox:
        bridge = _bridge(sandbox, redmine_server, tmp_path, tool_files_to_casavi="public")
        root = f"{sandbox.casavi_root}/_sandbox/tickets"
        try:
            tenant = next(iter(sandbox.casavi.store.contacts))
            ticket = httpx.post(root, json={"id": "RT-PUBLIC-1", "title": "Dach undicht", "status": "OPEN",
                                            "contactId": tenant}, timeout=10).json()["id"]
            httpx.post(f"{root}/{ticket}/tasks", json={"id": "T-1", "title": "Ziegel prüfen"},
                       timeout=10).raise_for_status()
            _sync(bridge)
            issue_id = bridge.ledger.item_link(f"casavi:{ticket}").target_id
            with redmine_server.admin() as admin:
                child = _child(admin, issue_id)
                token = admin.post("/uploads.json", content=b"Foto",
                                   headers={"Content-Type": "application/octet-stream"}).json()["upload"]["token"]
                admin.put(f"/issues/{child['id']}.json", json={"issue": {"uploads": [
                    {"token": token, "filename": "Dach.txt", "content_type": "text/plain"}]}}).raise_for_status()
            for _ in range(3):
                _sync(bridge)
            [task] = casavi_ticket(sandbox, ticket)["tasks"]
            assert [d["name"] for d in task["attachmentDetails"]] == ["Dach.txt"]
            with redmine_server.admin() as admin:
                assert [a["filename"] for a in _child(admin, issue_id)["attachments"]] == ["Dach.txt"]
        finally:
            bridge.close()

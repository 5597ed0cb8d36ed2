"""The bridge is correct under every reading of the casavi document (bridge/sandbox/casavi/readings.py).

One test per case of the readings issue, each asserting what the other side stored, run
under the strict and the lenient profile and both date semantics where the case depends on
them.  casavi and Jira sandboxes over real sockets; the config is the one ``--write-config``
writes, with a sweep on every pass where the test says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import pytest

from bridge.sandbox.server import start_sandboxes
from tests.integration.test_jira_end_to_end import READINGS, World

TEN_MB = 10_000_000


def start(tmp_path: Path, profile: str, dates: str, mode: str = "server", **sync) -> World:
    handle = start_sandboxes(tickets=3, seed=5, apps=("casavi", "jira"), jira_mode=mode, casavi_profile=profile,
                             date_semantics=dates)
    try:
        return World(handle, tmp_path, mode, date_semantics=dates, **sync)
    except BaseException:
        handle.stop()
        raise


@pytest.fixture(params=READINGS, ids=["-".join(r) for r in READINGS])
def swept(request, tmp_path) -> Iterator[World]:
    """A world whose every pass sweeps (sweep_interval_seconds tiny), under each reading."""
    mode, profile, dates = request.param
    world = start(tmp_path, profile, dates, mode, sweep_interval_seconds=0.001)
    world.profile, world.dates = profile, dates
    try:
        yield world
    finally:
        world.bridge.close()
        world.handle.stop()


def casavi_api(world: World) -> httpx.Client:
    info = world.handle.info
    token = httpx.post(info["casavi_url"] + "/authenticate",
                       json={"key": info["casavi_key"], "secret": info["casavi_secret"]}).json()["token"]
    return httpx.Client(base_url=info["casavi_url"], headers={"token": token}, timeout=30)


def jira_api(world: World) -> httpx.Client:
    info = world.handle.info
    return httpx.Client(base_url=info["jira_url"] + "/rest/api/2", timeout=60,
                        headers={"Authorization": f"Bearer {info['jira_token']}"})


def stats(world: World, side: str = "casavi") -> dict[str, int]:
    root = world.handle.casavi_root if side == "casavi" else world.handle.root_url("jira")
    return httpx.get(root + "/_sandbox/stats").json()["requests"]


# 1. A tenant comment that does not move lastModified still reaches Jira (within one sweep),
#    and so does a task change; the comments are read from the paged endpoint (4.).
def test_tenant_comment_and_task_change_reach_jira_within_one_sweep(swept):
    ticket = swept.new_ticket()
    swept.casavi("POST", f"/tickets/{ticket}/tasks", {"id": "task-1", "title": "Trocknung prüfen",
                                                     "description": "Gerät im Keller"})
    swept.sync()
    before = swept.casavi("GET", f"/tickets/{ticket}")["lastModified"]
    swept.casavi("POST", f"/tickets/{ticket}/comments", {"text": "Mieterin ist ab 14 Uhr da."})
    swept.casavi("PUT", f"/tickets/{ticket}/tasks/task-1", {"status": "ACCEPTED"})
    if swept.profile == "strict":
        assert swept.casavi("GET", f"/tickets/{ticket}")["lastModified"] == before
    swept.sync()
    issue = swept.issues()[ticket]
    assert issue["comments"] == 1
    [sub] = [i for i in swept.jira("GET", "/issues") if i["properties"].get("casavi.task", {}).get("taskId") == "task-1"]
    assert sub["status"] == "In Progress"
    assert swept.sync().differences == 0


# 2. A close in casavi reaches Jira within one sweep, in both date semantics.
# 3. The sweep's filters hold only the document's enum (a PENDING ticket is swept, not filtered).
def test_casavi_close_of_a_pending_ticket_reaches_jira_within_one_sweep(swept):
    ticket = swept.new_ticket(status="PENDING")
    swept.sync()
    assert swept.issues()[ticket]["status"] == "To Do"
    swept.casavi("PUT", f"/tickets/{ticket}", {"status": "CLOSED"})
    report = swept.sync()
    assert report.problems == []
    assert (swept.issues()[ticket]["status"], swept.issues()[ticket]["resolution"]) == ("Done", "Done")
    listed = [k for k in stats(swept) if k.startswith("GET /tickets")]
    assert listed  # and none of them was refused: the pass above had no failures


# 4. A file on a tenant comment arrives in Jira, with or without a url in attachmentDetails.
def test_file_on_a_tenant_comment_reaches_jira_under_every_reading(swept):
    ticket = swept.new_ticket()
    swept.sync()
    api = casavi_api(swept)
    file_id = api.post("/files", content=b"Foto vom Schaden", headers={"X-Filename": "schaden.txt",
                                                                      "Content-Type": "text/plain"}).json()["id"]
    swept.casavi("POST", f"/tickets/{ticket}/comments", {"text": "Foto anbei", "attachments": [file_id]})
    swept.sync()
    assert swept.issues()[ticket]["attachments"] == 1


# 5. Task write-back sends the whole task: a replacing casavi keeps description and assignee.
@pytest.mark.parametrize("profile", ["strict", "lenient"])
def test_done_sub_task_completes_the_casavi_task_and_keeps_its_description(tmp_path, profile):
    world = start(tmp_path, profile, "modified")
    try:
        ticket = world.new_ticket()
        world.casavi("POST", f"/tickets/{ticket}/tasks", {"id": "task-1", "title": "Rohr tauschen",
                                                         "description": "Wasser tritt aus", "assignedToId": "E-9"})
        world.sync()
        [sub] = [i for i in world.jira("GET", "/issues")
                 if i["properties"].get("casavi.task", {}).get("taskId") == "task-1"]
        world.jira("POST", f"/issues/{sub['key']}/transition", {"status": "Done"})
        world.sync()
        world.sync()
        task = casavi_api(world).get(f"/tickets/{ticket}/tasks/task-1").json()
        assert task["status"] == "COMPLETED"
        assert (task["description"], task["assignedToId"]) == ("Wasser tritt aus", "E-9")
    finally:
        world.bridge.close()
        world.handle.stop()


# 6. "10 MB" is 10,000,000 bytes: a file of 10,000,001 bytes in Jira is not sent to casavi
#    (no 413, no retries), the pass does not fail and the cursor is not held; 10,000,000 bytes go.
def test_a_jira_file_one_byte_over_ten_million_is_skipped_without_retries_or_a_held_cursor(tmp_path):
    world = start(tmp_path, "strict", "modified")
    try:
        ticket = world.new_ticket()
        world.sync()
        issue = world.issues()[ticket]
        jira = jira_api(world)
        for name, size in (("gross.bin", TEN_MB + 1), ("passt.bin", TEN_MB)):
            reply = jira.post(f"/issue/{issue['id']}/attachments", headers={"X-Atlassian-Token": "no-check"},
                              files={"file": (name, b"\0" * size, "application/octet-stream")})
            assert reply.status_code == 200, reply.text
        httpx.post(world.handle.casavi_root + "/_sandbox/stats/reset")
        report = world.sync()
        assert report.failed == {} and world.bridge.ledger.quarantined() == []
        assert stats(world).get("POST /files") == 1  # only the file that fits
        names = {d["name"]: d["size"] for d in casavi_api(world).get(f"/tickets/{ticket}").json()["attachmentDetails"]}
        assert names.get("passt.bin") == TEN_MB and "gross.bin" not in names
        cursor = world.bridge.ledger.cursor("target:jira")
        assert cursor is not None and world.sync().failed == {}
        assert world.bridge.ledger.cursor("target:jira") >= cursor
        assert stats(world).get("POST /files") == 1  # not tried again
    finally:
        world.bridge.close()
        world.handle.stop()


# 7. Without a refresh path (strict: 404) the bridge logs in again and keeps working.
def test_without_a_refresh_path_an_expiring_token_is_replaced_by_a_fresh_login(tmp_path):
    world = start(tmp_path, "strict", "modified")
    try:
        httpx.post(world.handle.casavi_root + "/_sandbox/fault", json={"token_ttl_seconds": 2})
        world.sync()
        world.bridge.source.client.auth._refresh_at = 0  # the token is due for a refresh now
        ticket = world.new_ticket()
        world.sync()
        assert ticket in world.issues()
        counts = stats(world)
        assert counts.get("POST /authenticate/refresh", 0) <= 2 and counts["POST /authenticate"] >= 2
        assert world.bridge.source.client.auth.refresh_available is False
    finally:
        world.bridge.close()
        world.handle.stop()

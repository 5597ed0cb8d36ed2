"""casavi → Jira end to end: the casavi and Jira sandboxes over real sockets, the engine, the
Jira connector, in both Jira flavours (Data Center and Cloud), wired from the config the
``sandbox --write-config`` command writes."""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from bridge.app import build_bridge
from bridge.config import settings_from_dict
from bridge.sandbox.written_config import sandbox_config
from bridge.sandbox.server import start_sandboxes

HTTP = httpx.Client(timeout=10)
MIRRORED = ("PENDING", "OPEN", "INPROGRESS", "POSTPONED")


# The matrix: every casavi profile under both date semantics, the Jira flavours alternating.
READINGS = [("server", "strict", "modified"), ("cloud", "strict", "created"),
            ("server", "lenient", "created"), ("cloud", "lenient", "modified")]


class World:
    """A bridge on the written sandbox config, ``sync`` (keys of [sync]) and ``jira`` (keys of
    [jira]) changed, and the sandboxes' control endpoints."""

    def __init__(self, handle, tmp_path: Path, mode: str, *, date_semantics: str = "modified",
                 jira: dict[str, Any] | None = None, **sync: Any):
        self.handle, self.mode = handle, mode
        raw = sandbox_config(handle.info, config_path=tmp_path / "bridge.toml", jira_deployment=mode,
                             date_semantics=date_semantics)
        raw["sync"].update(sync)
        raw["jira"].update(jira or {})
        self.settings = settings_from_dict(raw)
        self.workdir = tmp_path
        self.bridge = build_bridge(self.settings, workdir=tmp_path)

    def restart(self) -> None:
        """A new bridge on the same state (as after a daemon restart: nothing in memory)."""
        self.bridge.close()
        self.bridge = build_bridge(self.settings, workdir=self.workdir)

    def run(self):
        return self.bridge.engine.run_pass()

    def sync(self):
        report = self.run()
        assert report.failed == {}, report.failed
        return report

    def casavi(self, method: str, path: str, body: Any = None) -> Any:
        answer = HTTP.request(method, self.handle.casavi_root + "/_sandbox" + path, json=body)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def jira(self, method: str, path: str, body: Any = None) -> Any:
        answer = HTTP.request(method, self.handle.root_url("jira") + "/_sandbox" + path, json=body)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def issues(self) -> dict[str, dict]:
        """Mirrored issues (not sub-tasks) by casavi ticket id."""
        return {i["properties"]["casavi"]["ticketId"]: i for i in self.jira("GET", "/issues")
                if "casavi" in i["properties"]}

    def new_ticket(self, **fields: Any) -> str:
        tenant = next(iter(self.handle.casavi.store.contacts))  # the tenant who reports it
        return self.casavi("POST", "/tickets", {"title": "Wasserschaden im Keller", "status": "OPEN",
                                                "description": "Die **Wand** ist nass.", "contactId": tenant,
                                                **fields})["id"]


@contextmanager
def worlds(handle, tmp_path: Path, mode: str, kind: type[World] = World) -> Iterator[Callable[..., World]]:
    """``build(**kw)``: a world of ``kind`` on the running sandboxes, each in a folder of its own
    (its own state database); every world's bridge is closed afterwards."""
    made: list[World] = []

    def build(**kw: Any) -> World:
        workdir = tmp_path / f"world-{len(made)}"
        workdir.mkdir()
        made.append(kind(handle, workdir, mode, **kw))
        return made[-1]

    try:
        yield build
    finally:
        for world in made:
            world.bridge.close()


@pytest.fixture(params=READINGS, ids=["-".join(r) for r in READINGS])
def world(request, tmp_path) -> Iterator[World]:
    mode, profile, dates = request.param
    with start_sandboxes(tickets=3, seed=5, apps=("casavi", "jira"), jira_mode=mode, casavi_profile=profile,
                         date_semantics=dates) as handle:
        # Every pass sweeps: "within one sweep" is then "within one pass".
        made = World(handle, tmp_path, mode, date_semantics=dates, sweep_interval_seconds=0.001)
        try:
            yield made
        finally:
            made.bridge.close()


def test_open_tickets_are_mirrored_once_and_a_second_pass_changes_nothing(world):
    world.sync()
    statuses = {s.ref.item_id: s.status for s in world.bridge.source.changed_since(None)}
    issues = world.issues()
    assert set(issues) == {ticket for ticket, status in statuses.items() if status in MIRRORED}
    assert issues, "the sandbox data should hold tickets to mirror"
    assert world.sync().differences == 0
    assert world.sync().differences == 0


def test_status_and_comment_from_jira_reach_casavi_once(world):
    ticket = world.new_ticket()
    world.sync()
    issue = world.issues()[ticket]
    world.jira("POST", f"/issues/{issue['key']}/transition", {"status": "Done"})
    world.jira("POST", f"/issues/{issue['key']}/comment", {"body": "Trocknungsgerät *steht*."})
    for _ in range(3):
        world.sync()
    after = world.casavi("GET", f"/tickets/{ticket}")
    assert after["status"] == "CLOSED"
    assert sum("Trocknungsgerät" in c["text"] for c in after["comments"]) == 1
    assert world.sync().differences == 0


def test_casavi_comment_task_and_closing_reach_jira(world):
    ticket = world.new_ticket()
    world.sync()
    world.casavi("POST", f"/tickets/{ticket}/comments", {"text": "Mieterin ist ab 14 Uhr da."})
    task = world.casavi("POST", f"/tickets/{ticket}/tasks", {"id": "task-1", "title": "Trocknung prüfen"})
    world.sync()
    world.casavi("PUT", f"/tickets/{ticket}/tasks/{task['id']}", {"status": "DECLINED"})
    world.casavi("PUT", f"/tickets/{ticket}", {"status": "CLOSED"})
    world.sync()
    issue = world.issues()[ticket]
    assert (issue["status"], issue["resolution"]) == ("Done", "Done")
    assert issue["comments"] == 1
    subs = [i for i in world.jira("GET", "/issues") if i["issuetype"] == "Sub-task"
            and i["properties"].get("casavi.task", {}).get("taskId") == task["id"]]
    assert [(s["status"], s["resolution"]) for s in subs] == [("Done", "Won't Do")]
    assert world.sync().differences == 0


def test_a_jira_comment_during_our_write_is_not_lost(world):
    ticket = world.new_ticket()
    world.sync()
    issue = world.issues()[ticket]
    connector = world.bridge.engine.connector
    real_set_status = connector.set_status

    def person_comments_just_before(target_id, status):
        world.jira("POST", f"/issues/{issue['key']}/comment", {"body": "Zwischendurch *kommentiert*."})
        return real_set_status(target_id, status)

    connector.set_status = person_comments_just_before
    world.casavi("PUT", f"/tickets/{ticket}", {"status": "INPROGRESS"})
    world.sync()
    connector.set_status = real_set_status
    world.sync()
    after = world.casavi("GET", f"/tickets/{ticket}")
    assert sum("Zwischendurch" in c["text"] for c in after["comments"]) == 1
    assert world.issues()[ticket]["status"] == "In Progress"


def test_the_pass_after_a_mirror_recognises_our_own_writes_without_reading_tickets(world):
    # Every ticket the mirror read whole is not due for the sweep for an interval (an hour here).
    engine = world.bridge.engine
    engine.settings = dataclasses.replace(engine.settings, sweep_interval=timedelta(hours=1))
    world.sync()
    assert world.issues(), "the sandbox data should hold tickets to mirror"
    for side in (world.casavi, world.jira):
        side("POST", "/stats/reset")
    assert world.sync().differences == 0
    casavi = world.casavi("GET", "/stats")["requests"]
    jira = world.jira("GET", "/stats")["requests"]
    assert casavi.get("GET /tickets/{ticket_id}", 0) == 0  # no casavi ticket read again
    assert not any(route.startswith("GET /rest/api/{version}/issue/") for route in jira), jira

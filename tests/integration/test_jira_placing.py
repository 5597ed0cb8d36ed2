"""New issues and sub-tasks are put into their statuses in batches, not read one by one, and a
person's transition made before that batch read is never walked over: casavi and the realistic
Jira sandbox over real sockets, both flavours (Cloud with its search lag), the config as
``sandbox --write-config`` writes it.

The bridge creates an issue where the workflow starts it; once the pass's chunk is written, one
search ``id in (...)`` with ``expand=changelog`` per batch tells for each new item where it was
created and whether someone transitioned it since.  What these tests assert is what Jira and
casavi hold afterwards.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from bridge.app import build_bridge
from bridge.config import settings_from_dict
from bridge.errors import RetriableError
from bridge.sandbox.jira.workflow_def import DEFAULT_WORKFLOW_FILE
from bridge.sandbox.server import start_sandboxes
from bridge.sandbox.written_config import sandbox_config
from tests.integration.test_jira_end_to_end import World


class PlacingWorld(World):
    def __init__(self, handle, tmp_path: Path, mode: str):
        self.handle = handle
        raw = sandbox_config(handle.info, config_path=tmp_path / "bridge.toml", jira_deployment=mode)
        # casavi's default (strict) reading: a task added later is found by the sweep, on every pass here.
        raw["sync"]["sweep_interval_seconds"] = 0.001
        raw["sync"]["retry_base_seconds"] = 0  # a failed write is due again on the next pass
        self.bridge = build_bridge(settings_from_dict(raw), workdir=tmp_path)

    def stored(self, issue_id: str):
        """What Jira stored (the sandbox's own record)."""
        return self.handle.servers["jira"].app.jira.issue(issue_id)

    def sub_tasks(self, ticket: str) -> list[dict]:
        parent_id = int(self.issues()[ticket]["id"])
        return [i for i in self.jira("GET", "/issues") if i["issuetype"] == "Sub-task"
                and self.stored(i["id"]).parent_id == parent_id]

    def requests(self) -> dict[str, int]:
        return self.jira("GET", "/stats")["requests"]


@pytest.fixture(params=["server", "cloud"])
def world_with(request, tmp_path) -> Iterator[Callable[..., PlacingWorld]]:
    """``world_with(initial=None)``: both sandboxes, Jira's workflow starting new issues in
    ``initial`` (the default workflow otherwise), and a bridge on the written config."""
    with ExitStack() as stack:
        def build(initial: str | None = None) -> PlacingWorld:
            options: dict[str, Any] = {}
            if initial is not None:
                workflow = json.loads(DEFAULT_WORKFLOW_FILE.read_text())
                workflow["initial"] = initial
                path = tmp_path / "workflow.json"
                path.write_text(json.dumps(workflow))
                options["jira_workflow"] = str(path)
            handle = stack.enter_context(start_sandboxes(tickets=0, seed=5, apps=("casavi", "jira"),
                                                         jira_mode=request.param, **options))
            world = PlacingWorld(handle, tmp_path, request.param)
            stack.callback(world.bridge.close)
            return world
        yield build


def with_task(world: PlacingWorld, **fields: Any) -> str:
    ticket = world.new_ticket(**fields)
    world.casavi("POST", f"/tickets/{ticket}/tasks", {"id": f"{ticket}-t", "title": "Trocknung prüfen"})
    return ticket


def person_acts_before_the_batch_read(world: PlacingWorld, act: Callable[[], None]) -> None:
    """Run ``act`` (a person in Jira) right before the bridge's batch read of its new items."""
    connector = world.bridge.engine.connector
    real = connector.placed

    def placed(wanted):
        act()
        connector.placed = real
        return real(wanted)

    connector.placed = placed


def test_a_mirror_reads_no_issue_one_by_one_and_records_where_jira_holds_them(world_with):
    world = world_with()
    tickets = [with_task(world) for _ in range(3)]
    world.jira("POST", "/stats/reset")
    world.sync()
    reads = {route: n for route, n in world.requests().items() if route.startswith("GET /rest/api/{version}/issue/")}
    assert reads == {}  # no status read per new issue or sub-task: the batch search told
    for ticket in tickets:
        assert world.issues()[ticket]["status"] == "To Do"
        assert [s["status"] for s in world.sub_tasks(ticket)] == ["To Do"]
    assert world.sync().differences == 0


def test_new_items_are_walked_out_of_a_different_initial_status(world_with):
    # The administrator's workflow starts issues in "Waiting"; OPEN tickets and tasks map to "To Do".
    world = world_with(initial="Waiting")
    ticket = with_task(world)
    progressing = with_task(world, status="INPROGRESS")
    world.sync()
    assert world.issues()[ticket]["status"] == "To Do"
    assert world.issues()[progressing]["status"] == "In Progress"
    assert [s["status"] for s in world.sub_tasks(ticket)] == ["To Do"]
    assert world.casavi("GET", f"/tickets/{ticket}")["status"] == "OPEN"  # "Waiting" was never written back
    assert world.sync().differences == 0
    assert world.casavi("GET", f"/tickets/{ticket}")["status"] == "OPEN"


@pytest.mark.parametrize("initial", [None, "Waiting"], ids=["created-in-place", "created-elsewhere"])
def test_a_person_transition_before_our_batch_read_is_kept_and_mirrored_back(world_with, initial):
    world = world_with(initial=initial)
    ticket = with_task(world)

    def alice_starts_work():
        issue = world.issues()[ticket]
        world.jira("POST", f"/issues/{issue['key']}/transition", {"status": "In Progress"})
        for sub in world.sub_tasks(ticket):
            world.jira("POST", f"/issues/{sub['key']}/transition", {"status": "Done"})

    person_acts_before_the_batch_read(world, alice_starts_work)
    world.sync()
    for _ in range(2):
        world.sync()
    assert world.issues()[ticket]["status"] == "In Progress"  # not walked back to "To Do"
    assert [s["status"] for s in world.sub_tasks(ticket)] == ["Done"]
    after = world.casavi("GET", f"/tickets/{ticket}")
    assert after["status"] == "INPROGRESS"
    assert [t["status"] for t in after["tasks"]] == ["COMPLETED"]
    assert world.sync().differences == 0


def test_an_item_whose_placing_failed_takes_the_casavi_status_on_the_next_pass(world_with):
    # A create whose status step did not finish (here: the batch read and the walk fail, as a
    # crash between create and placing would leave it) records no Jira status: the next pass
    # walks it into casavi's, and the workflow's start is never written back to casavi.
    world = world_with(initial="Waiting")
    ticket = with_task(world)
    connector = world.bridge.engine.connector
    real_placed, real_place = connector.placed, connector.place

    def unreachable(*args):
        raise RetriableError("jira: connection reset")

    connector.placed, connector.place = unreachable, unreachable
    first = world.bridge.engine.run_pass()
    assert list(first.failed) == [f"casavi:{ticket}"]
    assert world.issues()[ticket]["status"] == "Waiting"
    connector.placed, connector.place = real_placed, real_place
    world.sync()
    assert world.issues()[ticket]["status"] == "To Do"
    assert [s["status"] for s in world.sub_tasks(ticket)] == ["To Do"]
    assert world.casavi("GET", f"/tickets/{ticket}")["status"] == "OPEN"
    assert [t["status"] for t in world.casavi("GET", f"/tickets/{ticket}")["tasks"]] == ["OPEN"]
    assert world.sync().differences == 0

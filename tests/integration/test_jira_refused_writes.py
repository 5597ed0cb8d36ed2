"""One write Jira refuses never holds back the ticket's other writes: casavi and the realistic
Jira sandbox over real sockets, both flavours, the config as ``sandbox --write-config`` writes it.

- A workflow whose "Done" screen requires a root cause (``customfield_10010``) that
  ``[jira.transition_fields]`` does not give: closing the ticket fails on its own.
- ``[jira] internal_visibility`` names a project role the bridge's account is not in: the
  internal comment fails on its own (Jira answers 400, "You are currently not a member of the
  project role").

In both, the tenant's later public comment arrives in Jira, nothing is written twice, and
``casavi-bridge status`` names the failing write with Jira's answer.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import tomli_w
from click.testing import CliRunner

from bridge.app import build_bridge
from bridge.cli import main
from bridge.config import settings_from_dict
from bridge.sandbox.server import start_sandboxes
from bridge.sandbox.written_config import sandbox_config
from tests.integration.test_jira_end_to_end import World

ROOT_CAUSE = Path(__file__).resolve().parents[1] / "data" / "jira-workflows" / "root-cause.json"


class RefusingWorld(World):
    """The written config, changed by ``jira`` (keys of [jira]), saved as a TOML file for the CLI."""

    def __init__(self, handle, tmp_path: Path, mode: str, jira: dict[str, Any]):
        self.handle = handle
        self.config = tmp_path / "bridge.toml"
        raw = sandbox_config(handle.info, config_path=self.config, jira_deployment=mode)
        raw["jira"].update(jira)
        raw["sync"]["retry_base_seconds"] = 3600  # a refused write waits; the passes go on meanwhile
        # casavi's default (strict) reading: a new comment does not move the ticket's lastModified;
        # it is found by the sweep of linked open tickets, which runs on every pass here.
        raw["sync"]["sweep_interval_seconds"] = 0.001
        self.config.write_text(tomli_w.dumps(raw))
        self.bridge = build_bridge(settings_from_dict(raw), workdir=tmp_path)

    def run(self):
        return self.bridge.engine.run_pass()

    def stored(self, ticket: str):
        """What Jira stored for the ticket's issue (the sandbox's own record)."""
        store = self.handle.servers["jira"].app.jira
        return store.issue(self.issues()[ticket]["id"])

    def comment_bodies(self, ticket: str) -> list[str]:
        """The comments' texts without the "*author* via casavi:" line the bridge puts on top."""
        return [c.body.split("\n")[-1] for c in self.stored(ticket).comments]

    def status(self, *extra: str) -> str:
        result = CliRunner().invoke(main, ["status", "--config", str(self.config), *extra])
        assert result.exit_code == 0, result.output
        return result.output


@pytest.fixture(params=["server", "cloud"])
def world_with(request, tmp_path) -> Iterator[Callable[..., RefusingWorld]]:
    """``world_with(workflow=None, **jira)``: both sandboxes (Jira with that workflow file) and a
    bridge on the written config with ``jira`` changed."""
    with ExitStack() as stack:
        def build(workflow: Path | None = None, **jira: Any) -> RefusingWorld:
            options = {"jira_workflow": str(workflow)} if workflow else {}
            handle = stack.enter_context(start_sandboxes(tickets=0, seed=5, apps=("casavi", "jira"),
                                                         jira_mode=request.param, **options))
            world = RefusingWorld(handle, tmp_path, request.param, jira)
            stack.callback(world.bridge.close)
            return world
        yield build


def test_a_close_whose_screen_requires_an_unconfigured_field_fails_alone_and_later_comments_arrive(world_with):
    world = world_with(ROOT_CAUSE)
    ticket = world.new_ticket()
    world.sync()
    world.casavi("PUT", f"/tickets/{ticket}", {"status": "CLOSED"})
    world.casavi("POST", f"/tickets/{ticket}/comments", {"text": "Danke, alles wieder trocken."})
    first = world.run()
    assert list(first.failed) == [f"casavi:{ticket}"]
    assert world.stored(ticket).status.name == "To Do"  # Jira refused the transition, nothing half-done
    assert world.comment_bodies(ticket) == ["Danke, alles wieder trocken."]  # same pass, not held back

    world.casavi("POST", f"/tickets/{ticket}/comments", {"text": "Bitte noch die Rechnung schicken."})
    for _ in range(2):
        later = world.run()
        assert later.failed == {}, later.failed  # held until its retry time, not sent again
    assert world.comment_bodies(ticket) == ["Danke, alles wieder trocken.", "Bitte noch die Rechnung schicken."]
    assert world.stored(ticket).status.name == "To Do"
    after = world.casavi("GET", f"/tickets/{ticket}")
    assert after["status"] == "CLOSED"  # Jira's "To Do" is not written back over the tenant's close
    assert len(world.issues()) == 1

    [entry] = json.loads(world.status("--json"))["quarantine"]
    assert (entry["item"], entry["action_key"], entry["attempts"]) == (f"casavi:{ticket}", "status→tool", 1)
    text = world.status()
    assert f"casavi:{ticket} {entry['action']}: SkippableError" in text
    assert '[jira.transition_fields] "Done"' in text and "customfield_10010" in text


def test_an_internal_comment_for_a_role_the_account_is_not_in_fails_alone_and_later_comments_arrive(world_with):
    world = world_with(internal_visibility={"type": "role", "value": "Developers"})
    ticket = world.new_ticket()
    world.sync()
    manager = next(iter(world.handle.casavi.store.staff))
    world.casavi("POST", f"/tickets/{ticket}/comments", {"text": "Intern: Versicherung informiert.",
                                                         "isInternal": True, "authorId": manager})
    first = world.run()
    assert list(first.failed) == [f"casavi:{ticket}"]
    assert world.comment_bodies(ticket) == []

    world.casavi("POST", f"/tickets/{ticket}/comments", {"text": "Wann kommt der Handwerker?"})
    world.casavi("PUT", f"/tickets/{ticket}", {"status": "INPROGRESS"})
    for _ in range(2):
        later = world.run()
        assert later.failed == {}, later.failed
    stored = world.stored(ticket)
    assert world.comment_bodies(ticket) == ["Wann kommt der Handwerker?"]
    assert stored.comments[0].visibility is None  # public, as the tenant wrote it
    assert stored.status.name == "In Progress"
    assert len(world.issues()) == 1

    [entry] = json.loads(world.status("--json"))["quarantine"]
    assert entry["item"] == f"casavi:{ticket}" and entry["action_key"].startswith("comment:")
    assert entry["action_key"].endswith("→tool") and "Developers" in entry["error"]
    assert f"casavi:{ticket} {entry['action']}: " in world.status()

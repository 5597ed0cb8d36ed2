"""What tenants may see: the tool's comments and files reach casavi as the operator decided
(``[sync] tool_comments_to_casavi`` / ``tool_files_to_casavi``), and closing from Jira sends
casavi's statusText and suppressRatingRequest as configured.  casavi and Jira sandboxes over
real sockets, both Jira flavours."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from bridge.sandbox.server import start_sandboxes
from tests.integration.test_jira_end_to_end import World, worlds


class ConfiguredWorld(World):
    def casavi_comments(self, ticket: str) -> list[dict]:
        return self.casavi("GET", f"/tickets/{ticket}")["comments"]


@pytest.fixture(params=["server", "cloud"])
def world_with(request, tmp_path) -> Iterator:
    with start_sandboxes(tickets=0, seed=5, apps=("casavi", "jira"), jira_mode=request.param) as handle, \
            worlds(handle, tmp_path, request.param, ConfiguredWorld) as build:
        yield build


def test_a_jira_file_reaches_casavi_as_an_internal_comment_by_default(world_with):
    world = world_with()
    ticket = world.new_ticket()
    world.sync()
    key = world.issues()[ticket]["key"]
    world.jira("POST", f"/issues/{key}/attachment", {"filename": "aufmass.txt", "text": "3 m² Wand"})
    world.sync()
    carriers = [c for c in world.casavi_comments(ticket) if "aufmass.txt" in c["text"]]
    assert len(carriers) == 1
    assert carriers[0]["isInternal"] is True
    assert len(carriers[0]["attachments"]) == 1
    assert world.sync().differences == 0


def test_an_unrestricted_jira_comment_is_internal_in_casavi_by_default(world_with):
    world = world_with()
    ticket = world.new_ticket()
    world.sync()
    key = world.issues()[ticket]["key"]
    world.jira("POST", f"/issues/{key}/comment", {"body": "Gutachter kommt Dienstag."})
    world.sync()
    copies = [c for c in world.casavi_comments(ticket) if "Gutachter" in c["text"]]
    assert [c["isInternal"] for c in copies] == [True]


def test_public_setting_makes_jira_comments_and_files_tenant_visible_but_restricted_stay_internal(world_with):
    world = world_with(tool_comments_to_casavi="public", tool_files_to_casavi="public")
    ticket = world.new_ticket()
    world.sync()
    key = world.issues()[ticket]["key"]
    world.jira("POST", f"/issues/{key}/comment", {"body": "Handwerker kommt morgen."})
    world.jira("POST", f"/issues/{key}/comment", {"body": "Nur intern: Kosten 900 EUR.",
                                                   "visibility": {"type": "role", "value": "Administrators"}})
    world.jira("POST", f"/issues/{key}/attachment", {"filename": "termin.txt", "text": "Mo 9 Uhr"})
    world.sync()
    seen = {c["text"].split("\n")[-1]: c["isInternal"] for c in world.casavi_comments(ticket)}
    assert seen["Handwerker kommt morgen."] is False
    assert seen["Nur intern: Kosten 900 EUR."] is True
    assert [c["isInternal"] for c in world.casavi_comments(ticket) if "termin.txt" in c["text"]] == [False]


def test_closing_from_jira_sends_the_configured_status_text_and_suppresses_the_rating_request(world_with):
    world = world_with(status_text_back={"CLOSED": "Erledigt (Jira)"}, suppress_rating_request=True)
    ticket = world.new_ticket()
    world.sync()
    key = world.issues()[ticket]["key"]
    world.jira("POST", f"/issues/{key}/transition", {"status": "Done"})
    world.sync()
    after = world.casavi("GET", f"/tickets/{ticket}")
    assert (after["status"], after.get("statusText")) == ("CLOSED", "Erledigt (Jira)")
    assert world.casavi("GET", f"/tickets/{ticket}/notices") == {"ratingRequests": 0}
    # Reopened in Jira: the label belonged to the closed status and is cleared.
    world.jira("POST", f"/issues/{key}/transition", {"status": "In Progress"})
    world.sync()
    reopened = world.casavi("GET", f"/tickets/{ticket}")
    assert reopened["status"] == "INPROGRESS" and not reopened.get("statusText")


def test_closing_from_jira_without_settings_leaves_the_rating_request_to_casavi(world_with):
    world = world_with()
    ticket = world.new_ticket()
    world.sync()
    world.jira("POST", f"/issues/{world.issues()[ticket]['key']}/transition", {"status": "Done"})
    world.sync()
    assert world.casavi("GET", f"/tickets/{ticket}")["status"] == "CLOSED"
    assert world.casavi("GET", f"/tickets/{ticket}/notices") == {"ratingRequests": 1}

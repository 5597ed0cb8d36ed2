"""Who works on it, both ways, against the casavi and Jira sandboxes (both flavours): casavi
staff and Jira users share e-mail addresses, so people are matched without any map; an unknown
person leaves the issue unassigned and never blocks the ticket."""

from __future__ import annotations

from typing import Iterator

import pytest

from bridge.sandbox.server import start_sandboxes
from tests.integration.test_jira_end_to_end import World

MIRIAM, JOERG, TOM = "M-000001", "M-000002", "M-000004"  # casavi sandbox staff (Tom has no Jira account)


@pytest.fixture(params=["server", "cloud"])
def world(request, tmp_path) -> Iterator[World]:
    with start_sandboxes(tickets=0, seed=5, apps=("casavi", "jira"), jira_mode=request.param) as handle:
        made = World(handle, tmp_path, request.param)
        made.mode = request.param
        try:
            yield made
        finally:
            made.bridge.close()


def jira_assignee(world: World, key: str) -> str | None:
    fields = world.bridge.connector.rest.get(f"issue/{key}", {"fields": "assignee"})["fields"]
    person = fields.get("assignee")
    return person and (person.get("displayName"))


def person_ref(world: World, name: str) -> dict:
    users = world.bridge.connector.rest.get("user/search", {"query": name} if world.mode == "cloud"
                                            else {"username": name})
    user = users[0]
    return {"accountId": user["accountId"]} if world.mode == "cloud" else {"name": user["name"]}


def test_assignee_follows_casavi_and_jira_both_ways_without_a_map(world):
    ticket = world.new_ticket(assignedToId=MIRIAM)
    world.sync()
    key = world.issues()[ticket]["key"]
    assert jira_assignee(world, key) == "Miriam Manager"

    world.casavi("PUT", f"/tickets/{ticket}", {"assignedToId": JOERG})  # Jörg hides his address on Cloud
    world.sync()
    assert jira_assignee(world, key) == "Jörg Hausmeister"

    world.jira("POST", f"/issues/{key}/edit", {"assignee": person_ref(world, "miriam")})
    world.sync()
    assert world.casavi("GET", f"/tickets/{ticket}")["assignedToId"] == MIRIAM
    assert jira_assignee(world, key) == "Miriam Manager"
    assert world.sync().differences == 0


def test_a_new_issue_is_assigned_in_its_create_request(world):
    ticket = world.new_ticket(assignedToId=MIRIAM)
    world.jira("POST", "/stats/reset")
    world.sync()
    key = world.issues()[ticket]["key"]
    assert jira_assignee(world, key) == "Miriam Manager"
    edits = world.jira("GET", "/stats")["requests"].get("PUT /rest/api/{version}/issue/{key}", 0)
    assert edits == 0  # no assignee write after the create
    assert world.sync().differences == 0


def test_a_staff_member_without_jira_account_leaves_the_issue_unassigned_and_the_ticket_mirrored(world):
    ticket = world.new_ticket(assignedToId=TOM)
    report = world.sync()
    key = world.issues()[ticket]["key"]
    assert jira_assignee(world, key) is None
    assert report.failed == {}
    assert report.counts["assignee_unknown_in_tool"] == 1 and report.counts["assignee_mirrored"] == 0
    world.casavi("PUT", f"/tickets/{ticket}", {"title": "Wasserschaden im Keller (dringend)"})
    world.sync()
    assert world.casavi("GET", f"/tickets/{ticket}")["assignedToId"] == TOM  # nothing written back
    assert world.sync().differences == 0


def test_unassigned_in_jira_unassigns_in_casavi(world):
    ticket = world.new_ticket(assignedToId=MIRIAM)
    world.sync()
    key = world.issues()[ticket]["key"]
    world.jira("POST", f"/issues/{key}/edit", {"assignee": None})
    world.sync()
    assert world.casavi("GET", f"/tickets/{ticket}").get("assignedToId") is None

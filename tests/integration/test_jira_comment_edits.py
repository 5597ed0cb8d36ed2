"""Edited comments both ways against the casavi and Jira sandboxes (both Jira flavours): an
edit reaches the other side as an edit — not a second comment, not echoed back — and the copy
still says who wrote it.  Deleting is not mirrored."""

from __future__ import annotations

from typing import Iterator

import pytest

from bridge.sandbox.server import start_sandboxes
from tests.integration.test_jira_end_to_end import World


@pytest.fixture(params=["server", "cloud"])
def world(request, tmp_path) -> Iterator[World]:
    with start_sandboxes(tickets=0, seed=5, apps=("casavi", "jira"), jira_mode=request.param) as handle:
        # casavi's default (strict) reading: an edited comment does not move the ticket's
        # lastModified, so it is found by the sweep of linked open tickets; every pass sweeps here.
        made = World(handle, tmp_path, request.param, sweep_interval_seconds=0.001)
        try:
            yield made
        finally:
            made.bridge.close()


def jira_comments(world: World, key: str) -> list[dict]:
    answer = world.bridge.connector.rest.get(f"issue/{key}/comment", {"expand": "properties"})
    return answer["comments"]


def test_edited_casavi_comment_is_edited_in_jira_with_its_author_and_not_echoed(world):
    ticket = world.new_ticket()
    comment = world.casavi("POST", f"/tickets/{ticket}/comments", {"text": "Bin ab 14 Uhr zu Hause."})
    world.sync()
    key = world.issues()[ticket]["key"]
    world.casavi("PUT", f"/tickets/{ticket}/comments/{comment['id']}", {"text": "Bin ab 16 Uhr zu Hause."})
    world.sync()
    bodies = [c["body"] for c in jira_comments(world, key)]
    assert len(bodies) == 1
    assert "16 Uhr" in bodies[0] and "14 Uhr" not in bodies[0]
    assert comment["authorName"] in bodies[0]  # the copy still says who wrote it
    casavi_comments = world.casavi("GET", f"/tickets/{ticket}")["comments"]
    assert len(casavi_comments) == 1  # nothing came back
    assert world.sync().differences == 0


def test_edited_jira_comment_is_edited_in_casavi_with_its_author_and_not_echoed(world):
    ticket = world.new_ticket()
    world.sync()
    key = world.issues()[ticket]["key"]
    added = world.jira("POST", f"/issues/{key}/comment", {"body": "Trocknung bis Freitag.", "as": "bob"})
    world.sync()
    world.jira("PUT", f"/issues/{key}/comment/{added['id']}", {"body": "Trocknung bis Montag.", "as": "bob"})
    world.sync()
    copies = [c for c in world.casavi("GET", f"/tickets/{ticket}")["comments"] if "Trocknung" in c["text"]]
    assert len(copies) == 1
    assert "Montag" in copies[0]["text"] and "Freitag" not in copies[0]["text"]
    assert "Bob Builder" in copies[0]["text"]
    assert [c["body"] for c in jira_comments(world, key)] == ["Trocknung bis Montag."]
    assert world.sync().differences == 0


def test_a_deleted_jira_comment_leaves_its_casavi_copy(world):
    ticket = world.new_ticket()
    world.sync()
    key = world.issues()[ticket]["key"]
    added = world.jira("POST", f"/issues/{key}/comment", {"body": "Wird gelöscht."})
    world.sync()
    world.bridge.connector.rest.send("DELETE", f"issue/{key}/comment/{added['id']}", None)
    world.sync()
    assert sum("Wird gelöscht." in c["text"] for c in world.casavi("GET", f"/tickets/{ticket}")["comments"]) == 1

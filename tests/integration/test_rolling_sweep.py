"""The rolling sweep (README "How syncing works", "The sweep"): each linked ticket open on either
side is read whole at most once per ``[sync] sweep_interval_seconds`` and at least about once.

casavi under its strict reading (a tenant's comment does not move ``lastModified``, so only the
sweep finds it), in both date semantics; casavi and Jira sandboxes over real sockets, requests
counted by the casavi sandbox.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
from sqlalchemy import update

from bridge.state.tables import Cursor
from tests.integration.test_casavi_readings_end_to_end import start
from tests.integration.test_jira_end_to_end import World

SHORT_INTERVAL = 2.0  # seconds


@pytest.fixture(params=["modified", "created"])
def dates(request) -> str:
    return request.param


@pytest.fixture
def hourly(tmp_path, dates) -> Iterator[World]:
    world = start(tmp_path, "strict", dates, sweep_interval_seconds=3600)
    world.dates = dates
    try:
        yield world
    finally:
        world.bridge.close()
        world.handle.stop()


@pytest.fixture
def short(tmp_path, dates) -> Iterator[World]:
    world = start(tmp_path, "strict", dates, sweep_interval_seconds=SHORT_INTERVAL)
    try:
        yield world
    finally:
        world.bridge.close()
        world.handle.stop()


def casavi_requests(world: World) -> dict[str, int]:
    return world.casavi("GET", "/stats")["requests"]


def comments_in_jira(world: World, ticket: str) -> int:
    return world.issues()[ticket]["comments"]


def test_the_pass_after_a_mirror_reads_no_ticket_read_whole_within_the_interval(hourly):
    world = hourly
    tickets = [world.new_ticket() for _ in range(3)]
    world.sync()
    ledger = world.bridge.ledger
    linked = ledger.linked_item_keys()
    assert {f"casavi:{t}" for t in tickets} <= set(linked)
    assert all(ledger.item_link(key).read_whole_at is not None for key in linked)  # the mirror read each whole
    # As after a mirror that took longer than the interval: the last sweep began over an hour ago.
    cursors = Cursor.__table__
    with ledger.engine.begin() as conn:
        conn.execute(update(cursors).where(cursors.c.stream == "sweep:casavi")
                     .values(position=datetime.now(timezone.utc) - timedelta(hours=2)))
    world.casavi("POST", "/stats/reset")
    assert world.sync().differences == 0
    # The incremental read (and under created dates the list of open tickets); no ticket read whole.
    listings = 2 if world.dates == "created" else 1
    assert casavi_requests(world) == {"GET /tickets": listings}


def test_a_ticket_not_read_whole_within_the_interval_is_swept_and_the_others_wait_their_turn(hourly):
    world = hourly
    stale, fresh = world.new_ticket(), world.new_ticket()
    world.sync()
    for ticket in (stale, fresh):
        world.casavi("POST", f"/tickets/{ticket}/comments", {"text": f"Mieterin zu {ticket}"})
    ledger = world.bridge.ledger
    before = datetime.now(timezone.utc)
    ledger.record_read_whole({f"casavi:{stale}": before - timedelta(hours=2)})
    fresh_read = ledger.item_link(f"casavi:{fresh}").read_whole_at
    world.casavi("POST", "/stats/reset")
    report = world.sync()
    assert comments_in_jira(world, stale) == 1  # read whole two hours ago: swept, its comment found
    assert comments_in_jira(world, fresh) == 0  # read whole by the mirror: not due for an hour
    assert report.counts["swept"] == 1
    # The stale ticket only: by the sweep, then once more to plan it (its version changed).
    assert casavi_requests(world)["GET /tickets/{ticket_id}"] == 2
    assert ledger.item_link(f"casavi:{stale}").read_whole_at >= before
    assert ledger.item_link(f"casavi:{fresh}").read_whole_at == fresh_read


def sync_until(world: World, ticket: str, comments: int, *, within: float) -> float:
    """Passes until the ticket's issue has ``comments`` comments; the seconds it took."""
    began = time.monotonic()
    while comments_in_jira(world, ticket) < comments and time.monotonic() - began < within:
        world.sync()
        time.sleep(0.1)
    assert comments_in_jira(world, ticket) == comments
    return time.monotonic() - began


def test_a_tenant_comment_not_moving_last_modified_reaches_jira_within_one_interval(short):
    world = short
    ticket = world.new_ticket()
    world.sync()
    world.casavi("POST", f"/tickets/{ticket}/comments", {"text": "Mieterin ist ab 14 Uhr da."})
    assert sync_until(world, ticket, 1, within=SHORT_INTERVAL + 10) <= SHORT_INTERVAL + 4
    # A ticket the engine has just read whole (a Jira comment written back to casavi) is not
    # swept again at once; a tenant's comment after that read still arrives within the interval.
    issue = world.issues()[ticket]
    world.jira("POST", f"/issues/{issue['key']}/comment", {"body": "Handwerker kommt morgen."})
    world.sync()
    assert any("Handwerker" in c["text"] for c in world.casavi("GET", f"/tickets/{ticket}")["comments"])
    world.casavi("POST", f"/tickets/{ticket}/comments", {"text": "Bitte vorher anrufen."})
    assert sync_until(world, ticket, 3, within=SHORT_INTERVAL + 10) <= SHORT_INTERVAL + 4
    assert world.sync().differences == 0
    assert comments_in_jira(world, ticket) == 3  # nothing mirrored twice

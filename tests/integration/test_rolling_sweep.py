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

from bridge.casavi.shapes import PROOF_COUNT
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


def test_the_pass_report_counts_the_casavi_requests_the_sweep_made(hourly):
    world = hourly
    tickets = [world.new_ticket() for _ in range(4)]
    world.sync()
    ledger = world.bridge.ledger
    ledger.record_read_whole({f"casavi:{t}": datetime.now(timezone.utc) - timedelta(hours=2) for t in tickets})
    cursors = Cursor.__table__
    with ledger.engine.begin() as conn:  # the sweep lists too (under created dates: the open tickets)
        conn.execute(update(cursors).where(cursors.c.stream == "sweep:casavi")
                     .values(position=datetime.now(timezone.utc) - timedelta(hours=2)))
    world.casavi("POST", "/stats/reset")
    report = world.sync()
    seen = world.casavi("GET", "/stats")
    assert report.differences == 0 and report.counts["swept"] >= len(tickets)
    # What casavi saw in the pass, but for the incremental read (one page): the sweep's.
    assert report.counts["sweep_requests"] == seen["total"] - 1
    assert seen["requests"]["GET /tickets/{ticket_id}"] == len(tickets)
    assert seen["requests"]["GET /tickets"] == (2 if world.dates == "created" else 1)


def test_the_reads_that_plan_a_swept_ticket_that_changed_are_not_the_sweeps(hourly):
    world = hourly
    stale, fresh = world.new_ticket(), world.new_ticket()
    world.sync()
    world.casavi("POST", f"/tickets/{stale}/comments", {"text": "Mieterin ist ab 14 Uhr da."})
    world.bridge.ledger.record_read_whole({f"casavi:{stale}": datetime.now(timezone.utc) - timedelta(hours=2)})
    world.casavi("POST", "/stats/reset")
    report = world.sync()
    assert comments_in_jira(world, stale) == 1
    # casavi saw the ticket read whole twice (the ticket, then its comments' pages): by the
    # sweep, then to plan it after the sweep; the sweep's read is the half of it.
    reads = {k: n for k, n in casavi_requests(world).items() if k.startswith("GET /tickets/{ticket_id}")}
    assert reads["GET /tickets/{ticket_id}"] == 2 and set(reads.values()) == {2}
    assert report.counts["sweep_requests"] == sum(reads.values()) // 2


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


# --- created dates, comments seen to move lastModified: the listing tells for the open tickets ----

def learn_comments_move_modified(world: World) -> None:
    """What the bridge learns from its own comments under the lenient reading (each moved the
    ticket's lastModified), told to the reader directly: PROOF_COUNT of them."""
    shapes = world.bridge.source.reader.shapes
    now = datetime.now(timezone.utc)
    for _ in range(PROOF_COUNT):
        shapes.saw_own_comment(now - timedelta(seconds=2), now, now - timedelta(seconds=1))
    assert shapes.comments_move_modified


def hide_from_the_incremental_read(world: World) -> None:
    """Under created dates a ticket created before the cursor is not in the incremental read."""
    cursors = Cursor.__table__
    with world.bridge.ledger.engine.begin() as conn:
        conn.execute(update(cursors).where(cursors.c.stream == "source:casavi")
                     .values(position=datetime.now(timezone.utc) + timedelta(days=1)))


def test_a_stopped_pass_does_not_move_the_listing_on(tmp_path):
    world = start(tmp_path, "lenient", "created", sweep_interval_seconds=3600)
    try:
        ticket = world.new_ticket()
        world.sync()
        learn_comments_move_modified(world)
        world.casavi("POST", f"/tickets/{ticket}/comments", {"text": "Mieterin ist ab 14 Uhr da."})
        hide_from_the_incremental_read(world)
        cursors = Cursor.__table__
        with world.bridge.ledger.engine.begin() as conn:  # the listing is due
            conn.execute(update(cursors).where(cursors.c.stream == "sweep:casavi")
                         .values(position=datetime.now(timezone.utc) - timedelta(hours=2)))
        listed_before = world.bridge.ledger.cursor("sweep:casavi")
        world.bridge.engine.stop.set()  # SIGTERM during the pass
        assert world.bridge.engine.run_pass().cut_short is not None
        world.bridge.engine.stop.clear()
        assert world.bridge.ledger.cursor("sweep:casavi") == listed_before
        world.sync()  # the listing is still due: the comment's lastModified shows in it
        assert comments_in_jira(world, ticket) == 1
        assert world.bridge.ledger.cursor("sweep:casavi") > listed_before
    finally:
        world.bridge.close()
        world.handle.stop()


def test_a_ticket_the_listing_cannot_show_is_read_with_every_listing(tmp_path):
    # PENDING is not in the list filter's enum: such a ticket is read whole on listing passes
    # only, so every listing reads it — also one read whole just after the last listing.
    interval = 4.0
    world = start(tmp_path, "lenient", "created", sweep_interval_seconds=interval)
    try:
        learn_comments_move_modified(world)
        ticket = world.new_ticket(status="PENDING")
        world.sync()
        hide_from_the_incremental_read(world)
        world.casavi("POST", f"/tickets/{ticket}/comments", {"text": "Mieterin ist ab 14 Uhr da."})
        # The last listing began almost an interval ago, the ticket was read whole just after it.
        now = datetime.now(timezone.utc)
        with world.bridge.ledger.engine.begin() as conn:
            conn.execute(update(Cursor.__table__).where(Cursor.__table__.c.stream == "sweep:casavi")
                         .values(position=now - timedelta(seconds=interval - 0.1)))
        world.bridge.ledger.record_read_whole({f"casavi:{ticket}": now - timedelta(seconds=0.1)})
        began = time.monotonic()
        while comments_in_jira(world, ticket) == 0 and time.monotonic() - began < 3 * interval:
            world.sync()
            hide_from_the_incremental_read(world)
            time.sleep(0.1)
        assert comments_in_jira(world, ticket) == 1
        assert time.monotonic() - began <= interval / 2  # with the next listing, not the one after
    finally:
        world.bridge.close()
        world.handle.stop()


def test_a_linked_ticket_casavi_answers_404_for_is_listed_as_orphaned_by_the_sweep(hourly):
    """A ticket deleted in casavi: the daemon's sweep (not only reconcile) lists its link as
    orphaned, in a real pass only; its Jira issue stays as it is."""
    world = hourly
    gone, kept = world.new_ticket(), world.new_ticket()
    world.sync()
    issues_before = world.issues()
    world.casavi("DELETE", f"/tickets/{gone}")
    ledger = world.bridge.ledger
    ledger.record_read_whole({f"casavi:{t}": datetime.now(timezone.utc) - timedelta(hours=2) for t in (gone, kept)})
    report = world.bridge.engine.run_pass(dry_run=True)
    assert any(gone in problem and "404" in problem for problem in report.problems), report.problems
    assert ledger.orphans() == []  # a dry run only reports
    world.restart()  # the daemon: another process than `reconcile --dry-run`
    ledger = world.bridge.ledger
    world.sync()
    assert [(o.source_key, o.orphan_side) for o in ledger.orphans()] == [(f"casavi:{gone}", "source")]
    assert world.issues() == issues_before  # nothing closed or deleted in Jira

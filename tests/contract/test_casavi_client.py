"""The casavi client against the casavi sandbox over real sockets: authentication, paging,
every filter, faults (401, 429 + Retry-After, 5xx, timeouts, 409) and ticket/comment/task calls.

Files, master data and hooks: test_casavi_files.py; the source and payload quirks:
test_casavi_source.py.
"""

from __future__ import annotations

import pytest

from bridge.casavi.client import LISTING_READ_AHEAD, CasaviClient
from bridge.casavi.parse import Ticket
from bridge.errors import AuthError, BudgetExceededError, ConflictError, NotFoundError, RetriableError
from bridge.http import HttpPolicy
from tests.contract.casavi_helpers import Waits, client_for, control, faults, stats, tickets_only
from tests.contract.test_jira_wire import Scripted, in_rounds, no_proxy_env, ok  # noqa: F401  (a fixture)


# -- probe and authentication ---------------------------------------------------------------


def test_check_passes_against_the_sandbox(casavi_sandbox):
    assert client_for(casavi_sandbox).check() == []


def test_wrong_secret_is_refused_with_an_auth_error(casavi_sandbox):
    client = CasaviClient(casavi_sandbox.casavi_url, casavi_sandbox.casavi_key, "not-the-secret",
                          policy=HttpPolicy(sleep=Waits()))
    with pytest.raises(AuthError) as caught:
        client.get_ticket("T-00001")
    assert "not-the-secret" not in str(caught.value)
    assert client.check() and "refused" in client.check()[0]


def test_a_revoked_token_leads_to_one_fresh_login_and_the_call_succeeds(casavi_sandbox):
    client = client_for(casavi_sandbox)
    first = tickets_only(client.list_tickets())[0]
    faults(casavi_sandbox, revoke_tokens=True)
    assert client.get_ticket(first.ticket_id).ticket_id == first.ticket_id
    assert stats(casavi_sandbox)["requests"]["POST /authenticate"] == 2


def test_token_expiry_in_the_middle_of_a_long_listing_is_handled(start_casavi_sandbox):
    # 40 pages at 150 ms, read up to 4 at a time (LISTING_READ_AHEAD): about 12 round trips,
    # ~1.8 s, so the 1 s token runs out part-way while pages are in flight together.
    sandbox = start_casavi_sandbox(tickets=1000, token_ttl_seconds=1.0, latency_ms=150)
    ids = [t.ticket_id for t in tickets_only(client_for(sandbox).list_tickets())]
    assert len(ids) == len(set(ids)) == 1000
    counted = stats(sandbox)["requests"]
    assert counted.get("POST /authenticate/refresh", 0) + counted["POST /authenticate"] >= 2


def test_tokens_revoked_between_pages_do_not_break_the_listing(start_casavi_sandbox):
    sandbox = start_casavi_sandbox(tickets=100)
    seen = []
    for entry in client_for(sandbox).list_tickets():
        seen.append(entry.ticket_id)
        if len(seen) == 25:
            faults(sandbox, revoke_tokens=True)
    assert len(set(seen)) == 100
    assert stats(sandbox)["requests"]["POST /authenticate"] == 2


# -- paging and filters ------------------------------------------------------------------------


def test_listing_reads_every_ticket_across_many_pages_once(start_casavi_sandbox):
    sandbox = start_casavi_sandbox(tickets=1010)
    ids = [t.ticket_id for t in tickets_only(client_for(sandbox).list_tickets())]
    assert len(ids) == len(set(ids)) == 1010
    # 40 full pages and one short one, and at most LISTING_READ_AHEAD - 1 asked for past it
    assert 41 <= stats(sandbox)["requests"]["GET /tickets"] <= 41 + LISTING_READ_AHEAD - 1


def test_a_ticket_changed_while_the_list_is_read_does_not_hide_another(start_casavi_sandbox):
    sandbox = start_casavi_sandbox(tickets=80)
    client = client_for(sandbox)
    first_page_ids: list[str] = []
    seen: set[str] = set()
    for entry in client.list_tickets():
        seen.add(entry.ticket_id)
        first_page_ids.append(entry.ticket_id)
        if len(first_page_ids) == 25:  # page 1 read: a tenant changes one of its tickets
            control(sandbox, "PUT", f"/tickets/{first_page_ids[0]}", {"status": "CLOSED"})
    assert len(seen) == 80


@pytest.fixture(scope="module")
def listing_sandbox():
    from tests.fixtures.sandbox import SMALL_SANDBOX
    from bridge.sandbox.server import start_sandboxes

    with start_sandboxes(SMALL_SANDBOX, tickets=300) as handle:
        yield handle


@pytest.fixture(scope="module")
def all_tickets(listing_sandbox) -> list[Ticket]:
    return tickets_only(client_for(listing_sandbox).list_tickets())


def test_status_filter_returns_exactly_the_tickets_in_those_statuses(listing_sandbox, all_tickets):
    wanted = {"OPEN", "POSTPONED"}
    got = tickets_only(client_for(listing_sandbox).list_tickets(statuses=sorted(wanted)))
    assert sorted(t.ticket_id for t in got) == sorted(t.ticket_id for t in all_tickets if t.status in wanted)
    assert len(got) > 25  # more than one page


def test_property_filter(listing_sandbox, all_tickets):
    property_id = all_tickets[0].property_id
    got = tickets_only(client_for(listing_sandbox).list_tickets(property_id=property_id))
    assert {t.property_id for t in got} == {property_id}
    assert len(got) == sum(t.property_id == property_id for t in all_tickets)


def test_unit_filter(listing_sandbox, all_tickets):
    unit_id = next(t.unit_id for t in all_tickets if t.unit_id)
    got = tickets_only(client_for(listing_sandbox).list_tickets(unit_id=unit_id))
    assert got and {t.unit_id for t in got} == {unit_id}
    assert len(got) == sum(t.unit_id == unit_id for t in all_tickets)


def test_date_filter_means_modified_at_or_after(listing_sandbox, all_tickets):
    stamps = sorted(t.modified_at for t in all_tickets)
    since = stamps[len(stamps) // 2]
    got = tickets_only(client_for(listing_sandbox).list_tickets(date=since))
    assert sorted(t.ticket_id for t in got) == sorted(t.ticket_id for t in all_tickets if t.modified_at >= since)


def test_date_filter_under_created_semantics(start_casavi_sandbox):
    sandbox = start_casavi_sandbox(tickets=120, date_semantics="created")
    client = client_for(sandbox)
    everything = tickets_only(client.list_tickets())
    since = sorted(t.created_at for t in everything)[60]
    got = tickets_only(client.list_tickets(date=since))
    assert sorted(t.ticket_id for t in got) == sorted(t.ticket_id for t in everything if t.created_at >= since)


def test_filters_combine(listing_sandbox, all_tickets):
    property_id = all_tickets[0].property_id
    got = tickets_only(client_for(listing_sandbox).list_tickets(property_id=property_id, statuses=["CLOSED"]))
    assert sorted(t.ticket_id for t in got) == sorted(
        t.ticket_id for t in all_tickets if t.property_id == property_id and t.status == "CLOSED")


# -- faults ------------------------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out_at_least_as_long_as_asked(casavi_sandbox):
    waits = Waits()
    client = client_for(casavi_sandbox, waits=waits)
    client.check()
    faults(casavi_sandbox, force_status=429, force_count=1, retry_after_seconds=2)
    assert client.get_ticket("T-00001").ticket_id == "T-00001"
    assert len(waits.waits) == 1 and waits.waits[0] >= 2.0
    assert stats(casavi_sandbox)["faults"] == {"429": 1}


def test_server_errors_are_retried(casavi_sandbox):
    client = client_for(casavi_sandbox)
    client.check()
    faults(casavi_sandbox, force_status=503, force_count=2)
    assert client.get_ticket("T-00001").ticket_id == "T-00001"
    assert stats(casavi_sandbox)["requests"]["GET /tickets/{ticket_id}"] == 3


def test_server_errors_that_persist_end_as_retriable_errors(casavi_sandbox):
    client = client_for(casavi_sandbox, max_attempts=2)
    client.check()
    faults(casavi_sandbox, force_status=502, force_count=5)
    with pytest.raises(RetriableError):
        client.get_ticket("T-00001")


def test_a_timed_out_read_is_retried(casavi_sandbox):
    client = client_for(casavi_sandbox, timeout=0.5)
    client.check()
    faults(casavi_sandbox, force_timeout_count=1)
    assert client.get_ticket("T-00001").ticket_id == "T-00001"


def test_creating_twice_with_the_same_id_is_a_conflict(casavi_sandbox):
    client = client_for(casavi_sandbox)
    client.create_comment("T-00001", "first", comment_id="jira-10042-c-10311")
    with pytest.raises(ConflictError):
        client.create_comment("T-00001", "again", comment_id="jira-10042-c-10311")
    client.create_task("T-00001", "jira-10042-t-1", "Fix it")
    with pytest.raises(ConflictError):
        client.create_task("T-00001", "jira-10042-t-1", "Fix it")
    ticket = client.get_ticket("T-00001")
    with pytest.raises(ConflictError):
        client.create_ticket({"id": "T-00001", "title": "dup", "propertyId": ticket.property_id})


def test_a_comment_whose_first_answer_was_lost_exists_once_after_the_repeat(casavi_sandbox):
    # The first POST times out and casavi applies it anyway; the repeat with the same id
    # either lands first (201) or finds it (409 → ConflictError): never a second comment.
    faults(casavi_sandbox, timeout_mode="apply", timeout_hold_seconds=1.0)
    client = client_for(casavi_sandbox, timeout=0.5)
    client.check()
    faults(casavi_sandbox, force_timeout_count=1)
    try:
        client.create_comment("T-00002", "lost answer", comment_id="jira-1-c-1")
    except ConflictError:
        pass
    assert stats(casavi_sandbox)["requests"]["POST /tickets/{ticket_id}/comments"] == 2
    comments = [c for c in client.list_comments("T-00002") if c.comment_id == "jira-1-c-1"]
    assert len(comments) == 1


# -- every endpoint ----------------------------------------------------------------------------


def test_ticket_create_get_update_with_comment_and_delete(casavi_sandbox):
    client = client_for(casavi_sandbox)
    property_id = next(iter(client.list_properties())).property_id
    created = client.create_ticket({"id": "BR-1", "title": "Heizung kalt", "propertyId": property_id,
                                    "description": "Seit gestern", "number": "9001"})
    assert created.ticket_id == "BR-1" and created.number == "9001"
    updated = client.update_ticket("BR-1", {"id": "BR-1", "title": "Heizung kalt", "propertyId": property_id,
                                            "status": "INPROGRESS"}, comment="Wir kümmern uns.")
    assert updated.status == "INPROGRESS"
    fetched = client.get_ticket("BR-1")
    assert fetched.status == "INPROGRESS" and fetched.last_modified == updated.last_modified
    assert fetched.comments == ()  # the strict reading embeds none
    assert [c.text for c in client.list_comments("BR-1")] == ["Wir kümmern uns."]
    client.delete_ticket("BR-1")
    with pytest.raises(NotFoundError):
        client.get_ticket("BR-1")


def test_ids_with_slashes_and_spaces_reach_the_right_ticket(casavi_sandbox):
    client = client_for(casavi_sandbox)
    property_id = next(iter(client.list_properties())).property_id
    client.create_ticket({"id": "A/B 1", "title": "odd id", "propertyId": property_id})
    assert client.get_ticket("A/B 1").ticket_id == "A/B 1"


def test_comments_are_listed_across_pages_created_and_updated(casavi_sandbox):
    client = client_for(casavi_sandbox)
    before = len(list(client.list_comments("T-00003")))
    for n in range(30):
        client.create_comment("T-00003", f"Kommentar {n}", comment_id=f"jira-3-c-{n}", is_internal=n % 2 == 0)
    comments = list(client.list_comments("T-00003"))
    assert len(comments) == before + 30
    assert len({c.comment_id for c in comments}) == len(comments)
    assert comments[-1].text == "Kommentar 29"
    changed = client.update_comment("T-00003", "jira-3-c-0", text="geändert", is_internal=False)
    assert changed is not None and changed.text == "geändert" and changed.is_internal is False


def test_comment_authors_and_fallback_to_the_account(casavi_sandbox):
    client = client_for(casavi_sandbox)
    staff = next(iter(client.list_staff()))
    by_id = client.create_comment("T-00004", "as manager", comment_id="c-a", author_id=staff.staff_id)
    assert by_id.author_id == staff.staff_id
    unknown = client.create_comment("T-00004", "unknown author", comment_id="c-b",
                                    author_email="nobody@example.org", fallback_to_account=True)
    assert unknown.comment_id == "c-b"


def test_tasks_are_created_read_updated_and_deleted(casavi_sandbox):
    client = client_for(casavi_sandbox)
    created = client.create_task("T-00006", "jira-6-t-1", "Rohr reparieren", description="Keller")
    assert (created.task_id, created.status) == ("jira-6-t-1", "OPEN")
    updated = client.update_task("T-00006", "jira-6-t-1", title="Rohr reparieren", status="COMPLETED")
    assert updated is not None and updated.status == "COMPLETED" and updated.completed_at is not None
    assert client.get_task("T-00006", "jira-6-t-1").status == "COMPLETED"
    client.delete_task("T-00006", "jira-6-t-1")
    with pytest.raises(NotFoundError):
        client.get_task("T-00006", "jira-6-t-1")


def test_budget_stops_a_listing_partway(start_casavi_sandbox):
    sandbox = start_casavi_sandbox(tickets=200)
    client = client_for(sandbox, request_budget=4)  # login + 3 pages
    seen = []
    with pytest.raises(BudgetExceededError):
        for entry in client.list_tickets():
            seen.append(entry)
    assert len(seen) == 75
    assert stats(sandbox)["requests"]["GET /tickets"] == 3  # the refused request was never sent
    client.policy.reset_budget()
    assert client.get_ticket(seen[0].ticket_id).ticket_id == seen[0].ticket_id


# -- connections ------------------------------------------------------------------------------


def test_workers_beyond_twenty_keep_their_connections(no_proxy_env):
    """32 workers ([casavi] concurrency = 32), three rounds at once: each keeps its connection
    (httpx's default of 20 idle connections made 12 of them open one per request)."""
    workers, rounds = 32, 3

    def casavi(arrival, so_far):
        if arrival.path.endswith("/authenticate"):
            return ok({"token": "t", "expiresAt": "2099-01-01T00:00:00Z"})
        return ok({"id": arrival.path.rsplit("/", 1)[-1], "name": "Musterstraße 1"})

    server = Scripted(casavi, delay=0.05).start()
    client = CasaviClient(server.url + "/v1", "key", "secret", policy=HttpPolicy(concurrency=workers, sleep=Waits()))
    try:
        client.get_property("P0")  # the login, before the workers
        names = in_rounds(workers, rounds, lambda n: client.get_property(f"P{n}").name)
        assert names == ["Musterstraße 1"] * workers * rounds
        assert server.connections <= workers  # none opened again after the first round
    finally:
        client.close()
        server.stop()

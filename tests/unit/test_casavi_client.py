"""The casavi client against a scripted casavi (httpx.MockTransport): auth, paging, writes."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone

import httpx
import pytest
from structlog.testing import capture_logs

from bridge.casavi.client import LISTING_READ_AHEAD
from bridge.casavi.parse import MalformedPayloadError, Ticket, TicketParseError
from bridge.casavi.session import PaginationError
from bridge.errors import AuthError, BridgeError, ConflictError, RetriableError
from bridge.http import HttpPolicy
from tests.unit.casavi_fake import BASE, KEY, SECRET, FakeCasavi, ticket


@pytest.fixture
def casavi() -> FakeCasavi:
    return FakeCasavi()


# -- construction and authentication --------------------------------------------------------


def test_constructing_a_client_does_no_io(casavi):
    casavi.client()
    assert casavi.requests == []


def test_first_call_logs_in_and_sends_the_token_header(casavi):
    client = casavi.client()
    list(client.list_tickets())
    login, listing = casavi.requests
    assert login.url.path == "/v1/authenticate" and json.loads(login.content) == {"key": KEY, "secret": SECRET}
    assert "token" not in login.headers
    assert listing.headers["token"] == "tok-1"


def test_token_is_refreshed_a_minute_before_it_expires(casavi):
    client = casavi.client()
    list(client.list_tickets())
    casavi.clock.now += 3600 - 61
    list(client.list_tickets())
    assert casavi.refreshes == 0
    casavi.clock.now += 2
    list(client.list_tickets())
    assert (casavi.logins, casavi.refreshes) == (1, 1)
    refresh = [r for r in casavi.requests if r.url.path.endswith("/refresh")][0]
    assert json.loads(refresh.content) == {"apiKey": KEY, "token": "tok-1"}
    assert casavi.requests[-1].headers["token"] == "tok-2"


def test_short_lived_tokens_are_refreshed_at_ten_percent_of_their_lifetime():
    casavi = FakeCasavi(token_lifetime=100)
    client = casavi.client()
    list(client.list_tickets())
    casavi.clock.now += 89
    list(client.list_tickets())
    assert casavi.refreshes == 0
    casavi.clock.now += 2
    list(client.list_tickets())
    assert casavi.refreshes == 1


def test_an_expired_token_leads_to_a_fresh_login(casavi):
    client = casavi.client()
    list(client.list_tickets())
    casavi.clock.now += 4000
    list(client.list_tickets())
    assert casavi.logins == 2 and casavi.refreshes == 0


def test_a_refused_refresh_falls_back_to_a_fresh_login(casavi):
    client = casavi.client()
    list(client.list_tickets())
    casavi.valid_tokens.clear()  # revoked server-side
    casavi.clock.now += 3590
    casavi.tickets = [ticket(1)]
    assert [t.ticket_id for t in client.list_tickets()] == ["T-1"]
    assert casavi.logins == 2


def test_a_401_makes_one_fresh_login_and_repeats_the_request(casavi):
    client = casavi.client()
    list(client.list_tickets())
    casavi.valid_tokens.clear()
    casavi.tickets = [ticket(1)]
    assert [t.ticket_id for t in client.list_tickets()] == ["T-1"]
    assert casavi.logins == 2


def test_a_second_401_is_an_auth_error_without_looping(casavi):
    client = casavi.client()
    casavi.routes[("GET", "/tickets")] = lambda r: httpx.Response(401)
    with pytest.raises(AuthError):
        list(client.list_tickets())
    assert casavi.logins == 2
    assert len(casavi.paths("GET")) == 2


def test_threads_that_start_together_share_one_login(casavi):
    import threading

    client = casavi.client()
    casavi.tickets = [ticket(1)]
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(len(list(client.list_tickets()))))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [1] * 8
    assert casavi.logins == 1


def test_wrong_credentials_are_an_auth_error_that_does_not_show_the_secret():
    from bridge.casavi.client import CasaviClient
    from bridge.http import HttpPolicy

    casavi = FakeCasavi()
    client = CasaviClient(BASE, KEY, "wrong-secret", policy=HttpPolicy(sleep=lambda s: None),
                          transport=casavi.transport())
    with pytest.raises(AuthError) as caught:
        list(client.list_tickets())
    assert "wrong-secret" not in str(caught.value)
    assert client.check() == [f"casavi at {BASE} refused the API key and secret"]


def test_secret_and_token_never_reach_logs_or_reprs(casavi):
    client = casavi.client()
    with capture_logs() as logs:
        list(client.list_tickets())
        casavi.valid_tokens.clear()
        list(client.list_tickets())
        casavi.clock.now += 3590
        list(client.list_tickets())
    assert logs, "expected some log events"
    text = repr(logs) + repr(client) + repr(client.auth) + str(client.auth)
    for secret in (SECRET, "tok-1", "tok-2", "tok-3"):
        assert secret not in text


def test_check_reports_nothing_when_casavi_answers(casavi):
    assert casavi.client().check() == []


def test_check_reports_an_unreachable_casavi():
    def refuse(request):
        raise httpx.ConnectError("refused", request=request)

    from bridge.casavi.client import CasaviClient
    from bridge.http import HttpPolicy

    client = CasaviClient(BASE, KEY, SECRET, policy=HttpPolicy(max_attempts=2, sleep=lambda s: None),
                          transport=httpx.MockTransport(refuse))
    [problem] = client.check()
    assert "cannot be reached" in problem


# -- ticket listing ---------------------------------------------------------------------------


def listed_pages(casavi: FakeCasavi) -> list[int]:
    return [int(r.url.params["page"]) for r in casavi.requests if r.url.path == "/v1/tickets"]


def test_listing_reads_every_page_until_a_short_one(casavi):
    casavi.tickets = [ticket(n) for n in range(1, 54)]
    tickets = list(casavi.client().list_tickets())
    assert [t.ticket_id for t in tickets] == [f"T-{n}" for n in range(1, 54)]
    pages = listed_pages(casavi)
    # Pages 2 and 3 were asked for together after the full page 1, then up to 6 after the
    # full page 2; those past the short page 3 are dropped (or cancelled before they went out).
    assert pages[0] == 1 and {1, 2, 3} <= set(pages) <= {1, 2, 3, 4, 5, 6}
    assert len(pages) == len(set(pages))


def test_listing_stops_on_an_empty_page_after_a_full_one(casavi):
    casavi.tickets = [ticket(n) for n in range(1, 26)]
    assert len(list(casavi.client().list_tickets())) == 25
    pages = listed_pages(casavi)
    assert pages[0] == 1 and {1, 2} <= set(pages) <= {1, 2, 3}  # 3 read ahead with 2


def test_a_listing_of_one_short_page_is_one_request(casavi):
    """An idle poll's listing: no page is read ahead before page 1 proved full."""
    casavi.tickets = [ticket(n) for n in range(1, 25)]
    assert len(list(casavi.client().list_tickets())) == 24
    assert listed_pages(casavi) == [1]


def test_a_long_listing_reads_pages_ahead_in_order_and_few_past_its_end(casavi):
    casavi.tickets = [ticket(n) for n in range(1, 25 * 40 + 8)]  # 40 full pages and a short one
    in_flight, most = [0], [0]
    lock = threading.Lock()
    page = casavi.routes.get(("GET", "/tickets"))

    def slow_page(request: httpx.Request) -> httpx.Response:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.01)
        try:
            return page(request) if page else casavi._ticket_page(request)
        finally:
            with lock:
                in_flight[0] -= 1

    casavi.routes[("GET", "/tickets")] = slow_page
    tickets = list(casavi.client().list_tickets())
    assert [t.ticket_id for t in tickets] == [f"T-{n}" for n in range(1, 25 * 40 + 8)]
    pages = listed_pages(casavi)
    assert pages[0] == 1 and set(range(1, 42)) <= set(pages)
    assert len(pages) <= 41 + LISTING_READ_AHEAD - 1  # the dropped pages past the short one
    assert 2 <= most[0] <= LISTING_READ_AHEAD  # pages were read together, never more than that


def test_a_failed_page_read_ahead_fails_the_listing_after_the_pages_before_it(casavi):
    casavi.tickets = [ticket(n) for n in range(1, 25 * 6 + 1)]

    def page_five_fails(request: httpx.Request) -> httpx.Response:
        if request.url.params["page"] == "5":
            return httpx.Response(400, json={"message": "bad page"})
        return casavi._ticket_page(request)

    casavi.routes[("GET", "/tickets")] = page_five_fails
    seen: list[str] = []
    with pytest.raises(BridgeError, match="bad page"):
        for entry in casavi.client().list_tickets():
            seen.append(entry.ticket_id)
    assert seen == [f"T-{n}" for n in range(1, 25 * 4 + 1)]  # pages 1-4, in order


def test_a_page_read_ahead_that_failed_is_read_again_when_needed(casavi):
    """A page read ahead gets one attempt; the listing reads it again, with the retries, when
    it comes to it: the listing completes, and nothing keeps retrying behind a listing."""
    casavi.tickets = [ticket(n) for n in range(1, 25 * 4 + 3)]
    failed: list[int] = []

    def page_three_fails_once(request: httpx.Request) -> httpx.Response:
        if request.url.params["page"] == "3" and not failed:
            failed.append(3)
            return httpx.Response(503, json={"message": "busy"})
        return casavi._ticket_page(request)

    casavi.routes[("GET", "/tickets")] = page_three_fails_once
    tickets = list(casavi.client().list_tickets())
    assert [t.ticket_id for t in tickets] == [f"T-{n}" for n in range(1, 25 * 4 + 3)]
    assert failed == [3] and listed_pages(casavi).count(3) == 2


@pytest.mark.parametrize("token_due", [False, True], ids=["token-valid", "token-due-with-the-pause"])
def test_pages_are_not_read_ahead_while_casavi_asks_for_a_pause(casavi, token_due):
    """Page 3, read ahead, is answered 429 with Retry-After; the pages asked for ahead after it
    are not sent behind the pause, and no thread but the listing's own sleeps it out — also
    when the token falls due with the pause (its refresh would wait for the pause too): the
    listing reads those pages in turn, after its own wait, and completes."""
    casavi.tickets = [ticket(n) for n in range(1, 25 * 8 + 3)]  # 8 full pages and a short one
    sleepers: list[str] = []
    policy = HttpPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, concurrency=8, timeout=5,
                        sleep=lambda s: (sleepers.append(threading.current_thread().name), time.sleep(s)))
    limited: list[int] = []

    def pages(request: httpx.Request) -> httpx.Response:
        page = request.url.params["page"]
        if page == "3" and not limited:
            limited.append(3)
            if token_due:
                casavi.clock.now += casavi.token_lifetime  # the next request refreshes it first
            return httpx.Response(429, headers={"Retry-After": "1"}, json={"message": "slow down"})
        if page == "2":  # answered once page 3's pause is in force: pages 4-6 are asked for in it
            deadline = time.monotonic() + 5
            while policy.not_before("casavi.test") is None and time.monotonic() < deadline:
                time.sleep(0.005)
        return casavi._ticket_page(request)

    casavi.routes[("GET", "/tickets")] = pages
    tickets = list(casavi.client(policy=policy).list_tickets())
    assert [t.ticket_id for t in tickets] == [f"T-{n}" for n in range(1, 25 * 8 + 3)]
    assert limited == [3] and set(sleepers) <= {threading.main_thread().name}  # only the listing waited
    listed = listed_pages(casavi)
    assert listed.count(3) == 2 and all(listed.count(n) == 1 for n in range(4, 7))  # 4-6 not sent in the pause
    assert set(range(1, 10)) <= set(listed) and len(listed) <= 10 + LISTING_READ_AHEAD - 1


def test_no_page_is_read_ahead_with_the_last_requests_of_the_budget(casavi):
    """A budget that holds the login, the listing's own pages and three ticket reads: the pages
    read ahead past the listing's end do not take the reads' share."""
    casavi.tickets = [ticket(n) for n in range(1, 25 * 7 + 3)]  # 7 full pages and a short one
    policy = HttpPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, concurrency=8, timeout=5,
                        request_budget=1 + 8 + 3, sleep=lambda s: None)  # the login, pages 1-8, 3 reads
    client = casavi.client(policy=policy)
    tickets = list(client.list_tickets())
    assert [t.ticket_id for t in tickets] == [f"T-{n}" for n in range(1, 25 * 7 + 3)]
    assert sorted(listed_pages(casavi)) == list(range(1, 9))  # each page once, none past the end
    assert policy.budget_left == 3  # the reads' share is still there


def test_pages_are_read_ahead_while_the_budget_has_room(casavi):
    casavi.tickets = [ticket(n) for n in range(1, 25 * 7 + 3)]
    policy = HttpPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, concurrency=8, timeout=5,
                        request_budget=1000, sleep=lambda s: None)
    assert len(list(casavi.client(policy=policy).list_tickets())) == 25 * 7 + 2
    assert len(listed_pages(casavi)) > 8  # pages past the short one were asked for ahead


def test_a_consumer_that_stops_early_leaves_no_page_waiting(casavi):
    casavi.tickets = [ticket(n) for n in range(1, 25 * 10 + 1)]
    listing = casavi.client().list_tickets()
    first = [next(listing) for _ in range(30)]
    listing.close()
    assert [t.ticket_id for t in first] == [f"T-{n}" for n in range(1, 31)]
    assert len(listed_pages(casavi)) <= 2 + LISTING_READ_AHEAD


def test_a_page_that_repeats_the_previous_one_stops_the_listing(casavi):
    full_page = [ticket(n) for n in range(1, 26)]
    casavi.routes[("GET", "/tickets")] = lambda r: httpx.Response(200, json=full_page)
    seen = []
    with pytest.raises(PaginationError, match="repeats"):
        for entry in casavi.client().list_tickets():
            seen.append(entry.ticket_id)
    assert len(seen) == 25  # the first page, once


def test_a_listing_beyond_the_page_limit_stops(casavi):
    counter = iter(range(10**6))

    def endless(request):
        return httpx.Response(200, json=[ticket(next(counter)) for _ in range(25)])

    casavi.routes[("GET", "/tickets")] = endless
    with pytest.raises(PaginationError, match="more than 4 pages"):
        list(casavi.client(max_pages=4).list_tickets())


def test_a_ticket_modified_during_the_listing_does_not_make_another_one_be_missed(casavi):
    # casavi lists by lastModified: T-3 modified after page 1 moves to the end, T-26 moves up
    # onto page 1 (already read); the client notices T-3 twice and reads the list again.
    casavi.tickets = [ticket(n) for n in range(1, 41)]
    original = casavi._ticket_page

    def moving(request):
        answer = original(request)
        if request.url.params.get("page") == "1" and casavi.tickets[2]["id"] == "T-3":
            moved = dict(casavi.tickets.pop(2), lastModified="2030-01-01T00:00:00.000Z")
            casavi.tickets.append(moved)
        return answer

    casavi.routes[("GET", "/tickets")] = moving
    entries = list(casavi.client().list_tickets())
    assert {e.ticket_id for e in entries} == {f"T-{n}" for n in range(1, 41)}
    assert [e.last_modified for e in entries if e.ticket_id == "T-3"][-1] == "2030-01-01T00:00:00.000Z"
    assert len(entries) == 41  # T-3 twice: the old and the new version, nothing else repeated


def test_filters_go_into_the_query_in_the_api_format(casavi):
    since = datetime(2024, 5, 1, 12, 0, 0, 5000, tzinfo=timezone.utc)
    list(casavi.client().list_tickets(date=since, property_id="P-1", unit_id="U/1",
                                      statuses=["OPEN", "INPROGRESS"]))
    params = casavi.requests[-1].url.params
    assert params["date"] == "2024-05-01T12:00:00.005Z"
    assert (params["propertyId"], params["unitId"]) == ("P-1", "U/1")
    assert params.get_list("status") == ["OPEN", "INPROGRESS"]


def test_a_bad_ticket_is_reported_in_place_and_the_page_goes_on(casavi):
    casavi.tickets = [ticket(1), {"title": "no id"}, ticket(3, reportedAt="Invalid Date", number=3)]
    entries = list(casavi.client().list_tickets())
    assert [type(e) for e in entries] == [Ticket, TicketParseError, Ticket]
    assert entries[2].number == "3" and entries[2].reported_at is None


def test_an_answer_that_is_not_json_is_a_retriable_malformed_payload(casavi):
    casavi.routes[("GET", "/tickets")] = lambda r: httpx.Response(200, text="<html>proxy</html>")
    with pytest.raises(MalformedPayloadError):
        list(casavi.client().list_tickets())
    assert issubclass(MalformedPayloadError, RetriableError)


def test_ids_are_percent_encoded_as_one_path_segment(casavi):
    casavi.routes[("GET", "/tickets/A/B 1")] = lambda r: httpx.Response(200, json=ticket(1, id="A/B 1"))
    assert casavi.client().get_ticket("A/B 1").ticket_id == "A/B 1"
    assert casavi.requests[-1].url.raw_path == b"/v1/tickets/A%2FB%201"


# -- writes and their retry rules --------------------------------------------------------------


def test_a_comment_with_our_id_is_repeated_after_a_5xx_and_409_means_it_exists(casavi):
    casavi.fail_next = [httpx.Response(503)]
    casavi.routes[("POST", "/tickets/T-1/comments")] = lambda r: httpx.Response(409, json={"message": "exists"})
    with pytest.raises(ConflictError):
        casavi.client().create_comment("T-1", "hello", comment_id="jira-10042-c-10311")
    assert len(casavi.paths("POST")) == 3  # login, the 503, the repeat answered 409
    body = json.loads(casavi.bodies[-1])
    assert body == {"id": "jira-10042-c-10311", "text": "hello", "isInternal": False, "fallbackToAccount": True}


def test_a_comment_without_id_is_not_repeated_after_a_5xx(casavi):
    casavi.fail_next = [httpx.Response(503)]
    with pytest.raises(RetriableError):
        casavi.client().create_comment("T-1", "hello")
    assert casavi.paths("POST") == ["/v1/authenticate", "/v1/tickets/T-1/comments"]


def test_comment_fields_and_file_ids_are_sent_as_the_api_types(casavi):
    casavi.routes[("POST", "/tickets/T-1/comments")] = lambda r: httpx.Response(201, json={})
    comment = casavi.client().create_comment("T-1", "see file", comment_id="c-1", is_internal=True,
                                             author_email="a@b.de", attachments=["345", 7])
    body = json.loads(casavi.bodies[-1])
    assert body["attachments"] == [345, 7] and body["isInternal"] is True and body["authorEmail"] == "a@b.de"
    assert comment.comment_id == "c-1"  # the document's answer is {}: what we sent exists


def test_update_ticket_puts_the_fields_with_the_comment_shorthand(casavi):
    casavi.routes[("PUT", "/tickets/T-1")] = lambda r: httpx.Response(200, json={**json.loads(r.content), "lastModified": "2024-01-01T00:00:00.000Z"})
    updated = casavi.client().update_ticket("T-1", {"title": "x", "propertyId": "P-1", "status": "CLOSED"},
                                            comment="done")
    assert json.loads(casavi.bodies[-1]) == {"id": "T-1", "title": "x", "propertyId": "P-1",
                                             "status": "CLOSED", "comment": "done"}
    assert updated.last_modified == "2024-01-01T00:00:00.000Z"


def test_tasks_are_created_read_updated_and_deleted_on_their_paths(casavi):
    task = {"id": "jira-1-t-2", "title": "Fix", "status": "OPEN", "createdAt": "2016-08-05T23:30:00Z,"}
    casavi.routes[("POST", "/tickets/T-1/tasks")] = lambda r: httpx.Response(201, json=task)
    casavi.routes[("GET", "/tickets/T-1/tasks/jira-1-t-2")] = lambda r: httpx.Response(200, json=task)
    casavi.routes[("PUT", "/tickets/T-1/tasks/jira-1-t-2")] = lambda r: httpx.Response(200, json={**task, "status": "COMPLETED"})
    casavi.routes[("DELETE", "/tickets/T-1/tasks/jira-1-t-2")] = lambda r: httpx.Response(204)
    client = casavi.client()
    assert client.create_task("T-1", "jira-1-t-2", "Fix").task_id == "jira-1-t-2"
    assert client.get_task("T-1", "jira-1-t-2").created_at is not None
    assert client.update_task("T-1", "jira-1-t-2", title="Fix", status="COMPLETED").status == "COMPLETED"
    assert json.loads(casavi.bodies[-1]) == {"id": "jira-1-t-2", "title": "Fix", "status": "COMPLETED"}
    client.delete_task("T-1", "jira-1-t-2")
    assert casavi.requests[-1].method == "DELETE"

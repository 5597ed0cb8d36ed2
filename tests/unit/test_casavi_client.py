"""The casavi client against a scripted casavi (httpx.MockTransport): auth, paging, files, writes."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from bridge.casavi.paths import MAX_FILE_BYTES
from bridge.casavi.parse import MalformedPayloadError, Ticket, TicketParseError
from bridge.casavi.session import PaginationError
from bridge.errors import AuthError, ConflictError, NotFoundError, PayloadTooLargeError, RetriableError
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


def test_listing_reads_every_page_until_a_short_one(casavi):
    casavi.tickets = [ticket(n) for n in range(1, 54)]
    tickets = list(casavi.client().list_tickets())
    assert [t.ticket_id for t in tickets] == [f"T-{n}" for n in range(1, 54)]
    pages = [r.url.params["page"] for r in casavi.requests if r.url.path == "/v1/tickets"]
    assert pages == ["1", "2", "3"]


def test_listing_stops_on_an_empty_page_after_a_full_one(casavi):
    casavi.tickets = [ticket(n) for n in range(1, 26)]
    assert len(list(casavi.client().list_tickets())) == 25
    assert [r.url.params["page"] for r in casavi.requests if r.url.path == "/v1/tickets"] == ["1", "2"]


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
    casavi.routes[("GET", "/tickets/A%2FB 1")] = lambda r: httpx.Response(200, json=ticket(1))
    with pytest.raises(NotFoundError):
        casavi.client().get_ticket("A/B 1")
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


# -- files ------------------------------------------------------------------------------------


def test_a_file_over_10_mb_is_refused_before_anything_is_sent(casavi, tmp_path):
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(PayloadTooLargeError, match="at most 10 MB"):
        casavi.client().upload_file(big, "big.bin", "application/octet-stream")
    assert casavi.requests == []


def test_upload_streams_the_file_with_its_name_type_and_length(casavi, tmp_path):
    data = bytes(range(256)) * 1000
    source = tmp_path / "leak.jpg"
    source.write_bytes(data)
    casavi.routes[("POST", "/files")] = lambda r: httpx.Response(201, json={"id": 345})
    assert casavi.client().upload_file(source, "Wasserschaden Küche.jpg", "image/jpeg") == "345"
    upload = casavi.requests[-1]
    assert casavi.bodies[-1] == data
    assert upload.headers["Content-Type"] == "image/jpeg"
    assert upload.headers["Content-Length"] == str(len(data))
    assert upload.headers["X-Filename"] == "Wasserschaden K%C3%BCche.jpg"
    assert "Transfer-Encoding" not in upload.headers


def test_an_upload_is_not_repeated_after_a_5xx(casavi, tmp_path):
    source = tmp_path / "a.txt"
    source.write_text("x")
    casavi.fail_next = [httpx.Response(503)]
    with pytest.raises(RetriableError):
        casavi.client().upload_file(source, "a.txt", "text/plain")
    assert casavi.paths("POST").count("/v1/files") == 1


def test_an_upload_is_repeated_with_the_whole_body_when_the_connection_failed(casavi, tmp_path):
    source = tmp_path / "a.txt"
    source.write_bytes(b"0123456789" * 10_000)
    failed = []

    def flaky(request):
        if not failed:
            failed.append(True)
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(201, json={"id": 9})

    casavi.routes[("POST", "/files")] = flaky
    assert casavi.client().upload_file(source, "a.txt", "text/plain") == "9"
    assert casavi.bodies[-1] == source.read_bytes()


def test_download_streams_to_disk_following_an_absolute_url(casavi, tmp_path):
    casavi.routes[("GET", "/files/345")] = lambda r: httpx.Response(200, content=b"jpeg-bytes" * 1000)
    dest = tmp_path / "out.jpg"
    assert casavi.client().download_file(f"{BASE}/files/345", dest) == 10_000
    assert dest.read_bytes() == b"jpeg-bytes" * 1000
    assert not (tmp_path / "out.jpg.part").exists()
    assert casavi.requests[-1].headers["token"] == "tok-1"


@pytest.mark.parametrize("reference", ["345", "/files/345", "/v1/files/345"])
def test_download_accepts_an_id_or_a_relative_path(casavi, tmp_path, reference):
    casavi.routes[("GET", "/files/345")] = lambda r: httpx.Response(200, content=b"x")
    casavi.client().download_file(reference, tmp_path / "f")
    assert casavi.requests[-1].url == httpx.URL(f"{BASE}/files/345")


def test_the_token_never_travels_to_another_host_even_through_a_redirect(casavi, tmp_path):
    casavi.routes[("GET", "/files/345")] = lambda r: httpx.Response(
        302, headers={"Location": "https://storage.test/blob/345"})
    original = casavi.__call__

    def with_storage(request):
        if request.url.host == "storage.test":
            casavi.requests.append(request)
            return httpx.Response(200, content=b"blob")
        return original(request)

    from bridge.casavi.client import CasaviClient
    from bridge.http import HttpPolicy

    client = CasaviClient(BASE, KEY, SECRET, policy=HttpPolicy(sleep=lambda s: None),
                          transport=httpx.MockTransport(with_storage), clock=casavi.clock)
    client.download_file("345", tmp_path / "f")
    assert (tmp_path / "f").read_bytes() == b"blob"
    assert casavi.requests[-1].url.host == "storage.test"
    assert "token" not in casavi.requests[-1].headers


def test_a_failed_download_leaves_no_file_behind(casavi, tmp_path):
    dest = tmp_path / "f"
    with pytest.raises(NotFoundError):
        casavi.client().download_file("999", dest)
    assert list(tmp_path.iterdir()) == []


# -- properties, units, contacts, staff, hooks ----------------------------------------------------


def test_properties_are_read_across_pages_by_page_count(casavi):
    def page(request):
        number = int(request.url.params["page"])
        rows = [{"id": f"P-{number}-{i}", "name": "x", "postalCode": 80331} for i in range(2)]
        return httpx.Response(200, json={"count": 6, "page": number, "pageCount": 3, "rows": rows})

    casavi.routes[("GET", "/properties")] = page
    properties = list(casavi.client().list_properties())
    assert len(properties) == 6 and properties[0].postal_code == "80331"
    assert [r.url.params["page"] for r in casavi.requests[1:]] == ["1", "2", "3"]


def test_property_units_are_paged_from_zero(casavi):
    def page(request):
        number = int(request.url.params["page"])
        return httpx.Response(200, json={"page": number, "pageCount": 2, "rows": [{"id": f"U-{number}"}]})

    casavi.routes[("GET", "/properties/P-1/units")] = page
    units = list(casavi.client().list_property_units("P-1"))
    assert [u.unit_id for u in units] == ["U-0", "U-1"]
    assert [r.url.params["page"] for r in casavi.requests[1:]] == ["0", "1"]


def test_single_records_are_read_from_their_paths(casavi):
    casavi.routes[("GET", "/properties/P-1")] = lambda r: httpx.Response(200, json={"id": "P-1", "name": "Easy Living"})
    casavi.routes[("GET", "/units/U-1")] = lambda r: httpx.Response(200, json={"id": "U-1", "name": "Unit 1"})
    casavi.routes[("GET", "/contacts/C-1")] = lambda r: httpx.Response(200, json={"id": "C-1", "firstName": "Joe"})
    casavi.routes[("GET", "/staff/M-1")] = lambda r: httpx.Response(200, json={"id": "M-1", "role": "MANAGER"})
    casavi.routes[("GET", "/contacts")] = lambda r: httpx.Response(200, json=[{"id": "C-1"}, {"bad": 1}])
    casavi.routes[("GET", "/staff")] = lambda r: httpx.Response(200, json=[{"id": "M-1"}])
    client = casavi.client()
    assert client.get_property("P-1").name == "Easy Living"
    assert client.get_unit("U-1").name == "Unit 1"
    assert client.get_contact("C-1").display_name == "Joe"
    assert client.get_staff_member("M-1").role == "MANAGER"
    assert [c.contact_id for c in client.list_contacts()] == ["C-1"]
    assert [s.staff_id for s in client.list_staff()] == ["M-1"]


def test_hook_id_comes_from_the_answer_or_its_location_header(casavi):
    casavi.routes[("POST", "/hooks")] = lambda r: httpx.Response(201, headers={"Location": f"{BASE}/hooks/11"})
    casavi.routes[("DELETE", "/hooks/11")] = lambda r: httpx.Response(204)
    client = casavi.client()
    assert client.subscribe_hook("contact_created", "https://example.test/hook") == "11"
    client.delete_hook("11")
    assert casavi.requests[-1].url.path == "/v1/hooks/11"


def test_close_is_safe_before_and_after_use(casavi, tmp_path: Path):
    client = casavi.client()
    client.close()
    with client:
        list(client.list_tickets())
    list(client.list_tickets())  # a closed client opens a new connection pool on demand

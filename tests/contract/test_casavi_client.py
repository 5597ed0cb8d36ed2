"""The casavi client and source against the casavi sandbox over real sockets.

Every endpoint of the path table, paging across many pages, each filter, token expiry in the
middle of a listing, 401 → one fresh login, 429 + Retry-After, 5xx, timeouts, 413 and 409 —
plus the document's payload quirks served through a transport that rewrites real answers.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.casavi.client import CasaviClient
from bridge.casavi.parse import Ticket, TicketParseError
from bridge.casavi.paths import MAX_FILE_BYTES
from bridge.casavi.source import CasaviSource
from bridge.errors import AuthError, ConflictError, NotFoundError, PayloadTooLargeError, RetriableError
from bridge.http import HttpPolicy
from bridge.model import SourceRef
from bridge.source import ParseProblem, SourceSummary


class Waits:
    """The policy's sleep: records each wait and sleeps a tiny real fraction of it."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)


def client_for(sandbox, *, waits: Waits | None = None, transport=None, timeout: float = 5.0,
               **policy_args: Any) -> CasaviClient:
    args = dict(max_attempts=4, base_delay=0.01, max_delay=0.05, concurrency=4, request_budget=0, timeout=timeout)
    args.update(policy_args)
    policy = HttpPolicy(**args, sleep=waits or Waits())
    return CasaviClient(sandbox.casavi_url, sandbox.casavi_key, sandbox.casavi_secret, policy=policy,
                        transport=transport, timeout=timeout)


def control(sandbox, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, sandbox.casavi_root + "/_sandbox" + path, json=body, timeout=5)
    response.raise_for_status()
    return response.json() if response.content else None


def stats(sandbox) -> dict[str, Any]:
    return control(sandbox, "GET", "/stats")


def faults(sandbox, **knobs: Any) -> None:
    control(sandbox, "POST", "/fault", knobs)


def tickets_only(entries) -> list[Ticket]:
    entries = list(entries)
    assert all(isinstance(e, Ticket) for e in entries), [e for e in entries if not isinstance(e, Ticket)]
    return entries


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
    sandbox = start_casavi_sandbox(tickets=260, token_ttl_seconds=0.3, latency_ms=40)
    ids = [t.ticket_id for t in tickets_only(client_for(sandbox).list_tickets())]
    assert len(ids) == len(set(ids)) == 260
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
    assert stats(sandbox)["requests"]["GET /tickets"] == 41  # 40 full pages and one short one


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


def test_an_upload_is_not_repeated_after_a_server_error(casavi_sandbox, tmp_path):
    client = client_for(casavi_sandbox)
    client.check()
    files_before = control(casavi_sandbox, "GET", "/info")["counts"]["files"]
    source = tmp_path / "a.txt"
    source.write_text("x")
    faults(casavi_sandbox, force_status=503, force_count=1)
    with pytest.raises(RetriableError):
        client.upload_file(source, "a.txt", "text/plain")
    assert stats(casavi_sandbox)["requests"]["POST /files"] == 1
    assert control(casavi_sandbox, "GET", "/info")["counts"]["files"] == files_before


def test_a_file_over_10_mb_is_refused_before_sending(casavi_sandbox, tmp_path):
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(PayloadTooLargeError, match="10 MB"):
        client_for(casavi_sandbox).upload_file(big, "big.bin", "application/octet-stream")
    assert "POST /files" not in stats(casavi_sandbox)["requests"]


def test_exactly_10_mb_is_accepted_and_a_413_from_casavi_is_payload_too_large(casavi_sandbox, tmp_path):
    client = client_for(casavi_sandbox)
    limit = tmp_path / "limit.bin"
    limit.write_bytes(b"\0" * MAX_FILE_BYTES)
    assert client.upload_file(limit, "limit.bin", "application/octet-stream")
    faults(casavi_sandbox, force_status=413, force_count=1)
    with pytest.raises(PayloadTooLargeError):
        client.upload_file(limit, "limit.bin", "application/octet-stream")


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
    comments = [c for c in client.get_ticket("T-00002").comments if c.comment_id == "jira-1-c-1"]
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
    assert [c.text for c in fetched.comments] == ["Wir kümmern uns."]
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


def test_files_go_up_attach_to_a_comment_and_come_back_down_intact(casavi_sandbox, tmp_path):
    client = client_for(casavi_sandbox)
    data = bytes(range(256)) * 4000
    source = tmp_path / "foto.jpg"
    source.write_bytes(data)
    file_id = client.upload_file(source, "Wasserschaden Küche.jpg", "image/jpeg")
    client.create_comment("T-00005", "Foto anbei", comment_id="jira-5-c-1", attachments=[file_id])
    detail = next(a for a in client.get_ticket("T-00005").attachment_details if a.file_id == file_id)
    assert (detail.name, detail.content_type, detail.size) == ("Wasserschaden Küche.jpg", "image/jpeg", len(data))
    dest = tmp_path / "back.jpg"
    assert client.download_file(detail.url, dest) == len(data)
    assert dest.read_bytes() == data
    client.download_file(file_id, tmp_path / "by-id.jpg")
    assert (tmp_path / "by-id.jpg").read_bytes() == data


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


def test_properties_contacts_and_staff_are_read_across_pages(start_casavi_sandbox):
    sandbox = start_casavi_sandbox(tickets=1300)
    client = client_for(sandbox)
    counts = control(sandbox, "GET", "/info")["counts"]
    properties = list(client.list_properties())
    contacts = list(client.list_contacts())
    staff = list(client.list_staff())
    assert (len(properties), len(contacts), len(staff)) == (counts["properties"], counts["contacts"], counts["staff"])
    assert counts["properties"] > 25 and counts["contacts"] > 25
    assert len({p.property_id for p in properties}) == len(properties)
    assert all(p.postal_code is None or isinstance(p.postal_code, str) for p in properties)
    requested = stats(sandbox)["requests"]
    assert requested["GET /properties"] == 2


def test_units_of_a_property_are_paged_from_zero_and_single_records_are_read(casavi_sandbox):
    client = client_for(casavi_sandbox)
    prop = next(iter(client.list_properties()))
    units = list(client.list_property_units(prop.property_id, include_inactive_contracts=True))
    expected = [u["id"] for u in casavi_sandbox.casavi.store.units_of(prop.property_id)]
    assert [u.unit_id for u in units] == expected and units
    assert client.get_property(prop.property_id).name == prop.name
    assert client.get_unit(units[0].unit_id).unit_id == units[0].unit_id
    contact = next(iter(client.list_contacts()))
    assert client.get_contact(contact.contact_id).display_name == contact.display_name
    member = next(iter(client.list_staff()))
    assert client.get_staff_member(member.staff_id).email == member.email
    with pytest.raises(NotFoundError):
        client.get_unit("no-such-unit")


def test_hooks_are_subscribed_and_deleted(casavi_sandbox):
    client = client_for(casavi_sandbox)
    hook_id = client.subscribe_hook("contact_created", "https://bridge.example/hook")
    client.delete_hook(hook_id)
    with pytest.raises(NotFoundError):
        client.delete_hook(hook_id)


# -- the source on the sandbox -------------------------------------------------------------------


def test_source_item_resolves_names_and_writes_status_back(casavi_sandbox):
    client = client_for(casavi_sandbox)
    source = CasaviSource(client)
    summary = next(s for s in source.changed_since(None) if isinstance(s, SourceSummary))
    item = source.get(summary.ref)
    facts = dict(item.facts)
    prop = client.get_property(item.property_id)
    assert facts["Property"] == f"{prop.property_id} {prop.name}"
    assert item.version == summary.version
    new_status = "CLOSED" if item.status != "CLOSED" else "OPEN"
    version = source.set_status(summary.ref, new_status)
    after = client.get_ticket(summary.ref.item_id)
    assert after.status == new_status and version == after.last_modified != item.version
    assert after.title == item.title and after.property_id == item.property_id


def test_source_sweep_and_changed_since_cover_every_status(listing_sandbox, all_tickets):
    source = CasaviSource(client_for(listing_sandbox))
    changed = [s for s in source.changed_since(None) if isinstance(s, SourceSummary)]
    assert {s.status for s in changed} == {t.status for t in all_tickets}
    swept = list(source.sweep(["PENDING"]))
    assert {s.status for s in swept} == {"PENDING"}


def test_source_writes_comments_and_tasks_with_our_ids(casavi_sandbox):
    source = CasaviSource(client_for(casavi_sandbox))
    ref = SourceRef("casavi", "T-00007")
    assert source.add_comment(ref, "jira-7-c-1", "**erledigt**", internal=True, author_email=None) == "jira-7-c-1"
    with pytest.raises(ConflictError):
        source.add_comment(ref, "jira-7-c-1", "**erledigt**", internal=True, author_email=None)
    assert source.add_task(ref, "jira-7-t-1", "Prüfen", "", "OPEN") == "jira-7-t-1"
    source.set_task_status(ref, "jira-7-t-1", "Prüfen", "DECLINED")
    item = source.get(ref)
    assert next(c for c in item.comments if c.comment_id == "jira-7-c-1").internal is True
    assert next(t for t in item.tasks if t.task_id == "jira-7-t-1").status == "DECLINED"


# -- the document's quirks, served from real answers ---------------------------------------------------


class QuirkyTransport(httpx.BaseTransport):
    """Passes requests to the sandbox and rewrites ticket answers the way the document allows:
    ``number`` as integer, ``reportedAt`` "Invalid Date", task dates with trailing commas,
    unknown statuses and fields, and two unreadable entries on the first ticket page."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        path = request.url.path
        if request.method != "GET" or not path.startswith("/v1/tickets") or response.status_code != 200:
            return response
        payload = json.loads(response.read())
        if isinstance(payload, list):
            payload = [self._mangle(t) for t in payload]
            if request.url.params.get("page") == "1":
                payload = [{"title": "no id"}, "not an object", *payload]
        elif isinstance(payload, dict):
            payload = self._mangle(payload)
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")}
        return httpx.Response(200, headers=headers, json=payload)

    @staticmethod
    def _mangle(ticket: dict[str, Any]) -> dict[str, Any]:
        ticket = dict(ticket, reportedAt="Invalid Date", brandNewField={"x": 1})
        if str(ticket.get("number", "")).isdigit():
            ticket["number"] = int(ticket["number"])
        if ticket.get("internalId", 0) % 3 == 0:
            ticket["status"] = "ARCHIVED"
        ticket["tasks"] = [dict(t, createdAt="2016-08-05T23:30:00Z,") for t in ticket.get("tasks", [])]
        return ticket


def test_quirky_payloads_are_read_and_bad_entries_reported_in_place(casavi_sandbox):
    source = CasaviSource(client_for(casavi_sandbox, transport=QuirkyTransport()))
    entries = list(source.changed_since(None))
    problems = [e for e in entries if isinstance(e, ParseProblem)]
    summaries = [e for e in entries if isinstance(e, SourceSummary)]
    assert len(problems) == 2 and len(summaries) == 60
    assert "ARCHIVED" in {s.status for s in summaries}
    item = next(source.get(s.ref) for s in summaries if s.status != "ARCHIVED")
    assert dict(item.facts)["casavi number"].isdigit()
    assert all(isinstance(c.text, str) for c in item.comments)
    ticket = source.client.get_ticket(summaries[0].ref.item_id)
    assert ticket.reported_at is None and ticket.extra["brandNewField"] == {"x": 1}
    assert all(t.created_at == datetime(2016, 8, 5, 23, 30, tzinfo=timezone.utc) for t in ticket.tasks)


def test_budget_stops_a_listing_partway(start_casavi_sandbox):
    from bridge.errors import BudgetExceededError

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


def test_download_to_disk_does_not_leave_a_partial_file_on_404(casavi_sandbox, tmp_path: Path):
    with pytest.raises(NotFoundError):
        client_for(casavi_sandbox).download_file("999999", tmp_path / "missing")
    assert list(tmp_path.iterdir()) == []

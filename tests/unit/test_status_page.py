"""The status page over a real ledger, served on a real listener: what it shows, what it hides,
and who may reschedule a quarantined item."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from bridge.errors import FatalError, RetriableError
from bridge.metrics import Metrics
from bridge.secrets import Secret
from bridge.state.db import migrate, open_engine
from bridge.state.ledger import Ledger
from bridge.statuspage.app import StatusPage
from bridge.statuspage.views import CheckFindings, Tenant

TOKEN = "s3cr3t-admin-token-value"
CASAVI_SECRET = "casavi-secret-in-an-error-0815"


@pytest.fixture
def ledger(state_url) -> Ledger:
    """On SQLite and on PostgreSQL (the page reads the ledger, and "retry now" writes it)."""
    engine = open_engine(state_url)
    migrate(engine)
    return Ledger(engine)


@pytest.fixture
def serve(ledger):
    started: list[Metrics] = []

    def start(admin_token: str | None = TOKEN, findings: list[str] | None = None) -> httpx.Client:
        checks = CheckFindings()
        if findings is not None:
            checks.update(findings)
        tenant = Tenant(name="hausverwaltung-nord", source="casavi", tool="jira", ledger=ledger, max_attempts=3,
                        findings=checks)
        metrics = Metrics(interval_seconds=30)
        metrics.pages = StatusPage(lambda: [tenant], admin_token=Secret(admin_token) if admin_token else None)
        host, port = metrics.start("127.0.0.1", 0)
        started.append(metrics)
        return httpx.Client(base_url=f"http://{host}:{port}", timeout=10, follow_redirects=False)

    yield start
    for metrics in started:
        metrics.stop()


def fill(ledger: Ledger) -> None:
    ledger.record_link(kind="ticket", item_key="casavi:T-1", source_id=None, target_id="10001", display_id="OPS-1")
    ledger.record_link(kind="ticket", item_key="casavi:T-2", source_id=None, target_id="10002", display_id="OPS-2")
    ledger.quarantine("casavi:T-1", RetriableError(f"casavi answered 503 (key {CASAVI_SECRET})"), item_version=None)
    ledger.quarantine("casavi:T-9", FatalError("jira refused: <script>alert(1)</script> summary too long"),
                      item_version=None)
    ledger.record_conflict("casavi:T-2", "status", "Mieterin schreibt: Heizung kaputt", "In Arbeit", "casavi_wins",
                           "casavi")
    ledger.mark_orphan("casavi:T-2", "target")
    run = ledger.start_run("pass")
    ledger.finish_run(run, "partial", {"candidates": 4, "ticket": 2}, 2)
    ledger.set_cursor("source:casavi", datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc),
                      datetime(2025, 3, 1, 8, 1, tzinfo=timezone.utc))


def test_the_page_shows_every_part_of_the_state(ledger, serve):
    from bridge.secrets import register_secret

    register_secret(CASAVI_SECRET)
    fill(ledger)
    client = serve(findings=["jira: status 'Pausiert' from the status map does not exist in the tool's workflow"])
    for path in ("/", "/status"):
        page = client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        html = page.text
        assert '<meta http-equiv="refresh" content="15">' in html
        assert "Tenant hausverwaltung-nord" in html
        assert "casavi:T-1" in html and "OPS-1" in html  # quarantined, linked
        assert "casavi:T-9" in html and "FatalError" in html
        assert "1 / 3" in html  # attempts of max_attempts
        assert "2 tickets" in html
        assert "source:casavi" in html and "2025-03-01 08:00:00 UTC" in html
        assert "partial" in html
        assert "status" in html and "casavi_wins" in html  # the conflict, without its values
        assert "Heizung kaputt" not in html and "In Arbeit" not in html
        assert "missing on" in html.lower() and "target" in html
        assert "Pausiert" in html
        # escaped, never markup; the secret inside an error is scrubbed
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert CASAVI_SECRET not in html and "[REDACTED]" in html
        assert TOKEN not in html
        assert "<script" not in html.replace("&lt;script", "")


def test_retry_needs_the_admin_token_and_only_reschedules(ledger, serve):
    fill(ledger)
    before = {q.item_key: q for q in ledger.quarantined()}
    assert before["casavi:T-1"].next_retry_at.replace(tzinfo=timezone.utc) > datetime.now(timezone.utc)
    client = serve()

    confirm = client.get("/retry", params={"tenant": "hausverwaltung-nord", "item": "casavi:T-1"})
    assert confirm.status_code == 200 and 'type="password" name="admin_token"' in confirm.text
    assert "http-equiv=\"refresh\"" not in confirm.text  # a typed token is not wiped

    form = {"tenant": "hausverwaltung-nord", "item": "casavi:T-1"}
    assert client.get("/retry", params={**form, "admin_token": TOKEN}).status_code == 200  # GET changes nothing
    assert client.post("/retry", data=form).status_code == 403
    assert client.post("/retry", data={**form, "admin_token": "wrong"}).status_code == 403
    assert client.post("/retry", data=form, headers={"Authorization": "Bearer nope"}).status_code == 403
    assert client.request("PUT", "/retry", data={**form, "admin_token": TOKEN}).status_code == 405
    assert client.post("/status", data={**form, "admin_token": TOKEN}).status_code == 405
    unchanged = {q.item_key: q for q in ledger.quarantined()}
    assert unchanged["casavi:T-1"].next_retry_at == before["casavi:T-1"].next_retry_at

    done = client.post("/retry", data={**form, "admin_token": TOKEN})
    assert done.status_code == 303 and done.headers["location"].startswith("status?retried=")
    after = {q.item_key: q for q in ledger.quarantined()}
    assert after["casavi:T-1"].next_retry_at.replace(tzinfo=timezone.utc) <= datetime.now(timezone.utc)
    assert after["casavi:T-1"].attempts == before["casavi:T-1"].attempts
    assert after["casavi:T-1"].error == before["casavi:T-1"].error
    assert after["casavi:T-9"].next_retry_at == before["casavi:T-9"].next_retry_at  # the other one untouched
    assert "due now" in client.get("/" + done.headers["location"]).text

    missing = client.post("/retry", data={"tenant": "hausverwaltung-nord", "item": "casavi:T-404", "admin_token": TOKEN})
    assert missing.status_code == 404
    other = client.post("/retry", data={"tenant": "elsewhere", "item": "casavi:T-9", "admin_token": TOKEN})
    assert other.status_code == 404


def test_wrong_tokens_from_one_address_are_slowed_to_ten_a_minute_and_then_even_the_right_one_waits(ledger, serve):
    fill(ledger)
    client = serve()
    form = {"tenant": "hausverwaltung-nord", "item": "casavi:T-1"}
    answers = [client.post("/retry", data={**form, "admin_token": f"guess-{n}"}).status_code for n in range(10)]
    assert answers == [403] * 10
    blocked = client.post("/retry", data={**form, "admin_token": "guess-10"})
    assert blocked.status_code == 429 and 1 <= int(blocked.headers["retry-after"]) <= 61
    assert "too many wrong admin tokens" in blocked.text
    by_header = client.post("/retry", data=form, headers={"Authorization": f"Bearer {TOKEN}"})
    assert by_header.status_code == 429 and "error" in by_header.json()  # fails closed for this address
    before = {q.item_key: q.next_retry_at for q in ledger.quarantined()}
    assert before["casavi:T-1"].replace(tzinfo=timezone.utc) > datetime.now(timezone.utc)  # nothing rescheduled
    assert client.get("/status").status_code == 200  # the page itself stays readable


def test_parallel_wrong_tokens_are_counted_before_any_more_is_compared(ledger, serve):
    from concurrent.futures import ThreadPoolExecutor

    fill(ledger)
    client = serve()
    form = {"tenant": "hausverwaltung-nord", "item": "casavi:T-1"}

    def guess(n: int) -> int:
        return client.post("/retry", data={**form, "admin_token": f"guess-{n}"}).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(guess, range(60)))
    assert sorted(answers) == [403] * 10 + [429] * 50


def test_retry_by_header_answers_json_and_gives_a_given_up_item_one_more_attempt(ledger, serve):
    for _ in range(4):
        ledger.quarantine("casavi:T-5", RetriableError("timeout"), item_version=None)
    assert ledger.due_for_retry(datetime.now(timezone.utc) + timedelta(days=1), 3) == []  # gave up
    client = serve()
    assert "gave up" in client.get("/status").text
    reply = client.post("/retry", data={"tenant": "hausverwaltung-nord", "item": "casavi:T-5"},
                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["attempts"] == 2
    assert ledger.due_for_retry(datetime.now(timezone.utc), 3) == ["casavi:T-5"]


def test_without_a_configured_token_retry_is_refused_and_the_page_says_so(ledger, serve):
    fill(ledger)
    client = serve(admin_token=None)
    assert "needs <code>[metrics] admin_token</code>" in client.get("/status").text
    refused = client.post("/retry", data={"tenant": "hausverwaltung-nord", "item": "casavi:T-1", "admin_token": ""})
    assert refused.status_code == 403 and "admin_token" in refused.text


def test_metrics_and_health_stay_where_they_were(serve):
    client = serve()
    metrics = client.get("/metrics").text
    assert "casavi_bridge_sync_interval_seconds 30.0" in metrics
    assert client.get("/healthz").status_code == 200
    assert client.get("/nothing-here").status_code == 404
    assert "Not checked yet" in client.get("/").text


def test_head_answers_headers_only(serve):
    client = serve()
    head = client.head("/status")
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 1000

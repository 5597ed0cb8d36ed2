"""The Jira connector against the Jira sandbox, Data Center and Cloud flavours, over real sockets.

The shared ConnectorContract runs once per flavour.  The tests below it pin down what is
particular to Jira: the marker travels in the creating request, restricted comments, JQL time
zones, no blind retries of a POST, sub-task changes surfacing as their parent, paging, upload
limits and credentials.  The sandboxes are shared per session: every test creates its own
issues, and a test that turns a sandbox knob gives it back.
"""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import httpx
import pytest
from jira import JIRA

from bridge.errors import AuthError, FatalError, NotFoundError, PayloadTooLargeError, RetriableError, SkippableError
from bridge.model import Comment, ItemDraft, Marker, StatusTarget, Task
from connectors.jira import JiraConnectorPlugin
from connectors.jira.client import JiraConnector
from connectors.jira.markup import wiki_to_markdown
from tests.contract.connector_contract import check_all, ConnectorContract, ToolStatuses, a_draft, unique_marker, whole
from tests.fixtures.jira_sandbox import TEST_ATTACHMENT_LIMIT, RunningJira

STATUSES = ToolStatuses("To Do", "In Progress", "Done", "Won't Do")
CREATE = "POST /rest/api/{version}/issue"
SET_PROPERTY = "PUT /rest/api/{version}/issue/{key}/properties/{name}"


@pytest.fixture
def tool_statuses() -> ToolStatuses:
    return STATUSES


def make_connector(sandbox: RunningJira, **overrides: Any) -> JiraConnector:
    settings = {"url": sandbox.url, "deployment": sandbox.mode, "user": sandbox.user, "token": sandbox.token,
                "project": sandbox.project, "internal_visibility": {"type": "role", "value": "Administrators"},
                "timeout": 10, **overrides}
    return JiraConnectorPlugin.create(JiraConnectorPlugin.settings_model.model_validate(settings))


class TestJiraConnectorDataCenter(ConnectorContract):
    @pytest.fixture
    def connector(self, jira_server_sandbox) -> JiraConnector:
        return make_connector(jira_server_sandbox)


class TestJiraConnectorCloud(ConnectorContract):
    @pytest.fixture
    def connector(self, jira_cloud_sandbox) -> JiraConnector:
        return make_connector(jira_cloud_sandbox)


class TestJiraConnectorDataCenterWithPersonalAccessToken(ConnectorContract):
    @pytest.fixture
    def connector(self, jira_server_sandbox) -> JiraConnector:
        return make_connector(jira_server_sandbox, user=None)  # Bearer <PAT>


# --- helpers -------------------------------------------------------------------------------

class Control:
    """The sandbox's /_sandbox endpoints: knobs, request counts, acting as a person in Jira."""

    def __init__(self, sandbox: RunningJira):
        self.sandbox = sandbox
        self.http = httpx.Client(base_url=sandbox.url, timeout=10)

    def knobs(self, **values: Any) -> dict[str, Any]:
        answer = self.http.post("/_sandbox/fault", json=values)
        answer.raise_for_status()
        return answer.json()

    def requests(self) -> dict[str, int]:
        return self.http.get("/_sandbox/stats").json()["requests"]

    def retry_after_violations(self) -> int:
        return self.http.get("/_sandbox/stats").json()["retry_after_violations"]

    def as_alice(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(f"/_sandbox/issues/{path}", json=body)
        answer.raise_for_status()
        return answer.json()

    def issue_count(self) -> int:
        return len(self.sandbox.store.issues())

    def wait_searchable(self) -> None:
        """Wait out the sandbox's search-index lag (Cloud's default: a few seconds), so what a
        person just did is found by a search, as on a real Jira after the same wait."""
        time.sleep(self.sandbox.store.options.effective_search_lag_ms / 1000 + 0.05)


@pytest.fixture(params=["server", "cloud"])
def sandbox(request: pytest.FixtureRequest) -> RunningJira:
    return request.getfixturevalue(f"jira_{request.param}_sandbox")


@pytest.fixture
def control(sandbox: RunningJira) -> Iterator[Control]:
    ctl = Control(sandbox)
    before = ctl.http.get("/_sandbox/fault").json()
    yield ctl
    ctl.knobs(**{k: v for k, v in before.items() if k != "seed"})
    ctl.http.close()


@pytest.fixture
def jira(sandbox: RunningJira) -> JiraConnector:
    return make_connector(sandbox)


def raw_client(sandbox: RunningJira) -> JIRA:
    client = JIRA(server=sandbox.url, basic_auth=sandbox.auth, get_server_info=True, max_retries=0, timeout=10)
    return client


def delta(before: dict[str, int], after: dict[str, int], key: str) -> int:
    return after.get(key, 0) - before.get(key, 0)


# --- markers -------------------------------------------------------------------------------

def test_marker_travels_in_the_creating_request(jira, control, sandbox):
    before = control.requests()
    created = jira.create(a_draft(STATUSES), marker := unique_marker())
    after = control.requests()
    assert delta(before, after, CREATE) == 1
    assert delta(before, after, SET_PROPERTY) == 0  # never set afterwards
    assert sandbox.store.issue(created.target_id).properties["casavi"] == marker.as_property()


def test_a_create_that_fails_after_the_post_leaves_an_issue_found_by_its_marker(jira, control):
    count = control.issue_count()
    draft = ItemDraft("Status gibt es nicht", "x", StatusTarget("Erledigt"))
    with pytest.raises(FatalError):
        jira.create(draft, marker := unique_marker())
    assert control.issue_count() == count + 1
    adopted = jira.find_by_marker(marker)
    assert adopted is not None and adopted.marker.item_id == marker.item_id


def test_sub_tasks_are_not_taken_for_the_ticket_and_a_second_source_is_kept_apart(jira):
    marker = unique_marker()
    created = jira.create(a_draft(STATUSES), marker)
    jira.add_sub_item(created.target_id, Task("T-1", "Rohr"), StatusTarget("To Do"), marker="T-1")
    assert jira.find_by_marker(marker).target_id == created.target_id
    assert jira.find_by_marker(Marker("relay", marker.item_id)) is None


# --- comments ------------------------------------------------------------------------------

def test_internal_comment_is_restricted_to_the_configured_role(jira, sandbox):
    created = jira.create(a_draft(STATUSES), unique_marker())
    written = jira.add_comment(created.target_id, Comment("c", "Nur intern", internal=True), marker="c-9")
    _, stored = sandbox.store.comment(created.target_id, written.target_id)
    assert stored.visibility == {"type": "role", "value": "Administrators"}
    assert stored.properties == {"casavi": {"commentId": "c-9"}}


def test_service_desk_internal_comments_use_the_sd_property(sandbox):
    jira = make_connector(sandbox, internal_visibility="service-desk")
    created = jira.create(a_draft(STATUSES), unique_marker())
    written = jira.add_comment(created.target_id, Comment("c", "Nur intern", internal=True), marker=None)
    _, stored = sandbox.store.comment(created.target_id, written.target_id)
    assert stored.visibility is None and stored.properties == {"sd.public.comment": {"internal": True}}
    comment = {c.comment_id: c for c in jira.get(created.target_id).comments}[written.target_id]
    assert comment.internal is True


def test_internal_comment_without_configured_visibility_is_refused_not_published(sandbox):
    jira = make_connector(sandbox, internal_visibility=None)
    created = jira.create(a_draft(STATUSES), unique_marker())
    with pytest.raises(SkippableError):
        jira.add_comment(created.target_id, Comment("c", "Geheim", internal=True), marker=None)
    assert jira.get(created.target_id).comments == ()


def test_every_comment_page_is_read(sandbox):
    jira = make_connector(sandbox, max_results=2)
    created = jira.create(a_draft(STATUSES), unique_marker())
    for n in range(5):
        jira.add_comment(created.target_id, Comment(f"c{n}", f"Nummer {n}", author="Anna"), marker=f"m{n}")
    comments = jira.get(created.target_id).comments
    assert [c.marker for c in comments] == ["m0", "m1", "m2", "m3", "m4"]
    assert comments[3].text == "Nummer 3" and comments[3].author == "Anna"


# --- time zones and incremental reads --------------------------------------------------------

def test_a_bare_utc_date_would_lose_updates_but_the_connector_does_not(jira, control, sandbox):
    control.knobs(jira_time_zone="America/New_York")  # the API user's profile zone
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    created = jira.create(a_draft(STATUSES), unique_marker())
    bare = since.strftime("%Y/%m/%d %H:%M")  # UTC wall clock without a zone
    client = raw_client(sandbox)
    jql = f'project = {sandbox.project} AND updated >= "{bare}"'
    found = (client.enhanced_search_issues(jql, fields="id", json_result=True)["issues"] if sandbox.mode == "cloud"
             else client.search_issues(jql, fields="id", json_result=True)["issues"])
    assert created.target_id not in {i["id"] for i in found}  # read as New York time: hours ahead
    assert created.target_id in {i.target_id for i in jira.changed_since(since)}


def test_cursor_given_in_any_zone_reads_the_same(jira):
    created = jira.create(a_draft(STATUSES), unique_marker())
    since = datetime.now(timezone.utc) - timedelta(seconds=30)
    for zone in ("Pacific/Kiritimati", "America/Los_Angeles"):
        assert created.target_id in {i.target_id for i in jira.changed_since(since.astimezone(ZoneInfo(zone)))}


def test_a_changed_sub_task_surfaces_as_its_parent(jira, control):
    created = jira.create(a_draft(STATUSES), unique_marker())
    sub = jira.add_sub_item(created.target_id, Task("T-1", "Rohr"), StatusTarget("To Do"), marker="T-1")
    before = jira.get(created.target_id)
    since = datetime.now(timezone.utc)
    control.as_alice(f"{sub.target_id}/transition", {"status": "In Progress"})
    control.wait_searchable()
    seen = {i.target_id: i for i in jira.changed_since(since)}
    assert sub.target_id not in seen  # sub-tasks are not items of their own
    parent = seen[created.target_id]
    assert whole(jira, parent).sub_items[0].status == "In Progress"
    assert parent.version != before.version and parent.updated_at > before.updated_at
    assert parent.version == jira.get(created.target_id).version


def test_changed_since_reports_jiras_clock_so_an_idle_window_slides_forward(jira):
    created = jira.create(a_draft(STATUSES), unique_marker())
    updated_at = jira.get(created.target_id).updated_at
    changes = jira.changed_since(datetime.now(timezone.utc) - timedelta(seconds=30))
    after = datetime.now(timezone.utc)
    assert changes.as_of is not None and changes.as_of.tzinfo is not None
    # The reply's Date header: whole seconds, refreshed by servers about once a second, so at
    # most ~2 s behind the change it lists, and never after the read (the safe direction).
    assert updated_at - timedelta(seconds=2) <= changes.as_of <= after


def test_changed_since_reads_every_page(sandbox):
    jira = make_connector(sandbox, max_results=2, summary_page_size=2)
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    made = {jira.create(a_draft(STATUSES, f"Seite {n}"), unique_marker()).target_id for n in range(5)}
    subs = [jira.add_sub_item(t, Task("T-1", "Rohr"), StatusTarget("To Do"), marker="T-1") for t in sorted(made)[:2]]
    seen = [i.target_id for i in jira.changed_since(since)]
    assert made <= set(seen) and len(seen) == len(set(seen))
    assert not {s.target_id for s in subs} & set(seen)  # sub-task rows (on other pages) fold into parents
    versions = {i.target_id: i.version for i in jira.changed_since(since)}
    assert all(versions[t] == jira.get(t).version for t in made)


def test_change_made_in_jira_is_read_with_its_new_status(jira, control):
    created = jira.create(a_draft(STATUSES), unique_marker())
    since = datetime.now(timezone.utc)
    key = jira.get(created.target_id).display_id
    control.as_alice(f"{key}/transition", {"status": "Done", "resolution": "Duplicate"})
    item = whole(jira, {i.target_id: i for i in jira.changed_since(since)}[created.target_id])
    assert (item.fields["status"], item.resolution) == ("Done", "Duplicate")


# --- retries, errors, credentials -------------------------------------------------------------

def test_a_rate_limited_create_is_sent_once_and_reported_with_retry_after(jira, control):
    control.knobs(force_status=429, force_count=1, retry_after_seconds=2)
    before, count = control.requests(), control.issue_count()
    with pytest.raises(RetriableError) as refused:
        jira.create(a_draft(STATUSES), marker := unique_marker())
    assert refused.value.retry_after == 2.0 and refused.value.status == 429
    assert delta(before, control.requests(), CREATE) == 1  # the library did not repeat the POST
    assert control.issue_count() == count
    assert jira.find_by_marker(marker) is None  # after the wait: nothing to adopt, create again
    jira.create(a_draft(STATUSES), marker)
    assert control.issue_count() == count + 1


def test_no_request_goes_to_jira_before_its_retry_after_has_passed(jira, control):
    created = jira.create(a_draft(STATUSES), unique_marker())
    violations = control.retry_after_violations()
    control.knobs(force_status=429, force_count=1, retry_after_seconds=1)
    with pytest.raises(RetriableError):
        jira.add_comment(created.target_id, Comment("c", "zu früh"), marker="c-1")
    started = time.monotonic()
    assert jira.get(created.target_id).comments == ()  # the next call waits, then goes through
    assert time.monotonic() - started >= 0.9
    assert control.retry_after_violations() == violations


def test_a_429_with_only_x_ratelimit_reset_holds_every_request_until_the_reset(jira, control):
    created = jira.create(a_draft(STATUSES), unique_marker())
    control.knobs(force_status=429, force_count=1, retry_after_seconds=1, rate_limit_headers="reset")
    with pytest.raises(RetriableError) as refused:
        jira.add_comment(created.target_id, Comment("c", "zu früh"), marker="c-1")
    # Jira gives the reset to the minute ("yyyy-MM-ddTHH:mmZ"): up to a minute away.
    assert refused.value.status == 429 and 0 < refused.value.retry_after <= 61
    jira.rest.gate.max_wait = 0.0  # do not sleep through it here: show that nothing is sent before it
    before = control.requests()
    with pytest.raises(RetriableError, match="rate limited"):
        jira.get(created.target_id)
    assert control.requests() == before
    assert control.sandbox.store.issue(created.target_id).comments == []


def test_a_read_is_repeated_after_a_server_error_but_a_create_is_not(jira, control):
    created = jira.create(a_draft(STATUSES), unique_marker())
    control.knobs(force_status=503, force_count=1)  # without Retry-After
    assert jira.get(created.target_id).target_id == created.target_id
    control.knobs(force_status=502, force_count=1)
    before, count = control.requests(), control.issue_count()
    with pytest.raises(RetriableError):
        jira.create(a_draft(STATUSES), unique_marker())
    assert delta(before, control.requests(), CREATE) == 1 and control.issue_count() == count


def test_a_read_that_keeps_failing_is_retriable(sandbox, control):
    jira = make_connector(sandbox, max_attempts=2)
    control.knobs(force_status=500, force_count=2)
    with pytest.raises(RetriableError):
        jira.get("10001")


def test_an_unreachable_jira_is_retriable_and_check_says_so(sandbox):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = make_connector(sandbox, url=f"http://127.0.0.1:{port}", max_attempts=1)
    with pytest.raises(RetriableError):
        gone.get("10001")
    problems = check_all(gone)
    assert len(problems) == 1 and "cannot read server info" in problems[0]


def test_wrong_credentials_are_an_auth_error_and_check_says_so(sandbox):
    jira = make_connector(sandbox, token="not-the-token")
    with pytest.raises(AuthError):
        jira.get("10001")
    assert any("401" in line for line in check_all(jira))


def test_check_reports_a_deployment_that_does_not_match_the_server(sandbox):
    other = "server" if sandbox.mode == "cloud" else "cloud"
    jira = make_connector(sandbox, deployment=other)
    assert any("deployment" in line for line in check_all(jira))


def test_check_reports_unknown_issue_types_and_statuses(sandbox):
    jira = make_connector(sandbox, issue_type="Epic", transition_fields={"Erledigt": {}})
    problems = check_all(jira)
    assert any("'Epic'" in p for p in problems) and any("'Erledigt'" in p for p in problems)


def test_an_unreachable_status_is_fatal(jira):
    created = jira.create(a_draft(STATUSES), unique_marker())
    with pytest.raises(FatalError):
        jira.set_status(created.target_id, StatusTarget("Archiviert"))


def test_setting_the_current_status_sends_no_transition(jira, control):
    created = jira.create(a_draft(STATUSES), unique_marker())
    before = control.requests()
    result = jira.set_status(created.target_id, StatusTarget("To Do"))
    assert delta(before, control.requests(), "POST /rest/api/{version}/issue/{key}/transitions") == 0
    assert result.fields["status"] == "To Do"


def test_declined_task_lands_in_done_with_its_resolution(jira):
    created = jira.create(a_draft(STATUSES), unique_marker())
    sub = jira.add_sub_item(created.target_id, Task("T-2", "Fenster"), StatusTarget("Done", "Won't Do"), marker="T-2")
    item = jira.get(created.target_id)
    assert [(s.sub_id, s.status, s.resolution) for s in item.sub_items] == [(sub.target_id, "Done", "Won't Do")]


def test_a_resolution_change_in_the_done_status_is_written(jira):
    created = jira.create(a_draft(STATUSES), unique_marker())
    sub = jira.add_sub_item(created.target_id, Task("T-3", "Tür"), StatusTarget("Done"), marker="T-3")
    jira.update_sub_item(created.target_id, sub.target_id, Task("T-3", "Tür"), StatusTarget("Done", "Won't Do"))
    [item] = jira.get(created.target_id).sub_items
    assert (item.status, item.resolution) == ("Done", "Won't Do")


# --- attachments -----------------------------------------------------------------------------

def test_file_above_the_configured_limit_is_refused_before_uploading(sandbox, control, tmp_path: Path):
    jira = make_connector(sandbox, attachment_max_bytes=1000)
    created = jira.create(a_draft(STATUSES), unique_marker())
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 1001)
    before = control.requests()
    with pytest.raises(PayloadTooLargeError):
        jira.add_attachment(created.target_id, "big.bin", "application/octet-stream", big, marker=None)
    assert delta(before, control.requests(), "POST /rest/api/{version}/issue/{key}/attachments") == 0


def test_file_above_the_limit_jira_announces_is_refused_before_uploading(jira, control, tmp_path: Path):
    created = jira.create(a_draft(STATUSES), unique_marker())
    big = tmp_path / "plan.pdf"
    big.write_bytes(b"x" * (TEST_ATTACHMENT_LIMIT + 1))
    before = control.requests()
    with pytest.raises(PayloadTooLargeError):
        jira.add_attachment(created.target_id, "plan.pdf", "application/pdf", big, marker=None)
    assert delta(before, control.requests(), "POST /rest/api/{version}/issue/{key}/attachments") == 0


def test_jira_refusing_a_file_as_too_large_is_not_a_missing_issue(jira, control, tmp_path: Path):
    # Data Center answers 404 for a file above its limit, Cloud 413: both mean "too large".
    created = jira.create(a_draft(STATUSES), unique_marker())
    small = tmp_path / "small.txt"
    small.write_bytes(b"ok")
    jira.add_attachment(created.target_id, "small.txt", "text/plain", small, marker=None)  # limit read now
    control.knobs(jira_max_attachment_bytes=1000)  # an admin lowers the limit meanwhile
    big = tmp_path / "plan.pdf"
    big.write_bytes(b"x" * 1001)
    with pytest.raises(PayloadTooLargeError):
        jira.add_attachment(created.target_id, "plan.pdf", "application/pdf", big, marker=None)
    assert [a.name for a in jira.get(created.target_id).attachments] == ["small.txt"]


def test_content_type_and_umlaut_file_names_survive_the_upload(jira, tmp_path: Path):
    created = jira.create(a_draft(STATUSES), unique_marker())
    src = tmp_path / "foto.bin"
    src.write_bytes(b"\x89PNG fake")
    result = jira.add_attachment(created.target_id, "Küche Übersicht.png", "image/png", src, marker="f-1")
    attachment = {a.attachment_id: a for a in jira.get(created.target_id).attachments}[result.target_id]
    assert (attachment.name, attachment.content_type, attachment.marker) == ("Küche Übersicht.png", "image/png", "f-1")


# --- descriptions ----------------------------------------------------------------------------

def test_description_in_jira_is_wiki_text_under_the_header_panel(jira, sandbox):
    created = jira.create(a_draft(STATUSES), unique_marker())
    stored = sandbox.store.issue(created.target_id).description
    assert stored == ("{panel:title=casavi}\n*Property:* P-00451 Easy Living Apartments\n*Unit:* P-00451-0001\n"
                      "[Open in casavi|https://app.casavi.example/tickets/41251]\n{panel}\n\n"
                      "Die *Heizung* im Treppenhaus ist kalt.\n\n* Raum 1\n* Raum 2")
    assert created.fields["description"] == stored  # compared as Jira stores it


def test_due_date_labels_and_wiki_breaking_text(jira, sandbox):
    draft = ItemDraft("Titel mit {code}", "Text mit {noformat} und [Klammer] | Pipe", StatusTarget("To Do"),
                      labels=("Heizung defekt",), due_date=date(2026, 1, 31))
    created = jira.create(draft, unique_marker())
    assert created.fields["due_date"] == "2026-01-31"
    marker = sandbox.store.issue(created.target_id).properties["casavi"]["ticketId"]
    assert sandbox.store.issue(created.target_id).labels == [f"casavi-bridge_casavi_{marker}", "Heizung_defekt"]
    item = jira.get(created.target_id)
    assert item.fields["title"] == "Titel mit {code}"
    assert item.fields["description"] == "Text mit \\{noformat\\} und \\[Klammer\\] \\| Pipe"  # escaped wiki
    assert wiki_to_markdown(item.fields["description"]) == "Text mit {noformat} und \\[Klammer\\] \\| Pipe"
    cleared = jira.update(created.target_id, replace(draft, due_date=None), {"due_date"})
    assert cleared.fields["due_date"] == ""


def test_every_request_to_jira_is_reported_with_its_status(sandbox):
    jira = make_connector(sandbox)
    seen: list[tuple[int | str, float]] = []
    jira.observe_requests(lambda status, seconds: seen.append((status, seconds)))
    jira.statuses()
    with pytest.raises(NotFoundError):
        jira.get("999999")
    assert [status for status, _ in seen] == [200, 404]
    assert all(seconds >= 0 for _, seconds in seen)


def test_an_unmarked_upload_is_marked_afterwards(jira, sandbox, tmp_path):
    created = jira.create(a_draft(STATUSES), unique_marker())
    src = tmp_path / "plan.pdf"
    src.write_bytes(b"%PDF- plan")
    first = jira.add_attachment(created.target_id, "plan.pdf", "application/pdf", src, marker="f-1")
    lost = jira.add_attachment(created.target_id, "plan.pdf", "application/pdf", src, marker=None)  # crash gap
    fresh = make_connector(sandbox)  # as after a restart: nothing cached
    fresh.mark_attachment(created.target_id, lost.target_id, "f-2")
    markers = {a.attachment_id: a.marker for a in jira.get(created.target_id).attachments}
    assert markers == {first.target_id: "f-1", lost.target_id: "f-2"}

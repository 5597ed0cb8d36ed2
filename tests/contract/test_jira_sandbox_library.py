"""The real ``jira`` library (3.10.x) works against the Jira sandbox, in both flavours.

These drive the sandbox exactly the way the connector will: through ``JIRA(...)`` with
``get_server_info=True`` (so the library switches to Cloud behaviour from ``deploymentType``),
its resources, and its raw session where the connector needs a request the library does not
offer (issue properties in the create body).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import httpx
import pytest
from jira import JIRA, JIRAError
from jira.resources import Issue

from tests.fixtures.jira_sandbox import TEST_ATTACHMENT_LIMIT, RunningJira


def _client(sandbox: RunningJira, **kwargs: Any) -> JIRA:
    return JIRA(server=sandbox.url, basic_auth=sandbox.auth, get_server_info=True,
                max_retries=0, timeout=10, **kwargs)


@pytest.fixture(params=["server", "cloud"])
def sandbox(request: pytest.FixtureRequest) -> RunningJira:
    return request.getfixturevalue(f"jira_{request.param}_sandbox")


@pytest.fixture
def jira(sandbox: RunningJira) -> Iterator[JIRA]:
    client = _client(sandbox)
    yield client
    client.close()


def _create_with_marker(jira: JIRA, project: str, ticket_id: str, **fields: Any) -> str:
    """Create an issue and its casavi marker in one request (the library sends only fields)."""
    body = {"fields": {"project": {"key": project}, "issuetype": {"name": "Task"},
                       "summary": f"casavi {ticket_id}", **fields},
            "properties": [{"key": "casavi", "value": {"ticketId": ticket_id, "internalId": 1}}]}
    answer = jira._session.post(jira._get_url("issue"), json=body)
    assert answer.status_code == 201
    return answer.json()["key"]


def _settle(sandbox: RunningJira) -> None:
    """Let the search index catch up (Cloud's default lag would hide what was just written)."""
    httpx.post(f"{sandbox.url}/_sandbox/index/settle").raise_for_status()


def _updated(jira: JIRA, key: str) -> dt.datetime:
    return dt.datetime.strptime(jira.issue(key, fields="updated").fields.updated, "%Y-%m-%dT%H:%M:%S.%f%z")


def test_client_follows_the_deployment_type(jira: JIRA, sandbox: RunningJira) -> None:
    assert jira._is_cloud is (sandbox.mode == "cloud")
    assert jira.myself()["displayName"] == "casavi bridge"
    assert jira.project(sandbox.project).key == sandbox.project


def test_a_property_is_searchable_only_when_indexed_a_label_always(jira: JIRA, sandbox: RunningJira) -> None:
    ticket = f"T-{sandbox.mode}-marker"
    key = _create_with_marker(jira, sandbox.project, ticket, labels=[f"casavi-ticket-{ticket}"])
    _settle(sandbox)
    assert jira.issue_property(key, "casavi").value.ticketId == ticket
    by_property = f'issue.property[casavi].ticketId = "{ticket}"'
    assert list(jira.search_issues(by_property)) == []  # accepted, matches nothing: no app indexes it
    assert [i.key for i in jira.search_issues(f'labels = "casavi-ticket-{ticket}"')] == [key]
    sandbox.store.options.indexed_properties = ("casavi",)  # as if an app declared it
    try:
        assert [i.key for i in jira.search_issues(by_property)] == [key]
    finally:
        sandbox.store.options.indexed_properties = ()


def test_create_issue_and_sub_task_with_the_library(jira: JIRA, sandbox: RunningJira) -> None:
    parent = jira.create_issue(project=sandbox.project, issuetype="Task", summary="Roof leak",
                               description="Attic is wet", labels=["casavi"])
    assert (parent.fields.summary, parent.fields.description) == ("Roof leak", "Attic is wet")
    child = jira.create_issue(project=sandbox.project, issuetype="Sub-task", summary="Call roofer",
                              parent={"key": parent.key})
    assert child.fields.parent.key == parent.key and child.fields.issuetype.subtask is True
    assert [s.key for s in jira.issue(parent.key).fields.subtasks] == [child.key]
    with pytest.raises(JIRAError) as refused:
        jira.issue(parent.key).delete()  # deleteSubtasks=False
    assert refused.value.status_code == 400


def test_search_pages_and_filters_by_updated(jira: JIRA, sandbox: RunningJira) -> None:
    label = f"lib-page-{sandbox.mode}"
    keys = [jira.create_issue(project=sandbox.project, issuetype="Task", summary=f"Item {n}",
                              labels=[label]).key for n in range(5)]
    jql = f"project = {sandbox.project} AND labels = {label} ORDER BY key ASC"
    if sandbox.mode == "cloud":
        first = jira.enhanced_search_issues(jql, maxResults=2)
        assert list(first) == []  # not searchable yet: Cloud's index lags behind writes
        _settle(sandbox)
        first = jira.enhanced_search_issues(jql, maxResults=2)
        rest = jira.enhanced_search_issues(jql, nextPageToken=first.nextPageToken, maxResults=0)
        assert [i.key for i in list(first) + list(rest)] == keys
    else:
        paged = _client(sandbox, default_batch_sizes={Issue: 2})
        assert [i.key for i in paged.search_issues(jql, maxResults=False)] == keys
        assert jira.search_issues(jql, maxResults=2).total == 5
    since_ms = int(_updated(jira, keys[2]).timestamp() * 1000)
    jira.add_comment(keys[0], "bumps updated")
    _settle(sandbox)
    recent = jira.search_issues(f"labels = {label} AND updated >= {since_ms} ORDER BY updated ASC")
    assert [i.key for i in recent] == [keys[2], keys[3], keys[4], keys[0]]


def test_bare_dates_are_read_in_the_user_time_zone(jira: JIRA, sandbox: RunningJira) -> None:
    """A client sending a bare UTC time to a user west of UTC skips hours of updates."""
    knobs = f"{sandbox.url}/_sandbox/fault"
    httpx.post(knobs, json={"jira_time_zone": "America/New_York"}).raise_for_status()
    try:
        user_zone = ZoneInfo(jira.myself()["timeZone"])
        assert str(user_zone) == "America/New_York"
        label = f"zone-{sandbox.mode}"
        key = jira.create_issue(project=sandbox.project, issuetype="Task", summary="Zone",
                                labels=[label]).key
        _settle(sandbox)
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=2)
        bare_utc = since.strftime("%Y/%m/%d %H:%M")  # the mistake: read as New York time
        in_user_zone = since.astimezone(user_zone).strftime("%Y/%m/%d %H:%M")
        assert list(jira.search_issues(f'labels = {label} AND updated >= "{bare_utc}"')) == []
        found = jira.search_issues(f'labels = {label} AND updated >= "{in_user_zone}"')
        assert [i.key for i in found] == [key]
    finally:
        httpx.post(knobs, json={"jira_time_zone": "Europe/Berlin"}).raise_for_status()


def test_transitions_by_name_and_by_id(jira: JIRA, sandbox: RunningJira) -> None:
    key = jira.create_issue(project=sandbox.project, issuetype="Task", summary="Boiler").key
    jira.transition_issue(key, "In Progress")
    assert jira.issue(key).fields.status.name == "In Progress"
    done_id = jira.find_transitionid_by_name(key, "Done")
    jira.transition_issue(key, done_id, fields={"resolution": {"name": "Won't Do"}})
    issue = jira.issue(key)
    assert (issue.fields.status.name, issue.fields.resolution.name) == ("Done", "Won't Do")
    with pytest.raises(JIRAError) as invalid:
        jira.transition_issue(key, "999")
    assert invalid.value.status_code == 400 and "not valid" in invalid.value.text


def test_comments_with_visibility_and_update(jira: JIRA, sandbox: RunningJira) -> None:
    key = jira.create_issue(project=sandbox.project, issuetype="Task", summary="Noise").key
    comment = jira.add_comment(key, "Neighbours informed",
                               visibility={"type": "group", "value": "jira-software-users"})
    assert comment.visibility.value == "jira-software-users"
    comment.update(body="Neighbours informed twice")
    assert jira.comment(key, comment.id).body == "Neighbours informed twice"
    assert [c.body for c in jira.comments(key)] == ["Neighbours informed twice"]


def test_attachment_upload_and_download_via_content_url(jira: JIRA, sandbox: RunningJira) -> None:
    key = jira.create_issue(project=sandbox.project, issuetype="Task", summary="Photo").key
    attachment = jira.add_attachment(key, io.BytesIO(b"\x89PNG fake"), filename="leak.png")
    assert (attachment.filename, attachment.size, attachment.mimeType) == ("leak.png", 9, "image/png")
    assert attachment.get() == b"\x89PNG fake"
    assert jira.attachment(attachment.id).filename == "leak.png"
    with pytest.raises(JIRAError) as too_big:
        jira.add_attachment(key, io.BytesIO(b"x" * (TEST_ATTACHMENT_LIMIT + 1)), filename="big.bin")
    assert too_big.value.status_code == (413 if sandbox.mode == "cloud" else 404)


def test_entity_properties_and_remote_links(jira: JIRA, sandbox: RunningJira) -> None:
    key = jira.create_issue(project=sandbox.project, issuetype="Task", summary="Links").key
    jira.add_issue_property(key, "casavi", {"ticketId": "L-1", "internalId": 3})
    assert [p.key for p in jira.issue_properties(key)] == ["casavi"]
    assert jira.issue_property(key, "casavi").value.internalId == 3
    destination = {"url": "https://casavi.example/tickets/L-1", "title": "casavi L-1"}
    if sandbox.mode == "cloud":  # Cloud has no application-links resource: the library warns
        with pytest.warns(Warning, match="applicationlinks"):
            link = jira.add_remote_link(key, destination, globalId="casavi:L-1")
    else:
        link = jira.add_remote_link(key, destination, globalId="casavi:L-1")
    assert [lk.object.title for lk in jira.remote_links(key)] == ["casavi L-1"]
    assert jira.remote_link(key, link.id).globalId == "casavi:L-1"


def test_every_write_moves_updated_forward(jira: JIRA, sandbox: RunningJira) -> None:
    key = jira.create_issue(project=sandbox.project, issuetype="Task", summary="Clock").key
    stamps = [_updated(jira, key)]
    writes = [lambda: jira.add_comment(key, "c"),
              lambda: jira.add_attachment(key, io.BytesIO(b"a"), filename="a.txt"),
              lambda: jira.transition_issue(key, "Waiting"),
              lambda: jira.add_issue_property(key, "p", {"v": 1}),
              lambda: jira.issue(key).update(summary="Clock 2"),
              lambda: httpx.post(f"{sandbox.url}/_sandbox/issues/{key}/comment",
                                 json={"body": "from Alice", "as": "alice"}).raise_for_status(),
              lambda: httpx.post(f"{sandbox.url}/_sandbox/issues/{key}/transition",
                                 json={"status": "Done", "resolution": "Duplicate", "as": "bob"}
                                 ).raise_for_status(),
              lambda: httpx.post(f"{sandbox.url}/_sandbox/issues/{key}/edit",
                                 json={"summary": "Clock 3", "as": "carol"}).raise_for_status()]
    for write in writes:
        write()
        stamps.append(_updated(jira, key))
    assert all(later > earlier for earlier, later in zip(stamps, stamps[1:], strict=False))
    assert jira.comments(key)[-1].author.displayName == "Alice Agent"
    issue = jira.issue(key)
    assert (issue.fields.summary, issue.fields.resolution.name) == ("Clock 3", "Duplicate")


def test_jira_errors_for_missing_summary_unknown_issue_and_bad_credentials(
        jira: JIRA, sandbox: RunningJira) -> None:
    with pytest.raises(JIRAError) as missing:
        jira.create_issue(fields={"project": {"key": sandbox.project}, "issuetype": {"name": "Task"}})
    assert missing.value.status_code == 400 and "summary" in missing.value.text
    with pytest.raises(JIRAError) as absent:
        jira.issue(f"{sandbox.project}-99999")
    assert absent.value.status_code == 404
    with pytest.raises(JIRAError) as denied:
        JIRA(server=sandbox.url, basic_auth=(sandbox.user, "wrong"), max_retries=0)
    assert denied.value.status_code == 401
    token_client = JIRA(server=sandbox.url, token_auth=sandbox.token, max_retries=0)
    assert token_client.myself()["emailAddress"]


def test_cloud_search_is_gone_and_enhanced_search_works(jira_cloud_sandbox: RunningJira) -> None:
    jira = _client(jira_cloud_sandbox)
    key = _create_with_marker(jira, jira_cloud_sandbox.project, "T-enhanced", labels=["T-enhanced"])
    _settle(jira_cloud_sandbox)
    with pytest.raises(JIRAError) as gone:
        jira._session.get(jira._get_url("search"), params={"jql": "project = OPS"})
    assert gone.value.status_code == 410
    found = jira.enhanced_search_issues('labels = "T-enhanced"', properties="casavi")
    assert [i.key for i in found] == [key]
    assert found[0].raw["properties"]["casavi"]["ticketId"] == "T-enhanced"  # Cloud rows carry properties
    assert [i.key for i in jira.search_issues('labels = "T-enhanced"')] == [key]


def test_cloud_search_lags_behind_creates_unless_reconciled(jira_cloud_sandbox: RunningJira) -> None:
    """Cloud's /search/jql is eventually consistent: never use it to ask "does it exist yet?"."""
    jira = _client(jira_cloud_sandbox)
    knobs = f"{jira_cloud_sandbox.url}/_sandbox/fault"
    httpx.post(knobs, json={"jira_search_lag_ms": 60_000}).raise_for_status()
    try:
        key = _create_with_marker(jira, jira_cloud_sandbox.project, "T-lag", labels=["T-lag"])
        jql = 'labels = "T-lag"'
        assert list(jira.enhanced_search_issues(jql)) == []
        issue_id = int(jira.issue(key).id)
        reconciled = jira.enhanced_search_issues(jql, reconcileIssues=[issue_id])
        assert [i.key for i in reconciled] == [key]
        # An update is searchable late too: the index still has the issue as it was.
        jira.issue(key).update(fields={"labels": ["T-lag", "T-lag-2"]})
        assert list(jira.enhanced_search_issues('labels = "T-lag-2"')) == []
        assert [i.key for i in jira.enhanced_search_issues('labels = "T-lag-2"', reconcileIssues=[issue_id])] == [key]
    finally:
        httpx.post(knobs, json={"jira_search_lag_ms": None}).raise_for_status()

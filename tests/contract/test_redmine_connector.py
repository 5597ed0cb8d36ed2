"""The Redmine connector against a real Redmine 5.0 (Debian's packages, on 127.0.0.1).

The shared ConnectorContract runs twice: markers in the custom field "casavi ticket", and
markers as description lines (an instance without the field).  The tests below it pin down
what is particular to Redmine: prefix-safe marker lookups, the silent refusal of a transition,
private notes, changes on child issues, paging, uploads refused by the server, bad keys.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.errors import RefusedError, AuthError, FatalError, NotFoundError, SkippableError, SkippedError
from bridge.http import HttpPolicy
from bridge.model import Comment, Marker, StatusTarget, Task
from connectors.redmine import RedmineConnector, RedmineConnectorPlugin, RedmineSettings, mapping
from tests.contract.connector_contract import ConnectorContract, ToolStatuses, a_draft, unique_marker

pytestmark = pytest.mark.redmine

STATUSES = ToolStatuses("New", "In Progress", "Closed")


@pytest.fixture
def tool_statuses() -> ToolStatuses:
    return STATUSES


def make_connector(server, **overrides) -> RedmineConnector:
    settings = RedmineConnectorPlugin.settings_model.model_validate(server.settings(**overrides))
    return RedmineConnectorPlugin.create(settings)


@pytest.fixture
def redmine(redmine_server) -> RedmineConnector:
    return make_connector(redmine_server)


class TestRedmineConnectorWithMarkerField(ConnectorContract):
    @pytest.fixture
    def connector(self, redmine) -> RedmineConnector:
        return redmine


class TestRedmineConnectorWithMarkerLines(ConnectorContract):
    @pytest.fixture
    def connector(self, redmine_server) -> RedmineConnector:
        return make_connector(redmine_server, marker_custom_field=None)


# --- markers -------------------------------------------------------------------------------


def test_marker_is_written_to_the_custom_field_in_the_create_request(redmine, redmine_server):
    marker = Marker("casavi", "P-4711", 41251)
    created = redmine.create(a_draft(STATUSES), marker)
    with redmine_server.admin() as admin:
        issue = admin.get(f"/issues/{created.target_id}.json").json()["issue"]
    values = {f["id"]: f["value"] for f in issue["custom_fields"]}
    assert values[redmine_server.custom_field_id] == "P-4711 #41251"
    assert redmine.find_by_marker(Marker("casavi", "P-4711")).marker == marker


def test_find_by_marker_does_not_take_a_longer_id_with_the_same_start(redmine):
    base = unique_marker()
    longer = Marker(base.source, base.item_id + "0")
    created = redmine.create(a_draft(STATUSES), longer)
    assert redmine.find_by_marker(base) is None
    assert redmine.find_by_marker(longer).target_id == created.target_id


def test_markers_of_other_sources_are_kept_apart(redmine):
    item_id = unique_marker().item_id
    casavi = redmine.create(a_draft(STATUSES), Marker("casavi", item_id))
    relay = redmine.create(a_draft(STATUSES), Marker("relay", item_id))
    assert redmine.find_by_marker(Marker("casavi", item_id)).target_id == casavi.target_id
    assert redmine.find_by_marker(Marker("relay", item_id)).target_id == relay.target_id


def test_sub_items_are_not_found_as_tickets(redmine):
    parent = redmine.create(a_draft(STATUSES), unique_marker())
    task_id = unique_marker().item_id
    redmine.add_sub_item(parent.target_id, Task(task_id, "Rohr"), StatusTarget("New"), marker=task_id)
    assert redmine.find_by_marker(Marker("casavi", task_id)) is None


def test_description_marker_line_survives_an_update_and_is_not_shown(redmine_server):
    connector = make_connector(redmine_server, marker_custom_field=None)
    marker = unique_marker()
    created = connector.create(a_draft(STATUSES), marker)
    connector.update(created.target_id, a_draft(STATUSES, "Neu"), {"title", "description"})
    item = connector.find_by_marker(marker)
    assert item is not None and item.target_id == created.target_id
    assert mapping.TICKET_LINE not in item.fields["description"]
    with redmine_server.admin() as admin:
        raw = admin.get(f"/issues/{created.target_id}.json").json()["issue"]["description"]
    assert raw.rstrip().endswith(f"{mapping.TICKET_LINE}{mapping.ticket_marker_value(marker)}")


@given(st.builds(
    Marker,
    st.sampled_from(["casavi", "relay"]),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,20}", fullmatch=True),
    st.one_of(st.none(), st.integers(min_value=0, max_value=10**12)),
))
def test_every_ticket_marker_reads_back_as_written(marker):
    assert mapping.parse_ticket_marker(mapping.ticket_marker_value(marker)) == marker
    assert mapping.ticket_marker_value(marker).startswith(mapping.ticket_marker_key(marker))


@given(st.text(), st.one_of(st.none(), st.text(min_size=1)))
def test_every_note_marker_reads_back_and_leaves_the_text(text, marker):
    written_text, read_marker = mapping.split_note(mapping.note_with_marker(text, marker))
    assert read_marker == marker
    if marker is not None:
        assert written_text == mapping.normalize_text(text).rstrip()


# --- comments ------------------------------------------------------------------------------


def test_internal_comment_becomes_a_private_note_and_keeps_its_marker(redmine, redmine_server):
    created = redmine.create(a_draft(STATUSES), unique_marker())
    result = redmine.add_comment(created.target_id, Comment("c-9", "Nur intern", internal=True), marker="c-9")
    with redmine_server.admin() as admin:
        journals = admin.get(f"/issues/{created.target_id}.json", params={"include": "journals"}).json()["issue"]["journals"]
    journal = next(j for j in journals if str(j["id"]) == result.target_id)
    assert journal["private_notes"] is True
    assert journal["notes"].startswith("Nur intern") and "casavi:comment:c-9" in journal["notes"]
    comment = next(c for c in redmine.get(created.target_id).comments if c.comment_id == result.target_id)
    assert (comment.text, comment.internal, comment.marker) == ("Nur intern", True, "c-9")


def test_a_persons_note_is_a_comment_without_marker(redmine, redmine_server):
    created = redmine.create(a_draft(STATUSES), unique_marker())
    with redmine_server.admin() as admin:
        admin.put(f"/issues/{created.target_id}.json", json={"issue": {"notes": "Erledigt, **danke**"}}).raise_for_status()
    [comment] = redmine.get(created.target_id).comments
    assert (comment.text, comment.marker, comment.internal) == ("Erledigt, **danke**", None, False)
    assert comment.author == "Redmine Admin"


def _journals(server, issue_id: str) -> list[dict]:
    with server.admin() as admin:
        return admin.get(f"/issues/{issue_id}.json", params={"include": "journals"}).json()["issue"]["journals"]


def test_case_2_a_role_without_private_notes_never_gets_an_internal_comment_and_check_says_so(redmine_server):
    reporter = make_connector(redmine_server, api_key=redmine_server.member_with_role("Reporter"))
    assert reporter.check() == []  # reachable: the daemon starts, and the writes concerned fail alone
    problems = reporter.findings()
    assert any(p.startswith("redmine.private_notes_for_internal <- ") and "'set_notes_private'" in p
               and "Reporter" in p for p in problems), problems
    assert any(p.startswith("redmine.project <- ") and "'edit_issues'" in p for p in problems), problems
    created = reporter.create(a_draft(STATUSES), unique_marker())
    with pytest.raises(RefusedError, match="set_notes_private"):
        reporter.add_comment(created.target_id, Comment("c-1", "Mietrückstand 3 Monate", internal=True), marker="c-1")
    reporter.add_comment(created.target_id, Comment("c-2", "Termin Montag"), marker="c-2")
    notes = [j["notes"] for j in _journals(redmine_server, created.target_id) if j.get("notes")]
    assert not any("Mietrückstand" in n for n in notes) and any("Termin Montag" in n for n in notes)


def test_case_2_where_permissions_cannot_be_read_a_note_saved_public_is_reported(redmine_server):
    reporter = make_connector(redmine_server, api_key=redmine_server.member_with_role("Reporter"))
    assert reporter.check() == [] and reporter.findings()
    reporter._lookup = replace(reporter._lookup, permissions=None)  # as when /roles/N.json is not readable
    created = reporter.create(a_draft(STATUSES), unique_marker())
    result = reporter.add_comment(created.target_id, Comment("c-1", "Nur intern", internal=True), marker="c-1")
    [journal] = [j for j in _journals(redmine_server, created.target_id) if str(j["id"]) == result.target_id]
    assert journal["private_notes"] is False  # what Redmine did
    assert len(result.dropped) == 1 and "set_notes_private" in result.dropped[0]


def test_internal_comments_are_refused_when_private_notes_are_off(redmine_server):
    connector = make_connector(redmine_server, private_notes_for_internal=False)
    created = connector.create(a_draft(STATUSES), unique_marker())
    assert connector.capabilities.comment_visibility is False
    with pytest.raises(SkippableError):
        connector.add_comment(created.target_id, Comment("c", "intern", internal=True), marker="c")
    assert connector.get(created.target_id).comments == ()


# --- status --------------------------------------------------------------------------------


def test_a_transition_the_workflow_forbids_raises_and_changes_nothing(redmine, redmine_server):
    created = redmine.create(a_draft(STATUSES), unique_marker())
    redmine.set_status(created.target_id, StatusTarget(redmine_server.final_status))
    with pytest.raises(RefusedError, match="Workflow"):
        redmine.set_status(created.target_id, StatusTarget("In Progress"))
    assert redmine.get(created.target_id).fields["status"] == redmine_server.final_status


def test_an_unknown_status_is_refused(redmine):
    created = redmine.create(a_draft(STATUSES), unique_marker())
    with pytest.raises(FatalError):
        redmine.set_status(created.target_id, StatusTarget("Erledigt"))


def test_create_lands_in_the_requested_status_and_due_date(redmine):
    draft = replace(a_draft(STATUSES), status=StatusTarget("Feedback"), due_date=date(2026, 12, 24))
    created = redmine.create(draft, unique_marker())
    assert created.fields["status"] == "Feedback" and created.fields["due_date"] == "2026-12-24"
    later = replace(draft, due_date=None)
    assert redmine.update(created.target_id, later, {"due_date"}).fields["due_date"] == ""


# --- changes -------------------------------------------------------------------------------


def test_a_change_on_a_child_issue_counts_as_a_change_of_its_parent(redmine, redmine_server):
    created = redmine.create(a_draft(STATUSES), unique_marker())
    sub = redmine.add_sub_item(created.target_id, Task("T-7", "Rohr"), StatusTarget("New"), marker="T-7")
    before = redmine.get(created.target_id)
    # The child's change must land two seconds later than anything the parent saw itself.
    cursor = datetime.now(timezone.utc) + timedelta(seconds=2.5)
    time.sleep((cursor - datetime.now(timezone.utc)).total_seconds())
    with redmine_server.admin() as admin:
        admin.put(f"/issues/{sub.target_id}.json", json={"issue": {"status_id": 2}}).raise_for_status()
    changed = {i.target_id: i for i in redmine.changed_since(cursor)}
    assert sub.target_id not in changed
    assert changed[created.target_id].version != before.version
    assert changed[created.target_id].sub_items[0].status == "In Progress"


def test_changed_since_floors_the_cursor_to_whole_seconds(redmine):
    created = redmine.create(a_draft(STATUSES), unique_marker())
    stamp = redmine.get(created.target_id).updated_at
    cursor = stamp + timedelta(microseconds=999_999)  # later in the same second
    assert created.target_id in {i.target_id for i in redmine.changed_since(cursor)}


def test_changed_since_reads_every_page(redmine_server):
    connector = make_connector(redmine_server)
    connector.page_size = 2
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    created = [connector.create(a_draft(STATUSES, f"Seite {n}"), unique_marker()).target_id for n in range(5)]
    seen = [i.target_id for i in connector.changed_since(since)]
    assert set(created) <= set(seen) and len(seen) == len(set(seen))


def test_the_version_changes_with_every_write_even_within_one_second(redmine):
    created = redmine.create(a_draft(STATUSES), unique_marker())
    versions = [created.version]
    versions.append(redmine.add_comment(created.target_id, Comment("a", "eins"), marker="a").version)
    versions.append(redmine.add_comment(created.target_id, Comment("b", "zwei"), marker="b").version)
    versions.append(redmine.update(created.target_id, a_draft(STATUSES, "drei"), {"title"}).version)
    assert len(set(versions)) == len(versions)
    assert redmine.get(created.target_id).version == versions[-1]


# --- attachments ---------------------------------------------------------------------------


def test_attachment_keeps_name_type_and_marker(redmine, tmp_path):
    created = redmine.create(a_draft(STATUSES), unique_marker())
    src = tmp_path / "foto.jpg"
    src.write_bytes(os.urandom(2_000_000))
    result = redmine.add_attachment(created.target_id, "Foto Küche.jpg", "image/jpeg", src, marker="file-77")
    [attachment] = redmine.get(created.target_id).attachments
    assert (attachment.attachment_id, attachment.name, attachment.content_type, attachment.marker) == (
        result.target_id, "Foto Küche.jpg", "image/jpeg", "file-77")


def test_a_persons_attachment_downloads_byte_for_byte(redmine, redmine_server, tmp_path):
    created = redmine.create(a_draft(STATUSES), unique_marker())
    payload = os.urandom(123_457)
    with redmine_server.admin() as admin:
        token = admin.post("/uploads.json", params={"filename": "plan.bin"}, content=payload,
                           headers={"Content-Type": "application/octet-stream"}).json()["upload"]["token"]
        admin.put(f"/issues/{created.target_id}.json",
                  json={"issue": {"uploads": [{"token": token, "filename": "plan.bin"}]}}).raise_for_status()
    [attachment] = redmine.get(created.target_id).attachments
    assert attachment.marker is None and attachment.size == len(payload)
    redmine.download_attachment(created.target_id, attachment, tmp_path / "plan.bin")
    assert hashlib.sha256((tmp_path / "plan.bin").read_bytes()).digest() == hashlib.sha256(payload).digest()


def _notes(server, issue_id: str) -> list[str]:
    with server.admin() as admin:
        issue = admin.get(f"/issues/{issue_id}.json", params={"include": "journals"}).json()["issue"]
    return [j["notes"] for j in issue["journals"] if j.get("notes")]


def _attachments(server, issue_id: str) -> list[str]:
    with server.admin() as admin:
        issue = admin.get(f"/issues/{issue_id}.json", params={"include": "attachments"}).json()["issue"]
    return [a["filename"] for a in issue["attachments"]]


def test_a_file_over_redmines_maximum_size_is_skipped_with_one_note(redmine_server, tmp_path):
    # [redmine] attachment_max_bytes not set: Redmine's own answer (422) decides.
    connector = make_connector(redmine_server)
    created = connector.create(a_draft(STATUSES), unique_marker())
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (redmine_server.attachment_max_bytes + 1))
    for _ in range(2):  # a second try (after `clear`) writes no second note
        with pytest.raises(SkippedError) as refused:
            connector.add_attachment(created.target_id, "Grundriss gross.pdf", "application/pdf", big, marker="F-1")
    assert "Maximum attachment size" in str(refused.value)
    assert str(redmine_server.attachment_max_bytes) in str(refused.value)  # Redmine's answer names its limit
    assert _attachments(redmine_server, created.target_id) == []
    [note] = _notes(redmine_server, created.target_id)
    assert "Grundriss gross.pdf" in note and "is not attached here" in note
    assert connector.get(created.target_id).comments == ()  # the notice is never copied to casavi


def test_a_file_over_the_configured_limit_is_not_sent_but_noted(redmine_server, tmp_path):
    connector = make_connector(redmine_server, attachment_max_bytes=1000)
    created = connector.create(a_draft(STATUSES), unique_marker())
    src = tmp_path / "a.bin"
    src.write_bytes(b"x" * 1001)
    with pytest.raises(SkippedError) as refused:
        connector.add_attachment(created.target_id, "a.bin", "application/octet-stream", src, marker=None)
    assert "[redmine] attachment_max_bytes" in str(refused.value)
    assert _attachments(redmine_server, created.target_id) == []
    [note] = _notes(redmine_server, created.target_id)
    assert "a.bin" in note and "larger than 1,000 bytes" in note


def test_a_file_of_a_disallowed_extension_is_skipped_with_a_note(redmine_common_mark, tmp_path):
    connector = make_connector(redmine_common_mark)
    created = connector.create(a_draft(STATUSES), unique_marker())
    src = tmp_path / "setup.exe"
    src.write_bytes(b"MZ")
    with pytest.raises(SkippedError) as refused:
        connector.add_attachment(created.target_id, "setup.exe", "application/octet-stream", src, marker="F-2")
    assert ".exe" in str(refused.value) and "disallowed extensions" in str(refused.value)
    assert _attachments(redmine_common_mark, created.target_id) == []
    [note] = _notes(redmine_common_mark, created.target_id)
    assert "setup.exe" in note


def test_case_4_a_closed_project_is_named_by_check_and_refuses_writes_in_words(redmine_server):
    project = redmine_server.new_project()
    connector = make_connector(redmine_server, project=project)
    created = connector.create(a_draft(STATUSES), unique_marker())
    with redmine_server.admin() as admin:  # a person closes the project (Redmine 5: read-only)
        admin.put(f"/projects/{project}/close.json").raise_for_status()
    for bridge in (connector, make_connector(redmine_server, project=project)):  # running, and started anew
        assert bridge.check() == []
        problems = bridge.findings()
        assert any(p.startswith("redmine.project <- ") and "is closed" in p for p in problems), problems
        with pytest.raises(RefusedError) as refused:
            bridge.add_comment(created.target_id, Comment("c-1", "Wann kommt jemand?"), marker="c-1")
        assert "is closed" in str(refused.value) and "redmine.project" in str(refused.value)
        with pytest.raises(RefusedError) as refused:
            bridge.create(a_draft(STATUSES), unique_marker())
        assert "is closed" in str(refused.value) and "cannot be blank" not in str(refused.value)
        assert bridge.get(created.target_id).target_id == created.target_id  # reading goes on
    with redmine_server.admin() as admin:  # what Redmine holds: the one issue, no note
        issues = admin.get("/issues.json", params={"project_id": project, "status_id": "*"}).json()["issues"]
        assert [str(i["id"]) for i in issues] == [created.target_id]
        admin.put(f"/projects/{project}/reopen.json").raise_for_status()
    # Reopened: the same connector writes again at once.
    connector.add_comment(created.target_id, Comment("c-1", "Wann kommt jemand?"), marker="c-1")
    assert [c.text for c in connector.get(created.target_id).comments] == ["Wann kommt jemand?"]


def test_fields_a_tracker_has_switched_off_are_reported_as_not_stored_and_the_issue_stays_one(redmine_server):
    # Redmine answers 201/204 and drops a standard field the tracker has switched off
    # (Issue#safe_attribute_names): the write's result names it, the issue is the only one.
    project = redmine_server.new_project()
    tracker = redmine_server.new_tracker(project, switched_off=("due_date", "assigned_to_id", "parent_issue_id"))
    connector = make_connector(redmine_server, project=project, tracker=tracker)
    assert connector.check() == []
    problems = connector.findings()  # named before anything is sent (GET /trackers.json)
    assert sorted(p.split(" <- ")[0] + " " + p.split("standard field ")[1].split(" switched")[0]
                  for p in problems) == ["redmine.sub_item_tracker 'Parent task'", "redmine.tracker 'Assignee'",
                                         "redmine.tracker 'Due date'"], problems
    draft = replace(a_draft(STATUSES), due_date=date(2026, 12, 24))
    created = connector.create(draft, unique_marker())
    [due] = created.dropped
    assert "'2026-12-24' sent, empty kept" in due and f"Trackers » {tracker} » Standard fields" in due
    assigned = connector.set_assignee(created.target_id, str(redmine_server.user_id))
    assert assigned.fields == {"assignee": ""} and "assignee" in assigned.dropped[0]
    updated = connector.update(created.target_id, replace(draft, due_date=date(2027, 1, 8), title="Heizung kalt"),
                               {"title", "due_date"})
    assert [d for d in updated.dropped if "due date" in d] and updated.fields["due_date"] == ""
    sub = connector.add_sub_item(created.target_id, Task("T-1", "Thermostat tauschen"), StatusTarget("New"),
                                 marker="T-1")
    assert any("parent task" in d for d in sub.dropped), sub.dropped
    with redmine_server.admin() as admin:  # what Redmine holds: the one issue, retitled, no due date, nobody
        issues = admin.get("/issues.json", params={"project_id": project, "status_id": "*"}).json()["issues"]
    mine = [i for i in issues if str(i["id"]) == created.target_id]
    assert [i["subject"] for i in mine] == ["Heizung kalt"]
    assert "due_date" not in mine[0] or mine[0]["due_date"] is None
    assert "assigned_to" not in mine[0]
    assert len([i for i in issues if i["subject"] == "Heizung kalt"]) == 1


def test_a_tracker_with_every_field_on_reports_nothing_dropped(redmine_server):
    project = redmine_server.new_project()
    tracker = redmine_server.new_tracker(project, switched_off=())
    connector = make_connector(redmine_server, project=project, tracker=tracker)
    assert connector.check() == [] and connector.findings() == []
    draft = replace(a_draft(STATUSES), due_date=date(2026, 12, 24))
    created = connector.create(draft, unique_marker())
    assert created.dropped == () and created.fields["due_date"] == "2026-12-24"
    assert connector.update(created.target_id, replace(draft, due_date=None), {"due_date"}).dropped == ()
    assert connector.set_assignee(created.target_id, str(redmine_server.user_id)).dropped == ()
    sub = connector.add_sub_item(created.target_id, Task("T-1", "Thermostat"), StatusTarget("New"), marker="T-1")
    assert sub.dropped == ()


# --- configuration and access --------------------------------------------------------------


def test_a_bad_api_key_is_reported_by_check_and_raises_auth_error(redmine_server):
    connector = make_connector(redmine_server, api_key="0" * 40)
    [problem] = connector.check()
    assert problem.startswith("redmine.api_key")
    with pytest.raises(AuthError) as raised:
        connector.get("1")
    assert raised.value.status == 401


def test_an_unreachable_server_is_reported_by_check(redmine_server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        settings = RedmineSettings.model_validate(redmine_server.settings(url=f"http://127.0.0.1:{port}"))
        connector = RedmineConnectorPlugin.create(settings, http_policy=HttpPolicy(max_attempts=1))
        [problem] = connector.check()
    assert problem.startswith("redmine.url")


def test_check_reports_every_mismatch_at_once(redmine_server):
    connector = make_connector(redmine_server, tracker="Aufgabe", sub_item_tracker="Unteraufgabe")
    problems = connector.check()
    assert [p.split(" <- ")[0] for p in problems] == ["redmine.tracker", "redmine.sub_item_tracker"]
    assert make_connector(redmine_server, project="nope").check()[0].startswith("redmine.project")
    admin = make_connector(redmine_server, api_key=redmine_server.admin_api_key, marker_custom_field="nope")
    assert admin.check()[0].startswith("redmine.marker_custom_field")


def test_the_marker_field_is_found_by_name(redmine, redmine_server):
    redmine.create(a_draft(STATUSES), unique_marker())  # a non-admin sees fields on issues only
    for key in (redmine_server.api_key, redmine_server.admin_api_key):
        by_name = make_connector(redmine_server, api_key=key, marker_custom_field=redmine_server.custom_field_name)
        assert by_name.check() == []
        marker = unique_marker()
        created = by_name.create(a_draft(STATUSES), marker)
        assert redmine.find_by_marker(marker).target_id == created.target_id


def test_an_unknown_issue_and_a_foreign_sub_item_are_not_found(redmine):
    a = redmine.create(a_draft(STATUSES), unique_marker())
    b = redmine.create(a_draft(STATUSES), unique_marker())
    sub = redmine.add_sub_item(a.target_id, Task("T", "x"), StatusTarget("New"), marker="T")
    with pytest.raises(NotFoundError):
        redmine.update_sub_item(b.target_id, sub.target_id, Task("T", "y"), None)
    with pytest.raises(NotFoundError):
        redmine.get("OPS-1")


def test_settings_refuse_unknown_keys_and_create_does_no_io():
    with pytest.raises(ValueError):
        RedmineSettings.model_validate({"url": "http://x", "api_key": "k", "project": "p", "colour": "red"})
    settings = RedmineSettings.model_validate({"url": "http://127.0.0.1:9/", "api_key": "s3cr3t-value", "project": "p"})
    connector = RedmineConnectorPlugin.create(settings)
    assert connector.name == RedmineConnectorPlugin.name == "redmine"
    assert connector.client.base_url == "http://127.0.0.1:9" and "s3cr3t" not in repr(settings)


def test_a_parent_with_open_sub_items_is_closed_only_after_them(redmine):
    created = redmine.create(a_draft(STATUSES), unique_marker())
    sub = redmine.add_sub_item(created.target_id, Task("T-2", "Rohr"), StatusTarget("New"), marker="T-2")
    with pytest.raises(SkippableError, match=f"#{sub.target_id}"):
        redmine.set_status(created.target_id, StatusTarget("Closed"))
    redmine.update_sub_item(created.target_id, sub.target_id, Task("T-2", "Rohr"), StatusTarget("Closed"))
    assert redmine.set_status(created.target_id, StatusTarget("Closed")).fields["status"] == "Closed"
    with pytest.raises(SkippableError, match="parent"):
        redmine.update_sub_item(created.target_id, sub.target_id, Task("T-2", "Rohr"), StatusTarget("New"))


def test_the_same_text_twice_gives_two_comments(redmine):
    created = redmine.create(a_draft(STATUSES), unique_marker())
    first = redmine.add_comment(created.target_id, Comment("x", "Danke!"), marker=None)
    second = redmine.add_comment(created.target_id, Comment("y", "Danke!"), marker=None)
    assert first.target_id != second.target_id
    assert [c.comment_id for c in redmine.get(created.target_id).comments] == [first.target_id, second.target_id]


def test_every_request_to_redmine_is_reported_with_its_status(redmine):
    seen: list[int | str] = []
    redmine.observe_requests(lambda status, seconds: seen.append(status))
    redmine.statuses()
    with pytest.raises(NotFoundError):
        redmine.get("99999999")
    # statuses() may also meet a refused admin-only read (403) on its way; every answer is counted.
    assert seen[-1] == 404 and 200 in seen[:-1] and all(isinstance(s, int) for s in seen)

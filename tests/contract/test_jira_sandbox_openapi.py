"""The Jira sandbox answers in Atlassian's own shapes: every response is checked against
Atlassian's OpenAPI documents — Data Center 10.3 for ``/rest/api/2`` in server mode, Cloud (v3)
for ``/rest/api/3`` in cloud mode — as extracted into tests/data/jira-openapi/ (the operations
the sandbox serves and the schemas they reach, as published; ``extract.py`` there says where the
full documents come from and regenerates the extracts).

Each check finds the operation in the document by method and path, requires a success status
to be one the document declares, and validates the body against the declared response schema
(OpenAPI 3.0 semantics, read direction, formats checked).  The generated documents have known
defects; each is worked around narrowly here, nowhere else:

- DC list endpoints (field, priority, status, resolution, project, issuetype, project components,
  remote links, attachment upload) return arrays while the document references the item schema: the item
  schema is wrapped in an array for exactly those operations (Cloud: remote links only).
- DC ``IssueBean.fields`` types every field value as an object although Jira returns strings,
  numbers, arrays and nulls: that map's value schema is relaxed to "anything".
- DC ``EntityPropertyBean.value`` says string, but Jira returns the stored JSON value as is.
- Both documents mark timestamps ``format: date-time`` (RFC 3339), but Jira writes them as
  ``2024-05-23T14:47:28.592+0200`` (ISO 8601 with a basic offset): that form is accepted too.
- A changelog item (Cloud ``ChangeDetails``, DC ``ChangeItemBean``) types ``from``,
  ``fromString``, ``to`` and ``toString`` as strings, but Jira writes ``null`` for an empty side
  (an issue assigned from nobody: ``"from":null,"fromString":null`` in Jira Cloud's recorded
  ``jira:issue_updated`` webhooks): those four are made nullable.
- Beans without required properties (DC ``ServerInfoBean``, ``AttachmentBean``,
  ``RemoteIssueLinkBean``): the important keys are asserted explicitly in the tests.

Error answers are validated against Cloud's ``ErrorCollection`` (the DC document has none).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from jsonschema import FormatChecker
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

DOCS = Path(__file__).resolve().parents[1] / "data" / "jira-openapi"
JIRA_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")
ARRAY_DEFECTS = {
    ("get", "/api/2/field"), ("get", "/api/2/priority"), ("get", "/api/2/status"),
    ("get", "/api/2/resolution"), ("get", "/api/2/project"), ("get", "/api/2/issuetype"),
    ("get", "/api/2/project/{projectIdOrKey}/statuses"), ("get", "/api/2/user/assignable/search"),
    ("get", "/api/2/project/{projectIdOrKey}/components"),
    ("post", "/api/2/issue/{issueIdOrKey}/attachments"),
    ("get", "/api/2/issue/{issueIdOrKey}/remotelink"),
    ("get", "/rest/api/3/issue/{issueIdOrKey}/remotelink"),
}

FORMATS = FormatChecker()
FORMATS.checkers = dict(oas30_format_checker.checkers)


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(JIRA_TIMESTAMP.match(value)) or oas30_format_checker.conforms(value, "date-time")


@functools.lru_cache(maxsize=None)
def load_document(filename: str) -> dict[str, Any]:
    """Each document is parsed once per session (the Cloud one is 2.4 MB)."""
    return json.loads((DOCS / filename).read_text())


class JiraDoc:
    """One OpenAPI document with the defect patches applied to a copy of its components."""

    def __init__(self, filename: str, path_prefix: str):
        doc = load_document(filename)
        self.prefix = path_prefix  # the document's server URL path (DC: "/rest")
        self.paths = doc["paths"]
        self.components = copy.deepcopy(doc["components"])
        schemas = self.components["schemas"]
        if "IssueBean" in schemas and "transitionBeans" in schemas["IssueBean"]["properties"]:  # DC
            schemas["IssueBean"]["properties"]["fields"]["additionalProperties"] = {}
            schemas["EntityPropertyBean"]["properties"]["value"] = {}
        for name in ("ChangeDetails", "ChangeItemBean"):
            if name in schemas:
                for side in ("from", "fromString", "to", "toString"):
                    schemas[name]["properties"][side]["nullable"] = True
        self.templates = sorted(self.paths, key=lambda t: (t.count("{"), -len(t)))
        cloud = load_document("jira-cloud-platform-v3.openapi.json")
        self.error_schema = cloud["components"]["schemas"]["ErrorCollection"]

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        assert path.startswith(self.prefix), path
        path = path[len(self.prefix):]
        for template in self.templates:
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(pattern, path) and method in self.paths[template]:
                return template, self.paths[template][method]
        raise AssertionError(f"{method.upper()} {path} is not an operation of the document")

    def validate(self, instance: Any, schema: dict[str, Any]) -> None:
        OAS30ReadValidator({**schema, "components": self.components},
                           format_checker=FORMATS).validate(instance)

    def check(self, response: httpx.Response) -> Any:
        """Validate a success answer against its operation; returns the parsed body."""
        method = response.request.method.lower()
        template, op = self.operation(method, urlparse(str(response.request.url)).path)
        status = str(response.status_code)
        assert status in op["responses"], (
            f"{method.upper()} {template} answered {status} ({response.text[:300]}); "
            f"the document declares {sorted(op['responses'])}")
        schema = op["responses"][status].get("content", {}).get("application/json", {}).get("schema")
        if not response.content:
            return None
        body = response.json()
        if schema:
            if (method, template) in ARRAY_DEFECTS:
                schema = {"type": "array", "items": schema}
            self.validate(body, schema)
        return body

    def check_error(self, response: httpx.Response, status: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        body = response.json()
        OAS30ReadValidator(self.error_schema).validate(body)
        assert body["errorMessages"] or body["errors"], body
        return body


@pytest.fixture(scope="session")
def dc_doc() -> JiraDoc:
    return JiraDoc("jira-software-dc-10.3.openapi.json", "/rest")


@pytest.fixture(scope="session")
def cloud_doc() -> JiraDoc:
    return JiraDoc("jira-cloud-platform-v3.openapi.json", "")


@dataclass
class Flavour:
    mode: str
    doc: JiraDoc
    client: httpx.Client
    project: str
    api: str
    token: str
    store: Any = None

    def settle(self) -> None:
        """Let the search index catch up with what was just written."""
        self.client.post("/_sandbox/index/settle").raise_for_status()

    @property
    def cloud(self) -> bool:
        return self.mode == "cloud"

    def rich(self, text: str) -> Any:
        """A rich-text value as this API version takes it (v3: ADF)."""
        if not self.cloud:
            return text
        return {"type": "doc", "version": 1,
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, self.api + path, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.doc.check(self.call(method, path, **kwargs))

    def new_issue(self, summary: str = "Leaking tap", **fields: Any) -> dict[str, Any]:
        body = {"fields": {"project": {"key": self.project}, "issuetype": {"name": "Task"},
                           "summary": summary, **fields}}
        return self.ok("POST", "/issue", json=body)


@pytest.fixture(params=["server", "cloud"])
def jira(request: pytest.FixtureRequest) -> Any:
    sandbox = request.getfixturevalue(f"jira_{request.param}_sandbox")
    doc = request.getfixturevalue("dc_doc" if request.param == "server" else "cloud_doc")
    version = "3" if request.param == "cloud" else "2"
    with httpx.Client(base_url=sandbox.url, auth=sandbox.auth, timeout=10) as client:
        yield Flavour(request.param, doc, client, sandbox.project, f"/rest/api/{version}", sandbox.token,
                      sandbox.store)


def test_server_info_names_version_and_deployment_type(jira: Flavour) -> None:
    info = jira.ok("GET", "/serverInfo")
    assert info["deploymentType"] == ("Cloud" if jira.cloud else "Server")
    assert info["versionNumbers"] == ([1001, 0, 0] if jira.cloud else [10, 3, 0])
    assert info["baseUrl"] == str(jira.client.base_url).rstrip("/")


def test_myself_reports_the_user_and_its_time_zone(jira: Flavour) -> None:
    me = jira.ok("GET", "/myself")
    assert me["timeZone"] == "Europe/Berlin"
    assert ("accountId" in me) is jira.cloud and ("name" in me) is not jira.cloud


@pytest.mark.parametrize("path", ["/field", "/priority", "/status", "/resolution", "/issuetype", "/project"])
def test_catalog_lists_are_arrays_of_the_documented_beans(jira: Flavour, path: str) -> None:
    items = jira.ok("GET", path)
    assert isinstance(items, list) and items


def test_catalogs_hold_the_workflow_and_fields_the_bridge_needs(jira: Flavour) -> None:
    assert {s["name"] for s in jira.ok("GET", "/status")} == {"To Do", "In Progress", "Waiting", "Done"}
    per_type = jira.ok("GET", "/project/OPS/statuses")
    assert {t["name"] for t in per_type} >= {"Task", "Sub-task"}
    assert all({s["name"] for s in t["statuses"]} == {"To Do", "In Progress", "Waiting", "Done"} for t in per_type)
    assert {r["name"] for r in jira.ok("GET", "/resolution")} == {"Done", "Won't Do", "Duplicate"}
    field_ids = {f["id"] for f in jira.ok("GET", "/field")}
    assert {"summary", "description", "status", "labels", "priority", "assignee", "duedate",
            "attachment", "comment", "subtasks", "parent", "resolution", "updated", "created",
            "issuetype", "project"} <= field_ids


def test_project_lists_its_issue_types(jira: Flavour) -> None:
    project = jira.ok("GET", f"/project/{jira.project}", params={"expand": "issueTypes"})
    assert project["key"] == jira.project and project["id"] == "10000"
    assert {(t["name"], t["subtask"]) for t in project["issueTypes"]} == {
        ("Task", False), ("Bug", False), ("Sub-task", True)}
    jira.doc.check_error(jira.call("GET", "/project/NOPE"), 404)


def test_created_issue_is_an_issue_bean_on_the_sandbox_own_host(jira: Flavour) -> None:
    created = jira.new_issue(description=jira.rich("Water everywhere"), labels=["casavi"])
    assert created["self"].startswith(str(jira.client.base_url).rstrip("/") + jira.api)
    issue = jira.ok("GET", f"/issue/{created['key']}")
    fields = issue["fields"]
    assert issue["id"] == created["id"] and fields["summary"] == "Leaking tap"
    assert fields["description"] == jira.rich("Water everywhere")
    assert fields["status"]["name"] == "To Do" and fields["resolution"] is None
    assert fields["labels"] == ["casavi"] and fields["comment"]["total"] == 0
    only = jira.ok("GET", f"/issue/{created['id']}", params={"fields": "summary,updated"})
    assert set(only["fields"]) == {"summary", "updated"}


def test_missing_summary_and_unknown_issue_answer_jira_errors(jira: Flavour) -> None:
    no_summary = jira.call("POST", "/issue", json={"fields": {
        "project": {"key": jira.project}, "issuetype": {"name": "Task"}}})
    assert jira.doc.check_error(no_summary, 400)["errors"] == {
        "summary": "You must specify a summary of the issue."}
    jira.doc.check_error(jira.call("GET", "/issue/OPS-99999"), 404)


def test_issue_properties_in_the_create_body_are_readable(jira: Flavour) -> None:
    body = {"fields": {"project": {"key": jira.project}, "issuetype": {"name": "Task"},
                       "summary": "Broken door"},
            "properties": [{"key": "casavi", "value": {"ticketId": "C-7", "internalId": 7}}]}
    key = jira.ok("POST", "/issue", json=body)["key"]
    assert jira.ok("GET", f"/issue/{key}/properties/casavi") == {
        "key": "casavi", "value": {"ticketId": "C-7", "internalId": 7}}
    assert [k["key"] for k in jira.ok("GET", f"/issue/{key}/properties")["keys"]] == ["casavi"]
    expanded = jira.ok("GET", f"/issue/{key}", params={"properties": "casavi", "fields": "summary",
                                                      "expand": "transitions,names,schema"})
    assert expanded["properties"]["casavi"]["ticketId"] == "C-7"
    assert expanded["names"] == {"summary": "Summary"} and len(expanded["transitions"]) == 3
    assert jira.call("PUT", f"/issue/{key}/properties/casavi", json={"ticketId": "C-8"}).status_code == 200
    assert jira.doc.check(jira.call("PUT", f"/issue/{key}/properties/extra", json=[1, 2])) is None
    assert jira.call("DELETE", f"/issue/{key}/properties/extra").status_code == 204
    jira.doc.check_error(jira.call("GET", f"/issue/{key}/properties/extra"), 404)


def test_edit_changes_fields_and_refuses_what_is_not_on_the_screen(jira: Flavour) -> None:
    key = jira.new_issue()["key"]
    before = jira.ok("GET", f"/issue/{key}")["fields"]["updated"]
    edit = jira.call("PUT", f"/issue/{key}", json={"fields": {"summary": "Tap fixed"},
                                                   "update": {"labels": [{"add": "done-soon"}]}})
    assert jira.doc.check(edit) is None and edit.status_code == 204
    fields = jira.ok("GET", f"/issue/{key}")["fields"]
    assert fields["summary"] == "Tap fixed" and fields["labels"] == ["done-soon"]
    assert fields["updated"] > before
    refused = jira.call("PUT", f"/issue/{key}", json={"fields": {"status": {"name": "Done"}}})
    assert "status" in jira.doc.check_error(refused, 400)["errors"]


def test_sub_task_needs_a_parent_and_blocks_plain_delete(jira: Flavour) -> None:
    parent = jira.new_issue("Heating")["key"]
    orphan = jira.call("POST", "/issue", json={"fields": {
        "project": {"key": jira.project}, "issuetype": {"name": "Sub-task"}, "summary": "Valve"}})
    jira.doc.check_error(orphan, 400)
    child = jira.ok("POST", "/issue", json={"fields": {
        "project": {"key": jira.project}, "issuetype": {"name": "Sub-task"}, "summary": "Valve",
        "parent": {"key": parent}}})
    fields = jira.ok("GET", f"/issue/{parent}")["fields"]
    assert [s["key"] for s in fields["subtasks"]] == [child["key"]]
    assert jira.ok("GET", f"/issue/{child['key']}")["fields"]["parent"]["key"] == parent
    jira.doc.check_error(jira.call("DELETE", f"/issue/{parent}", params={"deleteSubtasks": "false"}), 400)
    assert jira.call("DELETE", f"/issue/{parent}", params={"deleteSubtasks": "true"}).status_code == 204
    jira.doc.check_error(jira.call("GET", f"/issue/{child['key']}"), 404)


def test_transitions_offer_every_other_status_and_refuse_invalid_ids(jira: Flavour) -> None:
    key = jira.new_issue()["key"]
    offered = jira.ok("GET", f"/issue/{key}/transitions", params={"expand": "transitions.fields"})
    by_name = {t["name"]: t for t in offered["transitions"]}
    assert set(by_name) == {"In Progress", "Waiting", "Done"}
    assert "resolution" in by_name["Done"]["fields"]
    done = {"transition": {"id": by_name["Done"]["id"]}, "fields": {"resolution": {"name": "Won't Do"}}}
    answer = jira.call("POST", f"/issue/{key}/transitions", json=done)
    assert answer.status_code == 204 and jira.doc.check(answer) is None
    fields = jira.ok("GET", f"/issue/{key}")["fields"]
    assert fields["status"]["name"] == "Done" and fields["resolution"]["name"] == "Won't Do"
    jira.doc.check_error(jira.call("POST", f"/issue/{key}/transitions", json={"transition": {"id": "999"}}), 400)
    jira.ok("POST", f"/issue/{key}/transitions", json={"transition": {"id": "11"}})
    assert jira.ok("GET", f"/issue/{key}")["fields"]["resolution"] is None


def test_comments_page_visibility_and_update(jira: Flavour) -> None:
    key = jira.new_issue()["key"]
    first = jira.ok("POST", f"/issue/{key}/comment", json={
        "body": jira.rich("Plumber booked"), "visibility": {"type": "role", "value": "Administrators"},
        "properties": [{"key": "origin", "value": {"casavi": "c-1"}}]})
    assert first["visibility"] == {"type": "role", "value": "Administrators"}
    assert first["body"] == jira.rich("Plumber booked")
    jira.ok("POST", f"/issue/{key}/comment", json={"body": jira.rich("Second")})
    page = jira.ok("GET", f"/issue/{key}/comment", params={"startAt": 1, "maxResults": 1})
    assert (page["total"], page["startAt"], len(page["comments"])) == (2, 1, 1)
    updated = jira.ok("PUT", f"/issue/{key}/comment/{first['id']}", json={"body": jira.rich("Rebooked")})
    assert updated["body"] == jira.rich("Rebooked") and updated["updated"] >= updated["created"]
    one = jira.ok("GET", f"/issue/{key}/comment/{first['id']}", params={"expand": "properties"})
    assert one["properties"] == [{"key": "origin", "value": {"casavi": "c-1"}}]
    bad_role = jira.call("POST", f"/issue/{key}/comment", json={
        "body": jira.rich("x"), "visibility": {"type": "role", "value": "Nobody"}})
    jira.doc.check_error(bad_role, 400)
    not_member = jira.call("POST", f"/issue/{key}/comment", json={
        "body": jira.rich("x"), "visibility": {"type": "role", "value": "Developers"}})
    jira.doc.check_error(not_member, 400)
    assert not_member.json()["errors"]["commentLevel"] == "You are currently not a member of the project role: Developers."
    long_text = jira.call("POST", f"/issue/{key}/comment", json={"body": jira.rich("x" * 32768)})
    jira.doc.check_error(long_text, 400)
    assert "32,767" in long_text.json()["errors"]["comment"]
    if jira.cloud:  # v3 takes rich text only as an ADF document
        jira.doc.check_error(jira.call("POST", f"/issue/{key}/comment", json={"body": "plain"}), 400)


def test_attachments_upload_as_a_list_and_download_from_the_content_url(jira: Flavour) -> None:
    key = jira.new_issue()["key"]
    files = {"file": ("meter.txt", b"1234 kWh", "application/octet-stream")}
    refused = jira.call("POST", f"/issue/{key}/attachments", files=files)
    jira.doc.check_error(refused, 403)
    added = jira.ok("POST", f"/issue/{key}/attachments", files=files,
                    headers={"X-Atlassian-Token": "no-check"})
    assert isinstance(added, list) and added[0]["size"] == 8 and added[0]["mimeType"] == "text/plain"
    assert added[0]["content"].startswith(str(jira.client.base_url).rstrip("/"))
    meta = jira.ok("GET", f"/attachment/{added[0]['id']}")
    assert {"filename", "size", "content", "mimeType", "created", "author"} <= set(meta)
    assert jira.client.get(added[0]["content"]).content == b"1234 kWh"
    too_big = jira.call("POST", f"/issue/{key}/attachments", headers={"X-Atlassian-Token": "no-check"},
                        files={"file": ("big.bin", b"x" * (256 * 1024 + 1), "application/octet-stream")})
    jira.doc.check_error(too_big, 413 if jira.cloud else 404)  # as each document declares
    assert jira.ok("GET", f"/issue/{key}")["fields"]["attachment"][0]["filename"] == "meter.txt"


def test_remote_links_are_created_and_listed(jira: Flavour) -> None:
    key = jira.new_issue()["key"]
    link = {"globalId": "casavi:ticket:C-9", "object": {"url": "https://casavi.example/t/9", "title": "C-9"}}
    created = jira.ok("POST", f"/issue/{key}/remotelink", json=link)
    assert isinstance(created["id"], int) and created["self"]
    again = jira.call("POST", f"/issue/{key}/remotelink", json=link)
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    listed = jira.ok("GET", f"/issue/{key}/remotelink")
    assert [(lk["id"], lk["object"]["title"]) for lk in listed] == [(created["id"], "C-9")]
    jira.doc.check_error(jira.call("POST", f"/issue/{key}/remotelink", json={"object": {}}), 400)


def test_search_finds_by_property_and_pages(jira: Flavour) -> None:
    label = f"page-{jira.mode}"
    keys = [jira.new_issue(f"Item {n}", labels=[label])["key"] for n in range(5)]
    jira.ok("PUT", f"/issue/{keys[2]}/properties/casavi", json={"ticketId": f"S-{jira.mode}"})
    jira.settle()
    jql = f'project = {jira.project} AND labels = {label} ORDER BY key ASC'
    if jira.cloud:
        first = jira.ok("GET", "/search/jql", params={"jql": jql, "maxResults": 2, "fields": "summary"})
        assert "total" not in first and first["nextPageToken"] and first["isLast"] is False
        rest = jira.ok("POST", "/search/jql", json={"jql": jql, "maxResults": 10, "fields": ["summary"],
                                                     "nextPageToken": first["nextPageToken"]})
        found = [i["key"] for i in first["issues"] + rest["issues"]]
        assert rest["isLast"] is True and "nextPageToken" not in rest
        gone = jira.client.get("/rest/api/2/search", params={"jql": jql})
        jira.doc.check_error(gone, 410)
        jira.doc.check_error(jira.call("GET", "/search/jql", params={"jql": "order by key"}), 400)
    else:
        first = jira.ok("GET", "/search", params={"jql": jql, "maxResults": 2, "fields": "*all"})
        rest = jira.ok("POST", "/search", json={"jql": jql, "startAt": 2, "maxResults": 10})
        assert (first["total"], rest["startAt"]) == (5, 2)
        found = [i["key"] for i in first["issues"] + rest["issues"]]
        assert jira.call("GET", "/search/jql", params={"jql": jql}).status_code == 404
        rows = jira.ok("GET", "/search", params={"jql": jql, "fields": "summary", "properties": "casavi"})
        assert all("properties" not in row for row in rows["issues"])  # DC's /search has no such parameter
    assert found == keys
    by_property = {"jql": f'issue.property[casavi].ticketId = "S-{jira.mode}"', "fields": "summary"}
    search = "/search/jql" if jira.cloud else "/search"
    assert jira.ok("GET", search, params=by_property)["issues"] == []  # not indexed: no match
    jira.store.options.indexed_properties = ("casavi",)  # as if an app declared it for indexing
    try:
        hit = jira.call("GET", search, params=by_property)
    finally:
        jira.store.options.indexed_properties = ()
    assert [i["key"] for i in jira.doc.check(hit)["issues"]] == [keys[2]]
    jira.doc.check_error(jira.call("GET", "/search/jql" if jira.cloud else "/search",
                                   params={"jql": "summary ~ tap OR x = y"}), 400)


def test_project_roles_and_assignable_users(jira: Flavour) -> None:
    roles = jira.ok("GET", f"/project/{jira.project}/role")
    assert {"Administrators", "Developers"} <= set(roles)
    admins = jira.ok("GET", roles["Administrators"].split(jira.api, 1)[1])
    developers = jira.ok("GET", roles["Developers"].split(jira.api, 1)[1])
    me = jira.ok("GET", "/myself")
    ident = "accountId" if jira.cloud else "name"

    def members(role: dict[str, Any]) -> set[str]:
        return {(a.get("actorUser") or {}).get("accountId") if jira.cloud else a.get("name") for a in role["actors"]}

    assert me[ident] in members(admins) and me[ident] not in members(developers)
    if jira.cloud:
        assert (admins["currentUserRole"], developers["currentUserRole"]) == (True, False)
    who = {"accountId": "5f2a1c0e8d3b4a0069c1b002"} if jira.cloud else {"username": "alice"}
    assert len(jira.ok("GET", "/user/assignable/search", params={"project": jira.project, **who})) == 1
    departed = {"accountId": "5f2a1c0e8d3b4a0069c1b005"} if jira.cloud else {"username": "dora"}
    assert jira.ok("GET", "/user/assignable/search", params={"project": jira.project, **departed}) == []
    refused = jira.call("POST", "/issue", json={"fields": {
        "project": {"key": jira.project}, "issuetype": {"name": "Task"}, "summary": "x",
        "assignee": {"accountId": departed["accountId"]} if jira.cloud else {"name": "dora"}}})
    jira.doc.check_error(refused, 400)
    assert "assignee" in refused.json()["errors"]


def test_requests_without_or_with_wrong_credentials_are_401(jira: Flavour) -> None:
    base = str(jira.client.base_url)
    missing = httpx.get(f"{base}{jira.api}/myself")
    jira.doc.check_error(missing, 401)
    wrong = httpx.get(f"{base}{jira.api}/myself", auth=("casavi-bridge", "wrong"))
    jira.doc.check_error(wrong, 401)
    assert wrong.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"
    bearer = httpx.get(f"{base}{jira.api}/myself", headers={"Authorization": f"Bearer {jira.token}"})
    assert jira.doc.check(bearer)["emailAddress"]


def test_application_properties_are_for_administrators_only(jira: Flavour) -> None:
    wanted = {"key": "jira.comment.level.visibility.groups"}
    # An ordinary account (the sandbox's default) is told nothing: 404, as both documents say.
    jira.doc.check_error(jira.call("GET", "/application-properties", params=wanted), 404)
    ordinary = jira.store.options
    jira.store.options = dataclasses.replace(ordinary, user_admin=True, group_visibility=False)
    try:
        answer = jira.ok("GET", "/application-properties", params=wanted)
        [answer] = answer if jira.cloud else [answer]  # Cloud's schema: an array even for one key
        assert (answer["key"], answer["value"]) == (wanted["key"], "false")
        jira.doc.check_error(jira.call("GET", "/application-properties", params={"key": "jira.no.such"}), 404)
    finally:
        jira.store.options = ordinary


def test_assignee_changes_are_recorded_in_the_changelog(jira: Flavour) -> None:
    key = jira.new_issue("Broken lift")["key"]
    alice = {"accountId": "5f2a1c0e8d3b4a0069c1b002"} if jira.cloud else {"name": "alice"}
    bob = {"accountId": "5f2a1c0e8d3b4a0069c1b003"} if jira.cloud else {"name": "bob"}
    for who in (alice, bob, None):
        assert jira.call("PUT", f"/issue/{key}", json={"fields": {"assignee": who}}).status_code == 204
    jira.call("PUT", f"/issue/{key}", json={"fields": {"assignee": None}})  # no change: no history
    jira.call("PUT", f"/issue/{key}", json={"fields": {"summary": "Broken lift, 2nd floor"}})  # not an assignee change
    issue = jira.ok("GET", f"/issue/{key}", params={"expand": "changelog", "fields": "assignee"})
    changelog = issue["changelog"]
    histories = changelog["histories"]
    assert (changelog["startAt"], changelog["total"], len(histories)) == (0, 3, 3)
    if jira.cloud:  # "starting from the most recent" (Cloud, Get issue: expand)
        histories = list(reversed(histories))
    ident = ("5f2a1c0e8d3b4a0069c1b002", "5f2a1c0e8d3b4a0069c1b003") if jira.cloud else ("JIRAUSER10100", "JIRAUSER10101")
    items = [(h["items"][0]["field"], h["items"][0]["from"], h["items"][0]["fromString"],
              h["items"][0]["to"], h["items"][0]["toString"]) for h in histories]
    assert items == [("assignee", None, None, ident[0], "Alice Agent"),
                     ("assignee", ident[0], "Alice Agent", ident[1], "Bob Builder"),
                     ("assignee", ident[1], "Bob Builder", None, None)]
    assert all(len(h["items"]) == 1 and h["author"]["displayName"] and h["created"] for h in histories)
    assert issue["fields"]["assignee"] is None
    without = jira.ok("GET", f"/issue/{key}", params={"fields": "assignee"})
    assert "changelog" not in without
    paged = jira.call("GET", f"/issue/{key}/changelog", params={"startAt": 1, "maxResults": 1})
    if jira.cloud:  # Cloud's paged "Get changelogs", oldest first
        page = jira.doc.check(paged)
        assert (page["startAt"], page["total"], page["isLast"]) == (1, 3, False)
        assert [h["items"][0]["toString"] for h in page["values"]] == ["Bob Builder"]
    else:  # Data Center has no such resource
        assert paged.status_code == 404


def test_a_person_reassigning_in_jira_is_the_author_of_the_history(jira: Flavour) -> None:
    key = jira.new_issue("Gate jammed")["key"]
    carol = {"accountId": "5f2a1c0e8d3b4a0069c1b004"} if jira.cloud else {"name": "carol"}
    answer = jira.client.post(f"/_sandbox/issues/{key}/edit", json={"as": "alice", "assignee": carol})
    assert answer.status_code < 300, answer.text
    histories = jira.ok("GET", f"/issue/{key}", params={"expand": "changelog", "fields": "summary"})["changelog"]["histories"]
    assert [(h["author"]["displayName"], h["items"][0]["toString"]) for h in histories] == [("Alice Agent", "Carol Caretaker")]


def test_transitions_are_recorded_in_the_changelog_of_issues_and_search_rows(jira: Flavour) -> None:
    key = jira.new_issue("Draughty window")["key"]
    search = "/search/jql" if jira.cloud else "/search"
    params = {"jql": f"key = {key}", "fields": "status,resolution", "expand": "changelog"}
    jira.settle()
    fresh = jira.ok("GET", search, params=params)["issues"][0]
    assert fresh["changelog"]["histories"] == []  # a create writes no history
    offered = {t["name"]: t["id"] for t in jira.ok("GET", f"/issue/{key}/transitions")["transitions"]}
    jira.ok("POST", f"/issue/{key}/transitions", json={"transition": {"id": offered["In Progress"]}})
    answer = jira.client.post(f"/_sandbox/issues/{key}/transition",
                              json={"as": "alice", "status": "Done", "resolution": "Won't Do"})
    assert answer.status_code < 300, answer.text
    jira.settle()
    for row in (jira.ok("GET", f"/issue/{key}", params={"expand": "changelog", "fields": "status"}),
                jira.ok("GET", search, params=params)["issues"][0]):
        histories = row["changelog"]["histories"]
        if jira.cloud:  # the most recent first
            histories = list(reversed(histories))
        items = [[(i["field"], i["fromString"], i["toString"]) for i in h["items"]] for h in histories]
        assert items == [[("status", "To Do", "In Progress")],
                         [("status", "In Progress", "Done"), ("resolution", None, "Won't Do")]]
        assert histories[1]["author"]["displayName"] == "Alice Agent"
        assert all(i["from"] and i["to"] for i in histories[0]["items"])  # the status ids

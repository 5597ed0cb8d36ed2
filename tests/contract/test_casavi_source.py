"""casavi tickets as the bridge's Source, against the sandbox over real sockets — including
the document's payload quirks, served by rewriting real answers on their way to the client."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from bridge.casavi.source import CasaviSource
from bridge.errors import ConflictError
from bridge.model import SourceRef
from bridge.source import ParseProblem, SourceSummary
from tests.contract.casavi_helpers import client_for


def test_source_item_resolves_names_and_writes_status_back(casavi_sandbox):
    client = client_for(casavi_sandbox)
    source = CasaviSource(client)
    summary = next(s for s in source.changed_since(None) if isinstance(s, SourceSummary))
    item = source.get(summary.ref)
    facts = dict(item.facts)
    prop = client.get_property(item.property_id)
    assert facts["Property"] == f"{prop.property_id} {prop.name}"
    assert item.version.startswith(summary.version + "#")  # a listing's version is the item's first part
    new_status = "CLOSED" if item.status != "CLOSED" else "OPEN"
    version = source.set_status(summary.ref, new_status)
    after = client.get_ticket(summary.ref.item_id)
    assert after.status == new_status and version == after.last_modified != item.version
    assert after.title == item.title and after.property_id == item.property_id


def test_source_sweep_reads_linked_tickets_whole_and_changed_since_covers_every_status(casavi_sandbox):
    source = CasaviSource(client_for(casavi_sandbox))
    changed = [s for s in source.changed_since(None) if isinstance(s, SourceSummary)]
    assert len(changed) == 60
    assert {s.status for s in changed} == {"PENDING", "OPEN", "INPROGRESS", "POSTPONED", "CLOSED"}
    pending = [s.ref.item_id for s in changed if s.status == "PENDING"]
    swept = list(source.sweep(pending))
    assert pending and [s.ref.item_id for s in swept] == pending
    assert all(s.version == source.get(s.ref).version for s in swept)
    # Whole reads say when they were made; list rows do not (they are not whole reads).
    assert all(s.read_whole_at is not None for s in swept) and all(s.read_whole_at is None for s in changed)


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


def test_a_task_names_who_created_it_a_contact_or_a_staff_member(casavi_sandbox):
    # The document calls createdById "the external ID of the contact the task is created by";
    # tasks are created by the account's staff too: both are named, an unknown id stays bare.
    from tests.fixtures.sandbox import casavi_control

    store = casavi_sandbox.casavi.store
    contact_id, contact = next(iter(store.contacts.items()))
    staff_id, member = next(iter(store.staff.items()))
    for task_id, creator in (("T-c", contact_id), ("T-s", staff_id), ("T-x", "E-404404")):
        casavi_control(casavi_sandbox, "POST", "/tickets/T-00009/tasks",
                       json={"id": task_id, "title": "Rohr abdichten", "createdById": creator})
    source = CasaviSource(client_for(casavi_sandbox))
    tasks = [t for t in source.get(SourceRef("casavi", "T-00009")).tasks if t.task_id in ("T-c", "T-s", "T-x")]
    # Reading the ticket looks nobody up (the line is not in the task's hash); writing its
    # sub-item does.
    assert {t.task_id: dict(t.facts)["Created by"] for t in tasks} == \
        {"T-c": contact_id, "T-s": staff_id, "T-x": "E-404404"}
    facts = {t.task_id: dict(source.named_task(t).facts)["Created by"] for t in tasks}
    assert facts == {"T-c": f"{contact['firstName']} {contact['lastName']}".strip(),
                     "T-s": f"{member['firstName']} {member['lastName']}".strip(), "T-x": "E-404404"}

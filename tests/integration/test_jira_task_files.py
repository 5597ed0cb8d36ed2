"""The craftsman's task end to end: the sub-task names the craftsman the casavi task is assigned
to and follows a change of craftsman; the task's own files reach the sub-task (marked, once,
within the size limit) and files added to the sub-task in Jira come back as
``[sync] tool_files_to_casavi`` says.  casavi and Jira sandboxes over real sockets, both Jira
flavours, casavi under its strict reading (task changes do not move lastModified and a task's
files are listed on the ticket too): every pass sweeps (``sweep_interval_seconds`` tiny)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from bridge.sandbox.server import start_sandboxes
from bridge.sync.links import KIND_TASK_FILE
from connectors.jira.markup import unescape_text
from tests.integration.test_jira_end_to_end import HTTP, World, worlds

SWEEP_EVERY_PASS = 0.001  # casavi's strict reading: a task change does not move lastModified
WASSERMANN = "Klaus Wassermann (Sanitär Wassermann & Söhne GmbH), service@sanitaer-wassermann.example, +49 89 5550101"
FUNKE = "Petra Funke (Elektro Funke), p.funke@elektro-funke.example, +49 171 5550102"


class TaskWorld(World):
    def __init__(self, handle, tmp_path: Path, mode: str, **sync: Any):
        super().__init__(handle, tmp_path, mode, sweep_interval_seconds=SWEEP_EVERY_PASS, **sync)

    def upload(self, name: str, data: bytes, content_type: str = "text/plain") -> int:
        """A file uploaded in casavi (the sandbox's store, as the casavi UI would)."""
        return self.handle.casavi.store.add_file(name, content_type, data)

    def new_task(self, ticket: str, task_id: str = "T-1", **fields: Any) -> dict:
        return self.casavi("POST", f"/tickets/{ticket}/tasks", {"id": task_id, "title": "Rohr abdichten",
                                                                 "description": "Bitte bis Freitag.", **fields})

    def rest(self, key: str, **params: Any) -> dict:
        auth = (self.handle.info["jira_user"], self.handle.info["jira_token"])
        answer = HTTP.get(f"{self.handle.root_url('jira')}/rest/api/2/issue/{key}", params=params, auth=auth)
        answer.raise_for_status()
        return answer.json()

    def sub_task(self, ticket: str) -> dict:
        parent = self.rest(self.issues()[ticket]["key"], fields="subtasks")
        [entry] = parent["fields"]["subtasks"]
        return self.rest(entry["key"], fields="description,attachment", properties="casavi.attachments,casavi.task")

    def parent_files(self, ticket: str) -> list[str]:
        parent = self.rest(self.issues()[ticket]["key"], fields="attachment")
        return [a["filename"] for a in parent["fields"]["attachment"]]

    def download(self, attachment: dict) -> bytes:
        auth = (self.handle.info["jira_user"], self.handle.info["jira_token"])
        return HTTP.get(attachment["content"], auth=auth).content

    def ticket(self, ticket: str) -> dict:
        return self.casavi("GET", f"/tickets/{ticket}")


@pytest.fixture(params=["server", "cloud"])
def world_with(request, tmp_path) -> Iterator:
    with start_sandboxes(tickets=0, seed=5, apps=("casavi", "jira"), jira_mode=request.param) as handle, \
            worlds(handle, tmp_path, request.param, TaskWorld) as build:
        yield build


def test_the_sub_task_names_the_craftsman_and_follows_a_change_of_craftsman(world_with):
    world = world_with()
    ticket = world.new_ticket()
    world.new_task(ticket, assignedToId="H-0000001")
    world.sync()
    description = unescape_text(world.sub_task(ticket)["fields"]["description"])
    assert description.startswith("{panel:title=casavi}\n*Craftsman:* " + WASSERMANN + "\n{panel}")
    assert description.rstrip().endswith("Bitte bis Freitag.")
    world.casavi("PUT", f"/tickets/{ticket}/tasks/T-1", {"assignedToId": "H-0000002"})
    world.sync()
    description = unescape_text(world.sub_task(ticket)["fields"]["description"])
    assert "*Craftsman:* " + FUNKE in description and "Wassermann" not in description
    world.casavi("PUT", f"/tickets/{ticket}/tasks/T-1", {"assignedToId": "X-404"})  # not a contact the account reads
    world.sync()
    assert "*Craftsman:* X-404\n" in unescape_text(world.sub_task(ticket)["fields"]["description"])
    assert world.sync().differences == 0


def test_the_sub_task_names_who_created_the_task_and_a_tenant_comment_looks_nobody_up(world_with):
    # The creator's line is not in the task's hash: the name is looked up for the sub-task
    # being written, and a later tenant comment on the ticket (a fresh bridge, nothing cached)
    # reads no contact or staff member.
    world = world_with()
    ticket = world.new_ticket()
    world.new_task(ticket, createdById="M-000002")  # a staff member (not a contact)
    world.sync()
    description = unescape_text(world.sub_task(ticket)["fields"]["description"])
    assert "*Created by:* Jörg Hausmeister\n" in description
    world.restart()
    world.casavi("POST", f"/tickets/{ticket}/comments", {"text": "Danke, Freitag passt.", "isInternal": False})
    world.casavi("POST", "/stats/reset")
    assert world.sync().differences == 1
    read = world.casavi("GET", "/stats")["requests"]
    assert not [r for r in read if "/contacts" in r or "/staff" in r], read
    assert "Danke, Freitag passt." in str(world.rest(world.issues()[ticket]["key"], fields="comment"))
    assert "*Created by:* Jörg Hausmeister\n" in unescape_text(world.sub_task(ticket)["fields"]["description"])


def test_a_task_file_reaches_the_sub_task_once_with_its_marker_and_not_the_parent(world_with):
    world = world_with()
    ticket = world.new_ticket()
    quote = world.upload("Angebot Sanitär.txt", "Kostenvoranschlag: 420 €".encode())
    world.new_task(ticket, assignedToId="H-0000001", attachments=[quote])
    assert quote in world.ticket(ticket)["attachments"]  # the strict reading lists it on the ticket too
    world.sync()
    sub = world.sub_task(ticket)
    [copy] = sub["fields"]["attachment"]
    assert copy["filename"] == "Angebot Sanitär.txt"
    assert world.download(copy) == "Kostenvoranschlag: 420 €".encode()
    assert sub["properties"]["casavi.attachments"] == {copy["id"]: str(quote)}
    assert world.parent_files(ticket) == []
    for _ in range(2):
        world.sync()
    assert [a["id"] for a in world.sub_task(ticket)["fields"]["attachment"]] == [copy["id"]]
    assert world.sync().differences == 0


def test_a_task_file_added_later_and_one_above_the_limit(world_with):
    world = world_with(attachment_max_bytes=1000)
    ticket = world.new_ticket()
    world.new_task(ticket)
    world.sync()
    small, big = world.upload("Foto.txt", b"Riss in der Wand"), world.upload("Video.txt", b"x" * 1001)
    world.casavi("PUT", f"/tickets/{ticket}/tasks/T-1", {"attachments": [small, big]})
    world.sync()
    assert [a["filename"] for a in world.sub_task(ticket)["fields"]["attachment"]] == ["Foto.txt"]
    assert world.parent_files(ticket) == []


def test_a_file_added_to_the_sub_task_reaches_casavi_as_an_internal_comment_by_default(world_with):
    world = world_with()
    ticket = world.new_ticket()
    world.new_task(ticket, assignedToId="H-0000001")
    world.sync()
    sub_key = world.sub_task(ticket)["key"]
    world.jira("POST", f"/issues/{sub_key}/attachment", {"filename": "Rechnung.txt", "text": "420 EUR", "as": "alice"})
    world.sync()
    stored = world.ticket(ticket)
    carriers = [c for c in stored["comments"] if "Rechnung.txt" in c["text"]]
    assert len(carriers) == 1 and carriers[0]["isInternal"] is True
    assert "Rohr abdichten" in carriers[0]["text"] and len(carriers[0]["attachments"]) == 1
    assert [t["attachments"] for t in stored["tasks"]] == [[]]  # not shown to the craftsman
    sub = world.sub_task(ticket)
    [original] = sub["fields"]["attachment"]
    assert sub["properties"]["casavi.attachments"] == {original["id"]: str(carriers[0]["attachments"][0])}
    for _ in range(2):
        world.sync()
    assert len(world.sub_task(ticket)["fields"]["attachment"]) == 1 and world.parent_files(ticket) == []
    assert sum("Rechnung.txt" in c["text"] for c in world.ticket(ticket)["comments"]) == 1
    assert world.sync().differences == 0


def test_public_setting_attaches_a_sub_task_file_to_the_casavi_task(world_with):
    world = world_with(tool_files_to_casavi="public")
    ticket = world.new_ticket()
    first = world.upload("Plan.txt", b"Grundriss")
    world.new_task(ticket, attachments=[first])
    world.sync()
    sub_key = world.sub_task(ticket)["key"]
    world.jira("POST", f"/issues/{sub_key}/attachment", {"filename": "Foto.txt", "text": "nachher", "as": "alice"})
    for _ in range(3):
        world.sync()
    [task] = world.ticket(ticket)["tasks"]
    names = [d["name"] for d in task["attachmentDetails"]]
    assert sorted(names) == ["Foto.txt", "Plan.txt"]  # the task keeps its own file (the PUT sends all)
    assert not [c for c in world.ticket(ticket)["comments"] if "Foto.txt" in c["text"]]
    assert sorted(a["filename"] for a in world.sub_task(ticket)["fields"]["attachment"]) == ["Foto.txt", "Plan.txt"]
    assert world.parent_files(ticket) == []


def test_no_second_copy_when_links_were_lost_in_a_crash(world_with):
    world = world_with()
    ticket = world.new_ticket()
    quote = world.upload("Angebot.txt", b"420 EUR")
    world.new_task(ticket, attachments=[quote])
    world.sync()
    sub_key = world.sub_task(ticket)["key"]
    world.jira("POST", f"/issues/{sub_key}/attachment", {"filename": "Rechnung.txt", "text": "380 EUR", "as": "alice"})
    world.sync()
    jira = world.handle.servers["jira"].app.jira
    with jira.lock:  # as if the process died after each write and before its record ...
        jira.issue(sub_key).properties.pop("casavi.attachments")  # ... and before the marker write
    ledger = world.bridge.ledger
    _forget_task_file_links(ledger, f"casavi:{ticket}")
    world.sync()
    world.sync()
    sub = world.sub_task(ticket)
    assert sorted(a["filename"] for a in sub["fields"]["attachment"]) == ["Angebot.txt", "Rechnung.txt"]
    assert len(sub["properties"]["casavi.attachments"]) == 2  # both marked again
    assert sum("Rechnung.txt" in c["text"] for c in world.ticket(ticket)["comments"]) == 1
    assert len([l for l in ledger.item_links(f"casavi:{ticket}").children if l.kind == KIND_TASK_FILE]) == 2
    assert world.parent_files(ticket) == []


def _forget_task_file_links(ledger, item_key: str) -> None:
    from sqlmodel import Session, delete

    from bridge.state.tables import Link

    with Session(ledger.engine) as s:
        s.exec(delete(Link).where(Link.item_key == item_key, Link.kind == KIND_TASK_FILE))
        s.commit()

"""Crash safety against Jira (issue 8): the casavi and the Jira sandbox run as two processes of
their own; `casavi-bridge run --once` is SIGKILLed at random moments while it writes the initial
mirror, at least 50 times, and restarted each time, while tenants comment (some with a file) in
casavi and people comment and attach files in Jira.  When a fast machine gets through the
generated tickets, new ones arrive, so every kill lands in the middle of mirroring.  Every
other kill is aimed at the creates themselves (its delay counts from Jira's first create answer
of the run, not from any first write): new tickets sort after the linked ones, so a kill timed
from the first comment would often land before the run reaches them.  At least half of the
kills must land after the run began creating issues (its log shows a create Jira answered).

Afterwards everything is read from the sides themselves, not from the bridge's database: one
issue per ticket (by the `casavi` issue property), every sub-task, comment and attachment
exactly once on each side (by the bridge's markers and write-back ids), reconcile finds nothing
to do, and the state database (links, cursors) agrees with what the sides hold."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.processes import run_bridge, write_config
from tests.reliability.crash_helpers import WRITING, kill_while_writing

TICKETS = 250
KILLS = 50  # kills that hit the bridge in the middle of a pass
BACKLOG = 20  # tickets still to mirror below which new ones arrive, so every kill lands mid-mirror
MIRRORED = {"PENDING", "OPEN", "INPROGRESS", "POSTPONED"}  # filters.statuses of the sandbox config
CLOCK_SLACK = timedelta(seconds=5)
PEOPLE = ("alice", "bob", "carol")  # the Jira sandbox's users besides the bridge's own account
# Log events of an issue create: Jira answered it (the record may not be written yet) / recorded.
CREATING = re.compile(r"jira_issue_created|ticket_mirrored")


class Sides:
    """casavi's and Jira's control endpoints (act as a tenant / a person) and Jira's REST API."""

    def __init__(self, casavi_info: dict[str, Any], casavi_root: str, jira_info: dict[str, Any]):
        self.casavi_root = casavi_root
        self.jira_root = jira_info["jira_url"]
        self.http = httpx.Client(timeout=60)
        token = self._ok(self.http.post(casavi_info["casavi_url"] + "/authenticate", json={
            "key": casavi_info["casavi_key"], "secret": casavi_info["casavi_secret"]}))["token"]
        self.casavi = httpx.Client(base_url=casavi_info["casavi_url"], headers={"token": token}, timeout=60)
        self.jira = httpx.Client(base_url=self.jira_root + "/rest/api/2", timeout=60,
                                 auth=(jira_info["jira_user"], jira_info["jira_token"]))
        self.project = jira_info["jira_project"]

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        return self._ok(self.http.get(f"{self.casavi_root}/_sandbox/tickets/{ticket_id}"))

    def new_file(self, name: str) -> int:
        """A file uploaded to casavi (its public API: there is no control endpoint for files)."""
        return self._ok(self.casavi.post("/files", content=f"Foto {name}\n".encode(),
                                         headers={"Content-Type": "text/plain", "X-Filename": name}))["id"]

    def new_ticket(self, n: int, contact_id: str) -> str:
        """A tenant reports a ticket with a photo and a first comment; the manager adds a task."""
        ticket = self._ok(self.http.post(f"{self.casavi_root}/_sandbox/tickets", json={
            "title": f"Neue Meldung {n}", "description": "Die **Klingel** geht nicht.", "status": "OPEN",
            "contactId": contact_id, "comment": f"Erste Nachricht zu Meldung {n}",
            "attachments": [self.new_file(f"meldung-{n}.txt")]}))
        self._ok(self.http.post(f"{self.casavi_root}/_sandbox/tickets/{ticket['id']}/tasks",
                                json={"id": f"task-{n}", "title": "Elektriker beauftragen"}))
        return ticket["id"]

    def tenant_comment(self, ticket_id: str, text: str, file_name: str | None = None) -> None:
        body: dict[str, Any] = {"text": text}
        if file_name:
            body["attachments"] = [self.new_file(file_name)]
        self._ok(self.http.post(f"{self.casavi_root}/_sandbox/tickets/{ticket_id}/comments", json=body))

    def jira_overview(self) -> list[dict[str, Any]]:
        return self._ok(self.http.get(f"{self.jira_root}/_sandbox/issues"))

    def person_comment(self, issue: dict[str, Any], text: str, person: str | None) -> None:
        """A comment without the bridge's marker: through the REST API (``person=None``; the
        sandbox authenticates only the API account) or as a named person in Jira's UI."""
        if person is None:
            self._ok(self.jira.post(f"/issue/{issue['id']}/comment", json={"body": text}))
        else:
            self._ok(self.http.post(f"{self.jira_root}/_sandbox/issues/{issue['key']}/comment",
                                    json={"body": text, "as": person}))

    def person_attachment(self, issue: dict[str, Any], name: str) -> None:
        self._ok(self.jira.post(f"/issue/{issue['id']}/attachments", headers={"X-Atlassian-Token": "no-check"},
                                files={"file": (name, f"Aufmaß {name}\n".encode(), "text/plain")}))

    def all_issues(self) -> list[dict[str, Any]]:
        """Every issue of the project, sub-tasks included, with attachments and the bridge's
        properties, each read by id (search rows carry no properties on Data Center and lag on Cloud)."""
        return [self._ok(self.jira.get(f"/issue/{row['id']}", params={
            "fields": "issuetype,parent,attachment", "properties": "casavi,casavi.task,casavi.attachments"}))
            for row in self.jira_overview()]

    def comments(self, issue_id: str) -> list[dict[str, Any]]:
        reply = self._ok(self.jira.get(f"/issue/{issue_id}/comment",
                                       params={"expand": "properties", "maxResults": 5000}))
        assert reply["total"] == len(reply["comments"]), "comments beyond one page"
        return reply["comments"]

    @staticmethod
    def _ok(reply: httpx.Response) -> Any:
        reply.raise_for_status()
        return reply.json() if reply.content else None


def properties(raw: dict[str, Any]) -> dict[str, Any]:
    """Entity properties as search (a mapping) and comments (a list of key/value) show them."""
    props = raw.get("properties") or {}
    return {p["key"]: p["value"] for p in props} if isinstance(props, list) else dict(props)


def moment(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@pytest.mark.slow
@pytest.mark.parametrize("flavor", ["server", "cloud"])  # cloud: the search index lags (3 s)
def test_sigkill_while_mirroring_to_jira_leaves_every_issue_comment_and_file_once(sandbox_process, tmp_path, flavor):
    casavi = sandbox_process("--apps", "casavi", "--tickets", str(TICKETS), "--seed", "8", "--latency-ms", "10")
    jira = sandbox_process("--apps", "jira", "--seed", "8", "--latency-ms", "10", "--jira-flavor", flavor)
    assert casavi.proc.pid != jira.proc.pid
    assert "jira_url" not in casavi.info and "casavi_url" not in jira.info, "each process runs one sandbox"
    # Every pass sweeps: tenant comments arrive whatever casavi's reading (the sandbox's default is strict).
    config = write_config({**casavi.info, **jira.info}, tmp_path / "bridge.toml", sync__sweep_interval_seconds=0.001)
    sides = Sides(casavi.info, casavi.casavi_root, jira.info)
    tickets = {f"T-{n:05d}": sides.ticket(f"T-{n:05d}") for n in range(1, TICKETS + 1)}
    mirrored_ids = [t for t, ticket in tickets.items() if ticket["status"] in MIRRORED]
    assert len(mirrored_ids) > TICKETS // 2
    tenants = sorted({t["contactId"] for t in tickets.values() if t["contactId"]})

    rng = random.Random(8008)
    tenant_texts: list[str] = []
    person_texts: list[str] = []
    person_files: list[str] = []
    runs = mid_pass = mid_creation = 0
    while mid_pass < KILLS:
        assert runs < 2 * KILLS, f"only {mid_pass} of {runs} kills landed while the bridge was in a pass"
        log = tmp_path / f"run-{runs}.log"
        if kill_while_writing(config, log, rng.uniform(0.0, 0.4), after=CREATING if runs % 2 else WRITING):
            mid_pass += 1
            mid_creation += bool(CREATING.search(log.read_text()))
        text = f"Mieterkommentar Nr {runs} Ende"  # "Nr 6 Ende" is not in "Nr 16 Ende"; no markup
        sides.tenant_comment(rng.choice(mirrored_ids), text, f"foto-{runs}.txt" if runs % 4 == 0 else None)
        tenant_texts.append(text)
        issues = [i for i in sides.jira_overview() if "casavi" in i["properties"]]
        if len(issues) > len(mirrored_ids) - BACKLOG:  # a fast machine is through: new tickets arrive
            mirrored_ids += [sides.new_ticket(len(mirrored_ids) + n, rng.choice(tenants)) for n in range(BACKLOG)]
        if runs % 3 == 1 and issues:  # people keep working in Jira while the bridge keeps dying
            for n, issue in enumerate(rng.sample(issues, k=min(2, len(issues)))):
                text = f"Kommentar aus Jira Nr {runs}-{n} Ende"
                sides.person_comment(issue, text, rng.choice((None, *PEOPLE)))
                person_texts.append(text)
        if runs % 5 == 3 and issues:
            name = f"aufmass-{runs}.txt"
            sides.person_attachment(rng.choice(issues), name)
            person_files.append(name)
        runs += 1
    print(f"{runs} runs, {mid_pass} killed mid-pass, {mid_creation} of them while issues were created")
    assert mid_creation >= KILLS // 2, f"only {mid_creation} of {mid_pass} kills landed while issues were created"
    assert person_texts and person_files

    for _ in range(5):  # to completion: until a run has nothing left to write
        done = run_bridge("run", "--config", str(config), "--once")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        if not WRITING.search(done.stdout + done.stderr):
            break
    else:
        pytest.fail("the bridge still writes after five runs without kills:\n" + done.stdout[-3000:])
    reconcile = run_bridge("reconcile", "--config", str(config), "--dry-run")
    assert reconcile.returncode == 0, reconcile.stdout[-3000:] + reconcile.stderr[-3000:]

    mirrored_ids.sort()
    tickets = {t: sides.ticket(t) for t in mirrored_ids}
    raw_issues = sides.all_issues()
    sub_tasks = [i for i in raw_issues if i["fields"]["issuetype"]["subtask"]]
    parents = [i for i in raw_issues if not i["fields"]["issuetype"]["subtask"]]

    # One issue per ticket, counted by the `casavi` property over every issue in Jira.
    per_ticket = Counter(properties(i).get("casavi", {}).get("ticketId") for i in raw_issues)
    assert per_ticket[None] == len(sub_tasks), "an issue without the casavi property"
    del per_ticket[None]
    assert sorted(per_ticket) == mirrored_ids, "every mirrored ticket has an issue, and no other ticket"
    assert max(per_ticket.values()) == 1, {t: n for t, n in per_ticket.items() if n > 1}
    issue_of = {properties(i)["casavi"]["ticketId"]: i for i in parents}

    # Every casavi task exactly once as a sub-task of its ticket's issue.
    sub_task_of = Counter((i["fields"]["parent"]["id"], properties(i).get("casavi.task", {}).get("taskId"))
                          for i in sub_tasks)
    assert sub_task_of and max(sub_task_of.values()) == 1, {k: n for k, n in sub_task_of.items() if n > 1}
    assert set(sub_task_of) == {(issue_of[t]["id"], task["id"]) for t in mirrored_ids
                                for task in tickets[t]["tasks"]}

    # Comments and files, ticket by ticket; every difference is collected so one run shows all.
    problems: list[str] = []
    tally: Counter[str] = Counter()
    jira_texts: list[str] = []
    for ticket_id in mirrored_ids:
        comments = sides.comments(issue_of[ticket_id]["id"])
        problems += compare_ticket(tickets[ticket_id], issue_of[ticket_id], comments, tally)
        jira_texts += [c["body"] for c in comments]
    assert tally["jira_comments"] and tally["jira_files"], "the sandbox data should hold comments and files"
    casavi_texts = [c["text"] for t in tickets.values() for c in t["comments"]]
    for text in tenant_texts + person_texts:
        for side, texts in (("Jira", jira_texts), ("casavi", casavi_texts)):
            if sum(text in t for t in texts) != 1:
                problems.append(f"{text!r} is {sum(text in t for t in texts)} times in {side}")
    casavi_names = Counter(a["name"] for t in tickets.values() for a in t["attachmentDetails"])
    problems += [f"Jira file {name} is {casavi_names[name]} times in casavi" for name in person_files
                 if casavi_names[name] != 1]

    # The state database agrees with the sides, and no cursor is ahead of the sides' clocks.
    status = json.loads(run_bridge("status", "--config", str(config), "--json").stdout)
    problems += compare_state(status, tally, tickets=len(parents), sub_tasks=len(sub_tasks),
                              newest_casavi=max(moment(t["lastModified"]) for t in tickets.values()),
                              newest_jira_ms=max(i["updatedMillis"] for i in sides.jira_overview()))
    assert not problems, f"{len(problems)} differences:\n" + "\n".join(problems[:40])


def compare_state(status: dict[str, Any], tally: Counter[str], *, tickets: int, sub_tasks: int,
                  newest_casavi: datetime, newest_jira_ms: int) -> list[str]:
    """What differs between ``casavi-bridge status --json`` and the sides: one link per issue,
    sub-task, comment and file; nothing left pending; cursors caught up and not in the future."""
    found: list[str] = []
    if tally["jira_comments"] != tally["casavi_comments"] or tally["jira_files"] != tally["casavi_files"]:
        found.append(f"the sides hold different numbers of comments or files: {dict(tally)}")
    on_the_sides = {"ticket": tickets, "task": sub_tasks, "comment": tally["jira_comments"],
                    "attachment": tally["jira_files"]}
    if status["links"] != on_the_sides:
        found.append(f"links {status['links']} but on the sides {on_the_sides}")
    found += [f"{pending}: {status[pending]}" for pending in ("quarantine", "pending_intents", "conflicts", "orphans")
              if status[pending]]
    now = datetime.now(timezone.utc)
    cursors = {c["stream"]: c for c in status["cursors"]}
    if not {"source:casavi", "target:jira"} <= set(cursors):
        return found + [f"cursors missing: {sorted(cursors)}"]
    found += [f"cursor {c['stream']} {name} {c[name]} is in the future" for c in cursors.values()
              for name in ("position", "signpost", "updated_at") if moment(c[name]) > now + CLOCK_SLACK]
    source = moment(cursors["source:casavi"]["position"])
    if source != newest_casavi:  # casavi's own timestamps: caught up with its newest change, not beyond
        found.append(f"source cursor {source} but casavi's newest change is {newest_casavi}")
    target = moment(cursors["target:jira"]["position"])
    if target.timestamp() < newest_jira_ms / 1000 - 1:  # Jira's clock, to the second
        found.append(f"target cursor {target} is behind Jira's newest change ({newest_jira_ms} ms)")
    return found


def compare_ticket(ticket: dict[str, Any], issue: dict[str, Any], comments: list[dict[str, Any]],
                   tally: Counter[str]) -> list[str]:
    """What differs between a ticket and its issue: every casavi comment and file exactly once
    in Jira (by the bridge's markers), every person's Jira comment and file exactly once in
    casavi (by the ids the bridge gives what it writes back)."""
    found: list[str] = []
    where = f"{ticket['id']}/{issue['key']}"
    written = f"jira-{issue['id']}-c-"  # ids of comments the bridge writes back
    carrier = f"jira-{issue['id']}-a-"  # ... and of comments that carry a Jira file into casavi
    casavi_ids = Counter(c["id"] for c in ticket["comments"])
    found += [f"{where}: casavi comment {c} {n} times" for c, n in casavi_ids.items() if n > 1]
    own = {c for c in casavi_ids if not c.startswith((written, carrier))}
    back = {c[len(written):] for c in casavi_ids if c.startswith(written)}
    carried = {c["id"][len(carrier):]: c for c in ticket["comments"] if c["id"].startswith(carrier)}

    markers = Counter(properties(c).get("casavi", {}).get("commentId") for c in comments)
    people = {c["id"] for c in comments if not properties(c).get("casavi")}
    del markers[None]
    found += [f"{where}: casavi comment {c} {n} times in Jira" for c, n in markers.items() if n > 1]
    found += [f"{where}: casavi comment {c} not in Jira" for c in sorted(own - set(markers))]
    found += [f"{where}: Jira comment marked {c} has no casavi comment" for c in sorted(set(markers) - own)]
    found += [f"{where}: Jira comment {c} not written back to casavi" for c in sorted(people - back)]
    found += [f"{where}: casavi comment {written}{c} has no Jira comment" for c in sorted(back - people)]
    tally["jira_comments"] += len(comments)
    tally["casavi_comments"] += len(casavi_ids) - len(carried)

    files = issue["fields"]["attachment"]
    file_markers = properties(issue).get("casavi.attachments", {})
    found += [f"{where}: file marker {a} -> {f} without its Jira file" for a, f in file_markers.items()
              if a not in {f["id"] for f in files}]
    mirrored = Counter(file_markers.values())
    found += [f"{where}: casavi file {f} {n} times in Jira" for f, n in mirrored.items() if n > 1]
    names = Counter(f["filename"] for f in files)
    found += [f"{where}: file name {name} {n} times in Jira" for name, n in names.items() if n > 1]
    unmarked = {f["id"]: f["filename"] for f in files if f["id"] not in file_markers}
    found += [f"{where}: Jira file {a} ({unmarked[a]}, no casavi.attachments marker) not carried into casavi"
              for a in sorted(set(unmarked) - set(carried))]
    found += [f"{where}: casavi comment {carrier}{a} carries a file Jira does not have"
              for a in sorted(set(carried) - set(unmarked))]
    found += [f"{where}: casavi comment {c['id']} carries {len(c['attachments'])} files" for c in carried.values()
              if len(c["attachments"]) != 1]
    carried_files = {str(a) for c in carried.values() for a in c["attachments"]}
    casavi_files = Counter(str(a["id"]) for a in ticket["attachmentDetails"])
    found += [f"{where}: casavi file {f} {n} times in casavi" for f, n in casavi_files.items() if n > 1]
    found += [f"{where}: casavi file {f} not in Jira (no casavi.attachments marker names it)"
              for f in sorted(set(casavi_files) - carried_files - set(mirrored))]
    found += [f"{where}: Jira marker names casavi file {f}, which the ticket does not have"
              for f in sorted(set(mirrored) - set(casavi_files))]
    tally["jira_files"] += len(files)
    tally["casavi_files"] += len(casavi_files)
    return found

"""The requests the design must make, and the lower bound L they give.

L = (requests the design must make) × latency ÷ allowed concurrency.  "Must make" is derived
from DESIGN.md and the README's sync rules, not from what the code happens to do:

casavi (manager API v1)
- one login (``POST /authenticate``);
- the ticket list, 25 per page, read until a short page: ⌊N/25⌋ + 1 pages;
- one ``GET /tickets/{id}`` per ticket (the list carries no comments, tasks or attachments;
  the detail embeds all three);
- one ``GET /files/{id}`` per attachment (attachments are streamed to the tool);
- one lookup per distinct property and unit named in a description header (cached).

Jira
- one search page (the tool side's changes: nothing is mirrored yet);
- per ticket: ``POST /issue`` with the marker in the same request, ``POST remotelink`` (the
  link back to casavi), one ``POST comment`` per comment (marker in the same request), one
  ``POST /issue`` per task (sub-task, marker in the same request), one ``POST attachments``
  per attachment and one ``PUT properties/casavi.attachments`` (the attachment's marker).
  The bench tickets are OPEN with OPEN tasks, i.e. "To Do" where Jira creates them: no
  transition is needed.  (Where a new item stands is still read — the workflow's initial status
  is the administrator's to change — but in batches: one search ``id in (...)`` with
  ``expand=changelog`` per 100 new issues and sub-tasks of a chunk, about 0.02 requests per
  ticket above this bound.  The changelog tells a person's transition made before that read
  from the workflow's initial status, so it is not undone; one read per item, as before,
  cost 2 requests per ticket.)

Reading back what was just written is not needed: the planner records what it wrote (write,
then record).  The startup probe (``check``) is left out; the mirror time compared with L is
the pass's own duration.

Idle poll: one casavi list page (``date`` = cursor − overlap) and one Jira search page.
One tenant comment: casavi list page + ``GET /tickets/{id}``; Jira search page + ``POST
comment`` = 4.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.sandbox.casavi.generator import generate

CASAVI_PAGE_SIZE = 25

IDLE_POLL_MUST_MAKE = {"casavi": {"GET /tickets (one page, date = cursor - overlap)": 1},
                       "jira": {"GET /search (one page, updated >= cursor - overlap)": 1}}
ONE_COMMENT_MUST_MAKE = {"casavi": {"GET /tickets (one page)": 1, "GET /tickets/{id}": 1},
                         "jira": {"GET /search (one page)": 1, "POST /issue/{id}/comment": 1}}


@dataclass(frozen=True)
class MustMake:
    casavi: dict[str, int]
    jira: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.casavi.values()) + sum(self.jira.values())

    def lower_bound_seconds(self, latency_ms: float, concurrency: int) -> float:
        return self.total * latency_ms / 1000.0 / concurrency

    def as_json(self) -> dict[str, dict[str, int]]:
        return {"casavi": dict(self.casavi), "jira": dict(self.jira)}


def mirror_must_make(tickets: int, seed: int) -> MustMake:
    """The requests an initial mirror of the ``"bench"`` data set must make."""
    data = generate(tickets=tickets, seed=seed, profile="bench")
    comments = sum(len(t.comments) for t in data.tickets)
    tasks = sum(len(t.tasks) for t in data.tickets)
    attachments = sum(len(t.attachments) for t in data.tickets)
    names = len({t.property_id for t in data.tickets}) + len({t.unit_id for t in data.tickets if t.unit_id})
    casavi = {
        "POST /authenticate": 1,
        "GET /tickets (list pages of 25, until a short page)": tickets // CASAVI_PAGE_SIZE + 1,
        "GET /tickets/{id} (comments, tasks, attachments embedded)": tickets,
        "GET /files/{id} (attachment download)": attachments,
        "GET /properties/{id}, /units/{id} (header names, once each)": names,
    }
    jira = {
        "GET /search (one page)": 1,
        "POST /issue (create, marker in the same request)": tickets,
        "POST /issue/{id}/remotelink (link back to casavi)": tickets,
        "POST /issue/{id}/comment (marker in the same request)": comments,
        "POST /issue (sub-task, marker in the same request)": tasks,
        "POST /issue/{id}/attachments": attachments,
        "PUT /issue/{id}/properties/casavi.attachments (attachment marker)": attachments,
    }
    return MustMake(casavi, jira)

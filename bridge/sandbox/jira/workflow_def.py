"""The Jira sandbox's workflow as data: statuses, the initial one, transitions with screens.

``casavi-bridge sandbox --jira-workflow FILE`` loads a JSON document of this shape (the default
one, ``workflows/default.json`` beside this module, is the simplified any-to-any workflow of
DESIGN.md)::

    {"statuses": [{"name": "To Do", "category": "new"}, ...],
     "initial": "To Do",
     "transitions": [{"name": "Done", "from": ["*"], "to": "Done", "screen": ["resolution"],
                      "required": [], "sets": {"resolution": "Done"}}]}

- ``category``: ``new`` | ``indeterminate`` | ``done`` (Jira's status categories);
  ``id`` (optional) fixes a status' or transition's id, otherwise ids are handed out in order.
- ``from``: status names the transition starts from; ``"*"`` = a global transition (from every
  status; like Jira it is not offered into the status the issue already has).
- ``screen``: the fields a caller may send with the transition.  Jira answers a field that is not
  on the transition's screen with 400 "Field 'x' cannot be set. It is not on the appropriate
  screen, or unknown." and lists the screen under ``expand=transitions.fields`` (Cloud
  IssueTransition.fields: "Details of the fields associated with the issue transition screen",
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-transitions-get).
- ``required``: screen fields a caller must send (400 with ``errors: {field: "... is required."}``).
- ``sets``: what the transition's post-functions set after the screen's values are stored (so a
  post-function's value wins over a sent one); ``{"resolution": null}`` clears the resolution.
  Without a post-function Jira leaves the resolution as it was, also on entering a done status
  (the well-known "Done but Unresolved").  A ``resolution`` on the screen that is not sent takes
  the screen's default value (the first resolution).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from bridge.sandbox.jira.catalog import STATUS_CATEGORIES, Status

DEFAULT_WORKFLOW_FILE = Path(__file__).resolve().parent / "workflows" / "default.json"
ANY = "*"


class WorkflowError(ValueError):
    """The workflow document is malformed (names the problem)."""


@dataclass(frozen=True)
class TransitionDef:
    transition_id: str
    name: str
    sources: tuple[str, ...]  # status names (folded) or ("*",)
    to: Status
    screen: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    sets: tuple[tuple[str, Any], ...] = ()

    @property
    def is_global(self) -> bool:
        return ANY in self.sources

    def starts_at(self, status: Status) -> bool:
        if self.is_global:
            return status is not self.to
        return status.name.casefold() in self.sources


@dataclass(frozen=True)
class Workflow:
    statuses: tuple[Status, ...]
    initial: Status
    transitions: tuple[TransitionDef, ...]

    def status(self, name: str) -> Status | None:
        wanted = str(name).casefold()
        return next((s for s in self.statuses if s.name.casefold() == wanted), None)

    def from_status(self, status: Status) -> list[TransitionDef]:
        return [t for t in self.transitions if t.starts_at(status)]

    def transition(self, transition_id: str) -> TransitionDef | None:
        return next((t for t in self.transitions if t.transition_id == str(transition_id)), None)


def load_workflow(path: str | Path | None = None) -> Workflow:
    """The workflow in ``path`` (JSON), or the default one; raises :class:`WorkflowError`."""
    source = Path(path) if path else DEFAULT_WORKFLOW_FILE
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WorkflowError(f"{source}: cannot read the workflow ({exc})") from None
    return parse_workflow(raw, where=str(source))


def parse_workflow(raw: Any, *, where: str = "workflow") -> Workflow:
    if not isinstance(raw, Mapping):
        raise WorkflowError(f"{where}: a JSON object with statuses, initial and transitions is required")
    categories = {c.key: c for c in STATUS_CATEGORIES}
    statuses: list[Status] = []
    for index, entry in enumerate(raw.get("statuses") or []):
        if not isinstance(entry, Mapping) or not str(entry.get("name") or "").strip():
            raise WorkflowError(f"{where}: statuses[{index}] needs a name")
        category = categories.get(str(entry.get("category") or "indeterminate"))
        if category is None:
            raise WorkflowError(f"{where}: statuses[{index}].category must be one of {sorted(categories)}")
        statuses.append(Status(str(entry.get("id") or 10100 + index), str(entry["name"]).strip(),
                               str(entry.get("description") or ""), category))
    if not statuses:
        raise WorkflowError(f"{where}: no statuses")
    by_name = {s.name.casefold(): s for s in statuses}
    if len(by_name) != len(statuses):
        raise WorkflowError(f"{where}: status names must be unique")
    initial = by_name.get(str(raw.get("initial") or statuses[0].name).casefold())
    if initial is None:
        raise WorkflowError(f"{where}: initial status {raw.get('initial')!r} is not among the statuses")
    transitions: list[TransitionDef] = []
    for index, entry in enumerate(raw.get("transitions") or []):
        here = f"{where}: transitions[{index}]"
        if not isinstance(entry, Mapping):
            raise WorkflowError(f"{here} must be an object")
        to = by_name.get(str(entry.get("to") or "").casefold())
        if to is None:
            raise WorkflowError(f"{here}.to {entry.get('to')!r} is not among the statuses")
        sources = tuple(str(s).casefold() if s != ANY else ANY for s in entry.get("from") or [ANY])
        unknown = [s for s in sources if s != ANY and s not in by_name]
        if unknown:
            raise WorkflowError(f"{here}.from names unknown statuses {unknown}")
        screen = tuple(str(f) for f in entry.get("screen") or ())
        required = tuple(str(f) for f in entry.get("required") or ())
        if set(required) - set(screen):
            raise WorkflowError(f"{here}.required lists fields that are not on its screen")
        sets = entry.get("sets") or {}
        if not isinstance(sets, Mapping):
            raise WorkflowError(f"{here}.sets must be an object")
        transitions.append(TransitionDef(str(entry.get("id") or 11 + 10 * index), str(entry.get("name") or to.name),
                                         sources, to, screen, required, tuple(sets.items())))
    ids = [t.transition_id for t in transitions]
    if len(set(ids)) != len(ids):
        raise WorkflowError(f"{where}: transition ids must be unique")
    return Workflow(tuple(statuses), initial, tuple(transitions))


DEFAULT_WORKFLOW = load_workflow()

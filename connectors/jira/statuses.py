"""Statuses of Jira issues and sub-tasks: the workflow walk, and placing new items in batches.

Mixed into :class:`.client.JiraConnector` (uses its ``rest``, ``settings``).

- :meth:`StatusesMixin.set_status` walks the workflow one transition at a time and reports the
  status (and resolution) Jira holds afterwards: a workflow decides values itself.
- A new item (``create`` / ``add_sub_item`` with ``place_later``) is not walked or read when it
  is created: :meth:`StatusesMixin.placed` reads a batch of them with their changelogs (one
  search ``id in (...)``), :meth:`StatusesMixin.place` walks the few the workflow created
  elsewhere.  The changelog (:mod:`.changelog`) tells the workflow's initial status from a
  person's transition made before that read, which is never walked over.
"""

from __future__ import annotations

from typing import Any, Mapping

import structlog

from bridge.errors import FatalError, RefusedError, SkippableError
from bridge.model import StatusTarget, WriteResult

from . import changelog
from . import mapping as m
from .errors import boundary
from .rest import RECONCILE_MAX

log = structlog.get_logger(__name__)
MAX_TRANSITION_STEPS = 10
# Items per batch read: one search page (Data Center and Cloud answer 100 rows with fields).
PLACE_BATCH = 100


def _status_result(issue_id: str, status: str, resolution: str | None) -> WriteResult:
    return WriteResult(issue_id, fields={"status": status, "resolution": resolution or ""})


class StatusesMixin:
    rest: Any
    settings: Any

    @boundary("set_status")
    def set_status(self, target_id: str, status: StatusTarget) -> WriteResult:
        now, _ = self._move(target_id, status)
        return WriteResult(target_id, fields={"status": now})

    def _move(self, issue_id: str, target: StatusTarget,
              now: tuple[str, str | None] | None = None) -> tuple[str, str | None]:
        """Walk the workflow to ``target``, one transition at a time (one step when any-to-any),
        from ``now`` (status, resolution) when just read, else from a read; returns the (status,
        resolution) the issue is in afterwards, as Jira reports them: a workflow decides values
        itself (a screen without the field, a post-function setting it), and what was asked for
        is not always what Jira did."""
        current, resolution = now or self._status_of(issue_id)
        known: dict[str, list[m.Transition]] = {}
        moved = False
        for _ in range(MAX_TRANSITION_STEPS):
            at_target = m.same_name(current, target.status)
            if at_target and (target.resolution is None or m.same_name(resolution, target.resolution) or moved):
                break
            transitions = m.parse_transitions(self.rest.client.transitions(issue_id, expand="transitions.fields"))
            known[current] = transitions
            if at_target:
                # Right status, other resolution: re-enter the status (through another one when
                # the workflow has no transition into the current status) to set the resolution.
                step = next((t for t in transitions if m.same_name(t.to_status, target.status)), None) \
                    or next(iter(transitions), None)
                if step is None:
                    log.warning("jira_resolution_not_set", target_id=issue_id, resolution=target.resolution)
                    break
            else:
                step = m.next_transition(known, current, target.status)
                if step is None:
                    raise FatalError(f"jira: status {target.status!r} cannot be reached from {current!r} "
                                     f"(issue {issue_id})")
            self.rest.client.transition_issue(issue_id, step.transition_id, fields=self._transition_fields(step, target))
            current, moved = step.to_status, True
            if m.same_name(current, target.status):
                break
        else:
            raise FatalError(f"jira: status {target.status!r} not reached in {MAX_TRANSITION_STEPS} transitions "
                             f"(issue {issue_id})")
        if moved:
            current, resolution = self._status_of(issue_id)
            if target.resolution and m.same_name(current, target.status) and not m.same_name(resolution, target.resolution):
                log.info("jira_workflow_set_resolution", target_id=issue_id, asked=target.resolution, set=resolution)
        return current, resolution

    @boundary("placed")
    def placed(self, wanted: Mapping[str, StatusTarget]) -> dict[str, WriteResult]:
        """Issues and sub-tasks created with ``place_later`` (id → the status asked for), read
        in batches with their changelogs (one search ``id in (...)`` per :meth:`_place_batch`
        ids): those that need no walk, each with the status to record as the bridge's write
        (``fields`` status and resolution):

        - nobody transitioned it since its creation and it is where ``wanted`` asks: that status;
        - somebody did (a status or resolution item in its changelog): the status it was created
          in.  The person's transition is then a change made in the tool after the bridge's
          write — mirrored back on the next pass, never walked over.

        Left out, for :meth:`place`: a new item still to be walked (the workflow created it
        elsewhere), and one the search did not return (Cloud's index may lag) or returned with a
        changelog cut short (Cloud expands the 100 newest histories)."""
        ids = [i for i in dict.fromkeys(str(t) for t in wanted) if i.isdigit()]
        placed: dict[str, WriteResult] = {}
        size = self._place_batch()
        for start in range(0, len(ids), size):
            chunk = ids[start:start + size]
            for page, _ in self.rest.search_pages(m.ids_jql(self.settings.project, chunk), ("status", "resolution"),
                                                  (), page_size=len(chunk), reconcile=chunk, expand=("changelog",)):
                for raw in page:
                    issue_id = str(raw.get("id"))
                    histories = changelog.expanded(raw)
                    if issue_id not in wanted or histories is None:
                        continue
                    created = changelog.created_status(raw, histories)
                    target = wanted[issue_id]
                    at_target = m.same_name(created.status, target.status) and (
                        target.resolution is None or m.same_name(created.resolution, target.resolution))
                    if created.moved or at_target:
                        placed[issue_id] = _status_result(issue_id, created.status, created.resolution)
        return placed

    def _place_batch(self) -> int:
        # Cloud answers read-after-write for at most 50 issues a search (reconcileIssues).
        return RECONCILE_MAX if self.settings.deployment == "cloud" else PLACE_BATCH

    @boundary("place")
    def place(self, target_id: str, status: StatusTarget) -> WriteResult:
        """One issue or sub-task created with ``place_later``, read with its changelog: walked
        into ``status`` when nobody transitioned it since its creation (raises
        :class:`~bridge.errors.RefusedError` when the workflow kept it elsewhere), else left where
        the person put it and reported in the status it was created in (as :meth:`placed`)."""
        raw = self.rest.issue(target_id, ("status", "resolution"), expand=("changelog",)) or {}
        histories = changelog.expanded(raw)
        if histories is None:  # more histories than an expansion holds (Cloud): all of them, paged
            histories = self.rest.changelog(target_id)
        created = changelog.created_status(raw, histories)
        if created.moved:
            return _status_result(target_id, created.status, created.resolution)
        now, resolution = self._move(target_id, status, (created.status, created.resolution))
        if not m.same_name(now, status.status):
            raise RefusedError(f"jira: the workflow kept {now!r} instead of {status.status!r} (issue {target_id})")
        return _status_result(target_id, now, resolution)

    def _status_of(self, issue_id: str) -> tuple[str, str | None]:
        fields = (self.rest.issue(issue_id, ("status", "resolution")) or {}).get("fields") or {}
        return (fields.get("status") or {}).get("name") or "", (fields.get("resolution") or {}).get("name")

    def _transition_fields(self, step: m.Transition, target: StatusTarget) -> dict[str, Any]:
        wanted: dict[str, Any] = {}
        configured = ""
        for status, values in self.settings.transition_fields.items():
            if m.same_name(status, step.to_status):
                wanted.update(values)
                configured = status
        missing = sorted((step.required or frozenset()) - set(wanted)
                         - ({"resolution"} if target.resolution and m.same_name(step.to_status, target.status) else set()))
        if missing:
            key = f'[jira.transition_fields] "{configured or step.to_status}"'
            raise SkippableError(f"jira: the transition {step.name!r} into {step.to_status!r} requires "
                                 f"{', '.join(missing)} on its screen; give {'them' if len(missing) > 1 else 'it'} "
                                 f"in {key}")
        if target.resolution and m.same_name(step.to_status, target.status):
            wanted["resolution"] = {"name": target.resolution}
        if step.fields is not None:  # the transition's screen is known: send only what it has
            dropped = sorted(set(wanted) - step.fields)
            if dropped:
                log.info("jira_transition_fields_dropped", transition=step.name, fields=dropped)
            wanted = {k: v for k, v in wanted.items() if k in step.fields}
        return wanted

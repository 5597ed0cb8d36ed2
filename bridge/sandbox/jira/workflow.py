"""Transitions of the sandbox's simplified workflow, and the facts JQL searches on.

Like Jira's simplified workflow every status can be reached from every other through one
global transition named after its target.  As in Jira, the transition into the status the
issue already has is not offered, so repeating a transition is refused (400): a client has to
look at the current status instead of blindly transitioning again.
"""

from __future__ import annotations

from typing import Any, Mapping

from bridge.sandbox.jira.catalog import (
    DEFAULT_RESOLUTION,
    DONE_STATUS,
    RESOLUTIONS,
    STATUSES,
    JiraUser,
    Named,
    Status,
)
from bridge.sandbox.jira.fields import FieldParser, JiraApiError, apply_update_ops, cannot_set
from bridge.sandbox.jira.records import Issue



def transition_fields(target: Status) -> dict[str, dict[str, Any]]:
    """The fields on the transition's screen: only "Done" has one, offering the resolution."""
    if target is not DONE_STATUS:
        return {}
    return {"resolution": {
        "required": False,
        "schema": {"type": "resolution", "system": "resolution"},
        "name": "Resolution",
        "key": "resolution",
        "fieldId": "resolution",
        "hasDefaultValue": True,
        "operations": ["set"],
        "allowedValues": list(RESOLUTIONS),
        "defaultValue": DEFAULT_RESOLUTION,
    }}


class WorkflowMixin:
    """Mixed into JiraStore; relies on its ``lock``, ``issue``, ``tick``, ``add_comment``."""

    def transitions(self, issue: "Issue") -> list[Status]:
        """Targets offered from the issue's current status (each reached by transition ``Status.transition_id``)."""
        return [s for s in STATUSES if s is not issue.status]

    def do_transition(self, id_or_key: str, transition: Any, fields: Any, update: Any,
                      actor: JiraUser) -> "Issue":
        with self.lock:  # type: ignore[attr-defined]
            issue = self.issue(id_or_key)  # type: ignore[attr-defined]
            target = self._transition_target(issue, transition)
            resolution = self._transition_resolution(target, fields)
            _, comment_ops = apply_update_ops({}, _only_comment_update(update))
            for op in comment_ops:  # refuse before anything is written
                self._check_comment(op.get("body"), op.get("visibility"))  # type: ignore[attr-defined]
            self.move_to(issue, target, resolution)
            for op in comment_ops:
                self.add_comment(issue.key, op.get("body"), actor,  # type: ignore[attr-defined]
                                 op.get("visibility"))
            return issue

    def move_to(self, issue: "Issue", target: Status, resolution: Named | None = None) -> None:
        now = self.tick()  # type: ignore[attr-defined]
        if target.category is not issue.status.category:
            issue.status_category_changed_ms = now
        issue.status = target
        if target is DONE_STATUS:
            issue.resolution = resolution or DEFAULT_RESOLUTION
            issue.resolution_ms = now
        else:
            issue.resolution, issue.resolution_ms = None, None
        issue.updated_ms = now

    def _transition_target(self, issue: "Issue", transition: Any) -> Status:
        if not isinstance(transition, Mapping) or transition.get("id") in (None, ""):
            raise JiraApiError(400, ["Missing 'transition' identifier"])
        wanted = str(transition["id"])
        for status in self.transitions(issue):
            if status.transition_id == wanted:
                return status
        hidden = next((s for s in STATUSES if s.transition_id == wanted), None)
        if hidden is not None:
            raise JiraApiError(400, [
                f"It seems that you have tried to perform a workflow operation ({hidden.name}) that"
                f" is not valid for the current state of this issue ({issue.key}). The likely cause"
                " is that somebody has changed the issue recently, please look at the issue"
                " history for details."])
        raise JiraApiError(400, [f"Transition id '{wanted}' is not valid for this issue."])

    def _transition_resolution(self, target: Status, fields: Any) -> Named | None:
        if fields in (None, {}):
            return None
        if not isinstance(fields, Mapping):
            raise JiraApiError(400, ["Field values must be an object."])
        parser = FieldParser(self.find_user, self.options.cloud)  # type: ignore[attr-defined]
        screen = transition_fields(target)
        resolution = None
        for field_id, value in fields.items():
            if field_id not in screen:
                parser.errors[field_id] = cannot_set(field_id)
            else:
                resolution = parser.resolution(value)
        parser.fail_if_errors()
        return resolution

    def search_facts(self, issue: "Issue") -> dict[str, Any]:
        """What JQL can see of an issue."""
        parent = self.parent(issue)  # type: ignore[attr-defined]
        return {
            "id": issue.issue_id,
            "key": issue.key,
            "project": [self.options.project_key, self.options.project_id],  # type: ignore[attr-defined]
            "updated": issue.updated_ms,
            "created": issue.created_ms,
            "parent": [parent.key, parent.issue_id] if parent else None,
            "status": issue.status.name,
            "issuetype": issue.issuetype.name,
            "labels": list(issue.labels),
            "properties": issue.properties,
        }


def _only_comment_update(update: Any) -> Any:
    if isinstance(update, Mapping):
        extra = [k for k in update if k != "comment"]
        if extra:
            raise JiraApiError(400, [], {k: cannot_set(k) for k in extra})
    return update

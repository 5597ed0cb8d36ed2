"""Transitions of the sandbox's workflow (:mod:`bridge.sandbox.jira.workflow_def`, loaded from
data), and the facts JQL searches on.

As in Jira, a global transition into the status the issue already has is not offered, so
repeating a transition is refused (400): a client has to look at the current status instead of
blindly transitioning again.  Fields not on a transition's screen are refused, required screen
fields must be sent, and post-functions (``sets``) have the last word.
"""

from __future__ import annotations

from typing import Any, Mapping

from bridge.sandbox.jira.catalog import DEFAULT_RESOLUTION, RESOLUTIONS, JiraUser, Named, Status, by_id_or_name
from bridge.sandbox.jira.fields import JiraApiError, apply_update_ops, cannot_set
from bridge.sandbox.jira.records import ChangeItem, Issue
from bridge.sandbox.jira.workflow_def import TransitionDef


def screen_field_meta(transition: TransitionDef) -> dict[str, dict[str, Any]]:
    """The fields on the transition's screen, as ``expand=transitions.fields`` lists them."""
    screen: dict[str, dict[str, Any]] = {}
    for field_id in transition.screen:
        required = field_id in transition.required
        if field_id == "resolution":
            screen[field_id] = {
                "required": required, "schema": {"type": "resolution", "system": "resolution"},
                "name": "Resolution", "key": "resolution", "fieldId": "resolution",
                "hasDefaultValue": True, "operations": ["set"],
                "allowedValues": list(RESOLUTIONS), "defaultValue": DEFAULT_RESOLUTION}
        else:
            screen[field_id] = {
                "required": required, "schema": {"type": "string", "custom": "textfield", "customId": 0},
                "name": field_id, "key": field_id, "fieldId": field_id, "hasDefaultValue": False,
                "operations": ["set"]}
    return screen


class WorkflowMixin:
    """Mixed into JiraStore; relies on its ``lock``, ``issue``, ``tick``, ``add_comment``, ``workflow``."""

    def transitions(self, issue: "Issue") -> list[TransitionDef]:
        """The transitions offered from the issue's current status."""
        return self.workflow.from_status(issue.status)  # type: ignore[attr-defined]

    def do_transition(self, id_or_key: str, transition: Any, fields: Any, update: Any,
                      actor: JiraUser, *, fill_required: bool = False) -> "Issue":
        """Carry out a transition as Jira does; ``fill_required`` is a person in the browser who
        fills the screen's required fields (the control endpoint), never the REST API."""
        with self.lock:  # type: ignore[attr-defined]
            issue = self.issue(id_or_key)  # type: ignore[attr-defined]
            step = self._transition_step(issue, transition)
            values = self._screen_values(step, fields, actor if fill_required else None)
            _, comment_ops = apply_update_ops({}, _only_comment_update(update))
            for op in comment_ops:  # refuse before anything is written
                self._check_comment(op.get("body"), op.get("visibility"))  # type: ignore[attr-defined]
            self.move_to(issue, step, values, actor)
            for op in comment_ops:
                self.add_comment(issue.key, op.get("body"), actor,  # type: ignore[attr-defined]
                                 op.get("visibility"))
            return issue

    def move_to(self, issue: "Issue", step: TransitionDef, values: Mapping[str, Any] | None = None,
                actor: JiraUser | None = None) -> None:
        """Carry out ``step``; with ``actor``, the change goes into the issue's changelog as a
        transition does in Jira: a ``status`` item (status ids, names) and a ``resolution`` item
        when the resolution changed (Cloud REST v3 Changelog / ChangeDetails, Data Center
        ChangeHistoryBean / ChangeItemBean)."""
        values = dict(values or {})
        now = self.tick()  # type: ignore[attr-defined]
        target = step.to
        before, resolution_before = issue.status, issue.resolution
        if target.category is not issue.status.category:
            issue.status_category_changed_ms = now
        issue.status = target
        resolution = issue.resolution
        if "resolution" in values:
            resolution = values.pop("resolution")
        elif "resolution" in step.screen:
            resolution = DEFAULT_RESOLUTION  # the screen field's default value
        for field_id, value in step.sets:  # post-functions run after the screen's values are stored
            if field_id == "resolution":
                resolution = by_id_or_name(RESOLUTIONS, {"name": value}, "item_id") if value else None
            else:
                values[field_id] = value
        if resolution is not issue.resolution:
            issue.resolution, issue.resolution_ms = resolution, (now if resolution else None)
        issue.screen_values.update(values)
        self._stamp(issue, now)  # type: ignore[attr-defined]
        if actor is not None:
            items = [ChangeItem("status", before.status_id, before.name, target.status_id, target.name)]
            if issue.resolution is not resolution_before:
                items.append(ChangeItem("resolution", _named_id(resolution_before), _named_name(resolution_before),
                                        _named_id(issue.resolution), _named_name(issue.resolution)))
            self.log_history(issue, actor, now, items)  # type: ignore[attr-defined]

    def _transition_step(self, issue: "Issue", transition: Any) -> TransitionDef:
        if not isinstance(transition, Mapping) or transition.get("id") in (None, ""):
            raise JiraApiError(400, ["Missing 'transition' identifier"])
        wanted = str(transition["id"])
        for step in self.transitions(issue):
            if step.transition_id == wanted:
                return step
        hidden = self.workflow.transition(wanted)  # type: ignore[attr-defined]
        if hidden is not None:
            raise JiraApiError(400, [
                f"It seems that you have tried to perform a workflow operation ({hidden.name}) that"
                f" is not valid for the current state of this issue ({issue.key}). The likely cause"
                " is that somebody has changed the issue recently, please look at the issue"
                " history for details."])
        raise JiraApiError(400, [f"Transition id '{wanted}' is not valid for this issue."])

    def _screen_values(self, step: TransitionDef, fields: Any, filled_by: JiraUser | None) -> dict[str, Any]:
        if fields is not None and not isinstance(fields, Mapping):
            raise JiraApiError(400, ["Field values must be an object."])
        parser = self.field_parser()  # type: ignore[attr-defined]
        values: dict[str, Any] = {}
        for field_id, value in (fields or {}).items():
            if field_id not in step.screen:
                parser.errors[field_id] = cannot_set(field_id)
            elif field_id == "resolution":
                values["resolution"] = parser.resolution(value)
            elif value in (None, ""):
                continue
            else:
                values[field_id] = value
        for field_id in step.required:
            if field_id in values:
                continue
            if filled_by is not None:
                values[field_id] = f"filled in by {filled_by.display_name}"
            elif field_id not in parser.errors:
                parser.errors[field_id] = f"{'Resolution' if field_id == 'resolution' else field_id} is required."
        parser.fail_if_errors()
        return values

    def search_facts(self, issue: "Issue") -> dict[str, Any]:
        """What JQL can see of an issue (a copy: the search index keeps it as of now)."""
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
            "properties": dict(issue.properties),
        }


def _named_id(value: Named | None) -> str | None:
    return value.item_id if value is not None else None


def _named_name(value: Named | None) -> str | None:
    return value.name if value is not None else None


def _only_comment_update(update: Any) -> Any:
    if isinstance(update, Mapping):
        extra = [k for k in update if k != "comment"]
        if extra:
            raise JiraApiError(400, [], {k: cannot_set(k) for k in extra})
    return update


__all__ = ["WorkflowMixin", "screen_field_meta", "Named", "Status"]

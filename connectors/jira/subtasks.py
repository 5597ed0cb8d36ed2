"""casavi tasks as Jira sub-tasks of the ticket's issue (``[jira] sub_task_type``).

- Created in one ``POST issue`` with the parent, the summary, the description (the task's facts
  in a header panel, then its text: :func:`.markup.build_description`) and the marker property
  ``casavi.task`` = ``{"taskId": <casavi task id>}`` (:data:`.mapping.TASK_MARKER_KEY`).
- Then walked into the status asked for (:meth:`.statuses.StatusesMixin._move`), unless created
  with ``place_later``: the engine has a chunk's new items placed together
  (:meth:`.statuses.StatusesMixin.placed`).
- An update rewrites summary and description, and walks the status when one is given.

Plain functions of the connector (``connector.rest``, ``connector.settings``,
``connector.text_policy`` and its workflow walk, read at each call); the connector's methods
wrap them with :func:`.errors.boundary`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.model import StatusTarget, Task, WriteResult

from . import mapping as m
from .markup import build_description

if TYPE_CHECKING:
    from .client import JiraConnector


def add_sub_item(connector: JiraConnector, target_id: str, task: Task, status: StatusTarget, *, marker: str,
                 place_later: bool = False) -> WriteResult:
    """A sub-task with its marker property, walked into ``status`` (``place_later``: not
    walked, no status read, no ``fields``; see :meth:`.client.JiraConnector.create`)."""
    s = connector.settings
    fields: dict[str, Any] = {"project": {"key": s.project}, "issuetype": {"name": s.sub_task_type},
                              "parent": {"id": target_id}, "summary": m.summary_for(task.title)}
    if task.description or task.facts:
        fields["description"] = _sub_description(connector, task)
    reply = connector.rest.send("POST", "issue", {
        "fields": fields, "properties": [{"key": m.TASK_MARKER_KEY, "value": {"taskId": marker}}]})
    sub_id = str(reply["id"])
    connector._created.remember(sub_id)
    if place_later:
        return WriteResult(sub_id)
    now, resolution = connector._move(sub_id, status)
    return WriteResult(sub_id, fields={"status": now, "resolution": resolution or ""})


def _sub_description(connector: JiraConnector, task: Task) -> str:
    """A sub-task's description: the header panel with the task's facts (the craftsman), then
    the task's text; without facts the text alone, as before."""
    return build_description(task.description, task.facts, None, policy=connector.text_policy,
                             limit=connector.settings.text_limit)


def update_sub_item(connector: JiraConnector, sub_id: str, task: Task, status: StatusTarget | None) -> WriteResult:
    connector.rest.send("PUT", f"issue/{sub_id}", {"fields": {
        "summary": m.summary_for(task.title), "description": _sub_description(connector, task)}})
    if status is None:
        return WriteResult(sub_id)
    now, resolution = connector._move(sub_id, status)
    return WriteResult(sub_id, fields={"status": now, "resolution": resolution or ""})

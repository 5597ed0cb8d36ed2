"""casavi tasks as child issues of the ticket's issue (``[redmine] sub_item_tracker``).

- Created in one ``POST /issues.json`` with ``parent_issue_id``, the task's description (its
  facts, then its text: :func:`.mapping.render_task_description`) and its marker (``task:T-1``
  in the marker custom field, else a last description line ``casavi-task: T-1``; the body as
  the connector's ``_issue_body`` builds it for issues too), then moved into the status asked
  for when Redmine started it elsewhere (:func:`.statuses.move`).
- An update first checks that the child still belongs to the issue (else
  :class:`~bridge.errors.NotFoundError`, 404), keeps the marker line, and compares what was
  sent with the child as the parent's read-back lists it.

What Redmine did not store of a write it answered with success is reported in
``WriteResult.dropped`` (:mod:`.stored`).  Plain functions of the connector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.errors import NotFoundError
from bridge.model import StatusTarget, Task, WriteResult
from connectors.redmine import mapping, reads, statuses
from connectors.redmine.stored import unstored

if TYPE_CHECKING:
    from connectors.redmine.connector import RedmineConnector


def add_sub_item(connector: RedmineConnector, target_id: str, task: Task, status: StatusTarget, *,
                 marker: str) -> WriteResult:
    ids = connector._ids()
    status_id = statuses.status_id(connector, status)
    body = connector._issue_body(ids, ids.sub_tracker_id, task.title,
                                 mapping.render_task_description(task, connector.text_policy, connector._fmt),
                                 mapping.TASK_LINE,
                                 marker if ids.field_id is None else mapping.task_marker_value(marker))
    body.update(parent_issue_id=int(target_id), status_id=status_id)
    child = connector.client.post("/issues.json", {"issue": body})["issue"]
    sub_id = str(child["id"])
    if child["status"]["id"] != status_id:
        statuses.move(connector, sub_id, status)
    result = reads.read_back(connector, target_id, written_id=sub_id)
    return WriteResult(result.target_id, version=result.version, dropped=tuple(unstored(body, child)))


def update_sub_item(connector: RedmineConnector, target_id: str, sub_id: str, task: Task,
                    status: StatusTarget | None) -> WriteResult:
    ids = connector._ids()
    child = reads.read_issue(connector, sub_id, "")
    if str((child.get("parent") or {}).get("id")) != str(target_id):
        raise NotFoundError(f"#{sub_id} is not a sub-item of #{target_id}", status=404)
    description = mapping.render_task_description(task, connector.text_policy, connector._fmt)
    if ids.field_id is None:
        _, value = mapping.split_marker_line(mapping.normalize_text(child.get("description")), mapping.TASK_LINE)
        if value:
            description = mapping.with_marker_line(description, mapping.TASK_LINE, value)
    body: dict[str, Any] = {"subject": mapping.subject(task.title), "description": description}
    connector.client.put(f"/issues/{sub_id}.json", {"issue": body}, idempotent=True)
    if status is not None:
        statuses.move(connector, sub_id, status)
    # The parent's read-back lists the sub-item as stored: compared with what was sent.
    issue = reads.read_issue(connector, target_id)
    children = reads.read_children(connector, ids, issue)
    stored = next((c for c in children if str(c.get("id")) == sub_id), None)
    result = reads.read_back(connector, target_id, written_id=sub_id, issue=issue, children=children)
    return WriteResult(result.target_id, version=result.version,
                       dropped=tuple(unstored(body, stored)) if stored is not None else ())

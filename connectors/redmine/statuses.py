"""Statuses of Redmine issues and child issues: the status id of a name, and moving an issue.

Redmine facts this code relies on (Redmine 5.0, checked against a real server in the tests):
- A status change the workflow does not allow is ignored silently (still 204): :func:`move`
  reads the issue back and raises when the status did not change.

Why a move did not happen decides the error: :class:`~bridge.errors.SkippableError` (tried again
later) while the issue has open sub-items and the status is a closed one, or while its parent is
closed; otherwise :class:`~bridge.errors.RefusedError` naming the workflow setting to look at.
A status name Redmine does not have raises :class:`~bridge.errors.FatalError` (400).  Redmine has
no resolutions.  Plain functions of the connector (``connector.client`` and its lookup).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.errors import FatalError, RefusedError, SkippableError
from bridge.model import StatusTarget
from connectors.redmine import reads

if TYPE_CHECKING:
    from connectors.redmine.connector import RedmineConnector


def status_id(connector: RedmineConnector, status: StatusTarget) -> int:
    found = connector._ids().status_ids.get(status.status)
    if found is None:
        raise FatalError(f"status {status.status!r} does not exist in Redmine", status=400)
    return found


def move(connector: RedmineConnector, issue_id: str, status: StatusTarget) -> None:
    wanted = status_id(connector, status)
    connector.client.put(f"/issues/{issue_id}.json", {"issue": {"status_id": wanted}}, idempotent=True)
    issue = reads.read_issue(connector, issue_id, "")
    if issue["status"]["id"] == wanted:
        return
    refused = f"Redmine did not move #{issue_id} from {issue['status']['name']!r} to {status.status!r}"
    ids = connector._ids()
    if wanted in ids.closed_status_ids:
        open_children = connector.client.get("/issues.json", {"parent_id": issue_id, "status_id": "o", "limit": 100})
        if open_children.get("issues"):
            numbers = ", ".join(f"#{c['id']}" for c in open_children["issues"])
            # Usually passes once the sub-items are closed: for the engine to try again later.
            raise SkippableError(f"{refused}: it has open sub-items ({numbers}), and Redmine closes an "
                                 "issue only after all of its sub-items")
    elif issue.get("parent"):
        parent = reads.read_issue(connector, str(issue["parent"]["id"]), "")
        if parent["status"]["id"] in ids.closed_status_ids:
            raise SkippableError(f"{refused}: its parent #{parent['id']} is closed, and Redmine reopens "
                                 "a sub-item only under an open parent")
    tracker = (issue.get("tracker") or {}).get("name", "?")
    raise RefusedError(f"{refused}: the workflow has no such transition for the bridge user's roles "
                       "(Redmine answers 204 and keeps the status)",
                       setting=f"Administration » Workflow » tracker {tracker!r}, the bridge user's roles: "
                               f"{issue['status']['name']!r} → {status.status!r}")

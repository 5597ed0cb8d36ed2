"""Reads of Redmine issues: one issue with its child issues, the read-back after a write, the
changes since a time, the search by marker.

Redmine facts this code relies on (Redmine 5.0, checked against a real server in the tests):
- Issue lists show only open issues unless ``status_id=*``; at most 100 a page
  (:func:`project_filter`).

Every read goes to the top-level issues of ``[redmine] project`` (``subproject_id=!*``).  An
issue id that is not a number raises :class:`~bridge.errors.NotFoundError` (404) without a
request.  Plain functions of the connector (``connector.client``, ``connector.page_size``,
its lookup, text policy and formatting, read at each call).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import structlog

from bridge.errors import NotFoundError
from bridge.model import Marker, TargetItem, WriteResult
from connectors.redmine import mapping
from connectors.redmine.lookup import Lookup

if TYPE_CHECKING:
    from connectors.redmine.connector import RedmineConnector

log = structlog.get_logger()

ISSUE_INCLUDE = "journals,attachments,children"


def changed_since(connector: RedmineConnector, since: datetime | None) -> Iterable[TargetItem]:
    """Top-level issues changed at or after ``since``, oldest change first.

    Child issues count as a change of their parent (their own change does not touch the
    parent's ``updated_on``).  The ``updated_on`` filter works in whole UTC seconds and
    matches from one second earlier (see :func:`mapping.since_filter`): more is fine.
    """
    ids = connector._ids()
    params: dict[str, Any] = {**project_filter(ids), "sort": "updated_on,id"}
    if since is not None:
        params["updated_on"] = mapping.since_filter(since)
    rows = connector.client.list_all("/issues.json", "issues", params, page_size=connector.page_size)
    seen: dict[str, None] = {}
    for row in rows:
        top = str((row.get("parent") or {}).get("id") or row["id"])
        seen.setdefault(top, None)
    return _gather(connector, seen)


def get(connector: RedmineConnector, target_id: str) -> TargetItem:
    ids = connector._ids()
    issue = read_issue(connector, target_id)
    children = read_children(connector, ids, issue)
    return mapping.to_target_item(issue, children, ids.place, connector.client.base_url, connector.tenant_policy,
                                  connector._fmt)


def find_by_marker(connector: RedmineConnector, marker: Marker) -> TargetItem | None:
    ids = connector._ids()
    key = mapping.ticket_marker_key(marker)
    params = {**project_filter(ids), "parent_id": "!*", "sort": "id"}
    if ids.field_id is not None:
        params[f"cf_{ids.field_id}"] = f"^{key}"
    else:
        params["description"] = f"~{mapping.TICKET_LINE}{key}"
    rows = connector.client.list_all("/issues.json", "issues", params, page_size=connector.page_size)
    # The filter matches prefixes ("P-1" also finds "P-10"); only an exact marker counts.
    hits = [r for r in rows if mapping.same_ticket(_row_marker(ids, r), marker)]
    if not hits:
        return None
    if len(hits) > 1:
        log.warning("duplicate_markers_found", marker=mapping.ticket_marker_value(marker),
                    target_ids=[h["id"] for h in hits])
    return connector.get(str(hits[0]["id"]))


def project_filter(ids: Lookup) -> dict[str, Any]:
    return {"project_id": ids.project_id, "subproject_id": "!*", "status_id": "*"}


def read_issue(connector: RedmineConnector, issue_id: str, include: str = ISSUE_INCLUDE) -> dict[str, Any]:
    if not str(issue_id).isdigit():
        raise NotFoundError(f"#{issue_id} is not a Redmine issue id", status=404)
    params = {"include": include} if include else None
    return connector.client.get(f"/issues/{issue_id}.json", params)["issue"]


def read_children(connector: RedmineConnector, ids: Lookup, issue: dict[str, Any]) -> list[dict[str, Any]]:
    if not issue.get("children"):
        return []
    params = {**project_filter(ids), "parent_id": issue["id"], "sort": "id", "include": "attachments"}
    return connector.client.list_all("/issues.json", "issues", params, page_size=connector.page_size)


def read_back(connector: RedmineConnector, target_id: str, *, written_id: str | None = None,
              issue: dict[str, Any] | None = None, children: list[dict[str, Any]] | None = None) -> WriteResult:
    """The item as it now reads back (``issue`` and its ``children`` when just read): its
    version, and its fields for item writes."""
    ids = connector._ids()
    issue = issue if issue is not None else read_issue(connector, target_id)
    children = children if children is not None else read_children(connector, ids, issue)
    item = mapping.to_target_item(issue, children, ids.place, connector.client.base_url, connector.tenant_policy,
                                  connector._fmt)
    if written_id is None:
        return WriteResult(item.target_id, version=item.version, fields=dict(item.fields))
    return WriteResult(written_id, version=item.version)


def _gather(connector: RedmineConnector, target_ids: Iterable[str]) -> Iterator[TargetItem]:
    for target_id in target_ids:
        try:
            yield connector.get(target_id)
        except NotFoundError:
            # Deleted (or moved away) since the list was read: absence is not deletion.
            log.info("redmine_issue_vanished", target_id=target_id)


def _row_marker(ids: Lookup, row: dict[str, Any]) -> Marker | None:
    _, value = ids.place.issue_description(row, mapping.TICKET_LINE)
    return mapping.parse_ticket_marker(value)

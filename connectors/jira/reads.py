"""Reads of Jira issues: one issue whole, the changes since a time, batch snapshots, the search by marker.

- :func:`get`: the issue with its ``casavi`` and ``casavi.attachments`` properties, each of its
  sub-tasks read with theirs (a sub-task deleted meanwhile is left out), and its comments.
  The ``casavi.attachments`` read whole are kept for the next file mark
  (:func:`.attachments.remember_markers`).
- :func:`changed_since`: summaries from one search (no comments, no sub-tasks); the engine reads
  whole only the items whose version it has not synced.
- :func:`snapshots`: issues and sub-tasks read together by searches ``id in (...)`` of
  :data:`SNAPSHOT_BATCH` rows.
- :func:`find_by_marker`: by the marker label, then by the ``casavi`` property.

Searches pass the issues this process created within the search lag as ``reconcileIssues``
(Cloud's search is eventually consistent; :class:`.recent.CreatedIssues`).  Plain functions of
the connector (``connector.rest``, ``connector.settings``, ``connector.tenant_policy``, read at
each call); the connector's methods wrap them with :func:`.errors.boundary`.  A whole issue
read from here is read through ``connector.get``, so an issue that is gone arrives as
:class:`~bridge.errors.NotFoundError`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import structlog
from jira.exceptions import JIRAError

from bridge.errors import NotFoundError
from bridge.model import Changes, Marker, TargetItem

from . import attachments
from . import mapping as m
from .errors import LIBRARY_ERRORS, translate

if TYPE_CHECKING:
    from .client import JiraConnector

log = structlog.get_logger(__name__)
# Issues per batch read: one search page on Data Center and on Cloud (100 rows with fields).
SNAPSHOT_BATCH = 100


def get(connector: JiraConnector, target_id: str) -> TargetItem:
    raw = connector.rest.issue(target_id, m.ISSUE_FIELDS, (m.MARKER_KEY, m.ATTACHMENTS_KEY))
    return _complete(connector, raw)


def _complete(connector: JiraConnector, raw: dict[str, Any]) -> TargetItem:
    issue_id = str(raw["id"])
    sub_tasks = []
    for entry in (raw.get("fields") or {}).get("subtasks") or []:
        try:
            sub_tasks.append(attachments.remember_markers(connector._attachment_markers, connector.rest.issue(
                str(entry["id"]), m.SUB_TASK_FIELDS, m.SUB_TASK_PROPERTIES)))
        except JIRAError as exc:
            if exc.status_code != 404:  # a sub-task deleted meanwhile is just absent
                raise
    attachments.remember_markers(connector._attachment_markers, raw)
    item = m.to_target_item(raw, connector.rest.comments(issue_id), sub_tasks,
                            server_url=connector.settings.server_url, policy=connector.tenant_policy)
    if item.marker is not None and not m.has_marker_label(raw, item.marker):
        item = replace(item, marker_findable=False)  # created before the marker label
    return item


def changed_since(connector: JiraConnector, since: datetime | None) -> Changes:
    """Summaries of the issues changed at or after ``since`` (a changed sub-task surfaces as
    its parent), with ``as_of`` = Jira's clock when the search began answering.

    A parent's version folds in its sub-tasks' ``updated`` (as :func:`get` does) from the
    sub-task rows of the same search: every sub-task updated after its parent is in it,
    because the parent is.  A sub-task whose parent was not changed is read with its parent.
    Each page is converted as it arrives: of a sub-task row only its newest ``updated`` per
    parent is kept, so the pass holds one small summary per issue, not the search's rows.
    """
    jql = m.changed_since_jql(connector.settings.project, since)
    items: dict[str, TargetItem] = {}
    newest_sub: dict[str, tuple[datetime, str] | None] = {}  # parent id -> its newest sub-task's stamp
    as_of: datetime | None = None
    try:
        for page, clock in connector.rest.search_pages(jql, m.SUMMARY_FIELDS, (m.MARKER_KEY,),
                                                       page_size=connector.settings.summary_page_size,
                                                       reconcile=connector._reconcile_ids()):
            as_of = as_of or clock
            for raw in page:
                if not m.is_sub_task(raw):
                    items[str(raw.get("id"))] = m.to_summary(raw, ())
                    continue
                parent, stamp = m.parent_id(raw), m.row_update(raw)
                if parent is None:
                    continue
                known = newest_sub.get(parent)
                newest_sub[parent] = stamp if stamp is not None and (known is None or stamp[0] > known[0]) else known
        found: list[TargetItem] = []
        for issue_id, item in items.items():
            found.append(m.with_sub_task_update(item, newest_sub.get(issue_id)))
        for issue_id in newest_sub.keys() - items.keys():
            try:
                found.append(connector.get(issue_id))
            except NotFoundError:
                log.info("jira_parent_not_found", target_id=issue_id)
    except LIBRARY_ERRORS as exc:
        raise translate(exc, action="changed_since") from exc
    return Changes(found, as_of=as_of)


def snapshots(connector: JiraConnector, wanted: Mapping[str, Sequence[str]]) -> dict[str, TargetItem]:
    """Issues read whole in batches: ``wanted`` maps an issue id to the sub-task ids known
    for it (the ledger's links); issues and sub-tasks are read together by searches
    ``id in (...)`` of :data:`SNAPSHOT_BATCH` rows, and sub-tasks the issue lists but
    ``wanted`` did not name by one more search.  That is one request per 100 rows instead of
    three reads per issue.

    The items are what :func:`get` returns but for the comments' markers and text, which a
    search does not carry (``TargetItem.markers_read`` is False).  An issue the
    search does not return (deleted, not yet indexed on Cloud) or returns cut short (more
    comments than Cloud lists in a row) is left out: the caller reads it with :func:`get`.
    """
    parents = [i for i in dict.fromkeys(str(t) for t in wanted) if i.isdigit()]
    rows = _search_ids(connector, [i for p in parents for i in (p, *(str(s) for s in wanted[p]))])
    listed = {p: [str(s["id"]) for s in (rows[p].get("fields") or {}).get("subtasks") or []]
              for p in parents if p in rows and not m.is_sub_task(rows[p])}
    rows.update(_search_ids(connector, [s for subs in listed.values() for s in subs if s not in rows]))
    found: dict[str, TargetItem] = {}
    for issue_id, subs in listed.items():
        raw = rows[issue_id]
        item = m.to_snapshot(raw, [rows[s] for s in subs if s in rows], server_url=connector.settings.server_url,
                             policy=connector.tenant_policy)
        if item is None:
            continue
        # No file markers are cached from a search row: Cloud's search index may still show an
        # older casavi.attachments, and Data Center's rows carry no properties at all; a mark
        # written from either would drop the markers stored since (the property is rewritten whole).
        found[issue_id] = item
    return found


def _search_ids(connector: JiraConnector, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    ids = [i for i in dict.fromkeys(ids) if i.isdigit()]
    recent = set(connector._reconcile_ids())  # created within the search lag: Cloud answers them read-after-write
    for start in range(0, len(ids), SNAPSHOT_BATCH):
        chunk = ids[start:start + SNAPSHOT_BATCH]
        for page, _ in connector.rest.search_pages(m.ids_jql(connector.settings.project, chunk), m.SNAPSHOT_FIELDS,
                                                   m.SNAPSHOT_PROPERTIES, page_size=len(chunk),
                                                   reconcile=[i for i in chunk if i in recent]):
            rows.update((str(raw.get("id")), raw) for raw in page)
    return rows


def find_by_marker(connector: JiraConnector, marker: Marker) -> TargetItem | None:
    """The issue of ``marker``'s ticket: by the marker label (every Jira), then — for issues
    created before the label — by the ``casavi`` property (matches only where an app indexes
    it).  Search is eventually consistent on Cloud: issues this process created lately are
    passed as reconcileIssues, and the engine does not take "None" for "never created" until
    :attr:`~.client.JiraConnector.search_lag_seconds` have passed since the attempt.  Where
    search rows carry no properties (Data Center) each candidate's property is read."""
    wanted = (marker.source, marker.item_id)
    matches: list[str] = []
    project = connector.settings.project
    for jql in (m.marker_jql(project, marker), m.property_marker_jql(project, marker)):
        for raw in connector.rest.search(jql, ("issuetype", "parent", "labels"), (m.MARKER_KEY,),
                                         reconcile=connector._reconcile_ids()):
            if m.is_sub_task(raw):
                continue
            if "properties" in raw:
                found = Marker.from_property((raw.get("properties") or {}).get(m.MARKER_KEY))
            else:  # a Data Center row: the property is read from the issue itself
                found = Marker.from_property(connector.rest.issue_property(str(raw["id"]), m.MARKER_KEY))
            if found is None and m.has_marker_label(raw, marker):
                found = marker  # the label alone marks it (the property was removed by someone)
            if found is not None and (found.source, found.item_id) == wanted:
                matches.append(str(raw["id"]))
        if matches:
            break
    if not matches:
        return None
    if len(set(matches)) > 1:
        log.warning("jira_marker_on_several_issues", ticket=marker.item_id, target_ids=sorted(set(matches)))
    return connector.get(min(matches, key=int))


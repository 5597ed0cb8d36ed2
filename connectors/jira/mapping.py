"""Pure mapping between Jira's JSON and the neutral model: no I/O, no jira/requests imports.

- JQL: the marker query and the incremental query (epoch milliseconds, floored to the minute).
- Transitions: choosing the next step towards a status over the part of the workflow seen so far.
- Issue JSON (REST v2) → :class:`~bridge.model.TargetItem`, comments, sub-items, attachments.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from bridge.markup import TenantTextPolicy
from bridge.model import Attachment, Comment, Marker, SubItem, TargetItem

from .marker import labels_of, marker_label, marker_of_label
from .markup import comment_author, wiki_for_tenants

MARKER_KEY = "casavi"  # issue property: {"ticketId", "internalId"[, "source"]}
TASK_MARKER_KEY = "casavi.task"  # sub-task property: {"taskId"}
ATTACHMENTS_KEY = "casavi.attachments"  # issue property: {jira attachment id: casavi file id}
COMMENT_MARKER_KEY = "casavi"  # comment property: {"commentId"}
SERVICE_DESK_KEY = "sd.public.comment"  # JSM: {"internal": true}

ISSUE_FIELDS = ("summary", "description", "status", "resolution", "updated", "created",
                "duedate", "subtasks", "attachment", "parent", "issuetype", "labels", "assignee")
SUB_TASK_FIELDS = ("summary", "description", "status", "resolution", "updated", "issuetype", "parent", "attachment")
SUB_TASK_PROPERTIES = (TASK_MARKER_KEY, ATTACHMENTS_KEY)  # casavi.attachments: the sub-task's own files
# What an incremental search reads: enough for the version, the cursor and the marker (the
# label: Data Center's search rows carry no properties).
SUMMARY_FIELDS = ("updated", "issuetype", "parent", "labels")
# What a batch read (``snapshots``) reads of an issue: all of ISSUE_FIELDS plus its comments.
SNAPSHOT_FIELDS = ISSUE_FIELDS + ("comment",)
SNAPSHOT_PROPERTIES = (MARKER_KEY, ATTACHMENTS_KEY, TASK_MARKER_KEY)


# --- JQL -----------------------------------------------------------------------------

def jql_string(value: str) -> str:
    """A JQL string literal: double-quoted, with backslash, quote and control characters escaped."""
    escaped = (str(value).replace("\\", "\\\\").replace('"', '\\"')
               .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{escaped}"'


def jql_epoch_ms(when: datetime) -> int:
    """``when`` as epoch milliseconds floored to the minute (JQL compares at minute precision).

    An unquoted number in JQL is epoch milliseconds and so independent of the searching user's
    profile time zone, which a bare ``"yyyy/MM/dd HH:mm"`` is not.  A naive ``when`` is UTC.
    """
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    seconds = int(when.timestamp() // 60) * 60
    return seconds * 1000


def changed_since_jql(project: str, since: datetime | None) -> str:
    clauses = [f"project = {jql_string(project)}"]
    if since is not None:
        clauses.append(f"updated >= {jql_epoch_ms(since)}")
    return " AND ".join(clauses) + " ORDER BY updated ASC, key ASC"


def ids_jql(project: str, issue_ids: Iterable[str]) -> str:
    """The issues with these numeric ids in the project (a batch read)."""
    listed = ", ".join(str(int(i)) for i in issue_ids)
    return f"project = {jql_string(project)} AND id in ({listed}) ORDER BY key ASC"


def marker_jql(project: str, marker: Marker) -> str:
    """The issues carrying the marker label (searchable on every Jira, no app needed)."""
    return (f"project = {jql_string(project)} AND "
            f"labels = {jql_string(marker_label(marker.source, marker.item_id))} ORDER BY key ASC")


def property_marker_jql(project: str, marker: Marker) -> str:
    """The issues whose ``casavi`` property names the ticket: issues created before the marker
    label existed.  Matches only where an app indexes the property; elsewhere it finds nothing."""
    return (f"project = {jql_string(project)} AND "
            f"issue.property[{MARKER_KEY}].ticketId = {jql_string(marker.item_id)} ORDER BY key ASC")


def row_marker(raw_issue: Mapping[str, Any]) -> Marker | None:
    """The marker of a search row or issue: the ``casavi`` property when the row has it, else the
    marker label (source and ticket id; the internal id only the property holds)."""
    found = Marker.from_property(_properties(raw_issue).get(MARKER_KEY))
    if found is not None:
        return found
    for label in labels_of(dict(raw_issue)):
        decoded = marker_of_label(label)
        if decoded is not None:
            return Marker(decoded[0], decoded[1], None)
    return None


def has_marker_label(raw_issue: Mapping[str, Any], marker: Marker) -> bool:
    return marker_label(marker.source, marker.item_id) in labels_of(dict(raw_issue))


# --- transitions -----------------------------------------------------------------------

@dataclass(frozen=True)
class Transition:
    """One workflow transition as GET /transitions shows it; ``fields`` None = screen unknown."""

    transition_id: str
    name: str
    to_status: str
    fields: frozenset[str] | None = None
    required: frozenset[str] | None = None  # screen fields marked required (None: screen unknown)


def parse_transitions(raw: Iterable[Mapping[str, Any]]) -> list[Transition]:
    """Transitions as ``GET /issue/{k}/transitions?expand=transitions.fields`` lists them: the
    screen's fields under ``fields`` (Cloud IssueTransition.fields: "Details of the fields
    associated with the issue transition screen"), each with ``required``."""
    found = []
    for entry in raw:
        to = entry.get("to") or {}
        screen = entry.get("fields")
        required = None
        if isinstance(screen, Mapping):
            required = frozenset(k for k, meta in screen.items() if isinstance(meta, Mapping) and meta.get("required"))
        found.append(Transition(str(entry.get("id")), str(entry.get("name") or ""), str(to.get("name") or ""),
                                frozenset(screen) if isinstance(screen, Mapping) else None, required))
    return found


def same_name(a: str | None, b: str | None) -> bool:
    """Jira names (statuses, resolutions) compared as Jira does: case-insensitively; None as ""."""
    return (a or "").casefold() == (b or "").casefold()


def next_transition(known: Mapping[str, Sequence[Transition]], current: str, target: str) -> Transition | None:
    """The first step from ``current`` towards ``target`` over the workflow seen so far.

    ``known`` maps a status (whose transitions have been read) to its outgoing transitions.  The
    step starts the shortest known path to ``target``; when the known part has none, it starts the
    shortest path to the nearest status whose transitions are not read yet (to look there).
    None when ``current`` is ``target`` or neither exists.
    """
    if same_name(current, target):
        return None
    folded = {status.casefold(): list(steps) for status, steps in known.items()}
    first: dict[str, Transition] = {}
    queue = deque([current.casefold()])
    seen = {current.casefold()}
    unexplored: Transition | None = None
    while queue:
        status = queue.popleft()
        for step in folded.get(status, ()):
            to = step.to_status.casefold()
            if to in seen:
                continue
            seen.add(to)
            first[to] = first.get(status, step)
            if to == target.casefold():
                return first[to]
            if to not in folded and unexplored is None:
                unexplored = first[to]
            queue.append(to)
    return unexplored


def transition_path(graph: Mapping[str, Sequence[Transition]], start: str, target: str) -> list[Transition] | None:
    """The shortest list of transitions from ``start`` to ``target`` in a fully known workflow."""
    path: list[Transition] = []
    current = start
    for _ in range(len(graph) + 1):
        if same_name(current, target):
            return path
        step = next_transition(graph, current, target)
        if step is None:
            return None
        path.append(step)
        current = step.to_status
    return None


# --- issue JSON → model ----------------------------------------------------------------

def parse_jira_time(value: str | None) -> datetime | None:
    """Jira's ``2024-05-01T10:00:00.000+0000`` (also ``Z`` / ``+00:00``) as an aware datetime."""
    if not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _name(value: Any) -> str | None:
    return str(value["name"]) if isinstance(value, Mapping) and value.get("name") else None


def _properties(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Entity properties as {key: value}: issues carry a map, comments a list of {key, value}."""
    props = raw.get("properties")
    if isinstance(props, Mapping):
        return dict(props)
    if isinstance(props, list):
        return {p.get("key"): p.get("value") for p in props if isinstance(p, Mapping)}
    return {}


def is_sub_task(raw_issue: Mapping[str, Any]) -> bool:
    issuetype = (raw_issue.get("fields") or {}).get("issuetype") or {}
    return bool(issuetype.get("subtask"))


def parent_id(raw_issue: Mapping[str, Any]) -> str | None:
    parent = (raw_issue.get("fields") or {}).get("parent") or {}
    return str(parent["id"]) if parent.get("id") else None


def item_fields(raw_issue: Mapping[str, Any]) -> dict[str, str]:
    """The fields the planner compares: title, description, status, due_date.

    The description stays Jira wiki markup, exactly as stored: the bridge only hashes it (to
    see edits made in Jira) and shows it in conflict reports, never copies it to casavi, so
    the costly wiki → markdown conversion is not paid on every read.
    """
    return written_fields((raw_issue.get("fields") or {}))


def written_fields(fields: Mapping[str, Any]) -> dict[str, str]:
    """:func:`item_fields` of an issue whose REST ``fields`` are ``fields`` (also: what was sent)."""
    return {
        "title": str(fields.get("summary") or ""),
        "description": str(fields.get("description") or ""),
        "status": _name(fields.get("status")) or "",
        "due_date": str(fields.get("duedate") or ""),
        "assignee": user_ref(fields.get("assignee")),
    }


def user_ref(user: Any) -> str:
    """How Jira names a person in requests: the accountId (Cloud) or the user name (Data
    Center); "" for nobody."""
    if not isinstance(user, Mapping):
        return ""
    return str(user.get("accountId") or user.get("name") or "")


def person_match(users: Sequence[Mapping[str, Any]], email: str) -> str | None:
    """The user a search for ``email`` found: the one whose address is exactly it; when the
    answer shows no address at all (Cloud hides addresses by profile visibility), the only
    user found.  None when nobody, or several without a visible match, were found."""
    wanted = email.strip().casefold()
    exact = [u for u in users if str(u.get("emailAddress") or "").casefold() == wanted]
    if len(exact) == 1:
        return user_ref(exact[0]) or None
    hidden = [u for u in users if not u.get("emailAddress")]
    if not exact and len(users) == 1 and hidden:
        return user_ref(hidden[0]) or None
    return None


def to_comment(raw: Mapping[str, Any], policy: TenantTextPolicy = TenantTextPolicy()) -> Comment:
    """A comment; a person's comment (no marker) is read as casavi markdown under ``policy``."""
    props = _properties(raw)
    marker_value = props.get(COMMENT_MARKER_KEY) or {}
    marker = str(marker_value["commentId"]) if isinstance(marker_value, Mapping) and marker_value.get("commentId") else None
    author = raw.get("author") or {}
    if marker is not None:  # only our own comments carry the "via casavi" line on purpose
        # Never copied back, so the text stays wiki markup (no conversion per read).
        text_author, text = comment_author(raw.get("body"))
    else:
        text_author, text = None, wiki_for_tenants(raw.get("body") or "", policy)
    service_desk = props.get(SERVICE_DESK_KEY) or {}
    internal = bool(raw.get("visibility")) or bool(isinstance(service_desk, Mapping) and service_desk.get("internal"))
    return Comment(
        comment_id=str(raw.get("id")),
        text=text,
        internal=internal,
        author=text_author or author.get("displayName") or author.get("name"),
        author_email=None if text_author else author.get("emailAddress"),
        created_at=parse_jira_time(raw.get("created")),
        marker=marker,
    )


def to_sub_item(raw: Mapping[str, Any], policy: TenantTextPolicy = TenantTextPolicy()) -> SubItem:
    fields = raw.get("fields") or {}
    marker_value = _properties(raw).get(TASK_MARKER_KEY) or {}
    marker = str(marker_value["taskId"]) if isinstance(marker_value, Mapping) and marker_value.get("taskId") else None
    return SubItem(
        sub_id=str(raw.get("id")),
        title=str(fields.get("summary") or ""),
        status=_name(fields.get("status")) or "",
        # A sub-task the bridge wrote (marker) is never copied back: its description stays wiki.
        description=str(fields.get("description") or "") if marker else wiki_for_tenants(
            fields.get("description") or "", policy),
        resolution=_name(fields.get("resolution")),
        marker=marker,
        attachments=to_attachments(raw),
    )


def to_attachments(raw_issue: Mapping[str, Any]) -> tuple[Attachment, ...]:
    markers = _properties(raw_issue).get(ATTACHMENTS_KEY) or {}
    found = []
    for entry in (raw_issue.get("fields") or {}).get("attachment") or ():
        attachment_id = str(entry.get("id"))
        marker = markers.get(attachment_id) if isinstance(markers, Mapping) else None
        found.append(Attachment(
            attachment_id=attachment_id,
            name=str(entry.get("filename") or ""),
            content_type=str(entry.get("mimeType") or "application/octet-stream"),
            size=int(entry.get("size") or 0),
            url=entry.get("content"),
            marker=str(marker) if marker else None,
        ))
    return tuple(found)


def row_update(raw: Mapping[str, Any]) -> tuple[datetime, str] | None:
    """A row's ``updated`` as (time, the text Jira wrote), or None when it has none or it cannot be read."""
    stamp = (raw.get("fields") or {}).get("updated")
    when = parse_jira_time(stamp) if stamp else None
    return (when, str(stamp)) if when is not None else None


def latest_update(raw_issue: Mapping[str, Any], raw_sub_tasks: Sequence[Mapping[str, Any]]) -> tuple[str, datetime | None]:
    """The item's version: the newest ``updated`` of the issue and its sub-tasks, as Jira wrote it.

    A sub-task's change does not touch its parent's ``updated``; folding the sub-tasks in makes
    the parent's version change with them, so such a change is never taken for "already seen".
    """
    dated = [d for d in (row_update(raw) for raw in (raw_issue, *raw_sub_tasks)) if d is not None]
    if not dated:
        return str((raw_issue.get("fields") or {}).get("updated") or ""), None
    when, stamp = max(dated, key=lambda pair: pair[0])
    return stamp, when


def with_sub_task_update(item: TargetItem, newest: tuple[datetime, str] | None) -> TargetItem:
    """``item`` (from its own row) with its newest sub-task's ``updated`` folded into the version,
    as :func:`latest_update` folds it: the same version whether the sub-task rows came with the
    issue's row or were seen one by one."""
    if newest is None or (item.updated_at is not None and newest[0] <= item.updated_at):
        return item
    return replace(item, version=newest[1], updated_at=newest[0])


def to_target_item(raw_issue: Mapping[str, Any], raw_comments: Sequence[Mapping[str, Any]],
                   raw_sub_tasks: Sequence[Mapping[str, Any]], *, server_url: str,
                   policy: TenantTextPolicy | None = None) -> TargetItem:
    """The item; text people wrote in Jira (comments, sub-tasks) read under ``policy`` (default:
    the scheme rule, links to ``server_url``'s issues kept, mentions as bare identifiers)."""
    policy = policy or TenantTextPolicy(tool_url=server_url)
    fields = raw_issue.get("fields") or {}
    version, updated_at = latest_update(raw_issue, raw_sub_tasks)
    key = raw_issue.get("key")
    return TargetItem(
        target_id=str(raw_issue.get("id")),
        fields=item_fields(raw_issue),
        version=version,
        marker=Marker.from_property(_properties(raw_issue).get(MARKER_KEY)),
        comments=tuple(to_comment(c, policy) for c in raw_comments),
        sub_items=tuple(to_sub_item(s, policy) for s in raw_sub_tasks),
        attachments=to_attachments(raw_issue),
        url=f"{server_url}/browse/{key}" if key else None,
        resolution=_name(fields.get("resolution")),
        updated_at=updated_at,
        display_id=str(key) if key else None,
    )


def to_snapshot(raw_issue: Mapping[str, Any], raw_sub_tasks: Sequence[Mapping[str, Any]], *,
                server_url: str, policy: TenantTextPolicy | None = None) -> TargetItem | None:
    """A search row read with :data:`SNAPSHOT_FIELDS` as a whole item, without what a search
    does not carry (``markers_read=False``): the comments' markers (ids only, no text) and, where
    the row has no properties (Data Center), the sub-tasks' and files' markers.  No text is
    converted: a snapshot tells whether every child is linked; what is planned on is read whole.

    None when the row cannot stand for the issue: its comment list cut short (Cloud pages
    comments; the row's ``total`` says so), a comment edited since it was written, a sub-task
    missing, or no marker label where the
    row carries no properties (an issue from before the label: read whole, stamped by the planner).
    """
    fields = raw_issue.get("fields") or {}
    listed = fields.get("comment") or {}
    comments = listed.get("comments") or []
    total = listed.get("total")
    if total is not None and int(total) > len(comments):
        return None
    if len(raw_sub_tasks) != len(fields.get("subtasks") or []):
        return None
    if any(c.get("updated") and c.get("updated") != c.get("created") for c in comments):
        return None  # an edited comment: its text matters (comment edits are mirrored), read it whole
    marker = row_marker(raw_issue)
    if marker is None and "properties" not in raw_issue:
        return None
    item = to_target_item(raw_issue, (), (), server_url=server_url, policy=policy)
    subs = []
    for raw in raw_sub_tasks:
        sub_fields = raw.get("fields") or {}
        task = (_properties(raw).get(TASK_MARKER_KEY) or {})
        subs.append(SubItem(sub_id=str(raw.get("id")), title=str(sub_fields.get("summary") or ""),
                            status=_name(sub_fields.get("status")) or "",
                            description=str(sub_fields.get("description") or ""),
                            resolution=_name(sub_fields.get("resolution")),
                            marker=str(task["taskId"]) if isinstance(task, Mapping) and task.get("taskId") else None,
                            attachments=to_attachments(raw)))
    version, updated_at = latest_update(raw_issue, raw_sub_tasks)
    unread = tuple(Comment(comment_id=str(c.get("id")), text="", internal=bool(c.get("visibility")),
                           created_at=parse_jira_time(c.get("created"))) for c in comments)
    findable = item.marker is None or has_marker_label(raw_issue, item.marker)
    return replace(item, marker=item.marker or marker, comments=unread, sub_items=tuple(subs), version=version,
                   updated_at=updated_at, markers_read=False, marker_findable=findable)


def to_summary(raw_issue: Mapping[str, Any], raw_sub_tasks: Sequence[Mapping[str, Any]]) -> TargetItem:
    """A search row as a partial item: the version :func:`to_target_item` would give (when
    ``raw_sub_tasks`` holds every sub-task updated at or after the parent), marker and key."""
    version, updated_at = latest_update(raw_issue, raw_sub_tasks)
    key = raw_issue.get("key")
    return TargetItem(
        target_id=str(raw_issue.get("id")), fields={}, version=version,
        marker=row_marker(raw_issue),
        updated_at=updated_at, display_id=str(key) if key else None, partial=True)


def labels_for(prefix: str, labels: Iterable[str]) -> list[str]:
    """Jira labels from casavi labels: prefixed, blanks turned into ``_``, empty ones dropped."""
    out = []
    for label in labels:
        cleaned = "_".join(str(label).split())
        if cleaned and prefix + cleaned not in out:
            out.append(prefix + cleaned)
    return out


def summary_for(title: str) -> str:
    """A Jira summary: one line, at most 255 characters (Jira refuses longer or multi-line ones)."""
    return " ".join(str(title).split())[:255]

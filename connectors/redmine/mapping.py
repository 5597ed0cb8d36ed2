"""Redmine issue JSON ↔ the neutral model; pure (no I/O, no httpx).

Text: Redmine stores descriptions and notes as typed and renders them with the instance's
text formatting.  The bridge writes markdown and passes it through unchanged, so the instance
should use "CommonMark Markdown" (Administration → Settings → General → Text formatting; the
test instance does); with "Textile" the text still arrives intact, it only renders less nicely.
Redmine turns line ends in descriptions into CRLF; reading turns them back into LF.

Markers (how the bridge finds its own writes again):
- Issue: the marker custom field holds ``P-1`` (casavi), ``relay:O-7`` (another source), with
  `` #41251`` appended when the internal id is known.  Without that field a last description
  line ``casavi-ticket: P-1 #41251`` carries it; reading strips the line.
- Sub-item (child issue): ``task:T-1`` in the same custom field, or a last description line
  ``casavi-task: T-1``.
- Comment: journals cannot carry custom fields, so the note ends with an HTML comment
  ``<!-- casavi:comment:ID -->`` (markdown renders it invisibly); reading strips it.
- Attachment: the attachment's description ``casavi-file: ID``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Iterable, Mapping
from urllib.parse import quote, unquote

from bridge.markup import TenantTextPolicy, ToolTextPolicy
from bridge.model import Attachment, Comment, ItemDraft, Marker, SubItem, TargetItem, Task

from .text import COMMON_MARK, TEXTILE, from_redmine, plain_to_redmine, to_redmine
from .textile import textile_url

TASK_PREFIX = "task:"
TICKET_LINE = "casavi-ticket: "
TASK_LINE = "casavi-task: "
FILE_PREFIX = "casavi-file: "
SUBJECT_MAX = 255  # Redmine refuses longer subjects with 422

_NOTE_MARKER = re.compile(r"\n*<!-- casavi:comment:(\S+) -->\s*\Z")
_SOURCE_PREFIX = re.compile(r"[a-z][a-z0-9_-]*:")
_TICKET_VALUE = re.compile(r"\A(?:(?P<source>[a-z][a-z0-9_-]*):)?(?P<item>\S+?)(?: #(?P<internal>\d+))?\Z")


# --------------------------------------------------------------------------- markers


def ticket_marker_value(marker: Marker) -> str:
    """``P-1 #41251`` (casavi), ``relay:O-7`` (another source, no internal id).

    A casavi id that itself looks like ``word:...`` is written with its source (``casavi:a:1``),
    so every value reads back to the marker it came from.
    """
    plain = marker.source == "casavi" and not _SOURCE_PREFIX.match(marker.item_id)
    value = marker.item_id if plain else f"{marker.source}:{marker.item_id}"
    return f"{value} #{marker.internal_id}" if marker.internal_id is not None else value


def ticket_marker_key(marker: Marker) -> str:
    """The part of the value that identifies the ticket (what a list query starts with)."""
    return ticket_marker_value(Marker(marker.source, marker.item_id))


def parse_ticket_marker(value: str | None) -> Marker | None:
    if not value or value.startswith(TASK_PREFIX):
        return None
    match = _TICKET_VALUE.match(value.strip())
    if match is None:
        return None
    internal = match.group("internal")
    return Marker(match.group("source") or "casavi", match.group("item"), int(internal) if internal else None)


def same_ticket(a: Marker | None, b: Marker) -> bool:
    return a is not None and a.source == b.source and a.item_id == b.item_id


def task_marker_value(task_marker: str) -> str:
    return f"{TASK_PREFIX}{task_marker}"


def parse_task_marker(value: str | None) -> str | None:
    if value and value.startswith(TASK_PREFIX) and len(value) > len(TASK_PREFIX):
        return value[len(TASK_PREFIX):]
    return None


def with_marker_line(text: str, line_prefix: str, value: str) -> str:
    """``text`` with a last line carrying the marker (for instances without the custom field)."""
    body = text.rstrip("\n")
    return f"{body}\n\n{line_prefix}{value}" if body else f"{line_prefix}{value}"


def split_marker_line(text: str, line_prefix: str) -> tuple[str, str | None]:
    """(text without the marker line, marker value or None)."""
    head, _, last = text.rstrip("\n").rpartition("\n")
    if not last.startswith(line_prefix):
        return text, None
    return head.rstrip("\n"), last[len(line_prefix):].strip() or None


def note_with_marker(text: str, marker: str | None) -> str:
    if marker is None:
        return text
    return f"{text.rstrip()}\n\n<!-- casavi:comment:{quote(marker, safe='')} -->"


NOTICE_PREFIX = "notice:"  # a note of the bridge's own, not a comment of anyone's


def file_notice_marker(source_file_id: str) -> str:
    """The note marker of the notice written in place of a file Redmine would not take."""
    return f"{NOTICE_PREFIX}file:{source_file_id}"


def is_notice(marker: str | None) -> bool:
    return bool(marker) and marker.startswith(NOTICE_PREFIX)


def split_note(notes: str) -> tuple[str, str | None]:
    """(note text as written, the bridge's comment marker or None)."""
    text = normalize_text(notes)
    match = _NOTE_MARKER.search(text)
    if match is None:
        return text, None
    return text[: match.start()], unquote(match.group(1))


def attachment_description(marker: str | None) -> str:
    return f"{FILE_PREFIX}{marker}" if marker else ""


def parse_attachment_marker(description: str | None) -> str | None:
    if description and description.startswith(FILE_PREFIX):
        return description[len(FILE_PREFIX):].strip() or None
    return None


# --------------------------------------------------------------------------- writing


def normalize_text(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n")


def render_description(draft: ItemDraft, policy: ToolTextPolicy = ToolTextPolicy(), formatting: str = COMMON_MARK) -> str:
    """What the issue shows: the ticket's facts and the link back as a list (one line each, in
    ``formatting``: Textile or CommonMark), then the body (tenant text under ``policy``, with the
    ticket's files as the images it may show)."""
    lines = _fact_lines(draft.facts, formatting)
    if draft.link_url:
        lines.append(f'* *casavi:* "{plain_to_redmine(draft.link_url, TEXTILE)}":{textile_url(draft.link_url)}'
                     if formatting == TEXTILE else f"- **casavi:** <{draft.link_url}>")
    header = "\n".join(lines)
    body = to_redmine(draft.description, policy.with_files(draft.files), formatting)
    return f"{header}\n\n{body}" if header and body else header or body


def render_task_description(task: Task, policy: ToolTextPolicy = ToolTextPolicy(), formatting: str = COMMON_MARK) -> str:
    """A child issue's description: the task's facts (the craftsman) as a list, then its text."""
    header = "\n".join(_fact_lines(task.facts, formatting))
    body = to_redmine(task.description, policy, formatting)
    return f"{header}\n\n{body}" if header and body else header or body


def _fact_lines(facts: Iterable[tuple[str, str]], formatting: str) -> list[str]:
    if formatting == TEXTILE:
        return [f"* *{plain_to_redmine(label, TEXTILE)}:* {plain_to_redmine(value, TEXTILE)}" for label, value in facts]
    return [f"- **{plain_to_redmine(label)}:** {plain_to_redmine(value)}" for label, value in facts]


def subject(title: str) -> str:
    title = " ".join(title.split()) or "(no title)"
    return title if len(title) <= SUBJECT_MAX else title[: SUBJECT_MAX - 1] + "…"


def due_date_value(value: date | None) -> str | None:
    return value.isoformat() if value else None


def since_filter(since: datetime) -> str:
    """The ``updated_on`` filter for "changed at or after ``since``".

    Redmine compares whole seconds in UTC and matches from one second before the value given
    (stored times keep fractions of a second), so flooring to the second never misses a change;
    the overlap means items come back more than once, which the engine de-duplicates.
    """
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return ">=" + since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- reading


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def custom_field_value(issue: Mapping[str, Any], field_id: int | None) -> str | None:
    if field_id is None:
        return None
    for field in issue.get("custom_fields") or ():
        if field.get("id") == field_id:
            value = field.get("value")
            return value if isinstance(value, str) and value else None
    return None


@dataclass(frozen=True)
class MarkerPlace:
    """Where markers live on this instance: a custom field id, or description lines when None."""

    field_id: int | None

    def issue_description(self, issue: Mapping[str, Any], line_prefix: str) -> tuple[str, str | None]:
        text = normalize_text(issue.get("description"))
        if self.field_id is not None:
            return text, custom_field_value(issue, self.field_id)
        return split_marker_line(text, line_prefix)


def issue_fields(issue: Mapping[str, Any], description: str) -> dict[str, str]:
    return {
        "title": issue.get("subject") or "",
        "description": description,
        "status": (issue.get("status") or {}).get("name", ""),
        "due_date": issue.get("due_date") or "",
        "assignee": str((issue.get("assigned_to") or {}).get("id") or ""),
    }


def to_comment(journal: Mapping[str, Any], policy: TenantTextPolicy | None = None,
               formatting: str = COMMON_MARK) -> Comment | None:
    """A journal with notes is a comment (``private_notes`` → internal); others are history.

    A note the bridge wrote (marker) keeps its text as stored (never copied back); any other is
    read as casavi/relay markdown under ``policy`` (tool text going to tenants)."""
    if not journal.get("notes"):
        return None
    text, marker = split_note(journal["notes"])
    if is_notice(marker):
        return None  # the bridge's notice in place of a file Redmine would not take
    if marker is None and policy is not None:
        text = from_redmine(text, policy, formatting)
    return Comment(
        comment_id=str(journal["id"]),
        text=text,
        internal=bool(journal.get("private_notes")),
        author=(journal.get("user") or {}).get("name"),
        created_at=parse_time(journal.get("created_on")),
        marker=marker,
    )


def to_attachment(attachment: Mapping[str, Any]) -> Attachment:
    return Attachment(
        attachment_id=str(attachment["id"]),
        name=attachment.get("filename") or "",
        content_type=attachment.get("content_type") or "application/octet-stream",
        size=int(attachment.get("filesize") or 0),
        url=attachment.get("content_url"),
        marker=parse_attachment_marker(attachment.get("description")),
    )


def to_sub_item(child: Mapping[str, Any], place: MarkerPlace, policy: TenantTextPolicy | None = None,
                formatting: str = COMMON_MARK) -> SubItem:
    description, value = place.issue_description(child, TASK_LINE)
    marker = parse_task_marker(value) if place.field_id is not None else value
    if marker is None and policy is not None:  # a person's sub-item: copied to casavi as a task
        description = from_redmine(description, policy, formatting)
    return SubItem(
        sub_id=str(child["id"]),
        title=child.get("subject") or "",
        status=(child.get("status") or {}).get("name", ""),
        description=description,
        marker=marker,
        attachments=tuple(to_attachment(a) for a in child.get("attachments") or ()),
    )


def item_version(issue: Mapping[str, Any], children: Iterable[Mapping[str, Any]]) -> str:
    """A stamp that changes on every write: ``updated_on`` alone has whole seconds only.

    Latest ``updated_on`` of the issue and its children (a child's change does not touch the
    parent), the newest journal id (every change, note and upload through the API adds one)
    and the number of children; when the children have files (listed with
    ``include=attachments``), the newest child file's id too, so a file added to a child in
    the same second as the last change is not taken for "seen".
    """
    children = list(children)
    stamps = [issue.get("updated_on") or ""] + [c.get("updated_on") or "" for c in children]
    last_journal = max((int(j["id"]) for j in issue.get("journals") or ()), default=0)
    child_files = [int(a["id"]) for c in children for a in c.get("attachments") or () if str(a.get("id", "")).isdigit()]
    return f"{max(stamps)}/j{last_journal}/c{len(children)}" + (f"/f{max(child_files)}" if child_files else "")


def to_target_item(
    issue: Mapping[str, Any], children: Iterable[Mapping[str, Any]], place: MarkerPlace, base_url: str,
    policy: TenantTextPolicy | None = None, formatting: str = COMMON_MARK,
) -> TargetItem:
    children = sorted(children, key=lambda c: int(c["id"]))
    description, value = place.issue_description(issue, TICKET_LINE)
    version = item_version(issue, children)
    policy = policy or TenantTextPolicy(tool_url=base_url)
    comments = (to_comment(j, policy, formatting) for j in issue.get("journals") or ())
    return TargetItem(
        target_id=str(issue["id"]),
        fields=issue_fields(issue, description),
        version=version,
        marker=parse_ticket_marker(value),
        comments=tuple(c for c in comments if c is not None),
        sub_items=tuple(to_sub_item(c, place, policy, formatting) for c in children),
        attachments=tuple(to_attachment(a) for a in issue.get("attachments") or ()),
        url=f"{base_url}/issues/{issue['id']}",
        updated_at=parse_time(version.split("/", 1)[0]),
        display_id=f"#{issue['id']}",
    )

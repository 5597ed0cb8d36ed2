"""The settings the planner needs, as plain data (built from the configuration by the engine)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from bridge.model import Capabilities, StatusTarget

POLICIES = ("casavi-wins", "tool-wins", "newest")
CLOSED = "CLOSED"  # the source status in which a casavi ticket is closed (asks for a rating)


@dataclass(frozen=True)
class SyncRules:
    connector: str  # the tool's name: prefix of deterministic ids written to the source
    status_map: Mapping[str, str]  # source status → tool status
    status_map_back: Mapping[str, str]  # tool status → source status
    task_status_map: Mapping[str, StatusTarget]  # source task status → tool status (+ resolution)
    # (tool status, resolution) → source task status; (status, None) matches any resolution.
    task_status_map_back: Mapping[tuple[str, str | None], str]
    start_statuses: frozenset[str] = frozenset({"PENDING", "OPEN", "INPROGRESS", "POSTPONED"})
    since: datetime | None = None
    property_ids: frozenset[str] = frozenset()
    comments: bool = True
    internal_comments: str = "mirror"  # mirror | skip
    # What the tool's comments and files become in the source: "internal" (staff only) or
    # "public" (tenants read it; a comment restricted in the tool stays internal).
    tool_comments_to_source: str = "internal"
    tool_files_to_source: str = "internal"
    status_text_back: Mapping[str, str] = field(default_factory=dict)  # source status → statusText
    suppress_rating_request: bool = False  # sent when the tool closes the item
    assignees: bool = True  # follow who works on it ([sync] assignees)
    source_assignees: bool = False  # the source offers staff_emails/set_assignee (casavi does, relay not)
    source_comment_edits: bool = False  # the source offers ``update_comment`` (casavi does, relay not)
    # The tool's key is written into the source item (relay: the order's internalId).
    source_references: bool = False
    # A due date changed in the tool is written back (relay orders; casavi tickets have none).
    source_due_dates: bool = False
    # Source attributes the connector maps to its fields (name → digest of the mapping); empty:
    # none followed (see bridge.sync.attributes).
    attributes: Mapping[str, str] = field(default_factory=dict)
    tasks: bool = True
    attachments: bool = True
    attachment_max_bytes: int = 10_000_000  # casavi: "Maximum request size is 10 MB"
    attachment_types: tuple[str, ...] = ()
    conflict_policy: str = "casavi-wins"
    capabilities: Capabilities = field(default_factory=Capabilities)

    def starts_mirroring(self, status: str, property_id: str | None, created_at: datetime | None) -> bool:
        """Filters decide which items *start* being mirrored; linked items are followed regardless."""
        if status not in self.start_statuses:
            return False
        if self.property_ids and property_id not in self.property_ids:
            return False
        if self.since is not None and created_at is not None and created_at < self.since:
            return False
        return True

    def comment_internal_in_source(self, comment_internal: bool) -> bool:
        """Whether a tool comment is written to the source as an internal comment."""
        return comment_internal or self.tool_comments_to_source != "public"

    @property
    def files_internal_in_source(self) -> bool:
        return self.tool_files_to_source != "public"

    def status_write_extras(self, status: str) -> tuple[str | None, bool]:
        """(statusText, suppressRatingRequest) to send with a status written back to the source.

        Without ``status_text_back`` no text is sent (casavi keeps what it has); with it, a
        status not listed clears the text, since a label belongs to the status it was set for.
        """
        text = self.status_text_back.get(status, "") if self.status_text_back else None
        return text, self.suppress_rating_request and status == CLOSED

    def task_status_back(self, status: str, resolution: str | None) -> str | None:
        return self.task_status_map_back.get((status, resolution)) or self.task_status_map_back.get((status, None))

    def attachment_allowed(self, content_type: str, size: int) -> str | None:
        """None when the file may be copied, else the reason it is not."""
        if size > self.attachment_max_bytes:
            return f"larger than {self.attachment_max_bytes} bytes"
        if self.attachment_types and not any(fnmatch.fnmatch(content_type or "", p) for p in self.attachment_types):
            return f"type {content_type or 'unknown'} not in the allowed types"
        return None


def default_task_status_map_back(task_status_map: Mapping[str, StatusTarget]) -> dict[tuple[str, str | None], str]:
    """Invert the task map: a status reached with a resolution maps back only with that resolution;
    the first casavi status mapped to a bare tool status wins for that status."""
    back: dict[tuple[str, str | None], str] = {}
    for source_status, target in task_status_map.items():
        back.setdefault((target.status, target.resolution), source_status)
    return back

"""The Redmine connector: casavi tickets as issues of one project, tasks as child issues.

Here: the connector's state and wiring (the lookup of ids, resolved once), and the issue's own
writes (create, update, set_status).  The other methods hand over to the module of their part,
each a set of plain functions of the connector:

- :mod:`.reads`: ``changed_since``, ``get``, ``find_by_marker``, and the read-back after a write;
- :mod:`.statuses`: the status id of a name and the checked move;
- :mod:`.comments`, :mod:`.subitems`, :mod:`.files`, :mod:`.people`;
- :mod:`.checks`: ``check``, ``assumptions`` (with :mod:`.lookup`).

Functions rather than mixins: what each part uses of the connector shows at its calls.  The
writes here keep :func:`.project.writes_to_project`, so every write checks the project's state
at the connector's edge.

Redmine facts this code relies on (Redmine 5.0, checked against a real server in the tests):
- ``PUT /issues/N.json`` answers 204 with no body, so every write reads the issue back.
- A new issue starts in its tracker's default status unless the workflow allows the requested
  one for new issues, so ``create`` moves it afterwards when needed.
"""

from __future__ import annotations

import threading
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Iterable

import structlog

from bridge.errors import (
    FatalError,
    RefusedError,
    SkippableError,
)
from bridge.http import HttpPolicy
from bridge.markup import TenantTextPolicy, ToolTextPolicy
from bridge.model import (
    Attachment,
    Capabilities,
    Comment,
    ItemDraft,
    Marker,
    StatusTarget,
    Task,
    TargetItem,
    WriteResult,
)
from connectors.redmine import checks, comments, files, mapping, people, reads, statuses, subitems
from connectors.redmine.client import RedmineClient
from connectors.redmine.config import RedmineSettings
from connectors.redmine.lookup import Lookup, resolve
from connectors.redmine.project import writes_to_project
from connectors.redmine.stored import unstored

log = structlog.get_logger()


class RedmineConnector:
    name = "redmine"

    def __init__(self, settings: RedmineSettings, *, client: RedmineClient | None = None,
                 http_policy: HttpPolicy | None = None, page_size: int = 100):
        """``client``: one already built (tests); else one for ``settings``, sending through
        ``http_policy`` (default: ``[redmine] timeout`` and ``concurrency``)."""
        self.settings = settings
        self.client = client or RedmineClient(
            settings.url,
            settings.api_key.get_secret_value(),
            timeout=settings.timeout,
            verify_tls=settings.verify_tls,
            policy=http_policy or HttpPolicy(timeout=settings.timeout, concurrency=settings.concurrency),
        )
        self.page_size = page_size
        self.capabilities = Capabilities(
            sub_items=True,
            attachments=True,
            comment_visibility=settings.private_notes_for_internal,
            markers_on_comments=True,
            due_date=True,
            comment_edits=True,  # PUT /journals/{id}.json, Redmine 5.0 and later
            assignee=True,
            sub_item_attachments=True,  # a child issue's own files (issue list include=attachments)
        )
        self._lookup: Lookup | None = None
        self._lock = threading.Lock()
        # casavi/relay text → Redmine, and Redmine notes → casavi/relay (bridge.markup).
        self.text_policy = ToolTextPolicy()
        self._fmt = settings.text_formatting  # "textile" | "common_mark"
        self.tenant_policy = TenantTextPolicy(tool_url=self.client.base_url, names=partial(people.person_name, self))
        self._names: dict[str, str | None] = {}

    # --- probing ----------------------------------------------------------------------------

    def observe_requests(self, observer) -> None:
        """Report every request to Redmine (status or "timeout"/"error", seconds) to ``observer``."""
        self.client.policy.observer = observer

    def check(self) -> list[str]:
        return checks.check(self)

    def findings(self) -> list[str]:
        """What Redmine will refuse or drop of some writes while the rest go on (a permission the
        bridge user's roles lack, a closed project, a standard field switched off), each named
        by its key path; read by the last :meth:`check`. ``casavi-bridge check`` lists them as
        problems; the daemon starts all the same (:meth:`check` alone decides that), and each
        write concerned fails on its own with the same words."""
        lookup = self._lookup
        return list(lookup.notes) if lookup is not None else []

    def assumptions(self) -> list[str]:
        return checks.assumptions(self.settings)

    def statuses(self) -> set[str]:
        return set(self._ids().status_ids)

    # --- reading ----------------------------------------------------------------------------

    def changed_since(self, since: datetime | None) -> Iterable[TargetItem]:
        return reads.changed_since(self, since)

    def get(self, target_id: str) -> TargetItem:
        return reads.get(self, target_id)

    def find_by_marker(self, marker: Marker) -> TargetItem | None:
        return reads.find_by_marker(self, marker)

    # --- writing ----------------------------------------------------------------------------

    @writes_to_project
    def create(self, draft: ItemDraft, marker: Marker) -> WriteResult:
        ids = self._ids()
        status_id = statuses.status_id(self, draft.status)
        body = self._issue_body(ids, ids.tracker_id, draft.title, mapping.render_description(draft, self.text_policy, self._fmt),
                                mapping.TICKET_LINE, mapping.ticket_marker_value(marker))
        body.update(status_id=status_id, due_date=mapping.due_date_value(draft.due_date))
        if draft.assignee and draft.assignee in self.settings.assignee_map:
            body["assigned_to_id"] = self.settings.assignee_map[draft.assignee]
        issue = self.client.post("/issues.json", {"issue": body})["issue"]
        target_id = str(issue["id"])
        log.info("redmine_issue_created", target_id=target_id, marker=mapping.ticket_marker_value(marker))
        # From here on the issue exists: whatever it lacks is reported with the result, never
        # raised, so the engine links it (and never creates a second one).
        dropped: list[str] = unstored(body, issue)
        if ids.field_id is not None and mapping.custom_field_value(issue, ids.field_id) is None:
            dropped.append(f"issue #{target_id} has no marker: the custom field {ids.field_id} is not enabled for "
                           f"tracker {self.settings.tracker!r} (Administration » Custom fields)")
        if issue["status"]["id"] != status_id:
            try:
                statuses.move(self, target_id, draft.status)
            except (RefusedError, SkippableError) as exc:
                # The status stays as Redmine set it; the read-back below shows it, and the
                # engine plans the status as a write of its own (refused, waiting, retried).
                log.warning("redmine_status_not_reached_on_create", target_id=target_id, error=str(exc))
        result = reads.read_back(self, target_id)
        return WriteResult(result.target_id, version=result.version, fields=result.fields, dropped=tuple(dropped),
                           display_id=f"#{target_id}")

    @writes_to_project
    def update(self, target_id: str, draft: ItemDraft, fields: set[str]) -> WriteResult:
        ids = self._ids()
        body: dict[str, Any] = {}
        if "title" in fields:
            body["subject"] = mapping.subject(draft.title)
        if "description" in fields:
            description = mapping.render_description(draft, self.text_policy, self._fmt)
            if ids.field_id is None:  # keep the marker line
                stored = reads.read_issue(self, target_id, "")["description"]
                _, value = mapping.split_marker_line(mapping.normalize_text(stored), mapping.TICKET_LINE)
                if value:
                    description = mapping.with_marker_line(description, mapping.TICKET_LINE, value)
            body["description"] = description
        if "due_date" in fields:
            body["due_date"] = mapping.due_date_value(draft.due_date)
        if not body:
            return reads.read_back(self, target_id)
        self.client.put(f"/issues/{target_id}.json", {"issue": body}, idempotent=True)
        issue = reads.read_issue(self, target_id)
        result = reads.read_back(self, target_id, issue=issue)
        return WriteResult(result.target_id, version=result.version, fields=result.fields,
                           dropped=tuple(unstored(body, issue)))

    @writes_to_project
    def set_status(self, target_id: str, status: StatusTarget) -> WriteResult:
        """Redmine has no resolutions: ``status.resolution`` is ignored (map DECLINED to "Rejected")."""
        statuses.move(self, target_id, status)
        return reads.read_back(self, target_id)

    # --- comments ---------------------------------------------------------------------------

    @writes_to_project
    def add_comment(self, target_id: str, comment: Comment, *, marker: str | None) -> WriteResult:
        return comments.add_comment(self, target_id, comment, marker=marker)

    @writes_to_project
    def update_comment(self, target_id: str, comment_id: str, comment: Comment) -> WriteResult:
        return comments.update_comment(self, target_id, comment_id, comment)

    # --- people -----------------------------------------------------------------------------

    def find_person(self, source_person_id: str, email: str | None) -> str | None:
        return people.find_person(self, source_person_id, email)

    @writes_to_project
    def set_assignee(self, target_id: str, person: str | None) -> WriteResult:
        return people.set_assignee(self, target_id, person)

    # --- sub-items --------------------------------------------------------------------------

    @writes_to_project
    def add_sub_item(self, target_id: str, task: Task, status: StatusTarget, *, marker: str) -> WriteResult:
        return subitems.add_sub_item(self, target_id, task, status, marker=marker)

    @writes_to_project
    def update_sub_item(self, target_id: str, sub_id: str, task: Task, status: StatusTarget | None) -> WriteResult:
        return subitems.update_sub_item(self, target_id, sub_id, task, status)

    # --- files ------------------------------------------------------------------------------

    @writes_to_project
    def add_attachment(self, target_id: str, name: str, content_type: str, path: Path, *, marker: str | None) -> WriteResult:
        return files.add_attachment(self, target_id, name, content_type, path, marker=marker)

    def download_attachment(self, target_id: str, attachment: Attachment, dest: Path) -> None:
        files.download_attachment(self.client, attachment, dest)

    # --- internals --------------------------------------------------------------------------

    def _ids(self) -> Lookup:
        """Project, trackers, statuses, custom field and user, resolved once (first use)."""
        with self._lock:
            if self._lookup is not None:
                return self._lookup
        lookup, problems = resolve(self.client, self.settings)
        if lookup is None:
            raise FatalError("the [redmine] settings do not fit the server: " + "; ".join(problems))
        with self._lock:
            self._lookup = lookup
        return lookup

    def _issue_body(self, ids: Lookup, tracker_id: int, title: str, description: str,
                    line_prefix: str, marker_value: str) -> dict[str, Any]:
        body: dict[str, Any] = {"project_id": ids.project_id, "tracker_id": tracker_id,
                                "subject": mapping.subject(title)}
        if ids.field_id is not None:
            body["description"] = description
            body["custom_fields"] = [{"id": ids.field_id, "value": marker_value}]
        else:
            body["description"] = mapping.with_marker_line(description, line_prefix, marker_value)
        return body

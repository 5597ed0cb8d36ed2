"""The Jira connector: every :class:`bridge.connector.Connector` method on top of :mod:`.rest`.

Here: the connector's state and wiring, and the issue's own writes (create, update, the marker
label, attributes).  The other methods hand over to the module of their part, each a set of
plain functions of the connector:

- :mod:`.reads`: ``get``, ``changed_since``, ``snapshots``, ``find_by_marker``;
- :mod:`.statuses`: ``set_status``, ``placed``, ``place`` (the workflow walk; a mixin);
- :mod:`.comments`, :mod:`.subtasks`, :mod:`.attachments`, :mod:`.people`;
- :mod:`.checks`: ``check``, ``workflow_problems`` (with :mod:`.probes`).

Functions rather than more mixins: what each part uses of the connector shows at its calls, and
``connector.rest`` is read at each call (a replaced session is used at once).  The methods here
keep the :func:`.errors.boundary` of each action, so errors are translated at the connector's
edge with the action's name, also where one part calls another through the connector.

Ids: ``target_id`` is the numeric issue id (stable when an issue moves to another project and
its key changes); the key is ``TargetItem.display_id``.

Requests: writes are not read back.  ``WriteResult.fields`` are computed from what was sent
(the description is compared as the wiki text the bridge wrote) plus the status the issue is
in after the workflow walk; only the status is read, because a new issue's status is the
workflow's initial one, which an administrator may change at any time.  The engine creates
issues and sub-tasks with ``place_later`` and has a chunk's new items placed together: one
search with their changelogs per 100 (:mod:`.statuses`), not one status read each.
Reads, and what they search for, are in :mod:`.reads`.

Markers: the marker label (``casavi-bridge_<source>_<ticket id>``, :mod:`.marker`; searchable on
every Jira without an app) and the issue property ``casavi`` (the structured record), both set
in the creating POST; ``casavi.task`` on sub-tasks (same, :mod:`.subtasks`), ``casavi`` =
``{"commentId"}`` on comments (same, :mod:`.comments`), and ``casavi.attachments`` =
``{jira attachment id: casavi file id}`` on the issue (written right after the upload;
:mod:`.attachments`).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import structlog
from jira.exceptions import JIRAError

from bridge.errors import RefusedError
from bridge.model import (Attachment, Capabilities, Changes, Comment, ItemDraft, Marker, StatusTarget, Task,
                          TargetItem, WriteResult)
from bridge.markup import TenantTextPolicy, ToolTextPolicy

from . import attachments, checks, comments
from . import mapping as m
from . import people, reads, subtasks
from .attributes import AttributeWriter, CreatePlan
from .config import JiraSettings
from .errors import LIBRARY_ERRORS, boundary, is_too_long, refused_fields, shorter, translate
from .marker import marker_label
from .markup import build_description
from .recent import CreatedIssues, Recent
from .rest import JiraRest
from .statuses import StatusesMixin

log = structlog.get_logger(__name__)


class JiraConnector(StatusesMixin):
    name = "jira"
    capabilities = Capabilities(sub_items=True, attachments=True, comment_visibility=True,
                                markers_on_comments=True, due_date=True, attachment_marker_after_upload=True,
                                comment_edits=True, assignee=True, sub_item_attachments=True, place_later=True,
                                assignee_in_create=True)

    def __init__(self, settings: JiraSettings, *, http_policy: Any = None):
        self.settings = settings
        # The bridge's HttpPolicy sends through httpx; the jira library uses requests, so the
        # same rules (Retry-After, idempotent retries) are applied by .transport instead.
        self.http_policy = http_policy
        self.rest = JiraRest(settings)  # builds the library client on first use, not here
        self._upload_limit = attachments.UploadLimit()
        # casavi.attachments of issues this process created or read: only the bridge writes
        # that property, and one writer runs at a time, so what it last wrote is what Jira has.
        self._attachment_markers = Recent(2048)
        self._probe_notes: list[str] = []  # what check could not probe (see assumptions)
        self._findings: list[str] = []  # what check found Jira will refuse of some writes (see findings)
        # casavi/relay text → wiki: only http/https/mailto links, images only of the ticket's files.
        self.text_policy = ToolTextPolicy()
        # Jira text → casavi/relay: the same schemes, links to this Jira's issues, mentions as names.
        self.tenant_policy = TenantTextPolicy(tool_url=settings.server_url, names=partial(people.person_name, self))
        self._names = Recent(512)
        # Issues this process created within the search lag (id -> monotonic time): passed as
        # reconcileIssues on Cloud, so its searches see them at once.
        self._created = CreatedIssues()
        # What kind of ticket it is: casavi type, typeGroup, customFields → [jira.field_map] fields.
        # Reads go through self.rest as it is at the call (a restart swaps it in tests).
        self.attributes = AttributeWriter(settings, lambda path, params=None: self.rest.get(path, params),
                                          partial(people.user_ref, self))
        self.attribute_names = self.attributes.names

    @property
    def search_lag_seconds(self) -> float:
        """How late a create or update may show in Jira's search (the engine waits that long
        before it takes an interrupted create for one that never arrived)."""
        return self.settings.effective_search_lag

    def _reconcile_ids(self) -> list[str]:
        """The issues created within the search lag: a search's ``reconcileIssues`` (Cloud)."""
        return self._created.within(self.search_lag_seconds)

    def observe_requests(self, observer: Callable[[int | str, float], None]) -> None:
        """Report every request to Jira (status or "timeout"/"error", seconds) to ``observer``."""
        self.rest.observe(observer)

    # --- probes --------------------------------------------------------------------------

    def check(self) -> list[str]:
        return checks.check(self)

    def findings(self) -> list[str]:
        """What the last :meth:`check` found Jira will refuse of some writes (an internal comment's
        role or group, an ``assignee_map`` account, a create or edit screen, a field value), each
        named by its key path: ``casavi-bridge check`` lists them with :meth:`check`'s; the daemon
        starts all the same, and the writes concerned fail on their own."""
        return list(self._findings)

    def workflow_problems(self, issue_statuses: Mapping[str, str | None],
                          sub_item_statuses: Mapping[str, str | None]) -> list[str]:
        return checks.workflow_problems(self, issue_statuses, sub_item_statuses)

    def assumptions(self) -> list[str]:
        """What the last ``check`` could not read and took as it is (printed as notes, not problems)."""
        return list(self._probe_notes)

    @boundary("statuses")
    def statuses(self) -> set[str]:
        per_type = self.rest.get(f"project/{self.settings.project}/statuses") or []
        return {status["name"] for entry in per_type for status in entry.get("statuses") or [] if status.get("name")}

    # --- reads ---------------------------------------------------------------------------

    @boundary("get")
    def get(self, target_id: str) -> TargetItem:
        return reads.get(self, target_id)

    def changed_since(self, since: datetime | None) -> Changes:
        return reads.changed_since(self, since)

    @boundary("snapshots")
    def snapshots(self, wanted: Mapping[str, Sequence[str]]) -> dict[str, TargetItem]:
        return reads.snapshots(self, wanted)

    @boundary("find_by_marker")
    def find_by_marker(self, marker: Marker) -> TargetItem | None:
        return reads.find_by_marker(self, marker)

    # --- the issue's own writes ----------------------------------------------------------

    @boundary("create")
    def create(self, draft: ItemDraft, marker: Marker, *, place_later: bool = False,
               assignee: str | None = None) -> WriteResult:
        """Create the issue with its marker (label and property) in one request, then the link
        back, then walk it into ``draft.status``.  ``place_later``: no walk and no status read; the
        issue stays where the workflow creates it until :meth:`placed` / :meth:`place`, and
        ``fields`` carry no status.  ``assignee`` (accountId / user name) is set in the same
        request; refused, the issue is created without it (``fields["assignee"]`` is then "")."""
        limit = self.settings.text_limit
        attributes = self.attributes.for_create(draft.attributes)
        fields = self._create_fields(draft, limit, attributes, marker, person=assignee)
        body = {"fields": fields, "properties": [{"key": m.MARKER_KEY, "value": marker.as_property()}]}
        # A 400 means Jira refused the whole request and created nothing, so the request may be
        # sent again once per refusal the bridge can mend: an assignee Jira will not take (the
        # issue is created unassigned), text Jira counts as too long (cut further) and a field
        # filled from an attribute (left out: the step after the create names the refusal).
        mended: set[str] = set()
        while True:
            try:
                reply = self.rest.send("POST", "issue", body)
                break
            except JIRAError as exc:
                refused = refused_fields(exc)
                ours = [f for f in refused if f in attributes.sources]
                if ours:
                    for field_id in ours:
                        attributes.drop(field_id, self.settings.issue_type)
                    log.warning("jira_attribute_fields_left_out", ticket=marker.item_id,
                                answer={f: refused[f] for f in ours})
                    body["fields"] = fields = self._create_fields(draft, limit, attributes, marker, person=assignee)
                    if "assignee" in mended:
                        fields.pop("assignee", None)
                elif "assignee" in refused and "assignee" in fields and "assignee" not in mended:
                    log.warning("jira_assignee_refused", ticket=marker.item_id, assignee=str(fields.pop("assignee")),
                                answer=refused["assignee"])
                    mended.add("assignee")
                elif is_too_long(refused, "description") and "description" not in mended:
                    limit = shorter(limit)
                    fields["description"] = self._description(draft, limit)
                    log.warning("jira_text_too_long", ticket=marker.item_id, field="description", limit=limit)
                    mended.add("description")
                else:
                    raise
        issue_id = str(reply["id"])
        self._created.remember(issue_id)
        self._attachment_markers.put(issue_id, {})  # a new issue has none
        log.info("jira_issue_created", target_id=issue_id, key=reply.get("key"), ticket=marker.item_id)
        if draft.link_url:
            self._link_back(issue_id, draft.link_url, marker)
        key = str(reply["key"]) if reply.get("key") else None
        if place_later:
            written = m.written_fields(body["fields"])
            written.pop("status")
            return WriteResult(issue_id, fields=written, display_id=key, attributes=tuple(sorted(attributes.stored)))
        status, _ = self._move(issue_id, draft.status)
        return WriteResult(issue_id, fields=m.written_fields({**body["fields"], "status": {"name": status}}),
                           display_id=key, attributes=tuple(sorted(attributes.stored)))

    def _description(self, draft: ItemDraft, limit: int) -> str:
        return build_description(draft.description, draft.facts, draft.link_url,
                                 policy=self.text_policy.with_files(draft.files), limit=limit)

    def _create_fields(self, draft: ItemDraft, limit: int, attributes: CreatePlan,
                       marker: Marker | None = None, person: str | None = None) -> dict[str, Any]:
        s = self.settings
        fields: dict[str, Any] = dict(s.field_map.static)
        for name, value in draft.facts:
            if name in s.field_map.facts:
                fields[s.field_map.facts[name]] = value
        fields.update(attributes.fields)
        fields.update({"project": {"key": s.project}, "issuetype": {"name": attributes.issue_type},
                       "summary": m.summary_for(draft.title), "description": self._description(draft, limit)})
        labels = m.labels_for(s.field_map.label_prefix, draft.labels) + attributes.labels
        if marker is not None:
            labels.insert(0, marker_label(marker.source, marker.item_id))
        if labels:
            fields["labels"] = list(dict.fromkeys(labels))
        if draft.due_date:
            fields["duedate"] = draft.due_date.isoformat()
        account = person or s.assignee_map.get(draft.assignee or "")
        if account:
            fields["assignee"] = {"accountId": account} if s.deployment == "cloud" else {"name": account}
        return fields

    @boundary("mark_item")
    def mark_item(self, target_id: str, marker: Marker) -> None:
        """Add the marker label to an issue that has only the ``casavi`` property (created by a
        version before the label); labels are added, never replaced."""
        label = marker_label(marker.source, marker.item_id)
        self.rest.send("PUT", f"issue/{target_id}", {"update": {"labels": [{"add": label}]}})

    def _link_back(self, issue_id: str, url: str, marker: Marker) -> None:
        # A raw POST instead of JIRA.add_remote_link: that first lists application links, a
        # request non-admins are refused.  A failed link is only logged: the issue exists with
        # its marker, and the header block carries the link too.
        body = {"globalId": f"casavi-bridge:{marker.source}:{marker.item_id}",
                "object": {"url": url, "title": f"casavi {marker.item_id}"}}
        try:
            self.rest.send("POST", f"issue/{issue_id}/remotelink", body)
        except LIBRARY_ERRORS as exc:
            log.warning("jira_remote_link_failed", target_id=issue_id, error=str(translate(exc)))

    @boundary("update")
    def update(self, target_id: str, draft: ItemDraft, fields: set[str]) -> WriteResult:
        payload: dict[str, Any] = {}
        if "title" in fields:
            payload["summary"] = m.summary_for(draft.title)
        if "description" in fields:
            payload["description"] = self._description(draft, self.settings.text_limit)
        if "due_date" in fields:
            payload["duedate"] = draft.due_date.isoformat() if draft.due_date else None
        if payload:
            try:
                self.rest.send("PUT", f"issue/{target_id}", {"fields": payload})
            except JIRAError as exc:
                if "description" not in payload or not is_too_long(refused_fields(exc), "description"):
                    raise
                payload["description"] = self._description(draft, shorter(self.settings.text_limit))
                self.rest.send("PUT", f"issue/{target_id}", {"fields": payload})
        written = m.written_fields(payload)
        return WriteResult(target_id, fields={name: written[name] for name in ("title", "description", "due_date")
                                              if name in fields})

    @boundary("set_attribute")
    def set_attribute(self, target_id: str, name: str, value: Any) -> WriteResult:
        """Write what kind of ticket it is (casavi ``type``, ``typeGroup``, ``customFields.<key>``)
        to the fields ``[jira.field_map]`` names (:mod:`.attributes`).  RefusedError, naming the
        configuration key, for a value Jira cannot take; the issue's other fields stay as they are."""
        def send(body: dict[str, Any]) -> None:
            try:
                self.rest.send("PUT", f"issue/{target_id}", body)
            except JIRAError as exc:
                refused = refused_fields(exc)
                if not refused:
                    raise
                path = self.attributes.paths.get(name, ("[jira.field_map.type]",))[0]
                answer = "; ".join(f"{k}: {v}" for k, v in refused.items())
                raise RefusedError(f"jira: {path} <- Jira refused the casavi value {str(value)[:200]!r}: {answer}",
                                   status=400) from exc
        self.attributes.write(target_id, name, value, send)
        return WriteResult(target_id, attributes=(name,))

    # --- comments ------------------------------------------------------------------------

    @boundary("add_comment")
    def add_comment(self, target_id: str, comment: Comment, *, marker: str | None) -> WriteResult:
        return comments.add_comment(self, target_id, comment, marker=marker)

    @boundary("update_comment")
    def update_comment(self, target_id: str, comment_id: str, comment: Comment) -> WriteResult:
        return comments.update_comment(self, target_id, comment_id, comment)

    # --- people --------------------------------------------------------------------------

    @boundary("find_person")
    def find_person(self, source_person_id: str, email: str | None) -> str | None:
        return people.find_person(self, source_person_id, email)

    def person_is_mapped(self, source_person_id: str) -> bool:
        return source_person_id in self.settings.assignee_map

    @boundary("set_assignee")
    def set_assignee(self, target_id: str, person: str | None) -> WriteResult:
        return people.set_assignee(self, target_id, person)

    # --- sub-tasks -----------------------------------------------------------------------

    @boundary("add_sub_item")
    def add_sub_item(self, target_id: str, task: Task, status: StatusTarget, *, marker: str,
                     place_later: bool = False) -> WriteResult:
        return subtasks.add_sub_item(self, target_id, task, status, marker=marker, place_later=place_later)

    @boundary("update_sub_item")
    def update_sub_item(self, target_id: str, sub_id: str, task: Task, status: StatusTarget | None) -> WriteResult:
        return subtasks.update_sub_item(self, sub_id, task, status)

    # --- files ---------------------------------------------------------------------------

    @boundary("add_attachment")
    def add_attachment(self, target_id: str, name: str, content_type: str, path: Path, *,
                       marker: str | None) -> WriteResult:
        return attachments.add_attachment(self, target_id, name, content_type, path, marker=marker)

    @boundary("mark_attachment")
    def mark_attachment(self, target_id: str, attachment_id: str, marker: str) -> None:
        attachments.mark_attachment(self, target_id, attachment_id, marker)

    @boundary("download_attachment")
    def download_attachment(self, target_id: str, attachment: Attachment, dest: Path) -> None:
        attachments.download_attachment(self.rest, attachment, dest)

    def close(self) -> None:
        self.rest.close()

"""The Jira sandbox's state: one project, its issues, comments, attachments, properties, links.

All state lives in memory behind one re-entrant lock, so the ASGI app, test threads and the
``/_sandbox`` control endpoints can share one store.  Every write stamps the issue's
``updated`` with a millisecond time that is strictly greater than any earlier stamp, the way
a real Jira's ``updated`` moves on each change (comments, attachments, transitions and
entity properties included); an edit that changes nothing does not move it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from bridge.sandbox.jira_catalog import (
    DEFAULT_PRIORITY,
    DONE_STATUS,
    EDITABLE_FIELDS,
    GROUPS,
    INITIAL_STATUS,
    ISSUE_TYPES,
    PROJECT_ROLES,
    PROPERTY_VALUE_MAX_BYTES,
    STATUSES,
    JiraSandboxOptions,
    JiraUser,
    Named,
    Status,
    by_id_or_name,
    make_users,
)
from bridge.sandbox.jira_fields import FieldParser, JiraApiError, apply_update_ops, cannot_set
from bridge.sandbox.jira_workflow import WorkflowMixin

COMMENT_MAX_CHARS = 32767


@dataclass
class Comment:
    comment_id: int
    body: str
    author: JiraUser
    update_author: JiraUser
    created_ms: int
    updated_ms: int
    visibility: dict[str, str] | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class Attachment:
    attachment_id: int
    issue_id: int
    filename: str
    mime_type: str
    size: int
    author: JiraUser
    created_ms: int


@dataclass
class RemoteLink:
    link_id: int
    object: dict[str, Any]
    global_id: str | None = None
    application: dict[str, Any] | None = None
    relationship: str | None = None


@dataclass
class Issue:
    issue_id: int
    key: str
    issuetype: Named
    summary: str
    reporter: JiraUser
    creator: JiraUser
    created_ms: int
    updated_ms: int
    status_category_changed_ms: int
    status: Status = INITIAL_STATUS
    description: str | None = None
    labels: list[str] = field(default_factory=list)
    priority: Named = DEFAULT_PRIORITY
    assignee: JiraUser | None = None
    duedate: str | None = None
    parent_id: int | None = None
    resolution: Named | None = None
    resolution_ms: int | None = None
    comments: list[Comment] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    remote_links: list[RemoteLink] = field(default_factory=list)


class JiraStore(WorkflowMixin):
    """Thread-safe in-memory Jira.  Methods raise :class:`JiraApiError` as Jira would answer."""

    def __init__(self, options: JiraSandboxOptions | None = None):
        self.options = options or JiraSandboxOptions()
        self.users = make_users(self.options)
        self.lock = threading.RLock()
        self._issues: dict[int, Issue] = {}
        self._ids_by_key: dict[str, int] = {}
        self._last_ms = 0
        self._next = {"issue": 10001, "number": 1, "comment": 10000, "attachment": 10000,
                      "link": 10000}
        self._blobs: dict[int, bytes] = {}
        self._blob_dir = Path(self.options.attachment_dir) if self.options.attachment_dir else None
        if self._blob_dir is not None:
            self._blob_dir.mkdir(parents=True, exist_ok=True)

    # -- basics -------------------------------------------------------------------------------

    @property
    def api_user(self) -> JiraUser:
        return self.users[0]

    def tick(self) -> int:
        """Now in epoch milliseconds, strictly after every earlier stamp."""
        with self.lock:
            self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
            return self._last_ms

    def _new_id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] += 1
        return value

    def find_user(self, ref: Mapping[str, Any] | str) -> JiraUser | None:
        if isinstance(ref, str):
            ref = {"name": ref}
        for wanted_attr, user_attr in (("accountId", "account_id"), ("id", "account_id"),
                                       ("name", "name"), ("key", "key"), ("username", "name"),
                                       ("emailAddress", "email")):
            if wanted_attr in ref:
                wanted = str(ref[wanted_attr])
                return next((u for u in self.users if getattr(u, user_attr) == wanted), None)
        return None

    def issue(self, id_or_key: str | int) -> Issue:
        """The issue by numeric id or key (keys are case-insensitive); 404 when absent."""
        with self.lock:
            text = str(id_or_key).strip()
            issue_id = int(text) if text.isdigit() else self._ids_by_key.get(text.upper())
            found = self._issues.get(issue_id) if issue_id is not None else None
            if found is None:
                raise JiraApiError(404, self._not_found_message())
            return found

    def _not_found_message(self) -> str:
        if self.options.cloud:
            return "Issue does not exist or you do not have permission to see it."
        return "Issue Does Not Exist"

    def has_issue(self, key: str) -> bool:
        with self.lock:
            return key.upper() in self._ids_by_key

    def issues(self) -> list[Issue]:
        with self.lock:
            return list(self._issues.values())

    def subtasks(self, issue: Issue) -> list[Issue]:
        with self.lock:
            return [i for i in self._issues.values() if i.parent_id == issue.issue_id]

    def parent(self, issue: Issue) -> Issue | None:
        with self.lock:
            return self._issues.get(issue.parent_id) if issue.parent_id else None

    def touch(self, issue: Issue) -> int:
        issue.updated_ms = self.tick()
        return issue.updated_ms

    # -- issues -------------------------------------------------------------------------------

    def create_issue(self, fields: Mapping[str, Any], actor: JiraUser,
                     properties: Any = None, update: Any = None) -> Issue:
        if not isinstance(fields, Mapping):
            raise JiraApiError(400, ["Issue fields are required."])
        parser = FieldParser(self.find_user, self.options.cloud)
        values, comment_ops = apply_update_ops({}, update)
        values.update(fields)
        issuetype = self._check_project_and_type(values, parser)
        summary = parser.parse("summary", values.get("summary"))
        parent = self._check_parent(values.get("parent"), issuetype, parser)
        parsed: dict[str, Any] = {}
        for field_id, value in values.items():
            if field_id in ("project", "issuetype", "summary", "parent"):
                continue
            if field_id in EDITABLE_FIELDS or field_id == "reporter":
                parsed[field_id] = parser.parse(field_id, value)
            else:
                parser.errors[field_id] = cannot_set(field_id)
        props = self._check_properties(properties)
        parser.fail_if_errors()
        with self.lock:
            now = self.tick()
            number = self._new_id("number")
            issue = Issue(
                issue_id=self._new_id("issue"), key=f"{self.options.project_key}-{number}",
                issuetype=issuetype, summary=summary, reporter=parsed.pop("reporter", None) or actor,
                creator=actor, created_ms=now, updated_ms=now, status_category_changed_ms=now,
                parent_id=parent.issue_id if parent else None, properties=props,
            )
            self._assign(issue, parsed)
            self._issues[issue.issue_id] = issue
            self._ids_by_key[issue.key.upper()] = issue.issue_id
            for op in comment_ops:
                self.add_comment(issue.key, op.get("body"), actor, op.get("visibility"))
            return issue

    def _check_project_and_type(self, values: Mapping[str, Any], parser: FieldParser) -> Named:
        project = values.get("project")
        if project is None:
            parser.errors["project"] = "project is required"
        elif not isinstance(project, Mapping) or not self.is_project(
                project.get("id") or project.get("key")):
            parser.errors["project"] = "valid project is required"
        issuetype = values.get("issuetype")
        found = by_id_or_name(ISSUE_TYPES, issuetype, "item_id")
        if issuetype is None:
            parser.errors["issuetype"] = "issue type is required"
        elif found is None:
            parser.errors["issuetype"] = "Specify a valid issue type"
        return found or ISSUE_TYPES[0]

    def is_project(self, key_or_id: Any) -> bool:
        text = str(key_or_id or "")
        return text == self.options.project_id or text.upper() == self.options.project_key.upper()

    def _check_parent(self, ref: Any, issuetype: Named, parser: FieldParser) -> Issue | None:
        if not issuetype.subtask:
            if ref is not None:
                parser.errors["parent"] = "Given parent issue does not belong to appropriate hierarchy."
            return None
        if not isinstance(ref, Mapping) or not (ref.get("key") or ref.get("id")):
            parser.errors["parent"] = ("Issue type is a sub-task but parent issue key or id"
                                       " not specified.")
            return None
        try:
            parent = self.issue(ref.get("key") or ref.get("id"))
        except JiraApiError:
            parser.errors["parent"] = "Could not find issue by id or key."
            return None
        if parent.issuetype.subtask:
            parser.errors["parent"] = "Given parent issue does not belong to appropriate hierarchy."
            return None
        return parent

    def _check_properties(self, properties: Any) -> dict[str, Any]:
        if properties in (None, []):
            return {}
        if not isinstance(properties, list) or not all(
                isinstance(p, Mapping) and isinstance(p.get("key"), str) for p in properties):
            raise JiraApiError(400, ["Properties must be an array of {key, value} objects."])
        checked: dict[str, Any] = {}
        for prop in properties:
            self.check_property(prop["key"], prop.get("value"))
            checked[prop["key"]] = prop.get("value")
        return checked

    @staticmethod
    def check_property(key: str, value: Any) -> None:
        if not key or len(key) > 255:
            raise JiraApiError(400, ["The property key cannot be empty or longer than 255 characters."])
        if len(json.dumps(value).encode()) > PROPERTY_VALUE_MAX_BYTES:
            raise JiraApiError(400, [f"The property value cannot be longer than"
                                     f" {PROPERTY_VALUE_MAX_BYTES} bytes."])

    def _assign(self, issue: Issue, parsed: Mapping[str, Any]) -> bool:
        """Store parsed values; True when anything changed."""
        changed = False
        for field_id, value in parsed.items():
            if field_id == "priority" and value is None:
                value = DEFAULT_PRIORITY
            if getattr(issue, field_id) != value:
                setattr(issue, field_id, value)
                changed = True
        return changed

    def edit_issue(self, id_or_key: str, fields: Any, update: Any, actor: JiraUser) -> Issue:
        with self.lock:
            issue = self.issue(id_or_key)
            if fields is not None and not isinstance(fields, Mapping):
                raise JiraApiError(400, ["Field values must be an object."])
            current = {"labels": list(issue.labels)}
            values, comment_ops = apply_update_ops(current, update)
            values.update(fields or {})
            parser = FieldParser(self.find_user, self.options.cloud)
            parsed = {}
            for field_id, value in values.items():
                if field_id in EDITABLE_FIELDS:
                    parsed[field_id] = parser.parse(field_id, value)
                else:
                    parser.errors[field_id] = cannot_set(field_id)
            parser.fail_if_errors()
            if self._assign(issue, parsed):
                self.touch(issue)
            for op in comment_ops:
                self.add_comment(issue.key, op.get("body"), actor, op.get("visibility"))
            return issue

    def delete_issue(self, id_or_key: str, delete_subtasks: bool) -> None:
        with self.lock:
            issue = self.issue(id_or_key)
            children = self.subtasks(issue)
            if children and not delete_subtasks:
                raise JiraApiError(400, [
                    f"The issue '{issue.key}' has subtasks.  You must specify the "
                    "'deleteSubtasks' parameter to delete this issue with all its subtasks."])
            for doomed in children + [issue]:
                for attachment in doomed.attachments:
                    self._drop_blob(attachment.attachment_id)
                del self._issues[doomed.issue_id]
                del self._ids_by_key[doomed.key.upper()]

    # -- comments -----------------------------------------------------------------------------

    def add_comment(self, id_or_key: str, body: Any, author: JiraUser,
                    visibility: Any = None, properties: Any = None) -> Comment:
        with self.lock:
            issue = self.issue(id_or_key)
            self._check_comment(body, visibility)
            props = self._check_properties(properties)
            now = self.tick()
            comment = Comment(self._new_id("comment"), body, author, author, now, now,
                              dict(visibility) if visibility else None, props)
            issue.comments.append(comment)
            issue.updated_ms = now
            return comment

    def _check_comment(self, body: Any, visibility: Any) -> None:
        if not isinstance(body, str) or not body.strip():
            raise JiraApiError(400, [], {"comment": "Comment body can not be empty!"})
        if len(body) > COMMENT_MAX_CHARS:
            raise JiraApiError(400, [], {"comment": "The entered text is too long. It exceeds the"
                                                    " allowed limit of 32,767 characters."})
        if visibility is None:
            return
        kind = visibility.get("type") if isinstance(visibility, Mapping) else None
        value = visibility.get("value") if isinstance(visibility, Mapping) else None
        if kind == "role" and value not in PROJECT_ROLES:
            raise JiraApiError(400, [], {"commentLevel": f"You are currently not a member of the"
                                                         f" project role: {value}."})
        if kind == "group" and value not in GROUPS:
            raise JiraApiError(400, [], {"commentLevel": f"You are currently not a member of the"
                                                         f" group: {value}."})
        if kind not in ("role", "group"):
            raise JiraApiError(400, [], {"commentLevel": "Visibility type must be 'role' or 'group'."})

    def comment(self, id_or_key: str, comment_id: str) -> tuple[Issue, Comment]:
        with self.lock:
            issue = self.issue(id_or_key)
            found = next((c for c in issue.comments if str(c.comment_id) == str(comment_id)), None)
            if found is None:
                raise JiraApiError(404, [f"Can not find a comment for the id: {comment_id}."])
            return issue, found

    def update_comment(self, id_or_key: str, comment_id: str, body: Any, visibility: Any,
                       actor: JiraUser, properties: Any = None) -> Comment:
        with self.lock:
            issue, comment = self.comment(id_or_key, comment_id)
            new_body = comment.body if body is None else body
            self._check_comment(new_body, visibility)
            props = self._check_properties(properties)
            now = self.tick()
            comment.body = new_body
            if visibility is not None:
                comment.visibility = dict(visibility)
            comment.properties.update(props)
            comment.update_author, comment.updated_ms = actor, now
            issue.updated_ms = now
            return comment

    def delete_comment(self, id_or_key: str, comment_id: str) -> None:
        with self.lock:
            issue, comment = self.comment(id_or_key, comment_id)
            issue.comments.remove(comment)
            self.touch(issue)

    # -- attachments --------------------------------------------------------------------------

    def add_attachment(self, id_or_key: str, filename: str, data: bytes, mime_type: str,
                       author: JiraUser) -> Attachment:
        with self.lock:
            issue = self.issue(id_or_key)
            limit = self.options.max_attachment_bytes
            if len(data) > limit:
                # Cloud answers 413; Data Center's document gives 404 for "exceeds the maximum
                # configured attachment size" -- a 404 here does not mean the issue is gone.
                raise JiraApiError(413 if self.options.cloud else 404, [f"The file '{filename}' is too large: it is {len(data)}"
                                         f" bytes, the maximum is {limit} bytes."])
            now = self.tick()
            attachment = Attachment(self._new_id("attachment"), issue.issue_id, filename,
                                    mime_type, len(data), author, now)
            self._store_blob(attachment.attachment_id, data)
            issue.attachments.append(attachment)
            issue.updated_ms = now
            return attachment

    def attachment(self, attachment_id: str | int) -> tuple[Issue, Attachment]:
        with self.lock:
            for issue in self._issues.values():
                for attachment in issue.attachments:
                    if str(attachment.attachment_id) == str(attachment_id):
                        return issue, attachment
            raise JiraApiError(404, [f"The attachment with id '{attachment_id}' does not exist"])

    def attachment_bytes(self, attachment_id: int) -> bytes:
        if self._blob_dir is not None:
            return (self._blob_dir / str(attachment_id)).read_bytes()
        return self._blobs[attachment_id]

    def delete_attachment(self, attachment_id: str) -> None:
        with self.lock:
            issue, attachment = self.attachment(attachment_id)
            issue.attachments.remove(attachment)
            self._drop_blob(attachment.attachment_id)
            self.touch(issue)

    def _store_blob(self, attachment_id: int, data: bytes) -> None:
        if self._blob_dir is not None:
            (self._blob_dir / str(attachment_id)).write_bytes(data)
        else:
            self._blobs[attachment_id] = data

    def _drop_blob(self, attachment_id: int) -> None:
        if self._blob_dir is not None:
            (self._blob_dir / str(attachment_id)).unlink(missing_ok=True)
        else:
            self._blobs.pop(attachment_id, None)

    # -- entity properties and remote links ---------------------------------------------------

    def set_property(self, id_or_key: str, key: str, value: Any) -> bool:
        """Store the property; True when it was created (201), False when replaced (200)."""
        with self.lock:
            issue = self.issue(id_or_key)
            self.check_property(key, value)
            created = key not in issue.properties
            issue.properties[key] = value
            self.touch(issue)
            return created

    def get_property(self, id_or_key: str, key: str) -> Any:
        with self.lock:
            issue = self.issue(id_or_key)
            if key not in issue.properties:
                raise JiraApiError(404, [f"The property with key '{key}' does not exist."])
            return issue.properties[key]

    def delete_property(self, id_or_key: str, key: str) -> None:
        with self.lock:
            issue = self.issue(id_or_key)
            self.get_property(id_or_key, key)
            del issue.properties[key]
            self.touch(issue)

    def upsert_remote_link(self, id_or_key: str, body: Any,
                           link_id: str | None = None) -> tuple[RemoteLink, bool]:
        """Create a link, or replace the one with ``link_id`` or the same globalId; (link, created)."""
        with self.lock:
            issue = self.issue(id_or_key)
            obj = body.get("object") if isinstance(body, Mapping) else None
            errors = {}
            if not isinstance(obj, Mapping) or not obj.get("title"):
                errors["title"] = "'title' is required."
            if not isinstance(obj, Mapping) or not obj.get("url"):
                errors["url"] = "'url' is required."
            if errors:
                raise JiraApiError(400, [], errors)
            global_id = body.get("globalId")
            existing = self.remote_link(issue.key, link_id) if link_id else next(
                (link for link in issue.remote_links if global_id and link.global_id == global_id), None)
            link = existing or RemoteLink(self._new_id("link"), {})
            link.object, link.global_id = dict(obj), global_id
            link.application, link.relationship = body.get("application"), body.get("relationship")
            if existing is None:
                issue.remote_links.append(link)
            self.touch(issue)
            return link, existing is None

    def remote_link(self, id_or_key: str, link_id: str) -> RemoteLink:
        with self.lock:
            issue = self.issue(id_or_key)
            found = next((lk for lk in issue.remote_links if str(lk.link_id) == str(link_id)), None)
            if found is None:
                raise JiraApiError(404, [f"No remote link with id '{link_id}' exists on this issue."])
            return found

    def delete_remote_links(self, id_or_key: str, links: Iterable[RemoteLink]) -> None:
        with self.lock:
            issue = self.issue(id_or_key)
            for link in list(links):
                issue.remote_links.remove(link)
            self.touch(issue)

    @staticmethod
    def status_named(name: str) -> Status:
        found = next((s for s in STATUSES if s.name.lower() == str(name).lower()), None)
        if found is None:
            raise JiraApiError(400, [f"There is no status named '{name}'."])
        return found

    def is_done(self, issue: Issue) -> bool:
        return issue.status is DONE_STATUS

"""The Jira sandbox's state: one project, its issues, comments, attachments, properties, links.

All state lives in memory behind one re-entrant lock, so the ASGI app, test threads and the
``/_sandbox`` control endpoints can share one store.  Every write stamps the issue's
``updated`` with a millisecond time that is strictly greater than any earlier stamp, the way
a real Jira's ``updated`` moves on each change (comments, attachments, transitions and
entity properties included); an edit that changes nothing does not move it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from bridge.sandbox.jira.catalog import (
    DEFAULT_PRIORITY,
    ISSUE_TYPES,
    JiraSandboxOptions,
    JiraUser,
    Named,
    Status,
    by_id_or_name,
    make_users,
)
from bridge.sandbox.jira.fields import FieldParser, JiraApiError, apply_update_ops, cannot_set
from bridge.sandbox.jira.records import ChangeItem, History, Issue
from bridge.sandbox.jira.screens import create_screen, edit_screen, issue_type_choices, multi_values
from bridge.sandbox.jira.search_index import SearchIndex
from bridge.sandbox.jira.store_items import ItemsMixin
from bridge.sandbox.jira.workflow import WorkflowMixin
from bridge.sandbox.jira.workflow_def import load_workflow

__all__ = ["JiraStore"]


class JiraStore(ItemsMixin, WorkflowMixin):
    """Thread-safe in-memory Jira.  Methods raise :class:`JiraApiError` as Jira would answer."""

    def __init__(self, options: JiraSandboxOptions | None = None):
        self.options = options or JiraSandboxOptions()
        self.users = make_users(self.options)
        self.workflow = load_workflow(self.options.workflow_file)
        self.index = SearchIndex()
        self.lock = threading.RLock()
        # In creation order, which is id order: ids are handed out increasing and an issue is
        # added once, when it is created (search_plan relies on this to keep Jira's order).
        self._issues: dict[int, Issue] = {}
        self._ids_by_key: dict[str, int] = {}
        self._children: dict[int, list[int]] = {}  # parent id -> its sub-tasks' ids, in creation order
        self._last_ms = 0
        self._next = {"issue": 10001, "number": 1, "comment": 10000, "attachment": 10000,
                      "link": 10000, "history": 10000}
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

    def field_parser(self) -> FieldParser:
        return FieldParser(self.find_user, self.options.cloud, text_limit=self.options.text_limit,
                           assignable=lambda user: user.assignable)

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

    def has_issue(self, id_or_key: str) -> bool:
        try:
            self.issue(id_or_key)
        except JiraApiError:
            return False
        return True

    def issues(self) -> list[Issue]:
        with self.lock:
            return list(self._issues.values())

    def issues_by_ids(self, ids: Iterable[int]) -> list[Issue]:
        """The issues among ``ids`` in the order of :meth:`issues` (id order); absent ids are
        left out."""
        with self.lock:
            found = (self._issues.get(i) for i in sorted(ids))
            return [issue for issue in found if issue is not None]

    def id_of_key(self, key: str) -> int | None:
        """The id of the issue with ``key`` (case-insensitive).  Keys never change here: the
        sandbox has one project and no move, so no issue has an earlier key."""
        with self.lock:
            return self._ids_by_key.get(key.upper())

    def child_ids(self, parent_id: int) -> list[int]:
        with self.lock:
            return list(self._children.get(parent_id, ()))

    def subtasks(self, issue: Issue) -> list[Issue]:
        with self.lock:
            return [self._issues[i] for i in self._children.get(issue.issue_id, ())]

    def parent(self, issue: Issue) -> Issue | None:
        with self.lock:
            return self._issues.get(issue.parent_id) if issue.parent_id else None

    def touch(self, issue: Issue) -> int:
        return self._stamp(issue, self.tick())

    def _stamp(self, issue: Issue, now: int) -> int:
        """A write to ``issue`` at ``now`` is done: move ``updated`` and record it for search.
        Every change of what a search sees of an issue passes here (or through a create, a
        delete or a settle), and only here does ``updated`` move, always forward (:meth:`tick`):
        the search index's candidate lists and its reuse of results rely on both."""
        issue.updated_ms = now
        self.index.record(issue.issue_id, now, self.search_facts(issue), self.options.effective_search_lag_ms)
        return now

    def settle_index(self) -> None:
        """Let the search index catch up now (a test convenience behind ``/_sandbox/index/settle``):
        every issue is searchable as it is, whatever the lag."""
        with self.lock:
            before = int(time.time() * 1000) - self.options.effective_search_lag_ms - 1
            for issue in self._issues.values():
                self.index.record(issue.issue_id, before, self.search_facts(issue), 0)

    def searchable_facts(self, issue: Issue, now_ms: int, reconcile: frozenset[int] = frozenset()) -> dict | None:
        """What a search at ``now_ms`` sees of ``issue`` (None: not searchable yet); ids in
        ``reconcile`` are read after write (Cloud's reconcileIssues)."""
        lag = self.options.effective_search_lag_ms
        if lag <= 0 or issue.issue_id in reconcile:
            return self.search_facts(issue)
        return self.index.facts_at(issue.issue_id, now_ms - lag)

    # -- issues -------------------------------------------------------------------------------

    def create_issue(self, fields: Mapping[str, Any], actor: JiraUser,
                     properties: Any = None, update: Any = None) -> Issue:
        if not isinstance(fields, Mapping):
            raise JiraApiError(400, ["Issue fields are required."])
        parser = self.field_parser()
        issuetype = self._check_project_and_type(fields, parser)
        values, comment_ops = apply_update_ops(multi_values(None, issuetype), update)
        values.update(fields)
        summary = parser.parse("summary", values.get("summary"))
        parent = self._check_parent(values.get("parent"), issuetype, parser)
        parsed: dict[str, Any] = {}
        screen = create_screen(issuetype)
        for field_id, value in values.items():
            if field_id in ("project", "issuetype", "summary", "parent"):
                continue
            if field_id in screen:
                parsed[field_id] = parser.parse(field_id, value)
            else:
                parser.errors[field_id] = cannot_set(field_id)
        props = self._check_properties(properties)
        parser.fail_if_errors()
        for op in comment_ops:  # refuse before anything is written
            self._check_comment(op.get("body"), op.get("visibility"))
        with self.lock:
            now = self.tick()
            number = self._new_id("number")
            issue = Issue(
                issue_id=self._new_id("issue"), key=f"{self.options.project_key}-{number}",
                issuetype=issuetype, summary=summary, reporter=parsed.pop("reporter", None) or actor,
                creator=actor, created_ms=now, updated_ms=now, status_category_changed_ms=now,
                parent_id=parent.issue_id if parent else None, properties=props,
                status=self.workflow.initial,
            )
            self._assign(issue, parsed)
            self._issues[issue.issue_id] = issue
            self._ids_by_key[issue.key.upper()] = issue.issue_id
            if issue.parent_id is not None:
                self._children.setdefault(issue.parent_id, []).append(issue.issue_id)
            self._stamp(issue, now)
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

    def _assign(self, issue: Issue, parsed: Mapping[str, Any]) -> bool:
        """Store parsed values; True when anything changed."""
        changed = False
        for field_id, value in parsed.items():
            if field_id == "priority" and value is None:
                value = DEFAULT_PRIORITY
            if field_id.startswith("customfield_"):
                if issue.custom.get(field_id) != value:
                    issue.custom[field_id] = value
                    changed = True
                continue
            if field_id == "components":
                value = list(value or [])
            if getattr(issue, field_id) != value:
                setattr(issue, field_id, value)
                changed = True
        return changed

    def edit_issue(self, id_or_key: str, fields: Any, update: Any, actor: JiraUser) -> Issue:
        with self.lock:
            issue = self.issue(id_or_key)
            if fields is not None and not isinstance(fields, Mapping):
                raise JiraApiError(400, ["Field values must be an object."])
            values, comment_ops = apply_update_ops(multi_values(issue, issue.issuetype), update)
            values.update(fields or {})
            parser = self.field_parser()
            parsed = {}
            screen = edit_screen(issue.issuetype)
            for field_id, value in values.items():
                if field_id in screen:
                    parsed[field_id] = parser.parse(field_id, value)
                else:
                    parser.errors[field_id] = cannot_set(field_id)
            if parsed.get("issuetype") is not None and parsed["issuetype"] not in issue_type_choices(issue.issuetype):
                # Jira changes the type by an edit only within the same workflow and field
                # configuration (standard types among themselves, sub-task types among themselves).
                parser.errors["issuetype"] = "The issue type selected is invalid."
            parser.fail_if_errors()
            if "issuetype" in parsed and parsed["issuetype"] is None:
                parsed.pop("issuetype")
            for op in comment_ops:  # refuse before anything is written
                self._check_comment(op.get("body"), op.get("visibility"))
            assignee_before = issue.assignee
            if self._assign(issue, parsed):
                now = self.touch(issue)
                if issue.assignee != assignee_before:
                    self._log_change(issue, actor, now, "assignee", assignee_before, issue.assignee)
            for op in comment_ops:
                self.add_comment(issue.key, op.get("body"), actor, op.get("visibility"))
            return issue

    def _log_change(self, issue: Issue, actor: JiraUser, now: int, field_id: str,
                    before: JiraUser | None, after: JiraUser | None) -> None:
        """A history entry for a user field (the assignee): the ids are what Jira puts in
        ``from``/``to`` for a user field, the accountId on Cloud, the user key on Data Center."""
        def ident(user: JiraUser | None) -> str | None:
            if user is None:
                return None
            return user.account_id if self.options.cloud else user.key

        self.log_history(issue, actor, now, [ChangeItem(field_id, ident(before), before.display_name if before else None,
                                                        ident(after), after.display_name if after else None)])

    def log_history(self, issue: Issue, actor: JiraUser, now: int, items: list[ChangeItem]) -> None:
        """One history entry, as Jira writes one per change of an issue (the changelog of
        ``GET /issue/{key}?expand=changelog``, of search rows with ``expand=changelog`` and of
        Cloud's ``GET /issue/{key}/changelog``).  Recorded: assignee changes and transitions
        (status, and resolution where the transition changed it); a create writes none."""
        if items:
            issue.changelog.append(History(self._new_id("history"), actor, now, items))

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
                self._children.pop(doomed.issue_id, None)
                if doomed.parent_id is not None and doomed.parent_id in self._children:
                    self._children[doomed.parent_id].remove(doomed.issue_id)
                self.index.drop(doomed.issue_id)

    def status_named(self, name: str) -> Status:
        found = self.workflow.status(name)
        if found is None:
            raise JiraApiError(400, [f"There is no status named '{name}'."])
        return found

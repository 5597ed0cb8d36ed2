"""JSON shapes of the Jira sandbox: Atlassian's IssueBean, Comment, Attachment, User, ... .

One :class:`View` per request knows the base URL the client used (so every ``self`` and
``content`` URL points back at the sandbox's own host and port), the API version (2: text,
3: ADF for rich text) and the flavour (Data Center vs Cloud differ in user identity, a few
ids and which keys a bean may carry — Cloud's schemas forbid unknown keys).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import quote
from zoneinfo import ZoneInfo

from bridge.sandbox.jira.adf import text_to_adf
from bridge.sandbox.jira.catalog import (
    FIELDS,
    ISSUE_FIELD_IDS,
    ISSUE_TYPES,
    NAVIGABLE_FIELD_IDS,
    PRIORITIES,
    FieldDef,
    JiraUser,
    Named,
    Status,
    StatusCategory,
)
from bridge.sandbox.jira.custom_catalog import COMPONENTS, CUSTOM_BY_ID, Component, CustomField
from bridge.sandbox.jira.screens import create_screen, edit_screen, issue_type_choices, value_of
from bridge.sandbox.jira.workflow import screen_field_meta

if TYPE_CHECKING:
    from bridge.sandbox.jira.records import Attachment, Comment, History, Issue, RemoteLink
    from bridge.sandbox.jira.store import JiraStore
    from bridge.sandbox.jira.workflow_def import TransitionDef

ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
# Cloud's ``expand=changelog`` holds the most recent 100 histories, newest first ("Returns a list
# of recent updates to an issue, sorted by date, starting from the most recent", Cloud REST v3,
# Get issue; the cap: pycontribs/jira#911, "issue?expand=changelog supplies the most recent 100
# histories and there is no pagination"); the rest only through GET /issue/{key}/changelog,
# which Data Center does not have.  Data Center expands every history, oldest first.
CLOUD_EXPANDED_HISTORIES = 100
CLAUSE_NAMES = {
    "issuekey": ["id", "issue", "issuekey", "key"], "issuetype": ["issuetype", "type"],
    "created": ["created", "createdDate"], "updated": ["updated", "updatedDate"],
    "duedate": ["due", "duedate"], "resolutiondate": ["resolutiondate", "resolved"],
    "attachment": ["attachments"], "statuscategorychangedate": ["statusCategoryChangedDate"],
}


def jira_time(ms: int, zone: ZoneInfo) -> str:
    """Jira's timestamp form: ``2024-05-23T14:47:28.592+0200`` (ISO 8601, basic offset)."""
    moment = dt.datetime.fromtimestamp(ms // 1000, zone)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}" + moment.strftime("%z")


@dataclass
class View:
    base: str  # scheme://host:port as the client reached the sandbox
    version: str  # "2" or "3"
    cloud: bool
    store: "JiraStore"

    @property
    def api(self) -> str:
        return f"{self.base}/rest/api/{self.version}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.store.options.time_zone)

    def time(self, ms: int | None) -> str | None:
        return None if ms is None else jira_time(ms, self.zone)

    def rich(self, text: str | None) -> Any:
        return text_to_adf(text) if self.version == "3" else text

    # -- people and catalog entries -------------------------------------------------------------

    def avatars(self, owner: str) -> dict[str, str]:
        return {size: f"{self.base}/secure/useravatar?size={name}&ownerId={quote(owner)}"
                for size, name in (("48x48", "large"), ("24x24", "small"),
                                   ("16x16", "xsmall"), ("32x32", "medium"))}

    def user(self, user: JiraUser | None, full: bool = False) -> dict[str, Any] | None:
        if user is None:
            return None
        if self.cloud:
            out: dict[str, Any] = {"self": f"{self.api}/user?accountId={user.account_id}",
                                   "accountId": user.account_id,
                                   "accountType": "atlassian"}
        else:
            out = {"self": f"{self.api}/user?username={quote(user.name)}", "name": user.name,
                   "key": user.key}
        if user.email_visible or not self.cloud:
            out["emailAddress"] = user.email
        out.update({"avatarUrls": self.avatars(user.name),
                    "displayName": user.display_name, "active": True, "timeZone": user.time_zone})
        if full:
            store = self.store
            groups = store.options.user_groups if user == store.api_user else ()
            out.update({"locale": "en_US", "groups": {"size": len(groups), "items": [
                            {"name": g, "self": f"{self.api}/group?groupname={quote(g)}"} for g in groups]},
                        "applicationRoles": {"size": 1, "items": []},
                        "expand": "groups,applicationRoles"})
            if not self.cloud:
                out["deleted"] = False
        return out

    def category(self, cat: StatusCategory) -> dict[str, Any]:
        return {"self": f"{self.api}/statuscategory/{cat.category_id}", "id": cat.category_id,
                "key": cat.key, "colorName": cat.color, "name": cat.name}

    def status(self, status: Status) -> dict[str, Any]:
        return {"self": f"{self.api}/status/{status.status_id}", "description": status.description,
                "iconUrl": f"{self.base}/images/icons/statuses/generic.png", "name": status.name,
                "id": status.status_id, "statusCategory": self.category(status.category)}

    def priority(self, priority: Named, full: bool = False) -> dict[str, Any]:
        out = {"self": f"{self.api}/priority/{priority.item_id}", "name": priority.name,
               "id": priority.item_id,
               "iconUrl": f"{self.base}/images/icons/priorities/{priority.name.lower()}.svg"}
        if full:
            out.update({"description": priority.description, "statusColor": priority.color})
        return out

    def resolution(self, resolution: Named | None) -> dict[str, Any] | None:
        if resolution is None:
            return None
        return {"self": f"{self.api}/resolution/{resolution.item_id}", "id": resolution.item_id,
                "description": resolution.description, "name": resolution.name}

    def issuetype(self, issuetype: Named) -> dict[str, Any]:
        out = {"self": f"{self.api}/issuetype/{issuetype.item_id}", "id": issuetype.item_id,
               "description": issuetype.description, "name": issuetype.name,
               "iconUrl": f"{self.base}/images/icons/issuetypes/{issuetype.name.lower()}.svg",
               "subtask": issuetype.subtask, "avatarId": 10318 if issuetype.subtask else 10315}
        if self.cloud:
            out["hierarchyLevel"] = -1 if issuetype.subtask else 0
        return out

    def project(self, full: bool = False) -> dict[str, Any]:
        o = self.store.options
        out: dict[str, Any] = {
            "self": f"{self.api}/project/{o.project_id}", "id": o.project_id, "key": o.project_key,
            "name": o.project_name, "projectTypeKey": "software",
            "avatarUrls": {size: f"{self.base}/secure/projectavatar?size={name}&pid={o.project_id}"
                           for size, name in (("48x48", "large"), ("24x24", "small"),
                                              ("16x16", "xsmall"), ("32x32", "medium"))},
        }
        if full:
            out.update({"expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
                        "description": "Tickets mirrored from casavi.",
                        "lead": self.user(self.store.api_user, full=self.cloud),
                        "components": [self.component(c) for c in COMPONENTS],
                        "issueTypes": [self.issuetype(t) for t in ISSUE_TYPES],
                        "assigneeType": "UNASSIGNED", "versions": [], "roles": {},
                        "archived": False})
            if self.cloud:
                out.update({"style": "classic", "isPrivate": False, "simplified": False,
                            "properties": {}})
            else:
                out["projectKeys"] = [o.project_key]
        return out

    def field(self, f: FieldDef) -> dict[str, Any]:
        clauses = ([f"cf[{f.field_id.rsplit('_', 1)[1]}]", f.name] if f.custom
                   else CLAUSE_NAMES.get(f.field_id, [f.field_id]))
        out: dict[str, Any] = {"id": f.field_id, "name": f.name, "custom": f.custom,
                               "orderable": f.orderable, "navigable": f.navigable,
                               "searchable": f.searchable, "clauseNames": clauses}
        if f.schema:
            out["schema"] = dict(f.schema)
        if self.cloud:
            out["key"] = f.field_id
        return out

    def component(self, component: Component, full: bool = False) -> dict[str, Any]:
        """A component as an issue shows it; ``full``: as ``GET /project/{key}/components`` lists it."""
        out: dict[str, Any] = {"self": f"{self.api}/component/{component.item_id}", "id": component.item_id,
                               "name": component.name, "description": component.description}
        if full:
            out.update({"assigneeType": "PROJECT_DEFAULT", "realAssigneeType": "PROJECT_DEFAULT",
                        "isAssigneeTypeValid": False, "project": self.store.options.project_key,
                        "projectId": int(self.store.options.project_id)})
        return out

    def option(self, cf: CustomField, option_id: str) -> dict[str, Any]:
        return {"self": f"{self.api}/customFieldOption/{option_id}", "value": value_of(cf, option_id),
                "id": option_id}

    def custom_value(self, cf: CustomField, stored: Any) -> Any:
        if stored is None:
            return None
        if cf.kind == "option":
            return self.option(cf, stored)
        if cf.kind == "array":
            return list(stored) if cf.items == "string" else [self.option(cf, o) for o in stored]
        if cf.kind == "datetime":
            return self.time(stored)
        if cf.kind == "user":
            return self.user(stored)
        return stored

    def screen_meta(self, issuetype: Named, *, create: bool) -> dict[str, dict[str, Any]]:
        """The fields of the create or edit screen of ``issuetype`` as ``createmeta`` / ``editmeta``
        describe them (Cloud ``FieldCreateMetadata``/``FieldMetadata``, DC ``FieldMetaBean``)."""
        ids = create_screen(issuetype) if create else edit_screen(issuetype)
        required = {"summary", "issuetype", "project"} | ({"reporter"} if create else set()) | \
            ({"parent"} if issuetype.subtask else set())
        by_id = {f.field_id: f for f in FIELDS}
        out: dict[str, dict[str, Any]] = {}
        for field_id in ids:
            f = by_id[field_id]
            cf = CUSTOM_BY_ID.get(field_id)
            multi = field_id in ("labels", "components") or (cf is not None and cf.multi)
            meta: dict[str, Any] = {"required": field_id in required, "schema": dict(f.schema), "name": f.name,
                                    "key": field_id, "operations": ["add", "set", "remove"] if multi else ["set"]}
            if create or not self.cloud:
                meta["fieldId"] = field_id
            if create:
                meta["hasDefaultValue"] = field_id == "priority"
            allowed = self._allowed(field_id, cf, issuetype)
            if allowed is not None:
                meta["allowedValues"] = allowed
            if field_id in ("assignee", "reporter") or (cf is not None and cf.kind == "user"):
                meta["autoCompleteUrl"] = f"{self.api}/user/search?query="
            if field_id == "labels" or (cf is not None and cf.items == "string"):
                meta["autoCompleteUrl"] = f"{self.base}/rest/api/1.0/labels/suggest?query="
            out[field_id] = meta
        return out

    def _allowed(self, field_id: str, cf: CustomField | None, issuetype: Named) -> list[Any] | None:
        if cf is not None and cf.options:
            return [{**self.option(cf, o.option_id), **({"disabled": True} if o.disabled else {})} for o in cf.options]
        if field_id == "components":
            return [self.component(c) for c in COMPONENTS]
        if field_id == "priority":
            return [self.priority(p) for p in PRIORITIES]
        if field_id == "issuetype":
            return [self.issuetype(t) for t in issue_type_choices(issuetype)]
        return None

    # -- issues ---------------------------------------------------------------------------------

    def issue_ref(self, issue: "Issue") -> dict[str, Any]:
        """The short form Jira uses for ``parent`` and ``subtasks``."""
        return {"id": str(issue.issue_id), "key": issue.key, "self": f"{self.api}/issue/{issue.issue_id}",
                "fields": {"summary": issue.summary, "status": self.status(issue.status),
                           "priority": self.priority(issue.priority),
                           "issuetype": self.issuetype(issue.issuetype)}}

    def issue(self, issue: "Issue", fields: Iterable[str] | None, expand: Iterable[str] = (),
              properties: Iterable[str] = ()) -> dict[str, Any]:
        """An IssueBean.  ``fields=None`` means "id only" (the new search's default)."""
        if fields is None:
            return {"id": str(issue.issue_id)}
        out: dict[str, Any] = {"expand": ISSUE_EXPAND, "id": str(issue.issue_id),
                               "self": f"{self.api}/issue/{issue.issue_id}", "key": issue.key}
        wanted = list(fields)
        if wanted:
            out["fields"] = {name: self._field_value(issue, name) for name in wanted
                             if name != "parent" or issue.parent_id}
        expand = set(expand)
        if "names" in expand:
            out["names"] = {f.field_id: f.name for f in FIELDS if f.field_id in wanted}
        if "schema" in expand:
            out["schema"] = {f.field_id: f.schema for f in FIELDS if f.field_id in wanted and f.schema}
        if "transitions" in expand:
            out["transitions"] = [self.transition(t, False) for t in self.store.transitions(issue)]
        if "changelog" in expand:
            out["changelog"] = self.expanded_changelog(issue)
        if "editmeta" in expand:
            out["editmeta"] = {"fields": self.screen_meta(issue.issuetype, create=False)}
        props = {k: v for k, v in issue.properties.items() if "*all" in properties or k in properties}
        if props:
            out["properties"] = props
        return out

    # -- changelog ------------------------------------------------------------------------------

    def history(self, entry: "History") -> dict[str, Any]:
        """Cloud's Changelog / Data Center's ChangeHistoryBean.  An empty side of a change (an
        issue assigned from nobody) is ``null``, as Jira writes it."""
        items = []
        for item in entry.items:
            out: dict[str, Any] = {"field": item.field, "fieldtype": item.fieldtype}
            if self.cloud:
                out["fieldId"] = item.field
            out.update({"from": item.value_from, "fromString": item.from_string,
                        "to": item.value_to, "toString": item.to_string})
            items.append(out)
        return {"id": str(entry.history_id), "author": self.user(entry.author),
                "created": self.time(entry.created_ms), "items": items}

    def expanded_changelog(self, issue: "Issue") -> dict[str, Any]:
        """``changelog`` of an expanded IssueBean (PageOfChangelogs / ChangelogBean)."""
        histories = list(issue.changelog)
        if self.cloud:
            histories = list(reversed(histories))[:CLOUD_EXPANDED_HISTORIES]
        return {"startAt": 0, "maxResults": len(histories), "total": len(issue.changelog),
                "histories": [self.history(h) for h in histories]}

    def changelog_page(self, issue: "Issue", start: int, limit: int) -> dict[str, Any]:
        """Cloud's ``GET /issue/{key}/changelog``: PageBeanChangelog, oldest first."""
        page = issue.changelog[start:start + limit]
        url = f"{self.api}/issue/{issue.issue_id}/changelog"
        out: dict[str, Any] = {"self": f"{url}?startAt={start}&maxResults={limit}", "maxResults": limit,
                               "startAt": start, "total": len(issue.changelog),
                               "isLast": start + len(page) >= len(issue.changelog),
                               "values": [self.history(h) for h in page]}
        if not out["isLast"]:
            out["nextPage"] = f"{url}?startAt={start + limit}&maxResults={limit}"
        return out

    def _field_value(self, issue: "Issue", name: str) -> Any:
        cf = CUSTOM_BY_ID.get(name)
        if cf is not None:
            return self.custom_value(cf, issue.custom.get(name))
        simple = {
            "summary": lambda: issue.summary, "description": lambda: self.rich(issue.description),
            "status": lambda: self.status(issue.status),
            "issuetype": lambda: self.issuetype(issue.issuetype),
            "project": lambda: self.project(), "labels": lambda: list(issue.labels),
            "priority": lambda: self.priority(issue.priority),
            "assignee": lambda: self.user(issue.assignee),
            "reporter": lambda: self.user(issue.reporter),
            "creator": lambda: self.user(issue.creator), "duedate": lambda: issue.duedate,
            "parent": lambda: self.issue_ref(self.store.parent(issue)),
            "subtasks": lambda: [self.issue_ref(s) for s in self.store.subtasks(issue)],
            "issuelinks": lambda: [], "components": lambda: [self.component(c) for c in issue.components],
            "comment": lambda: self.comments_page(issue, issue.comments, 0, len(issue.comments)),
            "attachment": lambda: [self.attachment(a) for a in issue.attachments],
            "resolution": lambda: self.resolution(issue.resolution),
            "resolutiondate": lambda: self.time(issue.resolution_ms),
            "created": lambda: self.time(issue.created_ms),
            "updated": lambda: self.time(issue.updated_ms),
            "statuscategorychangedate": lambda: self.time(issue.status_category_changed_ms),
        }
        return simple[name]()

    def transition(self, step: "TransitionDef", with_fields: bool) -> dict[str, Any]:
        screen = screen_field_meta(step)
        out: dict[str, Any] = {"id": step.transition_id, "name": step.name, "to": self.status(step.to)}
        if self.cloud:
            out.update({"hasScreen": bool(screen), "isGlobal": step.is_global, "isInitial": False,
                        "isAvailable": True, "isConditional": False, "isLooped": False})
        else:
            out["opsbarSequence"] = int(step.transition_id) if step.transition_id.isdigit() else 10
        if with_fields:
            out["fields"] = {key: self._field_meta(meta) for key, meta in screen.items()}
        return out

    def _field_meta(self, meta: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in meta.items() if k not in ("allowedValues", "defaultValue", "fieldId", "key")}
        if "allowedValues" in meta:
            out["allowedValues"] = [self.resolution(r) for r in meta["allowedValues"]]
            out["defaultValue"] = self.resolution(meta["defaultValue"])
        out["key" if self.cloud else "fieldId"] = meta["key"]
        return out

    # -- comments, attachments, links -----------------------------------------------------------

    def comment(self, issue: "Issue", comment: "Comment", with_properties: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "self": f"{self.api}/issue/{issue.issue_id}/comment/{comment.comment_id}",
            "id": str(comment.comment_id), "author": self.user(comment.author),
            "body": self.rich(comment.body), "updateAuthor": self.user(comment.update_author),
            "created": self.time(comment.created_ms), "updated": self.time(comment.updated_ms),
        }
        if comment.visibility:
            out["visibility"] = dict(comment.visibility)
        if self.cloud:
            out["jsdPublic"] = True
        if with_properties:
            out["properties"] = [{"key": k, "value": v} for k, v in comment.properties.items()]
        return out

    def comments_page(self, issue: "Issue", comments: list["Comment"], start: int, limit: int,
                      with_properties: bool = False) -> dict[str, Any]:
        page = comments[start:start + limit]
        return {"comments": [self.comment(issue, c, with_properties) for c in page],
                "maxResults": limit, "total": len(comments), "startAt": start}

    def content_url(self, attachment: "Attachment") -> str:
        if self.cloud:
            return f"{self.api}/attachment/content/{attachment.attachment_id}"
        return f"{self.base}/secure/attachment/{attachment.attachment_id}/{quote(attachment.filename)}"

    def attachment(self, attachment: "Attachment", metadata: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "self": f"{self.api}/attachment/{attachment.attachment_id}",
            "id": str(attachment.attachment_id), "filename": attachment.filename,
            "author": self.user(attachment.author, full=metadata and self.cloud),
            "created": self.time(attachment.created_ms), "size": attachment.size,
            "mimeType": attachment.mime_type, "content": self.content_url(attachment),
        }
        if metadata and self.cloud:
            out["id"] = attachment.attachment_id  # Cloud's AttachmentMetadata has a numeric id
            out["properties"] = {}
        return out

    def remote_link(self, issue: "Issue", link: "RemoteLink") -> dict[str, Any]:
        out: dict[str, Any] = {"id": link.link_id,
                               "self": f"{self.api}/issue/{issue.key}/remotelink/{link.link_id}"}
        if link.global_id:
            out["globalId"] = link.global_id
        out["application"] = dict(link.application or {})
        if link.relationship:
            out["relationship"] = link.relationship
        out["object"] = dict(link.object)
        return out


def select_fields(param: str | list[str] | None, default: Iterable[str]) -> list[str]:
    """Resolve Jira's ``fields`` parameter (``*all``, ``*navigable``, ``-name``, names)."""
    if param is None:
        return list(default)
    tokens = param if isinstance(param, list) else [param]
    names = [t.strip() for token in tokens for t in str(token).split(",") if t.strip()]
    chosen: list[str] = []
    for name in names:
        if name == "*all":
            chosen.extend(ISSUE_FIELD_IDS)
        elif name == "*navigable":
            chosen.extend(NAVIGABLE_FIELD_IDS)
        elif not name.startswith("-") and name in ISSUE_FIELD_IDS:
            chosen.append(name)
    removed = {n[1:] for n in names if n.startswith("-")}
    return [n for n in dict.fromkeys(chosen) if n not in removed]

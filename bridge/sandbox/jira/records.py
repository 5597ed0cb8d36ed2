"""The Jira sandbox's records: an issue and what hangs off it (comments, attachments, links).

Plain data, no behaviour: the store (:mod:`bridge.sandbox.jira.store`) and its mixins
(:mod:`bridge.sandbox.jira.store_items`, :mod:`bridge.sandbox.jira.workflow`) change them under
the store's lock; :mod:`bridge.sandbox.jira.render` shows them in Jira's shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.sandbox.jira.catalog import DEFAULT_PRIORITY, JiraUser, Named, Status
from bridge.sandbox.jira.custom_catalog import Component
from bridge.sandbox.jira.workflow_def import DEFAULT_WORKFLOW


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
class ChangeItem:
    """One field's change in a history entry (Jira's ChangeItemBean / ChangeDetails): ``value_from``
    and ``value_to`` are the ids (Cloud: accountId, Data Center: user key), the ``*_string`` the names."""

    field: str
    value_from: str | None
    from_string: str | None
    value_to: str | None
    to_string: str | None
    fieldtype: str = "jira"


@dataclass
class History:
    """One entry of an issue's changelog: who changed what, when."""

    history_id: int
    author: JiraUser
    created_ms: int
    items: list[ChangeItem] = field(default_factory=list)


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
    status: Status = DEFAULT_WORKFLOW.initial  # the store passes its own workflow's initial status
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
    changelog: list[History] = field(default_factory=list)  # oldest first
    screen_values: dict[str, Any] = field(default_factory=dict)  # other fields set on transition screens
    components: list[Component] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)  # custom field id → stored value (screens.parse_custom)

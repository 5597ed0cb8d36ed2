"""The fixed part of the Jira sandbox: options, users, workflow, priorities, fields.

Ids follow what a fresh Jira with a simplified ("team-managed"-like) workflow hands out:
statuses To Do / In Progress / Done keep Jira's well-known ids, transitions are the global
"allow all statuses to transition to this one" kind with ids 11, 21, 31, 41.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from bridge.sandbox.jira.custom_catalog import CUSTOM_FIELDS

MODES = ("server", "cloud")
# "The majority of modifications are shown within seconds" (Cloud search-and-reconcile guide).
DEFAULT_SEARCH_LAG_MS = {"cloud": 3000, "server": 0}
DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
PROPERTY_VALUE_MAX_BYTES = 32768


@dataclass
class JiraSandboxOptions:
    """Knobs of one Jira sandbox; ``from_any`` reads them from a dict or an options object."""

    mode: str = "server"  # "server" (Data Center 10.3) or "cloud"
    project_key: str = "OPS"
    project_id: str = "10000"
    project_name: str = "Operations"
    user_name: str = "casavi-bridge"
    user_email: str = "casavi-bridge@example.com"
    user_display_name: str = "casavi bridge"
    token: str = "sandbox-jira-token"
    time_zone: str = "Europe/Berlin"  # the API user's profile zone: bare JQL dates are read in it
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    # Search-index lag in milliseconds: creates and updates become searchable this late (None:
    # the flavour's default, DEFAULT_SEARCH_LAG_MS).  Cloud's /search/jql is eventually
    # consistent, "from a few seconds to minutes", except for ids passed in reconcileIssues
    # (https://developer.atlassian.com/cloud/jira/platform/search-and-reconcile); Data
    # Center's Lucene index is updated with the write.
    search_lag_ms: int | None = None
    attachment_dir: str | None = None  # None: bytes stay in memory
    # Issue-property keys declared indexed (by an app: Forge jira:entityProperty, Connect's
    # entity-property module, a DC plugin's index-document-configuration).  Only those are
    # searchable in JQL; a property set over REST by an ordinary account is stored and readable
    # but matches nothing (https://developer.atlassian.com/platform/forge/manifest-reference/modules/jira-entity-property/,
    # https://developer.atlassian.com/server/jira/platform/index-document-configuration).
    indexed_properties: tuple[str, ...] = ()
    workflow_file: str | None = None  # JSON workflow (see workflow_def); None: the default one
    # Project roles and groups the API user belongs to: a comment restricted to another role
    # or group is refused with 400 (errors.commentLevel "You are currently not a member of the
    # project role: X."; seen from real Jira in reload/github-security-jira#128).
    user_roles: tuple[str, ...] = ("Administrators",)
    user_groups: tuple[str, ...] = ("jira-software-users",)
    # Group visibility for comments can be switched off by an administrator (Cloud answers
    # GROUP_VISIBILITY_SETTING_NOT_ENABLED, atlassian/atlassian-mcp-server#105).
    group_visibility: bool = True
    # Whether the API account holds the global permission "Administer Jira": reading application
    # properties needs it (GET application-properties, Cloud v3 and DC 10.3 OpenAPI documents;
    # without it both answer 404).
    # An integration's account usually does not: off by default.
    user_admin: bool = False
    # Description and comment limit (jira.text.field.character.limit; 32,767 by default, other
    # values exist on Data Center: a 65,534 answer in release-engineering/Sync2Jira#123).
    text_limit: int = 32767

    # Names the shared sandbox options (``SandboxOptions.extra``) may use for the same knobs.
    _ALIASES = {
        "jira_mode": "mode",
        "jira_project": "project_key",
        "jira_project_key": "project_key",
        "jira_user": "user_name",
        "jira_token": "token",
        "jira_time_zone": "time_zone",
        "jira_max_attachment_bytes": "max_attachment_bytes",
        "jira_search_lag_ms": "search_lag_ms",
        "jira_attachment_dir": "attachment_dir",
        "jira_flavor": "mode",
        "jira_indexed_properties": "indexed_properties",
        "jira_workflow": "workflow_file",
        "jira_workflow_file": "workflow_file",
        "jira_user_roles": "user_roles",
        "jira_user_groups": "user_groups",
        "jira_group_visibility": "group_visibility",
        "jira_user_admin": "user_admin",
        "jira_text_limit": "text_limit",
    }

    @classmethod
    def from_any(cls, options: Any = None) -> "JiraSandboxOptions":
        """From None, an instance or a mapping; ``jira_``-prefixed aliases are understood."""
        if isinstance(options, cls):
            return options
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for raw_key, value in dict(options or {}).items():
            key = cls._ALIASES.get(raw_key, raw_key)
            if key in known and value is not None:
                values[key] = value
        raw = dict(options or {})
        seconds = raw.get("jira_search_lag_seconds", raw.get("search_lag_seconds"))
        if seconds is not None:
            values["search_lag_ms"] = int(float(seconds) * 1000)
        for name in ("indexed_properties", "user_roles", "user_groups"):
            if isinstance(values.get(name), str):
                values[name] = tuple(p.strip() for p in values[name].split(",") if p.strip())
            elif name in values:
                values[name] = tuple(values[name])
        made = cls(**values)
        if made.mode not in MODES:
            raise ValueError(f"Jira sandbox mode must be one of {MODES}, not {made.mode!r}")
        return made

    @property
    def cloud(self) -> bool:
        return self.mode == "cloud"

    @property
    def effective_search_lag_ms(self) -> int:
        if self.search_lag_ms is not None:
            return self.search_lag_ms
        return DEFAULT_SEARCH_LAG_MS[self.mode]


@dataclass(frozen=True)
class JiraUser:
    name: str  # Data Center username (also its key's basis)
    key: str
    account_id: str
    email: str
    display_name: str
    time_zone: str = "Europe/Berlin"
    assignable: bool = True  # has "Assignable User" in the project
    # Cloud applies each person's profile visibility: a hidden e-mail address is left out of
    # every user object (Atlassian, "Profile visibility overview"); Data Center always shows it.
    email_visible: bool = True


@dataclass(frozen=True)
class StatusCategory:
    category_id: int
    key: str
    name: str
    color: str


@dataclass(frozen=True)
class Status:
    status_id: str
    name: str
    description: str
    category: StatusCategory


@dataclass(frozen=True)
class Named:
    """A priority, resolution or issue type: an id, a name, a description."""

    item_id: str
    name: str
    description: str
    subtask: bool = False
    color: str = ""


@dataclass(frozen=True)
class FieldDef:
    field_id: str
    name: str
    schema: dict[str, Any] = field(default_factory=dict)
    orderable: bool = True
    navigable: bool = True
    searchable: bool = True
    in_issue: bool = True  # appears under IssueBean.fields
    custom: bool = False


CAT_NEW = StatusCategory(2, "new", "To Do", "blue-gray")
CAT_INDETERMINATE = StatusCategory(4, "indeterminate", "In Progress", "yellow")
CAT_DONE = StatusCategory(3, "done", "Done", "green")
STATUS_CATEGORIES = (CAT_NEW, CAT_INDETERMINATE, CAT_DONE)


RESOLUTIONS = (
    Named("10000", "Done", "Work has been completed on this issue."),
    Named("10001", "Won't Do", "This issue won't be actioned."),
    Named("10002", "Duplicate", "The problem is a duplicate of an existing issue."),
)
DEFAULT_RESOLUTION = RESOLUTIONS[0]

PRIORITIES = (
    Named("1", "Highest", "This problem will block progress.", color="#d04437"),
    Named("2", "High", "Serious problem that could block progress.", color="#f15C75"),
    Named("3", "Medium", "Has the potential to affect progress.", color="#f79232"),
    Named("4", "Low", "Minor problem or easily worked around.", color="#707070"),
    Named("5", "Lowest", "Trivial problem with little or no impact on progress.", color="#999999"),
)
DEFAULT_PRIORITY = PRIORITIES[2]

ISSUE_TYPES = (
    Named("10001", "Task", "A small, distinct piece of work."),
    Named("10002", "Sub-task", "A small piece of work that's part of a larger task.", subtask=True),
    Named("10003", "Bug", "A problem or error."),
)

PROJECT_ROLES = ("Administrators", "Developers", "Users", "Service Desk Team")  # the project's roles
GROUPS = ("jira-administrators", "jira-software-users", "jira-servicedesk-users")


def make_users(options: JiraSandboxOptions) -> tuple[JiraUser, ...]:
    """The API user first, then the people who act in Jira during tests and the demo."""
    tz = options.time_zone
    return (
        JiraUser(options.user_name, "JIRAUSER10000", "5f2a1c0e8d3b4a0069c1b001",
                 options.user_email, options.user_display_name, tz),
        JiraUser("alice", "JIRAUSER10100", "5f2a1c0e8d3b4a0069c1b002",
                 "alice@example.com", "Alice Agent", "Europe/Berlin"),
        JiraUser("bob", "JIRAUSER10101", "5f2a1c0e8d3b4a0069c1b003",
                 "bob@example.com", "Bob Builder", "Europe/London"),
        JiraUser("carol", "JIRAUSER10102", "5f2a1c0e8d3b4a0069c1b004",
                 "carol@example.com", "Carol Caretaker", "America/New_York"),
        # Exists, but may not be assigned issues in the project (left the team).
        JiraUser("dora", "JIRAUSER10103", "5f2a1c0e8d3b4a0069c1b005",
                 "dora@example.com", "Dora Departed", "Europe/Vienna", assignable=False),
        # Staff of the casavi sandbox (same e-mail addresses, see casavi/generator.py _staff), so
        # people can be matched by e-mail; Tom Becker has no Jira account.  Jörg hides his
        # e-mail address on Cloud.
        JiraUser("mmanager", "JIRAUSER10104", "5f2a1c0e8d3b4a0069c1b006",
                 "miriam.manager@hausverwaltung.example", "Miriam Manager", "Europe/Berlin"),
        JiraUser("jhausmeister", "JIRAUSER10105", "5f2a1c0e8d3b4a0069c1b007",
                 "joerg.hausmeister@hausverwaltung.example", "Jörg Hausmeister", "Europe/Berlin",
                 email_visible=False),
        JiraUser("sgroesser", "JIRAUSER10106", "5f2a1c0e8d3b4a0069c1b008",
                 "sabine.groeßer@hausverwaltung.example", "Sabine Größer", "Europe/Berlin"),
    )


def _sys(kind: str, system: str, items: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind, "system": system}
    if items:
        schema["items"] = items
    return schema


FIELDS = (
    FieldDef("issuekey", "Key", {}, orderable=False, in_issue=False),
    FieldDef("summary", "Summary", _sys("string", "summary")),
    FieldDef("description", "Description", _sys("string", "description")),
    FieldDef("status", "Status", _sys("status", "status"), orderable=False),
    FieldDef("issuetype", "Issue Type", _sys("issuetype", "issuetype")),
    FieldDef("project", "Project", _sys("project", "project")),
    FieldDef("labels", "Labels", _sys("array", "labels", "string")),
    FieldDef("priority", "Priority", _sys("priority", "priority")),
    FieldDef("assignee", "Assignee", _sys("user", "assignee")),
    FieldDef("reporter", "Reporter", _sys("user", "reporter")),
    FieldDef("creator", "Creator", _sys("user", "creator"), orderable=False),
    FieldDef("duedate", "Due date", _sys("date", "duedate")),
    FieldDef("parent", "Parent", _sys("issuelink", "parent"), navigable=True),
    FieldDef("subtasks", "Sub-tasks", _sys("array", "subtasks", "issuelinks"), orderable=False),
    FieldDef("issuelinks", "Linked Issues", _sys("array", "issuelinks", "issuelinks")),
    FieldDef("comment", "Comment", _sys("comments-page", "comment"), navigable=False),
    FieldDef("attachment", "Attachment", _sys("array", "attachment", "attachment"), navigable=False),
    FieldDef("resolution", "Resolution", _sys("resolution", "resolution")),
    FieldDef("resolutiondate", "Resolved", _sys("datetime", "resolutiondate"), orderable=False),
    FieldDef("created", "Created", _sys("datetime", "created"), orderable=False),
    FieldDef("updated", "Updated", _sys("datetime", "updated"), orderable=False),
    FieldDef("statuscategorychangedate", "Status Category Changed",
             _sys("datetime", "statuscategorychangedate"), orderable=False),
    FieldDef("components", "Components", _sys("array", "components", "component")),
)


def by_id_or_name(items: tuple[Any, ...], ref: Any, id_attr: str) -> Any | None:
    """Find a catalog entry from a Jira reference such as ``{"id": "3"}`` or ``{"name": "Done"}``."""
    if not isinstance(ref, Mapping):
        return None
    if "id" in ref:
        return next((i for i in items if getattr(i, id_attr) == str(ref["id"])), None)
    if "name" in ref:
        return next((i for i in items if i.name.lower() == str(ref["name"]).lower()), None)
    return None


def _all_fields() -> tuple[FieldDef, ...]:
    """System fields, then the custom fields (bridge.sandbox.jira.custom_catalog) with their schemas."""
    return SYSTEM_FIELDS + tuple(FieldDef(cf.field_id, cf.name, cf.schema, custom=True) for cf in CUSTOM_FIELDS)


SYSTEM_FIELDS = FIELDS
FIELDS = _all_fields()
ISSUE_FIELD_IDS = tuple(f.field_id for f in FIELDS if f.in_issue)
NAVIGABLE_FIELD_IDS = tuple(f.field_id for f in FIELDS if f.in_issue and f.navigable)

"""The ``[jira]`` settings: one typed, frozen schema that refuses unknown keys.

``token`` is a :class:`~bridge.secrets.Secret`: validating resolves ``env:``/``file:``/``cred:``
references, and neither ``str()`` nor ``repr()`` shows the value.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bridge.secrets import Secret


class Visibility(BaseModel):
    """Who may see a restricted (internal) comment: a project role or a group."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["role", "group"]
    value: str = Field(min_length=1)


# Fields the bridge writes itself: an attribute may not be mapped to them.
BRIDGE_FIELDS = frozenset({"summary", "description", "labels", "issuetype", "project", "parent", "status",
                           "resolution", "assignee", "reporter", "attachment", "comment", "subtasks"})
FIELD_ID = r"^(customfield_\d+|[a-z][a-zA-Z]*)$"


class AttributeField(BaseModel):
    """Where one casavi value goes: a Jira field by id, the value converted to the field's schema
    type as Jira's create and edit screens describe it (:mod:`.field_values`).

    ``values`` translates casavi values (as text) into what Jira shows (an option's value, a
    priority's name, a person's e-mail or account), e.g. ``{hoch = "High"}``; a value not listed
    passes as it is.  Written as a plain string, the string is the field id.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(pattern=FIELD_ID)
    values: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _field_id_alone(cls, data: Any) -> Any:
        return {"field": data} if isinstance(data, str) else data


class TypeMap(BaseModel):
    """What casavi's ticket ``type`` sets in Jira, per type name: the issue type (a type not
    listed gets ``[jira] issue_type``), components (names of the project's components) and
    labels.  On a change of type the components and labels listed for other types are removed
    and the new type's added; components and labels people added stay."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issue_types: dict[str, str] = Field(default_factory=dict)
    components: dict[str, list[str]] = Field(default_factory=dict)
    labels: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def used(self) -> bool:
        return bool(self.issue_types or self.components or self.labels)


class FieldMap(BaseModel):
    """How casavi facts land in Jira fields beyond summary and description.

    ``static``: fields set on every created issue as given (e.g. ``{"priority": {"name": "High"}}``);
    ``facts``: fact name (as in the header block, e.g. ``"Property"``) → Jira field id
    (e.g. ``"customfield_10010"``), set to the fact's text; ``label_prefix`` is put in front of
    every casavi label (Jira labels cannot contain blanks; blanks become ``_``).

    What kind of ticket it is, followed on every change in casavi (casavi → Jira only):
    ``type`` (:class:`TypeMap`), ``type_group`` (casavi ``typeGroup`` → one field) and
    ``custom_fields`` (casavi ``customFields`` key → one field), see :class:`AttributeField`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    static: dict[str, Any] = Field(default_factory=dict)
    facts: dict[str, str] = Field(default_factory=dict)
    label_prefix: str = ""
    type: TypeMap = Field(default_factory=TypeMap)
    type_group: AttributeField | None = None
    custom_fields: dict[str, AttributeField] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source_per_field(self) -> "FieldMap":
        owners: dict[str, str] = {}
        if self.type.components:
            owners["components"] = "type.components"
        mapped = ([("type_group", self.type_group)] if self.type_group else []) + \
            [(f"custom_fields.{name}", target) for name, target in self.custom_fields.items()]
        for where, target in mapped:
            if target.field in BRIDGE_FIELDS:
                raise ValueError(f"{where}: {target.field!r} is written by the bridge itself "
                                 "(labels carry its marker; use type.labels or a custom labels field)")
            if target.field in owners:
                raise ValueError(f"{where}: field {target.field!r} is already filled from {owners[target.field]}")
            owners[target.field] = where
        return self


class JiraSettings(BaseModel):
    """Everything the Jira connector needs; validated once, then read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1)
    deployment: Literal["cloud", "server"] = "cloud"
    # cloud: the account e-mail; server with basic auth: the user name; unused with a PAT.
    user: str | None = None
    token: Secret = Field(repr=False)
    # None → "basic" on cloud; on server "basic" when a user is given, else "bearer" (PAT).
    auth: Literal["basic", "bearer"] | None = None
    project: str = Field(min_length=1)
    issue_type: str = "Task"
    sub_task_type: str = "Sub-task"
    # How internal casavi comments are restricted: a role/group visibility, or "service-desk"
    # for Jira Service Management internal comments.  None: internal comments are refused.
    internal_visibility: Visibility | Literal["service-desk"] | None = None
    field_map: FieldMap = Field(default_factory=FieldMap)
    # casavi staff id → Jira accountId (cloud) or user name (server).
    assignee_map: dict[str, str] = Field(default_factory=dict)
    # Jira status name → fields to send with a transition into it, e.g.
    # {"Done": {"resolution": {"name": "Done"}}}.
    transition_fields: dict[str, dict[str, Any]] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0)
    # Attempts for an idempotent request (GET, PUT) on 429/5xx/timeouts; a POST is sent once.
    max_attempts: int = Field(default=4, ge=1, le=10)
    max_results: int = Field(default=50, ge=1, le=1000)  # page size of comment lists and full searches
    # Page size of the incremental search, whose rows are small (id, updated, marker); Jira
    # answers with fewer where its own limit is lower (Cloud: 100), and paging follows.
    summary_page_size: int = Field(default=1000, ge=1, le=5000)
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # How late Jira's search may show a create or an update (seconds).  An interrupted create
    # is looked for by its marker, and the ticket waits (is not created again) until this much
    # time has passed since the attempt; incremental reads re-read at least this far back.
    # None: 120 on Cloud (whose /search/jql is eventually consistent, "from a few seconds to
    # minutes": https://developer.atlassian.com/cloud/jira/platform/search-and-reconcile),
    # 15 on Server/Data Center (a cluster's nodes replicate their index).
    search_lag_seconds: float | None = Field(default=None, ge=0, le=3600)
    # Description and comment limit of the Jira instance (jira.text.field.character.limit;
    # 32,767 unless an administrator changed it on Data Center).
    text_limit: int = Field(default=32767, ge=1000)

    @model_validator(mode="after")
    def _auth_is_complete(self) -> "JiraSettings":
        auth = self.effective_auth
        if self.deployment == "cloud" and auth == "bearer":
            raise ValueError("auth: Jira Cloud takes an e-mail and API token (basic), not a bearer token")
        if auth == "basic" and not self.user:
            raise ValueError("user: required for basic auth (cloud: the account e-mail)")
        return self

    @property
    def effective_auth(self) -> Literal["basic", "bearer"]:
        if self.auth is not None:
            return self.auth
        if self.deployment == "cloud" or self.user:
            return "basic"
        return "bearer"

    @property
    def effective_search_lag(self) -> float:
        if self.search_lag_seconds is not None:
            return self.search_lag_seconds
        return 120.0 if self.deployment == "cloud" else 15.0

    @property
    def server_url(self) -> str:
        return self.url.rstrip("/")

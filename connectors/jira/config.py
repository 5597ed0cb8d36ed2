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


class FieldMap(BaseModel):
    """How casavi facts land in Jira fields beyond summary and description.

    ``static``: fields set on every created issue as given (e.g. ``{"priority": {"name": "High"}}``);
    ``facts``: fact name (as in the header block, e.g. ``"Property"``) → Jira field id
    (e.g. ``"customfield_10010"``), set to the fact's text; ``label_prefix`` is put in front of
    every casavi label (Jira labels cannot contain blanks; blanks become ``_``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    static: dict[str, Any] = Field(default_factory=dict)
    facts: dict[str, str] = Field(default_factory=dict)
    label_prefix: str = ""


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

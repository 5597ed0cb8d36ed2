"""The ``[redmine]`` settings: one typed, frozen schema that refuses unknown keys.

Status names are not configured here: the bridge's status maps name Redmine statuses
("New", "In Progress", "Closed", ...) and the connector resolves them to ids through
``/issue_statuses.json`` on first use (``check()`` reports names that do not exist).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bridge.secrets import Secret


class RedmineSettings(BaseModel):
    """Everything the Redmine connector needs; validated once, then read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1)  # e.g. "https://redmine.example.com" (a sub-path is fine)
    api_key: Secret = Field(repr=False)  # "My account → API access key" of the bridge's user
    project: str = Field(min_length=1)  # project identifier ("ops") or numeric id
    tracker: str = Field(default="Task", min_length=1)  # tracker of mirrored tickets
    sub_item_tracker: str | None = None  # tracker of child issues for casavi tasks; None = ``tracker``
    # The issue custom field (name or id) that holds the marker ("P-1", "task:T-1").  It must be a
    # string field for every tracker used, and filterable ("Used as a filter"), so that
    # ``cf_N=...`` finds an issue.  None: a last line "casavi-ticket: P-1" in the description
    # carries the marker instead (found through the description filter; visible to people).
    marker_custom_field: str | int | None = None
    # Internal casavi comments become private notes; False refuses them (never written publicly).
    private_notes_for_internal: bool = True
    # casavi staff id → Redmine user id, for the assignee of created issues.
    assignee_map: dict[str, int] = Field(default_factory=dict)
    # The instance's Administration » Settings » General » Text formatting: "textile" (Redmine's
    # default: config/settings.yml ``text_formatting: default: textile`` in Redmine's source) or
    # "common_mark" ("CommonMark Markdown").  Redmine 5.0 has no REST API for its settings (the
    # SettingsController accepts no API key), so the bridge cannot read it and ``check`` says
    # which one it assumes.
    text_formatting: Literal["textile", "common_mark"] = "textile"
    timeout: float = Field(default=30.0, gt=0)
    # Requests to Redmine at once at most (the [sync] workers share them), as [casavi]
    # concurrency for casavi: with [sync] concurrency above it, the other workers wait.
    concurrency: int = Field(default=4, ge=1)
    verify_tls: bool = True
    # Redmine's "Maximum attachment size" in bytes, as far as the operator knows it (a non-admin
    # key cannot read it; 5,120 KB = 5242880 unless an admin changed it): a larger file is not
    # sent but skipped with a note on the issue.  None: every file is sent, and one Redmine
    # answers 422 for (its size, or an extension it does not allow) is skipped with that note.
    attachment_max_bytes: int | None = Field(default=None, ge=1)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def effective_sub_item_tracker(self) -> str:
        return self.sub_item_tracker or self.tracker

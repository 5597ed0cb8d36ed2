"""The Redmine connector plugin (entry point ``redmine``).

A ``[redmine]`` section, for ``[connector] kind = "redmine"``::

    [redmine]
    url = "https://redmine.example.com"
    api_key = "cred:redmine-key"           # the bridge user's API key (a project member)
    project = "ops"                        # identifier or id
    tracker = "Task"
    sub_item_tracker = "Task"              # child issues for casavi tasks (default: tracker)
    marker_custom_field = "casavi ticket"  # text field, all trackers, "Used as a filter"
    private_notes_for_internal = true

Status maps name Redmine statuses, e.g. ``OPEN = "New"``, ``INPROGRESS = "In Progress"``,
``POSTPONED = "Feedback"``, ``CLOSED = "Closed"``; tasks ``DECLINED = { status = "Rejected" }``
(Redmine has no resolutions).
"""

from __future__ import annotations

from typing import Any

from connectors.redmine.config import RedmineSettings
from connectors.redmine.connector import RedmineConnector


class RedmineConnectorPlugin:
    name = "redmine"
    settings_model = RedmineSettings

    @staticmethod
    def create(settings: RedmineSettings, *, http_policy: Any = None) -> RedmineConnector:
        """Build the connector (no I/O); ``http_policy``: retries and limits of its requests
        (default: ``[redmine] timeout`` and ``concurrency``)."""
        return RedmineConnector(settings, http_policy=http_policy)


__all__ = ["RedmineConnector", "RedmineConnectorPlugin", "RedmineSettings"]

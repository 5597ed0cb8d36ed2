"""The Jira connector plugin (entry point ``jira = "connectors.jira:JiraConnectorPlugin"``).

Importing this package imports only the settings schema; the connector and the ``jira``
library are loaded when :meth:`JiraConnectorPlugin.create` is called.  Nothing here does I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import JiraSettings

if TYPE_CHECKING:
    from .client import JiraConnector


class JiraConnectorPlugin:
    name = "jira"
    settings_model = JiraSettings

    @staticmethod
    def create(settings: JiraSettings | dict[str, Any], *, http_policy: Any = None) -> "JiraConnector":
        from .client import JiraConnector

        if not isinstance(settings, JiraSettings):
            settings = JiraSettings.model_validate(settings)
        return JiraConnector(settings, http_policy=http_policy)


__all__ = ["JiraConnectorPlugin", "JiraSettings"]

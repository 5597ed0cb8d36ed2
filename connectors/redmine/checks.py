"""What ``casavi-bridge check`` asks of Redmine, and what it cannot ask.

- :func:`check`: the configuration resolved against the server (:func:`.lookup.resolve`: project,
  trackers, statuses, marker field, the bridge user and its permissions); a refused key, an
  unreachable server or an unexpected answer is one problem line naming the setting.  The
  lookup, when there is one, is kept by the connector (its ``findings()`` are the lookup's notes).
- :func:`assumptions`: what a non-admin key cannot read (text formatting, file limits; Redmine
  5.0 has no REST API for settings) and is taken from the settings instead.

Plain functions of the connector (``connector.client``, ``connector.settings``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.errors import AuthError, BridgeError, RetriableError
from connectors.redmine.config import RedmineSettings
from connectors.redmine.lookup import resolve

if TYPE_CHECKING:
    from connectors.redmine.connector import RedmineConnector


def check(connector: RedmineConnector) -> list[str]:
    try:
        lookup, problems = resolve(connector.client, connector.settings)
    except AuthError as exc:
        return [f"redmine.api_key <- Redmine refused the key ({exc}); is the REST API enabled?"]
    except RetriableError as exc:
        return [f"redmine.url <- cannot reach Redmine at {connector.settings.url}: {exc}"]
    except BridgeError as exc:
        return [f"redmine.url <- unexpected answer from Redmine at {connector.settings.url}: {exc}"]
    if lookup is not None:
        with connector._lock:
            connector._lookup = lookup
    return problems


def assumptions(settings: RedmineSettings) -> list[str]:
    """What ``check`` cannot read and takes from the settings (printed, not a problem)."""
    limit = settings.attachment_max_bytes
    files_note = (f"redmine.attachment_max_bytes <- assumed {limit:,} bytes: files above it are not sent but "
                  "skipped with a note on the issue" if limit is not None else
                  "redmine.attachment_max_bytes <- not set: every file is sent, and one Redmine refuses (over "
                  "its Maximum attachment size, 5,120 KB by default, or of a disallowed extension) is skipped "
                  "with a note on the issue")
    return [f"redmine.text_formatting <- assumed {settings.text_formatting!r}: a non-admin key cannot "
            "read Redmine's text formatting (Administration » Settings » General; no REST API for settings "
            "in Redmine 5.0); set it to what the instance uses",
            files_note + " (Administration » Settings » Files is not readable over REST either)"]

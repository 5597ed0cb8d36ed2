"""People in Jira: assignees, user fields, and the names of mentioned users.

A person is named by accountId on Cloud and by user name on Data Center (``[jira] deployment``).

- :func:`find_person`: ``[jira] assignee_map`` first, else a user search by e-mail
  (``GET user/search``: Cloud ``query``, Data Center ``username``); None when nobody matches.
- :func:`set_assignee`: a person Jira will not take (a 400: unknown, not assignable) leaves the
  issue unassigned, reported as ``fields["assignee"] == ""``; it never raises for that.
- :func:`user_ref`: how an attribute value names a person in a user field (:mod:`.attributes`).
- :func:`person_name`: the display name of a user mentioned in Jira text, for text going to
  casavi (:class:`bridge.markup.TenantTextPolicy`); remembered in the connector's ``_names``
  (a :class:`.recent.Recent`), a failed read is not.

Plain functions of the connector (``connector.rest``, ``connector.settings``, read at each
call); the connector's methods wrap the first two with :func:`.errors.boundary`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
import structlog
from jira.exceptions import JIRAError

from bridge.errors import BridgeError
from bridge.model import WriteResult

from . import mapping as m
from .errors import translate

if TYPE_CHECKING:
    from .client import JiraConnector

log = structlog.get_logger(__name__)


def find_person(connector: JiraConnector, source_person_id: str, email: str | None) -> str | None:
    """The Jira user for a casavi staff member: ``[jira] assignee_map`` first, else a user
    search by e-mail (Cloud ``query``, answering accountIds; Data Center ``username``,
    answering user names).  None when nobody matches."""
    mapped = connector.settings.assignee_map.get(source_person_id)
    if mapped:
        return mapped
    if not email:
        return None
    params = {"query": email} if connector.settings.deployment == "cloud" else {"username": email}
    found = connector.rest.get("user/search", {**params, "maxResults": 10}) or []
    return m.person_match(found if isinstance(found, list) else [], email)


def set_assignee(connector: JiraConnector, target_id: str, person: str | None) -> WriteResult:
    """Assign the issue to ``person`` (accountId / user name), or unassign with None.  A
    person Jira will not take (unknown, not assignable) leaves the issue unassigned and is
    reported as ``fields["assignee"] == ""``: an assignee never blocks the ticket."""
    key = "accountId" if connector.settings.deployment == "cloud" else "name"
    try:
        connector.rest.send("PUT", f"issue/{target_id}", {"fields": {"assignee": {key: person} if person else None}})
    except JIRAError as exc:
        if person is None or exc.status_code != 400:
            raise
        log.warning("jira_assignee_refused", target_id=target_id, person=person, error=str(translate(exc)))
        connector.rest.send("PUT", f"issue/{target_id}", {"fields": {"assignee": None}})
        person = None
    return WriteResult(target_id, fields={"assignee": person or ""})


def user_ref(connector: JiraConnector, text: str) -> dict[str, str] | None:
    """How to name a person in a user field: an e-mail address found by the user search, or
    the text itself as accountId (Cloud) / user name (Data Center)."""
    key = "accountId" if connector.settings.deployment == "cloud" else "name"
    if "@" not in text:
        return {key: text} if text else None
    found = connector.find_person("", text)
    return {key: found} if found else None


def person_name(connector: JiraConnector, who: str) -> str | None:
    """The display name of a mentioned user (Cloud: account id; Server: user name), or None."""
    known = connector._names.get(who)
    if known is not None:
        return known or None
    key = "accountId" if connector.settings.deployment == "cloud" else "username"
    try:
        name = str((connector.rest.get("user", {key: who}) or {}).get("displayName") or "")
    except (JIRAError, requests.RequestException, BridgeError):
        return None  # not remembered: asked again next time
    connector._names.put(who, name)
    return name or None

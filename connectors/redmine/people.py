"""People in Redmine: assignees, and the names of mentioned users.

A person is a Redmine user id (``[redmine] assignee_map`` values, ``assigned_to_id``).

- :func:`find_person`: ``assignee_map`` first, else the one active user with that e-mail address.
- :func:`set_assignee`: a user Redmine will not take (422: not a project member) leaves the
  issue unassigned; the result reports what the issue holds, and what it did not store.
- :func:`person_name`: the name of a user mentioned by login, for text going to casavi
  (:class:`bridge.markup.TenantTextPolicy`); remembered in the connector's ``_names``.

``GET /users.json?name=`` is open to administrators only: a refused search finds nobody (the
issue stays unassigned, a mention stays the bare login).  Plain functions of the connector
(``connector.client``, ``connector.settings``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from bridge.errors import AuthError, BridgeError, FatalError, RetriableError
from bridge.model import WriteResult
from connectors.redmine import reads
from connectors.redmine.stored import unstored

if TYPE_CHECKING:
    from connectors.redmine.connector import RedmineConnector

log = structlog.get_logger()


def find_person(connector: RedmineConnector, source_person_id: str, email: str | None) -> str | None:
    """``assignee_map`` first, else the active user whose address is ``email``
    (``GET /users.json?name=``: Redmine matches login, names and address; administrators only —
    a refused list means nobody is found, and the issue stays unassigned)."""
    mapped = connector.settings.assignee_map.get(source_person_id)
    if mapped:
        return str(mapped)
    if not email:
        return None
    try:
        users = connector.client.get("/users.json", {"name": email, "status": 1}).get("users") or []
    except (AuthError, FatalError) as exc:
        log.warning("redmine_user_search_refused", error=str(exc))
        return None
    exact = [u for u in users if str(u.get("mail") or "").casefold() == email.strip().casefold()]
    return str(exact[0]["id"]) if len(exact) == 1 else None


def set_assignee(connector: RedmineConnector, target_id: str, person: str | None) -> WriteResult:
    """Assign (None: unassign).  Redmine answers 422 for a user it will not take (not a
    project member): the issue then stays unassigned, and that is what is reported."""
    try:
        connector.client.put(f"/issues/{target_id}.json",
                             {"issue": {"assigned_to_id": int(person) if person else ""}}, idempotent=True)
    except FatalError as exc:
        if person is None or getattr(exc, "status", None) != 422:
            raise
        log.warning("redmine_assignee_refused", target_id=target_id, person=person, error=str(exc))
        connector.client.put(f"/issues/{target_id}.json", {"issue": {"assigned_to_id": ""}}, idempotent=True)
        person = None
    issue = reads.read_issue(connector, target_id, "")
    dropped = unstored({"assigned_to_id": person or ""}, issue)
    kept = str((issue.get("assigned_to") or {}).get("id") or "")
    return WriteResult(target_id, fields={"assignee": kept}, dropped=tuple(dropped))


def person_name(connector: RedmineConnector, login: str) -> str | None:
    """The name of the user with ``login`` for text going to casavi, or None.

    ``GET /users.json?name=`` is open to administrators only; for any other bridge user
    Redmine answers 403 and the mention stays the bare login (remembered, asked once).
    """
    if login not in connector._names:
        name = None
        try:
            users = connector.client.get("/users.json", {"name": login, "limit": 25}).get("users") or ()
            for user in users:
                if str(user.get("login", "")).lower() == login.lower():
                    name = " ".join(p for p in (user.get("firstname"), user.get("lastname")) if p) or None
        except RetriableError:
            return None  # asked again next time
        except BridgeError:
            name = None
        connector._names[login] = name
    return connector._names[login]

"""Writes to a project that is closed or archived: refused with words that say why.

Redmine 5 "Close" makes a project read-only.  Redmine's own answers do not say so: an issue
update answers 403, a create 422 "Project cannot be blank" (the closed project is not among the
projects one may add issues to), and an archived project is hidden from everyone but
administrators (403/404).  Every write of the connector (:func:`writes_to_project`) therefore
checks the project's state first (read again on every write while it was not open, so a reopened
project takes writes at once) and, after a 403 or 422, reads it once more.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

from bridge.errors import AuthError, FatalError, NotFoundError, RefusedError
from bridge.model import WriteResult
from connectors.redmine.lookup import closed_project, project_state

if TYPE_CHECKING:
    from connectors.redmine.connector import RedmineConnector


def ensure_open(connector: RedmineConnector, *, read: bool = False) -> None:
    """Raise RefusedError (naming ``redmine.project``) unless the project takes writes; its
    state is read again when ``read``, or when it was not open."""
    ids = connector._ids()
    if not read and ids.project_state == "open":
        return
    try:
        state = project_state(connector.client.get(f"/projects/{connector.settings.project}.json")["project"])
    except (NotFoundError, AuthError):
        state = "archived"  # hidden from everyone but administrators
    with connector._lock:
        connector._lookup = replace(ids, project_state=state)
    if state != "open":
        raise RefusedError(closed_project(connector.settings, state), setting="redmine.project")


def writes_to_project(method: Callable[..., WriteResult]) -> Callable[..., WriteResult]:
    """Decorate a write of :class:`RedmineConnector` (see the module docstring)."""

    @functools.wraps(method)
    def write(connector: RedmineConnector, *args: Any, **kwargs: Any) -> WriteResult:
        ensure_open(connector)
        try:
            return method(connector, *args, **kwargs)
        except FatalError as exc:
            if exc.status in (403, 422) and not isinstance(exc, RefusedError):
                ensure_open(connector, read=True)
            raise

    return write

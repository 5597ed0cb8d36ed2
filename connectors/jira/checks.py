"""What ``casavi-bridge check`` asks of Jira: the configuration against the server, read-only.

- :func:`check`: the deployment (``serverInfo``), the project, its issue type and sub-task type
  are problems (the connector cannot work); what Jira will refuse of some writes (an internal
  comment's role or group, an ``assignee_map`` account, a create or edit screen, a field value,
  a ``transition_fields`` status the project does not know) are findings (:mod:`.probes`,
  :meth:`.attributes.AttributeWriter.problems`): the daemon starts, and each write concerned
  fails on its own with the same words.
- :func:`workflow_problems`: the workflow paths into the statuses the status maps name
  (:func:`.probes.workflow_problems`).

What a probe could not read is kept in the connector's ``_probe_notes`` (its ``assumptions()``),
the findings in its ``_findings`` (its ``findings()``).  Library and bridge errors become lines
(:func:`.errors.translate`), never exceptions.  Plain functions of the connector.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Mapping

from bridge.errors import BridgeError

from . import mapping as m
from . import probes
from .errors import LIBRARY_ERRORS, translate

if TYPE_CHECKING:
    from .client import JiraConnector


def check(connector: JiraConnector) -> list[str]:
    s = connector.settings
    connector._probe_notes = []
    connector._findings = []
    client = connector.rest.client
    try:
        info = client.server_info() or {}
    except (*LIBRARY_ERRORS, BridgeError) as exc:
        return [f"jira: cannot read server info at {s.server_url}: {translate(exc)}"]
    problems: list[str] = []
    cloud = info.get("deploymentType") == "Cloud"
    if cloud != (s.deployment == "cloud"):
        problems.append(f"jira: deployment is {s.deployment!r} but the server says {info.get('deploymentType')!r}")
    try:
        myself = client.myself() or {}
        project = connector.rest.get(f"project/{s.project}") or {}
        known = connector.statuses()
    except (*LIBRARY_ERRORS, BridgeError) as exc:
        return problems + [f"jira: {translate(exc)}"]
    types = {t.get("name", "").casefold(): t for t in project.get("issueTypes") or []}
    if s.issue_type.casefold() not in types:
        problems.append(f"jira: issue type {s.issue_type!r} does not exist in project {s.project}")
    sub_type = types.get(s.sub_task_type.casefold())
    if sub_type is None or not sub_type.get("subtask", True):
        problems.append(f"jira: sub-task type {s.sub_task_type!r} does not exist in project {s.project}")
    # What Jira will refuse of some writes: named by check, but the connector works (the
    # daemon starts; each write concerned fails on its own with the same words).
    findings: list[str] = []
    folded = {k.casefold() for k in known}
    for status in s.transition_fields:
        if status.casefold() not in folded:
            findings.append(f"jira: transition_fields names status {status!r}, unknown in project {s.project}")
    issue_type = types.get(s.issue_type.casefold()) or {}
    try:
        findings += probes.visibility_problems(connector.rest.get, s, myself)
        findings += probes.assignee_problems(connector.rest.get, s)
        findings += probes.create_screen_problems(connector.rest.get, s, issue_type.get("id"))
        refused, notes = probes.group_visibility_problems(connector.rest.get, s)
        findings += refused
        connector._probe_notes += notes
        findings += connector.attributes.problems(partial(_sample_issue, connector))
        connector._probe_notes += connector.attributes.notes
    except (*LIBRARY_ERRORS, BridgeError) as exc:
        findings.append(f"jira: could not read what the account may do: {translate(exc)}")
    connector._findings = findings
    return problems


def workflow_problems(connector: JiraConnector, issue_statuses: Mapping[str, str | None],
                      sub_item_statuses: Mapping[str, str | None]) -> list[str]:
    """What ``check`` finds on the workflow paths into the statuses the status maps name
    (status → resolution sent with it), for the issue type and the sub-task type
    (:func:`.probes.workflow_problems`; read-only, a search, an issue read and a transitions read per
    status of each workflow).  What could not be probed is kept for the connector's ``assumptions()``."""
    def first_row(jql: str) -> list[dict[str, Any]]:
        return next(iter(connector.rest.search_pages(jql, ("status",), (), page_size=1)), ([], None))[0][:1]

    settings = connector.settings
    targets = {settings.issue_type: dict(issue_statuses), settings.sub_task_type: dict(sub_item_statuses)}
    try:
        problems, notes = probes.workflow_problems(connector.rest.get, first_row, settings, targets)
    except (*LIBRARY_ERRORS, BridgeError) as exc:
        return [f"jira: could not read the workflows: {translate(exc)}"]
    connector._probe_notes += notes
    return problems


def _sample_issue(connector: JiraConnector, issue_type: str) -> str | None:
    """The key of one issue of ``issue_type`` in the project (for reading an edit screen), or None."""
    jql = f"project = {m.jql_string(connector.settings.project)} AND issuetype = {m.jql_string(issue_type)}"
    for page, _ in connector.rest.search_pages(jql, ("issuetype",), (), page_size=1):
        return str(page[0].get("key") or page[0].get("id")) if page else None
    return None

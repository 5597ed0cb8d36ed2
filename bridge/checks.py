"""The `check` findings: what `casavi-bridge check` prints and the status page shows.

Read-only probes of both sides (``Source.check()``, ``Connector.check()``) and of the status
maps against the tool's workflow.  Each finding is one line naming the side and, where it is a
setting, its key path; an empty list means everything checked is fine.
"""

from __future__ import annotations

from bridge.config import Settings
from bridge.connector import Connector
from bridge.errors import BridgeError
from bridge.source import Source


def check_findings(settings: Settings, source: Source, connector: Connector) -> list[str]:
    """``["source: ...", "jira: status 'X' from the status map does not exist ...", ...]``.

    Network errors inside the probes are reported by the probes themselves as findings; this
    function raises nothing of its own."""
    problems = [f"source: {p}" for p in source.check()]
    tool_problems = connector.check()
    problems += [_named(connector.name, p) for p in tool_problems]
    if tool_problems:
        return problems
    # Problems that refuse some writes but do not stop the connector (the daemon starts; only
    # check() decides that): a permission missing, a closed project, a field switched off.
    problems += [_named(connector.name, p) for p in getattr(connector, "findings", lambda: [])()]
    known = connector.statuses()
    wanted = set(settings.status_map.values()) | {t.status for t in settings.task_status_map.values()}
    wanted |= set(settings.status_map_back)
    for name in sorted(wanted - known):
        problems.append(f"{connector.name}: status {name!r} from the status map does not exist in the tool's workflow "
                        f"(known: {', '.join(sorted(known))})")
    # Connectors that can read their workflows probe the paths into the mapped statuses
    # (status -> the resolution sent with it; a ticket status carries none).
    workflow = getattr(connector, "workflow_problems", None)
    if workflow is not None:
        issue_statuses = {s: None for s in settings.status_map.values() if s in known}
        sub_statuses = {t.status: t.resolution for t in settings.task_status_map.values() if t.status in known}
        problems += [_named(connector.name, p) for p in workflow(issue_statuses, sub_statuses)]
    return problems


def _named(side: str, finding: str) -> str:
    """``"jira: ..."`` once, whether or not the probe named its side itself."""
    return finding if finding.startswith(f"{side}: ") else f"{side}: {finding}"


def source_findings(source: Source) -> list[str]:
    """What the live source answers where its document is silent (its read-only ``probe``,
    when it has one), so the operator learns what the bridge assumes; information, not problems."""
    probe = getattr(source, "probe", None)
    if probe is None:
        return []
    try:
        return list(probe())
    except BridgeError as exc:
        return [f"shapes could not be probed: {exc}"]

"""What an issue's changelog says about its status since the issue was created.

Jira writes one history entry per change of an issue: who (``author``), when (``created``) and
the changed fields (``items``: ``field``/``fieldId``, ``from``/``fromString``,
``to``/``toString``).  A transition writes an item for ``status`` (the status ids and names)
and one for ``resolution`` where the transition sets it (Cloud REST v3 "Get issue", expand
``changelog``: Changelog, ChangeDetails; Data Center 10.3 ChangeHistoryBean, ChangeItemBean).
A create writes no history: an issue without a status item is where the workflow created it.

How much comes expanded differs: Data Center expands every history, oldest first; Cloud the
100 most recent, newest first, the rest only through ``GET /issue/{id}/changelog``
(pycontribs/jira#911).  :func:`expanded` says whether an expansion holds them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from .mapping import parse_jira_time


@dataclass(frozen=True)
class CreatedStatus:
    """The status (and resolution) an issue was created in, and whether anyone changed either since."""

    status: str
    resolution: str | None
    moved: bool


def expanded(raw_issue: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """The issue's expanded histories when they are all there, else None (Cloud's cut: more
    than 100, or no ``changelog`` expanded at all)."""
    log = raw_issue.get("changelog")
    if not isinstance(log, Mapping):
        return None
    histories = [h for h in log.get("histories") or [] if isinstance(h, Mapping)]
    total = log.get("total")
    try:
        complete = total is None or int(total) <= len(histories)
    except (TypeError, ValueError):
        complete = False
    return histories if complete else None


def _oldest_first(histories: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    def order(entry: Mapping[str, Any]) -> tuple[float, int]:
        when = parse_jira_time(entry.get("created"))
        ident = str(entry.get("id") or "")
        return (when.timestamp() if when else 0.0, int(ident) if ident.isdigit() else 0)
    return sorted(histories, key=order)


def _field(item: Mapping[str, Any]) -> str:
    return str(item.get("fieldId") or item.get("field") or "").casefold()


def created_status(raw_issue: Mapping[str, Any], histories: Sequence[Mapping[str, Any]]) -> CreatedStatus:
    """The status and resolution ``raw_issue`` (a row or issue with ``status`` and ``resolution``)
    was created in, from its complete ``histories``: the ``fromString`` of the first status
    (resolution) item, or the current value when there is none.  ``moved`` is True when any
    status or resolution item exists: someone transitioned the issue since it was created.

    Every such change counts, whoever made it: the bridge walks a new item into its status only
    after reading this, so a change found here is never its own (a person working with the
    bridge's account included)."""
    fields = raw_issue.get("fields") or {}
    status = str((fields.get("status") or {}).get("name") or "")
    resolution = (fields.get("resolution") or {}).get("name") or None
    first: dict[str, Mapping[str, Any]] = {}
    for entry in _oldest_first(histories):
        for item in entry.get("items") or []:
            if isinstance(item, Mapping) and _field(item) in ("status", "resolution"):
                first.setdefault(_field(item), item)
    if "status" in first:
        status = str(first["status"].get("fromString") or "")
    if "resolution" in first:
        resolution = first["resolution"].get("fromString") or None
    return CreatedStatus(status, resolution, moved=bool(first))

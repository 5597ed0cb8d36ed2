"""The Jira sandbox's search index: what JQL sees of each issue, ``lag`` milliseconds late.

Jira Cloud's ``/search/jql`` is eventually consistent: "after a write operation is performed,
subsequent search operations using the API without the reconcileIssues parameter may return
stale or outdated data instead of the most recent updates for some time. The delay might vary
from a few seconds to minutes" (https://developer.atlassian.com/cloud/jira/platform/search-and-reconcile).
Read-after-write holds only for the ids passed in ``reconcileIssues`` (at most 50; JRACLOUD-96208).

So every write records the issue's searchable facts with the time of the write; a search at
``now`` matches against the newest facts recorded at or before ``now - lag``: a new issue is not
found yet, a changed one is found as it was (also under its old ``updated``).  Lag 0 (Data
Center, whose index is updated with the write) matches the current facts.
"""

from __future__ import annotations

import threading
from typing import Any


class SearchIndex:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[int, list[tuple[int, dict[str, Any]]]] = {}

    def record(self, issue_id: int, stamp_ms: int, facts: dict[str, Any], lag_ms: int) -> None:
        """The issue's facts as of ``stamp_ms``; versions nobody can see any more are dropped."""
        with self._lock:
            versions = self._versions.setdefault(issue_id, [])
            versions.append((stamp_ms, facts))
            horizon = stamp_ms - lag_ms
            visible = [i for i, (stamp, _) in enumerate(versions) if stamp <= horizon]
            if visible:
                del versions[:visible[-1]]

    def drop(self, issue_id: int) -> None:
        with self._lock:
            self._versions.pop(issue_id, None)

    def facts_at(self, issue_id: int, horizon_ms: int) -> dict[str, Any] | None:
        """The newest facts recorded at or before ``horizon_ms``; None when the issue was not
        searchable yet."""
        with self._lock:
            found = None
            for stamp, facts in self._versions.get(issue_id, ()):
                if stamp > horizon_ms:
                    break
                found = facts
            return found

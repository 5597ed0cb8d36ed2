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

Besides the versions, the index keeps what lets a search look at few issues instead of all
(:mod:`bridge.sandbox.jira.search_plan`); none of it changes what a search sees:

- per issue the highest ``updated`` of all facts ever recorded for it, and its ``created``,
  each in a list sorted by value (:class:`Ranked`): "which issues could show ``updated >= X``"
  is a bisection.  Every version a search can see, and the current facts that lag 0 and
  ``reconcileIssues`` show, were recorded here (the store records on every write), so the
  answer is a superset of the issues whose visible facts match; the search still tests each.
- a generation, moved by every record and drop, and the newest stamp ever recorded: with them a
  search's ordered result is kept for its later pages while nothing it was computed from can
  have changed (:meth:`SearchIndex.reusable`).
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from typing import Any, Hashable

RESULTS_KEPT = 8  # searches whose results are kept for their later pages


class Ranked:
    """Per issue one value that only grows (the highest given), answering "which issues have a
    value in [low, high]" by bisection in about O(log n + k).

    An entry ``(value, issue id)`` is appended when an issue's value grows.  Values arrive in
    time order (the store's stamps only move forward), so the list stays sorted; one that
    arrives out of order marks it for sorting before the next question.  An entry is live while
    it holds its issue's current value; stale ones are skipped, and dropped by a rebuild when
    they outnumber the live ones.
    """

    def __init__(self) -> None:
        self.value: dict[int, int] = {}
        self._entries: list[tuple[int, int]] = []
        self._sorted = True

    def raise_to(self, issue_id: int, value: int) -> None:
        known = self.value.get(issue_id)
        if known is not None and value <= known:
            return
        self.value[issue_id] = value
        entry = (value, issue_id)
        if self._entries and entry < self._entries[-1]:
            self._sorted = False
        self._entries.append(entry)
        if len(self._entries) > 2 * len(self.value) + 1024:
            self._entries = sorted((v, i) for i, v in self.value.items())
            self._sorted = True

    def discard(self, issue_id: int) -> None:
        self.value.pop(issue_id, None)

    def between(self, low: int | None, high: int | None) -> set[int]:
        """Ids whose value is at least ``low`` and at most ``high`` (None: unbounded)."""
        if not self._sorted:
            self._entries.sort()
            self._sorted = True
        entries = self._entries
        start = 0 if low is None else bisect_left(entries, (low,))
        stop = len(entries) if high is None else bisect_right(entries, (high, math.inf))
        value = self.value
        return {i for v, i in entries[start:stop] if value.get(i) == v}


class SearchIndex:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[int, list[tuple[int, dict[str, Any]]]] = {}
        self.updated = Ranked()  # highest ``updated`` recorded per issue
        self.created = Ranked()  # ``created`` per issue (it never changes)
        self.generation = 0  # moved by every record and drop
        self._newest_stamp = -math.inf
        self._results: OrderedDict[Hashable, tuple[int, int, Any]] = OrderedDict()

    def record(self, issue_id: int, stamp_ms: int, facts: dict[str, Any], lag_ms: int) -> None:
        """The issue's facts as of ``stamp_ms``; versions nobody can see any more are dropped."""
        with self._lock:
            versions = self._versions.setdefault(issue_id, [])
            versions.append((stamp_ms, facts))
            horizon = stamp_ms - lag_ms
            visible = [i for i, (stamp, _) in enumerate(versions) if stamp <= horizon]
            if visible:
                del versions[:visible[-1]]
            self.updated.raise_to(issue_id, facts["updated"])
            self.created.raise_to(issue_id, facts["created"])
            self.generation += 1
            self._newest_stamp = max(self._newest_stamp, stamp_ms)

    def drop(self, issue_id: int) -> None:
        with self._lock:
            self._versions.pop(issue_id, None)
            self.updated.discard(issue_id)
            self.created.discard(issue_id)
            self.generation += 1

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

    # -- results kept for later pages ---------------------------------------------------------

    def keep(self, key: Hashable, now_ms: int, lag_ms: int, result: Any) -> None:
        """Keep a search's result, computed at ``now_ms`` with ``lag_ms``, when it is the result
        at every later time until the next record or drop: with lag 0 a search sees the current
        facts, which only a record changes; with a lag it sees per issue the newest version at or
        before ``now - lag``, which stays the same version as time moves on only when no version
        is newer than that horizon yet.  ``key`` must name everything else the result depends on.
        """
        with self._lock:
            if lag_ms > 0 and self._newest_stamp > now_ms - lag_ms:
                return
            for old in [k for k, (generation, _, _) in self._results.items() if generation != self.generation]:
                del self._results[old]
            self._results[key] = (self.generation, now_ms, result)
            self._results.move_to_end(key)
            while len(self._results) > RESULTS_KEPT:
                self._results.popitem(last=False)

    def reusable(self, key: Hashable, now_ms: int) -> Any:
        """The result kept under ``key`` if nothing was recorded or dropped since and the clock
        has not gone back before it was computed; else None."""
        with self._lock:
            kept = self._results.get(key)
            if kept is None:
                return None
            generation, computed_ms, result = kept
            if generation != self.generation:
                self._results.pop(key)
                return None
            if now_ms < computed_ms:
                return None
            self._results.move_to_end(key)
            return result

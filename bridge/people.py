"""Who is who on both sides: casavi staff ↔ the tool's users, matched by e-mail address.

The connector's own override map (``[jira] assignee_map``) decides first; otherwise the staff
member's e-mail address is searched in the tool (:meth:`Connector.find_person`).  The way back
(a tool user → a staff member) goes through the same matching for every staff member, so it
works where the tool hides its users' addresses (Jira Cloud's profile visibility).

Answers are remembered for ``ttl`` (people rarely change; a new colleague is found within
that time), failures are not.  Thread-safe: the engine applies items in parallel.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from cachetools import TTLCache

_NOBODY = ""  # cached "no match" (None means "not asked yet")


class People:
    def __init__(self, source: Any, connector: Any, *, ttl_seconds: float = 600.0):
        self.source, self.connector = source, connector
        self._tool = TTLCache(maxsize=4096, ttl=ttl_seconds)  # staff id → tool person ("" = none)
        self._staff = TTLCache(maxsize=1, ttl=ttl_seconds)  # "all" → {staff id: e-mail}
        self._lock = threading.Lock()
        # One lock per answer being asked for: threads wanting the same answer at once (a
        # mirror's first tickets) wait for one read instead of each making its own, while
        # answers about different people are asked for side by side.
        self._asking: dict[tuple[int, str], threading.Lock] = {}

    def _once(self, cache: TTLCache, key: str, ask: Callable[[], Any]) -> Any:
        """``cache[key]``, asked for (``ask()``) by one thread at a time when it is missing."""
        with self._lock:
            known = cache.get(key)
            if known is not None:
                return known
            asking = self._asking.setdefault((id(cache), key), threading.Lock())  # a lock per staff member
        with asking:
            with self._lock:
                known = cache.get(key)
            if known is None:
                known = ask()
                with self._lock:
                    cache[key] = known
        return known

    def staff_emails(self) -> dict[str, str | None]:
        """Every staff member's e-mail address by staff id (one list read per ``ttl``)."""
        return self._once(self._staff, "all", lambda: dict(self.source.staff_emails()))

    def tool_person(self, staff_id: str) -> str | None:
        """The tool's user for a staff member, or None when the tool has nobody for them."""
        known = self._once(self._tool, staff_id, lambda: self.connector.find_person(
            staff_id, self.staff_emails().get(staff_id)) or _NOBODY)
        return known or None

    def staff_for(self, tool_person: str) -> str | None:
        """The staff member the tool's user is, or None when no staff member matches."""
        for staff_id in sorted(self.staff_emails()):
            if self.tool_person(staff_id) == tool_person:
                return staff_id
        return None

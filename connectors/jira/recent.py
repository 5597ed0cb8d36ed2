"""What the Jira connector remembers of its own recent requests, in memory, thread-safe.

- :class:`Recent`: a bounded map of recently used values (least recently used dropped first):
  the ``casavi.attachments`` of issues read or created (:mod:`.attachments`), the display names
  of mentioned users (:mod:`.people`).
- :class:`CreatedIssues`: the issues this process created (id → monotonic time), at most
  :data:`.rest.RECONCILE_MAX`: those created within the search lag are passed as
  ``reconcileIssues`` on Cloud, so its searches see them at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from cachetools import LRUCache

from .rest import RECONCILE_MAX


class Recent:
    """A bounded, thread-safe map of recently used values (least recently used dropped first)."""

    def __init__(self, size: int):
        self._values: LRUCache = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            return self._values.get(key)

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._values[key] = value

    def forget(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)


class CreatedIssues:
    """Issues (and sub-tasks) this process created, newest last, at most ``RECONCILE_MAX``."""

    def __init__(self) -> None:
        self._created: OrderedDict[str, float] = OrderedDict()
        self._created_lock = threading.Lock()

    def remember(self, issue_id: str) -> None:
        with self._created_lock:
            self._created[issue_id] = time.monotonic()
            self._created.move_to_end(issue_id)
            while len(self._created) > RECONCILE_MAX:
                self._created.popitem(last=False)

    def within(self, lag_seconds: float) -> list[str]:
        """The ids created at most ``lag_seconds`` ago (oldest first)."""
        horizon = time.monotonic() - lag_seconds
        with self._created_lock:
            return [issue_id for issue_id, when in self._created.items() if when >= horizon]

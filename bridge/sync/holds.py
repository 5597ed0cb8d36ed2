"""The retry gate: which planned writes wait for their quarantine entry instead of being sent.

Every write of an item fails, waits and gives up on its own, keyed by its ``action_key``
(``status→tool``, ``comment:C-7→tool``, ...).  A write planned again is held back when its
entry has the same fingerprint (the same write on the same grounds) and either its retry time
has not come or it has used up ``max_attempts``.  This holds however often the item's version
changes, and a tool's version changes by the bridge's own refused write too (Redmine moves
``updated_on`` when it ignores a status change the workflow forbids); the item is re-planned
then, and the refused write stays held while the item's other writes go on.  A different
fingerprint means a person changed what the write is about (another status, an edited
comment): it is tried at once, and its attempts count from 1 again.  A ``dropped`` entry
(the tool stored it in part, or skipped it for a limit of its own with a notice) holds the same
write back until a person clears it.

Pure: no I/O; the engine reads the entries once per pass (``Ledger.holds``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping, Protocol

from bridge.sync import actions as a


class Entry(Protocol):
    """What the gate reads of a quarantine entry (``bridge.state.tables.Quarantine``)."""

    fingerprint: str | None
    kind: str  # "failed" | "dropped" (not all stored, or skipped for a limit: held until cleared)
    attempts: int
    next_retry_at: datetime
    error: str


@dataclass(frozen=True)
class Held:
    """A write not sent in this pass: its entry says wait (or: given up)."""

    action: a.Action
    attempts: int
    next_retry_at: datetime
    error: str
    given_up: bool

    def describe(self) -> str:
        when = "given up" if self.given_up else f"next try {self.next_retry_at:%Y-%m-%d %H:%M:%S}"
        return f"{self.action.describe()}: waiting ({self.attempts} attempts, {when}): {self.error[:200]}"


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt


def split(plan: list[a.Action], entries: Mapping[str, Entry], now: datetime,
          max_attempts: int) -> tuple[list[a.Action], list[Held]]:
    """(actions to carry out, writes held back).  A held create holds the whole plan: every
    other step of a new item needs the item."""
    if not entries:
        return plan, []
    active: list[a.Action] = []
    held: list[Held] = []
    for action in plan:
        entry = entries.get(action.action_key) if a.is_write(action) else None
        if entry is None or entry.fingerprint != action.fingerprint:
            active.append(action)
            continue
        # A "dropped" write is held until cleared: either linked already (not planned again) or
        # skipped for a limit of the tool (SkippedError: a file over its size), never retried.
        given_up = entry.kind != "failed" or entry.attempts >= max_attempts
        if not given_up and _aware(entry.next_retry_at) <= now:
            active.append(action)  # due: this pass is its next attempt
            continue
        held.append(Held(action, entry.attempts, _aware(entry.next_retry_at), entry.error, given_up))
        if isinstance(action, a.CreateItem):
            return [], held
    return active, held

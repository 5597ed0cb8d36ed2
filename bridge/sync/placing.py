"""Placing new items in their statuses in batches (connectors with ``capabilities.place_later``).

A tool whose workflow decides where a new item starts (Jira: the administrator may change the
initial status at any time) needs the item's status after the create, or the bridge would
record a status the tool does not hold.  Read one by one that is one more request per new item
and sub-item.  With ``place_later`` the applier creates items without that read and keeps them
here; once a chunk's items are written, :meth:`Placer.place_created` has the connector read
them in batches (``placed``) and walk the few that need it (``place``), then records each
status as the bridge's write.

A person's transition made before that read is told from the workflow's initial status by the
item's change history (the connector's part): the status the item was created in is recorded,
so the person's change is a change in the tool, mirrored back on the next pass — never walked
over.  An item whose placing failed, or was cut off by a crash, keeps no tool status in the
ledger; the planner then takes the source's status as the one to hold (a status never
recorded is no change in the tool: :func:`bridge.sync.plan.tool_status_changed`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import structlog

from bridge.connector import Connector
from bridge.errors import BridgeError, BudgetExceededError, FatalError
from bridge.model import FIELD_STATUS, StatusTarget, SubItem, WriteResult, content_hash
from bridge.state.ledger import Ledger
from bridge.sync import actions as a
from bridge.sync.links import KIND_TASK, KIND_TICKET
from bridge.sync.plan import sub_hashes

log = structlog.get_logger()

Run = Callable[[Callable[["Unplaced"], Any], list["Unplaced"]], Iterable[Any]]


@dataclass(frozen=True)
class Unplaced:
    """An item or sub-item created with ``place_later``, not yet in its status."""

    item_key: str
    target_id: str
    status: StatusTarget
    write: a.Action  # the status write a failure is recorded as (and re-planned as)
    task_id: str | None = None  # a sub-item's task; None for the item itself


class Placer:
    """The new items of a chunk, placed together after the chunk's writes (thread-safe)."""

    def __init__(self, connector: Connector, ledger: Ledger):
        self.connector = connector
        self.ledger = ledger
        self.enabled = bool(getattr(connector.capabilities, "place_later", False))
        self._pending: list[Unplaced] = []
        self._lock = threading.Lock()

    def later(self, unplaced: Unplaced) -> None:
        with self._lock:
            self._pending.append(unplaced)

    def place_created(self, run: Run) -> list[tuple[str, a.Action, BaseException]]:
        """Place every item kept since the last call and record its status: the batch read
        (``connector.placed``) first, then ``connector.place`` for the rest through ``run``
        (the engine's pool ``map``), sub-items before their items.  Returns the failures as
        (item key, the status write, error).  A used-up request budget is raised; what was not
        placed then is planned on the next pass."""
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return []
        try:
            settled: dict[str, WriteResult] = dict(self.connector.placed({u.target_id: u.status for u in pending}))
        except BudgetExceededError:
            raise
        except BridgeError as exc:  # each is then read on its own
            log.warning("batch_read_failed", error=str(exc)[:300])
            settled = {}

        def one(u: Unplaced) -> tuple[Unplaced, WriteResult | None, BaseException | None]:
            try:
                return u, self.connector.place(u.target_id, u.status), None
            except BudgetExceededError:
                raise
            except Exception as exc:  # noqa: BLE001 - the engine quarantines this write
                return u, None, exc

        failures: list[tuple[str, a.Action, BaseException]] = []
        rest = [u for u in pending if u.target_id not in settled]
        for group in ([u for u in rest if u.task_id], [u for u in rest if not u.task_id]):
            for u, result, exc in run(one, group):
                if result is not None:
                    settled[u.target_id] = result
                else:
                    failures.append((u.item_key, u.write, exc or FatalError("not placed")))
        for u in pending:
            if u.target_id in settled:
                self._record(u, settled[u.target_id])
        return failures

    def _record(self, u: Unplaced, result: WriteResult) -> None:
        fields = result.fields or {}
        status = str(fields.get(FIELD_STATUS) or u.status.status)
        if u.task_id is None:
            self.ledger.record_link(kind=KIND_TICKET, item_key=u.item_key, source_id=None, target_id=u.target_id,
                                    target_hashes={FIELD_STATUS: content_hash(status)})
            return
        resolution = (fields.get("resolution") or None) if FIELD_STATUS in fields else u.status.resolution
        hashes = sub_hashes(SubItem(u.target_id, "", status, "", resolution))
        self.ledger.record_link(kind=KIND_TASK, item_key=u.item_key, source_id=u.task_id, target_id=u.target_id,
                                target_hashes={FIELD_STATUS: hashes[FIELD_STATUS]})

"""The rolling sweep (README "How syncing works", "The sweep"), run by the engine on every pass.

Comments and task changes need not move an item's version stamp, nor (with created-date
semantics) does a close show in the incremental read, so every linked item open on either side
is read whole at least about once per ``sweep_interval`` and at most once: each pass reads those
whose ``read_whole_at`` is older than the interval (or unknown), the longest unread first.  A
read stamps an item here when it shows the synced version; a changed one is stamped when the
pass records the version it then reads (``FinishItem``), or when its planning failed and the
quarantine has it (``Engine._plan_safely``).  What the source lists besides (casavi under
created dates: the open tickets) is listed once per interval (the ``sweep:<source>`` cursor).

The engine owns the pass: its report, its cursors and where it is cut short.  This module reads
(the source, the ledger's due items) and stamps the reads that showed the synced version; it
hands back what the engine records (:class:`SweepResult`).

What the sweep costs (``SweepResult.requests``, the pass report's ``sweep_requests``) is the
source's requests while the sweep ran (``Source.requests_made`` before and after): its whole
reads and its listing, with their retries and any new login among them.  Nothing else asks the
source then: ``offer`` only compares the summaries with the ledger and keeps the changed items as
candidates, which are read again, planned and written after the sweep, with the pass's other
candidates; those requests are not the sweep's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Iterator, Mapping, TypeVar

from bridge.errors import BudgetExceededError
from bridge.model import content_hash
from bridge.source import ParseProblem, Source, SourceSummary
from bridge.state.ledger import Ledger
from bridge.sync.rules import SyncRules

_T = TypeVar("_T")

# Compares a chunk of summaries with the ledger and keeps the changed ones as candidates;
# returns the items found at their synced version with the time of their whole read.
Offer = Callable[[list[SourceSummary]], dict[str, datetime]]


@dataclass
class SweepResult:
    swept: int = 0  # summaries offered: items read whole, and rows listed
    listed_at: datetime | None = None  # when this sweep listed (the engine moves its cursor there)
    requests: int = 0  # the source's requests while the sweep ran
    cut: BudgetExceededError | None = None  # the request budget ran out: the pass is cut short


@dataclass(frozen=True)
class RollingSweep:
    source: Source
    ledger: Ledger
    rules: SyncRules
    interval: timedelta

    def run(self, offer: Offer, keep: Callable[[SourceSummary | ParseProblem], bool], *,
            last_listed: datetime | None, holds: Mapping[str, Mapping], dry_run: bool,
            heartbeat: Callable[[], None] = lambda: None, stop: threading.Event | None = None) -> SweepResult:
        """One pass's sweep: the due items read whole and offered a chunk at a time, the ones
        found unchanged stamped (not in a dry run); ``last_listed`` is the ``sweep:<source>``
        cursor, ``holds`` the ledger's quarantine entries by item, ``keep`` drops (and reports)
        what could not be read."""
        started = datetime.now(timezone.utc)
        list_open = self.listing_due(started, last_listed)
        read_before = started - self.interval
        if list_open and self.source.sweep_reads_only_with_listing:
            # Reads happen only on listing passes: every item not read during this one is
            # due now, or one read just after the last listing would wait two intervals.
            read_before = started
        result = SweepResult(listed_at=started if list_open else None)
        due = self.due_linked(read_before, holds)
        requests_before = self.source.requests_made()
        try:
            summaries = iter(self.source.sweep(due, list_open=list_open))
            try:
                for chunk in chunks(s for s in summaries if keep(s)):
                    result.swept += len(chunk)
                    read_whole = offer(chunk)
                    if not dry_run:
                        self.ledger.record_read_whole(read_whole)
                    heartbeat()
                    if stop is not None and stop.is_set():
                        break  # the stamps so far are kept; the rest stays due
            finally:
                # Ended before the requests are counted: a sweep left early has no read under way.
                if hasattr(summaries, "close"):
                    summaries.close()
        except BudgetExceededError as exc:
            result.cut = exc  # the pass ends as cut short; what was read stays stamped
        result.requests = self.source.requests_made() - requests_before
        return result

    def listing_due(self, now: datetime, last_listed: datetime | None) -> bool:
        return last_listed is None or now - last_listed >= self.interval

    def due_linked(self, read_before: datetime, holds: Mapping[str, Mapping]) -> Iterator[str]:
        """Ids of the linked items due for the sweep, the longest unread first: not read whole
        since ``read_before`` (or never), and not closed on both sides (by the status hashes last
        synced) unless a write of theirs failed (also one given up): a refused reopening leaves
        the synced hashes at closed on both sides while the source's item is open again and takes
        new comments.  Lazy: the query runs only when the source iterates it (a source whose
        incremental read sees every change does not)."""
        closed = set(self.source.closed_statuses)
        closed_tool = {t for s, t in self.rules.status_map.items() if s in closed}
        closed_tool |= {t for t, s in self.rules.status_map_back.items() if s in closed}
        prefix = f"{self.source.name}:"
        unsettled = {key for key, entries in holds.items()
                     if key.startswith(prefix) and any(q.kind == "failed" for q in entries.values())}
        yield from self.ledger.due_for_sweep(self.source.name, {content_hash(s) for s in closed},
                                             {content_hash(t) for t in closed_tool}, read_before, also=unsettled)


def chunks(items: Iterable[_T], size: int = 500) -> Iterator[list[_T]]:
    """Lists of up to ``size`` items; when ``items`` raises, what came before is yielded first
    (a sweep cut by the request budget keeps the reads it made)."""
    chunk: list[_T] = []
    try:
        for item in items:
            chunk.append(item)
            if len(chunk) == size:
                yield chunk
                chunk = []
    except Exception:
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk

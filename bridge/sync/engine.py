"""One sync pass: read what changed on each side, plan every item, apply, advance cursors.

Cursor discipline (see README "How syncing works"):
- positions are the sides' own timestamps (the newest item seen), never the local clock;
- every read re-reads an overlap window, so late-visible changes are not skipped; what is
  re-read is skipped cheaply when its (id, version) was already synced;
- a cursor never moves past an item that failed: it stops just before the oldest failure;
- it is capped at the signpost (the time the pass started), so changes made during the pass
  are read again next time;
- a connector that reports the tool's own time of a complete read (``Changes.as_of``) moves
  the target cursor there: items seen are older than that read, changes made during the pass
  newer, and an idle tool's window slides forward with the clock;
- a tool whose search shows changes late (``connector.search_lag_seconds``, e.g. Jira Cloud)
  is re-read at least that far back, whatever the configured overlap.

The rolling sweep (:mod:`bridge.sync.sweep`, README "The sweep"): on every pass the linked items
open on either side that were not read whole within ``sweep_interval`` (``links.read_whole_at``)
are read whole, the longest unread first.  A whole read is recorded with the time taken before
it where the ledger holds what it showed: by the sweep for an item found at its synced
version, by ``FinishItem`` for an item a pass read and planned (its version recorded; not when
its create failed or the pass stopped before that last step), and for a swept item that could
not be planned once its failure is in the quarantine (which retries it on its own schedule).
Each such item is read whole at most once per interval and at least about once (an interval
and a pass after its last read).

Interrupted creates (intents): an intent is never taken for "the create never arrived" on one
search.  Until ``search_lag_seconds`` have passed since the create was attempted, a marker
search that finds nothing leaves the ticket waiting (not created again, not quarantined).

Failures (see :mod:`bridge.sync.holds`): each write of an item fails, waits and gives up on
its own, under its ``action_key``; the item's other writes go on and its versions are recorded,
so it is re-planned when either side changes or when one of its writes is due again
(``Ledger.due_for_retry``).  A re-planned write whose entry says wait is held back, whatever
made the item's version move.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Mapping

import structlog

from bridge.connector import Connector
from bridge.errors import BridgeError, BudgetExceededError, FatalError, NotFoundError, RetriableError
from bridge.model import Changes, Marker, SourceItem, SourceRef, TargetItem
from bridge.source import ParseProblem, Source, SourceSummary, same_version
from bridge.state.ledger import Ledger
from bridge.sync import actions as a
from bridge.sync import holds
from bridge.sync.apply import Applier
from bridge.sync.links import KIND_ATTACHMENT, KIND_COMMENT, KIND_TASK, KIND_TASK_FILE, ItemLinks
from bridge.sync.plan import in_recorded_state, marker_unknown, plan_item
from bridge.sync.rules import SyncRules
from bridge.sync.sweep import RollingSweep, chunks
from bridge.sync.task_files import follows_task_files

log = structlog.get_logger()


class MassChangeError(BridgeError):
    """A pass would change more linked items in one direction than the brake allows."""


@dataclass(frozen=True)
class EngineSettings:
    overlap: timedelta = timedelta(seconds=120)
    concurrency: int = 4
    mass_change_share: float = 0.5
    mass_change_min_items: int = 20
    sweep_interval: timedelta = timedelta(minutes=15)
    max_attempts: int = 10
    chunk_size: int = 200
    retry_base_delay: timedelta = timedelta(seconds=30)  # a failed write waits this · 2^(attempts−1)


# The counts of a pass that tell what it read; the others (item_created, comment_mirrored, ...)
# are writes, and "held" the writes that wait for their retry time.  "sweep_requests": the
# source's requests while the sweep ran (:mod:`bridge.sync.sweep`).
READ_COUNTS = frozenset({"candidates", "swept", "sweep_requests"})


def write_count(counts: Mapping[str, object]) -> int:
    """The writes a pass's ``counts`` tell: the sum of the integer counts not in READ_COUNTS
    (a run stored in the ledger may carry other values)."""
    return sum(v for k, v in counts.items() if k not in READ_COUNTS and isinstance(v, int))


@dataclass
class PassReport:
    kind: str = "pass"
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    counts: Counter = field(default_factory=Counter)
    # Every item's plan, when the pass keeps them (reconcile prints them; the daemon does not
    # keep them: at 20,000 new tickets they would hold every draft until the pass ends).
    planned: list[tuple[str, list[a.Action]]] = field(default_factory=list)
    items_to_write: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # item → its failed writes and their answers
    held: list[tuple[str, holds.Held]] = field(default_factory=list)  # writes waiting for their retry time
    problems: list[str] = field(default_factory=list)
    braked: str | None = None
    cut_short: str | None = None  # the pass stopped early (request budget, shutdown): cursors stay

    @property
    def differences(self) -> int:
        """Items whose plan writes to either side."""
        return self.items_to_write


@dataclass
class _Candidate:
    item_key: str
    ref: SourceRef
    summary: SourceSummary | None = None
    target: TargetItem | None = None
    source_stamp: datetime | None = None
    target_stamp: datetime | None = None
    # Linked, changed in the tool only: when the tool item is in its recorded state (our own
    # writes), its new version is recorded without reading the source (plan.in_recorded_state).
    tool_only: bool = False
    held_keys: set[str] = field(default_factory=set)  # writes held back in this pass
    partial_plan: bool = False  # planned without reading the source (nothing to release by)
    unlinked: bool = False  # planned with no ticket link in the ledger: applying need not read it again


class Engine:
    def __init__(self, source: Source, connector: Connector, ledger: Ledger, rules: SyncRules,
                 settings: EngineSettings | None = None, *, workdir: Path | None = None, metrics=None,
                 stop: threading.Event | None = None):
        self.source, self.connector, self.ledger, self.rules = source, connector, ledger, rules
        self.settings = settings or EngineSettings()
        self.applier = Applier(source, connector, ledger, rules, workdir, metrics)
        self.metrics = metrics
        self.stop = stop or threading.Event()
        self.source_stream = f"source:{source.name}"
        self.target_stream = f"target:{connector.name}"
        self.sweep_stream = f"sweep:{source.name}"
        self._holds: dict = {}
        self.heartbeat = lambda: None  # called whenever work moves on (the daemon's watchdog)
        self._listed_at: datetime | None = None  # when this pass's sweep listed (its cursor, set at the end)
        self.on_total = lambda total: None  # called once the pass knows how many items it compares
        self.progress = lambda: None  # called once per item compared (reconcile's progress bar)

    # --- entry points -----------------------------------------------------------------------
    def run_pass(self, *, full: bool = False, dry_run: bool = False, brake: bool = True,
                 keep_plans: bool = True) -> PassReport:
        """One pass.  ``full`` compares every item on both sides (reconcile); ``dry_run`` only
        plans; ``keep_plans`` keeps every item's plan in the report (``report.planned``)."""
        report = PassReport(kind="reconcile" if full else "pass")
        run_id = None if dry_run else self.ledger.start_run(report.kind)
        signpost = report.started_at
        outcome, message = "ok", None
        try:
            self.source.begin_pass()
            self._listed_at = None
            retry: set[str] = set()
            waiting: set[str] = set()
            self._holds = self.ledger.holds()
            if not dry_run:
                retry, waiting = self.resolve_intents(report)
            candidates, src_max, tgt_max, tgt_as_of = self._collect(report, full=full, dry_run=dry_run)
            for key in retry:
                candidates.setdefault(key, _Candidate(key, self._ref_for(key, None)))
            for key in waiting:
                candidates.pop(key, None)
            self._process(candidates, report, dry_run=dry_run, brake=brake and not full, keep_plans=keep_plans)
            if self.stop.is_set() and report.cut_short is None:
                report.cut_short = "stop requested"
            if not dry_run and report.cut_short is None:
                self._advance(self.source_stream, src_max, signpost)
                self._advance(self.target_stream, tgt_max, signpost, as_of=tgt_as_of)
                if self._listed_at is not None:
                    self.ledger.set_cursor(self.sweep_stream, self._listed_at, signpost)
            if report.failed:
                outcome = "partial"
        except MassChangeError as exc:
            outcome, message, report.braked = "braked", str(exc), str(exc)
            log.error("pass_braked", reason=str(exc))
        except BridgeError as exc:
            outcome, message = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            if run_id is not None:
                self.ledger.finish_run(run_id, outcome, report.counts, len(report.failed), message)
        return report

    @property
    def search_lag(self) -> timedelta:
        """How late the tool's search may show a create or change (0 for tools that say nothing)."""
        return timedelta(seconds=float(getattr(self.connector, "search_lag_seconds", 0) or 0))

    def _still_searchable_late(self, attempted_at: datetime | None) -> bool:
        if attempted_at is None:
            return False
        if attempted_at.tzinfo is None:
            attempted_at = attempted_at.replace(tzinfo=timezone.utc)
        return datetime.now(timezone.utc) < attempted_at + self.search_lag

    def resolve_intents(self, report: PassReport) -> tuple[set[str], set[str]]:
        """Leftover intents mean a create may have reached the tool: look for the marker, never
        create again.  Returns (items to plan in this pass: adopted, or absent after the search
        lag; items that wait: absent, but the tool's search may not show the create yet)."""
        retry: set[str] = set()
        waiting: set[str] = set()
        for intent in self.ledger.intents():
            source, _, item_id = intent.item_key.partition(":")
            found = self.connector.find_by_marker(Marker(source, item_id, intent.source_internal_id))
            if found is not None:
                self.ledger.record_link(kind="ticket", item_key=intent.item_key, source_id=None,
                                        target_id=found.target_id, display_id=found.display_id, clear_intent=True)
                report.counts["intent_adopted"] += 1
                retry.add(intent.item_key)
                log.info("intent_resolved", ticket=intent.item_key, target=found.display_id, found=True)
            elif self._still_searchable_late(intent.created_at):
                waiting.add(intent.item_key)
                report.counts["intent_waiting"] += 1
                log.info("intent_waiting", ticket=intent.item_key, attempted_at=str(intent.created_at),
                         search_lag_seconds=self.search_lag.total_seconds())
            else:
                self.ledger.drop_intent(intent.item_key)
                retry.add(intent.item_key)
                log.info("intent_resolved", ticket=intent.item_key, found=False)
        return retry, waiting

    # --- reading ------------------------------------------------------------------------------
    def _since(self, stream: str, full: bool) -> datetime | None:
        if full:
            return None
        cursor = self.ledger.cursor(stream)
        overlap = self.settings.overlap
        if stream == self.target_stream:
            overlap = max(overlap, self.search_lag)  # a change shown late is still in the window
        return cursor - overlap if cursor else None

    def _collect(self, report: PassReport, *, full: bool, dry_run: bool = False
                 ) -> tuple[dict[str, _Candidate], datetime | None, datetime | None, datetime | None]:
        candidates: dict[str, _Candidate] = {}
        src_max: datetime | None = None
        since = self._since(self.source_stream, full)
        if since is None and not full and self.rules.since is not None:
            since = self.rules.since
        # Summaries are compared with the ledger a chunk at a time and only candidates are
        # kept: a sweep of 20,000 linked tickets holds no more than a chunk of them at once.
        def offer(chunk: list[SourceSummary]) -> dict[str, datetime]:
            """Adds the chunk's candidates; returns the linked items read whole and found at
            their synced version, with the time of that read (the sweep records them)."""
            nonlocal src_max
            versions = self.ledger.item_versions([s.ref.key for s in chunk])
            unchanged: dict[str, datetime] = {}
            for s in chunk:
                if s.modified_at and (src_max is None or s.modified_at > src_max):
                    src_max = s.modified_at
                stored = versions.get(s.ref.key)
                if stored is not None:
                    if not full and same_version(stored[0], s.version):
                        if s.read_whole_at is not None:
                            unchanged[s.ref.key] = s.read_whole_at
                        continue  # re-read in the overlap window (or swept), already synced
                elif not self.rules.starts_mirroring(s.status, s.property_id, s.created_at):
                    continue
                candidates[s.ref.key] = _Candidate(s.ref.key, s.ref, summary=s, source_stamp=s.modified_at)
            return unchanged

        for chunk in chunks(s for s in self.source.changed_since(since) if self._keep(s, report, dry_run=dry_run)):
            offer(chunk)
        if not full:
            self._sweep(report, offer, dry_run=dry_run)

        tgt_max: datetime | None = None
        changes = self.connector.changed_since(self._since(self.target_stream, full))
        items = list(changes)
        tgt_as_of = changes.as_of if isinstance(changes, Changes) else None
        by_target = self.ledger.items_by_target([t.target_id for t in items])
        for t in items:
            if t.updated_at and (tgt_max is None or t.updated_at > tgt_max):
                tgt_max = t.updated_at
            linked = by_target.get(t.target_id)
            if linked is not None:
                key, stored_version = linked
                if not full and stored_version == t.version and key not in candidates:
                    continue
            elif t.marker is not None:
                key = SourceRef(t.marker.source, t.marker.item_id).key
                if t.marker.source != self.source.name:
                    continue
            else:
                continue  # an item the bridge did not create: not ours to mirror
            cand = candidates.get(key) or _Candidate(key, self._ref_for(key, t), tool_only=linked is not None and not full)
            cand.target, cand.target_stamp = t, t.updated_at
            candidates[key] = cand

        for key in self.ledger.due_for_retry(datetime.now(timezone.utc), self.settings.max_attempts):
            candidates.setdefault(key, _Candidate(key, self._ref_for(key, None))).tool_only = False
        report.counts["candidates"] = len(candidates)
        self.on_total(len(candidates))
        return candidates, src_max, tgt_max, tgt_as_of

    def _keep(self, s: SourceSummary | ParseProblem, report: PassReport, *, dry_run: bool) -> bool:
        """Whether a list entry goes on to planning; an unreadable one is reported and, except
        in a dry run (which writes nothing to the ledger), quarantined."""
        if isinstance(s, ParseProblem):
            report.problems.append(f"{s.item_id or '?'}: {s.message}")
            key = SourceRef(self.source.name, s.item_id).key if s.item_id else None
            if s.missing and key:  # linked, and gone on the source side: listed, never deleted
                if not dry_run:
                    self.ledger.mark_orphan(key, "source")
                log.warning("linked_item_missing", ticket=key, side="source")
                return False
            if key:
                if not dry_run:
                    self.ledger.quarantine(key, FatalError(f"cannot read item: {s.message}"), item_version=None,
                                           action="read",
                                           base_delay=self.settings.retry_base_delay.total_seconds())
                report.failed[key] = s.message
            log.warning("item_unreadable", item=s.item_id, problem=s.message)
            return False
        return True

    def _ref_for(self, key: str, target: TargetItem | None) -> SourceRef:
        source, _, item_id = key.partition(":")
        internal = target.marker.internal_id if target is not None and target.marker else None
        return SourceRef(source, item_id, internal)

    def _sweep(self, report: PassReport, offer: Callable[[list[SourceSummary]], dict[str, datetime]], *,
               dry_run: bool) -> None:
        """The rolling sweep (:mod:`bridge.sync.sweep`); the engine records what it found: the
        items it read and the source's requests for them in the report, its listing time as
        this pass's ``sweep:<source>`` cursor (set with the pass's other cursors), a request
        budget run out as the pass cut short."""
        sweep = RollingSweep(self.source, self.ledger, self.rules, self.settings.sweep_interval)
        result = sweep.run(offer, lambda s: self._keep(s, report, dry_run=dry_run),
                           last_listed=self.ledger.cursor(self.sweep_stream),
                           holds=self._holds, dry_run=dry_run, heartbeat=self.heartbeat, stop=self.stop)
        if result.cut is not None:
            self._cut(report, result.cut)
        if result.swept or result.listed_at is not None:
            report.counts["swept"] = result.swept
        if result.requests:
            report.counts["sweep_requests"] = result.requests
        if result.listed_at is not None and not dry_run:
            # Moved on with the pass's other cursors, only when the pass is not cut short.
            self._listed_at = result.listed_at

    # --- planning and applying ----------------------------------------------------------------
    def _read_targets(self, chunk: list[_Candidate]) -> None:
        """Read the chunk's tool items in batches where the connector can (``snapshots``):
        the summaries from ``changed_since`` and the linked items of source-side changes."""
        batch = getattr(self.connector, "snapshots", None)
        if batch is None:
            return
        keys = [c.item_key for c in chunk]
        linked = self.ledger.linked_targets(keys)
        children = self.ledger.child_targets(keys, KIND_TASK)
        wanted: dict[str, list[_Candidate]] = {}
        for c in chunk:
            target_id = c.target.target_id if c.target is not None and c.target.partial else \
                linked.get(c.item_key) if c.target is None else None
            if target_id:
                wanted.setdefault(target_id, []).append(c)
        if not wanted:
            return
        keyed = {target_id: children.get(cands[0].item_key, []) if linked.get(cands[0].item_key) == target_id else []
                 for target_id, cands in wanted.items()}
        for target_id, item in batch(keyed).items():
            for c in wanted.get(target_id, ()):
                c.target = item

    def _fetch_and_plan(self, cand: _Candidate, dry_run: bool = False) -> tuple[SourceItem | None, list[a.Action]]:
        links = self.ledger.item_links(cand.item_key)
        cand.unlinked = links.item is None
        target = cand.target
        if cand.tool_only and target is not None and in_recorded_state(target, links, self.rules):
            # Only our own writes since the version planned on: record the tool's version, read nothing more.
            cand.partial_plan = True  # not a whole plan: its quarantine entries stay as they are
            return None, [a.FinishItem(cand.item_key, None, target.version)]
        try:
            source = self.source.get(cand.ref)
        except NotFoundError:
            source = None
        if target is not None and not target.markers_read and _needs_whole_read(target, links, self.rules):
            target = replace(target, partial=True)  # the planner needs the markers: read it whole
        if target is not None and target.partial:  # a summary from changed_since: read it whole
            try:
                target = self.connector.get(target.target_id)
            except NotFoundError:
                target = None
        if links.item is not None and (target is None or target.target_id != links.item.target_id):
            try:
                target = self.connector.get(links.item.target_id)
            except NotFoundError:
                target = None
        elif dry_run and links.item is None and target is None and self.ledger.has_intent(cand.item_key):
            # Only in a dry run: a real pass resolved every intent before (resolve_intents; the
            # items still waiting are no candidates), so it skips this read.  Do not plan a
            # second create while the tool's search may not show the first one yet.
            target = self.connector.find_by_marker(Marker(cand.ref.source, cand.ref.item_id, cand.ref.internal_id))
            intent = next((i for i in self.ledger.intents() if i.item_key == cand.item_key), None)
            if target is None and intent is not None and self._still_searchable_late(intent.created_at):
                return source, [a.Note(cand.item_key, "an interrupted create may not be searchable yet; waiting")]
        if links.item is None and source is not None and target is None:
            if not self.rules.starts_mirroring(source.status, source.property_id, source.created_at):
                return source, []
        return source, plan_item(source, target, links, self.rules, item_key=cand.item_key)

    def _process(self, candidates: dict[str, _Candidate], report: PassReport, *, dry_run: bool, brake: bool,
                 keep_plans: bool = True) -> None:
        """Read, plan and apply the candidates chunk by chunk.  A chunk's plans are all made
        (and the brake checked on them) before any of its writes; the next chunk's reads are
        queued behind this chunk's writes, so they fill the workers the chunk's last writes
        leave idle instead of waiting for all of them (no barrier between the chunks)."""
        keys = sorted(candidates)
        linked_total = max(1, self.ledger.count_links().get("ticket", 0))
        changed = Counter()
        size = self.settings.chunk_size
        chunks = [[candidates[k] for k in keys[start:start + size]] for start in range(0, len(keys), size)]
        with ThreadPoolExecutor(max_workers=max(1, self.settings.concurrency)) as pool:
            planning = self._start_planning(pool, chunks[0], report, dry_run) if chunks else None
            for index, chunk in enumerate(chunks):
                if self.stop.is_set() or planning is None:
                    # planning None: the request budget ran out (reading the chunk's tool items,
                    # or before this chunk's planning began).  A budget that runs out while a
                    # chunk is planned still lets the items planned before it be written.
                    break
                planned = [self._gate(c, f.result(), report) for c, f in zip(chunk, planning)]
                for _ in chunk:
                    self.progress()
                self.heartbeat()
                for cand, (source, plan) in zip(chunk, planned):
                    if plan is None:
                        continue
                    if keep_plans:
                        report.planned.append((cand.item_key, plan))
                    if any(a.is_write(x) for x in plan):
                        report.items_to_write += 1
                    for direction in a.linked_changes(plan):
                        changed[direction] += 1
                if brake:
                    self._check_brake(changed, linked_total)
                applying = [] if dry_run else [pool.submit(self._apply_one, c, s, p, report)
                                               for c, (s, p) in zip(chunk, planned) if p]
                # The next chunk's reads queue behind these writes (its writes wait for the loop).
                planning = (self._start_planning(pool, chunks[index + 1], report, dry_run)
                            if index + 1 < len(chunks) and not report.cut_short else None)
                if dry_run:
                    continue
                for future in applying:
                    report.counts.update(future.result().done)
                self._place_created(pool, chunk, report)
                for cand in chunk:  # done with: a pass after a mirror would hold every issue read
                    cand.summary, cand.target = None, None

    def _start_planning(self, pool: ThreadPoolExecutor, chunk: list[_Candidate],
                        report: PassReport, dry_run: bool = False) -> list[Future] | None:
        """The chunk's tool items read in batches, then one planning task per item queued in
        ``pool``; None when the request budget ran out (the pass is cut short)."""
        try:
            self._read_targets(chunk)
        except BudgetExceededError as exc:
            self._cut(report, exc)
            return None
        except BridgeError as exc:  # each item is then read on its own
            log.warning("batch_read_failed", error=str(exc)[:300])
        return [pool.submit(self._plan_safely, c, report, dry_run) for c in chunk]

    def _place_created(self, pool: ThreadPoolExecutor, chunk: list[_Candidate], report: PassReport) -> None:
        """The chunk's new items into their statuses, together (:mod:`bridge.sync.placing`);
        also when a stop was requested: they are written already."""
        try:
            failures = self.applier.placer.place_created(pool.map)
        except BudgetExceededError as exc:
            self._cut(report, exc)
            return
        by_key = {c.item_key: c for c in chunk}
        for key, action, exc in failures:
            self._fail(by_key.get(key) or _Candidate(key, self._ref_for(key, None)), exc, report, action)

    def _gate(self, cand: _Candidate, planned: tuple, report: PassReport) -> tuple:
        """Hold back the writes whose quarantine entry says wait (:mod:`bridge.sync.holds`)."""
        source, plan = planned
        entries = self._holds.get(cand.item_key)
        if not plan or not entries:
            return source, plan
        active, held = holds.split(plan, entries, datetime.now(timezone.utc), self.settings.max_attempts)
        for h in held:
            report.held.append((cand.item_key, h))
            report.counts["held"] += 1
            log.info("write_held", ticket=cand.item_key, action=h.action.describe(), attempts=h.attempts,
                     given_up=h.given_up)
        cand.held_keys = {h.action.action_key for h in held}
        return source, active

    def _plan_safely(self, cand: _Candidate, report: PassReport, dry_run: bool = False):
        """The item read and planned; a failure is the item's alone (quarantined; in a dry run
        only reported: a dry run writes nothing to the ledger)."""
        if report.cut_short or self.stop.is_set():
            return None, None
        try:
            return self._fetch_and_plan(cand, dry_run)
        except BudgetExceededError as exc:
            self._cut(report, exc)
            return None, None
        except Exception as exc:  # noqa: BLE001 - one bad item never blocks the others
            self._fail(cand, exc, report, record=not dry_run)
            if not dry_run and cand.summary is not None and cand.summary.read_whole_at is not None:
                # Swept, changed, and then not planned: its quarantine entry brings it back on
                # its own schedule, so the sweep leaves it for an interval, not every pass.
                self.ledger.record_read_whole({cand.item_key: cand.summary.read_whole_at})
            return None, None

    def _apply_one(self, cand: _Candidate, source: SourceItem | None, plan: list[a.Action], report: PassReport):
        ref = source.ref if source is not None else cand.ref
        if self.stop.is_set():  # a used-up budget still lets planned items finish
            return self.applier.skipped(cand.item_key)
        outcome = self.applier.apply_item(cand.item_key, plan, ref, unlinked=cand.unlinked)
        self.heartbeat()
        for action, exc in outcome.failures:
            self._fail(cand, exc, report, action)
        if outcome.error is not None:  # the request budget ran out part-way: the pass ends here
            self._cut(report, outcome.error)
        elif not cand.partial_plan:
            # Writes that succeeded, and writes no longer planned (the sides agree now), are
            # forgotten; those that failed now or are still waiting keep their entries.
            self.ledger.release(cand.item_key, keep=cand.held_keys | {x.action_key for x, _ in outcome.failures})
        return outcome

    def _cut(self, report: PassReport, exc: BaseException) -> None:
        if report.cut_short is None:
            report.cut_short = str(exc)
            log.warning("pass_cut_short", reason=str(exc))

    def _fail(self, cand: _Candidate, exc: BaseException, report: PassReport, action: a.Action | None = None,
              *, record: bool = True) -> None:
        """Quarantine one write (``action``), or the whole item when it could not be read or planned;
        ``record`` False (a dry run): only into the report and the log."""
        stamps = [s for s in (cand.source_stamp, cand.target_stamp) if s is not None]
        what = action.describe() if action is not None else "read and plan"
        attempts = None
        if record:
            attempts = self.ledger.quarantine(
                cand.item_key, exc, item_version=min(stamps) if stamps else None,
                action_key=action.action_key if action is not None else "", action=what,
                fingerprint=action.fingerprint if action is not None else None,
                base_delay=self.settings.retry_base_delay.total_seconds()).attempts
        message = f"{what}: {type(exc).__name__}: {exc}"
        earlier = report.failed.get(cand.item_key)
        report.failed[cand.item_key] = f"{earlier}; {message}" if earlier else message
        level = "warning" if isinstance(exc, RetriableError) else "error"
        getattr(log, level)("item_failed", ticket=cand.item_key, action=what, error=str(exc)[:300],
                            error_class=type(exc).__name__, attempts=attempts)
        if self.metrics is not None:
            self.metrics.error("sync", type(exc).__name__)

    def _check_brake(self, changed: Counter, linked_total: int) -> None:
        for direction, n in changed.items():
            if n >= self.settings.mass_change_min_items and n / linked_total > self.settings.mass_change_share:
                raise MassChangeError(
                    f"{n} of {linked_total} linked items would change {direction.replace('_', ' ')} in one pass "
                    f"(limit {self.settings.mass_change_share:.0%}); run `casavi-bridge reconcile` to review and apply")

    def _advance(self, stream: str, newest: datetime | None, signpost: datetime, *,
                 as_of: datetime | None = None) -> None:
        if as_of is not None:
            # The side's own clock when its read was complete: a quiet side's window then
            # slides forward instead of re-reading the last busy minutes on every poll.
            position = max(as_of, newest) if newest is not None else as_of
        elif newest is None:
            return
        else:
            position = min(newest, signpost)
        held = self.ledger.oldest_failed_version(self.settings.max_attempts)
        if held is not None:
            position = min(position, held - timedelta(milliseconds=1))
        self.ledger.set_cursor(stream, position, signpost)


def _needs_whole_read(target: TargetItem, links: ItemLinks, rules: SyncRules) -> bool:
    """A batch-read item the planner cannot plan on: unlinked, or with a comment, sub-item or file
    the ledger does not link, or with a comment written in the tool (its text is compared:
    comment edits are mirrored, and a batch read carries no comment text), or with a linked file
    whose marker the read may not carry (:func:`bridge.sync.plan.marker_unknown`)."""
    if links.item is None or marker_unknown(target, links, rules):
        return True
    linked = {(l.kind, l.target_id): l for l in links.children}
    written = f"{rules.connector}-{target.target_id}-c-"
    for c in target.comments:
        link = linked.get((KIND_COMMENT, c.comment_id))
        if link is None or link.source_id.startswith(written):
            return True
    return (any((KIND_TASK, s.sub_id) not in linked for s in target.sub_items)
            or any((KIND_ATTACHMENT, f.attachment_id) not in linked for f in target.attachments)
            or (follows_task_files(rules) and any((KIND_TASK_FILE, f.attachment_id) not in linked
                                                  for s in target.sub_items for f in s.attachments)))

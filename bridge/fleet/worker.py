"""``casavi-bridge run --config FLEET.toml``: one worker of a fleet, on any number of machines.

Every ``rescan`` seconds (``[fleet] rescan_seconds``, default ``min(10, takeover_seconds / 4)``)
and on SIGHUP the worker

1. checks that its lock session is alive (if not, every claim is gone: it stops its tenants'
   work at the next item and opens a new session);
2. reads the tenant files again (a changed file is reloaded, a bad one logged and skipped);
3. counts the live workers in ``pg_locks`` and lets go of tenants above its share
   ``ceil(tenants / workers)``, of tenants whose file is gone or changed, and of tenants someone
   waits for (``reconcile --tenant``) — always between two passes, never during one;
4. claims free tenants (``pg_try_advisory_lock``) up to its share, migrates their schema and
   builds their bridge.

Passes of the tenants it holds run on their own schedule (``[sync] interval_seconds`` ± jitter,
backing off while a side is down), at most ``[fleet] parallel_tenants`` at once.  Before each pass
the worker asks PostgreSQL whether its session still holds the tenant.  A dead worker's tenants
are free the moment PostgreSQL ends its session; the others take them at their next rescan,
so within ``takeover_seconds``.

``--once``: every tenant gets one pass by this or another worker that ran since this one started,
then the worker exits (tenants held by a running worker are left to it).
"""

from __future__ import annotations

import math
import random
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import structlog

from bridge.app import Bridge, build_bridge
from bridge.errors import BridgeError, RetriableError
from bridge.fleet.claims import Claims
from bridge.fleet.config import FleetSettings, Tenant, scan_tenants
from bridge.fleet.tenant_state import tenant_ledger
from bridge.metrics import Metrics
from bridge.notify import Notifier
from bridge.state.advisory import lock_key
from bridge.state.db import open_engine

log = structlog.get_logger()

MAX_BACKOFF_SECONDS = 600.0


@dataclass
class Claimed:
    tenant: Tenant
    bridge: Bridge
    next_due: float
    failures: int = 0
    passes: int = 0
    running: Future | None = None
    leaving: str | None = None  # why it is let go after the running pass

    @property
    def key(self) -> int:
        return lock_key(self.tenant.schema)


class Worker:
    def __init__(self, fleet: FleetSettings, *, once: bool = False, plugins: dict[str, Any] | None = None):
        self.fleet = fleet
        self.once = once
        self.plugins = plugins
        self.stop = threading.Event()
        self.reload = threading.Event()
        self.notifier = Notifier()
        self.metrics: Metrics | None = None
        self.claims: Claims | None = None
        self.claimed: dict[str, Claimed] = {}
        self.tenants: dict[str, Tenant] = {}
        self.reported: dict[str, list[str]] = {}
        self.refused_until: dict[str, float] = {}  # tenant -> monotonic time: building it failed
        self.attempted: set[str] = set()  # --once: tenants this worker already passed (or tried)
        self._last_watchdog = 0.0
        self.started = datetime.now(timezone.utc)
        self._rng = random.Random()
        self._engine = open_engine(fleet.state.database, pool_size=fleet.fleet.parallel_tenants + 1)
        self._pool = ThreadPoolExecutor(fleet.fleet.parallel_tenants, thread_name_prefix="tenant")

    # --- signals ------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        def on_stop(signum, _frame):
            log.info("stop_requested", signal=signal.Signals(signum).name)
            self.stop.set()
            for c in list(self.claimed.values()):
                c.bridge.stop.set()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, lambda *_: self.reload.set())

    # --- the loop -----------------------------------------------------------------------------
    def run(self) -> int:
        self._start_metrics()
        last_scan = -math.inf
        self.notifier.ready("fleet worker started")
        try:
            while not self.stop.is_set():
                if self.reload.is_set() or time.monotonic() - last_scan >= self.fleet.fleet.rescan:
                    self.reload.clear()
                    self._rescan()
                    last_scan = time.monotonic()
                self._reap()
                self._start_due()
                if self.once and self._once_done():
                    break
                if time.monotonic() - self._last_watchdog >= 1.0:
                    self.notifier.watchdog()
                    self._last_watchdog = time.monotonic()
                self.stop.wait(0.2)
            return 0
        finally:
            self._shutdown()

    # --- rescan: session, files, share, claims ------------------------------------------------
    def _rescan(self) -> None:
        if self.claims is not None and not self.claims.alive():
            log.error("lock_session_lost", tenants=sorted(self.claimed))
            self._lose_everything()
        if self.claims is None:
            try:
                self.claims = Claims(self.fleet.state.database, keepalive_seconds=self.fleet.fleet.takeover_seconds / 2)
                log.info("worker_registered", worker=self.claims.name)
            except RetriableError as exc:
                log.warning("postgresql_unreachable", error=str(exc))
                return
        scan = scan_tenants(self.fleet, previous=self.tenants, plugins=self.plugins)
        for name, problems in scan.problems.items():
            if self.reported.get(name) != problems:
                log.error("tenant_skipped", tenant=name, problems=problems)
        self.reported = dict(scan.problems)
        self.tenants = scan.tenants
        if self.metrics is not None:
            for name in self.tenants:
                self.metrics.set_tenant_claimed(name, name in self.claimed)
        try:
            self._balance()
        except RetriableError as exc:
            log.warning("claims_unavailable", error=str(exc))

    def _balance(self) -> None:
        assert self.claims is not None
        for name, c in self.claimed.items():
            current = self.tenants.get(name)
            if current is None:
                c.leaving = c.leaving or "tenant file removed or invalid"
            elif current.stamp != c.tenant.stamp:
                c.leaving = c.leaving or "tenant file changed"
        waiting = self.claims.waiting()
        for name, c in self.claimed.items():
            if c.key in waiting:
                c.leaving = c.leaving or "another process waits for this tenant"
                # Not taken again before the waiter had its turn (it is granted the lock as we let go).
                self.refused_until[name] = time.monotonic() + self.fleet.fleet.rescan
        workers = max(1, len(self.claims.workers()))
        share = math.ceil(len(self.tenants) / workers) if self.tenants else 0
        active = [c for c in self.claimed.values() if c.leaving is None]
        if len(active) > share:
            # Let go of the idle ones first; a running pass finishes before its tenant is released.
            for c in sorted(active, key=lambda c: c.running is not None)[share:]:
                c.leaving = f"over this worker's share ({share} of {len(self.tenants)} tenants, {workers} workers)"
        self._release_leaving()
        active = [c for c in self.claimed.values() if c.leaving is None]
        if len(active) >= share:
            return
        holders = self.claims.holders()
        now = time.monotonic()
        free = [t for name, t in self.tenants.items()
                if name not in self.claimed and lock_key(t.schema) not in holders
                and self.refused_until.get(name, 0) <= now
                and not (self.once and (name in self.attempted or self._passed_since_start(t)))]
        self._rng.shuffle(free)  # workers starting together try different tenants first
        for tenant in free[:share - len(active)]:
            self._claim(tenant)

    def _claim(self, tenant: Tenant) -> None:
        assert self.claims is not None
        if not self.claims.claim(tenant.schema):
            return
        try:
            with structlog.contextvars.bound_contextvars(tenant=tenant.name):
                ledger = tenant_ledger(self._engine, tenant.schema)
                metrics = self.metrics.for_tenant(tenant.name) if self.metrics is not None else None
                bridge = build_bridge(tenant.settings, plugins=self.plugins, metrics=metrics, state=(ledger, None))
        except Exception as exc:  # noqa: BLE001 - one tenant's failure never touches another's
            log.error("tenant_failed", tenant=tenant.name, error=str(exc), error_class=type(exc).__name__)
            self.refused_until[tenant.name] = time.monotonic() + MAX_BACKOFF_SECONDS / 10
            self.claims.release(tenant.schema)
            return
        if self.stop.is_set():
            bridge.stop.set()
        self.claimed[tenant.name] = Claimed(tenant, bridge, next_due=time.monotonic())
        if self.metrics is not None:
            self.metrics.set_tenant_claimed(tenant.name, True)
        log.info("tenant_claimed", tenant=tenant.name, worker=self.claims.name)

    def _release_leaving(self) -> None:
        for name, c in list(self.claimed.items()):
            if c.leaving is None or c.running is not None:
                continue
            c.bridge.close()
            del self.claimed[name]
            if self.metrics is not None:
                self.metrics.set_tenant_claimed(name, False)
            try:
                if self.claims is not None:
                    self.claims.release(c.tenant.schema)
            except RetriableError:
                pass  # the session is gone, and the claim with it
            log.info("tenant_released", tenant=name, reason=c.leaving)

    def _lose_everything(self) -> None:
        """The session is gone and every claim with it: stop working the tenants at the next
        item (another worker may already hold them) and forget them once their passes end."""
        for c in self.claimed.values():
            c.bridge.stop.set()
            c.leaving = "lock session lost"
        for c in self.claimed.values():
            if c.running is not None:
                c.running.exception()
                c.running = None
        self._release_leaving()
        if self.claims is not None:
            self.claims.close()
            self.claims = None

    # --- passes -------------------------------------------------------------------------------
    def _start_due(self) -> None:
        now = time.monotonic()
        for c in self.claimed.values():
            if c.running is None and c.leaving is None and c.next_due <= now and not self.stop.is_set():
                if self.once and c.passes:
                    c.leaving = "one pass done (--once)"
                    self.attempted.add(c.tenant.name)
                    continue
                c.running = self._pool.submit(self._one_pass, c)
        self._release_leaving()

    def _one_pass(self, c: Claimed) -> bool:
        with structlog.contextvars.bound_contextvars(tenant=c.tenant.name):
            try:
                if self.claims is None or c.key not in self.claims.held():
                    c.leaving = "claim no longer held"
                    c.bridge.stop.set()
                    log.error("tenant_claim_lost")
                    return False
                started = time.monotonic()
                report = c.bridge.engine.run_pass(keep_plans=False)
            except BridgeError as exc:
                log.warning("pass_failed", error=str(exc), error_class=type(exc).__name__)
                return False
            except Exception as exc:  # noqa: BLE001 - one tenant's failure never touches another's
                log.exception("pass_crashed", error=str(exc), error_class=type(exc).__name__)
                return False
            quarantined = len(c.bridge.ledger.quarantined())
            done = {k: v for k, v in report.counts.items() if k != "candidates"}
            log.info("pass_finished", seconds=round(time.monotonic() - started, 2),
                     candidates=report.counts.get("candidates", 0), failed=len(report.failed),
                     quarantined=quarantined, **done)
            if c.bridge.engine.metrics is not None:
                c.bridge.engine.metrics.set_quarantine_size(quarantined)
                if not report.failed and not report.braked:
                    c.bridge.engine.metrics.pass_succeeded()
            return True

    def _reap(self) -> None:
        now = time.monotonic()
        for c in self.claimed.values():
            if c.running is None or not c.running.done():
                continue
            ok = c.running.result()
            c.running = None
            c.passes += 1
            c.failures = 0 if ok else c.failures + 1
            s = c.tenant.settings.sync
            if c.failures:
                wait = min(MAX_BACKOFF_SECONDS, s.interval_seconds * 2 ** min(c.failures, 6)) * self._rng.uniform(0.8, 1.0)
            else:
                wait = max(0.0, s.interval_seconds + self._rng.uniform(-s.jitter_seconds, s.jitter_seconds))
            c.next_due = now + wait
        self._release_leaving()

    # --- --once -------------------------------------------------------------------------------
    def _passed_since_start(self, tenant: Tenant) -> bool:
        from bridge.fleet.tenant_state import read_tenant_ledger

        ledger = read_tenant_ledger(self._engine, tenant.schema)
        if ledger is None:
            return False
        runs = [r for r in ledger.runs(limit=5) if r.kind == "pass" and r.finished_at is not None]
        return any(_utc(r.started_at) >= self.started for r in runs)

    def _once_done(self) -> bool:
        if self.claimed or self.claims is None:
            return False
        holders = self.claims.holders()
        return all(lock_key(t.schema) in holders or t.name in self.attempted or self._passed_since_start(t)
                   for t in self.tenants.values())

    # --- the end ------------------------------------------------------------------------------
    def _shutdown(self) -> None:
        self.notifier.stopping("stopping")
        for c in self.claimed.values():
            c.bridge.stop.set()
            c.leaving = c.leaving or "worker stopping"
        for c in self.claimed.values():
            if c.running is not None:
                c.running.exception()
                c.running = None
        self._release_leaving()
        self._pool.shutdown(wait=True)
        if self.claims is not None:
            self.claims.close()
        self._engine.dispose()
        if self.metrics is not None:
            self.metrics.stop()
        log.info("worker_stopped")

    def _start_metrics(self) -> None:
        from bridge.config import split_listen

        listen = self.fleet.metrics.listen
        if not listen:
            return
        host, port = split_listen(listen)
        m = self.fleet.metrics
        self.metrics = Metrics(interval_seconds=60.0, tenants=True)
        if m.status_page:
            from bridge.statuspage.app import StatusPage

            self.metrics.pages = StatusPage(self.page_tenants, admin_token=m.admin_token)
        bound = self.metrics.start(host, port)
        log.info("metrics_listening", address=f"{bound[0]}:{bound[1]}", status_page=m.status_page)

    def page_tenants(self) -> list[Any]:
        """The tenants this worker holds, as the status page reads them (no `check` findings:
        `casavi-bridge check --config FLEET.toml` shows them for every tenant)."""
        from bridge.statuspage.views import Tenant as PageTenant

        return [PageTenant(name=name, source=c.bridge.source.name, tool=c.bridge.connector.name,
                           ledger=c.bridge.ledger, max_attempts=c.tenant.settings.sync.max_attempts)
                for name, c in sorted(list(self.claimed.items()))]


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def run_worker(fleet: FleetSettings, *, once: bool = False) -> int:
    from bridge.logging import configure_logging

    configure_logging(fleet.log.level, fleet.log.format)
    worker = Worker(fleet, once=once)
    worker.install_signal_handlers()
    try:
        return worker.run()
    except BridgeError as exc:
        log.error("worker_failed", error=str(exc), error_class=type(exc).__name__)
        return 2

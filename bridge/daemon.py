"""The daemon: a poll loop with systemd notify, watchdog, graceful stop and config reload.

- The first pass starts at once; then the loop waits ``interval ± jitter``.
- READY=1 is sent once both sides answered (``check``); STATUS lines carry counts;
  WATCHDOG=1 is sent from a thread as long as the loop makes progress (an item, a wait).
- SIGTERM/SIGINT: the current item finishes, no new one starts, STOPPING=1, exit 0.
- SIGHUP: the configuration is read again before the next pass (a bad file keeps the old one).
- While a side is down, passes back off exponentially (up to 10 minutes); cursors stay put.
- With ``[metrics] listen`` (and ``status_page``, default on) the same listener serves the
  status page (:mod:`bridge.statuspage`) for this daemon's one tenant, named after the
  configuration file's stem (as a fleet names tenants after their files).  The ``check``
  findings it shows are taken once both sides answer, and again after each reload.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import structlog

from bridge.app import Bridge, build_bridge
from bridge.checks import check_findings
from bridge.config import Settings, load_config, split_listen
from bridge.errors import BridgeError, ConfigError, FatalError, RetriableError
from bridge.metrics import Metrics
from bridge.notify import Notifier, watchdog_interval
from bridge.statuspage.views import CheckFindings, Tenant
from bridge.sync.engine import write_count

log = structlog.get_logger()

MAX_BACKOFF_SECONDS = 600.0


class Daemon:
    def __init__(self, config_path: Path, settings: Settings, *, once: bool = False):
        self.config_path = config_path
        self.settings = settings
        self.once = once
        self.stop = threading.Event()
        self.reload = threading.Event()
        self.notifier = Notifier()
        self.metrics: Metrics | None = None
        self.bridge: Bridge | None = None
        self.tenant_name = config_path.stem
        self.findings = CheckFindings()
        self._progress = time.monotonic()
        self._rng = random.Random()

    # --- signals ------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        def on_stop(signum, _frame):
            log.info("stop_requested", signal=signal.Signals(signum).name)
            self.stop.set()
            if self.bridge is not None:
                self.bridge.stop.set()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, lambda *_: self.reload.set())

    # --- the loop -----------------------------------------------------------------------------
    def run(self) -> int:
        self._start_metrics()
        watchdog = threading.Thread(target=self._watchdog, name="casavi-bridge-watchdog", daemon=True)
        watchdog.start()
        try:
            self.bridge = build_bridge(self.settings, metrics=self.metrics)
            self.bridge.engine.heartbeat = self.touch
            if self.stop.is_set():
                self.bridge.stop.set()
            self._wait_until_reachable()
            self._take_findings()
            failures = 0
            while not self.stop.is_set():
                self._maybe_reload()
                ok = self._one_pass()
                failures = 0 if ok else failures + 1
                if self.once or self.stop.is_set():
                    break
                self._sleep(self._next_wait(failures))
            return 0
        finally:
            self.notifier.stopping("stopping")
            if self.bridge is not None:
                self.bridge.close()
            if self.metrics is not None:
                self.metrics.stop()
            log.info("daemon_stopped")

    def _one_pass(self) -> bool:
        assert self.bridge is not None
        started = time.monotonic()
        try:
            self.bridge.ensure_lock()
            report = self.bridge.engine.run_pass(keep_plans=False)
        except RetriableError as exc:
            log.warning("pass_failed", error=str(exc), error_class=type(exc).__name__)
            self.notifier.status(f"side unreachable: {type(exc).__name__}; retrying with backoff")
            return False
        except FatalError as exc:
            log.error("pass_failed", error=str(exc), error_class=type(exc).__name__)
            self.notifier.status(f"pass failed: {exc}")
            return False
        quarantined = len(self.bridge.ledger.quarantined())
        done = {k: v for k, v in report.counts.items() if k not in ("candidates", "held")}
        log.info("pass_finished", seconds=round(time.monotonic() - started, 2), candidates=report.counts["candidates"],
                 failed=len(report.failed), held=report.counts["held"], quarantined=quarantined, braked=bool(report.braked), **done)
        links = self.bridge.ledger.count_links().get("ticket", 0)
        self.notifier.status(f"{links} tickets linked; last pass: {write_count(done)} writes, "
                             f"{len(report.failed)} failed, {quarantined} in quarantine")
        if self.metrics is not None:
            self.metrics.set_quarantine_size(quarantined)
            if not report.failed and not report.braked:
                self.metrics.pass_succeeded()
        self.touch()
        return True

    def _wait_until_reachable(self) -> None:
        """READY=1 once both sides answered; until then retry with backoff (never give up)."""
        assert self.bridge is not None
        attempt = 0
        while not self.stop.is_set():
            problems = self.bridge.source.check() + self.bridge.connector.check()
            if not problems:
                self.notifier.ready("connected to both sides")
                log.info("daemon_ready")
                # What the tool will refuse of some writes (they fail on their own, the rest go on).
                for finding in getattr(self.bridge.connector, "findings", lambda: [])():
                    log.warning("tool_refuses_some_writes", finding=finding)
                return
            attempt += 1
            for p in problems:
                log.warning("side_unreachable", problem=p)
            self.notifier.status("waiting for: " + "; ".join(problems)[:200])
            if self.once:
                raise FatalError("; ".join(problems))
            self._sleep(min(MAX_BACKOFF_SECONDS, 5.0 * 2 ** min(attempt, 7)))

    def _next_wait(self, failures: int) -> float:
        s = self.settings.sync
        if failures:
            return min(MAX_BACKOFF_SECONDS, s.interval_seconds * 2 ** min(failures, 6)) * self._rng.uniform(0.8, 1.0)
        return max(0.0, s.interval_seconds + self._rng.uniform(-s.jitter_seconds, s.jitter_seconds))

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and not self.reload.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.touch()
            self.stop.wait(min(left, 1.0))

    def _maybe_reload(self) -> None:
        if not self.reload.is_set():
            return
        self.reload.clear()
        try:
            settings = load_config(self.config_path)
        except ConfigError as exc:
            log.error("config_reload_refused", problems=exc.problems)
            return
        assert self.bridge is not None
        self.bridge.close()
        self.settings = settings
        self.bridge = build_bridge(settings, metrics=self.metrics)
        self.bridge.engine.heartbeat = self.touch
        if self.metrics is not None:
            self.metrics.set_interval(settings.sync.interval_seconds)
        log.info("config_reloaded")
        self._take_findings()

    def _take_findings(self) -> None:
        """The `check` findings for the status page (read-only requests to both sides)."""
        if self.metrics is None or self.metrics.pages is None or self.bridge is None:
            return
        try:
            lines = check_findings(self.settings, self.bridge.source, self.bridge.connector)
        except BridgeError as exc:
            lines = [f"check failed: {type(exc).__name__}: {exc}"]
        self.findings.update(lines, datetime.now(timezone.utc))
        log.info("check_findings", findings=len(lines))

    def tenants(self) -> list[Tenant]:
        """The tenants this daemon works, as the status page reads them: one."""
        bridge = self.bridge
        if bridge is None:
            return []
        return [Tenant(name=self.tenant_name, source=bridge.source.name, tool=bridge.connector.name,
                       ledger=bridge.ledger, max_attempts=self.settings.sync.max_attempts, findings=self.findings)]

    # --- watchdog and metrics -----------------------------------------------------------------
    def touch(self) -> None:
        self._progress = time.monotonic()

    def _watchdog(self) -> None:
        interval = watchdog_interval()
        if interval is None or not self.notifier.enabled:
            return
        limit = interval * 2
        while not self.stop.wait(interval):
            if time.monotonic() - self._progress < limit * 4:
                self.notifier.watchdog()
            else:
                log.error("watchdog_withheld", seconds_without_progress=round(time.monotonic() - self._progress))

    def _start_metrics(self) -> None:
        listen = self.settings.metrics.listen
        if not listen:
            return
        host, port = split_listen(listen)
        m = self.settings.metrics
        self.metrics = Metrics(interval_seconds=self.settings.sync.interval_seconds)
        self.metrics.set_tenant_claimed(self.tenant_name, True)
        if m.status_page:
            from bridge.statuspage.app import StatusPage

            self.metrics.pages = StatusPage(self.tenants, admin_token=m.admin_token)
        bound = self.metrics.start(host, port)
        log.info("metrics_listening", address=f"{bound[0]}:{bound[1]}", status_page=m.status_page,
                 retry_enabled=m.status_page and m.admin_token is not None)


def run_daemon(config_path: Path, *, once: bool = False) -> int:
    from bridge.logging import configure_logging

    settings = load_config(config_path)
    configure_logging(settings.log.level, settings.log.format)
    for warning in settings.warnings:
        log.warning("config_warning", warning=warning)
    daemon = Daemon(config_path, settings, once=once)
    daemon.install_signal_handlers()
    try:
        return daemon.run()
    except BridgeError as exc:
        log.error("daemon_failed", error=str(exc), error_class=type(exc).__name__)
        return 2

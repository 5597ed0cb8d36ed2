"""Builds the running parts from validated settings: source, connector, state, rules, engine.

Nothing here talks to the network: constructors do no I/O; ``check()`` is the one probe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping

from bridge.config import Settings, lookup_task_status_back, split_task_back_key
from bridge.connector import Connector, load_plugins
from bridge.errors import ConfigError
from bridge.http import HttpPolicy
from bridge.model import StatusTarget
from bridge.source import Source
from bridge.state.advisory import AdvisoryWriterLock
from bridge.state.db import WriterLock, is_postgresql, migrate, open_engine, sqlite_path
from bridge.state.ledger import Ledger
from bridge.sync.engine import Engine, EngineSettings
from bridge.sync.rules import SyncRules


def _secret(value: Any) -> str:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def build_source(settings: Settings) -> Source:
    if settings.source.kind == "casavi":
        from bridge.casavi.client import CasaviClient
        from bridge.casavi.source import CasaviSource

        c = settings.casavi
        if c is None:
            raise ConfigError("[casavi] <- section required when [source] kind = \"casavi\"")
        policy = HttpPolicy(concurrency=c.concurrency, request_budget=c.request_budget, timeout=c.timeout_seconds)
        client = CasaviClient(c.base_url, _secret(c.key), _secret(c.secret), policy=policy,
                              timeout=c.timeout_seconds)
        return CasaviSource(client, date_means_created=c.date_semantics == "created")
    if settings.source.kind == "relay":
        from bridge.relay.source import RelaySource

        return RelaySource.from_settings(settings.relay)
    raise ConfigError(f"[source] kind <- unknown source {settings.source.kind!r}")


def build_connector(settings: Settings, plugins: Mapping[str, Any] | None = None) -> Connector:
    plugins = plugins if plugins is not None else load_plugins()
    plugin = plugins.get(settings.connector.kind)
    if plugin is None:
        raise ConfigError(f"[connector] kind <- no installed connector named {settings.connector.kind!r} "
                          f"(installed: {', '.join(sorted(plugins)) or 'none'})")
    return plugin.create(settings.connector_settings)


class _TaskBack(dict):
    """(status, resolution) lookups over the config's ``task_status_map_back`` keys."""

    def __init__(self, back: dict[str, str]):
        super().__init__({split_task_back_key(k): v for k, v in back.items()})
        self._raw = back

    def get(self, key, default=None):  # type: ignore[override]
        status, resolution = key
        found = lookup_task_status_back(self._raw, status, resolution)
        return default if found is None else found


def build_rules(settings: Settings, connector: Connector, source: Source | None = None) -> SyncRules:
    f, s = settings.filters, settings.sync
    task_map = {k: StatusTarget(v.status, v.resolution) for k, v in settings.task_status_map.items()}
    return SyncRules(
        connector=connector.name,
        status_map=dict(settings.status_map),
        status_map_back=dict(settings.status_map_back),
        task_status_map=task_map,
        task_status_map_back=_TaskBack(dict(settings.task_status_map_back)),
        start_statuses=frozenset(f.statuses),
        since=f.since,
        property_ids=frozenset(f.property_ids),
        comments=s.comments,
        internal_comments=s.internal_comments,
        tool_comments_to_source=s.tool_comments_to_casavi,
        tool_files_to_source=s.tool_files_to_casavi,
        status_text_back=dict(s.status_text_back),
        suppress_rating_request=s.suppress_rating_request,
        source_comment_edits=bool(getattr(source, "comment_edits", False)),
        attributes=dict(getattr(connector, "attribute_names", None) or {}),
        assignees=s.assignees,
        source_assignees=bool(getattr(source, "assignees", False)),
        source_references=bool(getattr(source, "references", False)),
        source_due_dates=bool(getattr(source, "due_dates", False)),
        tasks=s.tasks,
        attachments=s.attachments,
        attachment_max_bytes=s.attachment_max_bytes,
        attachment_types=tuple(s.attachment_types),
        conflict_policy=s.conflict_policy,
        capabilities=connector.capabilities,
    )


def engine_settings(settings: Settings) -> EngineSettings:
    s = settings.sync
    return EngineSettings(
        overlap=timedelta(seconds=s.overlap_seconds),
        concurrency=s.concurrency,
        mass_change_share=s.mass_change_share,
        mass_change_min_items=s.mass_change_min_items,
        sweep_interval=timedelta(seconds=s.sweep_interval_seconds),
        max_attempts=s.max_attempts,
        retry_base_delay=timedelta(seconds=s.retry_base_seconds),
    )


def open_state(url: str, *, lock_wait: float = 0.0) -> tuple[Ledger, WriterLock | AdvisoryWriterLock | None]:
    """Open (and migrate) the state database, holding the one-writer lock: a lock file next to
    a SQLite file, an advisory lock on PostgreSQL (:mod:`bridge.state.advisory`)."""
    lock: WriterLock | AdvisoryWriterLock | None = None
    path = sqlite_path(url)
    if path is not None:
        if not path.parent.is_dir():
            raise ConfigError(f"[state] database <- directory {path.parent} does not exist")
        lock = WriterLock(path.with_name(path.name + ".lock"))
        lock.acquire(lock_wait)
    elif is_postgresql(url):
        lock = AdvisoryWriterLock(url)
        lock.acquire(lock_wait)
    try:
        engine = open_engine(url)
        migrate(engine)
    except Exception:
        if lock is not None:
            lock.release()
        raise
    return Ledger(engine), lock


def open_state_readonly(url: str) -> Ledger:
    """For `status`: no lock (it only reads).  A SQLite file is migrated (an old file gets the new
    columns); PostgreSQL is read as it is (only the writer migrates: no DDL beside a running daemon)."""
    engine = open_engine(url)
    if not is_postgresql(url):
        migrate(engine)
    return Ledger(engine)


@dataclass
class Bridge:
    settings: Settings
    source: Source
    connector: Connector
    ledger: Ledger
    engine: Engine
    lock: WriterLock | AdvisoryWriterLock | None
    stop: threading.Event = field(default_factory=threading.Event)

    def ensure_lock(self) -> None:
        """Before a pass: still the one writer (PostgreSQL: the lock's session is alive)."""
        ensure = getattr(self.lock, "ensure", None)
        if ensure is not None:
            ensure()

    def close(self) -> None:
        try:
            self.ledger.close()
        finally:
            if self.lock is not None:
                self.lock.release()
                self.lock = None


def observe_requests(source: Source, connector: Connector, metrics) -> None:
    """Every remote request of both sides into ``metrics`` (``casavi_bridge_requests_total``
    and ``casavi_bridge_request_duration_seconds``, labelled by side)."""
    policy = getattr(getattr(source, "client", None), "policy", None)
    if isinstance(policy, HttpPolicy):
        policy.observer = lambda status, seconds: metrics.observe_request(source.name, status, seconds)
    observe = getattr(connector, "observe_requests", None)
    if callable(observe):
        observe(lambda status, seconds: metrics.observe_request("tool", status, seconds))


class _NamesReadOnly:
    """The ledger's looked-up names for a dry run: read, never written."""

    def __init__(self, ledger: Ledger):
        self.cached_name = ledger.cached_name

    def cache_name(self, kind: str, item_id: str, name: str | None) -> None:
        pass


def build_bridge(settings: Settings, *, plugins: dict[str, Any] | None = None, lock_wait: float = 0.0,
                 metrics=None, workdir: Path | None = None,
                 state: tuple[Ledger, WriterLock | AdvisoryWriterLock | None] | None = None,
                 dry_run: bool = False) -> Bridge:
    """``state``: an already opened ledger and its lock (a fleet tenant's); else ``[state]`` is
    opened here, waiting up to ``lock_wait`` seconds for the one-writer lock.  ``dry_run``: the
    bridge only plans (``reconcile --dry-run``); names it looks up are not kept."""
    source = build_source(settings)
    connector = build_connector(settings, plugins)
    if metrics is not None:
        observe_requests(source, connector, metrics)
    ledger, lock = state if state is not None else open_state(settings.state.database, lock_wait=lock_wait)
    keep_names = getattr(source, "keep_names", None)
    if keep_names is not None and settings.casavi is not None:
        keep_names(_NamesReadOnly(ledger) if dry_run else ledger, timedelta(hours=settings.casavi.names_max_age_hours))
    stop = threading.Event()
    engine = Engine(source, connector, ledger, build_rules(settings, connector, source), engine_settings(settings),
                    workdir=workdir, metrics=metrics, stop=stop)
    return Bridge(settings, source, connector, ledger, engine, lock, stop)

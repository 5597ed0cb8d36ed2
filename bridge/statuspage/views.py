"""What the status page shows of one tenant, read from its ledger: plain values, no I/O later.

A :class:`Tenant` is the live handle the daemon hands the page (name, ledger, the engine's
``max_attempts``, the latest ``check`` findings); :func:`tenant_view` reads it into a
:class:`TenantView` per request.  The page is built around a *list* of tenants: a single
daemon has one, a fleet worker one per tenant it works.

What is deliberately left out (the page may be seen by more people than the configuration):
conflict values (ticket text), ticket descriptions and comments, every secret.  Error texts
are scrubbed like log lines (:func:`bridge.logging.scrub_text`) and cut to
:data:`ERROR_CHARS` characters.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bridge.logging import scrub_text
from bridge.state.ledger import Ledger
from bridge.sync.engine import write_count

ERROR_CHARS = 500
RUNS_SHOWN = 10
CONFLICTS_SHOWN = 20


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


@dataclass
class CheckFindings:
    """The latest `check` findings of a tenant (one line each; empty: all fine) and when they were
    taken; ``None`` lines: not checked yet.  Written by the daemon's thread, read by the page's."""

    lines: list[str] | None = None
    checked_at: datetime | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def update(self, lines: list[str], at: datetime | None = None) -> None:
        with self._lock:
            self.lines, self.checked_at = list(lines), at or datetime.now(timezone.utc)

    def snapshot(self) -> tuple[list[str] | None, datetime | None]:
        with self._lock:
            return (None if self.lines is None else list(self.lines)), self.checked_at


@dataclass
class Tenant:
    """A tenant as the page reaches it: its name, source and tool names, its ledger, the engine's
    ``max_attempts`` (when an item gives up), and its check findings."""

    name: str
    source: str
    tool: str
    ledger: Ledger
    max_attempts: int
    findings: CheckFindings = field(default_factory=CheckFindings)


@dataclass(frozen=True)
class QuarantineEntry:
    item: str  # the source key, e.g. "casavi:T-00012"
    target: str | None  # the tool's display id when the item is linked, e.g. "SBX-12"
    error_class: str
    error: str  # scrubbed, at most ERROR_CHARS characters
    attempts: int
    first_failed_at: datetime | None
    last_failed_at: datetime | None
    next_retry_at: datetime | None
    given_up: bool  # attempts reached max_attempts: the engine no longer retries it by itself
    due: bool  # the next pass picks it up
    action: str = ""  # the failing write ("status → New in the tool"); empty: the item could not be read


@dataclass(frozen=True)
class TenantView:
    name: str
    source: str
    tool: str
    max_attempts: int
    links: dict[str, int]
    last_success: datetime | None  # the end of the last pass whose outcome was "ok"
    runs: list[dict[str, Any]]
    cursors: list[dict[str, Any]]
    quarantine: list[QuarantineEntry]
    conflicts: list[dict[str, Any]]
    orphans: list[dict[str, Any]]
    pending_intents: int
    findings: list[str] | None
    findings_at: datetime | None


def short_error(text: str) -> str:
    text = scrub_text(text or "")
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS - 1] + "…"


def tenant_view(tenant: Tenant, now: datetime | None = None) -> TenantView:
    """Read everything the page shows of ``tenant`` (a handful of small queries)."""
    now = now or datetime.now(timezone.utc)
    ledger = tenant.ledger
    targets = {}
    quarantined = ledger.quarantined()
    if quarantined:
        for link in ledger.item_links_for([q.item_key for q in quarantined]):
            targets[link.source_key] = link.target_display_id or link.target_id
    quarantine = []
    for q in quarantined:
        next_retry = _utc(q.next_retry_at)
        given_up = q.kind == "dropped" or q.attempts >= tenant.max_attempts
        quarantine.append(QuarantineEntry(
            item=q.item_key, target=targets.get(q.item_key), error_class=q.error_class, error=short_error(q.error),
            attempts=q.attempts, first_failed_at=_utc(q.first_failed_at), last_failed_at=_utc(q.last_failed_at),
            next_retry_at=next_retry, given_up=given_up,
            due=not given_up and next_retry is not None and next_retry <= now, action=q.action))
    runs = [{"kind": r.kind, "started_at": _utc(r.started_at), "finished_at": _utc(r.finished_at),
             "outcome": r.outcome or "running", "writes": write_count(r.counts or {}),
             "candidates": (r.counts or {}).get("candidates"), "errors": r.errors,
             "message": short_error(r.message) if r.message else None}
            for r in ledger.runs(RUNS_SHOWN)]
    last_ok = ledger.last_run_with_outcome("ok")
    findings, findings_at = tenant.findings.snapshot()
    return TenantView(
        name=tenant.name, source=tenant.source, tool=tenant.tool, max_attempts=tenant.max_attempts,
        links=ledger.count_links(),
        last_success=_utc(last_ok.finished_at) if last_ok is not None else None,
        runs=runs,
        cursors=[{"stream": c.stream, "position": _utc(c.position), "updated_at": _utc(c.updated_at)}
                 for c in ledger.cursors()],
        quarantine=quarantine,
        conflicts=[{"item": c.item_key, "field": c.field_name, "policy": c.policy, "winner": c.winner,
                    "at": _utc(c.detected_at)} for c in ledger.conflicts(CONFLICTS_SHOWN)],
        orphans=[{"item": o.source_key, "target": o.target_display_id or o.target_id, "missing_on": o.orphan_side,
                  "since": _utc(o.orphaned_at)} for o in ledger.orphans()],
        pending_intents=len(ledger.intents()),
        findings=findings, findings_at=_utc(findings_at),
    )

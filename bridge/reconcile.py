"""What `reconcile` and `status` print: the plan of a full comparison, and the state's summary."""

from __future__ import annotations

from collections import Counter
from typing import Any

import click

from bridge.state.ledger import Ledger
from bridge.sync import actions as a
from bridge.sync.engine import PassReport


class Progress:
    """Reconcile's progress: a bar on a terminal, a plain line every 10 % otherwise (journald)."""

    def __init__(self, stream=None):
        import sys

        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.total = 0
        self.done = 0
        self._bar = None
        self._last_tenth = -1

    def start(self, total: int) -> None:
        self.total = total
        if self.tty and total:
            self._bar = click.progressbar(length=total, label="comparing", file=self.stream)
            self._bar.__enter__()
        elif total:
            click.echo(f"comparing {total} items", file=self.stream)

    def step(self) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)
        elif self.total:
            tenth = self.done * 10 // self.total
            if tenth != self._last_tenth:
                self._last_tenth = tenth
                click.echo(f"compared {self.done}/{self.total}", file=self.stream)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def print_plan(report: PassReport, *, dry_run: bool) -> None:
    writes = [(key, [x for x in plan if a.is_write(x) or isinstance(x, (a.RecordConflict, a.ReportOrphan, a.Note))])
              for key, plan in report.planned]
    writes = [(k, p) for k, p in writes if p]
    verb = "would" if dry_run else "did"
    for key, plan in writes:
        click.echo(key)
        for action in plan:
            click.echo(f"  {action.describe()}")
    totals = Counter(type(x).__name__ for _, plan in writes for x in plan if a.is_write(x))
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(totals.items())) or "nothing"
    click.echo(f"{len(report.planned)} items compared; {verb} change: {summary}")
    for key, error in sorted(report.failed.items()):
        click.echo(f"FAILED {key}: {error}")
    for key, held in report.held:
        click.echo(f"WAITING {key}: {held.describe()}")
    for problem in report.problems:
        click.echo(f"unreadable: {problem}")


def status_data(ledger: Ledger, max_attempts: int | None = None) -> dict[str, Any]:
    """Everything ``status`` shows.  Each quarantine entry is one write (``action``; empty for an
    item that could not be read) with the counterpart's answer (``error``); ``given_up`` when it
    used up ``max_attempts`` and waits for a person's change on either side."""
    return {
        "links": ledger.count_links(),
        "cursors": [{"stream": c.stream, "position": c.position, "signpost": c.signpost, "updated_at": c.updated_at}
                    for c in ledger.cursors()],
        "quarantine": [{"item": q.item_key, "action": q.action, "action_key": q.action_key, "kind": q.kind,
                        "error_class": q.error_class, "error": q.error, "attempts": q.attempts,
                        "given_up": q.kind == "dropped" or (max_attempts is not None and q.attempts >= max_attempts),
                        "next_retry_at": q.next_retry_at, "first_failed_at": q.first_failed_at}
                       for q in ledger.quarantined()],
        "orphans": [{"item": o.source_key, "target": o.target_display_id or o.target_id, "missing_on": o.orphan_side,
                     "since": o.orphaned_at} for o in ledger.orphans()],
        "conflicts": [{"item": c.item_key, "field": c.field_name, "winner": c.winner, "policy": c.policy,
                       "at": c.detected_at} for c in ledger.conflicts()],
        "runs": [{"kind": r.kind, "started_at": r.started_at, "finished_at": r.finished_at, "outcome": r.outcome,
                  "counts": r.counts, "errors": r.errors, "message": r.message} for r in ledger.runs()],
        "pending_intents": [i.item_key for i in ledger.intents()],
    }


def print_status(data: dict[str, Any]) -> None:
    links = data["links"]
    click.echo("links: " + (", ".join(f"{n} {k}s" for k, n in sorted(links.items())) or "none yet"))
    for c in data["cursors"]:
        click.echo(f"cursor {c['stream']}: {c['position']}")
    click.echo(f"quarantine: {len(data['quarantine'])}")
    for q in data["quarantine"]:
        if q.get("kind") == "dropped" and q.get("error_class") == "SkippedError":
            when = "skipped, a notice in the tool says so; not retried — `casavi-bridge clear` tries it once more"
        elif q.get("kind") == "dropped":
            when = "written, not all stored; not retried — `casavi-bridge clear` once handled"
        elif q.get("given_up"):
            when = "given up: waits for a change on either side"
        else:
            when = f"next {q['next_retry_at']}"
        what = f" {q['action']}" if q.get("action") else ""
        click.echo(f"  {q['item']}{what}: {q['error_class']}: {q['error'][:300]} (attempts {q['attempts']}, {when})")
    if data["orphans"]:
        click.echo(f"orphaned (missing on one side, nothing deleted): {len(data['orphans'])}")
        for o in data["orphans"]:
            click.echo(f"  {o['item']} ↔ {o['target']}: missing on the {o['missing_on']} side since {o['since']}")
    if data["conflicts"]:
        click.echo(f"recent conflicts: {len(data['conflicts'])}")
        for c in data["conflicts"][:10]:
            click.echo(f"  {c['item']} {c['field']}: {c['winner']} won ({c['policy']}) at {c['at']}")
    for r in data["runs"][:5]:
        counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in (r["counts"] or {}).items())
        click.echo(f"run {r['kind']} {r['started_at']} → {r['outcome']} ({r['errors']} errors){': ' if counts else ''}"
                   f"{counts}")

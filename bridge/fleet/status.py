"""``casavi-bridge status --config FLEET.toml``: every tenant, who works it, how it fares.

What it reads: the tenant files (a bad one is listed with its problems), ``pg_locks`` for the
worker holding each tenant (its ``application_name``: ``casavi-bridge worker host:pid``), and
each tenant's own schema (links, quarantine, last pass).  It takes no lock and writes nothing.
"""

from __future__ import annotations

from typing import Any

import click

from bridge.fleet.claims import WORKER_CLASS, _WORKERS
from bridge.fleet.config import FleetSettings, scan_tenants, tenant_schema
from bridge.fleet.tenant_state import read_tenant_ledger
from bridge.state.advisory import LockSession, lock_key
from bridge.state.db import open_engine


def fleet_status(fleet: FleetSettings) -> dict[str, Any]:
    scan = scan_tenants(fleet)
    session = LockSession(fleet.state.database, application_name="casavi-bridge status")
    engine = open_engine(fleet.state.database, pool_size=1)
    try:
        holders = session.holders()
        workers = sorted(name or f"backend pid {pid}" for pid, _wid, name in session._run(_WORKERS, cls=WORKER_CLASS))
        tenants = []
        for name in sorted(set(scan.tenants) | set(scan.problems) - {"[fleet]"}):
            schema = tenant_schema(name)
            holder = holders.get(lock_key(schema))
            entry: dict[str, Any] = {"tenant": name, "worker": (holder[1] or f"backend pid {holder[0]}") if holder else None,
                                     "config_problems": scan.problems.get(name, []), "links": {}, "quarantine": 0,
                                     "last_pass": None, "errors": 0}
            ledger = read_tenant_ledger(engine, schema)
            if ledger is not None:
                entry["links"] = ledger.count_links()
                entry["quarantine"] = len(ledger.quarantined())
                runs = ledger.runs(limit=1)
                if runs:
                    r = runs[0]
                    entry["last_pass"] = {"kind": r.kind, "started_at": r.started_at, "finished_at": r.finished_at,
                                          "outcome": r.outcome, "errors": r.errors, "message": r.message}
                    entry["errors"] = r.errors
            tenants.append(entry)
        return {"workers": workers, "tenants": tenants, "fleet_problems": scan.problems.get("[fleet]", [])}
    finally:
        session.close()
        engine.dispose()


def print_fleet_status(data: dict[str, Any]) -> None:
    click.echo(f"workers: {len(data['workers'])}" + "".join(f"\n  {w}" for w in data["workers"]))
    for p in data["fleet_problems"]:
        click.echo(p)
    click.echo(f"{'tenant':24} {'worker':40} {'tickets':>7} {'quarantine':>10} {'errors':>6}  last pass")
    for t in data["tenants"]:
        last = t["last_pass"]
        when = f"{last['finished_at'] or last['started_at']} {last['outcome'] or 'running'}" if last else "never"
        click.echo(f"{t['tenant']:24} {t['worker'] or '-':40} {t['links'].get('ticket', 0):>7} {t['quarantine']:>10} "
                   f"{t['errors']:>6}  {when}")
        for p in t["config_problems"]:
            click.echo(f"  skipped: {p}")


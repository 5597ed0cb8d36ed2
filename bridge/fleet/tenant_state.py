"""A tenant's state: its own PostgreSQL schema, migrated, through the fleet's shared engine."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bridge.state.advisory import AdvisoryWriterLock
from bridge.state.db import migrate, open_engine
from bridge.state.ledger import Ledger


def tenant_ledger(engine: Engine, schema: str) -> Ledger:
    """Migrate ``schema`` and return a ledger whose every statement goes to its tables.

    Call it only while holding the tenant's lock (migrations are DDL).  The ledger shares the
    engine's connection pool: a worker needs connections for the tenants it passes at once, not
    for every tenant it holds."""
    migrate(engine, schema=schema)
    return Ledger(engine.execution_options(schema_translate_map={None: schema}))


def open_tenant_state(url: str, schema: str, *, lock_wait: float = 0.0) -> tuple[Ledger, AdvisoryWriterLock]:
    """For ``reconcile`` / ``db upgrade`` on one tenant: take the tenant's lock (a worker holding
    it lets go between passes when it sees someone waiting), then open its ledger."""
    lock = AdvisoryWriterLock(url, schema)
    lock.acquire(lock_wait)
    try:
        return tenant_ledger(open_engine(url), schema), lock
    except Exception:
        lock.release()
        raise


def read_tenant_ledger(engine: Engine, schema: str) -> Ledger | None:
    """For ``status``: the tenant's ledger if its schema exists (it never ran: None)."""
    from sqlalchemy import inspect

    if schema not in inspect(engine).get_schema_names():
        return None
    return Ledger(engine.execution_options(schema_translate_map={None: schema}))

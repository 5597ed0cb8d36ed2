"""Which worker works which tenant: session advisory locks in PostgreSQL, nothing of our own.

A worker holds one :class:`~bridge.state.advisory.LockSession`.  On it:

- a *presence* lock ``(WORKER_CLASS, worker id)`` (the two-key form, ``objsubid = 2`` in
  ``pg_locks``) for as long as the worker lives: counting them tells every worker how many are
  alive, and so its fair share (``ceil(tenants / workers)``);
- one *claim* per tenant it works: the tenant schema's 64-bit lock (``lock_key``), the same one a
  single daemon takes on its schema, so a tenant has one writer whoever runs it.

All of them end with the session: a worker killed with SIGKILL loses its claims the moment its
socket closes; a lost machine's when TCP keepalives give up (``keepalive_seconds``).
"""

from __future__ import annotations

import random

from sqlalchemy import text

from bridge.state.advisory import LockSession, default_application_name, lock_key

WORKER_CLASS = 0x43425257  # "CBRW": the presence locks' first key

_WORKERS = text("""
SELECT l.pid, l.objid::bigint, coalesce(a.application_name, '') FROM pg_locks l
LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.classid = :cls AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
""")


class Claims:
    """One worker's session: presence, claims, and what it sees of the others.

    Errors: :class:`~bridge.errors.RetriableError` when PostgreSQL cannot be reached or the
    session was lost (then every claim is gone too).
    """

    def __init__(self, url: str, *, keepalive_seconds: float):
        self.session = LockSession(url, application_name=default_application_name("worker"),
                                   keepalive_seconds=keepalive_seconds)
        rng = random.SystemRandom()
        while True:
            self.worker_id = rng.randrange(1, 2**31)
            if self.session._run("SELECT pg_try_advisory_lock(:c, :w)", c=WORKER_CLASS, w=self.worker_id).scalar_one():
                break

    @property
    def name(self) -> str:
        return self.session.application_name

    def workers(self) -> dict[int, str]:
        """Live workers: backend pid → application name (``casavi-bridge worker host:pid``)."""
        return {pid: name for pid, _wid, name in self.session._run(_WORKERS, cls=WORKER_CLASS)}

    def claim(self, schema: str) -> bool:
        return self.session.try_lock(lock_key(schema))

    def release(self, schema: str) -> None:
        self.session.unlock(lock_key(schema))

    def holders(self) -> dict[int, tuple[int, str]]:
        return self.session.holders()

    def held(self) -> set[int]:
        return self.session.held()

    def waiting(self) -> set[int]:
        return self.session.waiting()

    def alive(self) -> bool:
        return self.session.alive()

    def close(self) -> None:
        self.session.close()

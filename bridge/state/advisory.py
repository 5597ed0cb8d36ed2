"""The one-writer rule on PostgreSQL: session advisory locks, held by PostgreSQL itself.

A lock is held by one database session (https://www.postgresql.org/docs/15/explicit-locking.html
#ADVISORY-LOCKS: "held until explicitly released or the session ends") and shows in the
``pg_locks`` view with the holder's ``pid``.  So the lock dies with its holder: a killed process's
socket is closed by its kernel and the server ends the session at once; a lost machine's session
ends when TCP keepalives give up, which :class:`LockSession` asks for on both ends (the server's
``tcp_keepalives_*`` settings are per session, https://www.postgresql.org/docs/15/runtime-config-
connection.html) so that it takes at most ``keepalive_seconds``.

Keys are 64-bit (the ``pg_try_advisory_lock(bigint)`` form): a hash of ``casavi-bridge:`` and
the state's schema name, so a fleet tenant's lock and a single daemon's lock on the same schema
are the same lock.  In ``pg_locks`` such a key shows as ``classid`` (high 32 bits), ``objid``
(low 32 bits) and ``objsubid = 1``.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from bridge.errors import RetriableError
from bridge.state.db import DatabaseLockedError

_HOLDERS = text("""
SELECT l.classid::bigint, l.objid::bigint, l.pid, l.granted, coalesce(a.application_name, '')
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
""")


def lock_key(schema: str) -> int:
    """The advisory lock key (signed 64-bit) of the state in ``schema``."""
    digest = hashlib.blake2b(f"casavi-bridge:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _key_of(classid: int, objid: int) -> int:
    unsigned = (classid << 32) | objid
    return unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned


def _split(key: int) -> tuple[int, int]:
    unsigned = key & ((1 << 64) - 1)
    return unsigned >> 32, unsigned & 0xFFFFFFFF


def default_application_name(role: str) -> str:
    return f"casavi-bridge {role} {socket.gethostname()}:{os.getpid()}"[:63]


class LockSession:
    """One PostgreSQL session that holds advisory locks: a worker's claims, or a daemon's writer lock.

    Thread-safe (one statement at a time).  ``keepalive_seconds``: how long a silent peer may
    take before either end gives the session up (and with it every lock it holds).
    Errors: :class:`~bridge.errors.RetriableError` when the database cannot be reached.
    """

    def __init__(self, url: str, *, application_name: str, keepalive_seconds: float = 60.0):
        idle = max(1, int(keepalive_seconds / 3))
        interval = max(1, int(keepalive_seconds / 9))
        server_side = (f"-c tcp_keepalives_idle={idle} -c tcp_keepalives_interval={interval} "
                       f"-c tcp_keepalives_count=3 -c tcp_user_timeout={int(keepalive_seconds * 1000)} "
                       "-c idle_session_timeout=0 -c idle_in_transaction_session_timeout=0")
        args = {"application_name": application_name, "keepalives": 1, "keepalives_idle": idle,
                "keepalives_interval": interval, "keepalives_count": 3,
                "tcp_user_timeout": int(keepalive_seconds * 1000), "options": server_side,
                "connect_timeout": max(2, int(keepalive_seconds / 3))}
        self._engine = create_engine(url, poolclass=NullPool, connect_args=args)
        self._mutex = threading.Lock()
        self.application_name = application_name
        try:
            self._conn: Connection | None = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self.backend_pid: int = self._conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        except DBAPIError as exc:
            self._engine.dispose()
            raise RetriableError(f"PostgreSQL unreachable: {type(exc.orig).__name__}: {exc.orig}") from None

    def _run(self, sql, **params):
        with self._mutex:
            if self._conn is None:
                raise RetriableError("the lock session is closed")
            try:
                return self._conn.execute(text(sql) if isinstance(sql, str) else sql, params)
            except DBAPIError as exc:
                raise RetriableError(f"lock session lost: {type(exc.orig).__name__}: {exc.orig}") from None

    def current_schema(self) -> str:
        return self._run("SELECT current_schema()").scalar_one()

    def try_lock(self, key: int) -> bool:
        return bool(self._run("SELECT pg_try_advisory_lock(:k)", k=key).scalar_one())

    def wait_lock(self, key: int, seconds: float) -> bool:
        """Wait up to ``seconds`` for the lock, visibly: the request shows in ``pg_locks`` as
        not granted, which a fleet worker takes as a request to let the tenant go."""
        if seconds <= 0:
            return self.try_lock(key)
        with self._mutex:
            assert self._conn is not None
            try:
                self._conn.execute(text(f"SET lock_timeout = {int(seconds * 1000)}"))
                self._conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                return True
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                    return False
                raise RetriableError(f"lock session lost: {type(exc.orig).__name__}: {exc.orig}") from None
            finally:
                try:
                    self._conn.execute(text("RESET lock_timeout"))
                except DBAPIError:
                    pass

    def unlock(self, key: int) -> None:
        self._run("SELECT pg_advisory_unlock(:k)", k=key)

    def alive(self) -> bool:
        try:
            self._run("SELECT 1")
            return True
        except RetriableError:
            return False

    def held(self) -> set[int]:
        """The keys this session holds, as PostgreSQL sees them."""
        return {_key_of(c, o) for c, o, pid, granted, _ in self._run(_HOLDERS) if pid == self.backend_pid and granted}

    def holders(self) -> dict[int, tuple[int, str]]:
        """Every granted casavi-bridge-style lock in this database: key → (pid, application name)."""
        return {_key_of(c, o): (pid, name) for c, o, pid, granted, name in self._run(_HOLDERS) if granted}

    def waiting(self) -> set[int]:
        """Keys someone is waiting for (``pg_advisory_lock`` not yet granted)."""
        return {_key_of(c, o) for c, o, _pid, granted, _ in self._run(_HOLDERS) if not granted}

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                try:
                    self._conn.close()
                except DBAPIError:
                    pass
                self._conn = None
        self._engine.dispose()


class AdvisoryWriterLock:
    """The one-writer lock of a PostgreSQL state database (``acquire``/``release`` like
    :class:`bridge.state.db.WriterLock`): an advisory lock on the state's schema, held by a
    session of its own for the life of the process."""

    def __init__(self, url: str, schema: str | None = None):
        self.url = url
        self.schema = schema
        self.session: LockSession | None = None

    def acquire(self, wait_seconds: float = 0.0) -> None:
        session = LockSession(self.url, application_name=default_application_name("daemon"))
        schema = self.schema or session.current_schema()
        key = lock_key(schema)
        deadline = time.monotonic() + wait_seconds
        if not session.wait_lock(key, max(0.0, deadline - time.monotonic())):
            holder = session.holders().get(key)
            session.close()
            who = f"{holder[1] or 'a session'} (backend pid {holder[0]})" if holder else "another session"
            raise DatabaseLockedError(f"the state database is in use by {who} (PostgreSQL schema {schema!r}); "
                                      "one casavi-bridge per database")
        self.session = session

    def ensure(self) -> None:
        """Before a pass: the session still holds the lock, or is replaced by one that takes it
        again.  Raises :class:`DatabaseLockedError` if someone else took it in between."""
        if self.session is not None and self.session.alive():
            return
        self.release()
        self.acquire(0.0)

    def release(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

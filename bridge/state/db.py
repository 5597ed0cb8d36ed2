"""Opening the state database: file mode 0600, WAL, one writer, migrations at start.

The URL is configuration: ``sqlite:///...`` (the embedded default) or
``postgresql+psycopg://user@host/db`` (psycopg 3).  Nothing here is SQLite-only except what is
guarded by the dialect.  The one-writer rule: a lock file (:class:`WriterLock`) for SQLite, a
session advisory lock held by PostgreSQL itself for PostgreSQL (:mod:`bridge.state.advisory`).
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import create_engine

from bridge.errors import ConfigError, FatalError

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseLockedError(FatalError):
    """Another casavi-bridge process holds this state database."""


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


class WriterLock:
    """An exclusive ``flock`` on ``<db>.lock`` held for the life of the process.

    ``wait_seconds`` > 0 waits for the lock (the nightly reconcile waits for a running pass);
    otherwise a second daemon on the same database refuses to start.
    """

    def __init__(self, path: Path):
        self.path = path
        self._fh = None

    def acquire(self, wait_seconds: float = 0.0) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fh = os.fdopen(fd, "r+")
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = fh.read().strip() or "another process"
                    fh.close()
                    raise DatabaseLockedError(
                        f"the state database is in use by {holder} ({self.path}); one casavi-bridge per database"
                    ) from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def _prepare_sqlite_file(path: Path) -> None:
    """Create the database file with mode 0600 before SQLite does (SQLite gives its -wal and
    -shm files the database file's mode)."""
    if not path.parent.exists():
        raise ConfigError(f"[state] database <- directory {path.parent} does not exist")
    if not path.exists():
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


def is_postgresql(url: str) -> bool:
    try:
        return make_url(url).get_backend_name() == "postgresql"
    except Exception:  # noqa: BLE001 - a malformed URL is reported when the engine is made
        return False


def open_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for the URL; SQLite gets WAL, a busy timeout and foreign keys; PostgreSQL a
    pool of ``pool_size`` connections (and as many again on demand), checked before use."""
    path = sqlite_path(url)
    if path is not None:
        _prepare_sqlite_file(path)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no branch - runs for every connection
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    try:
        return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)
    except Exception as exc:  # noqa: BLE001 - unknown driver, malformed URL
        raise ConfigError(f"[state] database <- cannot use this URL ({type(exc).__name__}: {exc})") from None


def migrate(engine: Engine, schema: str | None = None, revision: str = "head") -> None:
    """Bring the schema to ``revision``, the newest by default (run automatically at start).

    ``schema`` (PostgreSQL): the tables live in that schema (a fleet tenant's), created if
    missing; the same migrations run there with their own ``alembic_version``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if schema is not None:
            quoted = connection.dialect.identifier_preparer.quote_identifier(schema)
            connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
            connection.exec_driver_sql(f"SET LOCAL search_path TO {quoted}")
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def current_revision(engine: Engine, schema: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        if schema is not None:
            quoted = connection.dialect.identifier_preparer.quote_identifier(schema)
            connection.exec_driver_sql(f"SET search_path TO {quoted}")
        try:
            return MigrationContext.configure(connection).get_current_revision()
        finally:
            if schema is not None:
                connection.exec_driver_sql("RESET search_path")

"""A throwaway PostgreSQL cluster for tests and benchmarks (fleet state on a real PostgreSQL).

Debian's ``postgresql`` package provides the server (``/usr/lib/postgresql/<version>/bin``;
``tests/system-deps.sh`` installs it).  :func:`throwaway_postgres` makes a cluster with
``initdb`` in a temporary directory, listening on 127.0.0.1 on a free port only, trusting local
connections, without fsync (a throwaway: speed over durability).  PostgreSQL refuses to run as
root, so when called as root the cluster belongs to the ``postgres`` user (created by the Debian
package) and is started through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def _pg_bin() -> Path:
    found = sorted(glob.glob(PG_BIN_GLOB), key=lambda p: int(Path(p).parent.name))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: "
                           "run `bash tests/system-deps.sh` (installs Debian's postgresql package)")
    return Path(found[-1])


def pg_tool(name: str) -> Path:
    """The path of one of PostgreSQL's programs (``pg_restore``, ``psql``...) of the newest
    installed server version, so client and server match.  RuntimeError when none is installed."""
    return _pg_bin() / name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    port: int
    datadir: Path
    user: str = "postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def admin(self):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True)


def _as_owner(owner: str | None, argv: list[str]) -> list[str]:
    return ["runuser", "-u", owner, "--", *argv] if owner else argv


@contextmanager
def throwaway_postgres() -> Iterator[PostgresServer]:
    """Start a PostgreSQL cluster in a temporary directory on 127.0.0.1; stop and delete it after."""
    bindir = _pg_bin()
    owner = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="casavi-bridge-pg-"))
    datadir, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if owner:
        uid = pwd.getpwnam(owner).pw_uid
        os.chmod(base, 0o755)
        os.chown(base, uid, -1)
        os.chown(sockets, uid, -1)
    port = _free_port()
    subprocess.run(_as_owner(owner, [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust",
                                     "-E", "UTF8", "--no-sync", "--locale=C"]),
                   check=True, capture_output=True, text=True)
    options = (f"-p {port} -c listen_addresses=127.0.0.1 -k {sockets} -c fsync=off -c synchronous_commit=off "
               f"-c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB")
    subprocess.run(_as_owner(owner, [str(bindir / "pg_ctl"), "-D", str(datadir), "-o", options, "-w", "-t", "60",
                                     "-l", str(base / "server.log"), "start"]),
                   check=True, capture_output=True, text=True)
    server = PostgresServer(port, datadir)
    try:
        yield server
    finally:
        subprocess.run(_as_owner(owner, [str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w",
                                         "stop"]), capture_output=True, text=True)
        shutil.rmtree(base, ignore_errors=True)


def create_database(server: PostgresServer, name: str) -> str:
    """A new empty database; its SQLAlchemy URL."""
    with server.admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


def drop_database(server: PostgresServer, name: str) -> None:
    with server.admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

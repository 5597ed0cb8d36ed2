"""The memory connector's store: plain dicts, optionally persisted to one JSON file.

Persistence exists so that a bridge process can be killed at any moment and the tool's side
survives (crash tests): every mutation is written with write-to-temp + fsync + rename under an
exclusive ``flock``, and every operation re-reads the file when another process changed it.
File attachments live beside it in ``<file>.files/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="microseconds")


class MemoryStore:
    """Items keyed by target id; ids and timestamps strictly increase."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path else None
        self._lock = threading.RLock()
        self._data: dict[str, Any] = {"next_id": 1, "last_ts": None, "items": {}, "blobs": {}}
        self._loaded_stamp: tuple[int, int] | None = None
        self._files_dir: Path | None = None

    # --- persistence -------------------------------------------------------------------
    @property
    def files_dir(self) -> Path:
        if self._files_dir is None:
            if self.path is not None:
                self._files_dir = self.path.with_name(self.path.name + ".files")
            else:
                self._files_dir = Path(tempfile.mkdtemp(prefix="casavi-bridge-memory-"))
            self._files_dir.mkdir(parents=True, exist_ok=True)
        return self._files_dir

    @contextlib.contextmanager
    def transaction(self, write: bool) -> Iterator[dict[str, Any]]:
        """Yield the current data; with ``write`` the changes are saved before the lock is released."""
        with self._lock:
            if self.path is None:
                yield self._data
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock_path = self.path.with_name(self.path.name + ".lock")
            with open(lock_path, "a+") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
                try:
                    self._reload_if_changed()
                    yield self._data
                    if write:
                        self._save()
                finally:
                    fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _reload_if_changed(self) -> None:
        assert self.path is not None
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._loaded_stamp:
            self._data = json.loads(self.path.read_text("utf-8"))
            self._loaded_stamp = stamp

    def _save(self) -> None:
        assert self.path is not None
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self._data, fh, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        st = self.path.stat()
        self._loaded_stamp = (st.st_mtime_ns, st.st_size)

    # --- helpers used inside a transaction -------------------------------------------------
    @staticmethod
    def next_id(data: dict[str, Any]) -> str:
        value = data["next_id"]
        data["next_id"] = value + 1
        return str(value)

    @staticmethod
    def tick(data: dict[str, Any]) -> str:
        """A new timestamp, strictly later than every earlier one (ms steps)."""
        now = utc_now()
        last = data.get("last_ts")
        if last is not None:
            last_dt = datetime.fromisoformat(last)
            if now <= last_dt:
                now = last_dt + timedelta(milliseconds=1)
        data["last_ts"] = iso(now)
        return data["last_ts"]

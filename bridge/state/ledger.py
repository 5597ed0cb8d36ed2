"""The ledger: every read and write of the state database goes through here.

Writes are serialised by one lock (SQLite has one writer) and each ``record_*`` call is one
transaction, so the link and both sides' hashes land together right after a remote write.
The SQL is portable between SQLite and PostgreSQL: the ORM, or Core statements SQLAlchemy
compiles for the dialect (the upserts; the JSON merge in :mod:`bridge.state.json_merge`).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping

from sqlalchemy import and_, bindparam, case, delete, func, not_, or_, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, select

from bridge.errors import DroppedError, FatalError, SkippedError
from bridge.state.json_merge import json_merge
from bridge.state.tables import CachedName, Conflict, Cursor, Intent, Link, Quarantine, RunLog, utc_now
from bridge.sync.links import KIND_TICKET, ItemLinks, LinkView, child_key


def _orphan_mark(kept) -> dict[str, Any]:
    """The ``orphaned_at``/``orphan_side`` values of a link update: as they are where ``kept``
    holds, cleared elsewhere (SET expressions read the row as it was, on SQLite and PostgreSQL)."""
    table = Link.__table__
    return {"orphaned_at": case((kept, table.c.orphaned_at), else_=None),
            "orphan_side": case((kept, table.c.orphan_side), else_=None)}


def _upsert_link(dialect: str):
    """``INSERT ... ON CONFLICT (kind, source_key) DO UPDATE`` for the engine's dialect
    (SQLite and PostgreSQL both have it; SQLAlchemy builds each one's syntax): hashes merged
    field by field (:class:`json_merge`), versions and display id kept where not given."""
    insert = _dialect_insert(dialect)
    table = Link.__table__
    stmt = insert(table)
    keep = lambda name: func.coalesce(getattr(stmt.excluded, name), table.c[name])  # noqa: E731
    # An orphan mark goes when the record carries a version read from the side that was missing;
    # a record of the other side alone (a tool-side change finished without reading casavi)
    # proves nothing about it.
    still_orphan = or_(and_(table.c.orphan_side == "source", stmt.excluded.source_version.is_(None)),
                       and_(table.c.orphan_side == "target", stmt.excluded.target_version.is_(None)))
    return stmt.on_conflict_do_update(index_elements=["kind", "source_key"], set_={
        "target_id": stmt.excluded.target_id,
        "target_display_id": keep("target_display_id"),
        "source_hashes": json_merge(table.c.source_hashes, stmt.excluded.source_hashes),
        "target_hashes": json_merge(table.c.target_hashes, stmt.excluded.target_hashes),
        "source_version": keep("source_version"),
        "target_version": keep("target_version"),
        "read_whole_at": keep("read_whole_at"),
        **_orphan_mark(still_orphan),
        "updated_at": stmt.excluded.updated_at,
    })


def _add_intent(dialect: str):
    return _dialect_insert(dialect)(Intent.__table__).on_conflict_do_nothing(index_elements=["item_key"])


def _dialect_insert(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise FatalError(f"[state] database <- unsupported database {dialect!r} (SQLite or PostgreSQL)")
    return insert


def _aware(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt


class Ledger:
    def __init__(self, engine: Engine):
        """``engine``: the state database's engine, or one carrying a ``schema_translate_map``
        (a fleet tenant's schema on PostgreSQL): every statement here goes through it."""
        self.engine = engine
        self._write_lock = threading.Lock()
        # SQLite: the Core writes (a link after every remote write) go through one connection
        # held for the ledger's life instead of a pool checkout, reset and check-in each: about a
        # fifth of a link's CPU.  PostgreSQL keeps the pool, which checks a connection before use.
        self._hold_writer = engine.dialect.name == "sqlite"
        self._writer: Connection | None = None
        self._upsert_link = _upsert_link(engine.dialect.name)
        self._add_intent = _add_intent(engine.dialect.name)
        # The reads every item of a pass makes, built once (Core: a third of the ORM's CPU).
        links, intents, held = Link.__table__, Intent.__table__, Quarantine.__table__
        self._item_links = select(links).where(links.c.item_key == bindparam("item_key"))
        self._item_link = select(links).where(links.c.kind == KIND_TICKET, links.c.source_key == bindparam("item_key"))
        self._has_intent = select(intents.c.intent_id).where(intents.c.item_key == bindparam("item_key")).limit(1)
        self._held = select(held.c.action_key, held.c.kind).where(held.c.item_key == bindparam("item_key"))

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One transaction of Core writes under the writer lock, committed on leaving, rolled
        back on an error.  A held connection that saw an error is discarded (invalidated, not
        given back to the pool) and a fresh one opened next time."""
        with self._write_lock:
            if not self._hold_writer:
                with self.engine.begin() as conn:
                    yield conn
                return
            if self._writer is None:
                self._writer = self.engine.connect()
            try:
                with self._writer.begin():
                    yield self._writer
            except BaseException:
                writer, self._writer = self._writer, None
                writer.invalidate()
                writer.close()
                raise

    def close(self) -> None:
        """Give back the held writer connection (SQLite); the ledger stays usable."""
        with self._write_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    # --- links ----------------------------------------------------------------------------
    def item_links(self, item_key: str) -> ItemLinks:
        with self.engine.connect() as conn:
            rows = conn.execute(self._item_links, {"item_key": item_key}).all()
        item = None
        children = []
        for r in rows:
            if r.kind == KIND_TICKET:
                item = LinkView(r.kind, r.source_key, r.target_id, dict(r.source_hashes), dict(r.target_hashes),
                                r.source_version, r.target_version)
            else:
                own_id = r.source_key[len(child_key(item_key, r.kind, "")):]
                children.append(LinkView(r.kind, own_id, r.target_id, dict(r.source_hashes), dict(r.target_hashes)))
        return ItemLinks(item, tuple(children))

    def item_link(self, item_key: str) -> Link | None:
        with self.engine.connect() as conn:
            row = conn.execute(self._item_link, {"item_key": item_key}).first()
        return Link(**row._mapping) if row is not None else None

    def item_link_by_target(self, target_id: str) -> Link | None:
        with Session(self.engine) as s:
            return s.exec(select(Link).where(Link.kind == KIND_TICKET, Link.target_id == target_id)).first()

    def item_versions(self, item_keys: list[str]) -> dict[str, tuple[str | None, str | None]]:
        """(source_version, target_version) of the linked items among ``item_keys``."""
        found: dict[str, tuple[str | None, str | None]] = {}
        with Session(self.engine) as s:
            for start in range(0, len(item_keys), 500):
                chunk = item_keys[start:start + 500]
                rows = s.exec(select(Link.source_key, Link.source_version, Link.target_version)
                              .where(Link.kind == KIND_TICKET, Link.source_key.in_(chunk))).all()
                for key, sv, tv in rows:
                    found[key] = (sv, tv)
        return found

    def linked_targets(self, item_keys: list[str]) -> dict[str, str]:
        """target_id of the linked items among ``item_keys``."""
        found: dict[str, str] = {}
        with Session(self.engine) as s:
            for start in range(0, len(item_keys), 500):
                chunk = item_keys[start:start + 500]
                rows = s.exec(select(Link.source_key, Link.target_id)
                              .where(Link.kind == KIND_TICKET, Link.source_key.in_(chunk))).all()
                found.update((key, tid) for key, tid in rows)
        return found

    def child_targets(self, item_keys: list[str], kind: str) -> dict[str, list[str]]:
        """The tool ids of the ``kind`` children linked to each of ``item_keys``."""
        found: dict[str, list[str]] = {}
        with Session(self.engine) as s:
            for start in range(0, len(item_keys), 500):
                chunk = item_keys[start:start + 500]
                rows = s.exec(select(Link.item_key, Link.target_id)
                              .where(Link.kind == kind, Link.item_key.in_(chunk))).all()
                for key, tid in rows:
                    found.setdefault(key, []).append(tid)
        return found

    def items_by_target(self, target_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        """item_key and target_version of the linked items among ``target_ids``."""
        found: dict[str, tuple[str, str | None]] = {}
        with Session(self.engine) as s:
            for start in range(0, len(target_ids), 500):
                chunk = target_ids[start:start + 500]
                rows = s.exec(select(Link.target_id, Link.source_key, Link.target_version)
                              .where(Link.kind == KIND_TICKET, Link.target_id.in_(chunk))).all()
                for tid, key, tv in rows:
                    found[tid] = (key, tv)
        return found

    def due_for_sweep(self, source: str, closed_source: set[str], closed_target: set[str],
                      read_before: datetime, *, also: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Ids of ``source``'s linked items due for the sweep: not read whole since
        ``read_before`` (or never), and not closed on both sides by the status hashes last synced
        (``closed_*``: the content hashes of the closed statuses) unless their key is in ``also``;
        the longest unread first.

        One query on ``ix_links_kind_read_whole_at``: the items read whole within the interval
        (after a mirror, all of them) are not visited, so a pass with nothing due costs a few
        index lookups; the closed ones are left out in the database, their hashes never loaded."""
        prefix = f"{source}:"
        table = Link.__table__
        # JSON ->> 'status' on every dialect; '' where a side has no status hash yet (never closed).
        status = lambda column: func.coalesce(column["status"].as_string(), "")  # noqa: E731
        closed = and_(status(table.c.source_hashes).in_(sorted(closed_source)),
                      status(table.c.target_hashes).in_(sorted(closed_target)))
        wanted = or_(not_(closed), table.c.source_key.in_(sorted(also))) if also else not_(closed)
        rows = select(table.c.source_key).where(table.c.kind == KIND_TICKET, table.c.source_key.startswith(prefix), wanted)
        # Two range scans of the index (an OR of both would visit every ticket row's entry), each
        # in the index's own order (link_id is its last part; ordering by source_key would make
        # SQLite walk the (kind, source_key) index instead): the never read first, oldest link
        # first, then the longest unread.
        never = rows.where(table.c.read_whole_at.is_(None)).order_by(table.c.link_id)
        stale = rows.where(table.c.read_whole_at < read_before).order_by(table.c.read_whole_at, table.c.link_id)
        with self.engine.connect() as conn:
            return [key[len(prefix):] for query in (never, stale) for key in conn.execute(query).scalars()]

    def record_read_whole(self, read_at: Mapping[str, datetime]) -> None:
        """When each of these linked items (``item_key`` → time) was read whole and found at the
        version the ledger holds: one transaction for all of them (a sweep's chunk).  A mark
        that one was missing from the source (orphaned, side "source") goes: it was read."""
        if not read_at:
            return
        table = Link.__table__
        # Read whole: the item is there, so only a mark that the tool's side was missing stays.
        stmt = (update(table).where(table.c.kind == KIND_TICKET, table.c.source_key == bindparam("key"))
                .values(read_whole_at=bindparam("at"), **_orphan_mark(table.c.orphan_side == "target")))
        rows = [{"key": key, "at": at} for key, at in read_at.items()]
        with self._write() as conn:
            conn.execute(stmt, rows)

    def linked_item_keys(self) -> list[str]:
        with Session(self.engine) as s:
            return list(s.exec(select(Link.source_key).where(Link.kind == KIND_TICKET)).all())

    def count_links(self) -> dict[str, int]:
        with Session(self.engine) as s:
            rows = s.exec(select(Link.kind, func.count()).group_by(Link.kind)).all()
        return {kind: n for kind, n in rows}

    def orphans(self) -> list[Link]:
        with Session(self.engine) as s:
            return list(s.exec(select(Link).where(Link.orphaned_at.is_not(None))).all())

    def record_link(self, *, kind: str, item_key: str, source_id: str | None, target_id: str,
                    source_hashes: Mapping[str, str] | None = None, target_hashes: Mapping[str, str] | None = None,
                    source_version: str | None = None, target_version: str | None = None,
                    source_internal_id: int | None = None, display_id: str | None = None,
                    read_whole_at: datetime | None = None, clear_intent: bool = False) -> None:
        """Insert or update one link in one transaction; hashes are merged field by field;
        versions, display id and ``read_whole_at`` are kept where not given.

        One upsert statement (``ON CONFLICT ... DO UPDATE``, hashes merged in the database),
        built once per ledger: this runs after every remote write, under the one writer lock,
        so it is kept to one round trip instead of an ORM read-modify-write."""
        source_key = item_key if kind == KIND_TICKET else child_key(item_key, kind, source_id or "")
        now = utc_now()
        values = {"kind": kind, "item_key": item_key, "source_key": source_key,
                  "source_internal_id": source_internal_id, "target_id": target_id,
                  "target_display_id": display_id or None, "source_hashes": dict(source_hashes or {}),
                  "target_hashes": dict(target_hashes or {}), "source_version": source_version,
                  "target_version": target_version, "read_whole_at": read_whole_at,
                  "created_at": now, "updated_at": now}
        with self._write() as conn:
            conn.execute(self._upsert_link, values)
            if clear_intent:
                conn.execute(delete(Intent).where(Intent.item_key == item_key))

    def mark_orphan(self, item_key: str, side: str) -> None:
        with self._write_lock, Session(self.engine) as s:
            row = s.exec(select(Link).where(Link.kind == KIND_TICKET, Link.source_key == item_key)).first()
            if row is not None and row.orphaned_at is None:
                row.orphaned_at, row.orphan_side = utc_now(), side
                s.add(row)
                s.commit()

    # --- intents --------------------------------------------------------------------------
    def add_intent(self, item_key: str, internal_id: int | None) -> None:
        with self._write() as conn:
            conn.execute(self._add_intent, {"item_key": item_key, "source_internal_id": internal_id,
                                            "created_at": utc_now()})

    def has_intent(self, item_key: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(self._has_intent, {"item_key": item_key}).first() is not None

    def intents(self) -> list[Intent]:
        with Session(self.engine) as s:
            return list(s.exec(select(Intent)).all())

    def drop_intent(self, item_key: str) -> None:
        with self._write_lock, Session(self.engine) as s:
            for intent in s.exec(select(Intent).where(Intent.item_key == item_key)).all():
                s.delete(intent)
            s.commit()

    # --- cursors --------------------------------------------------------------------------
    def cursor(self, stream: str) -> datetime | None:
        with Session(self.engine) as s:
            row = s.get(Cursor, stream)
            return _aware(row.position) if row else None

    def cursors(self) -> list[Cursor]:
        with Session(self.engine) as s:
            return list(s.exec(select(Cursor)).all())

    def set_cursor(self, stream: str, position: datetime, signpost: datetime) -> None:
        """Move a cursor forward (never back) to ``position``."""
        with self._write_lock, Session(self.engine) as s:
            row = s.get(Cursor, stream) or Cursor(stream=stream)
            current = _aware(row.position)
            if current is None or position > current:
                row.position = position
            row.signpost = signpost
            row.updated_at = utc_now()
            s.add(row)
            s.commit()

    # --- quarantine -----------------------------------------------------------------------
    def quarantine(self, item_key: str, error: BaseException, *, item_version: datetime | None,
                   action_key: str = "", action: str = "", fingerprint: str | None = None,
                   base_delay: float = 30.0, max_delay: float = 6 * 3600.0) -> Quarantine:
        """Record one failure of one write (``action_key``; ``""``: the whole item could not be
        read or planned) and when to try again: ``base_delay`` · 2^(attempts−1) seconds, at most
        ``max_delay``, at least the server's Retry-After.  A different ``fingerprint`` than the
        entry's is a new situation: the count starts again at 1."""
        with self._write_lock, Session(self.engine) as s:
            row = s.get(Quarantine, (item_key, action_key))
            now = utc_now()
            if row is not None and fingerprint is not None and row.fingerprint != fingerprint:
                s.delete(row)
                s.flush()
                row = None
            kind = "dropped" if isinstance(error, DroppedError) else "failed"
            if kind == "dropped":
                item_version = None  # not retried: it holds no cursor
            if row is None:
                row = Quarantine(item_key=item_key, action_key=action_key, action=action, fingerprint=fingerprint,
                                 kind=kind, error_class=type(error).__name__, error=str(error)[:2000],
                                 item_version=item_version)
            else:
                row.attempts += 1
                row.action = action or row.action
                row.kind = kind
                row.error_class, row.error = type(error).__name__, str(error)[:2000]
                row.last_failed_at = now
                if item_version is not None:
                    current = _aware(row.item_version)
                    row.item_version = item_version if current is None else min(current, item_version)
            delay = min(max_delay, base_delay * (2 ** (row.attempts - 1)))
            retry_after = getattr(error, "retry_after", None) or 0.0
            row.next_retry_at = now + timedelta(seconds=max(delay, retry_after))
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def release(self, item_key: str, *, keep: set[str] | frozenset[str] = frozenset()) -> None:
        """Forget an item's failures except those of the writes in ``keep`` (still failing or
        still waiting) and the ``dropped`` reports (cleared by :meth:`clear`).  Most items never
        failed: that is seen with a read, without taking the writer lock."""
        with self.engine.connect() as conn:
            rows = conn.execute(self._held, {"item_key": item_key}).all()
        if not [k for k, kind in rows if k not in keep and kind != "dropped"]:
            return
        with self._write_lock, Session(self.engine) as s:
            for row in s.exec(select(Quarantine).where(Quarantine.item_key == item_key)).all():
                if row.action_key not in keep and row.kind != "dropped":
                    s.delete(row)
            s.commit()

    def retry_now(self, item_key: str, max_attempts: int) -> Quarantine | None:
        """Make a quarantined item's failed writes due at once (the status page's "retry now");
        None when it has none.  Only the schedule changes: the engine's next pass plans the item
        as usual.  A write that gave up (``attempts >= max_attempts``) gets one more attempt: its
        count is set to ``max_attempts - 1``, so a new failure gives up again."""
        with self._write_lock, Session(self.engine) as s:
            rows = s.exec(select(Quarantine).where(Quarantine.item_key == item_key,
                                                   Quarantine.kind == "failed")).all()
            if not rows:
                return None
            for row in rows:
                row.next_retry_at = utc_now()
                if row.attempts >= max_attempts:
                    row.attempts = max(0, max_attempts - 1)
                s.add(row)
            s.commit()
            s.refresh(rows[0])
            return rows[0]

    def clear(self, item_key: str | None = None, action_key: str | None = None) -> int:
        """An operator's decision on quarantine entries (all, an item's, or one write's): a
        failed write is due again at once with its attempts counted from 0 (the next pass tries
        it, and forgets it once it succeeds or is no longer planned); so is a write the tool
        skipped for a limit of its own (SkippedError: tried once more, e.g. after the limit was
        raised); any other ``dropped`` report is removed.  Returns the number of entries touched."""
        with self._write_lock, Session(self.engine) as s:
            query = select(Quarantine)
            if item_key is not None:
                query = query.where(Quarantine.item_key == item_key)
            if action_key is not None:
                query = query.where(Quarantine.action_key == action_key)
            rows = s.exec(query).all()
            now = utc_now()
            for row in rows:
                if row.kind == "dropped" and row.error_class != SkippedError.__name__:
                    s.delete(row)
                else:
                    row.kind, row.attempts, row.next_retry_at = "failed", 0, now
                    s.add(row)
            s.commit()
            return len(rows)

    def quarantined(self) -> list[Quarantine]:
        with Session(self.engine) as s:
            return list(s.exec(select(Quarantine).order_by(Quarantine.next_retry_at)).all())

    def holds(self) -> dict[str, dict[str, Quarantine]]:
        """Every quarantine entry by item and write (read once per pass; the table is small)."""
        found: dict[str, dict[str, Quarantine]] = {}
        for row in self.quarantined():
            found.setdefault(row.item_key, {})[row.action_key] = row
        return found

    def due_for_retry(self, now: datetime, max_attempts: int) -> list[str]:
        """Items with a write (or a read) whose retry time has come and that has attempts left."""
        with Session(self.engine) as s:
            rows = s.exec(select(Quarantine.item_key, Quarantine.next_retry_at, Quarantine.attempts)
                          .where(Quarantine.kind == "failed")).all()
        return sorted({k for k, at, n in rows if _aware(at) <= now and n < max_attempts})

    def oldest_failed_version(self, max_attempts: int) -> datetime | None:
        """The oldest failed item still being retried holds the cursors (given-up items do not)."""
        with Session(self.engine) as s:
            value = s.exec(select(func.min(Quarantine.item_version)).where(Quarantine.attempts < max_attempts)).first()
        return _aware(value)

    # --- names the source looked up ---------------------------------------------------------
    def cached_name(self, kind: str, item_id: str, newer_than: datetime) -> tuple[bool, str | None]:
        """(found, name) of a name fetched after ``newer_than``; (False, None) when unknown or expired."""
        with Session(self.engine) as s:
            row = s.get(CachedName, (kind, item_id))
        if row is None or _aware(row.fetched_at) <= newer_than:
            return False, None
        return True, row.name

    def cache_name(self, kind: str, item_id: str, name: str | None) -> None:
        with self._write_lock, Session(self.engine) as s:
            row = s.get(CachedName, (kind, item_id)) or CachedName(kind=kind, item_id=item_id)
            row.name, row.fetched_at = name, utc_now()
            s.add(row)
            s.commit()

    # --- conflicts and runs ---------------------------------------------------------------
    def record_conflict(self, item_key: str, field_name: str, source_value: str, target_value: str,
                        policy: str, winner: str) -> None:
        with self._write_lock, Session(self.engine) as s:
            s.add(Conflict(item_key=item_key, field_name=field_name, source_value=source_value,
                           target_value=target_value, policy=policy, winner=winner))
            s.commit()

    def conflicts(self, limit: int = 50) -> list[Conflict]:
        with Session(self.engine) as s:
            return list(s.exec(select(Conflict).order_by(Conflict.conflict_id.desc()).limit(limit)).all())

    def start_run(self, kind: str) -> int:
        with self._write_lock, Session(self.engine) as s:
            run = RunLog(kind=kind)
            s.add(run)
            s.commit()
            s.refresh(run)
            return run.run_id  # type: ignore[return-value]

    def finish_run(self, run_id: int, outcome: str, counts: Mapping[str, Any], errors: int,
                   message: str | None = None) -> None:
        with self._write_lock, Session(self.engine) as s:
            run = s.get(RunLog, run_id)
            if run is None:
                return
            run.finished_at, run.outcome = utc_now(), outcome
            run.counts, run.errors, run.message = dict(counts), errors, message
            s.add(run)
            s.commit()

    def runs(self, limit: int = 10) -> list[RunLog]:
        with Session(self.engine) as s:
            return list(s.exec(select(RunLog).order_by(RunLog.run_id.desc()).limit(limit)).all())

    def last_run_with_outcome(self, outcome: str) -> RunLog | None:
        """The latest run that ended with ``outcome`` ("ok", "partial", ...), or None."""
        with Session(self.engine) as s:
            return s.exec(select(RunLog).where(RunLog.outcome == outcome)
                          .order_by(RunLog.run_id.desc()).limit(1)).first()

    def item_links_for(self, item_keys: list[str]) -> list[Link]:
        """The ticket links among ``item_keys`` (unlinked keys are left out)."""
        found: list[Link] = []
        with Session(self.engine) as s:
            for start in range(0, len(item_keys), 500):
                chunk = item_keys[start:start + 500]
                found += s.exec(select(Link).where(Link.kind == KIND_TICKET, Link.source_key.in_(chunk))).all()
        return found

    def iter_item_links(self) -> Iterator[Link]:
        with Session(self.engine) as s:
            yield from s.exec(select(Link).where(Link.kind == KIND_TICKET)).all()

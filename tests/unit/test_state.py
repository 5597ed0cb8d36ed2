"""The state database: migrations equal the models, file mode 0600, WAL, one writer.

The ledger tests take ``state_url`` and run on SQLite and on PostgreSQL (tests/fixtures/postgres.py)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from bridge.app import open_state
from bridge.state.db import DatabaseLockedError, current_revision, migrate, open_engine
from bridge.state.ledger import Ledger


def test_migrated_schema_equals_the_models(state_url):
    engine = open_engine(state_url)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    assert current_revision(engine) is not None


def test_database_file_is_private_and_in_wal_mode(tmp_path):
    old = os.umask(0o022)
    try:
        ledger, lock = open_state(f"sqlite:///{tmp_path / 'state.db'}")
        ledger.set_cursor("source:casavi", __import__("datetime").datetime.now(__import__("datetime").timezone.utc),
                          __import__("datetime").datetime.now(__import__("datetime").timezone.utc))
    finally:
        os.umask(old)
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        path = tmp_path / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    assert (tmp_path / "state.db").exists()
    with ledger.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    lock.release()


def test_second_writer_on_the_same_database_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    _, lock = open_state(url)
    code = ("from bridge.app import open_state\n"
            "from bridge.state.db import DatabaseLockedError\n"
            "try:\n    open_state(%r)\nexcept DatabaseLockedError as e:\n    print('refused:', e)\n" % url)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "refused:" in out.stdout and "one casavi-bridge per database" in out.stdout
    lock.release()
    _, again = open_state(url)
    again.release()


def test_missing_directory_is_a_config_error(tmp_path):
    from bridge.errors import ConfigError

    with pytest.raises(ConfigError, match="does not exist"):
        open_state(f"sqlite:///{tmp_path / 'nope' / 'state.db'}")


def test_cursor_never_moves_back(state_url):
    from datetime import datetime, timedelta, timezone

    engine = open_engine(state_url)
    migrate(engine)
    ledger = Ledger(engine)
    now = datetime.now(timezone.utc)
    ledger.set_cursor("s", now, now)
    ledger.set_cursor("s", now - timedelta(hours=1), now)
    assert ledger.cursor("s") == now


def test_quarantine_backs_off_and_counts_attempts(state_url):
    from datetime import datetime, timezone

    from bridge.errors import RetriableError

    engine = open_engine(state_url)
    migrate(engine)
    ledger = Ledger(engine)
    first = ledger.quarantine("casavi:P-1", RetriableError("down"), item_version=None, base_delay=10)
    second = ledger.quarantine("casavi:P-1", RetriableError("down", retry_after=3600), item_version=None, base_delay=10)
    assert second.attempts == 2
    assert (second.next_retry_at - second.last_failed_at).total_seconds() >= 3600
    assert ledger.due_for_retry(datetime.now(timezone.utc), max_attempts=10) == []
    assert first.error == "down"


def test_quarantine_is_kept_per_write_and_a_new_fingerprint_starts_counting_again(state_url):
    from datetime import datetime, timezone

    from bridge.errors import RefusedError

    engine = open_engine(state_url)
    migrate(engine)
    ledger = Ledger(engine)
    refused = RefusedError("kept status 'Rejected'")
    for _ in range(3):
        ledger.quarantine("casavi:P-1", refused, item_version=None, action_key="status→tool", fingerprint="a",
                          base_delay=0)
    ledger.quarantine("casavi:P-1", refused, item_version=None, action_key="file:7→tool", fingerprint="f")
    holds = ledger.holds()["casavi:P-1"]
    assert holds["status→tool"].attempts == 3 and holds["file:7→tool"].attempts == 1
    assert ledger.due_for_retry(datetime.now(timezone.utc), max_attempts=10) == ["casavi:P-1"]
    assert ledger.due_for_retry(datetime.now(timezone.utc), max_attempts=3) == []
    again = ledger.quarantine("casavi:P-1", refused, item_version=None, action_key="status→tool", fingerprint="b")
    assert again.attempts == 1
    ledger.release("casavi:P-1", keep={"file:7→tool"})
    assert [(q.item_key, q.action_key) for q in ledger.quarantined()] == [("casavi:P-1", "file:7→tool")]


def test_a_quarantine_entry_from_before_per_write_entries_survives_the_migration(state_url):
    engine = open_engine(state_url)
    migrate(engine, revision="0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO quarantine (item_key, error_class, error, attempts, first_failed_at, "
                          "last_failed_at, next_retry_at) VALUES ('casavi:P-1', 'FatalError', 'bad', 2, "
                          "'2026-11-01 00:00:00', '2026-11-01 00:00:00', '2026-11-01 00:00:00')"))
    migrate(engine)
    [entry] = Ledger(engine).quarantined()
    assert (entry.item_key, entry.action_key, entry.attempts, entry.error) == ("casavi:P-1", "", 2, "bad")


def test_recording_a_link_again_merges_hashes_and_keeps_what_is_not_given(state_url):
    engine = open_engine(state_url)
    migrate(engine)
    ledger = Ledger(engine)
    ledger.add_intent("casavi:T-1", 41)
    ledger.add_intent("casavi:T-1", 41)  # a repeated intent is one intent
    assert [i.item_key for i in ledger.intents()] == ["casavi:T-1"]
    ledger.record_link(kind="ticket", item_key="casavi:T-1", source_id=None, target_id="10001", display_id="OPS-1",
                       source_hashes={"title": "s1", "status": "s2"}, target_hashes={"title": "t1"},
                       source_version="v1", source_internal_id=41, clear_intent=True)
    assert ledger.intents() == []
    ledger.mark_orphan("casavi:T-1", "target")
    ledger.record_link(kind="ticket", item_key="casavi:T-1", source_id=None, target_id="10001",
                       source_hashes={"status": "s3"}, target_hashes={"status": "t2"}, target_version="w1")
    link = ledger.item_link("casavi:T-1")
    assert link.source_hashes == {"title": "s1", "status": "s3"}
    assert link.target_hashes == {"title": "t1", "status": "t2"}
    assert (link.source_version, link.target_version) == ("v1", "w1")
    assert (link.target_display_id, link.source_internal_id, link.orphaned_at) == ("OPS-1", 41, None)
    ledger.record_link(kind="comment", item_key="casavi:T-1", source_id="c-1", target_id="500")
    links = ledger.item_links("casavi:T-1")
    assert [(c.kind, c.source_id, c.target_id) for c in links.children] == [("comment", "c-1", "500")]


def test_an_orphan_mark_goes_only_with_a_version_read_from_the_missing_side(state_url):
    engine = open_engine(state_url)
    migrate(engine)
    ledger = Ledger(engine)

    def record(**versions):
        ledger.record_link(kind="ticket", item_key="casavi:T-1", source_id=None, target_id="10001", **versions)

    record(source_version="v1", target_version="w1")
    ledger.mark_orphan("casavi:T-1", "source")  # casavi answered 404
    record(target_version="w2")  # a tool-side change finished without reading casavi
    assert [(o.source_key, o.orphan_side) for o in ledger.orphans()] == [("casavi:T-1", "source")]
    record(source_version="v2")  # casavi read again: the ticket is there
    assert ledger.orphans() == []
    ledger.mark_orphan("casavi:T-1", "target")
    record(source_version="v3")
    assert [o.orphan_side for o in ledger.orphans()] == ["target"]
    record(target_version="w3")
    assert ledger.orphans() == [] and ledger.item_link("casavi:T-1").orphan_side is None
    # Found again unchanged by the sweep (a 404 that passed): read whole, the source mark goes.
    ledger.mark_orphan("casavi:T-1", "source")
    ledger.record_read_whole({"casavi:T-1": datetime.now(timezone.utc)})
    assert ledger.orphans() == []
    ledger.mark_orphan("casavi:T-1", "target")
    ledger.record_read_whole({"casavi:T-1": datetime.now(timezone.utc)})
    assert [o.orphan_side for o in ledger.orphans()] == ["target"]  # casavi read says nothing of Jira


def test_second_writer_on_the_same_postgresql_state_is_refused_and_waits(postgres_database):
    url = postgres_database()
    ledger, lock = open_state(url)
    ledger.add_intent("casavi:T-1", 1)
    with pytest.raises(DatabaseLockedError, match="one casavi-bridge per database"):
        open_state(url)
    code = ("from bridge.app import open_state\n"
            "from bridge.state.db import DatabaseLockedError\n"
            "try:\n    open_state(%r)\nexcept DatabaseLockedError as e:\n    print('refused:', e)\n" % url)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "refused:" in out.stdout and "casavi-bridge daemon" in out.stdout
    # A writer killed with SIGKILL loses the lock with its connection: the next one starts at once.
    holder = subprocess.Popen([sys.executable, "-c", "from bridge.app import open_state\nimport sys, time\n"
                               "open_state(%r, lock_wait=30)\nprint('held', flush=True)\ntime.sleep(60)\n" % url],
                              stdout=subprocess.PIPE, text=True)
    lock.release()
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(DatabaseLockedError):
        open_state(url)
    holder.kill()
    holder.wait()
    again_ledger, again = open_state(url, lock_wait=10)
    assert [i.item_key for i in again_ledger.intents()] == ["casavi:T-1"]
    again.release()


def test_a_tenant_schema_holds_its_own_state(postgres_database):
    from datetime import datetime, timezone

    url = postgres_database()
    engine = open_engine(url)
    migrate(engine, schema="tenant_a")
    migrate(engine, schema="tenant_b")
    a = Ledger(engine.execution_options(schema_translate_map={None: "tenant_a"}))
    b = Ledger(engine.execution_options(schema_translate_map={None: "tenant_b"}))
    now = datetime.now(timezone.utc)
    a.record_link(kind="ticket", item_key="casavi:T-1", source_id=None, target_id="10001", source_hashes={"t": "1"})
    a.record_link(kind="ticket", item_key="casavi:T-1", source_id=None, target_id="10001", source_hashes={"s": "2"})
    b.record_link(kind="ticket", item_key="casavi:T-1", source_id=None, target_id="20001")
    a.set_cursor("source:casavi", now, now)
    assert a.item_link("casavi:T-1").source_hashes == {"t": "1", "s": "2"}
    assert b.item_link("casavi:T-1").target_id == "20001"
    assert (a.cursor("source:casavi"), b.cursor("source:casavi")) == (now, None)
    assert current_revision(engine, "tenant_a") == current_revision(engine, "tenant_b") is not None


def test_links_from_before_read_whole_at_are_due_for_the_sweep_after_the_migration(state_url):
    from datetime import datetime, timedelta, timezone

    from bridge.model import content_hash

    engine = open_engine(state_url)
    migrate(engine, revision="0003")
    with engine.begin() as conn:
        for key, target in (("casavi:T-1", "10001"), ("casavi:T-2", "10002")):
            conn.execute(text("INSERT INTO links (kind, item_key, source_key, target_id, source_hashes, target_hashes, "
                              "source_version, created_at, updated_at) VALUES ('ticket', :key, :key, :target, :hashes, "
                              ":hashes, 'v1#d', '2026-11-01 00:00:00', '2026-11-01 00:00:00')"),
                         {"key": key, "target": target, "hashes": '{"status": "%s"}' % content_hash("OPEN")})
        conn.execute(text("INSERT INTO links (kind, item_key, source_key, target_id, source_hashes, target_hashes, "
                          "created_at, updated_at) VALUES ('comment', 'casavi:T-1', 'casavi:T-1/comment/C-1', '500', "
                          "'{}', '{}', '2026-11-01 00:00:00', '2026-11-01 00:00:00')"))
    migrate(engine)
    ledger = Ledger(engine)
    now = datetime.now(timezone.utc)
    due = lambda: ledger.due_for_sweep("casavi", {content_hash("CLOSED")}, {content_hash("Done")},  # noqa: E731
                                       now - timedelta(minutes=15))
    assert ledger.item_link("casavi:T-1").read_whole_at is None
    assert due() == ["T-1", "T-2"]  # never read whole as far as the ledger knows: due at once
    ledger.record_read_whole({"casavi:T-1": now - timedelta(seconds=5), "casavi:T-2": now - timedelta(hours=2)})
    assert ledger.item_link("casavi:T-1").read_whole_at == now - timedelta(seconds=5)
    assert due() == ["T-2"]
    assert ledger.item_link("casavi:T-1").source_version == "v1#d"  # nothing else of the row moved


def test_the_sweep_is_due_for_open_links_not_read_whole_within_the_interval_longest_unread_first(state_url):
    from datetime import datetime, timedelta, timezone

    from bridge.model import content_hash

    engine = open_engine(state_url)
    migrate(engine)
    ledger = Ledger(engine)
    now = datetime.now(timezone.utc)
    closed_s, closed_t = {content_hash("CLOSED")}, {content_hash("Done")}
    rows = {  # ticket: (casavi status, tool status, read whole this long ago; None: never)
        "T-1": ("OPEN", "To Do", timedelta(minutes=20)),
        "T-2": ("OPEN", "To Do", timedelta(minutes=5)),        # read within the interval
        "T-3": ("CLOSED", "To Do", timedelta(hours=3)),        # open in the tool
        "T-4": ("CLOSED", "Done", timedelta(hours=3)),         # closed on both sides
        "T-5": ("OPEN", None, None),                           # no tool status recorded yet
        "T-6": ("CLOSED", "Done", None),                       # closed on both sides, a write failed
    }
    for n, (ticket, (status, tool_status, ago)) in enumerate(rows.items()):
        ledger.record_link(kind="ticket", item_key=f"casavi:{ticket}", source_id=None, target_id=str(100 + n),
                           source_hashes={"status": content_hash(status)},
                           target_hashes={"status": content_hash(tool_status)} if tool_status else {},
                           source_version="v", read_whole_at=now - ago if ago else None)
    ledger.record_link(kind="comment", item_key="casavi:T-1", source_id="C-1", target_id="900")
    ledger.record_link(kind="ticket", item_key="relay:O-1", source_id=None, target_id="999")
    cutoff = now - timedelta(minutes=15)
    assert ledger.due_for_sweep("casavi", closed_s, closed_t, cutoff) == ["T-5", "T-3", "T-1"]
    assert ledger.due_for_sweep("casavi", closed_s, closed_t, cutoff, also={"casavi:T-6"}) == ["T-5", "T-6", "T-3", "T-1"]
    # A link recorded again without a read keeps its time; a whole read recorded with it moves it.
    ledger.record_link(kind="ticket", item_key="casavi:T-1", source_id=None, target_id="100", target_version="w2")
    assert ledger.item_link("casavi:T-1").read_whole_at == now - timedelta(minutes=20)
    ledger.record_link(kind="ticket", item_key="casavi:T-1", source_id=None, target_id="100", source_version="v2",
                       read_whole_at=now)
    assert ledger.due_for_sweep("casavi", closed_s, closed_t, cutoff) == ["T-5", "T-3"]

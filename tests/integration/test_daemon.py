"""The daemon as an operator runs it: a real `casavi-bridge run` process with systemd's notify
socket, SIGTERM, `check`, `status`, `reconcile`, and logs that never show a secret."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import time
from pathlib import Path

import tomli_w
import tomllib

from bridge.sandbox.written_config import state_database
from tests.fixtures.processes import bridge_process, run_bridge, write_config


def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.5)
    return sock, path


def read_messages(sock, until: float, want: set[str]) -> list[str]:
    """Datagrams until every wanted text was seen in some message (or the deadline passed)."""
    seen: list[str] = []
    while time.monotonic() < until and not all(any(w in m for m in seen) for w in want):
        try:
            seen += sock.recv(4096).decode().splitlines()
        except socket.timeout:
            pass
    return seen


def test_daemon_notifies_systemd_and_stops_cleanly_on_sigterm(sandbox_process, tmp_path):
    sandbox = sandbox_process("--tickets", "30")
    config = write_config(sandbox.info, tmp_path / "bridge.toml", connector="memory", sync__interval_seconds=2,
                          sync__jitter_seconds=0)
    sock, path = notify_socket(tmp_path)
    proc = bridge_process("run", "--config", str(config), log=tmp_path / "daemon.log",
                          env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "2000000"})
    try:
        seen = read_messages(sock, time.monotonic() + 60, {"READY=1", "WATCHDOG=1", "linked"})
        assert "READY=1" in seen, seen
        assert "WATCHDOG=1" in seen, seen
        assert any(m.startswith("STATUS=") and "linked" in m for m in seen), seen
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        seen += read_messages(sock, time.monotonic() + 2, {"STOPPING=1"})
        assert "STOPPING=1" in seen
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    log = (tmp_path / "daemon.log").read_text()
    assert "daemon_stopped" in log


def test_check_reports_a_status_the_tool_does_not_have(sandbox_process, tmp_path):
    sandbox = sandbox_process("--tickets", "5")
    config = write_config(sandbox.info, tmp_path / "bridge.toml")
    good = run_bridge("check", "--config", str(config))
    assert good.returncode == 0, good.stdout + good.stderr
    data = tomllib.loads(config.read_text())
    data["status_map"]["POSTPONED"] = "Pausiert"
    data["status_map_back"]["Pausiert"] = "POSTPONED"
    config.write_text(tomli_w.dumps(data))
    bad = run_bridge("check", "--config", str(config))
    assert bad.returncode == 1
    assert "'Pausiert'" in bad.stdout and "does not exist" in bad.stdout


def test_invalid_configuration_lists_every_problem(tmp_path):
    config = tmp_path / "bridge.toml"
    config.write_text('[casavi]\nbase_url = "not a url"\nkey = "k"\nsecret = "s"\n[sync]\nintervall = 5\n'
                      '[connector]\nkind = "memory"\n')
    out = run_bridge("run", "--config", str(config), "--once")
    assert out.returncode == 2
    assert "base_url" in out.stderr and "intervall" in out.stderr


def test_reconcile_and_status_after_a_run(sandbox_process, tmp_path):
    sandbox = sandbox_process("--tickets", "12")
    config = write_config(sandbox.info, tmp_path / "bridge.toml", connector="memory")
    dry = run_bridge("reconcile", "--config", str(config), "--dry-run")
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert "would change" in dry.stdout and "CreateItem" in dry.stdout
    assert "compared 12/12" in dry.stderr or "compared" in dry.stderr.splitlines()[-1], dry.stderr
    state = state_database(config)
    assert _names_kept(state) == 0  # the dry run looked up property names and kept none
    fix = run_bridge("reconcile", "--config", str(config))
    assert fix.returncode == 0, fix.stdout + fix.stderr
    assert _names_kept(state) > 0
    again = run_bridge("reconcile", "--config", str(config), "--dry-run")
    assert again.returncode == 0, again.stdout
    # Cursors come from the sides' own timestamps: the tool's is set once a pass has read items there.
    assert run_bridge("run", "--config", str(config), "--once").returncode == 0
    status = run_bridge("status", "--config", str(config), "--json")
    data = json.loads(status.stdout)
    assert data["links"]["ticket"] >= 1
    assert data["quarantine"] == []
    assert {c["stream"] for c in data["cursors"]} >= {"source:casavi", "target:memory"}


def test_logs_of_a_full_run_contain_no_secret(sandbox_process, tmp_path):
    sandbox = sandbox_process("--tickets", "15")
    config = write_config(sandbox.info, tmp_path / "bridge.toml", connector="memory", log__level="debug",
                          log__format="json")
    out = run_bridge("run", "--config", str(config), "--once")
    assert out.returncode == 0, out.stderr[-2000:]
    logs = out.stdout + out.stderr
    assert "ticket_mirrored" in logs
    for secret in (sandbox.info["casavi_secret"], sandbox.info["casavi_key"]):
        assert secret not in logs
    for line in logs.splitlines():
        if line.startswith("{"):
            json.loads(line)  # every line is one JSON object (journald-friendly)


def test_reconcile_shows_a_progress_bar_on_a_terminal(sandbox_process, tmp_path):
    import os
    import pty
    import subprocess
    import sys

    sandbox = sandbox_process("--tickets", "12")
    config = write_config(sandbox.info, tmp_path / "bridge.toml", connector="memory")
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bridge.cli", "reconcile", "--config", str(config), "--dry-run"],
                            stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    assert proc.wait(timeout=120) == 1
    text = output.decode(errors="replace")
    assert "comparing" in text and "100%" in text, text[-2000:]


def test_sighup_reloads_the_configuration(sandbox_process, tmp_path):
    sandbox = sandbox_process("--tickets", "5")
    config = write_config(sandbox.info, tmp_path / "bridge.toml", connector="memory", sync__interval_seconds=1,
                          sync__jitter_seconds=0, log__format="json")
    proc = bridge_process("run", "--config", str(config), log=tmp_path / "daemon.log")
    try:
        deadline = time.monotonic() + 60
        while "pass_finished" not in (tmp_path / "daemon.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        data = tomllib.loads(config.read_text())
        data["sync"]["interval_seconds"] = 2
        config.write_text(tomli_w.dumps(data))
        proc.send_signal(signal.SIGHUP)
        while "config_reloaded" not in (tmp_path / "daemon.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        config.write_text("[sync]\nintervall = 1\n")  # a broken file is refused; the old one stays
        proc.send_signal(signal.SIGHUP)
        while "config_reload_refused" not in (tmp_path / "daemon.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "the daemon keeps running with the old configuration"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "daemon.log").read_text()
    assert "config_reloaded" in log and "config_reload_refused" in log


def _names_kept(state: Path) -> int:
    with sqlite3.connect(state) as db:
        return db.execute("SELECT count(*) FROM names").fetchone()[0]

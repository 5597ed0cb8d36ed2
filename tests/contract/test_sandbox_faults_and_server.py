"""Every sandbox server's shared machinery, shown on the casavi sandbox: faults, request stats,
the ready file, the written config, the generator and the CLI entry point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.config import load_config
from bridge.sandbox.faults import RetryAfterWatch
from bridge.sandbox.casavi.render import render_ticket
from bridge.sandbox.casavi.generator import generate
from bridge.sandbox.server import start_sandboxes
from tests.fixtures.sandbox import PLAIN_CLIENT, casavi_control, casavi_login

REPO = Path(__file__).resolve().parents[2]


# -- faults and stats -----------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after_and_sandbox_paths_are_never_faulted(start_casavi_sandbox):
    sandbox = start_casavi_sandbox(rate_limit_rate=1.0, retry_after_seconds=1)
    reply = PLAIN_CLIENT.get(sandbox.casavi_url + "/tickets")
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "1"
    assert casavi_control(sandbox, "GET", "/stats").status_code == 200
    assert casavi_control(sandbox, "GET", "/tickets/T-00001").status_code == 200


def test_a_request_before_the_last_retry_after_passed_is_counted_as_a_violation(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    casavi_control(casavi_sandbox, "POST", "/fault", json={"force_status": 429, "force_count": 1,
                                                           "retry_after_seconds": 1})
    limited_at = time.monotonic()
    assert client.get("/tickets").status_code == 429
    time.sleep(0.4)  # past the in-flight grace, before Retry-After
    assert client.get("/tickets").status_code == 200
    stats = casavi_control(casavi_sandbox, "GET", "/stats").json()
    assert stats["retry_after_violations"] == 1
    [example] = stats["retry_after_violation_examples"]
    assert example["request"] == "GET /tickets" and example["client"] == "127.0.0.1"
    assert 0 < example["seconds_too_early"] <= 0.7
    time.sleep(max(0.0, limited_at + 1.1 - time.monotonic()))
    assert client.get("/tickets").status_code == 200  # Retry-After has passed: no violation
    assert casavi_control(casavi_sandbox, "GET", "/stats").json()["retry_after_violations"] == 1
    reset = casavi_control(casavi_sandbox, "POST", "/stats/reset").json()
    assert reset["retry_after_violations"] == 0 and reset["retry_after_violation_examples"] == []


def test_retry_after_watch_spares_requests_in_flight_and_follows_the_last_429():
    now = [100.0]
    watch = RetryAfterWatch(grace_seconds=0.25, clock=lambda: now[0])
    watch.arrived("10.0.0.1", "GET /a")  # nothing held yet
    watch.rate_limited("10.0.0.1", 2)
    now[0] = 100.1
    watch.arrived("10.0.0.1", "GET /in-flight")  # sent before the 429 could have arrived
    watch.arrived("10.0.0.2", "GET /other-client")
    now[0] = 100.5
    watch.arrived("10.0.0.1", "GET /too-early")
    watch.rate_limited("10.0.0.1", 1)  # a later 429 replaces the hold: allowed again at 101.5
    now[0] = 101.6
    watch.arrived("10.0.0.1", "GET /after")
    now[0] = 101.9
    watch.arrived("10.0.0.1", "GET /still-after")
    snapshot = watch.snapshot()
    assert snapshot["retry_after_violations"] == 1
    assert snapshot["retry_after_violation_examples"] == [
        {"request": "GET /too-early", "client": "10.0.0.1", "seconds_after_429": 0.5, "seconds_too_early": 1.5}]


def test_fault_rate_one_answers_server_errors(start_casavi_sandbox):
    sandbox = start_casavi_sandbox(fault_rate=1.0)
    statuses = {PLAIN_CLIENT.get(sandbox.casavi_url + "/tickets").status_code for _ in range(10)}
    assert statuses <= {500, 502, 503}
    assert casavi_control(sandbox, "GET", "/stats").json()["faults"]


def test_forced_faults_hit_exactly_the_next_requests(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    casavi_control(casavi_sandbox, "POST", "/fault", json={"force_status": 429, "force_count": 2})
    assert [client.get("/tickets").status_code for _ in range(3)] == [429, 429, 200]
    assert casavi_control(casavi_sandbox, "POST", "/fault", json={"fault_rate": 2}).status_code == 400
    assert casavi_control(casavi_sandbox, "POST", "/fault", json={"nonsense": 1}).status_code == 400


def test_timeouts_hold_the_request_until_the_client_gives_up(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    casavi_control(casavi_sandbox, "POST", "/fault", json={"force_timeout_count": 1, "timeout_hold_seconds": 1.0})
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.get("/tickets", timeout=0.3)
    assert time.monotonic() - started >= 0.3
    assert client.get("/tickets").status_code == 200


def test_a_timeout_in_apply_mode_still_performs_the_write(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    ticket_id = client.get("/tickets").json()[0]["id"]
    casavi_control(casavi_sandbox, "POST", "/fault",
            json={"force_timeout_count": 1, "timeout_hold_seconds": 0.5, "timeout_mode": "apply"})
    with pytest.raises(httpx.ReadTimeout):
        client.post(f"/tickets/{ticket_id}/comments", json={"id": "late-1", "text": "spät"}, timeout=0.2)
    time.sleep(0.8)
    assert client.post(f"/tickets/{ticket_id}/comments", json={"id": "late-1", "text": "spät"}).status_code == 409


def test_latency_is_added_to_every_request(start_casavi_sandbox):
    sandbox = start_casavi_sandbox(latency_ms=150)
    client = casavi_login(sandbox)
    started = time.monotonic()
    client.get("/staff")
    assert time.monotonic() - started >= 0.15


def test_stats_count_requests_by_route_template_and_reset(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    ids = [t["id"] for t in client.get("/tickets").json()[:3]]
    for ticket_id in ids:
        client.get(f"/tickets/{ticket_id}")
    casavi_control(casavi_sandbox, "GET", "/tickets/T-00001")  # control calls are not counted
    stats = casavi_control(casavi_sandbox, "GET", "/stats").json()
    assert stats["requests"] == {"POST /authenticate": 1, "GET /tickets": 1, "GET /tickets/{ticket_id}": 3}
    assert stats["total"] == 5
    assert casavi_control(casavi_sandbox, "POST", "/stats/reset").json()["total"] == 0
    assert PLAIN_CLIENT.get(casavi_sandbox.casavi_url + "/_sandbox/stats").json()["total"] == 0


# -- ready file, config, generator, CLI -----------------------------------------------------------


def test_ready_file_and_written_config_point_at_the_running_sandbox(tmp_path):
    ready, config_path = tmp_path / "ready.json", tmp_path / "conf" / "bridge.toml"
    with start_sandboxes(tickets=5, seed=3, ready_file=str(ready), write_config=str(config_path)) as sandbox:
        info = json.loads(ready.read_text())
        assert {"casavi_url", "casavi_key", "casavi_secret"} <= set(info)
        assert info["casavi_url"] == sandbox.casavi_url
        assert casavi_login(sandbox).get("/tickets").status_code == 200
        config = tomllib.loads(config_path.read_text())
    example = tomllib.loads((REPO / "config" / "casavi-bridge.example.toml").read_text())
    connector = config["connector"]["kind"]
    assert set(config) == (set(example) if connector == "jira" else set(example) - {"jira"})
    for section, values in example.items():
        if section in config:
            assert set(config[section]) == set(values), section
    assert config["casavi"]["base_url"] == info["casavi_url"] and config["casavi"]["key"] == info["casavi_key"]
    assert config["filters"]["statuses"] == ["PENDING", "OPEN", "INPROGRESS", "POSTPONED"]
    assert config["state"]["database"] == f"sqlite:///{config_path.parent.resolve()}/casavi-bridge-state.db"
    assert load_config(config_path).casavi.date_semantics == "modified"  # the project's own loader accepts it
    if "jira_url" in info:
        assert config["jira"]["url"] == info["jira_url"] and config["jira"]["deployment"] == "server"


def test_generator_is_deterministic_and_carries_the_documents_quirks():
    first, again, other = generate(tickets=300, seed=11), generate(tickets=300, seed=11), generate(tickets=300, seed=12)
    assert first == again and first != other
    contacts = {c["id"]: c for c in first.contacts}
    rendered = [render_ticket(t, files={}, files_url="http://x/v1/files", contacts=contacts, staff={}, detail=True)
                for t in first.tickets]
    assert {type(t["number"]) for t in rendered} == {int, str}
    assert any(t["reportedAt"] == "Invalid Date" for t in rendered)
    assert {t["status"] for t in rendered} == {"PENDING", "OPEN", "INPROGRESS", "POSTPONED", "CLOSED"}
    assert any(c["isInternal"] for t in rendered for c in t["comments"])
    assert {task["status"] for t in rendered for task in t["tasks"]} == {"OPEN", "ACCEPTED", "COMPLETED", "DECLINED"}
    assert any(ch in t["title"] + t["description"] for t in rendered for ch in "äöüß")
    assert any(len(t["description"]) > 5000 for t in rendered)
    assert {type(p["postalCode"]) for p in first.properties} == {int, str}
    assert first.files and all(f.size < 1024 for f in first.files)


def test_generator_makes_twenty_thousand_tickets():
    # How fast it does so is the benchmark's business (bench/: the 20,000-ticket runs).
    data = generate(tickets=20_000, seed=1)
    assert len(data.tickets) == 20_000 and data.tickets[-1].ticket_id == "T-20000"


def test_bench_profile_gives_every_ticket_the_same_shape():
    data = generate(tickets=50, seed=4, profile="bench")
    assert data == generate(tickets=50, seed=4, profile="bench")
    assert len(data.tickets) == 50 and len(data.files) == 50
    for ticket in data.tickets:
        assert ticket.status == "OPEN" and ticket.description and ticket.unit_id
        assert len(ticket.comments) == 3 and not any(c.is_internal for c in ticket.comments.values())
        assert [t.status for t in ticket.tasks.values()] == ["OPEN"]
        assert len(ticket.attachments) == 1
    assert all(f.size < 1024 for f in data.files)
    with pytest.raises(ValueError):
        generate(tickets=5, profile="uniform")


def test_profile_option_reaches_the_casavi_sandbox():
    with start_sandboxes(tickets=3, seed=2, profile="bench", apps=("casavi",)) as sandbox:
        client = casavi_login(sandbox)
        ticket = client.get("/tickets/T-00002").json()
        comments = client.get("/tickets/T-00002/comments").json()
    assert ticket["status"] == "OPEN"
    assert (len(comments), len(ticket["tasks"]), len(ticket["attachmentDetails"])) == (3, 1, 1)


@contextmanager
def sandbox_cli(ready: Path, **options: Any) -> Iterator[subprocess.Popen]:
    """``run_sandbox_cli(ready_file=ready, **options)`` in a process of its own, yielded once
    its ready file is there (text stdout/stderr); killed on the way out if still running."""
    arguments = ", ".join(f"{name}={value!r}" for name, value in {"ready_file": str(ready), **options}.items())
    code = f"from bridge.sandbox.server import run_sandbox_cli; raise SystemExit(run_sandbox_cli({arguments}))"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_runs_until_sigterm_and_removes_its_ready_file(tmp_path):
    ready = tmp_path / "ready.json"
    with sandbox_cli(ready, tickets=5, seed=2) as process:
        info = json.loads(ready.read_text())
        assert PLAIN_CLIENT.post(info["casavi_url"] + "/authenticate",
                          json={"key": info["casavi_key"], "secret": info["casavi_secret"]}).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert not ready.exists()


def test_a_config_written_beside_an_earlier_state_database_says_to_delete_it(tmp_path):
    """The sandboxes start with fresh data; a state database left beside the config still links
    an earlier sandbox's tickets (a bridge run on it would mirror nothing): the sandbox says so."""
    from bridge.sandbox.written_config import STATE_DB_NAME, earlier_state_note

    config = tmp_path / "bridge.toml"
    assert earlier_state_note(config) is None
    (tmp_path / STATE_DB_NAME).write_bytes(b"")  # as an earlier run leaves it
    with sandbox_cli(tmp_path / "ready.json", tickets=3, seed=2, write_config=str(config)) as process:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0 and f"config written: {config}" in out
    assert f"the state database {tmp_path / STATE_DB_NAME} is from an earlier run" in err
    assert (tmp_path / STATE_DB_NAME).exists()  # said, never deleted: it is the operator's file


def test_apps_starts_only_the_named_sandboxes_so_each_can_run_in_its_own_process(tmp_path):
    ready = tmp_path / "ready.json"
    with start_sandboxes(tickets=3, seed=2, apps=("jira",), ready_file=str(ready)) as sandbox:
        info = json.loads(ready.read_text())
        assert set(sandbox.servers) == {"jira"}
        assert "casavi_url" not in info and PLAIN_CLIENT.get(info["jira_url"] + "/rest/api/2/serverInfo").status_code == 200
    with start_sandboxes(tickets=3, seed=2, apps=("casavi",)) as sandbox:
        assert set(sandbox.servers) == {"casavi"} and "jira_url" not in sandbox.info


def test_apps_refuses_unknown_sandboxes_and_a_config_without_its_source(tmp_path):
    with pytest.raises(ValueError, match="unknown sandbox 'jria'"):
        start_sandboxes(tickets=3, apps=("casavi", "jria"))
    with pytest.raises(ValueError, match="no 'casavi' sandbox"):
        start_sandboxes(tickets=3, apps=("jira",), write_config=str(tmp_path / "bridge.toml"))
    runner = CliRunner()
    unknown = runner.invoke(main, ["sandbox", "--apps", "casavi,jria"])
    assert unknown.exit_code == 2 and "jria" in unknown.output
    no_source = runner.invoke(main, ["sandbox", "--apps", "jira", "--write-config", str(tmp_path / "bridge.toml")])
    assert no_source.exit_code == 2 and "--write-config needs the casavi sandbox" in no_source.output
    assert not (tmp_path / "bridge.toml").exists()

"""Metrics over a real socket; systemd notify datagrams to a real AF_UNIX socket."""

from __future__ import annotations

import http.client
import json
import os
import socket
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from bridge.metrics import Metrics
from bridge.notify import Notifier, notify, watchdog_interval


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def get(port: int, path: str) -> tuple[int, str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read().decode()
    finally:
        connection.close()


@pytest.fixture
def served() -> Iterator[tuple[Metrics, Clock, int]]:
    clock = Clock()
    metrics = Metrics(interval_seconds=60, stale_after_intervals=3, clock=clock)
    host, port = metrics.start("127.0.0.1", 0)
    assert host == "127.0.0.1" and port > 0
    yield metrics, clock, port
    metrics.stop()


def test_metrics_endpoint_serves_counters_gauges_and_histograms(served: tuple[Metrics, Clock, int]) -> None:
    metrics, clock, port = served
    metrics.item_mirrored("ticket", "to_tool", 3)
    metrics.item_mirrored("comment", "to_casavi")
    metrics.error("casavi", "retriable")
    metrics.set_quarantine_size(2)
    metrics.observe_request("tool", 201, 0.2)
    metrics.observe_request("tool", "timeout", 30.0)
    metrics.pass_succeeded()

    status, content_type, body = get(port, "/metrics")

    assert status == 200 and content_type.startswith("text/plain")
    assert 'casavi_bridge_items_mirrored_total{direction="to_tool",kind="ticket"} 3.0' in body
    assert 'casavi_bridge_items_mirrored_total{direction="to_casavi",kind="comment"} 1.0' in body
    assert 'casavi_bridge_errors_total{kind="retriable",side="casavi"} 1.0' in body
    assert "casavi_bridge_quarantine_size 2.0" in body
    [pass_line] = [line for line in body.splitlines() if line.startswith("casavi_bridge_last_successful_pass_timestamp_seconds ")]
    assert float(pass_line.split()[1]) == clock.now
    assert 'casavi_bridge_requests_total{side="tool",status="201"} 1.0' in body
    assert 'casavi_bridge_requests_total{side="tool",status="timeout"} 1.0' in body
    assert 'casavi_bridge_request_duration_seconds_count{side="tool"} 2.0' in body
    assert 'casavi_bridge_request_duration_seconds_bucket{le="0.25",side="tool"} 1.0' in body


def test_healthz_is_ok_after_a_recent_pass_and_503_when_stale(served: tuple[Metrics, Clock, int]) -> None:
    metrics, clock, port = served
    metrics.pass_succeeded()
    clock.now += 100
    fresh = get(port, "/healthz")
    clock.now += 100  # 200 s > 3 intervals of 60 s
    stale = get(port, "/healthz")

    assert fresh[0] == 200 and fresh[1] == "application/json"
    assert json.loads(fresh[2])["status"] == "ok" and json.loads(fresh[2])["age_seconds"] == 100
    assert stale[0] == 503
    assert json.loads(stale[2]) | {"last_successful_pass": None} == {
        "status": "stale", "age_seconds": 200, "max_age_seconds": 180, "last_successful_pass": None,
    }


def test_healthz_allows_the_first_pass_its_time_then_reports_it_missing(served: tuple[Metrics, Clock, int]) -> None:
    metrics, clock, port = served
    starting = get(port, "/healthz")
    clock.now += 181
    never = get(port, "/healthz")

    assert (starting[0], json.loads(starting[2])["status"]) == (200, "starting")
    assert (never[0], json.loads(never[2])["status"]) == (503, "no_successful_pass")


def test_unknown_path_is_404(served: tuple[Metrics, Clock, int]) -> None:
    assert get(served[2], "/admin")[0] == 404


def test_each_metrics_instance_has_its_own_registry_and_stop_frees_the_port() -> None:
    first, second = Metrics(), Metrics()
    _, port = first.start("127.0.0.1", 0)
    second.start("127.0.0.1", 0)
    first.item_mirrored("ticket", "to_tool")
    try:
        assert "casavi_bridge_items_mirrored_total" in get(port, "/metrics")[2]
        labels = {"kind": "ticket", "direction": "to_tool"}
        assert first.registry.get_sample_value("casavi_bridge_items_mirrored_total", labels) == 1.0
        assert second.registry.get_sample_value("casavi_bridge_items_mirrored_total", labels) is None
    finally:
        first.stop()
        second.stop()

    with pytest.raises(ConnectionRefusedError):
        get(port, "/metrics")


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify.sock"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(path))
    receiver.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield receiver
    receiver.close()


def test_notify_sends_ready_status_watchdog_and_stopping_datagrams(notify_socket: socket.socket) -> None:
    notifier = Notifier()

    assert notifier.ready("first pass\nstarting") is True
    assert notifier.status("polling: 12 linked, 0 quarantined") is True
    assert notifier.watchdog() is True
    assert notifier.stopping() is True
    assert notify("STATUS=bye") is True

    received = [notify_socket.recv(4096).decode() for _ in range(5)]
    assert received == [
        "READY=1\nSTATUS=first pass starting",
        "STATUS=polling: 12 linked, 0 quarantined",
        "WATCHDOG=1",
        "STOPPING=1",
        "STATUS=bye",
    ]


def test_notify_reaches_an_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"casavi-bridge-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind("\0" + name)
        receiver.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)

        assert Notifier().watchdog() is True
        assert receiver.recv(4096) == b"WATCHDOG=1"


def test_notify_is_a_no_op_without_notify_socket(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)

    assert Notifier().enabled is False
    assert Notifier().ready() is False
    assert Notifier(str(tmp_path / "gone.sock")).ready() is False  # a vanished socket never raises


def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() is None

    monkeypatch.setenv("WATCHDOG_USEC", "120000000")
    assert watchdog_interval() == 60.0

    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 60.0

    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_interval() is None


def test_every_remote_request_of_both_sides_is_counted_by_side_and_status():
    import httpx

    from bridge.app import observe_requests
    from bridge.errors import NotFoundError
    from bridge.http import HttpPolicy

    replies = iter([200, 404, 200])
    transport = httpx.MockTransport(lambda request: httpx.Response(next(replies)))
    policy = HttpPolicy(max_attempts=1, sleep=lambda _: None)

    class Side:  # what observe_requests looks for: a source with client.policy, a connector hook
        name = "casavi"
        client = type("Client", (), {"policy": policy})()

    class Tool:
        def observe_requests(self, observer):
            self.observer = observer

    metrics, tool = Metrics(), Tool()
    observe_requests(Side(), tool, metrics)
    with httpx.Client(transport=transport, base_url="https://casavi.example") as client:
        policy.send(client, client.build_request("GET", "/tickets"), idempotent=True)
        with pytest.raises(NotFoundError):
            policy.send(client, client.build_request("GET", "/tickets/9"), idempotent=True)
        policy.send(client, client.build_request("GET", "/tickets"), idempotent=True)
    tool.observer("timeout", 30.0)

    def count(side: str, status: str) -> float | None:
        return metrics.registry.get_sample_value("casavi_bridge_requests_total", {"side": side, "status": status})

    assert (count("casavi", "200"), count("casavi", "404"), count("tool", "timeout")) == (2.0, 1.0, 1.0)
    assert metrics.registry.get_sample_value("casavi_bridge_request_duration_seconds_count", {"side": "casavi"}) == 3

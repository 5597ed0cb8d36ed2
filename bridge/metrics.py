"""Prometheus metrics and a health endpoint, served on ``[metrics] listen`` when configured.

Metric names carry the ``casavi_bridge_`` prefix (Prometheus naming practice):

- ``casavi_bridge_items_mirrored_total{kind, direction}``: writes that landed
  (kind: ticket, comment, task, attachment, status; direction: to_tool, to_casavi);
- ``casavi_bridge_errors_total{side, kind}``: failures by side (casavi, relay, tool, state)
  and error class (retriable, fatal, skippable, conflict, config, ...);
- ``casavi_bridge_quarantine_size``: failed writes (and unreadable items) waiting in quarantine;
- ``casavi_bridge_last_successful_pass_timestamp_seconds``: Unix time of the last good pass
  (0 before the first);
- ``casavi_bridge_start_time_seconds``: Unix time the daemon started (an alert's grace period
  before the first pass);
- ``casavi_bridge_sync_interval_seconds``: the configured ``[sync] interval_seconds`` (alert rules
  measure staleness in intervals);
- ``casavi_bridge_tenant_claimed{tenant}``: 1 for a tenant this process works, 0 for one it knows
  but does not hold (a fleet's alert: no worker holds a tenant); a single daemon reports its one
  tenant as 1;
- ``casavi_bridge_request_duration_seconds{side}`` and ``casavi_bridge_requests_total{side, status}``
  for every remote request (status: the HTTP code, or "timeout" / "error").

``contrib/prometheus/casavi-bridge.rules.yml`` and ``contrib/grafana/casavi-bridge.json`` are
built on these names (a test holds them to this module).

``/healthz`` answers JSON, 200 while the last successful pass is at most
``stale_after_intervals`` sync intervals old (and during that long after start, before the
first pass finished), else 503.  A long first pass over thousands of tickets can therefore
report 503 until it completes; that is the truth an alert should see.

A fleet worker (``[fleet]``) makes ``Metrics(tenants=True)``: every metric then carries a
``tenant`` label (the tenant file's stem), and ``for_tenant(name)`` gives the recording view
one tenant's bridge writes through.

Each :class:`Metrics` owns its own ``CollectorRegistry`` (several can live in one process, e.g.
in tests).  ``pages``, when set, is a WSGI app serving every other path of the listener (the
status page, :mod:`bridge.statuspage`).  The HTTP server is the standard library's WSGI server in a background thread,
bound to exactly the configured address.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

NAMESPACE = "casavi_bridge"
REQUEST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The bridge's metrics; ``start(host, port)`` serves them, ``stop()`` ends the server."""

    def __init__(self, *, interval_seconds: float = 60.0, stale_after_intervals: float = 3.0,
                 clock: Callable[[], float] = time.time, tenants: bool = False):
        self.registry = CollectorRegistry(auto_describe=True)
        self.stale_after_intervals = stale_after_intervals
        self.max_age_seconds = interval_seconds * stale_after_intervals
        self._clock = clock
        self._started_at = clock()
        self._last_success: float | None = None
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._labels: dict[str, str] = {}
        self._parent: Metrics | None = None
        common: dict[str, Any] = {"namespace": NAMESPACE, "registry": self.registry}
        t = ["tenant"] if tenants else []
        self.items_mirrored = Counter("items_mirrored", "Items written to the other side.", [*t, "kind", "direction"], **common)
        self.errors = Counter("errors", "Errors by side and error class.", [*t, "side", "kind"], **common)
        self.quarantine_size = Gauge("quarantine_size", "Failed writes (and unreadable items) waiting in quarantine.", t, **common)
        self.last_successful_pass = Gauge(
            "last_successful_pass_timestamp_seconds", "Unix time of the last successful sync pass.", t, **common
        )
        self.request_duration = Histogram(
            "request_duration_seconds", "Duration of remote requests.", [*t, "side"], buckets=REQUEST_BUCKETS, **common
        )
        self.requests = Counter("requests", "Remote requests by side and status.", [*t, "side", "status"], **common)
        self.start_time = Gauge("start_time_seconds", "Unix time this process started.", **common)
        self.start_time.set(self._started_at)
        self.sync_interval = Gauge("sync_interval_seconds", "The configured sync interval.", **common)
        self.sync_interval.set(interval_seconds)
        self.tenant_claimed = Gauge("tenant_claimed", "1 for a tenant this process works, 0 for one it does not hold.",
                                    ["tenant"], **common)
        self.pages: Callable[..., Iterable[bytes]] | None = None

    def for_tenant(self, name: str) -> "Metrics":
        """The view one fleet tenant records through: the same metrics, labelled ``tenant=name``;
        its successful passes also count for the worker's ``/healthz``."""
        view = object.__new__(Metrics)
        view.__dict__.update(self.__dict__)
        view._labels, view._parent = {"tenant": name}, self
        view._server = view._thread = None
        return view

    def _gauge(self, gauge: Gauge) -> Gauge:
        return gauge.labels(**self._labels) if self._labels else gauge

    # ------------------------------------------------------------------ recording

    def item_mirrored(self, kind: str, direction: str, count: int = 1) -> None:
        self.items_mirrored.labels(kind=kind, direction=direction, **self._labels).inc(count)

    def error(self, side: str, kind: str) -> None:
        self.errors.labels(side=side, kind=kind, **self._labels).inc()

    def set_quarantine_size(self, size: int) -> None:
        self._gauge(self.quarantine_size).set(size)

    def pass_succeeded(self, at: float | None = None) -> None:
        """Record a finished pass (``at``: Unix time, default now)."""
        self._last_success = self._clock() if at is None else at
        self._gauge(self.last_successful_pass).set(self._last_success)
        if self._parent is not None:
            self._parent._last_success = self._last_success

    def set_interval(self, interval_seconds: float) -> None:
        """A reloaded ``[sync] interval_seconds``: /healthz and the exported interval follow it."""
        self.max_age_seconds = interval_seconds * self.stale_after_intervals
        self.sync_interval.set(interval_seconds)

    def set_tenant_claimed(self, tenant: str, claimed: bool) -> None:
        self.tenant_claimed.labels(tenant=tenant).set(1 if claimed else 0)

    def observe_request(self, side: str, status: int | str, seconds: float) -> None:
        self.requests.labels(side=side, status=str(status), **self._labels).inc()
        self.request_duration.labels(side=side, **self._labels).observe(seconds)

    # ------------------------------------------------------------------ health

    def health(self) -> tuple[bool, dict[str, Any]]:
        """``(healthy, body)`` as ``/healthz`` reports it."""
        now = self._clock()
        body: dict[str, Any] = {"max_age_seconds": self.max_age_seconds, "last_successful_pass": None, "age_seconds": None}
        if self._last_success is None:
            healthy = now - self._started_at <= self.max_age_seconds
            body["status"] = "starting" if healthy else "no_successful_pass"
            return healthy, body
        age = max(0.0, now - self._last_success)
        healthy = age <= self.max_age_seconds
        body.update(
            status="ok" if healthy else "stale",
            last_successful_pass=datetime.fromtimestamp(self._last_success, timezone.utc).isoformat(),
            age_seconds=round(age, 3),
        )
        return healthy, body

    # ------------------------------------------------------------------ serving

    def wsgi_app(self) -> Callable[..., Iterable[bytes]]:
        metrics_app = make_wsgi_app(self.registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = environ.get("PATH_INFO") or "/"
            if path == "/metrics":
                return metrics_app(environ, start_response)
            if path == "/healthz":
                healthy, body = self.health()
                payload = json.dumps(body).encode()
                status = "200 OK" if healthy else "503 Service Unavailable"
                start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
                return [payload]
            if self.pages is not None:
                return self.pages(environ, start_response)
            payload = b"not found; try /metrics or /healthz\n"
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(payload)))])
            return [payload]

        return app

    def start(self, host: str, port: int) -> tuple[str, int]:
        """Serve in a background thread; returns the bound (host, port) (port 0 picks a free one)."""
        if self._server is not None:
            raise RuntimeError("metrics server already running")
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        server_class = type("MetricsServer", (_ThreadingServer,), {"address_family": family})
        server = make_server(host, port, self.wsgi_app(), server_class=server_class, handler_class=_QuietHandler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="casavi-bridge-metrics", daemon=True)
        self._thread.start()
        bound_host, bound_port = server.server_address[:2]
        return bound_host, bound_port

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> "Metrics":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64  # listen backlog (socketserver's 5 resets a burst of connections)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host's FQDN (a DNS lookup that can hang).
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])
        self.setup_environ()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Scrapes every 15 s would flood the journal; requests are not logged."""

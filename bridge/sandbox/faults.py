"""Fault injection and request counting for every sandbox server (casavi, Jira, relay).

:class:`FaultMiddleware` wraps any ASGI app.  Per request (outside ``/_sandbox``) it

1. counts the request under ``"<METHOD> <route template>"`` (``"GET /tickets/{ticket_id}"``),
2. sleeps ``latency_ms``,
3. then, drawn from one seeded :class:`random.Random` (reproducible runs), may
   - hold the request for ``timeout_hold_seconds`` so the client times out (``timeout_rate``),
   - answer ``429`` with ``Retry-After: <retry_after_seconds>`` (``rate_limit_rate``),
   - answer a random ``500``/``502``/``503`` (``fault_rate``),
   and otherwise passes the request on.

Forced faults take precedence over the rates: ``force_status`` + ``force_count`` answer the
next N requests with that status; ``force_timeout_count`` holds the next N requests.
``force_path`` (default ``""``: every request) limits the forced faults to requests whose path
contains it, e.g. ``"/tickets/T-00003"``: one item fails while the others go through.

It serves itself, with no auth and never faulted or counted, under ``/_sandbox`` (and under
``<strip_prefix>/_sandbox``, e.g. ``/v1/_sandbox/stats``); other ``/_sandbox`` paths go on to the
app uncounted (its own control endpoints):

- ``GET /_sandbox/stats`` → ``{"requests": {"GET /tickets": 12}, "total": 12, "faults": {"429": 1},
  "retry_after_violations": 0, "retry_after_violation_examples": []}``
- ``POST /_sandbox/stats/reset``
- ``GET /_sandbox/requests`` → ``{"requests": [{"start": 1.5, "end": 1.6, "request": "GET /tickets",
  "user_agent": "casavi-bridge/0.1.0 (pid 4242)", "status": 200}, ...]}``: the last 100,000
  requests, with Unix times, in arrival order (which client did what when: the fleet test
  proves with it that no two workers worked one tenant at once)
- ``GET /_sandbox/fault`` → the current knobs; ``POST /_sandbox/fault {knob: value}`` changes
  them at run time.  Keys it does not know go to the app's ``extra_knobs`` hook (e.g. the
  casavi sandbox's ``token_ttl_seconds``); a key nobody knows → 400.

Retry-After, checked from the server side: every 429 sent holds its client (the remote
address, i.e. the whole side as the bridge sees it: every connection from there) until its
``Retry-After`` has passed.  A later request from that client that arrives before then is a
*violation*, counted in the stats with a few examples.  Requests arriving within
:data:`IN_FLIGHT_GRACE_SECONDS` after the 429 was sent are not counted: the client may have
sent them on other connections before the 429 reached it.  Only the last 429 per client counts.

Timeouts: in ``timeout_mode = "drop"`` (default) the held request is never handed to the app
(no side effect) and ends with 504 if the client is still there; in ``"apply"`` it is handed
to the app once the hold ends — after ``timeout_hold_seconds`` or as soon as the client gives
up — so the write happens although the client saw a timeout: the case that proves a client's
duplicate protection.  :meth:`FaultMiddleware.release_holds` ends every hold (server shutdown).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match, Mount

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
ExtraKnobs = Callable[[dict[str, Any]], dict[str, Any]]

CONTROL_SEGMENT = "/_sandbox"
SERVER_ERROR_STATUSES = (500, 502, 503)
UNMATCHED_ROUTE = "<unmatched>"
TIMEOUT_MODES = ("drop", "apply")
HOLD_POLL_SECONDS = 0.05  # how often a held request looks for a departed client or a shutdown
# A request arriving this soon after a 429 may have left the client before the 429 reached it
# (another connection of the same client): not a Retry-After violation.
IN_FLIGHT_GRACE_SECONDS = 0.25
RATE_LIMIT_HEADERS = ("retry-after", "both", "reset", "none")
MAX_VIOLATION_EXAMPLES = 10


@dataclass
class FaultSettings:
    """The fault knobs; one instance per sandbox server, changed at run time via ``/_sandbox/fault``."""

    latency_ms: float = 0.0
    fault_rate: float = 0.0
    rate_limit_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_hold_seconds: float = 35.0
    timeout_mode: str = "drop"
    retry_after_seconds: int = 1
    # Which headers a 429 carries: "retry-after" (Retry-After only), "both" (Retry-After and
    # X-RateLimit-Reset, as Jira Cloud sends them), "reset" (only X-RateLimit-Reset: Atlassian
    # documents that "429 responses may be accompanied by Retry-After and X-RateLimit-Reset
    # headers", https://developer.atlassian.com/cloud/jira/platform/rate-limiting, quoted in
    # JRACLOUD-69262), "none" (neither: the client has to back off on its own).
    rate_limit_headers: str = "retry-after"
    force_status: int = 0
    force_count: int = 0
    force_timeout_count: int = 0
    force_path: str = ""

    def update(self, values: dict[str, Any]) -> None:
        """Apply known keys after validating all of them (all or nothing); ValueError on a bad value."""
        known = {f.name: f.type for f in fields(self)}
        checked: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown fault knob {key!r}")
            if key == "timeout_mode":
                if value not in TIMEOUT_MODES:
                    raise ValueError(f"timeout_mode must be one of {TIMEOUT_MODES}")
                checked[key] = value
                continue
            if key == "force_path":
                if not isinstance(value, str):
                    raise ValueError("force_path must be a string (\"\" = every path)")
                checked[key] = value
                continue
            if key == "rate_limit_headers":
                if value not in RATE_LIMIT_HEADERS:
                    raise ValueError(f"rate_limit_headers must be one of {RATE_LIMIT_HEADERS}")
                checked[key] = value
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{key} must be a number")
            if key.endswith("_rate") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{key} must be between 0 and 1")
            if value < 0:
                raise ValueError(f"{key} must not be negative")
            if key == "force_status" and value and not 400 <= value <= 599:
                raise ValueError("force_status must be a 4xx or 5xx status (0 = off)")
            checked[key] = int(value) if known[key] in ("int", int) else float(value)
        for key, value in checked.items():
            setattr(self, key, value)


class RetryAfterWatch:
    """Remembers the last 429 per client and counts requests that came before its Retry-After passed.

    ``clock`` is monotonic seconds (injectable for tests); ``client`` is the remote address.
    """

    def __init__(self, *, grace_seconds: float = IN_FLIGHT_GRACE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.grace_seconds = grace_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._held: dict[str, tuple[float, float]] = {}  # client -> (429 sent at, allowed again at)
        self._violations = 0
        self._examples: list[dict[str, Any]] = []

    def rate_limited(self, client: str, retry_after_seconds: float) -> None:
        """A 429 with this Retry-After is being sent to ``client`` now."""
        now = self._clock()
        with self._lock:
            self._held[client] = (now, now + retry_after_seconds)

    def arrived(self, client: str, request: str) -> None:
        """A request (``"GET /tickets"``) from ``client`` arrived now: a violation if it is too early."""
        now = self._clock()
        with self._lock:
            held = self._held.get(client)
            if held is None:
                return
            sent_at, allowed_at = held
            if now >= allowed_at:
                del self._held[client]
                return
            if now - sent_at < self.grace_seconds:
                return
            self._violations += 1
            if len(self._examples) < MAX_VIOLATION_EXAMPLES:
                self._examples.append({"request": request, "client": client,
                                       "seconds_after_429": round(now - sent_at, 3),
                                       "seconds_too_early": round(allowed_at - now, 3)})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"retry_after_violations": self._violations,
                    "retry_after_violation_examples": list(self._examples)}

    def reset(self) -> None:
        with self._lock:
            self._held.clear()
            self._violations = 0
            self._examples.clear()


class RequestStats:
    """Thread-safe counters: requests by ``METHOD template``, injected faults by kind, and
    Retry-After violations (:class:`RetryAfterWatch`)."""

    def __init__(self, retry_after: RetryAfterWatch | None = None) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self.retry_after = retry_after or RetryAfterWatch()

    def count_request(self, key: str) -> None:
        with self._lock:
            self._requests[key] += 1

    def count_fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts = {
                "requests": dict(sorted(self._requests.items())),
                "total": sum(self._requests.values()),
                "faults": dict(sorted(self._faults.items())),
            }
        return {**counts, **self.retry_after.snapshot()}

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._faults.clear()
        self.retry_after.reset()


def route_template(app: Any, scope: Scope) -> str | None:
    """The route template (``/tickets/{ticket_id}``) a Starlette app would dispatch ``scope`` to.

    Walks ``app.routes`` (through Mounts, joining their prefixes) without calling anything;
    ``None`` when no route matches or the app has no route table.
    """
    for route in getattr(app, "routes", None) or ():
        match, child_scope = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            inner = route_template(route, {**scope, **child_scope})
            if inner is not None:
                return route.path.rstrip("/") + inner
            continue
        path_format = getattr(route, "path_format", None)
        if path_format is not None:
            return path_format
    return None


def control_suffix(path: str, prefix: str = "") -> str | None:
    """``"/stats"`` for ``/_sandbox/stats`` (or ``<prefix>/_sandbox/stats``); None when not a control path."""
    for base in ((CONTROL_SEGMENT, prefix + CONTROL_SEGMENT) if prefix else (CONTROL_SEGMENT,)):
        if path == base or path.startswith(base + "/"):
            return path[len(base):] or "/"
    return None


class FaultMiddleware:
    """ASGI middleware injecting latency, 5xx, 429 and timeouts, and counting requests.

    ``strip_prefix`` is removed from counted templates (the casavi API lives under ``/v1``
    but is counted as ``GET /tickets``).  ``extra_knobs`` receives the ``/_sandbox/fault``
    keys this middleware does not know and returns the app's current knob values.
    """

    handles_sandbox_faults = True  # server.py wraps an app only when it is not wrapped already

    def __init__(
        self,
        app: ASGIApp,
        settings: FaultSettings | None = None,
        *,
        seed: int = 0,
        strip_prefix: str = "",
        extra_knobs: ExtraKnobs | None = None,
    ) -> None:
        self.app = app
        self.settings = settings or FaultSettings()
        self.stats = RequestStats()
        self.requests: deque[dict[str, Any]] = deque(maxlen=100_000)
        self.strip_prefix = strip_prefix.rstrip("/")
        self.extra_knobs = extra_knobs
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._released = threading.Event()

    # -- decisions ------------------------------------------------------------------------

    def _decide(self, path: str = "") -> tuple[str, int]:
        """("pass", 0), ("timeout", 0) or ("status", code) for the next request (to ``path``)."""
        with self._lock:
            s = self.settings
            forced = s.force_path in path
            if forced and s.force_timeout_count > 0:
                s.force_timeout_count -= 1
                return "timeout", 0
            if forced and s.force_count > 0 and s.force_status:
                s.force_count -= 1
                return "status", s.force_status
            if s.timeout_rate and self._random.random() < s.timeout_rate:
                return "timeout", 0
            if s.rate_limit_rate and self._random.random() < s.rate_limit_rate:
                return "status", 429
            if s.fault_rate and self._random.random() < s.fault_rate:
                return "status", self._random.choice(SERVER_ERROR_STATUSES)
            return "pass", 0

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._random = random.Random(seed)

    def _count_key(self, scope: Scope) -> str:
        template = route_template(self.app, scope)
        if template is None:
            template = UNMATCHED_ROUTE
        elif self.strip_prefix and template.startswith(self.strip_prefix + "/"):
            template = template[len(self.strip_prefix):]
        return f"{scope['method']} {template}"

    # -- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        suffix = control_suffix(scope["path"], self.strip_prefix)
        if suffix is not None:
            if not await self._serve_control(suffix, scope, receive, send):
                await self.app(scope, receive, send)
            return

        key = self._count_key(scope)
        client = _client_of(scope)
        entry = {"start": time.time(), "end": None, "request": key, "status": None,
                 "user_agent": dict(scope.get("headers") or []).get(b"user-agent", b"").decode("latin-1")}
        self.requests.append(entry)

        send = _logging_send(send, entry)
        self.stats.count_request(key)
        self.stats.retry_after.arrived(client, key)
        if self.settings.latency_ms > 0:
            await asyncio.sleep(self.settings.latency_ms / 1000.0)
        kind, status = self._decide(scope["path"])
        if kind == "timeout":
            self.stats.count_fault("timeout")
            await self._hold(scope, receive, send)
            return
        if kind == "status":
            self.stats.count_fault(str(status))
            response = self._fault_response(status)
            if status == 429:
                self.stats.retry_after.rate_limited(client, self._hold_seconds(response))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _fault_response(self, status: int) -> JSONResponse:
        headers = {}
        if status == 429:
            mode = self.settings.rate_limit_headers
            seconds = int(self.settings.retry_after_seconds)
            if mode in ("retry-after", "both"):
                headers["Retry-After"] = str(seconds)
            if mode in ("reset", "both"):
                # "the timestamp (in ISO 8601 format) when the rate limit will reset, calculated as
                # the request timestamp plus the Retry-After period ... yyyy-MM-ddTHH:mmZ"
                # (JRACLOUD-69262): minute precision, so rounded up to the next minute here.
                reset = datetime.now(timezone.utc) + timedelta(seconds=seconds)
                if reset.second or reset.microsecond:
                    reset = reset.replace(second=0, microsecond=0) + timedelta(minutes=1)
                headers["X-RateLimit-Reset"] = reset.strftime("%Y-%m-%dT%H:%MZ")
        return JSONResponse({"statusCode": status, "error": _phrase(status),
                             "message": f"Injected by the sandbox ({status})"}, status_code=status, headers=headers)

    @staticmethod
    def _hold_seconds(response: JSONResponse) -> float:
        """How long a 429 holds its client: Retry-After, else until X-RateLimit-Reset, else 0."""
        if "Retry-After" in response.headers:
            return int(response.headers["Retry-After"])
        reset = response.headers.get("X-RateLimit-Reset")
        if reset:
            when = datetime.strptime(reset, "%Y-%m-%dT%H:%MZ").replace(tzinfo=timezone.utc)
            return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
        return 0.0

    async def _hold(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Keep the request open for ``timeout_hold_seconds`` (or until the client leaves)."""
        body_messages: list[dict[str, Any]] = []
        disconnected = asyncio.Event()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                    return
                body_messages.append(message)

        watcher = asyncio.create_task(watch())
        deadline = asyncio.get_running_loop().time() + self.settings.timeout_hold_seconds
        try:
            while not (disconnected.is_set() or self._released.is_set()):
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                await asyncio.sleep(min(remaining, HOLD_POLL_SECONDS))
        finally:
            watcher.cancel()
        if self.settings.timeout_mode == "apply" and not self._released.is_set():
            await self.app(scope, _replay(body_messages), send)
            return
        if not disconnected.is_set():
            await JSONResponse({"statusCode": 504, "error": "Gateway Timeout",
                                "message": "Injected timeout"}, status_code=504)(scope, receive, send)

    def release_holds(self) -> None:
        """End every held request now (server shutdown); callable from any thread."""
        self._released.set()

    async def _serve_control(self, suffix: str, scope: Scope, receive: Receive, send: Send) -> bool:
        method = scope["method"]
        if suffix == "/stats" and method == "GET":
            response = JSONResponse(self.stats.snapshot())
        elif suffix == "/stats/reset" and method == "POST":
            self.stats.reset()
            response = JSONResponse(self.stats.snapshot())
        elif suffix == "/requests" and method == "GET":
            response = JSONResponse({"requests": list(self.requests)})
        elif suffix == "/fault" and method == "GET":
            response = JSONResponse(self._knobs())
        elif suffix == "/fault" and method == "POST":
            response = await self._change_knobs(Request(scope, receive))
        else:
            return False
        await response(scope, receive, send)
        return True

    def _knobs(self) -> dict[str, Any]:
        knobs = asdict(self.settings)
        if self.extra_knobs is not None:
            knobs.update(self.extra_knobs({}))
        return knobs

    async def _change_knobs(self, request: Request) -> JSONResponse:
        try:
            values = json.loads(await request.body() or b"{}")
        except ValueError:
            return _bad_request("body must be a JSON object")
        if not isinstance(values, dict):
            return _bad_request("body must be a JSON object")
        own_names = {f.name for f in fields(FaultSettings)}
        own = {k: v for k, v in values.items() if k in own_names}
        rest = {k: v for k, v in values.items() if k not in own_names and k != "seed"}
        try:
            FaultSettings(**asdict(self.settings)).update(own)  # validate before changing anything
            if rest:
                if self.extra_knobs is None:
                    raise ValueError(f"unknown knobs {sorted(rest)}")
                self.extra_knobs(rest)
            with self._lock:
                self.settings.update(own)
            if "seed" in values:
                self.reseed(int(values["seed"]))
        except (TypeError, ValueError) as exc:
            return _bad_request(str(exc))
        return JSONResponse(self._knobs())


def _logging_send(send: Send, entry: dict[str, Any]) -> Send:
    """``send`` that notes the response's status and when its last byte went out in ``entry``."""

    async def logged(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            entry["status"] = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            entry["end"] = time.time()
        await send(message)

    return logged


def _client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"statusCode": 400, "error": "Bad Request", "message": message}, status_code=400)


def _replay(messages: Iterable[dict[str, Any]]) -> Receive:
    """A ``receive`` that hands out the buffered body again, then reports a disconnect."""
    pending = list(messages) or [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    return receive


def fault_settings_from(options: Any) -> FaultSettings:
    """Validated settings from a SandboxOptions (or anything with the same attributes)."""
    settings = FaultSettings()
    settings.update({name: getattr(options, name) for name in (
        "latency_ms", "fault_rate", "rate_limit_rate", "timeout_rate", "timeout_hold_seconds",
        "timeout_mode", "retry_after_seconds", "rate_limit_headers") if getattr(options, name, None) is not None})
    return settings


def is_wrapped(app: Any) -> bool:
    """True when ``app`` is a FaultMiddleware or a Starlette app that lists one as middleware."""
    if getattr(app, "handles_sandbox_faults", False):
        return True
    return any(getattr(m, "cls", None) is FaultMiddleware for m in getattr(app, "user_middleware", ()) or ())

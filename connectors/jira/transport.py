"""Retries and Retry-After for every request the Jira connector sends, below the ``jira`` library.

The library's own retries are off (``max_retries=0``): they repeat 429/503 and connection
errors for every method, POST included, so a retried create could duplicate an issue.
Instead one :class:`RetryPolicy` per connector applies the bridge's rules, around each attempt
of both HTTP stacks: :class:`RetryingAdapter`, mounted on the library's requests session (used
for transitions), and :mod:`.wire`, the urllib3 transport of the connector's raw calls.

- Retry-After (else X-RateLimit-Reset) is a minimum wait for the whole connector: after a 429
  (or a 503 carrying it)
  no request goes to Jira before it has passed, from any thread (:class:`RetryAfterGate`).
  A wait longer than ``max_wait`` is not slept through: the call fails with RetriableError
  without sending, and the engine comes back later.
- Idempotent requests (GET, PUT, DELETE, HEAD) are repeated on 408/425/429/5xx, timeouts and
  broken connections, with full-jitter exponential backoff, up to ``max_attempts``.
- A POST (create, comment, transition, upload, remote link) is repeated only when it provably
  never reached Jira (the connection was refused or could not be opened); otherwise the error
  goes up and the engine retries behind the marker check.

Why not urllib3's ``Retry``: it cannot share a Retry-After hold across requests and threads,
and a POST it may not repeat would still wait out Retry-After inside the call.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import datetime, timezone
from functools import partial
from typing import Callable, Mapping, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from bridge.errors import RetriableError, parse_retry_after

MAX_WAIT_SECONDS = 300.0
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_RETRIABLE_STATUS = frozenset({408, 425, 429})


class RetryAfterGate:
    """The earliest time the next request may go to Jira, shared by every thread."""

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 max_wait: float = MAX_WAIT_SECONDS):
        self.sleep, self._clock, self.max_wait = sleep, clock, max_wait
        self._lock = threading.Lock()
        self._not_before = float("-inf")

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + seconds)

    def wait(self) -> None:
        while True:
            with self._lock:
                remaining = self._not_before - self._clock()
            if remaining <= 0:
                return
            if remaining > self.max_wait:
                raise RetriableError(f"jira: rate limited for another {remaining:.0f} s", retry_after=remaining,
                                     status=429)
            self.sleep(remaining)


def rate_limit_wait(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait after a 429 (or a 503): ``Retry-After`` (seconds or an HTTP date), else
    until ``X-RateLimit-Reset``, else None (back off).  Atlassian: "429 responses may be accompanied
    by Retry-After and X-RateLimit-Reset headers ... X-RateLimit-Reset ... the timestamp (in ISO 8601
    format) when the rate limit will reset ... yyyy-MM-ddTHH:mmZ"; "Some transient 5XX errors are
    accompanied by a Retry-After header" (https://developer.atlassian.com/cloud/jira/platform/rate-limiting,
    quoted in JRACLOUD-69262)."""
    seconds = parse_retry_after(headers.get("Retry-After"))
    if seconds is not None:
        return seconds
    reset = (headers.get("X-RateLimit-Reset") or "").strip()
    if not reset:
        return None
    try:
        when = datetime.fromisoformat(reset.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]."""
    return rng.uniform(0.0, min(cap, base * (2 ** (attempt - 1))))


def never_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached Jira (no connection was made).  ``exc`` is a
    requests exception, raised by requests' adapter (wrapping urllib3's ``MaxRetryError``) or by
    :mod:`.wire` (wrapping urllib3's exception itself)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    cause = exc.args[0] if exc.args else None
    cause = getattr(cause, "reason", cause)
    return isinstance(exc, requests.ConnectionError) and isinstance(cause, NewConnectionError)


# What an attempt may raise that is worth another (for an idempotent request, or a POST that
# never left): the requests exceptions of a failed connection or exchange.
TRANSPORT_FAILURES = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)

_Reply = TypeVar("_Reply")


class RetryPolicy:
    """The retry loop of every request to Jira, whichever HTTP stack sends it: the library's
    requests session (:class:`RetryingAdapter`) and the connector's own raw calls (:mod:`.wire`).
    One instance per connector, so both share the gate, the attempts and the observer."""

    def __init__(self, gate: RetryAfterGate, *, max_attempts: int = 4, base_delay: float = 0.5,
                 max_delay: float = 30.0, rng: random.Random | None = None):
        self.gate = gate
        self.max_attempts = max(1, max_attempts)
        self.base_delay, self.max_delay = base_delay, max_delay
        self.rng = rng or random.Random()
        # Called after every attempt with the HTTP status (or "timeout" / "error") and seconds.
        self.observer: Callable[[int | str, float], None] | None = None

    def _observe(self, outcome: int | str, started: float) -> None:
        if self.observer is not None:
            self.observer(outcome, time.perf_counter() - started)

    def run(self, method: str, attempt: Callable[[], _Reply], *, status: Callable[[_Reply], int],
            discard: Callable[[_Reply], None]) -> _Reply:
        """Send by calling ``attempt`` until the rules above are satisfied; ``status`` reads a
        reply's HTTP status (its ``headers`` are read for Retry-After), ``discard`` frees a reply
        that is answered by another attempt.  Raises what ``attempt`` raised last."""
        idempotent = method.upper() in IDEMPOTENT
        attempts = 0
        while True:
            attempts += 1
            self.gate.wait()
            started = time.perf_counter()
            try:
                reply = attempt()
            except TRANSPORT_FAILURES as exc:
                self._observe("timeout" if isinstance(exc, requests.Timeout) else "error", started)
                if attempts >= self.max_attempts or not (idempotent or never_sent(exc)):
                    raise
            else:
                code = status(reply)
                if code in (429, 503):  # held before it is reported: an observer may send next
                    seconds = rate_limit_wait(reply.headers)  # type: ignore[attr-defined]
                    if seconds is not None:
                        self.gate.hold(seconds)
                self._observe(code, started)
                retriable = code in _RETRIABLE_STATUS or code >= 500
                if not retriable or not idempotent or attempts >= self.max_attempts:
                    return reply
                discard(reply)
            self.gate.sleep(backoff(attempts, self.base_delay, self.max_delay, self.rng))


# Connections kept per host by both HTTP stacks (requests' pool_maxsize is 10): idle ones are
# only those a pass used at once (urllib3 opens them on demand), so the bound costs nothing
# below it.
POOL_MAXSIZE = 64


class RetryingAdapter(HTTPAdapter):
    """requests' adapter with :class:`RetryPolicy`'s loop around each send (mounted on the
    ``jira`` library's session, which the connector uses for transitions); it keeps as many
    connections per host as the wire (``POOL_MAXSIZE``; requests' default is 10: see
    :mod:`.wire`)."""

    def __init__(self, policy: RetryPolicy):
        super().__init__(pool_maxsize=POOL_MAXSIZE)
        self.policy = policy

    def send(self, request, **kwargs):  # type: ignore[override]
        return self.policy.run(request.method or "GET", partial(HTTPAdapter.send, self, request, **kwargs),
                               status=_status_code, discard=requests.Response.close)


def _status_code(response: requests.Response) -> int:
    return response.status_code

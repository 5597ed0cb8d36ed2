"""The one HTTP policy every client of the bridge sends through (casavi, relay, connectors).

``HttpPolicy.send`` is the single path a request takes: it waits for the side's "not before"
time, takes a concurrency slot, spends one unit of the pass's request budget, sends, and
classifies the answer with :func:`bridge.errors.classify_status`.  Retriable failures are
repeated with exponential backoff and full jitter; a Retry-After is a *minimum* wait, and it
also holds back every other request to the same host (across threads) until it has passed.

Why a small loop of our own instead of tenacity/stamina: the retry decision depends on three
things those libraries do not model together — the per-host "not before" time shared across
threads, Retry-After as a lower bound mixed with jittered backoff, and "a non-idempotent
request may be repeated only if it provably never left" (``httpx.ConnectError``).  Expressed
with tenacity that is a custom wait, a custom retry predicate and a before-sleep hook sharing
state; the plain loop below is shorter and the waits can be asserted directly through the
injected ``sleep`` and ``clock``.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Callable

import httpx
import structlog

from bridge.errors import (
    BridgeError,
    BudgetExceededError,
    FatalError,
    RetriableError,
    classify_status,
    parse_retry_after,
)

log = structlog.get_logger()

RequestFactory = Callable[[], httpx.Request]

# Transport errors after which the request provably never reached the server: a repeat is
# harmless even for a create without a caller-chosen id.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

_MESSAGE_BODY_CHARS = 200


@dataclass
class SideStats:
    """Counters for one side (host): for metrics and for `status`."""

    requests: int = 0  # attempts actually sent
    retries: int = 0  # attempts that were repeats of an earlier one
    failures: int = 0  # calls that ended in an error for the caller
    rate_limited: int = 0  # 429 answers
    latency_seconds_total: float = 0.0
    latency_seconds_max: float = 0.0


class HttpPolicy:
    """Retries, rate limits, concurrency and request budget for one side (e.g. casavi).

    ``sleep``, ``clock`` and ``rng`` are injectable so tests neither sleep nor guess: a test
    passes a fake clock whose ``sleep`` advances it and asserts the recorded waits.
    """

    def __init__(
        self,
        max_attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        concurrency: int = 4,
        request_budget: int = 0,
        timeout: float = 30.0,
        *,
        max_retry_after: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ):
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.concurrency = concurrency
        self.request_budget = request_budget  # 0 = no limit
        # Called after every attempt with the HTTP status (or "timeout" / "error") and its
        # seconds: the daemon's Prometheus metrics (casavi_bridge_requests_total and duration).
        self.observer: Callable[[int | str, float], None] | None = None
        self.timeout = timeout
        # A Retry-After longer than this is not slept through inside one call: the call
        # raises RetriableError (never fatal) and the host stays blocked until it passed.
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._slots = threading.Semaphore(concurrency)
        self._lock = threading.Lock()
        self._not_before: dict[str, float] = {}
        self._budget_used = 0
        self._stats: dict[str, SideStats] = {}

    def connection_limits(self) -> httpx.Limits:
        """The pool of an ``httpx.Client`` sending through this policy: as many idle connections
        kept as requests may run at once (httpx keeps 20 by default, so workers beyond 20 would
        open and close a connection per request)."""
        return httpx.Limits(max_connections=max(100, self.concurrency),
                            max_keepalive_connections=max(20, self.concurrency))

    def __repr__(self) -> str:
        return (
            f"HttpPolicy(max_attempts={self.max_attempts}, concurrency={self.concurrency}, "
            f"request_budget={self.request_budget}, budget_used={self._budget_used})"
        )

    # -- budget and counters ---------------------------------------------------------------

    def reset_budget(self) -> None:
        """Start a new pass: the request budget is full again."""
        with self._lock:
            self._budget_used = 0

    @property
    def budget_used(self) -> int:
        return self._budget_used

    @property
    def budget_left(self) -> int | None:
        """Requests this pass may still send (None: no budget)."""
        with self._lock:
            return max(0, self.request_budget - self._budget_used) if self.request_budget else None

    @property
    def requests_sent(self) -> int:
        """Requests sent since the policy was made, to every host: each attempt (retries
        included), counted once it ended; never reset (``budget_used`` is, with every pass)."""
        with self._lock:
            return sum(s.requests for s in self._stats.values())

    def stats(self) -> dict[str, SideStats]:
        """A copy of the counters per host."""
        with self._lock:
            return {host: SideStats(**vars(s)) for host, s in self._stats.items()}

    def not_before(self, host: str) -> float | None:
        """The clock time before which no request goes to ``host`` (None when free)."""
        with self._lock:
            return self._not_before.get(host)

    def refuse_if_held(self, url: str | httpx.URL) -> None:
        """RetriableError (``retry_after``: the seconds left) while ``url``'s host is held by a
        Retry-After; nothing when it is free.  For a call that must not wait for the hold, to
        ask before it does anything that could (such as fetching a token)."""
        self._refuse_if_held(_host_key(httpx.URL(url)))

    def _refuse_if_held(self, host: str) -> None:
        with self._lock:
            until = self._not_before.get(host, float("-inf"))
        left = until - self._clock()
        if left > 0:
            raise RetriableError(f"{host} asked for a pause (Retry-After); not sent before it passed",
                                 retry_after=left)

    # -- the one send path -----------------------------------------------------------------

    def send(
        self,
        client: httpx.Client,
        request: httpx.Request | RequestFactory,
        *,
        idempotent: bool,
        stream: bool = False,
        attempts: int | None = None,
        wait_for_hold: bool = True,
    ) -> httpx.Response:
        """Send with retries; return a 2xx/3xx response or raise a :mod:`bridge.errors` error.

        ``attempts``: at most this many tries for this request (never more than the policy's
        ``max_attempts``); e.g. 1 for a read made ahead of need, which its caller reads again
        with the full retries when it is needed and failed.  ``wait_for_hold`` False (such a
        read too): while the host is held by a Retry-After, RetriableError at once instead of
        sleeping until it passed, so that no read nobody may need waits to go out behind a
        rate limit.

        ``request`` may be a factory returning a fresh request per attempt (needed when the
        body is a stream, or when a header such as the token may change between attempts).
        ``idempotent`` says whether a repeat after the request may have reached the server is
        harmless; when False only errors that happened before sending are retried.  With
        ``stream=True`` the successful response is returned unread and the caller closes it.
        """
        make = request if callable(request) else (lambda: request)
        max_attempts = self.max_attempts if attempts is None else max(1, min(attempts, self.max_attempts))
        retry_wait = 0.0
        attempt = 0
        while True:
            attempt += 1
            req = make()
            host = _host_key(req.url)
            if self._wait_turn(host, retry_wait, wait_for_hold=wait_for_hold) and callable(request):
                req = make()  # built again after a wait: e.g. a token that expired meanwhile
            self._spend_budget(host)
            try:
                response = self._send_once(client, req, host, stream=stream, retry=attempt > 1)
            except httpx.HTTPError as exc:
                error = _transport_error(req, exc)
                error.__cause__ = exc
                repeatable = idempotent or isinstance(exc, _NOT_SENT)
            else:
                error = _response_error(req, response, stream=stream)
                if error is None:
                    return response
                repeatable = idempotent
                if response.status_code == 429:
                    self._count(host, rate_limited=1)
            retry_after = error.retry_after if isinstance(error, RetriableError) else None
            if retry_after is not None:
                self._hold_host(host, retry_after)
            if not isinstance(error, RetriableError) or not repeatable or attempt >= max_attempts:
                self._count(host, failures=1)
                raise error
            if retry_after is not None and retry_after > self.max_retry_after:
                self._count(host, failures=1)
                log.warning("http_retry_after_exceeded_limit", host=host, retry_after=retry_after)
                raise error
            retry_wait = self._backoff(attempt, retry_after)
            log.info(
                "http_request_retried",
                method=req.method,
                host=host,
                path=req.url.path,
                attempt=attempt,
                status=getattr(error, "status", None),
                wait_seconds=round(retry_wait, 3),
            )

    # -- internals -------------------------------------------------------------------------

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full-jitter exponential backoff; with Retry-After: max(retry_after, backoff) + jitter."""
        cap = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        backoff = self._rng.uniform(0.0, cap)
        if retry_after is None:
            return backoff
        return max(retry_after, backoff) + self._rng.uniform(0.0, min(self.base_delay, cap))

    def _hold_host(self, host: str, seconds: float) -> None:
        until = self._clock() + seconds
        with self._lock:
            if until > self._not_before.get(host, float("-inf")):
                self._not_before[host] = until

    def _wait_turn(self, host: str, retry_wait: float, *, wait_for_hold: bool = True) -> bool:
        """Sleep until both this call's backoff and the host's not-before time have passed;
        True when it slept.  ``wait_for_hold`` False: RetriableError instead of sleeping for the
        host's not-before time."""
        own_until = self._clock() + retry_wait
        slept_for: float | None = None
        while True:
            if not wait_for_hold:
                self._refuse_if_held(host)
            with self._lock:
                host_until = self._not_before.get(host, float("-inf"))
            until = max(own_until, host_until)
            remaining = until - self._clock()
            if remaining <= 0 or (slept_for is not None and until <= slept_for):
                # Done; or slept for this deadline already (a clock that did not move must
                # not trap us).
                return slept_for is not None
            self._sleep(remaining)
            slept_for = until

    def _spend_budget(self, host: str) -> None:
        with self._lock:
            if self.request_budget and self._budget_used >= self.request_budget:
                raise BudgetExceededError(
                    f"request budget of {self.request_budget} for this pass is used up ({host})"
                )
            self._budget_used += 1

    def _send_once(
        self, client: httpx.Client, request: httpx.Request, host: str, *, stream: bool, retry: bool
    ) -> httpx.Response:
        with self._slots:
            started = time.perf_counter()
            outcome: int | str = "error"
            try:
                response = client.send(request, stream=stream)
                outcome = response.status_code
                return response
            except httpx.TimeoutException:
                outcome = "timeout"
                raise
            finally:
                elapsed = time.perf_counter() - started
                self._count(host, requests=1, retries=int(retry), latency=elapsed)
                if self.observer is not None:
                    self.observer(outcome, elapsed)

    def _count(self, host: str, *, requests: int = 0, retries: int = 0, failures: int = 0,
               rate_limited: int = 0, latency: float | None = None) -> None:
        with self._lock:
            stats = self._stats.setdefault(host, SideStats())
            stats.requests += requests
            stats.retries += retries
            stats.failures += failures
            stats.rate_limited += rate_limited
            if latency is not None:
                stats.latency_seconds_total += latency
                stats.latency_seconds_max = max(stats.latency_seconds_max, latency)


def _host_key(url: httpx.URL) -> str:
    return f"{url.host}:{url.port}" if url.port else url.host


def _describe(request: httpx.Request) -> str:
    # Method and path only: query strings and headers (token) never go into messages.
    return f"{request.method} {request.url.path}"


def _transport_error(request: httpx.Request, exc: httpx.HTTPError) -> BridgeError:
    if isinstance(exc, httpx.TimeoutException):
        return RetriableError(f"{_describe(request)} timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError):
        return RetriableError(f"{_describe(request)} failed: {type(exc).__name__}")
    # Anything else from httpx (e.g. a malformed URL) is a programming or config problem.
    return FatalError(f"{_describe(request)} could not be sent: {type(exc).__name__}")


def _response_error(request: httpx.Request, response: httpx.Response, *, stream: bool) -> BridgeError | None:
    status = response.status_code
    if status < 400:
        return None
    try:
        if stream:
            response.read()
        body = response.text[:_MESSAGE_BODY_CHARS].strip()
    except (httpx.HTTPError, UnicodeDecodeError):
        body = ""
    finally:
        if stream:
            response.close()
    message = f"{_describe(request)} answered {status}" + (f": {body}" if body else "")
    return classify_status(status, message, retry_after=parse_retry_after(response.headers.get("Retry-After")))

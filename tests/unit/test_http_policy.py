"""The shared HTTP policy: retries, Retry-After, per-host holds, budget, classification."""

from __future__ import annotations

import random
import threading
import time
from email.utils import format_datetime as http_date
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from bridge.errors import (
    AuthError,
    BudgetExceededError,
    ConflictError,
    FatalError,
    NotFoundError,
    PayloadTooLargeError,
    RetriableError,
)
from bridge.http import HttpPolicy


class FakeClock:
    """A monotonic clock that only moves when the policy sleeps; records every wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


class TopOfRange(random.Random):
    """Jitter that always picks the top of its range, so backoff is predictable."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Server:
    """A scripted MockTransport: answers in order, records arrival times (on the fake clock)."""

    def __init__(self, clock: FakeClock, answers: list) -> None:
        self.clock = clock
        self.answers = list(answers)
        self.arrivals: list[tuple[str, float]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.arrivals.append((request.url.host, self.clock()))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, type) and issubclass(answer, Exception):
            raise answer("scripted failure", request=request)
        if isinstance(answer, tuple):
            status, headers = answer
            return httpx.Response(status, headers=headers, json={"error": "scripted"})
        return httpx.Response(answer, json={"ok": True})


def make(answers: list, **policy_args):
    clock = FakeClock()
    server = Server(clock, answers)
    args = dict(max_attempts=5, base_delay=0.5, max_delay=8.0, concurrency=4, request_budget=0, timeout=5)
    args.update(policy_args)
    rng = args.pop("rng", None) or TopOfRange()
    policy = HttpPolicy(**args, sleep=clock.sleep, clock=clock, rng=rng)
    client = httpx.Client(transport=httpx.MockTransport(server))
    return policy, client, server, clock


def get(client: httpx.Client, host: str = "casavi.test") -> httpx.Request:
    return client.build_request("GET", f"https://{host}/v1/tickets")


def post(client: httpx.Client, host: str = "casavi.test") -> httpx.Request:
    return client.build_request("POST", f"https://{host}/v1/files", content=b"x")


def test_retry_after_seconds_is_a_minimum_wait_before_the_repeat():
    policy, client, server, clock = make([(429, {"Retry-After": "7"}), 200], rng=random.Random(3))
    response = policy.send(client, get(client), idempotent=True)
    assert response.status_code == 200
    assert len(clock.waits) == 1
    assert 7.0 <= clock.waits[0] <= 7.0 + 0.5  # never less than Retry-After, jitter on top
    assert server.arrivals[1][1] - server.arrivals[0][1] >= 7.0


def test_retry_after_as_http_date_is_a_minimum_wait():
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    policy, client, server, clock = make([(429, {"Retry-After": http_date(when, usegmt=True)}), 200])
    policy.send(client, get(client), idempotent=True)
    assert clock.waits[0] >= 28.0


def test_retry_after_wins_over_a_shorter_backoff_and_backoff_over_a_shorter_retry_after():
    policy, client, _, clock = make([(503, {}), (503, {}), (503, {}), (503, {"Retry-After": "1"}), 200],
                                    base_delay=1.0, max_delay=60)
    policy.send(client, get(client), idempotent=True)
    # backoff caps 1, 2, 4, then 8 which beats Retry-After 1 (plus jitter up to base_delay)
    assert clock.waits == [1.0, 2.0, 4.0, 9.0]


def test_server_errors_are_retried_with_exponential_backoff_capped_at_max_delay():
    policy, client, server, clock = make([(500, {}), (502, {}), (503, {}), (504, {}), 200],
                                         base_delay=1.0, max_delay=3.0)
    assert policy.send(client, get(client), idempotent=True).status_code == 200
    assert clock.waits == [1.0, 2.0, 3.0, 3.0]
    assert len(server.arrivals) == 5


def test_full_jitter_waits_stay_between_zero_and_the_cap():
    policy, client, _, clock = make([(503, {})] * 4 + [200], base_delay=1.0, max_delay=4.0,
                                    rng=random.Random(7))
    policy.send(client, get(client), idempotent=True)
    for attempt, wait in enumerate(clock.waits, start=1):
        assert 0.0 <= wait <= min(4.0, 2 ** (attempt - 1))


def test_retries_stop_after_max_attempts_with_a_retriable_error():
    policy, client, server, _ = make([(503, {})], max_attempts=3)
    with pytest.raises(RetriableError) as caught:
        policy.send(client, get(client), idempotent=True)
    assert caught.value.status == 503
    assert len(server.arrivals) == 3


def test_non_idempotent_post_is_not_repeated_after_a_server_error():
    policy, client, server, clock = make([(503, {}), 200])
    with pytest.raises(RetriableError):
        policy.send(client, post(client), idempotent=False)
    assert len(server.arrivals) == 1
    assert clock.waits == []


def test_non_idempotent_post_is_not_repeated_after_a_read_timeout():
    policy, client, server, _ = make([httpx.ReadTimeout, 200])
    with pytest.raises(RetriableError):
        policy.send(client, post(client), idempotent=False)
    assert len(server.arrivals) == 1


def test_non_idempotent_post_is_repeated_when_the_connection_was_never_made():
    policy, client, server, _ = make([httpx.ConnectError, 201])
    assert policy.send(client, post(client), idempotent=False).status_code == 201
    assert len(server.arrivals) == 2


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError])
def test_timeouts_and_transport_errors_are_retried_for_idempotent_requests(failure):
    policy, client, server, _ = make([failure, 200])
    assert policy.send(client, get(client), idempotent=True).status_code == 200
    assert len(server.arrivals) == 2


def test_a_timeout_that_never_passes_ends_as_retriable_error():
    policy, client, _, _ = make([httpx.ReadTimeout], max_attempts=2)
    with pytest.raises(RetriableError, match="timed out"):
        policy.send(client, get(client), idempotent=True)


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, FatalError), (401, AuthError), (403, AuthError), (404, NotFoundError),
     (409, ConflictError), (413, PayloadTooLargeError), (422, FatalError)],
)
def test_client_errors_are_classified_and_never_retried(status, error):
    policy, client, server, _ = make([(status, {}), 200])
    with pytest.raises(error):
        policy.send(client, get(client), idempotent=True)
    assert len(server.arrivals) == 1


def test_error_messages_name_method_and_path_but_not_query_or_headers():
    policy, client, _, _ = make([(400, {})])
    request = client.build_request("GET", "https://casavi.test/v1/tickets?secret=s3cr3t",
                                   headers={"token": "tok-123"})
    with pytest.raises(FatalError) as caught:
        policy.send(client, request, idempotent=True)
    assert "GET /v1/tickets" in str(caught.value)
    assert "s3cr3t" not in str(caught.value) and "tok-123" not in str(caught.value)


def test_budget_is_spent_per_request_and_refilled_by_reset():
    policy, client, server, _ = make([200], request_budget=3)
    for _ in range(3):
        policy.send(client, get(client), idempotent=True)
    with pytest.raises(BudgetExceededError):
        policy.send(client, get(client), idempotent=True)
    assert len(server.arrivals) == 3  # the refused request was never sent
    policy.reset_budget()
    assert policy.send(client, get(client), idempotent=True).status_code == 200


def test_retries_spend_budget_too():
    policy, client, server, _ = make([(503, {}), (503, {}), 200], request_budget=2)
    with pytest.raises(BudgetExceededError):
        policy.send(client, get(client), idempotent=True)
    assert len(server.arrivals) == 2


def test_retry_after_holds_back_later_requests_to_the_same_host_but_not_others():
    policy, client, server, clock = make([(429, {"Retry-After": "20"}), 200])
    with pytest.raises(RetriableError):
        policy.send(client, post(client), idempotent=False)  # not repeated, but the hold stays
    held_at = server.arrivals[0][1]
    policy.send(client, get(client, "jira.test"), idempotent=True)
    assert server.arrivals[-1] == ("jira.test", held_at)  # another side is not held
    policy.send(client, get(client), idempotent=True)
    assert server.arrivals[-1][0] == "casavi.test"
    assert server.arrivals[-1][1] >= held_at + 20


def test_a_retry_after_beyond_the_limit_is_raised_not_slept_and_the_host_stays_held():
    policy, client, server, clock = make([(429, {"Retry-After": "3600"}), 200], max_retry_after=60)
    with pytest.raises(RetriableError) as caught:
        policy.send(client, get(client), idempotent=True)
    assert caught.value.retry_after == 3600
    assert clock.waits == []
    assert policy.not_before("casavi.test") == pytest.approx(clock.now + 3600)


def test_retry_after_holds_requests_from_other_threads():
    hold = 0.3
    arrivals: list[float] = []
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            arrivals.append(time.monotonic())
            first = len(arrivals) == 1
        if first:
            return httpx.Response(429, headers={"Retry-After": str(hold)})
        return httpx.Response(200)

    policy = HttpPolicy(max_attempts=1, base_delay=0.01, max_delay=1, concurrency=4,
                        request_budget=0, timeout=5)
    client = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(RetriableError):
        policy.send(client, get(client), idempotent=True)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(
        policy.send(client, get(client), idempotent=True).status_code)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200, 200, 200]
    assert all(t >= arrivals[0] + hold - 0.01 for t in arrivals[1:])


def test_concurrency_limit_is_never_exceeded():
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.02)
        with lock:
            in_flight -= 1
        return httpx.Response(200)

    policy = HttpPolicy(max_attempts=1, base_delay=0.01, max_delay=1, concurrency=2,
                        request_budget=0, timeout=5)
    client = httpx.Client(transport=httpx.MockTransport(handler))
    threads = [threading.Thread(target=policy.send, args=(client, get(client)), kwargs={"idempotent": True})
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 2


def test_counters_per_host_count_requests_retries_failures_and_rate_limits():
    policy, client, _, _ = make([(429, {"Retry-After": "1"}), (503, {}), 200, (404, {})])
    policy.send(client, get(client), idempotent=True)
    with pytest.raises(NotFoundError):
        policy.send(client, get(client), idempotent=True)
    stats = policy.stats()["casavi.test"]
    assert (stats.requests, stats.retries, stats.failures, stats.rate_limited) == (4, 2, 1, 1)
    assert stats.latency_seconds_total >= 0.0


def test_a_request_factory_is_built_after_the_wait_so_the_repeat_carries_fresh_headers():
    clock = FakeClock()
    token = {"value": "old"}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["token"])
        return httpx.Response(429 if len(seen) == 1 else 200, headers={"Retry-After": "30"})

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        token["value"] = "new"  # e.g. the token was refreshed while this call waited

    policy = HttpPolicy(max_attempts=3, base_delay=0.1, max_delay=1, concurrency=1, request_budget=0,
                        timeout=5, sleep=sleep, clock=clock)
    client = httpx.Client(transport=httpx.MockTransport(handler))
    factory = lambda: client.build_request("GET", "https://casavi.test/v1/tickets",  # noqa: E731
                                           headers={"token": token["value"]})
    assert policy.send(client, factory, idempotent=True).status_code == 200
    assert seen == ["old", "new"]


def test_streamed_error_responses_are_read_for_the_message_and_closed():
    policy, client, _, _ = make([(404, {})])
    with pytest.raises(NotFoundError, match="scripted"):
        policy.send(client, get(client), idempotent=True, stream=True)


def test_repr_shows_no_secrets_and_settings_are_validated():
    assert "HttpPolicy(" in repr(HttpPolicy())
    with pytest.raises(ValueError):
        HttpPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        HttpPolicy(concurrency=0)


def test_attempts_caps_the_tries_of_one_request_and_never_raises_the_policys():
    policy, client, server, clock = make([(503, {}), 200])
    with pytest.raises(RetriableError):
        policy.send(client, get(client), idempotent=True, attempts=1)
    assert len(server.arrivals) == 1 and clock.waits == []  # no retry, no wait behind it
    policy, client, server, _ = make([(503, {})] * 10)
    with pytest.raises(RetriableError):
        policy.send(client, get(client), idempotent=True, attempts=50)
    assert len(server.arrivals) == policy.max_attempts


def test_a_request_that_may_not_wait_for_a_hold_is_not_sent_while_the_host_is_held():
    policy, client, server, clock = make([(429, {"Retry-After": "20"}), 200], max_attempts=1)
    with pytest.raises(RetriableError):
        policy.send(client, get(client), idempotent=True)  # the 429 holds the host for 20 s
    with pytest.raises(RetriableError, match="Retry-After") as raised:
        policy.send(client, get(client), idempotent=True, wait_for_hold=False)
    assert len(server.arrivals) == 1 and clock.waits == []  # not sent, not slept
    assert 19.0 <= raised.value.retry_after <= 20.0
    with pytest.raises(RetriableError, match="Retry-After"):
        policy.refuse_if_held("https://casavi.test/v1/authenticate")  # asked before building a request
    policy.refuse_if_held("https://jira.test/rest/api/2/myself")  # another host: free
    assert policy.send(client, get(client, "jira.test"), idempotent=True, wait_for_hold=False).status_code == 200
    clock.now += 20  # the hold has passed
    assert policy.send(client, get(client), idempotent=True, wait_for_hold=False).status_code == 200
    assert [host for host, _ in server.arrivals] == ["casavi.test", "jira.test", "casavi.test"]

"""The Redmine client's connections, against a scripted HTTP/1.1 server (keep-alive, as Redmine
behind its web server); what it sends and reads is in test_redmine_connector.py (real Redmine)."""

from __future__ import annotations

import threading

import pytest

from bridge.http import HttpPolicy
from connectors.redmine import RedmineConnectorPlugin, RedmineSettings
from connectors.redmine.client import RedmineClient
from tests.contract.test_jira_wire import Scripted, no_proxy_env, ok  # noqa: F401  (a fixture)


def test_workers_beyond_twenty_keep_their_connections(no_proxy_env):
    """32 workers and a policy allowing 32 requests at once, three rounds: each keeps its
    connection (httpx's default of 20 idle connections made 12 of them open one per request).
    The connector's own policy allows 4 (``HttpPolicy``'s default)."""
    workers, rounds = 32, 3
    server = Scripted(lambda arrival, so_far: ok({"issue": {"id": 7, "subject": "Heizung"}}), delay=0.05).start()
    client = RedmineClient(server.url, "key", policy=HttpPolicy(concurrency=workers))
    start = threading.Barrier(workers)
    subjects: list[str] = []

    def worker() -> None:
        for _ in range(rounds):
            start.wait(10)
            subjects.append(client.get("/issues/7.json")["issue"]["subject"])

    try:
        threads = [threading.Thread(target=worker) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert subjects == ["Heizung"] * workers * rounds
        assert server.connections <= workers  # none opened again after the first round
    finally:
        client.close()
        server.stop()


@pytest.mark.parametrize("concurrency", [None, 8])
def test_redmine_concurrency_sets_the_requests_at_once(no_proxy_env, concurrency):
    """``[redmine] concurrency`` (default 4): eight workers' reads reach Redmine at once only
    when it allows eight; with the default the last four wait for a slot."""
    server = Scripted(lambda arrival, so_far: ok({"issue": {"id": 7}}), delay=0.3).start()
    keys = {"url": server.url, "api_key": "key", "project": "ops"}
    settings = RedmineSettings(**keys, **({} if concurrency is None else {"concurrency": concurrency}))
    client = RedmineConnectorPlugin.create(settings).client
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait(10)
        client.get("/issues/7.json")

    try:
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        arrived = sorted(a.at for a in server.arrivals)
        assert len(arrived) == 8
        waited = [at - arrived[0] >= 0.25 for at in arrived]
        assert waited == ([False] * 4 + [True] * 4 if concurrency is None else [False] * 8)
    finally:
        client.close()
        server.stop()

"""The Redmine client's connections, against a scripted HTTP/1.1 server (keep-alive, as Redmine
behind its web server); what it sends and reads is in test_redmine_connector.py (real Redmine)."""

from __future__ import annotations

import pytest

from bridge.http import HttpPolicy
from connectors.redmine import RedmineConnectorPlugin, RedmineSettings
from connectors.redmine.client import RedmineClient
from tests.contract.test_jira_wire import Scripted, in_rounds, no_proxy_env, ok  # noqa: F401  (a fixture)


def test_workers_beyond_twenty_keep_their_connections(no_proxy_env):
    """32 workers and a policy allowing 32 requests at once, three rounds: each keeps its
    connection (httpx's default of 20 idle connections made 12 of them open one per request).
    The connector's policy allows ``[redmine] concurrency`` (default 4)."""
    workers, rounds = 32, 3
    server = Scripted(lambda arrival, so_far: ok({"issue": {"id": 7, "subject": "Heizung"}}), delay=0.05).start()
    client = RedmineClient(server.url, "key", policy=HttpPolicy(concurrency=workers))
    try:
        subjects = in_rounds(workers, rounds, lambda n: client.get("/issues/7.json")["issue"]["subject"])
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
    try:
        in_rounds(8, 1, lambda n: client.get("/issues/7.json"))
        arrived = sorted(a.at for a in server.arrivals)
        assert len(arrived) == 8
        waited = [at - arrived[0] >= 0.25 for at in arrived]
        assert waited == ([False] * 4 + [True] * 4 if concurrency is None else [False] * 8)
    finally:
        client.close()
        server.stop()

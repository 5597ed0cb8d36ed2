"""The Redmine client's connections, against a scripted HTTP/1.1 server (keep-alive, as Redmine
behind its web server); what it sends and reads is in test_redmine_connector.py (real Redmine)."""

from __future__ import annotations

import threading

from bridge.http import HttpPolicy
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

"""A create whose answer is lost (Jira stored the issue, the bridge never heard back), against the
realistic Jira sandbox in both flavours: Data Center (search rows without properties, the marker
found by its label and the candidate's property read) and Cloud (search lagging behind writes).
The next passes never create a second issue: the ticket waits until the configured search lag
has passed, then its issue is found by the marker label and adopted."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import requests

from bridge.app import build_bridge
from bridge.config import settings_from_dict
from bridge.sandbox.server import start_sandboxes
from bridge.sandbox.written_config import sandbox_config
from connectors.jira.rest import JiraRest

HTTP = httpx.Client(timeout=10)
LAG_SECONDS = 2.0  # the sandbox's index lag in the cloud flavour here (its default is 3)


class AnswerLost(JiraRest):
    """Jira's session, except that the answer to the next issue create never arrives (a read
    timeout after Jira stored the issue)."""

    lose = 1

    def send(self, method: str, path: str, body: Any) -> Any:
        reply = super().send(method, path, body)
        if method == "POST" and path == "issue" and self.lose:
            self.lose -= 1
            raise requests.ReadTimeout("read timed out (the answer was lost)")
        return reply


@pytest.fixture(params=["server", "cloud"])
def world(request, tmp_path) -> Iterator[tuple[Any, Any]]:
    lag = LAG_SECONDS if request.param == "cloud" else 0.0
    with start_sandboxes(tickets=0, seed=7, apps=("casavi", "jira"), jira_mode=request.param,
                         jira_search_lag_seconds=lag) as handle:
        raw = sandbox_config(handle.info, config_path=tmp_path / "bridge.toml", jira_deployment=request.param,
                             jira={"jira_search_lag_seconds": lag})
        bridge = build_bridge(settings_from_dict(raw), workdir=tmp_path)
        try:
            yield handle, bridge
        finally:
            bridge.close()


def _issues_of(handle, ticket: str) -> list[dict[str, Any]]:
    issues = HTTP.get(handle.root_url("jira") + "/_sandbox/issues").json()
    return [i for i in issues if (i["properties"].get("casavi") or {}).get("ticketId") == ticket]


def test_a_create_whose_answer_was_lost_is_never_made_twice(world):
    handle, bridge = world
    tenant = next(iter(handle.casavi.store.contacts))
    ticket = HTTP.post(handle.casavi_root + "/_sandbox/tickets", json={
        "title": "Wasserschaden", "status": "OPEN", "description": "Nass.", "contactId": tenant}).json()["id"]
    connector = bridge.connector
    lost = AnswerLost(connector.settings)
    lost.observe(lambda *_: None)
    connector.rest = lost

    first = bridge.engine.run_pass()
    assert ticket in {k.partition(":")[2] for k in first.failed}  # the create looked failed
    assert len(_issues_of(handle, ticket)) == 1  # but Jira has the issue

    connector.rest = JiraRest(connector.settings)  # as after a restart: the issue id is unknown
    waited = 0
    deadline = time.monotonic() + connector.search_lag_seconds + 30
    while True:
        report = bridge.engine.run_pass()
        assert len(_issues_of(handle, ticket)) == 1, "a second issue was created"
        if report.counts.get("intent_adopted"):
            break
        waited += report.counts.get("intent_waiting", 0)
        assert time.monotonic() < deadline, "the issue was never found by its marker"
        time.sleep(0.5)
    if connector.settings.deployment == "cloud":
        assert waited >= 1  # the ticket waited for Cloud's index instead of being created again
    link = bridge.ledger.item_link(f"casavi:{ticket}")
    assert link is not None and link.target_id == _issues_of(handle, ticket)[0]["id"]
    assert bridge.engine.run_pass().failed == {}
    assert len(_issues_of(handle, ticket)) == 1

"""The convergence machine of test_sync_convergence against the realistic Jira sandbox over a
real socket, in both flavours: Data Center (search rows without properties) and Cloud (its
search index a second behind every write).  Random edits on both sides (people in Jira act
through the sandbox's control endpoints, as in its UI) and random failures, some after Jira
stored the write (a lost answer: a create whose issue exists although the bridge never heard).
Afterwards: one issue per ticket, no comment twice on either side, every status and comment
on both sides, and a pass with nothing left to do."""

from __future__ import annotations

import itertools
import random
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import precondition, rule

from bridge.state.db import migrate, open_engine
from bridge.state.ledger import Ledger
from bridge.sync.engine import Engine, EngineSettings
from tests.contract.test_jira_as_jira_behaves import connector_for
from tests.fakes import FakeSource
from tests.fixtures.jira_sandbox import start_jira_sandbox
from tests.integration.test_engine_memory import make_rules
from tests.integration.test_sync_convergence import TOOL_STATUSES, Flaky, SyncMachine

LAG_SECONDS = 1.0  # the Cloud flavour's index lag here
HTTP = httpx.Client(timeout=10)


class JiraSyncMachine(SyncMachine):
    flavor = "server"

    def __init__(self):  # noqa: D107 - SyncMachine's world, with Jira as the tool
        super(SyncMachine, self).__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="convergence-jira-"))
        self.rng = random.Random(0)
        self.casavi = FakeSource(self.tmp / "files")
        self.lag = LAG_SECONDS if self.flavor == "cloud" else 0.0
        self.jira, self.server, self.thread = start_jira_sandbox({"jira_mode": self.flavor,
                                                                  "jira_search_lag_seconds": self.lag})
        self.tool = connector_for(self.jira, search_lag_seconds=self.lag + 0.5)
        engine = open_engine(f"sqlite:///{self.tmp / 'state.db'}")
        migrate(engine)
        self.ledger = Ledger(engine)
        self.flaky_source, self.flaky_tool = Flaky(self.casavi, self.rng), Flaky(self.tool, self.rng)
        rules = make_rules(connector="jira", capabilities=self.tool.capabilities)
        self.engine = Engine(self.flaky_source, self.flaky_tool, self.ledger, rules,
                             EngineSettings(mass_change_min_items=10_000, concurrency=1))
        self.engine.applier.source = self.flaky_source
        self.names = itertools.count(1)
        self.casavi_comments: set[str] = set()
        self.tool_comments: set[str] = set()

    def _issues(self):
        """The mirrored issues as Jira stored them (not sub-tasks), in the memory tool's shape."""
        found = []
        for issue in self.jira.store.issues():
            ticket = (issue.properties.get("casavi") or {}).get("ticketId")
            if ticket and not issue.issuetype.subtask:
                found.append(SimpleNamespace(target_id=str(issue.issue_id), key=issue.key, status=issue.status.name,
                                             marker=SimpleNamespace(item_id=ticket),
                                             comments=[SimpleNamespace(text=c.body) for c in issue.comments]))
        return found

    def _control(self, path: str, body: dict) -> None:
        HTTP.post(self.jira.url + "/_sandbox" + path, json=body).raise_for_status()

    @precondition(lambda self: self._issues())
    @rule(data=st.data())
    def tool_comment(self, data):
        issue = data.draw(st.sampled_from(self._issues()))
        text = f"tool comment {next(self.names)}"
        self._control(f"/issues/{issue.key}/comment", {"body": text, "as": "alice"})
        self.tool_comments.add(text)

    @precondition(lambda self: self._issues())
    @rule(data=st.data(), status=st.sampled_from(TOOL_STATUSES))
    def tool_status(self, data, status):
        issue = data.draw(st.sampled_from(self._issues()))
        if issue.status != status:  # Jira offers no transition into the status an issue has
            self._control(f"/issues/{issue.key}/transition", {"status": status, "as": "alice"})

    def teardown(self):
        try:
            # Faults stop; retries are due at once; interrupted creates wait out the search lag,
            # and people's last changes become searchable; then a few passes must converge.
            deadline = time.monotonic() + self.lag + 0.5
            for _ in range(4):
                self.ledger.clear()
                self.engine.run_pass()
            while self.ledger.intents() or time.monotonic() < deadline:
                assert time.monotonic() < deadline + 30, "interrupted creates still wait"
                time.sleep(0.2)
                self.ledger.clear()
                self.engine.run_pass()
            self.engine.run_pass()
            report = self.engine.run_pass()
            assert report.differences == 0, [(k, [x.describe() for x in p]) for k, p in report.planned]
            self.check_end_state()
        finally:
            self.tool.close()
            self.server.should_exit = True
            self.thread.join(timeout=10)

    def check_end_state(self):
        rules = make_rules()
        issues = {i.marker.item_id: i for i in self._issues()}
        for tid, item in self.casavi.items.items():
            if tid not in issues:
                continue
            issue = issues[tid]
            assert rules.status_map[item.status] == issue.status, (tid, item.status, issue.status)
            # A copy's last line is the text; the lines above name its author.
            tool_texts = [c.text.split("\n")[-1] for c in issue.comments]
            casavi_texts = [c.text.split("\n")[-1] for c in item.comments]
            for text in set(casavi_texts) & self.casavi_comments:
                assert tool_texts.count(text) == 1, (tid, text)
            for text in set(tool_texts) & self.tool_comments:
                assert casavi_texts.count(text) == 1, (tid, text)
            assert len(issue.comments) == len(item.comments), (tid, tool_texts, casavi_texts)


class CloudSyncMachine(JiraSyncMachine):
    flavor = "cloud"


JIRA_SETTINGS = settings(max_examples=8, stateful_step_count=20, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])
TestSyncConvergenceJiraServer = JiraSyncMachine.TestCase
TestSyncConvergenceJiraServer.settings = JIRA_SETTINGS
TestSyncConvergenceJiraCloud = CloudSyncMachine.TestCase
TestSyncConvergenceJiraCloud.settings = JIRA_SETTINGS

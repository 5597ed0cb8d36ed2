"""The daemon is ready once both sides answer (their ``check()``): what the tool refuses of
some writes (``findings()``: a permission missing, a closed project, a field switched off)
is logged and does not hold the daemon back; a side that does not answer does."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from structlog.testing import capture_logs

from bridge.config import load_config
from bridge.daemon import Daemon
from bridge.errors import FatalError
from tests.unit.test_config import MINIMAL
CLOSED = "redmine.project <- project 'ops' is closed in Redmine, which refuses every write to its issues"


class Side:
    def __init__(self, problems=(), findings=()):
        self.problems, self._findings = list(problems), list(findings)

    def check(self) -> list[str]:
        return self.problems

    def findings(self) -> list[str]:
        return self._findings


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("CASAVI_KEY", "CASAVI_SECRET", "JIRA_TOKEN"):
        monkeypatch.setenv(name, "not-used")
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL)
    return path


def daemon_with(config: Path, source: Side, connector: Side) -> Daemon:
    daemon = Daemon(config, load_config(config), once=True)
    daemon.bridge = SimpleNamespace(source=source, connector=connector)
    return daemon


def test_findings_are_logged_and_the_daemon_is_ready(config):
    with capture_logs() as logs:
        daemon_with(config, Side(), Side(findings=[CLOSED]))._wait_until_reachable()
    events = [(e["event"], e.get("finding")) for e in logs]
    assert ("daemon_ready", None) in events and ("tool_refuses_some_writes", CLOSED) in events


def test_a_side_that_does_not_answer_holds_it_back(config):
    with pytest.raises(FatalError, match="cannot reach Redmine"):
        daemon_with(config, Side(), Side(problems=["redmine.url <- cannot reach Redmine"]))._wait_until_reachable()

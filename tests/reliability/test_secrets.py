"""Secrets never reach a log: a realistic set of passes as real processes — mirror into the Jira
sandbox, write a Jira comment and status back to casavi, casavi tokens that expire every 3 seconds
(refreshed or replaced), tokens revoked mid-run (401, log in again, repeat), debug logging in
both formats, plus `status`, `check` and `reconcile` — with the casavi key and secret and the
Jira token configured as ``env:`` and ``file:`` references.  No configured secret, no Basic auth
header made of them and no casavi session token appears in any output, and the state database
is created with mode 0600."""

from __future__ import annotations

import base64
import os
import signal
import stat
import threading
import time
from pathlib import Path

import httpx
import pytest
import tomli_w
import tomllib

from bridge.sandbox.server import start_sandboxes
from tests.fixtures.processes import bridge_process, run_bridge, write_config

CASAVI_KEY = "casavi-key-5f0d3c9a7e21b844"
CASAVI_SECRET = "casavi-secret-Qm7vX2pL9sT4"
JIRA_TOKEN = "jira-pat-Hc81Rw0ZkYd5fN3u"
TOKEN_TTL_SECONDS = 3.0
REFRESH_TTL_SECONDS = 12.0
DEADLINE_SECONDS = 75.0


class TokenWatch:
    """Collects every casavi session token the in-process sandbox issues while the bridge runs.

    The sandbox keeps issued tokens (until they expire) in ``CasaviSandbox._tokens``; polling it
    far more often than the token lifetime sees each one.
    """

    def __init__(self, casavi) -> None:
        self.casavi = casavi
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="token-watch", daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            self._take()

    def _take(self) -> None:
        try:
            self.seen.update(list(self.casavi._tokens))
        except RuntimeError:  # changed while copied: the next poll sees it
            pass

    def __enter__(self) -> "TokenWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._take()


@pytest.fixture
def sandboxes():
    with start_sandboxes(tickets=6, seed=58, apps=("casavi", "jira"), casavi_key=CASAVI_KEY,
                         casavi_secret=CASAVI_SECRET, jira_token=JIRA_TOKEN,
                         token_ttl_seconds=TOKEN_TTL_SECONDS,
                         casavi_profile="lenient") as handle:  # a refresh path: refreshed tokens must not leak either
        yield handle


def secret_config(sandbox, tmp_path: Path, *, log_format: str) -> tuple[Path, dict[str, str]]:
    """The sandbox config with every secret as a reference: env: for two, file: for one."""
    secret_file = tmp_path / "casavi-secret"
    secret_file.write_text(CASAVI_SECRET + "\n")
    os.chmod(secret_file, 0o600)
    config = write_config(sandbox.info, tmp_path / "bridge.toml", log__level="debug", log__format=log_format,
                          sync__interval_seconds=0.2, sync__jitter_seconds=0)
    data = tomllib.loads(config.read_text())
    data["casavi"]["key"] = "env:BRIDGE_TEST_CASAVI_KEY"
    data["casavi"]["secret"] = f"file:{secret_file}"
    data["jira"]["token"] = "env:BRIDGE_TEST_JIRA_TOKEN"
    config.write_text(tomli_w.dumps(data))
    for literal in (CASAVI_KEY, CASAVI_SECRET, JIRA_TOKEN):
        assert literal not in config.read_text()
    return config, {"BRIDGE_TEST_CASAVI_KEY": CASAVI_KEY, "BRIDGE_TEST_JIRA_TOKEN": JIRA_TOKEN}


def control(root: str, method: str, path: str, **kwargs) -> httpx.Response:
    reply = httpx.request(method, f"{root}/_sandbox{path}", timeout=10, **kwargs)
    reply.raise_for_status()
    return reply


def test_no_secret_or_session_token_in_any_output_and_the_state_db_is_private(sandboxes, tmp_path):
    started = time.monotonic()
    sandbox = sandboxes
    jira_root = sandbox.root_url("jira")
    config, env = secret_config(sandbox, tmp_path, log_format="json")
    outputs: list[str] = []

    with TokenWatch(sandbox.casavi) as tokens:
        # 1. Mirror (JSON logs, debug).
        mirror = run_bridge("run", "--config", str(config), "--once", env=env)
        outputs.append(mirror.stdout + mirror.stderr)
        assert mirror.returncode == 0, mirror.stderr[-3000:]
        assert "ticket_mirrored" in outputs[-1]

        database = tmp_path / "casavi-bridge-state.db"
        for path in [database, *tmp_path.glob("casavi-bridge-state.db-*")]:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path, oct(path.stat().st_mode))

        # 2. People work in Jira: a comment and a status change to write back.
        issue = next(i for i in control(jira_root, "GET", "/issues").json() if "casavi" in i["properties"])
        ticket_id = issue["properties"]["casavi"]["ticketId"]
        control(jira_root, "POST", f"/issues/{issue['key']}/comment", json={"body": "Termin steht: Dienstag"})
        control(jira_root, "POST", f"/issues/{issue['key']}/transition", json={"status": "Waiting"})

        # 3. The daemon (console logs, debug): tokens are refreshed, then revoked (401, log in, repeat).
        data = tomllib.loads(config.read_text())
        data["log"]["format"] = "console"
        config.write_text(tomli_w.dumps(data))
        log_file = tmp_path / "daemon.log"
        # A token is refreshed in the last tenth of its life: with passes about a second apart, a
        # lifetime of 12 s makes that window wider than the gap between two requests.
        control(sandbox.casavi_root, "POST", "/fault", json={"token_ttl_seconds": REFRESH_TTL_SECONDS})
        daemon = bridge_process("run", "--config", str(config), log=log_file, env=env)
        try:
            while "casavi_token_refreshed" not in log_file.read_text():
                assert time.monotonic() - started < DEADLINE_SECONDS, log_file.read_text()[-4000:]
                time.sleep(0.2)
            # Then short-lived tokens again, and casavi revokes every token now and then.
            control(sandbox.casavi_root, "POST", "/fault", json={"token_ttl_seconds": TOKEN_TTL_SECONDS})
            while time.monotonic() - started < DEADLINE_SECONDS:
                time.sleep(0.7)
                control(sandbox.casavi_root, "POST", "/fault", json={"revoke_tokens": True})
                ticket = control(sandbox.casavi_root, "GET", f"/tickets/{ticket_id}").json()
                log = log_file.read_text()
                if ("casavi_request_repeated_after_login" in log and ticket["status"] == "POSTPONED"
                        and any("Dienstag" in c["text"] for c in ticket["comments"])
                        and log.count("casavi_authenticated") >= 3):
                    break
            else:
                raise AssertionError("no 401 retry and write-back in time:\n" + log_file.read_text()[-4000:])
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=30) == 0
        outputs.append(log_file.read_text())

        # 4. The operator's other commands.
        for args in (["status", "--config", str(config), "--json"], ["status", "--config", str(config)],
                     ["check", "--config", str(config)], ["reconcile", "--config", str(config), "--dry-run"]):
            done = run_bridge(*args, env=env)
            outputs.append(done.stdout + done.stderr)
            assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])

    everything = "\n".join(outputs)
    assert "daemon_stopped" in everything and "casavi_token" in everything  # the logs are really there
    assert len(tokens.seen) >= 4, tokens.seen  # logins, expiries and revocations happened
    basic = base64.b64encode(f"{sandbox.info['jira_user']}:{JIRA_TOKEN}".encode()).decode()
    forbidden = {"casavi key": CASAVI_KEY, "casavi secret": CASAVI_SECRET, "jira token": JIRA_TOKEN,
                 "jira basic auth": basic}
    forbidden.update({f"session token {n}": token for n, token in enumerate(sorted(tokens.seen))})
    leaked = {name: everything.count(value) for name, value in forbidden.items() if value in everything}
    assert not leaked, leaked

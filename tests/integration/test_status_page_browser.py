"""The status page in a real browser: headless Chromium (Debian's package, driven by
Playwright's Python client over the DevTools protocol) against a running `casavi-bridge run` on
the casavi and Jira sandboxes.

One casavi ticket is made to fail through the sandbox's fault knobs (every request for it
answers 500); the page shows it in the quarantine with its error, attempts and next retry;
"retry now" with a wrong or no token is refused and changes nothing; with the token it makes the
item due; once the fault is gone the next pass mirrors the ticket into Jira.

Screenshots are kept in ``build/test-artefacts/status-page/`` (or ``$CASAVI_BRIDGE_ARTEFACTS``);
their paths are printed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from tests.fixtures.processes import bridge_process, run_bridge, write_config

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "page-admin-token-4711"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def artefact_dir() -> Path:
    path = Path(os.environ.get("CASAVI_BRIDGE_ARTEFACTS") or ROOT / "build" / "test-artefacts") / "status-page"
    path.mkdir(parents=True, exist_ok=True)
    return path


def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "chromium is missing: run `bash tests/system-deps.sh` as root (Debian's chromium package)"
    return path


def wait_for(what: str, check, timeout: float = 90.0, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def listening_address(log: Path) -> str | None:
    for line in log.read_text().splitlines():
        if line.startswith("{") and '"metrics_listening"' in line:
            return json.loads(line)["address"]
    return None


def quarantine_of(config: Path) -> dict[str, dict]:
    status = run_bridge("status", "--config", str(config), "--json", env={"CASAVI_BRIDGE_ADMIN_TOKEN": ADMIN_TOKEN})
    assert status.returncode == 0, status.stderr
    return {q["item"]: q for q in json.loads(status.stdout)["quarantine"]}


def due(entry: dict) -> bool:
    at = datetime.fromisoformat(entry["next_retry_at"])
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)) <= datetime.now(timezone.utc)


def test_the_status_page_in_chromium_shows_a_failing_item_and_retries_it_with_the_token(sandbox_process, tmp_path):
    sandbox = sandbox_process("--tickets", "6")
    casavi, root = sandbox.info["casavi_url"], sandbox.casavi_root
    token = httpx.post(f"{casavi}/authenticate", json={"key": sandbox.info["casavi_key"],
                                                      "secret": sandbox.info["casavi_secret"]}).json()["token"]
    tickets = httpx.get(f"{casavi}/tickets", headers={"token": token}).json()
    failing = next(t for t in tickets if t["status"] != "CLOSED")
    item = f"casavi:{failing['id']}"
    knobs = {"force_status": 500, "force_count": 100000, "force_path": f"/tickets/{failing['id']}"}
    assert httpx.post(f"{root}/_sandbox/fault", json=knobs).status_code == 200

    # A long interval: the first pass quarantines the item, then nothing moves until SIGHUP.
    config = write_config(sandbox.info, tmp_path / "hausverwaltung-nord.toml", sync__interval_seconds=600,
                          sync__jitter_seconds=0, log__format="json", metrics__listen="127.0.0.1:0",
                          metrics__admin_token="env:CASAVI_BRIDGE_ADMIN_TOKEN")
    log = tmp_path / "daemon.log"
    proc = bridge_process("run", "--config", str(config), log=log, env={"CASAVI_BRIDGE_ADMIN_TOKEN": ADMIN_TOKEN})
    try:
        address = wait_for("the metrics listener", lambda: listening_address(log))
        base = f"http://{address}"
        wait_for("the failing item in quarantine", lambda: item in quarantine_of(config))
        wait_for("the first pass to end", lambda: '"pass_finished"' in log.read_text())
        before = quarantine_of(config)[item]
        assert not due(before) and before["attempts"] >= 1

        shots = artefact_dir()
        with sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"), executable_path=chromium(), headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": 1400, "height": 1000})
            page = browser.new_page()
            page.goto(f"{base}/status")
            assert page.title() == "casavi-bridge status"
            row = page.locator("table.quarantine tr", has_text=item)
            assert row.count() == 1
            text = row.inner_text()
            assert "500" in text and "RetriableError" in text, text  # the error, as the bridge classified it
            assert f"{before['attempts']} / 10" in text
            assert "in " in text  # the next retry, e.g. "in 29 s"
            body = page.locator("body").inner_text()
            assert "Tenant hausverwaltung-nord" in body and "casavi → jira" in body
            assert "No findings" in body  # check ran against both sandboxes
            assert "ticket" in body and "source:casavi" in body  # links and cursors
            assert ADMIN_TOKEN not in page.content() and sandbox.info["casavi_secret"] not in page.content()
            first = shots / "status-quarantine.png"
            page.screenshot(path=str(first), full_page=True)
            print(f"\nstatus page screenshot: {first}")

            row.get_by_role("link", name="Retry now…").click()
            assert page.locator("h1").inner_text() == f"Retry {item} now"
            page.fill("input[name=admin_token]", "not-the-token")
            page.click("button[type=submit]")
            assert "Refused" in page.locator("body").inner_text()
            refused = page.request.post(f"{base}/retry", form={"tenant": "hausverwaltung-nord", "item": item})
            assert refused.status == 403
            assert quarantine_of(config)[item]["next_retry_at"] == before["next_retry_at"]  # nothing changed

            page.goto(f"{base}/retry?tenant=hausverwaltung-nord&item={item}")
            page.fill("input[name=admin_token]", ADMIN_TOKEN)
            page.click("button[type=submit]")
            assert page.url.startswith(f"{base}/status?retried=")
            assert f"Rescheduled hausverwaltung-nord: {item}" in page.locator("p.notice").inner_text()
            assert "due now" in page.locator("table.quarantine tr", has_text=item).inner_text()
            after = quarantine_of(config)[item]
            assert due(after) and after["attempts"] == before["attempts"]
            second = shots / "status-after-retry.png"
            page.screenshot(path=str(second), full_page=True)
            print(f"status page screenshot: {second}")
            browser.close()

        # The fault is gone; the next pass (SIGHUP ends the wait) takes the item up and mirrors it.
        assert httpx.post(f"{root}/_sandbox/fault", json={"force_count": 0, "force_path": ""}).status_code == 200
        proc.send_signal(signal.SIGHUP)
        wait_for("the item to leave the quarantine", lambda: item not in quarantine_of(config))
        issues = httpx.get(f"{sandbox.info['jira_url']}/_sandbox/issues").json()
        assert any(failing["id"] in json.dumps(i["properties"]) for i in issues), issues
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()

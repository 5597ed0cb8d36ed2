"""`casavi-bridge demo`: both sandboxes, a temporary config, a few passes with changes on both
sides, and a short table of what moved where.  Exits 0 by itself."""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import click
import httpx

from bridge.app import build_bridge
from bridge.config import load_config
from bridge.logging import configure_logging
from bridge.sync.engine import READ_COUNTS


def _count(counter: Counter, report) -> None:
    for key, value in report.counts.items():
        if key not in READ_COUNTS:  # what a pass read, not what moved
            counter[key] += value


def run_demo(*, tickets: int = 24, keep: Path | None = None) -> int:
    from bridge.sandbox.written_config import write_config_file
    from bridge.sandbox.server import start_sandboxes

    workdir = keep or Path(tempfile.mkdtemp(prefix="casavi-bridge-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "casavi-bridge.toml"
    configure_logging("error", "console")  # the demo's table and sentences; the log is for `run`
    click.echo(f"Starting the casavi and Jira sandboxes with {tickets} tickets ...")
    with start_sandboxes(tickets=tickets, seed=7) as sandboxes:
        info = sandboxes.info
        if "jira_url" not in info:
            click.echo("The Jira sandbox is not available in this installation.", err=True)
            return 2
        write_config_file(config_path, info, sandboxes.options)
        # The casavi sandbox runs the strict reading of its document: a tenant's comment does not
        # move the ticket's lastModified, so only the sweep of linked tickets finds it (each
        # ticket is read whole once per [sync] sweep_interval_seconds, 900 by default). The demo
        # sweeps every ticket on every pass, so the comment shows in step 2; `run` on the written
        # configuration keeps the default.
        settings = load_config(config_path)
        settings = settings.model_copy(update={"sync": settings.sync.model_copy(
            update={"sweep_interval_seconds": 0.001})})
        click.echo(f"  casavi sandbox: {info['casavi_url']}")
        click.echo(f"  Jira sandbox:   {info['jira_url']} (project {info['jira_project']})")
        click.echo(f"  configuration:  {config_path}")
        bridge = build_bridge(settings)
        moved: dict[str, Counter] = {}
        try:
            started = time.monotonic()
            first = bridge.engine.run_pass()
            moved["1. initial mirror"] = Counter()
            _count(moved["1. initial mirror"], first)
            click.echo(f"Pass 1 mirrored {first.counts['item_created']} tickets in {time.monotonic() - started:.1f} s "
                       "(closed tickets are not mirrored: [filters] statuses).")

            linked = bridge.ledger.linked_item_keys()
            ticket_key = sorted(linked)[0]
            ticket_id = ticket_key.split(":", 1)[1]
            link = bridge.ledger.item_link(ticket_key)
            issue = link.target_display_id or link.target_id
            casavi_root, jira_root = sandboxes.casavi_root, sandboxes.root_url("jira")
            with httpx.Client(timeout=10) as http:
                http.post(f"{casavi_root}/_sandbox/tickets/{ticket_id}/comments",
                          json={"text": "Die Heizung ist immer noch kalt. Bitte dringend prüfen!"}).raise_for_status()
                click.echo(f"A tenant comments on casavi ticket {ticket_id}.")
                report = bridge.engine.run_pass()
                moved["2. tenant comment"] = Counter()
                _count(moved["2. tenant comment"], report)

                key, current = _jira_issue(http, jira_root, link.target_id) or (issue, "")
                new_status = "Done" if current != "Done" else "In Progress"
                http.post(f"{jira_root}/_sandbox/issues/{key}/comment",
                          json={"body": "Techniker ist für Montag 9 Uhr bestellt.", "as": "alice"}).raise_for_status()
                http.post(f"{jira_root}/_sandbox/issues/{key}/transition",
                          json={"status": new_status, "as": "alice"}).raise_for_status()
                click.echo(f"In Jira, someone comments on {key} ({ticket_id}'s issue) and moves it from {current} "
                           f"to {new_status}.")
                report = bridge.engine.run_pass()
                moved["3. Jira comment + transition"] = Counter()
                _count(moved["3. Jira comment + transition"], report)

            report = bridge.engine.run_pass()
            moved["4. quiet pass"] = Counter()
            _count(moved["4. quiet pass"], report)
            ticket = http_ticket(casavi_root, ticket_id)
        finally:
            bridge.close()
    _print_table(moved)
    click.echo(f"casavi ticket {ticket_id} is now {ticket.get('status')} with {len(ticket.get('comments', []))} comments.")
    here = Path(sys.argv[0]).resolve().parent / "casavi-bridge"  # e.g. .venv/bin/casavi-bridge
    command = str(here) if here.is_file() else "casavi-bridge"
    click.echo(f"The configuration and state stay in {workdir}: {command} status --config {config_path}")
    return 0


def _jira_issue(http: httpx.Client, jira_root: str, target_id: str) -> tuple[str, str] | None:
    for issue in http.get(f"{jira_root}/_sandbox/issues").json():
        if issue["id"] == target_id:
            return issue["key"], issue["status"]
    return None


def http_ticket(casavi_root: str, ticket_id: str) -> dict:
    return httpx.get(f"{casavi_root}/_sandbox/tickets/{ticket_id}", timeout=10).json()


def _print_table(moved: dict[str, Counter]) -> None:
    names = {k: k.replace("_", " ") for k in sorted({k for c in moved.values() for k in c})}
    click.echo("")
    click.echo(f"{'step':30}  " + "  ".join(names.values()))
    for step, counts in moved.items():
        click.echo(f"{step:30}  " + "  ".join(f"{counts.get(k, 0):>{len(name)}}" for k, name in names.items()))
    click.echo("")

"""The benchmark's scenarios; each returns plain JSON-ready dicts (``bench.report`` turns them
into metrics).

- :func:`mirror_run`: ``casavi-bridge run --once`` over N fresh "bench" tickets at the
  benchmark latency: the initial mirror (and, with concurrency 1, the serial baseline).
- :func:`steady_state`: K tickets mirrored with latency 0 (two ``--once`` passes: the mirror
  and the pass after it), then the benchmark latency and the daemon: requests and seconds per
  idle poll, peak RSS, and optionally :func:`one_change`.
"""

from __future__ import annotations

import secrets
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.design import mirror_must_make
from bench.profiled import top_entries
from bench.procs import BenchError, Daemon, Sandbox, bridge_status, run_once, write_config
from bridge.sandbox.processes import log_events

JIRA_COMMENTS_ROUTE = "GET /rest/api/{version}/issue/{key}/comment"


@dataclass(frozen=True)
class BenchSettings:
    workdir: Path
    tickets: int = 2000
    serial_tickets: int = 200
    small: int = 1000
    large: int = 20000
    latency_ms: float = 25.0
    concurrency: int = 8
    interval_seconds: float = 5.0
    idle_passes: int = 3
    seed: int = 1
    overlap_seconds: float = 120.0  # [sync] overlap_seconds of the measured bridge (the shipped default)
    sweep_interval_seconds: float | None = None  # [sync] sweep_interval_seconds; None: the shipped default


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _totals(stats: dict[str, dict[str, Any]]) -> dict[str, int]:
    return {side: int(stats[side]["total"]) for side in stats}


def _requests(stats: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    return {side: dict(stats[side]["requests"]) for side in stats}


def _expected_links(tickets: int, seed: int) -> dict[str, int]:
    must = mirror_must_make(tickets, seed).jira
    return {"ticket": tickets,
            "comment": must["POST /issue/{id}/comment (marker in the same request)"],
            "task": must["POST /issue (sub-task, marker in the same request)"],
            "attachment": must["POST /issue/{id}/attachments"]}


def profile_run(settings: BenchSettings, *, tickets: int, text: Path) -> dict[str, Any]:
    """The initial mirror of ``tickets`` under cProfile (every thread), at the benchmark latency
    and concurrency; the profile's top entries go to ``text``.  Not a measured run: profiling
    slows the bridge's Python code down."""
    workdir = settings.workdir / "profile"
    say(f"profile: mirroring {tickets} tickets under cProfile")
    with Sandbox(workdir, tickets, seed=settings.seed, latency_ms=settings.latency_ms) as sandbox:
        config = write_config(sandbox.info, workdir / "bridge.toml", concurrency=settings.concurrency,
                              interval_seconds=settings.interval_seconds, overlap_seconds=settings.overlap_seconds,
                              sweep_interval_seconds=settings.sweep_interval_seconds)
        result = run_once(config, workdir / "bridge.log", profile=workdir / "mirror.prof")
    text.parent.mkdir(parents=True, exist_ok=True)
    text.write_text(f"cProfile of `casavi-bridge run --once` mirroring {tickets} tickets at "
                    f"{settings.latency_ms:g} ms latency, concurrency {settings.concurrency} (all threads; "
                    f"pass {result.pass_seconds:.1f} s under the profiler)\n\n" + top_entries(str(workdir / "mirror.prof")))
    return {"tickets": tickets, "pass_seconds": result.pass_seconds, "cpu_seconds": result.cpu_seconds,
            "text": str(text)}


def mirror_run(settings: BenchSettings, *, tickets: int, concurrency: int, label: str) -> dict[str, Any]:
    workdir = settings.workdir / label
    must = mirror_must_make(tickets, settings.seed)
    say(f"{label}: mirroring {tickets} tickets at {settings.latency_ms:g} ms latency, concurrency {concurrency}")
    with Sandbox(workdir, tickets, seed=settings.seed, latency_ms=settings.latency_ms) as sandbox:
        config = write_config(sandbox.info, workdir / "bridge.toml", concurrency=concurrency,
                              interval_seconds=settings.interval_seconds, overlap_seconds=settings.overlap_seconds,
                              sweep_interval_seconds=settings.sweep_interval_seconds)
        sandbox.reset_stats()
        sandbox_cpu = sandbox.cpu_seconds()
        result = run_once(config, workdir / "bridge.log")
        sandbox_cpu = sandbox.cpu_seconds() - sandbox_cpu
        stats = sandbox.stats()
        links = bridge_status(config).get("links", {})
        trivial_ms = sandbox.trivial_round_trip_ms(clients=concurrency)
    expected = _expected_links(tickets, settings.seed)
    complete = all(links.get(kind, 0) == n for kind, n in expected.items())
    if not complete:
        say(f"{label}: the mirror is incomplete: links {links}, expected {expected} (see {workdir / 'bridge.log'})")
    say(f"{label}: pass {result.pass_seconds:.1f} s, requests {_totals(stats)}")
    return {
        "tickets": tickets,
        "concurrency": concurrency,
        "latency_ms": settings.latency_ms,
        "wall_seconds": result.wall_seconds,
        "pass_seconds": result.pass_seconds,
        "bridge_cpu_seconds": result.cpu_seconds,
        "bridge_max_rss_kb": result.max_rss_kb,
        "sandbox_cpu_seconds": sandbox_cpu,
        "totals": _totals(stats),
        "requests": _requests(stats),
        "links": links,
        "expected_links": expected,
        "complete": complete,
        "pass_report": result.passes[-1],
        "must_make": must.as_json(),
        "must_make_total": must.total,
        "lower_bound_seconds": must.lower_bound_seconds(settings.latency_ms, concurrency),
        # What a request costs here with nothing of the bridge in it (the sandbox's own work and
        # the machine's wake-ups): L with it instead of the latency is the floor of this run.
        "trivial_round_trip_ms": trivial_ms,
    }


def _overlap_tail(config: Path, status: dict[str, Any], issues: list[dict[str, Any]]) -> dict[str, Any]:
    """How many Jira issues the next incremental search returns: ``updated >= cursor - overlap``
    (floored to the minute, as the connector's JQL does)."""
    overlap = tomllib.loads(config.read_text())["sync"]["overlap_seconds"]
    cursor = next((c for c in status.get("cursors", []) if c["stream"].startswith("target:")), None)
    if cursor is None or not cursor.get("position"):
        return {"cursor": None, "issues": len(issues)}
    since = datetime.fromisoformat(cursor["position"]) - timedelta(seconds=overlap)
    since_ms = int(since.timestamp() // 60) * 60 * 1000
    return {"cursor": cursor["position"], "overlap_seconds": overlap,
            "issues": sum(1 for i in issues if i["updatedMillis"] >= since_ms),
            "of_which_sub_tasks": sum(1 for i in issues if i["updatedMillis"] >= since_ms
                                      and i["issuetype"].lower().replace("-", "") == "subtask")}


def _seconds_between(earlier: dict[str, Any], later: dict[str, Any]) -> float:
    """Seconds between two log events (their ``timestamp``: the daemon's clock, ISO, UTC)."""
    return (datetime.fromisoformat(later["timestamp"]) - datetime.fromisoformat(earlier["timestamp"])).total_seconds()


def steady_state(settings: BenchSettings, size: int, *, change: bool, sweep_due: bool = False) -> dict[str, Any]:
    """``size`` tickets mirrored (latency 0), then the daemon's polls at the benchmark latency.

    ``sweep_due``: the idle polls wait until the first mirrored tickets are due for the rolling
    sweep (the setup mirror's first ``ticket_mirrored`` + ``sweep_interval_seconds`` + 30 s), so
    that they carry the sweep's reads; otherwise a mirror shorter than the interval lets them
    fall before any ticket is due and the sweep figures read 0.  The tickets then come due at
    the rate the mirror read them, one interval later: the pace measured is that rate."""
    workdir = settings.workdir / f"steady-{size}"
    pass_timeout = 600 + size * 0.5
    say(f"steady-{size}: setting up {size} mirrored tickets (latency 0)")
    with Sandbox(workdir, size, seed=settings.seed, latency_ms=0) as sandbox:
        config = write_config(sandbox.info, workdir / "bridge.toml", concurrency=settings.concurrency,
                              interval_seconds=settings.interval_seconds, overlap_seconds=settings.overlap_seconds,
                              sweep_interval_seconds=settings.sweep_interval_seconds)
        mirror = run_once(config, workdir / "setup-mirror.log")
        sandbox.reset_stats()
        settle = run_once(config, workdir / "setup-settle.log")
        settle_stats = sandbox.stats()
        status = bridge_status(config)
        issues = sandbox.jira_issues()
        out: dict[str, Any] = {
            "tickets": size,
            "links": status.get("links", {}),
            "setup": {"mirror_pass_seconds": mirror.pass_seconds, "mirror_cpu_seconds": mirror.cpu_seconds,
                      "mirror_max_rss_kb": mirror.max_rss_kb, "settle_pass_seconds": settle.pass_seconds,
                      "settle_cpu_seconds": settle.cpu_seconds, "settle_max_rss_kb": settle.max_rss_kb,
                      "settle_report": settle.passes[-1],
                      "settle_totals": _totals(settle_stats), "settle_requests": _requests(settle_stats)},
            "overlap_tail": _overlap_tail(config, status, issues),
            # The sweep's promise: each open linked ticket read whole once per this interval.  Every
            # linked ticket is open (the config mirrors open tickets; nothing closes them here).
            "sweep_interval_seconds": tomllib.loads(config.read_text())["sync"]["sweep_interval_seconds"],
            "open_linked": status.get("links", {}).get("ticket", 0),
        }
        say(f"steady-{size}: mirrored in {mirror.pass_seconds:.0f} s; the pass after it made "
            f"{_totals(settle_stats)} requests; next Jira search re-reads {out['overlap_tail'].get('issues')} issues")
        sandbox.set_latency(settings.latency_ms)
        with Daemon(config, workdir / "daemon.log") as daemon:
            daemon.wait_pass(pass_timeout)  # the first pass, after the startup probe

            def poll() -> dict[str, Any]:
                # Counting starts right after a pass ended (the daemon then sleeps an interval),
                # so the next pass is counted whole and alone.
                daemon.drain()
                before = daemon.wait_pass(pass_timeout)
                sandbox.reset_stats()
                cpu = daemon.cpu_seconds()
                event = daemon.wait_pass(pass_timeout)
                stats = sandbox.stats()
                # sweep_requests: the casavi requests the pass's sweep made, as the bridge counted
                # them (among the casavi totals; the sandbox counts the same requests, no faults here).
                return {"totals": _totals(stats), "requests": _requests(stats), "seconds": event["seconds"],
                        "candidates": event.get("candidates"), "swept": event.get("swept", 0),
                        "sweep_requests": event.get("sweep_requests", 0),
                        "seconds_since_last_pass": _seconds_between(before, event),
                        "cpu_seconds": daemon.cpu_seconds() - cpu}

            # Right after the mirror, a poll re-reads (as summaries) what changed in the last
            # overlap window; an idle daemon's window then slides past the burst.  Both are shown;
            # the idle figures are the polls after the window has passed.
            out["burst_tail_poll"] = poll()
            newest = max((i["updatedMillis"] for i in issues), default=0) / 1000
            clear_at = newest + settings.overlap_seconds + 60 + 1  # JQL compares whole minutes
            mirrored = log_events(workdir / "setup-mirror.log", "ticket_mirrored") if sweep_due else []
            first_read = datetime.fromisoformat(mirrored[0]["timestamp"]).timestamp() if mirrored else None
            if first_read is not None:
                due_at = first_read + out["sweep_interval_seconds"] + 30
                if due_at > clear_at:
                    say(f"steady-{size}: the idle polls wait for the sweep's first due tickets too")
                    clear_at = due_at
                out["idle_polls_after_first_mirrored_seconds"] = round(max(clear_at, time.time()) - first_read)
            if clear_at > time.time():
                say(f"steady-{size}: waiting {clear_at - time.time():.0f} s for the overlap window to pass the mirror")
                time.sleep(clear_at - time.time())
            polls = [poll() for _ in range(settings.idle_passes)]
            out["idle_polls"] = polls
            out["memory_kb_after_idle"] = daemon.memory_kb()
            say(f"steady-{size}: poll right after the mirror {out['burst_tail_poll']['totals']}; "
                f"idle polls {[p['totals'] for p in polls]}, "
                f"{[round(p['seconds'], 1) for p in polls]} s; memory {out['memory_kb_after_idle']} kB")
            if change:
                out["change"] = one_change(settings, sandbox, daemon, issues, size, pass_timeout)
            out["memory_kb"] = daemon.memory_kb()
    return out


def one_change(settings: BenchSettings, sandbox: Sandbox, daemon: Daemon, issues: list[dict[str, Any]],
               size: int, timeout: float) -> dict[str, Any]:
    """A tenant comment on one ticket, added right after a pass finished (so it waits a whole
    interval): seconds until Jira shows it, and the requests of the pass that carried it (the
    first pass to finish after the comment is in Jira)."""
    ticket_id = f"T-{max(1, size // 2):05d}"
    issue = next((i for i in issues if (i.get("properties") or {}).get("casavi", {}).get("ticketId") == ticket_id),
                 None)
    if issue is None:
        raise BenchError(f"no Jira issue carries the marker of {ticket_id}")
    nonce = "bench" + secrets.token_hex(6)
    daemon.drain()
    daemon.wait_pass(timeout)  # right after a pass: the comment waits a whole interval
    sandbox.reset_stats()
    started = time.monotonic()
    sandbox.tenant_comment(ticket_id, f"Tenant comment {nonce}")
    own_reads = 0
    while True:
        own_reads += 1
        if any(nonce in body for body in sandbox.jira_comment_bodies(issue["id"])):
            seconds = time.monotonic() - started
            break
        if time.monotonic() - started > timeout:
            raise BenchError(f"the comment on {ticket_id} did not reach Jira within {timeout:.0f} s")
        time.sleep(0.1)
    event = daemon.wait_pass(timeout)
    stats = sandbox.stats()
    requests = _requests(stats)
    jira = requests["jira"]
    jira[JIRA_COMMENTS_ROUTE] = jira.get(JIRA_COMMENTS_ROUTE, 0) - own_reads  # the benchmark's own polling
    if jira[JIRA_COMMENTS_ROUTE] <= 0:
        jira.pop(JIRA_COMMENTS_ROUTE)
    totals = {side: sum(counts.values()) for side, counts in requests.items()}
    say(f"one change on {ticket_id} ({issue['key']}): in Jira after {seconds:.1f} s; the pass made {totals} requests")
    return {"ticket": ticket_id, "issue": issue["key"], "seconds_to_tool": seconds,
            "interval_seconds": settings.interval_seconds, "totals": totals, "requests": requests,
            "pass_seconds": event["seconds"], "pass_report": event, "benchmark_reads_subtracted": own_reads}

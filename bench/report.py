"""Metrics from the scenarios' results: the table (metric, size, value, target, met?) and the JSON.

Every metric in :data:`METRICS` is always present with a number; ``met`` is true/false for
metrics with a target and null for figures given for context.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MIRROR_RATIO_TARGET = 1.3
SPEEDUP_TARGET = 6.0
IDLE_REQUESTS_TARGET = 2
CHANGE_EXTRA_SECONDS = 2.0
CHANGE_REQUESTS_TARGET = 5
AFTER_MIRROR_TARGET = 0.05  # requests per mirrored ticket, both sides, in the pass after the mirror
PEAK_RSS_TARGET_MB = 150.0
RSS_GROWTH_TARGET = 1.3

METRICS = (
    "mirror_pass_seconds",
    "mirror_lower_bound_seconds",
    "mirror_ratio_to_lower_bound",
    "mirror_casavi_requests_per_ticket",
    "mirror_jira_requests_per_ticket",
    "mirror_trivial_round_trip_ms",
    "mirror_ratio_to_trivial_floor",
    "mirror_request_bound_seconds",
    "mirror_bridge_cpu_seconds_per_ticket",
    "serial_pass_seconds_per_ticket",
    "speedup_vs_serial",
    "after_mirror_requests_per_ticket",
    "after_mirror_requests_per_ticket_large",
    "after_mirror_swept_per_ticket_large",
    "idle_casavi_requests_per_poll_small",
    "idle_jira_requests_per_poll_small",
    "idle_casavi_requests_per_poll_large",
    "idle_jira_requests_per_poll_large",
    "idle_requests_large_minus_small",
    "idle_poll_seconds_large",
    "idle_swept_tickets_per_poll_large",
    "idle_sweep_requests_per_poll_large",
    "idle_sweep_reads_per_ticket_per_interval_large",
    "idle_casavi_requests_besides_sweep_per_poll_small",
    "idle_casavi_requests_besides_sweep_per_poll_large",
    "idle_requests_besides_sweep_large_minus_small",
    "change_seconds_to_tool",
    "change_requests",
    "change_requests_besides_sweep",
    "peak_rss_mb_small",
    "peak_rss_mb_large",
    "peak_rss_growth",
    "after_mirror_peak_rss_mb_small",
    "after_mirror_peak_rss_mb_large",
    "after_mirror_peak_rss_growth",
)


@dataclass
class Metric:
    key: str
    label: str
    size: int
    value: float
    unit: str
    target: str = ""
    met: bool | None = None


def _per(total: float, n: int) -> float:
    return total / n if n else math.nan


def build_metrics(results: dict[str, Any]) -> list[Metric]:
    mirror, serial = results["mirror"], results["serial"]
    small, large = results["steady_small"], results["steady_large"]
    n, m = mirror["tickets"], serial["tickets"]
    lower = mirror["lower_bound_seconds"]
    ratio = mirror["pass_seconds"] / lower
    must = mirror["must_make"]
    serial_per_ticket = serial["pass_seconds"] / m
    speedup = serial_per_ticket / (mirror["pass_seconds"] / n)

    def idle(steady: dict[str, Any], side: str) -> int:
        return max(p["totals"][side] for p in steady["idle_polls"])

    def besides_sweep(steady: dict[str, Any]) -> dict[str, int]:
        """The most requests of one idle poll but for its sweep's (casavi requests the pass
        report counted as ``sweep_requests``; the sweep asks casavi only)."""
        return {"casavi": max(p["totals"]["casavi"] - p.get("sweep_requests", 0) for p in steady["idle_polls"]),
                "jira": idle(steady, "jira")}

    idle_small = {side: idle(small, side) for side in ("casavi", "jira")}
    idle_large = {side: idle(large, side) for side in ("casavi", "jira")}
    besides_small, besides_large = besides_sweep(small), besides_sweep(large)
    change = large["change"]
    interval = change["interval_seconds"]
    change_requests = sum(change["totals"].values())
    change_besides_sweep = change_requests - change["pass_report"].get("sweep_requests", 0)
    rss_small = small["memory_kb"]["VmHWM"] / 1024
    rss_large = large["memory_kb"]["VmHWM"] / 1024
    growth = rss_large / rss_small
    s, g = small["tickets"], large["tickets"]
    after_small = _per(sum(small["setup"]["settle_totals"].values()), s)
    after_large = _per(sum(large["setup"]["settle_totals"].values()), g)
    # The pass after the mirror reads every mirrored issue: what it holds per ticket shows here
    # (the daemon measured above starts after it, as a restarted daemon would).
    settle_small = small["setup"]["settle_max_rss_kb"] / 1024
    settle_large = large["setup"]["settle_max_rss_kb"] / 1024
    return [
        Metric("mirror_pass_seconds", "initial mirror: pass time [s]", n, mirror["pass_seconds"], "s",
               f"<= {MIRROR_RATIO_TARGET * lower:.1f} (1.3 x L)", mirror["pass_seconds"] <= MIRROR_RATIO_TARGET * lower),
        Metric("mirror_lower_bound_seconds", "initial mirror: lower bound L [s]", n, lower, "s"),
        Metric("mirror_ratio_to_lower_bound", "initial mirror: time / L", n, ratio, "x",
               f"<= {MIRROR_RATIO_TARGET}", ratio <= MIRROR_RATIO_TARGET),
        Metric("mirror_trivial_round_trip_ms", "a trivial request's round trip at this latency and concurrency",
               n, mirror["trivial_round_trip_ms"], "ms", f"latency {mirror['latency_ms']:g} ms"),
        Metric("mirror_ratio_to_trivial_floor", "initial mirror: time / (L x round trip / latency)", n,
               mirror["pass_seconds"] / (lower * mirror["trivial_round_trip_ms"] / mirror["latency_ms"]), "x"),
        Metric("mirror_request_bound_seconds", "initial mirror: requests made x latency / concurrency [s]", n,
               sum(mirror["totals"].values()) * mirror["latency_ms"] / 1000.0 / mirror["concurrency"], "s"),
        Metric("mirror_casavi_requests_per_ticket", "initial mirror: casavi requests / ticket", n,
               _per(mirror["totals"]["casavi"], n), "req", f"design: {_per(sum(must['casavi'].values()), n):.2f}"),
        Metric("mirror_jira_requests_per_ticket", "initial mirror: Jira requests / ticket", n,
               _per(mirror["totals"]["jira"], n), "req", f"design: {_per(sum(must['jira'].values()), n):.2f}"),
        Metric("mirror_bridge_cpu_seconds_per_ticket", "initial mirror: bridge CPU / ticket [s]", n,
               _per(mirror["bridge_cpu_seconds"], n), "s"),
        Metric("serial_pass_seconds_per_ticket", "serial baseline (concurrency 1): s / ticket", m,
               serial_per_ticket, "s"),
        Metric("speedup_vs_serial", "initial mirror: speed-up over serial", n, speedup, "x",
               f">= {SPEEDUP_TARGET:g}", speedup >= SPEEDUP_TARGET),
        Metric("after_mirror_requests_per_ticket", "pass after the mirror: requests / ticket (both sides)", s,
               after_small, "req", f"<= {AFTER_MIRROR_TARGET:g}", after_small <= AFTER_MIRROR_TARGET),
        Metric("after_mirror_requests_per_ticket_large", "pass after the mirror: requests / ticket (both sides)", g,
               after_large, "req", f"<= {AFTER_MIRROR_TARGET:g}", after_large <= AFTER_MIRROR_TARGET),
        # Context: the mirrored tickets the rolling sweep found read whole over an interval ago
        # (a mirror longer than [sync] sweep_interval_seconds makes its first tickets due).
        Metric("after_mirror_swept_per_ticket_large", "pass after the mirror: tickets swept / ticket", g,
               _per(large["setup"]["settle_report"].get("swept", 0), g), "tickets"),
        Metric("idle_casavi_requests_per_poll_small", "idle poll: casavi requests", s, idle_small["casavi"], "req",
               f"<= {IDLE_REQUESTS_TARGET}", idle_small["casavi"] <= IDLE_REQUESTS_TARGET),
        Metric("idle_jira_requests_per_poll_small", "idle poll: Jira requests", s, idle_small["jira"], "req",
               f"<= {IDLE_REQUESTS_TARGET}", idle_small["jira"] <= IDLE_REQUESTS_TARGET),
        Metric("idle_casavi_requests_per_poll_large", "idle poll: casavi requests", g, idle_large["casavi"], "req",
               f"<= {IDLE_REQUESTS_TARGET}", idle_large["casavi"] <= IDLE_REQUESTS_TARGET),
        Metric("idle_jira_requests_per_poll_large", "idle poll: Jira requests", g, idle_large["jira"], "req",
               f"<= {IDLE_REQUESTS_TARGET}", idle_large["jira"] <= IDLE_REQUESTS_TARGET),
        Metric("idle_requests_large_minus_small", f"idle poll: requests at {g} minus at {s}", g,
               sum(idle_large.values()) - sum(idle_small.values()), "req", "0 (equal)",
               idle_large == idle_small),
        Metric("idle_poll_seconds_large", "idle poll: pass time [s]", g,
               max(p["seconds"] for p in large["idle_polls"]), "s"),
        # Context: the tickets the rolling sweep read whole in the idle polls (each open linked
        # ticket once per [sync] sweep_interval_seconds; they are among the casavi requests above).
        Metric("idle_swept_tickets_per_poll_large", "idle poll: tickets swept (most of one poll)", g,
               max(p.get("swept", 0) for p in large["idle_polls"]), "tickets"),
        Metric("idle_sweep_requests_per_poll_large", "idle poll: casavi requests of the sweep (most of one poll)", g,
               max(p.get("sweep_requests", 0) for p in large["idle_polls"]), "req"),
        # Context: the sweep's pace in the idle polls, tickets read whole per second x the interval
        # / open linked tickets (1.0: each once per [sync] sweep_interval_seconds).
        Metric("idle_sweep_reads_per_ticket_per_interval_large",
               "idle polls: sweep reads / open linked ticket / sweep interval", g, _sweep_pace(large), "reads",
               "design: 1.0"),
        Metric("idle_casavi_requests_besides_sweep_per_poll_small", "idle poll: casavi requests besides the sweep", s,
               besides_small["casavi"], "req", f"<= {IDLE_REQUESTS_TARGET}",
               besides_small["casavi"] <= IDLE_REQUESTS_TARGET),
        Metric("idle_casavi_requests_besides_sweep_per_poll_large", "idle poll: casavi requests besides the sweep", g,
               besides_large["casavi"], "req", f"<= {IDLE_REQUESTS_TARGET}",
               besides_large["casavi"] <= IDLE_REQUESTS_TARGET),
        Metric("idle_requests_besides_sweep_large_minus_small",
               f"idle poll: requests besides the sweep at {g} minus at {s}", g,
               sum(besides_large.values()) - sum(besides_small.values()), "req", "0 (equal)",
               besides_large == besides_small),
        Metric("change_seconds_to_tool", "one tenant comment: seconds until in Jira", g, change["seconds_to_tool"],
               "s", f"<= {interval + CHANGE_EXTRA_SECONDS:g} (interval + 2)",
               change["seconds_to_tool"] <= interval + CHANGE_EXTRA_SECONDS),
        Metric("change_requests", "one tenant comment: requests (both sides)", g, change_requests, "req",
               f"<= {CHANGE_REQUESTS_TARGET}", change_requests <= CHANGE_REQUESTS_TARGET),
        Metric("change_requests_besides_sweep", "one tenant comment: requests besides the sweep (both sides)", g,
               change_besides_sweep, "req", f"<= {CHANGE_REQUESTS_TARGET}",
               change_besides_sweep <= CHANGE_REQUESTS_TARGET),
        Metric("peak_rss_mb_small", "daemon peak RSS (VmHWM) [MB]", s, rss_small, "MB",
               f"<= {PEAK_RSS_TARGET_MB:g}", rss_small <= PEAK_RSS_TARGET_MB),
        Metric("peak_rss_mb_large", "daemon peak RSS (VmHWM) [MB]", g, rss_large, "MB",
               f"<= {PEAK_RSS_TARGET_MB:g}", rss_large <= PEAK_RSS_TARGET_MB),
        Metric("peak_rss_growth", f"daemon peak RSS at {g} / at {s}", g, growth, "x",
               f"<= {RSS_GROWTH_TARGET}", growth <= RSS_GROWTH_TARGET),
        Metric("after_mirror_peak_rss_mb_small", "pass after the mirror: peak RSS [MB]", s, settle_small, "MB"),
        Metric("after_mirror_peak_rss_mb_large", "pass after the mirror: peak RSS [MB]", g, settle_large, "MB"),
        Metric("after_mirror_peak_rss_growth", f"pass after the mirror: peak RSS at {g} / at {s}", g,
               settle_large / settle_small, "x"),
    ]


def _sweep_pace(steady: dict[str, Any]) -> float:
    """Tickets the idle polls read whole per second (each poll's over the time since the pass
    before it, whose sweep read the tickets due until then), x the sweep interval / open linked
    tickets; 0 when the polls measured no time or nothing is linked."""
    span = sum(p.get("seconds_since_last_pass", 0) for p in steady["idle_polls"])
    linked = steady.get("open_linked", 0)
    if span <= 0 or not linked:
        return 0.0
    swept = sum(p.get("swept", 0) for p in steady["idle_polls"])
    return swept / span * steady.get("sweep_interval_seconds", 0) / linked


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) < 1:
        return f"{value:.3f}"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.1f}"


def table(metrics: list[Metric]) -> str:
    rows = [("metric", "size", "value", "target", "met?")]
    for metric in metrics:
        met = "" if metric.met is None else ("yes" if metric.met else "NO")
        rows.append((metric.label, f"{metric.size:,}", _number(metric.value), metric.target, met))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.rjust(w) if i in (1, 2) else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _short(route: str) -> str:
    return route.replace("/rest/api/{version}", "")


def breakdown(results: dict[str, Any], limit: int = 8) -> str:
    """Where the requests go: per ticket for the mirror, per poll for the large idle poll and the change."""
    mirror, large = results["mirror"], results["steady_large"]
    n = mirror["tickets"]
    sections = [(f"initial mirror ({n} tickets), requests per ticket", mirror["requests"], n),
                (f"pass after the mirror at {large['tickets']}, requests of the pass", large["setup"]["settle_requests"], 1),
                (f"idle poll at {large['tickets']}, requests per poll", large["idle_polls"][-1]["requests"], 1),
                (f"one tenant comment at {large['tickets']}, requests of the pass", large["change"]["requests"], 1)]
    lines = []
    for title, requests, divisor in sections:
        lines.append(title + ":")
        for side in ("casavi", "jira"):
            top = sorted(requests[side].items(), key=lambda kv: -kv[1])[:limit]
            cells = ", ".join(f"{_short(route)} {_number(count / divisor)}" for route, count in top)
            lines.append(f"  {side}: {cells or '-'}")
    if large.get("burst_tail_poll"):
        lines.append(f"poll right after the mirror at {large['tickets']} (re-reads the last overlap window as "
                     f"summaries): {large['burst_tail_poll']['totals']} requests")
    tail = large.get("overlap_tail", {})
    if tail.get("cursor"):
        lines.append(f"Jira issues with updated >= cursor - {tail['overlap_seconds']:g} s after the setup at "
                     f"{large['tickets']} (the first incremental search reads them as summary rows): "
                     f"{tail['issues']} ({tail['of_which_sub_tasks']} sub-tasks)")
    return "\n".join(lines)


def write_json(path: Path, meta: dict[str, Any], metrics: list[Metric], results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "meta": meta,
        "metrics": {m.key: {k: v for k, v in asdict(m).items() if k != "key"} for m in metrics},
        "details": results,
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str) + "\n")
    tmp.replace(path)

"""The benchmark's metrics from its scenarios' results (``bench.report.build_metrics``): the idle
polls' and the tenant comment's requests besides the rolling sweep's, and the sweep's pace."""

from __future__ import annotations

import math

import pytest

from bench.report import METRICS, build_metrics


def poll(casavi: int, jira: int, *, swept: int = 0, sweep_requests: int = 0, since: float = 5.0) -> dict:
    return {"totals": {"casavi": casavi, "jira": jira}, "seconds": 0.2, "swept": swept,
            "sweep_requests": sweep_requests, "seconds_since_last_pass": since}


def steady(tickets: int, polls: list[dict], **extra) -> dict:
    return {"tickets": tickets, "idle_polls": polls, "memory_kb": {"VmHWM": 100 * 1024},
            "setup": {"settle_totals": {"casavi": 1, "jira": 1}, "settle_max_rss_kb": 90 * 1024,
                      "settle_report": {"swept": 0}},
            "open_linked": tickets, "sweep_interval_seconds": 900, **extra}


def results(large_polls: list[dict], change_pass: dict) -> dict:
    return {
        "mirror": {"tickets": 100, "lower_bound_seconds": 10.0, "pass_seconds": 12.0, "latency_ms": 25,
                   "trivial_round_trip_ms": 30.0,
                   "concurrency": 8, "bridge_cpu_seconds": 3.0, "totals": {"casavi": 300, "jira": 500},
                   "must_make": {"casavi": {"GET /tickets/{ticket_id}": 100}, "jira": {"POST /issue": 100}}},
        "serial": {"tickets": 10, "pass_seconds": 8.0},
        "steady_small": steady(1000, [poll(1, 1), poll(1, 1)]),
        "steady_large": steady(20000, large_polls, change={
            "interval_seconds": 5.0, "seconds_to_tool": 6.0, "totals": {"casavi": 203, "jira": 2},
            "pass_report": change_pass}),
    }


def test_the_sweeps_requests_are_counted_apart_and_the_others_meet_the_idle_targets():
    # At 20,000 each 5 s poll sweeps 111 tickets (201 casavi requests, 200 of them the sweep's).
    polls = [poll(201, 1, swept=111, sweep_requests=200, since=5.0), poll(191, 1, swept=111, sweep_requests=190)]
    metrics = {m.key: m for m in build_metrics(results(polls, {"swept": 111, "sweep_requests": 200}))}
    assert set(metrics) == set(METRICS)
    # 12 s against L = 10 s at 25 ms, where even a trivial request took 30 ms: 1.2 x L, 1.0 x the floor.
    assert metrics["mirror_ratio_to_lower_bound"].value == pytest.approx(1.2)
    assert metrics["mirror_ratio_to_trivial_floor"].value == pytest.approx(1.0)
    assert metrics["idle_casavi_requests_per_poll_large"].value == 201  # unchanged: every request
    assert metrics["idle_casavi_requests_per_poll_large"].met is False
    assert metrics["idle_sweep_requests_per_poll_large"].value == 200
    assert (metrics["idle_casavi_requests_besides_sweep_per_poll_large"].value,
            metrics["idle_casavi_requests_besides_sweep_per_poll_large"].met) == (1, True)
    assert (metrics["idle_casavi_requests_besides_sweep_per_poll_small"].value,
            metrics["idle_casavi_requests_besides_sweep_per_poll_small"].met) == (1, True)
    assert (metrics["idle_requests_besides_sweep_large_minus_small"].value,
            metrics["idle_requests_besides_sweep_large_minus_small"].met) == (0, True)
    assert (metrics["change_requests"].value, metrics["change_requests"].met) == (205, False)
    assert (metrics["change_requests_besides_sweep"].value, metrics["change_requests_besides_sweep"].met) == (5, True)
    # 222 tickets in 10 s, x 900 s / 20,000 open linked tickets: each about once per interval.
    pace = metrics["idle_sweep_reads_per_ticket_per_interval_large"]
    assert math.isclose(pace.value, 222 / 10 * 900 / 20000) and pace.met is None and pace.target == "design: 1.0"


def test_an_idle_poll_whose_other_requests_grow_with_the_size_misses_the_target():
    polls = [poll(204, 1, swept=111, sweep_requests=200)]
    metrics = {m.key: m for m in build_metrics(results(polls, {}))}
    assert metrics["idle_casavi_requests_besides_sweep_per_poll_large"].met is False
    assert metrics["idle_requests_besides_sweep_large_minus_small"].value == 3
    assert metrics["idle_requests_besides_sweep_large_minus_small"].met is False
    assert metrics["change_requests_besides_sweep"].value == 205  # the pass that carried it did not sweep


def test_the_sweeps_pace_is_zero_when_the_polls_measured_no_time():
    polls = [poll(1, 1, since=0.0)]
    metrics = {m.key: m for m in build_metrics(results(polls, {}))}
    assert metrics["idle_sweep_reads_per_ticket_per_interval_large"].value == 0.0

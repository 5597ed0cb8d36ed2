"""The benchmark keeps working: ``python -m bench --quick`` runs end to end and reports every metric.

Only the shape of the results is checked here; the targets belong to the benchmark
(``python -m bench`` prints whether each is met), never to a timed test.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import METRICS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_quick_benchmark_reports_every_metric_as_a_number(tmp_path):
    results = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--json", str(results)], cwd=REPO,
                          capture_output=True, text=True, timeout=1700)
    assert done.returncode == 0, done.stderr[-4000:]
    document = json.loads(results.read_text())
    assert set(document["metrics"]) == set(METRICS)
    for name, metric in document["metrics"].items():
        value = metric["value"]
        assert isinstance(value, (int, float)) and not isinstance(value, bool), name
        assert math.isfinite(value), name
        assert metric["met"] in (True, False, None), name
    assert "initial mirror" in done.stdout and "met?" in done.stdout
    profile = results.with_name("bench.profile.txt")  # the profile's top entries beside the JSON
    assert "cumulative" in profile.read_text() and "bridge" in profile.read_text()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_quick_fleet_benchmark_mirrors_every_tenant_with_each_worker_count(tmp_path):
    results = tmp_path / "fleet.json"
    done = subprocess.run([sys.executable, "-m", "bench.fleet", "--quick", "--json", str(results)], cwd=REPO,
                          capture_output=True, text=True, timeout=1700)
    assert done.returncode == 0, done.stderr[-4000:]
    document = json.loads(results.read_text())
    assert [r["workers"] for r in document["rounds"]] == [1, 2]
    for r in document["rounds"]:
        # Every tenant was claimed, and no worker held more than its share.
        assert sum(r["tenants_claimed_per_worker"]) >= 3
        assert max(r["tenants_claimed_per_worker"]) <= math.ceil(3 / r["workers"]) + (r["workers"] > 1)
        assert r["wall_seconds"] > 0 and r["requests"]["casavi"] > 0 and r["requests"]["jira"] > 0
    assert document["idle"]["passes"] > 0 and document["needs"]["workers_at_half_load"] >= 2
    assert "1000 tenants at a 60 s interval" in done.stdout

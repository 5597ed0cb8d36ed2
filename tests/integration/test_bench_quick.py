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

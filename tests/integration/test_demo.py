"""`casavi-bridge demo` (the README's first command runs it): it mirrors, then each change it
plays arrives in the step that plays it, and a quiet pass moves nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_demo_shows_each_change_arriving_in_its_own_step(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bridge.cli", "demo"], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    [header] = [line for line in lines if line.startswith("step ")]
    columns = [c.strip() for c in header[len("step"):].split("  ") if c.strip()]
    rows = {}
    for line in lines:
        if line[:2] in ("1.", "2.", "3.", "4."):
            label, numbers = line[:30].strip(), line[30:].split()
            assert len(numbers) == len(columns), line
            rows[label] = dict(zip(columns, map(int, numbers)))
    assert rows["1. initial mirror"]["item created"] > 0 and rows["1. initial mirror"]["comment mirrored"] > 0
    assert rows["2. tenant comment"]["comment mirrored"] == 1
    assert sum(rows["2. tenant comment"].values()) == 1
    assert rows["3. Jira comment + transition"]["comment written back"] == 1
    assert rows["3. Jira comment + transition"]["status written back"] == 1
    assert sum(rows["4. quiet pass"].values()) == 0
    assert "swept" not in columns and "[warning]" not in done.stdout
    [kept] = [line for line in lines if line.startswith("The configuration and state stay in ")]
    config = Path(kept.rsplit("--config ", 1)[1])
    status = subprocess.run([sys.executable, "-m", "bridge.cli", "status", "--config", str(config)],
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0 and "ticket" in status.stdout, status.stderr[-2000:]

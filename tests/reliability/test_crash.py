"""Crash safety: the bridge process is killed with SIGKILL at random moments, many times, while
it mirrors; after restarts there is exactly one tool item per ticket and every comment exactly
once on each side.  It runs with the state in SQLite and in PostgreSQL."""

from __future__ import annotations

import random
from collections import Counter

import httpx
import pytest

from bridge.model import Comment
from connectors.memory import MemoryConnector, MemorySettings
from tests.fixtures.processes import run_bridge, write_config
from tests.reliability.crash_helpers import kill_while_writing

KILLS = 40


def casavi_ticket(sandbox, ticket_id: str) -> dict:
    return httpx.get(f"{sandbox.casavi_root}/_sandbox/tickets/{ticket_id}", timeout=10).json()


@pytest.mark.slow
def test_sigkill_at_random_moments_never_duplicates(sandbox_process, tmp_path, state_url):
    sandbox = sandbox_process("--tickets", "400", "--seed", "11", "--latency-ms", "10")
    config = write_config(sandbox.info, tmp_path / "bridge.toml", connector="memory", sync__concurrency=4,
                          state__database=state_url,
                          sync__sweep_interval_seconds=0.001)  # every pass sweeps: tenant comments arrive under any reading
    tool = MemoryConnector(MemorySettings(path=str(tmp_path / "tool.json")))
    rng = random.Random(20261123)
    tool_comments: list[str] = []
    for n in range(KILLS):
        # Killed at a random moment after it started writing; a run with nothing to do just ends.
        kill_while_writing(config, tmp_path / f"run-{n}.log", rng.uniform(0.0, 1.5))
        ticket_id = f"T-{rng.randint(1, 400):05d}"
        httpx.post(f"{sandbox.casavi_root}/_sandbox/tickets/{ticket_id}/comments",
                   json={"text": f"Mieterkommentar {n}"}, timeout=10).raise_for_status()
        if n % 4 == 2:  # people keep working in the tool while the bridge keeps dying
            for item in rng.sample(tool.all_items(), k=min(3, len(tool.all_items()))):
                text = f"Kommentar aus dem Tool [{n}-{item.target_id}]"  # brackets: [6-2] is not in [6-24]
                tool.add_comment(item.target_id, Comment("x", text, author="Max"), marker=None)
                tool_comments.append(text)
    progressed = [n for n in range(KILLS) if "ticket_mirrored" in (tmp_path / f"run-{n}.log").read_text()
                  or "comment_mirrored" in (tmp_path / f"run-{n}.log").read_text()]
    assert len(progressed) >= 3, "the kills must land while the bridge is writing"
    for _ in range(3):
        done = run_bridge("run", "--config", str(config), "--once")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    items = tool.all_items()
    per_ticket = Counter(i.marker.item_id for i in items if i.marker)
    assert per_ticket and max(per_ticket.values()) == 1, [k for k, n in per_ticket.items() if n > 1]

    reconcile = run_bridge("reconcile", "--config", str(config), "--dry-run")
    assert reconcile.returncode == 0, reconcile.stdout[-3000:]

    for item in items:
        ticket = casavi_ticket(sandbox, item.marker.item_id)
        casavi_ids = [c["id"] for c in ticket["comments"]]
        assert len(casavi_ids) == len(set(casavi_ids))
        markers = [c.marker for c in item.comments if c.marker]
        assert len(markers) == len(set(markers)), f"a casavi comment twice in {item.target_id}"
        for c in ticket["comments"]:
            if not c["id"].startswith("memory-"):
                assert c["id"] in markers, f"casavi comment {c['id']} missing in the tool"
        written_back = [c for c in ticket["comments"] if c["id"].startswith("memory-")]
        tool_side = [c for c in item.comments if not c.marker]
        assert len(written_back) == len(tool_side), (ticket["id"], written_back, tool_side)
    mirrored = [c["text"] for item in items for c in casavi_ticket(sandbox, item.marker.item_id)["comments"]]
    for text in tool_comments:
        assert sum(text in m for m in mirrored) == 1, f"tool comment {text!r} not exactly once in casavi"

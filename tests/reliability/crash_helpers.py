"""What the crash tests share: start ``casavi-bridge run --once``, let it start writing, SIGKILL it."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

from tests.fixtures.processes import bridge_process

# Log events of a write that just went through; the first one means the process is writing.
WRITING = re.compile(r"(ticket|comment|task|attachment)_(mirrored|written_back)|status_(mirrored|written_back)")


def kill_while_writing(config: Path, log: Path, delay: float, *, wait_seconds: float = 60,
                       after: re.Pattern[str] = WRITING) -> bool:
    """Run the bridge once with its log in ``log``; ``delay`` seconds after the log shows it
    writing (``after``: the first log event that counts as writing; so the kill lands mid-write
    however slow the machine is), SIGKILL it.

    True when the kill hit the process in the middle of its pass (it was running and had not
    finished the pass); a run with nothing to do just ends, and that is False.
    """
    proc = bridge_process("run", "--config", str(config), "--once", log=log)
    deadline = time.monotonic() + wait_seconds
    while proc.poll() is None and time.monotonic() < deadline and not after.search(log.read_text()):
        time.sleep(0.05)
    time.sleep(delay)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return alive and "pass_finished" not in log.read_text()

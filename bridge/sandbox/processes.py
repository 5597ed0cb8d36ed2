"""The sandboxes and the bridge as real processes, for the tests and the benchmarks alike.

A sandbox runs as ``casavi-bridge sandbox`` (or any command that writes the same ready file)
in its own session, the way an operator runs it; the bridge runs as ``casavi-bridge run``,
``reconcile``, ``status`` and so on.  CPU time and peak memory of a running process are read
from the kernel (``/proc/<pid>/stat`` and ``/proc/<pid>/status``, see proc(5)).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import tomli_w

from bridge.sandbox.written_config import sandbox_config

BRIDGE = [sys.executable, "-m", "bridge.cli"]
SANDBOX = [*BRIDGE, "sandbox"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ProcessError(RuntimeError):
    """A process did not start, or ended before it was asked to."""


def terminate(proc: subprocess.Popen, *, timeout: float) -> None:
    """SIGTERM, then SIGKILL if the process has not ended within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15)


def process_memory_kb(pid: int) -> dict[str, int]:
    """VmHWM (peak RSS) and VmRSS of a running process, in kB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = int(value.split()[0])
    return found


class SandboxProcess:
    """A sandbox server in its own process, ready once its ready file exists.

    ``command`` defaults to ``casavi-bridge sandbox``; ``flags`` are appended after
    ``--ready-file``.  ``info`` is the ready file (DESIGN.md's contract: ``casavi_url``,
    ``jira_url``, keys and tokens).  Raises :class:`ProcessError` when the process ends or
    ``start_timeout`` seconds pass first.
    """

    def __init__(self, workdir: Path, *flags: str, command: list[str] | None = None,
                 cwd: Path | None = None, start_timeout: float = 60.0, stop_timeout: float = 15.0):
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.ready = workdir / "ready.json"
        self.stop_timeout = stop_timeout
        self._log = open(workdir / "sandbox.log", "w")
        self.proc = subprocess.Popen([*(command or SANDBOX), "--ready-file", str(self.ready), *flags], cwd=cwd,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + start_timeout
        while not self.ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ProcessError("the sandbox did not start: " + (workdir / "sandbox.log").read_text()[-2000:])
            time.sleep(0.05)
        self.info: dict[str, Any] = json.loads(self.ready.read_text())

    @property
    def casavi_root(self) -> str:
        """The casavi sandbox without its API base (``/_sandbox`` control endpoints hang here)."""
        return self.info["casavi_url"].rsplit("/v1", 1)[0]

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        terminate(self.proc, timeout=self.stop_timeout)
        self._log.close()


def write_config(info: dict[str, Any], path: Path, *, connector: str = "jira", **overrides: Any) -> Path:
    """The sandboxes' configuration (as ``--write-config`` writes it), written to ``path`` (0600).

    ``connector="memory"`` keeps the tool in ``<dir>/tool.json``; each override
    ``section__key=value`` sets one key (``sync__concurrency=8``).
    """
    config = sandbox_config(info, config_path=path)
    if connector == "memory":
        config.pop("jira", None)
        config["connector"] = {"kind": "memory"}
        config["memory"] = {"path": str(path.parent / "tool.json")}
    for dotted, value in overrides.items():
        section, _, key = dotted.partition("__")
        config.setdefault(section, {})[key] = value
    path.write_text(tomli_w.dumps(config))
    os.chmod(path, 0o600)
    return path


def run_bridge(*args: str, timeout: float = 300, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``casavi-bridge ARGS`` to its end; stdout and stderr captured as text."""
    return subprocess.run([*BRIDGE, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, **(env or {})})


def bridge_process(*args: str, env: dict[str, str] | None = None, log: Path | None = None,
                   cwd: Path | None = None) -> subprocess.Popen:
    """``casavi-bridge ARGS`` in the background, its own session, output to ``log`` (or dropped)."""
    out = open(log, "w") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen([*BRIDGE, *args], stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                env={**os.environ, **(env or {})}, start_new_session=True)
    finally:
        if log:
            out.close()  # the child holds its own copy of the descriptor


def log_events(path: Path, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``path`` whose ``event`` is ``event``, parsed, in order."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if f'"{event}"' in line:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == event:
                found.append(entry)
    return found

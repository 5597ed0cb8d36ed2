"""The processes a benchmark drives: the sandboxes (``bench.sandbox_host``) and the bridge
(``casavi-bridge run``, once or as the daemon), plus what the benchmark reads from them.

Request counts come from the sandboxes' ``/_sandbox/stats`` (control endpoints are neither
counted nor delayed); the benchmark's own REST calls (polling Jira for a comment) are counted
there too, so callers subtract them.  CPU time and peak RSS come from the kernel: ``wait4``
for a finished process, ``/proc/<pid>/status`` (VmHWM) and ``/proc/<pid>/stat`` for a running one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bridge.sandbox import processes
from bridge.sandbox.processes import (
    BRIDGE,
    ProcessError,
    SandboxProcess,
    bridge_process,
    log_events,
    process_cpu_seconds,
    process_memory_kb,
    terminate,
)

REPO = Path(__file__).resolve().parent.parent
JIRA_API = "/rest/api/2"


class BenchError(RuntimeError):
    """A benchmark step could not be carried out (a process died, a wait ran out)."""


class Sandbox:
    """``python -m bench.sandbox_host`` in its own process; a context manager."""

    def __init__(self, workdir: Path, tickets: int, *, seed: int, latency_ms: float, profile: str = "bench",
                 casavi_profile: str = "lenient"):
        command = [sys.executable, "-m", "bench.sandbox_host"]
        try:
            self.process = SandboxProcess(workdir, "--tickets", str(tickets), "--seed", str(seed), "--profile", profile,
                                          "--latency-ms", str(latency_ms), "--casavi-profile", casavi_profile,
                                          command=command, cwd=REPO,
                                          start_timeout=120, stop_timeout=30)
        except ProcessError as exc:
            raise BenchError(str(exc)) from None
        self.workdir = workdir
        self.proc = self.process.proc
        self.info: dict[str, Any] = self.process.info
        self.roots = {"casavi": self.info["casavi_url"].rsplit("/v1", 1)[0], "jira": self.info["jira_url"]}
        self.http = httpx.Client(timeout=300)
        self.jira = httpx.Client(base_url=self.info["jira_url"] + JIRA_API, timeout=60,
                                 headers={"Authorization": f"Bearer {self.info['jira_token']}"})

    # -- control endpoints (neither counted nor delayed) ----------------------------------
    def _control(self, side: str, method: str, path: str, **kwargs: Any) -> Any:
        reply = self.http.request(method, self.roots[side] + "/_sandbox" + path, **kwargs)
        reply.raise_for_status()
        return reply.json() if reply.content else None

    def stats(self) -> dict[str, dict[str, Any]]:
        return {side: self._control(side, "GET", "/stats") for side in self.roots}

    def reset_stats(self) -> None:
        for side in self.roots:
            self._control(side, "POST", "/stats/reset")

    def set_latency(self, latency_ms: float) -> None:
        for side in self.roots:
            self._control(side, "POST", "/fault", json={"latency_ms": latency_ms})

    def jira_issues(self) -> list[dict[str, Any]]:
        """Every Jira issue (sub-tasks included) with ``updatedMillis`` and its properties."""
        return self._control("jira", "GET", "/issues")

    def tenant_comment(self, ticket_id: str, text: str) -> dict[str, Any]:
        return self._control("casavi", "POST", f"/tickets/{ticket_id}/comments", json={"text": text})

    # -- the Jira REST API (counted: callers subtract their own calls) ---------------------
    def jira_comment_bodies(self, issue_id: str) -> list[str]:
        reply = self.jira.get(f"/issue/{issue_id}/comment", params={"maxResults": 1000})
        reply.raise_for_status()
        return [c.get("body") or "" for c in reply.json().get("comments") or []]

    def trivial_round_trip_ms(self, clients: int, per_client: int = 50) -> float:
        """Mean milliseconds of ``GET /serverInfo`` (the Jira sandbox's cheapest answer) with
        ``clients`` threads at once, each on its own kept-alive connection: what one request costs
        on this machine at the sandbox's latency with nothing of the bridge in it.  Counted by
        the sandbox: call it after reading the stats."""
        durations: list[float] = []
        lock = threading.Lock()

        def client() -> None:
            with httpx.Client(base_url=self.jira.base_url, headers=self.jira.headers, timeout=60) as http:
                http.get("/serverInfo").raise_for_status()  # the connection, not measured
                mine = []
                for _ in range(per_client):
                    started = time.perf_counter()
                    http.get("/serverInfo").raise_for_status()
                    mine.append(time.perf_counter() - started)
            with lock:
                durations.extend(mine)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if len(durations) != clients * per_client:
            raise BenchError("the round trip of a trivial request could not be measured (a client failed)")
        return 1000.0 * sum(durations) / len(durations)

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.process.stop()
        for client in ("http", "jira"):
            if hasattr(self, client):
                getattr(self, client).close()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def write_config(info: dict[str, Any], path: Path, *, concurrency: int, interval_seconds: float,
                 overlap_seconds: float = 120.0, sweep_interval_seconds: float | None = None) -> Path:
    """The sandboxes' config (as ``--write-config`` writes it) with the benchmark's settings:
    ``concurrency`` for both the engine and the casavi client, the poll interval without
    jitter, the overlap window, the sweep interval (None: as written, the shipped default),
    JSON log lines (the benchmark reads ``pass_finished`` from them)."""
    extra = {} if sweep_interval_seconds is None else {"sync__sweep_interval_seconds": sweep_interval_seconds}
    return processes.write_config(info, path, sync__concurrency=concurrency, sync__interval_seconds=interval_seconds,
                                  sync__jitter_seconds=0, sync__overlap_seconds=overlap_seconds,
                                  casavi__concurrency=concurrency, log__level="info", log__format="json", **extra)


@dataclass
class OnceResult:
    wall_seconds: float
    cpu_seconds: float
    max_rss_kb: int
    exit_code: int
    passes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pass_seconds(self) -> float:
        return float(self.passes[-1]["seconds"]) if self.passes else self.wall_seconds


def run_once(config: Path, log: Path, *, profile: Path | None = None) -> OnceResult:
    """``casavi-bridge run --once``: wall time, CPU time and peak RSS from ``wait4``; with
    ``profile``, under cProfile (``bench.profiled``), the statistics written there."""
    command = [*BRIDGE, "run", "--config", str(config), "--once"]
    if profile is not None:
        command = [sys.executable, "-m", "bench.profiled", "--out", str(profile), "--", *command[3:]]
    with open(log, "w") as out:
        started = time.monotonic()
        proc = subprocess.Popen(command, cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = OnceResult(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode,
                        log_events(log, "pass_finished"))
    if result.exit_code != 0 or not result.passes:
        raise BenchError(f"`casavi-bridge run --once` failed (exit {result.exit_code}); see {log}")
    return result


def bridge_status(config: Path) -> dict[str, Any]:
    """``casavi-bridge status --json``: links, cursors, quarantine."""
    done = subprocess.run([*BRIDGE, "status", "--config", str(config), "--json"], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise BenchError(f"`casavi-bridge status` failed: {done.stderr[-2000:]}") from None


class Daemon:
    """``casavi-bridge run`` (the daemon); follows its JSON log for ``pass_finished``."""

    def __init__(self, config: Path, log: Path):
        self.log_path = log
        self.proc = bridge_process("run", "--config", str(config), log=log, cwd=REPO)
        self._reader = open(log, "r", errors="replace")
        self._partial = ""
        self._lines: list[str] = []

    def wait_pass(self, timeout: float) -> dict[str, Any]:
        """The next ``pass_finished`` event of the daemon's log (waits for it)."""
        deadline = time.monotonic() + timeout
        while True:
            while self._lines:
                line = self._lines.pop(0)
                if '"pass_finished"' in line:
                    entry = json.loads(line)
                    if entry.get("event") == "pass_finished":
                        return entry
            chunk = self._reader.read()
            if chunk:
                *complete, self._partial = (self._partial + chunk).split("\n")
                self._lines.extend(complete)
                continue
            if self.proc.poll() is not None:
                raise BenchError(f"the daemon exited with {self.proc.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                raise BenchError(f"no pass finished within {timeout:.0f} s; see {self.log_path}")
            time.sleep(0.02)

    def drain(self) -> None:
        """Forget the passes finished so far: the next :meth:`wait_pass` is one still to end."""
        chunk = self._reader.read()
        if chunk:
            *_, self._partial = (self._partial + chunk).split("\n")
        self._lines.clear()

    def memory_kb(self) -> dict[str, int]:
        return process_memory_kb(self.proc.pid)

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        terminate(self.proc, timeout=120)
        self._reader.close()

    def __enter__(self) -> "Daemon":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

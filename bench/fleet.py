"""``python -m bench.fleet``: many casavi accounts mirrored by a fleet of workers on one PostgreSQL.

For each worker count (1, 2, 3 by default) the benchmark starts fresh sandboxes — one casavi and
Jira pair per tenant (``bench.sandbox_host``, ``--latency-ms`` on every request) — an empty
database on a throwaway PostgreSQL cluster (``bridge.sandbox.postgres``), the tenant files, and
the workers (``casavi-bridge run --config fleet.toml``, all at once).  It measures the wall time
from the workers' start until every tenant's first pass (the initial mirror) has finished, the
requests the sandboxes answered, and each worker's CPU time and tenants.

After the last round's mirror the tenants' interval is set to ``--idle-interval`` (the workers
reload the changed files), and once every tenant has passed twice more an idle window is
measured: CPU per idle pass, requests per idle pass, pass time.  From these it calculates what
``--target-tenants`` (1,000) tenants at the shipped 60 s interval need: workers, PostgreSQL
connections, requests per minute per casavi account.

Examples::

    python -m bench.fleet                         # 30 tenants x 200 tickets, 1, 2 and 3 workers
    python -m bench.fleet --quick                 # 3 tenants x 20 tickets: CI keeps it working
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import platform
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.procs import REPO, BenchError, Sandbox
from bridge.fleet.config import tenant_schema
from bridge.sandbox.fleet import write_fleet, write_tenant
from bridge.sandbox.postgres import create_database, throwaway_postgres
from bridge.sandbox.processes import bridge_process, log_events, process_cpu_seconds, terminate

DEFAULT_JSON = REPO / "bench" / "results" / "fleet.json"
PARALLEL_TENANTS = 4  # [fleet] parallel_tenants, the shipped default
SHIPPED_INTERVAL = 60.0


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tenants", type=int, default=30)
    p.add_argument("--tickets", type=int, default=200, help="tickets per tenant")
    p.add_argument("--workers", default="1,2,3", help="worker counts, one round each")
    p.add_argument("--latency-ms", type=float, default=25.0)
    p.add_argument("--idle-interval", type=float, default=5.0, help="tenants' interval in the idle window (s)")
    p.add_argument("--idle-window", type=float, default=30.0, help="length of the idle window (s)")
    p.add_argument("--target-tenants", type=int, default=1000)
    p.add_argument("--json", type=Path, default=DEFAULT_JSON)
    p.add_argument("--workdir", type=Path)
    p.add_argument("--quick", action="store_true", help="3 tenants x 20 tickets, workers 1,2, short idle window")
    args = p.parse_args(argv)
    if args.quick:
        args.tenants, args.tickets, args.workers, args.idle_window = 3, 20, "1,2", 10.0
    return args


class Round:
    """One worker count: sandboxes, database, tenant files, workers."""

    def __init__(self, args: argparse.Namespace, workdir: Path, database: str, workers: int):
        self.args, self.workdir, self.database, self.n_workers = args, workdir, database, workers
        self.tenants_dir = workdir / "tenants"
        with ThreadPoolExecutor(8) as pool:
            self.sandboxes = dict(zip(self.names(), pool.map(self._sandbox, range(args.tenants))))
        for name, sandbox in self.sandboxes.items():
            self._write_tenant(name, sandbox, interval_seconds=3600)
        self.fleet = write_fleet(workdir / "fleet.toml", database, self.tenants_dir, rescan_seconds=2,
                                 parallel_tenants=PARALLEL_TENANTS)
        self.engine = create_engine(database, pool_size=2)
        self.procs: list[Any] = []

    def names(self) -> list[str]:
        return [f"tenant-{n:04d}" for n in range(1, self.args.tenants + 1)]

    def _sandbox(self, n: int) -> Sandbox:
        return Sandbox(self.workdir / f"sandbox-{n + 1:04d}", self.args.tickets, seed=100 + n,
                       latency_ms=self.args.latency_ms)

    def _write_tenant(self, name: str, sandbox: Sandbox, **sync: Any) -> None:
        write_tenant(sandbox.info, self.tenants_dir, name, jitter_seconds=0, **sync)

    def logs(self) -> list[Path]:
        return [self.workdir / f"worker-{i + 1}.log" for i in range(self.n_workers)]

    def start_workers(self) -> float:
        started = time.time()
        self.procs = [bridge_process("run", "--config", str(self.fleet), log=log) for log in self.logs()]
        return started

    def passes(self) -> dict[str, list[tuple[datetime, datetime, str]]]:
        """Every tenant's finished passes (started, finished, outcome) from its own schema."""
        found: dict[str, list[tuple[datetime, datetime, str]]] = {}
        with self.engine.connect() as conn:
            schemas = set(conn.execute(text("SELECT nspname FROM pg_namespace")).scalars())
            for name in self.names():
                schema = tenant_schema(name)
                if schema not in schemas or not conn.execute(text(
                        "SELECT to_regclass(:t)"), {"t": f'"{schema}".runs'}).scalar():
                    continue
                rows = conn.execute(text(f'SELECT started_at, finished_at, outcome FROM "{schema}".runs '
                                         "WHERE kind = 'pass' AND finished_at IS NOT NULL ORDER BY run_id")).all()
                found[name] = [tuple(r) for r in rows]
        return found

    def wait_mirrored(self, timeout: float) -> dict[str, tuple[datetime, datetime, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise BenchError(f"a worker ended (exit {proc.returncode}); see {self.workdir}")
            passes = self.passes()
            # The first pass of every tenant: its initial mirror.  An item that failed in it (a
            # timeout under load) waits in quarantine for a later pass; the round reports them.
            first = {name: runs[0] for name, runs in passes.items() if runs}
            if len(first) == self.args.tenants:
                return first
            time.sleep(1.0)
        raise BenchError(f"not every tenant mirrored within {timeout:.0f} s; see {self.workdir}")

    def failed_items(self) -> int:
        with self.engine.connect() as conn:
            return sum(conn.execute(text(f'SELECT count(*) FROM "{tenant_schema(name)}".quarantine')).scalar_one()
                       for name in self.names())

    def requests(self) -> dict[str, int]:
        totals = {"casavi": 0, "jira": 0}
        for sandbox in self.sandboxes.values():
            for side, stats in sandbox.stats().items():
                totals[side] += stats["total"]
        return totals

    def worker_cpu(self) -> list[float]:
        return [process_cpu_seconds(p.pid) for p in self.procs]

    def claims(self) -> list[int]:
        return [len({e["tenant"] for e in log_events(log, "tenant_claimed")}) for log in self.logs()]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            terminate(proc, timeout=60)
        for sandbox in self.sandboxes.values():
            sandbox.stop()
        self.engine.dispose()


def mirror_round(r: Round) -> dict[str, Any]:
    started = r.start_workers()
    say(f"{r.n_workers} worker(s): mirroring {r.args.tenants} tenants x {r.args.tickets} tickets")
    first = r.wait_mirrored(timeout=max(600.0, r.args.tenants * r.args.tickets * 0.5))
    done = max(p[1].timestamp() for p in first.values())
    wall = done - started
    requests = r.requests()
    cpu = r.worker_cpu()
    result = {"workers": r.n_workers, "wall_seconds": round(wall, 1),
              "requests": requests, "requests_per_second": round(sum(requests.values()) / wall, 1),
              "tickets_per_second": round(r.args.tenants * r.args.tickets / wall, 2),
              "worker_cpu_seconds": [round(c, 1) for c in cpu],
              "first_pass_outcomes": dict(sorted(collections.Counter(p[2] for p in first.values()).items())),
              "items_in_quarantine_after_first_pass": r.failed_items(),
              "tenants_claimed_per_worker": r.claims()}
    say(f"  {wall:.1f} s, {result['requests_per_second']} requests/s, tenants per worker "
        f"{result['tenants_claimed_per_worker']}, first passes {result['first_pass_outcomes']}")
    return result


def idle_window(r: Round) -> dict[str, Any]:
    """Tenants polled every ``idle_interval`` seconds with nothing to do: what one poll costs."""
    say(f"idle: tenants' interval set to {r.args.idle_interval:.0f} s; waiting for two passes each")
    before = {name: len(runs) for name, runs in r.passes().items()}
    for name, sandbox in r.sandboxes.items():
        r._write_tenant(name, sandbox, interval_seconds=r.args.idle_interval, overlap_seconds=r.args.idle_interval)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        now = r.passes()
        if all(len(now.get(name, [])) >= before.get(name, 0) + 2 for name in r.names()):
            break
        time.sleep(1.0)
    else:
        raise BenchError("idle passes did not start")
    cpu0, req0, passes0, t0 = sum(r.worker_cpu()), r.requests(), r.passes(), time.time()
    time.sleep(r.args.idle_window)
    cpu1, req1, passes1, t1 = sum(r.worker_cpu()), r.requests(), r.passes(), time.time()
    new = [p for name in r.names() for p in passes1.get(name, [])[len(passes0.get(name, [])):]]
    n = max(1, len(new))
    seconds = [(p[1] - p[0]).total_seconds() for p in new]
    return {"window_seconds": round(t1 - t0, 1), "passes": len(new),
            "cpu_seconds_per_pass": round((cpu1 - cpu0) / n, 4),
            "casavi_requests_per_pass": round((req1["casavi"] - req0["casavi"]) / n, 2),
            "jira_requests_per_pass": round((req1["jira"] - req0["jira"]) / n, 2),
            "pass_seconds_mean": round(sum(seconds) / n, 3), "pass_seconds_max": round(max(seconds, default=0), 3)}


def fleet_needs(idle: dict[str, Any], tenants: int, interval: float = SHIPPED_INTERVAL) -> dict[str, Any]:
    """What ``tenants`` tenants polled every ``interval`` seconds need, from the measured idle poll.

    A worker is one Python process: at most one core of CPU (``1 / cpu per pass`` passes per
    second) and ``parallel_tenants`` passes at a time (``parallel_tenants / pass seconds``).
    Workers are sized to be half busy (headroom for bursts of changes and a lost worker)."""
    passes_per_second = tenants / interval
    by_cpu = 1.0 / max(idle["cpu_seconds_per_pass"], 1e-6)
    by_wait = PARALLEL_TENANTS / max(idle["pass_seconds_mean"], 1e-6)
    per_worker = min(by_cpu, by_wait)
    workers = max(2, math.ceil(passes_per_second / (per_worker * 0.5)))
    # Per worker: one lock session, a pool of parallel_tenants + 1 and as many again on demand.
    connections = workers * (1 + 2 * (PARALLEL_TENANTS + 1))
    return {"tenants": tenants, "interval_seconds": interval, "passes_per_second": round(passes_per_second, 2),
            "worker_passes_per_second_cpu_bound": round(by_cpu, 1),
            "worker_passes_per_second_wait_bound": round(by_wait, 1),
            "workers_at_half_load": workers, "cores_busy": round(passes_per_second * idle["cpu_seconds_per_pass"], 2),
            "postgresql_connections_max": connections,
            "casavi_requests_per_minute_per_account": round(idle["casavi_requests_per_pass"] * 60 / interval, 2),
            "tool_requests_per_minute_per_account": round(idle["jira_requests_per_pass"] * 60 / interval, 2)}


def table(rounds: list[dict[str, Any]], idle: dict[str, Any], needs: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [f"{args.tenants} tenants x {args.tickets} tickets, {args.latency_ms:.0f} ms latency",
             "", f"{'workers':>7} {'wall s':>8} {'requests/s':>10} {'tickets/s':>9} {'casavi req':>10} "
             f"{'jira req':>9}  tenants per worker / CPU s per worker"]
    for r in rounds:
        lines.append(f"{r['workers']:>7} {r['wall_seconds']:>8} {r['requests_per_second']:>10} "
                     f"{r['tickets_per_second']:>9} {r['requests']['casavi']:>10} {r['requests']['jira']:>9}  "
                     f"{r['tenants_claimed_per_worker']} / {r['worker_cpu_seconds']}")
    lines += ["", f"idle poll ({idle['passes']} passes in {idle['window_seconds']} s): "
              f"{idle['cpu_seconds_per_pass']} CPU s, {idle['casavi_requests_per_pass']} casavi + "
              f"{idle['jira_requests_per_pass']} Jira requests, {idle['pass_seconds_mean']} s per pass",
              "", f"{needs['tenants']} tenants at a {needs['interval_seconds']:.0f} s interval: "
              f"{needs['passes_per_second']} passes/s; one worker manages {needs['worker_passes_per_second_cpu_bound']}"
              f" (CPU) / {needs['worker_passes_per_second_wait_bound']} (waiting) passes/s -> "
              f"{needs['workers_at_half_load']} workers at half load ({needs['cores_busy']} cores busy), "
              f"<= {needs['postgresql_connections_max']} PostgreSQL connections, "
              f"{needs['casavi_requests_per_minute_per_account']} casavi requests/min per account when idle"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    base = args.workdir or Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    base.mkdir(parents=True, exist_ok=True)
    rounds: list[dict[str, Any]] = []
    idle: dict[str, Any] = {}
    t0 = time.monotonic()
    with throwaway_postgres() as server:
        for i, workers in enumerate(counts):
            workdir = base / f"workers-{workers}"
            workdir.mkdir(parents=True, exist_ok=True)
            r = Round(args, workdir, create_database(server, f"fleet_{workers}"), workers)
            try:
                rounds.append(mirror_round(r))
                if i == len(counts) - 1:
                    idle = idle_window(r)
            finally:
                r.stop()
    needs = fleet_needs(idle, args.target_tenants)
    print(table(rounds, idle, needs, args))
    meta = {"machine": platform.node(), "cpus": __import__("os").cpu_count(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d"), "seconds": round(time.monotonic() - t0),
            "tenants": args.tenants, "tickets": args.tickets, "latency_ms": args.latency_ms,
            "parallel_tenants": PARALLEL_TENANTS, "workdir": str(base)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "rounds": rounds, "idle": idle, "needs": needs}, indent=2))
    say(f"written {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

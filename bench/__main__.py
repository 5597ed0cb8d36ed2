"""``python -m bench``: run every scenario once, print the table, write the JSON.

Examples::

    python -m bench                          # 2,000 tickets; idle/memory at 1,000 and 20,000
    python -m bench --tickets 300 --large 2000
    python -m bench --quick --json /tmp/bench.json   # tiny sizes: CI runs it to keep it working
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.procs import REPO, BenchError
from bench.report import breakdown, build_metrics, table, write_json
from bench.scenarios import BenchSettings, mirror_run, profile_run, say, steady_state

DEFAULT_JSON = REPO / "bench" / "results" / "latest.json"
QUICK = {"tickets": 40, "serial_tickets": 10, "small": 40, "large": 80, "interval": 2.0, "idle_passes": 1,
         "overlap": 10.0, "sweep_interval": 20.0}
FULL = {"tickets": 2000, "serial_tickets": None, "small": 1000, "large": 20000, "interval": 5.0, "idle_passes": 3,
        "overlap": 120.0, "sweep_interval": None}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, help="tickets in the initial mirror (2000; --quick: 40)")
    parser.add_argument("--serial-tickets", type=int,
                        help="tickets in the serial baseline (tickets / 10, at least 10; --quick: 10)")
    parser.add_argument("--small", type=int, help="the smaller mirrored size for idle poll and memory (1000)")
    parser.add_argument("--large", type=int, help="the larger size; also the one-change scenario (20000)")
    parser.add_argument("--latency-ms", type=float, default=25.0, help="sandbox latency on both sides (25)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="[sync] and [casavi] concurrency of the measured runs (8; the shipped default is 4)")
    parser.add_argument("--interval", type=float, help="the daemon's poll interval in seconds (5; --quick: 2)")
    parser.add_argument("--idle-passes", type=int, help="idle polls measured per size (3; --quick: 1)")
    parser.add_argument("--overlap", type=float,
                        help="[sync] overlap_seconds of the measured bridge (120, the shipped default; --quick: 10)")
    parser.add_argument("--sweep-interval", type=float,
                        help="[sync] sweep_interval_seconds of the measured bridge (the shipped default, 900; "
                             "--quick: 20); the larger size's idle polls wait until its first tickets are due")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write the results ({DEFAULT_JSON})")
    parser.add_argument("--workdir", type=Path, help="keep processes' logs and state here (default: a temporary directory)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI: " + ", ".join(
        f"{k}={v}" for k, v in QUICK.items()))
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace, workdir: Path) -> BenchSettings:
    base = QUICK if args.quick else FULL
    tickets = args.tickets or base["tickets"]
    serial = args.serial_tickets or base["serial_tickets"] or max(10, tickets // 10)
    return BenchSettings(
        workdir=workdir, tickets=tickets, serial_tickets=min(serial, tickets), small=args.small or base["small"],
        large=args.large or base["large"], latency_ms=args.latency_ms, concurrency=args.concurrency,
        interval_seconds=args.interval or base["interval"],
        idle_passes=max(1, args.idle_passes or base["idle_passes"]),
        seed=args.seed, overlap_seconds=args.overlap or base["overlap"],
        sweep_interval_seconds=args.sweep_interval or base["sweep_interval"])


def profile_text(json_path: Path) -> Path:
    """Where the profile's top entries go: beside the JSON (``latest.json`` → ``latest.profile.txt``)."""
    return json_path.with_name(json_path.stem + ".profile.txt")


def _commit() -> str | None:
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True,
                              timeout=10)
    except OSError:
        return None
    return done.stdout.strip() or None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="casavi-bridge-bench-"))
    settings = settings_from(args, workdir)
    started = time.time()
    meta = {
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "quick": args.quick, "tickets": settings.tickets, "serial_tickets": settings.serial_tickets,
        "small": settings.small, "large": settings.large, "latency_ms": settings.latency_ms,
        "concurrency": settings.concurrency, "interval_seconds": settings.interval_seconds,
        "idle_passes": settings.idle_passes, "seed": settings.seed, "overlap_seconds": settings.overlap_seconds,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "commit": _commit(),
        "cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.platform(),
        "lower_bound": "L = (requests the design must make) x latency / concurrency; see bench/design.py and "
                       "details.mirror.must_make",
    }
    say(f"work directory {workdir}; {settings}")
    phases = (
        ("mirror", lambda: mirror_run(settings, tickets=settings.tickets, concurrency=settings.concurrency,
                                      label="mirror")),
        ("serial", lambda: mirror_run(settings, tickets=settings.serial_tickets, concurrency=1, label="serial")),
        ("steady_small", lambda: steady_state(settings, settings.small, change=False)),
        ("steady_large", lambda: steady_state(settings, settings.large, change=True, sweep_due=True)),
        ("profile", lambda: profile_run(settings, tickets=settings.serial_tickets, text=profile_text(args.json))),
    )
    results: dict = {}
    for name, run in phases:
        try:
            results[name] = run()
        except (BenchError, OSError, KeyError, ValueError) as exc:
            meta.update(partial=True, error=f"{name}: {type(exc).__name__}: {exc}",
                        duration_seconds=round(time.time() - started, 1))
            write_json(args.json, meta, [], results)
            say(f"{name} failed: {exc}; the results so far are in {args.json}")
            return 1
        # What is done so far stays readable while a long run goes on.
        write_json(args.json, {**meta, "partial": True, "duration_seconds": round(time.time() - started, 1)},
                   [], results)
    meta.update(partial=False, duration_seconds=round(time.time() - started, 1))
    metrics = build_metrics(results)
    print(table(metrics))
    print()
    print(breakdown(results))
    print(f"\n{settings.tickets} tickets mirrored at {settings.latency_ms:g} ms latency, concurrency "
          f"{settings.concurrency}; serial baseline on {settings.serial_tickets}; idle/memory at {settings.small} "
          f"and {settings.large}; interval {settings.interval_seconds:g} s; {meta['duration_seconds']:.0f} s in all")
    write_json(args.json, meta, metrics, results)
    print(f"results: {args.json}; profile of a mirror: {profile_text(args.json)}")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

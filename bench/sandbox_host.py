"""``python -m bench.sandbox_host``: the casavi and Jira sandboxes in a process of their own.

Like ``casavi-bridge sandbox``, plus ``--profile`` (the benchmark's uniform ticket shape) and
``--casavi-profile`` (the readings of the casavi document); the
relay sandbox is not started.  Writes ``--ready-file`` once both accept connections, runs
until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import threading

from bridge.sandbox.casavi.generator import PROFILES
from bridge.sandbox.options import SandboxOptions
from bridge.sandbox.server import start_sandboxes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sandbox_host", description=__doc__)
    parser.add_argument("--tickets", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", choices=PROFILES, default="bench")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--casavi-profile", choices=("strict", "lenient"), default="strict")
    parser.add_argument("--ready-file", required=True)
    args = parser.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    options = SandboxOptions(tickets=args.tickets, seed=args.seed, profile=args.profile, latency_ms=args.latency_ms,
                             ready_file=args.ready_file, apps=("casavi", "jira"), casavi_profile=args.casavi_profile)
    with start_sandboxes(options):
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

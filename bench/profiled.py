"""``python -m bench.profiled --out FILE -- <casavi-bridge arguments>``: the bridge's CLI under
cProfile, every thread included (the engine plans and applies in a thread pool, which plain
``python -m cProfile`` would not see), statistics merged into ``FILE`` (pstats format).

Used by the benchmark's profile phase (``bench.scenarios.profile_run``); the measured runs are
never profiled (cProfile slows Python code down noticeably).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import threading

_PROFILES: list[cProfile.Profile] = []
_LOCK = threading.Lock()


def _start_in_thread(*_args) -> None:
    """Called once per new thread (``threading.setprofile``): replaces itself with a profiler."""
    sys.setprofile(None)
    profile = cProfile.Profile()
    with _LOCK:
        _PROFILES.append(profile)
    profile.enable()


def merged(profiles: list[cProfile.Profile]) -> pstats.Stats:
    stats = pstats.Stats(profiles[0])
    for profile in profiles[1:]:
        stats.add(profile)
    return stats


def top_entries(path: str, limit: int = 40) -> str:
    """The profile's top entries, by own time and by cumulative time, as text."""
    out = io.StringIO()
    for order in ("tottime", "cumulative"):
        stats = pstats.Stats(path, stream=out)
        stats.strip_dirs().sort_stats(order).print_stats(limit)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profiled", description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("bridge_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    from bridge.cli import main as bridge_main

    bridge_args = [a for a in args.bridge_args if a != "--"]
    threading.setprofile(_start_in_thread)
    main_profile = cProfile.Profile()
    _PROFILES.append(main_profile)
    code = 0
    main_profile.enable()
    try:
        bridge_main.main(args=bridge_args, prog_name="casavi-bridge", standalone_mode=False)
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        main_profile.disable()
        threading.setprofile(None)
        with _LOCK:
            merged(list(_PROFILES)).dump_stats(args.out)
    return code


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m bench.sweep``: what one sweep of linked open casavi tickets costs, per reading.

The sweep (bridge/casavi/reader.py) reads every linked ticket open on either side whole about
once per interval, so tenant comments and task changes arrive even when casavi does not move
``lastModified``.  It rolls (each pass reads the tickets whose last whole read is an interval
old); this measures one interval's worth at once, as the first pass after an upgrade reads it.
For each size (1,000 and 20,000 tickets, every one linked and open: the worst case) and each
reading of the casavi document it sweeps all of them (with the once-per-interval listing)
against the casavi sandbox in its own process (latency 0) and reports the requests casavi
counted and the seconds it took:

- strict, date = modified: comments only paged (2 requests per ticket);
- strict, date = created: the same plus the list of tickets in open statuses;
- lenient, date = modified, comments seen embedded (1 request per ticket);
- lenient, date = modified, after the bridge saw its own comments move ``lastModified``
  (nothing: the poll sees every change).

Prints a table; writes JSON (``--json``).  Examples::

    python -m bench.sweep                       # 1,000 and 20,000 tickets
    python -m bench.sweep --sizes 40 80 --json /tmp/sweep.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.procs import REPO, Sandbox
from bench.scenarios import say
from bridge.casavi.client import CasaviClient
from bridge.casavi.source import CasaviSource
from bridge.http import HttpPolicy
from bridge.model import SourceRef

DEFAULT_JSON = REPO / "bench" / "results" / "sweep.json"
READINGS = (  # (label, casavi profile, date means created, prove that comments move lastModified)
    ("strict, date=modified", "strict", False, False),
    ("strict, date=created", "strict", True, False),
    ("lenient, comments embedded", "lenient", False, False),
    ("lenient, lastModified seen moving", "lenient", False, True),
)


def _source(info: dict[str, Any], *, created: bool, concurrency: int) -> CasaviSource:
    policy = HttpPolicy(concurrency=concurrency, timeout=60)
    client = CasaviClient(info["casavi_url"], info["casavi_key"], info["casavi_secret"], policy=policy, timeout=60)
    return CasaviSource(client, date_means_created=created)


def one_reading(workdir: Path, size: int, label: str, profile: str, created: bool, prove: bool,
                concurrency: int) -> dict[str, Any]:
    with Sandbox(workdir / f"{size}-{profile}-{int(created)}-{int(prove)}", size, seed=1, latency_ms=0,
                 casavi_profile=profile) as sandbox:
        source = _source(sandbox.info, created=created, concurrency=concurrency)
        source.begin_pass()  # the shape probe, as at a daemon's start
        ids = [s.ref.item_id for s in source.changed_since(None)]
        if prove:  # the bridge's own comments (write-back) show lastModified moving
            for n, ticket_id in enumerate(ids[:3]):
                source.add_comment(SourceRef("casavi", ticket_id), f"bench-{n}", "Erledigt.", internal=True,
                                   author_email=None)
        sandbox.reset_stats()
        started = time.monotonic()
        swept = sum(1 for _ in source.sweep(ids))
        seconds = time.monotonic() - started
        requests = sandbox.stats()["casavi"]
        source.client.close()
    total = int(requests["total"])
    say(f"sweep {size}, {label}: {total} requests, {seconds:.1f} s")
    return {"size": size, "reading": label, "linked_open": len(ids), "swept": swept, "requests": total,
            "requests_per_ticket": total / max(1, len(ids)), "seconds": seconds,
            "by_route": dict(requests["requests"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 20000])
    parser.add_argument("--concurrency", type=int, default=4, help="[casavi] concurrency (the shipped default 4)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="casavi-bridge-sweep-"))
    rows = [one_reading(workdir, size, *reading, concurrency=args.concurrency)
            for size in args.sizes for reading in READINGS]
    print(f"{'linked open':>12}  {'reading':<36} {'requests':>9} {'per ticket':>10} {'seconds':>8}")
    for row in rows:
        print(f"{row['linked_open']:>12,}  {row['reading']:<36} {row['requests']:>9,} "
              f"{row['requests_per_ticket']:>10.2f} {row['seconds']:>8.1f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"sweeps": rows}, indent=2))
    print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

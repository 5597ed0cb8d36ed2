"""``python -m bench.jira_wire``: the bridge's CPU per Jira request, requests path vs the wire.

Not part of ``python -m bench`` and not a test (nothing here asserts a time).  Starts the Jira
sandbox in its own process (``casavi-bridge sandbox --apps jira``, latency 0), so that only the
client's CPU counts, and sends from one thread, alternating rounds:

- ``requests``: the ``jira`` library's session as the raw calls used it before
  :mod:`connectors.jira.wire` (``ResilientSession`` with the retrying adapter and the
  environment settled), ``reply.json()``;
- ``wire``: :class:`connectors.jira.rest.JiraRest`'s raw calls as they are now.

Each for a read (``GET /issue/{id}?fields=summary,status``) and a write (``POST
/issue/{id}/comment`` with a short body, a JSON reply).  Figures: microseconds of
``time.process_time`` per request, the best round of ``--rounds``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from connectors.jira import JiraSettings
from connectors.jira.rest import JiraRest


def _start_sandbox(workdir: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    ready = workdir / "ready.json"
    process = subprocess.Popen([sys.executable, "-m", "bridge.cli", "sandbox", "--apps", "jira", "--tickets", "1",
                                "--ready-file", str(ready)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ready.exists() or not ready.read_text().strip():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise SystemExit("the Jira sandbox did not start")
        time.sleep(0.1)
    return process, json.loads(ready.read_text())


def _cpu_per_call(call: Callable[[], Any], count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        call()
    return (time.process_time() - started) / count * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per round and kind")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        process, info = _start_sandbox(Path(tmp))
        try:
            settings = JiraSettings.model_validate({"url": info["jira_url"], "deployment": "server",
                                                    "user": info["jira_user"], "token": info["jira_token"],
                                                    "project": info["jira_project"]})
            rest = JiraRest(settings)
            issue = rest.send("POST", "issue", {"fields": {"project": {"key": settings.project},
                                                           "issuetype": {"name": "Task"}, "summary": "bench"}})
            read_path, write_path = f"issue/{issue['id']}", f"issue/{issue['id']}/comment"
            params = {"fields": "summary,status"}
            session = rest.client._session
            body = {"body": "Heizung im Treppenhaus kalt"}

            def old_read() -> Any:
                reply = session.get(rest.url(read_path), params=params)
                return reply.json() if reply.content else None

            def old_write() -> Any:
                reply = session.request("POST", rest.url(write_path), data=json.dumps(body))
                return reply.json() if reply.content else None

            kinds = {("read", "requests"): old_read, ("read", "wire"): lambda: rest.get(read_path, params),
                     ("write", "requests"): old_write, ("write", "wire"): lambda: rest.send("POST", write_path, body)}
            for call in kinds.values():  # warm up: connections, caches
                _cpu_per_call(call, 20)
            best: dict[tuple[str, str], float] = {}
            for _ in range(args.rounds):
                for key, call in kinds.items():
                    figure = _cpu_per_call(call, args.requests)
                    best[key] = min(best.get(key, figure), figure)
            rest.close()
        finally:
            process.terminate()
            process.wait(30)
    print(f"CPU per request, one thread, best of {args.rounds} rounds of {args.requests}:")
    for kind in ("read", "write"):
        old, new = best[(kind, "requests")], best[(kind, "wire")]
        print(f"  {kind:5}  requests {old:7.0f} µs   wire {new:7.0f} µs   ({new / old:.2f} x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

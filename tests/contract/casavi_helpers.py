"""Shared helpers for the casavi contract tests: a client on a sandbox, its control endpoints."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from bridge.casavi.client import CasaviClient
from bridge.casavi.parse import Ticket
from bridge.http import HttpPolicy

CONTROL = httpx.Client(timeout=10)  # one client for the sandbox's control endpoints (no auth)


class Waits:
    """The policy's sleep: records each wait instead of sleeping (the sandbox does not enforce it)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)


def client_for(sandbox, *, waits: Waits | None = None, transport=None, timeout: float = 5.0,
               **policy_args: Any) -> CasaviClient:
    args = dict(max_attempts=4, base_delay=0.01, max_delay=0.05, concurrency=4, request_budget=0, timeout=timeout)
    args.update(policy_args)
    policy = HttpPolicy(**args, sleep=waits or Waits())
    return CasaviClient(sandbox.casavi_url, sandbox.casavi_key, sandbox.casavi_secret, policy=policy,
                        transport=transport, timeout=timeout)


CONTROL = httpx.Client(timeout=10)  # one client for the sandbox's control endpoints (no auth)


def control(sandbox, method: str, path: str, body: Any = None) -> Any:
    response = CONTROL.request(method, sandbox.casavi_root + "/_sandbox" + path, json=body)
    response.raise_for_status()
    return response.json() if response.content else None


def stats(sandbox) -> dict[str, Any]:
    return control(sandbox, "GET", "/stats")


def faults(sandbox, **knobs: Any) -> None:
    control(sandbox, "POST", "/fault", knobs)


def tickets_only(entries) -> list[Ticket]:
    entries = list(entries)
    assert all(isinstance(e, Ticket) for e in entries), [e for e in entries if not isinstance(e, Ticket)]
    return entries

"""Shared helpers for the relay tests: a sandbox over real sockets, a client on it, its control API."""

from __future__ import annotations

from typing import Any, Iterator

import httpx
import pytest

from bridge.http import HttpPolicy
from bridge.relay.client import RelayClient
from bridge.sandbox.options import SandboxOptions
from bridge.sandbox.server import SandboxHandle, start_sandboxes
from tests.contract.casavi_helpers import Waits

SMALL_RELAY = SandboxOptions(tickets=30, seed=5, apps=("relay",), source="relay", timeout_hold_seconds=2.0)
CONTROL = httpx.Client(timeout=10)  # the sandbox's control endpoints (no auth)


@pytest.fixture
def relay_sandbox() -> Iterator[SandboxHandle]:
    with start_sandboxes(SMALL_RELAY) as handle:
        yield handle


def relay_client(sandbox: SandboxHandle, *, key: str | None = None, waits: Waits | None = None,
                 timeout: float = 5.0, transport: httpx.BaseTransport | None = None,
                 **policy_args: Any) -> RelayClient:
    args = dict(max_attempts=4, base_delay=0.01, max_delay=0.05, concurrency=4, request_budget=0, timeout=timeout)
    args.update(policy_args)
    policy = HttpPolicy(**args, sleep=waits or Waits())
    return RelayClient(sandbox.info["relay_url"], key or sandbox.info["relay_key"], policy=policy, timeout=timeout,
                       transport=transport)


def control(sandbox: SandboxHandle, method: str, path: str, body: Any = None) -> Any:
    response = CONTROL.request(method, sandbox.root_url("relay") + "/_sandbox" + path, json=body)
    response.raise_for_status()
    return response.json() if response.content else None


def requests(sandbox: SandboxHandle) -> dict[str, int]:
    return control(sandbox, "GET", "/stats")["requests"]


def reset_stats(sandbox: SandboxHandle) -> None:
    control(sandbox, "POST", "/stats/reset")


def faults(sandbox: SandboxHandle, **knobs: Any) -> None:
    control(sandbox, "POST", "/fault", knobs)


def api(sandbox: SandboxHandle, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A raw API call with the sandbox's key (no bridge code), for what the client never sends."""
    headers = {"Authorization": f"Bearer {sandbox.info['relay_key']}", **kwargs.pop("headers", {})}
    return CONTROL.request(method, sandbox.info["relay_url"] + path, headers=headers, **kwargs)

"""A scripted casavi for httpx.MockTransport: enough of the manager API to drive the client.

Not a second sandbox: it answers from plain dicts, records every request, and lets a test
queue faults (``fail_next``) or swap a route's answer (``routes``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx

from bridge.http import HttpPolicy

BASE = "https://casavi.test/v1"
KEY = "key-04523b90"
SECRET = "s3cret-ksdasji0"


# The ticket sample of the API document, with its quirks ("Invalid Date", trailing commas).
SEED_TICKET = {
    "id": "20131",
    "internalId": 41251,
    "number": "414",
    "title": "Test ticket",
    "description": "Test description",
    "type": "Test type",
    "typeGroup": "Billable",
    "propertyId": "P-00451",
    "unitId": "P-00451-0001",
    "status": "OPEN",
    "statusText": "Rejected",
    "contactId": "C-0000312",
    "contactName": "John Doe",
    "contactTelephone": "+345353632",
    "contactEmail": "john@casavi.de",
    "sharedWithContacts": ["C-0000313"],
    "sharedWithProperty": False,
    "assignedToId": "M-000113",
    "assignedToName": "Miriam Manager",
    "createdAt": "2015-08-07T14:54:57.000Z",
    "lastModified": "2015-08-19T12:43:30.000Z",
    "closedAt": "2015-09-08T15:14:53.000Z",
    "reportedAt": "Invalid Date",
    "attachments": [345],
    "attachmentDetails": [
        {"id": 345, "name": "leak.jpg", "contentType": "image/jpeg", "size": 1024,
         "url": "https://api.mycasavi.com/v1/files/345"}
    ],
    "comments": [
        {"id": "C-0000231", "text": "Test ticket comment", "isInternal": False,
         "authorId": "E-000481", "authorName": "Manager One",
         "authorEmail": "manager1@propertymanagement.com", "createdAt": "2015-08-08T10:00:00.000Z"}
    ],
    "tasks": [
        {"id": "T-000987", "title": "Please fix broken water pipe", "completed": False,
         "status": "OPEN", "createdAt": "2016-08-05T23:30:00Z,", "acceptedAt": "2016-08-05T23:30:00Z,",
         "assignedToId": "E-000481", "createdById": "E-000482", "attachments": [], "attachmentDetails": []}
    ],
    "customFields": {"priority": "high"},
    "appLink": "https://app.casavi.de/tickets/41251",
}


class Clock:
    """Wall clock for the token lifetime (seconds since the epoch), moved by hand."""

    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def iso(epoch: float) -> str:
    from datetime import datetime, timezone

    from bridge.casavi.parse import format_datetime

    return format_datetime(datetime.fromtimestamp(epoch, tz=timezone.utc))


@dataclass
class FakeCasavi:
    clock: Clock = field(default_factory=Clock)
    token_lifetime: float = 3600.0
    tickets: list[dict[str, Any]] = field(default_factory=list)
    routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    fail_next: list[httpx.Response] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    logins: int = 0
    refreshes: int = 0
    issued: int = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def client(self, **kwargs: Any):
        from bridge.casavi.client import CasaviClient

        policy = kwargs.pop("policy", None) or HttpPolicy(
            max_attempts=3, base_delay=0.0, max_delay=0.0, concurrency=4, request_budget=0,
            timeout=5, sleep=lambda s: None)
        return CasaviClient(BASE, KEY, SECRET, policy=policy, transport=self.transport(),
                            clock=self.clock, **kwargs)

    def paths(self, method: str | None = None) -> list[str]:
        return [r.url.path for r in self.requests if method is None or r.method == method]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(request.read())
        path = request.url.path.removeprefix("/v1")
        if path == "/authenticate":
            return self._login(json.loads(request.content))
        if path == "/authenticate/refresh":
            return self._refresh(json.loads(request.content))
        if request.headers.get("token") not in self.valid_tokens:
            return httpx.Response(401, json={"message": "unauthorized"})
        if self.fail_next:
            return self.fail_next.pop(0)
        route = self.routes.get((request.method, path))
        if route is not None:
            return route(request)
        if request.method == "GET" and path == "/tickets":
            return self._ticket_page(request)
        return httpx.Response(404, json={"message": "not found"})

    def _issue(self) -> httpx.Response:
        self.issued += 1
        token = f"tok-{self.issued}"
        self.valid_tokens.add(token)
        return httpx.Response(200, json={"token": token, "expiresAt": iso(self.clock() + self.token_lifetime)})

    def _login(self, body: dict[str, Any]) -> httpx.Response:
        if body != {"key": KEY, "secret": SECRET}:
            return httpx.Response(401, json={"message": "bad credentials"})
        self.logins += 1
        return self._issue()

    def _refresh(self, body: dict[str, Any]) -> httpx.Response:
        if body.get("apiKey") != KEY or body.get("token") not in self.valid_tokens:
            return httpx.Response(401, json={"message": "bad token"})
        self.refreshes += 1
        self.valid_tokens.discard(body["token"])
        return self._issue()

    def _ticket_page(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        rows = self.tickets[(page - 1) * 25: page * 25]
        return httpx.Response(200, json=rows)


def ticket(n: int, **fields: Any) -> dict[str, Any]:
    body = {"id": f"T-{n}", "internalId": n, "number": str(n), "title": f"Ticket {n}", "status": "OPEN",
            "propertyId": "P-00451", "lastModified": iso(1_600_000_000 + n)}
    body.update(fields)
    return body

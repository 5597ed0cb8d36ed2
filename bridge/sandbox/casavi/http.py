"""The casavi sandbox's shared state (credentials, tokens, knobs) and request helpers.

Used by every casavi handler module (:mod:`bridge.sandbox.casavi.routes_resources`,
:mod:`bridge.sandbox.casavi.routes_tickets`, :mod:`bridge.sandbox.casavi.control`).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.sandbox.casavi.readings import READING_NAMES, Readings
from bridge.sandbox.casavi.records import PAGE_SIZE, InvalidRequest, format_ms
from bridge.sandbox.casavi.store import CasaviStore

BASE_PATH = "/v1"
DATE_SEMANTICS = ("modified", "created")

Handler = Callable[[Request, "CasaviSandbox"], Awaitable[Response]]
ENCODED_SLASH = "\ue000"  # stands for a percent-encoded "/" inside an id until routing is done


@dataclass
class CasaviSettings:
    """Run-time knobs of the casavi app (changeable through ``POST /_sandbox/fault``)."""

    key: str
    secret: str
    token_ttl_seconds: float = 3600.0
    date_semantics: str = "modified"
    ticket_put_partial: bool = False
    profile: str = "strict"
    readings: Readings = field(default_factory=Readings)  # the strict profile unless given


class CasaviSandbox:
    """The app's state: the store, the credentials and the issued tokens."""

    def __init__(self, store: CasaviStore, settings: CasaviSettings, *, clock: Callable[[], float] = time.time):
        self.store = store
        self.settings = settings
        self._clock = clock
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        store.apply_readings(settings.readings)

    def issue_token(self) -> dict[str, str]:
        now = self._clock()
        token = str(uuid.uuid4())
        expires = now + self.settings.token_ttl_seconds
        with self._lock:
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            self._tokens[token] = expires
        return {"token": token, "expiresAt": format_ms(int(expires * 1000))}

    def token_valid(self, token: str | None) -> bool:
        """Decision: a refreshed token stays valid until its own expiry (not revoked on refresh)."""
        if not token:
            return False
        with self._lock:
            expires = self._tokens.get(token)
        return expires is not None and expires > self._clock()

    def apply_knobs(self, values: dict[str, Any]) -> dict[str, Any]:
        """The FaultMiddleware ``extra_knobs`` hook: validate all, then apply; current values back."""
        checked: dict[str, Any] = {}
        for key, value in values.items():
            if key == "token_ttl_seconds":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise ValueError("token_ttl_seconds must be a positive number")
                checked[key] = float(value)
            elif key == "date_semantics":
                if value not in DATE_SEMANTICS:
                    raise ValueError(f"date_semantics must be one of {DATE_SEMANTICS}")
                checked[key] = value
            elif key == "ticket_put_partial":
                if not isinstance(value, bool):
                    raise ValueError("ticket_put_partial must be a boolean")
                checked[key] = value
            elif key == "revoke_tokens":
                if value is not True:
                    raise ValueError("revoke_tokens must be true")
            elif key == "profile":
                checked[key] = value
            elif key not in READING_NAMES:
                raise ValueError(f"unknown knob {key!r}")
        profile = checked.pop("profile", None)
        readings = Readings.profile(profile) if profile is not None else self.settings.readings
        readings = readings.with_values({k: v for k, v in values.items() if k in READING_NAMES})
        for key, value in checked.items():
            setattr(self.settings, key, value)
        if profile is not None:
            self.settings.profile = profile
        self.settings.readings = readings
        self.store.apply_readings(readings)
        if values.get("revoke_tokens"):
            with self._lock:
                self._tokens.clear()
        return {"token_ttl_seconds": self.settings.token_ttl_seconds,
                "date_semantics": self.settings.date_semantics,
                "ticket_put_partial": self.settings.ticket_put_partial,
                "profile": self.settings.profile, **readings.as_dict()}


def error_response(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"statusCode": status, "error": error, "message": message},
                        status_code=status, headers=headers)


async def read_json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise InvalidRequest("body must be JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("body must be a JSON object")
    return body


def page_param(request: Request, *, zero_based: bool = False) -> int:
    """``page`` query parameter; default first page; not an integer or below the first → 400."""
    first = 0 if zero_based else 1
    raw = request.query_params.get("page")
    if raw is None or raw == "":
        return first
    try:
        page = int(raw)
    except ValueError:
        raise InvalidRequest("page must be an integer") from None
    if page < first:
        raise InvalidRequest(f"page must be {first} or more")
    return page


def api_url(request: Request) -> str:
    """The API base as the client reached it (``http://127.0.0.1:PORT/v1``)."""
    return f"{request.url.scheme}://{request.url.netloc}{BASE_PATH}"


def files_url(request: Request) -> str:
    return api_url(request) + "/files"


def authed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        sandbox: CasaviSandbox = request.app.state.casavi
        if not sandbox.token_valid(request.headers.get("token")):
            return error_response(401, "Unauthorized", "missing, invalid or expired token")
        return await handler(request, sandbox)

    endpoint.__name__ = handler.__name__
    return endpoint


def paged(rows: list[Any], page: int) -> list[Any]:
    start = (page - 1) * PAGE_SIZE
    return rows[start:start + PAGE_SIZE]


class _SegmentConvertor(Convertor[str]):
    """One path segment; an id's percent-encoded ``/`` (kept as :data:`ENCODED_SLASH`) comes back."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value.replace(ENCODED_SLASH, "/")

    def to_string(self, value: str) -> str:
        return value.replace("/", ENCODED_SLASH)


register_url_convertor("segment", _SegmentConvertor())

"""What the casavi and relay sessions share: the httpx client and the listing guards.

The httpx client is made on first use (no I/O in a constructor), by one thread at a time,
and closed with the session.  Every request goes through the shared
:class:`~bridge.http.HttpPolicy`.  How a request carries its credentials (casavi's login
token, relay's bearer key) and how a listing pages stay with each API's own session, which
also provides ``_call`` (one request) and ``_probe`` (the cheapest authenticated read).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from typing import Any, Mapping, Self, Sequence

import httpx
import structlog

from bridge.errors import AuthError, BridgeError, FatalError, RetriableError
from bridge.http import HttpPolicy
from bridge.lenient import MalformedPayloadError, as_id
from bridge.user_agent import user_agent

log = structlog.get_logger()

Params = Sequence[tuple[str, str | int]]


class PaginationError(FatalError):
    """A listing does not end: a page repeated the previous one, or the page limit was hit.

    Raised instead of looping forever; items yielded before it are valid, but the listing
    is incomplete, so a caller must not advance a cursor past it.
    """


class RestSession:
    service = ""  # "casavi", "relay": starts the log events and the lines of check()
    credentials = ""  # what check() says a 401 refused, e.g. "the API key"

    def __init__(
        self,
        base_url: str,
        *,
        policy: HttpPolicy,
        transport: httpx.BaseTransport | None,
        timeout: float | None,
        max_pages: int,
    ):
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.max_pages = max_pages
        self._transport = transport
        self._timeout = timeout if timeout is not None else policy.timeout
        self._http_client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._client_lock:
            if self._http_client is not None:
                self._http_client.close()
                self._http_client = None

    # -- requests ----------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._http_client is None:
                # Redirects are not followed automatically: the credentials would travel to
                # whatever host a redirect names (casavi's downloads follow them by hand).
                self._http_client = httpx.Client(
                    transport=self._transport,
                    timeout=self._timeout,
                    limits=self.policy.connection_limits(),
                    follow_redirects=False,
                    headers={"Accept": "application/json", "User-Agent": user_agent()},
                    **self._client_options(),
                )
            return self._http_client

    def _client_options(self) -> dict[str, Any]:
        """Further ``httpx.Client`` arguments one API needs (casavi: a base URL)."""
        return {}

    def _call(self, method: str, path: str, *, idempotent: bool, params: Params | None = None,
              **options: Any) -> httpx.Response:
        """Send one API call through the policy; a 4xx/5xx raises a bridge error."""
        raise NotImplementedError

    def _get_json(self, path: str, params: Params | None = None) -> Any:
        return response_json(self._call("GET", path, idempotent=True, params=params))

    # -- probe -------------------------------------------------------------------------------

    def _probe(self) -> None:
        """The cheapest authenticated read of the API."""
        raise NotImplementedError

    def check(self) -> list[str]:
        """One cheap authenticated read (:meth:`_probe`); one line per problem (empty = fine)."""
        try:
            self._probe()
        except AuthError:
            return [f"{self.service} at {self.base_url} refused {self.credentials}"]
        except RetriableError as exc:
            return [f"{self.service} at {self.base_url} cannot be reached right now: {exc}"]
        except BridgeError as exc:
            return [f"{self.service} at {self.base_url}: {exc}"]
        return []

    # -- listing guards ----------------------------------------------------------------------

    def _new_page_fingerprint(self, path: str, rows: list[Any], previous: tuple[str, ...] | None,
                              repeat: str, **where: int) -> tuple[str, ...]:
        """The fingerprint of a page's rows; PaginationError when they are the previous page's
        (a server that ignores the paging parameter).  ``repeat`` says so for the message,
        ``where`` names the page for the log."""
        fingerprint = row_fingerprint(rows)
        if rows and fingerprint == previous:
            log.error(f"{self.service}_page_repeated", path=path, **where)
            raise PaginationError(f"GET {path}: {repeat}; listing stopped")
        return fingerprint

    def _page_limit_reached(self, path: str) -> PaginationError:
        """Logged, and returned to be raised: a listing went past ``max_pages``."""
        log.error(f"{self.service}_page_limit_reached", path=path, max_pages=self.max_pages)
        return PaginationError(f"GET {path}: more than {self.max_pages} pages; listing stopped")


# A control character in a JSON string is always escaped (RFC 8259, section 7): \u0000-\u001f,
# or backspace and form feed as \b and \f (tab, newline, carriage return stay anyway).
_CONTROL_ESCAPE = re.compile(rb"\\(?:u00[01][0-9a-fA-F]|[bf])")
_CONTROLS = dict.fromkeys(code for code in range(0x20) if chr(code) not in "\t\n\r")


def response_json(response: httpx.Response) -> Any:
    """The answer's JSON (None when empty), its strings without C0 control characters other
    than tab, newline and carriage return; MalformedPayloadError when it is not JSON.

    Why: text from casavi and relay goes on to the tool and into the state database.  NUL
    cannot be stored in PostgreSQL text (PostgreSQL documentation, "Character Types": "the
    character with code zero (sometimes called NUL) cannot be stored"), which Jira, Redmine
    and the fleet's state database run on: one tenant's pasted NUL would fail that ticket's
    every write.  The other controls (escape, backspace, bell, ...) carry nothing a reader sees.
    Answers without an escaped control (nearly all) are returned as parsed."""
    if not response.content:
        return None
    try:
        payload = response.json()
    except ValueError:
        raise MalformedPayloadError(
            f"{response.request.method} {response.request.url.path}: the answer is not JSON"
        ) from None
    return _without_controls(payload) if _CONTROL_ESCAPE.search(response.content) else payload


def _without_controls(value: Any) -> Any:
    if isinstance(value, str):
        return value.translate(_CONTROLS)
    if isinstance(value, list):
        return [_without_controls(item) for item in value]
    if isinstance(value, dict):
        return {key: _without_controls(item) for key, item in value.items()}
    return value


def row_fingerprint(rows: list[Any]) -> tuple[str, ...]:
    """Each row's id, or a hash of the row when it has none."""
    out = []
    for row in rows:
        row_id = as_id(row.get("id")) if isinstance(row, Mapping) else None
        if row_id is None:
            blob = json.dumps(row, sort_keys=True, default=str).encode()
            row_id = "#" + hashlib.sha256(blob).hexdigest()[:16]
        out.append(row_id)
    return tuple(out)

"""The request machinery under :class:`bridge.relay.client.RelayClient`.

One ``_call`` path: ``Authorization: Bearer <api-key>`` on every request and the shared
:class:`~bridge.http.HttpPolicy` for retries, rate limits and the request budget.  relay's
key is static (no login, no token to refresh), so a 401 is final: an :class:`AuthError`.
Plus the ``limit``/``offset`` pagination loop with its guards.  No I/O in the constructor.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, Callable, Iterator, Mapping, Sequence

import httpx
import structlog

from bridge.casavi.session import PaginationError
from bridge.http import HttpPolicy
from bridge.relay import paths
from bridge.relay.parse import MalformedPayloadError, as_id

log = structlog.get_logger()

Params = Sequence[tuple[str, str | int]]


class RelaySession:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        policy: HttpPolicy,
        transport: httpx.BaseTransport | None = None,
        timeout: float | None = None,
        page_limit: int = paths.PAGE_LIMIT,
        max_pages: int = paths.MAX_PAGES,
    ):
        if not api_key:
            raise ValueError("relay needs an API key")
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.page_limit = page_limit
        self.max_pages = max_pages
        self._api_key = api_key
        self._transport = transport
        self._timeout = timeout if timeout is not None else policy.timeout
        self._http_client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        # The key is the only credential (a bearer key): never shown, not even in part.
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<hidden>)"

    def __enter__(self) -> "RelaySession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._client_lock:
            if self._http_client is not None:
                self._http_client.close()
                self._http_client = None

    # -- the one call path -----------------------------------------------------------------

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._http_client is None:
                # No automatic redirects: the API key would travel to whatever host one names.
                self._http_client = httpx.Client(
                    transport=self._transport,
                    timeout=self._timeout,
                    follow_redirects=False,
                    headers={"Accept": "application/json", "User-Agent": "casavi-bridge"},
                )
            return self._http_client

    def _call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        params: Params | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        files: Callable[[], list[tuple[str, tuple[str, Any, str]]]] | None = None,
    ) -> httpx.Response:
        """Send one API call through the policy; a 4xx/5xx raises a bridge error.

        ``files`` is a factory giving fresh multipart file parts per attempt (streamed from
        open files rewound to their start), so a repeated request sends the whole body again.
        """
        client = self._http()
        url = self.base_url + path

        def make() -> httpx.Request:
            return client.build_request(
                method,
                url,
                params=list(params) if params else None,
                json=json_body,
                data=dict(form) if form is not None else None,
                files=files() if files is not None else None,
                headers={paths.AUTH_HEADER: f"Bearer {self._api_key}"},
            )

        return self.policy.send(client, make, idempotent=idempotent)

    def _get_json(self, path: str, params: Params | None = None) -> Any:
        return response_json(self._call("GET", path, idempotent=True, params=params))

    # -- pagination --------------------------------------------------------------------------

    def _offset_pages(self, path: str, key: str) -> Iterator[Any]:
        """Raw answers of a ``limit``/``offset`` listing (``{key: [...]}``), page by page.

        Stops on a short or empty page.  A page whose entries equal the previous page's (a
        server that ignores ``offset``) raises PaginationError, as does passing max_pages.
        """
        previous: tuple[str, ...] | None = None
        for index in range(self.max_pages):
            offset = index * self.page_limit
            payload = self._get_json(path, [("limit", self.page_limit), ("offset", offset)])
            rows = payload.get(key) if isinstance(payload, Mapping) else payload
            if not isinstance(rows, list):
                raise MalformedPayloadError(f"GET {path}: expected a list under {key!r}")
            fingerprint = _fingerprint(rows)
            if rows and fingerprint == previous:
                log.error("relay_page_repeated", path=path, offset=offset)
                raise PaginationError(f"GET {path}: offset {offset} repeats the previous page; listing stopped")
            yield payload
            if len(rows) < self.page_limit:
                return
            previous = fingerprint
        log.error("relay_page_limit_reached", path=path, max_pages=self.max_pages)
        raise PaginationError(f"GET {path}: more than {self.max_pages} pages; listing stopped")


def response_json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise MalformedPayloadError(
            f"{response.request.method} {response.request.url.path}: the answer is not JSON"
        ) from None


def _fingerprint(rows: list[Any]) -> tuple[str, ...]:
    out = []
    for row in rows:
        row_id = as_id(row.get("id")) if isinstance(row, Mapping) else None
        if row_id is None:
            blob = json.dumps(row, sort_keys=True, default=str).encode()
            row_id = "#" + hashlib.sha256(blob).hexdigest()[:16]
        out.append(row_id)
    return tuple(out)

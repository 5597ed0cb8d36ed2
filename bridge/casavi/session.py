"""The request machinery under :class:`bridge.casavi.client.CasaviClient`.

One ``_call`` path: current token in the ``token`` header, the shared :class:`HttpPolicy`
for retries/limits/budget, and exactly one fresh login and repeat on a 401.  Plus the two
pagination loops (JSON-array pages and paged objects) with their safety guards.
No I/O happens in the constructor: the httpx client is made on first use.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any, Callable, Iterator, Mapping, Sequence

import httpx
import structlog

from bridge.casavi import paths
from bridge.casavi.auth import CasaviAuth, mask_key
from bridge.casavi.parse import MalformedPayloadError, as_id, as_int
from bridge.errors import AuthError, FatalError
from bridge.http import HttpPolicy

log = structlog.get_logger()

Params = Sequence[tuple[str, str | int]]

DEFAULT_MAX_PAGES = 10_000  # 250,000 tickets: beyond this a listing is a server fault


class PaginationError(FatalError):
    """A listing does not end: a page repeated the previous one, or the page limit was hit.

    Raised instead of looping forever; items yielded before it are valid, but the listing
    is incomplete, so a caller must not advance a cursor past it.
    """


class CasaviSession:
    def __init__(
        self,
        base_url: str,
        key: str,
        secret: str,
        *,
        policy: HttpPolicy,
        transport: httpx.BaseTransport | None = None,
        timeout: float | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        clock: Callable[[], float] = time.time,
    ):
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.max_pages = max_pages
        self._transport = transport
        self._timeout = timeout if timeout is not None else policy.timeout
        self._http_client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        self.auth = CasaviAuth(key, secret, self._post_unauthenticated, clock=clock)
        self._key_hint = mask_key(key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, key={self._key_hint!r}, secret=<hidden>)"

    def __enter__(self) -> "CasaviSession":
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
                # Redirects are not followed automatically: the `token` header would travel
                # to whatever host a redirect names (downloads follow them by hand).
                self._http_client = httpx.Client(
                    base_url=self.base_url + "/",
                    transport=self._transport,
                    timeout=self._timeout,
                    follow_redirects=False,
                    headers={"Accept": "application/json", "User-Agent": "casavi-bridge"},
                )
            return self._http_client

    def _url(self, path: str) -> str:
        # Paths start with "/"; joined onto the base URL's own path (e.g. /v1).
        return self.base_url + path if path.startswith("/") else path

    def _call(
        self,
        method: str,
        path_or_url: str,
        *,
        idempotent: bool,
        params: Params | None = None,
        json_body: Any = None,
        content: Callable[[], Any] | None = None,
        headers: Mapping[str, str | bytes] | None = None,
        stream: bool = False,
        send_token: bool = True,
    ) -> httpx.Response:
        """Send one API call; on 401 log in again and repeat it exactly once."""
        client = self._http()
        url = self._url(path_or_url)
        used: dict[str, str] = {}

        def make() -> httpx.Request:
            all_headers: dict[str, str | bytes] = dict(headers or {})
            if send_token:
                used["token"] = self.auth.token()
                all_headers[paths.TOKEN_HEADER] = used["token"]
            return client.build_request(
                method,
                url,
                params=list(params) if params else None,
                json=json_body,
                content=content() if content is not None else None,
                headers=all_headers,
            )

        try:
            return self.policy.send(client, make, idempotent=idempotent, stream=stream)
        except AuthError as exc:
            if exc.status != 401 or not send_token or "token" not in used:
                raise
            self.auth.invalidate(used["token"])
        # A 401 means the server did nothing: repeating is harmless even for a create.
        log.info("casavi_request_repeated_after_login", method=method, path=httpx.URL(url).path)
        return self.policy.send(client, make, idempotent=idempotent, stream=stream)

    def _post_unauthenticated(self, path: str, body: Mapping[str, Any]) -> Any:
        # Logging in twice is harmless: idempotent for the retry policy.
        response = self._call("POST", path, idempotent=True, json_body=dict(body), send_token=False)
        return response_json(response)

    def _get_json(self, path: str, params: Params | None = None) -> Any:
        return response_json(self._call("GET", path, idempotent=True, params=params))

    # -- pagination --------------------------------------------------------------------------

    def _array_pages(self, path: str, params: Params = ()) -> Iterator[list[Any]]:
        """Raw rows of a 1-based JSON-array listing, page by page (≤ 25 per page).

        Stops on a short or empty page.  A page whose entries equal the previous page's
        (a server that ignores ``page``) raises PaginationError, as does passing max_pages.
        """
        previous: tuple[str, ...] | None = None
        for number in range(paths.FIRST_PAGE, paths.FIRST_PAGE + self.max_pages):
            payload = self._get_json(path, [*params, ("page", number)])
            rows = _rows(payload, path)
            fingerprint = _fingerprint(rows)
            if rows and fingerprint == previous:
                log.error("casavi_page_repeated", path=path, page=number)
                raise PaginationError(f"GET {path}: page {number} repeats page {number - 1}; listing stopped")
            if rows:
                yield rows
            if len(rows) < paths.PAGE_SIZE:
                return
            previous = fingerprint
        log.error("casavi_page_limit_reached", path=path, max_pages=self.max_pages)
        raise PaginationError(f"GET {path}: more than {self.max_pages} pages; listing stopped")

    def _object_pages(self, path: str, *, first_page: int, params: Params = ()) -> Iterator[Any]:
        """Raw payloads of a paged-object listing ``{count, page, pageCount, rows}``.

        ``first_page`` is 1 for properties and 0 for property units (see paths.py).  Ends at
        ``pageCount``; without it, on a short or empty page.  Same guards as ``_array_pages``.
        """
        previous: tuple[str, ...] | None = None
        for index in range(self.max_pages):
            number = first_page + index
            payload = self._get_json(path, [*params, ("page", number)])
            rows = _rows(payload, path)
            fingerprint = _fingerprint(rows)
            if rows and fingerprint == previous:
                log.error("casavi_page_repeated", path=path, page=number)
                raise PaginationError(f"GET {path}: page {number} repeats page {number - 1}; listing stopped")
            yield payload
            page_count = as_int(payload.get("pageCount")) if isinstance(payload, Mapping) else None
            if not rows:
                return
            if page_count is not None:
                if index + 1 >= page_count:
                    return
            elif len(rows) < paths.PAGE_SIZE:
                return
            previous = fingerprint
        log.error("casavi_page_limit_reached", path=path, max_pages=self.max_pages)
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


def _rows(payload: Any, path: str) -> list[Any]:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, Mapping) and isinstance(payload.get("rows"), list):
        return payload["rows"]
    if payload is None:
        return []
    raise MalformedPayloadError(f"GET {path}: expected a list, got {type(payload).__name__}")


def _fingerprint(rows: list[Any]) -> tuple[str, ...]:
    """Each row's id, or a hash of the row when it has none."""
    out = []
    for row in rows:
        row_id = as_id(row.get("id")) if isinstance(row, Mapping) else None
        if row_id is None:
            blob = json.dumps(row, sort_keys=True, default=str).encode()
            row_id = "#" + hashlib.sha256(blob).hexdigest()[:16]
        out.append(row_id)
    return tuple(out)

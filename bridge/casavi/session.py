"""The request machinery under :class:`bridge.casavi.client.CasaviClient`.

One ``_call`` path: current token in the ``token`` header, the shared :class:`HttpPolicy`
for retries/limits/budget, and exactly one fresh login and repeat on a 401.  Plus the two
pagination loops (JSON-array pages and paged objects).  The lazily made httpx client and the
listing guards are :class:`bridge.rest_session.RestSession`'s, shared with relay.
"""

from __future__ import annotations

import contextvars
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator, Mapping

import httpx
import structlog

from bridge.casavi import paths
from bridge.casavi.auth import CasaviAuth, mask_key
from bridge.errors import AuthError, BridgeError, BudgetExceededError
from bridge.http import HttpPolicy
from bridge.lenient import MalformedPayloadError, as_int
from bridge.rest_session import (  # noqa: F401  (PaginationError importable from here as before)
    PaginationError,
    Params,
    RestSession,
    response_json,
)

log = structlog.get_logger()

DEFAULT_MAX_PAGES = 10_000  # 250,000 tickets: beyond this a listing is a server fault
_READ_AGAIN = object()  # a page read ahead that failed: read it again when it is needed


class CasaviSession(RestSession):
    service = "casavi"
    credentials = "the API key and secret"

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
        super().__init__(base_url, policy=policy, transport=transport, timeout=timeout, max_pages=max_pages)
        self.auth = CasaviAuth(key, secret, self._post_unauthenticated, clock=clock)
        self._key_hint = mask_key(key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, key={self._key_hint!r}, secret=<hidden>)"

    # -- the one call path -----------------------------------------------------------------

    def _client_options(self) -> dict[str, Any]:
        # A relative URL not starting with "/" (see _url) resolves against the base URL.
        return {"base_url": self.base_url + "/"}

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
        attempts: int | None = None,
        wait_for_hold: bool = True,
    ) -> httpx.Response:
        """Send one API call; on 401 log in again and repeat it exactly once.  ``attempts``,
        ``wait_for_hold``: see :meth:`HttpPolicy.send`."""
        client = self._http()
        url = self._url(path_or_url)
        used: dict[str, str] = {}

        def make() -> httpx.Request:
            if not wait_for_hold:  # before the token too: a due refresh or login would wait for it
                self.policy.refuse_if_held(url)
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
            return self.policy.send(client, make, idempotent=idempotent, stream=stream, attempts=attempts,
                                    wait_for_hold=wait_for_hold)
        except AuthError as exc:
            if exc.status != 401 or not send_token or "token" not in used:
                raise
            self.auth.invalidate(used["token"])
        # A 401 means the server did nothing: repeating is harmless even for a create.
        log.info("casavi_request_repeated_after_login", method=method, path=httpx.URL(url).path)
        return self.policy.send(client, make, idempotent=idempotent, stream=stream, attempts=attempts,
                                wait_for_hold=wait_for_hold)

    def _post_unauthenticated(self, path: str, body: Mapping[str, Any]) -> Any:
        # Logging in twice is harmless: idempotent for the retry policy.
        response = self._call("POST", path, idempotent=True, json_body=dict(body), send_token=False)
        return response_json(response)

    # -- pagination --------------------------------------------------------------------------

    def _array_pages(self, path: str, params: Params = (), *, read_ahead: int = 1) -> Iterator[list[Any]]:
        """Raw rows of a 1-based JSON-array listing, page by page (≤ 25 per page), in order.

        Stops on a short or empty page.  A page whose entries equal the previous page's
        (a server that ignores ``page``) raises PaginationError, as does passing max_pages.

        ``read_ahead`` > 1: while one page is handed on, the next ones are already asked for,
        on as many threads (at most the policy's concurrency): one page alone first (an idle
        poll's listing stays one request), then two, then up to ``read_ahead`` at once, each
        window only after a full page.  Pages read past a short one are dropped: at most
        ``read_ahead`` − 1 requests more than the listing needs, and none while the pass's
        request budget has no more than ``read_ahead`` requests left besides the pages asked
        for.  A page read ahead gets one attempt and is not sent while casavi's Retry-After
        holds; when it failed or was not sent, it is read again here, when it is needed, with
        the policy's retries and waits (so a listing that stops leaves no retry or wait running
        behind it).  The order pages are handed on in, and the guards, stay those above.
        """
        read_ahead = max(1, min(read_ahead, self.policy.concurrency))
        previous: tuple[str, ...] | None = None
        end = paths.FIRST_PAGE + self.max_pages  # the first page number not read
        pending: deque[Future] = deque()  # the pages after ``number``, asked for already
        pool: ThreadPoolExecutor | None = None
        window = 1

        def fetch(page: int, *, ahead: bool = False) -> Any:
            return response_json(self._call("GET", path, idempotent=True, params=[*params, ("page", page)],
                                            attempts=1 if ahead else None, wait_for_hold=not ahead))

        def budget_room() -> bool:
            # Never read ahead with the pass's last requests: pages asked for past the end
            # would spend what the pass's reads and writes need.
            left = self.policy.budget_left
            return left is None or left > len(pending) + read_ahead

        def fetch_ahead(page: int) -> Any:
            try:
                return fetch(page, ahead=True)
            except BudgetExceededError:
                raise
            except BridgeError:
                return _READ_AGAIN

        try:
            number = paths.FIRST_PAGE
            while number < end:
                payload = pending.popleft().result() if pending else _READ_AGAIN
                if payload is _READ_AGAIN:
                    payload = fetch(number)
                rows = _rows(payload, path)
                fingerprint = self._new_page_fingerprint(
                    path, rows, previous, f"page {number} repeats page {number - 1}", page=number)
                full = len(rows) >= paths.PAGE_SIZE
                if full and read_ahead > 1:
                    window = min(read_ahead, window * 2)
                    if pool is None:
                        pool = ThreadPoolExecutor(read_ahead, thread_name_prefix="casavi-pages")
                    while len(pending) < window and number + 1 + len(pending) < end and budget_room():
                        # Each page with the listing's log context (a fleet's tenant=...).
                        pending.append(pool.submit(contextvars.copy_context().run, fetch_ahead,
                                                   number + 1 + len(pending)))
                if rows:
                    yield rows
                if not full:
                    return
                previous = fingerprint
                number += 1
            raise self._page_limit_reached(path)
        finally:
            if pool is not None:  # pages asked for past the end, or a consumer that stopped early
                pool.shutdown(wait=False, cancel_futures=True)

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
            fingerprint = self._new_page_fingerprint(
                path, rows, previous, f"page {number} repeats page {number - 1}", page=number)
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
        raise self._page_limit_reached(path)


def _rows(payload: Any, path: str) -> list[Any]:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, Mapping) and isinstance(payload.get("rows"), list):
        return payload["rows"]
    if payload is None:
        return []
    raise MalformedPayloadError(f"GET {path}: expected a list, got {type(payload).__name__}")

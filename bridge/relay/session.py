"""The request machinery under :class:`bridge.relay.client.RelayClient`.

One ``_call`` path: ``Authorization: Bearer <api-key>`` on every request and the shared
:class:`~bridge.http.HttpPolicy` for retries, rate limits and the request budget.  relay's
key is static (no login, no token to refresh), so a 401 is final: an :class:`AuthError`.
Plus the ``limit``/``offset`` pagination loop.  The lazily made httpx client and the listing
guards are :class:`bridge.rest_session.RestSession`'s, shared with casavi.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping

import httpx

from bridge.http import HttpPolicy
from bridge.lenient import MalformedPayloadError
from bridge.relay import paths
from bridge.rest_session import (  # noqa: F401  (PaginationError, response_json importable from here)
    PaginationError,
    Params,
    RestSession,
    response_json,
)


class RelaySession(RestSession):
    service = "relay"
    credentials = "the API key"

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
        super().__init__(base_url, policy=policy, transport=transport, timeout=timeout, max_pages=max_pages)
        self.page_limit = page_limit
        self._api_key = api_key

    def __repr__(self) -> str:
        # The key is the only credential (a bearer key): never shown, not even in part.
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<hidden>)"

    # -- the one call path -----------------------------------------------------------------

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
            fingerprint = self._new_page_fingerprint(
                path, rows, previous, f"offset {offset} repeats the previous page", offset=offset)
            yield payload
            if len(rows) < self.page_limit:
                return
            previous = fingerprint
        raise self._page_limit_reached(path)

"""A thin Redmine REST client on httpx, sending every request through the bridge's HttpPolicy.

Why httpx directly and not python-redmine: python-redmine turns HTTP answers into its own
exceptions (``ResourceNotFoundError``, ``AuthError``, ``ValidationError``, ...) and drops the
status code and Retry-After on the way, while the bridge classifies every failure by status in
one place (:func:`bridge.errors.classify_status`, applied by :class:`bridge.http.HttpPolicy`);
it reads uploads into memory where we stream them from disk (and downloads to disk); and it has
no notion of which requests may be repeated — a repeated ``PUT notes`` writes a second comment.
The REST calls we need are few and plain JSON, so a small client is shorter than the adapter
that python-redmine would need.
"""

from __future__ import annotations

import threading
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any, Mapping

import httpx

from bridge.http import HttpPolicy

API_KEY_HEADER = "X-Redmine-API-Key"
_CHUNK = 1 << 16


class RedmineClient:
    """JSON calls against one Redmine; raises :mod:`bridge.errors` errors, never httpx ones.

    No I/O in the constructor: the httpx client is built on the first request.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        verify_tls: bool = True,
        policy: HttpPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        self._verify = verify_tls
        self._transport = transport
        self.policy = policy or HttpPolicy(timeout=timeout)
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    base_url=self.base_url,
                    headers={API_KEY_HEADER: self._api_key, "Accept": "application/json"},
                    timeout=self._timeout,
                    verify=self._verify,
                    transport=self._transport,
                    # Redmine hands out a session cookie even to API calls; keep none, so every
                    # request is authenticated by the key alone.
                    cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
                    limits=self.policy.connection_limits(),
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _send(self, method: str, path: str, *, idempotent: bool, params: Mapping[str, Any] | None = None,
              json: Any = None) -> httpx.Response:
        http = self.http
        request = http.build_request(method, path, params=params, json=json)
        return self.policy.send(http, request, idempotent=idempotent)

    # -- JSON calls --------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._send("GET", path, params=params, idempotent=True).json()

    def post(self, path: str, body: Any) -> dict[str, Any]:
        """A create: never repeated once it may have reached Redmine (the engine checks markers)."""
        response = self._send("POST", path, json=body, idempotent=False)
        return response.json() if response.content else {}

    def put(self, path: str, body: Any, *, idempotent: bool) -> None:
        """``idempotent=False`` for writes that add something (notes, uploads): never repeated."""
        self._send("PUT", path, json=body, idempotent=idempotent)

    def list_all(self, path: str, key: str, params: Mapping[str, Any], *, page_size: int = 100) -> list[dict[str, Any]]:
        """Every object of a paged list (``offset``/``limit``; Redmine gives at most 100 a page)."""
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.get(path, {**params, "offset": offset, "limit": page_size})
            rows = page.get(key) or []
            found.extend(rows)
            offset += len(rows)
            if not rows or offset >= int(page.get("total_count", 0)):
                return found

    # -- files -------------------------------------------------------------------------------

    def upload(self, path: Path, filename: str) -> tuple[str, str]:
        """Stream a file to ``/uploads.json``; returns (token, attachment id).

        Marked repeatable: an upload that is never attached to an issue stays an orphan that
        Redmine removes, so a repeat costs space, not a duplicate.
        """
        size = path.stat().st_size
        http = self.http

        def make() -> httpx.Request:
            # A fresh file handle per attempt; Content-Length set, so the body is not chunked.
            return http.build_request(
                "POST",
                "/uploads.json",
                params={"filename": filename},
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                content=_file_chunks(path),
            )

        upload = self.policy.send(http, make, idempotent=True).json()["upload"]
        return str(upload["token"]), str(upload["id"])

    def download(self, path: str, dest: Path) -> None:
        """Stream a file from Redmine to ``dest`` (written next to it first, then renamed)."""
        http = self.http
        partial = dest.with_name(dest.name + ".part")
        response = self.policy.send(http, http.build_request("GET", path), idempotent=True, stream=True)
        try:
            with partial.open("wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
        except httpx.HTTPError as exc:
            partial.unlink(missing_ok=True)
            from bridge.errors import RetriableError

            raise RetriableError(f"GET {path} broke off while streaming ({type(exc).__name__})") from exc
        finally:
            response.close()
        partial.replace(dest)


def _file_chunks(path: Path):
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk

"""The Jira REST session: the ``jira`` library's client, built lazily, plus the raw calls it lacks.

- No I/O at construction: the ``JIRA`` object is made on first use with
  ``get_server_info=False`` (the deployment comes from the configuration; ``check()`` compares
  it with ``serverInfo``), and ``max_retries=0`` — the library would otherwise retry 429/503
  and connection errors for every method, POST included, which can duplicate an issue.
- Raw calls (every read, write and search of the connector except transitions, which go
  through the library): ``POST /issue`` with ``properties`` beside ``fields`` (so the marker is
  set in the creating request), comments with properties, paged comments with ``total``,
  streamed multipart uploads with the real content type, streamed downloads.  They are sent
  over urllib3 by :mod:`.wire` (same auth, headers, timeout, proxy and errors as the library's
  requests session, at about half its CPU per request; the reasons are there).
- Retries and Retry-After are applied below both by :mod:`.transport` (one policy: mounted as
  the library session's adapter, and around each attempt of the wire): idempotent requests are
  repeated, a POST only when it never left.
- Search pages by ``startAt`` on Server/DC (``/search``) and by ``nextPageToken`` on Cloud
  (``/search/jql``; the old endpoint answers 410 there).  Cloud's search is eventually
  consistent, so it is never used to decide whether an issue exists right after creating it.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from jira import JIRA
from jira.exceptions import JIRAError
from requests import Session
from requests.utils import get_environ_proxies
from requests_toolbelt import MultipartEncoder

from bridge.user_agent import user_agent

from .config import JiraSettings
from .transport import RetryAfterGate, RetryingAdapter, RetryPolicy
from .wire import Wire, authorization, decoded

# Server paging by startAt re-reads this many items at each page boundary: an item updated
# while we page moves to the end of "ORDER BY updated" and shifts the rest one place back.
PAGE_OVERLAP = 3
RECONCILE_MAX = 50  # "Read-after-write is only supported for up to 50 issues" (JRACLOUD-96208)
_CHUNK = 64 * 1024


class JiraRest:
    def __init__(self, settings: JiraSettings, gate: RetryAfterGate | None = None):
        self.settings = settings
        self.gate = gate or RetryAfterGate()
        # One retry loop for both HTTP stacks: the library's session and the wire.
        self.policy = RetryPolicy(self.gate, max_attempts=settings.max_attempts)
        self._client: JIRA | None = None
        self._wire: Wire | None = None
        self._lock = threading.Lock()
        self._api = f"{settings.server_url}/rest/api/2/"  # the library's _get_url with rest_api_version 2

    @property
    def client(self) -> JIRA:
        with self._lock:
            if self._client is None:
                self._client = self._build()
            return self._client

    def _build(self) -> JIRA:
        s = self.settings
        auth: dict[str, Any]
        if s.effective_auth == "basic":
            auth = {"basic_auth": (s.user or "", s.token.get_secret_value())}
        else:
            auth = {"token_auth": s.token.get_secret_value()}
        client = JIRA(server=s.server_url, options={"rest_api_version": "2", "check_update": False},
                      get_server_info=False, max_retries=0, timeout=s.timeout, **auth)
        # The library switches to Cloud behaviour (search/jql) by this attribute.
        client.deploymentType = "Cloud" if s.deployment == "cloud" else "Server"
        adapter = RetryingAdapter(self.policy)
        client._session.mount("https://", adapter)
        client._session.mount("http://", adapter)
        client._session.headers["User-Agent"] = user_agent()
        _settle_environment(client._session, s.server_url)
        return client

    @property
    def wire(self) -> Wire:
        """The raw calls' transport (:mod:`.wire`), built on first use like the client."""
        with self._lock:
            if self._wire is None:
                s = self.settings
                self._wire = Wire(s.server_url, timeout=s.timeout, policy=self.policy, user_agent=user_agent(),
                                  authorization=authorization(s.user, s.token.get_secret_value(),
                                                              bearer=s.effective_auth == "bearer"))
            return self._wire

    def observe(self, observer: Callable[[int | str, float], None]) -> None:
        """Report every attempt (status or "timeout"/"error", seconds) to ``observer``."""
        self.policy.observer = observer

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._wire is not None:
                self._wire.close()
                self._wire = None

    # --- raw JSON calls over the wire -----------------------------------------------------

    def url(self, path: str) -> str:
        return self._api + path

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.wire.json("GET", self.url(path), params=params)[0]

    def send(self, method: str, path: str, body: Any) -> Any:
        return self.wire.json(method, self.url(path), body=body)[0]

    # --- reads ---------------------------------------------------------------------------

    def issue(self, issue_id: str, fields: tuple[str, ...], properties: tuple[str, ...] = (),
              expand: tuple[str, ...] = ()) -> dict[str, Any]:
        params = {"fields": ",".join(fields)}
        if properties:
            params["properties"] = ",".join(properties)
        if expand:
            params["expand"] = ",".join(expand)
        return self.get(f"issue/{issue_id}", params)

    def changelog(self, issue_id: str) -> list[dict[str, Any]]:
        """Every history of the issue, oldest first, page by page (Cloud's ``GET
        /issue/{id}/changelog``; Data Center has no such resource and expands them all)."""
        found: list[dict[str, Any]] = []
        while True:
            page = self.get(f"issue/{issue_id}/changelog", {"startAt": len(found), "maxResults": 100}) or {}
            batch = page.get("values") or []
            found.extend(batch)
            total = page.get("total")
            if not batch or page.get("isLast") or (total is not None and len(found) >= int(total)):
                return found

    def comments(self, issue_id: str) -> list[dict[str, Any]]:
        """Every comment of the issue with its properties (markers), all pages."""
        found: list[dict[str, Any]] = []
        size = self.settings.max_results
        while True:
            page = self.get(f"issue/{issue_id}/comment",
                            {"expand": "properties", "startAt": len(found), "maxResults": size}) or {}
            batch = page.get("comments") or []
            found.extend(batch)
            total = page.get("total")
            if not batch or (total is not None and len(found) >= int(total)) or (total is None and len(batch) < size):
                return found

    def search(self, jql: str, fields: tuple[str, ...], properties: tuple[str, ...], *,
               reconcile: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
        """Raw issues matching ``jql``, page by page (items may repeat at page boundaries)."""
        for issues, _ in self.search_pages(jql, fields, properties, reconcile=reconcile):
            yield from issues

    def search_pages(self, jql: str, fields: tuple[str, ...], properties: tuple[str, ...], *,
                     page_size: int | None = None, reconcile: Sequence[str] = (), expand: tuple[str, ...] = ()
                     ) -> Iterator[tuple[list[dict[str, Any]], datetime | None]]:
        """(issues, Jira's clock from the reply's ``Date`` header) for every page of ``jql``.

        Sent as a raw call (auth, retries, error translation as every other) rather than the
        library's ``search_issues``, which hides the reply's headers.  Server/DC pages by ``startAt`` on
        ``/search``; Cloud by ``nextPageToken`` on ``/search/jql`` (``/search`` answers 410 there).
        ``reconcile``: issue ids (at most 50) Cloud answers read-after-write for; its search is
        otherwise eventually consistent (https://developer.atlassian.com/cloud/jira/platform/search-and-reconcile).
        Data Center's ``/search`` has no ``properties`` parameter: its rows carry none.
        """
        size = page_size or self.settings.max_results  # Jira may answer with fewer: paging copes
        params: dict[str, Any] = {"jql": jql, "maxResults": size, "fields": ",".join(fields)}
        if properties and self.settings.deployment == "cloud":
            params["properties"] = ",".join(properties)
        if expand:  # both endpoints take it, e.g. "changelog" (each row then carries its histories)
            params["expand"] = ",".join(expand)
        if self.settings.deployment == "cloud":
            if reconcile:
                params["reconcileIssues"] = [int(i) for i in list(reconcile)[-RECONCILE_MAX:]]
            while True:
                page, clock = self._search_page("search/jql", params)
                yield page.get("issues") or [], clock
                token = page.get("nextPageToken")
                if not token or page.get("isLast"):
                    return
                params["nextPageToken"] = token
        start = 0
        while True:
            page, clock = self._search_page("search", {**params, "startAt": start})
            issues = page.get("issues") or []
            yield issues, clock
            total = page.get("total")
            reached = start + len(issues)
            if not issues or (total is not None and reached >= int(total)) or (total is None and len(issues) < size):
                return
            start = reached - PAGE_OVERLAP if len(issues) > PAGE_OVERLAP else reached

    def _search_page(self, path: str, params: dict[str, Any]) -> tuple[dict[str, Any], datetime | None]:
        page, headers = self.wire.json("GET", self.url(path), params=params)
        clock = None
        if headers.get("Date"):
            try:
                clock = parsedate_to_datetime(headers["Date"])
            except (TypeError, ValueError):
                clock = None
        return page or {}, clock

    def issue_property(self, issue_id: str, key: str) -> Any:
        """An entity property's value, or None when the issue has no such property."""
        try:
            return (self.get(f"issue/{issue_id}/properties/{key}") or {}).get("value")
        except JIRAError as exc:
            if exc.status_code == 404:
                return None
            raise

    # --- writes --------------------------------------------------------------------------

    def upload(self, issue_id: str, name: str, content_type: str, path: Path) -> dict[str, Any]:
        """Stream ``path`` as a multipart upload; Jira replies with a list of attachments."""
        with path.open("rb") as handle:
            encoder = MultipartEncoder(fields={"file": (name, handle, content_type or "application/octet-stream")})
            wire = self.wire
            reply = wire.request("POST", self.url(f"issue/{issue_id}/attachments"), body=encoder,
                                 headers={**wire.headers, "Content-Type": encoder.content_type,
                                          "Content-Length": str(encoder.len)})
        body = decoded(reply)
        return body[0] if isinstance(body, list) else body

    def download(self, url: str, dest: Path) -> None:
        """GET the attachment's ``content`` URL exactly as Jira gave it, streamed to ``dest``
        (through the proxy the environment names for that URL's host)."""
        with dest.open("wb") as handle:
            self.wire.save(url, handle, _CHUNK)


def _settle_environment(session: Session, server_url: str) -> None:
    """Take the environment's proxy and CA bundle settings for ``server_url`` once, not on every
    request (the library's session; :mod:`.wire` reads them once likewise).  With ``trust_env``
    (the default) requests reads them for each request
    (``Session.merge_environment_settings``: the proxy variables, ``no_proxy``,
    ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``, ``.netrc`` when a request has no auth) — the
    largest avoidable CPU cost per Jira request in a mirror's profile.  The session talks to
    one host and always carries its auth, so the answer is the same each time."""
    session.proxies.update(get_environ_proxies(server_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and session.verify is True:
        session.verify = bundle
    session.trust_env = False

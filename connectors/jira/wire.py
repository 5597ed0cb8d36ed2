"""The connector's raw REST calls, sent over urllib3 directly instead of through requests.

Why: the initial mirror is CPU-bound in the bridge process (one interpreter, 8 worker threads,
about 35 ms CPU and 8 Jira requests per ticket).  A py-spy profile (``--gil``) of a mirror had
the Jira HTTP stack at about a third of all samples: ``ResilientSession.request`` →
``requests.Session.request``, of which ``prepare_request`` 10 % (``merge_setting`` /
``to_key_val_list``, whose runtime-checkable Protocol ``isinstance`` is slow on Python 3.11:
python/cpython#102936, #74690) and ``Session.send`` 21 % — but urllib3's ``urlopen``, which
does the actual exchange, only 13 %.  CPU per POST with a JSON reply, one thread, against a
local HTTP/1.1 server: the jira session 2,259 µs, ``requests.Session`` 2,140 µs,
``httpx.Client`` 2,080 µs, ``urllib3.PoolManager`` 1,145 µs.  urllib3 is what requests is
built on (installed with it), so the raw calls take it directly.  The ``jira`` library's
session stays for what the library itself sends (transitions, ``check``).

What the requests path did and :class:`Wire` keeps:

- headers: the library session's (``Accept: application/json,*/*;q=0.9``, ``Cache-Control:
  no-cache``, ``X-Atlassian-Token: no-check``), requests' ``Accept-Encoding``, the bridge's
  ``User-Agent``; ``Content-Type: application/json`` on JSON bodies, the encoder's on uploads;
  ``Authorization`` as the library sends it (``Basic`` user:token, or ``Bearer`` token).
- the environment, read once (as :func:`.rest._settle_environment` does for the session): the
  proxy for the server URL (``no_proxy`` applies), the CA bundle of ``REQUESTS_CA_BUNDLE`` /
  ``CURL_CA_BUNDLE``, else certifi's (requests' default).  A download goes through the proxy
  the environment names for the attachment URL's own host.
- a pool like requests' adapter (never waits for a connection: a thread without a free one
  opens one), but keeping up to ``POOL_MAXSIZE`` connections per host instead of requests'
  10: each thread that talks to Jira at once (the ``[sync] concurrency`` workers and the
  pass's own thread) keeps its connection.  With 10, a higher concurrency opened and closed a
  connection per request beyond the tenth (a TLS handshake each, and urllib3's "Connection
  pool is full, discarding connection" warning in the log each time).
- retries: :class:`.transport.RetryPolicy` around each attempt, the same loop as the
  library's session; urllib3's own ``Retry`` is off.
- redirects: GETs follow them hop by hop as requests' ``Session.resolve_redirects`` (up to 30):
  each hop's cookies are kept for that hop's URL and sent from the jar for it, and
  ``Authorization`` is dropped where requests' ``should_strip_auth`` drops it (another host,
  or another port or scheme except the http:80 → https:443 upgrade of the same host).  Writes
  do not follow: a 3xx is a ``JIRAError``.  All hops go through the first URL's proxy.
- errors: a reply that is not 2xx raises ``JIRAError`` as the library's ``ResilientSession``
  does (as its ``raise_on_error``, on a ``requests.Response`` made from the reply: ``status_code``,
  ``url``, ``text``, ``response.headers``, ``response.json()``, ``response.request.method``).
  urllib3's exceptions become the requests exceptions requests' ``HTTPAdapter`` raises for them
  (:func:`requests_error`), so :mod:`.errors`, :func:`.transport.never_sent` and the retry loop
  keep one vocabulary for both stacks.
- timeouts: ``timeout`` seconds to connect and between reads, as requests' single number.
- cookies: those Jira sets are sent back, as requests' session did (:class:`Cookies`, the
  standard library's cookie jar).  Data Center opens a server-side session for a request that
  authenticates without its session cookie (JRASERVER-26397, cited in pycontribs/jira#425);
  returning ``JSESSIONID`` lets Jira reuse the one it opened.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import threading
import urllib.request
from typing import Any, BinaryIO, Mapping
from urllib.parse import urlencode, urljoin

import certifi
import requests
import urllib3
from jira.exceptions import JIRAError
from jira.resilientsession import parse_error_msg
from requests.structures import CaseInsensitiveDict
from requests.utils import get_auth_from_url, get_encoding_from_headers, get_environ_proxies, select_proxy
from urllib3.exceptions import (ClosedPoolError, ConnectTimeoutError, DecodeError, HTTPError, InvalidHeader,
                                LocationValueError, MaxRetryError, NewConnectionError, ProtocolError, ProxyError,
                                ReadTimeoutError, ResponseError, SSLError)
from urllib3.util import Timeout, make_headers

from .transport import POOL_MAXSIZE, RetryPolicy

_STRIP_AUTH = requests.sessions.SessionRedirectMixin.should_strip_auth
POOL_SIZE = 10  # hosts kept (pool managers' pools): requests' HTTPAdapter pool_connections
MAX_REDIRECTS = 30  # requests' Session.max_redirects
NO_BODY: Any = object()
_FOLLOW = frozenset({"GET"})


def authorization(user: str | None, token: str, *, bearer: bool) -> str:
    """The ``Authorization`` header the ``jira`` library sends: ``basic_auth=(user, token)``
    (requests' ``HTTPBasicAuth``) or ``token_auth=token`` (its ``TokenAuth``: ``Bearer <token>``)."""
    if bearer:
        return f"Bearer {token}"
    return make_headers(basic_auth=f"{user or ''}:{token}")["authorization"]


def ca_settings() -> dict[str, str]:
    """Pool arguments for certificate checks: the bundle requests would use for a session that
    trusts the environment (``REQUESTS_CA_BUNDLE``, else ``CURL_CA_BUNDLE``, else certifi's)."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    key = "ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"
    return {"cert_reqs": "CERT_REQUIRED", key: bundle}


class Wire:
    """Sends requests to one Jira: built once per connector (reads the environment then), shared
    by every thread (urllib3's pools are thread-safe)."""

    def __init__(self, server_url: str, *, authorization: str, user_agent: str, timeout: float,
                 policy: RetryPolicy):
        self.policy = policy
        self._timeout = Timeout(connect=timeout, read=timeout)
        self.headers = {
            "User-Agent": user_agent,
            "Accept": "application/json,*/*;q=0.9",
            "Accept-Encoding": ", ".join(make_headers(accept_encoding=True)["accept-encoding"].split(",")),
            "Cache-Control": "no-cache",
            "X-Atlassian-Token": "no-check",
            "Authorization": authorization,
        }
        self.json_headers = {**self.headers, "Content-Type": "application/json"}
        self._pool_settings: dict[str, Any] = {"num_pools": POOL_SIZE, "maxsize": POOL_MAXSIZE, "block": False,
                                               **ca_settings()}
        self._lock = threading.Lock()
        self._managers: dict[str | None, urllib3.PoolManager] = {}
        self.manager = self.manager_for(server_url)  # the server's proxy, once
        self.cookies = Cookies()

    def manager_for(self, url: str) -> urllib3.PoolManager:
        """The pool manager for ``url``: through the proxy the environment names for its host
        (``get_environ_proxies`` applies ``no_proxy``), else direct."""
        proxy = select_proxy(url, get_environ_proxies(url))
        with self._lock:
            manager = self._managers.get(proxy)
            if manager is None:
                manager = self._managers[proxy] = self._new_manager(proxy)
            return manager

    def _new_manager(self, proxy: str | None) -> urllib3.PoolManager:
        if not proxy:
            return urllib3.PoolManager(**self._pool_settings)
        username, password = get_auth_from_url(proxy)
        if proxy.lower().startswith("socks"):  # as requests: needs PySocks
            from urllib3.contrib.socks import SOCKSProxyManager

            return SOCKSProxyManager(proxy, username=username or None, password=password or None,
                                     **self._pool_settings)
        proxy_headers = make_headers(proxy_basic_auth=f"{username}:{password}") if username else None
        return urllib3.ProxyManager(proxy, proxy_headers=proxy_headers, **self._pool_settings)

    def close(self) -> None:
        with self._lock:
            for manager in self._managers.values():
                manager.clear()

    # --- requests ----------------------------------------------------------------------

    def json(self, method: str, url: str, *, params: Mapping[str, Any] | None = None, body: Any = NO_BODY,
             ) -> tuple[Any, urllib3.HTTPHeaderDict]:
        """Send ``body`` as JSON (None as ``null``), if given; (the reply's JSON or None when its
        body is empty, its headers)."""
        if body is NO_BODY:
            reply = self.request(method, url, params=params, headers=self.headers)
        else:
            reply = self.request(method, url, params=params, body=json.dumps(body).encode(),
                                 headers=self.json_headers)
        return decoded(reply), reply.headers

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
                headers: Mapping[str, str] | None = None, manager: urllib3.PoolManager | None = None,
                preload: bool = True) -> urllib3.BaseHTTPResponse:
        """One request under the retry policy; the 2xx reply (read whole unless ``preload`` is
        False, then the caller reads and releases it).  JIRAError for any other reply; the
        requests exception (:func:`requests_error`) for a failure without one."""
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{query(params)}"
        sender = manager or self.manager
        follow = method in _FOLLOW
        timeout = self._timeout
        sent = headers or self.headers

        def attempt() -> urllib3.BaseHTTPResponse:
            # Redirects are followed here, hop by hop, as requests' Session.resolve_redirects:
            # each hop's Set-Cookie is kept for that hop's URL, each hop's Cookie header comes
            # from the jar for its URL, Authorization is dropped by requests' should_strip_auth
            # (kept on an http:80 -> https:443 upgrade of the same host).
            target, carried = url, sent
            for _ in range(MAX_REDIRECTS + 1):
                cookie = self.cookies.header(target)
                try:
                    reply = sender.urlopen(method, target, body=body,
                                           headers={**carried, "Cookie": cookie} if cookie else carried,
                                           retries=False, redirect=False, timeout=timeout, preload_content=preload)
                except (HTTPError, OSError) as exc:
                    raise requests_error(exc, method, target) from exc
                self.cookies.keep(target, reply)
                location = reply.get_redirect_location() if follow else None
                if not location:
                    return reply
                _discard(reply)
                following = urljoin(target, location)
                if _STRIP_AUTH(None, target, following):
                    carried = {name: value for name, value in carried.items() if name != "Authorization"}
                target = following
            raise requests.exceptions.TooManyRedirects(f"Exceeded {MAX_REDIRECTS} redirects.",
                                                       request=requests.Request(method, url))

        reply = self.policy.run(method, attempt, status=_status, discard=_discard)
        if reply.status >= 400 or (reply.status >= 300 and not follow):
            raise jira_error(method, url, reply)
        return reply

    def save(self, url: str, handle: BinaryIO, chunk: int) -> None:
        """GET ``url`` exactly as given (through the proxy the environment names for its host)
        and write the body to ``handle`` as it arrives."""
        reply = self.request("GET", url, manager=self.manager_for(url), preload=False)
        consumed = False
        try:
            blocks = reply.stream(chunk)
            while True:
                try:
                    block = next(blocks, None)
                except (HTTPError, OSError) as exc:
                    raise requests_error(exc, "GET", url, streaming=True) from exc
                if block is None:
                    consumed = True
                    return
                handle.write(block)
        finally:
            if not consumed:  # as requests' Response.close: a half-read connection is not reused
                reply.close()
            reply.release_conn()


class Cookies:
    """The cookies Jira set, sent back with the requests they match (domain, path, expiry: the
    standard library's :class:`http.cookiejar.CookieJar`, thread-safe).  A reply without
    ``Set-Cookie`` and a request with an empty jar cost a header lookup."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()

    def header(self, url: str) -> str | None:
        """The ``Cookie`` header for ``url``, None when no cookie matches."""
        if not len(self.jar):
            return None
        request = urllib.request.Request(url)
        self.jar.add_cookie_header(request)
        return request.get_header("Cookie")

    def keep(self, url: str, reply: urllib3.BaseHTTPResponse) -> None:
        """Take the ``Set-Cookie`` headers of ``reply`` to a request for ``url``."""
        if "set-cookie" in reply.headers:
            self.jar.extract_cookies(_SetCookies(reply.headers), urllib.request.Request(url))  # type: ignore[arg-type]


class _SetCookies:
    """The reply as :meth:`http.cookiejar.CookieJar.extract_cookies` reads it (``info().get_all``)."""

    def __init__(self, headers: urllib3.HTTPHeaderDict):
        self.headers = headers

    def info(self) -> "_SetCookies":
        return self

    def get_all(self, name: str, default: Any = None) -> Any:
        return self.headers.getlist(name) or default


def query(params: Mapping[str, Any]) -> str:
    """``params`` as requests encodes them: a list repeats its key, None leaves the key out."""
    pairs: list[tuple[str, Any]] = []
    for key, value in params.items():
        for one in value if isinstance(value, (list, tuple)) else (value,):
            if one is not None:
                pairs.append((key, one))
    return urlencode(pairs)


def decoded(reply: urllib3.BaseHTTPResponse) -> Any:
    """The reply's JSON, None when the body is empty (ValueError when it is not JSON).  As
    requests' ``Response.json``: a declared charset other than UTF-8 decodes the text (bad bytes
    replaced); else ``json.loads`` on the bytes detects UTF-8/16/32, bad UTF-8 replaced."""
    data = reply.data
    if not data:
        return None
    charset = get_encoding_from_headers(reply.headers)  # requests' reading: application/json is utf-8
    if charset and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        try:
            return json.loads(str(data, charset, errors="replace"))  # as requests' Response.text
        except LookupError:  # a charset Python does not know: as UTF-8 below
            pass
    try:
        return json.loads(data)
    except UnicodeDecodeError:  # requests decodes with errors="replace"
        return json.loads(str(data, "utf-8", errors="replace"))


def jira_error(method: str, url: str, reply: urllib3.BaseHTTPResponse) -> JIRAError:
    """The JIRAError the library's session raises for this reply (as its ``raise_on_error``; that
    passes a 3xx, which here is an unfollowed redirect of a write)."""
    response = requests.Response()
    response.status_code = reply.status
    response.headers = CaseInsensitiveDict(reply.headers)
    response._content = reply.data
    response.encoding = get_encoding_from_headers(response.headers)
    response.reason = reply.reason or ""
    response.url = url
    response.request = requests.Request(method, url).prepare()
    reply.release_conn()
    return JIRAError(parse_error_msg(response), status_code=response.status_code, url=url, response=response)


def requests_error(exc: BaseException, method: str, url: str, *, streaming: bool = False
                   ) -> requests.RequestException:
    """The requests exception requests raises for urllib3's ``exc`` (``HTTPAdapter.send``; with
    ``streaming``, ``Response.iter_content``), carrying the request (errors.py names its URL)."""
    request = requests.Request(method, url)
    reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
    e = requests.exceptions
    if streaming and isinstance(reason, ProtocolError):
        return e.ChunkedEncodingError(exc, request=request)
    if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
        return e.ConnectTimeout(exc, request=request)
    for cause, raised in _AS_REQUESTS:
        if isinstance(reason, cause):
            return raised(exc, request=request)
    if isinstance(reason, (ProtocolError, NewConnectionError, ClosedPoolError, OSError)) or reason is not exc:
        return e.ConnectionError(exc, request=request)
    return e.RequestException(exc, request=request)


# urllib3's failure → the requests exception ``HTTPAdapter.send`` raises for it, in its order.
_AS_REQUESTS: tuple[tuple[type[BaseException], type[requests.RequestException]], ...] = (
    (ReadTimeoutError, requests.exceptions.ReadTimeout),
    (ResponseError, requests.exceptions.TooManyRedirects),
    (ProxyError, requests.exceptions.ProxyError),
    (SSLError, requests.exceptions.SSLError),
    (DecodeError, requests.exceptions.ContentDecodingError),
    (InvalidHeader, requests.exceptions.InvalidHeader),
    (LocationValueError, requests.exceptions.InvalidURL),
)


def _status(reply: urllib3.BaseHTTPResponse) -> int:
    return reply.status


def _discard(reply: urllib3.BaseHTTPResponse) -> None:
    reply.drain_conn()
    reply.release_conn()

"""The status page as a WSGI app, mounted by :class:`bridge.metrics.Metrics` on its listener.

Routes (paths are relative in every link and form, so the page works behind a reverse proxy
under any prefix):

- ``GET /`` and ``GET /status``: the page (HTML, no JavaScript, ``<meta http-equiv=refresh>``
  every ``refresh_seconds``);
- ``GET /retry?tenant=T&item=K``: a confirmation form for one quarantined item (it changes
  nothing, and does not refresh, so a token typed there is not wiped);
- ``POST /retry`` with the form fields ``tenant``, ``item`` and ``admin_token``, or with the
  header ``Authorization: Bearer <token>``: makes the item due at once
  (:meth:`bridge.state.ledger.Ledger.retry_now`; the engine's next pass does the rest).
  Answers 303 to ``status?retried=...`` for a form, JSON for a header client; 403 without the
  right token (compared with :func:`hmac.compare_digest`), and always 403 when
  ``[metrics] admin_token`` is not configured; 404 for an unknown tenant or an item that is not
  in quarantine; 405 for any other method; 429 (with ``Retry-After``) once one address has
  offered a wrong token :data:`WRONG_TOKENS` times (a moving window, the ``limits`` library):
  guessing the token is slowed down to that rate. Behind a reverse proxy every client shares
  the proxy's address, so a guesser locks the retry button for everyone for a minute — it
  fails closed; the page itself stays readable.

Cross-site requests: the only state-changing request is a POST that must carry the token,
which another site cannot know; responses forbid framing and carry a strict
Content-Security-Policy (no script at all).
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import parse_qs, quote, urlencode

import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from bridge.secrets import Secret
from bridge.statuspage.views import Tenant, tenant_view

log = structlog.get_logger()

PATHS = ("/", "/status", "/retry")
MAX_FORM_BYTES = 8192
WRONG_TOKENS = parse_limit("10/minute")  # wrong admin tokens per remote address
SECURITY_HEADERS = [
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
]
StartResponse = Callable[..., Any]


def _ago(value: datetime | None, now: datetime) -> str:
    """"3 min ago", "in 25 s", "—"."""
    if value is None:
        return "—"
    seconds = (value - now).total_seconds()
    span = abs(seconds)
    if span < 1:
        return "now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if span >= size:
            text = f"{int(span // size)} {unit}"
            break
    return f"in {text}" if seconds > 0 else f"{text} ago"


def _when(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def make_environment() -> Environment:
    env = Environment(loader=PackageLoader("bridge.statuspage", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    return env


class StatusPage:
    """``StatusPage(tenants, admin_token=...)`` is a WSGI app for :data:`PATHS`.

    ``tenants`` is called per request and returns the tenants to show (a daemon: one; a fleet
    worker: those it works), so a reloaded configuration shows at once.  ``clock`` gives the
    current time (aware UTC)."""

    def __init__(self, tenants: Callable[[], Sequence[Tenant]], *, admin_token: Secret | None,
                 refresh_seconds: int = 15, clock: Callable[[], datetime] | None = None):
        self.tenants = tenants
        self.admin_token = admin_token
        self.refresh_seconds = refresh_seconds
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.env = make_environment()
        self._wrong_tokens = MovingWindowRateLimiter(MemoryStorage())
        # Test, compare and count as one step: each request has a thread of its own, and
        # parallel guesses must not all pass the test before any is counted.
        self._token_lock = threading.Lock()

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        body = self._route(environ, start_response, method)
        return [] if method == "HEAD" else body

    def _route(self, environ: dict[str, Any], start_response: StartResponse, method: str) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path in ("/", "/status"):
            if method not in ("GET", "HEAD"):
                return self._plain(start_response, "405 Method Not Allowed", "use GET\n", [("Allow", "GET, HEAD")])
            return self._page(environ, start_response)
        if path == "/retry":
            if method in ("GET", "HEAD"):
                return self._confirm(environ, start_response)
            if method == "POST":
                return self._retry(environ, start_response)
            return self._plain(start_response, "405 Method Not Allowed", "use POST\n", [("Allow", "GET, HEAD, POST")])
        return self._plain(start_response, "404 Not Found", "not found; try /status, /metrics or /healthz\n")

    # ------------------------------------------------------------------ pages

    def _page(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        now = self.clock()
        query = parse_qs(environ.get("QUERY_STRING", ""))
        views = [tenant_view(t, now) for t in self.tenants()]
        body = self.env.get_template("status.html").render(
            tenants=views, now=now, ago=lambda v: _ago(v, now), refresh=self.refresh_seconds,
            retried=(query.get("retried") or [None])[0], retry_enabled=self.admin_token is not None,
            quote=lambda v: quote(v, safe=""))
        return self._html(start_response, "200 OK", body)

    def _confirm(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        tenant_name, item = (query.get("tenant") or [""])[0], (query.get("item") or [""])[0]
        tenant = self._tenant(tenant_name)
        entry = None
        if tenant is not None:
            entry = next((q for q in tenant_view(tenant, self.clock()).quarantine if q.item == item), None)
        if entry is None:
            return self._message(start_response, "404 Not Found", "Not in quarantine",
                                 f"{item or 'That item'} is not in the quarantine of {tenant_name or 'this tenant'}.")
        body = self.env.get_template("retry.html").render(tenant=tenant_name, entry=entry,
                                                          retry_enabled=self.admin_token is not None)
        return self._html(start_response, "200 OK", body)

    def _retry(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        remote = environ.get("REMOTE_ADDR", "?")
        header = environ.get("HTTP_AUTHORIZATION", "")
        as_json = bool(header)
        try:
            form = self._form(environ)
        except ValueError as exc:
            return self._refuse(start_response, "400 Bad Request", str(exc), as_json)
        tenant_name, item = form.get("tenant", ""), form.get("item", "")
        scheme, _, header_token = header.partition(" ")
        offered = header_token.strip() if scheme.lower() == "bearer" else form.get("admin_token", "")
        if self.admin_token is None:
            log.warning("retry_refused", reason="no admin_token configured", remote=remote, item=item)
            return self._refuse(start_response, "403 Forbidden",
                                "Retry is switched off: no [metrics] admin_token is configured.", as_json)
        expected = self.admin_token.get_secret_value().encode()
        with self._token_lock:
            limited = not self._wrong_tokens.test(WRONG_TOKENS, remote)
            wrong = not limited and not (offered and hmac.compare_digest(offered.encode(), expected))
            if wrong:
                self._wrong_tokens.hit(WRONG_TOKENS, remote)
            reset = self._wrong_tokens.get_window_stats(WRONG_TOKENS, remote).reset_time if limited else 0.0
        if limited:
            wait = max(1, int(reset - time.time()) + 1)  # the limiter counts in time.time()
            log.warning("retry_refused", reason="too many wrong admin tokens", remote=remote, item=item)
            return self._refuse(start_response, "429 Too Many Requests",
                                f"Refused: too many wrong admin tokens from this address; try again in {wait} s.",
                                as_json, [("Retry-After", str(wait))])
        if wrong:
            log.warning("retry_refused", reason="admin token missing or wrong", remote=remote, item=item)
            return self._refuse(start_response, "403 Forbidden", "Refused: the admin token is missing or wrong.",
                                as_json)
        tenant = self._tenant(tenant_name)
        row = tenant.ledger.retry_now(item, tenant.max_attempts) if tenant is not None and item else None
        if row is None:
            return self._refuse(start_response, "404 Not Found",
                                f"{item or 'That item'} is not in the quarantine of {tenant_name or 'this tenant'}.",
                                as_json)
        log.info("retry_scheduled", tenant=tenant_name, item=item, attempts=row.attempts, remote=remote)
        if as_json:
            payload = {"tenant": tenant_name, "item": item, "attempts": row.attempts,
                       "next_retry_at": row.next_retry_at.isoformat() if row.next_retry_at else None}
            return self._respond(start_response, "200 OK", json.dumps(payload).encode(), "application/json")
        location = "status?" + urlencode({"retried": f"{tenant_name}: {item}"})
        return self._respond(start_response, "303 See Other", b"", "text/plain", [("Location", location)])

    # ------------------------------------------------------------------ helpers

    def _tenant(self, name: str) -> Tenant | None:
        return next((t for t in self.tenants() if t.name == name), None)

    @staticmethod
    def _form(environ: dict[str, Any]) -> dict[str, str]:
        """The urlencoded form of a POST (first value per field); ValueError for anything else."""
        kind = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ValueError("bad Content-Length") from None
        if length > MAX_FORM_BYTES:
            raise ValueError("form too large")
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        if raw and kind != "application/x-www-form-urlencoded":
            raise ValueError("expected an application/x-www-form-urlencoded form")
        try:
            fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise ValueError("form is not UTF-8") from None
        return {k: v[0] for k, v in fields.items() if v}

    def _refuse(self, start_response: StartResponse, status: str, text: str, as_json: bool,
                extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        if as_json:
            return self._respond(start_response, status, json.dumps({"error": text}).encode(), "application/json",
                                 extra)
        return self._message(start_response, status, status.split(" ", 1)[1], text, extra)

    def _message(self, start_response: StartResponse, status: str, title: str, text: str,
                 extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        body = self.env.get_template("message.html").render(title=title, text=text)
        return self._html(start_response, status, body, extra)

    def _html(self, start_response: StartResponse, status: str, body: str,
              extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        return self._respond(start_response, status, body.encode(), "text/html; charset=utf-8", extra)

    def _plain(self, start_response: StartResponse, status: str, text: str,
               extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        return self._respond(start_response, status, text.encode(), "text/plain; charset=utf-8", extra)

    @staticmethod
    def _respond(start_response: StartResponse, status: str, payload: bytes, content_type: str,
                 extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        headers = [("Content-Type", content_type), ("Content-Length", str(len(payload))), *SECURITY_HEADERS,
                   *(extra or [])]
        start_response(status, headers)
        return [payload]

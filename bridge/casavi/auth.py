"""The casavi access token: authenticate, refresh before it expires, re-authenticate on 401.

``POST /authenticate {key, secret}`` gives ``{token, expiresAt}``; ``POST
/authenticate/refresh {apiKey, token}`` gives a new pair — a path of our choosing (the
document names the call, not its path), so any failure of it falls back to a fresh login.  The token is refreshed shortly
before ``expiresAt`` — 60 s before, or 10 % of its lifetime when that is shorter — so a long
listing never runs into an expired token; a 401 anyway (revoked, clock skew) makes the client
call :meth:`CasaviAuth.invalidate` and repeat the request once with a fresh login.

The secret and the token never appear in logs, reprs or exception messages.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import structlog

from bridge.casavi import paths
from bridge.errors import AuthError, BridgeError, FatalError, RetriableError
from bridge.lenient import parse_datetime

log = structlog.get_logger()

# (path, JSON body) -> the JSON answer; the client sends it through the HTTP policy without
# a token header.  Raises bridge.errors like any other call.
PostJson = Callable[[str, Mapping[str, Any]], Any]

REFRESH_MARGIN_SECONDS = 60.0
REFRESH_MARGIN_SHARE = 0.10
# When expiresAt is missing, unreadable or already past on arrival (clock skew), the token is
# treated as valid for this long; a 401 before then still leads to one fresh login.
FALLBACK_LIFETIME_SECONDS = 300.0
_NO_REFRESH_PATH = (404, 405, 501)  # answers that mean "there is no such call here"


class Secret:
    """A string that prints as ``<hidden>`` (repr, str, f-strings); ``reveal()`` gives it back."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


def mask_key(key: str) -> str:
    """The API key as shown in logs and reprs: its first four characters only."""
    return f"{key[:4]}…" if len(key) > 4 else "…"


class CasaviAuth:
    """Token lifecycle for one casavi account; thread-safe (one login at a time)."""

    def __init__(self, key: str, secret: str, post_json: PostJson, *,
                 clock: Callable[[], float] = time.time):
        self._key = key
        self._secret = Secret(secret)
        self._post_json = post_json
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Secret | None = None
        self._expires_at = 0.0  # wall-clock seconds
        self._refresh_at = 0.0
        self.refresh_available: bool | None = None  # None: not tried yet

    def __repr__(self) -> str:
        state = "set" if self._token else "none"
        return f"CasaviAuth(key={mask_key(self._key)!r}, secret=<hidden>, token=<{state}>)"

    @property
    def has_token(self) -> bool:
        return self._token is not None

    def token(self) -> str:
        """A token that is valid now: logs in, or refreshes one that is about to expire."""
        with self._lock:
            now = self._clock()
            if self._token is None or now >= self._expires_at:
                if self._token is not None:
                    log.info("casavi_token_expired")
                self._login()
            elif now >= self._refresh_at:
                self._refresh()
            assert self._token is not None
            return self._token.reveal()

    def invalidate(self, token: str) -> None:
        """The server refused ``token`` (401): forget it, unless another thread replaced it."""
        with self._lock:
            if self._token is not None and self._token.reveal() == token:
                self._token = None
                log.info("casavi_token_rejected")

    # -- internals (called with the lock held) --------------------------------------------

    def _login(self) -> None:
        try:
            answer = self._post_json(paths.AUTHENTICATE, {"key": self._key, "secret": self._secret.reveal()})
        except AuthError as exc:
            self._token = None
            raise AuthError("casavi refused the API key and secret", status=exc.status) from None
        self._store(answer)
        log.info("casavi_authenticated", key=mask_key(self._key))

    def _refresh(self) -> None:
        """Refresh the token; on any failure at all (no such path, 405, 5xx, an answer without
        a token) a fresh login instead.  The document gives the refresh call no path, so
        ``/authenticate/refresh`` is a guess: once it answers 404, 405 or 501 it is not tried
        again.  Only when the login cannot be reached either is the old token kept while valid."""
        assert self._token is not None
        if self.refresh_available is not False:
            try:
                answer = self._post_json(
                    paths.AUTHENTICATE_REFRESH, {"apiKey": self._key, "token": self._token.reveal()}
                )
                self._store(answer)
                self.refresh_available = True
                log.info("casavi_token_refreshed")
                return
            except BridgeError as exc:
                if getattr(exc, "status", None) in _NO_REFRESH_PATH:
                    self.refresh_available = False
                log.info("casavi_token_refresh_failed", error=type(exc).__name__,
                         status=getattr(exc, "status", None))
        try:
            self._login()
        except RetriableError:
            if self._clock() < self._expires_at:
                log.info("casavi_token_refresh_postponed")  # the old token is still valid
                return
            raise

    def probe_refresh(self) -> bool | None:
        """Whether the refresh path answers (for ``check``): True when it gave a new token,
        False when it is not there (404, 405, 501), None when it could not be told."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                self._login()
            assert self._token is not None
            try:
                answer = self._post_json(
                    paths.AUTHENTICATE_REFRESH, {"apiKey": self._key, "token": self._token.reveal()})
                self._store(answer)
            except BridgeError as exc:
                if getattr(exc, "status", None) in _NO_REFRESH_PATH:
                    self.refresh_available = False
                    return False
                return None
            self.refresh_available = True
            return True

    def _store(self, answer: Any) -> None:
        token = answer.get("token") if isinstance(answer, Mapping) else None
        if not isinstance(token, str) or not token:
            raise FatalError("casavi answered the login without a token")
        now = self._clock()
        expires = parse_datetime(answer.get("expiresAt"))
        lifetime = (expires.timestamp() - now) if expires else 0.0
        if lifetime <= 0:
            log.warning("casavi_token_expiry_defaulted", fallback_seconds=FALLBACK_LIFETIME_SECONDS)
            lifetime = FALLBACK_LIFETIME_SECONDS
        margin = min(REFRESH_MARGIN_SECONDS, REFRESH_MARGIN_SHARE * lifetime)
        self._token = Secret(token)
        self._expires_at = now + lifetime
        self._refresh_at = now + lifetime - margin

    @property
    def expires_at(self) -> datetime | None:
        """When the current token expires (for `status`), None without a token."""
        if self._token is None:
            return None
        return datetime.fromtimestamp(self._expires_at, tz=timezone.utc)

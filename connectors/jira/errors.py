"""The one place where the jira library's and requests' exceptions become bridge errors.

Classification is by HTTP status (:func:`bridge.errors.classify_status`) and exception class,
never by message text.  Messages are built from method, URL, status and Jira's own error text:
``str(JIRAError)`` is never used because it embeds the request headers (credentials).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import requests
from jira.exceptions import JIRAError

from bridge.errors import BridgeError, FatalError, RetriableError, classify_status, parse_retry_after

from .transport import rate_limit_wait

_RETRIABLE_TRANSPORT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


_T = TypeVar("_T")
# What the jira library and requests raise (ValueError: a reply that is not JSON).
LIBRARY_ERRORS = (JIRAError, requests.RequestException, ValueError)


def boundary(action: str) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """Translate library exceptions into bridge errors at the connector's edge."""
    def wrap(method: Callable[..., _T]) -> Callable[..., _T]:
        @functools.wraps(method)
        def run(*args: Any, **kwargs: Any) -> _T:
            try:
                return method(*args, **kwargs)
            except LIBRARY_ERRORS as exc:
                raise translate(exc, action=action) from exc
        return run
    return wrap


def translate(exc: BaseException, *, action: str = "") -> BridgeError:
    """The bridge error for an exception raised while talking to Jira."""
    if isinstance(exc, BridgeError):
        return exc
    prefix = f"jira {action}: " if action else "jira: "
    if isinstance(exc, JIRAError):
        response = exc.response
        status = exc.status_code or (response.status_code if response is not None else None)
        where = _where(exc)
        text = (exc.text or "").strip()
        if status is None:
            # Raised by the library itself without a reply (e.g. an unparsable answer).
            return FatalError(f"{prefix}{text or 'unexpected reply'}{where}")
        headers = response.headers if response is not None else {}
        retry_after = rate_limit_wait(headers) if int(status) in (429, 503) else parse_retry_after(headers.get("Retry-After"))
        message = f"{prefix}HTTP {status}{where}" + (f": {text}" if text else "")
        error = classify_status(int(status), message, retry_after=retry_after)
        return error if error is not None else FatalError(message, status=int(status))
    if isinstance(exc, _RETRIABLE_TRANSPORT):
        return RetriableError(f"{prefix}{type(exc).__name__}: {_request_url(exc)}")
    if isinstance(exc, requests.RequestException):
        return FatalError(f"{prefix}{type(exc).__name__}: {_request_url(exc)}")
    if isinstance(exc, ValueError):
        # A 2xx reply that is not JSON (a proxy's page, a truncated body).
        return FatalError(f"{prefix}unexpected reply ({type(exc).__name__})")
    return FatalError(f"{prefix}{type(exc).__name__}")


def _where(exc: JIRAError) -> str:
    url = exc.url or (exc.response.url if exc.response is not None else None)
    if not url:
        return ""
    method = ""
    request = getattr(exc.response, "request", None) if exc.response is not None else None
    if request is not None and getattr(request, "method", None):
        method = f"{request.method} "
    return f" ({method}{url.split('?', 1)[0]})"


def _request_url(exc: requests.RequestException) -> str:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None) or ""
    return url.split("?", 1)[0] or "no request"


def refused_fields(exc: JIRAError) -> dict[str, str]:
    """Jira's per-field answers of a 400 (``errors``: field id → message); empty otherwise."""
    if exc.status_code != 400 or exc.response is None:
        return {}
    try:
        body = exc.response.json()
    except ValueError:
        return {}
    errors = body.get("errors") if isinstance(body, dict) else None
    return {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {}


def is_too_long(refused: dict[str, str], field: str) -> bool:
    """Jira's "The entered text is too long. It exceeds the allowed limit of N characters."
    (mozilla/jira-bugzilla-integration#180) for ``field``.  The one place that reads a message:
    Jira has no code for it, and the refusal is mended by cutting further (once)."""
    return "too long" in refused.get(field, "").casefold()


def shorter(limit: int) -> int:
    """The limit for the one retry after Jira called a text too long: a tenth less."""
    return max(1000, int(limit * 0.9))

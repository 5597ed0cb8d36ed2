"""Logging: structlog for the bridge, the same processors for every stdlib logger, secrets scrubbed.

Output goes to stderr: JSON lines when stderr is not a terminal (journald, files), a readable
console format on a terminal; ``[log] format`` overrides ("json", "console").  Lines from
libraries that use the standard ``logging`` module (httpx, jira, urllib3, uvicorn) pass
through the same processor chain, so they get the same format, the per-item context and the
same redaction.

Per-item context: ``structlog.contextvars.bind_contextvars(ticket="P-1", target="OPS-12")`` (or
the :func:`item_context` block) adds those keys to every line logged in that context,
including library lines.

Redaction (:func:`redact_event`, the last processor before rendering) scrubs

1. every value registered in :mod:`bridge.secrets` (configured secrets, session tokens),
   wherever it appears, also inside strings, exception text and nested containers;
2. the value of any key named like a credential (token, secret, password, authorization,
   api_key/apikey, x-redmine-api-key, cookie, ...), and ``Name: value`` / ``'name': 'value'``
   pairs for those names inside strings;
3. credentials in URLs: the password in ``user:pass@host`` and the query parameters
   ``token=``, ``key=``, ``api_key=``, ``apikey=`` (and a few more).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, Iterator, TextIO

import structlog
from structlog.contextvars import bound_contextvars, merge_contextvars

from bridge.secrets import MIN_SUBSTRING_LENGTH, is_sensitive_key, registered_secrets, secrets_generation

REDACTED = "[REDACTED]"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
# Libraries that log one line per request at INFO: quiet unless the bridge runs at debug.
CHATTY_LIBRARIES = ("httpx", "httpcore", "urllib3", "jira", "requests_oauthlib", "uvicorn.access",
                    "alembic")  # alembic: "Context impl SQLiteImpl." on every start

# "Authorization: Basic abc", "'token': 'abc'", "X-Redmine-API-Key=abc" inside free text; the
# scheme word (Basic, Bearer, Token) is kept.
_PAIR_WORDS = r"(?:authorization|api[-_]?key|apikey|token|password|passwd|secret|cookie)"
_SENSITIVE_PAIR = re.compile(
    rf"(?i)(\b[\w-]*?{_PAIR_WORDS})"
    r"(['\"]?\s*[:=]\s*['\"]?)((?:basic|bearer|token|digest)\s+)?+(?!\[REDACTED\])([^\s'\",;&}\]]+)"
)
# The credential word alone, same flags: every match of _SENSITIVE_PAIR contains one, and a
# plain alternation is found far faster than the pair's lazy prefix is tried at every word.
_PAIR_WORD = re.compile(rf"(?i){_PAIR_WORDS}")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@]*):([^/\s@]+)@")
_QUERY_CREDENTIAL = re.compile(
    r"(?i)([?&;](?:token|key|api_key|apikey|api-key|access_token|auth|password|secret|signature|sig)=)([^&#\s'\"]+)"
)


class _SecretMatcher:
    """A compiled alternation of the registered secrets, rebuilt when the registry changes."""

    def __init__(self) -> None:
        self._generation = -1
        self._pattern: re.Pattern[str] | None = None
        self._whole: frozenset[str] = frozenset()

    def scrub(self, text: str) -> str:
        if secrets_generation() != self._generation:  # the set is copied only when it changed
            generation, values = registered_secrets()
            long_values = sorted((v for v in values if len(v) >= MIN_SUBSTRING_LENGTH), key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, long_values))) if long_values else None
            self._whole, self._generation = values, generation
        if text in self._whole:
            return REDACTED
        # The pattern holds values of MIN_SUBSTRING_LENGTH or more: a shorter text holds none.
        return self._pattern.sub(REDACTED, text) if self._pattern and len(text) >= MIN_SUBSTRING_LENGTH else text


_secrets = _SecretMatcher()


def _hide(key: Any, value: Any) -> bool:
    return isinstance(key, str) and is_sensitive_key(key) and value not in (None, "") and not isinstance(value, bool)


def scrub_text(text: str) -> str:
    """Remove registered secrets, credential pairs and URL credentials from one string.

    Every log value passes here (about seven a line), so each pattern runs only on a text that
    holds what any of its matches must hold: ``@`` for URL credentials, ``=`` for query
    credentials, ``:`` or ``=`` and a credential word for pairs.  The result is the same."""
    text = _secrets.scrub(text)
    if "@" in text:
        text = _URL_USERINFO.sub(lambda m: f"{m[1]}{m[2]}:{REDACTED}@", text)
    if "=" in text:
        text = _QUERY_CREDENTIAL.sub(lambda m: m[1] + REDACTED, text)
    if (":" in text or "=" in text) and _PAIR_WORD.search(text):
        text = _SENSITIVE_PAIR.sub(lambda m: f"{m[1]}{m[2]}{m[3] or ''}{REDACTED}", text)
    return text


def redact_value(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` with every secret scrubbed (dicts, lists, tuples, sets, strings)."""
    if _depth > 20:
        return REDACTED  # a self-referencing structure: refuse rather than recurse forever
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, (bool, int, float, type(None))):
        return value
    if isinstance(value, dict):
        return {
            key: REDACTED if _hide(key, item) else redact_value(item, _depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [redact_value(item, _depth + 1) for item in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, bytes):
        return redact_value(value.decode("utf-8", "replace"), _depth + 1)
    # Any other object is rendered through repr() by both renderers; scrub that text when it
    # carries something (an httpx.URL with a token, a Request, an exception instance).
    text = repr(value) if not isinstance(value, BaseException) else f"{type(value).__name__}: {value}"
    scrubbed = scrub_text(text)
    return scrubbed if scrubbed != text else value


def redact_event(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: scrub the whole event (see the module docstring).

    The first keys come in a fixed order (timestamp, level, event, logger), so JSON lines read
    well in ``journalctl -o cat``.
    """
    ordered = {key: event_dict[key] for key in _FIRST_KEYS if key in event_dict}
    ordered.update(event_dict)
    return {key: REDACTED if key != "event" and _hide(key, value) else redact_value(value) for key, value in ordered.items()}


_FIRST_KEYS = ("timestamp", "level", "event", "logger")


def configure_logging(level: str = "info", fmt: str = "auto", *, stream: TextIO | None = None) -> None:
    """Install the handler on the root logger and configure structlog (idempotent).

    ``level`` is one of debug/info/warning/error; ``fmt`` is auto/json/console.  ``stream``
    defaults to stderr (journald captures it under systemd).
    """
    stream = stream if stream is not None else sys.stderr
    if fmt == "auto":
        fmt = "console" if _isatty(stream) else "json"
    numeric = LEVELS[level.lower()]
    shared: list[Any] = [
        merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=_isatty(stream), exception_formatter=structlog.dev.plain_traceback)
    final = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.processors.UnicodeDecoder(),
        redact_event,
        renderer,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=final,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.set_name("casavi-bridge")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "casavi-bridge"]:
        root.removeHandler(old)
        old.close()  # flushes; a StreamHandler never closes its stream
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING)
    logging.captureWarnings(True)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def reset_logging() -> None:
    """Remove the handler :func:`configure_logging` installed and restore structlog's defaults."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "casavi-bridge"]:
        root.removeHandler(handler)
        handler.close()
    logging.captureWarnings(False)
    structlog.reset_defaults()


def get_logger(name: str | None = None, **initial: Any) -> Any:
    """A structlog logger (``log.info("ticket_mirrored", target=...)``)."""
    return structlog.stdlib.get_logger(name, **initial)


def item_context(**values: Any) -> Iterator[None]:
    """``with item_context(ticket="P-1", target="OPS-12"):`` — context for every line inside."""
    return bound_contextvars(**values)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False

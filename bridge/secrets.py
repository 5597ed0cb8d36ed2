"""Secret values in the configuration: where they come from, how they stay out of logs.

A secret setting (``[casavi] key``, ``[jira] token``, ...) is written as a reference:

- ``"env:NAME"``   the environment variable NAME (must be set and non-empty);
- ``"file:/path"`` the first line of the file at the absolute path (trailing newline stripped);
- ``"cred:NAME"``  the first line of ``$CREDENTIALS_DIRECTORY/NAME``, i.e. a credential that
  systemd passed with ``LoadCredential=NAME:/etc/casavi-bridge/credentials/NAME``;
- anything else   the literal value.

Connectors type their credential fields as :class:`Secret`; validating the settings model then
resolves the reference.  A failure raises a validation error whose message names the reference
kind and the variable or path, never the value; :func:`bridge.config.load_config` adds the
key path.

Decision on file permissions: a ``file:`` secret readable by group or others is *accepted with a
warning* (collected by :func:`collect_warnings`, logged by the CLI at start).  A deliberate
group-readable file (e.g. a ``casavi-bridge`` group) is a legitimate setup, and refusing it would
stop a service that worked yesterday after an unrelated ``chmod``.  ``cred:`` files are created
by systemd with private permissions, so they are not checked.

Every resolved value is put in a process-wide registry; the log redaction processor
(:mod:`bridge.logging`) scrubs registered values wherever they appear.  Clients also register
values they obtain at run time (casavi session tokens) with :func:`register_secret`.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import os
import re
import stat
import threading
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Iterator, Mapping

from pydantic_core import PydanticCustomError, core_schema

MASK = "**********"
# Registered values shorter than this are scrubbed only where they are a whole log value, not
# inside longer strings: a three-letter password would otherwise shred every log line.
MIN_SUBSTRING_LENGTH = 6

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CRED_NAME = re.compile(r"[A-Za-z0-9_.:@-]+\Z")


_SENSITIVE_WORDS = r"token|secret|password|passwd|authorization|api_?key|apikey|cookie|credentials?|session_?id"
# A name counts as sensitive when one of its "_"-separated words (after lower-casing and
# "-" → "_") is a credential word: access_token, X-Redmine-API-Key, Set-Cookie, jira_token.
_SENSITIVE_NAME = re.compile(rf"(?:^|_)(?:{_SENSITIVE_WORDS})s?(?:_|$)")


@functools.lru_cache(maxsize=1024)  # asked for every key of every log line; the names are few
def is_sensitive_key(name: str) -> bool:
    """True for names like token, api_key, X-Redmine-API-Key, password, authorization, cookie."""
    return bool(_SENSITIVE_NAME.search(name.lower().replace("-", "_")))


class SecretError(ValueError):
    """A secret reference cannot be resolved; the message never contains the secret value."""


class Secret:
    """A resolved secret.  ``str()`` and ``repr()`` show a mask; ``get_secret_value()`` the value.

    ``reference`` says where it came from (``"env:JIRA_TOKEN"``, ``"cred:jira-token"`` or
    ``"literal"``) and is safe to show.
    """

    __slots__ = ("_value", "reference")

    def __init__(self, value: str, reference: str = "literal"):
        self._value = value
        self.reference = reference

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r}, reference={self.reference!r})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(
            _validate_secret,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "format": "password", "description": "env:NAME, file:/path, cred:NAME or a literal"}


# --------------------------------------------------------------------------- resolution


def resolve_secret(
    reference: str,
    *,
    environ: Mapping[str, str] | None = None,
    warnings: list[str] | None = None,
) -> Secret:
    """Resolve a reference (see the module docstring) and register the value for redaction.

    Raises :class:`SecretError` with a message that names the variable, path or credential,
    never the value.  Permission warnings for ``file:`` are appended to ``warnings``.
    """
    env = os.environ if environ is None else environ
    kind, sep, rest = reference.partition(":")
    if sep and kind == "env":
        value, where = _from_env(rest, env), reference
    elif sep and kind == "file":
        value, where = _from_file(rest, warnings), reference
    elif sep and kind == "cred":
        value, where = _from_credential(rest, env), reference
    else:
        if not reference:
            raise SecretError("is empty")
        value, where = reference, "literal"
    register_secret(value)
    return Secret(value, where)


def _from_env(name: str, env: Mapping[str, str]) -> str:
    if not _ENV_NAME.match(name):
        raise SecretError(f"env: needs an environment variable name, got {name!r}")
    if name not in env:
        raise SecretError(f"environment variable {name} is not set")
    if not env[name]:
        raise SecretError(f"environment variable {name} is empty")
    return env[name]


def _from_file(path_text: str, warnings: list[str] | None) -> str:
    path = Path(path_text)
    if not path.is_absolute():
        raise SecretError(f"file: needs an absolute path, got {path_text!r}")
    value = _first_line(path, f"file {path}")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:  # pragma: no cover - it was just read
        mode = 0
    if mode & 0o077 and warnings is not None:
        warnings.append(f"file {path} is readable by group or others (mode {mode:04o}); chmod 600 it")
    return value


def _from_credential(name: str, env: Mapping[str, str]) -> str:
    if not _CRED_NAME.match(name):
        raise SecretError(f"cred: needs a credential name without '/', got {name!r}")
    directory = env.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise SecretError(
            f"cred:{name} needs $CREDENTIALS_DIRECTORY, which systemd sets for LoadCredential=; it is not set"
        )
    return _first_line(Path(directory) / name, f"credential {name}")


def _first_line(path: Path, what: str) -> str:
    try:
        with path.open("r", encoding="utf-8") as handle:
            line = handle.readline()
    except FileNotFoundError:
        raise SecretError(f"{what}: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        # The OS message names the path and the reason, never the content.
        raise SecretError(f"{what}: cannot read {path} ({type(exc).__name__}: {getattr(exc, 'strerror', None) or 'not UTF-8'})") from None
    value = line.rstrip("\r\n")
    if not value:
        raise SecretError(f"{what} is empty")
    return value


# Collected while a configuration is validated; see bridge.config.load_config.
_warnings: ContextVar[list[tuple[str, str]] | None] = ContextVar("casavi_bridge_secret_warnings", default=None)


@contextlib.contextmanager
def collect_warnings() -> Iterator[list[tuple[str, str]]]:
    """Collect ``(field name, warning)`` pairs from secrets resolved inside the block."""
    found: list[tuple[str, str]] = []
    token = _warnings.set(found)
    try:
        yield found
    finally:
        _warnings.reset(token)


def _validate_secret(value: Any, info: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    local: list[str] = []
    try:
        secret = resolve_secret(value, warnings=local)
    except SecretError as exc:
        # The message travels in the context, so braces in paths cannot break the template.
        raise PydanticCustomError("secret_unresolved", "{reason}", {"reason": str(exc)}) from None
    sink = _warnings.get()
    if sink is not None:
        sink.extend((info.field_name or "", message) for message in local)
    return secret


# --------------------------------------------------------------------------- registry

_lock = threading.Lock()
_registry: set[str] = set()
_generation = 0


def register_secret(value: str | Secret | None) -> None:
    """Have the log redaction scrub this value wherever it appears (process-wide)."""
    global _generation
    if isinstance(value, Secret):
        value = value.get_secret_value()
    if not value:
        return
    with _lock:
        if value not in _registry:
            _registry.add(value)
            _generation += 1


def unregister_secret(value: str | Secret | None) -> None:
    """Forget a value (e.g. an expired session token), so the registry does not grow for years."""
    global _generation
    if isinstance(value, Secret):
        value = value.get_secret_value()
    with _lock:
        if value in _registry:
            _registry.discard(value)
            _generation += 1


def registered_secrets() -> tuple[int, frozenset[str]]:
    """``(generation, values)``; the generation changes whenever the set does (for caching)."""
    with _lock:
        return _generation, frozenset(_registry)


def secrets_generation() -> int:
    """The registry's generation alone: what a cache of :func:`registered_secrets` checks on
    every log value, without the lock and the copy of the set (one int read)."""
    return _generation


def clear_registry() -> None:
    """Forget every registered value (tests; a reloaded configuration)."""
    global _generation
    with _lock:
        _registry.clear()
        _generation += 1

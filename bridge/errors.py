"""The one error hierarchy of casavi-bridge.

Every client and connector translates its library's exceptions into these at its
boundary; the sync engine decides what to do from the class alone (never from message
text).  HTTP status codes are classified in exactly one place: :func:`classify_status`.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""


class ConfigError(BridgeError):
    """The configuration is invalid; ``problems`` lists every problem as ``key.path <- message``."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class RetriableError(BridgeError):
    """A temporary failure (429, 5xx, timeout, connection error): trying again later may work.

    ``retry_after`` is the server's minimum wait in seconds, when it gave one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class FatalError(BridgeError):
    """A failure that repeating will not fix (most 4xx, bad credentials, broken contract)."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class RefusedError(FatalError):
    """The counterpart answered as if it took the write but did not store it, or refused it for
    a reason only a person can change: a workflow transition the role may not make, a private
    note saved as public, a field value dropped.  ``setting`` names what to change there
    (e.g. ``Administration » Workflow: Task, Rejected → New``).

    The engine quarantines the one action (retried on its schedule, up to ``max_attempts``);
    the item's other actions go on.
    """

    def __init__(self, message: str, *, setting: str | None = None, status: int | None = None):
        super().__init__(message + (f" (change: {setting})" if setting else ""), status=status)
        self.setting = setting


class DroppedError(RefusedError):
    """The write went through but the counterpart did not store all of it (a private flag, a
    field value, the marker).  What was written is linked and never written again; the entry
    stays listed by ``status`` (kind ``dropped``) and is not retried."""


class SkippedError(DroppedError):
    """The counterpart will take this write on no attempt, for a limit of its own (a file over
    its maximum attachment size, a file type it denies), and a notice in its place says so.
    Nothing is linked: the entry (kind ``dropped``) holds the same write back in every pass, is
    listed by ``status`` until cleared, and ``clear`` lets the next pass try it once more (after
    the limit was raised)."""


class AuthError(FatalError):
    """Credentials were refused (401/403 after a fresh login)."""


class NotFoundError(FatalError):
    """The remote object does not exist (404).  Absence is never deletion: callers report it."""


class SkippableError(BridgeError):
    """This one item cannot be processed (bad payload, too large, refused); the others go on.

    The engine quarantines the one write with this message.
    """


class PayloadTooLargeError(SkippableError):
    """The file or request exceeds what the remote side accepts (e.g. casavi's 10 MB)."""


class ConflictError(BridgeError):
    """The remote side already has an object with this id (409).

    For writes with caller-chosen, deterministic ids this means "already written": the
    applier treats it as success and records the link.
    """

    def __init__(self, message: str, *, status: int | None = 409):
        super().__init__(message)
        self.status = status


class BudgetExceededError(RetriableError):
    """The configured request budget for this pass is used up; the pass stops and resumes later."""


def classify_status(status: int, message: str, *, retry_after: float | None = None) -> BridgeError | None:
    """Map an HTTP status code to the bridge's error class; ``None`` for success (2xx/3xx).

    retriable: 408, 425, 429, 5xx.  409 → ConflictError.  404 → NotFoundError.
    401/403 → AuthError.  413 → PayloadTooLargeError.  Other 4xx → FatalError.
    """
    if status < 400:
        return None
    if status in (408, 425, 429) or status >= 500:
        return RetriableError(message, retry_after=retry_after, status=status)
    if status == 409:
        return ConflictError(message, status=status)
    if status == 404:
        return NotFoundError(message, status=status)
    if status in (401, 403):
        return AuthError(message, status=status)
    if status == 413:
        return PayloadTooLargeError(message)
    return FatalError(message, status=status)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given as seconds or as an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    from datetime import datetime, timezone

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())

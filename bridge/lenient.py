"""Tolerant reading of JSON API payloads, shared by the casavi and relay parsers.  Pure.

Both casavi APIs send ids and numbers as integers or as text, dates with or without a time
zone or milliseconds (or not at all), and lists that may be missing or hold a bad entry.
The rules, the same for both:

- ids and numbers given as int or str become ``str`` (:func:`as_id`);
- a missing or wrongly typed optional field gets its default;
- unparsable dates become ``None``; valid ones aware UTC datetimes;
- a bad entry in a list of sub-records is dropped and described in ``problems``
  (:func:`records`), so one bad comment never costs the whole record;
- fields a parser does not know are kept (:func:`extra_fields`) so nothing is lost.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, TypeVar

from bridge.errors import RetriableError

T = TypeVar("T")

_MAX_DATE_CHARS = 64


class MalformedPayloadError(RetriableError):
    """A whole answer is not what the API promises (not JSON, not a list where one is due).

    Retriable: a proxy's error page answered with 200 is the usual cause, and it passes.
    """


# -- dates -----------------------------------------------------------------------------------


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 text (``...Z``, ``+hh:mm``, ms or not, trailing commas) → aware UTC; else None."""
    if not isinstance(value, str) or len(value) > _MAX_DATE_CHARS:
        return None
    text = value.strip().rstrip(",").strip()
    if len(text) < 10:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def format_datetime(value: datetime) -> str:
    """The APIs' date format: ISO 8601 in UTC with milliseconds and ``Z``; naive means UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    v = value.astimezone(timezone.utc)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond // 1000:03d}Z"
    )


# -- scalars ---------------------------------------------------------------------------------


def as_id(value: Any) -> str | None:
    """An id or number given as text or integer → text; anything else (bool, dict, "") → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value.strip() or None
    number = as_int(value)
    return str(number) if number is not None else None


def as_text(value: Any, default: str = "") -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:  # an integer too long to print
            return default
    return default


def as_opt_text(value: Any) -> str | None:
    text = as_text(value, "")
    return text if text else None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) < 10**18 else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e18:
        return int(value)
    if isinstance(value, str) and len(value) < 30:
        digits = value.strip()
        if digits.lstrip("-").isascii() and digits.lstrip("-").isdigit():
            return int(digits)
    return None


def as_bool(value: Any, default: bool = False) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return default


# -- records ---------------------------------------------------------------------------------


def record_id(obj: Any, what: str) -> str:
    """The id of a record that must have one; ValueError ("property without id") otherwise."""
    found = as_id(obj.get("id")) if isinstance(obj, Mapping) else None
    if found is None:
        raise ValueError(f"{what} without id")
    return found


def records(value: Any, parse: Callable[[Any], T], what: str, problems: list[str]) -> tuple[T, ...]:
    """Each entry of a list parsed on its own; a bad entry (ValueError, TypeError) is dropped
    and described in ``problems``, as is a value that is not a list.  None is no entries."""
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(f"{what} is not a list")
        return ()
    out = []
    for index, entry in enumerate(value):
        try:
            out.append(parse(entry))
        except (ValueError, TypeError) as exc:
            problems.append(f"{what}[{index}] dropped: {exc}")
    return tuple(out)


def extra_fields(obj: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The fields of ``obj`` a parser does not model, kept as they came."""
    return {k: v for k, v in obj.items() if k not in known}

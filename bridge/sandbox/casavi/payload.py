"""Reading casavi request bodies strictly: a field of the wrong type is a 400, as in casavi.

Decision: ids and texts must be JSON strings and file ids JSON integers (the document's
types); a client sending ``"345"`` for a file id or ``20131`` for a ticket id is refused, so
it is proven to send what the document asks for.
"""

from __future__ import annotations

from typing import Any

from bridge.sandbox.casavi.records import InvalidRequest


def optional_str(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{key} must be a string")
    return value


def required_str(payload: dict[str, Any], key: str) -> str:
    value = optional_str(payload, key)
    if value is None or not value.strip():
        raise InvalidRequest(f"{key} is required and must not be empty")
    return value


def optional_bool(payload: dict[str, Any], key: str) -> bool | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidRequest(f"{key} must be a boolean")
    return value


def optional_int(payload: dict[str, Any], key: str) -> int | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{key} must be an integer")
    return value


def str_list(payload: dict[str, Any], key: str) -> list[str]:
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"{key} must be an array of strings")
    return list(value)


def file_id_list(payload: dict[str, Any], key: str) -> list[int]:
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise InvalidRequest(f"{key} must be an array of file ids (integers)")
    unique: list[int] = []
    for file_id in value:
        if file_id not in unique:
            unique.append(file_id)
    return unique

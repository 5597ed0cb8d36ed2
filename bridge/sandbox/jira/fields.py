"""Checking field values the way Jira's create and edit screens do, with Jira's messages.

Every problem becomes one entry of ``errors`` (field id → message) in a 400 answer, exactly
as Jira reports field errors, so the jira library's JIRAError text carries them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Mapping

from bridge.sandbox.jira.catalog import (
    PRIORITIES,
    RESOLUTIONS,
    JiraUser,
    Named,
    by_id_or_name,
)
from bridge.sandbox.jira.screens import CUSTOM_BY_ID, RefusedValue, parse_components, parse_custom


class JiraApiError(Exception):
    """An answer Jira would give instead of a result: status + errorMessages + errors."""

    def __init__(self, status: int, messages: list[str] | str | None = None,
                 errors: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None):
        self.status = status
        self.messages = [messages] if isinstance(messages, str) else list(messages or [])
        self.errors = dict(errors or {})
        self.headers = dict(headers or {})
        super().__init__(f"{status}: {self.messages} {self.errors}")

    def body(self) -> dict[str, Any]:
        return {"errorMessages": self.messages, "errors": self.errors}


def too_long(limit: int) -> str:
    """Jira's answer for a description or comment above the instance's text limit
    (mozilla/jira-bugzilla-integration#180: "description: The entered text is too long. It
    exceeds the allowed limit of 32,767 characters.")."""
    return f"The entered text is too long. It exceeds the allowed limit of {limit:,} characters."


def cannot_set(field_id: str) -> str:
    return f"Field '{field_id}' cannot be set. It is not on the appropriate screen, or unknown."


UserLookup = Callable[[Mapping[str, Any]], JiraUser | None]


class FieldParser:
    """Turns request field values into stored values; collects Jira-style errors."""

    def __init__(self, find_user: UserLookup, cloud: bool, *, text_limit: int = 32767,
                 assignable: Callable[[JiraUser], bool] | None = None):
        self.find_user = find_user
        self.cloud = cloud
        self.text_limit = text_limit
        self.assignable = assignable
        self.errors: dict[str, str] = {}

    def fail_if_errors(self) -> None:
        if self.errors:
            raise JiraApiError(400, [], self.errors)

    def parse(self, field_id: str, value: Any) -> Any:
        """The stored form of ``value`` for ``field_id``; records an error and returns None if bad."""
        custom = CUSTOM_BY_ID.get(field_id)
        try:
            if custom is not None:
                return parse_custom(custom, value, self.find_user, self.cloud, self.text_limit)
            if field_id == "components":
                return parse_components(value, self.cloud)
        except RefusedValue as refused:
            self.errors[field_id] = str(refused)
            return None
        handler = getattr(self, f"_parse_{field_id}", None)
        if handler is None:
            self.errors[field_id] = cannot_set(field_id)
            return None
        return handler(value)

    def _parse_summary(self, value: Any) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.errors["summary"] = "You must specify a summary of the issue."
        elif "\n" in value or "\r" in value:
            self.errors["summary"] = "The summary is invalid because it contains newline characters."
        elif len(value) > 255:
            self.errors["summary"] = "Summary must be less than 255 characters."
        else:
            return value
        return None

    def _parse_description(self, value: Any) -> str | None:
        if isinstance(value, str) and len(value) > self.text_limit:
            self.errors["description"] = too_long(self.text_limit)
            return None
        if value is None or isinstance(value, str):
            return value or None
        self.errors["description"] = "Operation value must be a string"
        return None

    def _parse_labels(self, value: Any) -> list[str] | None:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.errors["labels"] = "Operation value must be an array of strings"
            return None
        for label in value:
            if self._bad_label(label):
                return None
        return list(dict.fromkeys(value))

    def _bad_label(self, label: str) -> bool:
        if not label or " " in label:
            self.errors["labels"] = f"The label '{label}' contains spaces which is invalid."
        elif len(label) > 255:
            self.errors["labels"] = "The label must not exceed 255 characters."
        else:
            return False
        return True

    def _parse_priority(self, value: Any) -> Named | None:
        found = by_id_or_name(PRIORITIES, value, "item_id")
        if found is None:
            name = value.get("name", value.get("id")) if isinstance(value, Mapping) else value
            self.errors["priority"] = f"Priority name '{name}' is not valid"
        return found

    def _parse_assignee(self, value: Any) -> JiraUser | None:
        if value is None:
            return None
        user = self._user(value, "assignee")
        if user is not None and self.assignable is not None and not self.assignable(user):
            # The account exists but lacks "Assignable User" in the project: the whole create or
            # edit is refused (Jira's message for it).
            ident = value.get("accountId") or value.get("name") or value.get("id")
            self.errors["assignee"] = f"User '{ident}' cannot be assigned issues."
            return None
        return user

    def _parse_reporter(self, value: Any) -> JiraUser | None:
        return self._user(value, "reporter")

    def _user(self, value: Any, field_id: str) -> JiraUser | None:
        if not isinstance(value, Mapping):
            self.errors[field_id] = "data was not an object"
            return None
        if self.cloud and "accountId" not in value and "id" not in value:
            # Jira Cloud identifies people by accountId only (no usernames since 2019).
            self.errors[field_id] = "Specify an accountId to identify the user."
            return None
        user = self.find_user(value)
        if user is None:
            ident = value.get("accountId") or value.get("name") or value.get("key") or value.get("id")
            self.errors[field_id] = f"User '{ident}' does not exist."
        return user

    def _parse_issuetype(self, value: Any) -> Named | None:
        """An edit's new issue type (the store checks it is one the issue may change to)."""
        from bridge.sandbox.jira.catalog import ISSUE_TYPES

        found = by_id_or_name(ISSUE_TYPES, value, "item_id")
        if found is None:
            self.errors["issuetype"] = "The issue type selected is invalid."
        return found

    def _parse_duedate(self, value: Any) -> str | None:
        if value in (None, ""):
            return None
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            self.errors["duedate"] = f"Error parsing date string: {value}"
            return None

    def resolution(self, value: Any) -> Named | None:
        found = by_id_or_name(RESOLUTIONS, value, "item_id")
        if found is None:
            name = value.get("name", value.get("id")) if isinstance(value, Mapping) else value
            self.errors["resolution"] = f"Resolution name '{name}' is not valid"
        return found


def _same_item(a: Any, b: Any) -> bool:
    """Whether two entries of a multi-value field name the same thing (by id, name or value)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return any(k in a and k in b and str(a[k]) == str(b[k]) for k in ("id", "name", "value"))
    return a == b


def apply_update_ops(current: Mapping[str, Any], update: Any) -> tuple[dict[str, Any], list[dict]]:
    """Fold an ``update`` object (``{"labels": [{"add": "x"}]}``) into plain field values.

    Returns (field values to parse, comment bodies to add).  ``current`` holds the issue's
    multi-value fields (labels, components, multi-select and labels custom fields) in request
    form, so ``add``/``remove`` work on them; other fields take ``set`` only.
    """
    if update in (None, {}):
        return {}, []
    if not isinstance(update, Mapping):
        raise JiraApiError(400, ["Can not deserialize instance of java.util.LinkedHashMap out of"
                                 " START_ARRAY token"])
    values: dict[str, Any] = {}
    comments: list[dict] = []
    errors: dict[str, str] = {}
    for field_id, operations in update.items():
        if not isinstance(operations, list):
            errors[field_id] = "Operations must be an array"
            continue
        for operation in operations:
            if not isinstance(operation, Mapping) or len(operation) != 1:
                errors[field_id] = "Each operation must be an object with one verb"
                continue
            verb, argument = next(iter(operation.items()))
            if field_id == "comment":
                if verb == "add" and isinstance(argument, Mapping):
                    comments.append(dict(argument))
                else:
                    errors["comment"] = f"Operation '{verb}' is not supported for field 'comment'."
            elif field_id in current and verb in ("add", "remove"):
                entries = list(values.get(field_id, current[field_id]))
                if verb == "add" and not any(_same_item(e, argument) for e in entries):
                    entries.append(argument)
                if verb == "remove":
                    entries = [e for e in entries if not _same_item(e, argument)]
                values[field_id] = entries
            elif verb == "set":
                values[field_id] = argument
            else:
                errors[field_id] = f"Operation '{verb}' is not supported for field '{field_id}'."
    if errors:
        raise JiraApiError(400, [], errors)
    return values, comments

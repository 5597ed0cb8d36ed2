"""A casavi value as the JSON a Jira field takes, by the field's schema.  Pure: no I/O.

Jira describes every field of a create or edit screen (``createmeta``, ``editmeta``) with a
``schema`` (``{"type": "option", "custom": "...:select", "customId": 10100}``; Atlassian's
``JsonTypeBean``) and, for fields with a fixed choice, ``allowedValues``.  The input shapes per
type are Atlassian's ("JIRA REST API examples", creating an issue: custom field values):

==================  ===============================================  ============================
schema type         what the bridge sends                            from a casavi value
==================  ===============================================  ============================
string              ``"text"``                                       its text (a list: "a, b")
number              ``42.5``                                         a number, or text "1.250,50"
date                ``"2025-03-01"``                                 ISO date/time, "01.03.2025"
datetime            ``"2025-03-01T09:30:00.000+0000"``               ISO date/time (no zone: UTC)
option, priority,   ``{"id": "10101"}``: the allowed value whose     its text, matched without
issuetype,          ``value`` / ``name`` matches (sent by id: a      regard to case
component, version, value-only reference has been refused on some
securitylevel       instances, pycontribs/jira#798)
option-with-child   ``{"id": parent, "child": {"id": child}}``       ``[parent, child]`` or
                                                                     "parent > child"
user                ``{"accountId"}`` (Cloud) / ``{"name"}`` (DC)    an e-mail address or a user
                                                                     the ``find_user`` lookup knows
group               ``{"name": "..."}``                              its text
array of string     ``["a", "b"]`` (labels: blanks become ``_``)      a list, or text split at ","
array of X          ``[<X>, ...]``                                   a list, or text split at ","
==================  ===============================================  ============================

An empty value (None, "", []) clears the field (``null``, or ``[]`` for an array).  What Jira
cannot take raises :class:`ValueRefused` with the reason in words (no such option, not a
number, an unsupported type); the caller names the configuration key.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable, Mapping, Sequence

# Single-line text fields take at most 255 characters (Jira: "The entered text is too long");
# multi-line ones the instance's text limit.
TEXTFIELD_MAX = 255
TEXTFIELD = "com.atlassian.jira.plugin.system.customfieldtypes:textfield"
# Types whose allowed values are objects with an id and a value or name.
NAMED_TYPES = frozenset({"option", "priority", "issuetype", "component", "version", "securitylevel",
                         "resolution"})

FindUser = Callable[[str], "Mapping[str, Any] | None"]


class ValueRefused(ValueError):
    """A value the field cannot take; ``str()`` says why, in words an operator can act on."""


@dataclass(frozen=True)
class FieldMeta:
    """One field of a create or edit screen, as ``createmeta``/``editmeta`` describe it."""

    field_id: str
    name: str
    schema_type: str
    items: str | None = None  # for arrays: the type of each item
    custom: str | None = None  # the custom field type's key, e.g. "...customfieldtypes:select"
    allowed: tuple[Mapping[str, Any], ...] | None = None  # None: any value of the type
    operations: frozenset[str] = frozenset({"set"})
    required: bool = False

    @classmethod
    def from_json(cls, field_id: str, raw: Mapping[str, Any]) -> "FieldMeta":
        """From one entry of ``createmeta`` (``values``/``fields`` items) or ``editmeta.fields``."""
        schema = raw.get("schema") or {}
        allowed = raw.get("allowedValues")
        return cls(field_id=str(raw.get("fieldId") or raw.get("key") or field_id),
                   name=str(raw.get("name") or field_id), schema_type=str(schema.get("type") or ""),
                   items=schema.get("items"), custom=schema.get("custom"),
                   allowed=tuple(a for a in allowed if isinstance(a, Mapping)) if isinstance(allowed, list) else None,
                   operations=frozenset(raw.get("operations") or ("set",)), required=bool(raw.get("required")))

    def describe(self) -> str:
        return f"{self.field_id} ({self.name!r})" if self.name != self.field_id else self.field_id


def screen_fields(raw: Any) -> dict[str, FieldMeta]:
    """Field id → :class:`FieldMeta` from a createmeta page (``values`` on Data Center, ``fields``
    on Cloud: lists) or an editmeta answer (``fields``: a map by field id)."""
    if not isinstance(raw, Mapping):
        return {}
    listed = raw.get("values") if raw.get("values") is not None else raw.get("fields")
    if isinstance(listed, Mapping):
        return {str(k): FieldMeta.from_json(str(k), v) for k, v in listed.items() if isinstance(v, Mapping)}
    found: dict[str, FieldMeta] = {}
    for entry in listed or ():
        if isinstance(entry, Mapping):
            meta = FieldMeta.from_json(str(entry.get("fieldId") or entry.get("key") or ""), entry)
            found[meta.field_id] = meta
    return found


# --- text forms ---------------------------------------------------------------------------

def text_of(value: Any) -> str:
    """A value as text: strings stripped, ``true``/``false``, numbers without a needless ".0",
    lists joined with ", ", objects as compact JSON; None is ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(t for t in (text_of(v) for v in value) if t)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return str(value).strip()


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, (list, tuple)) and not any(not is_empty(v) for v in value))


def translated(value: Any, values: Mapping[str, Any]) -> Any:
    """``value`` through an operator's table ``values`` (casavi text → Jira value), element by
    element for a list; the text is looked up as it is, then without regard to case; a value
    not listed passes unchanged."""
    if not values:
        return value
    if isinstance(value, (list, tuple)):
        return [translated(v, values) for v in value]
    text = text_of(value)
    if text in values:
        return values[text]
    folded = {str(k).casefold(): v for k, v in values.items()}
    return folded.get(text.casefold(), value)


# --- conversion ---------------------------------------------------------------------------

def field_value(value: Any, meta: FieldMeta, *, find_user: FindUser | None = None,
                text_limit: int = 32767) -> Any:
    """The JSON ``meta``'s field takes for ``value`` (see the module table); ValueRefused."""
    if meta.schema_type == "array":
        items = _as_list(value, meta)
        if not items:
            return []
        kind = meta.items or "string"
        if kind == "string":
            labels = [_label(text_of(v)) for v in items]
            return list(dict.fromkeys(label for label in labels if label))
        converted = [_one(v, kind, meta, find_user, text_limit) for v in items]
        return [c for c in converted if c is not None]
    if is_empty(value):
        return None
    return _one(value, meta.schema_type, meta, find_user, text_limit)


def _one(value: Any, kind: str, meta: FieldMeta, find_user: FindUser | None, text_limit: int) -> Any:
    if is_empty(value):
        return None
    if kind == "string":
        text = text_of(value)
        limit = TEXTFIELD_MAX if meta.custom == TEXTFIELD else text_limit
        if len(text) > limit:
            raise ValueRefused(f"{len(text)} characters, more than the {limit} {meta.describe()} takes")
        return text
    if kind == "number":
        return _number(value)
    if kind == "date":
        return _date(value).isoformat()
    if kind == "datetime":
        return _datetime(value)
    if kind in NAMED_TYPES:
        return _named(value, kind, meta)
    if kind == "option-with-child":
        return _cascade(value, meta)
    if kind == "user":
        return _user(value, meta, find_user)
    if kind == "group":
        return {"name": text_of(value)}
    raise ValueRefused(f"{meta.describe()} has schema type {kind!r}, which the bridge does not fill "
                       "(it fills string, number, date, datetime, option, option-with-child, user, group, "
                       "priority, issuetype, component, version, securitylevel and arrays of these)")


def _as_list(value: Any, meta: FieldMeta) -> list[Any]:
    """A multi-value input: a list as it is; text split at "," unless it is one allowed value."""
    if is_empty(value):
        return []
    if isinstance(value, (list, tuple)):
        return [v for v in value if not is_empty(v)]
    if isinstance(value, str) and "," in value and not (meta.allowed and _match(value, meta.allowed)):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [value]


def _label(text: str) -> str:
    return "_".join(text.split())


_GERMAN_NUMBER = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$|^[+-]?\d+,\d+$")


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueRefused(f"{text_of(value)} is not a number")
    if isinstance(value, (int, float)):
        number = value
    else:
        text = text_of(value).replace("\u00a0", "").replace(" ", "")
        if _GERMAN_NUMBER.match(text):  # "1.250,50" or "12,5": German notation, as casavi shows it
            text = text.replace(".", "").replace(",", ".")
        elif re.match(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$", text):  # "1,250.50"
            text = text.replace(",", "")
        try:
            number = float(text)
        except ValueError:
            raise ValueRefused(f"{text_of(value)!r} is not a number") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueRefused(f"{text_of(value)} is not a finite number")
    return int(number) if isinstance(number, float) and number.is_integer() and abs(number) < 2**53 else number


def _parse_moment(value: Any) -> date | datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value
    text = text_of(value)
    german = re.match(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$", text)
    try:
        if german:
            return date(int(german[3]), int(german[2]), int(german[1]))
        if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueRefused(f"{text!r} is not a date (expected e.g. 2025-03-01 or 01.03.2025)") from None


def _date(value: Any) -> date:
    moment = _parse_moment(value)
    return moment.date() if isinstance(moment, datetime) else moment


def _datetime(value: Any) -> str:
    """Jira's date-time form ``2025-03-01T09:30:00.000+0000``; a time without zone is UTC."""
    moment = _parse_moment(value)
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")


def _label_of(entry: Mapping[str, Any]) -> str:
    return str(entry.get("value") if entry.get("value") is not None else entry.get("name") or "")


def _match(value: Any, allowed: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The allowed value named by ``value``: by its value or name without regard to case, else
    by its id (or a project's key)."""
    text = text_of(value)
    folded = text.casefold()
    for entry in allowed:
        if _label_of(entry).strip().casefold() == folded:
            return entry
    for entry in allowed:
        if text and text in (str(entry.get("id") or ""), str(entry.get("key") or "")):
            return entry
    return None


def _choices(allowed: Sequence[Mapping[str, Any]]) -> str:
    names = [_label_of(a) for a in allowed if not a.get("disabled")]
    shown = ", ".join(repr(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
    return shown or "none"


def _named(value: Any, kind: str, meta: FieldMeta) -> dict[str, Any]:
    if isinstance(value, Mapping):  # already a Jira reference ({"id": ...} / {"name": ...}) from the table
        return dict(value)
    if meta.allowed is None:
        return {"value": text_of(value)} if kind == "option" else {"name": text_of(value)}
    found = _match(value, meta.allowed)
    if found is None or found.get("disabled"):
        what = {"option": "an option", "component": "a component", "version": "a version",
                "issuetype": "an issue type"}.get(kind, f"a {kind}")
        state = "a disabled option" if found is not None else f"not {what}"
        raise ValueRefused(f"{text_of(value)!r} is {state} of {meta.describe()} (allowed: {_choices(meta.allowed)})")
    return {"id": str(found.get("id"))}


def _cascade(value: Any, meta: FieldMeta) -> dict[str, Any]:
    if isinstance(value, (list, tuple)):
        parts = [text_of(v) for v in value if not is_empty(v)]
    else:
        parts = [p.strip() for p in text_of(value).split(">") if p.strip()]
    if not parts or len(parts) > 2:
        raise ValueRefused(f"{text_of(value)!r} is not 'parent' or 'parent > child' for {meta.describe()}")
    allowed = meta.allowed or ()
    parent = _match(parts[0], allowed)
    if parent is None:
        raise ValueRefused(f"{parts[0]!r} is not an option of {meta.describe()} (allowed: {_choices(allowed)})")
    out: dict[str, Any] = {"id": str(parent.get("id"))}
    if len(parts) == 2:
        children = [c for c in parent.get("children") or () if isinstance(c, Mapping)]
        child = _match(parts[1], children)
        if child is None:
            raise ValueRefused(f"{parts[1]!r} is not an option under {parts[0]!r} of {meta.describe()} "
                               f"(allowed: {_choices(children)})")
        out["child"] = {"id": str(child.get("id"))}
    return out


def _user(value: Any, meta: FieldMeta, find_user: FindUser | None) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    text = text_of(value)
    found = find_user(text) if find_user is not None else None
    if not found:
        raise ValueRefused(f"no Jira user for {text!r} ({meta.describe()} takes a person: give an e-mail "
                           "address Jira knows, or map the value to an account with values = {...})")
    return dict(found)

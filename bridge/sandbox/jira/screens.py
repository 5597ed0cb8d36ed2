"""The Jira sandbox's project components, custom fields and the create/edit screens of each
issue type, with Jira's checks of the values sent for them.

The custom fields are those a property-management project keeps beside summary and description
(a category, an urgency, a cost centre, a damage sum, the trades involved, a report date,
keywords, a contact person, an appointment); one exists without being on any screen, one only
on the Bug screens, so a client is held to ``createmeta``/``editmeta``.  Schemas are Jira's
(``JsonTypeBean``: ``type``, ``items``, ``custom`` — the custom field type's key — and
``customId``), values are stored in one canonical form and shown as Jira shows them.

Jira's answers to values it will not take, by field, as real Jira words them:

- a field not on the screen: "Field 'X' cannot be set. It is not on the appropriate screen,
  or unknown." (:func:`bridge.sandbox.jira.fields.cannot_set`);
- a select given something other than an object: "Could not find valid 'id' or 'value' in the
  Parent Option object." (lesstif/php-jira-rest-client#470, AtlassianPS/JiraPS#56); an unknown
  option: "Option value 'X' is not valid" (getsentry/sentry#13001), "Option id 'X' is not
  valid" (pycontribs/jira#798);
- a number given as text: "Operation value must be a number" (getsentry/sentry-jira#108,
  andygrunwald/go-jira#334);
- an array field given a single value: "data was not an array" (pycontribs/jira#29,
  tenable/integration-jira-cloud#14); an array entry that is no object: "expected Object"
  (guilhemmarchand/TA-jira-service-desk-simple-addon#146);
- a component by an unknown name on Data Center: "Component name 'X' is not valid"
  (magicdude4eva/graylog-jira-alarmcallback#8); on Cloud a component given by name at all,
  for an account that may not administer the project: "You do not have permission to create new
  components. Contact your project admin or Jira admin for assistance." (ankitpokhrel/jira-cli#861:
  only the id works); an unknown id: "Component id 'X' is not valid" (worded like the name case).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Mapping

from bridge.sandbox.jira.catalog import ISSUE_TYPES, JiraUser, Named
from bridge.sandbox.jira.custom_catalog import (COMPONENTS, CUSTOM_BY_ID, CUSTOM_FIELDS, Component, CustomField,
                                                Option)

# System fields on every edit screen; the create screen adds project, issue type, reporter
# (and parent for sub-tasks).
EDIT_SYSTEM = ("summary", "description", "labels", "priority", "assignee", "duedate", "components")
TEXTFIELD_MAX = 255


def edit_screen(issuetype: Named) -> tuple[str, ...]:
    """Field ids the edit screen of ``issuetype`` shows (what ``PUT /issue`` may set)."""
    extra = () if issuetype.subtask else tuple(f.field_id for f in CUSTOM_FIELDS if issuetype.name in f.screens)
    return EDIT_SYSTEM + ("issuetype",) + extra


def create_screen(issuetype: Named) -> tuple[str, ...]:
    """Field ids the create screen of ``issuetype`` shows."""
    base = tuple(f for f in edit_screen(issuetype) if f != "issuetype")
    return ("summary", "issuetype", "project", "reporter") + ("parent",) * issuetype.subtask + \
        tuple(f for f in base if f != "summary")


def issue_type_choices(issuetype: Named) -> list[Named]:
    """The types an issue may be changed to by an edit: those sharing its workflow and field
    configuration (every standard type here; sub-task types among themselves)."""
    return [t for t in ISSUE_TYPES if t.subtask == issuetype.subtask]


# -- values --------------------------------------------------------------------------------

class RefusedValue(Exception):
    """A value Jira refuses for one field; the message is Jira's."""


def _option(ref: Any, options: tuple[Option, ...]) -> Option:
    if not isinstance(ref, Mapping) or not ({"id", "value"} & set(ref)):
        raise RefusedValue("Could not find valid 'id' or 'value' in the Parent Option object.")
    if "id" in ref:
        found = next((o for o in options if o.option_id == str(ref["id"])), None)
        if found is None or found.disabled:
            raise RefusedValue(f"Option id '{ref['id']}' is not valid")
        return found
    found = next((o for o in options if o.value == str(ref["value"])), None)
    if found is None or found.disabled:
        raise RefusedValue(f"Option value '{ref['value']}' is not valid")
    return found


def parse_custom(cf: CustomField, value: Any, find_user: Callable[[Mapping[str, Any]], JiraUser | None],
                 cloud: bool, text_limit: int) -> Any:
    """The stored form of ``value`` for custom field ``cf``; RefusedValue with Jira's words."""
    if value is None or value == [] or (value == "" and cf.kind != "number"):
        return None
    if cf.kind == "option":
        return _option(value, cf.options).option_id
    if cf.kind == "array":
        if not isinstance(value, list):
            raise RefusedValue("data was not an array")
        if cf.items == "string":
            for label in value:
                if not isinstance(label, str) or not label or " " in label:
                    raise RefusedValue(f"The label '{label}' contains spaces which is invalid.")
            return list(dict.fromkeys(value))
        return list(dict.fromkeys(_option(v, cf.options).option_id for v in value))
    if cf.kind == "string":
        if not isinstance(value, str):
            raise RefusedValue("Operation value must be a string")
        limit = TEXTFIELD_MAX if cf.custom_type == "textfield" else text_limit
        if len(value) > limit:
            raise RefusedValue(f"The entered text is too long. It exceeds the allowed limit of {limit:,} characters.")
        return value
    if cf.kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RefusedValue("Operation value must be a number")
        return float(value)
    if cf.kind == "date":
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise RefusedValue(f"Error parsing date string: {value}") from None
    if cf.kind == "datetime":
        try:
            moment = dt.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            raise RefusedValue(f"Error parsing datetime string: {value}") from None
        return int(moment.timestamp() * 1000)
    if cf.kind == "user":
        if not isinstance(value, Mapping):
            raise RefusedValue("data was not an object")
        if cloud and "accountId" not in value:
            raise RefusedValue("Specify an accountId to identify the user.")
        user = find_user(value)
        if user is None:
            raise RefusedValue(f"User '{value.get('accountId') or value.get('name')}' does not exist.")
        return user
    raise RefusedValue(f"Field '{cf.field_id}' cannot be set.")  # pragma: no cover - every kind above


def parse_components(value: Any, cloud: bool) -> list[Component]:
    if not isinstance(value, list):
        raise RefusedValue("data was not an array")
    found: list[Component] = []
    for ref in value:
        if not isinstance(ref, Mapping):
            raise RefusedValue("expected Object")
        if "id" in ref:
            component = next((c for c in COMPONENTS if c.item_id == str(ref["id"])), None)
            if component is None:
                raise RefusedValue(f"Component id '{ref['id']}' is not valid")
        elif cloud:
            raise RefusedValue("You do not have permission to create new components. Contact your project admin "
                              "or Jira admin for assistance.")
        else:
            component = next((c for c in COMPONENTS if c.name == str(ref.get("name"))), None)
            if component is None:
                raise RefusedValue(f"Component name '{ref.get('name', '')}' is not valid")
        if component not in found:
            found.append(component)
    return found


def request_form(cf: CustomField | None, stored: Any) -> Any:
    """A stored multi value in request form (what ``update`` add/remove work on)."""
    if cf is None:  # components
        return [{"id": c.item_id, "name": c.name} for c in stored or []]
    if cf.items == "string":
        return list(stored or [])
    return [{"id": option_id, "value": value_of(cf, option_id)} for option_id in stored or []]


def value_of(cf: CustomField, option_id: str) -> str:
    return next((o.value for o in cf.options if o.option_id == option_id), option_id)


def multi_values(issue: Any, issuetype: Named) -> dict[str, list[Any]]:
    """The multi-value fields of ``issuetype``'s screen in request form, as ``issue`` holds them
    (an issue being created: empty), for ``update`` operations ``add`` and ``remove``."""
    screen = edit_screen(issuetype)
    out: dict[str, list[Any]] = {}
    for field_id in screen:
        cf = CUSTOM_BY_ID.get(field_id)
        if field_id == "labels":
            out[field_id] = list(issue.labels) if issue is not None else []
        elif field_id == "components":
            out[field_id] = request_form(None, issue.components if issue is not None else [])
        elif cf is not None and cf.multi:
            out[field_id] = request_form(cf, issue.custom.get(field_id) if issue is not None else [])
    return out

"""The Jira sandbox's project components and custom fields: plain data (no imports from the rest
of the sandbox, so the catalog and the screens can both use it).  See
:mod:`bridge.sandbox.jira.screens` for the screens that show them and Jira's checks of values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Component:
    """A project component (``ProjectComponent`` / ``ComponentBean``)."""

    item_id: str
    name: str
    description: str


CUSTOM = "com.atlassian.jira.plugin.system.customfieldtypes:"
TASK, BUG = "Task", "Bug"


@dataclass(frozen=True)
class Option:
    option_id: str
    value: str
    disabled: bool = False


@dataclass(frozen=True)
class CustomField:
    field_id: str
    name: str
    kind: str  # schema type: string, number, date, datetime, option, user, array
    custom_type: str  # the custom field type's key after CUSTOM ("select", "textfield", ...)
    items: str | None = None  # for arrays: option, string
    options: tuple[Option, ...] = ()
    screens: frozenset[str] = frozenset()  # issue types whose create and edit screens show it

    @property
    def custom_id(self) -> int:
        return int(self.field_id.rsplit("_", 1)[1])

    @property
    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        if self.items:
            out["items"] = self.items
        out.update({"custom": CUSTOM + self.custom_type, "customId": self.custom_id})
        return out

    @property
    def multi(self) -> bool:
        return self.kind == "array"


COMPONENTS = (
    Component("10200", "Sanitär", "Wasser, Abwasser, Bad und Küche"),
    Component("10201", "Heizung", "Heizung und Warmwasser"),
    Component("10202", "Elektro", "Strom, Licht, Klingel"),
    Component("10203", "Allgemein", "Alles andere"),
)

BOTH = frozenset({TASK, BUG})
CUSTOM_FIELDS = (
    CustomField("customfield_10100", "Kategorie", "option", "select",
                options=(Option("10300", "Reparatur"), Option("10301", "Wartung"), Option("10302", "Billable"),
                         Option("10303", "Verwaltung"), Option("10304", "Altbestand", disabled=True)),
                screens=BOTH),
    CustomField("customfield_10101", "Dringlichkeit", "option", "select",
                options=(Option("10310", "niedrig"), Option("10311", "normal"), Option("10312", "hoch")),
                screens=BOTH),
    CustomField("customfield_10102", "Kostenstelle", "string", "textfield", screens=BOTH),
    CustomField("customfield_10103", "Schadenssumme", "number", "float", screens=frozenset({BUG})),
    CustomField("customfield_10104", "Gewerke", "array", "multiselect", items="option",
                options=(Option("10320", "Sanitär"), Option("10321", "Elektro"), Option("10322", "Heizung"),
                         Option("10323", "Dach"), Option("10324", "Maler")),
                screens=BOTH),
    CustomField("customfield_10105", "Meldedatum", "date", "datepicker", screens=BOTH),
    CustomField("customfield_10106", "Schlagworte", "array", "labels", items="string", screens=BOTH),
    CustomField("customfield_10107", "Ansprechpartner", "user", "userpicker", screens=BOTH),
    CustomField("customfield_10108", "Termin", "datetime", "datetime", screens=BOTH),
    CustomField("customfield_10109", "Versicherungsnummer", "string", "textfield"),  # on no screen
    CustomField("customfield_10110", "Notiz", "string", "textarea", screens=BOTH),
)
CUSTOM_BY_ID = {f.field_id: f for f in CUSTOM_FIELDS}

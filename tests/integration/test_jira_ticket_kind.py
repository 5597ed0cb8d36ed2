"""What kind of ticket it is, end to end against the casavi and Jira sandboxes (both flavours):
casavi ``type`` → issue type, components and labels; ``typeGroup`` and ``customFields`` → Jira
custom and system fields, each converted to the schema Jira's create and edit screens give;
followed when casavi changes them.  A value Jira cannot take fails alone: the ticket is
mirrored, its other fields and its later comments arrive.  The reporter's telephone is in the
header.  Every assertion reads what the Jira sandbox stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from bridge.sandbox.server import start_sandboxes
from tests.integration.test_jira_end_to_end import World

MIRIAM_EMAIL = "miriam.manager@hausverwaltung.example"

FIELD_MAP: dict[str, Any] = {
    "type": {
        "issue_types": {"Wasserschaden": "Bug", "Schaden": "Bug"},
        "components": {"Wasserschaden": ["Sanitär"], "Heizungsausfall": ["Heizung"]},
        "labels": {"Wasserschaden": ["wasser"], "Heizungsausfall": ["heizung"]},
    },
    "type_group": "customfield_10100",  # Kategorie (select)
    "custom_fields": {
        "priority": "customfield_10101",  # Dringlichkeit (select)
        "Schadenssumme": "customfield_10103",  # number, on the Bug screens only
        "Gewerke": "customfield_10104",  # multi-select
        "Meldedatum": "customfield_10105",  # date
        "Kostenstelle": "customfield_10102",  # single-line text
        "Versicherungsfall": {"field": "customfield_10106", "values": {"true": "versichert", "false": ""}},
        "Ansprechpartner": "customfield_10107",  # user picker
        "Termin": "customfield_10108",  # date-time
    },
}


class KindWorld(World):
    def __init__(self, handle, tmp_path: Path, mode: str, field_map: dict[str, Any], **sync: Any):
        super().__init__(handle, tmp_path, mode, jira={"field_map": field_map}, **sync)

    def key_of(self, ticket: str) -> str:
        [issue] = [i for i in self.jira("GET", "/issues") if i["properties"].get("casavi", {}).get("ticketId") == ticket]
        return issue["key"]

    def fields(self, ticket: str) -> dict[str, Any]:
        """The issue as Jira stores it (REST, every field)."""
        return self.bridge.connector.rest.get(f"issue/{self.key_of(ticket)}", {"fields": "*all"})["fields"]

    def new_ticket(self, **fields: Any) -> str:
        tenant = next(iter(self.handle.casavi.store.contacts))
        return self.casavi("POST", "/tickets", {"title": "Wasser im Keller", "status": "OPEN",
                                                "description": "Die Wand ist nass.", "contactId": tenant,
                                                **fields})["id"]


def option(fields: dict[str, Any], field_id: str) -> Any:
    value = fields.get(field_id)
    if isinstance(value, list):
        return [v["value"] for v in value]
    return value["value"] if isinstance(value, dict) else value


@pytest.fixture(params=[("server", "strict"), ("cloud", "strict"), ("server", "lenient"), ("cloud", "lenient")],
                ids=lambda p: "-".join(p))
def world(request, tmp_path) -> Iterator[KindWorld]:
    mode, profile = request.param
    with start_sandboxes(tickets=0, seed=5, apps=("casavi", "jira"), jira_mode=mode, casavi_profile=profile) as handle:
        # Every pass sweeps: comments added after the first pass arrive under casavi's strict reading.
        made = KindWorld(handle, tmp_path, mode, FIELD_MAP, sweep_interval_seconds=0.001)
        made.profile = profile
        try:
            yield made
        finally:
            made.bridge.close()


def test_type_group_and_custom_fields_land_in_jira_fields_and_follow_changes(world):
    ticket = world.new_ticket(type="Wasserschaden", customFields={
        "priority": "hoch", "Schadenssumme": 1250.5, "Gewerke": ["Sanitär", "Elektro"],
        "Meldedatum": "2025-03-01", "Kostenstelle": "KST-4711", "Versicherungsfall": True,
        "Ansprechpartner": MIRIAM_EMAIL, "Termin": "2025-03-04T09:30:00Z", "Unbekannt": "bleibt in casavi"})
    world.sync()
    fields = world.fields(ticket)
    assert fields["issuetype"]["name"] == "Bug"
    assert [c["name"] for c in fields["components"]] == ["Sanitär"]
    assert "wasser" in fields["labels"] and "casavi" in fields["labels"]
    assert option(fields, "customfield_10100") == "Reparatur"  # typeGroup, derived by casavi from the type
    assert option(fields, "customfield_10101") == "hoch"
    assert fields["customfield_10103"] == 1250.5
    assert option(fields, "customfield_10104") == ["Sanitär", "Elektro"]
    assert fields["customfield_10105"] == "2025-03-01"
    assert fields["customfield_10102"] == "KST-4711"
    assert fields["customfield_10106"] == ["versichert"]
    assert fields["customfield_10107"]["displayName"] == "Miriam Manager"
    assert fields["customfield_10108"].startswith("2025-03-04T")
    assert world.sync().differences == 0

    # A person adds a component and a label in Jira; they stay through the type change below.
    key = world.key_of(ticket)
    world.jira("POST", f"/issues/{key}/edit", {"update": {"labels": [{"add": "rueckruf"}],
                                                         "components": [{"add": {"id": "10203"}}]}})
    world.casavi("PUT", f"/tickets/{ticket}", {"type": "Heizungsausfall", "customFields": {
        "priority": "normal", "Gewerke": ["Heizung"], "Versicherungsfall": False}})
    world.sync()
    fields = world.fields(ticket)
    assert fields["issuetype"]["name"] == "Task"  # not listed: [jira] issue_type
    assert sorted(c["name"] for c in fields["components"]) == ["Allgemein", "Heizung"]
    assert "heizung" in fields["labels"] and "wasser" not in fields["labels"] and "rueckruf" in fields["labels"]
    assert option(fields, "customfield_10101") == "normal"
    assert option(fields, "customfield_10104") == ["Heizung"]
    assert not fields["customfield_10106"]  # "false" maps to nothing: the label is gone (Jira shows null)
    assert fields["customfield_10102"] is None  # gone from casavi: cleared
    assert world.sync().differences == 0


def test_the_reporter_telephone_joins_name_and_email_in_the_header(world):
    contact = world.handle.casavi.store.contacts[next(iter(world.handle.casavi.store.contacts))]
    ticket = world.new_ticket(type="Anfrage")
    world.sync()
    description = world.bridge.connector.rest.get(f"issue/{world.key_of(ticket)}", {"fields": "description"},
                                                  )["fields"]["description"]
    text = description if isinstance(description, str) else str(description)
    assert contact["email"] in text and contact["telephone"] in text and contact["lastName"] in text


def test_a_value_jira_cannot_take_fails_alone_and_later_comments_still_arrive(world):
    ticket = world.new_ticket(type="Wasserschaden", customFields={"priority": "sehr hoch", "Kostenstelle": "KST-1"})
    report = world.run()
    [failure] = report.failed.values()
    assert '[jira.field_map.custom_fields] "priority"' in failure and "sehr hoch" in failure
    fields = world.fields(ticket)  # the ticket is mirrored, with everything Jira takes
    assert fields["customfield_10102"] == "KST-1" and fields["customfield_10101"] is None
    assert fields["issuetype"]["name"] == "Bug"

    world.casavi("POST", f"/tickets/{ticket}/comments", {"text": "Bitte schnell kommen."})
    world.casavi("PUT", f"/tickets/{ticket}", {"customFields": {"priority": "sehr hoch", "Kostenstelle": "KST-2"}})
    report = world.run()
    assert report.counts["held"] >= 1  # the refused write waits; the others go on
    fields = world.fields(ticket)
    assert fields["customfield_10102"] == "KST-2"
    assert fields["comment"]["total"] == 1

    world.casavi("PUT", f"/tickets/{ticket}", {"customFields": {"priority": "hoch", "Kostenstelle": "KST-2"}})
    world.sync()  # a new value is a new write: tried at once
    assert option(world.fields(ticket), "customfield_10101") == "hoch"
    assert world.sync().differences == 0

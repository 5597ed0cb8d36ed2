"""The Jira sandbox's components, custom fields and screens, held to Atlassian's documents
(createmeta, editmeta, field list, components as the OpenAPI extracts describe them) and to
Jira's refusals by field; and ``check`` of a ``[jira.field_map]`` against them, read-only."""

from __future__ import annotations

from tests.contract.connector_contract import check_all

from typing import Any

import pytest

from tests.contract.test_jira_as_jira_behaves import connector_for
from tests.contract.test_jira_sandbox_openapi import Flavour, cloud_doc, dc_doc, jira  # noqa: F401 - fixtures

CF = "com.atlassian.jira.plugin.system.customfieldtypes:"


def create_meta(jira: Flavour, issue_type_id: str) -> dict[str, dict[str, Any]]:
    page = jira.ok("GET", f"/issue/createmeta/{jira.project}/issuetypes/{issue_type_id}",
                   params={"maxResults": 200})
    listed = page["fields"] if jira.cloud else page["values"]  # Cloud: PageOfCreateMetaIssueTypeWithField
    return {f["fieldId"]: f for f in listed}


def refusal(jira: Flavour, method: str, path: str, body: dict) -> dict[str, str]:
    return jira.doc.check_error(jira.call(method, path, json=body), 400)["errors"]


def test_field_list_names_custom_fields_with_their_schemas(jira: Flavour) -> None:
    fields = {f["id"]: f for f in jira.ok("GET", "/field")}
    select = fields["customfield_10101"]
    assert select["custom"] is True and select["name"] == "Dringlichkeit"
    assert select["schema"] == {"type": "option", "custom": CF + "select", "customId": 10101}
    assert select["clauseNames"] == ["cf[10101]", "Dringlichkeit"]
    assert fields["customfield_10104"]["schema"]["items"] == "option"
    assert fields["components"]["schema"] == {"type": "array", "system": "components", "items": "component"}
    assert fields["summary"]["custom"] is False


def test_create_screens_differ_per_issue_type_and_list_allowed_values(jira: Flavour) -> None:
    task, bug, sub = create_meta(jira, "10001"), create_meta(jira, "10003"), create_meta(jira, "10002")
    assert "customfield_10103" in bug and "customfield_10103" not in task  # Schadenssumme: Bug only
    assert "customfield_10109" not in task and "customfield_10109" not in bug  # on no screen
    assert not any(f.startswith("customfield_") for f in sub)
    options = task["customfield_10101"]["allowedValues"]
    assert [o["value"] for o in options] == ["niedrig", "normal", "hoch"]
    assert options[0]["self"].endswith("/customFieldOption/10310")
    assert [c["name"] for c in task["components"]["allowedValues"]] == ["Sanitär", "Heizung", "Elektro", "Allgemein"]
    assert task["components"]["operations"] == ["add", "set", "remove"]
    assert task["summary"]["required"] is True and task["customfield_10101"]["required"] is False


def test_project_components_are_listed(jira: Flavour) -> None:
    components = jira.ok("GET", f"/project/{jira.project}/components")
    assert [(c["id"], c["name"]) for c in components][:2] == [("10200", "Sanitär"), ("10201", "Heizung")]
    project = jira.ok("GET", f"/project/{jira.project}")
    assert [c["name"] for c in project["components"]] == [c["name"] for c in components]


def test_custom_values_are_stored_and_shown_as_jira_shows_them(jira: Flavour) -> None:
    key = jira.new_issue(issuetype={"id": "10003"}, components=[{"id": "10200"}], customfield_10101={"value": "hoch"},
                         customfield_10103=1250.5, customfield_10104=[{"id": "10320"}, {"value": "Dach"}],
                         customfield_10105="2025-03-01", customfield_10106=["versichert"],
                         customfield_10108="2025-03-04T09:30:00.000+0100")["key"]
    fields = jira.ok("GET", f"/issue/{key}")["fields"]
    assert fields["customfield_10101"]["value"] == "hoch" and fields["customfield_10101"]["id"] == "10312"
    assert fields["customfield_10103"] == 1250.5
    assert [o["value"] for o in fields["customfield_10104"]] == ["Sanitär", "Dach"]
    assert fields["customfield_10105"] == "2025-03-01" and fields["customfield_10106"] == ["versichert"]
    assert fields["customfield_10108"].startswith("2025-03-04T")
    assert [c["name"] for c in fields["components"]] == ["Sanitär"]
    assert fields["customfield_10102"] is None  # not set: null, as Jira shows an empty custom field


def test_editmeta_describes_the_edit_screen_and_the_types_an_issue_may_change_to(jira: Flavour) -> None:
    key = jira.new_issue()["key"]
    meta = jira.ok("GET", f"/issue/{key}/editmeta")["fields"]
    assert "customfield_10101" in meta and "customfield_10103" not in meta  # a Task
    assert {t["name"] for t in meta["issuetype"]["allowedValues"]} == {"Task", "Bug"}
    expanded = jira.ok("GET", f"/issue/{key}", params={"fields": "issuetype", "expand": "editmeta"})
    assert set(expanded["editmeta"]["fields"]) == set(meta)
    jira.call("PUT", f"/issue/{key}", json={"fields": {"issuetype": {"id": "10003"}}}).raise_for_status()
    assert "customfield_10103" in jira.ok("GET", f"/issue/{key}/editmeta")["fields"]  # now a Bug
    assert refusal(jira, "PUT", f"/issue/{key}", {"fields": {"issuetype": {"id": "10002"}}}) == {
        "issuetype": "The issue type selected is invalid."}  # a sub-task type needs a move


def test_components_and_multi_selects_take_add_and_remove(jira: Flavour) -> None:
    key = jira.new_issue(components=[{"id": "10200"}], customfield_10104=[{"id": "10320"}])["key"]
    jira.call("PUT", f"/issue/{key}", json={"update": {
        "components": [{"remove": {"id": "10200"}}, {"add": {"id": "10201"}}],
        "customfield_10104": [{"add": {"id": "10323"}}]}}).raise_for_status()
    fields = jira.ok("GET", f"/issue/{key}")["fields"]
    assert [c["name"] for c in fields["components"]] == ["Heizung"]
    assert [o["value"] for o in fields["customfield_10104"]] == ["Sanitär", "Dach"]


def test_values_jira_will_not_take_are_refused_by_field_in_jira_words(jira: Flavour) -> None:
    key = jira.new_issue()["key"]
    assert refusal(jira, "PUT", f"/issue/{key}", {"fields": {
        "customfield_10101": {"value": "sehr hoch"}, "customfield_10100": "Reparatur",
        "customfield_10104": {"id": "10320"}, "customfield_10109": "V-1", "customfield_10103": 5}}) == {
        "customfield_10101": "Option value 'sehr hoch' is not valid",
        "customfield_10100": "Could not find valid 'id' or 'value' in the Parent Option object.",
        "customfield_10104": "data was not an array",
        "customfield_10109": "Field 'customfield_10109' cannot be set. It is not on the appropriate screen, or unknown.",
        "customfield_10103": "Field 'customfield_10103' cannot be set. It is not on the appropriate screen, or unknown.",
    }
    bug = jira.new_issue(issuetype={"name": "Bug"})["key"]
    assert refusal(jira, "PUT", f"/issue/{bug}", {"fields": {"customfield_10103": "1250,5"}}) == {
        "customfield_10103": "Operation value must be a number"}
    assert refusal(jira, "PUT", f"/issue/{key}", {"fields": {"customfield_10100": {"id": "10304"}}}) == {
        "customfield_10100": "Option id '10304' is not valid"}  # a disabled option
    named = refusal_or_none(jira, "PUT", f"/issue/{key}", {"fields": {"components": [{"name": "Sanitär"}]}})
    if jira.cloud:  # Cloud takes components by id only for an account that may not administer the project
        assert named == {"components": "You do not have permission to create new components. Contact your project "
                                       "admin or Jira admin for assistance."}
    else:
        assert named == {}
        assert refusal(jira, "PUT", f"/issue/{key}", {"fields": {"components": [{"name": "Dach"}]}}) == {
            "components": "Component name 'Dach' is not valid"}
    assert refusal(jira, "PUT", f"/issue/{key}", {"fields": {"components": [{"id": "99"}]}}) == {
        "components": "Component id '99' is not valid"}
    assert jira.ok("GET", f"/issue/{key}")["fields"]["customfield_10101"] is None  # nothing was stored


def refusal_or_none(jira: Flavour, method: str, path: str, body: dict) -> dict[str, str]:
    answer = jira.call(method, path, json=body)
    return {} if answer.status_code < 300 else jira.doc.check_error(answer, 400)["errors"]


# -- check ---------------------------------------------------------------------------------

@pytest.fixture(params=["server", "cloud"])
def sandbox(request: pytest.FixtureRequest):
    return request.getfixturevalue(f"jira_{request.param}_sandbox")


GOOD = {"type": {"issue_types": {"Wasserschaden": "Bug"}, "components": {"Wasserschaden": ["Sanitär"]},
                 "labels": {"Wasserschaden": ["wasser"]}},
        "type_group": "customfield_10100",
        "custom_fields": {"priority": {"field": "customfield_10101", "values": {"sehr hoch": "hoch"}},
                          "Kostenstelle": "customfield_10102"}}


def test_check_is_clean_for_a_field_map_jira_takes(sandbox):
    assert check_all(connector_for(sandbox, field_map=GOOD)) == []


def test_check_names_each_mapped_field_and_value_jira_lacks_with_its_key_path(sandbox):
    bad = {"type": {"issue_types": {"Wasserschaden": "Bug", "Gutachten": "Epic"},
                    "components": {"Heizungsausfall": ["Heizung", "Lüftung"]}},
           "type_group": "customfield_10100",
           "custom_fields": {"priority": {"field": "customfield_10101", "values": {"sehr hoch": "dringend"}},
                             "Schadenssumme": "customfield_10103", "Versicherung": "customfield_10109",
                             "Gibt es nicht": "customfield_99999"}}
    problems = check_all(connector_for(sandbox, field_map=bad))
    text = "\n".join(problems)
    assert '[jira.field_map.type] issue_types "Gutachten" <- project OPS has no issue type \'Epic\'' in text
    assert '[jira.field_map.type] components "Heizungsausfall" <- \'Lüftung\' is not a component' in text
    assert '[jira.field_map.custom_fields] "priority" values <- \'dringend\' is not an option' in text
    assert ('[jira.field_map.custom_fields] "Schadenssumme" <- field \'customfield_10103\' is not on the create '
            "screen of issue type 'Task'") in text  # on the Bug screens only
    assert '[jira.field_map.custom_fields] "Versicherung" <- field \'customfield_10109\'' in text
    assert '[jira.field_map.custom_fields] "Gibt es nicht" <- field \'customfield_99999\'' in text
    assert not any("type_group" in p for p in problems)

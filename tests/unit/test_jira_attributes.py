"""casavi type, typeGroup and customFields on Jira's side (connectors/jira/attributes.py): the
configuration, what a create sends, what a change edits, what ``check`` names.  Jira's answers
are literals in the shapes of the sandbox (and Jira): a project with issue types, createmeta
pages, an issue read with ``expand=editmeta``."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bridge.errors import RefusedError
from connectors.jira.attributes import AttributeWriter
from connectors.jira.config import JiraSettings

CF = "com.atlassian.jira.plugin.system.customfieldtypes:"
OPTIONS = [{"value": "Reparatur", "id": "10300"}, {"value": "Wartung", "id": "10301"}]
COMPONENTS = [{"id": "10200", "name": "Sanitär"}, {"id": "10201", "name": "Heizung"}, {"id": "10203", "name": "Allgemein"}]


def field(field_id: str, kind: str, *, items: str | None = None, allowed=None, name: str | None = None) -> dict:
    out = {"fieldId": field_id, "key": field_id, "name": name or field_id, "required": False, "operations": ["set"],
           "schema": {"type": kind, **({"items": items} if items else {})}}
    if allowed is not None:
        out["allowedValues"] = allowed
    return out


SCREEN = [field("summary", "string"), field("labels", "array", items="string"),
          field("components", "array", items="component", allowed=COMPONENTS),
          field("customfield_10100", "option", allowed=OPTIONS, name="Kategorie"),
          field("customfield_10102", "string", name="Kostenstelle")]
BUG_SCREEN = SCREEN + [field("customfield_10103", "number", name="Schadenssumme")]


class FakeJira:
    """Answers the reads AttributeWriter makes; records nothing else."""

    def __init__(self):
        self.issue: dict[str, Any] = {"fields": {"issuetype": {"name": "Bug"}, "labels": ["casavi", "wasser", "eigenes"],
                                                 "components": [{"id": "10200", "name": "Sanitär"},
                                                                {"id": "10203", "name": "Allgemein"}]},
                                      "editmeta": {"fields": {f["key"]: {k: v for k, v in f.items() if k != "fieldId"}
                                                              for f in BUG_SCREEN + [field("issuetype", "issuetype", allowed=[
                                                                  {"id": "10001", "name": "Task"},
                                                                  {"id": "10003", "name": "Bug"}])]}}}
        self.reads: list[str] = []

    def get(self, path: str, params: dict | None = None) -> Any:
        self.reads.append(path)
        if path == "project/OPS":
            return {"issueTypes": [{"id": "10001", "name": "Task"}, {"id": "10002", "name": "Sub-task", "subtask": True},
                                   {"id": "10003", "name": "Bug"}]}
        if path == "issue/createmeta/OPS/issuetypes/10001":
            return {"startAt": 0, "maxResults": 200, "total": len(SCREEN), "values": SCREEN}
        if path == "issue/createmeta/OPS/issuetypes/10003":
            return {"startAt": 0, "maxResults": 200, "total": len(BUG_SCREEN), "fields": BUG_SCREEN}  # Cloud's key
        if path.endswith("/editmeta"):
            return self.issue["editmeta"]
        if path.startswith("issue/"):
            return self.issue
        raise AssertionError(path)


def settings(**field_map: Any) -> JiraSettings:
    return JiraSettings(url="https://jira.example", user="bridge@example.com", token="t", project="OPS",
                        field_map=field_map)


FIELD_MAP = {"type": {"issue_types": {"Wasserschaden": "Bug"},
                      "components": {"Wasserschaden": ["Sanitär"], "Heizungsausfall": ["Heizung"]},
                      "labels": {"Wasserschaden": ["wasser"], "Heizungsausfall": ["heizung"]}},
             "type_group": "customfield_10100",
             "custom_fields": {"Kostenstelle": "customfield_10102", "Schadenssumme": "customfield_10103",
                               "Kategorie alt": {"field": "customfield_10104", "values": {"x": "y"}}}}


def writer(fake: FakeJira, **field_map: Any) -> AttributeWriter:
    return AttributeWriter(settings(**(field_map or FIELD_MAP)), fake.get, lambda text: {"accountId": text})


# -- configuration -------------------------------------------------------------------------

def test_a_plain_string_names_the_field_and_a_table_adds_values():
    fm = settings(type_group="customfield_10100",
                  custom_fields={"priority": {"field": "priority", "values": {"hoch": "High"}}}).field_map
    assert fm.type_group.field == "customfield_10100" and fm.type_group.values == {}
    assert fm.custom_fields["priority"].values == {"hoch": "High"}


@pytest.mark.parametrize("bad, words", [
    ({"type_group": "labels"}, "written by the bridge itself"),
    ({"custom_fields": {"a": "summary"}}, "written by the bridge itself"),
    ({"type_group": "customfield_1", "custom_fields": {"a": "customfield_1"}}, "already filled from type_group"),
    ({"type": {"components": {"X": ["A"]}}, "custom_fields": {"a": "components"}}, "type.components"),
    ({"custom_fields": {"a": "custom field 1"}}, "pattern"),
    ({"custom_fields": {"a": {"field": "customfield_1", "colour": "red"}}}, "colour"),
])
def test_configuration_mistakes_are_named(bad, words):
    with pytest.raises(ValidationError, match=words):
        settings(**bad)


def test_the_followed_attributes_are_those_mapped_each_with_a_digest_of_its_mapping():
    names = writer(FakeJira()).names
    assert set(names) == {"type", "typeGroup", "customFields.Kostenstelle", "customFields.Schadenssumme",
                          "customFields.Kategorie alt"}
    other = AttributeWriter(settings(**{**FIELD_MAP, "type_group": "customfield_10109"}), FakeJira().get, dict).names
    assert other["typeGroup"] != names["typeGroup"] and other["type"] == names["type"]


# -- create --------------------------------------------------------------------------------

def test_a_create_sends_what_the_create_screen_of_the_mapped_issue_type_takes():
    plan = writer(FakeJira()).for_create({"type": "Wasserschaden", "typeGroup": "Reparatur",
                                          "customFields.Kostenstelle": "KST-1", "customFields.Schadenssumme": "1.250,50",
                                          "customFields.Kategorie alt": "x"})
    assert plan.issue_type == "Bug"
    assert plan.fields == {"components": [{"id": "10200"}], "customfield_10100": {"id": "10300"},
                           "customfield_10102": "KST-1", "customfield_10103": 1250.5}
    assert plan.labels == ["wasser"]
    # customfield_10104 is on no create screen: left out, written (and refused) by the step after.
    assert plan.stored == {"type", "typeGroup", "customFields.Kostenstelle", "customFields.Schadenssumme"}


def test_a_value_the_create_screen_cannot_take_is_left_to_the_step_after_the_create():
    plan = writer(FakeJira()).for_create({"type": "Anfrage", "typeGroup": "Sonderauftrag",
                                          "customFields.Schadenssumme": 17})
    assert plan.issue_type == "Task" and "customfield_10100" not in plan.fields
    assert "typeGroup" not in plan.stored  # no such option
    assert "customFields.Schadenssumme" not in plan.stored  # not on the Task screen
    assert "type" in plan.stored  # Anfrage: default issue type, no components, no labels


def test_a_field_jira_refuses_at_create_is_dropped_and_its_attribute_not_stored():
    plan = writer(FakeJira()).for_create({"type": "Wasserschaden", "typeGroup": "Reparatur"})
    assert plan.drop("customfield_10100", "Task") and "typeGroup" not in plan.stored
    assert plan.drop("issuetype", "Task") and plan.issue_type == "Task" and "type" not in plan.stored
    assert not plan.drop("summary", "Task")  # not ours: the create's own refusal


# -- edit ----------------------------------------------------------------------------------

def sent(fake: FakeJira, name: str, value: Any, **field_map: Any) -> dict:
    bodies: list[dict] = []
    writer(fake, **field_map).write("10001", name, value, bodies.append)
    return bodies[0] if bodies else {}


def test_a_type_change_swaps_issue_type_and_the_type_components_and_labels_people_keep_theirs():
    body = sent(FakeJira(), "type", "Heizungsausfall")
    assert body["fields"] == {"issuetype": {"id": "10001"}}  # not listed: [jira] issue_type "Task"
    assert body["update"]["components"] == [{"remove": {"id": "10200"}}, {"add": {"id": "10201"}}]
    assert body["update"]["labels"] == [{"remove": "wasser"}, {"add": "heizung"}]  # "eigenes" stays


def test_an_unchanged_type_sends_nothing():
    assert sent(FakeJira(), "type", "Wasserschaden") == {}


def test_a_custom_field_edit_converts_by_the_edit_screen():
    assert sent(FakeJira(), "typeGroup", "wartung") == {"fields": {"customfield_10100": {"id": "10301"}}}
    assert sent(FakeJira(), "customFields.Kostenstelle", None) == {"fields": {"customfield_10102": None}}


def test_a_value_jira_cannot_take_is_refused_naming_the_key():
    with pytest.raises(RefusedError) as refused:
        sent(FakeJira(), "typeGroup", "Sonderauftrag")
    assert str(refused.value).startswith("jira: [jira.field_map] type_group <- casavi value 'Sonderauftrag'")
    assert "'Reparatur', 'Wartung'" in str(refused.value)


def test_a_field_not_on_the_edit_screen_is_refused_naming_the_key_and_the_issue_type():
    with pytest.raises(RefusedError, match=r'\[jira.field_map.custom_fields\] "Kategorie alt" <- field '
                                           r"'customfield_10104' is not on the edit screen of issue type 'Bug'"):
        sent(FakeJira(), "customFields.Kategorie alt", "x")


def test_an_issue_type_jira_will_not_change_to_is_refused_naming_the_key():
    fake = FakeJira()
    fake.issue["editmeta"]["fields"]["issuetype"]["allowedValues"] = [{"id": "10003", "name": "Bug"}]
    with pytest.raises(RefusedError, match=r"\[jira\] issue_type <- issue type 'Task' for casavi type 'Anfrage'"):
        sent(fake, "type", "Anfrage")


def test_a_component_the_project_lacks_is_refused_naming_the_key():
    with pytest.raises(RefusedError, match=r'\[jira.field_map.type\] components "Heizungsausfall" <- .*Dach'):
        sent(FakeJira(), "type", "Heizungsausfall", type={"components": {"Heizungsausfall": ["Dach"]}})


# -- check ---------------------------------------------------------------------------------

def test_check_names_every_mismatch_with_its_key_path():
    field_map = {**FIELD_MAP, "type": {"issue_types": {"Wasserschaden": "Bug", "Gutachten": "Epic"},
                                       "components": {"Wasserschaden": ["Sanitär", "Dach"]}},
                 "custom_fields": {**FIELD_MAP["custom_fields"],
                                   "Stufe": {"field": "customfield_10100", "values": {"a": "Reparatur", "b": "Neu"}}},
                 "type_group": None}
    problems = writer(FakeJira(), **field_map).problems()
    text = "\n".join(problems)
    assert '[jira.field_map.type] issue_types "Gutachten" <- project OPS has no issue type \'Epic\'' in text
    assert '[jira.field_map.type] components "Wasserschaden" <- \'Dach\' is not a component' in text
    assert ('[jira.field_map.custom_fields] "Schadenssumme" <- field \'customfield_10103\' is not on the create '
            "screen of issue type 'Task'") in text
    assert '[jira.field_map.custom_fields] "Kategorie alt" <- field \'customfield_10104\'' in text
    assert '[jira.field_map.custom_fields] "Stufe" values <- \'Neu\' is not an option' in text
    assert not any('"Kostenstelle"' in p for p in problems)
    assert all(p.startswith("jira: [jira") for p in problems)


def test_check_compares_the_edit_screen_as_an_issue_of_the_type_shows_it():
    fake = FakeJira()
    del fake.issue["editmeta"]["fields"]["customfield_10102"]
    problems = writer(fake).problems(lambda issue_type: "OPS-7" if issue_type == "Bug" else None)
    assert ('jira: [jira.field_map.custom_fields] "Kostenstelle" <- field \'customfield_10102\' is not on the edit '
            "screen of issue type 'Bug' (as OPS-7 shows it)") in "\n".join(problems)
    assert "issue/OPS-7/editmeta" in fake.reads


def test_an_issue_type_without_issues_leaves_its_edit_screen_uncompared_as_a_note():
    attributes = writer(FakeJira())
    attributes.problems(lambda issue_type: None)
    assert [n for n in attributes.notes if "'Bug'" in n] == [
        "jira: [jira.field_map]: the edit screen of issue type 'Bug' was not compared (no issue of that type in "
        "the project yet); Jira names what it refuses per write"]

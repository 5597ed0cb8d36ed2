"""A casavi value as the JSON a Jira field takes, per schema type (connectors/jira/field_values.py).

The field descriptions are shaped as Jira's createmeta/editmeta give them (schemas from
Atlassian's JsonTypeBean; option entries as Jira lists them in ``allowedValues``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.jira.field_values import (FieldMeta, ValueRefused, field_value, screen_fields, text_of,
                                          translated)

CF = "com.atlassian.jira.plugin.system.customfieldtypes:"


def meta(kind: str, *, items: str | None = None, custom: str | None = None, allowed=None) -> FieldMeta:
    schema = {"type": kind, **({"items": items} if items else {}), **({"custom": CF + custom} if custom else {})}
    raw = {"fieldId": "customfield_10101", "name": "Dringlichkeit", "schema": schema, "operations": ["set"],
           "required": False}
    if allowed is not None:
        raw["allowedValues"] = allowed
    return FieldMeta.from_json("customfield_10101", raw)


OPTIONS = [{"self": "http://jira/rest/api/2/customFieldOption/10310", "value": "niedrig", "id": "10310"},
           {"self": "http://jira/rest/api/2/customFieldOption/10311", "value": "normal", "id": "10311"},
           {"self": "http://jira/rest/api/2/customFieldOption/10312", "value": "hoch", "id": "10312"},
           {"self": "http://jira/rest/api/2/customFieldOption/10313", "value": "alt", "id": "10313",
            "disabled": True}]
COMPONENTS = [{"self": "http://jira/rest/api/2/component/10200", "id": "10200", "name": "Sanitär"},
              {"self": "http://jira/rest/api/2/component/10201", "id": "10201", "name": "Heizung"}]


# -- string --------------------------------------------------------------------------------

def test_string_takes_the_value_as_text():
    assert field_value("  KST-4711 ", meta("string", custom="textfield")) == "KST-4711"
    assert field_value(4711, meta("string", custom="textfield")) == "4711"
    assert field_value(["Sanitär", "Elektro"], meta("string", custom="textarea")) == "Sanitär, Elektro"
    assert field_value(True, meta("string")) == "true"


def test_single_line_text_above_255_characters_is_refused_not_cut():
    with pytest.raises(ValueRefused, match="255"):
        field_value("x" * 256, meta("string", custom="textfield"))
    assert len(field_value("x" * 256, meta("string", custom="textarea"))) == 256


def test_an_empty_value_clears_the_field():
    assert field_value(None, meta("string")) is None
    assert field_value("  ", meta("option", allowed=OPTIONS)) is None
    assert field_value([], meta("array", items="option", allowed=OPTIONS)) == []
    assert field_value(None, meta("array", items="string")) == []


# -- number --------------------------------------------------------------------------------

@pytest.mark.parametrize("given_value, expected", [
    (1250.5, 1250.5), (42, 42), (42.0, 42), ("1250.5", 1250.5), ("1.250,50", 1250.5), ("12,5", 12.5),
    ("1,250.50", 1250.5), (" 17 ", 17), ("-3", -3),
])
def test_number_takes_numbers_and_numeric_text_in_either_notation(given_value, expected):
    assert field_value(given_value, meta("number", custom="float")) == expected


@pytest.mark.parametrize("bad", ["viel", True, "1.2.3", "nan", "inf"])
def test_number_refuses_what_is_no_number(bad):
    with pytest.raises(ValueRefused):
        field_value(bad, meta("number"))


# -- date, date-time -----------------------------------------------------------------------

@pytest.mark.parametrize("given_value", ["2025-03-01", "01.03.2025", "1.3.2025", "2025-03-01T22:30:00Z"])
def test_date_is_iso_from_iso_or_german_notation(given_value):
    assert field_value(given_value, meta("date", custom="datepicker")) == "2025-03-01"


def test_datetime_is_jira_form_with_a_zone_and_utc_when_none_is_given():
    assert field_value("2025-03-04T09:30:00+01:00", meta("datetime")) == "2025-03-04T09:30:00.000+0100"
    assert field_value("2025-03-04T09:30:00", meta("datetime")) == "2025-03-04T09:30:00.000+0000"
    assert field_value("2025-03-04", meta("datetime")) == "2025-03-04T00:00:00.000+0000"


def test_a_date_that_is_none_is_refused():
    with pytest.raises(ValueRefused, match="not a date"):
        field_value("nächste Woche", meta("date"))


# -- options and named values ----------------------------------------------------------------

def test_option_is_sent_by_id_matched_by_value_without_regard_to_case():
    assert field_value("HOCH", meta("option", custom="select", allowed=OPTIONS)) == {"id": "10312"}
    assert field_value("10311", meta("option", allowed=OPTIONS)) == {"id": "10311"}  # an id works too


def test_an_option_jira_does_not_offer_is_refused_with_the_choices():
    with pytest.raises(ValueRefused) as refused:
        field_value("sehr hoch", meta("option", allowed=OPTIONS))
    assert "'sehr hoch' is not an option of customfield_10101 ('Dringlichkeit')" in str(refused.value)
    assert "'niedrig', 'normal', 'hoch'" in str(refused.value) and "'alt'" not in str(refused.value)


def test_a_disabled_option_is_refused():
    with pytest.raises(ValueRefused, match="disabled"):
        field_value("alt", meta("option", allowed=OPTIONS))


def test_option_without_allowed_values_is_sent_by_value():
    assert field_value("hoch", meta("option")) == {"value": "hoch"}
    assert field_value("High", meta("priority")) == {"name": "High"}


def test_multi_select_takes_a_list_or_text_split_at_commas():
    multi = meta("array", items="option", custom="multiselect", allowed=OPTIONS)
    assert field_value(["niedrig", "hoch"], multi) == [{"id": "10310"}, {"id": "10312"}]
    assert field_value("niedrig, hoch", multi) == [{"id": "10310"}, {"id": "10312"}]
    assert field_value("normal", multi) == [{"id": "10311"}]


def test_an_option_containing_a_comma_is_not_split():
    multi = meta("array", items="option", allowed=[{"id": "1", "value": "Heizung, Lüftung"}])
    assert field_value("Heizung, Lüftung", multi) == [{"id": "1"}]


def test_components_are_sent_by_id_from_their_names():
    components = meta("array", items="component", allowed=COMPONENTS)
    assert field_value(["sanitär", "Heizung"], components) == [{"id": "10200"}, {"id": "10201"}]
    with pytest.raises(ValueRefused, match="not a component"):
        field_value(["Dach"], components)


def test_cascading_select_takes_parent_and_child():
    cascade = meta("option-with-child", custom="cascadingselect", allowed=[
        {"id": "1", "value": "Haus A", "children": [{"id": "11", "value": "Keller"}, {"id": "12", "value": "Dach"}]}])
    assert field_value("Haus A > Dach", cascade) == {"id": "1", "child": {"id": "12"}}
    assert field_value(["Haus A", "Keller"], cascade) == {"id": "1", "child": {"id": "11"}}
    assert field_value("Haus A", cascade) == {"id": "1"}
    with pytest.raises(ValueRefused, match="not an option under 'Haus A'"):
        field_value("Haus A > Garten", cascade)


# -- labels, people, groups, unknown types ---------------------------------------------------

def test_labels_get_underscores_for_blanks_and_no_duplicates():
    labels = meta("array", items="string", custom="labels")
    assert field_value(["Feuchte Wand", "dringend", "dringend"], labels) == ["Feuchte_Wand", "dringend"]
    assert field_value("dringend, versichert", labels) == ["dringend", "versichert"]


def test_a_user_is_found_by_the_lookup_and_refused_when_unknown():
    known = {"miriam.manager@hausverwaltung.example": {"accountId": "5f2a"}}
    user = meta("user", custom="userpicker")
    assert field_value("miriam.manager@hausverwaltung.example", user, find_user=known.get) == {"accountId": "5f2a"}
    with pytest.raises(ValueRefused, match="no Jira user for 'tom@example.com'"):
        field_value("tom@example.com", user, find_user=known.get)


def test_group_is_named():
    assert field_value("hausmeister", meta("group")) == {"name": "hausmeister"}


def test_a_schema_type_the_bridge_does_not_fill_is_refused_in_words():
    with pytest.raises(ValueRefused, match="schema type 'sd-customerrequesttype'"):
        field_value("x", meta("sd-customerrequesttype"))


# -- the operator's table --------------------------------------------------------------------

def test_values_table_translates_casavi_text_element_by_element():
    table = {"hoch": "High", "true": "versichert", "false": ""}
    assert translated("hoch", table) == "High"
    assert translated("HOCH", table) == "High"
    assert translated(True, table) == "versichert"
    assert translated(["hoch", "normal"], table) == ["High", "normal"]
    assert translated("normal", {}) == "normal"


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
                 st.lists(st.text(max_size=5), max_size=3)))
def test_any_casavi_json_value_converts_to_text_or_is_refused_in_words(value):
    assert isinstance(text_of(value), str)
    try:
        field_value(value, meta("string", custom="textarea"))
        field_value(value, meta("array", items="string"))
    except ValueRefused as refused:
        assert str(refused)


def test_screen_fields_read_createmeta_pages_of_both_flavours_and_editmeta():
    entry = {"fieldId": "customfield_10101", "key": "customfield_10101", "name": "Dringlichkeit",
             "schema": {"type": "option"}, "operations": ["set"], "required": False, "allowedValues": OPTIONS}
    assert set(screen_fields({"values": [entry]})) == {"customfield_10101"}  # Data Center
    assert set(screen_fields({"fields": [entry]})) == {"customfield_10101"}  # Cloud
    edit = screen_fields({"fields": {"customfield_10101": {k: v for k, v in entry.items() if k != "fieldId"}}})
    assert edit["customfield_10101"].allowed[2]["value"] == "hoch"

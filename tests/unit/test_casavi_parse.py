"""Parsing casavi payloads: tolerant of the document's quirks, strict about what it returns."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.casavi.parse import (
    MalformedPayloadError,
    Ticket,
    TicketParseError,
    as_id,
    format_datetime,
    parse_contact,
    parse_datetime,
    parse_page,
    parse_property,
    parse_ticket,
    parse_ticket_list,
    parse_unit,
    ticket_to_json,
)
from bridge.casavi.records import ticket_write_fields
from tests.unit.casavi_fake import SEED_TICKET

UTC = timezone.utc

# -- the document's quirks, one by one ------------------------------------------------------


def test_the_seed_ticket_parses_into_typed_fields():
    ticket = parse_ticket(SEED_TICKET)
    assert ticket.ticket_id == "20131" and ticket.internal_id == 41251
    assert ticket.number == "414"
    assert ticket.created_at == datetime(2015, 8, 7, 14, 54, 57, tzinfo=UTC)
    assert ticket.last_modified == "2015-08-19T12:43:30.000Z"
    assert ticket.modified_at == datetime(2015, 8, 19, 12, 43, 30, tzinfo=UTC)
    assert ticket.attachments == ("345",)
    assert ticket.attachment_details[0].file_id == "345"
    assert ticket.attachment_details[0].url == "https://api.mycasavi.com/v1/files/345"
    assert ticket.comments[0].author_email == "manager1@propertymanagement.com"
    assert ticket.custom_fields == {"priority": "high"}
    assert ticket.problems == ()


def test_invalid_date_becomes_none():
    assert parse_ticket(SEED_TICKET).reported_at is None


def test_task_dates_with_a_trailing_comma_are_read():
    task = parse_ticket(SEED_TICKET).tasks[0]
    assert task.created_at == datetime(2016, 8, 5, 23, 30, tzinfo=UTC)
    assert task.accepted_at == datetime(2016, 8, 5, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize("number", [414, "414", 414.0])
def test_number_given_as_integer_or_text_is_text(number):
    assert parse_ticket({**SEED_TICKET, "number": number}).number == "414"


def test_an_unknown_status_is_kept_as_given():
    assert parse_ticket({**SEED_TICKET, "status": "ARCHIVED"}).status == "ARCHIVED"


def test_a_missing_status_is_empty_and_reported():
    ticket = parse_ticket({k: v for k, v in SEED_TICKET.items() if k != "status"})
    assert ticket.status == ""
    assert ticket.problems


def test_fields_we_do_not_model_are_kept_in_extra():
    ticket = parse_ticket({**SEED_TICKET, "priority": 3, "attachmentLinks": ["x"]})
    assert ticket.extra == {"priority": 3, "attachmentLinks": ["x"]}
    assert ticket_to_json(ticket)["priority"] == 3


def test_missing_optional_fields_get_defaults():
    ticket = parse_ticket({"id": "P-1"})
    assert ticket == Ticket(ticket_id="P-1", problems=ticket.problems)
    assert (ticket.title, ticket.comments, ticket.modified_at) == ("", (), None)


def test_wrong_types_of_optional_fields_get_defaults():
    ticket = parse_ticket({"id": 7, "title": {"a": 1}, "comments": "none", "createdAt": 5,
                           "sharedWithContacts": "C-1", "customFields": [1]})
    assert ticket.ticket_id == "7"
    assert ticket.title == "" and ticket.comments == () and ticket.created_at is None
    assert ticket.shared_with_contacts == () and ticket.custom_fields == {}


@pytest.mark.parametrize("payload", [None, [], "P-1", 5, {}, {"id": ""}, {"id": "  "}, {"id": True},
                                     {"id": None, "title": "x"}])
def test_a_ticket_without_usable_id_raises_ticket_parse_error(payload):
    with pytest.raises(TicketParseError) as caught:
        parse_ticket(payload)
    assert caught.value.ticket_id is None


def test_a_bad_comment_is_dropped_and_reported_while_the_ticket_stays():
    ticket = parse_ticket({**SEED_TICKET, "comments": [{"text": "no id"}, "junk", SEED_TICKET["comments"][0]]})
    assert [c.comment_id for c in ticket.comments] == ["C-0000231"]
    assert len(ticket.problems) == 2


def test_one_bad_ticket_does_not_break_the_page():
    entries = parse_ticket_list([SEED_TICKET, {"title": "no id"}, "junk", {**SEED_TICKET, "id": "20132"}])
    assert [type(e).__name__ for e in entries] == ["Ticket", "TicketParseError", "TicketParseError", "Ticket"]


def test_a_ticket_list_that_is_not_a_list_is_a_malformed_payload():
    with pytest.raises(MalformedPayloadError):
        parse_ticket_list({"error": "oops"})


def test_postal_code_as_integer_or_text_is_text():
    assert parse_property({"id": "P-00451", "postalCode": 80331, "number": 12345}).postal_code == "80331"
    assert parse_contact({"id": "C-1", "postalCode": "80331"}).postal_code == "80331"


def test_paged_objects_keep_their_paging_and_report_bad_rows():
    page = parse_page({"count": 3, "page": 0, "pageCount": 2, "rows": [{"id": "U-1", "name": "Unit"}, {}]},
                      parse_unit, "units")
    assert [u.unit_id for u in page.rows] == ["U-1"]
    assert (page.page, page.page_count, page.count, len(page.problems)) == (0, 2, 3, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-08-07T14:54:57.000Z", datetime(2015, 8, 7, 14, 54, 57, tzinfo=UTC)),
        ("2015-08-07T14:54:57Z", datetime(2015, 8, 7, 14, 54, 57, tzinfo=UTC)),
        ("2015-08-07T14:54:57.123Z", datetime(2015, 8, 7, 14, 54, 57, 123000, tzinfo=UTC)),
        ("2015-08-07T16:54:57+02:00", datetime(2015, 8, 7, 14, 54, 57, tzinfo=UTC)),
        ("2015-08-07T14:54:57", datetime(2015, 8, 7, 14, 54, 57, tzinfo=UTC)),
        ("2016-08-05T23:30:00Z,", datetime(2016, 8, 5, 23, 30, tzinfo=UTC)),
        (" 2016-08-05T23:30:00Z , ", datetime(2016, 8, 5, 23, 30, tzinfo=UTC)),
        ("Invalid Date", None),
        ("", None),
        ("2015-13-45T99:00:00Z", None),
        ("x" * 10_000, None),
        (None, None),
        (1439000000, None),
    ],
)
def test_dates_are_read_as_aware_utc_or_none(text, expected):
    assert parse_datetime(text) == expected


def test_dates_are_written_in_the_api_format():
    assert format_datetime(datetime(2015, 8, 7, 16, 54, 57, 123456, tzinfo=timezone(timedelta(hours=2)))) \
        == "2015-08-07T14:54:57.123Z"
    assert format_datetime(datetime(2015, 8, 7)) == "2015-08-07T00:00:00.000Z"
    assert format_datetime(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00.000Z"


def test_write_fields_carry_what_put_requires_and_nothing_read_only():
    fields = ticket_write_fields(parse_ticket(SEED_TICKET))
    assert fields["id"] == "20131" and fields["title"] == "Test ticket"
    assert fields["propertyId"] == "P-00451" and fields["number"] == 414
    assert "attachments" not in fields and "statusText" not in fields and "lastModified" not in fields


def test_as_id_refuses_booleans_and_empty_text():
    assert [as_id(v) for v in (True, "", " ", {}, 5, " P-1 ")] == [None, None, None, None, "5", "P-1"]


# -- properties over random input -----------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=10),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)

aware_ms_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC),
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
date_texts = st.one_of(
    aware_ms_datetimes.map(format_datetime),
    aware_ms_datetimes.map(lambda d: format_datetime(d).replace(".000Z", "Z") + ","),
    st.just("Invalid Date"), st.text(max_size=40), st.text(min_size=5000, max_size=6000),
)
statuses = st.one_of(st.sampled_from(["PENDING", "OPEN", "INPROGRESS", "POSTPONED", "CLOSED"]),
                     st.text(max_size=20))
ids = st.one_of(st.text(min_size=1, max_size=20), st.integers(min_value=0, max_value=10**12))


def loose(strategy):
    """The right kind of value, or any JSON value at all."""
    return st.one_of(strategy, json_values)


loose_attachment = st.fixed_dictionaries({}, optional={
    "id": loose(ids), "name": loose(st.text()), "contentType": loose(st.text()),
    "size": loose(st.integers()), "url": loose(st.text()),
})
loose_comment = st.fixed_dictionaries({}, optional={
    "id": loose(ids), "text": loose(st.text()), "isInternal": loose(st.booleans()),
    "authorEmail": loose(st.text()), "createdAt": loose(date_texts),
    "attachmentDetails": loose(st.lists(loose_attachment, max_size=2)),
})
loose_task = st.fixed_dictionaries({}, optional={
    "id": loose(ids), "title": loose(st.text()), "status": loose(st.sampled_from(["OPEN", "DONE?"])),
    "completed": loose(st.booleans()), "createdAt": loose(date_texts), "completedAt": loose(date_texts),
})
loose_ticket = st.fixed_dictionaries({}, optional={
    "id": loose(ids), "internalId": loose(st.integers()), "number": loose(ids),
    "title": loose(st.text(max_size=2000)), "description": loose(st.text(max_size=5000)),
    "status": loose(statuses), "propertyId": loose(ids), "unitId": loose(ids),
    "createdAt": loose(date_texts), "lastModified": loose(date_texts), "reportedAt": loose(date_texts),
    "closedAt": loose(date_texts), "sharedWithContacts": loose(st.lists(ids, max_size=3)),
    "attachments": loose(st.lists(st.integers(), max_size=3)),
    "attachmentDetails": loose(st.lists(loose_attachment, max_size=3)),
    "comments": loose(st.lists(loose_comment, max_size=3)), "tasks": loose(st.lists(loose_task, max_size=3)),
    "customFields": json_values, "unknownField": json_values,
})


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(loose_ticket, json_values))
def test_parsing_anything_gives_a_ticket_or_a_ticket_parse_error(payload):
    try:
        ticket = parse_ticket(payload)
    except TicketParseError as exc:
        assert exc.ticket_id is None or isinstance(exc.ticket_id, str)
        return
    assert isinstance(ticket, Ticket) and ticket.ticket_id
    for when in (ticket.created_at, ticket.modified_at, ticket.reported_at, ticket.closed_at):
        assert when is None or when.utcoffset() == timedelta(0)
    assert ticket.number is None or isinstance(ticket.number, str)


@settings(max_examples=100)
@given(st.lists(st.one_of(loose_ticket, json_values), max_size=6))
def test_every_entry_of_a_page_comes_back_in_place(rows):
    entries = parse_ticket_list(rows)
    assert len(entries) == len(rows)
    assert all(isinstance(e, (Ticket, TicketParseError)) for e in entries)


valid_attachment = st.fixed_dictionaries({
    "id": st.integers(min_value=1, max_value=10**9), "name": st.text(min_size=1, max_size=20),
    "contentType": st.sampled_from(["image/jpeg", "application/pdf"]),
    "size": st.integers(min_value=0, max_value=10**7), "url": st.text(min_size=1, max_size=30),
})
valid_comment = st.fixed_dictionaries({
    "id": st.text(min_size=1, max_size=20).filter(str.strip).map(str.strip), "text": st.text(max_size=200),
    "isInternal": st.booleans(), "createdAt": aware_ms_datetimes.map(format_datetime),
    "attachmentDetails": st.lists(valid_attachment, max_size=2),
}, optional={"authorEmail": st.emails(), "authorName": st.text(min_size=1, max_size=20)})
valid_task = st.fixed_dictionaries({
    "id": st.text(min_size=1, max_size=20).filter(str.strip).map(str.strip), "title": st.text(max_size=50),
    "status": st.sampled_from(["OPEN", "ACCEPTED", "COMPLETED", "DECLINED"]),
    "createdAt": st.one_of(aware_ms_datetimes.map(format_datetime), st.just("2016-08-05T23:30:00Z,")),
})
valid_ticket = st.fixed_dictionaries({
    "id": st.text(min_size=1, max_size=20).filter(str.strip).map(str.strip),
    "internalId": st.integers(min_value=1, max_value=10**9),
    "number": st.one_of(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1).map(str)),
    "title": st.text(max_size=300), "description": st.text(max_size=1000), "status": statuses.filter(bool),
    "propertyId": st.just("P-00451"), "createdAt": aware_ms_datetimes.map(format_datetime),
    "lastModified": aware_ms_datetimes.map(format_datetime),
    "reportedAt": st.one_of(st.just("Invalid Date"), aware_ms_datetimes.map(format_datetime)),
    "comments": st.lists(valid_comment, max_size=3), "tasks": st.lists(valid_task, max_size=3),
    "attachmentDetails": st.lists(valid_attachment, max_size=3),
}, optional={"customFields": st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
             "somethingNew": st.text(max_size=10), "appLink": st.text(min_size=1, max_size=30)})


@settings(max_examples=200)
@given(valid_ticket)
def test_valid_tickets_survive_a_round_trip_through_json(payload):
    ticket = parse_ticket(payload)
    assert ticket.problems == ()
    again = parse_ticket(ticket_to_json(ticket))
    assert again == ticket
    assert again.extra == ticket.extra and again.custom_fields == ticket.custom_fields
    assert ticket.last_modified == payload["lastModified"]
    assert ticket.modified_at == parse_datetime(payload["lastModified"])


def test_the_parser_is_pure_and_imports_no_http_library():
    import subprocess
    import sys

    code = "import sys, bridge.casavi.parse; print(sorted(m for m in ('httpx', 'jira', 'sqlmodel') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_control_characters_in_an_answer_are_dropped_tab_and_newlines_kept():
    """A tenant's pasted NUL or escape sequence never reaches the tool (PostgreSQL under Jira and
    Redmine cannot store NUL); tab, newline and carriage return stay, other text is untouched."""
    import json as _json

    import httpx

    from bridge.rest_session import response_json

    body = {"title": "Heizung\x00 kalt\x1b[31m", "comments": [{"text": "a\tb\r\nc\x07"}], "n": 3, "u": "ä ✓"}
    answer = httpx.Response(200, content=_json.dumps(body).encode(), request=httpx.Request("GET", "https://c.test/"))
    assert response_json(answer) == {"title": "Heizung kalt[31m", "comments": [{"text": "a\tb\r\nc"}], "n": 3,
                                     "u": "ä ✓"}
    # Backspace and form feed as JSON writers escape them (\b, \f), alone in the answer.
    answer = httpx.Response(200, content=b'{"t": "a\\bb\\fc"}', request=httpx.Request("GET", "https://c.test/"))
    assert response_json(answer) == {"t": "abc"}
    literal = {"text": "C:\\u0001 bleibt"}  # an escaped backslash's text, no control character
    answer = httpx.Response(200, content=_json.dumps(literal).encode(), request=httpx.Request("GET", "https://c.test/"))
    assert response_json(answer) == literal

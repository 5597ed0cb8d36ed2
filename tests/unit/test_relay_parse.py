"""The tolerant relay parser and the comment trailer: pure, literals and Hypothesis."""

from __future__ import annotations

import copy
from datetime import date, datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.relay.parse import (
    MalformedPayloadError,
    OrderParseError,
    as_id,
    parse_comment_list,
    parse_created_id,
    parse_date,
    parse_order,
    parse_order_list,
    split_trailer,
    with_trailer,
)
from bridge.relay.records import Order
from bridge.sync.plan import written_id

ORDER = {
    "id": 5001,
    "title": "Rohrbruch im Keller",
    "status": "IN_PROGRESS",
    "address": {"id": 9, "streetAddress": "Schloßallee 3", "postalCode": 80331, "locality": "München",
                "country": "DE", "additionalInfo": "Hinterhaus", "accountId": 700},
    "dueDate": "2025-07-01T22:00:00.000Z",
    "followUpDate": "2025-06-28",
    "createdAt": "2025-06-01T08:00:00.000Z",
    "updatedAt": "2025-06-02T09:30:00.000Z",
    "internalId": "A-17",
    "isInternal": True,
    "type": "Reparatur",
    "taskId": None,
    "propertyId": 401,
    "casaviOrderId": 70001,
    "casaviTicketId": "41001",
    "fields": [{"id": 2, "position": 2, "name": "Zugang", "content": "über den Hof"},
               {"id": 1, "position": 1, "name": "Schaden", "content": "Wasser tritt aus"}],
    "attachments": [{"name": "Foto.jpg", "itemType": "image/jpeg", "updatedAt": "2025-06-01T08:00:00Z"}],
    "comments": [
        {"id": 11, "text": "Bitte bis Freitag", "orderId": 5001, "author": "Anna Groß", "statusChange": None,
         "attachments": [], "createdAt": "2025-06-01T09:00:00Z"},
        {"id": 12, "text": "", "orderId": 5001, "author": "relay API", "statusChange": "IN_PROGRESS",
         "attachments": [], "createdAt": "2025-06-02T09:30:00Z"},
    ],
    "contactPersons": [{"type": "Mieter", "name": "Özlem Öztürk", "id": 3, "telephone": "+49 171 1",
                        "mobile": None, "emailAddress": "oe@example.org"}],
    "customerId": 301,
    "somethingNew": {"kept": True},
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


def test_a_full_order_is_read_into_typed_values():
    order = parse_order(ORDER)
    assert (order.order_id, order.title, order.status) == ("5001", "Rohrbruch im Keller", "IN_PROGRESS")
    assert order.address.one_line() == "Schloßallee 3, 80331 München, DE (Hinterhaus)"
    assert order.due_date == date(2025, 7, 1)  # the date as written, no time zone guessed
    assert order.follow_up_date == date(2025, 6, 28)
    assert order.modified_at == datetime(2025, 6, 2, 9, 30, tzinfo=timezone.utc)
    assert (order.property_id, order.customer_id, order.casavi_ticket_id) == ("401", "301", "41001")
    assert [f.name for f in order.fields] == ["Schaden", "Zugang"]  # by position
    assert order.contact_persons[0].email == "oe@example.org"
    assert [c.status_change for c in order.comments] == [None, "IN_PROGRESS"]
    assert order.extra == {"somethingNew": {"kept": True}}
    assert order.complete and order.problems == ()


@pytest.mark.parametrize("status", [None, "", "   "])
def test_a_missing_or_null_status_is_relays_null_status(status):
    payload = dict(ORDER, status=status)
    assert parse_order(payload).status == "NULL"


def test_an_unknown_status_is_kept_as_given():
    assert parse_order(dict(ORDER, status="ON_HOLD")).status == "ON_HOLD"


def test_a_bad_comment_is_dropped_and_described_while_the_order_stays():
    payload = copy.deepcopy(ORDER)
    payload["comments"].insert(0, {"text": "no id"})
    payload["fields"].append("not an object")
    order = parse_order(payload)
    assert [c.comment_id for c in order.comments] == ["11", "12"]
    assert any("comments[0]" in p for p in order.problems)
    assert any("fields[2]" in p for p in order.problems)


def test_an_order_without_comments_is_marked_incomplete():
    payload = {k: v for k, v in ORDER.items() if k != "comments"}
    assert parse_order(payload).complete is False


def test_an_order_without_id_is_an_order_parse_error():
    with pytest.raises(OrderParseError) as caught:
        parse_order({"title": "x"})
    assert caught.value.order_id is None


def test_one_unreadable_entry_does_not_break_the_list():
    entries = parse_order_list([ORDER, "garbage", {"id": None}, dict(ORDER, id=5002)])
    assert [type(e) for e in entries] == [Order, OrderParseError, OrderParseError, Order]


def test_a_list_answer_that_is_not_a_list_is_malformed():
    with pytest.raises(MalformedPayloadError):
        parse_order_list({"error": "proxy page"})


def test_the_version_changes_with_the_content_even_when_updated_at_stays():
    with_comment = copy.deepcopy(ORDER)
    with_comment["comments"].append({"id": 13, "text": "neu", "author": "x", "createdAt": "2025-06-03T00:00:00Z"})
    assert parse_order(with_comment).updated_at == parse_order(ORDER).updated_at
    assert parse_order(with_comment).version != parse_order(ORDER).version
    assert parse_order(copy.deepcopy(ORDER)).version == parse_order(ORDER).version


@pytest.mark.parametrize("text, expected", [
    ("2025-07-01", date(2025, 7, 1)), ("2025-07-01T00:00:00+02:00", date(2025, 7, 1)),
    ("Invalid Date", None), ("", None), (None, None), (20250701, None), ("2025-13-01", None),
])
def test_due_dates_are_read_as_written_or_not_at_all(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("payload, expected", [(7, "7"), ({"id": 8}, "8"), ("9", "9"), (None, None), ({}, None)])
def test_a_created_id_comes_as_a_bare_number_or_an_object(payload, expected):
    assert parse_created_id(payload) == expected


def test_the_comment_list_reports_bad_entries():
    comments, problems = parse_comment_list([{"id": 1, "text": "a"}, 5])
    assert [c.comment_id for c in comments] == ["1"] and len(problems) == 1


# -- the write-back trailer -------------------------------------------------------------------

ids = st.builds(written_id, st.sampled_from(["jira", "redmine", "memory"]), st.integers(1, 10**7).map(str),
                st.sampled_from("cta"), st.integers(1, 10**9).map(str))


@given(text=st.text(max_size=200), comment_id=ids)
def test_the_trailer_carries_the_id_back_for_any_text(text, comment_id):
    body, found = split_trailer(with_trailer(text, comment_id))
    assert found == comment_id
    assert body == text.rstrip()


def test_the_trailer_survives_trimmed_whitespace_and_a_plain_hyphen():
    text = with_trailer("Techniker kommt Montag", "jira-10042-c-10311")
    assert split_trailer(text.strip() + "   ")[1] == "jira-10042-c-10311"
    assert split_trailer(text.replace("—", "-").replace("\n\n", " "))[1] == "jira-10042-c-10311"


@pytest.mark.parametrize("text", [
    "Bitte [jira-1-c-2] beachten", "via casavi-bridge", "— via casavi-bridge [two words]", "",
    "— via someone else [jira-1-c-2]",
])
def test_text_without_a_trailer_has_no_written_id(text):
    assert split_trailer(text) == (text, None)


def test_a_trailer_id_must_be_one_word():
    with pytest.raises(ValueError):
        with_trailer("x", "two words")


def test_a_comment_with_a_trailer_is_read_with_its_written_id_and_without_the_trailer():
    comments, _ = parse_comment_list([{"id": 77, "text": with_trailer("**Max** (Jira):\n\nKommt", "jira-1-c-9")}])
    assert (comments[0].comment_id, comments[0].written_id, comments[0].body) == ("77", "jira-1-c-9",
                                                                                    "**Max** (Jira):\n\nKommt")


# -- tolerance ---------------------------------------------------------------------------------


@settings(max_examples=300)
@given(payload=json_values)
def test_any_json_is_an_order_or_an_order_parse_error(payload):
    try:
        order = parse_order(payload)
    except OrderParseError:
        return
    assert isinstance(order, Order) and order.order_id


@settings(max_examples=300)
@given(key=st.sampled_from(sorted(ORDER)), value=json_values)
def test_any_field_of_a_good_order_may_be_anything_and_the_order_is_still_read(key, value):
    payload = dict(ORDER, **{key: value})
    if key == "id" and as_id(value) is None:
        with pytest.raises(OrderParseError):
            parse_order(payload)
        return
    order = parse_order(payload)
    assert order.order_id
    assert isinstance(order.status, str) and order.status
    assert all(isinstance(c.comment_id, str) for c in order.comments)

"""The relay client against the relay sandbox over real sockets: Bearer auth (401), listings and
limit/offset paging, PatchOrder (400 on an invalid status), comments with files (413 beyond 10
files or 100 MB, checked by the client before sending and refused by the sandbox as well),
429/5xx/timeouts, and every other operation of the path table."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from bridge.errors import AuthError, FatalError, NotFoundError, PayloadTooLargeError, RetriableError
from bridge.relay.client import CommentFile
from bridge.relay.parse import Order
from tests.contract.casavi_helpers import Waits
from tests.contract.relay_helpers import (  # noqa: F401
    api, control, faults, relay_client, relay_sandbox, requests, reset_stats,
)

FIRST_ORDER = "5001"


def a_file(tmp_path: Path, name: str, data: bytes) -> CommentFile:
    path = tmp_path / name
    path.write_bytes(data)
    return CommentFile(name, "text/plain", path)


# -- authentication ----------------------------------------------------------------------------


def test_check_passes_with_the_right_key(relay_sandbox):
    assert relay_client(relay_sandbox).check() == []


def test_a_wrong_key_is_refused_with_an_auth_error_that_does_not_show_it(relay_sandbox):
    client = relay_client(relay_sandbox, key="not-the-key")
    with pytest.raises(AuthError) as caught:
        client.get_order(FIRST_ORDER)
    assert caught.value.status == 401 and "not-the-key" not in str(caught.value) + repr(client)
    assert "refused the API key" in client.check()[0]
    assert requests(relay_sandbox)["GET /orders/{order_id}"] == 1  # a static key: no retry, no login


def test_a_missing_or_malformed_authorization_header_is_401(relay_sandbox):
    key = relay_sandbox.info["relay_key"]
    assert api(relay_sandbox, "GET", "/orders", headers={"Authorization": ""}).status_code == 401
    assert api(relay_sandbox, "GET", "/orders", headers={"Authorization": key}).status_code == 401
    assert api(relay_sandbox, "GET", "/orders", headers={"Authorization": f"Basic {key}"}).status_code == 401


def test_a_rotated_key_is_refused_from_then_on(relay_sandbox):
    client = relay_client(relay_sandbox)
    assert client.check() == []
    faults(relay_sandbox, api_key="rotated")
    with pytest.raises(AuthError):
        client.list_orders()


# -- orders ------------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size, reads", [(50, 2), (7, 5), (10, 4), (0, 2)])
def test_every_order_is_read_page_by_page_and_equals_its_single_read(relay_sandbox, page_size, reads):
    faults(relay_sandbox, page_size=page_size)  # 0: the reading without paging
    client = relay_client(relay_sandbox)
    orders = client.list_orders()
    assert len(orders) == 30 and all(isinstance(o, Order) for o in orders)
    assert len({o.order_id for o in orders}) == 30
    assert requests(relay_sandbox) == {"GET /orders": reads}
    single = client.get_order(orders[3].order_id)
    assert single == orders[3] and single.version == orders[3].version


def test_an_unpaged_server_is_recognised_and_then_read_in_one_request(relay_sandbox):
    faults(relay_sandbox, page_size=0)
    client = relay_client(relay_sandbox)
    assert client.probe_order_paging() == "unpaged"
    reset_stats(relay_sandbox)
    assert len(client.list_orders()) == 30
    assert requests(relay_sandbox) == {"GET /orders": 1}
    faults(relay_sandbox, page_size=50)
    assert relay_client(relay_sandbox).probe_order_paging() == "paged"


def test_an_unknown_order_is_not_found(relay_sandbox):
    with pytest.raises(NotFoundError):
        relay_client(relay_sandbox).get_order("999999")


def test_patching_the_status_changes_it_and_adds_a_status_change_comment(relay_sandbox):
    client = relay_client(relay_sandbox)
    before = client.get_order(FIRST_ORDER)
    target = "FINISHED" if before.status != "FINISHED" else "OPEN"
    client.patch_order(FIRST_ORDER, status=target)
    after = client.get_order(FIRST_ORDER)
    assert after.status == target and after.updated_at != before.updated_at
    assert after.comments[-1].status_change == target and after.comments[-1].text == ""
    client.patch_order(FIRST_ORDER, status=target)  # the same status again changes nothing
    assert client.get_order(FIRST_ORDER) == after


def test_an_invalid_status_is_refused_with_400_and_nothing_changes(relay_sandbox):
    client = relay_client(relay_sandbox)
    before = client.get_order(FIRST_ORDER)
    with pytest.raises(FatalError) as caught:
        client.patch_order(FIRST_ORDER, status="CLOSED")
    assert caught.value.status == 400
    assert client.get_order(FIRST_ORDER) == before


def test_the_due_date_is_patched(relay_sandbox):
    from datetime import date

    client = relay_client(relay_sandbox)
    client.patch_order(FIRST_ORDER, due_date=date(2026, 3, 14))
    assert client.get_order(FIRST_ORDER).due_date == date(2026, 3, 14)
    assert api(relay_sandbox, "PATCH", f"/orders/{FIRST_ORDER}", json={"dueDate": "next week"}).status_code == 400


# -- comments ----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["json", "multipart"])
def test_a_comment_with_files_arrives_with_its_text_author_and_bytes(relay_sandbox, tmp_path, encoding):
    faults(relay_sandbox, comment_encoding=encoding)
    client = relay_client(relay_sandbox)
    files = [a_file(tmp_path, "Prüfbericht.txt", b"alles dicht"), a_file(tmp_path, "b.txt", b"")]
    comment_id = client.create_comment(FIRST_ORDER, "Erledigt – siehe Bericht", "Installateur Fuß", files)
    created = next(c for c in client.list_comments(FIRST_ORDER) if c.comment_id == comment_id)
    assert (created.text, created.author) == ("Erledigt – siehe Bericht", "Installateur Fuß")
    assert [a.name for a in created.attachments] == ["Prüfbericht.txt", "b.txt"]
    stored = next(c for c in control(relay_sandbox, "GET", f"/orders/{FIRST_ORDER}")["comments"]
                  if str(c["id"]) == comment_id)
    assert stored["_files"][0]["sha256"] == hashlib.sha256(b"alles dicht").hexdigest()
    assert client.comment_encoding == encoding  # remembered: the next comment goes out right away
    reset_stats(relay_sandbox)
    client.create_comment(FIRST_ORDER, "noch einer", "Installateur Fuß")
    assert requests(relay_sandbox) == {"POST /orders/{order_id}/comments": 1}


def test_a_comment_needs_text_and_author(relay_sandbox):
    faults(relay_sandbox, comment_encoding="multipart")
    assert api(relay_sandbox, "POST", f"/orders/{FIRST_ORDER}/comments",
               data={"text": "", "authorName": "x"}).status_code == 400
    assert api(relay_sandbox, "POST", f"/orders/{FIRST_ORDER}/comments", data={"text": "x"}).status_code == 400
    assert api(relay_sandbox, "POST", f"/orders/{FIRST_ORDER}/comments",
               json={"text": "x", "authorName": "y"}).status_code == 415  # multipart only
    faults(relay_sandbox, comment_encoding="json")
    assert api(relay_sandbox, "POST", f"/orders/{FIRST_ORDER}/comments",
               json={"text": "", "authorName": "y"}).status_code == 400
    assert api(relay_sandbox, "POST", f"/orders/{FIRST_ORDER}/comments",
               data={"text": "x", "authorName": "y"}).status_code == 415  # JSON only


def test_more_than_ten_files_are_refused_by_the_client_before_sending(relay_sandbox, tmp_path):
    client = relay_client(relay_sandbox)
    files = [a_file(tmp_path, f"f{i}.txt", b"x") for i in range(11)]
    with pytest.raises(PayloadTooLargeError):
        client.create_comment(FIRST_ORDER, "too many", "me", files)
    assert requests(relay_sandbox) == {}


def test_more_than_ten_files_are_refused_by_the_sandbox_with_413(relay_sandbox):
    faults(relay_sandbox, comment_encoding="multipart")
    files = [("files", (f"f{i}.txt", b"x", "text/plain")) for i in range(11)]
    reply = api(relay_sandbox, "POST", f"/orders/{FIRST_ORDER}/comments", data={"text": "t", "authorName": "a"},
                files=files)
    assert reply.status_code == 413
    assert not any(c["text"] == "t" for c in control(relay_sandbox, "GET", f"/orders/{FIRST_ORDER}")["comments"])


def test_more_than_100_mb_are_refused_by_the_client_before_sending(relay_sandbox, tmp_path):
    big = tmp_path / "big.bin"
    with big.open("wb") as out:  # sparse: 100 MB + 1 byte on paper, nothing on disk
        out.truncate(100 * 1024 * 1024 + 1)
    with pytest.raises(PayloadTooLargeError):
        relay_client(relay_sandbox).create_comment(FIRST_ORDER, "big", "me", [CommentFile("big.bin", "x/y", big)])
    assert requests(relay_sandbox) == {}


def test_files_beyond_the_upload_limit_are_refused_by_the_sandbox_with_413(relay_sandbox, tmp_path):
    faults(relay_sandbox, max_upload_bytes=1000, comment_encoding="multipart")  # 100 MB's rule, without 100 MB
    client = relay_client(relay_sandbox)
    client.max_comment_bytes = 10**9  # let it through the client's own check
    with pytest.raises(PayloadTooLargeError):
        client.create_comment(FIRST_ORDER, "big", "me", [a_file(tmp_path, "a.bin", os.urandom(1001))])
    assert requests(relay_sandbox)["POST /orders/{order_id}/comments"] == 1  # 413 is not retried


# -- faults ------------------------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out_at_least_as_long_as_asked(relay_sandbox):
    waits = Waits()
    client = relay_client(relay_sandbox, waits=waits)
    faults(relay_sandbox, force_status=429, force_count=1, retry_after_seconds=2)
    assert client.get_order(FIRST_ORDER).order_id == FIRST_ORDER
    assert len(waits.waits) == 1 and waits.waits[0] >= 2.0


def test_server_errors_are_retried_for_reads_and_patches(relay_sandbox):
    client = relay_client(relay_sandbox)
    faults(relay_sandbox, force_status=503, force_count=2)
    assert len(client.list_orders()) == 30
    faults(relay_sandbox, force_status=502, force_count=1)
    client.patch_order(FIRST_ORDER, status="IN_PROGRESS")
    assert requests(relay_sandbox) == {"GET /orders": 4, "PATCH /orders/{order_id}": 2}  # 30 orders: 2 pages
    assert client.get_order(FIRST_ORDER).status == "IN_PROGRESS"


def test_persisting_server_errors_end_as_retriable_errors(relay_sandbox):
    faults(relay_sandbox, force_status=500, force_count=9)
    with pytest.raises(RetriableError):
        relay_client(relay_sandbox, max_attempts=2).list_orders()


def test_a_comment_post_answered_with_a_server_error_is_not_repeated(relay_sandbox):
    # No caller-chosen id: a repeat could post twice, so the client leaves it to the source.
    faults(relay_sandbox, force_status=503, force_count=1)
    with pytest.raises(RetriableError):
        relay_client(relay_sandbox).create_comment(FIRST_ORDER, "once", "me")
    assert requests(relay_sandbox) == {"POST /orders/{order_id}/comments": 1}


def test_a_timed_out_read_is_retried(relay_sandbox):
    faults(relay_sandbox, force_timeout_count=1)
    assert relay_client(relay_sandbox, timeout=0.5).get_order(FIRST_ORDER).order_id == FIRST_ORDER


# -- the rest of the path table ----------------------------------------------------------------


def test_properties_and_units_are_read_page_by_page_with_limit_and_offset(relay_sandbox):
    client = relay_client(relay_sandbox)
    client.page_limit = 3
    properties = list(client.list_properties())
    info = control(relay_sandbox, "GET", "/info")
    assert len(properties) == len({p.property_id for p in properties}) == info["properties"]
    assert requests(relay_sandbox)["GET /properties"] == info["properties"] // 3 + 1
    units, msc_units = list(client.list_units()), list(client.list_units(msc_only=True))
    assert len(units) == info["units"] and 0 < len(msc_units) < len(units)
    assert all(u.unit_msc_number for u in msc_units)
    assert api(relay_sandbox, "GET", "/properties").status_code == 400  # limit and offset are required


def test_order_fields_and_contact_persons_are_added_to_the_order(relay_sandbox):
    client = relay_client(relay_sandbox)
    client.create_order_field(FIRST_ORDER, "Zählernummer", "4711", 9)
    client.create_contact_person(FIRST_ORDER, "Käthe Krämer", "Hausmeisterin", "kk@example.org", mobile="0171")
    order = client.get_order(FIRST_ORDER)
    assert order.fields[-1].name == "Zählernummer" and order.fields[-1].content == "4711"
    assert order.contact_persons[-1].email == "kk@example.org"
    assert api(relay_sandbox, "POST", "/order-fields", json={"name": "x", "content": "y", "orderId": 5001}
               ).status_code == 400  # position missing


def test_appointments_are_created_and_updated(relay_sandbox):
    client = relay_client(relay_sandbox)
    customer = client.list_customers()[0]
    appointment = client.create_appointment("Ablesung", "2026-02-06 11:00:00", "2026-02-06 12:00:00",
                                            "Schloßallee 3", customer.customer_id)
    client.update_appointment(appointment, title="Ablesung (verschoben)", dateStart="2026-02-07 11:00:00")
    with pytest.raises(FatalError):
        client.update_appointment(appointment, dateEnd="7.2.2026")
    with pytest.raises(NotFoundError):
        client.update_appointment("424242", title="x")


def test_customers_properties_and_addresses_are_created(relay_sandbox):
    client = relay_client(relay_sandbox)
    created = client.create_customer({"name": "WEG Lindenhöfe", "emailAddress": "weg@example.org"})
    assert created["customer"]["name"] == "WEG Lindenhöfe"
    assert "WEG Lindenhöfe" in [c.name for c in client.list_customers()]
    client.create_properties([{"name": "Lindenhöfe 1", "customerId": 301}])
    assert "Lindenhöfe 1" in [p.name for p in client.list_properties()]
    assert client.create_address("Lindenstraße 1", "80331", "München", "DE")
    with pytest.raises(FatalError):
        client.create_address("Lindenstraße 1", "80331", "München", "Deutschland")


def test_documents_take_pdf_attachments_only(relay_sandbox, tmp_path):
    client = relay_client(relay_sandbox)
    document = client.create_document("Prüfbericht", property_id="401", customer_id="301")
    pdf, text = tmp_path / "bericht.pdf", tmp_path / "bericht.txt"
    pdf.write_bytes(b"%PDF-1.4 report")
    text.write_bytes(b"not a pdf")
    client.add_document_attachment(document, "bericht.pdf", pdf)
    with pytest.raises(FatalError):
        client.add_document_attachment(document, "bericht.txt", text)
    assert api(relay_sandbox, "POST", f"/documents/{document}/attachments",
               json={"name": "x", "fileType": "text/plain", "content": "eA=="}).status_code == 400
    with pytest.raises(FatalError):
        client.create_document("no references", property_id="401")

"""casavi files, master data and REST hooks against the sandbox over real sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.casavi.paths import MAX_FILE_BYTES
from bridge.errors import NotFoundError, PayloadTooLargeError, RetriableError
from tests.contract.casavi_helpers import client_for, control, faults, stats


def test_an_upload_is_not_repeated_after_a_server_error(casavi_sandbox, tmp_path):
    client = client_for(casavi_sandbox)
    client.check()
    files_before = control(casavi_sandbox, "GET", "/info")["counts"]["files"]
    source = tmp_path / "a.txt"
    source.write_text("x")
    faults(casavi_sandbox, force_status=503, force_count=1)
    with pytest.raises(RetriableError):
        client.upload_file(source, "a.txt", "text/plain")
    assert stats(casavi_sandbox)["requests"]["POST /files"] == 1
    assert control(casavi_sandbox, "GET", "/info")["counts"]["files"] == files_before


def test_a_file_over_10_mb_is_refused_before_sending(casavi_sandbox, tmp_path):
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(PayloadTooLargeError, match="10 MB"):
        client_for(casavi_sandbox).upload_file(big, "big.bin", "application/octet-stream")
    assert "POST /files" not in stats(casavi_sandbox)["requests"]


def test_exactly_10_mb_is_accepted_and_a_413_from_casavi_is_payload_too_large(casavi_sandbox, tmp_path):
    client = client_for(casavi_sandbox)
    limit = tmp_path / "limit.bin"
    limit.write_bytes(b"\0" * MAX_FILE_BYTES)
    assert client.upload_file(limit, "limit.bin", "application/octet-stream")
    faults(casavi_sandbox, force_status=413, force_count=1)
    with pytest.raises(PayloadTooLargeError):
        client.upload_file(limit, "limit.bin", "application/octet-stream")


def test_files_go_up_attach_to_a_comment_and_come_back_down_intact(casavi_sandbox, tmp_path):
    client = client_for(casavi_sandbox)
    data = bytes(range(256)) * 4000
    source = tmp_path / "foto.jpg"
    source.write_bytes(data)
    file_id = client.upload_file(source, "Wasserschaden Küche.jpg", "image/jpeg")
    client.create_comment("T-00005", "Foto anbei", comment_id="jira-5-c-1", attachments=[file_id])
    detail = next(a for a in client.get_ticket("T-00005").attachment_details if a.file_id == file_id)
    assert (detail.name, detail.content_type, detail.size) == ("Wasserschaden Küche.jpg", "image/jpeg", len(data))
    assert detail.url is None  # the strict reading: attachmentDetails carry no url; files by id
    dest = tmp_path / "back.jpg"
    assert client.download_file(detail.url or detail.file_id, dest) == len(data)
    assert dest.read_bytes() == data
    client.download_file(file_id, tmp_path / "by-id.jpg")
    assert (tmp_path / "by-id.jpg").read_bytes() == data


def test_download_to_disk_does_not_leave_a_partial_file_on_404(casavi_sandbox, tmp_path: Path):
    with pytest.raises(NotFoundError):
        client_for(casavi_sandbox).download_file("999999", tmp_path / "missing")
    assert list(tmp_path.iterdir()) == []


def test_properties_contacts_and_staff_are_read_across_pages(start_casavi_sandbox):
    sandbox = start_casavi_sandbox(tickets=1300)
    client = client_for(sandbox)
    counts = control(sandbox, "GET", "/info")["counts"]
    properties = list(client.list_properties())
    contacts = list(client.list_contacts())
    staff = list(client.list_staff())
    assert (len(properties), len(contacts), len(staff)) == (counts["properties"], counts["contacts"], counts["staff"])
    assert counts["properties"] > 25 and counts["contacts"] > 25
    assert len({p.property_id for p in properties}) == len(properties)
    assert all(p.postal_code is None or isinstance(p.postal_code, str) for p in properties)
    requested = stats(sandbox)["requests"]
    assert requested["GET /properties"] == 2


def test_units_of_a_property_are_paged_from_zero_and_single_records_are_read(casavi_sandbox):
    client = client_for(casavi_sandbox)
    prop = next(iter(client.list_properties()))
    units = list(client.list_property_units(prop.property_id, include_inactive_contracts=True))
    expected = [u["id"] for u in casavi_sandbox.casavi.store.units_of(prop.property_id)]
    assert [u.unit_id for u in units] == expected and units
    assert client.get_property(prop.property_id).name == prop.name
    assert client.get_unit(units[0].unit_id).unit_id == units[0].unit_id
    contact = next(iter(client.list_contacts()))
    assert client.get_contact(contact.contact_id).display_name == contact.display_name
    member = next(iter(client.list_staff()))
    assert client.get_staff_member(member.staff_id).email == member.email
    with pytest.raises(NotFoundError):
        client.get_unit("no-such-unit")


def test_hooks_are_subscribed_and_deleted(casavi_sandbox):
    client = client_for(casavi_sandbox)
    hook_id = client.subscribe_hook("contact_created", "https://bridge.example/hook")
    client.delete_hook(hook_id)
    with pytest.raises(NotFoundError):
        client.delete_hook(hook_id)

"""casavi files, master data and hooks against a scripted casavi (httpx.MockTransport)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bridge.casavi.paths import MAX_FILE_BYTES
from bridge.errors import NotFoundError, PayloadTooLargeError, RetriableError
from tests.unit.casavi_fake import BASE, KEY, SECRET, FakeCasavi


@pytest.fixture
def casavi() -> FakeCasavi:
    return FakeCasavi()


# -- files ------------------------------------------------------------------------------------


def test_a_file_over_10_mb_is_refused_before_anything_is_sent(casavi, tmp_path):
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(PayloadTooLargeError, match="at most 10,000,000 bytes"):
        casavi.client().upload_file(big, "big.bin", "application/octet-stream")
    assert casavi.requests == []


def test_upload_streams_the_file_with_its_name_type_and_length(casavi, tmp_path):
    data = bytes(range(256)) * 1000
    source = tmp_path / "leak.jpg"
    source.write_bytes(data)
    casavi.routes[("POST", "/files")] = lambda r: httpx.Response(201, json={"id": 345})
    assert casavi.client().upload_file(source, "Wasserschaden Küche.jpg", "image/jpeg") == "345"
    upload = casavi.requests[-1]
    assert casavi.bodies[-1] == data
    assert upload.headers["Content-Type"] == "image/jpeg"
    assert upload.headers["Content-Length"] == str(len(data))
    assert upload.headers["X-Filename"] == "Wasserschaden K%C3%BCche.jpg"
    assert "Transfer-Encoding" not in upload.headers


def test_an_upload_is_not_repeated_after_a_5xx(casavi, tmp_path):
    source = tmp_path / "a.txt"
    source.write_text("x")
    casavi.fail_next = [httpx.Response(503)]
    with pytest.raises(RetriableError):
        casavi.client().upload_file(source, "a.txt", "text/plain")
    assert casavi.paths("POST").count("/v1/files") == 1


def test_an_upload_is_repeated_with_the_whole_body_when_the_connection_failed(casavi, tmp_path):
    source = tmp_path / "a.txt"
    source.write_bytes(b"0123456789" * 10_000)
    failed = []

    def flaky(request):
        if not failed:
            failed.append(True)
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(201, json={"id": 9})

    casavi.routes[("POST", "/files")] = flaky
    assert casavi.client().upload_file(source, "a.txt", "text/plain") == "9"
    assert casavi.bodies[-1] == source.read_bytes()


def test_download_streams_to_disk_following_an_absolute_url(casavi, tmp_path):
    casavi.routes[("GET", "/files/345")] = lambda r: httpx.Response(200, content=b"jpeg-bytes" * 1000)
    dest = tmp_path / "out.jpg"
    assert casavi.client().download_file(f"{BASE}/files/345", dest) == 10_000
    assert dest.read_bytes() == b"jpeg-bytes" * 1000
    assert not (tmp_path / "out.jpg.part").exists()
    assert casavi.requests[-1].headers["token"] == "tok-1"


@pytest.mark.parametrize("reference", ["345", "/files/345", "/v1/files/345"])
def test_download_accepts_an_id_or_a_relative_path(casavi, tmp_path, reference):
    casavi.routes[("GET", "/files/345")] = lambda r: httpx.Response(200, content=b"x")
    casavi.client().download_file(reference, tmp_path / "f")
    assert casavi.requests[-1].url == httpx.URL(f"{BASE}/files/345")


def test_the_token_never_travels_to_another_host_even_through_a_redirect(casavi, tmp_path):
    casavi.routes[("GET", "/files/345")] = lambda r: httpx.Response(
        302, headers={"Location": "https://storage.test/blob/345"})
    original = casavi.__call__

    def with_storage(request):
        if request.url.host == "storage.test":
            casavi.requests.append(request)
            return httpx.Response(200, content=b"blob")
        return original(request)

    from bridge.casavi.client import CasaviClient
    from bridge.http import HttpPolicy

    client = CasaviClient(BASE, KEY, SECRET, policy=HttpPolicy(sleep=lambda s: None),
                          transport=httpx.MockTransport(with_storage), clock=casavi.clock)
    client.download_file("345", tmp_path / "f")
    assert (tmp_path / "f").read_bytes() == b"blob"
    assert casavi.requests[-1].url.host == "storage.test"
    assert "token" not in casavi.requests[-1].headers


def test_a_failed_download_leaves_no_file_behind(casavi, tmp_path):
    dest = tmp_path / "f"
    with pytest.raises(NotFoundError):
        casavi.client().download_file("999", dest)
    assert list(tmp_path.iterdir()) == []


# -- properties, units, contacts, staff, hooks ----------------------------------------------------


def test_properties_are_read_across_pages_by_page_count(casavi):
    def page(request):
        number = int(request.url.params["page"])
        rows = [{"id": f"P-{number}-{i}", "name": "x", "postalCode": 80331} for i in range(2)]
        return httpx.Response(200, json={"count": 6, "page": number, "pageCount": 3, "rows": rows})

    casavi.routes[("GET", "/properties")] = page
    properties = list(casavi.client().list_properties())
    assert len(properties) == 6 and properties[0].postal_code == "80331"
    assert [r.url.params["page"] for r in casavi.requests[1:]] == ["1", "2", "3"]


def test_property_units_are_paged_from_zero(casavi):
    def page(request):
        number = int(request.url.params["page"])
        return httpx.Response(200, json={"page": number, "pageCount": 2, "rows": [{"id": f"U-{number}"}]})

    casavi.routes[("GET", "/properties/P-1/units")] = page
    units = list(casavi.client().list_property_units("P-1"))
    assert [u.unit_id for u in units] == ["U-0", "U-1"]
    assert [r.url.params["page"] for r in casavi.requests[1:]] == ["0", "1"]


def test_single_records_are_read_from_their_paths(casavi):
    casavi.routes[("GET", "/properties/P-1")] = lambda r: httpx.Response(200, json={"id": "P-1", "name": "Easy Living"})
    casavi.routes[("GET", "/units/U-1")] = lambda r: httpx.Response(200, json={"id": "U-1", "name": "Unit 1"})
    casavi.routes[("GET", "/contacts/C-1")] = lambda r: httpx.Response(200, json={"id": "C-1", "firstName": "Joe"})
    casavi.routes[("GET", "/staff/M-1")] = lambda r: httpx.Response(200, json={"id": "M-1", "role": "MANAGER"})
    casavi.routes[("GET", "/contacts")] = lambda r: httpx.Response(200, json=[{"id": "C-1"}, {"bad": 1}])
    casavi.routes[("GET", "/staff")] = lambda r: httpx.Response(200, json=[{"id": "M-1"}])
    client = casavi.client()
    assert client.get_property("P-1").name == "Easy Living"
    assert client.get_unit("U-1").name == "Unit 1"
    assert client.get_contact("C-1").display_name == "Joe"
    assert client.get_staff_member("M-1").role == "MANAGER"
    assert [c.contact_id for c in client.list_contacts()] == ["C-1"]
    assert [s.staff_id for s in client.list_staff()] == ["M-1"]


def test_hook_id_comes_from_the_answer_or_its_location_header(casavi):
    casavi.routes[("POST", "/hooks")] = lambda r: httpx.Response(201, headers={"Location": f"{BASE}/hooks/11"})
    casavi.routes[("DELETE", "/hooks/11")] = lambda r: httpx.Response(204)
    client = casavi.client()
    assert client.subscribe_hook("contact_created", "https://example.test/hook") == "11"
    client.delete_hook("11")
    assert casavi.requests[-1].url.path == "/v1/hooks/11"


def test_close_is_safe_before_and_after_use(casavi, tmp_path: Path):
    client = casavi.client()
    client.close()
    with client:
        list(client.list_tickets())
    list(client.list_tickets())  # a closed client opens a new connection pool on demand

"""Each silent point of the casavi document is a switch; strict (the default) is the inconvenient reading.

Raw httpx against the sandbox, one test per switch, each under both readings.
"""

from __future__ import annotations

import pytest

from bridge.sandbox.casavi.readings import TEN_MB, TEN_MIB, Readings
from tests.fixtures.sandbox import PLAIN_CLIENT, casavi_control, casavi_login


def first_ticket(client):
    return client.get("/tickets").json()[0]


def test_profiles_set_every_reading_and_single_flags_override_them():
    strict, lenient = Readings.profile("strict"), Readings.profile("lenient")
    assert strict == Readings()
    assert not any(v for k, v in strict.as_dict().items() if k != "max_file_bytes")
    assert all(v for k, v in lenient.as_dict().items() if k != "max_file_bytes")
    assert (strict.max_file_bytes, lenient.max_file_bytes) == (10_000_000, 10_485_760)
    assert Readings.profile("strict", embed_comments=True, refresh_endpoint=None).embed_comments is True
    with pytest.raises(ValueError):
        Readings.profile("friendly")
    with pytest.raises(ValueError):
        Readings().with_values({"max_file_bytes": "10MB"})


@pytest.mark.parametrize("profile", ["strict", "lenient"])
def test_tenant_comment_moves_last_modified_only_under_the_lenient_reading(start_casavi_sandbox, profile):
    sandbox = start_casavi_sandbox(casavi_profile=profile)
    client = casavi_login(sandbox)
    ticket = first_ticket(client)
    comment = casavi_control(sandbox, "POST", f"/tickets/{ticket['id']}/comments", json={"text": "Noch da?"}).json()
    task = casavi_control(sandbox, "POST", f"/tickets/{ticket['id']}/tasks", json={"id": "T-9", "title": "Prüfen"})
    assert task.status_code == 201
    after = client.get(f"/tickets/{ticket['id']}").json()
    if profile == "strict":
        assert after["lastModified"] == ticket["lastModified"] < comment["createdAt"]
    else:
        assert after["lastModified"] > comment["createdAt"] > ticket["lastModified"]


@pytest.mark.parametrize("profile", ["strict", "lenient"])
def test_ticket_embeds_comments_only_under_the_lenient_reading(start_casavi_sandbox, profile):
    sandbox = start_casavi_sandbox(casavi_profile=profile)
    client = casavi_login(sandbox)
    ticket = first_ticket(client)
    casavi_control(sandbox, "POST", f"/tickets/{ticket['id']}/comments", json={"text": "Heizung kalt"})
    detail = client.get(f"/tickets/{ticket['id']}").json()
    paged = client.get(f"/tickets/{ticket['id']}/comments").json()
    assert paged[-1]["text"] == "Heizung kalt"
    assert detail["comments"] == ([] if profile == "strict" else paged)
    stored = casavi_control(sandbox, "GET", f"/tickets/{ticket['id']}").json()
    assert stored["comments"][-1]["text"] == "Heizung kalt"  # the control view shows what is stored


@pytest.mark.parametrize("profile", ["strict", "lenient"])
def test_list_filter_takes_pending_only_under_the_lenient_reading(start_casavi_sandbox, profile):
    client = casavi_login(start_casavi_sandbox(casavi_profile=profile))
    for status in ("OPEN", "CLOSED", "INPROGRESS", "POSTPONED"):
        assert client.get("/tickets", params={"status": status}).status_code == 200
    pending = client.get("/tickets", params=[("status", "OPEN"), ("status", "PENDING")])
    assert pending.status_code == (400 if profile == "strict" else 200)


@pytest.mark.parametrize("profile", ["strict", "lenient"])
def test_task_put_replaces_the_task_under_the_strict_reading(start_casavi_sandbox, profile):
    sandbox = start_casavi_sandbox(casavi_profile=profile)
    client = casavi_login(sandbox)
    ticket = first_ticket(client)
    path = f"/tickets/{ticket['id']}/tasks"
    created = client.post(path, json={"id": "T-1", "title": "Rohr", "description": "Wasser tritt aus",
                                      "assignedToId": "E-1", "status": "ACCEPTED"})
    assert created.status_code == 201
    reply = client.put(f"{path}/T-1", json={"id": "T-1", "title": "Rohr", "status": "COMPLETED"})
    assert reply.status_code == 200
    task = client.get(f"{path}/T-1").json()
    assert task["status"] == "COMPLETED"
    if profile == "strict":
        assert (task["description"], task["assignedToId"]) == ("", None)
    else:
        assert (task["description"], task["assignedToId"]) == ("Wasser tritt aus", "E-1")


def _upload(client, name: str, data: bytes) -> int:
    reply = client.post("/files", content=data, headers={"X-Filename": name, "Content-Type": "text/plain"})
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]


@pytest.mark.parametrize("profile", ["strict", "lenient"])
def test_a_tasks_files_are_listed_on_the_ticket_under_the_strict_reading(start_casavi_sandbox, profile):
    sandbox = start_casavi_sandbox(casavi_profile=profile)
    client = casavi_login(sandbox)
    ticket = first_ticket(client)
    quote = _upload(client, "Angebot.txt", b"420 EUR")
    created = client.post(f"/tickets/{ticket['id']}/tasks", json={"id": "T-1", "title": "Rohr", "attachments": [quote]})
    assert created.status_code == 201 and created.json()["attachments"] == [quote]
    assert [d["name"] for d in created.json()["attachmentDetails"]] == ["Angebot.txt"]
    detail = client.get(f"/tickets/{ticket['id']}").json()
    listed = [r for r in client.get("/tickets", params={"page": 1}).json() if r["id"] == ticket["id"]]
    on_ticket = quote in detail["attachments"] and "Angebot.txt" in [d["name"] for d in detail["attachmentDetails"]]
    assert on_ticket is (profile == "strict")
    assert all((quote in row["attachments"]) is (profile == "strict") for row in listed)
    assert [t["attachments"] for t in detail["tasks"] if t["id"] == "T-1"] == [[quote]]


@pytest.mark.parametrize("profile", ["strict", "lenient"])
def test_task_put_attachments_replace_the_tasks_files_under_the_strict_reading(start_casavi_sandbox, profile):
    sandbox = start_casavi_sandbox(casavi_profile=profile)
    client = casavi_login(sandbox)
    path = f"/tickets/{first_ticket(client)['id']}/tasks"
    first, second = _upload(client, "a.txt", b"a"), _upload(client, "b.txt", b"b")
    assert client.post(path, json={"id": "T-1", "title": "Rohr", "attachments": [first]}).status_code == 201
    assert client.put(f"{path}/T-1", json={"id": "T-1", "title": "Rohr", "attachments": [second]}).status_code == 200
    files = client.get(f"{path}/T-1").json()["attachments"]
    assert files == ([second] if profile == "strict" else [first, second])
    assert client.put(f"{path}/T-1", json={"id": "T-1", "title": "Rohr", "attachments": [999999]}).status_code == 400


@pytest.mark.parametrize("profile, limit", [("strict", TEN_MB), ("lenient", TEN_MIB)])
def test_upload_limit_is_ten_million_bytes_under_the_strict_reading(start_casavi_sandbox, profile, limit):
    client = casavi_login(start_casavi_sandbox(casavi_profile=profile))
    headers = {"X-Filename": "scan.pdf", "Content-Type": "application/pdf"}
    assert client.post("/files", content=b"x" * (TEN_MB + 1), headers=headers).status_code == (
        413 if profile == "strict" else 201)
    assert client.post("/files", content=b"x" * (limit + 1), headers=headers).status_code == 413
    assert client.post("/files", content=b"x" * limit, headers=headers).status_code == 201


@pytest.mark.parametrize("profile", ["strict", "lenient"])
def test_refresh_path_exists_only_under_the_lenient_reading(start_casavi_sandbox, profile):
    sandbox = start_casavi_sandbox(casavi_profile=profile)
    token = casavi_login(sandbox).headers["token"]
    reply = PLAIN_CLIENT.post(sandbox.casavi_url + "/authenticate/refresh",
                              json={"apiKey": sandbox.casavi_key, "token": token})
    assert reply.status_code == (404 if profile == "strict" else 200)


def test_single_readings_change_at_run_time_through_the_fault_endpoint(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    ticket = first_ticket(client)
    knobs = casavi_control(casavi_sandbox, "POST", "/fault", json={"embed_comments": True}).json()
    assert knobs["embed_comments"] is True and knobs["profile"] == "strict" and knobs["refresh_endpoint"] is False
    casavi_control(casavi_sandbox, "POST", f"/tickets/{ticket['id']}/comments", json={"text": "a"})
    assert client.get(f"/tickets/{ticket['id']}").json()["comments"][-1]["text"] == "a"
    knobs = casavi_control(casavi_sandbox, "POST", "/fault", json={"profile": "lenient"}).json()
    assert knobs["comments_move_modified"] is True and knobs["max_file_bytes"] == TEN_MIB
    assert casavi_control(casavi_sandbox, "POST", "/fault", json={"embed_comments": "yes"}).status_code == 400


@pytest.mark.parametrize("profile", ["strict", "lenient"])
def test_the_probe_says_what_casavi_answers_and_reads_nothing_it_need_not(start_casavi_sandbox, profile):
    from bridge.casavi.source import CasaviSource
    from tests.contract.casavi_helpers import client_for

    sandbox = start_casavi_sandbox(casavi_profile=profile, profile="bench")  # every ticket has comments and a file
    source = CasaviSource(client_for(sandbox))
    found = "\n".join(source.probe())
    if profile == "strict":
        assert "only in the paged" in found and "no refresh path" in found and "carry no url" in found
        assert source.reader.shapes.comments_embedded is False
    else:
        assert "embedded in GET /tickets/{id}" in found and "refresh path answers" not in found
        assert "POST /authenticate/refresh answers" in found and "carry a url" in found
        assert source.reader.shapes.comments_embedded is True
    casavi_control(sandbox, "POST", "/stats/reset")
    source.get(next(iter(source.changed_since(None))).ref)
    reads = casavi_control(sandbox, "GET", "/stats").json()["requests"]
    # Proven embedded: one read per ticket; otherwise the paged comments as well.
    assert reads.get("GET /tickets/{ticket_id}/comments", 0) == (1 if profile == "strict" else 0)


@pytest.mark.parametrize("profile", ["strict", "lenient"])
def test_custom_fields_are_typed_json_under_the_strict_reading_and_text_under_the_lenient(start_casavi_sandbox,
                                                                                           profile):
    sandbox = start_casavi_sandbox(casavi_profile=profile)
    client = casavi_login(sandbox)
    ticket = first_ticket(client)
    entered = {"Schadenssumme": 1250.5, "Versicherungsfall": True, "Gewerke": ["Sanitär", "Elektro"],
               "Kostenstelle": None, "priority": "hoch"}
    casavi_control(sandbox, "PUT", f"/tickets/{ticket['id']}", json={"customFields": entered})
    detail = client.get(f"/tickets/{ticket['id']}").json()
    shown = detail["customFields"]
    [listed] = [t["customFields"] for t in client.get("/tickets", params={"date": detail["lastModified"]}).json()
                if t["id"] == ticket["id"]]
    if profile == "strict":
        assert shown == entered
    else:
        assert shown == {"Schadenssumme": "1250.5", "Versicherungsfall": "true", "Gewerke": "Sanitär, Elektro",
                         "Kostenstelle": "", "priority": "hoch"}
    assert listed == shown

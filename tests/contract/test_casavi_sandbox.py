"""The casavi sandbox behaves like the casavi manager API v1 document: raw httpx over real sockets."""

from __future__ import annotations

import time

import httpx

from bridge.sandbox.casavi.records import MAX_FILE_BYTES, parse_date_ms
from tests.fixtures.sandbox import PLAIN_CLIENT, casavi_control, casavi_login


def all_tickets(client: httpx.Client, **params) -> list[dict]:
    tickets, page = [], 1
    while True:
        rows = client.get("/tickets", params={**params, "page": page}).json()
        tickets += rows
        if len(rows) < 25:
            return tickets
        page += 1


def full_ticket_body(ticket: dict, **changes) -> dict:
    return {"id": ticket["id"], "title": ticket["title"], "propertyId": ticket["propertyId"], **changes}


# -- authentication -------------------------------------------------------------------------------


def test_authenticate_returns_token_and_utc_expiry(casavi_sandbox_session):
    reply = PLAIN_CLIENT.post(casavi_sandbox_session.casavi_url + "/authenticate",
                       json={"key": casavi_sandbox_session.casavi_key, "secret": casavi_sandbox_session.casavi_secret})
    assert reply.status_code == 200
    body = reply.json()
    assert body["token"] and body["expiresAt"].endswith("Z") and len(body["expiresAt"]) == 24
    assert parse_date_ms(body["expiresAt"]) > time.time() * 1000


def test_deprecated_apikey_email_password_login_is_mapped(casavi_sandbox_session):
    s = casavi_sandbox_session
    reply = PLAIN_CLIENT.post(s.casavi_url + "/authenticate",
                       json={"apiKey": s.casavi_key, "email": "ignored@example.org", "password": s.casavi_secret})
    assert reply.status_code == 200 and reply.json()["token"]


def test_wrong_secret_is_refused_with_401(casavi_sandbox_session):
    s = casavi_sandbox_session
    reply = PLAIN_CLIENT.post(s.casavi_url + "/authenticate", json={"key": s.casavi_key, "secret": "wrong"})
    assert reply.status_code == 401
    assert reply.json()["statusCode"] == 401


def test_calls_without_or_with_unknown_token_are_refused(casavi_sandbox_session):
    url = casavi_sandbox_session.casavi_url
    assert PLAIN_CLIENT.get(url + "/tickets").status_code == 401
    assert PLAIN_CLIENT.get(url + "/tickets", headers={"token": "not-a-token"}).status_code == 401
    assert PLAIN_CLIENT.get(url + "/properties", headers={"token": ""}).status_code == 401


def test_token_expires_after_its_lifetime_and_refresh_needs_a_valid_token(start_casavi_sandbox):
    sandbox = start_casavi_sandbox(token_ttl_seconds=0.4, casavi_profile="lenient")
    client = casavi_login(sandbox)
    token = client.headers["token"]
    assert client.get("/tickets").status_code == 200
    refreshed = PLAIN_CLIENT.post(sandbox.casavi_url + "/authenticate/refresh", json={"apiKey": sandbox.casavi_key, "token": token})
    assert refreshed.status_code == 200 and refreshed.json()["token"] != token
    time.sleep(0.5)
    assert client.get("/tickets").status_code == 401
    late = PLAIN_CLIENT.post(sandbox.casavi_url + "/authenticate/refresh", json={"apiKey": sandbox.casavi_key, "token": token})
    assert late.status_code == 401


def test_revoking_tokens_at_run_time_forces_a_new_login(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    assert casavi_control(casavi_sandbox, "POST", "/fault", json={"revoke_tokens": True}).status_code == 200
    assert client.get("/tickets").status_code == 401
    assert casavi_login(casavi_sandbox).get("/tickets").status_code == 200


# -- ticket list ----------------------------------------------------------------------------------


def test_tickets_come_25_per_page_in_last_modified_order_and_past_the_end_is_empty(casavi_sandbox_session):
    client = casavi_login(casavi_sandbox_session)
    pages = [client.get("/tickets", params={"page": n}).json() for n in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [25, 25, 10, 0]
    assert client.get("/tickets").json() == pages[0]  # page defaults to 1
    rows = pages[0] + pages[1] + pages[2]
    assert len({t["id"] for t in rows}) == 60
    keys = [(t["lastModified"], t["internalId"]) for t in rows]
    assert keys == sorted(keys)
    assert "comments" not in rows[0] and "attachmentDetails" in rows[0]
    assert client.get("/tickets", params={"page": 0}).status_code == 400
    assert client.get("/tickets", params={"page": "x"}).status_code == 400


def test_filters_by_property_unit_and_repeated_status(casavi_sandbox_session):
    client = casavi_login(casavi_sandbox_session)
    everything = all_tickets(client)
    some = everything[0]
    by_property = all_tickets(client, propertyId=some["propertyId"])
    assert by_property and all(t["propertyId"] == some["propertyId"] for t in by_property)
    assert len(by_property) == sum(t["propertyId"] == some["propertyId"] for t in everything)
    with_unit = next(t for t in everything if t["unitId"])
    by_unit = all_tickets(client, unitId=with_unit["unitId"])
    assert by_unit and all(t["unitId"] == with_unit["unitId"] for t in by_unit)
    wanted = ["OPEN", "INPROGRESS"]
    by_status = client.get("/tickets", params=[("status", "OPEN"), ("status", "INPROGRESS")]).json()
    assert by_status and {t["status"] for t in by_status} <= set(wanted)
    assert len(all_tickets(client, status=wanted)) == sum(t["status"] in wanted for t in everything)
    assert client.get("/tickets", params={"status": "DONE"}).status_code == 400
    assert client.get("/tickets", params={"propertyId": "P-nope"}).json() == []


def test_date_means_modified_at_or_after_by_default(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    everything = all_tickets(client)
    middle = everything[30]
    since = all_tickets(client, date=middle["lastModified"])
    assert since[0]["id"] == middle["id"]  # inclusive
    assert [t["id"] for t in since] == [t["id"] for t in everything[30:]]
    old = everything[0]
    assert casavi_control(casavi_sandbox, "PUT", f"/tickets/{old['id']}", json={"statusText": "Noch da?"}).status_code == 200
    assert all_tickets(client, date=middle["lastModified"])[-1]["id"] == old["id"]
    assert client.get("/tickets", params={"date": "yesterday"}).status_code == 400


def test_date_means_created_at_or_after_under_created_semantics(start_casavi_sandbox):
    sandbox = start_casavi_sandbox(date_semantics="created")
    client = casavi_login(sandbox)
    everything = all_tickets(client)
    old = everything[0]
    cut = "2099-01-01T00:00:00.000Z"
    assert all_tickets(client, date=cut) == []
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 1))
    casavi_control(sandbox, "PUT", f"/tickets/{old['id']}", json={"statusText": "modified, not created"})
    created = casavi_control(sandbox, "POST", "/tickets", json={"title": "Neu: Heizung kalt"}).json()
    assert [t["id"] for t in all_tickets(client, date=now)] == [created["id"]]
    assert casavi_control(sandbox, "POST", "/fault", json={"date_semantics": "modified"}).status_code == 200
    assert {t["id"] for t in all_tickets(client, date=now)} == {old["id"], created["id"]}


# -- tickets, comments, tasks ---------------------------------------------------------------------


def test_ticket_detail_embeds_comments_tasks_and_attachment_urls_under_the_lenient_reading(start_casavi_sandbox):
    sandbox = start_casavi_sandbox(casavi_profile="lenient")
    client = casavi_login(sandbox)
    everything = all_tickets(client)
    details = [client.get(f"/tickets/{t['id']}").json() for t in everything]
    assert any(d["comments"] for d in details) and any(d["tasks"] for d in details)
    with_files = [d for d in details if d["attachmentDetails"]]
    assert with_files
    detail = with_files[0]["attachmentDetails"][0]
    assert set(detail) == {"id", "name", "contentType", "size", "url"}
    assert detail["url"] == f"{sandbox.casavi_url}/files/{detail['id']}"
    assert detail["id"] in with_files[0]["attachments"]
    assert client.get(detail["url"]).content.__len__() == detail["size"]


def test_create_ticket_requires_id_title_property_and_refuses_duplicate_ids(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    prop = client.get("/properties").json()["rows"][0]["id"]
    body = {"id": "EXT-1", "title": "Türschloss klemmt", "propertyId": prop, "status": "OPEN", "number": 999}
    created = client.post("/tickets", json=body)
    assert created.status_code == 201 and created.json()["id"] == "EXT-1"
    assert client.post("/tickets", json=body).status_code == 409
    assert client.post("/tickets", json={**body, "id": "EXT-2", "title": ""}).status_code == 400
    assert client.post("/tickets", json={"id": "EXT-3", "title": "x"}).status_code == 400
    assert client.post("/tickets", json={"title": "x", "propertyId": prop}).status_code == 400
    assert client.post("/tickets", json={**body, "id": "EXT-4", "status": "DONE"}).status_code == 400
    assert client.get("/tickets/EXT-1").json()["title"] == "Türschloss klemmt"


def test_put_ticket_changes_status_and_comment_shorthand_adds_a_comment(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    ticket = client.get("/tickets").json()[0]
    reply = client.put(f"/tickets/{ticket['id']}", json=full_ticket_body(ticket, status="CLOSED", comment="Erledigt."))
    assert reply.status_code == 200
    after = client.get(f"/tickets/{ticket['id']}").json()
    assert after["status"] == "CLOSED" and after["closedAt"]
    assert client.get(f"/tickets/{ticket['id']}/comments").json()[-1]["text"] == "Erledigt."
    assert after["lastModified"] > ticket["lastModified"]


def test_put_ticket_needs_the_documented_required_fields_unless_partial_is_allowed(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    ticket = client.get("/tickets").json()[0]
    assert client.put(f"/tickets/{ticket['id']}", json={"status": "INPROGRESS"}).status_code == 400
    assert client.put(f"/tickets/{ticket['id']}", json=full_ticket_body(ticket, id="OTHER")).status_code == 400
    casavi_control(casavi_sandbox, "POST", "/fault", json={"ticket_put_partial": True})
    assert client.put(f"/tickets/{ticket['id']}", json={"status": "INPROGRESS"}).json()["status"] == "INPROGRESS"


def test_deleted_ticket_is_gone(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    ticket = client.get("/tickets").json()[0]
    assert client.delete(f"/tickets/{ticket['id']}").status_code == 204
    assert client.get(f"/tickets/{ticket['id']}").status_code == 404
    assert ticket["id"] not in {t["id"] for t in all_tickets(client)}


def test_comment_with_caller_id_is_created_once_and_bumps_last_modified_under_the_lenient_reading(start_casavi_sandbox):
    client = casavi_login(start_casavi_sandbox(casavi_profile="lenient"))
    ticket = client.get("/tickets").json()[0]
    path = f"/tickets/{ticket['id']}/comments"
    reply = client.post(path, json={"id": "jira-10042-c-10311", "text": "Bitte **dringend**", "isInternal": True})
    assert reply.status_code == 201
    assert reply.json()["isInternal"] is True and reply.json()["id"] == "jira-10042-c-10311"
    assert client.post(path, json={"id": "jira-10042-c-10311", "text": "again"}).status_code == 409
    after = client.get(f"/tickets/{ticket['id']}").json()
    assert after["lastModified"] > ticket["lastModified"]
    assert all_tickets(client)[-1]["id"] == ticket["id"]  # it moved to the end of the list
    generated = client.post(path, json={"text": "ohne id"}).json()["id"]
    assert len(generated) == 36  # a uuid
    assert client.post(path, json={"text": ""}).status_code == 400
    listed = client.get(path).json()
    assert [c["id"] for c in listed][-2:] == ["jira-10042-c-10311", generated]
    update = client.put(f"{path}/{generated}", json={"text": "geändert"})
    assert update.status_code == 200 and update.json()["text"] == "geändert"
    assert client.put(f"{path}/nope", json={"text": "x"}).status_code == 404


def test_comment_author_must_exist_unless_falling_back_to_the_account(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    ticket = client.get("/tickets").json()[0]
    path = f"/tickets/{ticket['id']}/comments"
    manager = client.get("/staff").json()[0]
    by_id = client.post(path, json={"text": "a", "authorId": manager["id"]}).json()
    assert by_id["authorName"] == f"{manager['firstName']} {manager['lastName']}"
    by_email = client.post(path, json={"text": "b", "authorEmail": manager["email"]}).json()
    assert by_email["authorId"] == manager["id"]
    assert client.post(path, json={"text": "c", "authorEmail": "nobody@example.org"}).status_code == 400
    fallback = client.post(path, json={"text": "d", "authorEmail": "nobody@example.org", "fallbackToAccount": True})
    assert fallback.status_code == 201 and fallback.json()["authorId"] is None


def test_files_on_a_comment_become_ticket_attachments_and_download_as_uploaded(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    ticket = client.get("/tickets").json()[0]
    data = "Zählerstand: 12.345 m³\n".encode() * 10
    upload = client.post("/files", content=data, headers={"X-Filename": "Z%C3%A4hler%20K%C3%BCche.txt",
                                                           "Content-Type": "text/plain"})
    assert upload.status_code == 201
    file_id = upload.json()["id"]
    assert isinstance(file_id, int)
    comment = client.post(f"/tickets/{ticket['id']}/comments", json={"text": "Foto anbei", "attachments": [file_id]})
    assert comment.status_code == 201
    detail = client.get(f"/tickets/{ticket['id']}").json()
    assert file_id in detail["attachments"]
    info = next(d for d in detail["attachmentDetails"] if d["id"] == file_id)
    assert info["name"] == "Zähler Küche.txt" and info["size"] == len(data) and info["contentType"] == "text/plain"
    assert "url" not in info  # the strict reading: the document shows no item schema
    download = client.get(f"/files/{file_id}")
    assert download.content == data and download.headers["content-type"] == "text/plain"
    assert client.post(f"/tickets/{ticket['id']}/comments", json={"text": "x", "attachments": [999999]}).status_code == 400
    assert client.post("/files", content=b"x", headers={"Content-Type": "text/plain"}).status_code == 400


def test_upload_over_10_mb_is_refused_with_413(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    headers = {"X-Filename": "big.bin", "Content-Type": "application/octet-stream"}
    assert client.post("/files", content=b"x" * (MAX_FILE_BYTES + 1), headers=headers).status_code == 413

    def chunked():  # no Content-Length: the server has to count
        for _ in range(11):
            yield b"y" * (1024 * 1024)

    assert client.post("/files", content=chunked(), headers=headers).status_code == 413
    assert client.post("/files", content=b"z" * MAX_FILE_BYTES, headers=headers).status_code == 201


def test_tasks_have_unique_ids_valid_statuses_and_can_be_read_changed_deleted(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    ticket = client.get("/tickets").json()[0]
    path = f"/tickets/{ticket['id']}/tasks"
    body = {"id": "jira-10050", "title": "Heizungsmonteur beauftragen", "status": "OPEN"}
    assert client.post(path, json=body).status_code == 201
    assert client.post(path, json=body).status_code == 409
    assert client.post(path, json={**body, "id": "t2", "status": "DONE"}).status_code == 400
    assert client.post(path, json={"title": "no id"}).status_code == 400
    changed = client.put(f"{path}/jira-10050", json={**body, "status": "COMPLETED"})
    assert changed.status_code == 200 and changed.json()["completed"] is True and changed.json()["completedAt"]
    assert client.get(f"{path}/jira-10050").json()["status"] == "COMPLETED"
    assert client.put(f"{path}/jira-10050", json={**body, "status": "WRONG"}).status_code == 400
    assert client.get(f"/tickets/{ticket['id']}").json()["tasks"][-1]["id"] == "jira-10050"
    assert client.delete(f"{path}/jira-10050").status_code == 204
    assert client.get(f"{path}/jira-10050").status_code == 404


def test_ids_with_a_slash_work_when_percent_encoded(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    prop = client.get("/properties").json()["rows"][0]["id"]
    assert client.post("/tickets", json={"id": "A/1", "title": "Slash", "propertyId": prop}).status_code == 201
    assert client.get("/tickets/A%2F1").json()["id"] == "A/1"


def test_unknown_ids_are_404_with_a_json_error_body(casavi_sandbox_session):
    client = casavi_login(casavi_sandbox_session)
    for path in ("/tickets/T-99999", "/tickets/T-99999/comments", "/tickets/T-00001/tasks/nope", "/properties/P-nope",
                 "/properties/P-nope/units", "/units/U-nope", "/contacts/C-nope", "/staff/M-nope", "/files/999999",
                 "/files/abc", "/no/such/path"):
        reply = client.get(path)
        assert reply.status_code == 404, path
        assert reply.json()["statusCode"] == 404 and reply.json()["message"]
    assert client.delete("/hooks/4242").status_code == 404


# -- master data and hooks ------------------------------------------------------------------------


def test_properties_are_paged_objects_and_units_page_from_zero(casavi_sandbox_session):
    client = casavi_login(casavi_sandbox_session)
    properties = client.get("/properties").json()
    assert set(properties) == {"count", "page", "pageCount", "rows"} and properties["page"] == 1
    assert properties["count"] == len(properties["rows"]) and properties["pageCount"] == 1
    assert client.get("/properties", params={"page": 2}).json()["rows"] == []
    prop = properties["rows"][0]
    assert client.get(f"/properties/{prop['id']}").json() == prop
    units = client.get(f"/properties/{prop['id']}/units", params={"page": 0}).json()
    assert units["page"] == 0 and units["rows"] and units["pageCount"] == 1
    assert client.get(f"/properties/{prop['id']}/units").json() == units  # page defaults to 0
    assert client.get(f"/units/{units['rows'][0]['id']}").json()["id"] == units["rows"][0]["id"]
    contacts = client.get("/contacts").json()
    assert isinstance(contacts, list) and 0 < len(contacts) <= 25
    assert client.get(f"/contacts/{contacts[0]['id']}").json() == contacts[0]
    staff = client.get("/staff").json()
    assert client.get(f"/staff/{staff[0]['id']}").json() == staff[0]


def test_hooks_are_created_with_location_and_deleted(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    created = client.post("/hooks", json={"eventName": "contact_created", "hookUrl": "https://example.org/hook"})
    assert created.status_code == 201
    hook_id = created.json()["id"]
    assert created.headers["location"] == f"{casavi_sandbox.casavi_url}/hooks/{hook_id}"
    assert client.post("/hooks", json={"eventName": "contact_created", "hookUrl": "http://plain"}).status_code == 400
    assert client.post("/hooks", json={"eventName": "nope", "hookUrl": "https://x.example"}).status_code == 400
    assert client.delete(created.headers["location"]).status_code == 204
    assert client.delete(f"/hooks/{hook_id}").status_code == 404


# -- sandbox control, faults, stats ---------------------------------------------------------------


def test_tenant_actions_change_the_same_data_and_bump_last_modified(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    ticket = client.get("/tickets").json()[0]
    comment = casavi_control(casavi_sandbox, "POST", f"/tickets/{ticket['id']}/comments", json={"text": "Wann kommt jemand?"})
    assert comment.status_code == 201 and comment.json()["authorId"] == ticket["contactId"]
    status = casavi_control(casavi_sandbox, "PUT", f"/tickets/{ticket['id']}", json={"status": "POSTPONED"}).json()
    after = client.get(f"/tickets/{ticket['id']}").json()
    assert after["status"] == "POSTPONED"
    assert client.get(f"/tickets/{ticket['id']}/comments").json()[-1]["text"] == "Wann kommt jemand?"
    assert ticket["lastModified"] < comment.json()["createdAt"] < after["lastModified"] == status["lastModified"]
    created = casavi_control(casavi_sandbox, "POST", "/tickets", json={"title": "Neues Ticket"}).json()
    assert client.get(f"/tickets/{created['id']}").status_code == 200


def test_last_modified_is_strictly_increasing_across_quick_writes(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    ticket_id = client.get("/tickets").json()[0]["id"]
    stamps = [casavi_control(casavi_sandbox, "PUT", f"/tickets/{ticket_id}", json={"status": "OPEN"}).json()["lastModified"]
              for _ in range(20)]
    assert stamps == sorted(set(stamps))


def test_type_group_follows_the_type_and_custom_fields_change_only_in_the_web_app(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    ticket = client.get("/tickets").json()[0]
    body = full_ticket_body(ticket, type="Wasserschaden", typeGroup="Eigene Gruppe", customFields={"priority": "x"})
    after = client.put(f"/tickets/{ticket['id']}", json=body).json()
    # typeGroup is the type's category (no request body takes it); the API takes no customFields.
    assert (after["type"], after["typeGroup"]) == ("Wasserschaden", "Reparatur")
    assert after["customFields"] == ticket["customFields"]
    assert client.put(f"/tickets/{ticket['id']}", json=full_ticket_body(ticket, type="Anfrage")).json()["typeGroup"] is None
    edited = casavi_control(casavi_sandbox, "PUT", f"/tickets/{ticket['id']}",
                            json={"customFields": {"priority": "hoch"}}).json()
    assert edited["customFields"] == {"priority": "hoch"}
    assert edited["lastModified"] > after["lastModified"]
    assert casavi_control(casavi_sandbox, "PUT", f"/tickets/{ticket['id']}",
                          json={"customFields": ["hoch"]}).status_code == 400

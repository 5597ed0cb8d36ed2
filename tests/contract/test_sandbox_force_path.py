"""The ``force_path`` fault knob: forced faults hit one item's requests and no other."""

from __future__ import annotations

from tests.fixtures.sandbox import casavi_control, casavi_login


def test_forced_faults_limited_to_a_path_leave_other_requests_alone(casavi_sandbox):
    client = casavi_login(casavi_sandbox)
    tickets = client.get("/tickets", params={"pageSize": 3}).json()
    first, second = tickets[0]["id"], tickets[1]["id"]
    knobs = casavi_control(casavi_sandbox, "POST", "/fault",
                           json={"force_status": 500, "force_count": 5, "force_path": f"/tickets/{first}"}).json()
    assert knobs["force_path"] == f"/tickets/{first}"
    assert client.get(f"/tickets/{second}").status_code == 200
    assert client.get("/tickets", params={"pageSize": 3}).status_code == 200
    assert client.get(f"/tickets/{first}").status_code == 500
    assert client.get(f"/tickets/{first}/comments").status_code == 500
    assert casavi_control(casavi_sandbox, "GET", "/fault").json()["force_count"] == 3
    assert casavi_control(casavi_sandbox, "POST", "/fault", json={"force_path": 7}).status_code == 400

"""Who works on it, both ways, against a real Redmine: casavi's assignee reaches the issue,
a reassignment in Redmine reaches casavi, nobody is echoed.  The bridge's Redmine account is
no administrator, so Redmine's user list (admin only) is refused: people come from
``[redmine] assignee_map`` — and a staff member missing from it leaves the issue unassigned."""

from __future__ import annotations

import tomllib

import httpx
import tomli_w

from bridge.app import build_bridge
from bridge.config import load_config
from bridge.sandbox.server import start_sandboxes
from tests.fixtures.processes import write_config
from tests.integration.test_redmine_end_to_end import MAPS, REDMINE_EXAMPLE, casavi_ticket

MIRIAM, JOERG, TOM = "M-000001", "M-000002", "M-000004"


def _redmine_user(admin: httpx.Client, login: str, first: str, last: str, mail: str, project: str) -> int:
    found = admin.get("/users.json", params={"name": login}).json()["users"]
    user = found[0] if found else admin.post("/users.json", json={"user": {
        "login": login, "firstname": first, "lastname": last, "mail": mail,
        "password": "casavi-bridge-1"}}).json()["user"]
    roles = admin.get("/roles.json").json()["roles"]
    developer = next(r["id"] for r in roles if r["name"] == "Developer")
    admin.post(f"/projects/{project}/memberships.json",
               json={"membership": {"user_id": user["id"], "role_ids": [developer]}}).raise_for_status()
    return user["id"]


def test_assignee_both_ways_against_real_redmine(redmine_server, tmp_path):
    # A project of its own: the sandbox's ticket ids (T-00001, ...) repeat across tests, and in
    # the session's shared server an earlier test's issue would be adopted by its marker.
    project = redmine_server.new_project()
    with redmine_server.admin() as admin:
        miriam = _redmine_user(admin, "mmanager", "Miriam", "Manager", "miriam.manager@hausverwaltung.example",
                               project)
        joerg = _redmine_user(admin, "jhausmeister", "Joerg", "Hausmeister",
                              "joerg.hausmeister@hausverwaltung.example", project)
    with start_sandboxes(tickets=0, seed=5, apps=("casavi",)) as sandbox:
        path = write_config(sandbox.info, tmp_path / "bridge.toml", connector="memory")
        config = tomllib.loads(path.read_text())
        example = tomllib.loads(REDMINE_EXAMPLE.read_text())
        config.pop("memory", None)
        config["connector"] = {"kind": "redmine"}
        config["redmine"] = redmine_server.settings(assignee_map={MIRIAM: miriam, JOERG: joerg}, project=project)
        for name in MAPS:
            config[name] = example[name]
        path.write_text(tomli_w.dumps(config))
        bridge = build_bridge(load_config(path))
        root = f"{sandbox.casavi_root}/_sandbox/tickets"
        try:
            tenant = next(iter(sandbox.casavi.store.contacts))
            ticket = httpx.post(root, json={"title": "Heizung kalt", "status": "OPEN", "contactId": tenant,
                                            "assignedToId": MIRIAM}, timeout=10).json()["id"]
            unknown = httpx.post(root, json={"title": "Tür klemmt", "status": "OPEN", "contactId": tenant,
                                             "assignedToId": TOM}, timeout=10).json()["id"]
            first = bridge.engine.run_pass()
            assert first.failed == {}
            issue_id = bridge.ledger.item_link(f"casavi:{ticket}").target_id
            assert bridge.connector.get(issue_id).fields["assignee"] == str(miriam)
            assert bridge.connector.get(bridge.ledger.item_link(f"casavi:{unknown}").target_id).fields["assignee"] == ""

            with redmine_server.admin() as admin:
                admin.put(f"/issues/{issue_id}.json", json={"issue": {"assigned_to_id": joerg}}).raise_for_status()
            bridge.engine.run_pass()
            assert casavi_ticket(sandbox, ticket)["assignedToId"] == JOERG
            assert casavi_ticket(sandbox, unknown)["assignedToId"] == TOM  # never overwritten

            httpx.put(f"{root}/{ticket}", json={"assignedToId": MIRIAM}, timeout=10).raise_for_status()
            bridge.engine.run_pass()
            assert bridge.connector.get(issue_id).fields["assignee"] == str(miriam)
            bridge.engine.run_pass()
            quiet = bridge.engine.run_pass()
            assert sum(v for k, v in quiet.counts.items() if k != "candidates") == 0, quiet.counts
        finally:
            bridge.close()

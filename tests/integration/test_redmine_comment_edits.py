"""Edited comments against a real Redmine (5.0+: ``PUT /journals/{id}.json``): a casavi edit
rewrites the note, a note edited in Redmine rewrites casavi's copy; neither is duplicated or
echoed."""

from __future__ import annotations

import httpx

from tests.integration.test_redmine_end_to_end import casavi_ticket, world, writes  # noqa: F401 - fixture


def _note_texts(bridge, issue_id: str, needle: str) -> list[str]:
    return [c.text for c in bridge.connector.get(issue_id).comments if needle in c.text]


def test_comment_edits_both_ways_against_real_redmine(world):  # noqa: F811 - the fixture
    sandbox, bridge, redmine = world
    bridge.engine.run_pass()
    key = sorted(bridge.ledger.linked_item_keys())[0]
    ticket_id, issue_id = key.split(":", 1)[1], bridge.ledger.item_link(key).target_id
    root = f"{sandbox.casavi_root}/_sandbox/tickets/{ticket_id}"

    # casavi → Redmine: the tenant corrects a comment.
    added = httpx.post(f"{root}/comments", json={"text": "Schlüssel liegt beim Nachbarn."}, timeout=10).json()
    bridge.engine.run_pass()
    httpx.put(f"{root}/comments/{added['id']}", json={"text": "Schlüssel liegt beim Hausmeister."},
              timeout=10).raise_for_status()
    bridge.engine.run_pass()
    assert _note_texts(bridge, issue_id, "Schlüssel liegt") == ["Schlüssel liegt beim Hausmeister."]

    # Redmine → casavi: a person corrects a note.  Redmine does not move the issue's updated_on
    # for a note edit, so it is seen when the issue is read next (here: a reconcile).
    with redmine.admin() as admin:
        admin.put(f"/issues/{issue_id}.json", json={"issue": {"notes": "Termin am Dienstag."}}).raise_for_status()
        bridge.engine.run_pass()
        journal = next(j for j in admin.get(f"/issues/{issue_id}.json?include=journals").json()["issue"]["journals"]
                       if j.get("notes") == "Termin am Dienstag.")
        admin.put(f"/journals/{journal['id']}.json", json={"journal": {"notes": "Termin am Mittwoch."}}).raise_for_status()
    bridge.engine.run_pass(full=True)
    copies = [c["text"] for c in casavi_ticket(sandbox, ticket_id)["comments"] if "Termin am" in c["text"]]
    assert len(copies) == 1 and "Mittwoch" in copies[0]
    assert _note_texts(bridge, issue_id, "Schlüssel liegt") == ["Schlüssel liegt beim Hausmeister."]
    for _ in range(2):
        bridge.engine.run_pass()
    assert writes(bridge.engine.run_pass(full=True)) == 0

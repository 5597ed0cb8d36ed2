"""Case 5 end to end against the real Redmine with its own default text formatting, Textile:
casavi's markdown is stored so that Redmine shows it as meant, and a Textile note a person writes
in Redmine reaches casavi as markdown.  What Redmine shows is read from its own issue page."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.integration.test_redmine_end_to_end import casavi_ticket, new_ticket, quiet_bridge


@pytest.fixture
def textile_world(redmine_defaults, tmp_path):
    assert redmine_defaults.text_formatting == "textile"
    with quiet_bridge(redmine_defaults, tmp_path) as world:
        yield world


DESCRIPTION = ("Zimmer -3- und -4- sind nass, 5*3 = 15 Eimer.\n\n"
               "Siehe [Plan](https://example.com/plan?a=1&b=(2)).Danach anrufen.\n\n"
               "- Wasser im **Keller**\n- Strom *aus*\n")


def test_case_5_mirrored_markdown_shows_in_a_textile_redmine_as_meant(textile_world):
    sandbox, bridge, redmine = textile_world
    ticket_id = new_ticket(sandbox, "Wasserschaden", description=DESCRIPTION)
    bridge.engine.run_pass()
    httpx.post(f"{sandbox.casavi_root}/_sandbox/tickets/{ticket_id}/comments",
               json={"text": "**Dringend**: Zimmer -3- zuerst, dann [Anleitung](https://example.com/a)."},
               timeout=10).raise_for_status()
    bridge.engine.run_pass()
    issue_id = bridge.ledger.item_link(f"casavi:{ticket_id}").target_id
    description, note = redmine.shown(issue_id)
    assert "<del>" not in description + note  # -3- and -4- are not struck through
    facts = re.findall(r"<li><strong>([^<]+):</strong> (.*?)</li>", description)
    assert [label for label, _ in facts][:2] == ["Property", "Reported by"]  # one line each
    assert any('<a href="https://app.casavi.example/tickets/' in value for _, value in facts)  # the link back
    assert "Zimmer -3- und -4- sind nass, 5*3 = 15 Eimer." in description
    assert '<a href="https://example.com/plan?a=1&#38;b=%282%29" class="external">Plan</a>.Danach anrufen.' in description
    assert re.search(r"<li>Wasser im <strong>Keller</strong></li>\s*<li>Strom <em>aus</em></li>", description)
    assert "<strong>Dringend</strong>: Zimmer -3- zuerst, dann " in note
    assert '<a href="https://example.com/a" class="external">Anleitung</a>.' in note
    assert "casavi:comment" not in note  # the bridge's marker stays invisible


PERSONS_NOTE = ("h3. Termin\n\n"
                "Wir kommen am *Dienstag* um 10 Uhr, Zimmer -3- zuerst.\n\n"
                "* Wasser abstellen\n"
                "* \"Anleitung\":https://example.com/anleitung lesen\n\n"
                "Fragen an @admin.")


def test_case_5_a_textile_note_written_in_redmine_reaches_casavi_as_markdown(textile_world):
    sandbox, bridge, redmine = textile_world
    ticket_id = new_ticket(sandbox, "Heizung kalt")
    bridge.engine.run_pass()
    issue_id = bridge.ledger.item_link(f"casavi:{ticket_id}").target_id
    with redmine.admin() as admin:
        admin.put(f"/issues/{issue_id}.json", json={"issue": {"notes": PERSONS_NOTE}}).raise_for_status()
    for _ in range(2):
        bridge.engine.run_pass()
    [text] = [c["text"] for c in casavi_ticket(sandbox, ticket_id)["comments"] if "Termin" in c["text"]]
    assert "### Termin" in text
    assert "Wir kommen am **Dienstag** um 10 Uhr" in text
    assert "- Wasser abstellen\n- [Anleitung](<https://example.com/anleitung>) lesen" in text
    assert "@" not in text.split("Fragen an", 1)[1]  # a mention becomes a name, nobody is notified
    # Textile's -3- is struck through in Redmine, and so it is in casavi: what people saw there.
    [shown_note] = redmine.shown(issue_id)[1:]
    assert "<del>3</del>" in shown_note and "Zimmer ~~3~~ zuerst" in text
    assert "h3." not in text and '"Anleitung":' not in text  # no Textile left for casavi's markdown
    for _ in range(2):  # and the copy is not written back to Redmine
        bridge.engine.run_pass()
    with redmine.admin() as admin:
        journals = admin.get(f"/issues/{issue_id}.json", params={"include": "journals"}).json()["issue"]["journals"]
    assert sum("Termin" in (j.get("notes") or "") for j in journals) == 1

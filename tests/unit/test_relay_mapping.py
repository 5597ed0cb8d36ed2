"""relay orders as the neutral model (pure) and the relay parts of the configuration."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest

from bridge.config import settings_from_dict
from bridge.errors import ConfigError
from bridge.model import SourceRef
from bridge.relay.mapping import item_for, neutral_comment, summary_for
from bridge.relay.parse import parse_comment, parse_order, with_trailer
from bridge.sandbox.written_config import sandbox_config
from tests.unit.test_relay_parse import ORDER


def test_an_order_becomes_an_item_with_fields_and_contacts_in_the_description():
    item = item_for(parse_order(ORDER), customer_name="Hausverwaltung Schäfer")
    assert item.ref == SourceRef("relay", "5001")
    assert (item.title, item.status, item.due_date) == ("Rohrbruch im Keller", "IN_PROGRESS", date(2025, 7, 1))
    assert item.description.index("**Schaden**: Wasser tritt aus") < item.description.index("**Zugang**")
    assert "Özlem Öztürk (Mieter) — +49 171 1, oe@example.org" in item.description
    assert "- Foto.jpg" in item.description  # named: relay offers no download of the bytes
    assert item.attachments == ()
    facts = dict(item.facts)
    assert facts["relay order"] == "5001"
    assert facts["Address"] == "Schloßallee 3, 80331 München, DE (Hinterhaus)"
    assert facts["Customer"] == "301 Hausverwaltung Schäfer"
    assert facts["Follow-up date"] == "2025-06-28"
    assert item.labels == ("relay", "reparatur")
    assert item.version == parse_order(ORDER).version == summary_for(parse_order(ORDER)).version


def test_a_bare_status_change_is_not_a_comment_but_one_with_text_is():
    bare = parse_comment({"id": 1, "text": "", "statusChange": "FINISHED", "author": "relay API"})
    spoken = parse_comment({"id": 2, "text": "Erledigt, danke", "statusChange": "FINISHED", "author": "Anna"})
    assert neutral_comment(bare) is None
    assert neutral_comment(spoken).text == "*Status: FINISHED*\n\nErledigt, danke"
    assert neutral_comment(spoken).comment_id == "2"


def test_a_comment_the_bridge_wrote_carries_its_deterministic_id():
    ours = parse_comment({"id": 3, "text": with_trailer("**Max** (Jira):\n\nKomme Montag", "jira-10042-c-10311")})
    assert neutral_comment(ours).comment_id == "jira-10042-c-10311"
    assert neutral_comment(ours).text == "**Max** (Jira):\n\nKomme Montag"


def test_the_comment_carrying_a_file_from_the_tool_is_not_mirrored_as_a_comment():
    carrier = parse_comment({"id": 4, "text": with_trailer("📎 plan.pdf", "jira-10042-a-777"),
                             "attachments": [{"name": "plan.pdf", "itemType": "application/pdf"}]})
    assert neutral_comment(carrier) is None


def test_files_of_a_comment_are_named_in_it():
    comment = parse_comment({"id": 5, "text": "Foto anbei", "attachments": [{"name": "Küche.jpg"}]})
    assert neutral_comment(comment).text == "Foto anbei\n\n📎 Küche.jpg"


def test_the_items_comments_leave_out_bare_status_changes():
    item = item_for(parse_order(copy.deepcopy(ORDER)))
    assert [c.comment_id for c in item.comments] == ["11"]


# -- configuration -----------------------------------------------------------------------------

RELAY_SECTION = {"base_url": "https://relay.example.com/api/v1", "api_key": "k-123"}


def relay_config(**sections):
    raw = {"source": {"kind": "relay"}, "relay": dict(RELAY_SECTION), "connector": {"kind": "memory"}}
    raw.update(sections)
    return settings_from_dict(raw)


def test_a_relay_source_gets_relay_defaults():
    settings = relay_config()
    assert settings.relay.author_name == "casavi-bridge"
    assert settings.filters.statuses == ("OPEN", "IN_PROGRESS")
    assert settings.sync.tasks is False
    assert settings.status_map["FINISHED"] == "Done"
    assert settings.status_map_back["Done"] == "FINISHED"
    assert set(settings.status_map) == {"OPEN", "IN_PROGRESS", "FINISHED", "DECLINED", "PREPARE", "NULL"}


def test_casavi_statuses_in_a_relay_config_are_reported_each():
    with pytest.raises(ConfigError) as caught:
        relay_config(filters={"statuses": ["PENDING"]},
                     status_map={"OPEN": "To Do", "CLOSED": "Done"},
                     status_map_back={"To Do": "OPEN", "Done": "CLOSED"})
    problems = caught.value.problems
    assert '[filters] statuses[0] <- "PENDING" is not a relay order status (OPEN, IN_PROGRESS, FINISHED, DECLINED, PREPARE, NULL)' in problems
    assert "[status_map] CLOSED <- not a relay order status (OPEN, IN_PROGRESS, FINISHED, DECLINED, PREPARE, NULL)" in problems
    assert "[status_map] FINISHED <- missing: a mirrored order is followed in every status" in problems
    assert any(p.startswith('[status_map_back] Done <- "CLOSED" is not a relay order status') for p in problems)


def test_tasks_switched_on_for_relay_is_an_error():
    with pytest.raises(ConfigError) as caught:
        relay_config(sync={"tasks": True})
    assert caught.value.problems == ['[sync] tasks <- relay orders have no tasks; set tasks = false for [source] kind = "relay"']


def test_a_relay_source_needs_its_section():
    with pytest.raises(ConfigError) as caught:
        settings_from_dict({"source": {"kind": "relay"}, "connector": {"kind": "memory"}})
    assert '[relay] <- section missing (needed for [source] kind = "relay")' in caught.value.problems


def test_the_sandbox_config_for_relay_is_valid_and_names_relay_as_source(tmp_path: Path):
    raw = sandbox_config({"relay_url": "http://127.0.0.1:1/v1", "relay_key": "key"},
                         config_path=tmp_path / "bridge.toml", source="relay")
    assert "casavi" not in raw and list(raw)[:3] == ["state", "source", "relay"]
    raw["connector"], raw["memory"] = {"kind": "memory"}, {}
    settings = settings_from_dict(raw)
    assert (settings.source.kind, settings.relay.base_url) == ("relay", "http://127.0.0.1:1/v1")

"""What kind of item it is, planned (bridge/sync/attributes.py): plain literals, no I/O."""

from __future__ import annotations

from bridge.model import WriteResult
from bridge.sync import actions as a
from bridge.sync.apply import created_attributes
from bridge.sync.attributes import attribute_field, attribute_hash
from bridge.sync.links import ItemLinks, LinkView
from bridge.sync.plan import plan_item, source_hashes, target_hashes
from tests.integration.test_engine_memory import make_rules
from tests.unit.test_planner import issue, ticket

MAPPINGS = {"type": "m-type", "typeGroup": "m-group", "customFields.priority": "m-prio"}
RULES = make_rules(attributes=MAPPINGS)
KIND = {"type": "Wasserschaden", "typeGroup": "Reparatur", "customFields.priority": "hoch",
        "customFields.unmapped": "egal"}


def linked(src, tgt, written: dict[str, str] | None = None) -> ItemLinks:
    """Links after a sync in which the attributes ``written`` (name → mapping) were written."""
    hashes = dict(source_hashes(src))
    for name, mapping in (written or {}).items():
        hashes[attribute_field(name)] = attribute_hash(src.attributes.get(name), mapping)
    return ItemLinks(LinkView("ticket", src.ref.key, tgt.target_id, hashes, target_hashes(tgt.fields)))


def writes(plan) -> list[tuple[str, object]]:
    return [(x.name, x.value) for x in plan if isinstance(x, a.SetTargetAttribute)]


def test_a_new_item_takes_its_attributes_in_the_create_and_a_step_for_each_after_it():
    plan = plan_item(ticket(attributes=KIND), None, ItemLinks(), RULES)
    create = plan[0]
    assert isinstance(create, a.CreateItem)
    assert dict(create.draft.attributes) == {"customFields.priority": "hoch", "type": "Wasserschaden",
                                             "typeGroup": "Reparatur"}  # the unmapped one stays in casavi
    assert writes(plan) == [("customFields.priority", "hoch"), ("type", "Wasserschaden"), ("typeGroup", "Reparatur")]
    assert create.attribute_hashes["typeGroup"] == attribute_hash("Reparatur", "m-group")


def test_the_create_records_only_the_attributes_the_tool_says_it_set():
    create = plan_item(ticket(attributes=KIND), None, ItemLinks(), RULES)[0]
    recorded = created_attributes(create, WriteResult("10", attributes=("type", "typeGroup")))
    assert recorded == {"attr:type": attribute_hash("Wasserschaden", "m-type"),
                        "attr:typeGroup": attribute_hash("Reparatur", "m-group")}


def test_an_unchanged_attribute_is_not_written_again():
    src, tgt = ticket(attributes=KIND), issue()
    assert writes(plan_item(src, tgt, linked(src, tgt, MAPPINGS), RULES)) == []


def test_a_changed_attribute_is_written_alone():
    src, tgt = ticket(attributes=KIND), issue()
    changed = ticket(attributes={**KIND, "customFields.priority": "normal"})
    plan = plan_item(changed, tgt, linked(src, tgt, MAPPINGS), RULES)
    assert writes(plan) == [("customFields.priority", "normal")]
    assert [x.action_key for x in plan if isinstance(x, a.SetTargetAttribute)] == ["attribute:customFields.priority→tool"]


def test_an_attribute_gone_from_the_source_is_written_as_nothing():
    src, tgt = ticket(attributes=KIND), issue()
    gone = ticket(attributes={k: v for k, v in KIND.items() if k != "customFields.priority"})
    assert writes(plan_item(gone, tgt, linked(src, tgt, MAPPINGS), RULES)) == [("customFields.priority", None)]


def test_a_changed_mapping_writes_the_attribute_again_and_is_a_new_write():
    src, tgt = ticket(attributes=KIND), issue()
    links = linked(src, tgt, MAPPINGS)
    remapped = make_rules(attributes={**MAPPINGS, "typeGroup": "m-group-2"})
    plan = plan_item(src, tgt, links, remapped)
    assert writes(plan) == [("typeGroup", "Reparatur")]
    [write] = [x for x in plan if isinstance(x, a.SetTargetAttribute)]
    assert write.fingerprint != a.SetTargetAttribute(src.ref.key, "typeGroup", "Reparatur", "m-group",
                                                     attribute_hash("Reparatur", "m-group")).fingerprint


def test_a_link_from_before_the_mapping_gets_the_attributes_written():
    src, tgt = ticket(attributes=KIND), issue()
    assert [n for n, _ in writes(plan_item(src, tgt, linked(src, tgt), RULES))] == [
        "customFields.priority", "type", "typeGroup"]


def test_an_edit_in_the_tool_writes_no_attribute_either_way():
    src, tgt = ticket(attributes=KIND), issue()
    plan = plan_item(src, issue(fields={"title": "Neu im Tool"}, version="t2"), linked(src, tgt, MAPPINGS), RULES)
    assert writes(plan) == []
    assert not any(a.is_write(x) and x.direction == a.TO_SOURCE for x in plan)


def test_without_a_mapping_nothing_about_attributes_is_planned():
    src, tgt = ticket(attributes=KIND), issue()
    plain = make_rules()
    assert writes(plan_item(src, None, ItemLinks(), plain)) == []
    assert dict(plan_item(src, None, ItemLinks(), plain)[0].draft.attributes) == {}
    assert writes(plan_item(src, tgt, linked(src, tgt), plain)) == []

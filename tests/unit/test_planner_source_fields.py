"""The planner's rules for fields the tool writes back into a source that holds them (relay
orders): the tool's key into the order's internalId, and the due date back.  Plain literals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from bridge.model import FIELD_REFERENCE, Marker, SourceItem, SourceRef, TargetItem, content_hash
from bridge.sync import actions as a
from bridge.sync.links import ItemLinks, LinkView
from bridge.sync.plan import plan_item, source_hashes, target_hashes
from tests.integration.test_engine_memory import make_rules

RELAY = make_rules(source_references=True, source_due_dates=True)
REF = SourceRef("relay", "5002")


def order(**kw) -> SourceItem:
    values = dict(ref=REF, title="Rohrbruch", status="OPEN", version="v1", due_date=date(2026, 5, 4),
                  facts=(("relay order", "5002"),), reference_fact="Internal id")
    values.update(kw)
    if values.get("reference"):
        values["facts"] = values["facts"] + (("Internal id", values["reference"]),)
    return SourceItem(**values)


def issue(**kw) -> TargetItem:
    fields = {"title": "Rohrbruch", "description": "", "status": "To Do", "due_date": "2026-05-04"}
    fields.update(kw.pop("fields", {}))
    values = dict(target_id="10042", fields=fields, version="t1", marker=Marker("relay", "5002"),
                  display_id="OPS-12")
    values.update(kw)
    return TargetItem(**values)


def keyed(**kw) -> SourceItem:
    """An order holding the issue's key (written by the bridge: see :func:`synced`)."""
    return order(reference="OPS-12", **kw)


def synced(src: SourceItem, tgt: TargetItem, **source_extra: str) -> ItemLinks:
    hashes = {**source_hashes(src), **source_extra}
    if src.reference == tgt.display_id:
        hashes.setdefault(FIELD_REFERENCE, content_hash(src.reference))
        src = replace(src, facts=tuple(f for f in src.facts if f[0] != src.reference_fact))
        hashes.update(source_hashes(src))
    return ItemLinks(LinkView("ticket", src.ref.key, tgt.target_id, hashes, target_hashes(tgt.fields)))


def writes(plan):
    return [x for x in plan if a.is_write(x)]


def test_a_new_item_writes_its_key_into_an_empty_reference_after_the_create():
    plan = plan_item(order(), None, ItemLinks(), RELAY)
    assert [type(x).__name__ for x in writes(plan)] == ["CreateItem", "SetSourceReference"]
    assert plan[1].reference is None  # the key the create answers
    assert not any(isinstance(x, a.SetSourceReference) for x in plan_item(order(), None, ItemLinks(), make_rules()))


def test_a_reference_someone_else_set_is_kept_and_shown():
    src = order(reference="AUF-17")
    assert not any(isinstance(x, a.SetSourceReference) for x in plan_item(src, None, ItemLinks(), RELAY))
    plan = plan_item(src, issue(), synced(src, issue()), RELAY)
    assert not writes(plan) and any(isinstance(x, a.Note) and "AUF-17" in x.message for x in plan)
    draft = plan_item(src, None, ItemLinks(), RELAY)[0].draft
    assert ("Internal id", "AUF-17") in draft.facts


def test_the_key_in_the_reference_is_not_a_change_of_the_description():
    before = order()
    after = order(reference="OPS-12", version="v2")
    plan = plan_item(after, issue(), synced(before, issue(), reference=content_hash("OPS-12")), RELAY)
    assert not writes(plan)


def test_a_changed_key_is_written_again_over_the_one_the_bridge_wrote():
    src = order(reference="OPS-12")
    moved = issue(display_id="NEW-3")
    plan = plan_item(src, moved, synced(order(), moved, reference=content_hash("OPS-12")), RELAY)
    assert [(type(x).__name__, getattr(x, "reference", None)) for x in writes(plan)] == [("SetSourceReference", "NEW-3")]


def test_a_key_typed_in_by_a_person_is_recorded_as_the_bridges_own():
    src = order(reference="OPS-12")
    plan = plan_item(src, issue(), synced(order(), issue()), RELAY)
    assert not writes(plan)
    assert [x.source_hashes for x in plan if isinstance(x, a.RecordHashes)] == [{FIELD_REFERENCE: content_hash("OPS-12")}]


def test_a_due_date_changed_in_the_tool_is_written_back_only_where_the_source_takes_it():
    src, tgt = keyed(), issue()
    moved = issue(fields={"due_date": "2026-05-11"})
    plan = plan_item(src, moved, synced(src, tgt), RELAY)
    assert [(type(x).__name__, x.due_date) for x in writes(plan)] == [("SetSourceDueDate", "2026-05-11")]
    assert not writes(plan_item(src, moved, synced(src, tgt), make_rules()))


def test_a_due_date_changed_on_both_sides_follows_the_policy():
    src, tgt = keyed(), issue()
    both = (keyed(due_date=date(2026, 5, 8)), issue(fields={"due_date": "2026-05-20"}))
    source_wins = plan_item(*both, synced(src, tgt), RELAY)
    assert [type(x).__name__ for x in writes(source_wins)] == ["UpdateFields"]
    tool_wins = plan_item(*both, synced(src, tgt), make_rules(source_references=True, source_due_dates=True,
                                                              conflict_policy="tool-wins"))
    assert [(type(x).__name__, x.due_date) for x in writes(tool_wins)] == [("SetSourceDueDate", "2026-05-20")]
    same = plan_item(keyed(due_date=date(2026, 5, 8)), issue(fields={"due_date": "2026-05-08"}), synced(src, tgt), RELAY)
    assert not writes(same) and not any(isinstance(x, a.RecordConflict) for x in same)


def test_a_cleared_due_date_is_written_back_as_none():
    src, tgt = keyed(), issue()
    plan = plan_item(src, issue(fields={"due_date": ""}), synced(src, tgt), RELAY)
    assert [(type(x).__name__, x.due_date) for x in writes(plan)] == [("SetSourceDueDate", "")]

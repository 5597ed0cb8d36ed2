"""The ConnectorContract suite: every connector passes the same tests.

Subclass :class:`ConnectorContract` in ``test_<tool>_connector.py`` and provide the fixtures
``connector`` (a ready connector on a real or sandboxed tool) and ``tool_statuses`` (a
:class:`ToolStatuses` naming an initial, an in-between and a done status of the tool).  The
class name must start with ``Test`` in the subclass so pytest collects it.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bridge.connector import Connector
from bridge.errors import NotFoundError
from bridge.model import Comment, ItemDraft, Marker, StatusTarget, Task


@dataclass(frozen=True)
class ToolStatuses:
    initial: str
    working: str
    done: str
    done_resolution: str | None = None


def whole(connector: Connector, item):
    """The item as the engine uses it: a summary from ``changed_since`` is read whole."""
    return connector.get(item.target_id) if item.partial else item


def unique_marker(source: str = "casavi") -> Marker:
    return Marker(source, f"T-{uuid.uuid4().hex[:10]}", 41000 + int(uuid.uuid4().int % 1000))


def a_draft(statuses: ToolStatuses, title: str = "Heizung im 2. OG fällt aus") -> ItemDraft:
    return ItemDraft(
        title=title,
        description="Die **Heizung** im Treppenhaus ist kalt.\n\n- Raum 1\n- Raum 2",
        status=StatusTarget(statuses.initial),
        facts=(("Property", "P-00451 Easy Living Apartments"), ("Unit", "P-00451-0001")),
        labels=("casavi",),
        link_url="https://app.casavi.example/tickets/41251",
    )


class ConnectorContract:
    """Rules every connector keeps; see bridge/connector.py."""

    def test_check_reports_no_problem_for_a_working_configuration(self, connector: Connector):
        assert connector.check() == []

    def test_mapped_statuses_exist_in_the_tool(self, connector: Connector, tool_statuses: ToolStatuses):
        names = connector.statuses()
        assert {tool_statuses.initial, tool_statuses.working, tool_statuses.done} <= names

    def test_created_item_carries_its_marker_and_is_found_by_it(self, connector, tool_statuses):
        marker = unique_marker()
        created = connector.create(a_draft(tool_statuses), marker)
        found = connector.find_by_marker(marker)
        assert found is not None and found.target_id == created.target_id
        assert found.marker is not None and found.marker.item_id == marker.item_id
        assert found.fields["title"] == "Heizung im 2. OG fällt aus"
        assert found.fields["status"] == tool_statuses.initial

    def test_find_by_marker_returns_none_for_an_unknown_ticket(self, connector):
        assert connector.find_by_marker(unique_marker()) is None

    def test_write_result_fields_equal_what_a_later_read_sees(self, connector, tool_statuses):
        created = connector.create(a_draft(tool_statuses), unique_marker())
        item = connector.get(created.target_id)
        assert created.fields is not None
        for name in ("title", "description", "status"):
            assert created.fields[name] == item.fields[name], name
        assert "Heizung" in item.fields["description"]
        assert "Easy Living" in item.fields["description"]

    def test_update_rewrites_the_named_fields_and_changes_the_version(self, connector, tool_statuses):
        created = connector.create(a_draft(tool_statuses), unique_marker())
        before = connector.get(created.target_id)
        result = connector.update(created.target_id, a_draft(tool_statuses, title="Heizung repariert?"), {"title"})
        after = connector.get(created.target_id)
        assert after.fields["title"] == "Heizung repariert?"
        assert result.fields is not None and result.fields["title"] == after.fields["title"]
        assert after.version != before.version

    def test_status_moves_through_the_workflow(self, connector, tool_statuses):
        created = connector.create(a_draft(tool_statuses), unique_marker())
        for status in (tool_statuses.working, tool_statuses.done, tool_statuses.initial):
            result = connector.set_status(created.target_id, StatusTarget(status))
            assert result.fields is not None and result.fields["status"] == status
            assert connector.get(created.target_id).fields["status"] == status

    def test_comments_keep_text_visibility_and_marker(self, connector, tool_statuses):
        created = connector.create(a_draft(tool_statuses), unique_marker())
        public = connector.add_comment(
            created.target_id, Comment("c-1", "Mieter meldet: Wasser läuft **weiter**.", author="Anna Example"),
            marker="casavi-comment-1")
        internal = connector.add_comment(
            created.target_id, Comment("c-2", "Nur intern: Handwerker beauftragt.", internal=True), marker=None)
        comments = {c.comment_id: c for c in connector.get(created.target_id).comments}
        assert public.target_id in comments and internal.target_id in comments
        assert "Wasser läuft" in comments[public.target_id].text
        assert comments[public.target_id].marker == "casavi-comment-1"
        assert comments[public.target_id].internal is False
        if connector.capabilities.comment_visibility:
            assert comments[internal.target_id].internal is True
        assert comments[internal.target_id].marker is None

    def test_sub_items_carry_their_marker_and_status(self, connector, tool_statuses):
        if not connector.capabilities.sub_items:
            pytest.fail("a connector without sub-items must override this test with its own degradation check")
        created = connector.create(a_draft(tool_statuses), unique_marker())
        sub = connector.add_sub_item(created.target_id, Task("T-1", "Rohr reparieren", "Bitte bis Freitag"),
                                     StatusTarget(tool_statuses.initial), marker="T-1")
        connector.update_sub_item(created.target_id, sub.target_id, Task("T-1", "Rohr reparieren (dringend)"),
                                  StatusTarget(tool_statuses.done, tool_statuses.done_resolution))
        subs = {s.sub_id: s for s in connector.get(created.target_id).sub_items}
        assert subs[sub.target_id].marker == "T-1"
        assert subs[sub.target_id].status == tool_statuses.done
        assert subs[sub.target_id].title == "Rohr reparieren (dringend)"

    def test_attachments_round_trip_byte_for_byte(self, connector, tool_statuses, tmp_path: Path):
        created = connector.create(a_draft(tool_statuses), unique_marker())
        payload = os.urandom(70_000) + "Grundriss äöü".encode()
        src = tmp_path / "grundriss.pdf"
        src.write_bytes(payload)
        result = connector.add_attachment(created.target_id, "grundriss.pdf", "application/pdf", src, marker="4711")
        attachments = {a.attachment_id: a for a in connector.get(created.target_id).attachments}
        assert attachments[result.target_id].name == "grundriss.pdf"
        assert attachments[result.target_id].size == len(payload)
        dest = tmp_path / "back.pdf"
        connector.download_attachment(created.target_id, attachments[result.target_id], dest)
        assert hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(payload).digest()

    def test_changed_since_includes_every_item_changed_after_the_cursor(self, connector, tool_statuses):
        before = datetime.now(timezone.utc) - timedelta(seconds=2)
        first = connector.create(a_draft(tool_statuses), unique_marker())
        second = connector.create(a_draft(tool_statuses, "Zweites Ticket"), unique_marker())
        connector.add_comment(first.target_id, Comment("c", "later change"), marker=None)
        seen = {item.target_id: item for item in connector.changed_since(before)}
        assert first.target_id in seen and second.target_id in seen
        assert any("later change" in c.text for c in whole(connector, seen[first.target_id]).comments)

    def test_changed_since_gives_the_version_a_full_read_gives(self, connector, tool_statuses):
        # The engine skips an item whose version it has synced, and reads a summary whole only
        # when the version differs: both reads must agree on it, sub-items included.
        before = datetime.now(timezone.utc) - timedelta(seconds=2)
        created = connector.create(a_draft(tool_statuses), unique_marker())
        if connector.capabilities.sub_items:
            connector.add_sub_item(created.target_id, Task("T-9", "Rohr"), StatusTarget(tool_statuses.initial),
                                   marker="T-9")
        connector.add_comment(created.target_id, Comment("c", "noch eine"), marker="c")
        seen = {item.target_id: item for item in connector.changed_since(before)}
        item, full = seen[created.target_id], connector.get(created.target_id)
        assert (item.version, item.updated_at, item.display_id) == (full.version, full.updated_at, full.display_id)
        # The marker names the same ticket (a summary may lack the internal id: Data Center's
        # search rows carry the marker label only, not the issue property).
        assert full.marker is not None and item.marker is not None
        assert (item.marker.source, item.marker.item_id) == (full.marker.source, full.marker.item_id)

    def test_changed_since_skips_items_not_changed_for_a_long_time(self, connector, tool_statuses):
        created = connector.create(a_draft(tool_statuses), unique_marker())
        future = datetime.now(timezone.utc) + timedelta(hours=2)
        assert created.target_id not in {i.target_id for i in connector.changed_since(future)}

    def test_unknown_item_is_not_found(self, connector):
        with pytest.raises(NotFoundError):
            connector.get("999999999")


def check_all(connector) -> list[str]:
    """What ``casavi-bridge check`` lists of a connector: ``check()`` (it does not answer: the
    daemon waits) and ``findings()`` (it will refuse some writes: named, the daemon starts)."""
    return connector.check() + getattr(connector, "findings", lambda: [])()

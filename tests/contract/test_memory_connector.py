"""The memory connector passes the shared contract, in memory and persisted to a file."""

from __future__ import annotations

import pytest

from bridge.model import Comment, StatusTarget
from connectors.memory import MemoryConnector, MemorySettings
from tests.contract.connector_contract import ConnectorContract, ToolStatuses, a_draft, unique_marker

STATUSES = ToolStatuses("To Do", "In Progress", "Done", "Won't Do")


@pytest.fixture
def tool_statuses() -> ToolStatuses:
    return STATUSES


class TestMemoryConnectorInMemory(ConnectorContract):
    @pytest.fixture
    def connector(self) -> MemoryConnector:
        return MemoryConnector(MemorySettings())


class TestMemoryConnectorPersisted(ConnectorContract):
    @pytest.fixture
    def connector(self, tmp_path) -> MemoryConnector:
        return MemoryConnector(MemorySettings(path=str(tmp_path / "tool.json")))


def test_a_second_process_view_sees_every_write(tmp_path):
    path = str(tmp_path / "tool.json")
    writer = MemoryConnector(MemorySettings(path=path))
    created = writer.create(a_draft(STATUSES), unique_marker())
    writer.add_comment(created.target_id, Comment("x", "Hallo"), marker="m-1")
    reader = MemoryConnector(MemorySettings(path=path))
    item = reader.get(created.target_id)
    assert [c.marker for c in item.comments] == ["m-1"]
    reader.set_status(created.target_id, StatusTarget("Done"))
    assert writer.get(created.target_id).fields["status"] == "Done"


def test_unknown_status_is_refused(tmp_path):
    connector = MemoryConnector(MemorySettings())
    created = connector.create(a_draft(STATUSES), unique_marker())
    from bridge.errors import FatalError

    with pytest.raises(FatalError):
        connector.set_status(created.target_id, StatusTarget("Erledigt"))

"""Stored links as the planner and the ledger share them: kinds, views and child keys.

The lowest layer of the sync package: the state layer (:mod:`bridge.state.ledger`) builds these
views from its rows and the planner (:mod:`bridge.sync.plan`) reads them, so neither reaches
into the other.  Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

KIND_TICKET, KIND_COMMENT, KIND_TASK, KIND_ATTACHMENT = "ticket", "comment", "task", "attachment"
# A task's own file ↔ the sub-item's file; the child id is "<task id>/<source file id>".
KIND_TASK_FILE = "task_file"


@dataclass(frozen=True)
class LinkView:
    """A stored link as the planner sees it.  For children ``source_id`` is the child's own id."""

    kind: str
    source_id: str
    target_id: str
    source_hashes: Mapping[str, str]
    target_hashes: Mapping[str, str]
    source_version: str | None = None
    target_version: str | None = None


@dataclass(frozen=True)
class ItemLinks:
    item: LinkView | None = None
    children: tuple[LinkView, ...] = ()

    def of_kind(self, kind: str) -> list[LinkView]:
        return [c for c in self.children if c.kind == kind]


def child_key(item_key: str, kind: str, child_id: str) -> str:
    """The source key of a child link: ``casavi:P-1/comment/C-7``."""
    return f"{item_key}/{kind}/{child_id}"


def written_id(connector: str, target_item_id: str, kind_letter: str, target_child_id: str) -> str:
    """Deterministic id of an object the bridge writes to the source, e.g. ``jira-10042-c-10311``
    (kind letters: ``c`` comment, ``t`` task, ``a`` a file carried by a comment)."""
    return f"{connector}-{target_item_id}-{kind_letter}-{target_child_id}"


def task_file_key(task_id: str, file_id: str) -> str:
    """The child id of a task file's link: ``T-1/1042``."""
    return f"{task_id}/{file_id}"


def split_task_file_key(key: str) -> tuple[str, str]:
    """(task id, source file id) of a task file link's child id (file ids carry no ``/``)."""
    task_id, _, file_id = key.rpartition("/")
    return task_id, file_id

"""The memory connector: the reference implementation of the Connector contract and the test fake.

It behaves like a small tool with a simplified workflow: any status in ``statuses`` can be
reached from any other, except out of a ``final_statuses`` one: such a change is answered as
done, the status kept and the item's version moved (what Redmine does with a transition its
workflow does not allow); the connector reads the status back and reports the refusal.
Comments carry visibility and the bridge's marker; sub-items and attachments are stored with
the item, and a change to any of them bumps the item's version.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field

from bridge.errors import FatalError, NotFoundError, RefusedError
from bridge.model import (
    Attachment,
    Capabilities,
    Comment,
    ItemDraft,
    Marker,
    StatusTarget,
    SubItem,
    Task,
    TargetItem,
    WriteResult,
)
from connectors.memory.store import MemoryStore


class MemorySettings(BaseModel):
    """``[memory]`` section: ``path`` persists the tool's state to a JSON file (optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str | None = None
    statuses: tuple[str, ...] = ("To Do", "In Progress", "Waiting", "Done")
    resolutions: tuple[str, ...] = ("Done", "Won't Do", "Duplicate")
    sub_items: bool = True
    attachments: bool = True
    user: str = "casavi-bridge"
    attachment_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    final_statuses: tuple[str, ...] = ()  # no transition leaves these (a change is silently ignored)
    restricted_comments: bool = True  # False: a restricted comment is silently stored for everyone


def render_task_description(task: Task) -> str:
    """A sub-item's description: the task's facts (the craftsman) as header lines, then its text."""
    header = "\n".join(f"{label}: {value}" for label, value in task.facts)
    return f"{header}\n\n{task.description}" if header else task.description


def render_description(draft: ItemDraft) -> str:
    """The description as the tool shows it: header facts, the link back, then the body."""
    lines = [f"{label}: {value}" for label, value in draft.facts]
    if draft.link_url:
        lines.append(f"casavi: {draft.link_url}")
    header = "\n".join(lines)
    return f"{header}\n\n{draft.description}" if header else draft.description


class MemoryConnector:
    name = "memory"

    def __init__(self, settings: MemorySettings | None = None):
        self.settings = settings or MemorySettings()
        self.capabilities = Capabilities(
            sub_items=self.settings.sub_items,
            attachments=self.settings.attachments,
            comment_visibility=True,
            markers_on_comments=True,
            due_date=True,
            comment_edits=True,
            sub_item_attachments=self.settings.sub_items and self.settings.attachments,
        )
        self.store = MemoryStore(self.settings.path)

    # --- reading ------------------------------------------------------------------------
    def check(self) -> list[str]:
        problems = []
        if self.settings.path:
            parent = Path(self.settings.path).parent
            if parent.exists() and not parent.is_dir():
                problems.append(f"memory.path: {parent} is not a directory")
        return problems

    def statuses(self) -> set[str]:
        return set(self.settings.statuses)

    def changed_since(self, since: datetime | None) -> Iterable[TargetItem]:
        with self.store.transaction(write=False) as data:
            items = [i for i in data["items"].values() if i.get("parent") is None]
            if since is not None:
                items = [i for i in items if datetime.fromisoformat(i["updated"]) >= since]
            items.sort(key=lambda i: (i["updated"], int(i["id"])))
            return [self._to_target(data, i) for i in items]

    def get(self, target_id: str) -> TargetItem:
        with self.store.transaction(write=False) as data:
            return self._to_target(data, self._item(data, target_id))

    def find_by_marker(self, marker: Marker) -> TargetItem | None:
        with self.store.transaction(write=False) as data:
            for item in data["items"].values():
                m = item.get("marker")
                if item.get("parent") is None and m and m["source"] == marker.source and m["item_id"] == marker.item_id:
                    return self._to_target(data, item)
        return None

    # --- writing ------------------------------------------------------------------------
    def create(self, draft: ItemDraft, marker: Marker) -> WriteResult:
        self._require_status(draft.status)
        with self.store.transaction(write=True) as data:
            target_id = MemoryStore.next_id(data)
            item = {
                "id": target_id,
                "parent": None,
                "title": draft.title,
                "description": render_description(draft),
                "status": draft.status.status,
                "resolution": draft.status.resolution,
                "due_date": draft.due_date.isoformat() if draft.due_date else "",
                "labels": list(draft.labels),
                "marker": {"source": marker.source, "item_id": marker.item_id, "internal_id": marker.internal_id},
                "comments": [],
                "attachments": [],
                "children": [],
                "updated": MemoryStore.tick(data),
            }
            data["items"][target_id] = item
            return replace(self._result(item, target_id), display_id=f"MEM-{target_id}")

    def update(self, target_id: str, draft: ItemDraft, fields: set[str]) -> WriteResult:
        with self.store.transaction(write=True) as data:
            item = self._item(data, target_id)
            if "title" in fields:
                item["title"] = draft.title
            if "description" in fields:
                item["description"] = render_description(draft)
            if "due_date" in fields:
                item["due_date"] = draft.due_date.isoformat() if draft.due_date else ""
            item["labels"] = sorted(set(item.get("labels", [])) | set(draft.labels))
            item["updated"] = MemoryStore.tick(data)
            return self._result(item, target_id)

    def set_status(self, target_id: str, status: StatusTarget) -> WriteResult:
        self._require_status(status)
        with self.store.transaction(write=True) as data:
            item = self._item(data, target_id)
            was = item["status"]
            if was not in self.settings.final_statuses or was == status.status:
                item["status"] = status.status
                item["resolution"] = status.resolution
            item["updated"] = MemoryStore.tick(data)
            result = self._result(item, target_id)
        if item["status"] != status.status:  # read back: the workflow kept the old status
            raise RefusedError(f"the tool kept status {was!r}: its workflow has no transition {was!r} → "
                               f"{status.status!r}", setting=f"memory.final_statuses: {was!r}")
        return result

    def add_comment(self, target_id: str, comment: Comment, *, marker: str | None) -> WriteResult:
        with self.store.transaction(write=True) as data:
            item = self._item(data, target_id)
            comment_id = MemoryStore.next_id(data)
            stamp = MemoryStore.tick(data)
            item["comments"].append({
                "id": comment_id,
                "text": comment.text,
                "internal": comment.internal and self.settings.restricted_comments,
                "author": comment.author or self.settings.user,
                "author_email": comment.author_email,
                "created": stamp,
                "marker": marker,
            })
            item["updated"] = stamp
            stored = item["comments"][-1]["internal"]
        dropped = () if stored == comment.internal else (
            "the comment is visible to everyone, not restricted (memory.restricted_comments)",)
        return WriteResult(comment_id, version=stamp, dropped=dropped)

    def update_comment(self, target_id: str, comment_id: str, comment: Comment) -> WriteResult:
        with self.store.transaction(write=True) as data:
            item = self._item(data, target_id)
            found = next((c for c in item["comments"] if c["id"] == comment_id), None)
            if found is None:
                raise NotFoundError(f"comment {comment_id} not found on item {target_id}")
            found["text"] = comment.text
            found["internal"] = comment.internal
            stamp = item["updated"] = MemoryStore.tick(data)
            return WriteResult(comment_id, version=stamp)

    def add_sub_item(self, target_id: str, task: Task, status: StatusTarget, *, marker: str) -> WriteResult:
        if not self.settings.sub_items:
            raise FatalError("this memory tool has no sub-items")
        self._require_status(status)
        with self.store.transaction(write=True) as data:
            item = self._item(data, target_id)
            sub_id = MemoryStore.next_id(data)
            stamp = MemoryStore.tick(data)
            data["items"][sub_id] = {
                "id": sub_id, "parent": target_id, "title": task.title, "description": render_task_description(task),
                "status": status.status, "resolution": status.resolution, "marker": marker, "updated": stamp,
                "attachments": [],
            }
            item["children"].append(sub_id)
            item["updated"] = stamp
            return WriteResult(sub_id, version=stamp)

    def update_sub_item(self, target_id: str, sub_id: str, task: Task, status: StatusTarget | None) -> WriteResult:
        if status is not None:
            self._require_status(status)
        with self.store.transaction(write=True) as data:
            item = self._item(data, target_id)
            sub = data["items"].get(sub_id)
            if sub is None or sub.get("parent") != target_id:
                raise NotFoundError(f"sub-item {sub_id} of {target_id} not found", status=404)
            sub["title"], sub["description"] = task.title, render_task_description(task)
            if status is not None:
                sub["status"], sub["resolution"] = status.status, status.resolution
            stamp = MemoryStore.tick(data)
            sub["updated"] = item["updated"] = stamp
            return WriteResult(sub_id, version=stamp)

    def add_attachment(self, target_id: str, name: str, content_type: str, path: Path, *, marker: str | None) -> WriteResult:
        if not self.settings.attachments:
            raise FatalError("this memory tool takes no attachments")
        size = Path(path).stat().st_size
        if size > self.settings.attachment_max_bytes:
            from bridge.errors import PayloadTooLargeError

            raise PayloadTooLargeError(f"{name}: {size} bytes is more than the tool accepts")
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 16), b""):
                digest.update(chunk)
        with self.store.transaction(write=True) as data:
            item = self._holder(data, target_id)
            attachment_id = MemoryStore.next_id(data)
            shutil.copyfile(path, self.store.files_dir / attachment_id)
            stamp = MemoryStore.tick(data)
            item.setdefault("attachments", []).append({
                "id": attachment_id, "name": name, "content_type": content_type, "size": size,
                "sha256": digest.hexdigest(), "marker": marker,
            })
            item["updated"] = stamp
            if item.get("parent") is not None:  # a sub-item's change is its parent's too
                data["items"][item["parent"]]["updated"] = stamp
            return WriteResult(attachment_id, version=stamp)

    def download_attachment(self, target_id: str, attachment: Attachment, dest: Path) -> None:
        with self.store.transaction(write=False) as data:
            item = self._holder(data, target_id)
            if not any(a["id"] == attachment.attachment_id for a in item.get("attachments") or ()):
                raise NotFoundError(f"attachment {attachment.attachment_id} of {target_id} not found", status=404)
        shutil.copyfile(self.store.files_dir / attachment.attachment_id, dest)

    # --- what a person in the tool does (tests, demo) ------------------------------------
    def edit_as_user(self, target_id: str, **changes: Any) -> None:
        """Change fields the way a person would (title, status, resolution)."""
        with self.store.transaction(write=True) as data:
            item = self._item(data, target_id)
            item.update(changes)
            item["updated"] = MemoryStore.tick(data)

    def edit_comment_as_user(self, target_id: str, comment_id: str, text: str) -> None:
        with self.store.transaction(write=True) as data:
            item = self._item(data, target_id)
            next(c for c in item["comments"] if c["id"] == comment_id)["text"] = text
            item["updated"] = MemoryStore.tick(data)

    def edit_sub_item_as_user(self, sub_id: str, **changes: Any) -> None:
        with self.store.transaction(write=True) as data:
            sub = data["items"][sub_id]
            sub.update(changes)
            stamp = MemoryStore.tick(data)
            sub["updated"] = data["items"][sub["parent"]]["updated"] = stamp

    def all_items(self) -> list[TargetItem]:
        return list(self.changed_since(None))

    # --- internals ----------------------------------------------------------------------
    def _require_status(self, status: StatusTarget) -> None:
        if status.status not in self.settings.statuses:
            raise FatalError(f"status {status.status!r} does not exist in this tool", status=400)
        if status.resolution is not None and status.resolution not in self.settings.resolutions:
            raise FatalError(f"resolution {status.resolution!r} does not exist in this tool", status=400)

    @staticmethod
    def _item(data: dict[str, Any], target_id: str) -> dict[str, Any]:
        item = data["items"].get(str(target_id))
        if item is None or item.get("parent") is not None:
            raise NotFoundError(f"item {target_id} not found", status=404)
        return item

    def _holder(self, data: dict[str, Any], target_id: str) -> dict[str, Any]:
        """An item, or a sub-item (its files are its own when ``sub_item_attachments``)."""
        found = data["items"].get(str(target_id))
        if found is not None and found.get("parent") is not None and self.capabilities.sub_item_attachments:
            return found
        return self._item(data, target_id)

    @staticmethod
    def _fields(item: dict[str, Any]) -> dict[str, str]:
        return {
            "title": item["title"],
            "description": item["description"],
            "status": item["status"],
            "due_date": item.get("due_date") or "",
        }

    def _result(self, item: dict[str, Any], target_id: str) -> WriteResult:
        return WriteResult(target_id, version=item["updated"], fields=self._fields(item))

    def _to_target(self, data: dict[str, Any], item: dict[str, Any]) -> TargetItem:
        m = item.get("marker")
        children = [data["items"][c] for c in item.get("children", []) if c in data["items"]]
        return TargetItem(
            target_id=item["id"],
            fields=self._fields(item),
            version=item["updated"],
            marker=Marker(m["source"], m["item_id"], m.get("internal_id")) if m else None,
            comments=tuple(
                Comment(c["id"], c["text"], c["internal"], c.get("author"), c.get("author_email"),
                        datetime.fromisoformat(c["created"]), c.get("marker"))
                for c in item["comments"]
            ),
            sub_items=tuple(
                SubItem(s["id"], s["title"], s["status"], s.get("description", ""), s.get("resolution"), s.get("marker"),
                        tuple(Attachment(a["id"], a["name"], a["content_type"], a["size"], None, a.get("marker"),
                                         a.get("sha256")) for a in s.get("attachments") or ()))
                for s in children
            ),
            attachments=tuple(
                Attachment(a["id"], a["name"], a["content_type"], a["size"], None, a.get("marker"), a.get("sha256"))
                for a in item["attachments"]
            ),
            url=None,
            resolution=item.get("resolution"),
            updated_at=datetime.fromisoformat(item["updated"]),
            display_id=f"MEM-{item['id']}",
        )

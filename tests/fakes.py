"""An in-memory Source for engine tests: behaves like casavi (caller-chosen ids, 409 on repeats,
lastModified bumped by every change, `date` meaning modified) without a server."""

from __future__ import annotations

import hashlib
import itertools
import shutil
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bridge.errors import ConflictError, NotFoundError
from bridge.model import Attachment, Comment, SourceItem, SourceRef, Task
from bridge.source import ParseProblem, SourceSummary


class FakeSource:
    """casavi in memory.  Readings as in the casavi sandbox: ``comments_move_version`` False
    (strict) leaves a tenant's comment out of the version stamp; ``date_means_created`` makes
    ``changed_since`` see only items created since.  Items read whole (``get``, ``sweep``)
    carry ``version#digest`` and the time of the read (``read_whole_at``) like the casavi source."""

    name = "casavi"
    date_means_created = False
    comment_edits = True
    closed_statuses = frozenset({"CLOSED"})
    sweep_reads_only_with_listing = False  # reads the items due on every pass
    comments_move_version = True

    def __init__(self, files_dir: Path):
        self.items: dict[str, SourceItem] = {}
        self.files_dir = files_dir
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self._clock = datetime(2026, 11, 1, tzinfo=timezone.utc)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.writes: list[tuple] = []
        self.gets = 0
        self.requests = 0  # as casavi would count them: a list, a whole read, a write (with its read)
        self.unreadable_rows: dict[str, str] = {}  # list entries the source could not parse: id -> problem

    def _tick(self) -> datetime:
        self._clock += timedelta(milliseconds=5)
        return self._clock

    def _bump(self, item: SourceItem, **changes) -> SourceItem:
        now = self._tick()
        new = replace(item, modified_at=now, version=now.isoformat(), **changes)
        self.items[item.ref.item_id] = new
        return new

    # --- what a tenant or manager does in casavi (test helpers) ----------------------------------
    def add_ticket(self, item_id: str, title: str, status: str = "OPEN", **extra) -> SourceItem:
        now = self._tick()
        item = SourceItem(ref=SourceRef("casavi", item_id, next(self._ids)), title=title, status=status,
                          created_at=now, modified_at=now, version=now.isoformat(), **extra)
        self.items[item_id] = item
        return item

    def edit(self, item_id: str, **changes) -> SourceItem:
        return self._bump(self.items[item_id], **changes)

    def tenant_comment(self, item_id: str, comment_id: str, text: str, internal: bool = False) -> None:
        item = self.items[item_id]
        comments = item.comments + (Comment(comment_id, text, internal, "Mieterin"),)
        if self.comments_move_version:
            self._bump(item, comments=comments)
        else:
            self.items[item_id] = replace(item, comments=comments)

    @staticmethod
    def _full(item: SourceItem) -> str:
        digest = hashlib.sha256(repr((item.status, item.comments, item.tasks, item.attachments)).encode())
        return f"{item.version}#{digest.hexdigest()[:16]}"

    def edit_comment(self, item_id: str, comment_id: str, text: str) -> None:
        item = self.items[item_id]
        self._bump(item, comments=tuple(replace(c, text=text) if c.comment_id == comment_id else c
                                        for c in item.comments))

    def add_file(self, item_id: str, name: str, data: bytes) -> str:
        file_id = str(1000 + next(self._ids))
        (self.files_dir / file_id).write_bytes(data)
        item = self.items[item_id]
        self._bump(item, attachments=item.attachments + (Attachment(file_id, name, "text/plain", len(data)),))
        return file_id

    # --- the Source contract -----------------------------------------------------------------
    def check(self) -> list[str]:
        return []

    def begin_pass(self) -> None:
        self.passes = getattr(self, "passes", 0) + 1

    def requests_made(self) -> int:
        return self.requests

    def changed_since(self, since):
        self.requests += 1
        rows = sorted(self.items.values(), key=lambda i: i.modified_at)
        stamp = (lambda i: i.created_at) if self.date_means_created else (lambda i: i.modified_at)
        return [SourceSummary(i.ref, i.status, i.version, i.modified_at, i.created_at, i.property_id)
                for i in rows if since is None or stamp(i) >= since] + [
            ParseProblem(item_id, problem) for item_id, problem in self.unreadable_rows.items()]

    def sweep(self, item_ids, *, list_open=True):
        self.swept = list(item_ids)
        self.requests += len(self.swept)
        read_at = datetime.now(timezone.utc)
        return [SourceSummary(i.ref, i.status, self._full(i), i.modified_at, i.created_at, i.property_id,
                              read_whole_at=read_at)
                for i in self.items.values() if i.ref.item_id in set(self.swept)]

    def get(self, ref: SourceRef) -> SourceItem:
        self.gets += 1
        self.requests += 1
        try:
            item = self.items[ref.item_id]
            return replace(item, version=self._full(item), read_whole_at=datetime.now(timezone.utc))
        except KeyError:
            raise NotFoundError(f"ticket {ref.item_id} not found", status=404) from None

    def named_task(self, task: Task) -> Task:
        return task

    def set_status(self, ref, status, *, status_text=None, suppress_rating_request=False):
        with self._lock:
            self.writes.append(("status", ref.item_id, status))
            if status_text is not None or suppress_rating_request:
                self.writes.append(("status_extras", ref.item_id, status_text, suppress_rating_request))
            return self._bump(self.get(ref), status=status).version

    def add_comment(self, ref, comment_id, text, *, internal, author_email, file_ids=None):
        with self._lock:
            item = self.get(ref)
            if any(c.comment_id == comment_id for c in item.comments):
                raise ConflictError(f"comment {comment_id} exists")
            self.writes.append(("comment", ref.item_id, comment_id))
            attachments = item.attachments
            for fid in file_ids or []:
                attachments += (Attachment(fid, f"file-{fid}", "text/plain", (self.files_dir / fid).stat().st_size),)
            self._bump(item, comments=item.comments + (Comment(comment_id, text, internal, "bridge",
                                                                file_ids=tuple(file_ids or ())),),
                       attachments=attachments)
            return comment_id

    def update_comment(self, ref, comment_id, text):
        with self._lock:
            item = self.get(ref)
            if not any(c.comment_id == comment_id for c in item.comments):
                raise NotFoundError(f"comment {comment_id} not found", status=404)
            self.writes.append(("comment_edit", ref.item_id, comment_id))
            self._bump(item, comments=tuple(replace(c, text=text) if c.comment_id == comment_id else c
                                            for c in item.comments))

    def add_task(self, ref, task_id, title, description, status):
        with self._lock:
            item = self.get(ref)
            if any(t.task_id == task_id for t in item.tasks):
                raise ConflictError(f"task {task_id} exists")
            self.writes.append(("task", ref.item_id, task_id))
            self._bump(item, tasks=item.tasks + (Task(task_id, title, description, status),))
            return task_id

    def set_task_status(self, ref, task_id, title, status):
        with self._lock:
            item = self.get(ref)
            self.writes.append(("task_status", ref.item_id, task_id, status))
            tasks = tuple(replace(t, status=status) if t.task_id == task_id else t for t in item.tasks)
            self._bump(item, tasks=tasks)

    def add_task_file(self, ref, task_id, file_id):
        with self._lock:
            item = self.get(ref)
            self.writes.append(("task_file", ref.item_id, task_id, file_id))
            size = (self.files_dir / file_id).stat().st_size
            tasks = tuple(replace(t, attachments=t.attachments + (Attachment(file_id, f"file-{file_id}", "text/plain", size),))
                          if t.task_id == task_id else t for t in item.tasks)
            self._bump(item, tasks=tasks)

    def new_file(self, name: str, data: bytes) -> Attachment:
        """A file uploaded in casavi, not yet attached to anything."""
        file_id = str(1000 + next(self._ids))
        (self.files_dir / file_id).write_bytes(data)
        return Attachment(file_id, name, "text/plain", len(data))

    def upload_file(self, name, content_type, path):
        file_id = str(1000 + next(self._ids))
        shutil.copyfile(path, self.files_dir / file_id)
        self.writes.append(("file", file_id))
        return file_id

    def download_attachment(self, ref, attachment, dest):
        shutil.copyfile(self.files_dir / attachment.attachment_id, dest)


class SummarisingTool:
    """A connector wrapper whose ``changed_since`` answers like Jira's: partial summaries (no
    fields, comments or sub-items) and ``as_of`` = the tool's clock when the read was made.
    Counts ``get`` calls, so tests see which items the engine read whole."""

    def __init__(self, inner, clock=lambda: datetime.now(timezone.utc)):
        self.inner, self.clock, self.gets = inner, clock, 0
        self.name, self.capabilities = inner.name, inner.capabilities

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def changed_since(self, since):
        from bridge.model import Changes, TargetItem

        as_of = self.clock()
        return Changes([TargetItem(t.target_id, {}, t.version, t.marker, updated_at=t.updated_at,
                                   display_id=t.display_id, partial=True)
                        for t in self.inner.changed_since(since)], as_of=as_of)

    def get(self, target_id):
        self.gets += 1
        return self.inner.get(target_id)

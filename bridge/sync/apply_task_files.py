"""Carrying out the task-file actions (:mod:`bridge.sync.task_files`): remote write, then record.

Kept beside :mod:`bridge.sync.apply`, which hands these three actions over.  The sub-item's id
comes from the task's link (recorded by the sub-item's create earlier in the same plan, or in
an earlier pass).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from bridge.errors import BridgeError, FatalError
from bridge.model import SourceRef
from bridge.sync import actions as a
from bridge.sync.links import KIND_TASK, KIND_TASK_FILE, task_file_key
from bridge.sync.plan import target_hashes
from bridge.sync.file_markers import marker_hashes

if TYPE_CHECKING:
    from bridge.sync.apply import Applier, ItemOutcome

log = structlog.get_logger()


def apply_task_file(applier: "Applier", action: a.Action, ref: SourceRef, outcome: "ItemOutcome") -> None:
    key = action.item_key
    if isinstance(action, a.CopyTaskFileToTarget):
        f = action.attachment
        sub_id = _sub_item_of(applier, key, action.task_id)
        with applier._tempfile() as path:
            applier.source.download_attachment(ref, f, path)
            result = applier.connector.add_attachment(sub_id, f.name, f.content_type, path, marker=f.attachment_id)
        # fields {"marker": ...} when the tool stored the file's marker with the upload's write.
        applier.ledger.record_link(kind=KIND_TASK_FILE, item_key=key,
                                   source_id=task_file_key(action.task_id, f.attachment_id),
                                   target_id=result.target_id, target_hashes=target_hashes(result.fields or {}))
        applier._count(outcome, "task_file_mirrored", a.TO_TARGET)
        log.info("task_file_mirrored", task=action.task_id, sub_item=sub_id, file=f.name, size=f.size)
        applier._dropped(action, result, outcome)
    elif isinstance(action, a.CopyTaskFileToSource):
        f = action.attachment
        with applier._tempfile() as path:
            applier.connector.download_attachment(action.sub_id, f, path)
            file_id = applier.source.upload_file(f.name, f.content_type, path)
        if action.internal:
            text = f"📎 {f.name} (task: {action.task_title or action.task_id})"
            applier._idempotent(lambda: applier.source.add_comment(ref, action.comment_id, text, internal=True,
                                                                   author_email=None, file_ids=[file_id]))
        else:
            applier.source.add_task_file(ref, action.task_id, file_id)
        link_id = task_file_key(action.task_id, file_id)
        applier.ledger.record_link(kind=KIND_TASK_FILE, item_key=key, source_id=link_id, target_id=f.attachment_id)
        applier._count(outcome, "task_file_written_back", a.TO_SOURCE)
        log.info("task_file_written_back", task=action.task_id, file=f.name, internal=action.internal)
        _mark(applier, key, action.task_id, action.sub_id, f.attachment_id, file_id, quiet=True)
    elif isinstance(action, a.MarkTaskFile):
        _mark(applier, key, action.task_id, action.sub_id, action.attachment_id, action.source_file_id)
        applier._count(outcome, "attachment_marked", a.TO_TARGET)
    else:  # pragma: no cover - the applier hands over only these
        raise FatalError(f"not a task-file action: {type(action).__name__}")


def _sub_item_of(applier: "Applier", item_key: str, task_id: str) -> str:
    for link in applier.ledger.item_links(item_key).of_kind(KIND_TASK):
        if link.source_id == task_id:
            return link.target_id
    raise FatalError(f"task {task_id} has no sub-item yet")


def _mark(applier: "Applier", key: str, task_id: str, sub_id: str, attachment_id: str, file_id: str, *,
          quiet: bool = False) -> None:
    """Stamp the sub-item's file with the source file it is linked to, where the tool marks files
    after the upload.  ``quiet``: a failure is only logged (the write before it happened; the
    next pass sees the unmarked file and plans the mark on its own)."""
    mark = getattr(applier.connector, "mark_attachment", None)
    if mark is None or not applier.connector.capabilities.attachment_marker_after_upload:
        return
    try:
        mark(sub_id, attachment_id, file_id)
    except BridgeError as exc:
        if not quiet:
            raise
        log.warning("task_file_marker_not_stored", sub_item=sub_id, attachment=attachment_id, error=str(exc))
        return
    applier.ledger.record_link(kind=KIND_TASK_FILE, item_key=key, source_id=task_file_key(task_id, file_id),
                               target_id=attachment_id, target_hashes=marker_hashes(file_id))
    log.info("task_file_marked", sub_item=sub_id, attachment=attachment_id, file=file_id)

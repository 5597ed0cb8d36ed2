"""The applier: carries out one item's actions in order — remote write, then record.

For every write: (for creates) record the intent → perform the remote write (carrying the
marker) → store the link and both sides' new hashes in one transaction.  A failing write does
not stop the item: its failure is collected (the engine quarantines that one write under its
``action_key``) and the item's other writes go on, the last step (``FinishItem``) included.
Only a failed create or adoption stops the item (every other step needs the item), and a used-up
request budget stops the pass.  A 409 on a write with a deterministic id means "already
written": it is linked.  A status the tool answered for but did not store is a
:class:`~bridge.errors.RefusedError` of that write.
"""

from __future__ import annotations

import hashlib
import tempfile
from datetime import date
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import structlog

from bridge.connector import Connector
from bridge.errors import BridgeError, BudgetExceededError, ConflictError, DroppedError, FatalError, RefusedError
from bridge.model import (FIELD_ASSIGNEE, FIELD_DUE_DATE, FIELD_REFERENCE, FIELD_STATUS, FIELD_TITLE,
                          Comment, SourceRef, SubItem, Task, WriteResult, content_hash)
from bridge.people import People
from bridge.source import Source
from bridge.state.ledger import Ledger
from bridge.sync import actions as a
from bridge.sync.apply_task_files import apply_task_file
from bridge.sync.attributes import attribute_field
from bridge.sync.comment_edits import FIELD_TEXT, text_hash
from bridge.sync.file_markers import marker_hashes
from bridge.sync.links import KIND_ATTACHMENT, KIND_COMMENT, KIND_TASK, KIND_TICKET
from bridge.sync.placing import Placer, Unplaced
from bridge.sync.plan import sub_hashes, target_hashes, task_hashes
from bridge.sync.rules import SyncRules

log = structlog.get_logger()


@dataclass
class ItemOutcome:
    item_key: str
    done: Counter = field(default_factory=Counter)
    error: BaseException | None = None  # stopped the item part-way (request budget): nothing more is known
    failures: list[tuple[a.Action, BaseException]] = field(default_factory=list)  # each failed write
    # A new item's assignee (a tool person) its create carried and the tool took: its hashes go
    # into the create's record and the SetTargetAssignee step after the create only reports it
    # (capabilities.assignee_in_create).
    assigned_by_create: str | None = None
    new_assignee: a.SetTargetAssignee | None = None  # the step assigning a new item, if planned


class Applier:
    def __init__(self, source: Source, connector: Connector, ledger: Ledger, rules: SyncRules,
                 workdir: Path | None = None, metrics=None):
        self.source = source
        self.connector = connector
        self.ledger = ledger
        self.rules = rules
        self.workdir = workdir
        self.metrics = metrics
        self.people = People(source, connector)
        self.placer = Placer(connector, ledger)
        self.assignee_in_create = bool(getattr(connector.capabilities, "assignee_in_create", False))

    def skipped(self, item_key: str) -> ItemOutcome:
        """An item not worked on in this pass (it is read again next time)."""
        return ItemOutcome(item_key)

    def apply_item(self, item_key: str, plan: list[a.Action], ref: SourceRef | None, *,
                   unlinked: bool = False) -> ItemOutcome:
        """Apply one item's plan, action by action (each remote write recorded before the next).
        ``unlinked``: the item was planned with no ticket link in the ledger (nothing else links
        it in the same pass), so its link is not read again here."""
        outcome = ItemOutcome(item_key)
        if self.assignee_in_create and any(isinstance(x, a.CreateItem) for x in plan):
            outcome.new_assignee = next((x for x in plan if isinstance(x, a.SetTargetAssignee)), None)
        link = None if unlinked else self.ledger.item_link(item_key)
        target_id = link.target_id if link else None
        structlog.contextvars.bind_contextvars(ticket=item_key, target=link.target_display_id if link else None)
        try:
            for action in plan:
                try:
                    target_id = self._apply(action, target_id, ref, outcome)
                except BudgetExceededError as exc:
                    outcome.error = exc
                    break
                except Exception as exc:  # noqa: BLE001 - the engine classifies and quarantines the write
                    outcome.failures.append((action, exc))
                    if isinstance(action, (a.CreateItem, a.AdoptItem)):
                        break  # every other step needs the item
        finally:
            structlog.contextvars.unbind_contextvars("ticket", "target")
        return outcome

    # One method per action kind; each returns the item's target id (set by create/adopt).
    def _apply(self, action: a.Action, target_id: str | None, ref: SourceRef | None, outcome: ItemOutcome) -> str | None:
        key = action.item_key
        if isinstance(action, a.CreateItem):
            self.ledger.add_intent(key, action.marker.internal_id)
            extras: dict[str, object] = {"place_later": True} if self.placer.enabled else {}
            assigning = outcome.new_assignee
            person = self._person_for_create(assigning.staff_id if assigning else None)
            if person:
                extras["assignee"] = person
            result = self.connector.create(action.draft, action.marker, **extras)
            assigned: dict[str, str] = {}
            if assigning and person and (result.fields or {}).get(FIELD_ASSIGNEE) == person:
                outcome.assigned_by_create = person
                assigned = {FIELD_ASSIGNEE: assigning.source_hash}  # recorded here: one transaction less
            self.ledger.record_link(kind=KIND_TICKET, item_key=key, source_id=None, target_id=result.target_id,
                                    source_hashes={**action.source_hashes, **created_attributes(action, result),
                                                   **assigned},
                                    target_hashes=target_hashes(result.fields or {}),
                                    source_internal_id=action.marker.internal_id, display_id=result.display_id,
                                    clear_intent=True)
            if self.placer.enabled:
                status = action.draft.status
                self.placer.later(Unplaced(key, result.target_id, status, a.SetTargetStatus(
                    key, result.target_id, status, action.source_hashes.get(FIELD_STATUS, ""))))
            self._count(outcome, "item_created", a.TO_TARGET)
            log.info("ticket_mirrored", target_id=result.target_id, title=action.draft.title[:80])
            self._dropped(action, result, outcome)
            return result.target_id
        if isinstance(action, a.AdoptItem):
            self.ledger.record_link(kind=KIND_TICKET, item_key=key, source_id=None, target_id=action.target_id,
                                    target_hashes=action.target_hashes, display_id=action.display_id,
                                    clear_intent=True)
            log.info("ticket_adopted", target_id=action.target_id)
            return action.target_id
        if isinstance(action, (a.Note, a.ReportOrphan, a.RecordConflict)):
            self._report(action)
            return target_id
        if isinstance(action, a.RecordHashes):
            self._link(key, target_id, source_hashes=action.source_hashes, target_hashes=action.target_hashes)
            return target_id
        if isinstance(action, a.FinishItem):
            # The versions recorded are the ones planned on, never those our own writes returned:
            # a person's change between our read and our write would otherwise be skipped.  An item
            # we wrote to is therefore read once more next pass (and found in sync).  The time of
            # the source's whole read goes with its version (the sweep skips it for an interval).
            self._link(key, target_id, source_version=action.source_version, target_version=action.target_version,
                       read_whole_at=action.read_whole_at if action.source_version is not None else None)
            return target_id
        if target_id is None:
            raise FatalError(f"{action.describe()}: the item has no target yet")
        self._apply_write(action, target_id, ref, outcome)
        return target_id

    def _apply_write(self, action: a.Action, target_id: str, ref: SourceRef | None, outcome: ItemOutcome) -> None:
        key = action.item_key
        if isinstance(action, a.UpdateFields):
            result = self.connector.update(target_id, action.draft, set(action.fields))
            fields = result.fields or {}
            self._link(key, target_id, source_hashes=action.source_hashes,
                       target_hashes={f: h for f, h in target_hashes(fields).items() if f in action.fields})
            self._count(outcome, "item_updated", a.TO_TARGET)
            log.info("ticket_updated", fields=sorted(action.fields))
            self._dropped(action, result, outcome)
        elif isinstance(action, a.SetTargetStatus):
            result = self.connector.set_status(target_id, action.status)
            now = (result.fields or {}).get(FIELD_STATUS, action.status.status)
            if now != action.status.status:
                # Answered as done, not stored (a workflow that ignores the transition): recording
                # it would call the item in sync; the write is refused and waits on its own.
                raise RefusedError(f"the tool kept status {now!r} instead of {action.status.status!r}")
            self._link(key, target_id, source_hashes={FIELD_STATUS: action.source_hash},
                       target_hashes={FIELD_STATUS: content_hash(now)})
            self._count(outcome, "status_mirrored", a.TO_TARGET)
            log.info("status_mirrored", status=action.status.status)
        elif isinstance(action, a.SetSourceStatus):
            extras = {}
            if action.status_text is not None:
                extras["status_text"] = action.status_text
            if action.suppress_rating_request:
                extras["suppress_rating_request"] = True
            version = self.source.set_status(self._ref(ref, key), action.status, **extras)
            self._link(key, target_id, source_hashes={FIELD_STATUS: content_hash(action.status)},
                       target_hashes={FIELD_STATUS: action.target_hash})
            self._count(outcome, "status_written_back", a.TO_SOURCE)
            log.info("status_written_back", status=action.status, source_version=version)
        elif isinstance(action, a.AddTargetComment):
            c = action.comment
            result = self.connector.add_comment(target_id, c, marker=c.comment_id)
            self.ledger.record_link(kind=KIND_COMMENT, item_key=key, source_id=c.comment_id, target_id=result.target_id,
                                    source_hashes={FIELD_TEXT: text_hash(c.text)})
            self._count(outcome, "comment_mirrored", a.TO_TARGET)
            log.info("comment_mirrored", comment=c.comment_id, target_comment=result.target_id)
            self._dropped(action, result, outcome)
        elif isinstance(action, a.AddSourceComment):
            c = action.comment
            text = attributed(c, self.connector.name)
            self._idempotent(lambda: self.source.add_comment(self._ref(ref, key), action.comment_id, text,
                                                             internal=action.internal, author_email=c.author_email))
            self.ledger.record_link(kind=KIND_COMMENT, item_key=key, source_id=action.comment_id, target_id=c.comment_id,
                                    target_hashes={FIELD_TEXT: text_hash(c.text)})
            self._count(outcome, "comment_written_back", a.TO_SOURCE)
            log.info("comment_written_back", comment=action.comment_id)
        elif isinstance(action, (a.SetTargetAssignee, a.SetSourceAssignee)):
            self._assign(action, target_id, ref, outcome)
        elif isinstance(action, (a.CopyTaskFileToTarget, a.CopyTaskFileToSource, a.MarkTaskFile)):
            apply_task_file(self, action, self._ref(ref, key), outcome)
        elif isinstance(action, a.SetSourceReference):
            self._reference(action, target_id, ref, outcome)
        elif isinstance(action, a.SetSourceDueDate):
            due = date.fromisoformat(action.due_date) if action.due_date else None
            self.source.set_due_date(self._ref(ref, key), due)
            self._link(key, target_id, source_hashes={FIELD_DUE_DATE: content_hash(action.due_date)},
                       target_hashes={FIELD_DUE_DATE: action.target_hash})
            self._count(outcome, "due_date_written_back", a.TO_SOURCE)
            log.info("due_date_written_back", due_date=action.due_date or None)
        elif isinstance(action, a.SetTargetAttribute):
            link = self.ledger.item_link(key)
            if link is not None and link.source_hashes.get(attribute_field(action.name)) == action.source_hash:
                return  # the create set it already
            self.connector.set_attribute(target_id, action.name, action.value)  # type: ignore[attr-defined]
            self._link(key, target_id, source_hashes={attribute_field(action.name): action.source_hash})
            self._count(outcome, "attribute_mirrored", a.TO_TARGET)
            log.info("attribute_mirrored", attribute=action.name)
        elif isinstance(action, a.UpdateTargetComment):
            c = action.comment
            self.connector.update_comment(target_id, action.target_comment_id, c)
            self.ledger.record_link(kind=KIND_COMMENT, item_key=key, source_id=c.comment_id,
                                    target_id=action.target_comment_id, source_hashes={FIELD_TEXT: action.text_hash})
            self._count(outcome, "comment_edit_mirrored", a.TO_TARGET)
            log.info("comment_edit_mirrored", comment=c.comment_id, target_comment=action.target_comment_id)
        elif isinstance(action, a.UpdateSourceComment):
            c = action.comment
            self.source.update_comment(self._ref(ref, key), action.source_comment_id, attributed(c, self.connector.name))
            self.ledger.record_link(kind=KIND_COMMENT, item_key=key, source_id=action.source_comment_id,
                                    target_id=c.comment_id, target_hashes={FIELD_TEXT: action.text_hash})
            self._count(outcome, "comment_edit_written_back", a.TO_SOURCE)
            log.info("comment_edit_written_back", comment=action.source_comment_id)
        elif isinstance(action, a.AdoptChild):
            self.ledger.record_link(kind=action.kind, item_key=key, source_id=action.source_child_id,
                                    target_id=action.target_child_id, source_hashes=action.source_hashes,
                                    target_hashes=action.target_hashes)
        elif isinstance(action, a.CreateSubItem):
            t, st = self.source.named_task(action.task), action.status
            if self.placer.enabled:
                result = self.connector.add_sub_item(target_id, t, st, marker=t.task_id, place_later=True)
                written = SubItem(result.target_id, t.title, "", t.description, None, t.task_id)
                self.ledger.record_link(kind=KIND_TASK, item_key=key, source_id=t.task_id,
                                        target_id=result.target_id, source_hashes=action.source_hashes,
                                        target_hashes={FIELD_TITLE: sub_hashes(written)[FIELD_TITLE]})
                # The write a placing failure is recorded as: the planner's task (ids, not the
                # names looked up for the sub-task), so its fingerprint matches the re-planned one.
                self.placer.later(Unplaced(key, result.target_id, st, a.UpdateSubItem(
                    key, action.task, result.target_id, st, action.source_hashes), task_id=t.task_id))
            else:
                result = self.connector.add_sub_item(target_id, t, st, marker=t.task_id)
                status, resolution = _as_set(result.fields, st.status, st.resolution)
                written = SubItem(result.target_id, t.title, status, t.description, resolution, t.task_id)
                self.ledger.record_link(kind=KIND_TASK, item_key=key, source_id=t.task_id,
                                        target_id=result.target_id, source_hashes=action.source_hashes,
                                        target_hashes=sub_hashes(written))
            self._count(outcome, "task_mirrored", a.TO_TARGET)
            log.info("task_mirrored", task=t.task_id, sub_item=result.target_id)
            self._dropped(action, result, outcome)
        elif isinstance(action, a.UpdateSubItem):
            t, st = self.source.named_task(action.task), action.status
            result = self.connector.update_sub_item(target_id, action.sub_id, t, st)
            hashes = dict(action.source_hashes)
            if st is None:  # only the title changed: the recorded status hashes stay as they are
                hashes.pop(FIELD_STATUS, None)
            status, resolution = _as_set(result.fields if st else None, st.status if st else "",
                                         st.resolution if st else None)
            written = SubItem(action.sub_id, t.title, status, t.description, resolution)
            self.ledger.record_link(kind=KIND_TASK, item_key=key, source_id=t.task_id, target_id=action.sub_id,
                                    source_hashes=hashes,
                                    target_hashes=sub_hashes(written) if st else {})
            self._count(outcome, "task_updated", a.TO_TARGET)
            log.info("task_updated", task=t.task_id, status=st.status if st else None)
            self._dropped(action, result, outcome)
        elif isinstance(action, a.SetSourceTaskStatus):
            self.source.set_task_status(self._ref(ref, key), action.task.task_id, action.task.title, action.status)
            task_now = replace(action.task, status=action.status)  # its header lines count in its hash
            self.ledger.record_link(kind=KIND_TASK, item_key=key, source_id=action.task.task_id,
                                    target_id=action.sub.sub_id, source_hashes=task_hashes(task_now),
                                    target_hashes=action.target_hashes)
            self._count(outcome, "task_status_written_back", a.TO_SOURCE)
            log.info("task_status_written_back", task=action.task.task_id, status=action.status)
        elif isinstance(action, a.CreateSourceTask):
            sub = action.sub
            self._idempotent(lambda: self.source.add_task(self._ref(ref, key), action.task_id, sub.title,
                                                          sub.description, action.status))
            task_now = Task(action.task_id, sub.title, sub.description, action.status)
            self.ledger.record_link(kind=KIND_TASK, item_key=key, source_id=action.task_id, target_id=sub.sub_id,
                                    source_hashes=task_hashes(task_now), target_hashes=action.target_hashes)
            self._count(outcome, "task_written_back", a.TO_SOURCE)
            log.info("task_written_back", task=action.task_id)
        elif isinstance(action, a.CopyToTarget):
            f = action.attachment
            with self._tempfile() as path:
                self.source.download_attachment(self._ref(ref, key), f, path)
                result = self.connector.add_attachment(target_id, f.name, f.content_type, path, marker=f.attachment_id)
            # fields {"marker": ...} when the tool stored the file's marker with the upload's write.
            self.ledger.record_link(kind=KIND_ATTACHMENT, item_key=key, source_id=f.attachment_id,
                                    target_id=result.target_id, target_hashes=target_hashes(result.fields or {}))
            self._count(outcome, "attachment_mirrored", a.TO_TARGET)
            log.info("attachment_mirrored", file=f.name, size=f.size)
            self._dropped(action, result, outcome)
        elif isinstance(action, a.MarkItem):
            mark = getattr(self.connector, "mark_item", None)
            if mark is not None:
                mark(target_id, action.marker)
                self._count(outcome, "item_marked", a.TO_TARGET)
                log.info("item_marked", target_id=target_id)
        elif isinstance(action, a.MarkAttachment):
            self.connector.mark_attachment(target_id, action.attachment_id, action.source_file_id)
            self.ledger.record_link(kind=KIND_ATTACHMENT, item_key=key, source_id=action.source_file_id,
                                    target_id=action.attachment_id,
                                    target_hashes=marker_hashes(action.source_file_id))
            self._count(outcome, "attachment_marked", a.TO_TARGET)
            log.info("attachment_marked", attachment=action.attachment_id, file=action.source_file_id)
        elif isinstance(action, a.CopyToSource):
            f = action.attachment
            with self._tempfile() as path:
                self.connector.download_attachment(target_id, f, path)
                file_id = self.source.upload_file(f.name, f.content_type, path)
            self._idempotent(lambda: self.source.add_comment(
                self._ref(ref, key), action.comment_id, f"📎 {f.name}", internal=action.internal, author_email=None,
                file_ids=[file_id]))
            self.ledger.record_link(kind=KIND_ATTACHMENT, item_key=key, source_id=file_id, target_id=f.attachment_id)
            self._count(outcome, "attachment_written_back", a.TO_SOURCE)
            log.info("attachment_written_back", file=f.name)
        else:  # pragma: no cover - every action class is handled above
            raise FatalError(f"unknown action {type(action).__name__}")

    def _assign(self, action: a.Action, target_id: str, ref: SourceRef | None, outcome: ItemOutcome) -> None:
        key = action.item_key
        if isinstance(action, a.SetTargetAssignee):
            person = self.people.tool_person(action.staff_id) if action.staff_id else None
            if person and person == outcome.assigned_by_create:  # the create carried and recorded it
                self._count(outcome, "assignee_mirrored", a.TO_TARGET)
                log.info("assignee_mirrored", staff_id=action.staff_id, person=person, with_create=True)
                return
            # A staff member the tool does not know leaves the issue unassigned: counted apart,
            # so "assignee mirrored" counts people the tool shows.
            unknown = bool(action.staff_id) and person is None
            if unknown:
                log.warning("assignee_unknown_in_tool", staff_id=action.staff_id,
                            note="no user with this staff member's e-mail address and no assignee_map entry; "
                                 "the issue stays unassigned")
            result = self.connector.set_assignee(target_id, person)
            now = (result.fields or {}).get(FIELD_ASSIGNEE, person or "")
            self._link(key, target_id, source_hashes={FIELD_ASSIGNEE: action.source_hash},
                       target_hashes={FIELD_ASSIGNEE: content_hash(now)})
            self._count(outcome, "assignee_unknown_in_tool" if unknown else "assignee_mirrored", a.TO_TARGET)
            log.info("assignee_mirrored", staff_id=action.staff_id, person=now or None)
            self._dropped(action, result, outcome)
            return
        assert isinstance(action, a.SetSourceAssignee)
        staff_id = self.people.staff_for(action.tool_person) if action.tool_person else None
        if action.tool_person and staff_id is None:
            log.warning("assignee_unknown_in_source", person=action.tool_person,
                        note="no casavi staff member matches this user; casavi's assignee is left as it is")
            self._link(key, target_id, source_hashes={FIELD_ASSIGNEE: action.source_hash},
                       target_hashes={FIELD_ASSIGNEE: action.target_hash})
            return
        self.source.set_assignee(self._ref(ref, key), staff_id)
        self._link(key, target_id, source_hashes={FIELD_ASSIGNEE: content_hash(staff_id or "")},
                   target_hashes={FIELD_ASSIGNEE: action.target_hash})
        self._count(outcome, "assignee_written_back", a.TO_SOURCE)
        log.info("assignee_written_back", staff_id=staff_id, person=action.tool_person or None)

    def _reference(self, action: a.SetSourceReference, target_id: str, ref: SourceRef | None,
                   outcome: ItemOutcome) -> None:
        key = action.item_key
        reference = action.reference
        if reference is None:  # the item created earlier in this plan: its key as the create answered
            link = self.ledger.item_link(key)
            reference = link.target_display_id if link is not None else None
            if not reference:
                log.info("reference_unknown_yet", note="the tool named no key; written when the item is read")
                return
        self.source.set_reference(self._ref(ref, key), reference)
        self._link(key, target_id, source_hashes={FIELD_REFERENCE: content_hash(reference)})
        self._count(outcome, "reference_written_back", a.TO_SOURCE)
        log.info("reference_written_back", reference=reference)

    def _person_for_create(self, staff_id: str | None) -> str | None:
        """The tool's person for a new item's assignee, sent with its create; None when there
        is nobody to send (no staff member, no match, or the lookup failed: the assignee step
        after the create then does it as for every other item, and a failure stays its own)."""
        if not staff_id:
            return None
        try:
            return self.people.tool_person(staff_id)
        except BudgetExceededError:
            raise
        except BridgeError as exc:
            log.info("assignee_lookup_deferred", staff_id=staff_id, error=type(exc).__name__)
            return None

    # --- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _dropped(action: a.Action, result: WriteResult, outcome: ItemOutcome) -> None:
        """What the tool did not store of a write that went through: that write's failure (it is
        linked, so it is never written twice; the engine lists it)."""
        if result.dropped:
            outcome.failures.append((action, DroppedError("the tool did not store all of it: " + "; ".join(result.dropped))))
    def _link(self, key: str, target_id: str | None, **kw) -> None:
        if target_id is None:
            return
        self.ledger.record_link(kind=KIND_TICKET, item_key=key, source_id=None, target_id=target_id, **kw)

    @staticmethod
    def _idempotent(write) -> None:
        try:
            write()
        except ConflictError:
            log.info("write_already_present")  # deterministic id: an earlier attempt got through

    @staticmethod
    def _ref(ref: SourceRef | None, key: str) -> SourceRef:
        if ref is not None:
            return ref
        source, _, item_id = key.partition(":")
        return SourceRef(source, item_id)

    def _count(self, outcome: ItemOutcome, what: str, direction: str) -> None:
        outcome.done[what] += 1
        if self.metrics is not None:
            self.metrics.item_mirrored(what, direction)

    def _report(self, action: a.Action) -> None:
        if isinstance(action, a.RecordConflict):
            self.ledger.record_conflict(action.item_key, action.field_name, action.source_value,
                                        action.target_value, action.policy, action.winner)
            log.warning("conflict_resolved", field=action.field_name, winner=action.winner, policy=action.policy)
        elif isinstance(action, a.ReportOrphan):
            self.ledger.mark_orphan(action.item_key, action.side)
            log.warning("linked_item_missing", side=action.side)
        else:
            log.info("item_noted", note=action.describe())

    def _tempfile(self):
        return _TempFile(self.workdir)


class _TempFile:
    """A temporary file path for streaming a download to disk; removed afterwards."""

    def __init__(self, workdir: Path | None):
        self.workdir = workdir
        self.path: Path | None = None

    def __enter__(self) -> Path:
        fh = tempfile.NamedTemporaryFile(dir=self.workdir, prefix="casavi-bridge-", delete=False)
        fh.close()
        self.path = Path(fh.name)
        return self.path

    def __exit__(self, *exc) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _as_set(fields, status: str, resolution: str | None) -> tuple[str, str | None]:
    """The status and resolution the tool reports it set (a workflow may decide them itself),
    else the ones asked for."""
    if not fields or "status" not in fields:
        return status, resolution
    return fields["status"], fields.get("resolution") or None


def created_attributes(action: a.CreateItem, result: WriteResult) -> dict[str, str]:
    """The attribute hashes a create records: those the new item holds (the connector says which)."""
    return {attribute_field(name): action.attribute_hashes[name]
            for name in result.attributes if name in action.attribute_hashes}


def attributed(comment: Comment, tool: str) -> str:
    """A tool comment as casavi shows it: who wrote it, where, then the text."""
    if not comment.author:
        return comment.text
    return f"**{comment.author}** ({tool.capitalize()}):\n\n{comment.text}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()

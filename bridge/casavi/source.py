"""casavi manager API tickets as a :class:`bridge.source.Source`.

Turns casavi tickets into the neutral :class:`~bridge.model.SourceItem` and writes status,
comments and tasks back.  Names of properties, units and contacts cost a request each, so
they are cached (property and unit names in the state database, across restarts) until they
are older than ``[casavi] names_max_age_hours``; a failed lookup never fails the ticket — the
header then shows the bare id.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

import structlog

from bridge.casavi.client import CasaviClient
from bridge.casavi.parse import Ticket, TicketParseError, TicketTask
from bridge.casavi.reader import TicketReader, full_version
from bridge.casavi.records import AttachmentDetail, ticket_write_fields
from bridge.errors import BridgeError, FatalError, RefusedError, RetriableError
from bridge.model import Attachment, Comment, SourceItem, SourceRef, Task
from bridge.source import ParseProblem, SourceSummary

log = structlog.get_logger()

_MISSING = object()


def type_label(ticket_type: str) -> str | None:
    """A ticket type as a label: "Water damage" → "water-damage" (labels carry no spaces)."""
    slug = re.sub(r"[\W_]+", "-", ticket_type.strip().lower()).strip("-")
    return slug[:60] or None


class NameStore(Protocol):
    """Where looked-up names outlive the process (the state database: :class:`~bridge.state.ledger.Ledger`)."""

    def cached_name(self, kind: str, item_id: str, newer_than: datetime) -> tuple[bool, str | None]: ...

    def cache_name(self, kind: str, item_id: str, name: str | None) -> None: ...


class _NameCache:
    """id → display name, remembered for ``max_age``; a failed lookup gives None.

    A lookup that failed for good (404, refused, unreadable) is remembered as None; a
    temporary failure (timeout, 5xx, budget) is not, so a later ticket tries again.  With a
    ``store`` (the state database) names outlive the process, so a restarted daemon does not
    look up every property and unit again; after ``max_age`` a name is looked up again (a
    renamed property reaches the header of the next ticket written).
    """

    def __init__(self, kind: str, lookup: Callable[[str], str], max_age: timedelta = timedelta(hours=24)):
        self.kind = kind
        self._lookup = lookup
        self.max_age = max_age
        self.store: NameStore | None = None
        self._names: dict[str, tuple[str | None, float]] = {}  # id -> (name, monotonic time fetched)
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        now = time.monotonic()
        with self._lock:
            known = self._names.get(key, _MISSING)
        if known is not _MISSING and now - known[1] < self.max_age.total_seconds():  # type: ignore[index]
            return known[0]  # type: ignore[index]
        if self.store is not None:
            found, stored = self.store.cached_name(self.kind, key, datetime.now(timezone.utc) - self.max_age)
            if found:
                with self._lock:
                    self._names[key] = (stored, now)
                return stored
        try:
            name: str | None = self._lookup(key) or None
        except RetriableError as exc:
            log.info("casavi_name_lookup_failed", key=key, error=type(exc).__name__)
            return None
        except BridgeError as exc:
            log.info("casavi_name_lookup_failed", key=key, error=type(exc).__name__)
            name = None
        with self._lock:
            self._names[key] = (name, now)
        if self.store is not None:
            self.store.cache_name(self.kind, key, name)
        return name


class CasaviSource:
    """The casavi manager API as the bridge's source of tickets."""

    name = "casavi"
    comment_edits = True  # "Update ticket comment": PUT /tickets/{id}/comments/{commentId}
    assignees = True  # staff_emails, set_assignee
    references = False  # a ticket has no field for the tool's key (the tool links back instead)
    due_dates = False  # a ticket has no due date

    closed_statuses = frozenset({"CLOSED"})

    def __init__(self, client: CasaviClient, *, date_means_created: bool = False):
        self.client = client
        self.date_means_created = date_means_created
        self.reader = TicketReader(client, date_means_created=date_means_created)
        self._properties = _NameCache("property", lambda pid: client.get_property(pid).name)
        self._units = _NameCache("unit", lambda uid: client.get_unit(uid).name)
        self._contacts = _NameCache("contact", self._contact_line)
        # The craftsman of a task (a contact: name, company, e-mail, telephone); in memory only.
        self._craftsmen = _NameCache("craftsman", lambda cid: client.get_contact(cid).reach_line())
        self._creators = _NameCache("task creator", self._creator_name)

    def keep_names(self, store: NameStore | None, max_age: timedelta) -> None:
        """Keep property and unit names in ``store`` (across restarts) for ``max_age``.
        Contact lines stay in memory only: they carry e-mail addresses."""
        for cache in (self._properties, self._units):
            cache.store, cache.max_age = store, max_age
        self._contacts.max_age = self._craftsmen.max_age = self._creators.max_age = max_age

    def __repr__(self) -> str:
        return f"CasaviSource({self.client!r}, date_means_created={self.date_means_created})"

    # -- reading -----------------------------------------------------------------------------

    def check(self) -> list[str]:
        return self.client.check()

    def probe(self) -> list[str]:
        """What the live casavi answers where the document is silent (read-only; for ``check``)."""
        return self.reader.probe().lines()

    def begin_pass(self) -> None:
        """A new pass: the per-pass request budget is full again.  The first pass of a process
        starts with the shape probe (a dozen reads), so the engine takes the cheapest safe path."""
        self.client.policy.reset_budget()
        if not self.reader.probed:
            try:
                self.reader.probe()
            except BridgeError as exc:  # the safe readings stay assumed
                log.warning("casavi_shape_probe_failed", error=type(exc).__name__)

    def requests_made(self) -> int:
        return self.client.policy.requests_sent

    def changed_since(self, since: datetime | None) -> Iterator[SourceSummary | ParseProblem]:
        # No status filter: the engine filters new tickets; linked ones are followed in
        # every status (a ticket closed in casavi must close in the tool).
        return self._summaries(self.client.list_tickets(date=since))

    @property
    def sweep_reads_only_with_listing(self) -> bool:
        """True when the sweep reads tickets whole only on the passes that list the open ones
        (the engine then takes every ticket not read during such a pass as due)."""
        return self.reader.reads_only_with_listing

    def sweep(self, item_ids: Iterable[str], *, list_open: bool = True) -> Iterator[SourceSummary | ParseProblem]:
        """The linked tickets ``item_ids`` (due for the sweep) read whole, versions with the
        content digest and ``read_whole_at``; with ``list_open`` under created dates also the
        tickets in an open status (list rows); see :mod:`bridge.casavi.reader` for the cost."""
        return self.reader.sweep(item_ids, self._summary, list_open=list_open)

    def _summaries(self, entries: Iterable[Ticket | TicketParseError]) -> Iterator[SourceSummary | ParseProblem]:
        for entry in entries:
            if isinstance(entry, TicketParseError):
                yield ParseProblem(entry.ticket_id, entry.reason)
                continue
            yield self._summary(entry, entry.last_modified)

    def _summary(self, ticket: Ticket, version: str | None, read_whole_at: datetime | None = None) -> SourceSummary:
        return SourceSummary(ref=self._ref(ticket), status=ticket.status, version=version,
                             modified_at=ticket.modified_at, created_at=ticket.created_at,
                             property_id=ticket.property_id, read_whole_at=read_whole_at)

    def get(self, ref: SourceRef) -> SourceItem:
        ticket, read_at = self.reader.read_whole(ref.item_id)
        if ticket.problems:
            log.warning("casavi_ticket_parts_skipped", ticket=ticket.ticket_id,
                        problems=list(ticket.problems))
        return self.to_item(ticket, read_whole_at=read_at)

    def to_item(self, ticket: Ticket, *, read_whole_at: datetime | None = None) -> SourceItem:
        """The neutral item for a ticket (name lookups go through the cache); ``read_whole_at``:
        when the ticket was read whole (before the read)."""
        labels = ["casavi"]
        if (label := type_label(ticket.type)) is not None:
            labels.append(label)
        return SourceItem(
            ref=self._ref(ticket),
            title=ticket.title,
            description=ticket.description,
            status=ticket.status,
            facts=self._facts(ticket),
            labels=tuple(labels),
            link_url=ticket.app_link,
            created_at=ticket.created_at,
            modified_at=ticket.modified_at,
            comments=tuple(
                Comment(
                    comment_id=c.comment_id,
                    text=c.text,
                    internal=c.is_internal,
                    author=c.author_name,
                    author_email=c.author_email,
                    created_at=c.created_at,
                    file_ids=c.attachments,
                )
                for c in ticket.comments
            ),
            tasks=tuple(
                Task(task_id=t.task_id, title=t.title, description=t.description, status=t.status,
                     facts=self._task_facts(t), attachments=tuple(_attachment(a) for a in t.attachment_details))
                for t in ticket.tasks
            ),
            attachments=tuple(_attachment(a) for a in _ticket_files(ticket)),
            property_id=ticket.property_id,
            unit_id=ticket.unit_id,
            assignee=ticket.assigned_to_id,
            version=full_version(ticket),
            attributes=ticket_attributes(ticket),
            read_whole_at=read_whole_at,
        )

    def _task_facts(self, task: TicketTask) -> tuple[tuple[str, str], ...]:
        """The header of the task's sub-item: the craftsman (the contact the task is assigned
        to) with what the contact has of company, e-mail and telephone, and who created the
        task (its id; ``named_task`` names it); the bare id when the person cannot be read
        (the document does not say a task's assignee is always a contact the account can read)."""
        facts = []
        if task.assigned_to_id:
            facts.append(("Craftsman", self._craftsmen.get(task.assigned_to_id) or task.assigned_to_id))
        if task.created_by_id:  # named in named_task, when a sub-item is written
            facts.append(("Created by", task.created_by_id))
        return tuple(facts)

    def named_task(self, task: Task) -> Task:
        """The task with its creator's name in the ``Created by`` line (the line is not in the
        task's hash, so the name is looked up only for a sub-item being written: a tenant's
        comment on a ticket with tasks costs no lookup)."""
        facts = tuple((label, self._creators.get(value) or value) if label == "Created by" else (label, value)
                      for label, value in task.facts)
        return task if facts == task.facts else replace(task, facts=facts)

    def _creator_name(self, person_id: str) -> str | None:
        """Who created a task: the document calls ``createdById`` the external id of a contact,
        yet tasks are created by the account's staff; a contact's name, else a staff member's
        (``GET /staff/{id}``), else None (the bare id is shown)."""
        try:
            return self.client.get_contact(person_id).display_name
        except RetriableError:
            raise  # not remembered: the next task's header tries again
        except BridgeError:  # not a contact this account may read (404, 403, 400)
            return self.client.get_staff_member(person_id).display_name

    def _ref(self, ticket: Ticket) -> SourceRef:
        return SourceRef(self.name, ticket.ticket_id, ticket.internal_id)

    def _facts(self, ticket: Ticket) -> tuple[tuple[str, str], ...]:
        facts: list[tuple[str, str]] = []
        if ticket.property_id:
            facts.append(("Property", _with_name(ticket.property_id, self._properties.get(ticket.property_id))))
        if ticket.unit_id:
            facts.append(("Unit", _with_name(ticket.unit_id, self._units.get(ticket.unit_id))))
        reporter = self._reporter(ticket)
        if reporter:
            facts.append(("Reported by", reporter))
        if ticket.type:
            facts.append(("Type", ticket.type))
        if ticket.number:
            facts.append(("casavi number", ticket.number))
        return tuple(facts)

    def _reporter(self, ticket: Ticket) -> str | None:
        # The ticket usually names its contact; only without a name is the contact looked up.
        if ticket.contact_name:
            return _person(ticket.contact_name, ticket.contact_email, ticket.contact_telephone)
        if ticket.contact_id:
            return self._contacts.get(ticket.contact_id) or _person(ticket.contact_id, None, ticket.contact_telephone)
        return _person(None, ticket.contact_email, ticket.contact_telephone) or None

    def _contact_line(self, contact_id: str) -> str:
        contact = self.client.get_contact(contact_id)
        return _person(contact.display_name, contact.email, contact.telephone)

    # -- writing -----------------------------------------------------------------------------

    def set_status(self, ref: SourceRef, status: str, *, status_text: str | None = None,
                   suppress_rating_request: bool = False) -> str | None:
        """PUT the ticket with its current fields and the new status (PUT needs id, title,
        propertyId); returns the new lastModified when the answer carries it.

        ``status_text`` is sent as ``statusText`` when given ("" clears it: tenants then see the
        status's own name); ``suppress_rating_request`` asks casavi not to send the tenant a
        rating request when the ticket closes (API document, "Update ticket")."""
        current = self.client.get_ticket(ref.item_id)
        if current.status == status:
            # Already there (e.g. a repeat after a lost answer): writing would only bump
            # lastModified and make the next poll see a change that is none.
            return current.last_modified
        fields = ticket_write_fields(current)
        fields["status"] = status
        if status_text is not None:
            fields["statusText"] = status_text or None
        if suppress_rating_request:
            fields["suppressRatingRequest"] = True
        updated = self.client.update_ticket(ref.item_id, fields)
        log.info("casavi_status_written", ticket=ref.item_id, status=status)
        return updated.last_modified if updated is not None else None

    def add_comment(self, ref: SourceRef, comment_id: str, text: str, *, internal: bool,
                    author_email: str | None, file_ids: list[str] | None = None) -> str:
        shapes = self.reader.shapes
        # Until known, a write shows whether comments move lastModified (bridge.casavi.shapes):
        # one read before and one after, a few times in the life of the process.
        before = None if shapes.comments_move_modified_known else self.client.get_ticket(ref.item_id).modified_at
        comment = self.client.create_comment(
            ref.item_id, text, comment_id=comment_id, is_internal=internal,
            author_email=author_email, fallback_to_account=True, attachments=file_ids or (),
        )
        if before is not None:
            shapes.saw_own_comment(before, self.client.get_ticket(ref.item_id).modified_at, comment.created_at)
        log.info("casavi_comment_written", ticket=ref.item_id, comment=comment_id)
        return comment.comment_id or comment_id

    def staff_emails(self) -> dict[str, str | None]:
        """Every staff member's e-mail address by staff id (``GET /staff``, all pages)."""
        return {member.staff_id: member.email for member in self.client.list_staff()}

    def set_assignee(self, ref: SourceRef, staff_id: str | None) -> None:
        """PUT the ticket with its current fields and ``assignedToId`` (None: nobody)."""
        current = self.client.get_ticket(ref.item_id)
        if current.assigned_to_id == staff_id:
            return
        fields = ticket_write_fields(current)
        fields["assignedToId"] = staff_id
        self.client.update_ticket(ref.item_id, fields)
        log.info("casavi_assignee_written", ticket=ref.item_id, staff_id=staff_id)

    def update_comment(self, ref: SourceRef, comment_id: str, text: str) -> None:
        """PUT the comment's new text (``isInternal`` is not sent: it stays as written)."""
        self.client.update_comment(ref.item_id, comment_id, text=text)
        log.info("casavi_comment_updated", ticket=ref.item_id, comment=comment_id)

    def set_reference(self, ref: SourceRef, reference: str) -> None:
        """A ticket has no field for the tool's key (``references`` is false; never asked)."""
        raise FatalError(f"casavi tickets hold no tool key (ticket {ref.item_id})")

    def set_due_date(self, ref: SourceRef, due: date | None) -> None:
        """A ticket has no due date (``due_dates`` is false; never asked)."""
        raise FatalError(f"casavi tickets have no due date (ticket {ref.item_id})")

    def add_task(self, ref: SourceRef, task_id: str, title: str, description: str, status: str) -> str:
        task = self.client.create_task(ref.item_id, task_id, title, description=description, status=status)
        log.info("casavi_task_written", ticket=ref.item_id, task=task_id)
        return task.task_id or task_id

    def set_task_status(self, ref: SourceRef, task_id: str, title: str, status: str) -> None:
        """PUT the whole task as read, with the new status: the document does not say whether
        PUT merges or replaces, and a replacing casavi would clear every field left out (the
        description, the craftsman's assignment)."""
        current = self.client.get_task(ref.item_id, task_id)
        if current.status == status:
            return  # already there (a repeat after a lost answer)
        self.client.put_task(ref.item_id, current, status=status)
        log.info("casavi_task_status_written", ticket=ref.item_id, task=task_id, status=status)

    def add_task_file(self, ref: SourceRef, task_id: str, file_id: str) -> None:
        """PUT the task whole with ``file_id`` added to its files (the document names
        ``attachments`` on task update; whether a PUT replaces the list or adds to it, it does
        not say: the whole list is sent), then read it back: a casavi that answered without
        storing the file is a RefusedError, not a file taken for written."""
        current = self.client.get_task(ref.item_id, task_id)
        if file_id in current.attachments:
            return  # already there (a repeat after a lost answer)
        self.client.put_task(ref.item_id, replace(current, attachments=current.attachments + (file_id,)))
        stored = self.client.get_task(ref.item_id, task_id).attachments
        if file_id not in stored:
            raise RefusedError(f"casavi answered the PUT of task {task_id} of ticket {ref.item_id} but did not "
                               f"keep file {file_id} (it holds {', '.join(stored) or 'none'})")
        log.info("casavi_task_file_written", ticket=ref.item_id, task=task_id, file=file_id)

    def upload_file(self, name: str, content_type: str, path: Path) -> str:
        return self.client.upload_file(path, name, content_type)

    def download_attachment(self, ref: SourceRef, attachment: Attachment, dest: Path) -> None:
        self.client.download_file(attachment.url or attachment.attachment_id, dest)


def _attachment(detail: AttachmentDetail) -> Attachment:
    return Attachment(attachment_id=detail.file_id, name=detail.name, content_type=detail.content_type,
                      size=detail.size, url=detail.url)


def _ticket_files(ticket: Ticket) -> list[AttachmentDetail]:
    """The ticket's own files: ``attachmentDetails`` without the files of its tasks.  Whether
    casavi lists a task's files among the ticket's is not documented (1.9.0: "Ticket tasks now
    include attachment data"); a file a comment carries is the ticket's either way."""
    task_files = {f for t in ticket.tasks for f in (*t.attachments, *(d.file_id for d in t.attachment_details))}
    if not task_files:
        return list(ticket.attachment_details)
    carried = {f for c in ticket.comments for f in c.attachments}
    return [d for d in ticket.attachment_details if d.file_id not in task_files or d.file_id in carried]


def _with_name(item_id: str, name: str | None) -> str:
    return f"{item_id} {name}" if name and name != item_id else item_id


def _person(name: str | None, email: str | None, telephone: str | None = None) -> str:
    """How the header names a person: ``John Doe <john@casavi.de>, Tel. +345353632``."""
    line = f"{name} <{email}>" if name and email else name or email or ""
    if telephone and telephone.strip():
        line = f"{line}, Tel. {telephone.strip()}" if line else f"Tel. {telephone.strip()}"
    return line


def ticket_attributes(ticket: Ticket) -> dict[str, object]:
    """What kind of ticket it is, as :attr:`bridge.model.SourceItem.attributes` names it: ``type``,
    ``typeGroup`` and one ``customFields.<key>`` per custom field, values as casavi sent them."""
    found: dict[str, object] = {"type": ticket.type or None, "typeGroup": ticket.type_group}
    for key, value in ticket.custom_fields.items():
        found[f"customFields.{key}"] = value
    return found

"""Comments and tasks of casavi sandbox tickets (the part of :class:`CasaviStore` that writes them).

Mixed into :class:`~bridge.sandbox.casavi.store.CasaviStore`; every method holds the store's
lock and bumps the ticket's ``lastModified`` through ``_touch_item`` — only when the store
reads the document as "comments and tasks move lastModified" (``comments_move_modified``;
see :mod:`bridge.sandbox.casavi.readings`).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Callable

from bridge.sandbox.casavi import render as render
from bridge.sandbox.casavi.payload import file_id_list, optional_bool, optional_str, required_str
from bridge.sandbox.casavi.records import (
    ACCOUNT_NAME, TASK_STATUSES, CommentRecord, Conflict, InvalidRequest, NotFound, TaskRecord, TicketRecord,
)

Author = tuple[str | None, str, str | None]  # (authorId, authorName, authorEmail)


class TicketItemsMixin:
    """Comment and task writes; needs the store's lock, tables, ``_stamp``, ``_touch``, ``ticket``."""

    _lock: threading.RLock
    contacts: dict[str, dict[str, Any]]
    staff: dict[str, dict[str, Any]]
    _emails: dict[str, dict[str, Any]]
    ticket: Callable[[str], TicketRecord]
    _stamp: Callable[[], int]
    _touch: Callable[[TicketRecord, int], None]
    comments_move_modified: bool
    task_put_adds_files: bool
    _known_files: Callable[[list[int]], list[int]]

    def _touch_item(self, ticket: TicketRecord, stamp: int) -> None:
        """A comment or task changed: moves lastModified only under ``comments_move_modified``."""
        if self.comments_move_modified:
            self._touch(ticket, stamp)

    # -- comments -----------------------------------------------------------------------------

    def add_comment(self, ticket_id: str, payload: dict[str, Any], *, as_contact: bool = False) -> str:
        """POST /tickets/{id}/comments; ``as_contact`` (sandbox control) writes as the tenant."""
        with self._lock:
            ticket = self.ticket(ticket_id)
            author = self._comment_author(ticket, payload, as_contact)
            return self._add_comment(ticket, payload, author=author)

    def _comment_author(self, ticket: TicketRecord, payload: dict[str, Any], as_contact: bool) -> Author | None:
        """(authorId, name, email) or None for the account.

        Decision: an author given by ``authorId``/``authorEmail`` that does not exist is a
        **400** unless ``fallbackToAccount`` is true (the document says casavi "throws"
        without naming the status; 404 would be mistaken for "ticket gone" by clients).
        """
        if as_contact:
            contact_id = optional_str(payload, "contactId") or ticket.contact_id
            contact = self.contacts.get(contact_id or "")
            if contact is None:
                raise InvalidRequest(f"contactId {contact_id!r} does not exist")
            return contact["id"], render.full_name(contact), contact.get("email")
        author_id = optional_str(payload, "authorId")
        author_email = optional_str(payload, "authorEmail")
        if author_id is None and author_email is None:
            return None
        person = self.staff.get(author_id) if author_id else None
        if person is None and author_email:
            person = self._emails.get(author_email.lower())
        if person is None:
            if optional_bool(payload, "fallbackToAccount"):
                return None
            raise InvalidRequest(f"author {author_id or author_email!r} not found "
                                 "(set fallbackToAccount to use the account name)")
        return person["id"], render.full_name(person), person.get("email")

    def _add_comment(self, ticket: TicketRecord, payload: dict[str, Any], *, author: Author | None) -> str:
        comment_id = optional_str(payload, "id") or str(uuid.uuid4())
        if comment_id in ticket.comments:
            raise Conflict(f"Comment {comment_id} already exists in ticket {ticket.ticket_id}")
        text = required_str(payload, "text")
        is_internal = optional_bool(payload, "isInternal") or False
        attachments = self._known_files(file_id_list(payload, "attachments"))
        stamp = self._stamp()
        author_id, author_name, author_email = author or (None, ACCOUNT_NAME, None)
        ticket.comments[comment_id] = CommentRecord(
            comment_id=comment_id, text=text, is_internal=is_internal, author_id=author_id,
            author_name=author_name, author_email=author_email, created_ms=stamp, modified_ms=stamp,
            attachments=attachments)
        for file_id in attachments:  # files on a comment become ticket attachments
            if file_id not in ticket.attachments:
                ticket.attachments.append(file_id)
        self._touch_item(ticket, stamp)
        return comment_id

    def update_comment(self, ticket_id: str, comment_id: str, payload: dict[str, Any]) -> None:
        with self._lock:
            ticket = self.ticket(ticket_id)
            comment = ticket.comments.get(comment_id)
            if comment is None:
                raise NotFound(f"Comment {comment_id} not found in ticket {ticket_id}")
            text = required_str(payload, "text") if "text" in payload else comment.text
            is_internal = optional_bool(payload, "isInternal")
            comment.text = text
            if is_internal is not None:
                comment.is_internal = is_internal
            comment.modified_ms = self._stamp()
            self._touch_item(ticket, comment.modified_ms)

    # -- tasks --------------------------------------------------------------------------------

    def add_task(self, ticket_id: str, payload: dict[str, Any]) -> str:
        with self._lock:
            ticket = self.ticket(ticket_id)
            task_id = required_str(payload, "id")
            if task_id in ticket.tasks:
                raise Conflict(f"Task {task_id} already exists in ticket {ticket_id}")
            title = required_str(payload, "title")
            stamp = self._stamp()
            task = TaskRecord(task_id=task_id, title=title, description="", status="OPEN",
                              created_ms=stamp, modified_ms=stamp)
            self._apply_task_fields(task, payload, stamp)
            ticket.tasks[task_id] = task
            self._touch_item(ticket, stamp)
            return task_id

    def update_task(self, ticket_id: str, task_id: str, payload: dict[str, Any], *, partial: bool,
                    replace: bool = False) -> None:
        """PUT .../tasks/{id}: id and title are required by the document unless ``partial``.

        ``replace`` (the strict reading; the document is silent): the body is the whole task,
        so a field it leaves out is cleared — description empty, no assignee, no creator, no
        attachments, status OPEN.
        """
        with self._lock:
            ticket = self.ticket(ticket_id)
            task = ticket.tasks.get(task_id)
            if task is None:
                raise NotFound(f"Task {task_id} not found in ticket {ticket_id}")
            body_id = optional_str(payload, "id")
            if body_id is not None and body_id != task_id:
                raise InvalidRequest(f"id {body_id!r} does not match the task in the path ({task_id!r})")
            if not partial or "title" in payload:
                required_str(payload, "title")
            if not partial:
                required_str(payload, "id")
            stamp = self._stamp()
            if replace:
                payload = {"description": "", "assignedToId": None, "createdById": None, "attachments": [],
                           "status": "OPEN", **payload}
            self._apply_task_fields(task, payload, stamp)
            task.modified_ms = stamp
            self._touch_item(ticket, stamp)

    def _apply_task_fields(self, task: TaskRecord, payload: dict[str, Any], stamp: int) -> None:
        status = optional_str(payload, "status")
        if status is None and "completed" in payload:  # deprecated boolean, mapped like casavi
            status = "COMPLETED" if optional_bool(payload, "completed") else "OPEN"
        if status is not None and status not in TASK_STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(TASK_STATUSES)}")
        attachments = self._known_files(file_id_list(payload, "attachments")) if "attachments" in payload else None
        if "title" in payload:
            task.title = required_str(payload, "title")
        if "description" in payload:
            task.description = optional_str(payload, "description") or ""
        # Decision: assignedToId/createdById are not checked against contacts (service
        # providers are often not contacts of the account); the document names no error.
        if "assignedToId" in payload:
            task.assigned_to_id = optional_str(payload, "assignedToId")
        if "createdById" in payload:
            task.created_by_id = optional_str(payload, "createdById")
        if attachments is not None:
            # The reading task_put_adds_files: the files given join the task's (else they replace them).
            task.attachments = (task.attachments + [f for f in attachments if f not in task.attachments]
                                if self.task_put_adds_files else attachments)
        if status is not None and status != task.status:
            task.status = status
            if status == "ACCEPTED":
                task.accepted_ms = stamp
            elif status == "DECLINED":
                task.declined_ms = stamp
            elif status == "COMPLETED":
                task.completed_ms = stamp

    def delete_task(self, ticket_id: str, task_id: str) -> None:
        with self._lock:
            ticket = self.ticket(ticket_id)
            if task_id not in ticket.tasks:
                raise NotFound(f"Task {task_id} not found in ticket {ticket_id}")
            del ticket.tasks[task_id]
            self._touch_item(ticket, self._stamp())

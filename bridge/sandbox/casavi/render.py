"""How casavi sandbox records look on the wire (the casavi manager API v1 ticket model).

Quirks of the document are reproduced on purpose, deterministically, so clients are proven
tolerant:

- ``number`` is a string for most tickets and an integer for every ticket whose
  ``internalId`` is divisible by 4 (the request schema says integer, the response sample and
  the ticket model say string).
- ``reportedAt`` is ``"Invalid Date"`` when the record has no valid report time (changelog
  1.11.5).
- ``closedAt`` is ``null`` while a ticket is not CLOSED.

Attachment URLs (``attachmentDetails[].url``) point at the sandbox's own ``GET /files/{id}``
under ``files_url`` (the API base of the request that asked, so they work on any host/port).
"""

from __future__ import annotations

from typing import Any, Mapping

from bridge.sandbox.casavi.records import (
    APP_LINK_BASE,
    CommentRecord,
    FileRecord,
    TaskRecord,
    TicketRecord,
    format_ms,
)

INVALID_DATE = "Invalid Date"


def ticket_number(ticket: TicketRecord) -> int | str:
    return ticket.number if ticket.internal_id % 4 == 0 else str(ticket.number)


def attachment_details(file_ids: list[int], files: Mapping[int, FileRecord],
                       files_url: str | None) -> list[dict[str, Any]]:
    """``{id, name, contentType, size, url}``; without ``files_url`` (reading
    ``attachment_urls`` off: the document shows no item schema) there is no ``url``."""
    details = []
    for file_id in file_ids:
        record = files.get(file_id)
        if record is None:
            continue
        detail: dict[str, Any] = {
            "id": record.file_id,
            "name": record.name,
            "contentType": record.content_type,
            "size": record.size,
        }
        if files_url is not None:
            detail["url"] = f"{files_url}/{record.file_id}"
        details.append(detail)
    return details


def render_comment(comment: CommentRecord, files: Mapping[int, FileRecord], files_url: str | None) -> dict[str, Any]:
    return {
        "id": comment.comment_id,
        "text": comment.text,
        "isInternal": comment.is_internal,
        "authorId": comment.author_id,
        "authorName": comment.author_name,
        "authorEmail": comment.author_email,
        "createdAt": format_ms(comment.created_ms),
        "lastModified": format_ms(comment.modified_ms),
        "attachments": list(comment.attachments),
        "attachmentDetails": attachment_details(comment.attachments, files, files_url),
    }


def render_task(task: TaskRecord, files: Mapping[int, FileRecord], files_url: str | None) -> dict[str, Any]:
    return {
        "id": task.task_id,
        "title": task.title,
        "description": task.description,
        "completed": task.status == "COMPLETED",  # deprecated field, still returned
        "status": task.status,
        "createdAt": format_ms(task.created_ms),
        "lastModified": format_ms(task.modified_ms),
        "acceptedAt": format_ms(task.accepted_ms),
        "declinedAt": format_ms(task.declined_ms),
        "completedAt": format_ms(task.completed_ms),
        "assignedToId": task.assigned_to_id,
        "createdById": task.created_by_id,
        "attachments": list(task.attachments),
        "attachmentDetails": attachment_details(task.attachments, files, files_url),
        "comments": [],  # task comments are not modelled by the sandbox
    }


def render_ticket(
    ticket: TicketRecord,
    *,
    files: Mapping[int, FileRecord],
    files_url: str | None,
    contacts: Mapping[str, dict[str, Any]],
    staff: Mapping[str, dict[str, Any]],
    detail: bool,
    embed_comments: bool = True,
    custom_as_text: bool = False,
    task_files: bool = False,
) -> dict[str, Any]:
    """The ticket model; ``detail`` adds ``comments`` and ``tasks`` (GET /tickets/{id}); without
    ``embed_comments`` the ``comments`` are ``[]`` as in the document's sample (strict reading);
    with ``task_files`` the ticket's ``attachments`` list its tasks' files too (strict reading)."""
    attachments = list(ticket.attachments)
    if task_files:
        attachments += [f for t in ticket.tasks.values() for f in t.attachments if f not in attachments]
    contact = contacts.get(ticket.contact_id or "") or {}
    manager = staff.get(ticket.assigned_to_id or "") or {}
    body: dict[str, Any] = {
        "id": ticket.ticket_id,
        "internalId": ticket.internal_id,
        "number": ticket_number(ticket),
        "title": ticket.title,
        "description": ticket.description,
        "type": ticket.type,
        "typeGroup": ticket.type_group,
        "propertyId": ticket.property_id,
        "unitId": ticket.unit_id,
        "status": ticket.status,
        "statusText": ticket.status_text,
        "contactId": ticket.contact_id,
        "contactName": full_name(contact) if contact else None,
        "contactTelephone": contact.get("telephone"),
        "contactEmail": contact.get("email"),
        "sharedWithContacts": list(ticket.shared_with_contacts),
        "sharedWithProperty": ticket.shared_with_property,
        "assignedToId": ticket.assigned_to_id,
        "assignedToName": full_name(manager) if manager else None,
        "createdAt": format_ms(ticket.created_ms),
        "lastModified": format_ms(ticket.modified_ms),
        "closedAt": format_ms(ticket.closed_ms) if ticket.status == "CLOSED" else None,
        "reportedAt": format_ms(ticket.reported_ms) if ticket.reported_ms is not None else INVALID_DATE,
        "attachments": attachments,
        "attachmentDetails": attachment_details(attachments, files, files_url),
        "customFields": custom_fields(ticket.custom_fields, as_text=custom_as_text),
        "appLink": f"{APP_LINK_BASE}/tickets/{ticket.internal_id}",
    }
    if detail:
        body["comments"] = ([render_comment(c, files, files_url) for c in ticket.comments.values()]
                            if embed_comments else [])
        body["tasks"] = [render_task(t, files, files_url) for t in ticket.tasks.values()]
    return body


def full_name(person: Mapping[str, Any]) -> str:
    return " ".join(part for part in (person.get("firstName"), person.get("lastName")) if part)


def custom_fields(values: Mapping[str, Any], *, as_text: bool) -> dict[str, Any]:
    """``customFields`` as typed JSON (as entered), or every value as text (the reading
    ``custom_fields_as_text``): numbers as written, ``true``/``false``, lists joined with ", ",
    null as ""."""
    if not as_text:
        return dict(values)
    return {key: _as_text(value) for key, value in values.items()}


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(_as_text(v) for v in value)
    return str(value)

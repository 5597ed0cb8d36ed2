"""Every path of the casavi manager API v1 the bridge uses, in one place.

The API document names sections, not paths; these are the paths from the design's path
table (and exactly what the sandbox serves).  If the real service differs, correct it here.
All paths are relative to the configured base URL (e.g. ``https://api.mycasavi.com/v1``).

Decisions where the document is silent or contradicts itself:

- Paging: ``page`` is 1-based for tickets, ticket comments, properties, contacts and staff.
  ``GET /properties/{id}/units`` is the one list the document calls *zero-based*; we follow
  it (``UNITS_FIRST_PAGE = 0``).  A client that starts a 1-based list at 0 would read page 1
  twice on a server that clamps, so each list starts from its own constant below.
- Lists of tickets, comments, contacts and staff are JSON arrays of at most 25 entries; a
  shorter (or empty) page is the last one.  Properties and units come as paged objects
  ``{count, page, pageCount, rows}``; there ``pageCount`` decides, with the short-page rule as
  a fallback when it is missing.
- Ids are customer-chosen reference ids ("P-00451", "C-0000231") and may contain any
  character; every id is percent-encoded as one path segment.
- Tasks live under ``/tickets/{ticketId}/tasks`` (plural since API 1.7.0).
- ``attachmentDetails[].url`` is what a file download follows; it may be absolute and may
  point elsewhere than the API host (the token is only sent to the API's own origin).
"""

from __future__ import annotations

from urllib.parse import quote

PAGE_SIZE = 25  # at most this many entries per list page (tickets, comments, contacts, staff)
FIRST_PAGE = 1  # 1-based paging: tickets, comments, properties, contacts, staff
UNITS_FIRST_PAGE = 0  # zero-based paging: GET /properties/{id}/units (per the API document)
MAX_FILE_BYTES = 10_000_000  # "Maximum request size is 10 MB": SI megabytes, the safe reading (10 MiB may get 413)

AUTHENTICATE = "/authenticate"  # POST {key, secret} -> {token, expiresAt}
AUTHENTICATE_REFRESH = "/authenticate/refresh"  # POST {apiKey, token} -> {token, expiresAt}
TICKETS = "/tickets"  # GET list (page, date, propertyId, unitId, status...), POST create
FILES = "/files"  # POST binary body, X-Filename, Content-Type -> {id}
PROPERTIES = "/properties"  # GET paged object
CONTACTS = "/contacts"  # GET JSON array
STAFF = "/staff"  # GET JSON array
HOOKS = "/hooks"  # POST {eventName, hookUrl} -> {id}

TOKEN_HEADER = "token"  # the access token goes into this header on every call
FILENAME_HEADER = "X-Filename"


def _seg(value: str | int) -> str:
    return quote(str(value), safe="")


def ticket(ticket_id: str) -> str:
    """GET, PUT (with ``comment`` shorthand), DELETE one ticket."""
    return f"{TICKETS}/{_seg(ticket_id)}"


def ticket_comments(ticket_id: str) -> str:
    """GET (paged array), POST (``id`` optional, ``isInternal``, ``authorId``/``authorEmail``)."""
    return f"{ticket(ticket_id)}/comments"


def ticket_comment(ticket_id: str, comment_id: str) -> str:
    """PUT one comment."""
    return f"{ticket_comments(ticket_id)}/{_seg(comment_id)}"


def ticket_tasks(ticket_id: str) -> str:
    """POST a task (caller-chosen ``id``)."""
    return f"{ticket(ticket_id)}/tasks"


def ticket_task(ticket_id: str, task_id: str) -> str:
    """GET, PUT, DELETE one task."""
    return f"{ticket_tasks(ticket_id)}/{_seg(task_id)}"


def file(file_id: str | int) -> str:
    """GET the file's bytes (what ``attachmentDetails[].url`` points to)."""
    return f"{FILES}/{_seg(file_id)}"


def property_(property_id: str) -> str:
    """GET one property."""
    return f"{PROPERTIES}/{_seg(property_id)}"


def property_units(property_id: str) -> str:
    """GET the units of a property: paged object, zero-based ``page``."""
    return f"{property_(property_id)}/units"


def unit(unit_id: str) -> str:
    """GET one unit."""
    return f"/units/{_seg(unit_id)}"


def contact(contact_id: str) -> str:
    """GET one contact."""
    return f"{CONTACTS}/{_seg(contact_id)}"


def staff_member(staff_id: str) -> str:
    """GET one staff member."""
    return f"{STAFF}/{_seg(staff_id)}"


def hook(hook_id: str | int) -> str:
    """DELETE one REST hook subscription."""
    return f"{HOOKS}/{_seg(hook_id)}"

"""casavi sandbox handlers for tickets, their comments and their tasks.

Ticket list decisions (the document says only "max 25", "page", and for ``date``
"Certain date after which those tickets are received"):

- ``page`` is 1-based; a page past the end is ``[]``; ``page < 1`` or not a number → 400.
- Order: ``lastModified`` ascending, ties broken by ``internalId``.  With ``date`` meaning
  "modified" a ticket changed between two page requests moves to the end of the list (as it
  would in casavi); clients must tolerate seeing it twice or re-reading from a cursor.
- ``date`` is inclusive (**≥**): under ``--date-semantics modified`` (default) it filters on
  ``lastModified``, under ``created`` on ``createdAt``.  Accepted: ISO 8601 date or date-time
  (``Z``, an offset, or none = UTC).  Unparseable → 400.
- ``status`` may repeat (``status=OPEN&status=INPROGRESS``); each must be in the filter's enum
  (OPEN, CLOSED, INPROGRESS, POSTPONED), else 400.  PENDING (in the ticket model, not in the
  filter's enum) is accepted only under the reading ``filter_pending``
  (:mod:`bridge.sandbox.casavi.readings`).  An unknown ``propertyId``/``unitId`` gives ``[]``, not 404.
- The list carries the ticket model without ``comments``/``tasks``; ``GET /tickets/{id}``
  embeds its tasks, and its comments only under the reading ``embed_comments`` (else
  ``"comments": []``, as the document's sample shows).
- Task ``PUT`` replaces the task unless the reading ``task_put_merges``; comment and task
  writes move the ticket's ``lastModified`` only under ``comments_move_modified``.

Creates answer 201 with the created object, updates 200 with the object, deletes 204.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.sandbox.casavi.http import CasaviSandbox, files_url, page_param, read_json
from bridge.sandbox.casavi.records import InvalidRequest, parse_date_ms


def _files(request: Request, sandbox: CasaviSandbox) -> str | None:
    """Where attachment ``url``s point; None under the reading without ``url`` fields."""
    return files_url(request) if sandbox.settings.readings.attachment_urls else None


def _ticket(request: Request, sandbox: CasaviSandbox, ticket_id: str) -> dict:
    return sandbox.store.render_ticket(ticket_id, _files(request, sandbox),
                                       embed_comments=sandbox.settings.readings.embed_comments)


async def list_tickets(request: Request, sandbox: CasaviSandbox) -> Response:
    query = request.query_params
    page = page_param(request)
    since_ms = None
    if query.get("date"):
        try:
            since_ms = parse_date_ms(query["date"])
        except ValueError:
            raise InvalidRequest(f"date {query['date']!r} is not an ISO 8601 date") from None
    statuses = query.getlist("status")
    allowed = sandbox.settings.readings.filter_statuses
    for status in statuses:
        if status not in allowed:
            raise InvalidRequest(f"status must be one of {', '.join(allowed)}")
    rows = sandbox.store.list_tickets(
        _files(request, sandbox), page=page, since_ms=since_ms, date_semantics=sandbox.settings.date_semantics,
        property_id=query.get("propertyId") or None, unit_id=query.get("unitId") or None, statuses=statuses)
    return JSONResponse(rows)


async def create_ticket(request: Request, sandbox: CasaviSandbox) -> Response:
    ticket_id = sandbox.store.create_ticket(await read_json(request))
    return JSONResponse(_ticket(request, sandbox, ticket_id), status_code=201)


async def get_ticket(request: Request, sandbox: CasaviSandbox) -> Response:
    return JSONResponse(_ticket(request, sandbox, request.path_params["ticket_id"]))


async def update_ticket(request: Request, sandbox: CasaviSandbox) -> Response:
    ticket_id = request.path_params["ticket_id"]
    sandbox.store.update_ticket(ticket_id, await read_json(request), partial=sandbox.settings.ticket_put_partial)
    return JSONResponse(_ticket(request, sandbox, ticket_id))


async def delete_ticket(request: Request, sandbox: CasaviSandbox) -> Response:
    sandbox.store.delete_ticket(request.path_params["ticket_id"])
    return Response(status_code=204)


async def list_comments(request: Request, sandbox: CasaviSandbox) -> Response:
    """Comments in the order they were written, internal ones included (the manager API sees all)."""
    page = page_param(request)
    return JSONResponse(sandbox.store.render_comments(request.path_params["ticket_id"], _files(request, sandbox), page))


async def create_comment(request: Request, sandbox: CasaviSandbox) -> Response:
    ticket_id = request.path_params["ticket_id"]
    comment_id = sandbox.store.add_comment(ticket_id, await read_json(request))
    return JSONResponse(sandbox.store.render_comment(ticket_id, comment_id, _files(request, sandbox)), status_code=201)


async def update_comment(request: Request, sandbox: CasaviSandbox) -> Response:
    ticket_id, comment_id = request.path_params["ticket_id"], request.path_params["comment_id"]
    sandbox.store.update_comment(ticket_id, comment_id, await read_json(request))
    return JSONResponse(sandbox.store.render_comment(ticket_id, comment_id, _files(request, sandbox)))


async def create_task(request: Request, sandbox: CasaviSandbox) -> Response:
    ticket_id = request.path_params["ticket_id"]
    task_id = sandbox.store.add_task(ticket_id, await read_json(request))
    return JSONResponse(sandbox.store.render_task(ticket_id, task_id, _files(request, sandbox)), status_code=201)


async def get_task(request: Request, sandbox: CasaviSandbox) -> Response:
    ticket_id, task_id = request.path_params["ticket_id"], request.path_params["task_id"]
    return JSONResponse(sandbox.store.render_task(ticket_id, task_id, _files(request, sandbox)))


async def update_task(request: Request, sandbox: CasaviSandbox) -> Response:
    ticket_id, task_id = request.path_params["ticket_id"], request.path_params["task_id"]
    sandbox.store.update_task(ticket_id, task_id, await read_json(request),
                              partial=sandbox.settings.ticket_put_partial,
                              replace=not sandbox.settings.readings.task_put_merges)
    return JSONResponse(sandbox.store.render_task(ticket_id, task_id, _files(request, sandbox)))


async def delete_task(request: Request, sandbox: CasaviSandbox) -> Response:
    sandbox.store.delete_task(request.path_params["ticket_id"], request.path_params["task_id"])
    return Response(status_code=204)

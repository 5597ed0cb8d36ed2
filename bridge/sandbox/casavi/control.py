"""Sandbox-only control endpoints of the casavi sandbox: act "as a tenant" or "in the casavi UI".

Served under ``/_sandbox`` with no auth; never faulted and not counted.  They change the same
store the API serves, and bump ``lastModified`` exactly like API writes do.

==========================================  ====================================================
POST   /_sandbox/tickets                    new ticket; ``id`` (next ``T-nnnnn``) and
                                            ``propertyId`` (first property) may be left out;
                                            ``customFields`` as in the web app
GET    /_sandbox/tickets/{id}               the ticket as stored: comments embedded and
                                            attachment urls given under every reading
PUT    /_sandbox/tickets/{id}               partial update, e.g. ``{"status": "CLOSED"}``; as in the
                                            web app also ``customFields`` (replaced whole)
DELETE /_sandbox/tickets/{id}               delete
POST   /_sandbox/tickets/{id}/comments      a tenant's comment (author: ``contactId`` or the
                                            ticket's contact; ``authorId``/``authorEmail`` to
                                            write as a manager instead)
PUT    /_sandbox/tickets/{id}/comments/{cid} edit a comment's ``text`` (as its author would)
POST   /_sandbox/tickets/{id}/tasks         new task
PUT    /_sandbox/tickets/{id}/tasks/{tid}   partial task update, e.g. ``{"status": "COMPLETED"}``
GET    /_sandbox/tickets/{id}/notices       what casavi sent the tenant: ``{"ratingRequests": n}``
GET    /_sandbox/info                       credentials, knobs and counts
==========================================  ====================================================

``GET /_sandbox/stats``, ``POST /_sandbox/stats/reset`` and ``GET|POST /_sandbox/fault`` are
served by :class:`bridge.sandbox.faults.FaultMiddleware`; besides the fault knobs, ``/fault``
takes this app's ``token_ttl_seconds``, ``date_semantics``, ``ticket_put_partial``,
``profile`` (``strict``/``lenient``, resets every reading), each reading by name
(:mod:`bridge.sandbox.casavi.readings`) and ``revoke_tokens: true`` (every issued token becomes invalid, as after a key rotation).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.sandbox.casavi.http import CasaviSandbox, files_url, read_json


def _sandbox(request: Request) -> CasaviSandbox:
    return request.app.state.casavi


async def create_ticket(request: Request) -> Response:
    sandbox = _sandbox(request)
    ticket_id = sandbox.store.create_ticket(await read_json(request), generate_id=True)
    return JSONResponse(sandbox.store.render_ticket(ticket_id, files_url(request)), status_code=201)


async def get_ticket(request: Request) -> Response:
    return JSONResponse(_sandbox(request).store.render_ticket(request.path_params["ticket_id"], files_url(request)))


async def update_ticket(request: Request) -> Response:
    sandbox, ticket_id = _sandbox(request), request.path_params["ticket_id"]
    sandbox.store.update_ticket(ticket_id, await read_json(request), partial=True, ui=True)
    return JSONResponse(sandbox.store.render_ticket(ticket_id, files_url(request)))


async def ticket_notices(request: Request) -> Response:
    store = _sandbox(request).store
    with store.lock:
        ticket = store.ticket(request.path_params["ticket_id"])
        return JSONResponse({"ratingRequests": ticket.rating_requests})


async def delete_ticket(request: Request) -> Response:
    _sandbox(request).store.delete_ticket(request.path_params["ticket_id"])
    return Response(status_code=204)


async def create_comment(request: Request) -> Response:
    sandbox, ticket_id = _sandbox(request), request.path_params["ticket_id"]
    body = await read_json(request)
    as_manager = "authorId" in body or "authorEmail" in body
    comment_id = sandbox.store.add_comment(ticket_id, body, as_contact=not as_manager)
    return JSONResponse(sandbox.store.render_comment(ticket_id, comment_id, files_url(request)), status_code=201)


async def update_comment(request: Request) -> Response:
    sandbox, ticket_id = _sandbox(request), request.path_params["ticket_id"]
    comment_id = request.path_params["comment_id"]
    sandbox.store.update_comment(ticket_id, comment_id, await read_json(request))
    return JSONResponse(sandbox.store.render_comment(ticket_id, comment_id, files_url(request)))


async def create_task(request: Request) -> Response:
    sandbox, ticket_id = _sandbox(request), request.path_params["ticket_id"]
    task_id = sandbox.store.add_task(ticket_id, await read_json(request))
    return JSONResponse(sandbox.store.render_task(ticket_id, task_id, files_url(request)), status_code=201)


async def update_task(request: Request) -> Response:
    sandbox = _sandbox(request)
    ticket_id, task_id = request.path_params["ticket_id"], request.path_params["task_id"]
    sandbox.store.update_task(ticket_id, task_id, await read_json(request), partial=True)
    return JSONResponse(sandbox.store.render_task(ticket_id, task_id, files_url(request)))


async def info(request: Request) -> Response:
    sandbox = _sandbox(request)
    store = sandbox.store
    with store.lock:
        counts = {"tickets": len(store.tickets), "properties": len(store.properties), "units": len(store.units),
                  "contacts": len(store.contacts), "staff": len(store.staff), "files": len(store.files),
                  "hooks": len(store.hooks)}
    return JSONResponse({"casavi_url": files_url(request)[: -len("/files")], "casavi_key": sandbox.settings.key,
                         "casavi_secret": sandbox.settings.secret, "knobs": sandbox.apply_knobs({}),
                         "counts": counts})


def control_routes() -> list[Route]:
    return [
        Route("/tickets", create_ticket, methods=["POST"]),
        Route("/tickets/{ticket_id:segment}", get_ticket, methods=["GET"]),
        Route("/tickets/{ticket_id:segment}", update_ticket, methods=["PUT"]),
        Route("/tickets/{ticket_id:segment}", delete_ticket, methods=["DELETE"]),
        Route("/tickets/{ticket_id:segment}/notices", ticket_notices, methods=["GET"]),
        Route("/tickets/{ticket_id:segment}/comments", create_comment, methods=["POST"]),
        Route("/tickets/{ticket_id:segment}/comments/{comment_id:segment}", update_comment, methods=["PUT"]),
        Route("/tickets/{ticket_id:segment}/tasks", create_task, methods=["POST"]),
        Route("/tickets/{ticket_id:segment}/tasks/{task_id:segment}", update_task, methods=["PUT"]),
        Route("/info", info, methods=["GET"]),
    ]

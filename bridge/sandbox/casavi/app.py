"""The casavi sandbox: an ASGI app speaking the casavi manager API v1 (DESIGN.md path table).

Served under :data:`BASE_PATH` (``http://127.0.0.1:PORT/v1`` is the ``casavi_url``).  Paths:

=====================================  ============================================================
POST /authenticate                     ``{key, secret}`` (or deprecated ``{apiKey, email, password}``)
                                       → ``{token, expiresAt}``; wrong pair → 401
POST /authenticate/refresh             ``{apiKey, token}`` → new token; the old one must still be valid
                                       (404 unless the reading ``refresh_endpoint``)
GET, POST /tickets                     list (array ≤ 25; page, date, propertyId, unitId, status*) / create
GET, PUT, DELETE /tickets/{id}         embeds tasks, attachmentDetails (comments only under the
                                       reading ``embed_comments``) / update / delete
GET, POST /tickets/{id}/comments       list (array ≤ 25, page) / create
PUT /tickets/{id}/comments/{cid}       update
POST /tickets/{id}/tasks               create
GET, PUT, DELETE /tickets/{id}/tasks/{tid}
POST /files, GET /files/{fileId}       upload (binary, X-Filename, Content-Type, ≤ 10 MB: 10,000,000
                                       bytes, or 10 MiB under the lenient reading) / download
GET /properties[/{id}[/units]]         paged objects; ``/units`` pages are zero-based
GET /units/{id}, /contacts[/{id}], /staff[/{id}]
POST /hooks, DELETE /hooks/{hookId}    201 ``{id}`` + Location / 204
=====================================  ============================================================

Where the document is silent the app answers as its :class:`~bridge.sandbox.casavi.readings.Readings`
say (profile ``strict`` by default: the readings that break a naive client).
Every call but the two ``/authenticate`` ones needs a valid, unexpired ``token`` header (401).
Errors are JSON: ``{"statusCode", "error", "message"}`` (the document shows no error body;
this is the shape of casavi's node backend).  Decisions on the document's ambiguities are
written next to the code that makes them: ticket list in :mod:`bridge.sandbox.casavi.routes_tickets`,
store rules in :mod:`bridge.sandbox.casavi.store`, wire quirks in :mod:`bridge.sandbox.casavi.render`.
Control endpoints for tests and the demo (no auth) are in :mod:`bridge.sandbox.casavi.control`.
"""

from __future__ import annotations

import random
import re
import uuid
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from bridge.sandbox.casavi import routes_resources as r
from bridge.sandbox.casavi import routes_tickets as t
from bridge.sandbox.casavi.control import control_routes
from bridge.sandbox.casavi.http import (
    BASE_PATH, DATE_SEMANTICS, CasaviSandbox, CasaviSettings, Handler, authed, error_response,
)
from bridge.sandbox.casavi.readings import Readings
from bridge.sandbox.casavi.records import StoreError
from bridge.sandbox.casavi.store import CasaviStore
from bridge.sandbox.faults import FaultMiddleware, FaultSettings, fault_settings_from
from bridge.sandbox.casavi.generator import generate
from bridge.sandbox.options import SandboxOptions

__all__ = ["BASE_PATH", "CasaviAsgi", "CasaviSandbox", "CasaviSettings", "build_casavi_app", "create_casavi_app",
           "credentials_for"]

async def _store_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoreError)
    return error_response(exc.status, exc.error, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, HTTPStatus(exc.status_code).phrase, exc.detail or "", headers=exc.headers)


def api_routes() -> list[Route]:
    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(path, authed(handler), methods=[method])

    return [
        Route("/authenticate", r.authenticate, methods=["POST"]),
        Route("/authenticate/refresh", r.refresh, methods=["POST"]),
        route("/tickets", t.list_tickets, "GET"),
        route("/tickets", t.create_ticket, "POST"),
        route("/tickets/{ticket_id:segment}", t.get_ticket, "GET"),
        route("/tickets/{ticket_id:segment}", t.update_ticket, "PUT"),
        route("/tickets/{ticket_id:segment}", t.delete_ticket, "DELETE"),
        route("/tickets/{ticket_id:segment}/comments", t.list_comments, "GET"),
        route("/tickets/{ticket_id:segment}/comments", t.create_comment, "POST"),
        route("/tickets/{ticket_id:segment}/comments/{comment_id:segment}", t.update_comment, "PUT"),
        route("/tickets/{ticket_id:segment}/tasks", t.create_task, "POST"),
        route("/tickets/{ticket_id:segment}/tasks/{task_id:segment}", t.get_task, "GET"),
        route("/tickets/{ticket_id:segment}/tasks/{task_id:segment}", t.update_task, "PUT"),
        route("/tickets/{ticket_id:segment}/tasks/{task_id:segment}", t.delete_task, "DELETE"),
        route("/files", r.upload_file, "POST"),
        route("/files/{file_id}", r.download_file, "GET"),
        route("/properties", r.list_properties, "GET"),
        route("/properties/{property_id:segment}", r.get_property, "GET"),
        route("/properties/{property_id:segment}/units", r.property_units, "GET"),
        route("/units/{unit_id:segment}", r.get_unit, "GET"),
        route("/contacts", r.list_contacts, "GET"),
        route("/contacts/{contact_id:segment}", r.get_contact, "GET"),
        route("/staff", r.list_staff, "GET"),
        route("/staff/{staff_id:segment}", r.get_staff, "GET"),
        route("/hooks", r.create_hook, "POST"),
        route("/hooks/{hook_id}", r.delete_hook, "DELETE"),
    ]


class CasaviAsgi:
    """The outermost casavi app: keeps ``%2F`` inside ids (casavi ids may contain any
    character and clients percent-encode each id as one segment; ASGI servers decode the path,
    so without this an id "A/1" would split into two segments)."""

    handles_sandbox_faults = True

    def __init__(self, app: FaultMiddleware, sandbox: CasaviSandbox):
        self.app = app
        self.faults = app
        self.casavi = sandbox  # in-process access for tests and the demo

    def release_holds(self) -> None:
        self.faults.release_holds()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw = scope.get("raw_path")
        if scope["type"] == "http" and raw and b"%2f" in raw.lower():
            text = raw.decode("latin-1").split("?", 1)[0]
            scope = dict(scope, path=unquote(re.sub("%2[fF]", "%EE%80%80", text)))
        await self.app(scope, receive, send)


def build_casavi_app(sandbox: CasaviSandbox, *, faults: FaultSettings | None = None, seed: int = 0) -> CasaviAsgi:
    """The casavi API under ``/v1`` plus ``/_sandbox`` control, wrapped in :class:`FaultMiddleware`."""
    app = Starlette(
        routes=[Mount("/_sandbox", routes=control_routes()),
                Mount(BASE_PATH + "/_sandbox", routes=control_routes()),  # also below the API base
                Mount(BASE_PATH, routes=api_routes())],
        exception_handlers={StoreError: _store_error, HTTPException: _http_error},
    )
    app.state.casavi = sandbox
    wrapped = FaultMiddleware(app, faults, seed=seed, strip_prefix=BASE_PATH, extra_knobs=sandbox.apply_knobs)
    return CasaviAsgi(wrapped, sandbox)


def credentials_for(seed: int) -> tuple[str, str]:
    """The sandbox's API key and secret: uuid-shaped, derived from the seed (stable across runs)."""
    rng = random.Random(f"casavi-credentials-{seed}")
    key = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    secret = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return key, secret


def create_casavi_app(options: SandboxOptions | dict[str, Any] | None = None) -> tuple[CasaviAsgi, dict[str, Any]]:
    """Registry factory: generated data for ``options.tickets``/``seed``/``profile``; info for the ready file."""
    opts = SandboxOptions.build(options)
    if opts.date_semantics not in DATE_SEMANTICS:
        raise ValueError(f"date_semantics must be one of {DATE_SEMANTICS}")
    key, secret = credentials_for(opts.seed)
    readings = Readings.profile(opts.casavi_profile, **opts.casavi_readings)
    settings = CasaviSettings(key=opts.casavi_key or key, secret=opts.casavi_secret or secret,
                              token_ttl_seconds=opts.token_ttl_seconds, date_semantics=opts.date_semantics,
                              ticket_put_partial=opts.ticket_put_partial, profile=opts.casavi_profile,
                              readings=readings)
    sandbox = CasaviSandbox(CasaviStore(generate(tickets=opts.tickets, seed=opts.seed, profile=opts.profile)), settings)
    faults = fault_settings_from(opts)
    app = build_casavi_app(sandbox, faults=faults, seed=opts.seed)
    info = {"casavi_key": settings.key, "casavi_secret": settings.secret}
    if opts.casavi_port:
        info["casavi_url"] = f"http://{opts.host}:{opts.casavi_port}{BASE_PATH}"
    return app, info

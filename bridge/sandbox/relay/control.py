"""Control endpoints of the relay sandbox: act as the property manager who sends the orders.

Served under ``/_sandbox`` (and ``/v1/_sandbox``) with no auth; never faulted, not counted.
They change the same store the API serves.

==========================================  ====================================================
POST  /_sandbox/orders                      a new order ``{title, status?, dueDate?, type?,
                                            propertyId?, fields?, contactPersons?, attachments?}``
GET   /_sandbox/orders/{id}                 the order as the API shows it, plus each comment's
                                            ``_files`` (name, itemType, size, sha256)
PATCH /_sandbox/orders/{id}                 the manager changes it: ``status`` (with optional
                                            ``comment`` text and ``author``), ``title``,
                                            ``dueDate``, ``followUpDate``, ``type``
POST  /_sandbox/orders/{id}/comments        a manager's comment ``{text, author?}``
GET   /_sandbox/info                        API key, knobs and counts
==========================================  ====================================================

``GET /_sandbox/stats``, ``POST /_sandbox/stats/reset`` and ``GET|POST /_sandbox/fault`` are
served by :class:`bridge.sandbox.faults.FaultMiddleware`; besides the fault knobs, ``/fault``
takes this app's ``api_key`` (a key rotation: the old one is refused from then on),
``max_upload_bytes``, ``comments_touch_order`` and ``null_clears_due_date``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.sandbox.relay.http import RelaySandbox, error_response, read_json
from bridge.sandbox.relay.store import RelayStoreError

MANAGER = "Hausverwaltung (sandbox)"


def _sandbox(request: Request) -> RelaySandbox:
    return request.app.state.relay


def _guarded(handler):
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, _sandbox(request))
        except RelayStoreError as exc:
            return error_response(exc.status, exc.message)

    return endpoint


async def create_order(request: Request, sandbox: RelaySandbox) -> Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise RelayStoreError(400, "body must be a JSON object")
    return JSONResponse(sandbox.store.create_order(body), status_code=201)


async def get_order(request: Request, sandbox: RelaySandbox) -> Response:
    return JSONResponse(sandbox.store.get_order(request.path_params["order_id"], with_files=True))


async def update_order(request: Request, sandbox: RelaySandbox) -> Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise RelayStoreError(400, "body must be a JSON object")
    order_id = request.path_params["order_id"]
    sandbox.store.patch_order(order_id, body, author=str(body.get("author") or MANAGER),
                              comment=str(body.get("comment") or ""), manager=True)
    return JSONResponse(sandbox.store.get_order(order_id, with_files=True))


async def create_comment(request: Request, sandbox: RelaySandbox) -> Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise RelayStoreError(400, "body must be a JSON object")
    order_id = request.path_params["order_id"]
    comment_id = sandbox.store.add_comment(order_id, body.get("text"), body.get("author") or MANAGER)
    comment = next(c for c in sandbox.store.list_comments(order_id) if c["id"] == comment_id)
    return JSONResponse(comment, status_code=201)


async def info(request: Request, sandbox: RelaySandbox) -> Response:
    store = sandbox.store
    return JSONResponse({
        "relay_key": sandbox.api_key,
        "max_upload_bytes": sandbox.max_upload_bytes,
        "comments_touch_order": store.comments_touch_order,
        "null_clears_due_date": store.null_clears_due_date,
        "orders": len(store.orders),
        "customers": len(store.customers),
        "properties": len(store.properties),
        "units": len(store.units),
    })


def control_routes() -> list[Route]:
    return [
        Route("/orders", _guarded(create_order), methods=["POST"]),
        Route("/orders/{order_id}", _guarded(get_order), methods=["GET"]),
        Route("/orders/{order_id}", _guarded(update_order), methods=["PATCH"]),
        Route("/orders/{order_id}/comments", _guarded(create_comment), methods=["POST"]),
        Route("/info", _guarded(info), methods=["GET"]),
    ]

"""The relay sandbox: an ASGI app speaking casavi's relay API (path table: bridge/relay/paths.py).

Served under :data:`BASE_PATH` (``http://127.0.0.1:PORT/v1`` is the ``relay_url``).  Every API
call needs ``Authorization: Bearer <api-key>`` (missing or wrong → 401).  Readings of what
the document leaves open, the harder one by default: ``GET /orders`` pages by
``limit``/``offset`` (``page_size`` 50; 0 = one unpaged list) and ``CreateOrderComment``
takes JSON (``comment_encoding``; or multipart), the other encoding answered with 415.  What it refuses as
relay would: an invalid status or a missing required field → 400, an unknown id → 404, a
comment with more than 10 files or more than 100 MB of them → 413.  Errors are JSON
``{"statusCode", "error", "message"}``.  Store rules: :mod:`bridge.sandbox.relay.store`; data:
:mod:`bridge.sandbox.relay.generator`; the property manager's side (``/_sandbox/...``):
:mod:`bridge.sandbox.relay.control`.  Fault knobs, ``/_sandbox/stats`` and request counting
come from :class:`bridge.sandbox.faults.FaultMiddleware`, like every sandbox.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import uuid
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from bridge.sandbox.faults import FaultMiddleware, FaultSettings, fault_settings_from
from bridge.sandbox.options import SandboxOptions
from bridge.sandbox.relay.control import control_routes
from bridge.sandbox.relay.generator import generate
from bridge.sandbox.relay.http import (
    COMMENT_ENCODINGS,
    Handler, RelaySandbox, authed, error_response, order_page, page_params, read_json,
)
from bridge.sandbox.relay.store import MAX_COMMENT_FILES, RelayStore, RelayStoreError

BASE_PATH = "/v1"
MULTIPART_SLACK_BYTES = 1024 * 1024  # form fields and part headers on top of the files
CHUNK_BYTES = 64 * 1024

# -- orders ----------------------------------------------------------------------------------


async def list_orders(request: Request, sandbox: RelaySandbox) -> Response:
    """Ordered by id; ``limit``/``offset`` pages (``limit`` capped at the page size) unless unpaged."""
    orders = sandbox.store.list_orders()
    window = order_page(request, sandbox.page_size)
    if window is not None:
        limit, offset = window
        orders = orders[offset:offset + limit]
    return JSONResponse(orders)


async def get_order(request: Request, sandbox: RelaySandbox) -> Response:
    return JSONResponse(sandbox.store.get_order(request.path_params["order_id"]))


async def patch_order(request: Request, sandbox: RelaySandbox) -> Response:
    return JSONResponse(sandbox.store.patch_order(request.path_params["order_id"], await read_json(request)))


async def list_comments(request: Request, sandbox: RelaySandbox) -> Response:
    return JSONResponse(sandbox.store.list_comments(request.path_params["order_id"]))


async def create_comment(request: Request, sandbox: RelaySandbox) -> Response:
    """``text``, ``authorName``, ``files`` (≤ 10, ≤ 100 MB together), in the encoding of the
    sandbox's reading: multipart form, or JSON with ``files`` as ``[{name, contentType,
    content (base64)}]``.  The other encoding is refused with 415 before anything is stored."""
    order_id = request.path_params["order_id"]
    sandbox.store.get_order(order_id)  # 404 before reading a large body
    content_type = request.headers.get("content-type", "")
    if sandbox.comment_encoding == "json":
        if not content_type.startswith("application/json"):
            raise RelayStoreError(415, "expected application/json")
        return await _create_comment_json(request, sandbox, order_id)
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise RelayStoreError(415, "expected multipart/form-data")
    limit = sandbox.max_upload_bytes
    body, too_large = await _read_limited(request, limit + MULTIPART_SLACK_BYTES)
    if too_large:
        raise RelayStoreError(413, f"files exceed {limit} bytes")
    form = await Request(request.scope, _replay(body)).form(max_files=1000, max_fields=1000)
    parts = [v for k, v in form.multi_items() if k in ("files", "files[]") and isinstance(v, UploadFile)]
    if len(parts) > MAX_COMMENT_FILES:
        raise RelayStoreError(413, f"at most {MAX_COMMENT_FILES} files per comment")
    files = []
    for part in parts:
        data = await part.read()
        files.append((part.filename or "file", part.content_type or "application/octet-stream", len(data),
                      hashlib.sha256(data).hexdigest()))
    if sum(f[2] for f in files) > limit:
        raise RelayStoreError(413, f"files exceed {limit} bytes")
    comment_id = sandbox.store.add_comment(order_id, form.get("text"), form.get("authorName"), files)
    return JSONResponse({"id": comment_id}, status_code=201)


async def _create_comment_json(request: Request, sandbox: RelaySandbox, order_id: str) -> Response:
    limit = sandbox.max_upload_bytes
    body, too_large = await _read_limited(request, limit * 4 // 3 + MULTIPART_SLACK_BYTES)  # base64 grows by 4/3
    if too_large:
        raise RelayStoreError(413, f"files exceed {limit} bytes")
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        raise RelayStoreError(400, "body is not JSON") from None
    if not isinstance(payload, dict):
        raise RelayStoreError(400, "body must be a JSON object")
    raw_files = payload.get("files") or []
    if not isinstance(raw_files, list):
        raise RelayStoreError(400, "files must be an array")
    if len(raw_files) > MAX_COMMENT_FILES:
        raise RelayStoreError(413, f"at most {MAX_COMMENT_FILES} files per comment")
    files = []
    for entry in raw_files:
        if not isinstance(entry, dict) or not isinstance(entry.get("content"), str):
            raise RelayStoreError(400, "each file must be {name, contentType, content (base64)}")
        try:
            data = base64.b64decode(entry["content"], validate=True)
        except (binascii.Error, ValueError):
            raise RelayStoreError(400, "file content must be base64") from None
        files.append((str(entry.get("name") or "file"), str(entry.get("contentType") or "application/octet-stream"),
                      len(data), hashlib.sha256(data).hexdigest()))
    if sum(f[2] for f in files) > limit:
        raise RelayStoreError(413, f"files exceed {limit} bytes")
    comment_id = sandbox.store.add_comment(order_id, payload.get("text"), payload.get("authorName"), files)
    return JSONResponse({"id": comment_id}, status_code=201)


async def _read_limited(request: Request, limit: int) -> tuple[bytes, bool]:
    """The body, or (b"", True) once it passes ``limit`` (the rest is read and dropped)."""
    declared = request.headers.get("content-length", "")
    chunks: list[bytes] = []
    size = 0
    too_large = declared.isdigit() and int(declared) > limit
    async for chunk in request.stream():
        size += len(chunk)
        too_large = too_large or size > limit
        if not too_large:
            chunks.append(chunk)
    return (b"" if too_large else b"".join(chunks)), too_large


def _replay(body: bytes):
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def create_order_field(request: Request, sandbox: RelaySandbox) -> Response:
    return JSONResponse(sandbox.store.add_order_field(await read_json(request)), status_code=201)


async def create_contact_person(request: Request, sandbox: RelaySandbox) -> Response:
    return JSONResponse(sandbox.store.add_contact_person(await read_json(request)), status_code=201)


# -- appointments, customers, properties, addresses, units, documents --------------------------


async def create_appointment(request: Request, sandbox: RelaySandbox) -> Response:
    return JSONResponse({"id": sandbox.store.create_appointment(await read_json(request))}, status_code=201)


async def update_appointment(request: Request, sandbox: RelaySandbox) -> Response:
    appointment_id = request.path_params["appointment_id"]
    return JSONResponse({"id": sandbox.store.update_appointment(appointment_id, await read_json(request))})


async def list_customers(request: Request, sandbox: RelaySandbox) -> Response:
    return JSONResponse({"customers": sandbox.store.list_customers()})


async def create_customer(request: Request, sandbox: RelaySandbox) -> Response:
    return JSONResponse(sandbox.store.create_customer(await read_json(request)), status_code=201)


async def list_properties(request: Request, sandbox: RelaySandbox) -> Response:
    limit, offset = page_params(request)
    return JSONResponse({"properties": sandbox.store.list_properties(limit, offset)})


async def create_properties(request: Request, sandbox: RelaySandbox) -> Response:
    return JSONResponse({"properties": sandbox.store.upsert_properties(await read_json(request))}, status_code=201)


async def create_address(request: Request, sandbox: RelaySandbox) -> Response:
    return JSONResponse(sandbox.store.create_address(await read_json(request)), status_code=201)


async def list_units(request: Request, sandbox: RelaySandbox) -> Response:
    limit, offset = page_params(request)
    return JSONResponse({"units": sandbox.store.list_units(limit, offset, msc_only=False)})


async def list_units_msc(request: Request, sandbox: RelaySandbox) -> Response:
    limit, offset = page_params(request)
    return JSONResponse({"units": sandbox.store.list_units(limit, offset, msc_only=True)})


async def create_document(request: Request, sandbox: RelaySandbox) -> Response:
    return JSONResponse({"id": sandbox.store.create_document(await read_json(request))}, status_code=201)


async def add_document_attachment(request: Request, sandbox: RelaySandbox) -> Response:
    sandbox.store.add_document_attachment(request.path_params["document_id"], await read_json(request))
    return Response(status_code=201)


def api_routes() -> list[Route]:
    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(path, authed(handler), methods=[method])

    return [
        route("/orders", list_orders, "GET"),
        route("/orders/{order_id}", get_order, "GET"),
        route("/orders/{order_id}", patch_order, "PATCH"),
        route("/orders/{order_id}/comments", list_comments, "GET"),
        route("/orders/{order_id}/comments", create_comment, "POST"),
        route("/order-fields", create_order_field, "POST"),
        route("/contact-persons", create_contact_person, "POST"),
        route("/appointments", create_appointment, "POST"),
        route("/appointments/{appointment_id}", update_appointment, "PATCH"),
        route("/customers", list_customers, "GET"),
        route("/customers", create_customer, "POST"),
        route("/properties", list_properties, "GET"),
        route("/properties", create_properties, "POST"),
        route("/addresses", create_address, "POST"),
        route("/units", list_units, "GET"),
        route("/units/msc", list_units_msc, "GET"),
        route("/documents", create_document, "POST"),
        route("/documents/{document_id}/attachments", add_document_attachment, "POST"),
    ]


async def _not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    return error_response(status, getattr(exc, "detail", "") or HTTPStatus(status).phrase)


def build_relay_app(sandbox: RelaySandbox, *, faults: FaultSettings | None = None, seed: int = 0) -> FaultMiddleware:
    """The relay API under ``/v1`` plus ``/_sandbox`` control, wrapped in :class:`FaultMiddleware`."""
    app = Starlette(
        routes=[Mount("/_sandbox", routes=control_routes()),
                Mount(BASE_PATH + "/_sandbox", routes=control_routes()),
                Mount(BASE_PATH, routes=api_routes())],
        exception_handlers={RelayStoreError: _store_error, 404: _not_found, 405: _not_found},
    )
    app.state.relay = sandbox
    wrapped = FaultMiddleware(app, faults, seed=seed, strip_prefix=BASE_PATH, extra_knobs=sandbox.apply_knobs)
    wrapped.relay = sandbox  # type: ignore[attr-defined]  # in-process access for tests and the demo
    return wrapped


async def _store_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RelayStoreError)
    return error_response(exc.status, exc.message)


def api_key_for(seed: int) -> str:
    """The sandbox's API key: uuid-shaped, derived from the seed (stable across runs)."""
    rng = random.Random(f"relay-key-{seed}")
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def create_relay_app(options: SandboxOptions | dict[str, Any] | None = None) -> tuple[FaultMiddleware, dict[str, Any]]:
    """Registry factory: ``options.tickets`` orders from ``options.seed``; info for the ready file."""
    opts = SandboxOptions.build(options)
    if opts.relay_comment_encoding not in COMMENT_ENCODINGS:
        raise ValueError(f"relay_comment_encoding must be one of {', '.join(COMMENT_ENCODINGS)}")
    if opts.relay_page_size < 0:
        raise ValueError("relay_page_size must be 0 (unpaged) or more")
    sandbox = RelaySandbox(RelayStore(generate(orders=opts.tickets, seed=opts.seed)),
                           api_key=opts.get("relay_key") or api_key_for(opts.seed),
                           page_size=opts.relay_page_size, comment_encoding=opts.relay_comment_encoding)
    app = build_relay_app(sandbox, faults=fault_settings_from(opts), seed=opts.seed + 17)
    info: dict[str, Any] = {"relay_key": sandbox.api_key}
    if opts.relay_port:
        info["relay_url"] = f"http://{opts.host}:{opts.relay_port}{BASE_PATH}"
    return app, info

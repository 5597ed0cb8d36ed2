"""casavi sandbox handlers for authentication, master data (properties, units, contacts,
staff), files and REST hooks.  Paging is read by :func:`bridge.sandbox.casavi.http.page_param`.
"""

from __future__ import annotations

import math
import secrets
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.sandbox.casavi.http import (
    CasaviSandbox, api_url, error_response, page_param, paged, read_json,
)
from bridge.sandbox.casavi.records import PAGE_SIZE, InvalidRequest, NotFound, TooLarge


# -- authentication ---------------------------------------------------------------------------


async def authenticate(request: Request) -> Response:
    sandbox: CasaviSandbox = request.app.state.casavi
    body = await read_json(request)
    key = body.get("key", body.get("apiKey"))  # deprecated {apiKey, email, password} is mapped
    secret = body.get("secret", body.get("password"))
    if not isinstance(key, str) or not key or not isinstance(secret, str):
        raise InvalidRequest("key and secret are required")
    if not (secrets.compare_digest(key.encode(), sandbox.settings.key.encode())
            and secrets.compare_digest(secret.encode(), sandbox.settings.secret.encode())):
        return error_response(401, "Unauthorized", "invalid key or secret")
    return JSONResponse(sandbox.issue_token())


async def refresh(request: Request) -> Response:
    """The document names "Refresh access token" but no path; without the reading
    ``refresh_endpoint`` this path does not exist (404), as casavi may well answer."""
    sandbox: CasaviSandbox = request.app.state.casavi
    if not sandbox.settings.readings.refresh_endpoint:
        return error_response(404, "Not Found", "Not Found")
    body = await read_json(request)
    api_key, token = body.get("apiKey"), body.get("token")
    if not isinstance(api_key, str) or not isinstance(token, str) or not api_key or not token:
        raise InvalidRequest("apiKey and token are required")
    if api_key != sandbox.settings.key or not sandbox.token_valid(token):
        return error_response(401, "Unauthorized", "unknown apiKey or invalid, expired token")
    return JSONResponse(sandbox.issue_token())


# -- master data ------------------------------------------------------------------------------


async def list_properties(request: Request, sandbox: CasaviSandbox) -> Response:
    page = page_param(request)
    with sandbox.store.lock:
        rows = list(sandbox.store.properties.values())
    return JSONResponse({"count": len(rows), "page": page, "pageCount": math.ceil(len(rows) / PAGE_SIZE),
                         "rows": paged(rows, page)})


async def get_property(request: Request, sandbox: CasaviSandbox) -> Response:
    return JSONResponse(sandbox.store.property(request.path_params["property_id"]))


async def property_units(request: Request, sandbox: CasaviSandbox) -> Response:
    """Zero-based ``page`` here, as the document says; ``includeInactiveContracts`` is accepted."""
    page = page_param(request, zero_based=True)
    units = sandbox.store.units_of(request.path_params["property_id"])
    return JSONResponse({"rows": paged(units, page + 1), "pageCount": math.ceil(len(units) / PAGE_SIZE),
                         "page": page})


async def get_unit(request: Request, sandbox: CasaviSandbox) -> Response:
    return JSONResponse(sandbox.store.unit(request.path_params["unit_id"]))


async def list_contacts(request: Request, sandbox: CasaviSandbox) -> Response:
    page = page_param(request)
    with sandbox.store.lock:
        rows = list(sandbox.store.contacts.values())
    return JSONResponse(paged(rows, page))


async def get_contact(request: Request, sandbox: CasaviSandbox) -> Response:
    return JSONResponse(sandbox.store.contact(request.path_params["contact_id"]))


async def list_staff(request: Request, sandbox: CasaviSandbox) -> Response:
    page = page_param(request)
    with sandbox.store.lock:
        rows = list(sandbox.store.staff.values())
    return JSONResponse(paged(rows, page))


async def get_staff(request: Request, sandbox: CasaviSandbox) -> Response:
    return JSONResponse(sandbox.store.staff_member(request.path_params["staff_id"]))


# -- files and hooks --------------------------------------------------------------------------


def _header_filename(raw: str) -> str:
    """X-Filename as sent: percent-encoded, or raw UTF-8 bytes (which arrive latin-1 decoded)."""
    try:
        raw = raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return unquote(raw)


async def upload_file(request: Request, sandbox: CasaviSandbox) -> Response:
    """``Content-Length`` over 10 MB is refused before reading; the body is counted as well
    (chunked uploads), and refused with 413 as soon as it passes the limit."""
    raw_name = request.headers.get("x-filename")
    if not raw_name:
        raise InvalidRequest("X-Filename header is required")
    content_type = request.headers.get("content-type")
    if not content_type:
        raise InvalidRequest("Content-Type header is required")
    limit = sandbox.settings.readings.max_file_bytes  # "10 MB": 10,000,000 (strict) or 10 MiB
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise TooLarge(f"file is larger than {limit} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise TooLarge(f"file is larger than {limit} bytes")
        chunks.append(chunk)
    file_id = sandbox.store.add_file(_header_filename(raw_name), content_type, b"".join(chunks), max_bytes=limit)
    return JSONResponse({"id": file_id}, status_code=201)


async def download_file(request: Request, sandbox: CasaviSandbox) -> Response:
    record = sandbox.store.file(_int_param(request, "file_id", "File"))
    return Response(record.data, headers={  # the content type exactly as uploaded (no charset added)
        "Content-Type": record.content_type,
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(record.name)}"})


async def create_hook(request: Request, sandbox: CasaviSandbox) -> Response:
    hook_id = sandbox.store.add_hook(await read_json(request))
    return JSONResponse({"id": hook_id}, status_code=201, headers={"Location": f"{api_url(request)}/hooks/{hook_id}"})


async def delete_hook(request: Request, sandbox: CasaviSandbox) -> Response:
    sandbox.store.delete_hook(_int_param(request, "hook_id", "Hook"))
    return Response(status_code=204)


def _int_param(request: Request, name: str, what: str) -> int:
    raw = request.path_params[name]
    if not raw.isdigit():
        raise NotFound(f"{what} {raw} not found")
    return int(raw)

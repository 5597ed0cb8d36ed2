"""The relay sandbox's shared state (store, API key, knobs) and request helpers.

Used by the API routes (:mod:`bridge.sandbox.relay.app`) and the property manager's side
(:mod:`bridge.sandbox.relay.control`).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.sandbox.relay.store import MAX_UPLOAD_BYTES, RelayStore, RelayStoreError

KNOBS = ("api_key", "max_upload_bytes", "comments_touch_order", "page_size",
         "comment_encoding", "null_clears_due_date")  # this app's /_sandbox/fault keys
COMMENT_ENCODINGS = ("json", "multipart")
DEFAULT_PAGE_SIZE = 50

Handler = Callable[[Request, "RelaySandbox"], Awaitable[Response]]


@dataclass
class RelaySandbox:
    """The app's state: the store, the API key and the run-time knobs."""

    store: RelayStore
    api_key: str
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    # Readings of what the document leaves open (the harder one by default):
    # GetOrders shows no paging parameters; the other lists page by limit/offset, so orders
    # come in pages of ``page_size`` (the first page when none is asked for); 0 = unpaged.
    page_size: int = DEFAULT_PAGE_SIZE
    # CreateOrderComment names text, authorName and files ("Array of arrays") but no encoding.
    comment_encoding: str = "json"

    def apply_knobs(self, values: dict[str, Any]) -> dict[str, Any]:
        """``POST /_sandbox/fault`` keys of this app (validated all at once); returns them all."""
        unknown = set(values) - set(KNOBS)
        if unknown:
            raise ValueError(f"unknown knobs {sorted(unknown)}")
        if "api_key" in values and (not isinstance(values["api_key"], str) or not values["api_key"]):
            raise ValueError("api_key must be a non-empty string")
        if "max_upload_bytes" in values and (isinstance(values["max_upload_bytes"], bool)
                                             or not isinstance(values["max_upload_bytes"], int)
                                             or values["max_upload_bytes"] < 1):
            raise ValueError("max_upload_bytes must be a positive integer")
        for flag in ("comments_touch_order", "null_clears_due_date"):
            if flag in values and not isinstance(values[flag], bool):
                raise ValueError(f"{flag} must be true or false")
        if "page_size" in values and (isinstance(values["page_size"], bool) or not isinstance(values["page_size"], int)
                                      or values["page_size"] < 0):
            raise ValueError("page_size must be a whole number (0: unpaged)")
        if "comment_encoding" in values and values["comment_encoding"] not in COMMENT_ENCODINGS:
            raise ValueError(f"comment_encoding must be one of {', '.join(COMMENT_ENCODINGS)}")
        self.page_size = values.get("page_size", self.page_size)
        self.comment_encoding = values.get("comment_encoding", self.comment_encoding)
        self.api_key = values.get("api_key", self.api_key)
        self.max_upload_bytes = values.get("max_upload_bytes", self.max_upload_bytes)
        self.store.comments_touch_order = values.get("comments_touch_order", self.store.comments_touch_order)
        self.store.null_clears_due_date = values.get("null_clears_due_date", self.store.null_clears_due_date)
        return {"max_upload_bytes": self.max_upload_bytes, "comments_touch_order": self.store.comments_touch_order,
                "page_size": self.page_size, "comment_encoding": self.comment_encoding,
                "null_clears_due_date": self.store.null_clears_due_date}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"statusCode": status, "error": HTTPStatus(status).phrase, "message": message},
                        status_code=status, headers=headers)


def authed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        sandbox: RelaySandbox = request.app.state.relay
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(key.strip().encode(), sandbox.api_key.encode()):
            return error_response(401, "Unauthorized", {"WWW-Authenticate": "Bearer"})
        try:
            return await handler(request, sandbox)
        except RelayStoreError as exc:
            return error_response(exc.status, exc.message)

    return endpoint


async def read_json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        raise RelayStoreError(400, "body is not JSON") from None


def order_page(request: Request, page_size: int) -> tuple[int, int] | None:
    """(limit, offset) for GET /orders: ``limit`` at most ``page_size`` (its default), ``offset``
    default 0; None when the sandbox serves orders unpaged (``page_size`` 0)."""
    if page_size == 0:
        return None
    values = []
    for name, default in (("limit", page_size), ("offset", 0)):
        text = request.query_params.get(name)
        if text is None or text == "":
            values.append(default)
        elif not text.isdigit():
            raise RelayStoreError(400, f"{name} must be a whole number")
        else:
            values.append(int(text))
    if values[0] < 1:
        raise RelayStoreError(400, "limit must be 1 or more")
    return min(values[0], page_size), values[1]


def page_params(request: Request) -> tuple[int, int]:
    """``limit`` and ``offset``: required by the document, non-negative whole numbers."""
    values = []
    for name in ("limit", "offset"):
        text = request.query_params.get(name)
        if text is None or not text.isdigit():
            raise RelayStoreError(400, f"{name} is required and must be a whole number")
        values.append(int(text))
    if not 1 <= values[0] <= 1000:
        raise RelayStoreError(400, "limit must be between 1 and 1000")
    return values[0], values[1]

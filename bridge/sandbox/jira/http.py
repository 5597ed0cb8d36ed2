"""HTTP plumbing shared by the Jira sandbox's route modules: auth, errors, bodies, views.

Authentication is checked per endpoint, like Jira: Basic (username *or* e-mail address, with
the API token as password) or Bearer (the token as a personal access token).  Without
credentials only ``serverInfo`` answers (anonymous access is allowed there in Jira); wrong
credentials get 401 everywhere, with Jira's ``X-Seraph-LoginReason`` header.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.sandbox.jira.catalog import JiraUser
from bridge.sandbox.jira.fields import JiraApiError
from bridge.sandbox.jira.render import View
from bridge.sandbox.jira.store import JiraStore

Handler = Callable[[Request, View], Awaitable[Response]]
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")  # a JSON string's NUL, not an escaped backslash's text
NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."


def error_response(error: JiraApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def store_of(request: Request) -> JiraStore:
    return request.app.state.jira_store


def view_of(request: Request) -> View:
    """The per-request view; 404 for an API version this flavour of Jira does not have."""
    store = store_of(request)
    version = request.path_params.get("version", "2")
    if version == "latest":
        version = "2"
    if version not in ("2", "3") or (version == "3" and not store.options.cloud):
        raise JiraApiError(404, [f"null for uri: {request.url}"])
    base = str(request.base_url).rstrip("/")
    return View(base=base, version=version, cloud=store.options.cloud, store=store)


def authenticate(request: Request, store: JiraStore, anonymous_ok: bool) -> JiraUser | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    options = store.options
    user: JiraUser | None = None
    if scheme.lower() == "basic":
        try:
            name, _, password = base64.b64decode(credentials).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            name, password = "", ""
        api_user = store.api_user
        if name in (api_user.name, api_user.email) and password == options.token:
            user = api_user
    elif scheme.lower() == "bearer" and credentials.strip() == options.token:
        user = store.api_user
    elif not header and anonymous_ok:
        return None
    if user is None:
        headers = {"WWW-Authenticate": 'OAuth realm="https%3A%2F%2Fexample.atlassian.net"'
                   if options.cloud else 'Basic realm="protected-area"'}
        if header:
            headers["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
        raise JiraApiError(401, [NOT_AUTHENTICATED], headers=headers)
    return user


def endpoint(anonymous_ok: bool = False) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler: version check, authentication, Jira-shaped errors."""

    def decorate(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            try:
                store = store_of(request)
                request.state.user = authenticate(request, store, anonymous_ok)
                view = view_of(request)
                return await handler(request, view)
            except JiraApiError as error:
                return error_response(error)

        return run

    return decorate


async def json_body(request: Request, required: bool = True) -> Any:
    """The JSON request body; 415 for another media type, 400 for broken JSON."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise JiraApiError(400, ["No content to map to Object due to end of input"])
        return None
    content_type = request.headers.get("content-type", "")
    if "json" not in content_type.lower():
        raise JiraApiError(415, [f"Unsupported Media Type: {content_type or 'none'}"])
    if _NUL_ESCAPE.search(raw):
        # Jira keeps issue text in its database, on PostgreSQL as Atlassian recommends, which
        # cannot store NUL (PostgreSQL documentation, "Character Types": "the character with
        # code zero (sometimes called NUL) cannot be stored"); the failed insert is Jira's 500.
        raise JiraApiError(500, ["Internal server error"])
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise JiraApiError(400, [f"Unexpected character in JSON body: {exc}"]) from None


def json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise JiraApiError(400, ["Can not deserialize instance of a JSON object out of this value"])
    return value


def no_content() -> Response:
    return Response(status_code=204)


def int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise JiraApiError(400, [f"The value '{raw}' is not valid for '{name}'."]) from None
    if value < 0:
        raise JiraApiError(400, [f"'{name}' must not be negative."])
    return min(value, maximum) if maximum is not None else value


def csv_param(request: Request, name: str) -> list[str] | None:
    """A parameter given as ``a,b`` or repeated (``?fields=a&fields=b``); None when absent."""
    values = request.query_params.getlist(name)
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]

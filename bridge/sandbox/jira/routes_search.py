"""Jira sandbox: JQL search — Data Center's ``/search`` and Cloud's ``/search/jql``.

As on the real services: Data Center pages by ``startAt``/``total`` and has no
``/search/jql`` (404); Cloud pages ``/search/jql`` by an opaque ``nextPageToken`` without a
total, rejects unbounded queries, and answers the removed ``/search`` with 410 Gone.
Both match against the search index (:mod:`bridge.sandbox.jira.search_index`) through
:mod:`bridge.sandbox.jira.search_plan`, which tests only the issues the clauses can match and
keeps a query's result for its later pages, with the answer of testing every issue.  With a lag
(Cloud's default) a new or changed issue is found late, or as it was, unless its id is passed in
``reconcileIssues`` (Cloud only).  Entity properties are searchable only when declared indexed.
Data Center's ``/search`` has no ``properties`` parameter (Jira Software DC 10.3 OpenAPI
document, ``GET /api/2/search``): its rows never carry properties.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.sandbox.jira.catalog import NAVIGABLE_FIELD_IDS
from bridge.sandbox.jira.fields import JiraApiError
from bridge.sandbox.jira.http import endpoint, json_body, json_object
from bridge.sandbox.jira.records import Issue
from bridge.sandbox.jira.render import View, select_fields
from bridge.sandbox.jira.search_plan import matching

API = "/rest/api/{version}"
SERVER_MAX_RESULTS = 1000
CLOUD_MAX_RESULTS = 5000  # for id/key only; with more fields Cloud returns at most 100
CLOUD_MAX_RESULTS_WITH_FIELDS = 100
RECONCILE_MAX = 50  # "Read-after-write is only supported for up to 50 issues" (JRACLOUD-96208)
SEARCH_GONE = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql"
               " API. A full migration guideline is available at"
               " https://developer.atlassian.com/changelog/#CHANGE-2046")


async def _params(request: Request) -> dict[str, Any]:
    """Search parameters from the query string (GET) or the JSON body (POST), normalised."""
    if request.method == "POST":
        body = json_object(await json_body(request))
        return {k: v for k, v in body.items()}
    query = request.query_params
    params: dict[str, Any] = {k: query[k] for k in query if k not in ("fields", "expand",
                                                                       "properties", "reconcileIssues")}
    for name in ("fields", "expand", "properties", "reconcileIssues"):
        values = query.getlist(name)
        if values:
            params[name] = [p for v in values for p in v.split(",") if p]
    return params


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [p.strip() for item in items for p in str(item).split(",") if p.strip()]


def _int(params: dict[str, Any], name: str, default: int) -> int:
    raw = params.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise JiraApiError(400, [f"The value '{raw}' is not valid for '{name}'."]) from None
    if value < 0:
        raise JiraApiError(400, [f"'{name}' must not be negative."])
    return value


def _matching(view: View, jql: str, strict: bool, reconcile: frozenset[int] = frozenset()
              ) -> tuple[list[Issue], list[str], bool]:
    """Issues matching ``jql`` in JQL order, warnings, and whether the query had any clause
    (:func:`~bridge.sandbox.jira.search_plan.matching`: only candidates are tested, and a later
    page reuses the result when nothing it depends on changed; the same answer as testing all)."""
    return matching(view.store, jql, strict, reconcile, cloud=view.cloud)


@endpoint()
async def search(request: Request, view: View) -> Response:
    if view.cloud:
        raise JiraApiError(410, [SEARCH_GONE])
    params = await _params(request)
    validate = str(params.get("validateQuery", "strict")).lower()
    start = _int(params, "startAt", 0)
    limit = min(_int(params, "maxResults", 50), SERVER_MAX_RESULTS)
    fields_param = _as_list(params.get("fields")) if "fields" in params else None
    fields = select_fields(fields_param, NAVIGABLE_FIELD_IDS)
    expand = _as_list(params.get("expand"))  # "properties" is not a parameter here: ignored
    with view.store.lock:
        issues, warnings, _ = _matching(view, str(params.get("jql") or ""),
                                        strict=validate in ("true", "strict"))
        body: dict[str, Any] = {
            "expand": "schema,names", "startAt": start, "maxResults": limit, "total": len(issues),
            "issues": [view.issue(i, fields, expand) for i in issues[start:start + limit]]}
    if warnings:
        body["warningMessages"] = warnings
    return JSONResponse(body)


def _token(offset: int, jql: str) -> str:
    payload = json.dumps({"o": offset, "q": hashlib.sha1(jql.encode()).hexdigest()[:12]})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _offset(token: str | None, jql: str) -> int:
    if not token:
        return 0
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if payload["q"] == hashlib.sha1(jql.encode()).hexdigest()[:12]:
            return int(payload["o"])
    except (ValueError, KeyError, TypeError):
        pass
    raise JiraApiError(400, ["The provided next page token is invalid or expired."])


@endpoint()
async def search_jql(request: Request, view: View) -> Response:
    if not view.cloud:  # Data Center 10.3 has no enhanced search
        raise JiraApiError(404, [f"null for uri: {request.url}"])
    params = await _params(request)
    jql = str(params.get("jql") or "")
    fields_param = _as_list(params.get("fields")) if "fields" in params else None
    fields = select_fields(fields_param, []) if fields_param is not None else None
    cap = CLOUD_MAX_RESULTS_WITH_FIELDS if fields else CLOUD_MAX_RESULTS
    limit = min(_int(params, "maxResults", 50), cap) or 1
    reconcile = [int(i) for i in _as_list(params.get("reconcileIssues")) if str(i).isdigit()]
    if len(reconcile) > RECONCILE_MAX:
        raise JiraApiError(400, [f"The number of issues to reconcile cannot exceed {RECONCILE_MAX}."])
    expand, props = _as_list(params.get("expand")), _as_list(params.get("properties"))
    with view.store.lock:
        offset = _offset(params.get("nextPageToken"), jql)
        issues, _, bounded = _matching(view, jql, strict=True, reconcile=frozenset(reconcile))
        if not bounded:
            raise JiraApiError(400, ["Unbounded JQL queries are not allowed here. Please add a"
                                     " search restriction to your query."])
        page = issues[offset:offset + limit]
        body: dict[str, Any] = {"issues": [view.issue(i, fields, expand, props) for i in page]}
    is_last = offset + limit >= len(issues)
    if not is_last:
        body["nextPageToken"] = _token(offset + limit, jql)
    body["isLast"] = is_last
    return JSONResponse(body)


def search_routes() -> list[Route]:
    return [
        Route(f"{API}/search", search, methods=["GET", "POST"]),
        Route(f"{API}/search/jql", search_jql, methods=["GET", "POST"]),
    ]

"""Jira sandbox: server, session, user and catalog endpoints (fields, statuses, projects, ...)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.sandbox.jira.catalog import (
    FIELDS,
    ISSUE_TYPES,
    PRIORITIES,
    RESOLUTIONS,
)
from bridge.sandbox.jira.custom_catalog import COMPONENTS
from bridge.sandbox.jira.fields import JiraApiError
from bridge.sandbox.jira.http import endpoint, int_param
from bridge.sandbox.jira.render import View, jira_time

API = "/rest/api/{version}"
BUILD = {"server": ("10.3.0", [10, 3, 0], 10030000, "2024-12-05T00:00:00.000+0000"),
         "cloud": ("1001.0.0-SNAPSHOT", [1001, 0, 0], 100280, "2025-12-01T00:00:00.000+0000")}


@endpoint(anonymous_ok=True)
async def server_info(request: Request, view: View) -> Response:
    options = view.store.options
    version, numbers, build, build_date = BUILD[options.mode]
    body = {"baseUrl": view.base, "version": version, "versionNumbers": numbers,
            "deploymentType": "Cloud" if view.cloud else "Server", "buildNumber": build,
            "buildDate": build_date, "scmInfo": "casavi-bridge-sandbox",
            "serverTitle": "casavi-bridge Jira sandbox"}
    if request.state.user is not None:
        body["serverTime"] = jira_time(int(time.time() * 1000), view.zone)
    if not view.cloud:
        body["serverTimeZone"] = options.time_zone
    return JSONResponse(body)


@endpoint()
async def session(request: Request, view: View) -> Response:
    user = request.state.user
    return JSONResponse({"self": f"{view.base}/rest/api/latest/user?username={user.name}",
                         "name": user.name,
                         "loginInfo": {"failedLoginCount": 0, "loginCount": 1,
                                       "previousLoginTime": view.time(int(time.time() * 1000))}})


@endpoint()
async def myself(request: Request, view: View) -> Response:
    return JSONResponse(view.user(request.state.user, full=True))


@endpoint()
async def application_property(request: Request, view: View) -> Response:
    """``GET application-properties?key=K``: one property as an object (the only key the sandbox
    keeps is ``jira.comment.level.visibility.groups``, APKeys.COMMENT_LEVEL_VISIBILITY_GROUPS).
    Needs *Administer Jira*: an account without it gets 404, as both OpenAPI documents say (Cloud
    v3: "not found or the user does not have permission to view it"; DC 10.3: "the currently
    authenticated user does not have permission to view it")."""
    options = view.store.options
    key = request.query_params.get("key")
    if not options.user_admin:
        raise JiraApiError(404, [f"Property {key or ''} does not exist or you may not view it."])
    known = {"jira.comment.level.visibility.groups": ("true" if options.group_visibility else "false", "boolean",
                                                      "Comment visibility: groups and project roles")}
    if not key:
        return JSONResponse([_property(k, *v) for k, v in known.items()])
    if key not in known:
        raise JiraApiError(404, [f"Property {key} does not exist."])
    if view.store.options.mode == "cloud":
        # Cloud's prose says one property comes as an object, its schema says an array of
        # ApplicationProperty: the sandbox answers the schema (a client must take either).
        return JSONResponse([_property(key, *known[key])])
    return JSONResponse(_property(key, *known[key]))  # DC 10.3: the Property object


def _property(key: str, value: str, kind: str, name: str) -> dict[str, str]:
    return {"id": key, "key": key, "value": value, "name": name, "desc": name, "type": kind, "defaultValue": "true"}


@endpoint()
async def user(request: Request, view: View) -> Response:
    params = request.query_params
    ref = {k: params[k] for k in ("accountId", "username", "key") if k in params}
    found = view.store.find_user(ref) if ref else None
    if found is None:
        raise JiraApiError(404, [f"The user named '{next(iter(ref.values()), '')}' does not exist"])
    return JSONResponse(view.user(found, full=True))


@endpoint()
async def fields(request: Request, view: View) -> Response:
    return JSONResponse([view.field(f) for f in FIELDS])


@endpoint()
async def priorities(request: Request, view: View) -> Response:
    return JSONResponse([view.priority(p, full=True) for p in PRIORITIES])


@endpoint()
async def priority(request: Request, view: View) -> Response:
    found = next((p for p in PRIORITIES if p.item_id == request.path_params["item_id"]), None)
    if found is None:
        raise JiraApiError(404, [f"Could not find priority with id: {request.path_params['item_id']}"])
    return JSONResponse(view.priority(found, full=True))


@endpoint()
async def statuses(request: Request, view: View) -> Response:
    return JSONResponse([view.status(s) for s in view.store.workflow.statuses])


@endpoint()
async def status(request: Request, view: View) -> Response:
    wanted = request.path_params["id_or_name"].lower()
    found = next((s for s in view.store.workflow.statuses if wanted in (s.status_id, s.name.lower())), None)
    if found is None:
        raise JiraApiError(404, [f"The status with id '{wanted}' does not exist"])
    return JSONResponse(view.status(found))


@endpoint()
async def resolutions(request: Request, view: View) -> Response:
    return JSONResponse([view.resolution(r) for r in RESOLUTIONS])


@endpoint()
async def resolution(request: Request, view: View) -> Response:
    found = next((r for r in RESOLUTIONS if r.item_id == request.path_params["item_id"]), None)
    if found is None:
        raise JiraApiError(404, [f"The resolution with id '{request.path_params['item_id']}' does not exist"])
    return JSONResponse(view.resolution(found))


@endpoint()
async def issuetypes(request: Request, view: View) -> Response:
    return JSONResponse([view.issuetype(t) for t in ISSUE_TYPES])


@endpoint()
async def issuetype(request: Request, view: View) -> Response:
    found = next((t for t in ISSUE_TYPES if t.item_id == request.path_params["item_id"]), None)
    if found is None:
        raise JiraApiError(404, [f"The issue type with id '{request.path_params['item_id']}' does not exist"])
    return JSONResponse(view.issuetype(found))


def _project_or_404(request: Request, view: View) -> None:
    wanted = request.path_params["project"]
    if not view.store.is_project(wanted):
        raise JiraApiError(404, [f"No project could be found with key '{wanted}'."])


@endpoint()
async def projects(request: Request, view: View) -> Response:
    return JSONResponse([view.project()])


@endpoint()
async def project(request: Request, view: View) -> Response:
    _project_or_404(request, view)
    return JSONResponse(view.project(full=True))


@endpoint()
async def project_statuses(request: Request, view: View) -> Response:
    """Statuses per issue type of the project (Jira: ``GET /project/{key}/statuses``)."""
    _project_or_404(request, view)
    keep = ("self", "id", "name", "subtask")  # IssueTypeWithStatus has exactly these and `statuses`
    return JSONResponse([{**{k: v for k, v in view.issuetype(t).items() if k in keep},
                          "statuses": [view.status(s) for s in view.store.workflow.statuses]}
                         for t in ISSUE_TYPES])


@endpoint()
async def createmeta_issuetypes(request: Request, view: View) -> Response:
    _project_or_404(request, view)
    start, limit = int_param(request, "startAt", 0), int_param(request, "maxResults", 50, 200)
    values = [view.issuetype(t) for t in ISSUE_TYPES][start:start + limit]
    return JSONResponse({"maxResults": limit, "startAt": start, "total": len(ISSUE_TYPES),
                         "isLast": start + limit >= len(ISSUE_TYPES), "values": values})


@endpoint()
async def createmeta_fields(request: Request, view: View) -> Response:
    _project_or_404(request, view)
    issuetype_id = request.path_params["issuetype_id"]
    found = next((t for t in ISSUE_TYPES if t.item_id == issuetype_id), None)
    if found is None:
        raise JiraApiError(404, [f"Issue type with id '{issuetype_id}' does not exist."])
    values = list(view.screen_meta(found, create=True).values())
    start, limit = int_param(request, "startAt", 0), int_param(request, "maxResults", 50, 200)
    page = values[start:start + limit]
    if view.cloud:  # Cloud's PageOfCreateMetaIssueTypeWithField lists them under "fields"
        return JSONResponse({"maxResults": limit, "startAt": start, "total": len(values), "fields": page})
    return JSONResponse({"maxResults": limit, "startAt": start, "total": len(values),
                         "isLast": start + limit >= len(values), "values": page})


@endpoint()
async def project_components(request: Request, view: View) -> Response:
    """The project's components (``GET /project/{key}/components``: a plain list)."""
    _project_or_404(request, view)
    return JSONResponse([view.component(c, full=True) for c in COMPONENTS])


@endpoint()
async def application_links(request: Request, view: View) -> Response:
    # Data Center lists its application links (none here); Cloud has no such resource.
    if view.cloud:
        raise JiraApiError(404, ["Resource not found: listApplicationlinks"])
    return JSONResponse({"list": []})


def meta_routes() -> list[Route]:
    return [
        Route(f"{API}/serverInfo", server_info, methods=["GET"]),
        Route("/rest/auth/1/session", session, methods=["GET"]),
        Route("/rest/auth/latest/session", session, methods=["GET"]),
        Route(f"{API}/myself", myself, methods=["GET"]),
        Route(f"{API}/user", user, methods=["GET"]),
        Route(f"{API}/application-properties", application_property, methods=["GET"]),
        Route(f"{API}/field", fields, methods=["GET"]),
        Route(f"{API}/priority", priorities, methods=["GET"]),
        Route(f"{API}/priority/{{item_id}}", priority, methods=["GET"]),
        Route(f"{API}/status", statuses, methods=["GET"]),
        Route(f"{API}/status/{{id_or_name}}", status, methods=["GET"]),
        Route(f"{API}/resolution", resolutions, methods=["GET"]),
        Route(f"{API}/resolution/{{item_id}}", resolution, methods=["GET"]),
        Route(f"{API}/issuetype", issuetypes, methods=["GET"]),
        Route(f"{API}/issuetype/{{item_id}}", issuetype, methods=["GET"]),
        Route(f"{API}/project", projects, methods=["GET"]),
        Route(f"{API}/project/{{project}}", project, methods=["GET"]),
        Route(f"{API}/project/{{project}}/statuses", project_statuses, methods=["GET"]),
        Route(f"{API}/project/{{project}}/components", project_components, methods=["GET"]),
        Route(f"{API}/issue/createmeta/{{project}}/issuetypes", createmeta_issuetypes, methods=["GET"]),
        Route(f"{API}/issue/createmeta/{{project}}/issuetypes/{{issuetype_id}}", createmeta_fields,
              methods=["GET"]),
        Route("/rest/applinks/latest/listApplicationlinks", application_links, methods=["GET"]),
    ]


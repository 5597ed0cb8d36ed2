"""Jira sandbox: who may do what — project roles with their actors, assignable users.

``casavi-bridge check`` reads these (read-only) to name a comment role the account is not in and
assignee-map accounts Jira will not take.  Roles: the API account is an actor of the roles in
``--jira-user-roles``; the people (alice, bob, ...) act in every role.  Assignable: every user
but those without "Assignable User" (``dora``).  Cloud's ProjectRole carries ``currentUserRole``
("Whether the calling user is part of this role", Cloud OpenAPI document, schema ProjectRole).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.sandbox.jira.catalog import PROJECT_ROLES, JiraUser
from bridge.sandbox.jira.fields import JiraApiError
from bridge.sandbox.jira.http import endpoint, int_param
from bridge.sandbox.jira.render import View

API = "/rest/api/{version}"
ROLE_IDS = {name: 10002 + index for index, name in enumerate(PROJECT_ROLES)}


def _project(request: Request, view: View) -> None:
    wanted = request.path_params.get("project") or request.query_params.get("project") or ""
    if not view.store.is_project(wanted):
        raise JiraApiError(404, [f"No project could be found with key '{wanted}'."])


def _members(view: View, role: str) -> list[JiraUser]:
    store = view.store
    return [u for u in store.users if u is not store.api_user or role in store.options.user_roles]


@endpoint()
async def project_roles(request: Request, view: View) -> Response:
    _project(request, view)
    key = request.path_params["project"]
    return JSONResponse({name: f"{view.api}/project/{key}/role/{role_id}" for name, role_id in ROLE_IDS.items()})


@endpoint()
async def project_role(request: Request, view: View) -> Response:
    _project(request, view)
    wanted = request.path_params["role_id"]
    name = next((n for n, i in ROLE_IDS.items() if str(i) == wanted), None)
    if name is None:
        raise JiraApiError(404, [f"Role with id: {wanted} does not exist."])
    actors = []
    for index, user in enumerate(_members(view, name)):
        actor = {"id": 10300 + index, "displayName": user.display_name, "type": "atlassian-user-role-actor"}
        if view.cloud:
            actor["actorUser"] = {"accountId": user.account_id}
        else:
            actor["name"] = user.name
        actors.append(actor)
    out = {"self": f"{view.api}/project/{request.path_params['project']}/role/{wanted}", "name": name,
           "id": int(wanted), "description": f"The project's {name}.", "actors": actors}
    if view.cloud:
        out["currentUserRole"] = request.state.user in _members(view, name)
    return JSONResponse(out)


@endpoint()
async def assignable(request: Request, view: View) -> Response:
    if not (request.query_params.get("project") or request.query_params.get("issueKey")):
        raise JiraApiError(400, ["A project key or an issue key is required."])
    if request.query_params.get("project"):
        _project(request, view)
    params = request.query_params
    ref = {k: params[k] for k in ("accountId", "username") if params.get(k)}
    query = (params.get("query") or "").casefold()
    users = [u for u in view.store.users if u.assignable]
    if ref:
        found = view.store.find_user(ref)
        users = [found] if found is not None and found.assignable else []
    elif query:
        users = [u for u in users if query in u.name.casefold() or query in u.display_name.casefold()
                 or query in u.email.casefold()]
    limit = int_param(request, "maxResults", 50, 1000)
    return JSONResponse([view.user(u) for u in users[:limit]])


@endpoint()
async def user_search(request: Request, view: View) -> Response:
    """Cloud: ``query`` matches a prefix of the display name or of the e-mail address (also a
    hidden one; the answer then leaves the address out), ``accountId`` exactly.  Data Center:
    ``username`` matches user name, name or e-mail address.  Both: active users only."""
    params = request.query_params
    if view.cloud:
        if params.get("accountId"):
            found = view.store.find_user({"accountId": params["accountId"]})
            users = [found] if found is not None else []
        elif params.get("query"):
            query = params["query"].casefold()
            users = [u for u in view.store.users if u.email.casefold().startswith(query)
                     or any(part.startswith(query) for part in u.display_name.casefold().split())
                     or u.display_name.casefold().startswith(query)]
        else:
            raise JiraApiError(400, ["The query parameter 'query' or 'accountId' is required."])
    else:
        if not params.get("username"):
            raise JiraApiError(400, ["The username query parameter was not provided"])
        query = params["username"].casefold()
        users = [u for u in view.store.users if query in u.name.casefold() or query in u.email.casefold()
                 or query in u.display_name.casefold()]
    start = int_param(request, "startAt", 0, 1_000_000)
    limit = int_param(request, "maxResults", 50, 1000)
    return JSONResponse([view.user(u) for u in users[start:start + limit]])


def people_routes() -> list[Route]:
    return [
        Route(f"{API}/project/{{project}}/role", project_roles, methods=["GET"]),
        Route(f"{API}/project/{{project}}/role/{{role_id}}", project_role, methods=["GET"]),
        Route(f"{API}/user/assignable/search", assignable, methods=["GET"]),
        Route(f"{API}/user/search", user_search, methods=["GET"]),
    ]

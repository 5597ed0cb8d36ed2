"""Jira sandbox: issue create/read/edit/delete, transitions, entity properties, remote links."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.sandbox.jira.adf import AdfError, adf_to_text
from bridge.sandbox.jira.catalog import ISSUE_FIELD_IDS
from bridge.sandbox.jira.fields import JiraApiError
from bridge.sandbox.jira.http import csv_param, endpoint, json_body, json_object, no_content
from bridge.sandbox.jira.render import View, select_fields

API = "/rest/api/{version}"


def rich_in(view: View, value: Any, field_id: str) -> Any:
    """A description or comment body as stored text: v3 takes ADF, v2 takes text."""
    if view.version != "3" or value is None:
        return value
    try:
        return adf_to_text(value)
    except AdfError as exc:
        raise JiraApiError(400, [], {field_id: str(exc)}) from None


def _text_fields(view: View, fields: Any) -> Any:
    if isinstance(fields, dict) and "description" in fields:
        fields = {**fields, "description": rich_in(view, fields["description"], "description")}
    return fields


def _text_update(view: View, update: Any) -> Any:
    """Convert ADF inside ``update`` operations (description set, comment add) on v3."""
    if view.version != "3" or not isinstance(update, dict):
        return update
    converted = dict(update)
    for op_list_key in ("description", "comment"):
        ops = update.get(op_list_key)
        if not isinstance(ops, list):
            continue
        new_ops = []
        for op in ops:
            if isinstance(op, dict) and "set" in op and op_list_key == "description":
                op = {"set": rich_in(view, op["set"], "description")}
            elif isinstance(op, dict) and isinstance(op.get("add"), dict) and op_list_key == "comment":
                op = {"add": {**op["add"], "body": rich_in(view, op["add"].get("body"), "comment")}}
            new_ops.append(op)
        converted[op_list_key] = new_ops
    return converted


def render_issue(request: Request, view: View, key: str) -> dict[str, Any]:
    issue = view.store.issue(key)
    return view.issue(issue, select_fields(csv_param(request, "fields"), ISSUE_FIELD_IDS),
                      expand=csv_param(request, "expand") or (),
                      properties=csv_param(request, "properties") or ())


@endpoint()
async def create_issue(request: Request, view: View) -> Response:
    body = json_object(await json_body(request))
    with view.store.lock:
        issue = view.store.create_issue(_text_fields(view, body.get("fields")), request.state.user,
                                        properties=body.get("properties"),
                                        update=_text_update(view, body.get("update")))
        return JSONResponse({"id": str(issue.issue_id), "key": issue.key,
                             "self": f"{view.api}/issue/{issue.issue_id}"}, status_code=201)


@endpoint()
async def get_issue(request: Request, view: View) -> Response:
    with view.store.lock:
        return JSONResponse(render_issue(request, view, request.path_params["key"]))


@endpoint()
async def get_changelog(request: Request, view: View) -> Response:
    """Cloud only ("Get changelogs", REST v2/v3); Data Center 10.3 has no such resource (its
    document lists none, pycontribs/jira#911): there it is Jersey's 404."""
    if not view.cloud:
        raise JiraApiError(404, [f"null for uri: {request.url}"])
    start = _int_param(request, "startAt", 0)
    limit = min(max(_int_param(request, "maxResults", 100), 1), 100)
    with view.store.lock:
        return JSONResponse(view.changelog_page(view.store.issue(request.path_params["key"]), start, limit))


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise JiraApiError(400, [f"The value '{raw}' is invalid for {name}."]) from None
    if value < 0:
        raise JiraApiError(400, [f"{name} must not be negative."])
    return value


@endpoint()
async def edit_meta(request: Request, view: View) -> Response:
    """The fields the issue's edit screen offers (``GET /issue/{key}/editmeta``)."""
    with view.store.lock:
        issue = view.store.issue(request.path_params["key"])
        return JSONResponse({"fields": view.screen_meta(issue.issuetype, create=False)})


@endpoint()
async def edit_issue(request: Request, view: View) -> Response:
    body = json_object(await json_body(request))
    key = request.path_params["key"]
    with view.store.lock:
        view.store.edit_issue(key, _text_fields(view, body.get("fields")),
                              _text_update(view, body.get("update")), request.state.user)
        if view.cloud and request.query_params.get("returnIssue") == "true":
            return JSONResponse(render_issue(request, view, key))
    return no_content()


@endpoint()
async def delete_issue(request: Request, view: View) -> Response:
    flag = request.query_params.get("deleteSubtasks", "false").lower() == "true"
    view.store.delete_issue(request.path_params["key"], flag)
    return no_content()


@endpoint()
async def get_transitions(request: Request, view: View) -> Response:
    with_fields = "transitions.fields" in (csv_param(request, "expand") or [])
    wanted = request.query_params.get("transitionId")
    with view.store.lock:
        issue = view.store.issue(request.path_params["key"])
        targets = [t for t in view.store.transitions(issue) if wanted in (None, t.transition_id)]
        return JSONResponse({"expand": "transitions",
                             "transitions": [view.transition(t, with_fields) for t in targets]})


@endpoint()
async def do_transition(request: Request, view: View) -> Response:
    body = json_object(await json_body(request))
    view.store.do_transition(request.path_params["key"], body.get("transition"), body.get("fields"),
                             _text_update(view, body.get("update")), request.state.user)
    return no_content()


@endpoint()
async def property_keys(request: Request, view: View) -> Response:
    with view.store.lock:
        issue = view.store.issue(request.path_params["key"])
        return JSONResponse({"keys": [
            {"self": f"{view.api}/issue/{issue.issue_id}/properties/{name}", "key": name}
            for name in issue.properties]})


@endpoint()
async def get_property(request: Request, view: View) -> Response:
    name = request.path_params["name"]
    value = view.store.get_property(request.path_params["key"], name)
    return JSONResponse({"key": name, "value": value})


@endpoint()
async def set_property(request: Request, view: View) -> Response:
    raw = await request.body()
    try:
        value = json.loads(raw)
    except ValueError:
        raise JiraApiError(400, ["The property value must be a valid JSON"]) from None
    created = view.store.set_property(request.path_params["key"], request.path_params["name"], value)
    return Response(status_code=201 if created else 200)


@endpoint()
async def delete_property(request: Request, view: View) -> Response:
    view.store.delete_property(request.path_params["key"], request.path_params["name"])
    return no_content()


@endpoint()
async def list_remote_links(request: Request, view: View) -> Response:
    with view.store.lock:
        issue = view.store.issue(request.path_params["key"])
        global_id = request.query_params.get("globalId")
        links = [lk for lk in issue.remote_links if global_id in (None, lk.global_id)]
        if global_id is not None:
            if not links:
                raise JiraApiError(404, [f"No remote link with globalId '{global_id}' exists."])
            return JSONResponse(view.remote_link(issue, links[0]))
        return JSONResponse([view.remote_link(issue, lk) for lk in links])


@endpoint()
async def add_remote_link(request: Request, view: View) -> Response:
    body = json_object(await json_body(request))
    with view.store.lock:
        link, created = view.store.upsert_remote_link(request.path_params["key"], body)
        issue = view.store.issue(request.path_params["key"])
        # Cloud: 201 created / 200 updated; Data Center's document declares 200 for both.
        return JSONResponse({"id": link.link_id, "self": view.remote_link(issue, link)["self"]},
                            status_code=201 if created and view.cloud else 200)


@endpoint()
async def delete_remote_links_by_global_id(request: Request, view: View) -> Response:
    global_id = request.query_params.get("globalId")
    if not global_id:
        raise JiraApiError(400, ["The globalId parameter is required."])
    with view.store.lock:
        issue = view.store.issue(request.path_params["key"])
        links = [lk for lk in issue.remote_links if lk.global_id == global_id]
        if not links:
            raise JiraApiError(404, [f"No remote link with globalId '{global_id}' exists."])
        view.store.delete_remote_links(issue.key, links)
    return no_content()


@endpoint()
async def get_remote_link(request: Request, view: View) -> Response:
    with view.store.lock:
        issue = view.store.issue(request.path_params["key"])
        link = view.store.remote_link(issue.key, request.path_params["link_id"])
        return JSONResponse(view.remote_link(issue, link))


@endpoint()
async def update_remote_link(request: Request, view: View) -> Response:
    body = json_object(await json_body(request))
    view.store.upsert_remote_link(request.path_params["key"], body,
                                  link_id=request.path_params["link_id"])
    return no_content()


@endpoint()
async def delete_remote_link(request: Request, view: View) -> Response:
    with view.store.lock:
        issue = view.store.issue(request.path_params["key"])
        link = view.store.remote_link(issue.key, request.path_params["link_id"])
        view.store.delete_remote_links(issue.key, [link])
    return no_content()


def issue_routes() -> list[Route]:
    issue = f"{API}/issue/{{key}}"
    return [
        Route(f"{API}/issue", create_issue, methods=["POST"]),
        Route(issue, get_issue, methods=["GET"]),
        Route(issue, edit_issue, methods=["PUT"]),
        Route(issue, delete_issue, methods=["DELETE"]),
        Route(f"{issue}/changelog", get_changelog, methods=["GET"]),
        Route(f"{issue}/editmeta", edit_meta, methods=["GET"]),
        Route(f"{issue}/transitions", get_transitions, methods=["GET"]),
        Route(f"{issue}/transitions", do_transition, methods=["POST"]),
        Route(f"{issue}/properties", property_keys, methods=["GET"]),
        Route(f"{issue}/properties/{{name}}", get_property, methods=["GET"]),
        Route(f"{issue}/properties/{{name}}", set_property, methods=["PUT"]),
        Route(f"{issue}/properties/{{name}}", delete_property, methods=["DELETE"]),
        Route(f"{issue}/remotelink", list_remote_links, methods=["GET"]),
        Route(f"{issue}/remotelink", add_remote_link, methods=["POST"]),
        Route(f"{issue}/remotelink", delete_remote_links_by_global_id, methods=["DELETE"]),
        Route(f"{issue}/remotelink/{{link_id}}", get_remote_link, methods=["GET"]),
        Route(f"{issue}/remotelink/{{link_id}}", update_remote_link, methods=["PUT"]),
        Route(f"{issue}/remotelink/{{link_id}}", delete_remote_link, methods=["DELETE"]),
    ]

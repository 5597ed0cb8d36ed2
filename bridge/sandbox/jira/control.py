"""Jira sandbox control endpoints under ``/_sandbox`` (no auth): act as a person in Jira.

Tests and the demo use these to do what a Jira user would do in the browser — transition an
issue, comment, edit the summary, delete an issue — so each change moves ``updated`` exactly
like a change through the REST API.  ``as`` names the acting user (default ``alice``).

- ``GET  /_sandbox/issues``                        → overview of every issue
- ``POST /_sandbox/issues/{key}/transition``       ``{"status": "Done", "resolution": "Won't Do"}``
- ``POST /_sandbox/issues/{key}/comment``          ``{"body": "...", "visibility": {...}}``
- ``PUT  /_sandbox/issues/{key}/comment/{id}``     ``{"body": "..."}`` (edit a comment)
- ``POST /_sandbox/issues/{key}/attachment``       ``{"filename": "...", "text": "...", "mimeType": "..."}``
- ``POST /_sandbox/issues/{key}/edit``             ``{"summary": "...", "labels": [...], ...}``; ``"update"``
  takes Jira's operations (``{"components": [{"add": {"id": "10203"}}]}``)
- ``DELETE /_sandbox/issues/{key}``                (with its sub-tasks)
- ``POST /_sandbox/index/settle``                  the search index catches up at once (tests)

Run-time knobs (``time_zone``, ``search_lag_ms``, ``max_attachment_bytes``) are changed
through the shared ``POST /_sandbox/fault`` endpoint, see :func:`apply_knobs`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.sandbox.jira.catalog import JiraUser
from bridge.sandbox.jira.fields import JiraApiError
from bridge.sandbox.jira.http import error_response, json_body, json_object, store_of
from bridge.sandbox.jira.render import View
from bridge.sandbox.jira.store import JiraStore


def _control(handler: Callable[..., Any]) -> Callable[[Request], Any]:
    async def run(request: Request) -> Response:
        try:
            store = store_of(request)
            view = View(base=str(request.base_url).rstrip("/"), version="2",
                        cloud=store.options.cloud, store=store)
            return await handler(request, view)
        except JiraApiError as error:
            return error_response(error)

    return run


def _actor(store: JiraStore, body: dict[str, Any]) -> JiraUser:
    name = body.get("as", "alice")
    user = store.find_user({"name": name}) or store.find_user({"accountId": name})
    if user is None:
        raise JiraApiError(400, [f"No sandbox user '{name}'; known: "
                                 + ", ".join(u.name for u in store.users)])
    return user


async def overview(request: Request, view: View) -> Response:
    with view.store.lock:
        return JSONResponse([{
            "id": str(i.issue_id), "key": i.key, "summary": i.summary, "status": i.status.name,
            "resolution": i.resolution.name if i.resolution else None,
            "issuetype": i.issuetype.name, "updated": view.time(i.updated_ms),
            "updatedMillis": i.updated_ms, "comments": len(i.comments),
            "attachments": len(i.attachments), "properties": dict(i.properties),
        } for i in sorted(view.store.issues(), key=lambda i: i.issue_id)])


async def transition(request: Request, view: View) -> Response:
    body = json_object(await json_body(request))
    store = view.store
    with store.lock:
        issue = store.issue(request.path_params["key"])
        target = store.status_named(str(body.get("status", "")))
        step = next((t for t in store.transitions(issue) if t.to is target), None)
        if step is None:
            raise JiraApiError(400, [f"No transition leads from '{issue.status.name}' to '{target.name}'."])
        on_screen = body.get("resolution") and "resolution" in step.screen
        fields = {"resolution": {"name": body["resolution"]}} if on_screen else None
        store.do_transition(issue.key, {"id": step.transition_id}, fields, None, _actor(store, body),
                            fill_required=True)
        return JSONResponse({"key": issue.key, "status": issue.status.name,
                             "updated": view.time(issue.updated_ms)})


async def comment(request: Request, view: View) -> Response:
    body = json_object(await json_body(request))
    store = view.store
    with store.lock:
        added = store.add_comment(request.path_params["key"], body.get("body"), _actor(store, body),
                                  body.get("visibility"), body.get("properties"))
        return JSONResponse(view.comment(store.issue(request.path_params["key"]), added), status_code=201)


async def edit_comment(request: Request, view: View) -> Response:
    body = json_object(await json_body(request))
    store = view.store
    with store.lock:
        key = request.path_params["key"]
        changed = store.update_comment(key, request.path_params["comment_id"], body.get("body"),
                                       body.get("visibility"), _actor(store, body))
        return JSONResponse(view.comment(store.issue(key), changed))


async def attach(request: Request, view: View) -> Response:
    body = json_object(await json_body(request))
    store = view.store
    with store.lock:
        added = store.add_attachment(request.path_params["key"], str(body.get("filename") or "file.txt"),
                                     str(body.get("text") or "").encode("utf-8"),
                                     str(body.get("mimeType") or "text/plain"), _actor(store, body))
        return JSONResponse({"id": str(added.attachment_id), "filename": added.filename}, status_code=201)


async def edit(request: Request, view: View) -> Response:
    body = json_object(await json_body(request))
    store = view.store
    with store.lock:
        fields = {k: v for k, v in body.items() if k not in ("as", "update")}
        issue = store.edit_issue(request.path_params["key"], fields, body.get("update"), _actor(store, body))
        return JSONResponse({"key": issue.key, "summary": issue.summary,
                             "updated": view.time(issue.updated_ms)})


async def delete(request: Request, view: View) -> Response:
    view.store.delete_issue(request.path_params["key"], delete_subtasks=True)
    return Response(status_code=204)


async def settle(request: Request, view: View) -> Response:
    view.store.settle_index()
    return Response(status_code=204)


def control_routes() -> list[Route]:
    return [
        Route("/_sandbox/index/settle", _control(settle), methods=["POST"]),
        Route("/_sandbox/issues", _control(overview), methods=["GET"]),
        Route("/_sandbox/issues/{key}/transition", _control(transition), methods=["POST"]),
        Route("/_sandbox/issues/{key}/comment", _control(comment), methods=["POST"]),
        Route("/_sandbox/issues/{key}/comment/{comment_id}", _control(edit_comment), methods=["PUT"]),
        Route("/_sandbox/issues/{key}/attachment", _control(attach), methods=["POST"]),
        Route("/_sandbox/issues/{key}/edit", _control(edit), methods=["POST"]),
        Route("/_sandbox/issues/{key}", _control(delete), methods=["DELETE"]),
    ]


KNOBS = ("time_zone", "search_lag_ms", "max_attachment_bytes")


def knob_handler(store: JiraStore) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The ``extra_knobs`` hook for FaultMiddleware: validates all, then applies, returns all."""

    def apply_knobs(values: dict[str, Any]) -> dict[str, Any]:
        checked: dict[str, Any] = {}
        for raw_key, value in values.items():
            key = raw_key.removeprefix("jira_")
            if key not in KNOBS:
                raise ValueError(f"unknown knob {raw_key!r}")
            if key == "time_zone":
                try:
                    ZoneInfo(str(value))
                except (ZoneInfoNotFoundError, ValueError):
                    raise ValueError(f"unknown time zone {value!r}") from None
                checked[key] = str(value)
            elif key == "search_lag_ms" and value is None:
                checked[key] = None  # back to the flavour's default
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{raw_key} must be a non-negative integer")
            else:
                checked[key] = value
        with store.lock:
            for key, value in checked.items():
                setattr(store.options, key, value)
            if "time_zone" in checked:
                store.users = (dataclasses.replace(store.users[0], time_zone=checked["time_zone"]),
                               *store.users[1:])
        return {f"jira_{k}": getattr(store.options, k) for k in KNOBS}

    return apply_knobs

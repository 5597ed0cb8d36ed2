"""Jira sandbox: comments and attachments (upload, metadata, download)."""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.sandbox.jira.fields import JiraApiError
from bridge.sandbox.jira.http import csv_param, endpoint, int_param, json_body, json_object, no_content
from bridge.sandbox.jira.render import View
from bridge.sandbox.jira.routes_issue import rich_in

API = "/rest/api/{version}"
COMMENTS_MAX_RESULTS = 5000


def _with_properties(request: Request) -> bool:
    return "properties" in (csv_param(request, "expand") or [])


@endpoint()
async def list_comments(request: Request, view: View) -> Response:
    start = int_param(request, "startAt", 0)
    limit = int_param(request, "maxResults", COMMENTS_MAX_RESULTS, COMMENTS_MAX_RESULTS)
    order = request.query_params.get("orderBy", "created").strip()
    if order.lstrip("+-") != "created":
        raise JiraApiError(400, [f"Invalid orderBy value '{order}'; use created, +created or -created."])
    with view.store.lock:
        issue = view.store.issue(request.path_params["key"])
        comments = sorted(issue.comments, key=lambda c: c.comment_id, reverse=order.startswith("-"))
        return JSONResponse(view.comments_page(issue, comments, start, limit, _with_properties(request)))


@endpoint()
async def add_comment(request: Request, view: View) -> Response:
    body = json_object(await json_body(request))
    with view.store.lock:
        comment = view.store.add_comment(request.path_params["key"],
                                         rich_in(view, body.get("body"), "comment"),
                                         request.state.user, body.get("visibility"),
                                         body.get("properties"))
        issue = view.store.issue(request.path_params["key"])
        return JSONResponse(view.comment(issue, comment, _with_properties(request)), status_code=201)


@endpoint()
async def get_comment(request: Request, view: View) -> Response:
    with view.store.lock:
        issue, comment = view.store.comment(request.path_params["key"], request.path_params["comment_id"])
        return JSONResponse(view.comment(issue, comment, _with_properties(request)))


@endpoint()
async def update_comment(request: Request, view: View) -> Response:
    body = json_object(await json_body(request))
    with view.store.lock:
        comment = view.store.update_comment(
            request.path_params["key"], request.path_params["comment_id"],
            rich_in(view, body.get("body"), "comment"), body.get("visibility"), request.state.user,
            body.get("properties"))
        issue = view.store.issue(request.path_params["key"])
        return JSONResponse(view.comment(issue, comment, _with_properties(request)))


@endpoint()
async def delete_comment(request: Request, view: View) -> Response:
    view.store.delete_comment(request.path_params["key"], request.path_params["comment_id"])
    return no_content()


@endpoint()
async def add_attachments(request: Request, view: View) -> Response:
    if request.headers.get("x-atlassian-token", "").lower() not in ("no-check", "nocheck"):
        raise JiraApiError(403, ["XSRF check failed"])
    view.store.issue(request.path_params["key"])  # 404 before reading a large body
    try:
        form = await request.form(max_files=100)
    except Exception as exc:  # starlette raises its own MultiPartException/HTTPException
        raise JiraApiError(400, [f"The request is not a valid multipart request: {exc}"]) from None
    files = [item for item in form.getlist("file") if isinstance(item, UploadFile)]
    if not files:
        raise JiraApiError(400, ["No file was found in the request: send it in the 'file' part."])
    uploads = []
    for upload in files:
        data = await upload.read()
        declared = (upload.content_type or "").split(";")[0].strip()
        guessed = mimetypes.guess_type(upload.filename or "")[0]
        mime = guessed if declared in ("", "application/octet-stream") and guessed else declared
        uploads.append((upload.filename or "file", data, mime or "application/octet-stream"))
    with view.store.lock:
        issue = view.store.issue(request.path_params["key"])
        added = [view.store.add_attachment(issue.key, name, data, mime, request.state.user)
                 for name, data, mime in uploads]
        return JSONResponse([view.attachment(a) for a in added])


@endpoint()
async def attachment_meta(request: Request, view: View) -> Response:
    return JSONResponse({"enabled": True, "uploadLimit": view.store.options.max_attachment_bytes})


@endpoint()
async def get_attachment(request: Request, view: View) -> Response:
    with view.store.lock:
        _, attachment = view.store.attachment(request.path_params["attachment_id"])
        return JSONResponse(view.attachment(attachment, metadata=True))


@endpoint()
async def delete_attachment(request: Request, view: View) -> Response:
    view.store.delete_attachment(request.path_params["attachment_id"])
    return no_content()


def _content(view: View, attachment_id: str) -> Response:
    with view.store.lock:
        _, attachment = view.store.attachment(attachment_id)
        data = view.store.attachment_bytes(attachment.attachment_id)
    disposition = f"attachment; filename*=UTF-8''{quote(attachment.filename)}"
    return Response(data, media_type=attachment.mime_type,
                    headers={"Content-Disposition": disposition})


@endpoint()
async def secure_content(request: Request, view: View) -> Response:
    return _content(view, request.path_params["attachment_id"])


@endpoint()
async def api_content(request: Request, view: View) -> Response:
    if not view.cloud:  # Data Center serves attachment bytes only under /secure/attachment
        raise JiraApiError(404, [f"null for uri: {request.url}"])
    return _content(view, request.path_params["attachment_id"])


def comment_routes() -> list[Route]:
    issue = f"{API}/issue/{{key}}"
    return [
        Route(f"{issue}/comment", list_comments, methods=["GET"]),
        Route(f"{issue}/comment", add_comment, methods=["POST"]),
        Route(f"{issue}/comment/{{comment_id}}", get_comment, methods=["GET"]),
        Route(f"{issue}/comment/{{comment_id}}", update_comment, methods=["PUT"]),
        Route(f"{issue}/comment/{{comment_id}}", delete_comment, methods=["DELETE"]),
        Route(f"{issue}/attachments", add_attachments, methods=["POST"]),
        Route(f"{API}/attachment/meta", attachment_meta, methods=["GET"]),
        Route(f"{API}/attachment/content/{{attachment_id}}", api_content, methods=["GET"]),
        Route(f"{API}/attachment/{{attachment_id}}", get_attachment, methods=["GET"]),
        Route(f"{API}/attachment/{{attachment_id}}", delete_attachment, methods=["DELETE"]),
        Route("/secure/attachment/{attachment_id}/{filename}", secure_content, methods=["GET"]),
    ]

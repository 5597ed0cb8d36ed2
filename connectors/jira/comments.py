"""Comments on Jira issues: written with their marker, rewritten under the same author line.

- The marker is the comment property ``casavi`` = ``{"commentId": <casavi comment id>}``, set in
  the creating ``POST issue/{id}/comment`` (:data:`.mapping.COMMENT_MARKER_KEY`).
- An internal comment is restricted by ``[jira] internal_visibility``: a role or group
  (``visibility``), or ``service-desk`` (the JSM property ``sd.public.comment`` =
  ``{"internal": true}``).  Without that setting an internal comment raises
  :class:`~bridge.errors.SkippableError`.
- A 400 that calls the text too long (:func:`.errors.is_too_long`) stored nothing, so the comment
  is sent once more, cut to :func:`.errors.shorter`.

Plain functions of the connector (``connector.rest``, ``connector.settings``,
``connector.text_policy``, read at each call); the connector's methods wrap them with
:func:`.errors.boundary`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jira.exceptions import JIRAError

from bridge.errors import SkippableError
from bridge.model import Comment, WriteResult

from . import mapping as m
from .errors import is_too_long, refused_fields, shorter
from .markup import build_comment

if TYPE_CHECKING:
    from .client import JiraConnector


def add_comment(connector: JiraConnector, target_id: str, comment: Comment, *, marker: str | None) -> WriteResult:
    body = _comment_body(connector, comment, connector.settings.text_limit)
    if marker:
        body.setdefault("properties", []).insert(0, {"key": m.COMMENT_MARKER_KEY, "value": {"commentId": marker}})
    try:
        reply = connector.rest.send("POST", f"issue/{target_id}/comment", body)
    except JIRAError as exc:  # a 400: nothing was stored, so it may be sent again once
        if not is_too_long(refused_fields(exc), "comment"):
            raise
        body["body"] = _comment_body(connector, comment, shorter(connector.settings.text_limit))["body"]
        reply = connector.rest.send("POST", f"issue/{target_id}/comment", body)
    return WriteResult(str(reply["id"]))


def update_comment(connector: JiraConnector, target_id: str, comment_id: str, comment: Comment) -> WriteResult:
    """Rewrite a comment the bridge wrote: the new text under the same author line.  The
    visibility is sent again (a comment update carries the comment's whole visibility), the
    marker property stays as it is."""
    body = _comment_body(connector, comment, connector.settings.text_limit)
    try:
        connector.rest.send("PUT", f"issue/{target_id}/comment/{comment_id}", body)
    except JIRAError as exc:
        if not is_too_long(refused_fields(exc), "comment"):
            raise
        body["body"] = _comment_body(connector, comment, shorter(connector.settings.text_limit))["body"]
        connector.rest.send("PUT", f"issue/{target_id}/comment/{comment_id}", body)
    return WriteResult(comment_id)


def _comment_body(connector: JiraConnector, comment: Comment, limit: int) -> dict[str, Any]:
    body: dict[str, Any] = {"body": build_comment(comment.text, comment.author,
                                                  connector.text_policy.with_files(comment.files), limit=limit)}
    if comment.internal:
        visibility = connector.settings.internal_visibility
        if visibility is None:
            raise SkippableError("jira: internal comment, but [jira] internal_visibility is not configured")
        if visibility == "service-desk":
            body["properties"] = [{"key": m.SERVICE_DESK_KEY, "value": {"internal": True}}]
        else:
            body["visibility"] = {"type": visibility.type, "value": visibility.value}
    return body

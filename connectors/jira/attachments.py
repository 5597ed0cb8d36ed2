"""Files on Jira issues and sub-tasks: uploads, downloads, and the file markers.

- Upload: one multipart ``POST issue/{id}/attachments`` through :meth:`.rest.JiraRest.upload`,
  after a size check against the smaller of ``[jira] attachment_max_bytes`` and Jira's own
  ``uploadLimit`` (``GET attachment/meta``, read once: :class:`UploadLimit`).  A file above
  either raises :class:`~bridge.errors.PayloadTooLargeError`; attachments switched off in Jira
  raise :class:`~bridge.errors.SkippableError`.
- Markers: ``casavi.attachments`` = ``{jira attachment id: casavi file id}``, an issue property
  written whole right after the upload (:func:`mark_attachment`).  A failed mark does not fail
  the upload (a retry would upload the file twice): the engine plans the mark again, or adopts
  the attachment by name and size.  The property as last written or read whole is kept in the
  connector's ``_attachment_markers`` (a :class:`.recent.Recent`, see the connector's
  ``__init__``), so a mark needs no read first.
- Download: the attachment's content URL (read from ``attachment/{id}`` when the item did not
  carry it), streamed to disk by :meth:`.rest.JiraRest.download`.

Plain functions of the connector (``connector.rest``, ``connector.settings`` and the marker
map, read at each call); the connector's methods wrap them with :func:`.errors.boundary`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from jira.exceptions import JIRAError

from bridge.errors import BridgeError, NotFoundError, PayloadTooLargeError, SkippableError
from bridge.model import Attachment, WriteResult

from . import mapping as m
from .config import JiraSettings
from .recent import Recent
from .rest import JiraRest

if TYPE_CHECKING:
    from .client import JiraConnector

log = structlog.get_logger(__name__)


class UploadLimit:
    """The smaller of attachment_max_bytes and Jira's own limit (read once; unknown = ours)."""

    def __init__(self) -> None:
        self._server_upload_limit: int | None = None
        self._upload_limit_lock = threading.Lock()

    def bytes(self, rest: JiraRest, settings: JiraSettings) -> int:
        with self._upload_limit_lock:  # the first uploads of a mirror run at once: one read
            return self._read_upload_limit(rest, settings)

    def _read_upload_limit(self, rest: JiraRest, settings: JiraSettings) -> int:
        if self._server_upload_limit is None:
            try:
                meta = rest.get("attachment/meta") or {}
            except JIRAError as exc:
                if exc.status_code is None or exc.status_code >= 500 or exc.status_code == 429:
                    raise
                meta = {}
            if meta.get("enabled") is False:
                raise SkippableError("jira: attachments are disabled in this Jira")
            self._server_upload_limit = int(meta.get("uploadLimit") or 0)
        server = self._server_upload_limit
        return min(settings.attachment_max_bytes, server) if server > 0 else settings.attachment_max_bytes


def add_attachment(connector: JiraConnector, target_id: str, name: str, content_type: str, path: Path, *,
                   marker: str | None) -> WriteResult:
    size = path.stat().st_size
    limit = connector._upload_limit.bytes(connector.rest, connector.settings)
    if size > limit:
        raise PayloadTooLargeError(f"jira: {name} has {size} bytes, more than the {limit} allowed")
    # Uploaded through the session rather than JIRA.add_attachment, which sends every file
    # as application/octet-stream and raises after a successful upload when Jira reports
    # size 0 (a retry would then upload the file twice).
    try:
        entry = connector.rest.upload(target_id, name, content_type, path)
    except JIRAError as exc:
        # Data Center answers 404 (not 413) for a file above its limit: when the issue is
        # still there, the 404 was about the file.
        if exc.status_code == 404 and _exists(connector.rest, target_id):
            raise PayloadTooLargeError(f"jira: the upload of {name} ({size} bytes) was refused with 404 "
                                       "although the issue exists (above Jira's attachment limit)") from exc
        raise
    attachment_id = str(entry["id"])
    if marker and _remember_attachment(connector, target_id, attachment_id, marker):
        return WriteResult(attachment_id, fields={"marker": marker})  # the marker is stored
    return WriteResult(attachment_id)


def _exists(rest: JiraRest, issue_id: str) -> bool:
    try:
        rest.issue(issue_id, ("summary",))
    except JIRAError as exc:
        if exc.status_code == 404:
            return False
        raise
    return True


def mark_attachment(connector: JiraConnector, target_id: str, attachment_id: str, marker: str) -> None:
    """Record ``attachment_id`` as the copy of source file ``marker`` (``casavi.attachments``)."""
    known = connector._attachment_markers.get(target_id)
    if known is None:
        known = connector.rest.issue_property(target_id, m.ATTACHMENTS_KEY)
    known = dict(known) if isinstance(known, dict) else {}
    known[attachment_id] = marker
    connector._attachment_markers.forget(target_id)  # unknown until the PUT is through
    connector.rest.send("PUT", f"issue/{target_id}/properties/{m.ATTACHMENTS_KEY}", known)
    connector._attachment_markers.put(target_id, known)


def _remember_attachment(connector: JiraConnector, target_id: str, attachment_id: str, marker: str) -> bool:
    try:
        connector.mark_attachment(target_id, attachment_id, marker)
        return True
    except BridgeError as exc:
        # Not raised: the upload happened, and a retry would upload it again.
        # The next pass sees the unmarked copy and plans the mark again (MarkAttachment).
        log.warning("jira_attachment_marker_not_stored", target_id=target_id, attachment_id=attachment_id,
                    error=str(exc))
        return False


def remember_markers(markers: Recent, raw: dict[str, Any]) -> dict[str, Any]:
    """Keep an issue's (or sub-task's) ``casavi.attachments`` as read whole (a read that asked
    for properties: an absent key means the issue has none)."""
    if "properties" in raw:
        known = (raw.get("properties") or {}).get(m.ATTACHMENTS_KEY) or {}
        if isinstance(known, dict):
            markers.put(str(raw["id"]), dict(known))
    return raw


def download_attachment(rest: JiraRest, attachment: Attachment, dest: Path) -> None:
    url = attachment.url
    if not url:
        url = (rest.get(f"attachment/{attachment.attachment_id}") or {}).get("content")
    if not url:
        raise NotFoundError(f"jira: attachment {attachment.attachment_id} has no content URL")
    rest.download(url, dest)

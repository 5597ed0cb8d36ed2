"""Files on Redmine issues: uploaded and attached (:func:`add_attachment`), downloaded
(:func:`download_attachment`); a file Redmine will not take for a limit of its own is skipped,
with a notice on the issue.

An upload is a ``POST /uploads.json`` (a token), then a ``PUT`` of the issue with the token and
the file's marker as the attachment's description (``casavi-file: ID``, :mod:`.mapping`); the
issue is read back to see the file arrived.

Redmine facts (5.0, app/models/attachment.rb ``validate_max_file_size`` /
``validate_file_extension``, app/controllers/attachments_controller.rb ``upload``): an upload over
"Maximum attachment size" (``Setting.attachment_max_size`` in KB; 5,120 by default, Redmine's
config/settings.yml) or with an extension outside "Allowed extensions" / inside "Disallowed
extensions" answers 422 with ``{"errors": ["This file cannot be uploaded because it exceeds the
maximum allowed file size (5242880)"]}`` or ``["Attachment extension .exe is not allowed"]``, in
the API user's language.  A proxy in front of Redmine may answer 413 first.  A non-admin key
cannot read these settings (Redmine 5.0 has no REST API for settings): ``[redmine]
attachment_max_bytes``, when set, skips larger files before sending them; otherwise Redmine's
answer decides.

The notice is a note of the bridge's with the marker ``notice:file:<casavi file id>``: it is
written once per file (found again by that marker) and never read as a comment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, NoReturn

import structlog

from bridge.errors import BridgeError, FatalError, PayloadTooLargeError, SkippedError
from bridge.model import Attachment, WriteResult
from connectors.redmine import mapping, reads
from connectors.redmine.client import RedmineClient
from connectors.redmine.text import plain_to_redmine

if TYPE_CHECKING:
    from connectors.redmine.connector import RedmineConnector

log = structlog.get_logger()

_ERRORS_RE = re.compile(r'\{"errors":\s*\[.*?\]\}', re.DOTALL)


def add_attachment(connector: RedmineConnector, target_id: str, name: str, content_type: str, path: Path, *,
                   marker: str | None) -> WriteResult:
    """Upload and attach one file.  A file Redmine will not take for a limit of its own (over
    ``[redmine] attachment_max_bytes`` when set; Redmine's 422 for its maximum size or the
    file's extension) gets a notice on the issue instead and raises SkippedError (not
    retried; :func:`skip`)."""
    size = Path(path).stat().st_size
    limit = connector.settings.attachment_max_bytes
    if limit is not None and size > limit:
        skip(connector.client, reads.read_issue(connector, target_id), name, size, marker,
             f"it is larger than {limit:,} bytes", formatting=connector._fmt,
             setting="[redmine] attachment_max_bytes, if Redmine's Maximum attachment size allows more")
    try:
        token, attachment_id = connector.client.upload(Path(path), name)
    except BridgeError as exc:
        reason = refusal(exc)
        if reason is None:
            raise
        skip(connector.client, reads.read_issue(connector, target_id), name, size, marker,
             f"Redmine refused it ({reason})", formatting=connector._fmt,
             setting="Administration » Settings » Files: Maximum attachment size, allowed and disallowed extensions")
    upload = {"token": token, "filename": name, "content_type": content_type,
              "description": mapping.attachment_description(marker)}
    connector.client.put(f"/issues/{target_id}.json", {"issue": {"uploads": [upload]}}, idempotent=False)
    issue = reads.read_issue(connector, target_id)
    if not any(str(a["id"]) == attachment_id for a in issue.get("attachments") or ()):
        raise FatalError(f"upload {attachment_id} did not arrive on #{target_id}")
    log.info("redmine_file_attached", target_id=target_id, attachment_id=attachment_id, size=size)
    return reads.read_back(connector, target_id, written_id=attachment_id, issue=issue)


def download_attachment(client: RedmineClient, attachment: Attachment, dest: Path) -> None:
    client.download(f"/attachments/download/{attachment.attachment_id}", Path(dest))


def refusal(exc: BridgeError) -> str | None:
    """Redmine's reason when ``exc`` is its refusal of an upload for a limit (422, or 413 from
    a proxy); None for any other failure (retried as usual)."""
    if isinstance(exc, PayloadTooLargeError):
        return str(exc)
    if not isinstance(exc, FatalError) or exc.status != 422:
        return None
    match = _ERRORS_RE.search(str(exc))
    if match is not None:
        try:
            return "; ".join(str(e) for e in json.loads(match.group(0))["errors"])
        except (ValueError, KeyError):
            pass
    return str(exc)


def skip(client: RedmineClient, issue: Mapping[str, Any], name: str, size: int, marker: str | None, reason: str,
         *, formatting: str, setting: str) -> NoReturn:
    """Write the notice for a file Redmine will not take on ``issue`` (once: found again by its
    marker), then raise SkippedError naming ``setting``."""
    target_id = str(issue["id"])
    notice = mapping.file_notice_marker(marker or name)
    if not any(mapping.split_note(j.get("notes") or "")[1] == notice for j in issue.get("journals") or ()):
        text = plain_to_redmine(notice_text(name, size, reason), formatting)
        client.put(f"/issues/{target_id}.json", {"issue": {"notes": mapping.note_with_marker(text, notice)}},
                   idempotent=False)
        log.warning("redmine_file_skipped", target_id=target_id, file=name, size=size, reason=reason)
    raise SkippedError(f"{name} ({size} bytes) is not attached to #{target_id}: {reason}; a note on the issue "
                       "says so", setting=setting)


def notice_text(name: str, size: int, reason: str) -> str:
    """What people in Redmine read instead of the file (plain text)."""
    return f"The casavi file {name} ({_size(size)}) is not attached here: {reason}. It stays in casavi."


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"

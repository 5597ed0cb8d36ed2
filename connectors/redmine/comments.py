"""Comments as Redmine notes (journals): written with their marker, rewritten in place.

Redmine facts this code relies on (Redmine 5.0, checked against a real server in the tests):
- Journals cannot carry custom fields: a comment's marker is a trailing HTML comment in the note
  (see :mod:`connectors.redmine.mapping`).
- ``PUT /issues/N.json`` with ``notes`` answers 204 without the journal's id: the note just
  written is found again in the issue's journals (:func:`_newest_note`).

An internal comment is a private note (``[redmine] private_notes_for_internal``); a note Redmine
saved with another visibility is reported in ``WriteResult.dropped``, and one it would save
public (the role lacks "Set notes as private") is not written (:class:`~bridge.errors.RefusedError`).
Plain functions of the connector (``connector.client``, its lookup, text policy and formatting).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from bridge.errors import FatalError, RefusedError, SkippableError
from bridge.model import Comment, WriteResult
from connectors.redmine import mapping, reads
from connectors.redmine.text import to_redmine

if TYPE_CHECKING:
    from connectors.redmine.connector import RedmineConnector

log = structlog.get_logger()


def add_comment(connector: RedmineConnector, target_id: str, comment: Comment, *, marker: str | None) -> WriteResult:
    internal = comment.internal
    if internal and not connector.settings.private_notes_for_internal:
        raise SkippableError("internal comments are not written: [redmine] private_notes_for_internal = false")
    if marker is None and not comment.text.strip():
        raise SkippableError("an empty comment without marker: Redmine would not store it")
    ids = connector._ids()
    if internal and ids.lacks("set_notes_private"):
        # Redmine would drop the flag and show the note to everyone: not written at all.
        raise RefusedError("an internal comment is not written: Redmine would save it as a public note",
                           setting="the bridge user's role needs \"Set notes as private\" (set_notes_private)")
    notes = mapping.note_with_marker(_text(connector, comment), marker)
    connector.client.put(f"/issues/{target_id}.json",
                         {"issue": {"notes": notes, "private_notes": internal}}, idempotent=False)
    # 204 without the journal's id: the newest journal of ours carrying this marker (or,
    # without one, this text) is the one just written.
    issue = reads.read_issue(connector, target_id)
    journal_id = _newest_note(issue, ids.user_id, notes, marker)
    if journal_id is None:
        raise FatalError(f"the note written to #{target_id} cannot be found in its journals")
    journal = next(j for j in issue.get("journals") or () if str(j["id"]) == journal_id)
    stored_private = bool(journal.get("private_notes"))
    log.info("redmine_note_written", target_id=target_id, journal_id=journal_id, private=stored_private)
    dropped = ()
    if stored_private != internal:
        dropped = (f"note #{journal_id} was saved {'private' if stored_private else 'public'}: the bridge user's "
                   "role needs \"Set notes as private\" (set_notes_private)",)
        log.error("redmine_note_visibility_dropped", target_id=target_id, journal_id=journal_id, asked=internal)
    result = reads.read_back(connector, target_id, written_id=journal_id, issue=issue)
    return WriteResult(result.target_id, version=result.version, dropped=dropped)


def update_comment(connector: RedmineConnector, target_id: str, comment_id: str, comment: Comment) -> WriteResult:
    """Rewrite a note the bridge wrote (``PUT /journals/{id}.json``, Redmine 5.0+), keeping its
    marker.  Redmine does not move the issue's ``updated_on`` for a note edit.  An empty text
    would make Redmine delete a journal without other changes: refused instead."""
    if not comment.text.strip():
        raise SkippableError("an edit that empties a note: Redmine would delete the note")
    notes = mapping.note_with_marker(_text(connector, comment), comment.comment_id)
    connector.client.put(f"/journals/{comment_id}.json", {"journal": {"notes": notes}}, idempotent=True)
    log.info("redmine_note_updated", target_id=target_id, journal_id=comment_id)
    return WriteResult(comment_id)


def _text(connector: RedmineConnector, comment: Comment) -> str:
    """The comment's text in the instance's text formatting, the ticket's own files shown inline."""
    return to_redmine(comment.text, connector.text_policy.with_files(comment.files), connector._fmt)


def _newest_note(issue: dict[str, Any], user_id: int, notes: str, marker: str | None) -> str | None:
    wanted = mapping.split_note(notes)
    found = []
    for journal in issue.get("journals") or ():
        if (journal.get("user") or {}).get("id") != user_id or not journal.get("notes"):
            continue
        text, found_marker = mapping.split_note(journal["notes"])
        if (marker is not None and found_marker == marker) or (
                marker is None and found_marker is None and text.strip() == wanted[0].strip()):
            found.append(int(journal["id"]))
    return str(max(found)) if found else None

"""What Redmine did not store of an issue write that it answered with success.

Redmine drops, without an error, every attribute that is not "safe" for the writing user
(``Issue#safe_attribute_names``): a standard field switched off for the tracker
(Administration » Trackers » *tracker* » Standard fields: assignee, parent task, due date,
description and others; ``Tracker::CORE_FIELDS`` in Redmine 5.0's app/models/tracker.rb) and a field the workflow makes read-only
for the user's roles in the issue's status (Administration » Workflow » Fields permissions).
``POST`` still answers 201 and ``PUT`` 204. So each write that can lose a field compares what
it sent with the issue read back, and reports each difference as a sentence naming where it is
switched off: the engine records it as that write's failure (the issue stays linked and is
never written twice).
"""

from __future__ import annotations

from typing import Any, Mapping

from connectors.redmine.mapping import normalize_text

# The issue attributes checked: (attribute sent, the words for the operator).
_CHECKED = (
    ("due_date", "due date"),
    ("assigned_to_id", "assignee"),
    ("parent_issue_id", "parent task"),
    ("description", "description"),
)


def _stored(issue: Mapping[str, Any], attribute: str) -> str:
    if attribute == "assigned_to_id":
        return str((issue.get("assigned_to") or {}).get("id") or "")
    if attribute == "parent_issue_id":
        return str((issue.get("parent") or {}).get("id") or "")
    if attribute == "description":
        return normalize_text(issue.get("description")).strip()
    return str(issue.get(attribute) or "")


def _sent(body: Mapping[str, Any], attribute: str) -> str:
    value = body.get(attribute)
    if attribute == "description":
        return normalize_text(value).strip()
    return "" if value is None else str(value)


def unstored(body: Mapping[str, Any], issue: Mapping[str, Any]) -> list[str]:
    """One sentence per attribute of ``body`` (the ``issue`` object sent) that the issue read
    back (``GET /issues/N.json``) does not carry. A description is compared only for being kept
    at all (Redmine normalises its line endings and may trim it), the others exactly."""
    tracker = (issue.get("tracker") or {}).get("name", "?")
    status = (issue.get("status") or {}).get("name", "?")
    lost = []
    for attribute, words in _CHECKED:
        if attribute not in body:
            continue
        sent, kept = _sent(body, attribute), _stored(issue, attribute)
        if sent == kept or (attribute == "description" and sent and kept):
            continue
        lost.append(f"Redmine did not store the {words} of #{issue.get('id')} ({sent or 'empty'} sent, "
                    f"{kept or 'empty'} kept): the field is switched off for tracker {tracker!r} "
                    f"(Administration » Trackers » {tracker} » Standard fields) or read-only for the bridge "
                    f"user's roles in status {status!r} (Administration » Workflow » Fields permissions)")
    return lost

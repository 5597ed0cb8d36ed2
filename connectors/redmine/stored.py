"""What Redmine did not store of an issue write that it answered with success.

Redmine drops, without an error, every attribute that is not "safe" for the writing user
(``Issue#safe_attribute_names`` in Redmine 5.0's app/models/issue.rb): a standard field
switched off for the tracker (Administration » Trackers » *tracker* » Standard fields:
assignee, parent task, due date, description and others; ``Tracker::CORE_FIELDS``), a field
the workflow makes read-only for the user's roles in the issue's status (Administration »
Workflow » Fields permissions), and a parent task's dates while they are derived from its
sub-tasks (``dates_derived?``: Administration » Settings » Issue tracking » Parent tasks
attributes, "derived" by default). ``POST`` still answers 201 and ``PUT`` 204. So each write
that can lose a field compares what it sent with the issue read back, and reports each
difference as a sentence naming where to look: the engine records it as that write's failure
(the issue stays linked and is never written twice).
"""

from __future__ import annotations

from typing import Any, Mapping

# The issue attributes checked: (attribute sent, the words for the operator).
_CHECKED = (
    ("subject", "title"),
    ("description", "description"),
    ("due_date", "due date"),
    ("assigned_to_id", "assignee"),
    ("parent_issue_id", "parent task"),
)
_SHOWN = 60  # characters of a value quoted in the report


def _text(value: Any) -> str:
    # Redmine stores a description with \r\n line ends (Issue#description=); compared without
    # line-end differences and surrounding blanks.
    return str(value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _stored(issue: Mapping[str, Any], attribute: str) -> str:
    if attribute == "assigned_to_id":
        return str((issue.get("assigned_to") or {}).get("id") or "")
    if attribute == "parent_issue_id":
        return str((issue.get("parent") or {}).get("id") or "")
    return _text(issue.get(attribute))


def _quoted(value: str) -> str:
    if not value:
        return "empty"
    short = value if len(value) <= _SHOWN else value[:_SHOWN] + "…"
    return repr(short)


def unstored(body: Mapping[str, Any], issue: Mapping[str, Any]) -> list[str]:
    """One sentence per attribute of ``body`` (the ``issue`` object sent) that the issue read
    back (``GET /issues/N.json``, with ``include=children`` where the issue may have sub-tasks)
    does not carry as sent."""
    tracker = (issue.get("tracker") or {}).get("name", "?")
    status = (issue.get("status") or {}).get("name", "?")
    lost = []
    for attribute, words in _CHECKED:
        if attribute not in body:
            continue
        sent, kept = _text(body.get(attribute)), _stored(issue, attribute)
        if sent == kept:
            continue
        what = f"Redmine did not store the {words} of #{issue.get('id')} ({_quoted(sent)} sent, {_quoted(kept)} kept)"
        if attribute == "due_date" and issue.get("children"):
            lost.append(f"{what}: Redmine derives a parent task's dates from its sub-tasks (Administration » "
                        "Settings » Issue tracking » Parent tasks attributes: set the dates to 'independent')")
            continue
        lost.append(f"{what}: the field is switched off for tracker {tracker!r} (Administration » Trackers » "
                    f"{tracker} » Standard fields) or read-only for the bridge user's roles in status {status!r} "
                    "(Administration » Workflow » Fields permissions)")
    return lost

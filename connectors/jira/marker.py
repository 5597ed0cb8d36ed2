"""The marker label: how any Jira finds the issue of a ticket, without an app.

An issue property set over REST is stored and readable, but JQL matches it only when an app
declares it for indexing (Forge ``jira:entityProperty``, Connect's entity-property module, a
Data Center plugin's ``index-document-configuration``:
https://developer.atlassian.com/platform/forge/manifest-reference/modules/jira-entity-property/,
https://developer.atlassian.com/server/jira/platform/index-document-configuration).  Labels are
searchable everywhere (``labels = "x"``).  So every issue the bridge creates carries, in the same
create request, a label derived from the source and the ticket id, and the ``casavi`` property
stays the structured record (source, ticket id, internal id).

The label: ``casavi-bridge_<source>_<ticket id escaped>``.  Jira labels take no blanks and at
most 255 characters; ticket ids "can be anything", so every character outside ``A-Z a-z 0-9 . -``
is written as ``~XX`` per UTF-8 byte (``~`` and ``_`` included), which makes the label
reversible: :func:`marker_of_label` gives (source, ticket id) back.  An id whose label would be
longer than 255 characters gets ``casavi-bridge_<source>~<sha256 of the id>`` instead (found
just as well, read back through the property).
"""

from __future__ import annotations

import hashlib
import re

LABEL_PREFIX = "casavi-bridge_"
MAX_LABEL = 255  # Jira refuses longer labels
_PLAIN = re.compile(r"[A-Za-z0-9.\-]")
_ESCAPED = re.compile(r"~([0-9A-F]{2})")
_SOURCE = re.compile(r"^[a-z][a-z0-9]*$")


def marker_label(source: str, item_id: str) -> str:
    """The label that marks the issue of ticket ``item_id`` from ``source``."""
    if not _SOURCE.match(source):
        raise ValueError(f"source name {source!r} cannot be part of a marker label")
    escaped = "".join(ch if _PLAIN.match(ch) else "".join(f"~{b:02X}" for b in ch.encode("utf-8"))
                      for ch in str(item_id))
    label = f"{LABEL_PREFIX}{source}_{escaped}"
    if len(label) <= MAX_LABEL:
        return label
    return f"{LABEL_PREFIX}{source}~{hashlib.sha256(str(item_id).encode('utf-8')).hexdigest()}"


def marker_of_label(label: str) -> tuple[str, str] | None:
    """(source, ticket id) of a marker label; None for any other label (or a digest label)."""
    if not label.startswith(LABEL_PREFIX):
        return None
    source, sep, escaped = label[len(LABEL_PREFIX):].partition("_")
    if not sep or not _SOURCE.match(source):
        return None
    try:
        raw = bytes.fromhex("".join(_ESCAPED.sub(lambda m: m.group(1), part) if part.startswith("~") else
                                    part.encode("ascii").hex() for part in _split(escaped)))
        item_id = raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return (source, item_id) if marker_label(source, item_id) == label else None


def _split(escaped: str) -> list[str]:
    """``escaped`` as runs: each ``~XX`` on its own, plain characters one by one."""
    parts: list[str] = []
    i = 0
    while i < len(escaped):
        if escaped[i] == "~":
            parts.append(escaped[i:i + 3])
            i += 3
        else:
            parts.append(escaped[i])
            i += 1
    return parts


def labels_of(raw_issue: dict) -> list[str]:
    labels = (raw_issue.get("fields") or {}).get("labels") or []
    return [str(label) for label in labels if isinstance(label, str)]

"""Shortening wiki text to a Jira instance's text limit without breaking its markup.

Jira refuses a description or comment above ``jira.text.field.character.limit`` (32,767 unless
an administrator changed it; instances with 65,534 exist) with 400 "The entered text is too
long. It exceeds the allowed limit of 32,767 characters." (mozilla/jira-bugzilla-integration#180,
release-engineering/Sync2Jira#123).  Jira is Java: it counts UTF-16 code units, so an emoji
counts twice; this module counts the same way.  Text cut inside a ``{code}``/``{noformat}``
block has been refused below the limit (mozilla/jira-bugzilla-integration#1030: "Conversion of
truncated markdown to Jira can lead to error ... exceeds the allowed limit"), so the cut is made
at a line (else a word) boundary, never inside a macro tag or a link, and every block still open
there is closed.  The text then says it was shortened.
"""

from __future__ import annotations

import re

NOTE = "\n\n_(shortened by casavi-bridge: the full text is in casavi)_"
_TAG = re.compile(r"\{(code|noformat|quote|panel)(?::[^}]*)?\}")
_VERBATIM = ("code", "noformat")  # inside these, other tags are text
_LOOK_BACK = 2000  # how far back from the budget a line boundary is looked for


def java_length(text: str) -> int:
    """The length Jira sees: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _prefix_within(text: str, budget: int) -> str:
    """The longest prefix of ``text`` whose UTF-16 length is at most ``budget``."""
    if java_length(text) <= budget:
        return text
    cut = min(len(text), budget)
    while cut > 0 and java_length(text[:cut]) > budget:
        cut -= max(1, (java_length(text[:cut]) - budget) // 2)
    return text[:max(cut, 0)]


def _open_blocks(text: str) -> list[str]:
    """The blocks still open at the end of ``text``, outermost first."""
    stack: list[str] = []
    for match in _TAG.finditer(text):
        name = match.group(1)
        if stack and stack[-1] in _VERBATIM:
            if name == stack[-1]:
                stack.pop()
            continue
        if stack and stack[-1] == name:
            stack.pop()
        else:
            stack.append(name)
    return stack


def _safe_end(text: str) -> str:
    """``text`` without a dangling, unfinished ``{tag`` or ``[link`` at its end."""
    for opener, closer in (("{", "}"), ("[", "]")):
        last = text.rfind(opener)
        if last != -1 and closer not in text[last:]:
            text = text[:last]
    return text


def shorten(wiki: str, limit: int, note: str = NOTE) -> str:
    """``wiki`` if Jira takes it, else a prefix cut at a boundary, open blocks closed, plus ``note``;
    the result's UTF-16 length is at most ``limit``."""
    if java_length(wiki) <= limit:
        return wiki
    reserve = java_length(note) + 64  # room for the closing tags
    head = _prefix_within(wiki, max(0, limit - reserve))
    boundary = head.rfind("\n", max(0, len(head) - _LOOK_BACK))
    if boundary <= 0:
        boundary = max(head.rfind(" ", max(0, len(head) - _LOOK_BACK)), 0)
    head = _safe_end(head[:boundary] if boundary > 0 else head).rstrip()
    closing = "".join("\n{" + name + "}" for name in reversed(_open_blocks(head)))
    result = head + closing + note
    if java_length(result) > limit:  # many open blocks: give up text, never the closing tags
        return shorten(wiki[: max(0, len(head) - (java_length(result) - limit) - 1)], limit, note)
    return result

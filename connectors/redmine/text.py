"""Text between casavi/relay and Redmine, under the shared text policy (:mod:`bridge.markup`).

Redmine stores text as typed and renders it with the instance's text formatting
(Administration → Settings → General → Text formatting), which a non-admin key cannot read over
REST (Redmine 5.0 has no settings API): ``[redmine] text_formatting`` names it, "textile" (Redmine's
default) or "common_mark".  Textile goes through :mod:`connectors.redmine.textile`.
Besides markdown, Redmine reads its own syntax in the stored text, and tenant text must not use it:

- ``@login`` mentions a user and notifies them (Redmine ≥ 5.0; ``Redmine::Acts::Mentionable``
  scans the raw text with ``(?:^|\\W)@([A-Za-z0-9_\\-@\\.]*?)…``, and ``ApplicationHelper``'s
  ``parse_redmine_links`` links ``@login``, ``user:login`` and ``user#id`` to the person when
  the text is shown);
- ``{{name(args)}}`` runs a wiki macro (``catch_macros``: the two braces must touch).

An invisible WORD JOINER (U+2060) after ``@``, between ``{{`` and after ``user`` breaks those
patterns (neither is a word character nor whitespace to Ruby's regexes) and leaves the text
looking as it was typed.  ``#123`` (a link to another Redmine issue) stays: it names no person.
Back to casavi, ``@login`` becomes the person's name where the connector knows it.
"""

from __future__ import annotations

import re

from bridge.markup import TenantTextPolicy, ToolTextPolicy
from bridge.markup.markdown import escape_markdown, render_markdown
from bridge.markup.policy import WORD_JOINER

from .textile import markdown_to_textile, plain_to_textile, textile_to_markdown

_MENTION_RE = re.compile(r"(?<![A-Za-z0-9_])@")
_USER_LINK_RE = re.compile(r"(?i)(?<![A-Za-z0-9_])(user)(?=[:#])")
_MENTIONED_RE = re.compile(r"(?<![A-Za-z0-9_])@([A-Za-z0-9_][A-Za-z0-9_\-@.]*?)(?=[.,;:!?)\]]?(?:\s|\Z)|[^A-Za-z0-9_\-@.])")


def quiet(text: str) -> str:
    """Text in which Redmine finds no mention, user link or macro (see the module docstring)."""
    text = _MENTION_RE.sub("@" + WORD_JOINER, text)
    text = _USER_LINK_RE.sub(lambda m: m.group(1) + WORD_JOINER, text)
    return text.replace("{{", "{" + WORD_JOINER + "{")


TEXTILE, COMMON_MARK = "textile", "common_mark"  # Redmine's names (Setting.text_formatting)


def to_redmine(markdown: str, policy: ToolTextPolicy, formatting: str = COMMON_MARK) -> str:
    """casavi/relay markdown → the text Redmine stores for ``formatting``, under ``policy``."""
    if formatting == TEXTILE:
        return markdown_to_textile(markdown, policy, quiet)
    return render_markdown(markdown, policy, quiet)


def plain_to_redmine(text: str, formatting: str = COMMON_MARK) -> str:
    """A one-line value (a header fact) as plain text in ``formatting``."""
    if formatting == TEXTILE:
        return plain_to_textile(text, quiet)
    return escape_markdown(quiet(ToolTextPolicy().text(text)))


def from_redmine(text: str, policy: TenantTextPolicy, formatting: str = COMMON_MARK) -> str:
    """A Redmine note in ``formatting`` → casavi/relay markdown: mentions become names, links
    follow ``policy``."""
    if formatting == TEXTILE:
        return textile_to_markdown(text, policy, _MENTIONED_RE)
    return render_markdown(text, policy, lambda t: _MENTIONED_RE.sub(lambda m: policy.mention(m.group(1)), t))

"""What tenant text may become in a tool, and what tool text may become for tenants.

Tickets and comments come from tenants and owners, outside the company; staff open them in Jira
or Redmine.  Tool comments and sub-items go the other way, into casavi and relay, where tenants
read them.  Each direction has one policy object, and every connector's markup renderer asks it
about each link, image and mention *as the markdown library parsed it* (mistletoe resolves
reference links, entities and escapes before the renderer sees a destination), so no syntax
the library knows can slip past a string filter:

- :class:`ToolTextPolicy` (casavi/relay → tool): only ``http``, ``https`` and ``mailto`` become
  links; an image is shown only when it is one of the ticket's own files (by file name), any
  other image becomes a plain link (allowed scheme) or plain text; nothing in tenant text may
  mention or notify a tool user, run a macro, or be auto-linked by the tool with another scheme.
- :class:`TenantTextPolicy` (tool → casavi/relay): the same scheme rule; relative links to the
  tool's own issues become absolute links to them; user mentions become names; no image is
  embedded (tenants' browsers fetch nothing a staff member chose), images become links or text.

Scheme parsing follows the WHATWG URL standard's first steps (https://url.spec.whatwg.org/#concept-basic-url-parser):
leading/trailing C0 controls and spaces are stripped and ASCII tab/newline removed anywhere, then
the scheme is the ``ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`` before the first ``:``
(RFC 3986 §3.1), compared case-insensitively.  A destination without a scheme (relative,
``//host``, ``www.…``) is not a link: it would resolve against the tool's own host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import unquote, urlsplit

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})

_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_NEWLINE_RE = re.compile("[\t\n\r]")
_SCHEME_RE = re.compile(r"\A([A-Za-z][A-Za-z0-9+.\-]*):")
# Text a tool may turn into a link by itself: "scheme://…" for any scheme, and these schemes
# without slashes (Jira's and Redmine's auto-linkers, and browsers' own handlers).
_OPAQUE_SCHEMES = ("javascript", "vbscript", "data", "file", "callto", "skype", "tel", "sms", "news",
                   "nntp", "telnet", "irc", "ircs", "ftp", "sftp", "ftps", "gopher", "mailto", "livescript")
_OPAQUE_RE = re.compile(r"(?i)(?<![a-z0-9])(" + "|".join(_OPAQUE_SCHEMES) + r")(?=:)")
_SLASHES_RE = re.compile(r"(?i)(?<![a-z0-9+.\-])([a-z][a-z0-9+.\-]*)(?=://)")
WORD_JOINER = "\u2060"  # invisible, no width, and no word character in any tool's pattern
ZERO_WIDTH_SPACE = "\u200b"


def normalize_url(target: str) -> str:
    """The destination as a browser reads it: outer controls/spaces stripped, tab/newline removed."""
    return _TAB_NEWLINE_RE.sub("", (target or "").strip(_C0_AND_SPACE))


def url_scheme(target: str) -> str | None:
    """The lower-cased scheme of a link destination, or None for a relative one."""
    match = _SCHEME_RE.match(normalize_url(target))
    return match.group(1).lower() if match else None


def break_schemes(text: str, allowed: frozenset[str] = ALLOWED_SCHEMES) -> str:
    """Plain text in which no tool's auto-linker finds a link with a scheme outside ``allowed``.

    ``file://x`` or ``javascript:x`` typed as text stays readable: an invisible zero-width space
    is put before its colon, so ``scheme:`` is no longer one token.  Allowed schemes are left
    as they are (the tool may link them: that is the same as a link the policy allows).
    """
    def one(match: re.Match) -> str:
        scheme = match.group(1)
        return scheme if scheme.lower() in allowed else scheme + ZERO_WIDTH_SPACE
    return _SLASHES_RE.sub(one, _OPAQUE_RE.sub(one, text))


@dataclass(frozen=True)
class ImageChoice:
    """How to show an image: ``kind`` is "file" (``value`` = the file name), "link" (``value`` =
    the URL to link to) or "text" (``value`` None: show the alt text and the source as text)."""

    kind: str
    value: str | None = None


def _file_name(src: str) -> str:
    """The last path segment of an image source, percent-decoded (``a/b%20c.png`` → ``b c.png``)."""
    path = normalize_url(src)
    try:
        path = urlsplit(path).path or path
    except ValueError:
        pass
    return unquote(path.rstrip("/").rsplit("/", 1)[-1])


@dataclass(frozen=True)
class ToolTextPolicy:
    """casavi/relay text → tool markup.  ``files``: names of the ticket's own files (shown inline).

    Immutable; a connector keeps one and asks :meth:`with_files` for the ticket at hand.
    """

    files: frozenset[str] = frozenset()
    schemes: frozenset[str] = ALLOWED_SCHEMES

    def with_files(self, names) -> "ToolTextPolicy":
        return ToolTextPolicy(frozenset(n for n in names if n), self.schemes)

    def link(self, target: str) -> str | None:
        """The URL to link to (normalised), or None: the link stays text."""
        scheme = url_scheme(target)
        return normalize_url(target) if scheme in self.schemes else None

    def image(self, src: str) -> ImageChoice:
        """An image is never fetched from a tenant-chosen host: the ticket's file, a link or text."""
        name = _file_name(src)
        if name in self.files:
            return ImageChoice("file", name)
        url = self.link(src)
        return ImageChoice("link", url) if url else ImageChoice("text")

    def text(self, text: str) -> str:
        """Plain text with other schemes broken (the tool's auto-linker makes no link of them)."""
        return break_schemes(text, self.schemes)


@dataclass(frozen=True)
class TenantTextPolicy:
    """Tool text → casavi/relay markdown.

    ``tool_url`` is the tool's base URL; a relative link whose path matches ``issue_path`` (Jira
    ``/browse/OPS-1``, Redmine ``/issues/7``) is kept as an absolute link to that issue.  ``names``
    turns a mention (Jira user name or account id, Redmine login) into a person's name; without
    one, or when it knows nobody, the mention becomes the bare identifier, without ``@``.
    """

    tool_url: str | None = None
    issue_path: str = r"/(?:browse/[A-Z][A-Z0-9_]*-\d+|issues/\d+)(?:[?#].*)?"
    names: Callable[[str], str | None] | None = field(default=None, compare=False)
    schemes: frozenset[str] = ALLOWED_SCHEMES

    def link(self, target: str) -> str | None:
        url = normalize_url(target)
        if url_scheme(url) in self.schemes:
            return url
        if self.tool_url and re.fullmatch(self.issue_path, url):
            return self.tool_url.rstrip("/") + url
        return None

    def image(self, src: str) -> ImageChoice:
        url = self.link(src)
        return ImageChoice("link", url) if url else ImageChoice("text")

    def mention(self, identifier: str) -> str:
        ident = identifier.strip()
        if ident.lower().startswith("accountid:"):
            ident = ident[len("accountid:"):]
        name = self.names(ident) if self.names is not None else None
        return name or ident

    def text(self, text: str) -> str:
        return break_schemes(text, self.schemes)

"""Markdown → markdown under a text policy: for tools that store markdown (Redmine with
CommonMark) and for text written back to casavi and relay.

mistletoe parses the text (every link syntax it knows: inline, reference, autolink; entities
and backslash escapes resolved), and :class:`PolicyMarkdownRenderer` writes it again, asking the
policy about each link, autolink and image.  Plain text is written escaped, so what was text
stays text: raw HTML is shown as text, reference definitions are dropped (their links are
written inline), ``<`` is written as ``&lt;``.  A ``plain`` hook rewrites tool-specific syntax in
every piece of text (Redmine mentions and macros, mention placeholders → names).
"""

from __future__ import annotations

import re
import threading
from typing import Callable, Iterable
from urllib.parse import quote

import mistletoe
from mistletoe import block_token, span_token
from mistletoe.markdown_renderer import Fragment, MarkdownRenderer

from .policy import TenantTextPolicy, ToolTextPolicy

# mistletoe registers tokens globally: every render in the process (Jira wiki too) takes this lock.
RENDER_LOCK = threading.RLock()

_ALWAYS = set("\\`*[]~")
_LINE_START_RE = re.compile(r"\A(\s*)(#{1,6}(?=\s|\Z)|[-+*=>]|\d{1,9}[.)])")
_ENTITY_RE = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_URL_SAFE = "/:?#@!$&'()*+,;=%~-._"  # RFC 3986 reserved and unreserved, minus brackets and angles


def escape_markdown(text: str) -> str:
    """Plain text as CommonMark that shows exactly ``text`` (no emphasis, link, HTML, entity)."""
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        prev = text[i - 1] if i else " "
        nxt = text[i + 1] if i + 1 < n else " "
        if ch in _ALWAYS:
            out.append("\\" + ch)
        elif ch == "_" and not (prev.isalnum() and nxt.isalnum()):
            out.append("\\_")
        elif ch == "!" and nxt == "[":
            out.append("\\!")
        elif ch == "<":
            out.append("&lt;")
        elif ch == "&" and _ENTITY_RE.match(text, i):
            out.append("&amp;")
        else:
            out.append(ch)
    return "".join(out)


def escape_line(line: str) -> str:
    """A line of plain text that opens no block (heading, list, quote, code) where it starts."""
    line = escape_markdown(line.lstrip(" \t"))
    return _LINE_START_RE.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], line, count=1)


def markdown_url(url: str) -> str:
    """A URL safe inside ``<…>``: spaces, angle brackets and controls percent-encoded."""
    return quote(url, safe=_URL_SAFE)


Policy = ToolTextPolicy | TenantTextPolicy


class PolicyMarkdownRenderer(MarkdownRenderer):
    """mistletoe's markdown renderer with the policy applied to links, autolinks and images."""

    def __init__(self, policy: Policy, plain: Callable[[str], str] = lambda text: text):
        super().__init__()
        self.policy = policy
        self.plain = plain

    # -- text ---------------------------------------------------------------------------
    def _text(self, text: str) -> str:
        return escape_markdown(self.plain(self.policy.text(text)))

    def render_raw_text(self, token) -> Iterable[Fragment]:
        yield Fragment(self._text(token.content), wordwrap=True)

    def render_escape_sequence(self, token) -> Iterable[Fragment]:
        yield Fragment(self._text(token.children[0].content))

    def render_inline_code(self, token) -> Iterable[Fragment]:
        content = self.plain(self.policy.text(token.children[0].content if token.children else ""))
        fence = "`" * (max((len(r) for r in re.findall("`+", content)), default=0) + 1)
        pad = " " if content.startswith("`") or content.endswith("`") or not content.strip() else ""
        yield Fragment(fence + pad + content + pad + fence)

    def render_html_span(self, token) -> Iterable[Fragment]:
        yield Fragment(self._text(token.content))

    def render_html_block(self, token, max_line_length=None) -> Iterable[str]:
        lines = token.content.rstrip("\n").split("\n")
        return [escape_line(self.plain(self.policy.text(line))) for line in lines]

    def render_block_code(self, token, max_line_length=None) -> Iterable[str]:
        return self._fenced("", token.content)

    def render_fenced_code_block(self, token, max_line_length=None) -> Iterable[str]:
        info = re.sub(r"[^\w+#.-]", "", token.info_string.split(" ", 1)[0]) if token.info_string else ""
        return self._fenced(info, token.content)

    def _fenced(self, info: str, content: str) -> list[str]:
        lines = self.plain(content[:-1] if content.endswith("\n") else content).split("\n")
        fence = "`" * max(3, max((len(r) + 1 for r in re.findall("`{3,}", content)), default=3))
        return [fence + info, *lines, fence]

    # -- links and images -------------------------------------------------------------------
    def render_link(self, token) -> Iterable[Fragment]:
        url = self.policy.link(token.target)
        if url is None:
            yield from self._as_text(token.children, token.target)
            return
        yield from self.embed_span(Fragment("["), token.children, Fragment("](<" + markdown_url(url) + ">)"))

    def render_auto_link(self, token) -> Iterable[Fragment]:
        target = ("mailto:" if token.mailto else "") + token.target
        url = self.policy.link(target)
        if url is None:
            yield Fragment(self._text(token.target))
        elif token.mailto and re.fullmatch(r"[^\s<>\\]+@[^\s<>\\]+", token.target):
            yield Fragment("<" + token.target + ">")
        else:
            yield Fragment("<" + markdown_url(url) + ">")

    def render_image(self, token) -> Iterable[Fragment]:
        choice = self.policy.image(token.src)
        if choice.kind == "file":
            yield from self.embed_span(Fragment("!["), token.children,
                                       Fragment("](<" + markdown_url(choice.value or "") + ">)"))
        elif choice.kind == "link":
            yield from self.embed_span(Fragment("["), token.children,
                                       Fragment("](<" + markdown_url(choice.value or "") + ">)"))
        else:
            yield from self._as_text(token.children, token.src)

    def _as_text(self, children, target: str) -> Iterable[Fragment]:
        """A link the policy refuses: its text, then its destination, both plain and visible."""
        inner = list(self.make_fragments(children))
        shown = self._text(target.strip())
        if not inner:
            yield Fragment(shown)
            return
        yield from inner
        if shown and shown != "".join(f.text for f in inner):
            yield Fragment(" (" + shown + ")")

    def render_link_reference_definition_block(self, token, max_line_length=None) -> Iterable[str]:
        return []  # links were written inline


def render_markdown(text: str, policy: Policy, plain: Callable[[str], str] = lambda t: t) -> str:
    """``text`` (markdown) written again under ``policy``; no trailing newline."""
    if not text or not text.strip():
        return ""
    with RENDER_LOCK:
        block_token.reset_tokens()
        span_token.reset_tokens()
        with PolicyMarkdownRenderer(policy, plain) as renderer:
            out = renderer.render(mistletoe.Document(text))
    return out.rstrip()

"""casavi markdown ⇄ Redmine Textile (Redmine's default text formatting).

Redmine ships with ``text_formatting: default: textile`` (config/settings.yml in Redmine's
source); ``[redmine] text_formatting`` tells the bridge which one the instance uses.

- markdown → Textile: mistletoe parses the markdown and :class:`TextileRenderer` writes Textile.
  No converter library is used here on purpose: the ones on PyPI (``markdown2textile``, pandoc's
  Textile writer through ``pypandoc``) work on text or on their own tree, so the text policy
  (:mod:`bridge.markup`) could not be asked about each link and image *as the markdown parser
  resolved it*, and none escapes tenant text for Redmine's RedCloth3 (``Zimmer -3- und -4-``
  would be struck through).  The renderer is small and follows RedCloth3 as Redmine 5.0
  patches it (lib/redmine/wiki_formatting/textile/redcloth3.rb):
  plain text that contains any character Textile may read is put inside ``<notextile>…</notextile>``
  (one of RedCloth3's ``OFFTAGS``: its content is HTML-escaped and never formatted; the tag is
  in ``ALLOWED_TAGS``), with ``<`` before an off-tag name broken by a word joiner so tenant text
  cannot close it.  Redmine sets ``hard_breaks``: a newline inside a paragraph is a line break,
  as casavi's text areas mean it.
- Textile → markdown (notes and sub-items people wrote in Redmine): the ``textile`` library
  (python-textile, restricted mode: raw HTML is shown as text) renders HTML, ``markdownify``
  turns that into markdown, and the shared markdown renderer applies the tenant policy.
"""

from __future__ import annotations

import re
from typing import Callable
from urllib.parse import quote

import markdownify
import mistletoe
import textile
from mistletoe import block_token, span_token
from mistletoe.base_renderer import BaseRenderer

from bridge.markup import TenantTextPolicy, ToolTextPolicy
from bridge.markup.markdown import RENDER_LOCK, render_markdown
from bridge.markup.policy import WORD_JOINER

# Plain text made only of these is never read as Textile by RedCloth3 (letters, digits, spaces
# and sentence punctuation); anything else goes inside <notextile>.
_BARE_RE = re.compile(r"[\w \t.,;:?’]*", re.UNICODE)
# A line that starts like a block signature ("p. ", "h2. ", "bq. ", "fn1. ", "table. ", ...).
_SIGNATURE_RE = re.compile(r"\A\s*[a-z]+\d*[.(]", re.IGNORECASE)
_OFFTAG_RE = re.compile(r"<(?=/?(?:code|pre|kbd|notextile|redpre)\b)", re.IGNORECASE)
_IMAGE_NAME_RE = re.compile(r"\A[\w.\-]+\Z")
_URL_SAFE = "/:?#@!$&'*+,;=%~-._"  # like markdown_url, without parentheses (they would end the URL)


def notextile(text: str) -> str:
    """Text RedCloth3 shows exactly as it is (see the module docstring)."""
    if not text:
        return ""
    if _BARE_RE.fullmatch(text) and not _SIGNATURE_RE.match(text) and "_" not in text:
        return text
    return "<notextile>" + _OFFTAG_RE.sub("<" + WORD_JOINER, text) + "</notextile>"


def textile_url(url: str) -> str:
    """A URL RedCloth3 reads whole in ``"text":url`` (spaces, quotes, brackets percent-encoded)."""
    return quote(url.strip(), safe=_URL_SAFE)


class TextileRenderer(BaseRenderer):
    """mistletoe tree → Redmine Textile, tenant text under a :class:`ToolTextPolicy`.

    ``plain`` rewrites Redmine's own syntax in every piece of text (mentions, macros)."""

    def __init__(self, policy: ToolTextPolicy, plain: Callable[[str], str]):
        self.policy = policy
        self.plain = plain
        self._lists: list[str] = []
        super().__init__()

    # -- inline ---------------------------------------------------------------------------
    def _text(self, text: str) -> str:
        return notextile(self.plain(self.policy.text(text)))

    def render_inner(self, token) -> str:
        out: list[str] = []
        after_link = False
        for child in token.children or ():
            piece = self.render(child)
            # RedCloth3 ends a link's URL only before whitespace, "<" or the end of the text.
            if after_link and piece and not piece[0].isspace():
                piece = "<notextile></notextile>" + piece
            after_link = piece.endswith("\x00")
            out.append(piece.rstrip("\x00"))
        return "".join(out)

    def render_raw_text(self, token) -> str:
        return self._text(token.content)

    def render_escape_sequence(self, token) -> str:
        return self._text(token.children[0].content)

    def render_html_span(self, token) -> str:
        return self._text(token.content)

    def render_strong(self, token) -> str:
        return self._span("*", token)

    def render_emphasis(self, token) -> str:
        return self._span("_", token)

    def render_strikethrough(self, token) -> str:
        return self._span("-", token)

    def _span(self, mark: str, token) -> str:
        inner = self.render_inner(token)
        return f"{mark}{inner}{mark}" if inner.strip() else inner

    def render_inline_code(self, token) -> str:
        content = self.plain(self.policy.text(token.children[0].content if token.children else ""))
        return "<code>" + _OFFTAG_RE.sub("<" + WORD_JOINER, content) + "</code>"

    def render_line_break(self, token) -> str:
        return "\n"  # soft and hard breaks alike: casavi text areas mean their line breaks

    def render_link(self, token) -> str:
        url = self.policy.link(token.target)
        inner = self.render_inner(token)
        if url is None:
            return self._as_text(inner, token.target)
        return f'"{inner or self._text(url)}":{textile_url(url)}\x00'

    def render_auto_link(self, token) -> str:
        target = ("mailto:" if token.mailto else "") + token.target
        url = self.policy.link(target)
        if url is None:
            return self._text(token.target)
        return f'"{self._text(token.target)}":{textile_url(url)}\x00'

    def render_image(self, token) -> str:
        choice = self.policy.image(token.src)
        alt = self.render_inner(token)
        if choice.kind == "file" and _IMAGE_NAME_RE.match(choice.value or ""):
            return f"!{choice.value}!"
        if choice.kind in ("file", "link") and choice.value:
            url = self.policy.link(choice.value)
            if url is not None:
                return f'"{alt or self._text(url)}":{textile_url(url)}\x00'
        return self._as_text(alt, token.src)

    def _as_text(self, inner: str, target: str) -> str:
        shown = self._text(target.strip())
        if not inner:
            return shown
        return inner if not shown or shown == inner else f"{inner} {notextile('(')}{shown}{notextile(')')}"

    # -- blocks ---------------------------------------------------------------------------
    def render_document(self, token) -> str:
        return "\n\n".join(b for b in (self.render(c) for c in token.children) if b.strip())

    def render_paragraph(self, token) -> str:
        return self.render_inner(token).strip("\n")

    def render_heading(self, token) -> str:
        inner = self.render_inner(token)
        return f"h{token.level}. {inner}" if inner.strip() else ""

    render_setext_heading = render_heading

    def render_quote(self, token) -> str:
        blocks = [self.render(c) for c in token.children]
        return "\n\n".join("bq. " + b if isinstance(c, block_token.Paragraph) else b
                           for c, b in zip(token.children, blocks) if b.strip())

    def render_block_code(self, token) -> str:
        content = token.children[0].content if token.children else ""
        content = self.plain(content.rstrip("\n"))
        return "<pre>" + _OFFTAG_RE.sub("<" + WORD_JOINER, content) + "</pre>" if content.strip() else ""

    render_code_fence = render_block_code

    def render_list(self, token) -> str:
        self._lists.append("#" if token.start is not None else "*")
        try:
            return "\n".join(i for i in (self.render(c) for c in token.children) if i)
        finally:
            self._lists.pop()

    def render_list_item(self, token) -> str:
        lines, nested = [], []
        for child in token.children:
            if isinstance(child, block_token.List):
                nested.append(self.render(child))
            else:
                lines.append(self.render(child))
        text = "\n".join(line for line in lines if line.strip())
        head = "".join(self._lists) + " " + text if text.strip() else ""
        return "\n".join(x for x in [head, *nested] if x)

    def render_thematic_break(self, token) -> str:
        return notextile("———")

    def render_html_block(self, token) -> str:
        return "\n".join(self._text(line) for line in token.content.rstrip("\n").split("\n"))

    def render_link_reference_definition_block(self, token) -> str:
        return ""  # links were written inline

    def render_table(self, token) -> str:
        rows = []
        if hasattr(token, "header") and token.header is not None:
            rows.append("|" + "|".join("_. " + (self.render_inner(c) or " ") for c in token.header.children) + "|")
        rows += ["|" + "|".join(self.render_inner(c) or " " for c in row.children) + "|" for row in token.children]
        return "\n".join(rows)

    def render_table_row(self, token) -> str:
        return "|" + "|".join(self.render_inner(c) or " " for c in token.children) + "|"

    def render_table_cell(self, token) -> str:
        return self.render_inner(token)


def markdown_to_textile(markdown: str, policy: ToolTextPolicy, plain: Callable[[str], str] = lambda t: t) -> str:
    """casavi/relay markdown → Redmine Textile under ``policy``; no trailing newline."""
    if not markdown or not markdown.strip():
        return ""
    with RENDER_LOCK:
        block_token.reset_tokens()
        span_token.reset_tokens()
        with TextileRenderer(policy, plain) as renderer:
            out = renderer.render(mistletoe.Document(markdown))
    return out.replace("\x00", "").rstrip()


def plain_to_textile(text: str, plain: Callable[[str], str] = lambda t: t) -> str:
    """A one-line value (a header fact) as Textile plain text."""
    return notextile(plain(ToolTextPolicy().text(" ".join(str(text).split()))))


_MENTION_OPEN, _MENTION_CLOSE = "\ue100", "\ue101"


def textile_to_markdown(text: str, policy: TenantTextPolicy, mention_re: re.Pattern) -> str:
    """Redmine Textile (a person's note) → casavi/relay markdown under ``policy``.

    ``@login`` mentions (``mention_re``, group 1 the login) are kept apart from Textile's
    ``@code@`` and become names through ``policy.mention``."""
    if not text or not text.strip():
        return ""
    guarded = mention_re.sub(lambda m: _MENTION_OPEN + m.group(1) + _MENTION_CLOSE, text.replace("\r\n", "\n"))
    html = textile.textile_restricted(guarded, lite=False, noimage=False)
    markdown = markdownify.markdownify(html, heading_style="ATX", bullets="-").strip()
    pattern = re.compile(_MENTION_OPEN + "([^" + _MENTION_CLOSE + "]*)" + _MENTION_CLOSE)
    out = render_markdown(markdown, policy, lambda t: pattern.sub(lambda m: policy.mention(m.group(1)), t))
    return out.replace(_MENTION_OPEN, "").replace(_MENTION_CLOSE, "")


__all__ = ["TextileRenderer", "markdown_to_textile", "notextile", "plain_to_textile", "textile_to_markdown",
           "textile_url"]

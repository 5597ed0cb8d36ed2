"""casavi markdown ⇄ Jira wiki markup, and the casavi header block above a description.

Decision: the connector talks REST API **v2** on Cloud and on Server/Data Center, where
``description`` and comment ``body`` are wiki text on both (v3 would need ADF on Cloud only).

- markdown → wiki: mistletoe's ``JiraRenderer``, subclassed because its escaping lets text
  break out of wiki syntax (``{code}`` inside a code block, ``|`` in table cells escaped twice,
  ``!x!`` becoming an image, ``h1.`` at a line start becoming a heading, raw HTML passed
  through).  Plain text in the source stays plain text in Jira.
- wiki → markdown: ``jira2markdown``.  It does not know wiki backslash escapes, so escaped
  characters are swapped for placeholders around the conversion and come back as markdown
  escapes (or as themselves where markdown gives them no meaning).
- The header block (facts and the link back to casavi) is a ``{panel:title=casavi}`` at the
  top of the description.  It is part of the description as read back (as a markdown quote),
  like every connector's header (the shared contract: facts are visible in the description);
  the planner hashes the facts with the description on the source side, so this is stable.
"""

from __future__ import annotations

import re
import threading
from typing import Iterable
from urllib.parse import quote

import jira2markdown.parser  # noqa: F401  (sets pyparsing's whitespace handling its grammar needs)
import mistletoe
from jira2markdown.elements import MarkupElements
from jira2markdown.markup.links import Link, Mention
from mistletoe import block_token, span_token
from mistletoe.base_renderer import URI_SAFE_CHARACTERS, BaseRenderer
from mistletoe.contrib.jira_renderer import JiraRenderer
from pyparsing import Forward, MatchFirst

from bridge.markup import TenantTextPolicy, ToolTextPolicy
from bridge.markup.markdown import RENDER_LOCK, render_markdown

from .limits import shorten

TEXT_LIMIT = 32_767  # Jira's default description/comment limit; [jira] text_limit sets the instance's

HEADER_TITLE = "casavi"
_HEADER_OPEN = "{panel:title=" + HEADER_TITLE + "}"
_COMMENT_HEADER_RE = re.compile(r"\A\*((?:\\.|[^*\\\n])+)\* via casavi:[ \t]*(?:\n\n?|\Z)")
_ZWSP = "\u200b"

# Characters that open or close wiki markup or macros wherever they stand.
_ALWAYS = set("{}[]|!")
# Text-effect characters: harmless between two letters/digits ("E-Mail", "snake_case").
_EFFECTS = set("*_-+^~")
_LINE_START_RE = re.compile(r"(?m)^(h[1-6]|bq)\.(?=\s)|^([#*-])(?=\s)")

# mistletoe registers tokens globally; renders are serialised so threads do not interleave.
_render_lock = RENDER_LOCK


def escape_text(text: str) -> str:
    """Escape plain text so Jira shows it literally (no macros, links, effects, tables)."""
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        prev = text[i - 1] if i > 0 else " "
        nxt = text[i + 1] if i + 1 < n else ""
        if ch == "\\":
            # "\\" is a forced line break in wiki and "\x" an escape: a backslash that could
            # pair with the next character (or with whatever follows this piece) is an entity.
            out.append(ch if nxt.isalnum() else "&#92;")
        elif ch in _ALWAYS:
            out.append("\\" + ch)
        elif ch == "?" and (nxt == "?" or prev == "?"):
            out.append("\\?")  # ??citation??
        elif ch in _EFFECTS and not (prev.isalnum() and nxt[:1].isalnum()):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def unescape_text(wiki: str) -> str:
    """The plain text that :func:`escape_text` escaped."""
    return _ESCAPE_RE.sub(lambda m: m.group(1), wiki).replace("&#92;", "\\")


def wiki_url(url: str) -> str:
    """A URL safe inside ``[text|url]``: the link syntax characters percent-encoded."""
    safe = "".join(c for c in URI_SAFE_CHARACTERS if c not in "[]|")
    return quote(url.strip(), safe=safe)


_DEFAULT_POLICY = ToolTextPolicy()
_IMAGE_NAME_RE = re.compile(r"\A[^\s!|\\{}\[\]](?:[^!|\n\\{}\[\]]*[^\s!|\\{}\[\]])?\Z")


def _raw_text_before(token) -> str:
    """The plain text that stands right before ``token`` in its parent (adjacent raw texts)."""
    siblings = list(getattr(getattr(token, "parent", None), "children", None) or ())
    pieces: list[str] = []
    for sibling in reversed(siblings[:next((i for i, t in enumerate(siblings) if t is token), 0)]):
        if type(sibling).__name__ != "RawText":
            break
        pieces.append(sibling.content)
    return "".join(reversed(pieces))


class _WikiRenderer(JiraRenderer):
    """mistletoe's Jira renderer with escaping that holds and the text policy applied to every
    link, autolink and image as mistletoe resolved it (reference links included)."""

    def __init__(self, policy: ToolTextPolicy = _DEFAULT_POLICY) -> None:
        # JiraRenderer registers HtmlBlock/HtmlSpan; without them raw HTML stays text (escaped).
        self.listTokens: list[str] = []
        self.lastChildOfQuotes: list = []
        self.policy = policy
        BaseRenderer.__init__(self)

    def _plain(self, text: str) -> str:
        return escape_text(self.policy.text(text))

    def render_raw_text(self, token, escape: bool = True) -> str:
        return self._plain(token.content) if escape else token.content

    def render_escape_sequence(self, token) -> str:
        # "javascript\:" is two pieces of text, "javascript" and ":": the colon is broken here
        # when the text before it ends in a scheme the policy does not allow.
        text = self.render_inner(token)
        if text == ":":
            before = _raw_text_before(token)
            if self.policy.text(before + ":") != self.policy.text(before) + ":":
                return _ZWSP + ":"
        return text

    def render_inline_code(self, token) -> str:
        content = token.children[0].content if token.children else ""
        return "{{" + self._plain(content) + "}}"

    @staticmethod
    def render_line_break(token) -> str:
        # casavi text is typed in a text area: its line breaks are meant, and Jira shows a
        # newline inside a paragraph as a line break.
        return "\n"

    def render_paragraph(self, token) -> str:
        inner = _LINE_START_RE.sub(_escape_line_start, self.render_inner(token))
        return inner + self._block_eol(token)

    def render_block_code(self, token) -> str:
        content = token.children[0].content if token.children else ""
        if not content.strip():
            return ""
        language = getattr(token, "language", "") or ""
        if language and "{code" not in content:
            opener, closer = "{code:" + re.sub(r"[^\w+#.-]", "", language) + "}", "{code}"
        elif "{noformat" not in content:
            opener, closer = "{noformat}", "{noformat}"
        elif "{code" not in content:
            opener, closer = "{code}", "{code}"
        else:  # both macro names inside: break the closing one with an invisible space
            content = content.replace("{noformat", "{" + _ZWSP + "noformat")
            opener, closer = "{noformat}", "{noformat}"
        if not content.endswith("\n"):
            content += "\n"
        return f"{opener}\n{content}{closer}" + self._block_eol(token)

    def render_list_item(self, token) -> str:
        inner = self.render_inner(token)
        if not inner.strip():  # an empty bullet shows nothing; in wiki it would be a literal "*"
            return ""
        return "".join(self.listTokens) + " " + inner

    def render_heading(self, token) -> str:
        inner = self.render_inner(token)
        if not inner.strip():
            return ""
        return f"h{token.level}. {inner}" + self._block_eol(token)

    def render_quote(self, token) -> str:
        if not token.children:  # a bare ">" line
            return ""
        self.lastChildOfQuotes.append(token.children[-1])
        inner = self.render_inner(token)
        del self.lastChildOfQuotes[-1]
        # "bq." quotes one line only; anything longer needs the {quote} macro.
        if len(token.children) == 1 and isinstance(token.children[0], block_token.Paragraph) \
                and "\n" not in inner.rstrip("\n"):
            return "bq. " + inner + self._block_eol(token)[0:-1]
        return "{quote}\n" + inner + "{quote}" + self._block_eol(token)

    def render_link(self, token) -> str:
        url = self.policy.link(token.target)
        inner = self.render_inner(token)
        if url is None:
            return self._as_text(inner, token.target)
        return f"[{inner or escape_text(url)}|{wiki_url(url)}]"

    def render_auto_link(self, token) -> str:
        target = ("mailto:" if token.mailto else "") + token.target
        url = self.policy.link(target)
        if url is None:
            return self._plain(token.target)
        return f"[{wiki_url(url)}]"

    def render_image(self, token) -> str:
        choice = self.policy.image(token.src)
        alt = self.render_inner(token)
        if choice.kind == "file" and _IMAGE_NAME_RE.match(choice.value or ""):
            return f"!{choice.value}!"
        url = self.policy.link(token.src)
        if url is not None:
            return f"[{alt or escape_text(url)}|{wiki_url(url)}]"
        return self._as_text(alt, token.src)

    def _as_text(self, inner: str, target: str) -> str:
        """A link the policy refuses: its text, then its destination, both plain and visible."""
        shown = self._plain(target.strip())
        if not inner:
            return shown
        return inner if not shown or shown == inner else f"{inner} ({shown})"

    def render_table_cell(self, token, in_header: bool = False) -> str:
        inner = self.render_inner(token) or " "  # pipes are escaped already by escape_text
        return ("||" if in_header else "|") + inner


def _escape_line_start(match: re.Match) -> str:
    if match.group(1):
        return match.group(1) + "\\."
    return "\\" + match.group(2)


def markdown_to_wiki(text: str, policy: ToolTextPolicy = _DEFAULT_POLICY) -> str:
    """casavi markdown → Jira wiki markup (no trailing newline), tenant text under ``policy``."""
    if not text or not text.strip():
        return ""
    with _render_lock:
        block_token.reset_tokens()
        span_token.reset_tokens()
        renderer = _WikiRenderer(policy)
        wiki = renderer.render(mistletoe.Document(text))
    return wiki.rstrip()


# --- wiki → markdown --------------------------------------------------------------------

_BLOCK_RE = re.compile(r"(\{(code|noformat)(?::[^}]*)?\}.*?\{\2\})", re.DOTALL)
_ESCAPE_RE = re.compile(r"\\([!-/:-@\[\]^_`{|}~])")  # backslash + ASCII punctuation, not "\"
_PLACEHOLDER_BASE = 0xE000  # Unicode private use area: never in real text we convert
_MD_SPECIAL = set("\\`*_[]<>#+-!|~.")
_LITERAL = {ord(ch): chr(_PLACEHOLDER_BASE + ord(ch)) for ch in "`<>"}
_ORDERED_RE = re.compile(r"(?m)^([ \t]*\d{1,9})\.(?=[ \t]|$)")


def _protect(segment: str) -> str:
    segment = segment.replace("&#92;", chr(_PLACEHOLDER_BASE + ord("\\")))
    segment = _ESCAPE_RE.sub(lambda m: chr(_PLACEHOLDER_BASE + ord(m.group(1))), segment)
    # Backticks, "<" and ">" mean nothing in wiki text but code, HTML and quotes in markdown,
    # and "1. " opens no list in wiki: keep them literal.
    segment = _ORDERED_RE.sub(lambda m: m.group(1) + chr(_PLACEHOLDER_BASE + ord(".")), segment)
    return segment.translate(_LITERAL)


_PLACEHOLDER_RE = re.compile("[\ue000-\ue07f]")


def _placeholder_back(match: re.Match) -> str:
    """The character a placeholder stands for."""
    return chr(ord(match.group(0)) - _PLACEHOLDER_BASE)
_CODE_SPAN_RE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_FENCE_RE = re.compile(r"(^```[^\n]*\n.*?^```[ \t]*$)", re.DOTALL | re.MULTILINE)


def _restore(text: str) -> str:
    """Placeholders back: plain inside code spans, else markdown-escaped where markdown needs it."""
    def escaped(match: re.Match) -> str:
        original = _placeholder_back(match)
        return "\\" + original if original in _MD_SPECIAL else original

    def code_span(match: re.Match) -> str:
        content = _PLACEHOLDER_RE.sub(_placeholder_back, match.group(2))
        if "`" not in content:
            return match.group(1) + content + match.group(1)
        fence = "`" * (max(len(run) for run in re.findall("`+", content)) + 1)
        pad = " " if content.startswith("`") or content.endswith("`") else ""
        return fence + pad + content + pad + fence

    def inline(segment: str) -> str:
        pieces, last = [], 0
        for span in _CODE_SPAN_RE.finditer(segment):
            pieces.append(_PLACEHOLDER_RE.sub(escaped, segment[last:span.start()]))
            pieces.append(code_span(span))
            last = span.end()
        pieces.append(_PLACEHOLDER_RE.sub(escaped, segment[last:]))
        return "".join(pieces)

    # Fenced blocks (from {code}/{noformat}, never protected) are left exactly as they are.
    parts = _FENCE_RE.split(text)
    return "".join(part if index % 2 else inline(part) for index, part in enumerate(parts))


class _JiraToMarkdown:
    """``jira2markdown.convert``, with the grammar built once instead of on every call.

    ``convert`` builds its pyparsing grammar per call (~0.2 s, most of a read's time).  The
    grammar is reused here; the list elements keep an indentation state between matches,
    which is reset before each conversion, and one lock serialises the conversions.
    """

    _lock = threading.Lock()
    _markup: Forward | None = None
    _stateful: list = []

    @classmethod
    def convert(cls, text: str) -> str:
        with cls._lock:
            if cls._markup is None:
                cls._build()
            for element in cls._stateful:
                element.indent_state.reset()
            assert cls._markup is not None
            return cls._markup.transform_string(text)

    @classmethod
    def _build(cls) -> None:
        inline_markup, markup = Forward(), Forward()
        kwargs = {"inline_markup": inline_markup, "markup": markup, "usernames": {}}
        ours = {Mention: _Mention, Link: _Link}
        elements = [ours.get(element, element)(**kwargs) for element in MarkupElements()]
        inline_markup <<= MatchFirst([e.expr for e in elements if e.is_inline_element])
        markup <<= MatchFirst([e.expr for e in elements])
        cls._stateful = [e for e in elements if hasattr(e, "indent_state")]
        cls._markup = markup


_MENTION_OPEN, _MENTION_CLOSE = "\ue100", "\ue101"  # around a mentioned user's name or account id
_MENTIONED_RE = re.compile(_MENTION_OPEN + "([^" + _MENTION_CLOSE + "]*)" + _MENTION_CLOSE)


class _Mention(Mention):
    """``[~name]`` / ``[~accountid:…]``: the identifier between placeholders, for the caller to name."""

    def action(self, tokens) -> str:
        return _MENTION_OPEN + tokens.accountid + _MENTION_CLOSE


class _Link(Link):
    """``[text|url]``, also with a destination relative to the Jira host (``[OPS-1|/browse/OPS-1]``,
    as people write links to the instance's own issues).  ``jira2markdown`` keeps only ``http``/``ftp``/``www.``
    destinations as links and turns the rest into escaped text; a destination starting with one
    ``/`` becomes a markdown link here (``[OPS-1](</browse/OPS-1>)``), for the text policy to
    decide on like any other link (:class:`~bridge.markup.TenantTextPolicy` makes the tool's own
    issue paths absolute and shows every other relative link as text).  Other destinations keep
    the library's reading."""

    def action(self, tokens) -> str:
        # Placeholders (escaped and literal characters, see _protect) back to what they stand for.
        url = _PLACEHOLDER_RE.sub(_placeholder_back, tokens.url).strip()
        if url.startswith("/") and not url.startswith("//"):
            # Without a label the path is shown as typed: every ASCII punctuation character
            # escaped, so it opens no markdown (emphasis, code, HTML) as link text.
            alias = self.markup.transform_string(getattr(tokens, "alias", "")) or _ASCII_PUNCTUATION_RE.sub(
                r"\\\g<0>", url)
            # "&" as an entity: markdown decodes entities in a destination ("/&#x2F;host" would
            # become "//host"); "\\" is percent-encoded by quote (a browser reads it as "/").
            return f"[{alias}](<{quote(url, safe=_PATH_SAFE).replace('&', '&amp;')}>)"
        return super().action(tokens)


# Characters a relative destination keeps as they are (RFC 3986 reserved and unreserved, and "%").
_PATH_SAFE = "/?#[]@!$&'()*+,;=%~-._:"
_ASCII_PUNCTUATION_RE = re.compile(r"[!-/:-@\[-`{-~]")


def wiki_to_markdown(wiki: str) -> str:
    """Jira wiki markup → markdown (trailing whitespace dropped); mentions read ``@name``."""
    return _MENTIONED_RE.sub(lambda m: "@" + m.group(1), _to_markdown(wiki))


def wiki_for_tenants(wiki: str, policy: TenantTextPolicy) -> str:
    """Jira wiki markup → casavi/relay markdown under ``policy`` (tool text that tenants read):
    links only with its schemes or to Jira's own issues, images as links or text, mentions as names."""
    markdown = _to_markdown(wiki)
    out = render_markdown(markdown, policy, lambda text: _MENTIONED_RE.sub(lambda m: policy.mention(m.group(1)), text))
    return out.replace(_MENTION_OPEN, "").replace(_MENTION_CLOSE, "")


def _to_markdown(wiki: str) -> str:
    if not wiki or not wiki.strip():
        return ""
    parts = _BLOCK_RE.split(wiki.replace("\r\n", "\n"))
    # split() with two groups yields [text, block, macro-name, text, block, macro-name, ...]
    protected = []
    for index, part in enumerate(parts):
        kind = index % 3
        if kind == 0:
            protected.append(_protect(part))
        elif kind == 1:
            # {code} and {noformat} are blocks wherever they stand: Jira shows the text before
            # and after one in a line as paragraphs of their own.  Each goes on lines of its
            # own here, or its fence would open mid-line (and swallow or drop what follows).
            # Within a table row (its line starts with "|") a block stays in its cell.
            so_far = "".join(protected)
            if so_far.rsplit("\n", 1)[-1].lstrip().startswith("|"):
                protected.append(part)
                continue
            after, more = parts[index + 2], index + 3 < len(parts)
            protected.append(("\n" if so_far and not so_far.endswith("\n") else "") + part
                             + ("\n" if (after or more) and not after.startswith("\n") else ""))
    markdown = _JiraToMarkdown.convert("".join(protected))
    return _restore(markdown).replace(_ZWSP, "").strip("\n").rstrip()


# --- the header block ----------------------------------------------------------------

def build_description(description: str, facts: Iterable[tuple[str, str]] = (), link_url: str | None = None,
                      *, limit: int = TEXT_LIMIT,
                      policy: ToolTextPolicy = _DEFAULT_POLICY) -> str:
    """The wiki description of an issue: the casavi header panel, then the casavi text."""
    body = markdown_to_wiki(description, policy)
    lines = [f"*{escape_text(policy.text(_one_line(name)))}:* {escape_text(policy.text(_one_line(value)))}"
             for name, value in facts]
    if link_url:
        lines.append(f"[Open in casavi|{wiki_url(link_url)}]")
    if not lines:
        return fit(body, limit)
    header = _HEADER_OPEN + "\n" + "\n".join(lines) + "\n{panel}"
    return fit(header + ("\n\n" + body if body else ""), limit)


def read_description(wiki: str | None) -> str:
    """A wiki description as markdown, header block included (it reads back as a quote)."""
    return wiki_to_markdown(wiki or "")


# Jira refuses a description or comment above 32,767 characters (400); longer casavi text is
# cut with a note, so the item is mirrored instead of failing on every pass.
_NO_TEXT = "_(no text)_"


def fit(wiki: str, limit: int = TEXT_LIMIT) -> str:
    """``wiki`` within Jira's text limit: cut at a boundary, open blocks closed, marked shortened
    (:func:`connectors.jira.limits.shorten`)."""
    return shorten(wiki, limit)


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


# --- comments -------------------------------------------------------------------------

def build_comment(text: str, author: str | None, policy: ToolTextPolicy = _DEFAULT_POLICY, *,
                  limit: int = TEXT_LIMIT) -> str:
    """A comment body: "*Anna Example* via casavi:" when the author is known, then the text."""
    body = markdown_to_wiki(text, policy)
    if not author or not author.strip():
        return fit(body, limit) or _NO_TEXT  # Jira refuses an empty comment body
    header = f"*{escape_text(policy.text(_one_line(author)))}* via casavi:"
    return fit(header + ("\n\n" + body if body else ""), limit)


def comment_author(wiki: str | None) -> tuple[str | None, str]:
    """(author from the "via casavi" line or None, the comment text as it is: wiki markup)."""
    text = (wiki or "").replace("\r\n", "\n")
    match = _COMMENT_HEADER_RE.match(text)
    if not match:
        return None, text
    return unescape_text(match.group(1)), text[match.end():]


def split_comment(wiki: str | None) -> tuple[str | None, str]:
    """(author from the "via casavi" line or None, the comment text as markdown)."""
    author, text = comment_author(wiki)
    return author, wiki_to_markdown(text)
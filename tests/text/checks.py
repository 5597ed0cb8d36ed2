"""What tenant text may and may not become, checked on the text a tool stores.

The checks read the stored text the way the tool does (Jira wiki syntax; CommonMark rendered to
HTML by mistletoe, then every ``href``/``src`` and tag inspected), independent of the renderer
under test.  Shared by the unit tests and the end-to-end tests against Jira and Redmine.
"""

from __future__ import annotations

import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import mistletoe

from bridge.markup import ALLOWED_SCHEMES, url_scheme

CORPUS_FILE = Path(__file__).resolve().parents[1] / "data" / "hostile_markdown.toml"
FILES = ("plan.png",)  # the ticket's own files in every corpus run


def corpus() -> list[dict]:
    with open(CORPUS_FILE, "rb") as fh:
        return tomllib.load(fh)["case"]


# --- Jira wiki ---------------------------------------------------------------------------------

_NOFORMAT_RE = re.compile(r"\{(code|noformat)(?::[^}]*)?\}.*?\{\1\}", re.DOTALL)
_WIKI_LINK_RE = re.compile(r"(?<!\\)\[((?:\\.|[^\]\\\n])*)\]")
_WIKI_IMAGE_RE = re.compile(r"(?<!\\)!([^!\s\\][^!\n]*?)(?<!\\)!")
_WIKI_MACRO_RE = re.compile(r"(?<!\\)\{([^}\n]*)\}")
_OWN_MACROS = {"quote", "panel", "panel:title=casavi"}
_BARE_SCHEME_RE = re.compile(r"(?i)(?<![a-z0-9+.\-])(javascript|vbscript|data|file|smb|tel|ftp|callto):")


def jira_problems(wiki: str, files=FILES) -> list[str]:
    """Everything in ``wiki`` that Jira would make a link, image, mention or macro of, and may not."""
    text = _NOFORMAT_RE.sub("", wiki)  # literal in Jira
    problems = []
    for match in _WIKI_LINK_RE.finditer(text):
        content = match.group(1)
        if content.startswith("~"):
            problems.append(f"mention {match.group(0)!r}")
            continue
        target = re.split(r"(?<!\\)\|", content)[-1]
        if url_scheme(target) not in ALLOWED_SCHEMES:
            problems.append(f"link {match.group(0)!r}")
    for match in _WIKI_IMAGE_RE.finditer(text):
        if match.group(1) not in files:
            problems.append(f"image {match.group(0)!r}")
    outside_monospace = re.sub(r"(?<!\\)\{\{.*?(?<!\\)\}\}", "", text, flags=re.DOTALL)
    for match in _WIKI_MACRO_RE.finditer(outside_monospace):
        if match.group(1) not in _OWN_MACROS:
            problems.append(f"macro {match.group(0)!r}")
    for match in _BARE_SCHEME_RE.finditer(text):
        problems.append(f"auto-linkable {match.group(0)!r}")
    return problems


# --- CommonMark (Redmine, and text for casavi/relay) ----------------------------------------------

_MARKDOWN_TAGS = {"p", "a", "img", "em", "strong", "code", "pre", "ul", "ol", "li", "blockquote", "table",
                  "thead", "tbody", "tr", "th", "td", "h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "del", "s"}
# Redmine 5.0 lib/redmine/acts/mentionable.rb MENTION_PATTERN (Ruby's \W and \s are ASCII).
_REDMINE_MENTION_RE = re.compile(
    r"(?:^|[^A-Za-z0-9_])@([A-Za-z0-9_\-@.]*?)(?=(?=[^\w\s][^A-Za-z0-9_/])|,|\.+$|[ \t\r\n\f\v]|\]|<|$)",
    re.IGNORECASE | re.MULTILINE | re.ASCII)
_REDMINE_USER_LINK_RE = re.compile(r"(?<![A-Za-z0-9_])user[:#]")
_REDMINE_MACRO_RE = re.compile(r"\{\{\w+")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def html_of(markdown: str) -> str:
    return mistletoe.markdown(markdown)


def markdown_problems(markdown: str, files=FILES, *, redmine: bool) -> list[str]:
    """Everything the CommonMark text would become that it may not: a link with another scheme,
    an image other than the ticket's files, raw HTML; in Redmine also a mention or a macro."""
    return _problems(markdown, html_of(markdown), files, redmine=redmine)


def textile_problems(textile: str, files=FILES) -> list[str]:
    """The same for Textile stored in Redmine, read through Redmine's own RedCloth3
    (tests/text/redcloth.py); mentions, ``user:`` links and macros are found in the raw text,
    as Redmine finds them (lib/redmine/acts/mentionable.rb scans the text before formatting)."""
    from tests.text.redcloth import redmine_textile_html

    return _problems(textile, redmine_textile_html(textile), files, redmine=True)


def _problems(text: str, html: str, files, *, redmine: bool) -> list[str]:
    parser = _Tags()
    parser.feed(html)
    problems = []
    for tag, attrs in parser.found:
        if tag not in _MARKDOWN_TAGS:
            problems.append(f"raw HTML <{tag}>")
        if any(name.startswith("on") or name == "style" for name in attrs):
            problems.append(f"attribute on <{tag}>: {sorted(attrs)}")
        if tag == "a" and url_scheme(attrs.get("href") or "") not in ALLOWED_SCHEMES:
            problems.append(f"link to {attrs.get('href')!r}")
        if tag == "img" and attrs.get("src") not in files:
            problems.append(f"image {attrs.get('src')!r}")
    if redmine:
        for match in _REDMINE_MENTION_RE.finditer(text):
            if match.group(1):
                problems.append(f"mention @{match.group(1)}")
        problems += [f"user link {m.group(0)!r}" for m in _REDMINE_USER_LINK_RE.finditer(text)]
        problems += [f"macro {m.group(0)!r}" for m in _REDMINE_MACRO_RE.finditer(text)]
    for match in _BARE_SCHEME_RE.finditer(text):
        problems.append(f"auto-linkable {match.group(0)!r}")
    return problems


def visible(text: str) -> str:
    """Text without the invisible characters the policy adds (to compare what people read)."""
    return text.replace("\u200b", "").replace("\u2060", "")

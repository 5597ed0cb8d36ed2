"""The text policy through every connector's conversion (bridge.markup).

Every entry of the hostile corpus (tests/data/hostile_markdown.toml) goes through the Jira wiki
conversion, the Redmine CommonMark conversion and, as tool text, the conversion back to casavi;
the stored text is then read as the tool reads it (tests/text/checks.py).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.markup import TenantTextPolicy, ToolTextPolicy, break_schemes, url_scheme
from bridge.markup.markdown import render_markdown
from connectors.jira.markup import (build_comment, build_description, markdown_to_wiki, wiki_for_tenants,
                                    wiki_to_markdown)
from connectors.redmine import mapping as redmine_mapping
from connectors.redmine.text import from_redmine, to_redmine
from bridge.model import ItemDraft, StatusTarget
from tests.text.checks import FILES, corpus, html_of, jira_problems, markdown_problems, visible

CASES = corpus()
POLICY = ToolTextPolicy().with_files(FILES)
TENANTS = TenantTextPolicy(tool_url="https://tool.example", names={"admin": "Anna Admin"}.get)


def ids(case: dict) -> str:
    return case["name"]


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_hostile_markdown_becomes_safe_jira_wiki(case):
    wiki = markdown_to_wiki(case["markdown"], POLICY)
    assert jira_problems(wiki) == [], wiki
    for word in case.get("keep", ()):
        assert word in visible(wiki)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_hostile_markdown_becomes_safe_redmine_commonmark(case):
    stored = to_redmine(case["markdown"], POLICY)
    assert markdown_problems(stored, redmine=True) == [], stored
    for word in case.get("keep", ()):
        assert word in visible(stored)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_hostile_tool_text_reaches_tenants_without_links_images_or_mentions(case):
    # The corpus as a note a person wrote in Redmine, and as a Jira comment after conversion.
    from_notes = from_redmine(case["markdown"], TENANTS)
    from_wiki = wiki_for_tenants(markdown_to_wiki(case["markdown"]), TENANTS)
    for text in (from_notes, from_wiki):
        assert markdown_problems(text, files=(), redmine=False) == [], text
    assert "@admin" not in from_notes  # a Redmine mention; in Jira wiki "@admin" is only text


# --- the two reported inputs, exactly -------------------------------------------------------------

def test_a_javascript_link_stays_visible_as_text():
    assert markdown_to_wiki("[click](javascript:alert(1))") == "click (javascript\u200b:alert(1))"
    assert to_redmine("[click](javascript:alert(1))", POLICY) == "click (javascript\u200b:alert(1))"


def test_an_image_from_another_host_becomes_a_plain_link():
    assert markdown_to_wiki("![x](http://outside.example/t.png)") == "[x|http://outside.example/t.png]"
    assert to_redmine("![x](http://outside.example/t.png)", POLICY) == "[x](<http://outside.example/t.png>)"


def test_an_image_of_the_tickets_own_file_is_shown_as_that_file():
    assert markdown_to_wiki("![Plan](plan.png)", POLICY) == "!plan.png!"
    assert markdown_to_wiki("![Plan](https://app.casavi.example/f/plan.png)", POLICY) == "!plan.png!"
    assert to_redmine("![Plan](plan.png)", POLICY) == "![Plan](<plan.png>)"
    # the same name without the file on the ticket: a link (allowed scheme) or text
    assert markdown_to_wiki("![Plan](plan.png)") == "Plan (plan.png)"


def test_reference_links_are_judged_on_their_definition():
    wiki = markdown_to_wiki("[a][r] [b][ok]\n\n[r]: javascript:x\n[ok]: https://example.com")
    assert wiki == "a (javascript\u200b:x) [b|https://example.com]"


def test_allowed_links_keep_working():
    wiki = markdown_to_wiki("[Web](https://example.com/a?b=c) <mailto:hv@example.com> <hv@example.com>")
    assert wiki == "[Web|https://example.com/a?b=c] [mailto:hv@example.com] [mailto:hv@example.com]"
    stored = to_redmine("[Web](https://example.com/a?b=c) <hv@example.com>", POLICY)
    assert stored == "[Web](<https://example.com/a?b=c>) <hv@example.com>"


# --- mentions --------------------------------------------------------------------------------------

def test_tenant_text_mentions_nobody_in_jira():
    wiki = markdown_to_wiki("[~admin] [~accountid:5b10ac8d] [~admin|x]")
    assert wiki == "\\[\\~admin\\] \\[\\~accountid:5b10ac8d\\] \\[\\~admin\\|x\\]"
    assert jira_problems(wiki) == []


def test_tenant_text_mentions_nobody_in_redmine_and_runs_no_macro():
    stored = to_redmine("@admin (@jsmith) &#64;x user:admin {{toc}}", POLICY)
    assert stored == "@\u2060admin (@\u2060jsmith) @\u2060x user\u2060:admin {\u2060{toc}}"
    assert markdown_problems(stored, redmine=True) == []


def test_redmine_header_facts_are_plain_text():
    draft = ItemDraft("t", "", StatusTarget("New"), facts=(("Reporter", "@admin [x](javascript:y) {{toc}}"),))
    header = redmine_mapping.render_description(draft)
    assert markdown_problems(header, redmine=True) == []
    assert visible(html_of(header)).count("@admin [x](javascript:y) {{toc}}") == 1


def test_jira_header_and_comment_author_are_plain_text():
    description = build_description("x", facts=(("Reporter", "[~admin] !a.png!"),))
    comment = build_comment("y", "[~admin] [z|javascript:q]")
    assert jira_problems(description) == [] and jira_problems(comment) == []


# --- tool text back to tenants -----------------------------------------------------------------------

def test_mentions_in_tool_text_become_names_for_tenants():
    assert wiki_for_tenants("Danke [~admin] und [~accountid:99]", TENANTS) == "Danke Anna Admin und 99"
    assert from_redmine("Danke @admin und @bob.", TENANTS) == "Danke Anna Admin und bob."


def test_links_to_the_tools_own_issues_are_kept_for_tenants():
    text = from_redmine("[siehe](/issues/12) [admin](/admin/settings) [x](javascript:y)", TENANTS)
    assert text == "[siehe](<https://tool.example/issues/12>) admin (/admin/settings) x (javascript\u200b:y)"
    assert wiki_for_tenants("[OPS-1|https://tool.example/browse/OPS-1]", TENANTS) == \
        "[OPS-1](<https://tool.example/browse/OPS-1>)"


@pytest.mark.parametrize("wiki, tenants_read", [
    # A destination relative to the Jira host, as people write links to its own issues.
    ("siehe [OPS-1|/browse/OPS-1] bitte", "siehe [OPS-1](<https://tool.example/browse/OPS-1>) bitte"),
    ("[/browse/OPS-3]", "[/browse/OPS-3](<https://tool.example/browse/OPS-3>)"),
    ("[Kommentar|/browse/OPS-2?focusedCommentId=5#comment-5]",
     "[Kommentar](<https://tool.example/browse/OPS-2?focusedCommentId=5#comment-5>)"),
    # Any other path on the tool's host stays visible as text, like a relative markdown link.
    ("[Admin|/secure/admin/ViewApplicationProperties.jspa]", "Admin (/secure/admin/ViewApplicationProperties.jspa)"),
    # Not relative to the host: a protocol-relative or path-relative destination is not a link.
    ("[x|//evil.example/browse/OPS-1]", "\\[x|//evil.example/browse/OPS-1\\]"),
    ("[x|browse/OPS-1]", "\\[x|browse/OPS-1\\]"),
    # An entity cannot make a second slash, nor a backslash (which a browser reads as one).
    ("[x|/&#x2F;evil.example/]", "x (/&amp;#x2F;evil.example/)"),
    ("[x|/\\evil.example]", "x (/%5Cevil.example)"),
])
def test_relative_jira_links_to_its_own_issues_reach_tenants_absolute(wiki, tenants_read):
    assert wiki_for_tenants(wiki, TENANTS) == tenants_read


@pytest.mark.parametrize("wiki, markdown", [
    ("[/<b>x</b>]", "[\\/\\<b\\>x\\<\\/b\\>](</%3Cb%3Ex%3C/b%3E>)"),
    ("[/`x`]", "[\\/\\`x\\`](</%60x%60>)"),
    ("[x|/&#x2F;evil.example/]", "[x](</&amp;#x2F;evil.example/>)"),
])
def test_a_relative_jira_link_opens_no_markdown_of_its_own(wiki, markdown):
    """Without a label the path is the link text, shown as typed; the destination keeps its
    characters (no entity decoded into a second slash)."""
    assert wiki_to_markdown(wiki) == markdown
    assert "<b>" not in html_of(markdown) and "//evil" not in html_of(markdown)


@pytest.mark.parametrize("wiki, code, paragraphs", [
    ("Zugangscode {noformat}4711{noformat} für die Haustür. Bitte Bescheid geben.", "4711",
     ["Zugangscode", "für die Haustür. Bitte Bescheid geben."]),
    ("Code {code}1234{code}\nDer Handwerker kommt Montag.", "1234", ["Code", "Der Handwerker kommt Montag."]),
    ("Vor\n{noformat}\nblock\n{noformat} danach", "block", ["Vor", "danach"]),
    ("{noformat}a{noformat}{code}b{code} und Schluss", "a", ["und Schluss"]),
])
def test_a_code_block_within_a_line_keeps_the_text_around_it(wiki, code, paragraphs):
    """Jira shows {code}/{noformat} as a block wherever it stands, the text before and after it
    as paragraphs; none of that text is lost or swallowed by the block."""
    html = html_of(wiki_for_tenants(wiki, TENANTS))
    assert f"<pre><code>{code}\n</code></pre>" in html or f">{code}\n</code></pre>" in html
    for paragraph in paragraphs:
        assert f"<p>{paragraph}</p>" in html
    assert html.count("<pre>") == wiki.count("{") // 2  # one block per macro, nothing else in one


def test_a_code_block_in_a_table_cell_stays_in_its_row():
    html = html_of(wiki_for_tenants("||Raum||Code||\n|Keller|{noformat}4711{noformat}|\n|Dach|frei|", TENANTS))
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.DOTALL)
    assert html.count("<table>") == 1 and len(rows) == 3  # one table: the header and two rows
    assert "Keller" in rows[1] and "4711" in rows[1] and "Dach" in rows[2]  # the block inside its cell
    html = html_of(wiki_for_tenants("|a {code}x{code}|b|", TENANTS))
    [row] = re.findall(r"<tr>(.*?)</tr>", html, re.DOTALL)
    assert "x" in row and "b" in row


def test_no_image_reaches_tenants_embedded():
    assert wiki_for_tenants("!screenshot.png! !https://x.example/i.png!", TENANTS) == \
        "screenshot.png [https://x.example/i.png](<https://x.example/i.png>)"


# --- the scheme rule itself ---------------------------------------------------------------------------

@pytest.mark.parametrize("target,scheme", [
    ("https://a", "https"), (" \x0eJaVa\tScript:x", "javascript"), ("mailto:a@b", "mailto"),
    ("/relative", None), ("//host/x", None), ("www.x.de", None), ("java script:x", None), ("", None),
])
def test_url_scheme_is_read_as_a_browser_reads_it(target, scheme):
    assert url_scheme(target) == scheme


def test_schemes_in_plain_text_are_broken_only_where_not_allowed():
    assert break_schemes("http://a file://b Hinweis: x javascript:y") == \
        "http://a file\u200b://b Hinweis: x javascript\u200b:y"
    assert break_schemes("(tel:") == "(tel\u200b:"  # the rest may follow in the next piece of text


# --- property: no output of the Jira conversion links with another scheme -----------------------------

_PIECES = st.sampled_from([
    "[", "]", "(", ")", "<", ">", "!", ":", "//", "\\", "&#", ";", "&colon;", "x", " ", "\n", "\t", "|", "~",
    "javascript", "JaVaScRiPt", "data", "vbscript", "file", "http", "https", "mailto", "a@b.c", "[r]: ",
    "]: ", "![", "](", "<http", "&#58;", "&#x6A;", "%0a", "{", "}", "`", "*", "_", "plan.png", "^",
])
_MARKDOWN = st.lists(_PIECES | st.text(max_size=2), max_size=40).map("".join)


@pytest.mark.parametrize("markdown", ["javascript\\:alert(1)", "x JaVaScript\\:y", "file\\://etc/passwd"])
def test_an_escaped_colon_does_not_complete_a_scheme(markdown):
    # Found by the property below: the escape makes the colon a piece of text of its own.
    wiki = markdown_to_wiki(markdown, POLICY)
    assert jira_problems(wiki) == [] and "\u200b:" in wiki


@settings(max_examples=300, deadline=None)
@given(_MARKDOWN)
def test_no_jira_output_links_outside_the_allowed_schemes(markdown):
    assert jira_problems(markdown_to_wiki(markdown, POLICY)) == []


@settings(max_examples=150, deadline=None)
@given(_MARKDOWN)
def test_no_redmine_output_links_outside_the_allowed_schemes(markdown):
    assert markdown_problems(render_markdown(markdown, POLICY), redmine=False) == []

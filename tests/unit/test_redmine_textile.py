"""casavi markdown ⇄ Redmine Textile (connectors.redmine.textile), the stored text read back as
Redmine shows it: through Redmine's own RedCloth3 (tests/text/redcloth.py)."""

from __future__ import annotations

import re

import pytest
from bridge.markup import TenantTextPolicy, ToolTextPolicy
from bridge.model import ItemDraft
from connectors.redmine import mapping
from connectors.redmine.text import from_redmine, to_redmine
from tests.text.redcloth import redmine_textile_html

POLICY = ToolTextPolicy()
TENANTS = TenantTextPolicy(tool_url="https://redmine.example", names={"admin": "Anna Admin"}.get)


def shown(stored: str) -> str:
    """The HTML a Textile reader makes of the stored text."""
    return redmine_textile_html(stored)


def test_minus_signs_in_tenant_text_are_not_struck_through():
    stored = to_redmine("Zimmer -3- und -4- sind betroffen, 5*3 = 15, +1+ ^2^ ~x~ %y% @z@", POLICY, "textile")
    html = shown(stored)
    assert not re.search(r"<(del|strong|ins|sup|sub|span|code)\b", html)
    assert "Zimmer -3- und -4- sind betroffen, 5*3 = 15" in html


def test_header_facts_show_as_separate_lines_with_the_link_back():
    draft = ItemDraft(title="Heizung", status="OPEN", description="Die Heizung in Zimmer -3- ist kalt.",
                      facts=(("Objekt", "Haus [A] -1-"), ("Meldende Person", "Erika *Muster*")),
                      link_url="https://casavi.example/tickets/7?x=(1)")
    html = shown(mapping.render_description(draft, POLICY, "textile"))
    items = re.findall(r"<li>(.*?)</li>", html)
    assert len(items) == 3
    assert items[0] == "<strong>Objekt:</strong> Haus [A] -1-"
    assert items[1] == "<strong>Meldende Person:</strong> Erika *Muster*"
    assert 'href="https://casavi.example/tickets/7?x=%281%29"' in items[2]
    assert "<del>" not in html and "Zimmer -3- ist kalt." in html


def test_links_stay_links_and_text_after_a_link_stays_out_of_its_url():
    html = shown(to_redmine("Siehe [Plan](https://example.com/a_b?c=d).Danach <https://x.example/y> und "
                            "[mail](mailto:hv@example.com)", POLICY, "textile"))
    assert '<a href="https://example.com/a_b?c=d" class="external">Plan</a>.Danach' in html
    assert '<a href="https://x.example/y" class="external">https://x.example/y</a>' in html
    assert '<a href="mailto:hv@example.com">mail</a>' in html


def test_blocks_and_spans_keep_their_meaning():
    html = shown(to_redmine("# Titel\n\n**fett** und *kursiv* und ~~weg~~ und `a -b- </code>`\n\n- eins\n- zwei\n"
                            "  - drei\n\n1. a\n2. b\n\n> zitat -x-\n\n```\n<pre>*b*</pre>\n```", POLICY, "textile"))
    assert "<h1>Titel</h1>" in html
    assert "<strong>fett</strong>" in html and "<em>kursiv</em>" in html and "<del>weg</del>" in html
    assert re.search(r"<ul>\s*<li>eins</li>\s*<li>zwei\s*<ul>\s*<li>drei</li>", html)
    assert re.search(r"<ol>\s*<li>a</li>\s*<li>b</li>", html)
    assert re.search(r"<blockquote>\s*<p>zitat -x-</p>", html)
    assert "<pre>" in html and "*b*" in html


def test_tenant_text_cannot_close_notextile_or_run_redmine_syntax():
    stored = to_redmine("</notextile>*fett* <pre>x</pre> @admin {{toc}} [x](javascript:alert(1)) "
                        "![bild](https://evil.example/t.png)", POLICY, "textile")
    html = shown(stored)
    assert "<strong>" not in html and "<pre>" not in html
    assert not re.search(r'href="javascript', html) and "<img" not in html
    assert "@admin" not in stored and "{{" not in stored
    assert 'href="https://evil.example/t.png"' in html  # an outside image becomes a link


def test_textile_line_break_and_paragraphs_of_casavi_text():
    html = shown(to_redmine("Erste Zeile\nzweite Zeile\n\nNeuer Absatz", POLICY, "textile"))
    assert re.search(r"Erste Zeile<br ?/>\s*zweite Zeile", html)
    assert html.count("<p>") == 2


def test_a_persons_textile_note_goes_to_casavi_as_markdown():
    note = ('h2. Termin\n\nDer Handwerker kommt *morgen* um _9 Uhr_.\nBitte "hier":https://example.com/x '
            'bestätigen, @admin.\n\n* eins\n* zwei\n\n"böse":javascript:alert(1) <script>alert(1)</script> '
            '"Ticket":/issues/12')
    md = from_redmine(note, TENANTS, "textile")
    assert md.startswith("## Termin\n\nDer Handwerker kommt **morgen** um *9 Uhr*.")
    assert "[hier](<https://example.com/x>)" in md
    assert "Anna Admin" in md and "@admin" not in md
    assert "- eins\n- zwei" in md
    assert "javascript:" not in md and "<script>" not in md
    assert "[Ticket](<https://redmine.example/issues/12>)" in md


@pytest.mark.parametrize("formatting", ["textile", "common_mark"])
def test_empty_text_stays_empty(formatting):
    assert to_redmine("  \n", POLICY, formatting) == ""
    assert from_redmine("", TENANTS, formatting) == ""

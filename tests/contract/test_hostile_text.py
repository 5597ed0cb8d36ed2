"""Hostile tenant text end to end: through the connectors into the Jira sandbox (Data Center and
Cloud) and the real Redmine, then read back as the tool stored it.

The whole corpus (tests/data/hostile_markdown.toml, entries apart by thematic breaks; the unit
tests take them one by one) becomes an issue description, a comment and a sub-item, and every
entry the header's reporter fact; the stored text must hold no link outside http/https/mailto, no image but the
ticket's own file, no raw HTML, no mention and no macro (tests/text/checks.py).  The other way,
a person's hostile comment in the tool reaches the bridge's model (what goes to casavi) with
mentions as names and no link or image the policy refuses.
"""

from __future__ import annotations

import httpx
import pytest

from bridge.model import Comment, ItemDraft, StatusTarget, Task
from tests.contract.connector_contract import unique_marker
from tests.contract.test_jira_connector import make_connector as make_jira
from tests.contract.test_redmine_connector import make_connector as make_redmine
from tests.text.checks import FILES, corpus, jira_problems, markdown_problems, textile_problems
from tests.text.redcloth import redmine_textile_html

CASES = corpus()
ALL = "\n\n---\n\n".join(case["markdown"] for case in CASES)


def _write_corpus(connector, status: str, tmp_path) -> str:
    text = ALL
    facts = tuple(("Reporter", case["markdown"]) for case in CASES)  # values come from tenants
    draft = ItemDraft("Hostile text", text, StatusTarget(status), facts=facts, files=FILES)
    created = connector.create(draft, unique_marker())
    plan = tmp_path / "plan.png"
    plan.write_bytes(b"\x89PNG\r\n\x1a\n plan")
    connector.add_attachment(created.target_id, "plan.png", "image/png", plan, marker=None)
    author = CASES[0]["markdown"] + " [~admin] @admin"
    connector.add_comment(created.target_id, Comment("c-1", text, author=author, files=FILES), marker="c-1")
    connector.add_sub_item(created.target_id, Task("t-1", "Aufgabe", text), StatusTarget(status), marker="t-1")
    return created.target_id


# --- Jira -------------------------------------------------------------------------------------------

@pytest.fixture(params=["server", "cloud"])
def sandbox(request):
    return request.getfixturevalue(f"jira_{request.param}_sandbox")


def _jira_stored(sandbox, issue_id: str) -> list[str]:
    with httpx.Client(base_url=sandbox.url, auth=sandbox.auth, timeout=10) as http:
        issue = http.get(f"/rest/api/2/issue/{issue_id}", params={"fields": "description,subtasks"}).json()
        comments = http.get(f"/rest/api/2/issue/{issue_id}/comment").json()["comments"]
        subs = [http.get(f"/rest/api/2/issue/{s['id']}", params={"fields": "description"}).json()
                for s in issue["fields"]["subtasks"]]
    return [issue["fields"]["description"], *(c["body"] for c in comments),
            *(s["fields"]["description"] for s in subs)]


def test_hostile_markdown_is_stored_safely_in_jira(sandbox, tmp_path):
    stored = _jira_stored(sandbox, _write_corpus(make_jira(sandbox), "To Do", tmp_path))
    assert len(stored) == 3
    for text in stored:
        assert jira_problems(text, FILES) == [], text
    assert stored[0].count("!plan.png!") == 2  # the corpus names the ticket's file twice


def test_the_reported_inputs_as_jira_stores_them(sandbox, tmp_path):
    jira = make_jira(sandbox)
    draft = ItemDraft("Bericht", "[click](javascript:alert(1)) ![x](http://outside.example/t.png) ![p](plan.png)",
                      StatusTarget("To Do"), files=FILES)
    description = _jira_stored(sandbox, jira.create(draft, unique_marker()).target_id)[0]
    assert description == "click (javascript\u200b:alert(1)) [x|http://outside.example/t.png] !plan.png!"


def test_a_persons_hostile_jira_comment_reaches_casavi_as_names_and_plain_text(sandbox):
    jira = make_jira(sandbox)
    created = jira.create(ItemDraft("Antwort", "x", StatusTarget("To Do")), unique_marker())
    alice = sandbox.store.find_user("alice")
    mention = f"[~accountid:{alice.account_id}]" if sandbox.mode == "cloud" else "[~alice]"
    body = f"Danke {mention}, [x|javascript:alert(1)] !https://tracker.example/i.png! [ok|https://example.com]"
    with httpx.Client(base_url=sandbox.url, auth=sandbox.auth, timeout=10) as http:
        http.post(f"/rest/api/2/issue/{created.target_id}/comment", json={"body": body}).raise_for_status()
    [comment] = jira.get(created.target_id).comments
    assert comment.text.startswith("Danke Alice Agent, ")
    assert markdown_problems(comment.text, files=(), redmine=False) == []
    assert "[ok](<https://example.com>)" in comment.text


# --- Redmine ------------------------------------------------------------------------------------------

def _redmine_stored(server, issue_id: str) -> list[str]:
    with server.admin() as admin:
        issue = admin.get(f"/issues/{issue_id}.json", params={"include": "journals,children"}).json()["issue"]
        subs = [admin.get(f"/issues/{c['id']}.json").json()["issue"] for c in issue.get("children") or ()]
    return [issue["description"], *(j["notes"] for j in issue["journals"] if j.get("notes")),
            *(s["description"] for s in subs)]


def _redmine_problems(server, text: str) -> list[str]:
    """What the stored text would become in this Redmine that it may not (as its formatter reads it)."""
    if server.text_formatting == "textile":
        return textile_problems(text, FILES)
    return markdown_problems(text, FILES, redmine=True)


@pytest.mark.redmine
def test_hostile_markdown_is_stored_safely_in_redmine(redmine_server, tmp_path):
    stored = _redmine_stored(redmine_server, _write_corpus(make_redmine(redmine_server), "New", tmp_path))
    assert len(stored) == 3
    for text in stored:
        body = text.replace("\r\n", "\n").split("\n\n<!-- casavi:comment:", 1)[0]  # the bridge's own marker
        assert _redmine_problems(redmine_server, body) == [], text
    own_image = "!plan.png!" if redmine_server.text_formatting == "textile" else "](<plan.png>)"
    assert stored[0].count(own_image) == 2  # the corpus names the ticket's file twice


@pytest.mark.redmine
def test_the_reported_inputs_as_redmine_stores_them(redmine_server):
    redmine = make_redmine(redmine_server)
    draft = ItemDraft("Bericht", "[click](javascript:alert(1)) ![x](http://outside.example/t.png) ![p](plan.png) "
                      "@admin {{toc}}", StatusTarget("New"), files=FILES)
    description = _redmine_stored(redmine_server, redmine.create(draft, unique_marker()).target_id)[0]
    if redmine_server.text_formatting == "textile":  # as Redmine's RedCloth3 shows it
        html = redmine_textile_html(description)
        assert "click (javascript\u200b:alert(1))" in html and "javascript:" not in html
        assert '<a href="http://outside.example/t.png" class="external">x</a>' in html
        assert '<img src="plan.png" alt="" />' in html
        assert "@\u2060admin {\u2060{toc}}" in html
        assert textile_problems(description) == []
    else:
        assert description == ("click (javascript\u200b:alert(1)) [x](<http://outside.example/t.png>) "
                               "![p](<plan.png>) @\u2060admin {\u2060{toc}}")


# What a person in Redmine writes in the instance's formatting: a mention, a script link, an
# image from elsewhere and a link to another issue.
PERSONS_NOTE = {
    "common_mark": "Danke @admin, [x](javascript:alert(1)) ![t](https://tracker.example/i.png) [#1](/issues/1)",
    "textile": 'Danke @admin, "x":javascript:alert(1) !https://tracker.example/i.png! "#1":/issues/1',
}


@pytest.mark.redmine
def test_a_persons_hostile_redmine_note_reaches_casavi_without_mentions_or_bad_links(redmine_server):
    redmine = make_redmine(redmine_server)
    created = redmine.create(ItemDraft("Antwort", "x", StatusTarget("New")), unique_marker())
    note = PERSONS_NOTE[redmine_server.text_formatting]
    with redmine_server.admin() as admin:
        admin.put(f"/issues/{created.target_id}.json", json={"issue": {"notes": note}}).raise_for_status()
    [comment] = redmine.get(created.target_id).comments
    # The bridge's Redmine user is no administrator: the login stands for the name.
    assert comment.text.startswith("Danke admin, ")
    assert "javascript\u200b:alert(1)" in comment.text
    assert f"[#1](<{redmine_server.url}/issues/1>)" in comment.text
    assert markdown_problems(comment.text, files=(), redmine=False) == []

"""The relay source against the relay sandbox: what one poll costs, and write-back that never
duplicates (status, comments with their trailer, files, lost answers)."""

from __future__ import annotations

import time

import httpx
import pytest

from bridge.errors import AuthError, RetriableError
from bridge.model import SourceRef
from bridge.relay.parse import with_trailer
from bridge.relay.source import RelaySource
from bridge.source import Source, SourceSummary
from tests.contract.relay_helpers import control, faults, relay_client, relay_sandbox, requests, reset_stats  # noqa: F401

REF = SourceRef("relay", "5001")


def source_for(sandbox, tmp_path, **client_args) -> RelaySource:
    return RelaySource(relay_client(sandbox, **client_args), staging_dir=tmp_path)


def bridge_comments(sandbox, order_id: str = "5001") -> list[dict]:
    return [c for c in control(sandbox, "GET", f"/orders/{order_id}")["comments"] if "casavi-bridge [" in c["text"]]


def test_the_relay_source_is_a_source(relay_sandbox, tmp_path):
    source = source_for(relay_sandbox, tmp_path)
    assert isinstance(source, Source) and (source.name, source.date_means_created) == ("relay", False)
    assert requests(relay_sandbox) == {}  # nothing is sent before it is asked for


def test_a_poll_reads_the_order_pages_and_reading_a_listed_order_costs_none(relay_sandbox, tmp_path):
    # 30 orders in pages of 50: one page and the empty page that ends the listing.
    source = source_for(relay_sandbox, tmp_path)
    summaries = list(source.changed_since(None))
    assert len(summaries) == 30 and all(isinstance(s, SourceSummary) for s in summaries)
    item = source.get(summaries[0].ref)
    assert item.version == summaries[0].version
    assert requests(relay_sandbox) == {"GET /orders": 2, "GET /customers": 1}  # names: once per instance
    source.get(summaries[1].ref)
    source.get(summaries[0].ref)  # a second read of the same order goes to relay
    assert requests(relay_sandbox) == {"GET /orders": 2, "GET /customers": 1, "GET /orders/{order_id}": 1}


def test_a_new_comment_changes_the_version_although_updated_at_stays(relay_sandbox, tmp_path):
    source = source_for(relay_sandbox, tmp_path)
    before = {s.ref: s for s in source.changed_since(None)}[REF]
    control(relay_sandbox, "POST", "/orders/5001/comments", {"text": "Noch eine Frage"})
    after = {s.ref: s for s in source.changed_since(None)}[REF]
    assert after.modified_at == before.modified_at and after.version != before.version


def test_writing_the_status_it_already_has_sends_no_patch(relay_sandbox, tmp_path):
    source = source_for(relay_sandbox, tmp_path)
    current = source.get(REF).status
    source.set_status(REF, current)
    source.set_status(REF, "FINISHED" if current != "FINISHED" else "OPEN")
    assert requests(relay_sandbox)["PATCH /orders/{order_id}"] == 1


def test_a_comment_written_twice_with_one_id_exists_once(relay_sandbox, tmp_path):
    source = source_for(relay_sandbox, tmp_path)
    first = source.add_comment(REF, "jira-10042-c-10311", "**Max** (Jira):\n\nKomme Montag", internal=False,
                               author_email=None)
    again = source.add_comment(REF, "jira-10042-c-10311", "**Max** (Jira):\n\nKomme Montag", internal=False,
                               author_email=None)
    assert first == again
    written = bridge_comments(relay_sandbox)
    assert len(written) == 1 and written[0]["author"] == "casavi-bridge"
    assert written[0]["text"].endswith("— via casavi-bridge [jira-10042-c-10311]")
    item = source.get(REF)
    assert [c.text for c in item.comments if c.comment_id == "jira-10042-c-10311"] == ["**Max** (Jira):\n\nKomme Montag"]


class AnswerLost(httpx.HTTPTransport):
    """A real transport whose first comment post reaches relay but whose answer never arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST" and request.url.path.endswith("/comments") and not self.lost:
            self.lost += 1
            response.read()
            response.close()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


def test_a_comment_whose_answer_was_lost_is_found_by_its_trailer_not_posted_again(relay_sandbox, tmp_path):
    faults(relay_sandbox, comment_encoding="multipart")  # the encoding the client sends first
    transport = AnswerLost()
    source = source_for(relay_sandbox, tmp_path, transport=transport)
    comment_id = source.add_comment(REF, "jira-1-c-1", "lost answer", internal=False, author_email=None)
    assert transport.lost == 1
    written = bridge_comments(relay_sandbox)
    assert [str(c["id"]) for c in written] == [comment_id]
    assert requests(relay_sandbox)["POST /orders/{order_id}/comments"] == 1


def test_a_comment_posted_before_a_crash_is_not_posted_again_on_the_next_attempt(relay_sandbox, tmp_path):
    faults(relay_sandbox, timeout_mode="apply", timeout_hold_seconds=1.0, force_timeout_count=1,
           comment_encoding="multipart")
    client = relay_client(relay_sandbox, timeout=0.5)
    with pytest.raises(RetriableError):  # relay applies it; the answer is a timeout
        client.create_comment("5001", with_trailer("lost answer", "jira-1-c-1"), "casavi-bridge")
    source = source_for(relay_sandbox, tmp_path)
    for _ in range(50):  # the held request is applied once the client has given up
        if bridge_comments(relay_sandbox):
            break
        time.sleep(0.02)
    source.add_comment(REF, "jira-1-c-1", "lost answer", internal=False, author_email=None)
    assert len(bridge_comments(relay_sandbox)) == 1
    assert requests(relay_sandbox)["POST /orders/{order_id}/comments"] == 1


def test_a_restricted_tool_comment_is_not_written_to_relay(relay_sandbox, tmp_path):
    source = source_for(relay_sandbox, tmp_path)
    assert source.add_comment(REF, "jira-1-c-2", "intern", internal=True, author_email=None) == "jira-1-c-2"
    assert bridge_comments(relay_sandbox) == [] and requests(relay_sandbox) == {}


def test_a_file_from_the_tool_travels_with_its_comment_and_the_staged_copy_is_removed(relay_sandbox, tmp_path):
    source = source_for(relay_sandbox, tmp_path / "staging")
    (tmp_path / "staging").mkdir()
    plan = tmp_path / "plan.pdf"
    plan.write_bytes(b"%PDF-1.4 plan")
    file_id = source.upload_file("Grundriß.pdf", "application/pdf", plan)
    plan.unlink()  # the applier removes its download before the comment is written
    source.add_comment(REF, "jira-1-a-77", "📎 Grundriß.pdf", internal=False, author_email=None, file_ids=[file_id])
    written = bridge_comments(relay_sandbox)
    assert [f["name"] for f in written[0]["_files"]] == ["Grundriß.pdf"]
    assert written[0]["_files"][0]["size"] == len(b"%PDF-1.4 plan")
    assert not any(p.is_file() for p in (tmp_path / "staging").rglob("*"))
    assert all(c.comment_id != "jira-1-a-77" for c in source.get(REF).comments)  # the file's carrier


def test_check_reports_a_refused_key(relay_sandbox, tmp_path):
    source = RelaySource(relay_client(relay_sandbox, key="wrong"))
    assert "refused the API key" in source.check()[0]
    reset_stats(relay_sandbox)
    with pytest.raises(AuthError):
        source.get(REF)
    assert requests(relay_sandbox) == {"GET /orders/{order_id}": 1}

"""Secrets never reach the log: configured values, headers, URL credentials, api keys in queries."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any, Iterator

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from bridge.config import load_config
from bridge.logging import configure_logging, get_logger, item_context, reset_logging
from bridge.secrets import Secret, register_secret, unregister_secret

CASAVI_KEY = "ck-9f8e7d6c5b4a"
CASAVI_SECRET = "cs-Zq1Xw2Ec3Rv4"
TOOL_TOKEN = "tt-ATATT3xFfGF0"


class ToolSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str
    token: Secret
    project: str


class Plugin:
    name = "jira"
    settings_model = ToolSettings


@pytest.fixture
def configured_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets enter the process the way the daemon gets them: through load_config."""
    monkeypatch.setenv("CASAVI_KEY", CASAVI_KEY)
    monkeypatch.setenv("CASAVI_SECRET", CASAVI_SECRET)
    monkeypatch.setenv("TOOL_TOKEN", TOOL_TOKEN)
    config = tmp_path / "config.toml"
    config.write_text(
        '[casavi]\nbase_url = "https://casavi.example/v1"\nkey = "env:CASAVI_KEY"\nsecret = "env:CASAVI_SECRET"\n'
        '[jira]\nurl = "https://jira.example"\ntoken = "env:TOOL_TOKEN"\nproject = "OPS"\n'
    )
    load_config(config, plugins={"jira": Plugin})


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("debug", "json", stream=stream)
    yield stream
    reset_logging()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def assert_clean(text: str, *values: str) -> None:
    for value in values or (CASAVI_KEY, CASAVI_SECRET, TOOL_TOKEN):
        assert value not in text


def test_configured_secrets_are_scrubbed_wherever_they_appear(configured_secrets: None, output: io.StringIO) -> None:
    log = get_logger("bridge.test")
    log.info(
        "ticket_mirrored",
        note=f"authenticated with {CASAVI_KEY}/{CASAVI_SECRET}",
        body={"payload": [{"nested": f"x{TOOL_TOKEN}y"}], "pair": (CASAVI_KEY,)},
        plain=CASAVI_SECRET,
    )

    [line] = lines(output)
    assert_clean(output.getvalue())
    assert line["event"] == "ticket_mirrored"
    assert line["note"] == "authenticated with [REDACTED]/[REDACTED]"
    assert line["body"] == {"payload": [{"nested": "x[REDACTED]y"}], "pair": ["[REDACTED]"]}
    assert line["plain"] == "[REDACTED]"


def test_credential_named_keys_are_scrubbed_at_any_depth(output: io.StringIO) -> None:
    get_logger("bridge.test").info(
        "request_sent",
        headers={"Authorization": "Basic dXNlcjpwYXNz", "X-Redmine-API-Key": "abc123", "Cookie": "s=1", "Accept": "application/json"},
        token="t-1",
        api_key="k-1",
        password="p-1",
        jira_token="j-1",
        target="OPS-12",
    )

    [line] = lines(output)
    assert line["headers"] == {
        "Authorization": "[REDACTED]",
        "X-Redmine-API-Key": "[REDACTED]",
        "Cookie": "[REDACTED]",
        "Accept": "application/json",
    }
    assert line["token"] == line["api_key"] == line["password"] == line["jira_token"] == "[REDACTED]"
    assert line["target"] == "OPS-12"


def test_url_credentials_and_api_keys_in_query_strings_are_scrubbed(output: io.StringIO) -> None:
    get_logger("bridge.test").warning(
        "request_failed",
        url="https://bridge:hunter22@jira.example/rest/api/2/search?jql=project%3DOPS&token=tok-1&key=key-2",
        other="see http://redmine.example/issues.json?apikey=ak-3&api_key=ak-4&page=2",
    )

    [line] = lines(output)
    assert line["url"] == "https://bridge:[REDACTED]@jira.example/rest/api/2/search?jql=project%3DOPS&token=[REDACTED]&key=[REDACTED]"
    assert line["other"] == "see http://redmine.example/issues.json?apikey=[REDACTED]&api_key=[REDACTED]&page=2"


def test_stdlib_library_lines_are_redacted_and_carry_the_item_context(configured_secrets: None, output: io.StringIO) -> None:
    with item_context(ticket="P-1", target="OPS-12"):
        logging.getLogger("httpx").info(
            'HTTP Request: %s %s "%s"', "GET", f"https://casavi.example/v1/tickets?token={CASAVI_KEY}&page=1", "HTTP/1.1 200 OK"
        )
        logging.getLogger("urllib3.connectionpool").debug(
            "headers: {'Authorization': 'Bearer %s', 'X-Redmine-API-Key': 'rk-777'}", TOOL_TOKEN
        )

    first, second = lines(output)
    assert_clean(output.getvalue(), CASAVI_KEY, TOOL_TOKEN, "rk-777")
    assert first["event"] == 'HTTP Request: GET https://casavi.example/v1/tickets?token=[REDACTED]&page=1 "HTTP/1.1 200 OK"'
    assert first["logger"] == "httpx" and first["ticket"] == "P-1" and first["target"] == "OPS-12"
    assert second["event"] == "headers: {'Authorization': 'Bearer [REDACTED]', 'X-Redmine-API-Key': '[REDACTED]'}"


def test_exception_text_is_redacted_from_structlog_and_stdlib_loggers(configured_secrets: None, output: io.StringIO) -> None:
    try:
        raise RuntimeError(f"login refused for key {CASAVI_KEY} at https://u:pw-55@casavi.example/?api_key=zz-9")
    except RuntimeError:
        get_logger("bridge.test").exception("pass_failed")
        logging.getLogger("jira").exception("jira call failed")

    first, second = lines(output)
    assert_clean(output.getvalue(), CASAVI_KEY, "pw-55", "zz-9")
    for line in (first, second):
        assert "RuntimeError: login refused for key [REDACTED] at https://u:[REDACTED]@casavi.example/?api_key=[REDACTED]" in line["exception"]


def test_runtime_tokens_registered_later_are_scrubbed_until_forgotten(output: io.StringIO) -> None:
    session_token = "sess-4c1d2e3f4a5b"
    register_secret(session_token)
    get_logger("bridge.test").info("token_refreshed", detail=f"now using {session_token}")
    unregister_secret(session_token)

    [line] = lines(output)
    assert line["detail"] == "now using [REDACTED]"


def test_console_format_is_redacted_too(configured_secrets: None) -> None:
    stream = io.StringIO()
    configure_logging("info", "console", stream=stream)
    try:
        get_logger("bridge.test").info("ticket_mirrored", note=f"secret is {CASAVI_SECRET}", token="abc-123")
    finally:
        reset_logging()

    text = stream.getvalue()
    assert "ticket_mirrored" in text and "[REDACTED]" in text
    assert_clean(text, CASAVI_SECRET, "abc-123")


def test_auto_format_writes_json_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging("info", "auto", stream=stream)
    try:
        get_logger("bridge.test").info("pass_finished", mirrored=3)
        get_logger("bridge.test").debug("not_shown_at_info")
    finally:
        reset_logging()

    [line] = lines(stream)
    assert line["event"] == "pass_finished" and line["mirrored"] == 3 and line["level"] == "info"
    assert structlog.is_configured() is False


SECRET_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~+/=", min_size=6, max_size=40)
SURROUNDING = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=SECRET_TEXT, before=SURROUNDING, after=SURROUNDING)
def test_a_registered_secret_never_survives_in_any_string(output: io.StringIO, secret: str, before: str, after: str) -> None:
    register_secret(secret)
    try:
        output.seek(0)
        output.truncate()
        get_logger("bridge.test").info("comment_written_back", text=before + secret + after, nested={"x": [before + secret]})
        logging.getLogger("httpx").info("%s%s%s", after, secret, before)
    finally:
        unregister_secret(secret)

    assert secret not in output.getvalue()
    assert secret not in json.dumps(lines(output), ensure_ascii=False)

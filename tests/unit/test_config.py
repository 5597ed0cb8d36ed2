"""The configuration file: one pass, every problem with its key path, secrets resolved, never shown."""

from __future__ import annotations

import os
import tomllib
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from bridge.config import (
    Settings,
    default_status_maps,
    load_config,
    lookup_task_status_back,
    split_listen,
)
from bridge.errors import ConfigError
from bridge.secrets import Secret

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "casavi-bridge.example.toml"


class FakeJiraSettings(BaseModel):
    """Shaped like the [jira] section of the example; ``token`` typed as a plain str."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str
    deployment: str = "cloud"
    user: str | None = None
    token: str = Field(min_length=1, repr=False)
    project: str
    issue_type: str = "Task"
    sub_task_type: str = "Sub-task"
    internal_visibility: dict[str, str] | None = None
    search_lag_seconds: float | None = None
    text_limit: int = 32767


class FakeRedmineSettings(BaseModel):
    """A connector that types its credential as bridge.secrets.Secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str
    api_key: Secret
    project: str


class FakeMemorySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    items: int = 0


class Plugin:
    def __init__(self, name: str, model: type[BaseModel]):
        self.name, self.settings_model = name, model


PLUGINS = {
    "jira": Plugin("jira", FakeJiraSettings),
    "redmine": Plugin("redmine", FakeRedmineSettings),
    "memory": Plugin("memory", FakeMemorySettings),
}

MINIMAL = """
[casavi]
base_url = "https://casavi.example/v1/"
key = "env:CASAVI_KEY"
secret = "env:CASAVI_SECRET"

[jira]
url = "https://jira.example"
user = "bridge@example.com"
token = "env:JIRA_TOKEN"
project = "OPS"
"""


@pytest.fixture
def credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "credentials"
    directory.mkdir()
    for name, value in [("casavi-key", "ck-0123456789"), ("casavi-secret", "cs-0123456789"), ("jira-token", "jt-0123456789")]:
        (directory / name).write_text(value + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(directory))
    return directory


@pytest.fixture
def env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASAVI_KEY", "key-from-env-1")
    monkeypatch.setenv("CASAVI_SECRET", "secret-from-env-1")
    monkeypatch.setenv("JIRA_TOKEN", "token-from-env-1")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, plugins=PLUGINS)
    return caught.value.problems


def test_example_config_loads_with_credentials_from_credentials_directory(credentials: Path) -> None:
    settings = load_config(EXAMPLE, plugins=PLUGINS)

    assert isinstance(settings, Settings)
    assert settings.casavi.base_url == "https://api.mycasavi.com/v1"
    assert settings.casavi.key.get_secret_value() == "ck-0123456789"
    assert settings.casavi.secret.get_secret_value() == "cs-0123456789"
    assert settings.connector_settings.token == "jt-0123456789"
    assert settings.connector.kind == "jira"
    assert settings.filters.statuses == ("PENDING", "OPEN", "INPROGRESS", "POSTPONED")
    assert settings.sync.conflict_policy == "casavi-wins"
    assert settings.metrics.listen is None
    assert settings.warnings == ()


def test_example_status_tables_are_the_defaults(credentials: Path) -> None:
    example = tomllib.loads(EXAMPLE.read_text())
    defaults = default_status_maps()

    for table in ("status_map", "status_map_back", "task_status_map", "task_status_map_back"):
        assert example[table] == defaults[table], table


def test_minimal_config_gets_a_default_for_everything_but_credentials_and_urls(tmp_path: Path, env_secrets: None) -> None:
    settings = load_config(write(tmp_path, MINIMAL), plugins=PLUGINS)

    assert settings.source.kind == "casavi"
    assert settings.casavi.base_url == "https://casavi.example/v1"  # trailing slash dropped
    assert settings.state.database == "sqlite:////var/lib/casavi-bridge/state.db"
    assert settings.sync.interval_seconds == 60
    assert settings.sync.internal_comments == "mirror"
    assert settings.status_map == default_status_maps()["status_map"]
    assert settings.status_map_back["To Do"] == "OPEN"
    assert settings.log.level == "info" and settings.log.format == "auto"


def test_declined_task_writes_back_by_resolution_and_other_done_means_completed(tmp_path: Path, env_secrets: None) -> None:
    settings = load_config(write(tmp_path, MINIMAL), plugins=PLUGINS)

    assert settings.task_status_map_back == {"To Do": "OPEN", "In Progress": "ACCEPTED", "Done": "COMPLETED", "Done/Won't Do": "DECLINED"}
    assert settings.casavi_task_status("Done", "Won't Do") == "DECLINED"
    assert settings.casavi_task_status("Done", "Done") == "COMPLETED"
    assert settings.casavi_task_status("Done", None) == "COMPLETED"
    assert settings.task_target("DECLINED").resolution == "Won't Do"
    assert lookup_task_status_back({"QA/Review/": "ACCEPTED"}, "QA/Review", "Fixed") == "ACCEPTED"


def test_every_problem_is_reported_at_once_with_its_key_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASAVI_KEY", raising=False)
    path = write(tmp_path, """
[casavi]
base_url = "ftp://casavi.example"
key = "env:CASAVI_KEY"
secret = "literal-secret-value"
concurrency = 0

[filters]
since = "2026-01-01T00:00:00"

[sync]
conflict_policy = "loudest-wins"
internal_comments = "publish"
colour = "blue"

[status_map_back]
"To Do" = "OPEN"

[task_status_map]
DECLINED = { resolution = "Won't Do" }

[jira]
url = "https://jira.example"
token = "literal-token-value"

[metrics]
listen = "nowhere"
""")
    problems = problems_of(path)

    expected = {
        "[casavi] base_url <- must be an http:// or https:// URL",
        "[casavi] key <- environment variable CASAVI_KEY is not set",
        "[casavi] concurrency <- Input should be greater than or equal to 1",
        "[filters] since <- needs a time zone, e.g. 2026-01-01T00:00:00Z",
        "[sync] conflict_policy <- Input should be 'casavi-wins', 'tool-wins' or 'newest'",
        "[sync] internal_comments <- Input should be 'mirror' or 'skip'",
        "[sync] colour <- unknown key",
        "[task_status_map] DECLINED.status <- required",
        "[jira] project <- required",
        '[metrics] listen <- expected "host:port", e.g. "127.0.0.1:9464"',
        '[status_map] INPROGRESS <- "In Progress" has no [status_map_back] entry, so it cannot be written back',
        '[status_map] POSTPONED <- "Waiting" has no [status_map_back] entry, so it cannot be written back',
        '[status_map] CLOSED <- "Done" has no [status_map_back] entry, so it cannot be written back',
    }
    assert set(problems) == expected
    text = str(ConfigError(problems))
    assert "literal-secret-value" not in text and "literal-token-value" not in text


def test_unknown_keys_and_sections_are_rejected(tmp_path: Path, env_secrets: None) -> None:
    path = write(tmp_path, MINIMAL + """
[state]
databse = "sqlite:///typo.db"

[jira.extra]
x = 1

[redmine]
url = "https://redmine.example"

[mystery]
a = 1
""")
    problems = problems_of(path)

    assert set(problems) == {
        "[state] databse <- unknown key",
        "[jira] extra <- unknown key",
        '[redmine] <- connector "redmine" is not the selected one ([connector] kind = "jira"); remove this section',
        "[mystery] <- unknown section",
    }


def test_filter_status_without_status_map_entry_is_an_error(tmp_path: Path, env_secrets: None) -> None:
    path = write(tmp_path, MINIMAL + """
[filters]
statuses = ["OPEN", "ARCHIVED"]

[status_map]
OPEN = "To Do"
""")
    problems = problems_of(path)

    assert '[filters] statuses[1] <- "ARCHIVED" is not a casavi ticket status (PENDING, OPEN, INPROGRESS, POSTPONED, CLOSED)' in problems
    assert "[status_map] CLOSED <- missing: a mirrored ticket is followed in every status" in problems


def test_since_with_a_time_zone_is_accepted_as_string_or_toml_datetime(tmp_path: Path, env_secrets: None) -> None:
    as_text = load_config(write(tmp_path, MINIMAL + '[filters]\nsince = "2026-01-01T00:00:00Z"\n'), plugins=PLUGINS)
    as_toml = load_config(write(tmp_path, MINIMAL + "[filters]\nsince = 2026-01-01T01:00:00+01:00\n"), plugins=PLUGINS)

    assert as_text.filters.since == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert as_toml.filters.since == as_text.filters.since


def test_unknown_connector_and_missing_connector_section_are_reported(tmp_path: Path, env_secrets: None) -> None:
    base = MINIMAL.split("[jira]")[0]
    unknown = problems_of(write(tmp_path, base + '[connector]\nkind = "trello"\n'))
    missing = problems_of(write(tmp_path, base + '[connector]\nkind = "redmine"\n'))
    memory = load_config(write(tmp_path, base + '[connector]\nkind = "memory"\n'), plugins=PLUGINS)

    assert unknown == ['[connector] kind <- unknown connector "trello" (installed: jira, memory, redmine)']
    assert missing == ['[redmine] <- section missing (needed for [connector] kind = "redmine")']
    assert memory.connector_settings == FakeMemorySettings()


def test_plugins_can_be_given_as_a_loader(tmp_path: Path, env_secrets: None) -> None:
    settings = load_config(write(tmp_path, MINIMAL), plugins=lambda: PLUGINS)

    assert settings.connector_settings.project == "OPS"


def test_secrets_come_from_env_file_credential_or_literal(tmp_path: Path, credentials: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "casavi-secret.txt"
    secret_file.write_text("from-a-file-123\nsecond line ignored\n")
    os.chmod(secret_file, 0o600)
    monkeypatch.setenv("CASAVI_KEY", "from-the-env-123")
    path = write(tmp_path, f"""
[casavi]
base_url = "https://casavi.example"
key = "env:CASAVI_KEY"
secret = "file:{secret_file}"

[connector]
kind = "redmine"

[redmine]
url = "https://redmine.example"
api_key = "cred:jira-token"
project = "ops"
""")
    settings = load_config(path, plugins=PLUGINS)

    assert settings.casavi.key.get_secret_value() == "from-the-env-123"
    assert settings.casavi.key.reference == "env:CASAVI_KEY"
    assert settings.casavi.secret.get_secret_value() == "from-a-file-123"
    assert settings.connector_settings.api_key.get_secret_value() == "jt-0123456789"
    assert settings.warnings == ()


def test_literal_secret_is_taken_as_written(tmp_path: Path, env_secrets: None) -> None:
    settings = load_config(write(tmp_path, MINIMAL.replace('"env:CASAVI_SECRET"', '"plain-literal-99"')), plugins=PLUGINS)

    assert settings.casavi.secret.get_secret_value() == "plain-literal-99"
    assert settings.casavi.secret.reference == "literal"


def test_secret_values_never_show_in_repr_str_or_dump(tmp_path: Path, env_secrets: None) -> None:
    settings = load_config(write(tmp_path, MINIMAL), plugins=PLUGINS)

    shown = repr(settings) + str(settings) + str(settings.casavi.model_dump()) + settings.casavi.model_dump_json()
    assert "key-from-env-1" not in shown and "secret-from-env-1" not in shown and "token-from-env-1" not in shown
    assert str(settings.casavi.key) == "**********"


def test_missing_env_var_names_the_key_and_the_variable_not_a_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASAVI_KEY", "present-key-value")
    monkeypatch.setenv("CASAVI_SECRET", "present-secret-value")
    monkeypatch.delenv("JIRA_TOKEN", raising=False)

    problems = problems_of(write(tmp_path, MINIMAL))

    assert problems == ["[jira] token <- environment variable JIRA_TOKEN is not set"]
    assert not any("present-" in problem for problem in problems)


def test_credential_without_credentials_directory_says_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env_secrets: None) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)

    problems = problems_of(write(tmp_path, MINIMAL.replace('"env:CASAVI_KEY"', '"cred:casavi-key"')))

    assert problems == [
        "[casavi] key <- cred:casavi-key needs $CREDENTIALS_DIRECTORY, which systemd sets for LoadCredential=; it is not set"
    ]


def test_missing_or_empty_secret_file_is_an_error_without_content(tmp_path: Path, env_secrets: None) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    text = MINIMAL.replace('"env:CASAVI_KEY"', f'"file:{tmp_path}/absent"').replace('"env:CASAVI_SECRET"', f'"file:{empty}"')

    problems = problems_of(write(tmp_path, text))

    assert problems == [
        f"[casavi] key <- file {tmp_path}/absent: {tmp_path}/absent does not exist",
        f"[casavi] secret <- file {empty} is empty",
    ]


def test_group_readable_secret_file_is_accepted_with_a_warning(tmp_path: Path, env_secrets: None) -> None:
    loose = tmp_path / "loose"
    loose.write_text("loose-secret-1\n")
    os.chmod(loose, 0o644)

    settings = load_config(write(tmp_path, MINIMAL.replace('"env:CASAVI_SECRET"', f'"file:{loose}"')), plugins=PLUGINS)

    assert settings.casavi.secret.get_secret_value() == "loose-secret-1"
    assert settings.warnings == (f"[casavi] secret <- file {loose} is readable by group or others (mode 0644); chmod 600 it",)


def test_invalid_toml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as broken:
        load_config(write(tmp_path, "[casavi\nkey = 1\n"), plugins=PLUGINS)
    with pytest.raises(ConfigError) as absent:
        load_config(tmp_path / "nope.toml", plugins=PLUGINS)

    assert "invalid TOML" in broken.value.problems[0] and "line 1" in broken.value.problems[0]
    assert "cannot read" in absent.value.problems[0]


def test_metrics_listen_accepts_host_port_and_bracketed_ipv6() -> None:
    assert split_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert split_listen("[::1]:9464") == ("::1", 9464)
    with pytest.raises(ValueError):
        split_listen("::1:9464")


def test_tool_comments_and_files_reach_casavi_internal_unless_the_operator_says_public(tmp_path: Path, env_secrets: None) -> None:
    settings = load_config(write(tmp_path, MINIMAL), plugins=PLUGINS)
    assert (settings.sync.tool_comments_to_casavi, settings.sync.tool_files_to_casavi) == ("internal", "internal")
    assert settings.sync.status_text_back == {} and settings.sync.suppress_rating_request is False

    public = load_config(write(tmp_path, MINIMAL + '[sync]\ntool_comments_to_casavi = "public"\n'), plugins=PLUGINS)
    assert (public.sync.tool_comments_to_casavi, public.sync.tool_files_to_casavi) == ("public", "internal")


def test_status_text_for_an_unknown_casavi_status_is_an_error(tmp_path: Path, env_secrets: None) -> None:
    path = write(tmp_path, MINIMAL + '[sync]\nstatus_text_back = { CLOSED = "Erledigt", DONE = "x" }\n')
    assert problems_of(path) == ['[sync] status_text_back.DONE <- not a casavi ticket status '
                                 '(PENDING, OPEN, INPROGRESS, POSTPONED, CLOSED)']


RELAY = """
[source]
kind = "relay"

[relay]
base_url = "https://relay.example/api"
api_key = "env:CASAVI_KEY"

[jira]
url = "https://jira.example"
user = "bridge@example.com"
token = "env:JIRA_TOKEN"
project = "OPS"
"""


def test_relay_source_writes_tool_comments_and_files_public_and_refuses_internal(tmp_path: Path, env_secrets: None) -> None:
    settings = load_config(write(tmp_path, RELAY), plugins=PLUGINS)
    assert (settings.sync.tool_comments_to_casavi, settings.sync.tool_files_to_casavi) == ("public", "public")
    path = write(tmp_path, RELAY + '[sync]\ntool_files_to_casavi = "internal"\n')
    assert problems_of(path) == ['[sync] tool_files_to_casavi <- relay has no internal comments; '
                                 'set "public" for [source] kind = "relay"']

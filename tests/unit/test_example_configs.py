"""The example configurations an operator copies load with the real connector plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import load_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def credentials(tmp_path, monkeypatch) -> Path:
    for name in ("casavi-key", "casavi-secret", "jira-token", "redmine-key"):
        (tmp_path / name).write_text(f"{name}-value-0123\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    return tmp_path


def test_jira_example_loads_with_the_installed_jira_plugin(credentials):
    settings = load_config(CONFIG_DIR / "casavi-bridge.example.toml")
    assert settings.connector.kind == "jira"
    assert settings.connector_settings.project == "OPS"
    assert settings.connector_settings.token.get_secret_value() == "jira-token-value-0123"


def test_redmine_example_loads_with_the_installed_redmine_plugin(credentials):
    settings = load_config(CONFIG_DIR / "redmine.example.toml")
    assert settings.connector.kind == "redmine"
    assert settings.connector_settings.marker_custom_field == "casavi ticket"
    assert settings.status_map["CLOSED"] == "Closed"
    assert settings.task_status_map["DECLINED"].status == "Rejected"


def test_jira_example_names_every_jira_setting():
    # An operator learns the keys from the example: every setting appears, set or commented out.
    from connectors.jira.config import AttributeField, FieldMap, JiraSettings, TypeMap

    text = (CONFIG_DIR / "casavi-bridge.example.toml").read_text()
    section = text.split("[jira]", 1)[1].split("\n[log]", 1)[0]
    names = (*JiraSettings.model_fields, *FieldMap.model_fields, *TypeMap.model_fields, *AttributeField.model_fields)
    missing = [name for name in names if f"{name} =" not in section and f"[jira.{name}]" not in section
               and f"[jira.field_map.{name}]" not in section]
    assert missing == []


@pytest.mark.parametrize("name", ["casavi-bridge.example.toml", "redmine.example.toml"])
def test_examples_name_every_sync_setting(name):
    from bridge.config import SyncSettings

    section = (CONFIG_DIR / name).read_text().split("\n[sync]", 1)[1].split("\n[", 1)[0]
    missing = [key for key in SyncSettings.model_fields if f"{key} =" not in section]
    assert missing == []


def test_a_jira_bridge_imports_only_the_jira_plugin(credentials):
    # Plugins are imported when the configuration names them: the Redmine connector and its
    # markup libraries stay out of a Jira bridge's start-up (a fresh interpreter proves it).
    import subprocess
    import sys

    probe = ("import sys; from bridge.config import load_config; "
             f"load_config({str(CONFIG_DIR / 'casavi-bridge.example.toml')!r}); "
             "print(sorted(m for m in ('connectors.jira', 'connectors.redmine', 'mistletoe') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=CONFIG_DIR.parent)
    assert out.stdout.strip() == "['connectors.jira']", out.stderr

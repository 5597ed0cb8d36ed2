"""Fleet configuration and tenant files: what is accepted, what is skipped with which problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from bridge.errors import ConfigError
from bridge.fleet.config import FleetSettings, load_any, scan_tenants, tenant_schema
from bridge.metrics import Metrics

PG = "postgresql+psycopg://bridge@db.example.com/bridge"
TENANT = {"casavi": {"base_url": "https://api.mycasavi.com/v1", "key": "k", "secret": "s"},
          "connector": {"kind": "memory"}}


def write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(data))
    return path


def fleet_file(tmp_path: Path, **fleet) -> Path:
    return write(tmp_path / "fleet.toml", {"state": {"database": PG},
                                           "fleet": {"tenants_dir": "tenants", **fleet}})


def test_a_fleet_file_names_its_tenants_directory_relative_to_itself(tmp_path):
    fleet = load_any(fleet_file(tmp_path, takeover_seconds=40))
    assert isinstance(fleet, FleetSettings)
    assert fleet.tenants_dir == tmp_path / "tenants"
    assert (fleet.fleet.takeover_seconds, fleet.fleet.rescan, fleet.fleet.parallel_tenants) == (40, 10, 4)


def test_a_fleet_needs_postgresql_and_only_its_own_sections(tmp_path):
    path = write(tmp_path / "fleet.toml", {"state": {"database": "sqlite:////tmp/x.db"},
                                           "fleet": {"tenants_dir": "t", "takeover": 3}, "casavi": {}})
    with pytest.raises(ConfigError) as exc:
        load_any(path)
    assert exc.value.problems == [
        "[fleet] takeover <- unknown key",
        "[casavi] <- not part of a fleet configuration (tenant settings go into the tenant files in [fleet] tenants_dir)",
        '[state] database <- a fleet needs PostgreSQL ("postgresql+psycopg://...")',
    ]


def test_a_bad_tenant_file_is_skipped_with_its_problems_and_the_rest_load(tmp_path):
    fleet = load_any(fleet_file(tmp_path))
    tenants = tmp_path / "tenants"
    write(tenants / "nord.toml", TENANT)
    write(tenants / "sued.toml", {**TENANT, "state": {"database": "sqlite:////tmp/s.db"}, "log": {"level": "debug"}})
    write(tenants / "West Ost.toml", TENANT)
    (tenants / "kaputt.toml").write_text("[sync\n")
    scan = scan_tenants(fleet)
    assert sorted(scan.tenants) == ["nord"]
    assert scan.tenants["nord"].settings.state.database == PG
    assert scan.tenants["nord"].schema == tenant_schema("nord") == "tenant_nord"
    assert scan.problems["sued"] == ["[state] <- not allowed in a tenant file (the fleet configuration holds it)",
                                     "[log] <- not allowed in a tenant file (the fleet configuration holds it)"]
    assert "the file name is the tenant's name" in scan.problems["West Ost"][0]
    assert "invalid TOML" in scan.problems["kaputt"][0]


def test_an_unchanged_tenant_file_is_not_read_again_and_a_changed_one_is(tmp_path):
    fleet = load_any(fleet_file(tmp_path))
    path = write(tmp_path / "tenants" / "nord.toml", TENANT)
    first = scan_tenants(fleet)
    assert scan_tenants(fleet, previous=first.tenants).tenants["nord"] is first.tenants["nord"]
    write(path, {**TENANT, "sync": {"interval_seconds": 30}})
    again = scan_tenants(fleet, previous=first.tenants).tenants["nord"]
    assert again.settings.sync.interval_seconds == 30


def test_fleet_metrics_carry_the_tenant_label():
    metrics = Metrics(tenants=True)
    nord, sued = metrics.for_tenant("nord"), metrics.for_tenant("sued")
    nord.item_mirrored("ticket", "to_tool", 3)
    sued.observe_request("casavi", 200, 0.1)
    nord.set_quarantine_size(2)
    sued.pass_succeeded(at=1000.0)
    value = metrics.registry.get_sample_value
    assert value("casavi_bridge_items_mirrored_total", {"tenant": "nord", "kind": "ticket", "direction": "to_tool"}) == 3
    assert value("casavi_bridge_requests_total", {"tenant": "sued", "side": "casavi", "status": "200"}) == 1
    assert value("casavi_bridge_quarantine_size", {"tenant": "nord"}) == 2
    assert value("casavi_bridge_last_successful_pass_timestamp_seconds", {"tenant": "sued"}) == 1000.0
    assert metrics.health()[1]["last_successful_pass"] is not None


def test_the_fleet_example_loads_and_names_every_fleet_setting():
    from bridge.fleet.config import FleetSection

    path = Path(__file__).resolve().parents[2] / "config" / "fleet.example.toml"
    fleet = load_any(path)
    assert isinstance(fleet, FleetSettings) and fleet.fleet.takeover_seconds == 60
    text = path.read_text()
    for key in FleetSection.model_fields:
        assert f"{key} =" in text, key


def two_tenant_fleet(tmp_path: Path, postgres_database) -> tuple[str, Path]:
    """(state URL, fleet.toml) of a fleet on a new PostgreSQL database with tenants nord and sued."""
    url = postgres_database()
    path = write(tmp_path / "fleet.toml", {"state": {"database": url}, "fleet": {"tenants_dir": "tenants"}})
    write(tmp_path / "tenants" / "nord.toml", TENANT)
    write(tmp_path / "tenants" / "sued.toml", TENANT)
    return url, path


def test_db_upgrade_migrates_one_tenants_schema_and_status_lists_every_tenant(tmp_path, postgres_database):
    import json

    from click.testing import CliRunner

    from bridge.cli import main

    url, path = two_tenant_fleet(tmp_path, postgres_database)
    runner = CliRunner()
    upgraded = runner.invoke(main, ["db", "upgrade", "--config", str(path), "--tenant", "nord"])
    assert upgraded.exit_code == 0, upgraded.output
    assert "schema at revision 0" in upgraded.output
    status = runner.invoke(main, ["status", "--config", str(path), "--json"])
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert [(t["tenant"], t["worker"], t["links"], t["last_pass"]) for t in data["tenants"]] == [
        ("nord", None, {}, None), ("sued", None, {}, None)]
    unknown = runner.invoke(main, ["db", "upgrade", "--config", str(path), "--tenant", "west"])
    assert unknown.exit_code == 2 and "no tenant 'west'" in unknown.output


def test_clear_with_a_tenant_touches_that_tenants_quarantine_only(tmp_path, postgres_database):
    from click.testing import CliRunner

    from bridge.cli import main
    from bridge.errors import RetriableError
    from bridge.fleet.config import pick_tenant
    from bridge.fleet.tenant_state import open_tenant_state

    url, path = two_tenant_fleet(tmp_path, postgres_database)
    runner = CliRunner()
    fleet = load_any(path)
    for name in ("nord", "sued"):
        assert runner.invoke(main, ["db", "upgrade", "--config", str(path), "--tenant", name]).exit_code == 0
        ledger, lock = open_tenant_state(url, pick_tenant(fleet, name).schema)
        try:
            ledger.quarantine("casavi:T-1", RetriableError("Jira answered 503"), item_version=None)
            ledger.quarantine("casavi:T-2", RetriableError("Jira answered 503"), item_version=None)
        finally:
            lock.release()
    one = runner.invoke(main, ["clear", "--config", str(path), "--tenant", "nord", "casavi:T-1"])
    assert one.exit_code == 0 and "1 quarantine entries cleared" in one.output, one.output
    everything = runner.invoke(main, ["clear", "--config", str(path), "--tenant", "sued", "--all"])
    assert everything.exit_code == 0 and "2 quarantine entries cleared" in everything.output, everything.output
    attempts = {}
    for name in ("nord", "sued"):
        ledger, lock = open_tenant_state(url, pick_tenant(fleet, name).schema)
        try:
            attempts[name] = {q.item_key: q.attempts for q in ledger.quarantined()}
        finally:
            lock.release()
    assert attempts == {"nord": {"casavi:T-1": 0, "casavi:T-2": 1}, "sued": {"casavi:T-1": 0, "casavi:T-2": 0}}
    missing = runner.invoke(main, ["clear", "--config", str(path), "--all"])
    assert missing.exit_code == 2 and "--tenant <- required" in missing.output

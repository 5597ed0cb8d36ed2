"""The shipped Prometheus alert rules and Grafana dashboard: valid for Prometheus's own tool
(`promtool`, Debian's prometheus package, installed by tests/system-deps.sh), their alerts fire
when they should (`promtool test rules`), and every metric they read is one the code exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client.metrics_core import Metric

from bridge.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "contrib" / "prometheus" / "casavi-bridge.rules.yml"
RULES_TEST = ROOT / "contrib" / "prometheus" / "casavi-bridge.rules.test.yml"
DASHBOARD = ROOT / "contrib" / "grafana" / "casavi-bridge.json"
METRIC_NAME = re.compile(r"\bcasavi_bridge_[a-z0-9_]+")
# Grafana's variables, replaced by what Grafana would send for "All" and a rate window.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$instance": ".*", "$tenant": ".*"}
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count", "_created"),
            "summary": ("", "_sum", "_count", "_created"), "info": ("_info",)}


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: run `bash tests/system-deps.sh` as root (Debian's prometheus package)"
    return path


def exported_names() -> set[str]:
    """Every sample name bridge/metrics.py can export (from its registry's metric families)."""
    families: list[Metric] = list(Metrics().registry.collect())
    return {family.name + suffix for family in families for suffix in SUFFIXES[family.type]}


def dashboard_queries() -> list[tuple[str, str]]:
    data = json.loads(DASHBOARD.read_text())
    queries = [(panel["title"], target["expr"]) for panel in data["panels"] for target in panel["targets"]]
    queries += [(f"variable {v['name']}", v["query"]["query"]) for v in data["templating"]["list"]
                if isinstance(v.get("query"), dict)]
    return queries


def rule_expressions() -> list[tuple[str, str]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [(rule["alert"], rule["expr"]) for group in groups for rule in group["rules"]]


def test_promtool_accepts_the_rules_and_their_tests_pass():
    check = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 6 rules found" in check.stdout
    run = subprocess.run([promtool(), "test", "rules", RULES_TEST.name], cwd=RULES_TEST.parent, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_the_rules_cover_what_an_operator_is_paged_for():
    alerts = {name for name, _ in rule_expressions()}
    assert alerts >= {"CasaviBridgeNoSuccessfulPass", "CasaviBridgeQuarantineGrowing", "CasaviBridgeRateLimited",
                      "CasaviBridgeServerErrors", "CasaviBridgeTenantUnclaimed"}
    tested = set(re.findall(r"alertname: (\w+)", RULES_TEST.read_text()))
    assert tested == alerts, f"alerts without a promtool test: {alerts - tested}"


def test_rules_and_dashboard_read_only_metrics_the_code_exports():
    exported = exported_names()
    assert "casavi_bridge_requests_total" in exported and "casavi_bridge_request_duration_seconds_bucket" in exported
    used: dict[str, set[str]] = {}
    for where, expr in rule_expressions() + dashboard_queries():
        names = set(METRIC_NAME.findall(expr))
        assert names or "vector(" in expr, f"{where}: reads no casavi-bridge metric: {expr}"
        for name in names:
            used.setdefault(name, set()).add(where)
    unknown = {name: sorted(places) for name, places in used.items() if name not in exported}
    assert not unknown, f"metrics the code does not export: {unknown}"
    # every exported family is on the dashboard
    families = {f.name for f in Metrics().registry.collect()}
    shown = {name for _, expr in dashboard_queries() for name in METRIC_NAME.findall(expr)}
    assert {f for f in families if not any(s.startswith(f) for s in shown)} == set()


def test_every_dashboard_query_is_valid_promql(tmp_path):
    """promtool parses each query (Grafana's variables filled in) as a recording rule."""
    rules = []
    for index, (where, expr) in enumerate(dashboard_queries()):
        if expr.startswith("label_values("):
            match = re.fullmatch(r"label_values\((casavi_bridge_[a-z_]+), (\w+)\)", expr)
            assert match, f"{where}: {expr}"
            continue
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"{where}: unknown Grafana variable in {expr}"
        rules.append({"record": f"dashboard:query_{index}", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    check = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(rules)} rules found" in check.stdout


def test_the_dashboard_is_a_grafana_dashboard_with_a_datasource_choice():
    data = json.loads(DASHBOARD.read_text())
    assert data["uid"] == "casavi-bridge" and data["schemaVersion"] >= 36
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids))
    for panel in data["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]

"""The shipped systemd units verify cleanly and the services stay hardened (exposure ≤ 2.0).

Needs ``systemd-analyze`` (Debian package ``systemd``; tests/system-deps.sh installs it).  When it
is missing these tests fail rather than skip: the units would otherwise ship unchecked.  Both
commands work without systemd running as PID 1 (containers, CI): ``verify`` loads the unit
files from the given paths and ``security --offline=true`` reads them without asking the manager.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS_DIR = Path(__file__).resolve().parents[2] / "systemd"
SERVICE = "casavi-bridge.service"
RECONCILE = "casavi-bridge-reconcile.service"
TIMER = "casavi-bridge-reconcile.timer"
UNITS = (SERVICE, RECONCILE, TIMER)
INSTALLED_PROGRAM = "/usr/local/bin/casavi-bridge"
MAX_EXPOSURE = 2.0


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze is missing: install the Debian package 'systemd' (tests/system-deps.sh)")
    return found


def existing_program() -> str:
    """The venv's console script when installed, else any executable: verify checks ExecStart exists."""
    script = Path(sys.executable).parent / "casavi-bridge"
    return str(script) if script.exists() else "/bin/true"


@pytest.fixture
def unit_copies(tmp_path: Path) -> Path:
    """The units with ExecStart pointing at an executable that exists on this machine."""
    for name in UNITS:
        text = (UNITS_DIR / name).read_text()
        (tmp_path / name).write_text(text.replace(INSTALLED_PROGRAM, existing_program()))
    return tmp_path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([systemd_analyze(), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def directives(name: str) -> dict[str, list[str]]:
    """``Key`` → every value it is given in the unit (keys may repeat)."""
    found: dict[str, list[str]] = {}
    for line in (UNITS_DIR / name).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_units_pass_systemd_analyze_verify(unit_copies: Path) -> None:
    result = run("verify", "--man=no", *(str(unit_copies / name) for name in UNITS), cwd=unit_copies)

    output = result.stdout + result.stderr
    about_ours = [line for line in output.splitlines() if any(name in line for name in UNITS) or str(unit_copies) in line]
    assert result.returncode == 0, output
    assert about_ours == [], output


def test_verify_catches_a_broken_unit(unit_copies: Path) -> None:
    """The check above is meaningful: a unit with an unknown directive is reported."""
    broken = unit_copies / SERVICE
    broken.write_text(broken.read_text().replace("[Service]\n", "[Service]\nWatchDogSecs=5\n", 1))

    result = run("verify", "--man=no", str(broken), cwd=unit_copies)

    assert "WatchDogSecs" in result.stdout + result.stderr


@pytest.mark.parametrize("name", [SERVICE, RECONCILE])
def test_service_exposure_level_is_at_most_two(unit_copies: Path, name: str) -> None:
    result = run("security", "--offline=true", str(unit_copies / name), cwd=unit_copies)

    output = result.stdout + result.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", output)
    assert match is not None, output
    assert float(match.group(1)) <= MAX_EXPOSURE, output


def test_daemon_unit_runs_the_documented_command_as_a_notify_service() -> None:
    unit = directives(SERVICE)

    assert unit["Type"] == ["notify"]
    assert unit["ExecStart"] == [f"{INSTALLED_PROGRAM} run --config /etc/casavi-bridge/config.toml"]
    assert unit["WatchdogSec"] == ["120"] and unit["Restart"] == ["on-failure"] and unit["TimeoutStopSec"] == ["30"]
    assert unit["StateDirectory"] == ["casavi-bridge"] and unit["StateDirectoryMode"] == ["0700"]
    assert unit["ConfigurationDirectory"] == ["casavi-bridge"]
    assert unit["DynamicUser"] == ["yes"]
    assert unit["LoadCredential"] == [
        f"{name}:/etc/casavi-bridge/credentials/{name}" for name in ("casavi-key", "casavi-secret", "jira-token")
    ]


def test_reconcile_runs_as_the_same_user_on_the_same_state_and_nightly() -> None:
    daemon, reconcile, timer = directives(SERVICE), directives(RECONCILE), directives(TIMER)

    assert reconcile["Type"] == ["oneshot"]
    assert reconcile["ExecStart"] == [f"{INSTALLED_PROGRAM} reconcile --config /etc/casavi-bridge/config.toml"]
    for key in ("User", "DynamicUser", "StateDirectory", "LoadCredential", "SystemCallFilter", "ProtectSystem"):
        assert reconcile[key] == daemon[key], key
    assert timer["OnCalendar"] == ["*-*-* 03:30:00"]
    assert timer["Persistent"] == ["true"] and timer["Unit"] == [RECONCILE]
    assert "RandomizedDelaySec" in timer

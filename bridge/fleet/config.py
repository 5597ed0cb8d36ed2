"""The fleet configuration and its tenants.

A fleet configuration is a file with ``[fleet]``: it holds ``[state]`` (PostgreSQL), ``[log]``
and ``[metrics]`` for the worker, and names a directory of tenant files.  Each ``*.toml`` there
is an ordinary configuration without ``[state]``, ``[log]`` and ``[metrics]``; its stem is the
tenant's name (lower-case letters, digits, ``-`` and ``_``; at most 48 characters), and the
tenant's state lives in the PostgreSQL schema ``tenant_<name>``.

Why a schema per tenant rather than a tenant column: the ledger's statements, keys and unique
constraints stay exactly those of a single daemon, so no query can forget a tenant filter (the
isolation is the database's, not each query's); every tenant runs the same migrations with its
own ``alembic_version``; one tenant is dumped or dropped with ``pg_dump -n`` / ``DROP SCHEMA``;
and the advisory lock that makes a worker a tenant's one writer is the same lock a single daemon
takes on its schema.  The price, about 15 catalog entries per tenant, is small for PostgreSQL
at thousands of tenants.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bridge.config import (LogSettings, MetricsSettings, PluginSource, Settings, StateSettings, _format_errors,
                           settings_from_dict)
from bridge.errors import ConfigError
from bridge.state.db import is_postgresql

TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,47}\Z")
FLEET_ONLY_SECTIONS = ("state", "log", "metrics")


class FleetSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenants_dir: Annotated[str, Field(min_length=1)]
    takeover_seconds: Annotated[float, Field(ge=5)] = 60
    rescan_seconds: Annotated[float, Field(gt=0)] | None = None  # default: min(10, takeover / 4)
    parallel_tenants: Annotated[int, Field(ge=1)] = 4

    @property
    def rescan(self) -> float:
        return self.rescan_seconds if self.rescan_seconds is not None else min(10.0, self.takeover_seconds / 4)


@dataclass(frozen=True)
class FleetSettings:
    path: Path
    state: StateSettings
    fleet: FleetSection
    log: LogSettings
    metrics: MetricsSettings

    @property
    def tenants_dir(self) -> Path:
        d = Path(self.fleet.tenants_dir)
        return d if d.is_absolute() else self.path.parent / d


@dataclass
class Tenant:
    name: str
    path: Path
    settings: Settings
    stamp: tuple[int, int]  # (mtime_ns, size): a changed file is read again

    @property
    def schema(self) -> str:
        return tenant_schema(self.name)


@dataclass
class TenantScan:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)  # tenant (or file) name -> problems


def tenant_schema(name: str) -> str:
    return f"tenant_{name}"


def is_fleet_config(raw: Mapping[str, Any]) -> bool:
    return "fleet" in raw


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None


def fleet_from_dict(path: Path, raw: Mapping[str, Any]) -> FleetSettings:
    """Validate a fleet configuration; raise ConfigError listing every problem."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    models = {"state": StateSettings, "fleet": FleetSection, "log": LogSettings, "metrics": MetricsSettings}
    for section, model in models.items():
        data = raw.get(section, {})
        if not isinstance(data, dict):
            problems.append(f"[{section}] <- must be a table")
            continue
        try:
            values[section] = model.model_validate(data)
        except ValidationError as exc:
            problems.extend(_format_errors(section, exc))
    for section in raw:
        if section not in models:
            problems.append(f"[{section}] <- not part of a fleet configuration (tenant settings go into the "
                            "tenant files in [fleet] tenants_dir)")
    state = values.get("state")
    if state is not None and not is_postgresql(state.database):
        problems.append('[state] database <- a fleet needs PostgreSQL ("postgresql+psycopg://...")')
    if problems:
        raise ConfigError(problems)
    return FleetSettings(path=path, **values)


def load_tenant(fleet: FleetSettings, path: Path, *, plugins: PluginSource = None) -> Tenant:
    """One tenant file as the tenant's settings (with the fleet's state); ConfigError if bad."""
    name = path.stem
    problems = []
    if not TENANT_NAME.match(name):
        problems.append(f"{path.name}: the file name is the tenant's name: lower-case letters, digits, - and _ "
                        "(at most 48, starting with a letter or digit)")
    stat = path.stat()
    raw = read_toml(path)
    for section in FLEET_ONLY_SECTIONS:
        if section in raw:
            problems.append(f"[{section}] <- not allowed in a tenant file (the fleet configuration holds it)")
    raw = {k: v for k, v in raw.items() if k not in FLEET_ONLY_SECTIONS}
    raw["state"] = {"database": fleet.state.database}
    try:
        settings = settings_from_dict(raw, plugins=plugins)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return Tenant(name, path, settings, (stat.st_mtime_ns, stat.st_size))


def scan_tenants(fleet: FleetSettings, *, previous: Mapping[str, Tenant] | None = None,
                 plugins: PluginSource = None) -> TenantScan:
    """Every ``*.toml`` in the tenants directory; a bad file is a problem of its tenant, the rest
    load.  A file whose modification time and size are unchanged is not read again."""
    scan = TenantScan()
    directory = fleet.tenants_dir
    if not directory.is_dir():
        scan.problems["[fleet]"] = [f"[fleet] tenants_dir <- {directory} is not a directory"]
        return scan
    for path in sorted(directory.glob("*.toml")):
        name = path.stem
        try:
            stat = path.stat()
            known = (previous or {}).get(name)
            if known is not None and known.stamp == (stat.st_mtime_ns, stat.st_size):
                scan.tenants[name] = known
                continue
            scan.tenants[name] = load_tenant(fleet, path, plugins=plugins)
        except ConfigError as exc:
            scan.problems[name] = list(exc.problems)
        except OSError as exc:
            scan.problems[name] = [f"{path.name}: cannot read ({exc.strerror or exc})"]
    return scan


def load_any(path: str | Path, *, plugins: PluginSource = None) -> Settings | FleetSettings:
    """A single configuration (:class:`Settings`) or, when it has ``[fleet]``, a fleet's."""
    path = Path(path)
    raw = read_toml(path)
    if is_fleet_config(raw):
        return fleet_from_dict(path, raw)
    return settings_from_dict(raw, plugins=plugins)


def pick_tenant(fleet: FleetSettings, name: str, *, plugins: PluginSource = None) -> Tenant:
    """``--tenant NAME``: that tenant's file, validated (ConfigError if missing or bad)."""
    path = fleet.tenants_dir / f"{name}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in fleet.tenants_dir.glob("*.toml")) if fleet.tenants_dir.is_dir() else []
        raise ConfigError(f"--tenant <- no tenant {name!r} in {fleet.tenants_dir} (known: {', '.join(known) or 'none'})")
    return load_tenant(fleet, path, plugins=plugins)

"""The configuration file (TOML, see ``config/casavi-bridge.example.toml``) as typed, frozen settings.

:func:`load_config` validates everything in one pass — every section, the connector's own
section (through its plugin's ``settings_model``) and the cross-checks — and raises one
:class:`~bridge.errors.ConfigError` listing every problem as ``[section] key.path <- message``.
Unknown sections and keys are errors.  Everything except credentials and URLs has a default.

Decisions (the example file explains them to operators):

- Every ``status_map`` target must be a ``status_map_back`` key (and every ``task_status_map``
  target found by the back lookup): an **error**, since a typo would silently stop write-back.
- With ``[source] kind = "casavi"``, every casavi ticket status needs a ``status_map`` entry (a
  mirrored ticket is followed in every status); task maps always cover the four task statuses.
  With ``kind = "relay"`` the same holds for relay's order statuses, and the defaults change:
  the relay status maps, ``[filters] statuses = ["OPEN", "IN_PROGRESS"]`` and
  ``[sync] tasks = false`` (orders have no tasks; switching it on is an error).
- A table in the file replaces its default entirely.  An omitted ``*_back`` table is the
  inverse of the forward table; where casavi statuses share a tool status the last listed wins.
- ``task_status_map_back`` keys: ``"STATUS"`` (any resolution) or ``"STATUS/RESOLUTION"``, split
  at the last ``/`` (a status containing ``/`` gets a trailing ``/``); the pair is tried first.
- A section for an installed connector other than ``[connector] kind`` is an error.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Mapping, get_args

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import StringConstraints, TypeAdapter, ValidationError, field_validator

from bridge.errors import ConfigError
from bridge.model import TASK_STATUSES, StatusTarget
from bridge.secrets import Secret, SecretError, collect_warnings, is_sensitive_key, resolve_secret

CASAVI_TICKET_STATUSES = ("PENDING", "OPEN", "INPROGRESS", "POSTPONED", "CLOSED")
RELAY_ORDER_STATUSES = ("OPEN", "IN_PROGRESS", "FINISHED", "DECLINED", "PREPARE", "NULL")
# Orders that start being mirrored by default: issued to the provider and not yet done.
# PREPARE (the manager is still preparing it) and NULL (no status) are followed once linked.
RELAY_START_STATUSES = ("OPEN", "IN_PROGRESS")


def _check(pattern: str, message: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Url = Annotated[NonEmpty, _check(r"https?://[^\s/]+\S*\Z", "must be an http:// or https:// URL"), AfterValidator(lambda v: v.rstrip("/"))]
MimeType = Annotated[str, _check(r"[\w.+-]+/([\w.+-]+|\*)\Z", 'must be a MIME type such as "application/pdf" or "image/*"')]
PositiveSeconds = Annotated[float, Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StateSettings(_Section):
    database: NonEmpty = "sqlite:////var/lib/casavi-bridge/state.db"


class SourceSettings(_Section):
    kind: Literal["casavi", "relay"] = "casavi"


class CasaviSettings(_Section):
    base_url: Url
    key: Secret
    secret: Secret
    date_semantics: Literal["modified", "created"] = "modified"
    timeout_seconds: PositiveSeconds = 30
    concurrency: Annotated[int, Field(ge=1)] = 4
    request_budget: Annotated[int, Field(ge=0)] = 0  # requests per pass; 0 = no limit
    # Property, unit and contact names are looked up again after this many hours (kept in the
    # state database meanwhile, so a restart does not look them all up again).
    names_max_age_hours: Annotated[float, Field(gt=0)] = 24


class RelaySettings(_Section):
    """The casavi relay (service-provider orders) source: ``bridge/relay/``."""

    base_url: Url
    api_key: Secret
    timeout_seconds: PositiveSeconds = 30
    concurrency: Annotated[int, Field(ge=1)] = 4
    request_budget: Annotated[int, Field(ge=0)] = 0
    # relay's CreateOrderComment requires an author name: the name comments written back carry.
    author_name: NonEmpty = "casavi-bridge"
    # Write the tool's key (Jira "OPS-12") into the order's internalId (PatchOrder), so the
    # provider sees it in relay; an internalId someone else set is never overwritten.
    write_tool_key: bool = True
    # A due date changed in the tool is written back to the order (PatchOrder dueDate).
    due_date_back: bool = True


class FilterSettings(_Section):
    statuses: tuple[NonEmpty, ...] = ("PENDING", "OPEN", "INPROGRESS", "POSTPONED")
    since: AwareDatetime | None = None
    # casavi property ids; TOML integers are accepted and kept as text.
    property_ids: tuple[Annotated[NonEmpty, BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v)], ...] = ()


class SyncSettings(_Section):
    interval_seconds: PositiveSeconds = 60
    jitter_seconds: Annotated[float, Field(ge=0)] = 5
    overlap_seconds: Annotated[float, Field(ge=0)] = 120
    sweep_interval_seconds: PositiveSeconds = 900
    concurrency: Annotated[int, Field(ge=1)] = 4
    comments: bool = True
    internal_comments: Literal["mirror", "skip"] = "mirror"
    # Who in casavi may read what people write in the tool.  Tenants read casavi; colleagues
    # write in the tool for each other, not knowing a tenant might read along: both default to
    # "internal" (a manager can still make a comment public in casavi; a leak cannot be undone).
    # A comment restricted in the tool is internal in casavi either way.  (relay: see below.)
    tool_comments_to_casavi: Literal["public", "internal"] = "internal"
    tool_files_to_casavi: Literal["public", "internal"] = "internal"
    # casavi status -> statusText sent when the bridge writes that status back (tenants see the
    # text instead of the status's own name); statuses not listed send none.
    status_text_back: dict[NonEmpty, NonEmpty] = Field(default_factory=dict)
    # Closing a ticket from the tool: suppress casavi's request to the tenant to rate the process.
    suppress_rating_request: bool = False
    # Follow who works on it both ways (casavi assignedToId ↔ the tool's assignee), people
    # matched by e-mail address (override: the connector's assignee_map).
    assignees: bool = True
    tasks: bool = True
    attachments: bool = True
    attachment_max_bytes: Annotated[int, Field(gt=0)] = 10_000_000  # casavi: "10 MB"
    attachment_types: tuple[MimeType, ...] = ()
    conflict_policy: Literal["casavi-wins", "tool-wins", "newest"] = "casavi-wins"
    mass_change_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    mass_change_min_items: Annotated[int, Field(ge=0)] = 20
    max_attempts: Annotated[int, Field(ge=1)] = 10
    # A failed write waits this many seconds, doubled after every further failure (at most 6 h).
    retry_base_seconds: Annotated[float, Field(ge=0)] = 30


class TaskStatusTarget(_Section):
    status: NonEmpty
    resolution: NonEmpty | None = None

    def as_target(self) -> StatusTarget:
        return StatusTarget(self.status, self.resolution)


class ConnectorSettings(_Section):
    kind: NonEmpty = "jira"


class LogSettings(_Section):
    level: Annotated[Literal["debug", "info", "warning", "error"], BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v)] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class MetricsSettings(_Section):
    listen: str | None = None  # "host:port", "[::1]:9464", ":9464" (127.0.0.1); None = no endpoint
    status_page: bool = True  # the operator's status page on / and /status of the same listener
    admin_token: Secret | None = None  # allows the page's "retry now"; without it the page only reads

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str | None) -> str | None:
        if value is not None:
            split_listen(value)
        return value

    @property
    def host(self) -> str | None:
        return split_listen(self.listen)[0] if self.listen else None

    @property
    def port(self) -> int | None:
        return split_listen(self.listen)[1] if self.listen else None


def split_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"`` → ``("127.0.0.1", 9464)``; ``"[::1]:9464"`` → ``("::1", 9464)``;
    ``":9464"`` → ``("127.0.0.1", 9464)`` (no host: loopback only, never every interface)."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError('expected "host:port", e.g. "127.0.0.1:9464"')
    if not host:
        return "127.0.0.1", int(port_text)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        ipaddress.IPv6Address(host)
    elif ":" in host:
        raise ValueError('an IPv6 address needs brackets: "[::1]:9464"')
    return host, int(port_text)


StatusMap = dict[NonEmpty, NonEmpty]
TaskStatusMap = dict[NonEmpty, TaskStatusTarget]


class Settings(_Section):
    """The whole validated configuration.  Attribute names follow the TOML sections."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    state: StateSettings
    source: SourceSettings
    casavi: CasaviSettings | None
    relay: RelaySettings | None
    filters: FilterSettings
    sync: SyncSettings
    status_map: StatusMap
    status_map_back: StatusMap
    task_status_map: TaskStatusMap
    task_status_map_back: StatusMap
    connector: ConnectorSettings
    connector_settings: Any  # the plugin's settings_model instance, from the section [<connector.kind>]
    log: LogSettings
    metrics: MetricsSettings
    warnings: tuple[str, ...] = ()  # "[section] key <- message" lines the CLI logs at start

    def task_target(self, task_status: str) -> StatusTarget | None:
        target = self.task_status_map.get(task_status)
        return target.as_target() if target else None

    def casavi_task_status(self, tool_status: str, resolution: str | None) -> str | None:
        return lookup_task_status_back(self.task_status_map_back, tool_status, resolution)


# --------------------------------------------------------------------------- status maps


def default_status_maps() -> dict[str, dict[str, Any]]:
    """The default maps as plain TOML-ready tables (fresh copies), keyed by section name."""
    status_map = {"PENDING": "To Do", "OPEN": "To Do", "INPROGRESS": "In Progress", "POSTPONED": "Waiting", "CLOSED": "Done"}
    task_status_map = {
        "OPEN": {"status": "To Do"},
        "ACCEPTED": {"status": "In Progress"},
        "COMPLETED": {"status": "Done"},
        "DECLINED": {"status": "Done", "resolution": "Won't Do"},
    }
    return {
        "status_map": status_map,
        "status_map_back": invert_status_map(status_map),
        "task_status_map": task_status_map,
        "task_status_map_back": invert_task_status_map(task_status_map),
    }


def default_relay_status_maps() -> dict[str, dict[str, str]]:
    """The default relay order status maps (used when ``[source] kind = "relay"`` and the file
    has no ``[status_map]``).  Jira's default workflow has no "declined": a declined order is
    Done; "Waiting" in the tool is still work in progress from the manager's point of view."""
    status_map = {"OPEN": "To Do", "PREPARE": "To Do", "NULL": "To Do", "IN_PROGRESS": "In Progress",
                  "FINISHED": "Done", "DECLINED": "Done"}
    back = {"To Do": "OPEN", "In Progress": "IN_PROGRESS", "Waiting": "IN_PROGRESS", "Done": "FINISHED"}
    return {"status_map": status_map, "status_map_back": back}


def invert_status_map(status_map: Mapping[str, str]) -> dict[str, str]:
    """Tool status → casavi status; when several share a tool status the last listed wins."""
    return {tool: casavi for casavi, tool in status_map.items()}


def task_back_key(status: str, resolution: str | None) -> str:
    """The ``task_status_map_back`` key for a tool status and resolution."""
    if resolution:
        return f"{status}/{resolution}"
    return f"{status}/" if "/" in status else status


def split_task_back_key(key: str) -> tuple[str, str | None]:
    """``"Done/Won't Do"`` → ``("Done", "Won't Do")``; ``"Done"`` / ``"QA/Review/"`` → no resolution."""
    status, sep, resolution = key.rpartition("/")
    if not sep:
        return key, None
    return status, resolution or None


def invert_task_status_map(task_status_map: Mapping[str, Any]) -> dict[str, str]:
    back: dict[str, str] = {}
    for casavi, target in task_status_map.items():
        status, resolution = (target.status, target.resolution) if isinstance(target, TaskStatusTarget) else (target["status"], target.get("resolution"))
        back[task_back_key(status, resolution)] = casavi
    return back


def lookup_task_status_back(back: Mapping[str, str], status: str, resolution: str | None) -> str | None:
    """casavi task status for a tool status+resolution: exact pair first, then the status alone."""
    parsed = {split_task_back_key(key): value for key, value in back.items()}
    if resolution and (status, resolution) in parsed:
        return parsed[(status, resolution)]
    return parsed.get((status, None))


# --------------------------------------------------------------------------- loading

_SECTIONS: dict[str, type[BaseModel]] = {
    "state": StateSettings, "source": SourceSettings, "casavi": CasaviSettings, "relay": RelaySettings,
    "filters": FilterSettings, "sync": SyncSettings, "connector": ConnectorSettings,
    "log": LogSettings, "metrics": MetricsSettings,
}
_MAPS: dict[str, TypeAdapter[Any]] = {
    "status_map": TypeAdapter(StatusMap), "status_map_back": TypeAdapter(StatusMap),
    "task_status_map": TypeAdapter(TaskStatusMap), "task_status_map_back": TypeAdapter(StatusMap),
}
PluginSource = Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None


def load_config(path: str | Path, *, plugins: PluginSource = None) -> Settings:
    """Read, validate and cross-check the configuration file; raise ConfigError with every problem.

    ``plugins`` maps connector names to plugin objects (``name``, ``settings_model``); by default
    (``None``) the installed entry points (:func:`bridge.connector.load_plugins`); a callable is
    called to get the mapping.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    return settings_from_dict(raw, plugins=plugins)


def settings_from_dict(raw: Mapping[str, Any], *, plugins: PluginSource = None) -> Settings:
    """Validate an already parsed configuration (what :func:`load_config` does after reading)."""
    run = _Validation()
    for section, model in _SECTIONS.items():
        if section in raw or section not in ("casavi", "relay"):  # source sections: see below
            run.section(section, section, model.model_validate, raw.get(section, {}))
    run.values.setdefault("casavi", None)
    run.values.setdefault("relay", None)
    source = run.values.get("source")
    if source is not None and source.kind not in raw:
        run.problem(source.kind, (), f'section missing (needed for [source] kind = "{source.kind}")')
    relay_source = source is not None and source.kind == "relay"
    if relay_source:
        _relay_defaults(run, raw)
    _status_maps(run, raw, relay=relay_source)
    _connector(run, raw, plugins)
    run.problems.extend(_cross_check(run.values))
    if run.problems:
        raise ConfigError(run.problems)
    return Settings(**run.values, warnings=tuple(run.warnings))


class _Validation:
    """What one pass collects: validated sections, every problem, every warning."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def problem(self, section: str, loc: tuple[Any, ...], message: str) -> None:
        self.problems.append(_problem(section, loc, message))

    def section(self, section: str, name: str, validator: Callable[[Any], Any], data: Any) -> None:
        if not isinstance(data, dict):
            self.problem(section, (), "must be a table")
            return
        with collect_warnings() as found:
            try:
                self.values[name] = validator(data)
            except ValidationError as exc:
                self.problems.extend(_format_errors(section, exc))
        self.warnings.extend(_problem(section, (field,) if field else (), message) for field, message in found)


def _relay_defaults(run: _Validation, raw: Mapping[str, Any]) -> None:
    """A relay source changes defaults: which statuses start mirroring (relay's own),
    ``[sync] tasks`` (orders have no tasks: off, and an error when switched on) and what the
    tool writes back (``tool_comments_to_casavi``/``tool_files_to_casavi``: "public")."""
    filters, sync = run.values.get("filters"), run.values.get("sync")
    if filters is not None and "statuses" not in (raw.get("filters") or {}):
        run.values["filters"] = filters.model_copy(update={"statuses": RELAY_START_STATUSES})
    if sync is not None and "tasks" not in (raw.get("sync") or {}):
        sync = run.values["sync"] = sync.model_copy(update={"tasks": False})
    elif sync is not None and sync.tasks:
        run.problem("sync", ("tasks",), 'relay orders have no tasks; set tasks = false for [source] kind = "relay"')
    # An order's comments are read by the property manager (the customer), never by tenants,
    # and relay has no internal comments: what is written back is written for the manager.
    for key in ("tool_comments_to_casavi", "tool_files_to_casavi"):
        if sync is not None and key not in (raw.get("sync") or {}):
            sync = run.values["sync"] = sync.model_copy(update={key: "public"})
        elif sync is not None and getattr(sync, key) == "internal":
            run.problem("sync", (key,), 'relay has no internal comments; set "public" for [source] kind = "relay"')


def _status_maps(run: _Validation, raw: Mapping[str, Any], *, relay: bool = False) -> None:
    defaults = default_status_maps()
    if relay:
        defaults.update(default_relay_status_maps())
    for section, adapter in _MAPS.items():
        if section in raw:
            run.section(section, section, adapter.validate_python, raw[section])
        elif section in ("status_map", "task_status_map"):
            run.values[section] = adapter.validate_python(defaults[section])
    if "status_map_back" not in raw and relay and "status_map" not in raw:
        run.values["status_map_back"] = dict(defaults["status_map_back"])
    elif "status_map_back" not in raw and "status_map" in run.values:
        run.values["status_map_back"] = invert_status_map(run.values["status_map"])
    if "task_status_map_back" not in raw and "task_status_map" in run.values:
        run.values["task_status_map_back"] = invert_task_status_map(run.values["task_status_map"])


def _connector(run: _Validation, raw: Mapping[str, Any], plugins: PluginSource) -> None:
    """The [<connector.kind>] section through its plugin's model; other sections are unknown."""
    connector = run.values.get("connector")
    kind = connector.kind if connector is not None else None
    try:
        available: Mapping[str, Any] = _resolve_plugins(plugins)
        plugin = available.get(kind) if kind else None  # imports that plugin alone
    except Exception as exc:  # noqa: BLE001 - a broken plugin install is reported like a config problem
        available, plugin = {}, None
        run.problem("connector", ("kind",), f"cannot load connector plugins ({type(exc).__name__}: {exc})")
    if kind in _SECTIONS or kind in _MAPS:
        run.problem("connector", ("kind",), f'"{kind}" is a reserved section name')
    elif kind and plugin is None and available:
        run.problem("connector", ("kind",), f'unknown connector "{kind}" (installed: {", ".join(sorted(available))})')
    elif kind and plugin is None:
        run.problem("connector", ("kind",), f'unknown connector "{kind}" (no connector plugin is installed)')
    elif plugin is not None and kind not in raw and not _accepts(plugin.settings_model, {}):
        run.problem(kind, (), f'section missing (needed for [connector] kind = "{kind}")')
    elif plugin is not None:
        data = _resolve_plain_secrets(run, kind, plugin.settings_model, raw.get(kind, {}))
        run.section(kind, "connector_settings", plugin.settings_model.model_validate, data)
    for section in raw:
        if section in _SECTIONS or section in _MAPS or section == kind:
            continue
        if section in available:
            selected = f' ([connector] kind = "{kind}")' if kind else ""
            run.problem(section, (), f'connector "{section}" is not the selected one{selected}; remove this section')
        else:
            run.problem(section, (), "unknown section")


def _resolve_plain_secrets(run: _Validation, section: str, model: type[BaseModel], data: Any) -> Any:
    """Resolve references in a connector's credential fields typed ``str`` rather than Secret.

    A field counts as a credential by its name (token, password, api_key, ...); the resolved
    value is registered for log redaction like any Secret.  Fields typed Secret resolve
    themselves during validation.
    """
    if not isinstance(data, dict):
        return data
    resolved = dict(data)
    for name, field in model.model_fields.items():
        value = data.get(field.alias or name)
        if not isinstance(value, str) or not is_sensitive_key(name) or Secret in (field.annotation, *get_args(field.annotation)):
            continue
        local: list[str] = []
        try:
            resolved[field.alias or name] = resolve_secret(value, warnings=local).get_secret_value()
        except SecretError as exc:
            run.problem(section, (name,), str(exc))
            # A stand-in keeps the model from adding a second problem; ConfigError is raised anyway.
            resolved[field.alias or name] = "unresolved"
        run.warnings.extend(_problem(section, (name,), message) for message in local)
    return resolved


def _accepts(model: type[BaseModel], data: dict[str, Any]) -> bool:
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    return True


def _resolve_plugins(plugins: PluginSource) -> Mapping[str, Any]:
    if plugins is None:
        from bridge.connector import load_plugins

        return load_plugins()
    if isinstance(plugins, Mapping):
        return plugins
    return plugins()


def _cross_check(values: dict[str, Any]) -> list[str]:
    """Checks across sections; each runs only when the sections it reads validated."""
    problems: list[str] = []
    add = lambda section, loc, message: problems.append(_problem(section, loc, message))  # noqa: E731
    kind = values["source"].kind if values.get("source") is not None else None
    # The statuses of the source's items, the words for them, and what a mirrored item is.
    known, what, item = {
        "casavi": (CASAVI_TICKET_STATUSES, "casavi ticket status", "ticket"),
        "relay": (RELAY_ORDER_STATUSES, "relay order status", "order"),
    }.get(kind, ((), "", ""))
    status_map, back, filters = values.get("status_map"), values.get("status_map_back"), values.get("filters")
    task_map, task_back = values.get("task_status_map"), values.get("task_status_map_back")
    listed = ", ".join(known)
    sync = values.get("sync")
    if sync is not None and known:
        for status in (s for s in sync.status_text_back if s not in known):
            add("sync", ("status_text_back", status), f"not a {what} ({listed})")
    if status_map is not None and filters is not None:
        for index, status in enumerate(filters.statuses):
            if known and status not in known:
                add("filters", ("statuses", index), f'"{status}" is not a {what} ({listed})')
            elif status not in status_map:
                add("filters", ("statuses", index), f'"{status}" has no [status_map] entry')
    if status_map is not None and known:
        for status in (s for s in status_map if s not in known):
            add("status_map", (status,), f"not a {what} ({listed})")
        for status in (s for s in known if s not in status_map):
            add("status_map", (status,), f"missing: a mirrored {item} is followed in every status")
    if back is not None and known:
        for tool, source_status in back.items():
            if source_status not in known:
                add("status_map_back", (tool,), f'"{source_status}" is not a {what} ({listed})')
    if status_map is not None and back is not None:
        for casavi, tool in status_map.items():
            if tool not in back:
                add("status_map", (casavi,), f'"{tool}" has no [status_map_back] entry, so it cannot be written back')
    if task_map is not None:
        for status in (s for s in task_map if s not in TASK_STATUSES):
            add("task_status_map", (status,), f"not a casavi task status ({', '.join(TASK_STATUSES)})")
        for status in (s for s in TASK_STATUSES if s not in task_map):
            add("task_status_map", (status,), "missing: a mirrored task is followed in every status")
    for key, casavi in (task_back or {}).items():
        if casavi not in TASK_STATUSES:
            add("task_status_map_back", (key,), f'"{casavi}" is not a casavi task status ({", ".join(TASK_STATUSES)})')
    if task_map is not None and task_back is not None:
        for casavi, target in task_map.items():
            if lookup_task_status_back(task_back, target.status, target.resolution) is None:
                key = task_back_key(target.status, target.resolution)
                add("task_status_map", (casavi,), f'"{key}" has no [task_status_map_back] entry, so it cannot be written back')
    return problems


# --------------------------------------------------------------------------- problem text

_MESSAGES = {"extra_forbidden": "unknown key", "missing": "required", "timezone_aware": "needs a time zone, e.g. 2026-01-01T00:00:00Z"}


def _format_errors(section: str, exc: ValidationError) -> list[str]:
    # Only loc and msg are used: pydantic's input_value could hold a secret.
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(part for part in error["loc"] if part != "[key]")
        message = _MESSAGES.get(error["type"], error["msg"])
        if error["type"] == "secret_unresolved":
            message = error["ctx"]["reason"]
        elif error["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        problem = _problem(section, loc, message)
        if problem not in problems:
            problems.append(problem)
    return problems


def _problem(section: str, loc: tuple[Any, ...], message: str) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            text = str(part)
            bare = text.replace("_", "").replace("-", "").isalnum() and text.isascii()
            path += ("." if path else "") + (text if bare else '"' + text.replace('"', '\\"') + '"')
    return f"[{section}] {path} <- {message}" if path else f"[{section}] <- {message}"


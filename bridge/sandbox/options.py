"""The options every sandbox app factory receives (``create_casavi_app(options)``, ...).

One object for all sandboxes, so ``casavi-bridge sandbox`` flags reach every server alike.
It reads both as attributes (``options.seed``) and as a mapping (``options["seed"]``,
``options.get("seed")``) so factories may use either.  :func:`bridge.sandbox.server.start_sandboxes`
fills ``casavi_port``/``jira_port``/... with the bound ports before calling the factories.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

HOST = "127.0.0.1"  # sandboxes bind loopback only


@dataclass
class SandboxOptions:
    tickets: int = 200
    seed: int = 1
    profile: str = "mixed"  # shape of the generated casavi tickets, see bridge.sandbox.casavi.generator.PROFILES
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    rate_limit_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_hold_seconds: float = 35.0
    timeout_mode: str = "drop"
    retry_after_seconds: int = 1
    rate_limit_headers: str = "retry-after"  # which headers a 429 carries, see bridge.sandbox.faults
    date_semantics: str = "modified"
    token_ttl_seconds: float = 3600.0
    ticket_put_partial: bool = False  # casavi PUT without id/title/propertyId (the document requires them)
    casavi_profile: str = "strict"  # readings of the casavi document's silent points (sandbox/casavi/readings.py)
    casavi_readings: dict[str, Any] = field(default_factory=dict)  # single readings over the profile's
    relay_page_size: int = 50  # GET /orders paged by limit/offset, this many per page; 0: one unpaged list
    relay_comment_encoding: str = "json"  # what CreateOrderComment accepts: "json" or "multipart"
    casavi_port: int | None = None
    jira_port: int | None = None
    relay_port: int | None = None
    casavi_key: str | None = None  # None: derived from the seed
    casavi_secret: str | None = None
    ready_file: str | None = None
    write_config: str | None = None
    source: str = "casavi"
    apps: tuple[str, ...] | None = None  # which registered sandboxes to start; None = all available
    host: str = HOST
    extra: dict[str, Any] = field(default_factory=dict)  # knobs for other sandboxes, passed through

    @classmethod
    def build(cls, options: "SandboxOptions | Mapping[str, Any] | None" = None, **overrides: Any) -> "SandboxOptions":
        """From another SandboxOptions, a mapping, or keywords; unknown keys go to ``extra``."""
        if isinstance(options, SandboxOptions):
            values: dict[str, Any] = asdict(options)
        else:
            values = dict(options or {})
        values.update(overrides)
        names = {f.name for f in fields(cls)}
        extra = dict(values.pop("extra", None) or {})
        extra.update({k: values.pop(k) for k in list(values) if k not in names})
        if values.get("apps") is not None:
            values["apps"] = tuple(values["apps"])
        return cls(**values, extra=extra)

    def with_changes(self, **changes: Any) -> "SandboxOptions":
        return replace(self, **changes)

    def __getitem__(self, key: str) -> Any:
        if key in self.extra:
            return self.extra[key]
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: str) -> bool:
        return key in self.extra or key in {f.name for f in fields(self)}

    def port_of(self, name: str) -> int | None:
        return self.get(f"{name}_port")

"""The ``casavi-bridge`` command line (contract in DESIGN.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bridge import __version__
from bridge.errors import BridgeError, ConfigError

CONFIG = click.option("--config", "config_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
                      help="The TOML configuration file (see config/casavi-bridge.example.toml).")


TENANT = click.option("--tenant", default=None, metavar="NAME",
                      help="With a fleet configuration: the tenant (its file's name without .toml).")


def _load_for(config_path: Path, tenant: str | None, *, lock_wait: float):
    """(settings, state) for a command on one configuration: a single one (state None: opened by
    build_bridge), or a fleet tenant (its schema, its lock taken here)."""
    from bridge.fleet.config import FleetSettings, load_any, pick_tenant
    from bridge.logging import configure_logging

    loaded = load_any(config_path)
    if not isinstance(loaded, FleetSettings):
        if tenant is not None:
            raise ConfigError("--tenant <- only with a fleet configuration ([fleet])")
        configure_logging(loaded.log.level, loaded.log.format)
        return loaded, None
    if tenant is None:
        raise ConfigError("--tenant <- required with a fleet configuration (which tenant?)")
    from bridge.fleet.tenant_state import open_tenant_state

    configure_logging(loaded.log.level, loaded.log.format)
    one = pick_tenant(loaded, tenant)
    return one.settings, open_tenant_state(loaded.state.database, one.schema, lock_wait=lock_wait)


def _fail_config(exc: ConfigError) -> None:
    click.echo("configuration problems:", err=True)
    for problem in exc.problems:
        click.echo(f"  {problem}", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="casavi-bridge")
def main() -> None:
    """Mirror casavi tickets into your workflow tool and write status and comments back.

    \b
    Example:
      casavi-bridge demo                      # both sandboxes, a few passes, what moved where
      casavi-bridge check --config /etc/casavi-bridge/config.toml
      casavi-bridge run --config /etc/casavi-bridge/config.toml
    """


@main.command()
@CONFIG
@click.option("--once", is_flag=True, help="Run one pass, then exit.")
def run(config_path: Path, once: bool) -> None:
    """Run the daemon: poll both sides, mirror, write back; graceful on SIGTERM.

    With a fleet configuration ([fleet]) this is one worker of the fleet: it claims its share of
    the tenants through PostgreSQL and works them (run as many as you like, on any machine).

    \b
    Example:
      casavi-bridge run --config /etc/casavi-bridge/config.toml
      casavi-bridge run --config ./config.toml --once
      casavi-bridge run --config /etc/casavi-bridge/fleet.toml
    """
    from bridge.daemon import run_daemon
    from bridge.fleet.config import FleetSettings, load_any

    try:
        loaded = load_any(config_path)
        if isinstance(loaded, FleetSettings):
            from bridge.fleet.worker import run_worker

            sys.exit(run_worker(loaded, once=once))
        sys.exit(run_daemon(config_path, once=once))
    except ConfigError as exc:
        _fail_config(exc)


@main.command()
@CONFIG
@click.option("--dry-run", is_flag=True, help="Only print the plan; change nothing.")
@click.option("--lock-wait", default=900.0, show_default=True, help="Seconds to wait for a running daemon's pass.")
@TENANT
def reconcile(config_path: Path, dry_run: bool, lock_wait: float, tenant: str | None) -> None:
    """Compare every item on both sides, print the plan, repair (unless --dry-run).

    Exit codes: 0 in sync or repaired, 1 differences left (dry run), 2 error.

    With a fleet configuration, --tenant NAME picks the tenant; the worker holding it lets go
    after its current pass.

    \b
    Example:
      casavi-bridge reconcile --config /etc/casavi-bridge/config.toml --dry-run
      casavi-bridge reconcile --config /etc/casavi-bridge/fleet.toml --tenant hausverwaltung-nord
    """
    from bridge.app import build_bridge
    from bridge.reconcile import Progress, print_plan

    try:
        settings, state = _load_for(config_path, tenant, lock_wait=lock_wait)
        bridge = build_bridge(settings, lock_wait=lock_wait, state=state, dry_run=dry_run)
    except ConfigError as exc:
        _fail_config(exc)
    except BridgeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    progress = Progress()
    bridge.engine.on_total, bridge.engine.progress = progress.start, progress.step
    try:
        report = bridge.engine.run_pass(full=True, dry_run=dry_run)
    except BridgeError as exc:
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
    finally:
        progress.finish()
        bridge.close()
    print_plan(report, dry_run=dry_run)
    if report.failed:
        sys.exit(2)
    sys.exit(1 if dry_run and report.differences else 0)


@main.command()
@CONFIG
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(config_path: Path, as_json: bool) -> None:
    """Show links, cursors, quarantine, conflicts, orphans and the last runs.

    With a fleet configuration: every tenant, the worker holding it, its last pass, links,
    quarantine and errors (a tenant file that is skipped, with its problems).

    The quarantine lists each failing write of an item (status, a comment, a file...) with the
    tool's or casavi's answer, its attempts and its next try.

    \b
    Example:
      casavi-bridge status --config /etc/casavi-bridge/config.toml --json
      casavi-bridge status --config /etc/casavi-bridge/fleet.toml
    """
    from bridge.app import open_state_readonly
    from bridge.fleet.config import FleetSettings, load_any
    from bridge.reconcile import print_status, status_data

    try:
        settings = load_any(config_path)
    except ConfigError as exc:
        _fail_config(exc)
    if isinstance(settings, FleetSettings):
        from bridge.fleet.status import fleet_status, print_fleet_status

        try:
            data = fleet_status(settings)
        except BridgeError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        if as_json:
            click.echo(json.dumps(data, indent=2, default=str))
        else:
            print_fleet_status(data)
        return
    data = status_data(open_state_readonly(settings.state.database), settings.sync.max_attempts)
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        print_status(data)


@main.command()
@CONFIG
@click.argument("item", required=False)
@click.option("--action", "action_key",
              help="Only this write of the item (its key as `status --json` shows it; '->' may stand for '→').")
@click.option("--all", "everything", is_flag=True, help="Every entry of every item.")
@click.option("--lock-wait", default=900.0, show_default=True, help="Seconds to wait for a running daemon's pass.")
@TENANT
def clear(config_path: Path, item: str | None, action_key: str | None, everything: bool, lock_wait: float,
          tenant: str | None) -> None:
    """Quarantine entries once handled: a failed write is tried again by the next pass (its
    attempts counted from 0), and so is a file the tool skipped for a limit of its own (e.g.
    after raising Redmine's maximum attachment size); a write the tool stored only in part
    (kind "dropped") stops being listed.

    With a fleet configuration, --tenant NAME picks the tenant; the worker holding it lets go
    after its current pass.

    \b
    Example:
      casavi-bridge clear --config /etc/casavi-bridge/config.toml casavi:T-00042 --action 'status->tool'
      casavi-bridge clear --config /etc/casavi-bridge/fleet.toml --tenant hausverwaltung-nord --all
    """
    from bridge.app import open_state

    if not item and not everything:
        raise click.UsageError("name an ITEM (e.g. casavi:T-00042) or pass --all")
    if action_key:
        action_key = action_key.replace("->", "→")  # status→tool typed as status->tool
    try:
        settings, state = _load_for(config_path, tenant, lock_wait=lock_wait)
        ledger, lock = state if state is not None else open_state(settings.state.database, lock_wait=lock_wait)
    except ConfigError as exc:
        _fail_config(exc)
    except BridgeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    try:
        removed = ledger.clear(None if everything else item, action_key)
    finally:
        if lock is not None:
            lock.release()
    click.echo(f"{removed} quarantine entries cleared")


@main.command()
@CONFIG
@TENANT
def check(config_path: Path, tenant: str | None) -> None:
    """Validate the configuration, reach both sides, check the status map against the tool.

    Exits non-zero with one line per problem.  With a fleet configuration: every tenant file
    (a bad one is named with its problems; the others are still checked), or --tenant NAME.

    \b
    Example:
      casavi-bridge check --config /etc/casavi-bridge/config.toml
      casavi-bridge check --config /etc/casavi-bridge/fleet.toml --tenant hausverwaltung-nord
    """
    from bridge.fleet.config import FleetSettings, load_any, pick_tenant, scan_tenants
    from bridge.logging import configure_logging

    try:
        settings = load_any(config_path)
    except ConfigError as exc:
        _fail_config(exc)
    configure_logging(settings.log.level, settings.log.format)  # log lines to stderr, findings to stdout
    if not isinstance(settings, FleetSettings):
        if tenant is not None:
            _fail_config(ConfigError("--tenant <- only with a fleet configuration ([fleet])"))
        problems = _check_settings(settings)
    elif tenant is not None:
        try:
            one = pick_tenant(settings, tenant)
        except ConfigError as exc:
            _fail_config(exc)
        problems = [f"{tenant}: {p}" for p in _check_settings(one.settings, prefix=f"{tenant}: ")]
    else:
        scan = scan_tenants(settings)
        problems = [f"{name}: skipped: {p}" for name, found in scan.problems.items() for p in found]
        for name, one in scan.tenants.items():
            problems += [f"{name}: {p}" for p in _check_settings(one.settings, prefix=f"{name}: ")]
        if not scan.tenants and not scan.problems:
            problems.append(f"[fleet] tenants_dir <- no *.toml tenant files in {settings.tenants_dir}")
    for p in problems:
        click.echo(p)
    if problems:
        sys.exit(1)
    click.echo("ok: configuration valid, both sides reachable, every mapped status exists")


def _check_settings(settings, *, prefix: str = "") -> list[str]:
    """The probes of ``check`` for one configuration: one line per problem.  What the source
    answers where its document is silent is printed as ``<source> found: ...`` lines."""
    from bridge.app import build_connector, build_source
    from bridge.checks import check_findings, source_findings

    try:
        source, connector = build_source(settings), build_connector(settings)
    except ConfigError as exc:
        return exc.problems
    problems = check_findings(settings, source, connector)
    # What the probes could not read and took from the settings: said, not counted as a problem.
    for line in getattr(connector, "assumptions", lambda: [])():
        click.echo(f"{prefix}{connector.name}: note: {line}")
    if not any(p.startswith("source: ") for p in problems):
        for line in source_findings(source):
            click.echo(f"{prefix}{source.name} found: {line}")
    return problems


@main.command()
@click.option("--tickets", default=200, show_default=True, help="Tickets (or relay orders) the sandbox generates.")
@click.option("--seed", default=1, show_default=True, help="Seed of the generator (same seed, same data).")
@click.option("--latency-ms", default=0.0, show_default=True, help="Added to every response.")
@click.option("--fault-rate", default=0.0, show_default=True, help="Share of requests answered with a 5xx.")
@click.option("--rate-limit-rate", default=0.0, show_default=True, help="Share answered 429 with Retry-After.")
@click.option("--timeout-rate", default=0.0, show_default=True, help="Share held until the client times out.")
@click.option("--date-semantics", type=click.Choice(["modified", "created"]), default="modified", show_default=True,
              help="What casavi's ticket filter `date` means.")
@click.option("--token-ttl-seconds", default=3600.0, show_default=True, help="casavi token lifetime.")
@click.option("--casavi-profile", type=click.Choice(["strict", "lenient"]), default="strict", show_default=True,
              help="Readings of what the casavi document leaves open: strict breaks a naive client, lenient does not.")
@click.option("--casavi-comments-move-modified/--casavi-comments-keep-modified", default=None,
              help="Comment and task writes move the ticket's lastModified (profile: strict no, lenient yes).")
@click.option("--casavi-embed-comments/--casavi-paged-comments-only", default=None,
              help="GET /tickets/{id} embeds its comments (strict: no, only the paged endpoint lists them).")
@click.option("--casavi-filter-pending/--casavi-filter-seed-enum", default=None,
              help="The ticket list filter accepts status=PENDING (strict: 400, not in the document's enum).")
@click.option("--casavi-task-put-merges/--casavi-task-put-replaces", default=None,
              help="Task PUT changes only the fields given (strict: replaces the task, omitted fields cleared).")
@click.option("--casavi-max-file-bytes", type=click.IntRange(min=1), default=None,
              help="POST /files limit (strict: 10000000, lenient: 10485760).")
@click.option("--casavi-refresh/--casavi-no-refresh", default=None,
              help="POST /authenticate/refresh exists (strict: 404).")
@click.option("--casavi-attachment-urls/--casavi-no-attachment-urls", default=None,
              help="attachmentDetails carry a url (strict: no url, files by id).")
@click.option("--casavi-custom-fields-as-text/--casavi-custom-fields-typed", default=None,
              help="customFields values all as text (strict: typed as entered: numbers, booleans, lists, null).")
@click.option("--casavi-task-files-apart/--casavi-task-files-on-ticket", default=None,
              help="A ticket's attachments list only its own files (strict: no, its tasks' files too).")
@click.option("--casavi-task-put-adds-files/--casavi-task-put-replaces-files", default=None,
              help="Task PUT attachments are added to the task's files (strict: the list replaces them).")
@click.option("--relay-page-size", type=click.IntRange(min=0), default=50, show_default=True,
              help="relay GET /orders pages of this many (limit/offset); 0: one unpaged list.")
@click.option("--relay-comment-encoding", type=click.Choice(["json", "multipart"]), default="json",
              show_default=True, help="What relay's CreateOrderComment accepts (the other gets 415).")
@click.option("--casavi-port", type=int, default=None, help="Port of the casavi sandbox (free port if not given).")
@click.option("--jira-port", type=int, default=None, help="Port of the Jira sandbox (free port if not given).")
@click.option("--ready-file", type=click.Path(dir_okay=False), default=None,
              help="Written (JSON: URLs and credentials) once every sandbox accepts connections.")
@click.option("--write-config", type=click.Path(dir_okay=False), default=None,
              help="Write a complete configuration pointing at the sandboxes.")
@click.option("--source", type=click.Choice(["casavi", "relay"]), default="casavi", show_default=True)
@click.option("--apps", callback=lambda ctx, param, value: _sandbox_apps(value), default=None,
              help="Comma-separated sandboxes to start (casavi, jira, relay); default: all. "
                   "One per process: `--apps casavi` here, `--apps jira` there.")
@click.option("--rate-limit-headers", type=click.Choice(["retry-after", "both", "reset", "none"]),
              default="retry-after", show_default=True,
              help="Headers of an injected 429: Retry-After, both, only X-RateLimit-Reset, none.")
@click.option("--jira-flavor", "jira_mode", type=click.Choice(["server", "cloud"]), default="server",
              show_default=True, help="Jira Data Center 10.3 or Jira Cloud (the written config matches).")
@click.option("--jira-search-lag-seconds", type=click.FloatRange(min=0), default=None,
              help="Creates and updates become searchable this late (default: 3 in cloud, 0 in server).")
@click.option("--jira-indexed-properties", default=None,
              help="Comma-separated issue-property keys an app declared indexed (JQL-searchable); default none.")
@click.option("--jira-workflow", type=click.Path(dir_okay=False, exists=True), default=None,
              help="The workflow as JSON (statuses, initial, transitions); default: the simplified one.")
@click.option("--jira-user-roles", default="Administrators", show_default=True,
              help="Comma-separated project roles the API account belongs to.")
@click.option("--jira-user-groups", default="jira-software-users", show_default=True,
              help="Comma-separated groups the API account belongs to.")
@click.option("--jira-group-visibility", type=click.Choice(["on", "off"]), default="on", show_default=True,
              help="Whether comments may be restricted to a group.")
@click.option("--jira-user-admin/--no-jira-user-admin", default=False, show_default=True,
              help="Whether the API account may administer Jira (read application properties).")
@click.option("--jira-text-limit", type=click.IntRange(min=1), default=32767, show_default=True,
              help="Description and comment limit in characters.")
def sandbox(**options) -> None:
    """Run the casavi, Jira and relay sandbox servers on 127.0.0.1 until SIGTERM (--apps picks some).

    \b
    Example:
      casavi-bridge sandbox --tickets 50 --ready-file ~/casavi-try/ready.json --write-config ~/casavi-try/bridge.toml
    """
    from bridge.sandbox.server import run_sandbox_cli

    apps = options["apps"]
    if apps is not None and options["write_config"] and options["source"] not in apps:
        raise click.UsageError(f"--write-config needs the {options['source']} sandbox in --apps")
    options["jira_group_visibility"] = options["jira_group_visibility"] == "on"
    sys.exit(run_sandbox_cli(**options))


def _sandbox_apps(value: str | None) -> tuple[str, ...] | None:
    from bridge.sandbox.server import SANDBOX_APPS

    if value is None:
        return None
    apps = tuple(name.strip() for name in value.split(",") if name.strip())
    known = [entry.name for entry in SANDBOX_APPS]
    unknown = [name for name in apps if name not in known]
    if not apps or unknown:
        raise click.BadParameter(f"{', '.join(unknown) or 'nothing'} (known: {', '.join(known)})", param_hint="--apps")
    return apps


@main.command()
@click.option("--tickets", default=24, show_default=True, help="Tickets in the demo's casavi sandbox.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the demo's config and state in this directory.")
def demo(tickets: int, keep: Path | None) -> None:
    """Start both sandboxes, mirror, make changes on both sides, and show what moved where.

    \b
    Example:
      casavi-bridge demo
    """
    from bridge.demo import run_demo

    sys.exit(run_demo(tickets=tickets, keep=keep))


@main.command()
def connectors() -> None:
    """List the installed connector plugins with their versions.

    \b
    Example:
      casavi-bridge connectors
    """
    from bridge.connector import plugin_versions

    for name, dist, version in plugin_versions():
        click.echo(f"{name:10} {dist} {version}")


@main.group()
def db() -> None:
    """State database maintenance."""


@db.command("upgrade")
@CONFIG
@TENANT
@click.option("--lock-wait", default=900.0, show_default=True, help="Seconds to wait for the writer lock.")
def db_upgrade(config_path: Path, tenant: str | None, lock_wait: float) -> None:
    """Apply pending schema migrations (also done automatically at start; for a fleet tenant,
    whenever a worker claims it).

    \b
    Example:
      casavi-bridge db upgrade --config /etc/casavi-bridge/config.toml
      casavi-bridge db upgrade --config /etc/casavi-bridge/fleet.toml --tenant hausverwaltung-nord
    """
    from bridge.app import open_state
    from bridge.state.db import current_revision

    try:
        settings, state = _load_for(config_path, tenant, lock_wait=lock_wait)
        ledger, lock = state if state is not None else open_state(settings.state.database, lock_wait=lock_wait)
    except ConfigError as exc:
        _fail_config(exc)
    except BridgeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    try:
        schema = getattr(lock, "schema", None)
        click.echo(f"schema at revision {current_revision(ledger.engine, schema)}")
    finally:
        if lock is not None:
            lock.release()


if __name__ == "__main__":  # pragma: no cover
    main()

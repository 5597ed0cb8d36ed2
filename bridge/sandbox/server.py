"""Runs the sandbox servers (casavi, Jira, later relay) with uvicorn on 127.0.0.1.

Each server runs in a background thread on its own port (a free one unless given), so tests
start them in-process::

    with start_sandboxes(tickets=60, seed=7, apps=("casavi",)) as sandbox:
        httpx.post(sandbox.casavi_url + "/authenticate", json={"key": sandbox.casavi_key, ...})

``casavi-bridge sandbox`` calls :func:`run_sandbox_cli`, which blocks until SIGTERM/SIGINT.

Adding a sandbox is one line in :data:`SANDBOX_APPS`: a module with a factory
``create_<name>_app(options) -> (asgi_app, info)``.  ``options`` is a
:class:`~bridge.sandbox.options.SandboxOptions` whose ``<name>_port`` holds the bound port;
``info`` holds the ready-file keys of that sandbox (``jira_user``, ...); a missing
``<name>_url`` is filled with the server's root URL.  An app not already wrapped in
:class:`~bridge.sandbox.faults.FaultMiddleware` is wrapped here, so every sandbox has the
same fault knobs and ``/_sandbox/stats``.  A registered module that does not exist (yet) is
left out; only ``required`` ones must be there.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import uvicorn

from bridge.sandbox.faults import FaultMiddleware, fault_settings_from, is_wrapped
from bridge.sandbox.options import SandboxOptions
from bridge.sandbox.written_config import earlier_state_note, write_config_file

START_TIMEOUT_SECONDS = 15.0


# uvicorn's C parser and event loop (uvicorn[standard]'s choice), named rather than "auto" so every
# install runs the same server.  A sandbox stands in for a remote server whose own work is not
# part of the latency it is given: with h11 and asyncio a trivial GET at 25 ms latency took
# 29.7 ms at 8 clients (28.6 ms with these), and a 2,000-ticket mirror 83.2 s (78.2-79.1 s),
# the sandbox's CPU 21 s (15-16 s) — README, "Performance".
HTTP_PARSER = "httptools"
EVENT_LOOP = "uvloop"


@dataclass(frozen=True)
class SandboxApp:
    name: str  # prefix of its ready-file keys and of its ``<name>_port`` option
    module: str
    factory: str
    required: bool = False


SANDBOX_APPS: tuple[SandboxApp, ...] = (
    SandboxApp("casavi", "bridge.sandbox.casavi.app", "create_casavi_app", required=True),
    SandboxApp("jira", "bridge.sandbox.jira.app", "create_jira_app"),
    SandboxApp("relay", "bridge.sandbox.relay.app", "create_relay_app"),
)


def load_factory(entry: SandboxApp) -> Callable[[SandboxOptions], tuple[Any, dict[str, Any]]] | None:
    """The entry's factory, or None when its module does not exist (a broken module still raises)."""
    try:
        module = importlib.import_module(entry.module)
    except ModuleNotFoundError as exc:
        if exc.name == entry.module and not entry.required:
            return None
        raise
    return getattr(module, entry.factory)


@dataclass
class RunningServer:
    name: str
    app: Any
    info: dict[str, Any]
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    root_url: str


@dataclass
class SandboxHandle:
    """The running sandboxes; ``info`` is the ready-file content.  A context manager."""

    options: SandboxOptions
    servers: dict[str, RunningServer] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    _stopped: bool = False

    @property
    def casavi_url(self) -> str:
        return self.info["casavi_url"]

    @property
    def casavi_key(self) -> str:
        return self.info["casavi_key"]

    @property
    def casavi_secret(self) -> str:
        return self.info["casavi_secret"]

    @property
    def casavi_root(self) -> str:
        """``http://127.0.0.1:PORT`` of the casavi sandbox (``/_sandbox/...`` lives here)."""
        return self.servers["casavi"].root_url

    @property
    def casavi(self) -> Any:
        """The casavi app's state (store, settings) for in-process inspection."""
        return self.servers["casavi"].app.casavi

    def root_url(self, name: str) -> str:
        return self.servers[name].root_url

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for running in self.servers.values():
            release = getattr(running.app, "release_holds", None)
            if release is not None:
                release()  # requests held by an injected timeout end now, not at their hold's end
            running.server.should_exit = True
        for running in self.servers.values():
            running.thread.join(timeout=5.0)
            if running.thread.is_alive():
                running.server.force_exit = True
                running.thread.join(timeout=5.0)

    def __enter__(self) -> "SandboxHandle":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def _bind(host: str, port: int | None) -> socket.socket:
    # proto IPPROTO_TCP (not 0) so asyncio sets TCP_NODELAY on accepted connections; without
    # it every response waits ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port or 0))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def start_sandboxes(options: SandboxOptions | Mapping[str, Any] | None = None, **overrides: Any) -> SandboxHandle:
    """Start every available (or every ``options.apps``) sandbox; returns once all accept connections.

    Writes ``options.ready_file`` (atomically) and ``options.write_config`` when set.
    """
    opts = SandboxOptions.build(options, **overrides)
    if opts.ready_file:
        Path(opts.ready_file).unlink(missing_ok=True)  # a stale file must not signal readiness
    unknown = sorted(set(opts.apps or ()) - {entry.name for entry in SANDBOX_APPS})
    if unknown:
        raise ValueError(f"unknown sandbox {', '.join(map(repr, unknown))}; known: "
                         + ", ".join(entry.name for entry in SANDBOX_APPS))
    chosen = [(entry, load_factory(entry)) for entry in SANDBOX_APPS
              if opts.apps is None or entry.name in opts.apps]
    chosen = [(entry, factory) for entry, factory in chosen if factory is not None]
    # The source must run unless ``apps`` leaves it out on purpose (e.g. only Jira, in a
    # process of its own); a config to write needs it either way.
    wanted_source = opts.apps is None or opts.source in opts.apps or opts.write_config
    if wanted_source and opts.source not in {entry.name for entry, _ in chosen}:
        raise ValueError(f"no {opts.source!r} sandbox is available to act as the source")
    sockets: dict[str, socket.socket] = {}
    try:
        for entry, _ in chosen:
            sockets[entry.name] = _bind(opts.host, opts.port_of(entry.name))
    except OSError:
        for sock in sockets.values():
            sock.close()
        raise
    for name, sock in sockets.items():
        port = sock.getsockname()[1]
        if f"{name}_port" in {f for f in opts.__dataclass_fields__}:
            setattr(opts, f"{name}_port", port)
        else:
            opts.extra[f"{name}_port"] = port
    handle = SandboxHandle(options=opts)
    try:
        for index, (entry, factory) in enumerate(chosen):
            app, info = factory(opts)
            if not is_wrapped(app):
                app = FaultMiddleware(app, fault_settings_from(opts), seed=opts.seed + index)
            port = sockets[entry.name].getsockname()[1]
            root_url = f"http://{opts.host}:{port}"
            info = dict(info)
            info.setdefault(f"{entry.name}_url", root_url)
            config = uvicorn.Config(app, host=opts.host, port=port, log_level="warning", access_log=False,
                                    lifespan="off", timeout_graceful_shutdown=1, http=HTTP_PARSER, loop=EVENT_LOOP)
            server = uvicorn.Server(config)
            thread = threading.Thread(target=server.run, kwargs={"sockets": [sockets[entry.name]]},
                                      name=f"sandbox-{entry.name}", daemon=True)
            handle.servers[entry.name] = RunningServer(entry.name, app, info, port, server, thread, root_url)
            handle.info.update(info)
        for running in handle.servers.values():
            running.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        for running in handle.servers.values():
            while not (running.server.started and _accepts(opts.host, running.port)):
                if time.monotonic() > deadline or not running.thread.is_alive():
                    raise RuntimeError(f"the {running.name} sandbox did not start on port {running.port}")
                time.sleep(0.01)
        if opts.ready_file:
            write_json_atomically(Path(opts.ready_file), handle.info)
        if opts.write_config:
            write_config_file(Path(opts.write_config), handle.info, opts)
    except BaseException:
        handle.stop()
        for sock in sockets.values():
            sock.close()
        raise
    return handle


def write_json_atomically(path: Path, value: Any) -> None:
    """Write to a temporary file in the same directory, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(value, out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _readings(flags: dict[str, Any]) -> dict[str, Any]:
    """``casavi_<reading>`` CLI flags → reading overrides (None: the profile decides)."""
    from bridge.sandbox.casavi.readings import READING_NAMES

    flag_names = {"casavi_comments_move_modified": "comments_move_modified",
                  "casavi_embed_comments": "embed_comments", "casavi_filter_pending": "filter_pending",
                  "casavi_task_put_merges": "task_put_merges", "casavi_max_file_bytes": "max_file_bytes",
                  "casavi_refresh": "refresh_endpoint", "casavi_attachment_urls": "attachment_urls",
                  "casavi_custom_fields_as_text": "custom_fields_as_text",
                  "casavi_task_files_apart": "task_files_apart",
                  "casavi_task_put_adds_files": "task_put_adds_files"}
    unknown = set(flags) - set(flag_names)
    if unknown:
        raise TypeError(f"unknown casavi sandbox options {sorted(unknown)}")
    readings = {flag_names[k]: v for k, v in flags.items() if v is not None}
    assert set(readings) <= set(READING_NAMES)
    return readings


def run_sandbox_cli(
    *,
    tickets: int = 200,
    seed: int = 1,
    latency_ms: float = 0.0,
    fault_rate: float = 0.0,
    rate_limit_rate: float = 0.0,
    timeout_rate: float = 0.0,
    date_semantics: str = "modified",
    token_ttl_seconds: float = 3600.0,
    casavi_port: int | None = None,
    jira_port: int | None = None,
    ready_file: str | None = None,
    write_config: str | None = None,
    source: str = "casavi",
    apps: tuple[str, ...] | None = None,
    rate_limit_headers: str = "retry-after",
    casavi_profile: str = "strict",
    relay_page_size: int = 50,
    relay_comment_encoding: str = "json",
    **flags: Any,
) -> int:
    """``casavi-bridge sandbox``: start the sandboxes (every available one, or ``apps``), print
    where they are, block until SIGTERM/SIGINT."""
    options = SandboxOptions(
        tickets=tickets, seed=seed, latency_ms=latency_ms, fault_rate=fault_rate, rate_limit_rate=rate_limit_rate,
        timeout_rate=timeout_rate, date_semantics=date_semantics, token_ttl_seconds=token_ttl_seconds,
        casavi_port=casavi_port, jira_port=jira_port, ready_file=ready_file, write_config=write_config,
        source=source, apps=apps, rate_limit_headers=rate_limit_headers, casavi_profile=casavi_profile,
        relay_page_size=relay_page_size, relay_comment_encoding=relay_comment_encoding,
        casavi_readings=_readings({k: v for k, v in flags.items() if k.startswith("casavi_")}),
        extra={key: value for key, value in flags.items() if key.startswith("jira_") and value is not None})
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    # Looked at before the sandboxes start: a bridge run against them creates the file later.
    earlier_state = earlier_state_note(Path(write_config)) if write_config else None
    try:
        with start_sandboxes(options) as handle:
            for name, running in handle.servers.items():
                print(f"{name} sandbox: {running.info.get(f'{name}_url', running.root_url)}", flush=True)
            print(json.dumps(handle.info, sort_keys=True), flush=True)
            if ready_file:
                print(f"ready file: {ready_file}", flush=True)
            if write_config:
                print(f"config written: {write_config}", flush=True)
                if earlier_state:
                    print(earlier_state, file=sys.stderr, flush=True)
            print("running until SIGTERM or Ctrl+C", file=sys.stderr, flush=True)
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if ready_file:
            Path(ready_file).unlink(missing_ok=True)
    return 0

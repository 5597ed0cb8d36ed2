"""The Jira sandbox: an ASGI app speaking the part of Jira's REST API the ``jira`` library uses.

``create_jira_app(options) -> (asgi_app, info)`` is the registry factory ``bridge.sandbox.server``
calls.  Two flavours, chosen by ``jira_mode`` / ``jira_flavor`` (``"server"``, the default: Data
Center 10.3 under ``/rest/api/2``; ``"cloud"``: Jira Cloud under ``/rest/api/2`` and
``/rest/api/3`` with ADF rich text, ``/search/jql`` and a 410 for the removed ``/search``).
Realistic by default (see :class:`~bridge.sandbox.jira.catalog.JiraSandboxOptions`): search lag
in cloud, properties searchable only when indexed, roles, text limit, workflow from data.  Other
knobs, read from ``SandboxOptions.extra`` (or a plain dict): ``jira_project``, ``jira_user``,
``jira_token``, ``jira_time_zone``, ``jira_max_attachment_bytes``, ``jira_search_lag_ms`` /
``jira_search_lag_seconds``, ``jira_indexed_properties``, ``jira_workflow``,
``jira_user_roles``, ``jira_user_groups``, ``jira_group_visibility``, ``jira_text_limit``,
``jira_attachment_dir``; latency, faults and 429s come from the shared fault middleware.

In-process access for tests and the demo: the returned app has ``.jira`` (the
:class:`~bridge.sandbox.jira.store.JiraStore`).
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from bridge.sandbox.faults import FaultMiddleware, FaultSettings, fault_settings_from
from bridge.sandbox.jira.catalog import JiraSandboxOptions
from bridge.sandbox.jira.routes_comments import comment_routes
from bridge.sandbox.jira.control import control_routes, knob_handler
from bridge.sandbox.jira.routes_issue import issue_routes
from bridge.sandbox.jira.routes_meta import meta_routes
from bridge.sandbox.jira.routes_people import people_routes
from bridge.sandbox.jira.routes_search import search_routes
from bridge.sandbox.jira.store import JiraStore
from bridge.sandbox.options import SandboxOptions


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    status = getattr(exc, "status_code", 500)
    if status == 404:
        # What Jira's REST layer (Jersey) answers for a resource it does not have.
        return JSONResponse({"message": f"null for uri: {request.url}", "status-code": 404},
                            status_code=404)
    detail = getattr(exc, "detail", "") or "Request failed"
    return JSONResponse({"errorMessages": [str(detail)], "errors": {}}, status_code=status,
                        headers=getattr(exc, "headers", None))


def build_jira_app(store: JiraStore, *, faults: FaultSettings | None = None, seed: int = 0) -> FaultMiddleware:
    """The Jira REST routes plus ``/_sandbox`` control, wrapped in :class:`FaultMiddleware`."""
    app = Starlette(
        routes=(meta_routes() + people_routes() + issue_routes() + comment_routes() + search_routes()
                + control_routes()),
        exception_handlers={HTTPException: _http_error},
    )
    app.state.jira_store = store
    wrapped = FaultMiddleware(app, faults, seed=seed, extra_knobs=knob_handler(store))
    wrapped.jira = store  # type: ignore[attr-defined]  # in-process access for tests and the demo
    return wrapped


def jira_options(options: SandboxOptions | dict[str, Any] | None) -> tuple[SandboxOptions, JiraSandboxOptions]:
    """The shared sandbox options and the Jira knobs found in them (plain keys or ``jira_*``)."""
    shared = SandboxOptions.build(options)
    return shared, JiraSandboxOptions.from_any(shared.extra)


def create_jira_app(options: SandboxOptions | dict[str, Any] | None = None) -> tuple[FaultMiddleware, dict[str, Any]]:
    """Registry factory: an empty project; info for the ready file (``jira_url`` once the port is known)."""
    shared, jira = jira_options(options)
    store = JiraStore(jira)
    app = build_jira_app(store, faults=fault_settings_from(shared), seed=shared.seed)
    info: dict[str, Any] = {
        # Cloud logs in with the e-mail address, Data Center with the username.
        "jira_user": jira.user_email if jira.cloud else jira.user_name,
        "jira_token": jira.token,
        "jira_project": jira.project_key,
        # So a config written from the ready file matches the flavour and its search lag.
        "jira_deployment": jira.mode,
        "jira_search_lag_seconds": jira.effective_search_lag_ms / 1000,
    }
    if shared.jira_port:
        info["jira_url"] = f"http://{shared.host}:{shared.jira_port}"
    return app, info


__all__ = ["create_jira_app", "build_jira_app", "jira_options", "JiraSandboxOptions"]

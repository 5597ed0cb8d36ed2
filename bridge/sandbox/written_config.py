"""``--write-config``: a complete casavi-bridge config pointing at the running sandboxes.

Same layout as ``config/casavi-bridge.example.toml``, every setting spelled out (the
example's defaults), so an operator can copy it as a starting point.  Differences from the
example: URLs and credentials of the sandboxes (written literally), the state database is a
SQLite file next to the config file, Jira is ``deployment = "server"`` (``"cloud"`` when the Jira
sandbox runs with ``jira_mode = "cloud"``).  Optional settings the
example leaves commented out (``filters.since``, ``metrics.listen``) stay absent.
When no Jira sandbox runs, the connector is the in-memory reference connector (``memory``).
With ``source="relay"`` the source section is ``[relay]`` (the relay sandbox's URL and API key)
instead of ``[casavi]``, with relay's order statuses in the filters and status maps and
``[sync] tasks = false`` (orders have no tasks).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import tomli_w

MIRRORED_STATUSES = ["PENDING", "OPEN", "INPROGRESS", "POSTPONED"]  # every ticket that is not CLOSED
RELAY_MIRRORED_STATUSES = ["OPEN", "IN_PROGRESS"]  # orders issued to the provider and not done
RELAY_STATUS_MAP = {"OPEN": "To Do", "PREPARE": "To Do", "NULL": "To Do", "IN_PROGRESS": "In Progress",
                    "FINISHED": "Done", "DECLINED": "Done"}
RELAY_STATUS_MAP_BACK = {"To Do": "OPEN", "In Progress": "IN_PROGRESS", "Waiting": "IN_PROGRESS",
                         "Done": "FINISHED"}
STATE_DB_NAME = "casavi-bridge-state.db"


def state_database(config_path: Path) -> Path:
    """The SQLite state database a written config names: beside the config file."""
    return Path(config_path).resolve().parent / STATE_DB_NAME


def earlier_state_note(config_path: Path) -> str | None:
    """A warning when the state database beside ``config_path`` exists already (None when not):
    the sandboxes start with fresh data every time, while that database still links the
    tickets of an earlier sandbox, so a bridge run on it would see nothing to mirror."""
    database = state_database(config_path)
    if not database.exists():
        return None
    return (f"note: the state database {database} is from an earlier run: it links the tickets of "
            f"earlier sandboxes, and these start with fresh data, so the bridge would mirror nothing. "
            f"Delete it (and {database.name}-wal, {database.name}-shm if present) before running the "
            f"bridge, or write the config into another folder.")


def sandbox_config(info: Mapping[str, Any], *, config_path: Path, date_semantics: str = "modified",
                   source: str = "casavi", jira_deployment: str = "server",
                   jira: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``jira``: the Jira sandbox's knobs (``jira_*`` keys), so the [jira] section matches them
    (search lag, the role internal comments are restricted to)."""
    database = state_database(config_path)
    config: dict[str, Any] = {
        "state": {"database": f"sqlite:///{database}"},
        "source": {"kind": source},
        "casavi": {
            "base_url": info["casavi_url"],
            "key": info["casavi_key"],
            "secret": info["casavi_secret"],
            "date_semantics": date_semantics,
            "timeout_seconds": 30,
            "concurrency": 4,
            "request_budget": 0,
            "names_max_age_hours": 24,
        } if source != "relay" else _relay_section(info),
        "filters": {"statuses": list(MIRRORED_STATUSES), "property_ids": []},
        "sync": {
            "interval_seconds": 60,
            "jitter_seconds": 5,
            "overlap_seconds": 120,
            "sweep_interval_seconds": 900,
            "concurrency": 4,
            "comments": True,
            "internal_comments": "mirror",
            "tool_comments_to_casavi": "internal",
            "tool_files_to_casavi": "internal",
            "suppress_rating_request": False,
            "assignees": True,
            "tasks": True,
            "attachments": True,
            "attachment_max_bytes": 10_000_000,
            "attachment_types": [],
            "conflict_policy": "casavi-wins",
            "mass_change_share": 0.5,
            "mass_change_min_items": 20,
            "max_attempts": 10,
            "retry_base_seconds": 30,
        },
        "status_map": {"PENDING": "To Do", "OPEN": "To Do", "INPROGRESS": "In Progress",
                       "POSTPONED": "Waiting", "CLOSED": "Done"},
        "status_map_back": {"To Do": "OPEN", "In Progress": "INPROGRESS", "Waiting": "POSTPONED",
                            "Done": "CLOSED"},
        "task_status_map": {
            "OPEN": {"status": "To Do"},
            "ACCEPTED": {"status": "In Progress"},
            "COMPLETED": {"status": "Done"},
            "DECLINED": {"status": "Done", "resolution": "Won't Do"},
        },
        "task_status_map_back": {"To Do": "OPEN", "In Progress": "ACCEPTED", "Done": "COMPLETED",
                                 "Done/Won't Do": "DECLINED"},
    }
    if source == "relay":
        _relay_source(config, info)
    if "jira_url" in info:
        from bridge.sandbox.jira.catalog import JiraSandboxOptions

        jira_deployment = info.get("jira_deployment", jira_deployment)
        lag = {"jira_search_lag_seconds": info["jira_search_lag_seconds"]} if "jira_search_lag_seconds" in info else {}
        knobs = JiraSandboxOptions.from_any({**lag, **dict(jira or {}), "jira_mode": jira_deployment})
        config["connector"] = {"kind": "jira"}
        config["jira"] = {
            "url": info["jira_url"],
            "deployment": jira_deployment,
            "user": info.get("jira_user", ""),
            "token": info.get("jira_token", ""),
            "project": info.get("jira_project", ""),
            "issue_type": "Task",
            "sub_task_type": "Sub-task",
            "internal_visibility": {"type": "role", "value": (knobs.user_roles or ("Administrators",))[0]},
            # The sandbox's index lag plus a margin: an interrupted create is looked for that long.
            "search_lag_seconds": round(knobs.effective_search_lag_ms / 1000 + 5, 3),
            "text_limit": knobs.text_limit,
        }
    else:
        config["connector"] = {"kind": "memory"}
    config["log"] = {"level": "info", "format": "auto"}
    config["metrics"] = {}
    return config


def _relay_source(config: dict[str, Any], info: Mapping[str, Any]) -> None:
    """The relay variant: [relay] (in [casavi]'s place), relay statuses, no tasks."""
    config["relay"] = config.pop("casavi")
    config["filters"]["statuses"] = list(RELAY_MIRRORED_STATUSES)
    config["sync"]["tasks"] = False
    config["sync"].update(tool_comments_to_casavi="public", tool_files_to_casavi="public")  # relay: no internal comments
    config["status_map"] = dict(RELAY_STATUS_MAP)
    config["status_map_back"] = dict(RELAY_STATUS_MAP_BACK)
    # Section order as in the example file: the source section right after [source].
    for key in [k for k in config if k not in ("state", "source", "relay")]:
        config[key] = config.pop(key)


def _relay_section(info: Mapping[str, Any]) -> dict[str, Any]:
    return {"base_url": info["relay_url"], "api_key": info["relay_key"], "timeout_seconds": 30,
            "concurrency": 4, "request_budget": 0, "author_name": "casavi-bridge", "write_tool_key": True,
            "due_date_back": True}


def write_config_file(path: Path, info: Mapping[str, Any], options: Any) -> None:
    """Render :func:`sandbox_config` as TOML and write it atomically (mode 0600: it holds secrets)."""
    extra = getattr(options, "extra", None) or {}
    config = sandbox_config(info, config_path=path, date_semantics=getattr(options, "date_semantics", "modified"),
                            source=getattr(options, "source", "casavi"),
                            jira_deployment="cloud" if extra.get("jira_mode") == "cloud" else "server",
                            jira=extra)
    header = ("# casavi-bridge configuration written by `casavi-bridge sandbox --write-config`.\n"
              "# It points at the local sandboxes; see config/casavi-bridge.example.toml for every setting.\n\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(header + tomli_w.dumps(config))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""Names in the configuration → Redmine ids (project, trackers, statuses, marker field, user).

Resolved once, by ``check()`` or on first use.  HTTP failures propagate as the bridge's errors
(``check()`` turns them into problem lines); a configuration that does not fit the server
(missing project, tracker or custom field) comes back as a list of problems, all at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.errors import AuthError, BridgeError, NotFoundError
from connectors.redmine.client import RedmineClient
from connectors.redmine.config import RedmineSettings
from connectors.redmine.mapping import MarkerPlace


@dataclass(frozen=True)
class Lookup:
    project_id: int
    tracker_id: int
    sub_tracker_id: int
    user_id: int
    field_id: int | None  # None: markers are description lines
    status_ids: dict[str, int] = field(default_factory=dict)
    closed_status_ids: frozenset[int] = frozenset()
    # The bridge user's permissions in the project (union of its roles'); None when Redmine
    # would not show a role's permissions to this key (then writes are read back instead).
    permissions: frozenset[str] | None = None
    # Problems that do not stop the connector (a permission missing for one kind of write, a
    # closed project): ``check`` lists them; the writes concerned fail on their own, with the
    # same words.
    notes: tuple[str, ...] = ()
    project_state: str = "open"  # PROJECT_STATES: a closed or archived project takes no writes

    def lacks(self, permission: str) -> bool:
        return self.permissions is not None and permission not in self.permissions

    @property
    def place(self) -> MarkerPlace:
        return MarkerPlace(self.field_id)


def resolve(client: RedmineClient, settings: RedmineSettings) -> tuple[Lookup | None, list[str]]:
    """(the ids, []) when everything fits; (None or partial, problems) otherwise."""
    problems: list[str] = []
    user = client.get("/users/current.json")["user"]
    status_rows = client.get("/issue_statuses.json")["issue_statuses"]
    statuses = {s["name"]: int(s["id"]) for s in status_rows}
    try:
        project = client.get(f"/projects/{settings.project}.json", {"include": "trackers"})["project"]
    except (NotFoundError, AuthError):
        # Redmine hides an archived project from everyone but administrators (403/404).
        return None, [f"redmine.project <- project {settings.project!r} does not exist, is archived, or "
                      f"{user.get('login')!r} is not a member"]
    state = project_state(project)
    trackers = {t["name"]: int(t["id"]) for t in project.get("trackers") or ()}
    tracker_ids = {}
    for key, name in (("tracker", settings.tracker), ("sub_item_tracker", settings.effective_sub_item_tracker)):
        if name in trackers:
            tracker_ids[key] = trackers[name]
        else:
            problems.append(f"redmine.{key} <- tracker {name!r} is not enabled in project {settings.project!r} "
                            f"(enabled: {', '.join(sorted(trackers)) or 'none'})")
    field_id = None
    if settings.marker_custom_field is not None:
        field_id, field_problems = _marker_field(client, settings, int(project["id"]), set(tracker_ids.values()))
        problems.extend(field_problems)
    if problems:
        return None, problems
    permissions, notes = _permissions(client, user, int(project["id"]), settings)
    notes += _standard_fields(client, settings, tracker_ids)
    if state != "open":  # reads go on; every write is refused with these words
        notes.insert(0, f"redmine.project <- {closed_project(settings, state)}")
    return Lookup(
        project_id=int(project["id"]),
        tracker_id=tracker_ids["tracker"],
        sub_tracker_id=tracker_ids["sub_item_tracker"],
        user_id=int(user["id"]),
        field_id=field_id,
        status_ids=statuses,
        closed_status_ids=frozenset(int(s["id"]) for s in status_rows if s.get("is_closed")),
        permissions=permissions,
        notes=tuple(notes),
        project_state=state,
    ), []


PROJECT_STATES = {1: "open", 5: "closed", 9: "archived", 10: "being deleted"}  # Project::STATUS_* (Redmine 5)


def project_state(project: dict[str, Any]) -> str:
    """"open", "closed", "archived" or "being deleted", from a ``/projects/X.json`` answer."""
    return PROJECT_STATES.get(int(project.get("status") or 1), "open")


def closed_project(settings: RedmineSettings, state: str) -> str:
    """Why every write to a project that is not open is refused, and what to change."""
    # Redmine 5 "Close" makes a project read-only: an issue update answers 403 and a create
    # 422 "Project cannot be blank" (the closed project is not among those one may add to).
    return (f"project {settings.project!r} is {state} in Redmine, which refuses every write to its issues: "
            "reopen it (the project's Overview » Reopen, or Administration » Projects)")

# The standard fields the bridge writes (Tracker::CORE_FIELDS names; Redmine drops a field
# switched off for the tracker without an error): per setting, the field and what is lost.
WRITTEN_FIELDS = (
    ("tracker", "description", "Description", "the ticket's text, header and link"),
    ("tracker", "due_date", "Due date", "due dates"),
    ("tracker", "assigned_to_id", "Assignee", "assignees"),
    ("sub_item_tracker", "parent_issue_id", "Parent task", "sub-items' parent (casavi tasks would stand alone)"),
    ("sub_item_tracker", "description", "Description", "task descriptions"),
)


def _standard_fields(client: RedmineClient, settings: RedmineSettings, tracker_ids: dict[str, int]) -> list[str]:
    """Standard fields the bridge writes that a tracker has switched off, from ``GET
    /trackers.json`` (``enabled_standard_fields``, Redmine ≥ 5.0; readable with any API key).
    An answer without the list (an older Redmine) claims nothing: writes are verified after."""
    try:
        rows = {int(t["id"]): t for t in client.get("/trackers.json").get("trackers") or ()}
    except BridgeError:  # advisory: the writes are verified after the fact anyway
        return []
    notes = []
    seen = set()
    for key, field, label, what in WRITTEN_FIELDS:
        row = rows.get(tracker_ids[key]) or {}
        enabled = row.get("enabled_standard_fields")
        if enabled is not None and field not in enabled and (tracker_ids[key], field) not in seen:
            seen.add((tracker_ids[key], field))
            name = row.get("name", "?")
            notes.append(f"redmine.{key} <- tracker {name!r} has the standard field {label!r} switched off "
                         f"(Administration » Trackers » {name} » Standard fields): Redmine would drop {what}")
    return notes


# What each kind of write needs (Redmine's permission names, shown in Administration » Roles
# and permissions): the key path the problem is reported under, and what fails without it.
NEEDED = (
    ("add_issues", "redmine.project", "creating issues"),
    ("edit_issues", "redmine.project", "status changes, field updates and files"),
    ("add_issue_notes", "redmine.project", "notes (casavi comments)"),
    ("manage_subtasks", "redmine.sub_item_tracker", "sub-items (casavi tasks)"),
)


def _permissions(client: RedmineClient, user: dict[str, Any], project_id: int,
                 settings: RedmineSettings) -> tuple[frozenset[str] | None, list[str]]:
    """The union of the user's roles' permissions in the project, and what is missing.

    ``/users/current.json?include=memberships`` names the roles; ``/roles/N.json`` lists a
    role's permissions (readable with a non-admin key in Redmine 5).  An administrator may do
    everything.  None when a role cannot be read: the writes are then verified after the fact.
    """
    if user.get("admin"):
        return None, []
    try:
        me = client.get("/users/current.json", {"include": "memberships"})["user"]
        role_ids = {int(r["id"]) for m in me.get("memberships") or () if int((m.get("project") or {}).get("id", 0)) == project_id
                    for r in m.get("roles") or ()}
        roles = [client.get(f"/roles/{rid}.json")["role"] for rid in sorted(role_ids)]
    except (NotFoundError, AuthError):
        return None, []
    permissions = frozenset(p for r in roles for p in r.get("permissions") or ())
    names = ", ".join(r.get("name", "?") for r in roles) or "none"
    who = f"the bridge user's roles in project {settings.project!r} ({names})"
    notes = [f"{where} <- {who} lack the permission {perm!r}: {what} will be refused"
             for perm, where, what in NEEDED if perm not in permissions]
    if settings.private_notes_for_internal and "set_notes_private" not in permissions:
        notes.append(f"redmine.private_notes_for_internal <- {who} lack the permission 'set_notes_private' "
                     "(\"Set notes as private\"): Redmine would save internal casavi comments as public notes, so "
                     "the bridge does not write them; grant it, or set private_notes_for_internal = false")
    return permissions, notes


def _marker_field(client: RedmineClient, settings: RedmineSettings, project_id: int,
                  tracker_ids: set[int]) -> tuple[int | None, list[str]]:
    """The marker field's id, checked as far as the key's rights allow.

    ``/custom_fields.json`` is for administrators only; a bridge user that is not one can
    still see the field (with name and id) on any issue of a tracker that has it.
    """
    wanted = settings.marker_custom_field
    by_id = isinstance(wanted, int) or str(wanted).isdigit()
    where = "redmine.marker_custom_field <- "
    try:
        fields = client.get("/custom_fields.json")["custom_fields"]
    except AuthError:
        fields = None
    if fields is None:
        seen = _fields_seen_on_issues(client, project_id, tracker_ids)
        for field_id, name in seen.items():
            if (by_id and field_id == int(wanted)) or (not by_id and name == wanted):
                return field_id, []
        if by_id:
            return int(wanted), []  # cannot be verified without an issue or admin rights
        return None, [f"{where}custom field {wanted!r} cannot be found by name without admin rights "
                      "before the project has an issue of the tracker; give its id instead"]
    for cf in fields:
        if cf.get("customized_type") != "issue":
            continue
        if (by_id and int(cf["id"]) == int(wanted)) or (not by_id and cf.get("name") == wanted):
            return int(cf["id"]), _field_problems(cf, tracker_ids, where)
    return None, [f"{where}no issue custom field {wanted!r} exists"]


def _field_problems(cf: dict[str, Any], tracker_ids: set[int], where: str) -> list[str]:
    problems = []
    name = cf.get("name")
    if cf.get("field_format") not in ("string", "text"):
        problems.append(f"{where}custom field {name!r} must be a text field, not {cf.get('field_format')!r}")
    if not cf.get("is_filter"):
        problems.append(f"{where}custom field {name!r} must be \"Used as a filter\" to find markers")
    enabled = {int(t["id"]) for t in cf.get("trackers") or ()}
    if tracker_ids - enabled:
        problems.append(f"{where}custom field {name!r} is not enabled for every tracker the bridge uses")
    return problems


def _fields_seen_on_issues(client: RedmineClient, project_id: int, tracker_ids: set[int]) -> dict[int, str]:
    seen: dict[int, str] = {}
    for tracker_id in sorted(tracker_ids):
        page = client.get("/issues.json", {"project_id": project_id, "tracker_id": tracker_id,
                                           "status_id": "*", "limit": 1})
        for issue in page.get("issues") or ():
            for cf in issue.get("custom_fields") or ():
                seen[int(cf["id"])] = cf.get("name", "")
    return seen

"""Read-only probes behind ``casavi-bridge check``: configured values Jira would refuse, found
before the first start, each named by its key path with what to do.

- ``[jira] internal_visibility``: the role must exist in the project and the account be in it
  (Jira refuses a comment restricted to a role the poster is not in: 400 "You are currently not
  a member of the project role: X."), the group must be one of the account's groups;
- ``[jira] assignee_map``: every account must be assignable in the project (an assignee Jira
  will not take fails the whole create request; the bridge then creates the issue unassigned);
- the create screen of ``[jira] issue_type`` must offer ``labels`` (the marker label is set in
  the create request) and any ``[jira.field_map] static`` field.

What cannot be read without an administrator's rights (whether group visibility is switched on)
or without an issue (the screens of the transitions) is not probed here: the bridge names those
refusals per write when Jira answers them.
"""

from __future__ import annotations

from typing import Any, Callable

from .config import JiraSettings

Get = Callable[..., Any]


def visibility_problems(get: Get, settings: JiraSettings, myself: dict[str, Any]) -> list[str]:
    visibility = settings.internal_visibility
    if visibility is None or visibility == "service-desk":
        return []
    key = "[jira] internal_visibility"
    if visibility.type == "group":
        groups = {g.get("name") for g in ((get("myself", {"expand": "groups"}) or {}).get("groups") or {}).get("items") or []}
        if visibility.value not in groups:
            return [f"jira: {key} <- the account is not in group {visibility.value!r} (its groups: "
                    f"{', '.join(sorted(g for g in groups if g)) or 'none'}); add it to the group or name one of those"]
        return []
    roles = get(f"project/{settings.project}/role") or {}
    url = roles.get(visibility.value)
    if url is None:
        return [f"jira: {key} <- project {settings.project} has no role {visibility.value!r} "
                f"(roles: {', '.join(sorted(roles))}); name one of those"]
    role = get(f"project/{settings.project}/role/{str(url).rstrip('/').rsplit('/', 1)[-1]}") or {}
    if "currentUserRole" in role:
        member = bool(role["currentUserRole"])
    else:
        me = {myself.get("accountId"), myself.get("name"), myself.get("key")} - {None}
        groups = {g.get("name") for g in ((get("myself", {"expand": "groups"}) or {}).get("groups") or {}).get("items") or []}
        member = any(((a.get("actorUser") or {}).get("accountId") in me) or a.get("name") in me
                     or (a.get("type") == "atlassian-group-role-actor" and a.get("name") in groups)
                     for a in role.get("actors") or [])
    if not member:
        return [f"jira: {key} <- the account is not in project role {visibility.value!r} of {settings.project}; "
                "Jira refuses internal comments restricted to it: add the account to the role or name a role it is in"]
    return []


def assignee_problems(get: Get, settings: JiraSettings) -> list[str]:
    problems = []
    ident = "accountId" if settings.deployment == "cloud" else "username"
    for staff, account in sorted(settings.assignee_map.items()):
        found = get("user/assignable/search", {"project": settings.project, ident: account}) or []
        if not found:
            problems.append(f'jira: [jira] assignee_map "{staff}" <- {account!r} does not exist or cannot be '
                            f"assigned issues in {settings.project}; such issues are created unassigned")
    return problems


def create_screen_problems(get: Get, settings: JiraSettings, issue_type_id: str | None) -> list[str]:
    if issue_type_id is None:
        return []
    page = get(f"issue/createmeta/{settings.project}/issuetypes/{issue_type_id}", {"maxResults": 200}) or {}
    offered = {str(f.get("fieldId") or f.get("key")) for f in page.get("values") or page.get("fields") or []}
    if not offered:
        return []
    problems = []
    if "labels" not in offered:
        problems.append(f"jira: [jira] issue_type <- the create screen of {settings.issue_type!r} has no Labels "
                        "field; the bridge marks its issues with a label: add Labels to that screen")
    for field in sorted(settings.field_map.static):
        if field not in offered:
            problems.append(f'jira: [jira.field_map] static "{field}" <- not on the create screen of '
                            f"{settings.issue_type!r}: Jira would refuse every create")
    return problems

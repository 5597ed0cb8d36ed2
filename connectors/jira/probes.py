"""Read-only probes behind ``casavi-bridge check``: configured values Jira would refuse, found
before the first start, each named by its key path with what to do.

- ``[jira] internal_visibility``: the role must exist in the project and the account be in it
  (Jira refuses a comment restricted to a role the poster is not in: 400 "You are currently not
  a member of the project role: X."), the group must be one of the account's groups;
- ``[jira] assignee_map``: every account must be assignable in the project (an assignee Jira
  will not take fails the whole create request; the bridge then creates the issue unassigned);
- the create screen of ``[jira] issue_type`` must offer ``labels`` (the marker label is set in
  the create request) and any ``[jira.field_map] static`` field.

- ``[jira] internal_visibility`` of type group: group visibility must be switched on (readable
  by a Jira administrator only; otherwise a note says it could not be told);
- the workflows the status maps walk: every target reachable, every transition screen's required
  fields given by ``[jira.transition_fields]`` — read from one issue in each status (a status
  no issue is in yet cannot be probed: a note says which).

Each refusal that could not be foreseen is still named per write when Jira answers it.
"""

from __future__ import annotations

from typing import Any, Callable

from jira.exceptions import JIRAError

from . import mapping as m
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
    for fact, field in sorted(settings.field_map.facts.items()):
        if field not in offered:
            problems.append(f'jira: [jira.field_map.facts] "{fact}" <- field {field!r} is not on the create screen of '
                            f"{settings.issue_type!r}: Jira would refuse every create of a ticket with that line")
    return problems


def group_visibility_problems(get: Get, settings: JiraSettings) -> tuple[list[str], list[str]]:
    """(problems, notes) for ``internal_visibility`` of type group: Jira takes group-restricted
    comments only while the application property ``jira.comment.level.visibility.groups``
    (APKeys.COMMENT_LEVEL_VISIBILITY_GROUPS, "Comment visibility: Groups & Project Roles") is on.
    Reading it needs the *Administer Jira* permission (``GET application-properties``, both
    OpenAPI documents); without it the probe says it could not tell."""
    visibility = settings.internal_visibility
    if visibility is None or visibility == "service-desk" or visibility.type != "group":
        return [], []
    key = "jira.comment.level.visibility.groups"
    try:
        answer = get("application-properties", {"key": key})
    except JIRAError as exc:
        if exc.status_code in (401, 403, 404):
            return [], [f"[jira] internal_visibility <- whether Jira allows group visibility on comments ({key}) "
                        "needs a Jira administrator to read; if it is off, every internal comment fails "
                        "(named per comment in `status`)"]
        raise
    answer = answer or {}
    if isinstance(answer, list):  # Cloud's schema: an array even for one key (its prose: an object)
        answer = next((p for p in answer if isinstance(p, dict) and p.get("key") == key), {})
    if str(answer.get("value")).casefold() == "false":
        return [f"jira: [jira] internal_visibility <- comments restricted to groups are switched off in this Jira "
                f"({key} = false; Administration > General configuration > Comment visibility): name a project "
                "role instead (type = \"role\") or have it switched to \"Groups & Project Roles\""], []
    return [], []


def workflow_problems(get: Get, search: Callable[[str], list[dict[str, Any]]], settings: JiraSettings,
                      targets: dict[str, dict[str, str | None]]) -> tuple[list[str], list[str]]:
    """(problems, notes) of the workflows the bridge walks: ``targets`` maps an issue type name to
    the statuses the bridge moves issues of that type into (status → resolution it sends, or None).

    Read-only: for every status of the type's workflow, one issue in that status (a search, and
    a read of the issue's status, since a lagging index may show an issue that has moved on) and
    its transitions with their screens (``GET issue/{id}/transitions?expand=transitions.fields``).
    From each status seen, the bridge's own walk (:func:`.mapping.next_transition`) is followed to
    each target: a target it cannot reach, and each transition on the way whose screen requires a
    field ``[jira.transition_fields]`` does not give (the resolution aside where the bridge sends
    one), are problems.  A status without an issue to look from cannot be probed: a note.
    """
    problems: list[str] = []
    notes: list[str] = []
    per_type = {e.get("name"): [s.get("name") for s in e.get("statuses") or [] if s.get("name")]
                for e in get(f"project/{settings.project}/statuses") or []}
    for issue_type, wanted in targets.items():
        statuses = per_type.get(issue_type)
        if not statuses or not wanted:
            continue
        known: dict[str, list[m.Transition]] = {}
        for status in statuses:
            rows = search(f'project = "{settings.project}" AND issuetype = "{issue_type}" AND status = "{status}"')
            if not rows:
                continue
            # A search index may lag (Cloud): the issue found may have moved on since; its
            # transitions then belong to another status, so it is read first.
            now = ((get(f"issue/{rows[0]['id']}", {"fields": "status"}) or {}).get("fields") or {}).get("status") or {}
            if not m.same_name(str(now.get("name") or ""), status):
                continue
            raw = get(f"issue/{rows[0]['id']}/transitions", {"expand": "transitions.fields"}) or {}
            known[status] = m.parse_transitions(raw.get("transitions") or [])
        unseen = [s for s in statuses if s not in known]
        if unseen:
            notes.append(f"the workflow of {issue_type!r} was not probed from {', '.join(map(repr, unseen))} "
                         "(no issue in that status yet to read its transitions from); a refusal there is "
                         "named per write in `status`")
        screens: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}  # (transition, into, missing) -> from
        stuck: dict[str, list[str]] = {}  # target -> statuses no known path leads from
        for start in known:
            for target, resolution in sorted(wanted.items()):
                current, steps = start, 0
                while not m.same_name(current, target) and steps < len(statuses):
                    step = m.next_transition(known, current, target)
                    if step is None:
                        stuck.setdefault(target, []).append(start)
                        break
                    configured = next((v for s, v in settings.transition_fields.items() if m.same_name(s, step.to_status)), {})
                    given = set(configured) | ({"resolution"} if resolution and m.same_name(step.to_status, target) else set())
                    missing = tuple(sorted((step.required or frozenset()) - given))
                    if missing:
                        froms = screens.setdefault((step.name, step.to_status, missing), [])
                        if current not in froms:
                            froms.append(current)
                    if not any(m.same_name(step.to_status, s) for s in known):
                        break  # not probed beyond: said in the note above
                    current, steps = step.to_status, steps + 1
        for target, froms in stuck.items():
            problems.append(f"jira: status {target!r} (status map) cannot be reached from {', '.join(map(repr, froms))} "
                            f"in the workflow of {issue_type!r}: no transition leads there; add one or map to a "
                            "status that can be reached")
        for (name, into, missing), froms in screens.items():
            problems.append(f'jira: [jira.transition_fields] "{into}" <- the transition {name!r} into {into!r} '
                            f"({issue_type}; from {', '.join(map(repr, froms))}) requires {', '.join(missing)} "
                            f"on its screen; give {'them' if len(missing) > 1 else 'it'} there")
    return problems, notes

"""The Jira sandbox's search plan: narrowed and reused searches answer exactly as testing every issue.

:func:`~bridge.sandbox.jira.search_plan.full_scan` is the reference; random stores (tasks,
sub-tasks, edits, transitions, comments, deletes, settles; lag 0 and more) and random queries
from the supported JQL subset must give the same issues in the same order, the same warnings and
the same 400s through :func:`~bridge.sandbox.jira.search_plan.matching`, searched at the same
moment.  The scale tests count how many issues a search tested (``search_plan.STATS``); nothing
here is timed.
"""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.sandbox.jira import search_plan
from bridge.sandbox.jira.app import build_jira_app
from bridge.sandbox.jira.catalog import JiraSandboxOptions
from bridge.sandbox.jira.fields import JiraApiError
from bridge.sandbox.jira.jql import sort_key
from bridge.sandbox.jira.records import Issue
from bridge.sandbox.jira.store import JiraStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx, not about this code
    from starlette.testclient import TestClient

LABELS = ("red", "green", "blue")
TICKETS = ("T1", "T2", "T3")


def _store(mode: str = "server", lag: int | None = None) -> JiraStore:
    return JiraStore(JiraSandboxOptions(mode=mode, search_lag_ms=lag, indexed_properties=("casavi",)))


def _task(store: JiraStore, labels: list[str] = (), ticket: str | None = None) -> Issue:  # type: ignore[assignment]
    props = [{"key": "casavi", "value": {"ticketId": ticket}}] if ticket else None
    return store.create_issue({"project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": "t",
                               "labels": list(labels)}, store.api_user, properties=props)


def _sub_task(store: JiraStore, parent: Issue) -> Issue:
    return store.create_issue({"project": {"key": "OPS"}, "issuetype": {"name": "Sub-task"},
                               "parent": {"key": parent.key}, "summary": "s"}, store.api_user)


def _outcome(run: Any) -> Any:
    try:
        issues, found_warnings, bounded = run()
    except JiraApiError as error:
        return ("error", error.status, error.messages)
    return [i.issue_id for i in issues], list(found_warnings), bounded


# -- random stores and queries ------------------------------------------------------------------

def _act(store: JiraStore, data: st.DataObject) -> None:
    issues = store.issues()
    tasks = [i for i in issues if not i.issuetype.subtask]
    kind = data.draw(st.sampled_from(["task", "task", "sub", "labels", "property", "comment",
                                      "transition", "delete", "settle"] if issues else ["task"]))
    if kind == "task":
        _task(store, data.draw(st.lists(st.sampled_from(LABELS), max_size=2, unique=True)),
              data.draw(st.none() | st.sampled_from(TICKETS)))
    elif kind == "sub" and tasks:
        _sub_task(store, data.draw(st.sampled_from(tasks)))
    elif kind == "labels":
        store.edit_issue(data.draw(st.sampled_from(issues)).key,
                         {"labels": data.draw(st.lists(st.sampled_from(LABELS), max_size=2, unique=True))},
                         None, store.api_user)
    elif kind == "property":
        store.set_property(data.draw(st.sampled_from(issues)).key, "casavi",
                           {"ticketId": data.draw(st.sampled_from(TICKETS))})
    elif kind == "comment":
        store.add_comment(data.draw(st.sampled_from(issues)).key, "a comment", store.api_user)
    elif kind == "transition":
        issue = data.draw(st.sampled_from(issues))
        step = data.draw(st.sampled_from(store.transitions(issue)))
        store.do_transition(issue.key, {"id": step.transition_id}, None, None, store.api_user, fill_required=True)
    elif kind == "delete":
        store.delete_issue(data.draw(st.sampled_from(issues)).key, delete_subtasks=True)
    elif kind == "settle":
        store.settle_index()


def _query(store: JiraStore, data: st.DataObject, now_ms: int) -> str:
    issues = store.issues()
    ids = [i.issue_id for i in issues] + [10000, 99999]
    numbers = [int(i.key.rsplit("-", 1)[1]) for i in issues] + [0, 500]
    stamps = [i.updated_ms for i in issues] + [i.created_ms for i in issues] + [now_ms]
    an_id = st.sampled_from(ids)
    a_key = st.builds(lambda n, lower: f"{'ops' if lower else 'OPS'}-{n}", st.sampled_from(numbers), st.booleans())
    a_ref = an_id.map(str) | a_key
    a_stamp = st.builds(lambda s, d: s + d, st.sampled_from(stamps), st.sampled_from([-1, 0, 1]))
    a_date = a_stamp.map(str) | st.sampled_from(['"-1m"', "-1d", '"2020/01/01"'])

    def listed(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.lists(values, min_size=1, max_size=4).map(", ".join)

    clause = st.one_of(
        st.sampled_from(["project = OPS", 'project = "OPS"', "project in (OPS, 10000)", "issuetype = Sub-task",
                         'status = "To Do"', 'status = "Done"', "labels = red", "labels != green",
                         'issue.property[casavi].ticketId = "T1"', 'issue.property[casavi].ticketId != "T2"']),
        st.builds("{} {} {}".format, st.sampled_from(["id", "key", "issuekey", "parent"]),
                  st.sampled_from(["=", "!="]), a_ref),
        st.builds("{} {} ({})".format, st.sampled_from(["id", "key", "issuekey", "parent"]),
                  st.sampled_from(["in", "not in"]), listed(a_ref)),
        st.builds("{} {} {}".format, st.sampled_from(["updated", "created"]),
                  st.sampled_from([">=", ">", "<=", "<", "=", "!="]), a_date),
    )
    clauses = data.draw(st.lists(clause, max_size=3))
    order = data.draw(st.lists(st.builds("{} {}".format, st.sampled_from(["updated", "created", "key", "id"]),
                                         st.sampled_from(["ASC", "DESC", ""])), max_size=2))
    return " AND ".join(clauses) + (" ORDER BY " + ", ".join(order) if order else "")


@settings(max_examples=60, deadline=None)
@given(data=st.data(), mode=st.sampled_from(["server", "cloud"]), lag=st.sampled_from([0, 1, 3, 20]))
def test_narrowed_and_reused_searches_answer_as_a_full_scan(data: st.DataObject, mode: str, lag: int) -> None:
    store = _store(mode, lag)
    for _ in range(data.draw(st.integers(1, 25))):
        _act(store, data)
        for _ in range(data.draw(st.integers(0, 2))):
            now_ms = store.tick() + data.draw(st.integers(-lag - 3, lag + 3))
            jql = _query(store, data, now_ms)
            strict = data.draw(st.booleans())
            reconcile = frozenset(data.draw(st.lists(st.sampled_from([i.issue_id for i in store.issues()] or [1]),
                                                     max_size=3)))
            # Two pages of one search, the second maybe later: the second may reuse the first's result.
            for later in (0, data.draw(st.sampled_from([0, 1, lag + 5, -1]))):
                at = now_ms + later
                expected = _outcome(lambda: search_plan.full_scan(store, jql, strict, reconcile, now_ms=at))
                got = _outcome(lambda: search_plan.matching(store, jql, strict, reconcile, cloud=mode == "cloud",
                                                            now_ms=at))
                assert got == expected, jql


@settings(max_examples=200, deadline=None)
@given(facts=st.lists(st.fixed_dictionaries({
           "updated": st.integers(0, 3), "created": st.integers(0, 3), "id": st.integers(0, 3),
           "key": st.builds("{}-{}".format, st.sampled_from(["OPS", "AB"]), st.integers(1, 12))}), max_size=12),
       order=st.lists(st.tuples(st.sampled_from(["updated", "created", "key", "id"]), st.booleans()), max_size=3))
def test_the_fast_sort_orders_as_the_jql_sort_key_ties_included(facts: list[dict[str, Any]],
                                                               order: list[tuple[str, bool]]) -> None:
    rows = [(n, f) for n, f in enumerate(facts)]
    key = sort_key(order)
    expected = sorted(rows, key=lambda row: key(row[1]))
    search_plan._sort_rows(rows, order)  # type: ignore[arg-type]
    assert [n for n, _ in rows] == [n for n, _ in expected]


# -- the work stays proportional to the candidates ----------------------------------------------

def _filled(store: JiraStore, tasks: int) -> list[Issue]:
    made = []
    for n in range(tasks):
        task = _task(store, ["many"])
        made += [task] if n % 4 else [task, _sub_task(store, task)]
    return made


def _counted(run: Any) -> tuple[Any, search_plan.SearchStats]:
    before = search_plan.SearchStats(**vars(search_plan.STATS))
    result = run()
    after = search_plan.STATS
    return result, search_plan.SearchStats(**{k: getattr(after, k) - getattr(before, k) for k in vars(after)})


def test_a_search_tests_only_the_issues_its_clauses_can_match() -> None:
    store = _store()
    issues = _filled(store, 4000)
    assert len(issues) == 5000
    wanted = issues[::100]
    jql = f"project = OPS AND id in ({', '.join(str(i.issue_id) for i in wanted)}) ORDER BY key ASC"
    (found, _, _), work = _counted(lambda: search_plan.matching(store, jql, True))
    assert [i.issue_id for i in found] == [i.issue_id for i in sorted(wanted, key=lambda i: i.issue_id)]
    assert work.evaluated == 50 and work.full_scans == 0

    keys = f"issuekey in ({', '.join(i.key.lower() for i in wanted[:10])})"
    (found, _, _), work = _counted(lambda: search_plan.matching(store, keys, True))
    assert len(found) == 10 and work.evaluated == 10

    cursor = store.tick()
    changed = issues[7::500]
    for issue in changed:
        store.set_property(issue.key, "casavi", {"ticketId": "T9"})
    recent = f"project = OPS AND updated >= {cursor} ORDER BY updated ASC"
    (found, _, _), work = _counted(lambda: search_plan.matching(store, recent, True))
    assert [i.issue_id for i in found] == [i.issue_id for i in changed]
    assert work.evaluated == len(changed) == 10

    parent = next(i for i in issues if store.subtasks(i))
    (found, _, _), work = _counted(lambda: search_plan.matching(store, f"parent = {parent.key}", True))
    assert found == store.subtasks(parent) and work.evaluated == 1
    assert found == search_plan.full_scan(store, f"parent = {parent.key}", True)[0]


def test_the_pages_of_a_search_evaluate_it_once_while_nothing_changes() -> None:
    store = _store()
    _filled(store, 2400)  # 3,000 issues
    client = TestClient(build_jira_app(store))
    auth = (store.options.user_name, store.options.token)

    def page(start: int) -> dict[str, Any]:
        answer = client.post("/rest/api/2/search", auth=auth, json={
            "jql": "project = OPS ORDER BY updated ASC", "startAt": start, "maxResults": 1000,
            "fields": ["updated"]})
        answer.raise_for_status()
        return answer.json()

    pages, work = _counted(lambda: [page(start) for start in (0, 1000, 2000)])
    assert [p["total"] for p in pages] == [3000] * 3 and sum(len(p["issues"]) for p in pages) == 3000
    assert work.evaluated == 3000 and work.reused == 2

    store.add_comment(pages[0]["issues"][0]["key"], "a write between two pages", store.api_user)
    moved, work = _counted(lambda: page(2000))
    assert work.evaluated == 3000 and work.reused == 0  # evaluated again: the write changed the order
    assert moved["issues"][-1]["key"] == pages[0]["issues"][0]["key"]


def test_with_a_lag_a_result_is_reused_only_once_no_version_can_still_appear() -> None:
    store = _store("cloud", lag=50)
    for _ in range(30):
        _task(store, ["red"])
    jql = "labels = red ORDER BY key ASC"
    written = store.tick()
    _, work = _counted(lambda: [search_plan.matching(store, jql, True, now_ms=written + t) for t in (0, 1)])
    assert work.reused == 0  # the last writes are not visible yet: a later page might see them
    (found, _, _), work = _counted(lambda: [search_plan.matching(store, jql, True, now_ms=written + 50 + t)
                                            for t in (0, 1)][-1])
    assert work.reused == 1 and len(found) == 30
    assert found == search_plan.full_scan(store, jql, True, now_ms=written + 51)[0]
    # A clock gone back before the kept result shows the index as it was then: evaluated again.
    (earlier, _, _), work = _counted(lambda: search_plan.matching(store, jql, True, now_ms=written - 60_000))
    assert work.reused == 0 and earlier == [] == search_plan.full_scan(store, jql, True, now_ms=written - 60_000)[0]

"""``python -m bench.jira_search``: how long the Jira sandbox takes to answer the bridge's searches.

Not part of ``python -m bench`` and not a test (nothing here asserts a time): it fills an
in-process sandbox with ``--tasks`` tasks, each with one sub-task (40,000 issues by default,
what a 20,000-ticket mirror leaves), lets the search index catch up, and times over HTTP (the
Starlette app in process, no socket) the three kinds of search the bridge sends
(:mod:`connectors.jira.mapping`):

- the changed-since pass over every issue, paged by ``summary_page_size`` (1,000) rows with the
  summary fields (Cloud answers at most 100 rows with fields),
  ``project = OPS AND updated >= <old cursor> ORDER BY updated ASC``, another cursor each pass;
- a batch read ``project = OPS AND id in (<50 ids>) ORDER BY key ASC`` with the snapshot fields;
- ``project = OPS AND updated >= <a recent cursor>`` after 20 issues were changed since it (the
  store is filled within the last minute, so "a minute ago" would be every issue).

Each figure is the best of ``--repeat`` runs (the machine is shared), in seconds.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from bridge.sandbox.jira.app import build_jira_app
from bridge.sandbox.jira.catalog import JiraSandboxOptions
from bridge.sandbox.jira.store import JiraStore
from connectors.jira import mapping as m


def _fill(store: JiraStore, tasks: int) -> list[int]:
    actor = store.api_user
    ids = []
    for n in range(tasks):
        task = store.create_issue({"project": {"key": "OPS"}, "issuetype": {"name": "Task"},
                                   "summary": f"ticket {n}", "labels": [f"casavi-ticket-{n}"]}, actor)
        sub = store.create_issue({"project": {"key": "OPS"}, "issuetype": {"name": "Sub-task"},
                                  "parent": {"key": task.key}, "summary": f"task of {n}"}, actor)
        ids += [task.issue_id, sub.issue_id]
    store.settle_index()
    return ids


def _best(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def _caught_up(store: JiraStore) -> None:
    """Wait until every stamp is older than the search lag.  The store hands out unique
    millisecond stamps, so filling it faster than one write a millisecond runs its clock ahead
    of the wall clock; a search would not see those writes yet, unlike after a real mirror."""
    ahead = store.tick() - time.time() * 1000 + store.options.effective_search_lag_ms
    if ahead > 0:
        print(f"waiting {ahead / 1000:.0f} s for the wall clock to pass the store's last stamp and the lag")
        time.sleep(ahead / 1000 + 0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--mode", choices=("server", "cloud"), default="server")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    store = JiraStore(JiraSandboxOptions(mode=args.mode))
    start = time.perf_counter()
    ids = _fill(store, args.tasks)
    print(f"{len(ids)} issues ({args.mode}) made in {time.perf_counter() - start:.1f} s")
    _caught_up(store)
    client = TestClient(build_jira_app(store))
    auth = (store.options.user_email if store.options.cloud else store.options.user_name, store.options.token)
    cloud = store.options.cloud
    path = "/rest/api/3/search/jql" if cloud else "/rest/api/2/search"

    def paged(jql: str, fields: tuple[str, ...], size: int) -> int:
        rows, start_at, token = 0, 0, None
        while True:
            body: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": size}
            if cloud:
                body["properties"] = [m.MARKER_KEY]
                if token:
                    body["nextPageToken"] = token
            else:
                body["startAt"] = start_at
            answer = client.post(path, json=body, auth=auth)
            answer.raise_for_status()
            page = answer.json()
            rows += len(page["issues"])
            start_at += len(page["issues"])
            token = page.get("nextPageToken")
            if (cloud and page.get("isLast")) or (not cloud and start_at >= page["total"]) or not page["issues"]:
                return rows

    cursors = iter(range(store.issue(str(ids[0])).created_ms - 1, 0, -1))  # a new query each pass
    seconds, rows = _best(args.repeat, lambda: paged(
        f"project = OPS AND updated >= {next(cursors)} ORDER BY updated ASC", m.SUMMARY_FIELDS, 1000))
    print(f"changed-since, every issue, pages of 1,000 asked{' (Cloud answers 100)' if cloud else ''}:"
          f" {seconds:.2f} s for {rows} rows")
    batch = ids[::len(ids) // 50][:50]
    seconds, rows = _best(args.repeat, lambda: paged(m.ids_jql("OPS", [str(i) for i in batch]),
                                                     m.SNAPSHOT_FIELDS, 50))
    print(f"id in (50 ids), snapshot fields: {seconds:.3f} s for {rows} rows")
    recent = store.tick()
    for issue_id in ids[:: len(ids) // 20][:20]:
        store.set_property(str(issue_id), "bench", {"touched": True})
    store.settle_index()
    _caught_up(store)
    seconds, rows = _best(args.repeat, lambda: paged(
        f"project = OPS AND updated >= {recent} ORDER BY updated ASC", m.SUMMARY_FIELDS, 1000))
    print(f"updated >= a recent cursor (20 changed): {seconds:.3f} s for {rows} rows")


if __name__ == "__main__":
    main()

"""How the Jira sandbox answers a JQL search without testing every issue, with the same result.

:func:`full_scan` is the plain way the routes searched before, kept as the reference: every
issue's searchable facts (:meth:`JiraStore.searchable_facts`: the search index's version at
``now - lag``, or the current facts at lag 0 and for ``reconcileIssues``) are tested against the
query and the matches sorted by :func:`~bridge.sandbox.jira.jql.sort_key`.  At 40,000 issues that
is about a second per search, and a paged search repeated it for every page.

:func:`matching` gives exactly what :func:`full_scan` gives, at a cost near the number of
candidates:

1. Candidates.  The clauses are AND-ed, so every clause that can name a superset of its
   matches narrows the search to the intersection of those supersets:

   - ``id = N`` / ``id in (...)``: the issues with those ids;
   - ``key`` / ``issuekey`` ``= K`` / ``in (...)``: the issues with those keys (keys never change
     in the sandbox, so there are no earlier keys to follow);
   - ``parent = P`` / ``in (...)``: the sub-tasks of the issues P names by id or key (a
     sub-task's parent never changes);
   - ``updated >= X`` / ``> X``: the issues whose highest ``updated`` ever recorded in the search
     index reaches X (:class:`~bridge.sandbox.jira.search_index.Ranked`): any facts a search can
     see of an issue were recorded there, with an ``updated`` no higher than that;
   - ``created`` with ``=``, ``>=``, ``>``, ``<=``, ``<``: likewise by ``created``, which never
     changes.

   Other clauses (project, status, labels, properties, negations) do not narrow.  The candidates
   are then tested with the unchanged predicate, in the store's order (id order, see
   :meth:`JiraStore.issues_by_ids`), and sorted into the same order as the full scan (by one
   stable sort per ORDER BY term, :func:`_sort_rows`), so a superset that is too wide costs time,
   never a different answer.

2. Later pages.  A paged search (Data Center's ``startAt``, Cloud's ``nextPageToken``) asks the
   same query again per page, as real Jira re-runs it.  The ordered result of a query is kept in
   the search index (:meth:`SearchIndex.keep`) under everything it depends on besides the index
   (the JQL text, strictness, the ``reconcileIssues`` set, flavour, lag, time zone and indexed
   properties) and reused while the index's generation is unchanged (no record or drop, i.e.
   no write, create, delete or settle) and, with a lag, only if every version recorded was
   already visible when it was computed, so that time passing cannot show another version.  A
   query whose dates are not epoch milliseconds may read the clock (``-5m``) and is never
   reused.  Parsing, validation and warnings run for every request as before.

:data:`STATS` counts what was done, for tests that check the work stays small without timing it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from bridge.sandbox.jira.fields import JiraApiError
from bridge.sandbox.jira.jql import (Clause, JqlContext, JqlError, Query, compile_query, date_value, parse_jql,
                                     reads_clock, sort_key)
from bridge.sandbox.jira.records import Issue

Result = tuple[list[Issue], list[str], bool]


@dataclass
class SearchStats:
    """Running totals over every search of the process (tests read differences)."""

    searches: int = 0
    evaluated: int = 0  # issues whose searchable facts were tested against a query
    full_scans: int = 0  # searches with no narrowing clause: every issue was a candidate
    reused: int = 0  # searches answered with the result kept from an earlier page


STATS = SearchStats()


def _compiled(store: Any, jql: str, strict: bool, now_ms: int
              ) -> tuple[Query, JqlContext, Callable[[dict[str, Any]], bool]]:
    try:
        query = parse_jql(jql)
        ctx = JqlContext(time_zone=store.options.time_zone, now_ms=now_ms,
                         project_exists=store.is_project, issue_exists=store.has_issue, strict=strict,
                         indexed_properties=tuple(store.options.indexed_properties))
        return query, ctx, compile_query(query, ctx)
    except JqlError as exc:
        raise JiraApiError(400, [str(exc)]) from None


def _evaluate(store: Any, issues: Iterable[Issue], query: Query, predicate: Callable[[dict[str, Any]], bool],
              now_ms: int, reconcile: frozenset[int], reference: bool = False) -> list[Issue]:
    """The matches among ``issues``, sorted by the query's ORDER BY (with ``reference``: by
    :func:`~bridge.sandbox.jira.jql.sort_key` as ever, else by :func:`_sort_rows`)."""
    rows = [(issue, store.searchable_facts(issue, now_ms, reconcile)) for issue in issues]
    rows = [row for row in rows if row[1] is not None and predicate(row[1])]
    if reference:
        order = sort_key(query.order)
        rows.sort(key=lambda row: order(row[1]))
    else:
        _sort_rows(rows, query.order)
    return [issue for issue, _ in rows]


def _sort_rows(rows: list[tuple[Issue, dict[str, Any]]], order: list[tuple[str, bool]]) -> None:
    """Sort as :func:`~bridge.sandbox.jira.jql.sort_key` does, faster: one stable sort per term
    from the last term to the first, on the plain value, ``reverse`` for DESC (a reversed sort
    is stable too), is the same order as one sort on the tuple of terms each wrapped to compare
    in its own direction, without a Python-level comparison per pair."""
    for name, ascending in reversed(order or [("key", False)]):
        if name == "key":
            rows.sort(key=lambda row: _key_order(row[1]["key"]), reverse=not ascending)
        else:
            rows.sort(key=lambda row: row[1][name], reverse=not ascending)


def _key_order(key: str) -> tuple[str, int]:
    project, _, number = key.rpartition("-")
    return project, int(number)


def full_scan(store: Any, jql: str, strict: bool, reconcile: frozenset[int] = frozenset(),
              now_ms: int | None = None) -> Result:
    """Issues matching ``jql`` in JQL order, warnings, and whether the query had any clause:
    every issue tested (the reference :func:`matching` must agree with)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    query, ctx, predicate = _compiled(store, jql, strict, now_ms)
    found = _evaluate(store, store.issues(), query, predicate, now_ms, reconcile, reference=True)
    return found, ctx.warnings, bool(query.clauses)


def matching(store: Any, jql: str, strict: bool, reconcile: frozenset[int] = frozenset(),
             cloud: bool = False, now_ms: int | None = None) -> Result:
    """What :func:`full_scan` returns, testing only the candidates the clauses leave and reusing
    the result of an earlier page when nothing it depends on can have changed."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    query, ctx, predicate = _compiled(store, jql, strict, now_ms)
    STATS.searches += 1
    options = store.options
    lag = options.effective_search_lag_ms
    key = None if reads_clock(query) else (
        jql, strict, reconcile, cloud, lag, options.time_zone, tuple(options.indexed_properties))
    if key is not None:
        kept = store.index.reusable(key, now_ms)
        if kept is not None:
            STATS.reused += 1
            return kept, ctx.warnings, bool(query.clauses)
    ids = candidate_ids(store, query, ctx)
    if ids is None:
        STATS.full_scans += 1
        issues = store.issues()
    else:
        issues = store.issues_by_ids(ids)
    STATS.evaluated += len(issues)
    found = _evaluate(store, issues, query, predicate, now_ms, reconcile)
    if key is not None:
        store.index.keep(key, now_ms, lag, found)
    return found, ctx.warnings, bool(query.clauses)


def candidate_ids(store: Any, query: Query, ctx: JqlContext) -> set[int] | None:
    """A superset of the ids of the issues whose visible facts can match ``query`` (None: no
    clause narrows it, every issue is a candidate).  Call after :func:`compile_query` accepted
    the query."""
    found: set[int] | None = None
    for clause in query.clauses:
        ids = _clause_ids(store, clause, ctx)
        if ids is not None:
            found = ids if found is None else found & ids
    return found


def _as_id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _ids_of_keys(store: Any, texts: Iterable[str]) -> set[int]:
    """The issues whose key, lower-cased, is one of ``texts``.  Keys are ASCII (checked by the
    caller), so a key equals a text ignoring case exactly when its upper case is the text's
    lower case upper-cased, which is how the store looks keys up."""
    ids = (store.id_of_key(text.upper()) for text in texts if text.isascii())
    return {i for i in ids if i is not None}


def _clause_ids(store: Any, clause: Clause, ctx: JqlContext) -> set[int] | None:
    name, op = clause.field, clause.op
    if name in ("id", "key", "parent"):
        if op not in ("=", "in"):
            return None
        texts = {str(v).lower() for v in clause.values}  # what the predicate compares, lower-cased
        if name == "id":  # facts["id"] is the int id: it matches its decimal text only
            return {i for i in map(_as_id, texts) if i is not None}
        if not store.options.project_key.isascii():
            return None
        if name == "key":
            return _ids_of_keys(store, texts)
        # facts["parent"] is [parent key, parent id]: a text names the parent by either.
        parents = _ids_of_keys(store, texts) | {i for i in map(_as_id, texts) if i is not None}
        return {child for parent in parents for child in store.child_ids(parent)}
    if name == "updated" and op in (">=", ">"):
        bound = date_value(clause.values[0], name, ctx)
        return store.index.updated.between(bound if op == ">=" else bound + 1, None)
    if name == "created" and op in ("=", ">=", ">", "<=", "<"):
        bound = date_value(clause.values[0], name, ctx)
        low = {"=": bound, ">=": bound, ">": bound + 1}.get(op)
        high = {"=": bound, "<=": bound, "<": bound - 1}.get(op)
        return store.index.created.between(low, high)
    return None

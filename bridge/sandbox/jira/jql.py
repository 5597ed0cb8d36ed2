"""The JQL subset the bridge uses: a tokenizer, a parser and an evaluator over issue facts.

Supported (anything else is refused with 400 and Jira's error shape, so a client never gets
silently wrong results from the sandbox):

- ``project = KEY`` / ``project = "KEY"`` / ``project in (A, B)``
- ``updated|created  >= | > | <= | < | =  <value>`` where value is epoch milliseconds
  (unquoted number), ``"yyyy/MM/dd HH:mm"``, ``"yyyy-MM-dd HH:mm"``, ``"yyyy/MM/dd"``,
  ``"yyyy-MM-dd"`` (read in the searching user's time zone, at minute precision, exactly like
  Jira) or a relative period like ``-5m`` / ``"-2d"``
- ``issue.property[casavi].ticketId = "X"`` (any property path, ``=`` and ``!=``)
- ``key|issuekey|id|parent = X``, ``key in (A, B)``, ``status = "In Progress"``,
  ``issuetype = Sub-task``, ``labels = x``
- ``AND`` between clauses; ``ORDER BY`` updated / created / key / id, ``ASC|DESC``, comma-separated

This is a hand-written parser because no Python library parses JQL; the grammar above is
small enough that a regex tokenizer and a loop are clearer than a parser generator.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable
from zoneinfo import ZoneInfo


class JqlError(ValueError):
    """The query is invalid (or outside the sandbox's subset); becomes a 400."""


@dataclass(frozen=True)
class Clause:
    field: str  # lower-cased field name, or "issue.property[name].path"
    op: str  # "=", "!=", ">=", ">", "<=", "<", "in", "not in"
    values: tuple[Any, ...]  # ("OPS",), (1716000000000,), ("A", "B")


@dataclass
class Query:
    clauses: list[Clause] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, ascending)


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<op>!=|>=|<=|!~|=|>|<|~)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z0-9_.\-+*/:]+(?:\[[^\]]*\][A-Za-z0-9_.]*)?)
    )""", re.VERBOSE)
_PROPERTY = re.compile(r"^issue\.property\[([^\]]+)\]\.([A-Za-z0-9_.]+)$", re.IGNORECASE)
_PERIOD = re.compile(r"^([-+]?)(\d+)([wdhm])$")
_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
DATE_FIELDS = ("updated", "created")
TEXT_FIELDS = ("project", "key", "id", "parent", "status", "issuetype", "labels")
FIELD_ALIASES = {"issuekey": "key", "type": "issuetype", "updateddate": "updated",
                 "createddate": "created", "label": "labels"}
SORTABLE = ("updated", "created", "key", "id")
UNSUPPORTED_WORDS = ("or", "not", "is", "was", "changed", "empty", "null", "~", "!~")


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            char = text[pos:].strip()[0]
            raise JqlError(f"Error in the JQL Query: The character '{char}' is a reserved JQL"
                           f" character. You must enclose it in a string or use the escape"
                           f" '\\u{ord(char):04x}' instead.")
        kind = match.lastgroup or "word"
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        pos = match.end()
    return tokens


def parse_jql(text: str) -> Query:
    """Parse the supported subset; raises :class:`JqlError` with a Jira-like message."""
    tokens = _tokens(text or "")
    query, i = Query(), 0

    def word(at: int) -> str:
        return tokens[at][1].lower() if at < len(tokens) and tokens[at][0] == "word" else ""

    while i < len(tokens) and word(i) != "order":
        if query.clauses:
            if word(i) != "and":
                raise _unsupported(tokens[i][1])
            i += 1
        clause, i = _parse_clause(tokens, i)
        query.clauses.append(clause)
    if i < len(tokens):
        if word(i + 1) != "by":
            raise JqlError("Error in the JQL Query: Expecting 'BY' after 'ORDER'.")
        i += 2
        while True:
            name = _field_name(tokens, i)
            if name not in SORTABLE:
                raise JqlError(f"Not able to sort using field '{tokens[i][1]}'.")
            ascending, i = True, i + 1
            if word(i) in ("asc", "desc"):
                ascending, i = word(i) == "asc", i + 1
            query.order.append((name, ascending))
            if i < len(tokens) and tokens[i] == ("punct", ","):
                i += 1
                continue
            if i < len(tokens):
                raise _unsupported(tokens[i][1])
            break
    return query


def _unsupported(token: str) -> JqlError:
    return JqlError(f"Error in the JQL Query: '{token}' is not supported by the Jira sandbox"
                    " (supported: field = value clauses joined by AND, ORDER BY).")


def _field_name(tokens: list[tuple[str, str]], i: int) -> str:
    if i >= len(tokens) or tokens[i][0] not in ("word", "string"):
        raise JqlError("Error in the JQL Query: Expecting a field name.")
    raw = tokens[i][1]
    if _PROPERTY.match(raw):
        return raw
    name = raw.lower()
    return FIELD_ALIASES.get(name, name)


def _parse_clause(tokens: list[tuple[str, str]], i: int) -> tuple[Clause, int]:
    if i < len(tokens) and (tokens[i][0] == "punct" or tokens[i][1].lower() in UNSUPPORTED_WORDS):
        raise _unsupported(tokens[i][1])
    name = _field_name(tokens, i)
    if name not in DATE_FIELDS + TEXT_FIELDS and not _PROPERTY.match(name):
        raise JqlError(f"Field '{tokens[i][1]}' does not exist or you do not have permission"
                       " to view it. (The Jira sandbox searches only project, key, id, parent,"
                       " status, issuetype, labels, updated, created and issue.property[...].)")
    i += 1
    if i >= len(tokens):
        raise JqlError("Error in the JQL Query: Expecting an operator.")
    kind, op = tokens[i]
    if kind == "word" and op.lower() in ("in", "not"):
        return _parse_in(tokens, i, name)
    if kind != "op" or op in ("~", "!~"):
        raise _unsupported(op)
    if op not in ("=", "!=") and name not in DATE_FIELDS:
        raise JqlError(f"The operator '{op}' is not supported by the '{name}' field.")
    if i + 1 >= len(tokens) or tokens[i + 1][0] not in ("word", "string"):
        raise JqlError(f"Error in the JQL Query: Expecting a value after '{op}'.")
    kind, value = tokens[i + 1]
    if kind == "word" and value.lower() in UNSUPPORTED_WORDS:
        raise _unsupported(value)
    return Clause(name, op, (_literal(kind, value),)), i + 2


def _parse_in(tokens: list[tuple[str, str]], i: int, name: str) -> tuple[Clause, int]:
    op = "in"
    if tokens[i][1].lower() == "not":
        if i + 1 >= len(tokens) or tokens[i + 1][1].lower() != "in":
            raise _unsupported("NOT")
        op, i = "not in", i + 1
    if name in DATE_FIELDS:
        raise JqlError(f"The operator '{op.upper()}' is not supported by the '{name}' field.")
    i += 1
    if i >= len(tokens) or tokens[i] != ("punct", "("):
        raise JqlError("Error in the JQL Query: Expecting '(' after 'IN'.")
    values, i = [], i + 1
    while i < len(tokens) and tokens[i] != ("punct", ")"):
        if tokens[i] == ("punct", ","):
            i += 1
            continue
        values.append(_literal(*tokens[i]))
        i += 1
    if i >= len(tokens) or not values:
        raise JqlError("Error in the JQL Query: Expecting ')' to close the list of values.")
    return Clause(name, op, tuple(values)), i + 1


def _literal(kind: str, value: str) -> Any:
    if kind == "word" and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


@dataclass
class JqlContext:
    """What evaluation needs from the server: the user's zone, the clock, what exists."""

    time_zone: str
    now_ms: int
    project_exists: Callable[[str], bool]
    issue_exists: Callable[[str], bool]
    strict: bool = True  # validateQuery: unknown keys/projects are errors, not warnings
    warnings: list[str] = field(default_factory=list)
    # Issue-property keys an app declared for indexing; a clause on any other property is
    # accepted and matches nothing, as on a real Jira (see JiraSandboxOptions.indexed_properties).
    indexed_properties: tuple[str, ...] = ()


def date_value(value: Any, field_name: str, ctx: JqlContext) -> int:
    """Epoch ms for a JQL date operand.  Bare dates are wall-clock times in the user's zone."""
    if isinstance(value, int):
        return value
    text = str(value).strip()
    period = _PERIOD.match(text.replace(" ", ""))
    if period:
        sign = -1 if period.group(1) == "-" else 1
        unit = {"w": 604800000, "d": 86400000, "h": 3600000, "m": 60000}[period.group(3)]
        return ctx.now_ms + sign * int(period.group(2)) * unit
    for fmt in _DATE_FORMATS:
        try:
            naive = dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return int(naive.replace(tzinfo=ZoneInfo(ctx.time_zone)).timestamp() * 1000)
    raise JqlError(f"Date value '{text}' for field '{field_name}' is invalid. Valid formats"
                   " include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd',"
                   " or a period format e.g. '-5d', '4w 2d'.")


def reads_clock(query: Query) -> bool:
    """Whether the query's meaning may move with the clock: a date clause other than epoch
    milliseconds (a relative period like ``-5m`` is read against ``JqlContext.now_ms``; dates
    are counted too, which only costs reuse of their result)."""
    return any(c.field in DATE_FIELDS and not isinstance(c.values[0], int) for c in query.clauses)


def compile_query(query: Query, ctx: JqlContext) -> Callable[[dict[str, Any]], bool]:
    """A predicate over issue facts (see ``JiraStore.search_facts``); validates references."""
    tests = [_compile_clause(clause, ctx) for clause in query.clauses]
    return lambda facts: all(test(facts) for test in tests)


def _compile_clause(clause: Clause, ctx: JqlContext) -> Callable[[dict[str, Any]], bool]:
    name, op = clause.field, clause.op
    if name in DATE_FIELDS:
        bound = date_value(clause.values[0], name, ctx)
        compare = {">=": lambda a: a >= bound, ">": lambda a: a > bound,
                   "<=": lambda a: a <= bound, "<": lambda a: a < bound,
                   "=": lambda a: a == bound, "!=": lambda a: a != bound}[op]
        return lambda facts: compare(facts[name])
    wanted = {str(v).lower() for v in clause.values}
    _validate_references(name, clause.values, ctx)
    prop = _PROPERTY.match(name)
    if prop:
        key, path = prop.group(1), prop.group(2).split(".")
        if key not in ctx.indexed_properties:
            return lambda facts: False

        def value_of(facts: dict[str, Any]) -> list[str]:
            found = _property_value(facts["properties"], key, path)
            return [] if found is None else [_text(found)]
    else:
        def value_of(facts: dict[str, Any]) -> list[str]:
            raw = facts[name]
            items = raw if isinstance(raw, list) else [raw]
            return [str(item).lower() for item in items if item is not None]
    if op in ("=", "in"):
        return lambda facts: any(v.lower() in wanted for v in value_of(facts))
    return lambda facts: bool(value_of(facts)) and not any(v.lower() in wanted for v in value_of(facts))


def _validate_references(name: str, values: tuple[Any, ...], ctx: JqlContext) -> None:
    for value in values:
        text = str(value)
        if name == "project" and not ctx.project_exists(text):
            problem = f"The value '{text}' does not exist for the field 'project'."
        elif name in ("key", "parent") and not ctx.issue_exists(text):
            problem = f"An issue with key '{text}' does not exist for field '{name}'."
        else:
            continue
        if ctx.strict:
            raise JqlError(problem)
        ctx.warnings.append(problem)


def _property_value(properties: dict[str, Any], key: str, path: list[str]) -> Any:
    node: Any = properties.get(key)
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sort_key(order: list[tuple[str, bool]]) -> Callable[[dict[str, Any]], tuple]:
    """A key for ``sorted`` over issue facts honouring mixed ASC/DESC terms.

    Without ORDER BY the sandbox sorts newest key first (``key DESC``), one of Jira's
    own defaults, so results are deterministic.
    """
    terms = order or [("key", False)]

    def key_of(facts: dict[str, Any]) -> tuple:
        parts = []
        for name, ascending in terms:
            if name == "key":
                project, _, number = facts["key"].rpartition("-")
                value: Any = (project, int(number))
            else:
                value = facts[name]
            parts.append(_Ordered(value, ascending))
        return tuple(parts)

    return key_of


class _Ordered:
    """Wraps a value so one tuple can sort some terms ascending and others descending."""

    __slots__ = ("value", "ascending")

    def __init__(self, value: Any, ascending: bool):
        self.value, self.ascending = value, ascending

    def __lt__(self, other: "_Ordered") -> bool:
        return self.value < other.value if self.ascending else self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Ordered) and self.value == other.value

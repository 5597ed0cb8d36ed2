"""``json_merge(a, b)``: the JSON object ``a`` with ``b``'s keys set over it, in the database.

SQLite: ``json_patch(a, b)`` (RFC 7396 merge patch, https://sqlite.org/json1.html#jpatch);
PostgreSQL: ``a::jsonb || b::jsonb`` (https://www.postgresql.org/docs/15/functions-json.html,
"Concatenates two objects"), cast back to the column's ``json`` type.  They differ only for
``null`` values (a merge patch deletes the key); the ledger merges hashes, which are strings.
"""

from __future__ import annotations

from sqlalchemy import JSON
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class json_merge(FunctionElement):  # noqa: N801 - used like a SQL function
    type = JSON()
    inherit_cache = True
    name = "json_merge"


@compiles(json_merge, "sqlite")
def _sqlite(element, compiler, **kw):
    a, b = list(element.clauses)
    return f"json_patch({compiler.process(a, **kw)}, {compiler.process(b, **kw)})"


@compiles(json_merge, "postgresql")
def _postgresql(element, compiler, **kw):
    a, b = list(element.clauses)
    return f"CAST(CAST({compiler.process(a, **kw)} AS JSONB) || CAST({compiler.process(b, **kw)} AS JSONB) AS JSON)"

"""Integer path parameters bounded to the database's 64-bit integers, for every route at once.

`/submissions/36893488147419103233` names nothing: every id and number column is an INTEGER, which PostgreSQL
holds in 32 bits (SQLite in 64), and the drivers refuse a value beyond it (sqlite3: OverflowError; PostgreSQL:
out of range), which became a 500 (and on PostgreSQL, for values between 2^31 and 2^63, a 422).
`bounded_path_ids` is an app-wide dependency: any `int` path parameter (of the route or of a dependency it
uses) outside that range is a 404 before the route runs, the same answer as for an id that does not exist.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant

from app.errors import NotFound

__all__ = ["DB_INT_MAX", "DB_INT_MIN", "bounded_path_ids"]

# PostgreSQL's INTEGER range, the narrower of the two databases': the same answer on both.
DB_INT_MAX = 2 ** 31 - 1
DB_INT_MIN = -(2 ** 31)


def _int_path_params(dependant: Dependant) -> set[str]:
    """Names of the int path parameters a route's dependency tree declares."""
    names = {p.name for p in dependant.path_params if p.field_info.annotation is int}
    for sub in dependant.dependencies:
        names |= _int_path_params(sub)
    return names


def bounded_path_ids(request: Request) -> None:
    """404 for an int path parameter no database row can have (validation still answers 422 for non-numbers)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    for name in _int_path_params(dependant):
        raw = request.path_params.get(name)
        try:
            value = int(raw)
        except (TypeError, ValueError):
            continue
        if not DB_INT_MIN <= value <= DB_INT_MAX:
            raise NotFound(f"There is nothing here with {name} {str(raw)[:40]}.")

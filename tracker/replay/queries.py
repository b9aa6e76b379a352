"""Questions on both time axes, answered from the projection tables with one indexed query.

Each projection module declares its questions (`projections.protocol`): ``NOW_SQL``, the
state as the tracker takes it now, and ``AS_OF_SQL``, the state as of `:as_of` known at
`:known_at`, both for one key or (blank) every key; and its ``CANNED_QUERY``, the SQL
Datasette runs for its page. That SQL is written to be pasted into Datasette as it is: it
takes `:as_of` and `:known_at` as people type them (a blank value means "no bound"; a
partial date means the end of its period; a date for `:known_at` means the end of that
day, UTC), plus the key named as the projection's KEY_COLUMN (`:project`, `:country`;
blank = all). This module runs them; it knows no projection by name.

`answer(conn, projection, key, as_of=..., known_at=...)` asks any registered projection;
`queries.project_status(conn, ...)` and the like (any registered projection's NAME) are
the same, bound to one projection, and `canned()` (also `CANNED`) maps every canned
query's name to its SQL.
"""

from __future__ import annotations

import sqlite3
from types import ModuleType
from typing import Any, Callable


def _projection(projection: ModuleType | str) -> ModuleType:
    if isinstance(projection, str):
        from projections import by_name

        return by_name(projection)
    return projection


def _rows(conn: sqlite3.Connection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def answer(
    conn: sqlite3.Connection, projection: ModuleType | str, key: str | None = None, *,
    as_of: str | None = None, known_at: str | None = None,
) -> list[dict[str, Any]]:
    """A projection's rows (or one key's) as of `as_of`, known at `known_at`.

    With neither bound, the rows as the tracker takes them now (its NOW_SQL, which reads
    the current state); otherwise its AS_OF_SQL, the SQL its canned query shares.
    `as_of` and `known_at` are exact bounds (tracker.replay.timeaxes) or as people type them.
    """
    p = _projection(projection)
    sql = p.NOW_SQL if as_of is None and known_at is None else p.AS_OF_SQL
    return _rows(conn, sql, {"as_of": as_of, "known_at": known_at, p.KEY_COLUMN: key or ""})


def history_answer(conn: sqlite3.Connection, projection: ModuleType | str, key: str | None = None, *,
                   as_of: str | None = None) -> list[dict[str, Any]]:
    """A projection's rows (or one key's) as of `as_of` from its history table alone, every
    row taken as known: its AS_OF_SQL with no knowledge bound, even with no `as_of` (a
    database holding a history and nothing else, as `tracker.replay.keyed` makes)."""
    p = _projection(projection)
    return _rows(conn, p.AS_OF_SQL, {"as_of": as_of, "known_at": None, p.KEY_COLUMN: key or ""})


def asker(projection: ModuleType | str) -> Callable[..., list[dict[str, Any]]]:
    """`answer` bound to one projection: ask(conn, key=None, *, as_of=None, known_at=None)."""
    p = _projection(projection)

    def ask(conn: sqlite3.Connection, key: str | None = None, *, as_of: str | None = None,
            known_at: str | None = None) -> list[dict[str, Any]]:
        return answer(conn, p, key, as_of=as_of, known_at=known_at)

    ask.__name__ = ask.__qualname__ = p.NAME
    ask.__doc__ = f"The {p.NAME} rows (or one {p.KEY_COLUMN}'s) as of `as_of`, known at `known_at`."
    return ask


def canned() -> dict[str, str]:
    """Canned-query SQL for Datasette, by query name, from every registered projection."""
    import projections

    return {p.CANNED_QUERY.name: p.CANNED_QUERY.sql for p in projections.PROJECTIONS}


def __getattr__(name: str) -> Any:
    """`CANNED`, and `project_status` etc.: looked up when asked, so that a projection
    registered later is there too."""
    if name == "CANNED":
        return canned()
    from projections import by_name

    try:
        return asker(by_name(name))
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None

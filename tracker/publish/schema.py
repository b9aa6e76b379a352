"""What publishing adds to a database the replay engine has filled: the views Datasette
shows (the map, the log's head), the search index and reference table, and the indexes
that keep its pages fast at a million events.

Everything here works on a plain sqlite3 connection. Tables owned by the log and the
replay engine are never written.
"""

from __future__ import annotations

import os
import sqlite3

from tracker.replay.countries import load_countries
from tracker.replay.effective import BODY_SQL
from tracker.replay.search import ensure_search

#: The name Datasette serves the database under: every URL in metadata.yml uses it.
DB_NAME = "tracker"


EVENT_MAP_VIEW = f"""CREATE VIEW IF NOT EXISTS event_map AS
SELECT e.id, e.occurred, e.kind, e.summary,
  CASE WHEN e.lat IS NOT NULL THEN e.location_name ELSE c.capital || ', ' || c.name END AS place,
  CASE WHEN e.lat IS NOT NULL THEN 'location' ELSE 'capital of ' || c.code END AS placed_by,
  coalesce(e.lat, c.lat) AS latitude,
  coalesce(e.lon, c.lon) AS longitude
FROM effective_events e
LEFT JOIN countries c ON c.code = coalesce(
  json_extract({BODY_SQL}, '$.host_country'),
  (SELECT j.value FROM json_each({BODY_SQL}, '$.countries') j WHERE j.value <> 'KR' ORDER BY j.key LIMIT 1),
  'KR')"""

#: The log's head, for readers to keep: `tracker verify --head SEQ:HASH` later proves that
#: the log still extends it.
LOG_HEAD_VIEW = """CREATE VIEW IF NOT EXISTS log_head AS
SELECT seq, hash, recorded_at, 'tracker verify --head ' || seq || ':' || hash AS verify_with
FROM events ORDER BY seq DESC LIMIT 1"""

#: Indexes the Datasette pages need at a million events, beyond the replay engine's own, on
#: the engine's tables: facets on status and countries, the Atom feed's newest-first order,
#: the home page's counts as of a date known at a moment.
#: Each is (table, columns, WHERE of a partial index or None); the replay engine drops them
#: with its tables, and `ensure_indexes` puts them back. `indexes()` adds each projection's
#: (its PUBLISH_INDEXES: the `projects` view's, for one).
OWN_INDEXES = [
    ("effective_events", ("status",), None),
    ("effective_events", ("kind", "status"), None),
    ("effective_events", ("countries",), None),
    ("effective_events", ("recorded_at",), None),
    # the home page as of V known at T counts events on both axes from these alone
    ("effective_events", ("occurred_start", "recorded_at"), None),
    ("effective_events", ("kind", "occurred_start", "recorded_at"), None),
]


def indexes() -> list[tuple[str, tuple[str, ...], str | None]]:
    """Every index publishing keeps: its own, then each registered projection's."""
    import projections

    return [*OWN_INDEXES, *(tuple(spec) for p in projections.PROJECTIONS for spec in p.PUBLISH_INDEXES)]


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def index_name(table: str, cols: tuple[str, ...], where: str | None) -> str:
    return f"publish_{table}_{'_'.join(cols)}" + ("_current" if where else "")


def ensure_indexes(conn: sqlite3.Connection) -> None:
    """Create the indexes of `indexes()` that are missing (after a full replay, all of them)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, cols, where in indexes():
        if table in tables and set(cols) <= set(_columns(conn, table)):
            quoted = ", ".join(f'"{c}"' for c in cols)
            partial = f" WHERE {where}" if where else ""
            conn.execute(f'CREATE INDEX IF NOT EXISTS "{index_name(table, cols, where)}" ON "{table}" ({quoted}){partial}')


def prepare(conn: sqlite3.Connection) -> None:
    """Add everything publishing needs to a database the replay engine has filled, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        load_countries(conn)
        if "effective_events" in _tables(conn):
            conn.execute(EVENT_MAP_VIEW)
        conn.execute(LOG_HEAD_VIEW)
        ensure_search(conn)
        ensure_indexes(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def prepare_path(path: str | os.PathLike) -> None:
    from tracker.log.connection import connect

    conn = connect(path)
    try:
        prepare(conn)
    finally:
        conn.close()

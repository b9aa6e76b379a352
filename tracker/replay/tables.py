"""The derived tables: the engine's own (effective events, event countries, event days) and every
projection's, as SQL; how a full replay drops and recreates them, indexes deferred.
"""

from __future__ import annotations

import re
import sqlite3

#: Version of the effective-event index (the engine's own derived tables).
ENGINE_VERSION = 8
ENGINE = "effective_events"

ENGINE_SCHEMA = """
CREATE TABLE effective_events (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    occurred TEXT NOT NULL,
    occurred_start TEXT NOT NULL,
    occurred_end TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    summary TEXT,
    project TEXT,
    status TEXT,
    countries TEXT NOT NULL,
    location_name TEXT,
    lat REAL,
    lon REAL,
    title TEXT,
    parties TEXT,
    value_amount REAL,
    value_currency TEXT,
    corrected INTEGER NOT NULL,
    amended_body TEXT
);
CREATE INDEX effective_events_world_order ON effective_events (occurred_start, occurred_end, seq);
CREATE INDEX effective_events_kind ON effective_events (kind, occurred_start);
CREATE INDEX effective_events_project ON effective_events (project, occurred_start);
CREATE TABLE event_countries (
    event TEXT NOT NULL REFERENCES effective_events (id),
    country TEXT NOT NULL REFERENCES countries (code),
    seq INTEGER NOT NULL,
    PRIMARY KEY (country, seq)
) WITHOUT ROWID;
CREATE TABLE event_days (
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (day, kind)
) WITHOUT ROWID;
CREATE TABLE sum_reported_cells (
    projection TEXT NOT NULL,
    key TEXT NOT NULL,
    valid_month TEXT NOT NULL,
    reported_month TEXT NOT NULL,
    totals TEXT NOT NULL,
    PRIMARY KEY (projection, key, valid_month, reported_month)
) WITHOUT ROWID;
CREATE TABLE sum_reported_versions (
    projection TEXT NOT NULL,
    event TEXT NOT NULL,
    reported_from TEXT NOT NULL,
    key TEXT NOT NULL,
    reported_to TEXT,
    valid_from TEXT NOT NULL,
    contribution TEXT NOT NULL,
    PRIMARY KEY (projection, event, reported_from, key)
) WITHOUT ROWID;
CREATE INDEX sum_reported_versions_key ON sum_reported_versions (projection, key, valid_from);
CREATE INDEX sum_reported_versions_from ON sum_reported_versions (projection, key, reported_from);
CREATE INDEX sum_reported_versions_to ON sum_reported_versions (projection, key, reported_to)
    WHERE reported_to IS NOT NULL;
CREATE INDEX sum_reported_versions_advance ON sum_reported_versions (projection, key, valid_from)
    WHERE valid_from > reported_from;
CREATE TABLE former_keys (
    projection TEXT NOT NULL,
    key TEXT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (projection, key, event)
) WITHOUT ROWID;
"""
#: `former_keys` holds, for each state projection, the keys an amended world event had
#: under a form it no longer has (a correction moved it, a retraction took it away), so
#: that a question about one key on the reported axis (`tracker.replay.keyed`) finds every
#: event that may belong to the key in some filtered log. An event whose key changed more
#: than once is listed under WILDCARD: a mix of its corrections could give it any key.
WILDCARD = "*"
#: The search index `tracker.replay.search.ensure_search` keeps over `effective_events`. A full
#: replay drops it with the tables and lets `ensure_search` build it afresh at the end:
#: emptying it row by row costs more than building it (it re-reads every old document).
SEARCH_INDEX = "events_fts"


def projections() -> tuple:
    """Every registered projection module, in the order the engine runs them: the state
    projections, then the sums, each in the order registered (`projections.PROJECTIONS`,
    read at each call, so that one added with `projections.register` is replayed too)."""
    import projections

    registered = projections.PROJECTIONS
    return (*(p for p in registered if p.SHAPE != "sum"), *(p for p in registered if p.SHAPE == "sum"))


def run_indexes() -> set[str]:
    """Indexes a full replay needs while it runs (each projection's RUN_INDEXES, e.g. for
    amendments to find an event's contribution rows); every other secondary index is
    built in bulk once the rows are in."""
    return {name for p in projections() for name in p.RUN_INDEXES}


_CREATED = re.compile(r"CREATE\s+(TABLE|VIEW|INDEX)\s+(\w+)", re.IGNORECASE)


def _objects(schema: str) -> list[tuple[str, str]]:
    return [(kind.upper(), name) for kind, name in _CREATED.findall(schema)]


def _all_schemas() -> list[str]:
    return [ENGINE_SCHEMA, *(p.SCHEMA for p in projections())]


def _drop_and_create(conn: sqlite3.Connection) -> list[str]:
    """Drop and recreate every derived object; returns the index statements left to run."""
    for schema in _all_schemas():
        for kind, name in _objects(schema):
            if kind != "INDEX":
                conn.execute(f"DROP {kind} IF EXISTS {name}")
    conn.execute(f"DROP TABLE IF EXISTS {SEARCH_INDEX}")
    deferred = []
    run = run_indexes()
    for schema in _all_schemas():
        # one statement at a time: executescript() would COMMIT the open transaction
        for statement in schema.split(";"):
            if not statement.strip():
                continue
            created = _objects(statement)
            if created and created[0][0] == "INDEX" and created[0][1] not in run:
                deferred.append(statement)
            else:
                conn.execute(statement)
    return deferred


_INDEXED = re.compile(r"\bON\s+(\w+)", re.IGNORECASE)


def _indexed_table(statement: str) -> str:
    """The table a CREATE INDEX statement indexes."""
    return _INDEXED.search(statement).group(1)


def derived_tables() -> list[str]:
    """Every table the replay writes (not views), in a stable order."""
    return [
        name for schema in _all_schemas() for kind, name in _objects(schema) if kind == "TABLE"
    ]


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None

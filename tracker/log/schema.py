"""The log's schema: the `events` table and the triggers that keep it append-only, and the
check that a database still holds exactly them (a dropped, altered or extra trigger, a
missing table), which `verify` reports and every other command refuses.
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache

#: The log's own schema, created in a new database and never again: a trigger dropped or
#: replaced later is reported (`schema_problems`), not quietly put back.
LOG_TABLE = """CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    occurred TEXT,
    occurred_start TEXT,
    occurred_end TEXT,
    recorded_at TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)"""
#: The triggers that make the table append-only, by name. UPDATE and DELETE are refused;
#: so is an INSERT that is not at the end with a new id, which is how `INSERT OR REPLACE`
#: would otherwise delete a row without firing the DELETE trigger.
LOG_TRIGGERS = {
    "events_no_update": """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events is append-only: UPDATE is not allowed');
END""",
    "events_no_delete": """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events is append-only: DELETE is not allowed');
END""",
    "events_no_replace": """CREATE TRIGGER events_no_replace BEFORE INSERT ON events
WHEN NEW.seq <= (SELECT max(seq) FROM events) OR EXISTS (SELECT 1 FROM events WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'events is append-only: a row goes after the last one, with a new id (REPLACE is not allowed)');
END""",
}
SCHEMA = ";\n".join([LOG_TABLE, *LOG_TRIGGERS.values()]) + ";\n"
#: Indexes that only make reading faster: put back when missing, and never a problem.
INDEXES = """
CREATE INDEX IF NOT EXISTS events_amendment_target
    ON events (json_extract(body, '$.target'))
    WHERE kind IN ('correction', 'retraction');
"""
#: `PRAGMA user_version` of a log with this schema. Version 0 is a log made before
#: events_no_replace existed: with its first two triggers intact, a write adds the third.
SCHEMA_VERSION = 1
TRIGGERS = tuple(LOG_TRIGGERS)
#: Tables only the tracker makes: a database holding them has been a log, even if `events` is gone.
TRACKER_TABLES = ("replay_state", "effective_events")


class LogProblem(Exception):
    """The database is not the log as the tracker left it: reported, never repaired.

    Raised on opening (a trigger missing or altered, the table gone or changed) and by
    the replay engine (a log shorter than its projections). `tracker verify` reports
    every problem; other commands refuse to go on.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(problems[0])


def _normal(sql: str | None) -> str:
    return " ".join((sql or "").split())


@lru_cache(maxsize=1)
def _expected_schema() -> dict[str, tuple[str, str]]:
    """name → (type, normalised SQL) of every object SCHEMA makes, as SQLite stores it."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    rows = conn.execute("SELECT name, type, sql FROM sqlite_master").fetchall()
    conn.close()
    return {name: (type_, _normal(sql)) for name, type_, sql in rows}


def schema_problems(conn: sqlite3.Connection) -> list[str]:
    """What differs between this database's log and the log the tracker makes; [] when none.

    The table and each trigger are compared as SQLite stores their SQL, so a trigger
    dropped, replaced by one that does nothing, or joined by another on `events`, and a
    column added, all show. A log of schema version 0 lacking only `events_no_replace`
    is an older tracker's, not a problem for reading (`is_older_log`).
    """
    expected = _expected_schema()
    found = {
        name: (type_, _normal(sql))
        for name, type_, sql in conn.execute(
            "SELECT name, type, sql FROM sqlite_master WHERE tbl_name = 'events' AND type IN ('table', 'trigger')"
        )
    }
    if "events" not in found:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables & set(TRACKER_TABLES):
            return ["the events table is missing, though the projections built from it are here: the log was dropped"]
        return ["there is no events table: this is not a tracker database"]
    problems = []
    if found["events"] != expected["events"]:
        problems.append("the events table is not as the tracker made it: its columns or constraints were changed")
    for name in TRIGGERS:
        if name not in found:
            if name == "events_no_replace" and is_older_log(conn, found):
                continue
            problems.append(f"trigger {name} is missing: the log is no longer append-only")
        elif found[name] != expected[name]:
            problems.append(f"trigger {name} is not the tracker's: it was replaced, and may not protect the log")
    for name, (type_, _) in sorted(found.items()):
        if type_ == "trigger" and name not in TRIGGERS:
            problems.append(f"trigger {name} on events is not the tracker's: nothing but the tracker may act on the log")
    return problems


def is_older_log(conn: sqlite3.Connection, found: dict | None = None) -> bool:
    """True for a log an older tracker made: schema version 0, its two triggers intact."""
    if conn.execute("PRAGMA user_version").fetchone()[0] != 0:
        return False
    expected = _expected_schema()
    if found is None:
        found = {
            name: (type_, _normal(sql))
            for name, type_, sql in conn.execute("SELECT name, type, sql FROM sqlite_master WHERE tbl_name = 'events'")
        }
    return "events_no_replace" not in found and all(
        found.get(name) == expected[name] for name in ("events", "events_no_update", "events_no_delete")
    )


def _has_log(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone() is not None


def _tracker_tables(conn: sqlite3.Connection) -> bool:
    marks = ",".join("?" * len(TRACKER_TABLES))
    return conn.execute(f"SELECT 1 FROM sqlite_master WHERE name IN ({marks})", TRACKER_TABLES).fetchone() is not None

"""`reported_by` in Datasette's questions: an SQL function the plugin registers, and the
canned queries and dashboard charts that use it.

Plain SQL cannot fold a project's status as public reporting told it by a date: the
answer needs the log's reported-time rules (tracker.log.reported) and the projection's
own fold. So the tracker's plugin registers `tracker_reported(question, key, as_of,
known_at, reported_by)` on every connection to the tracker's database (Datasette's
`prepare_connection` hook, loaded by the plugin's entry point, so a published snapshot
served by plain `datasette` has it too). It answers as the command line does
(tracker.replay.keyed): one key from that key's events, a country's tallies from the
reported cells, every key from one read of the log, and returns the rows as a JSON
array for `json_each`.

Each question keeps its plain SQL, taken only when `reported_by` is blank, beside a
branch over the function taken only when it is given (UNION ALL; SQLite tests a WHERE
that names no table once, before reading anything), so a question without
`reported_by` costs what it did. The plain SQL stays the projection module's own:
`with_reported_by` wraps it, and for a state projection the function asks the very same
SQL of the key's history folded in memory.
"""

from __future__ import annotations

import sqlite3
from types import ModuleType, SimpleNamespace
from typing import Any

import orjson

#: The SQL function's name.
FUNCTION = "tracker_reported"
#: Its companion, the JSON path `json_each` reads the answer at: `$`, or, when a bound is
#: no date, the problem in words, which SQLite then reports in its error ("JSON path error
#: near 'reported_by "2024-13": month 13 does not exist ...'"): an SQL function's own
#: exception reaches the page only as "user-defined function raised exception".
CHECK = "tracker_reported_path"
#: The function's question for the dashboard's event counts: every world event as
#: reported then (kind, first possible day, countries), not a projection.
EVENTS = "events"

#: The words every question taking `reported_by` adds to its description.
REPORTED_BY_HTML = (
    "<p>Optionally give <code>reported_by</code> (YYYY, YYYY-MM or YYYY-MM-DD) to see only what "
    "public reporting had said by that date: an event counts from its earliest source's publication "
    "date, a correction or retraction from its own earliest source (or the day it was recorded). "
    "Blank means everything recorded. It combines with <code>as_of</code> and <code>known_at</code>.</p>"
)


class _Plain:
    """The connection as the tracker's readers expect it (rows as tuples), whatever row
    factory Datasette set on it: the function reads on the connection the query runs on,
    so it sees the same database and Datasette's time limit covers its reads too."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        cursor = self.conn.cursor()
        cursor.row_factory = None
        return cursor.execute(sql, params)


def answer(conn, question: str, key: str | None, as_of: str | None, known_at: str | None,
           reported_by: str | None) -> list[dict[str, Any]]:
    """The rows of `question` (a projection's name, or EVENTS) for `key` (blank: every key)
    as of `as_of`, known at `known_at`, reported by `reported_by`, each as people type it
    (blank: no bound). For a projection, the rows its canned query gives on the log as
    reported then. Raises TimeError for a bound that is no date, ValueError for an unknown
    question."""
    from tracker.replay.keyed import every_key_history, key_history, reported_answer
    from tracker.replay.queries import _rows
    from tracker.replay.timeaxes import as_of_day, known_at_stamp, reported_by_day

    as_of_bound = as_of_day(as_of or None, "as_of")
    known = known_at_stamp(known_at or None)
    reported = reported_by_day(reported_by or None)
    if reported is None:
        return []  # the plain branch answers
    key = key or None
    if question == EVENTS:
        from tracker.replay.listing import effective_events

        return [{"kind": e.record["kind"], "occurred_start": e.sort_key[0], "countries": e.record["countries"]}
                for e in effective_events(SimpleNamespace(conn=conn), as_of=as_of_bound, known_at=known,
                                          reported_by=reported)]
    projection = _projection(question)
    if projection.SHAPE == "state":
        memory = (key_history(conn, projection, key, known_at=known, reported_by=reported) if key
                  else every_key_history(conn, projection, known_at=known, reported_by=reported))
        try:  # the canned query itself, on the history as reported then
            return _rows(memory, projection.CANNED_QUERY.sql,
                         {"as_of": as_of_bound, "known_at": None, projection.KEY_COLUMN: key or ""})
        finally:
            memory.close()
    return reported_answer(SimpleNamespace(conn=conn), projection, key, as_of=as_of_bound, known_at=known,
                           reported_by=reported)


def _projection(name: str) -> ModuleType:
    import projections

    for p in projections.PROJECTIONS:
        if p.NAME == name:
            return p
    raise ValueError(f"{FUNCTION}: no question {name!r}")


def tracker_reported(conn: sqlite3.Connection):
    """The SQL function on `conn`: the answer as a JSON array of objects (empty for a bound
    that is no date: CHECK says what is wrong with it)."""
    from tracker.replay.timeaxes import TimeError

    def function(question, key, as_of, known_at, reported_by):
        if not reported_by:
            return "[]"
        try:
            return orjson.dumps(answer(_Plain(conn), question, key, as_of, known_at, reported_by)).decode()
        except TimeError:
            return "[]"
        except sqlite3.OperationalError as e:
            if "interrupted" in str(e):  # Datasette's time limit: the query itself stops, and says so
                return None
            raise

    return function


def reported_path(as_of, known_at, reported_by) -> str:
    """CHECK: `$` when the bounds are dates, else what is wrong with the first that is not."""
    from tracker.replay.timeaxes import TimeError, as_of_day, known_at_stamp, reported_by_day

    try:
        as_of_day(as_of or None, "as_of")
        known_at_stamp(known_at or None)
        reported_by_day(reported_by or None)
    except TimeError as e:
        # (in double quotes: SQLite doubles a single quote in the message it quotes)
        return str(e).replace("--known-at", "known_at").replace("--reported-by", "reported_by").replace("'", '"')
    return "$"


def register(conn: sqlite3.Connection) -> None:
    """Register `tracker_reported` and its CHECK on `conn` (Datasette's prepare_connection)."""
    conn.create_function(FUNCTION, 5, tracker_reported(conn))
    conn.create_function(CHECK, 3, reported_path, deterministic=True)


def call(question: str, key: str = "''", known_at: str = "''") -> str:
    """SQL: the rows of `question` as reported by `:reported_by`, for `json_each`'s FROM."""
    return (f"json_each({FUNCTION}('{question}', {key}, :as_of, {known_at}, :reported_by),"
            f" {CHECK}(:as_of, {known_at}, :reported_by))")


# --- the questions ----------------------------------------------------------------------------


def answer_columns(projection: ModuleType) -> list[str]:
    """The columns the projection's canned query gives, found by preparing it on its tables."""
    memory = sqlite3.connect(":memory:")
    try:
        memory.executescript(projection.SCHEMA)
        cursor = memory.execute(projection.CANNED_QUERY.sql,
                                {"as_of": None, "known_at": None, projection.KEY_COLUMN: ""})
        return [d[0] for d in cursor.description]
    finally:
        memory.close()


def with_reported_by(projection: ModuleType) -> str:
    """The projection's canned query taking `:reported_by` too: its own SQL when blank, the
    function's rows in the same columns when given."""
    columns = ", ".join(f"json_extract(r.value, '$.\"{c}\"') AS \"{c}\"" for c in answer_columns(projection))
    return (
        f"SELECT * FROM (\n{projection.CANNED_QUERY.sql}\n) WHERE coalesce(:reported_by, '') = ''\n"
        f"UNION ALL\n"
        f"SELECT {columns}\n"
        f"FROM {call(projection.NAME, ':' + projection.KEY_COLUMN, ':known_at')} AS r\n"
        f"WHERE coalesce(:reported_by, '') <> ''"
    )


#: The dashboard's projects by status as reported then (its plain SQL is tracker.publish.site's).
PROJECTS_BY_STATUS_REPORTED = (
    "SELECT json_extract(r.value, '$.status') AS status, count(*) AS projects\n"
    f"FROM {call('project_status')} AS r\n"
    "WHERE coalesce(:reported_by, '') <> ''\n"
    "GROUP BY 1"
)


def add_reported_by(metadata: dict[str, Any], database: str) -> None:
    """Give every projection's canned query in `metadata` the `reported_by` parameter (and
    its description the words), and the dashboard's projects-by-status chart its branch."""
    import projections

    queries = metadata["databases"][database]["queries"]
    for p in projections.PROJECTIONS:
        entry = queries.get(p.CANNED_QUERY.name)
        if entry is None:
            continue
        queries[p.CANNED_QUERY.name] = {**entry, "sql": with_reported_by(p),
                                        "description_html": entry["description_html"] + " " + REPORTED_BY_HTML}
    for dashboard in (metadata.get("plugins", {}).get("datasette-dashboards") or {}).values():
        chart = (dashboard.get("charts") or {}).get("projects-by-status")
        if chart and "reported_by" not in chart["query"]:
            chart["query"] = (f"SELECT * FROM ({chart['query']}) WHERE coalesce(:reported_by, '') = ''\n"
                              f"UNION ALL\n{PROJECTS_BY_STATUS_REPORTED}")

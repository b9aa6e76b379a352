"""Questions on both time axes, answered from the projection tables with one indexed query.

The SQL below is written to be pasted into Datasette canned queries as it is: it takes
`:as_of` and `:known_at` as people type them (a blank value means "no bound"; a partial
date means the end of its period; a date for `:known_at` means the end of that day,
UTC), plus `:project` or `:country` (blank = all). `CANNED` holds those texts. The CLI
runs the same SQL with the key filter written as a plain equality, so the index on
(key, valid_from, known_from) serves it. The summit timeline's page lists only the
latest TIMELINE_PAGE_ROWS steps up to the date; the CLI lists them all.
"""

from __future__ import annotations

import sqlite3
from typing import Any

#: Turns :as_of / :known_at as typed into the exact bounds the history rows are compared with.
BOUNDS = """WITH bounds AS (
  SELECT
    CASE
      WHEN coalesce(:as_of, '') = '' THEN '9999-12-31'
      WHEN length(:as_of) = 4 THEN :as_of || '-12-31'
      WHEN length(:as_of) = 7 THEN date(:as_of || '-01', '+1 month', '-1 day')
      ELSE :as_of
    END AS v,
    CASE
      WHEN coalesce(:known_at, '') = '' THEN '9999-12-31T23:59:59.999999Z'
      WHEN length(:known_at) = 4 THEN :known_at || '-12-31T23:59:59.999999Z'
      WHEN length(:known_at) = 7
        THEN date(:known_at || '-01', '+1 month', '-1 day') || 'T23:59:59.999999Z'
      WHEN length(:known_at) = 10 THEN :known_at || 'T23:59:59.999999Z'
      WHEN :known_at GLOB '????-??-??T??:??:??.??????Z' THEN :known_at
      ELSE strftime('%Y-%m-%dT%H:%M:%S', :known_at) || '.000000Z'
    END AS k
)
"""

#: "In force at V, as the tracker said at T" for a history row h joined with bounds b.
_BITEMPORAL = (
    "h.valid_from <= b.v AND (h.valid_to IS NULL OR h.valid_to > b.v)"
    " AND h.known_from <= b.k AND (h.known_to IS NULL OR h.known_to > b.k)"
)

def _keyed_or_all(columns: str, table: str, extra_all: str, order: str) -> str:
    """A UNION ALL of a branch for one key (`:project` given) and one for every key (blank).

    Only one branch yields rows. The keyed one seeks the (project, valid_from, ...) index;
    the other walks an index in the ORDER BY order (filtering on the index alone), so
    SQLite streams rows without sorting and a caller that stops early (Datasette stops
    at max_returned_rows) reads only what it shows. `(blank OR h.project = :project)`
    in one WHERE would defeat both indexes.
    """
    return (
        BOUNDS
        + f"""SELECT {columns}
FROM bounds AS b, {table} AS h
WHERE coalesce(:project, '') <> '' AND h.project = :project
  AND {_BITEMPORAL}
UNION ALL
SELECT {columns}
FROM {table} AS h, bounds AS b
WHERE coalesce(:project, '') = ''{extra_all}
  AND {_BITEMPORAL}
ORDER BY {order}"""
    )


PROJECT_STATUS = _keyed_or_all(
    "h.project, h.name, h.status, h.since, h.status_event AS event", "project_status_history", "", "project"
)

def _tally_sql() -> str:
    """Country tallies as of V known at T: two checkpoints + at most a month of contribution rows.

    See projections/country_tallies.py: for each country, the year checkpoint with the
    latest start <= V's year live at T, the month checkpoint of that year with the latest
    start <= V's month live at T, plus the contribution rows from that month's first day
    to V live at T. `:country` blank means every country: the keys are found by skipping
    through the checkpoint index one country at a time.
    """
    from projections.country_tallies import KIND_COLUMNS

    plurals = [plural for _, plural in KIND_COLUMNS]
    count_columns = ["events", *plurals, "agreements", "visits_hosted", "visits_made"]
    from_rows = ", ".join(
        ["1", *(f"h.kind = '{kind}'" for kind, _ in KIND_COLUMNS),
         "h.agreements", "h.visits_hosted", "h.visits_made", "h.order_value_usd", "h.valid_from"]
    )
    from_checkpoint = ", ".join(f"c.{name}" for name in [*count_columns, "order_value_usd", "last_event_on"])
    sums = ", ".join(f"sum(t.{name}) AS {name}" for name in count_columns)
    sums = ", ".join(f"sum(t.{name}) AS {name}" for name in count_columns)
    live_at_k = "c.known_from <= b.k AND (c.known_to IS NULL OR c.known_to > b.k)"
    return (
        "WITH RECURSIVE "
        + BOUNDS.removeprefix("WITH ")
        + """, b AS (SELECT v, k, substr(v, 1, 4) || '-01-01' AS year, substr(v, 1, 7) || '-01' AS month FROM bounds),
every_key(country) AS (
  SELECT min(country) FROM country_tallies_checkpoints WHERE coalesce(:country, '') = ''
  UNION ALL
  SELECT (SELECT min(c.country) FROM country_tallies_checkpoints AS c WHERE c.country > e.country)
  FROM every_key AS e WHERE e.country IS NOT NULL
),
keys(country) AS (
  SELECT :country WHERE coalesce(:country, '') <> ''
  UNION ALL
  SELECT country FROM every_key WHERE country IS NOT NULL
),
years AS (
  SELECT keys.country, (
    SELECT c.rowid FROM country_tallies_checkpoints AS c
    WHERE c.country = keys.country AND c.level = 'year' AND c.start <= b.year AND """
        + live_at_k
        + """
    ORDER BY c.start DESC, c.known_from DESC LIMIT 1
  ) AS checkpoint
  FROM keys, b
),
months AS (
  SELECT y.country, y.checkpoint, y.start AS year, (
    SELECT c.rowid FROM country_tallies_checkpoints AS c
    WHERE c.country = y.country AND c.level = 'month' AND c.start > y.start AND c.start < date(y.start, '+1 year')
      AND c.start <= b.month AND """
        + live_at_k
        + """
    ORDER BY c.start DESC, c.known_from DESC LIMIT 1
  ) AS month_checkpoint
  FROM (SELECT years.*, c.start FROM years JOIN country_tallies_checkpoints AS c ON c.rowid = years.checkpoint) AS y, b
),
picked AS (
  SELECT m.country, m.checkpoint, m.month_checkpoint, coalesce(c.start, m.year) AS start
  FROM months AS m LEFT JOIN country_tallies_checkpoints AS c ON c.rowid = m.month_checkpoint
),
parts AS (
  SELECT c.country, """
        + from_checkpoint
        + """
  FROM picked AS p JOIN country_tallies_checkpoints AS c ON c.rowid IN (p.checkpoint, p.month_checkpoint)
  UNION ALL
  SELECT h.country, """
        + from_rows
        + """
  FROM picked AS p, b
  JOIN country_tallies_history AS h ON h.country = p.country
    AND h.valid_from >= p.start AND h.valid_from < date(p.start, '+1 month')
  WHERE h.valid_from <= b.v AND h.known_from <= b.k AND (h.known_to IS NULL OR h.known_to > b.k)
)
SELECT t.country, """
        + sums
        + """, total(t.order_value_usd) AS order_value_usd,
  max(t.last_event_on) AS last_event_on
FROM parts AS t
GROUP BY t.country
HAVING sum(t.events) > 0
ORDER BY t.country"""
    )


COUNTRY_TALLIES = _tally_sql()

_TIMELINE_COLUMNS = 'h."on", h.project, h.status, h.planned_for, h.location, h.summary, h.event, h.kind, h.occurred'
SUMMIT_TIMELINE = (
    BOUNDS
    + 'SELECT "on", project, status, planned_for, location, summary, event, kind, occurred FROM (\n'
    + _keyed_or_all(
        _TIMELINE_COLUMNS + ", h.occurred_end, h.seq",
        "summit_timeline_history",
        ' AND h."on" <= b.v',  # valid_from >= "on": nothing later in the index can be in force
        '1, 10, 11',
    ).removeprefix(BOUNDS)
    + "\n)"
)

#: How many steps the "Summit timeline on a date" page lists at most: the latest ones up
#: to the date. A page of a thousand rows took most of a second to draw and is past reading;
#: an earlier date, or one summit, shows the steps before them.
TIMELINE_PAGE_ROWS = 200


def _timeline_page_sql(limit: int) -> str:
    """SUMMIT_TIMELINE's rows, only the `limit` latest up to the date, still in date order.

    The branch for every summit walks the ("on", ...) index backwards from the date
    (bounds first, so the date bounds the walk) and stops after `limit` rows in force;
    the one-summit branch reads that summit's rows. The outer query puts them back in
    date order.
    """
    columns = _TIMELINE_COLUMNS + ", h.occurred_end, h.seq"
    return (
        BOUNDS
        + f"""SELECT "on", project, status, planned_for, location, summary, event, kind, occurred FROM (
SELECT {columns}
FROM bounds AS b, summit_timeline_history AS h
WHERE coalesce(:project, '') <> '' AND h.project = :project
  AND {_BITEMPORAL}
UNION ALL
SELECT {columns}
FROM bounds AS b CROSS JOIN summit_timeline_history AS h
WHERE coalesce(:project, '') = '' AND h."on" <= b.v
  AND {_BITEMPORAL}
ORDER BY 1 DESC, 10 DESC, 11 DESC
LIMIT {int(limit)}
)
ORDER BY "on", occurred_end, seq"""
    )


SUMMIT_TIMELINE_PAGE = _timeline_page_sql(TIMELINE_PAGE_ROWS)

#: Canned-query SQL for Datasette: every parameter may be left blank.
CANNED = {
    "project_status_on": PROJECT_STATUS,
    "country_tallies_on": COUNTRY_TALLIES,
    "summit_timeline_on": SUMMIT_TIMELINE_PAGE,
}


def _rows(conn: sqlite3.Connection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def _now_or_then(
    conn: sqlite3.Connection, current: str, key_column: str, key: str | None,
    bitemporal: str, as_of: str | None, known_at: str | None,
) -> list[dict[str, Any]]:
    """Rows of the current-state query (`current`, ordered by its key) when no time is
    asked about; otherwise of the bitemporal SQL the canned query shares. `key` narrows
    either to one key."""
    if as_of is None and known_at is None:
        where = f" WHERE {key_column} = :key" if key else ""
        return _rows(conn, f"{current}{where} ORDER BY {key_column}", {"key": key})
    return _rows(conn, bitemporal, {"as_of": as_of, "known_at": known_at, key_column: key or ""})


def project_status(
    conn: sqlite3.Connection, project: str | None = None, *, as_of: str | None = None, known_at: str | None = None
) -> list[dict[str, Any]]:
    """Every project's name and status (or one project's) as of `as_of`, known at `known_at`."""
    current = "SELECT project, name, status, since, event FROM projects"
    return _now_or_then(conn, current, "project", project, PROJECT_STATUS, as_of, known_at)


def country_tallies(
    conn: sqlite3.Connection, country: str | None = None, *, as_of: str | None = None, known_at: str | None = None
) -> list[dict[str, Any]]:
    """Per-country tallies (or one country's) as of `as_of`, known at `known_at`."""
    from projections.country_tallies import TOTAL_COLUMNS

    current = f"SELECT country, {', '.join(TOTAL_COLUMNS)} FROM country_tallies"
    return _now_or_then(conn, current, "country", country, COUNTRY_TALLIES, as_of, known_at)


def summit_timeline(
    conn: sqlite3.Connection, project: str | None = None, *, as_of: str | None = None, known_at: str | None = None
) -> list[dict[str, Any]]:
    """The summit timeline (or one summit project's) as of `as_of`, known at `known_at`."""
    sql = SUMMIT_TIMELINE
    if as_of is None and known_at is None:
        sql = sql.replace(_BITEMPORAL, "h.known_to IS NULL")
    return _rows(conn, sql, {"as_of": as_of, "known_at": known_at, "project": project or ""})

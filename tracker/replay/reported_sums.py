"""A sum on the reported axis: "as of V, reported by R" for a country's tallies without a replay.

A sum projection's state is a sum over its live contributions, so the question is a sum
over a rectangle: contributions valid from V or before, reported by R. Three things
answer it, each kept by the replay (`tracker.replay.sums.SumFold`):

- the contribution rows of events no amendment has touched carry `reported`, the day
  their event counts as reported from (`tracker.log.reported.reported_on`);
- an amended event's **versions**, `sum_reported_versions`: what it contributed over each
  stretch of reported time (`tracker.log.reported.reported_versions`), written again
  whenever an amendment arrives;
- **cells**, `sum_reported_cells`: per key, by (month of valid_from, month of a report),
  the sum of what changed then: each row above adds its contribution in the month it
  was reported, each version adds its own in the month its stretch begins and takes it
  out in the month it ends. Stored as a JSON list in TOTAL_COLUMNS order, the latest day
  left out (subtraction cannot take it out again: it is found by walking indexes).

Whole months below both bounds come from the cells; the month of V and the month of R
from the rows and versions themselves, through their indexes, alike rows grouped in
SQL. So one key costs a few hundred cells and two months of rows, however long the log. The
answer is for everything recorded (no knowledge bound): with `--known-at` as well, the
plain path (a replay in memory of what passes) answers.
"""

from __future__ import annotations

import sqlite3
from types import ModuleType
from typing import Any

import orjson

from tracker.log.amendments import Amendment
from tracker.log.reported import reported_versions

from events.dates import iso_span

CELLS = "sum_reported_cells"
VERSIONS = "sum_reported_versions"


def merge(total: list, other: list, latest: int) -> None:
    """Add the totals `other` into `total`, both in TOTAL_COLUMNS order; the latest day is
    not added (cells hold none)."""
    for i, value in enumerate(other):
        if i != latest:
            total[i] += value


class ReportedCells:
    """One sum projection's cells during a replay run: the changes, added to the stored cells at the end."""

    def __init__(self, conn: sqlite3.Connection, projection: ModuleType, *, full: bool):
        self.conn, self.p, self.full = conn, projection, full
        self.latest = projection.TOTAL_COLUMNS.index(projection.LATEST_COLUMN)
        self.changes: dict[tuple[str, str, str], list] = {}

    def add(self, key: str, valid_from: str, reported: str, values: tuple, sign: int = 1) -> None:
        cell = (key, valid_from[:7], reported[:7])
        total = self.changes.get(cell)
        if total is None:
            total = self.changes[cell] = self.p.empty()
        self.p.add(total, values, valid_from, sign)

    def revise(self, record: dict[str, Any], recorded_at: str, amendments: list[Amendment]) -> None:
        """Write again what the amended world event `record` contributed over reported time,
        its old versions' changes taken out of the cells and its new ones put in."""
        p, conn = self.p, self.conn
        where = (p.NAME, record["id"])
        for key, valid_from, reported_from, reported_to, contribution in conn.execute(
            f"SELECT key, valid_from, reported_from, reported_to, contribution FROM {VERSIONS}"
            " WHERE projection = ? AND event = ?", where,
        ):
            self._version(key, valid_from, reported_from, reported_to, tuple(orjson.loads(contribution)), -1)
        conn.execute(f"DELETE FROM {VERSIONS} WHERE projection = ? AND event = ?", where)
        rows = []
        for reported_from, reported_to, form in reported_versions(record, recorded_at, amendments):
            if form is None:
                continue
            start = iso_span(form["occurred"])[0]
            for key, values in p.contributions(form):
                self._version(key, start, reported_from, reported_to, values, 1)
                rows.append((*where, reported_from, key, reported_to, start, orjson.dumps(list(values)).decode()))
        conn.executemany(
            f"INSERT INTO {VERSIONS} (projection, event, reported_from, key, reported_to, valid_from,"
            " contribution) VALUES (?, ?, ?, ?, ?, ?, ?)", rows,
        )

    def _version(self, key: str, valid_from: str, reported_from: str, reported_to: str | None,
                 values: tuple, sign: int) -> None:
        """A version's changes: in from its first day, out from its last."""
        self.add(key, valid_from, reported_from, values, sign)
        if reported_to is not None:
            self.add(key, valid_from, reported_to, values, -sign)

    def finish(self) -> None:
        """Add the run's changes to the stored cells (a cell whose sums all come to 0 goes)."""
        p, conn = self.p, self.conn
        writes, deletes = [], []
        for (key, valid_month, reported_month), change in sorted(self.changes.items()):
            total = p.empty()
            if not self.full:
                row = conn.execute(
                    f"SELECT totals FROM {CELLS} WHERE projection = ? AND key = ? AND valid_month = ?"
                    " AND reported_month = ?", (p.NAME, key, valid_month, reported_month),
                ).fetchone()
                if row:
                    merge(total, orjson.loads(row[0]), self.latest)
            merge(total, change, self.latest)
            total[self.latest] = None
            where = (p.NAME, key, valid_month, reported_month)
            if any(value for i, value in enumerate(total) if i != self.latest):
                writes.append((*where, orjson.dumps(total).decode()))
            else:
                deletes.append(where)
        conn.executemany(
            f"DELETE FROM {CELLS} WHERE projection = ? AND key = ? AND valid_month = ? AND reported_month = ?",
            deletes,
        )
        conn.executemany(
            f"INSERT OR REPLACE INTO {CELLS} (projection, key, valid_month, reported_month, totals)"
            " VALUES (?, ?, ?, ?, ?)", writes,
        )
        self.changes.clear()


def _keys(conn: sqlite3.Connection, p: ModuleType) -> list[str]:
    return [key for (key,) in conn.execute(
        f"SELECT DISTINCT key FROM {CELLS} WHERE projection = ?"
        f" UNION SELECT DISTINCT key FROM {VERSIONS} WHERE projection = ? ORDER BY 1", (p.NAME, p.NAME),
    )]


def _total(conn: sqlite3.Connection, p: ModuleType, key: str, v: str, r: str) -> list:
    """One key's totals as of `v`, reported by `r` (both ISO days)."""
    history, k = p.HISTORY, p.KEY_COLUMN
    latest = p.TOTAL_COLUMNS.index(p.LATEST_COLUMN)
    values = ", ".join(p.CONTRIBUTION_COLUMNS)
    v_month, r_month = v[:7], r[:7]
    total = p.empty()
    cells = [orjson.loads(cell) for (cell,) in conn.execute(
        f"SELECT totals FROM {CELLS} WHERE projection = ? AND key = ? AND valid_month < ? AND reported_month < ?",
        (p.NAME, key, v_month, r_month),
    )]
    for i, column in enumerate(zip(*cells)):  # column by column: a few hundred cells
        if i != latest:
            total[i] += sum(column)
    # the strips: alike contributions grouped in SQL, each group folded in once, `sign` times
    live = "reported IS NOT NULL AND known_to IS NULL"
    grouped = f"SELECT max(valid_from), count(*), {values} FROM {history}"
    rows = conn.execute(  # V's month, reported by R (+: not through the reported index)
        f"{grouped} WHERE {k} = ? AND valid_from >= ? AND valid_from <= ? AND {live} AND +reported <= ?"
        f" GROUP BY {values}", (key, v_month + "-01", v, r),
    ).fetchall()
    rows += conn.execute(  # R's month, valid before V's month
        f"{grouped} INDEXED BY {history}_reported WHERE {k} = ? AND reported >= ? AND reported <= ? AND {live}"
        f" AND valid_from < ? GROUP BY {values}", (key, r_month + "-01", r, v_month + "-01"),
    ).fetchall()
    for valid_from, times, *contribution in rows:
        p.add(total, tuple(contribution), valid_from, times)
    # the versions' strips: in force at R and dated in V's month; begun or ended in R's month
    versions = f"SELECT valid_from, contribution FROM {VERSIONS} WHERE projection = ? AND key = ?"
    strips = [
        (1, f"{versions} AND valid_from >= ? AND valid_from <= ? AND reported_from <= ?"
            " AND (reported_to IS NULL OR reported_to > ?)", (v_month + "-01", v, r, r)),
        (1, f"{versions} AND reported_from >= ? AND reported_from <= ? AND valid_from < ?",
            (r_month + "-01", r, v_month + "-01")),
        (-1, f"{versions} AND reported_to >= ? AND reported_to <= ? AND valid_from < ?",
            (r_month + "-01", r, v_month + "-01")),
    ]
    for sign, sql, bounds in strips:
        for valid_from, contribution in conn.execute(sql, (p.NAME, key, *bounds)):
            p.add(total, tuple(orjson.loads(contribution)), valid_from, sign)
    total[latest] = None  # (taking versions out moved nothing: the latest day is found below)
    # the latest day: walking back from min(V, R), the first row reported by R; rows dated
    # after R that were reported before they happened (the `advance` index); versions in force
    in_force = "reported_from <= ? AND (reported_to IS NULL OR reported_to > ?)"
    days = [next(iter(conn.execute(
        f"SELECT valid_from FROM {VERSIONS} WHERE projection = ? AND key = ? AND valid_from <= ? AND {in_force}"
        " ORDER BY valid_from DESC LIMIT 1", (p.NAME, key, min(v, r), r, r))), (None,))[0]]
    days.append(next(iter(conn.execute(
        f"SELECT max(valid_from) FROM {VERSIONS} INDEXED BY {VERSIONS}_advance WHERE projection = ? AND key = ?"
        f" AND valid_from <= ? AND valid_from > reported_from AND {in_force}", (p.NAME, key, v, r, r))), (None,))[0])
    days.append(next(iter(conn.execute(
        f"SELECT valid_from FROM {history} WHERE {k} = ? AND valid_from <= ? AND {live} AND reported <= ?"
        " ORDER BY valid_from DESC LIMIT 1", (key, min(v, r), r))), (None,))[0])
    days.append(next(iter(conn.execute(
        f"SELECT max(valid_from) FROM {history} INDEXED BY {history}_advance WHERE {k} = ? AND valid_from <= ?"
        f" AND valid_from > reported AND {live} AND reported <= ?", (key, v, r))), (None,))[0])
    total[latest] = max((day for day in days if day), default=None)
    return total


def sum_answer(conn: sqlite3.Connection, projection: ModuleType, key: str | None = None, *,
               as_of: str | None = None, reported_by: str) -> list[dict[str, Any]]:
    """A sum projection's rows (or one key's) as of `as_of` (an ISO day, None: no bound),
    reported by `reported_by` (an ISO day), everything recorded taken as known: the rows
    its AS_OF_SQL gives on a log holding only what had been reported by then."""
    p = projection
    count = p.TOTAL_COLUMNS.index(p.COUNT_COLUMN)
    v = as_of or "9999-12-31"
    rows = []
    for k in [key] if key else _keys(conn, p):
        total = _total(conn, p, k, v, reported_by)
        if total[count] > 0:
            rows.append({p.KEY_COLUMN: k, **dict(zip(p.TOTAL_COLUMNS, total))})
    return rows

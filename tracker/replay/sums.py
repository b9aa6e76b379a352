"""Sum folds: a ``sum`` projection's rows kept current as contributions come and go.

The state of a key is a sum over its events (see `projections.country_tallies`), so
the fold never refolds a key: each effective form of an event adds contribution rows
(`add`), and a change takes the old form's rows out again (`remove`). Beside the rows,
one `SumFold` keeps the key's current totals and the bitemporal yearly and monthly
checkpoints, and writes both when the run ends (`finish`).

The projection names the two totals the fold needs to understand: `COUNT_COLUMN`
(how many contributions; a key whose count falls to 0 has no current row) and
`LATEST_COLUMN` (the latest contribution's valid_from, which subtraction cannot take
out: the fold looks the previous one up).
"""

from __future__ import annotations

import bisect
import sqlite3
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from events.dates import iso_span

from tracker.log.reported import reported_on
from tracker.replay.reported_sums import ReportedCells

FLUSH = 5000


def _next_month(month: str) -> str:
    """'YYYY-MM-01' -> the first day of the next month."""
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + 1:04d}-01-01" if mon == 12 else f"{year:04d}-{mon + 1:02d}-01"


def _next_year(year: str) -> str:
    """'YYYY-01-01' -> the first day of the next year."""
    return f"{int(year[:4]) + 1:04d}-01-01"


@dataclass
class _KeyCheckpoints:
    """One key's open checkpoint rows: row = [stored, known_from, totals, dirty], `stored`
    when the row is in the table (keyed by key, level, start, known_from), `dirty` when its
    totals changed since."""

    years: dict[str, list] = field(default_factory=dict)
    ylo: str | None = None
    yhi: str | None = None
    months: dict[str, dict[str, list]] = field(default_factory=dict)  # year -> month -> row
    mhi: dict[str, str | None] = field(default_factory=dict)  # year -> its last month row

    def newest(self, year: str, month: str) -> bool:
        """True for a contribution in the key's newest month: no row lies after it, none to open."""
        if year != self.yhi or year not in self.mhi:
            return False
        mhi = self.mhi[year]
        return mhi == month or (mhi is None and month == year)


class SumFold:
    """One sum projection's part of a replay run.

    `full` (a rebuild into empty tables) lets the fold keep everything in memory: it
    never reads a total, a checkpoint or a contribution back from the database.
    """

    def __init__(self, conn: sqlite3.Connection, projection, *, full: bool):
        self.conn = conn
        self.p = p = projection
        self.name = p.NAME
        self.full = full
        self.count = p.TOTAL_COLUMNS.index(p.COUNT_COLUMN)
        self.latest = p.TOTAL_COLUMNS.index(p.LATEST_COLUMN)
        self.rows: list[tuple] = []  # contribution rows waiting to be written
        self.totals: dict[str, list] = {}
        self.cps: dict[str, _KeyCheckpoints] = {}
        self.cp_closed: list[tuple] = []  # closed checkpoint rows never written, to insert
        self.cp_close_ids: list[tuple] = []  # (known_to, *key) of stored rows to close
        # full replay only: per key, the live contributions' valid_from days (sorted) and counts
        self.live_days: dict[str, tuple[list[str], dict[str, int]]] = {}
        self.cells = ReportedCells(conn, p, full=full)
        history = (p.KEY_COLUMN, "valid_from", "known_from", "event", "seq", "reported", *p.CONTRIBUTION_COLUMNS)
        self._insert_rows = (
            f"INSERT INTO {p.HISTORY} ({', '.join(history)}) VALUES ({','.join('?' * len(history))})"
        )
        checkpoints = (p.KEY_COLUMN, "level", "start", "known_from", "known_to", *p.TOTAL_COLUMNS)
        self._insert_checkpoints = (
            f"INSERT INTO {p.CHECKPOINTS} ({', '.join(checkpoints)})"
            f" VALUES ({','.join('?' * len(checkpoints))})"
        )
        #: A checkpoint row's primary key (one version of one checkpoint).
        self._checkpoint_key = f"{p.KEY_COLUMN} = ? AND level = ? AND start = ? AND known_from = ?"

    # the three moves ---------------------------------------------------------------

    def enter(self, form: dict[str, Any], seq: int, known_at: str, start: str) -> None:
        """Full replay, an event no amendment touches: `add` for its common case.

        `_checkpoint`, `_live_day` and `_total` are inlined: this loop runs for nearly
        every (event, key) of a full replay.
        """
        p, rows, cps_of, totals, live = self.p, self.rows, self.cps, self.totals, self.live_days
        event_id = form["id"]
        year, month = start[:4] + "-01-01", start[:7] + "-01"
        reported = reported_on(form, known_at)
        cells = self.cells
        for key, values in p.contributions(form):
            rows.append((key, start, known_at, event_id, seq, reported, *values))
            cells.add(key, start, reported, values)
            cps = cps_of.get(key)
            if cps is None or not cps.newest(year, month):
                self._checkpoint(key, start, values, 1, known_at)
            days, counts = live.get(key) or live.setdefault(key, ([], {}))
            n = counts.get(start)
            if n:
                counts[start] = n + 1
            else:
                counts[start] = 1
                if days and start < days[-1]:
                    bisect.insort(days, start)
                else:
                    days.append(start)
            p.add(totals.get(key) or self._total(key), values, start)

    def add(self, form: dict[str, Any], seq: int, known_at: str, first: bool = False) -> None:
        """The event at `seq` says `form` from `known_at`: open its contribution rows.

        `first`: the event as logged, entering (its rows count on the reported axis, in
        the cells); otherwise an amended form (the event's reported versions count).
        """
        p = self.p
        start = iso_span(form["occurred"])[0]
        reported = reported_on(form, known_at) if first else None
        for key, values in p.contributions(form):
            self.rows.append((key, start, known_at, form["id"], seq, reported, *values))
            if first:
                self.cells.add(key, start, reported, values)
            self._checkpoint(key, start, values, 1, known_at)
            self._live_day(key, start, 1)
            p.add(self._total(key), values, start)

    def remove(self, old: dict[str, Any], seq: int, known_at: str) -> None:
        """The event at `seq` no longer says `old` from `known_at`: close its rows."""
        p, conn = self.p, self.conn
        self.flush()
        reported = conn.execute(  # the event as logged, amended for the first time: out of the cells
            f"SELECT reported FROM {p.HISTORY} WHERE seq = ? AND known_to IS NULL AND reported IS NOT NULL LIMIT 1",
            (seq,),
        ).fetchone()
        if reported:
            start = iso_span(old["occurred"])[0]
            for key, values in p.contributions(old):
                self.cells.add(key, start, reported[0], values, -1)
        conn.execute(
            f"DELETE FROM {p.HISTORY} WHERE seq = ? AND known_to IS NULL AND known_from = ?",
            (seq, known_at),
        )
        conn.execute(
            f"UPDATE {p.HISTORY} SET known_to = ? WHERE seq = ? AND known_to IS NULL",
            (known_at, seq),
        )
        start = iso_span(old["occurred"])[0]
        for key, values in p.contributions(old):
            self._live_day(key, start, -1)
            self._checkpoint(key, start, values, -1, known_at)
            total = self._total(key)
            p.add(total, values, start, -1)
            if total[self.latest] == start:
                total[self.latest] = self._latest_live(key, start)

    def flush(self) -> None:
        if self.rows:
            self.conn.executemany(self._insert_rows, self.rows)
            self.rows.clear()
        if len(self.cp_closed) >= FLUSH:
            self._write_checkpoints(final=False)

    def revise_versions(self, record: dict[str, Any], recorded_at: str, amendments: list, if_kept: bool = False) -> None:
        """An amendment of the world event `record` arrived: write its reported versions again
        (with `if_kept`, only when it has some: an event no amendment has changed yet is in the cells)."""
        if if_kept and self.conn.execute(
            "SELECT 1 FROM sum_reported_versions WHERE projection = ? AND event = ? LIMIT 1", (self.name, record["id"])
        ).fetchone() is None:
            return
        self.cells.revise(record, recorded_at, amendments)

    def finish(self) -> None:
        """The run's end: write the checkpoints, the reported cells and the current totals."""
        self.flush()
        self._write_checkpoints(final=True)
        self.cells.finish()
        p, conn = self.p, self.conn
        columns = (p.KEY_COLUMN, *p.TOTAL_COLUMNS)
        insert = f"INSERT INTO {p.NAME} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})"
        for key, total in sorted(self.totals.items()):
            conn.execute(f"DELETE FROM {p.NAME} WHERE {p.KEY_COLUMN} = ?", (key,))
            if total[self.count] > 0:
                conn.execute(insert, (key, *total))

    # the key's current totals and live days ------------------------------------------

    def _total(self, key: str) -> list:
        total = self.totals.get(key)
        if total is None:
            p = self.p
            row = None if self.full else self.conn.execute(
                f"SELECT {', '.join(p.TOTAL_COLUMNS)} FROM {p.NAME} WHERE {p.KEY_COLUMN} = ?", (key,)
            ).fetchone()
            total = self.totals[key] = list(row) if row else p.empty()
        return total

    def _live_day(self, key: str, day: str, sign: int) -> None:
        """Full replay: keep the days of the key's live contributions, for `_latest_live`."""
        if not self.full:
            return
        days, counts = self.live_days.setdefault(key, ([], {}))
        n = counts.get(day, 0) + sign
        if n > 0:
            if n == 1 and sign > 0:  # a new day: most are the newest, appended without a search
                if days and day < days[-1]:
                    bisect.insort(days, day)
                else:
                    days.append(day)
            counts[day] = n
        else:
            del counts[day]
            del days[bisect.bisect_left(days, day)]

    def _latest_live(self, key: str, upto: str) -> str | None:
        """The latest valid_from <= upto of the key's live contributions (after a removal)."""
        if self.full:
            days, _ = self.live_days.get(key, ([], {}))
            i = bisect.bisect_right(days, upto)
            return days[i - 1] if i else None
        p = self.p
        row = self.conn.execute(  # walks the (key, valid_from) index backwards
            f"SELECT valid_from FROM {p.HISTORY} WHERE {p.KEY_COLUMN} = ? AND valid_from <= ?"
            " AND known_to IS NULL ORDER BY valid_from DESC LIMIT 1",
            (key, upto),
        ).fetchone()
        return row[0] if row else None

    # monthly and yearly checkpoints (see projections/country_tallies.py) ---------------

    def _cp_key(self, key: str) -> _KeyCheckpoints:
        """The key's open checkpoint rows (year rows now; month rows per year, on demand)."""
        found = self.cps.get(key)
        if found is None:
            found = self.cps[key] = _KeyCheckpoints()
            if not self.full:
                for start, row in self._load_checkpoints(key, "year", "0000", "9999"):
                    found.years[start] = row
                found.ylo, found.yhi = min(found.years, default=None), max(found.years, default=None)
        return found

    def _load_checkpoints(self, key: str, level: str, low: str, high: str):
        p = self.p
        sql = (
            f"SELECT start, known_from, {', '.join(p.TOTAL_COLUMNS)} FROM {p.CHECKPOINTS}"
            f" INDEXED BY {p.CHECKPOINTS}_current"  # (not the key: it walks every closed version)
            f" WHERE {p.KEY_COLUMN} = ? AND level = ? AND start >= ? AND start < ? AND known_to IS NULL"
        )
        for start, known_from, *totals in self.conn.execute(sql, (key, level, low, high)):
            yield start, [True, known_from, totals, False]

    def _year_months(self, key: str, cps: _KeyCheckpoints, year: str) -> dict[str, list]:
        months = cps.months.get(year)
        if months is None:
            months = cps.months[year] = {}
            if not self.full:
                months.update(self._load_checkpoints(key, "month", year, _next_year(year)))
            cps.mhi[year] = max(months, default=None)
        return months

    def _revise(self, key: str, level: str, start: str, row: list, known_at: str) -> list:
        """The checkpoint row's totals, to be changed at `known_at` (a new version unless opened then)."""
        stored, known_from, totals, _ = row
        if known_from == known_at:
            row[3] = True
            return totals
        if stored:
            self.cp_close_ids.append((known_at, key, level, start, known_from))
        else:
            self.cp_closed.append((key, level, start, known_from, known_at, *totals))
        row[:] = [False, known_at, list(totals), True]
        return row[2]

    def _year_so_far(self, key: str, cps: _KeyCheckpoints, year: str) -> list:
        """Totals of the key's contributions in `year` (before the one being added)."""
        after = _next_year(year)
        upper = cps.years[after][2] if after <= cps.yhi else self._total(key)
        base = cps.years[year][2]
        latest = self.latest
        return [
            (u if u is not None and u >= year else None) if i == latest else u - b
            for i, (u, b) in enumerate(zip(upper, base))
        ]

    def _checkpoint(self, key: str, start: str, values: tuple, sign: int, known_at: str) -> None:
        """A contribution dated `start` is added (sign 1) or taken out (-1) at `known_at`.

        Called before the contribution is folded into the key's current total.
        """
        year, month = start[:4] + "-01-01", start[:7] + "-01"
        cps = self._cp_key(key)
        if cps.newest(year, month):
            return
        p, years, latest_at = self.p, cps.years, self.latest
        if cps.yhi is None or year > cps.yhi:  # a new year at the end: everything so far is before it
            total = self._total(key)
            y = year if cps.yhi is None else _next_year(cps.yhi)
            while y <= year:
                years[y] = [False, known_at, list(total), True]
                y = _next_year(y)
            cps.yhi, cps.ylo = year, cps.ylo or year
        elif year < cps.ylo:  # a new year at the start: nothing before it
            y = year
            while y < cps.ylo:
                years[y] = [False, known_at, p.empty(), True]
                y = _next_year(y)
            cps.ylo = year
        months = self._year_months(key, cps, year)
        mhi = cps.mhi[year]
        if month > year and (mhi is None or month > mhi):  # new months at the end of the year's
            so_far = self._year_so_far(key, cps, year)
            m = mhi or year
            while m < month:
                m = _next_month(m)
                months[m] = [False, known_at, list(so_far), True]
            mhi = cps.mhi[year] = month
        latest = None
        for level, rows, start_at, end in (("month", months, month, mhi), ("year", years, year, cps.yhi)):
            step = _next_month if level == "month" else _next_year
            m = start_at
            while end is not None and m < end:
                m = step(m)
                totals = self._revise(key, level, m, rows[m], known_at)
                p.add(totals, values, start, sign)
                if sign < 0 and totals[latest_at] == start:
                    if latest is None:
                        latest = [self._latest_live(key, start)]
                    totals[latest_at] = latest[0]
                    if level == "month" and latest[0] is not None and latest[0] < year:
                        totals[latest_at] = None

    def _write_checkpoints(self, final: bool) -> None:
        conn, p = self.conn, self.p
        if self.cp_close_ids:
            conn.executemany(f"UPDATE {p.CHECKPOINTS} SET known_to = ? WHERE {self._checkpoint_key}", self.cp_close_ids)
            self.cp_close_ids.clear()
        if self.cp_closed:
            self.cp_closed.sort(key=itemgetter(0, 1, 2, 3))
            conn.executemany(self._insert_checkpoints, self.cp_closed)
            self.cp_closed.clear()
        if not final:
            return
        opened, updated = [], []
        for key in sorted(self.cps):
            cps = self.cps[key]
            every = [("month", m, row) for months in cps.months.values() for m, row in months.items()]
            every += [("year", y, row) for y, row in cps.years.items()]
            for level, start, (stored, known_from, totals, dirty) in sorted(every, key=itemgetter(0, 1)):
                if not stored:
                    opened.append((key, level, start, known_from, None, *totals))
                elif dirty:
                    updated.append((*totals, key, level, start, known_from))
        conn.executemany(self._insert_checkpoints, opened)
        if updated:
            sets = ", ".join(f"{c} = ?" for c in p.TOTAL_COLUMNS)
            conn.executemany(f"UPDATE {p.CHECKPOINTS} SET {sets} WHERE {self._checkpoint_key}", updated)

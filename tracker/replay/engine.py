"""Replay: bringing the projections up to date with the log, on both time axes.

The engine reads the log in seq order, in groups that share a `recorded_at` (the
knowledge moment T of the group), and keeps three things current:

1. `effective_events` / `event_countries`: every world event as known now
   (corrections applied, retracted events left out). A correction or retraction
   recorded at T is a *change* of its target's effective form at T.
2. For each ``sum`` projection, contribution rows: a change closes the event's open
   rows (known_to = T) and opens rows for its new form (known_from = T).
3. For each ``state`` projection, every key a change touches (under the old form or
   the new) is refolded from its effective events in world order, and its history is
   diffed: rows no longer produced are closed at T, new rows are opened at T, rows
   that stay keep their known_from.

Catch-up is incremental from the checkpoint in `replay_state`, written in the same
transaction as the rows. A full replay (`--full`, a missing table, or a projection
whose VERSION changed) drops and rebuilds every projection inside one write
transaction, so a reader sees the old projections or the new, never a mix.

A full replay writes exactly what catch-up would, but most events never change once
logged, and for those it takes short cuts: it first finds the events some amendment
touches (one query); every other event enters once, as logged, without being queued
as a change (`_Run.plain`); state projections that name their key as SQL (`KEY_SQL`)
are folded key by key from one ordered read of `effective_events`, with the amended
events' changes merged in; indexes and the search index are built once, at the end.
"""

from __future__ import annotations

import bisect
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Any

import orjson

from events.dates import iso_span
from events.models import MODELS

from tracker.log.amendments import Amendment, effective_form
from tracker.replay.checkpoints import (
    STATE_TABLE,
    _checkpoints,
    _head_seq,
    _wanted_versions,
    _write_checkpoints,
    checkpoint,
    needs_full,
    reach_problems,
)
from tracker.replay.tables import (
    ENGINE,
    ENGINE_SCHEMA,
    _drop_and_create,
    _indexed_table,
    _objects,
    projections,
)

FLUSH = 5000

_EE_COLUMNS = (
    "id, seq, kind, occurred, occurred_start, occurred_end, recorded_at, summary, project,"
    " status, countries, location_name, lat, lon, title, parties, value_amount,"
    " value_currency, corrected, body"
)


@dataclass
class ReplayResult:
    full: bool = False
    events: int = 0
    last_seq: int = 0
    rebuilt: list[str] = field(default_factory=list)


# The engine ---------------------------------------------------------------------


def _compact(form: dict[str, Any], seq: int, fields: tuple[str, ...]) -> dict[str, Any]:
    start, end = iso_span(form["occurred"])
    compact = {name: form[name] for name in fields if form.get(name) is not None}
    compact.update(id=form["id"], seq=seq, occurred_start=start, occurred_end=end)
    return compact


def _next_month(month: str) -> str:
    """'YYYY-MM-01' -> the first day of the next month."""
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + 1:04d}-01-01" if mon == 12 else f"{year:04d}-{mon + 1:02d}-01"


def _next_year(year: str) -> str:
    """'YYYY-01-01' -> the first day of the next year."""
    return f"{int(year[:4]) + 1:04d}-01-01"


@dataclass
class _KeyCheckpoints:
    """One key's open checkpoint rows: row = [rowid or None, known_from, totals, dirty]."""

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


def _world_order(event: dict[str, Any]) -> tuple[str, str, int]:
    return (event["occurred_start"], event["occurred_end"], event["seq"])


def _effective_row(
    form: dict[str, Any], seq: int, recorded_at: str, corrected: bool, logged: str | None = None
) -> tuple:
    """The `effective_events` row of an effective form.

    `logged` is the log row's body, for an event taken as logged (every event when it
    first enters): its canonical JSON is kept as it is rather than written anew.
    """
    start, end = iso_span(form["occurred"])
    kind = form["kind"]
    model = MODELS[kind]
    location = form.get("location") or {}
    value = form.get("value")
    return (
        form["id"], seq, kind, form["occurred"], start, end,
        recorded_at, form.get("summary"), form.get("project"), form.get("status"),
        ",".join(form["countries"]), location.get("name"), location.get("lat"), location.get("lon"),
        form.get(model.title_field) if model.title_field else None, model.parties_of(form),
        float(value["amount"]) if value else None, value["currency"] if value else None,
        int(corrected), logged if logged is not None else orjson.dumps(form, option=orjson.OPT_SORT_KEYS).decode(),
    )


def _amended_world_seqs(conn: sqlite3.Connection) -> set[int]:
    """Seqs of the world events some correction or retraction touches (directly, or through
    a retracted correction of them): the only events whose effective form ever changes."""
    targets = dict(conn.execute(
        "SELECT id, json_extract(body, '$.target') FROM events WHERE kind IN ('correction', 'retraction')"
    ))
    world = set()
    for target in targets.values():
        while target in targets:  # a retraction of a correction: the correction's own target
            target = targets[target]
        world.add(target)
    seqs: set[int] = set()
    ids = sorted(world)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        seqs.update(s for (s,) in conn.execute(f"SELECT seq FROM events WHERE id IN ({marks})", chunk))
    return seqs


class _Run:
    """One replay: phase 1 turns new log rows into changes; phase 2 refolds the touched keys."""

    def __init__(self, conn: sqlite3.Connection, full: bool):
        self.conn = conn
        self.full = full
        mods = projections()
        self.state_projections = [p for p in mods if p.SHAPE == "state"]
        # full replay: events no amendment touches take the short path (`plain`), and state
        # projections with a KEY_SQL are folded per key straight from effective_events
        self.amended: set[int] = set()
        self.from_table = [p for p in self.state_projections if full and getattr(p, "KEY_SQL", None)]
        self.sum_projections = [p for p in mods if p.SHAPE == "sum"]
        self.ee_rows: list[tuple] = []
        self.ec_rows: list[tuple] = []
        self.contrib: dict[str, list[tuple]] = {p.NAME: [] for p in self.sum_projections}
        self.feed: list[tuple] = []
        self.totals: dict[str, dict[str, list]] = {p.NAME: {} for p in self.sum_projections}
        # checkpoints of the sum projections (projections/country_tallies.py); closed rows wait in cp_closed
        self.cps: dict[str, dict[str, _KeyCheckpoints]] = {p.NAME: {} for p in self.sum_projections}
        self.cp_closed: dict[str, list[tuple]] = {p.NAME: [] for p in self.sum_projections}
        self.cp_close_ids: dict[str, list[tuple]] = {p.NAME: [] for p in self.sum_projections}
        # full replay only: per key, the live contributions' valid_from days (sorted) and counts
        self.live_days: dict[str, dict[str, tuple[list[str], dict[str, int]]]] = {
            p.NAME: {} for p in self.sum_projections
        }
        conn.execute("DROP TABLE IF EXISTS temp.replay_feed")
        conn.execute(
            "CREATE TEMP TABLE replay_feed (n INTEGER PRIMARY KEY, projection TEXT, key TEXT,"
            " known_at TEXT, pos INTEGER, seq INTEGER, old BLOB, new BLOB)"
        )

    # phase 1 ------------------------------------------------------------------

    def apply_log(self, after_seq: int) -> tuple[int, int]:
        count, last = 0, after_seq
        if self.full:
            self.amended = _amended_world_seqs(self.conn)
        read = self.conn.cursor()
        read.execute(
            "SELECT seq, id, kind, recorded_at, body FROM events WHERE seq > ? ORDER BY seq",
            (after_seq,),
        )
        while batch := read.fetchmany(2000):
            for seq, event_id, kind, recorded_at, body in batch:
                count, last = count + 1, seq
                if kind in ("correction", "retraction"):
                    self.flush()
                    self.amend(seq, recorded_at, orjson.loads(body))
                elif self.full and seq not in self.amended:
                    self.plain(seq, event_id, recorded_at, body)
                else:
                    self.change(seq, recorded_at, recorded_at, None, orjson.loads(body), False, seq, body)
                if len(self.ee_rows) >= FLUSH:
                    self.flush()
        self.flush()
        return count, last

    def amend(self, seq: int, known_at: str, record: dict[str, Any]) -> None:
        conn = self.conn
        target = conn.execute("SELECT kind, body FROM events WHERE id = ?", (record["target"],)).fetchone()
        world_id = orjson.loads(target[1])["target"] if target[0] == "correction" else record["target"]
        world_seq, world_recorded, world_body = conn.execute(
            "SELECT seq, recorded_at, body FROM events WHERE id = ?", (world_id,)
        ).fetchone()
        amendments = self._amendments_of(world_id, seq)
        retracted = {a.target for a in amendments if a.kind == "retraction"}
        live = [a for a in amendments if a.kind == "correction" and a.id not in retracted]
        new = effective_form(orjson.loads(world_body), amendments)
        row = conn.execute("SELECT body FROM effective_events WHERE id = ?", (world_id,)).fetchone()
        old = orjson.loads(row[0]) if row else None
        if old == new:
            if new is not None:  # the `corrected` flag may still change
                conn.execute("UPDATE effective_events SET corrected = ? WHERE id = ?", (int(bool(live)), world_id))
            return
        self.change(world_seq, world_recorded, known_at, old, new, bool(live), seq)

    def _amendments_of(self, event_id: str, up_to_seq: int) -> list[Amendment]:
        sql = (
            "SELECT seq, recorded_at, body FROM events WHERE kind IN ('correction', 'retraction')"
            " AND json_extract(body, '$.target') = ? AND seq <= ?"
        )
        found = [
            Amendment.from_record(orjson.loads(b), s, r)
            for s, r, b in self.conn.execute(sql, (event_id, up_to_seq))
        ]
        for correction in [a for a in found if a.kind == "correction"]:
            found += [
                Amendment.from_record(orjson.loads(b), s, r)
                for s, r, b in self.conn.execute(sql, (correction.id, up_to_seq))
            ]
        return sorted(found, key=lambda a: a.seq)

    def plain(self, seq: int, event_id: str, recorded_at: str, body: str) -> None:
        """Full replay, an event no amendment touches: it enters once, as logged, and stays.

        The same rows `change` writes for it, without what only a later change needs;
        state projections with a KEY_SQL read it back from effective_events (`refold`).
        """
        form = orjson.loads(body)
        start = iso_span(form["occurred"])[0]
        self.ee_rows.append(_effective_row(form, seq, recorded_at, False, body))
        self.ec_rows.extend((seq, c, event_id) for c in sorted(set(form["countries"])))
        year, month = start[:4] + "-01-01", start[:7] + "-01"
        for p in self.sum_projections:
            # `_checkpoint`, `_live_day` and `_total` inlined for their common case: this
            # loop runs for nearly every (event, key) of a full replay
            rows, cps_of, totals, live = self.contrib[p.NAME], self.cps[p.NAME], self.totals[p.NAME], self.live_days[p.NAME]
            for key, values in p.contributions(form):
                rows.append((key, start, recorded_at, event_id, seq, *values))
                cps = cps_of.get(key)
                if cps is None or not cps.newest(year, month):
                    self._checkpoint(p, key, start, values, 1, recorded_at)
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
                p.add(totals.get(key) or self._total(p, key), values, start)
        for p in self.state_projections:
            if p not in self.from_table:
                self._feed(p, seq, recorded_at, None, form, seq)

    def change(self, seq, recorded_at, known_at, old, new, corrected, pos, logged=None) -> None:
        """The effective form of the event at `seq` becomes `new` (None: retracted) at `known_at`.

        `pos` is the seq of the log row that makes the change (the event, or an amendment);
        `logged` the log's body when `new` is the event as logged.
        """
        conn = self.conn
        if old is not None:
            conn.execute("DELETE FROM effective_events WHERE seq = ?", (seq,))
            conn.execute("DELETE FROM event_countries WHERE seq = ?", (seq,))
        if new is not None:
            self.ee_rows.append(_effective_row(new, seq, recorded_at, corrected, logged))
            self.ec_rows.extend((seq, c, new["id"]) for c in sorted(set(new["countries"])))
        for p in self.sum_projections:
            if old is not None:
                self.flush()
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
                    self._live_day(p, key, start, -1)
                    self._checkpoint(p, key, start, values, -1, known_at)
                    total = self._total(p, key)
                    p.add(total, values, start, -1)
                    if total[-1] == start:
                        total[-1] = self._latest_live(p, key, start)
            if new is not None:
                start = iso_span(new["occurred"])[0]
                rows = self.contrib[p.NAME]
                for key, values in p.contributions(new):
                    rows.append((key, start, known_at, new["id"], seq, *values))
                    self._checkpoint(p, key, start, values, 1, known_at)
                    self._live_day(p, key, start, 1)
                    p.add(self._total(p, key), values, start)
        for p in self.state_projections:
            self._feed(p, seq, known_at, old, new, pos)

    def _feed(self, p, seq: int, known_at: str, old, new, pos: int) -> None:
        """Queue a state projection's keys the change touches, with the event's compact forms."""
        old_keys = set(p.keys(old)) if old is not None else set()
        new_keys = set(p.keys(new)) if new is not None else set()
        if not (old_keys or new_keys):
            return
        old_c = orjson.dumps(_compact(old, seq, p.FIELDS)) if old_keys else None
        new_c = orjson.dumps(_compact(new, seq, p.FIELDS)) if new_keys else None
        for key in sorted(old_keys | new_keys):
            self.feed.append((
                p.NAME, key, known_at, pos, seq,
                old_c if key in old_keys else None, new_c if key in new_keys else None,
            ))

    # monthly checkpoints of sum projections (see projections/country_tallies.py) ----------

    def _live_day(self, p, key: str, day: str, sign: int) -> None:
        """Full replay: keep the days of the key's live contributions, for `_latest_live`."""
        if not self.full:
            return
        days, counts = self.live_days[p.NAME].setdefault(key, ([], {}))
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

    def _latest_live(self, p, key: str, upto: str) -> str | None:
        """The latest valid_from <= upto of the key's live contributions (after a removal)."""
        if self.full:
            days, _ = self.live_days[p.NAME].get(key, ([], {}))
            i = bisect.bisect_right(days, upto)
            return days[i - 1] if i else None
        row = self.conn.execute(  # walks the (key, valid_from) index backwards
            f"SELECT valid_from FROM {p.HISTORY} WHERE {p.KEY_COLUMN} = ? AND valid_from <= ?"
            " AND known_to IS NULL ORDER BY valid_from DESC LIMIT 1",
            (key, upto),
        ).fetchone()
        return row[0] if row else None

    def _cp_key(self, p, key: str) -> _KeyCheckpoints:
        """The key's open checkpoint rows (year rows now; month rows per year, on demand)."""
        found = self.cps[p.NAME].get(key)
        if found is None:
            found = self.cps[p.NAME][key] = _KeyCheckpoints()
            if not self.full:
                for start, row in self._load_checkpoints(p, key, "year", "0000", "9999"):
                    found.years[start] = row
                found.ylo, found.yhi = min(found.years, default=None), max(found.years, default=None)
        return found

    def _load_checkpoints(self, p, key: str, level: str, low: str, high: str):
        sql = (
            f"SELECT rowid, start, known_from, {', '.join(p.TOTAL_COLUMNS)} FROM {p.CHECKPOINTS}"
            f" WHERE {p.KEY_COLUMN} = ? AND level = ? AND start >= ? AND start < ? AND known_to IS NULL"
        )
        for rowid, start, known_from, *totals in self.conn.execute(sql, (key, level, low, high)):
            yield start, [rowid, known_from, totals, False]

    def _year_months(self, p, key: str, cps: _KeyCheckpoints, year: str) -> dict[str, list]:
        months = cps.months.get(year)
        if months is None:
            months = cps.months[year] = {}
            if not self.full:
                months.update(self._load_checkpoints(p, key, "month", year, _next_year(year)))
            cps.mhi[year] = max(months, default=None)
        return months

    def _revise(self, p, key: str, level: str, start: str, row: list, known_at: str) -> list:
        """The checkpoint row's totals, to be changed at `known_at` (a new version unless opened then)."""
        rowid, known_from, totals, _ = row
        if known_from == known_at:
            row[3] = True
            return totals
        if rowid is not None:
            self.cp_close_ids[p.NAME].append((known_at, rowid))
        else:
            self.cp_closed[p.NAME].append((key, level, start, known_from, known_at, *totals))
        row[:] = [None, known_at, list(totals), True]
        return row[2]

    def _year_so_far(self, p, key: str, cps: _KeyCheckpoints, year: str) -> list:
        """Totals of the key's contributions in `year` (before the one being added)."""
        after = _next_year(year)
        upper = cps.years[after][2] if after <= cps.yhi else self._total(p, key)
        base = cps.years[year][2]
        so_far = [u - b for u, b in zip(upper[:-1], base[:-1])]
        so_far.append(upper[-1] if upper[-1] is not None and upper[-1] >= year else None)
        return so_far

    def _checkpoint(self, p, key: str, start: str, values: tuple, sign: int, known_at: str) -> None:
        """A contribution dated `start` is added (sign 1) or taken out (-1) at `known_at`.

        Called before the contribution is folded into the key's current total.
        """
        year, month = start[:4] + "-01-01", start[:7] + "-01"
        cps = self._cp_key(p, key)
        if cps.newest(year, month):
            return
        years = cps.years
        if cps.yhi is None or year > cps.yhi:  # a new year at the end: everything so far is before it
            total = self._total(p, key)
            y = year if cps.yhi is None else _next_year(cps.yhi)
            while y <= year:
                years[y] = [None, known_at, list(total), True]
                y = _next_year(y)
            cps.yhi, cps.ylo = year, cps.ylo or year
        elif year < cps.ylo:  # a new year at the start: nothing before it
            y = year
            while y < cps.ylo:
                years[y] = [None, known_at, p.empty(), True]
                y = _next_year(y)
            cps.ylo = year
        months = self._year_months(p, key, cps, year)
        mhi = cps.mhi[year]
        if month > year and (mhi is None or month > mhi):  # new months at the end of the year's
            so_far = self._year_so_far(p, key, cps, year)
            m = mhi or year
            while m < month:
                m = _next_month(m)
                months[m] = [None, known_at, list(so_far), True]
            mhi = cps.mhi[year] = month
        latest = None
        for level, rows, start_at, end in (("month", months, month, mhi), ("year", years, year, cps.yhi)):
            step = _next_month if level == "month" else _next_year
            m = start_at
            while end is not None and m < end:
                m = step(m)
                totals = self._revise(p, key, level, m, rows[m], known_at)
                p.add(totals, values, start, sign)
                if sign < 0 and totals[-1] == start:
                    if latest is None:
                        latest = [self._latest_live(p, key, start)]
                    totals[-1] = latest[0]
                    if level == "month" and latest[0] is not None and latest[0] < year:
                        totals[-1] = None

    def _write_checkpoints(self, p, final: bool) -> None:
        conn = self.conn
        columns = (p.KEY_COLUMN, "level", "start", "known_from", "known_to", *p.TOTAL_COLUMNS)
        insert = f"INSERT INTO {p.CHECKPOINTS} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})"
        if self.cp_close_ids[p.NAME]:
            conn.executemany(f"UPDATE {p.CHECKPOINTS} SET known_to = ? WHERE rowid = ?", self.cp_close_ids[p.NAME])
            self.cp_close_ids[p.NAME].clear()
        closed = self.cp_closed[p.NAME]
        if closed:
            closed.sort(key=itemgetter(0, 1, 2, 3))
            conn.executemany(insert, closed)
            closed.clear()
        if not final:
            return
        opened, updated = [], []
        for key in sorted(self.cps[p.NAME]):
            cps = self.cps[p.NAME][key]
            every = [("month", m, row) for months in cps.months.values() for m, row in months.items()]
            every += [("year", y, row) for y, row in cps.years.items()]
            for level, start, (rowid, known_from, totals, dirty) in sorted(every, key=itemgetter(0, 1)):
                if rowid is None:
                    opened.append((key, level, start, known_from, None, *totals))
                elif dirty:
                    updated.append((*totals, rowid))
        conn.executemany(insert, opened)
        if updated:
            sets = ", ".join(f"{c} = ?" for c in p.TOTAL_COLUMNS)
            conn.executemany(f"UPDATE {p.CHECKPOINTS} SET {sets} WHERE rowid = ?", updated)

    def _total(self, p, key: str) -> list:
        totals = self.totals[p.NAME]
        total = totals.get(key)
        if total is None:
            row = None if self.full else self.conn.execute(
                f"SELECT {', '.join(p.TOTAL_COLUMNS)} FROM {p.NAME} WHERE {p.KEY_COLUMN} = ?", (key,)
            ).fetchone()
            total = totals[key] = list(row) if row else p.empty()
        return total

    def flush(self) -> None:
        conn = self.conn
        if self.ee_rows:
            conn.executemany(
                f"INSERT INTO effective_events ({_EE_COLUMNS}) VALUES ({','.join('?' * 20)})", self.ee_rows
            )
            conn.executemany("INSERT INTO event_countries (seq, country, event) VALUES (?, ?, ?)", self.ec_rows)
            self.ee_rows.clear()
            self.ec_rows.clear()
        for p in self.sum_projections:
            rows = self.contrib[p.NAME]
            if rows:
                columns = (p.KEY_COLUMN, "valid_from", "known_from", "event", "seq", *p.CONTRIBUTION_COLUMNS)
                conn.executemany(
                    f"INSERT INTO {p.HISTORY} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})",
                    rows,
                )
                rows.clear()
            if len(self.cp_closed[p.NAME]) >= FLUSH:
                self._write_checkpoints(p, final=False)
        if self.feed:
            conn.executemany(
                "INSERT INTO temp.replay_feed (projection, key, known_at, pos, seq, old, new)"
                " VALUES (?,?,?,?,?,?,?)",
                self.feed,
            )
            self.feed.clear()

    def write_totals(self) -> None:
        conn = self.conn
        for p in self.sum_projections:
            self._write_checkpoints(p, final=True)
            columns = (p.KEY_COLUMN, *p.TOTAL_COLUMNS)
            for key, total in sorted(self.totals[p.NAME].items()):
                conn.execute(f"DELETE FROM {p.NAME} WHERE {p.KEY_COLUMN} = ?", (key,))
                if total[0] > 0:
                    conn.execute(
                        f"INSERT INTO {p.NAME} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})",
                        (key, *total),
                    )

    # phase 2 ------------------------------------------------------------------

    def refold(self) -> None:
        """Phase 2: refold every key a change touched, in key order."""
        by_key_sql: dict[str, list] = {}
        for p in self.state_projections:
            if p in self.from_table:
                by_key_sql.setdefault(p.KEY_SQL, []).append(p)
            else:
                self._refold_keys(p, self._queued(p))
        for key_sql, group in by_key_sql.items():
            self._refold_from_table(key_sql, group)

    def _refold_keys(self, p, changes_by_key: Iterable[tuple[str, list[tuple]]]) -> None:
        inserts: list[tuple] = []
        for key, changes in changes_by_key:
            self._refold_key(p, key, changes, inserts)
            if len(inserts) >= FLUSH:
                self._insert_history(p, inserts)
        self._insert_history(p, inserts)

    def _queued(self, p) -> Iterator[tuple[str, list[tuple]]]:
        """(key, changes) from the feed; a change is (pos, known_at, seq, old, new), forms decoded."""
        feed = self.conn.execute(
            "SELECT key, pos, known_at, seq, old, new FROM temp.replay_feed WHERE projection = ? ORDER BY key, n",
            (p.NAME,),
        )
        for key, rows in groupby(feed, key=itemgetter(0)):
            yield key, [
                (pos, known_at, seq, None if old is None else orjson.loads(old), None if new is None else orjson.loads(new))
                for _, pos, known_at, seq, old, new in rows
            ]

    def _refold_from_table(self, key_sql: str, group: list) -> None:
        """Full replay: fold every key of the projections sharing `key_sql` in one pass.

        Events no amendment touches enter once, at their recorded_at, as logged: they are
        read back from effective_events in key order (only the fields the folds read,
        extracted by SQLite), so they need no queue; the amended events' changes come
        from the feed and are merged in by log position.
        """
        queued = {p.NAME: dict(self._queued(p)) for p in group}
        fields = sorted({name for p in group for name in p.FIELDS})
        paths = ", ".join(f"'$.{name}'" for name in (*fields, "id"))  # two paths or more: a JSON array
        rows = self.conn.execute(  # in key order through an index on the key: no sort of the whole table
            f"SELECT {key_sql}, seq, id, recorded_at, occurred_start, occurred_end, json_extract(body, {paths})"
            f" FROM effective_events WHERE {key_sql} <> '' ORDER BY {key_sql}, seq"
        )
        pending = sorted({key for changes in queued.values() for key in changes})
        logged = ((key, list(found)) for key, found in groupby(rows, key=itemgetter(0)))
        inserts: dict[str, list[tuple]] = {p.NAME: [] for p in group}
        amended = self.amended
        for key, found in _merge_keys(logged, pending):
            events = [
                (seq, recorded_at, event_id, start, end, orjson.loads(values))
                for _, seq, event_id, recorded_at, start, end, values in found if seq not in amended
            ]
            for p in group:
                wanted = p.FIELDS
                changes = [
                    (seq, recorded_at, seq, None, {
                        **{n: v for n, v in zip(fields, values) if v is not None and n in wanted},
                        "id": event_id, "seq": seq, "occurred_start": start, "occurred_end": end,
                    })
                    for seq, recorded_at, event_id, start, end, values in events
                ]
                changes += queued[p.NAME].get(key, ())
                changes.sort(key=itemgetter(0))
                if changes:
                    self._refold_key(p, key, changes, inserts[p.NAME])
                    if len(inserts[p.NAME]) >= FLUSH:
                        self._insert_history(p, inserts[p.NAME])
        for p in group:
            self._insert_history(p, inserts[p.NAME])

    def _insert_history(self, p, rows: list[tuple]) -> None:
        if rows:
            columns = ", ".join(f'"{c}"' for c in (*p.ROW_COLUMNS, "known_from", "known_to"))
            self.conn.executemany(
                f"INSERT INTO {p.HISTORY} ({columns}) VALUES ({','.join('?' * (len(p.ROW_COLUMNS) + 2))})",
                rows,
            )
            rows.clear()

    def _refold_key(self, p, key: str, changes: list[tuple], inserts: list[tuple]) -> None:
        """Refold one key through its changes (pos, known_at, seq, old, new) in log order."""
        conn = self.conn
        active: dict[int, dict[str, Any]] = {}
        current: dict[tuple, tuple[int | None, str]] = {}  # row -> (rowid, known_from)
        if not self.full:
            for seq, body in conn.execute(
                f"SELECT seq, body FROM effective_events WHERE {p.KEY_FILTER}", (key,)
            ):
                active[seq] = _compact(orjson.loads(body), seq, p.FIELDS)
            columns = ", ".join(f'"{c}"' for c in p.ROW_COLUMNS)
            for rowid, *row, known_from in conn.execute(
                f"SELECT rowid, {columns}, known_from FROM {p.HISTORY}"
                f" WHERE {p.KEY_COLUMN} = ? AND known_to IS NULL",
                (key,),
            ):
                current[tuple(row)] = (rowid, known_from)
            # back to the state at the checkpoint: each touched event as it was before
            seen: set[int] = set()
            for _, _, seq, old, _ in changes:
                if seq not in seen:
                    seen.add(seq)
                    if old is None:
                        active.pop(seq, None)
                    else:
                        active[seq] = old
        extend = getattr(p, "extend", None)
        carry = None  # the module's carry for `extend`, valid while no full refold intervenes
        last = max(map(_world_order, active.values()), default=None)

        def close(row, known_at):
            rowid, known_from = current.pop(row)
            if rowid is None:
                if known_from != known_at:
                    inserts.append((*row, known_from, known_at))
            elif known_from == known_at:
                conn.execute(f"DELETE FROM {p.HISTORY} WHERE rowid = ?", (rowid,))
            else:
                conn.execute(f"UPDATE {p.HISTORY} SET known_to = ? WHERE rowid = ?", (known_at, rowid))

        for known_at, group in groupby(changes, key=itemgetter(1)):
            dirty = False
            for _, _, seq, _, event in group:
                if extend is not None and not dirty and event is not None and seq not in active:
                    order = _world_order(event)
                    if last is None or order > last:
                        if carry is None:
                            carry = p.resume(key, sorted(active.values(), key=_world_order))
                        step = extend(key, carry, event)
                        if step is not None:
                            dropped, added, carry = step
                            active[seq], last = event, order
                            for row in dropped:
                                close(row, known_at)
                            for row in added:
                                current.setdefault(row, (None, known_at))
                            continue
                dirty, carry = True, None
                if event is None:
                    active.pop(seq, None)
                else:
                    active[seq] = event
            if not dirty:
                continue
            last = max(map(_world_order, active.values()), default=None)
            folded = p.fold(key, sorted(active.values(), key=_world_order))
            rows = set(folded)
            for row in [r for r in current if r not in rows]:
                close(row, known_at)
            for row in folded:  # in fold order, not set order: rows go in the same order every time
                if row not in current:
                    current[row] = (None, known_at)
        for row, (rowid, known_from) in current.items():
            if rowid is None:
                inserts.append((*row, known_from, None))


def _merge_keys(found: Iterator[tuple[str, list]], pending: list[str]) -> Iterator[tuple[str, list]]:
    """(key, rows) for every key of `found` (in key order) and of sorted `pending`, in key order."""
    i = 0
    for key, rows in found:
        while i < len(pending) and pending[i] < key:
            yield pending[i], []
            i += 1
        if i < len(pending) and pending[i] == key:
            i += 1
        yield key, rows
    for key in pending[i:]:
        yield key, []


def _run(conn: sqlite3.Connection, *, full: bool) -> ReplayResult:
    """Inside an open write transaction: a full rebuild, or a catch-up from the checkpoint."""
    result = ReplayResult()
    problems = reach_problems(conn)
    if problems:
        from tracker.log.schema import LogProblem

        raise LogProblem(problems)
    conn.execute(STATE_TABLE)
    if full or needs_full(conn):
        result.full = True
        result.rebuilt = list(_wanted_versions())
        conn.execute("DELETE FROM replay_state")
        deferred = _drop_and_create(conn)
        after = 0
    else:
        deferred = []
        after = _checkpoints(conn)[ENGINE][1]
    # (the store's 64 MiB page cache stays: 128 MiB during full replays took the peak to
    # 362 MB at a million events, past the 300 MB budget)
    run = _Run(conn, full=result.full)
    result.events, result.last_seq = run.apply_log(after)
    run.write_totals()
    # bulk index builds, far faster than growing them row by row: the engine's own tables
    # are complete now, and the state folds read effective_events through its indexes
    engine = {name for _, name in _objects(ENGINE_SCHEMA)}
    for statement in deferred:
        if _indexed_table(statement) in engine:
            conn.execute(statement)
    run.refold()
    conn.execute("DROP TABLE temp.replay_feed")
    for statement in deferred:
        if _indexed_table(statement) not in engine:
            conn.execute(statement)
    if result.full:
        # dropping effective_events dropped the search triggers with it: put them back (and
        # refill the index) in the same transaction, so search never misses an event; and
        # the `countries` reference table the derived tables' country columns refer to
        from tracker.replay.countries import load_countries
        from tracker.replay.search import ensure_search

        ensure_search(conn)
        load_countries(conn)
    _write_checkpoints(conn, result.last_seq)
    return result


def replay(store, *, full: bool = False) -> ReplayResult:
    """Bring every projection up to date with the log, in one transaction."""
    from tracker.log.connection import rollback

    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = _run(conn, full=full)
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise
    return result


def catch_up(store) -> ReplayResult:
    """Bring the projections up to date; called by every write command before it returns."""
    return replay(store)


def behind(store) -> int | None:
    """How many events the projections lack (0 when current), or None when they need a full replay.

    Raises LogProblem when the log no longer reaches as far as the projections.
    """
    conn = store.conn
    problems = reach_problems(conn)
    if problems:
        from tracker.log.schema import LogProblem

        raise LogProblem(problems)
    last = checkpoint(conn)
    return None if last is None else _head_seq(conn) - last


def ensure_current(store) -> str | None:
    """For readers: projections that answer for the whole log; a note when that took a replay.

    A store opened read-only is never written: when its projections are behind, the
    store switches to a private copy in memory and brings that up to date instead.
    """
    lacking = behind(store)
    if lacking == 0:
        return None
    note = None
    if store.readonly:
        store.use_private_copy()
        gap = "need a full replay" if lacking is None else f"are {lacking:,} events behind the log"
        note = f"the stored projections {gap}; answered from a replay in memory (`tracker replay` stores one)"
    catch_up(store)
    return note


def iter_rows(conn: sqlite3.Connection, sql: str, params: Iterable[Any] = ()) -> Iterator[dict[str, Any]]:
    cursor = conn.execute(sql, tuple(params) if not isinstance(params, dict) else params)
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(names, row))

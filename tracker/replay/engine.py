"""Replay: bringing the projections up to date with the log, on both time axes.

The engine reads the log in seq order, in groups that share a `recorded_at` (the
knowledge moment T of the group), and keeps three things current:

1. `effective_events` / `event_countries` (`tracker.replay.effective`): every world
   event as known now (corrections applied, retracted events left out). A correction
   or retraction recorded at T is a *change* of its target's effective form at T.
2. For each ``sum`` projection, a `SumFold` (`tracker.replay.sums`): a change closes
   the event's open contribution rows (known_to = T) and opens rows for its new form
   (known_from = T).
3. For each ``state`` projection, a `StateFold` (`tracker.replay.states`): every key a
   change touches (under the old form or the new) is refolded from its effective
   events in world order, and its history is diffed.

Catch-up is incremental from the checkpoint in `replay_state`, written in the same
transaction as the rows. A full replay (`--full`, a missing table, or a projection
whose VERSION changed) drops and rebuilds every projection inside one write
transaction, so a reader sees the old projections or the new, never a mix. It writes
exactly what catch-up would, taking the short cuts of `tracker.replay.shortcuts`
unless told not to.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from events.dates import iso_span

from tracker.log.amendments import Amendment, effective_form, live_corrections
from tracker.log.store import amendments_of
from tracker.replay import effective
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
from tracker.replay.shortcuts import amended_world_seqs, from_table, refold_from_table
from tracker.replay.states import StateFold, close_queue, open_queue
from tracker.replay.sums import SumFold
from tracker.replay.tables import ENGINE, ENGINE_SCHEMA, WILDCARD, _drop_and_create, _indexed_table, _objects, projections

FLUSH = 5000


@dataclass
class ReplayResult:
    full: bool = False
    events: int = 0
    last_seq: int = 0
    rebuilt: list[str] = field(default_factory=list)


class _Run:
    """One replay: reading the log turns new rows into changes, which the folds take in;
    then the state folds refold the keys the changes touched."""

    def __init__(self, conn: sqlite3.Connection, *, full: bool, shortcuts: bool = True):
        self.conn = conn
        self.shortcuts = full and shortcuts
        mods = projections()
        self.sums = [SumFold(conn, p, full=full) for p in mods if p.SHAPE == "sum"]
        self.states = [StateFold(conn, p, full=full) for p in mods if p.SHAPE == "state"]
        # with the short cuts, state folds that name their key as SQL read the events no
        # amendment touches back from effective_events instead of queueing them
        self.from_table = from_table(self.states) if self.shortcuts else {}
        read_back = {fold.name for group in self.from_table.values() for fold in group}
        self.queueing = [fold for fold in self.states if fold.name not in read_back]
        self.amended: set[int] = set()
        self.ee_rows: list[tuple] = []
        self.ec_rows: list[tuple] = []
        self.days = effective.EventDays()
        open_queue(conn)

    def apply_log(self, after_seq: int) -> tuple[int, int]:
        count, last = 0, after_seq
        if self.shortcuts:
            self.amended = amended_world_seqs(self.conn)
        read = self.conn.cursor()
        read.execute(
            "SELECT seq, id, kind, recorded_at, body FROM events WHERE seq > ? ORDER BY seq",
            (after_seq,),
        )
        while batch := read.fetchmany(2000):
            for seq, _, kind, recorded_at, body in batch:
                count, last = count + 1, seq
                if kind in ("correction", "retraction"):
                    self.flush()
                    self.amend(seq, recorded_at, orjson.loads(body))
                elif self.shortcuts and seq not in self.amended:
                    self.enter(seq, recorded_at, body)
                else:
                    self.change(seq, recorded_at, recorded_at, None, orjson.loads(body), False, seq, body)
                if len(self.ee_rows) >= FLUSH:
                    self.flush()
        self.flush()
        self.days.write(self.conn)
        return count, last

    def amend(self, seq: int, known_at: str, record: dict[str, Any]) -> None:
        conn = self.conn
        target = conn.execute("SELECT kind, body FROM events WHERE id = ?", (record["target"],)).fetchone()
        world_id = orjson.loads(target[1])["target"] if target[0] == "correction" else record["target"]
        world_seq, world_recorded, world_body = conn.execute(
            "SELECT seq, recorded_at, body FROM events WHERE id = ?", (world_id,)
        ).fetchone()
        amendments = [
            Amendment.from_record(e.record, e.seq, e.recorded_at)
            for e in amendments_of(conn, world_id, up_to_seq=seq)
        ]
        corrected = bool(live_corrections(world_id, amendments))
        world = orjson.loads(world_body)
        new = effective_form(world, amendments)
        row = conn.execute(f"SELECT {effective.BODY_SQL} FROM effective_events AS e WHERE e.id = ?", (world_id,)).fetchone()
        old = orjson.loads(row[0]) if row else None
        if old == new:
            if new is not None:  # the `corrected` flag may still change
                conn.execute("UPDATE effective_events SET corrected = ? WHERE id = ?", (int(corrected), world_id))
            # nothing changed now, but reported earlier than what it undoes, it may have then
            for fold in self.sums:
                fold.revise_versions(world, world_recorded, amendments, if_kept=True)
            return
        self.change(world_seq, world_recorded, known_at, old, new, corrected, seq)
        for fold in self.sums:
            fold.revise_versions(world, world_recorded, amendments)

    def enter(self, seq: int, recorded_at: str, body: str) -> None:
        """Short cut: an event no amendment touches enters once, as logged, and stays.

        The same rows `change` writes for it, without what only a later change needs.
        """
        form = orjson.loads(body)
        self.ee_rows.append(effective.row(form, seq, recorded_at, False, body))
        self.ec_rows.extend(effective.country_rows(form, seq))
        start = iso_span(form["occurred"])[0]
        for fold in self.sums:
            fold.enter(form, seq, recorded_at, start)
        for fold in self.queueing:
            fold.queue(seq, recorded_at, None, form, seq)

    def change(self, seq, recorded_at, known_at, old, new, corrected, pos, logged=None) -> None:
        """The effective form of the event at `seq` becomes `new` (None: retracted) at `known_at`.

        `pos` is the seq of the log row that makes the change (the event, or an amendment);
        `logged` the log's body when `new` is the event as logged.
        """
        conn = self.conn
        if old is not None:  # (an amendment flushed everything before it came here)
            conn.execute("DELETE FROM effective_events WHERE seq = ?", (seq,))
            conn.executemany(effective.DELETE_COUNTRIES, effective.country_rows(old, seq))
            self.days.leave(old)
        if new is not None:
            self.ee_rows.append(effective.row(new, seq, recorded_at, corrected, logged))
            self.ec_rows.extend(effective.country_rows(new, seq))
        for fold in self.sums:
            if old is not None:
                fold.remove(old, seq, known_at)
            if new is not None:
                fold.add(new, seq, known_at, first=old is None)
        for fold in self.states:
            fold.queue(seq, known_at, old, new, pos)
        if old is not None:
            self.note_former_keys(old, new)

    def note_former_keys(self, old: dict[str, Any], new: dict[str, Any] | None) -> None:
        """Keep the keys `old` had and `new` lacks in `former_keys` (see tracker.replay.tables)."""
        for fold in self.states:
            p = fold.p
            gone = set(p.keys(old)) - (set(p.keys(new)) if new is not None else set())
            if not gone:
                continue
            moved_before = self.conn.execute(
                "SELECT 1 FROM former_keys WHERE projection = ? AND event = ? LIMIT 1", (p.NAME, old["id"])
            ).fetchone()
            if moved_before and new is not None:
                gone = {*gone, WILDCARD}
            self.conn.executemany(
                "INSERT OR IGNORE INTO former_keys (projection, key, event) VALUES (?, ?, ?)",
                [(p.NAME, key, old["id"]) for key in sorted(gone)],
            )

    def flush(self) -> None:
        if self.ee_rows:
            self.days.enter(self.ee_rows)
            self.conn.executemany(effective.INSERT, self.ee_rows)
            self.conn.executemany(effective.INSERT_COUNTRIES, self.ec_rows)
            self.ee_rows.clear()
            self.ec_rows.clear()
        for fold in (*self.sums, *self.states):
            fold.flush()

    def finish_sums(self) -> None:
        for fold in self.sums:
            fold.finish()

    def refold(self) -> None:
        """Refold every key a change touched, in key order."""
        for fold in self.queueing:
            fold.refold()
        for key_sql, group in self.from_table.items():
            refold_from_table(self.conn, key_sql, group, self.amended)
        close_queue(self.conn)


def _run(conn: sqlite3.Connection, *, full: bool, shortcuts: bool = True) -> ReplayResult:
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
    run = _Run(conn, full=result.full, shortcuts=shortcuts)
    result.events, result.last_seq = run.apply_log(after)
    run.finish_sums()
    # bulk index builds, far faster than growing them row by row: the engine's own tables
    # are complete now, and the state folds read effective_events through its indexes
    engine = {name for _, name in _objects(ENGINE_SCHEMA)}
    for statement in deferred:
        if _indexed_table(statement) in engine:
            conn.execute(statement)
    run.refold()
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


def replay(store, *, full: bool = False, shortcuts: bool = True) -> ReplayResult:
    """Bring every projection up to date with the log, in one transaction.

    `full` rebuilds every projection from the whole log; `shortcuts=False` makes a full
    replay take every event the way catch-up does (`tracker.replay.shortcuts`): slower,
    the same rows.
    """
    from tracker.log.connection import rollback

    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = _run(conn, full=full, shortcuts=shortcuts)
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

"""One key's state on every time axis, from that key's events alone: the fast path for
`--reported-by` on a state projection.

The plain answer to "reported by R, known at T" (`tracker.replay.filtered`) replays
every log row that passes the bounds, which at a million events takes seconds. A state
projection's key, though, is made only from the events that belong to it, so one key's
answer needs only those: the events whose form now gives the key (an indexed read of
`effective_events`), those whose former forms gave it (`former_keys`, kept by the
engine), and the amendments of both. They are filtered by the same rules
(`tracker.log.reported.passing`), made effective by the same function the engine uses,
folded by the projection's own `fold`, and asked the projection's own AS_OF_SQL in a
database in memory: the same rows as the plain answer, at the cost of one key's events.

Sum projections (country tallies) add up every event of a key, which for a country is
most of the log: they have their own fast path, `tracker.replay.reported_sums`.
"""

from __future__ import annotations

import sqlite3
from types import ModuleType
from typing import Any

import orjson

from events.models import AMENDMENT_KINDS

from tracker.log.amendments import Amendment, effective_form
from tracker.log.reported import COLUMNS, passing, rows_with_amendments
from tracker.replay.effective import compact, world_order
from tracker.replay.queries import answer, history_answer
from tracker.replay.tables import WILDCARD

def answers_by_key(projection: ModuleType) -> bool:
    """Whether one key's answer can come from its own events: a state projection."""
    return projection.SHAPE == "state"


def candidates(conn: sqlite3.Connection, projection: ModuleType, key: str) -> list[str]:
    """Ids of the world events that give `key` in some filtered log: those whose form now
    gives it, and those a former form gave it (or any key, when their key moved twice)."""
    now = conn.execute(f"SELECT id FROM effective_events WHERE {projection.KEY_FILTER}", (key,))
    former = conn.execute(
        "SELECT event FROM former_keys WHERE projection = ? AND key IN (?, ?)",
        (projection.NAME, key, WILDCARD),
    )
    return sorted({i for (i,) in now} | {i for (i,) in former})


def key_events(conn: sqlite3.Connection, projection: ModuleType, key: str, *,
               reported_by: str | None = None, known_at: str | None = None) -> list[dict[str, Any]]:
    """`key`'s events as the projection's fold reads them (compact, in world order), in
    the log as it stood reported by `reported_by` and recorded by `known_at`."""
    seq_at, body_at, recorded_at_at = COLUMNS.index("seq"), COLUMNS.index("body"), COLUMNS.index("recorded_at")
    world: dict[str, tuple[int, dict[str, Any]]] = {}
    amendments: dict[str, list[Amendment]] = {}
    target_of: dict[str, str] = {}  # an amendment's id -> the world event it bears on
    for row in passing(rows_with_amendments(conn, candidates(conn, projection, key)),
                       reported_by=reported_by, known_at=known_at):
        record = orjson.loads(row[body_at])
        if record["kind"] not in AMENDMENT_KINDS:
            world[record["id"]] = (row[seq_at], record)
            continue
        event_id = target_of.get(record["target"], record["target"])
        target_of[record["id"]] = event_id
        amendments.setdefault(event_id, []).append(Amendment.from_record(record, row[seq_at], row[recorded_at_at]))
    events = []
    for event_id, (seq, record) in world.items():
        form = effective_form(record, amendments.get(event_id, []))
        if form is not None and key in set(projection.keys(form)):
            events.append(compact(form, seq, projection.FIELDS))
    return sorted(events, key=world_order)


def key_history(conn: sqlite3.Connection, projection: ModuleType, key: str, *,
                known_at: str | None = None, reported_by: str | None = None) -> sqlite3.Connection:
    """One key's history as reported by `reported_by` and recorded by `known_at`: the
    projection's fold of `key_events`, in a database in memory holding the projection's
    tables (every row taken as known), to be asked the same SQL as the stored history.
    The caller closes it."""
    rows = projection.fold(key, key_events(conn, projection, key, reported_by=reported_by, known_at=known_at))
    return _history_in_memory(projection, rows)


def _history_in_memory(projection: ModuleType, rows: list[tuple]) -> sqlite3.Connection:
    memory = sqlite3.connect(":memory:")
    memory.executescript(projection.SCHEMA)
    columns = [f'"{c}"' for c in (*projection.ROW_COLUMNS, "known_from", "known_to")]
    memory.executemany(
        f"INSERT INTO {projection.HISTORY} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [(*row, "", None) for row in rows],
    )
    return memory


def _reported_forms(conn: sqlite3.Connection, *, reported_by: str, known_at: str | None = None,
                    as_of: str | None = None):
    """Every world event's effective form as reported by then, in world order: one read of
    the log through `tracker.replay.listing.effective_events` (which reads only `.conn`)."""
    from types import SimpleNamespace

    from tracker.replay.listing import effective_events

    return effective_events(SimpleNamespace(conn=conn), reported_by=reported_by, known_at=known_at, as_of=as_of)


def every_key_history(conn: sqlite3.Connection, projection: ModuleType, *, reported_by: str,
                      known_at: str | None = None) -> sqlite3.Connection:
    """Every key's history as reported by `reported_by` and recorded by `known_at`, as
    `key_history` makes one key's: each key's events from one read of the log, folded by
    the projection's fold. Costs a read of the whole log (no replay). The caller closes it."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for event in _reported_forms(conn, reported_by=reported_by, known_at=known_at):
        keys = set(projection.keys(event.record))
        if keys:
            folded = compact(event.record, event.seq, projection.FIELDS)
            for key in keys:
                grouped.setdefault(key, []).append(folded)
    rows = [row for key in sorted(grouped) for row in projection.fold(key, sorted(grouped[key], key=world_order))]
    return _history_in_memory(projection, rows)


def folded_sums(conn: sqlite3.Connection, projection: ModuleType, key: str | None, *, reported_by: str,
                known_at: str | None = None, as_of: str | None = None) -> list[dict[str, Any]]:
    """A sum projection's rows (or one key's) as of `as_of`, known at `known_at`, reported by
    `reported_by` (exact days and stamp): the projection's contributions of every event
    that passes, added up with its own `add`, from one read of the log. The answer
    `tracker.replay.reported_sums` cannot give (its cells take everything recorded as known)."""
    p = projection
    latest = p.TOTAL_COLUMNS.index(p.LATEST_COLUMN)
    count = p.TOTAL_COLUMNS.index(p.COUNT_COLUMN)
    totals: dict[str, list] = {}
    for event in _reported_forms(conn, reported_by=reported_by, known_at=known_at, as_of=as_of):
        start = event.sort_key[0]
        for k, values in p.contributions(event.record):
            if key is not None and k != key:
                continue
            total = totals.get(k)
            if total is None:
                total = totals[k] = p.empty()
            p.add(total, values, start)
            total[latest] = max(total[latest] or start, start)
    return [{p.KEY_COLUMN: k, **dict(zip(p.TOTAL_COLUMNS, totals[k]))}
            for k in sorted(totals) if totals[k][count] > 0]


def key_answer(conn: sqlite3.Connection, projection: ModuleType, key: str, *, as_of: str | None = None,
               known_at: str | None = None, reported_by: str | None = None) -> list[dict[str, Any]]:
    """One key's rows as of `as_of`, known at `known_at`, reported by `reported_by`: its
    `key_history` asked the projection's AS_OF_SQL (as of `as_of`)."""
    memory = key_history(conn, projection, key, known_at=known_at, reported_by=reported_by)
    try:
        return history_answer(memory, projection, key, as_of=as_of)
    finally:
        memory.close()


def reported_answer(store, projection: ModuleType, key: str | None, *, as_of: str | None = None,
                    known_at: str | None = None, reported_by: str, by_key: bool = True) -> list[dict[str, Any]]:
    """The projection's rows (or one key's) as of `as_of`, known at `known_at`, reported by
    `reported_by`. With `by_key` (the fast paths): one key of a state projection from that
    key's events (`key_answer`), every key from one read of the log (`every_key_history`);
    a sum with no knowledge bound from its reported cells (`tracker.replay.reported_sums`),
    with one by adding up what passes (`folded_sums`). With `by_key=False` (the plain
    path): from a replay in memory of every row that passes (`tracker.replay.filtered`)."""
    from tracker.replay.timeaxes import as_of_day, reported_by_day

    if by_key and answers_by_key(projection):
        if key is not None:
            return key_answer(store.conn, projection, key, as_of=as_of, known_at=known_at, reported_by=reported_by)
        memory = every_key_history(store.conn, projection, reported_by=reported_by_day(reported_by), known_at=known_at)
        try:
            return history_answer(memory, projection, None, as_of=as_of)
        finally:
            memory.close()
    if by_key and projection.SHAPE == "sum":
        if known_at is None:
            from tracker.replay.reported_sums import sum_answer

            return sum_answer(store.conn, projection, key, as_of=as_of_day(as_of),
                              reported_by=reported_by_day(reported_by))
        return folded_sums(store.conn, projection, key, reported_by=reported_by_day(reported_by), known_at=known_at,
                           as_of=as_of_day(as_of))
    from tracker.replay.filtered import reported_view

    with reported_view(store, reported_by=reported_by, known_at=known_at) as view:
        return answer(view.conn, projection, key, as_of=as_of)

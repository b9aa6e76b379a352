"""Full-replay short cuts: the same rows as catch-up, written faster into empty tables.

A full replay could treat every event as catch-up does, as a change of its effective
form queued for its keys. Most events never change once logged, and for those it takes
three short cuts, all in this module:

1. `amended_world_seqs` finds, in one query, the events some amendment touches; every
   other event enters once, as logged (`enter`), without being queued as a change.
2. State projections that name their key as SQL (`KEY_SQL`) are folded key by key from
   one ordered read of `effective_events` (`refold_from_table`), with the amended
   events' queued changes merged in by log position.
3. (In the engine) secondary indexes and the search index are built once, at the end.

`replay(store, full=True, shortcuts=False)` turns 1 and 2 off: the tests run full
replays both ways and compare every table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter
from typing import Any

import orjson

from tracker.replay.states import StateFold


def amended_world_seqs(conn: sqlite3.Connection) -> set[int]:
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


def from_table(folds: list[StateFold]) -> dict[str, list[StateFold]]:
    """The state folds a full replay folds straight from `effective_events`, by key SQL."""
    grouped: dict[str, list[StateFold]] = {}
    for fold in folds:
        key_sql = getattr(fold.p, "KEY_SQL", None)
        if key_sql:
            grouped.setdefault(key_sql, []).append(fold)
    return grouped


def refold_from_table(conn: sqlite3.Connection, key_sql: str, group: list[StateFold], amended: set[int]) -> None:
    """Fold every key of the state folds sharing `key_sql` in one pass.

    Events no amendment touches entered once, at their recorded_at, as logged: they are
    read back from effective_events in key order, with the fields the folds read
    extracted by SQLite from the log's body, so they need no queue; the amended events' changes come from
    the queue and are merged in by log position.
    """
    queued = {fold.name: dict(fold.queued()) for fold in group}
    fields = sorted({name for fold in group for name in fold.p.FIELDS})
    paths = ", ".join(f"'$.{name}'" for name in (*fields, "id"))  # two paths or more: a JSON array
    rows = conn.execute(  # in key order through an index on the key: no sort of the whole table
        f"SELECT e.{key_sql}, e.seq, e.id, e.recorded_at, e.occurred_start, e.occurred_end, json_extract(log.body, {paths})"
        f" FROM effective_events AS e JOIN events AS log ON log.seq = e.seq"
        f" WHERE e.{key_sql} <> '' ORDER BY e.{key_sql}, e.seq"
    )
    pending = sorted({key for changes in queued.values() for key in changes})
    logged = ((key, list(found)) for key, found in groupby(rows, key=itemgetter(0)))
    inserts: dict[str, list[tuple]] = {fold.name: [] for fold in group}
    for key, found in _merge_keys(logged, pending):
        events = [
            (seq, recorded_at, event_id, start, end, orjson.loads(values))
            for _, seq, event_id, recorded_at, start, end, values in found if seq not in amended
        ]
        for fold in group:
            wanted = fold.p.FIELDS
            changes: list[tuple[Any, ...]] = [
                (seq, recorded_at, seq, None, {
                    **{n: v for n, v in zip(fields, values) if v is not None and n in wanted},
                    "id": event_id, "seq": seq, "occurred_start": start, "occurred_end": end,
                })
                for seq, recorded_at, event_id, start, end, values in events
            ]
            changes += queued[fold.name].get(key, ())
            changes.sort(key=itemgetter(0))
            if changes:
                fold.refold_key(key, changes, inserts[fold.name])
                if len(inserts[fold.name]) >= 5000:
                    fold.insert(inserts[fold.name])
    for fold in group:
        fold.insert(inserts[fold.name])


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

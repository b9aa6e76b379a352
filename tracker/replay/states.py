"""State folds: a ``state`` projection's history kept current by refolding touched keys.

During a run, every change of an effective event queues the keys it touches (under
its old form and its new) with the event's compact forms (`queue`), in a temporary
table shared by the run's state folds. When the log is read, `refold` takes each
touched key once, in key order: it rebuilds the key's events as they stood at the
checkpoint, replays the queued changes in log order, and diffs the projection's rows
at each knowledge moment: rows no longer produced are closed then, new rows opened
then, rows that stay keep their known_from.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from itertools import groupby
from operator import itemgetter
from typing import Any

import orjson

from tracker.replay.effective import BODY_SQL, compact, world_order

FLUSH = 5000

#: The run's queue of (projection, key) changes; one per connection, made by `open_queue`.
QUEUE = "temp.replay_feed"


def open_queue(conn: sqlite3.Connection) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {QUEUE}")
    conn.execute(
        "CREATE TEMP TABLE replay_feed (n INTEGER PRIMARY KEY, projection TEXT, key TEXT,"
        " known_at TEXT, pos INTEGER, seq INTEGER, old BLOB, new BLOB)"
    )


def close_queue(conn: sqlite3.Connection) -> None:
    conn.execute(f"DROP TABLE {QUEUE}")


class StateFold:
    """One state projection's part of a replay run.

    `full` (a rebuild into empty tables) means a key has no stored events or rows to
    start from.
    """

    def __init__(self, conn: sqlite3.Connection, projection, *, full: bool):
        self.conn = conn
        self.p = p = projection
        self.name = p.NAME
        self.full = full
        self.pending: list[tuple] = []  # queued changes waiting to be written
        columns = ", ".join(f'"{c}"' for c in (*p.ROW_COLUMNS, "known_from", "known_to"))
        self._insert = (
            f"INSERT INTO {p.HISTORY} ({columns}) VALUES ({','.join('?' * (len(p.ROW_COLUMNS) + 2))})"
        )

    def queue(self, seq: int, known_at: str, old, new, pos: int) -> None:
        """Queue the keys a change touches, with the event's compact forms.

        `pos` is the seq of the log row that makes the change (the event, or an amendment).
        """
        p = self.p
        old_keys = set(p.keys(old)) if old is not None else set()
        new_keys = set(p.keys(new)) if new is not None else set()
        if not (old_keys or new_keys):
            return
        old_c = orjson.dumps(compact(old, seq, p.FIELDS)) if old_keys else None
        new_c = orjson.dumps(compact(new, seq, p.FIELDS)) if new_keys else None
        for key in sorted(old_keys | new_keys):
            self.pending.append((
                p.NAME, key, known_at, pos, seq,
                old_c if key in old_keys else None, new_c if key in new_keys else None,
            ))

    def flush(self) -> None:
        if self.pending:
            self.conn.executemany(
                f"INSERT INTO {QUEUE} (projection, key, known_at, pos, seq, old, new) VALUES (?,?,?,?,?,?,?)",
                self.pending,
            )
            self.pending.clear()

    def queued(self) -> Iterator[tuple[str, list[tuple]]]:
        """(key, changes) in key order; a change is (pos, known_at, seq, old, new), forms decoded."""
        self.flush()
        rows = self.conn.execute(
            f"SELECT key, pos, known_at, seq, old, new FROM {QUEUE} WHERE projection = ? ORDER BY key, n",
            (self.name,),
        )
        for key, found in groupby(rows, key=itemgetter(0)):
            yield key, [
                (pos, known_at, seq, None if old is None else orjson.loads(old), None if new is None else orjson.loads(new))
                for _, pos, known_at, seq, old, new in found
            ]

    def refold(self) -> None:
        """Refold every key a change touched, in key order."""
        self.refold_keys(self.queued())

    def refold_keys(self, changes_by_key: Iterable[tuple[str, list[tuple]]]) -> None:
        inserts: list[tuple] = []
        for key, changes in changes_by_key:
            self.refold_key(key, changes, inserts)
            if len(inserts) >= FLUSH:
                self.insert(inserts)
        self.insert(inserts)

    def insert(self, rows: list[tuple]) -> None:
        """Write history rows opened (and closed) during the run, then forget them."""
        if rows:
            self.conn.executemany(self._insert, rows)
            rows.clear()

    def refold_key(self, key: str, changes: list[tuple], inserts: list[tuple]) -> None:
        """Refold one key through its changes (pos, known_at, seq, old, new) in log order."""
        conn, p = self.conn, self.p
        active: dict[int, dict[str, Any]] = {}
        current: dict[tuple, tuple[int | None, str]] = {}  # row -> (rowid, known_from)
        if not self.full:
            for seq, body in conn.execute(
                f"SELECT e.seq, {BODY_SQL} FROM effective_events AS e WHERE {p.KEY_FILTER}", (key,)
            ):
                active[seq] = compact(orjson.loads(body), seq, p.FIELDS)
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
        last = max(map(world_order, active.values()), default=None)

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
                    order = world_order(event)
                    if last is None or order > last:
                        if carry is None:
                            carry = p.resume(key, sorted(active.values(), key=world_order))
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
            last = max(map(world_order, active.values()), default=None)
            folded = p.fold(key, sorted(active.values(), key=world_order))
            rows = set(folded)
            for row in [r for r in current if r not in rows]:
                close(row, known_at)
            for row in folded:  # in fold order, not set order: rows go in the same order every time
                if row not in current:
                    current[row] = (None, known_at)
        for row, (rowid, known_from) in current.items():
            if rowid is None:
                inserts.append((*row, known_from, None))

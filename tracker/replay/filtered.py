"""Answers from a filtered log: the projections of only the rows that pass the time axes.

A question "reported by R" (and known at T) is about the log as it would stand if it
held only what had been reported by R and recorded by T (`tracker.log.reported`). This
module answers it the plain way: it copies those rows into a database in memory and
replays them, so every projection, listing and query holds there exactly as it does
on a whole log. The copy costs a full replay of what passes, which a person asking
about the bundled record or a back-filled year does not notice.
"""

from __future__ import annotations

from tracker.log.reported import COLUMNS, reported_rows
from tracker.log.store import EventStore
from tracker.replay.engine import replay


def copy_rows(source, target, *, reported_by: str | None = None, known_at: str | None = None) -> int:
    """Copy the log rows that pass the bounds from connection `source` into `target`'s log,
    in one transaction; returns how many."""
    rows = reported_rows(source, reported_by=reported_by, known_at=known_at)
    insert = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    count = 0
    target.execute("BEGIN IMMEDIATE")
    try:
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 5000:
                target.executemany(insert, batch)
                count += len(batch)
                batch.clear()
        target.executemany(insert, batch)
        count += len(batch)
        target.execute("COMMIT")
    except BaseException:
        target.execute("ROLLBACK")
        raise
    return count


def reported_view(store: EventStore, *, reported_by: str, known_at: str | None = None) -> EventStore:
    """A store in memory holding the rows of `store`'s log reported by `reported_by` and
    recorded by `known_at`, with its projections replayed: ask it with no `known_at`."""
    view = EventStore(":memory:", tuning=store.tuning)
    copy_rows(store.conn, view.conn, reported_by=reported_by, known_at=known_at)
    replay(view, full=True)
    return view

"""`tracker verify` whole: the log's own checks, then the projections against the log.

The log layer proves the chain; only the replay layer knows what the projections
should hold, so the two are put together here, one layer up.
"""

from __future__ import annotations

import sqlite3

import orjson

from tracker.log.store import EventStore
from tracker.log.verify import Report, verify_log
from tracker.replay.checkpoints import reach_problems
from tracker.replay.engine import _run, behind, catch_up
from tracker.replay.tables import derived_tables


def verify_all(store: EventStore, heads: list[tuple[int, str]] = ()) -> Report:
    """The log's own checks, then the projections against a fresh replay (on a private copy)."""
    report = verify_log(store, heads)
    if not store.shared and store.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
        check_projections(store, report)
    return report


def table_digest(conn: sqlite3.Connection, table: str) -> tuple[int, str]:
    """(row count, SHA-256 of the rows in a canonical order): equal tables give equal digests."""
    import hashlib

    columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    order = ", ".join(f'"{c}"' for c in columns)
    digest, count = hashlib.sha256(), 0
    for row in conn.execute(f"SELECT {order} FROM {table} ORDER BY {order}"):
        digest.update(orjson.dumps(row))
        count += 1
    return count, digest.hexdigest()


def check_projections(store, report) -> None:
    """Compare every derived table with a fresh full replay, on a private copy of the database.

    The file is never written: the copy is brought up to date (when the stored
    projections are merely behind the log, which a write cut short can leave), and then
    rebuilt from scratch, and the two are compared table by table.
    """
    problems = reach_problems(store.conn)
    for problem in problems:
        report.problem(problem)
    if problems:
        return
    lacking = behind(store)
    if lacking != 0:
        gap = "need a full replay" if lacking is None else f"are {lacking:,} events behind the log"
        report.note(f"the stored projections {gap}: `tracker replay` brings them up to date")
    copy = store.private_copy()
    try:
        if lacking != 0:
            catch_up(copy)
        tables = derived_tables()
        before = {table: table_digest(copy.conn, table) for table in tables}
        copy.conn.execute("BEGIN")
        _run(copy.conn, full=True)
        after = {table: table_digest(copy.conn, table) for table in tables}
    except sqlite3.Error as e:
        report.problem(f"the projections cannot be replayed: {e}")
        return
    finally:
        copy.close()
    for table in tables:
        if before[table] != after[table]:
            report.problem(
                f"table {table} differs from a fresh replay of the log "
                f"({before[table][0]} rows, a fresh replay gives {after[table][0]}): the projections "
                "were changed, or the log was rewritten after they were built. Check the log against a "
                "head you kept (`tracker verify --head SEQ:HASH`); if it is right, `tracker replay --full` "
                "rebuilds them"
            )

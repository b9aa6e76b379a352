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
    """(row count, digest of the rows as a multiset): equal tables give equal digests.

    Each row's hash is added up modulo 2**128, so the rows' order does not matter (a table
    caught up event by event and one rebuilt in bulk hold the same rows in another order)
    and no sort of a million-row table is needed; a row present twice counts twice.
    """
    from hashlib import blake2b

    columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    names = ", ".join(f'"{c}"' for c in columns)
    total, count, dumps = 0, 0, orjson.dumps
    for row in conn.execute(f"SELECT {names} FROM {table}"):
        total += int.from_bytes(blake2b(dumps(row), digest_size=16).digest(), "little")
        count += 1
    return count, f"{total % (1 << 128):032x}"


def check_projections(store, report) -> None:
    """Compare every derived table with a fresh full replay of the log, in a scratch copy.

    The file is never written. The copy, in a temporary file (memory stays bounded
    however large the log), holds the log alone, replayed from scratch and compared
    table by table with the stored projections; when those are merely behind the log
    (which a write cut short can leave), the copy is of the whole database, brought
    up to date first, then rebuilt.
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
    tables = derived_tables()
    copy = None
    try:
        if lacking == 0:
            before = {table: table_digest(store.conn, table) for table in tables}
            copy = store.scratch_copy(log_only=True)
        else:
            copy = store.scratch_copy()
            catch_up(copy)
            before = {table: table_digest(copy.conn, table) for table in tables}
        copy.conn.execute("BEGIN")
        _run(copy.conn, full=True)
        after = {table: table_digest(copy.conn, table) for table in tables}
    except sqlite3.Error as e:
        report.problem(f"the projections cannot be replayed: {e}")
        return
    finally:
        if copy is not None:
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

"""`tracker verify` whole: the log's own checks, then the projections against the log.

The log layer proves the chain; only the replay layer knows what the projections
should hold, so the two are put together here, one layer up.
"""

from __future__ import annotations

import sqlite3

import orjson

from tracker.log.connection import readonly_uri
from tracker.log.store import EventStore
from tracker.log.verify import Report, verify_log
from tracker.replay.checkpoints import reach_problems
from tracker.replay.engine import _run, behind, catch_up
from tracker.replay.tables import derived_tables

#: The stored file's page cache while verify reads it through (KiB, as SQLite counts a
#: negative cache_size).
READING_CACHE = -2048


def verify_all(store: EventStore, heads: list[tuple[int, str]] = ()) -> Report:
    """The log's own checks, then the projections against a fresh replay (on a private copy).

    The stored file is only read here, start to end (the chain, then the copy), which a
    page cache does not speed up: its connection keeps a small one meanwhile, and leaves
    the memory to the replay (at a million events, 64 MiB of a peak of about 320).
    """
    if store.shared:  # (a server's log: its projections live in a read model apart)
        return verify_log(store, heads)
    cache = store.conn.execute("PRAGMA cache_size").fetchone()[0]
    store.conn.execute(f"PRAGMA cache_size = {READING_CACHE}")
    try:
        report = verify_log(store, heads)
        if store.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
            check_projections(store, report)
    finally:
        store.conn.execute(f"PRAGMA cache_size = {cache}")
    return report


def table_digest(conn: sqlite3.Connection, table: str) -> tuple[int, str]:
    """(row count, digest of the rows as a multiset): equal tables give equal digests.

    Each row's hash is added up modulo 2**128, so the rows' order does not matter (a table
    caught up event by event and one rebuilt in bulk hold the same rows in another order)
    and no sort is needed; a row present twice counts twice. For tests and tools that
    compare two databases apart; `check_projections` compares in SQL.
    """
    from hashlib import blake2b

    columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    names = ", ".join(f'"{c}"' for c in columns)
    total, count, dumps = 0, 0, orjson.dumps
    for row in conn.execute(f"SELECT {names} FROM {table}"):
        total += int.from_bytes(blake2b(dumps(row), digest_size=16).digest(), "little")
        count += 1
    return count, f"{total % (1 << 128):032x}"


def tables_differ(conn: sqlite3.Connection, table: str, other: str) -> tuple[bool, int, int]:
    """Whether `table` in the main database and in the attached `other` hold different
    rows, as multisets; with the row count of each: (differ, main's rows, other's rows).

    SQLite sorts the rows of both together, each counted +1 from main and -1 from
    `other`: the tables are equal when every distinct row sums to 0 (one sort, in C, of
    memory bounded by the connection's cache size)."""
    names = [row[1] for row in conn.execute(f"PRAGMA main.table_info({table})")]
    rows = [conn.execute(f"SELECT count(*) FROM {db}.{table}").fetchone()[0] if has else 0
            for db, has in (("main", True), (other, _has(conn, other, table)))]
    if [row[1] for row in conn.execute(f"PRAGMA {other}.table_info({table})")] != names:
        return True, rows[0], rows[1]  # missing, or not the same columns
    columns = ", ".join(f'"{name}"' for name in names)
    differ = rows[0] != rows[1] or conn.execute(
        f"SELECT EXISTS (SELECT 1 FROM (SELECT {columns}, 1 AS tracker_side FROM main.{table}"
        f" UNION ALL SELECT {columns}, -1 FROM {other}.{table}) GROUP BY {columns} HAVING sum(tracker_side) <> 0)"
    ).fetchone()[0]
    return bool(differ), rows[0], rows[1]


def _has(conn: sqlite3.Connection, db: str, table: str) -> bool:
    return conn.execute(f"SELECT 1 FROM {db}.sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None


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
    stored = fresh = None
    try:
        if lacking == 0:
            stored_path = store.path
        else:  # the stored projections as catch-up would leave them, in a copy of their own
            stored = store.scratch_copy()
            catch_up(stored)
            stored_path = stored.path
        fresh = store.scratch_copy(log_only=True)
        fresh.conn.execute("BEGIN")
        _run(fresh.conn, full=True)
        fresh.conn.execute("COMMIT")
        # (attached only now: a replay into a database with another's tables attached could
        # reach them, and ATTACH cannot happen inside a transaction)
        fresh.conn.execute("ATTACH DATABASE ? AS stored", (readonly_uri(stored_path),))
        fresh.conn.execute("PRAGMA cache_size = -16384")  # (each sort may use as much)
        compared = {table: tables_differ(fresh.conn, table, "stored") for table in tables}
    except sqlite3.Error as e:
        report.problem(f"the projections cannot be replayed: {e}")
        return
    finally:
        for copy in (stored, fresh):
            if copy is not None:
                copy.close()
    for table in tables:
        differ, fresh_rows, stored_rows = compared[table]
        if differ:
            report.problem(
                f"table {table} differs from a fresh replay of the log "
                f"({stored_rows} rows, a fresh replay gives {fresh_rows}): the projections "
                "were changed, or the log was rewritten after they were built. Check the log against a "
                "head you kept (`tracker verify --head SEQ:HASH`); if it is right, `tracker replay --full` "
                "rebuilds them"
            )

"""How far the projections have got: the checkpoint per projection (`replay_state`) and the
log's head as they last saw it (`replay_head`), both written in the same transaction as
the rows; whether a catch-up can continue from them, and whether the log still reaches
as far as they do.
"""

from __future__ import annotations

import sqlite3

from tracker.replay.tables import ENGINE, ENGINE_VERSION, _all_schemas, _has_table, _objects, projections

STATE_TABLE = """
CREATE TABLE IF NOT EXISTS replay_state (
    projection TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
)
"""
#: The log's head as the projections last saw it: a log that no longer reaches that seq,
#: or holds another event there, was cut short or rewritten behind the tracker's back.
HEAD_TABLE = """
CREATE TABLE IF NOT EXISTS replay_head (
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
)
"""


def _checkpoints(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    if not _has_table(conn, "replay_state"):
        return {}
    return {name: (version, last) for name, version, last in conn.execute("SELECT * FROM replay_state")}


def _wanted_versions() -> dict[str, int]:
    return {ENGINE: ENGINE_VERSION, **{p.NAME: p.VERSION for p in projections()}}


def _tables_present(conn: sqlite3.Connection) -> bool:
    present = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    return all(name in present for schema in _all_schemas() for _, name in _objects(schema))


def needs_full(conn: sqlite3.Connection) -> bool:
    """True when the checkpoints cannot be continued: a table is missing or a VERSION changed."""
    checkpoints = _checkpoints(conn)
    wanted = _wanted_versions()
    if set(checkpoints) != set(wanted) or not _tables_present(conn):
        return True
    if any(checkpoints[name][0] != version for name, version in wanted.items()):
        return True
    return len({last for _, last in checkpoints.values()}) != 1


def _head_seq(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]


def reach_problems(conn: sqlite3.Connection) -> list[str]:
    """How the log falls short of what its projections were built from; [] when it does not.

    The checkpoint knows how far the log reached and the hash of the event there. A log
    that now ends before that seq lost events; one with another hash there was
    rewritten. Either is reported, never rebuilt over: a rebuild would erase the evidence.
    """
    head = _head_seq(conn)
    reached = max((last for _, last in _checkpoints(conn).values()), default=0)
    if reached > head:
        return [
            f"the log ends at seq {head}, but its projections were built from events up to "
            f"seq {reached}: events after seq {head} were removed"
        ]
    if _has_table(conn, "replay_head"):
        for seq, recorded in conn.execute("SELECT seq, hash FROM replay_head"):
            row = conn.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
            if row is None or row[0] != recorded:
                return [
                    f"seq {seq}: the event there is not the one the projections were built from "
                    "(its hash differs): the log was rewritten at or before seq {seq}".format(seq=seq)
                ]
    return []


def checkpoint(conn: sqlite3.Connection) -> int | None:
    """The seq the projections are up to date with, or None when they need a full replay."""
    conn.execute("BEGIN")
    try:
        return None if needs_full(conn) else _checkpoints(conn)[ENGINE][1]
    finally:
        conn.execute("COMMIT")


def _write_checkpoints(conn: sqlite3.Connection, last_seq: int) -> None:
    conn.execute(HEAD_TABLE)
    conn.execute("DELETE FROM replay_head")
    conn.execute("INSERT INTO replay_head (seq, hash) SELECT seq, hash FROM events WHERE seq = ?", (last_seq,))
    conn.executemany(
        "INSERT OR REPLACE INTO replay_state (projection, version, last_seq) VALUES (?, ?, ?)",
        [(name, version, last_seq) for name, version in _wanted_versions().items()],
    )

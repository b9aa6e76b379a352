"""The local read model of a shared log: a SQLite file that copies the PostgreSQL log's rows
and holds every projection, so the replay engine, the queries and Datasette work on it
exactly as on a log of one's own (DESIGN §9: Datasette serves SQLite only).

Catching up copies the rows after the read model's last seq, streamed from the server
in blocks, through the store's restore path: each row must continue the local chain
(the same seq, prev_hash and hash the log gave it), so a copy is never silently wrong.
Before copying, the server's hash at the read model's last seq is compared with the
local one: a shared log that no longer holds that event (rewritten, cut short, or
replaced by another log) makes the read model start again from nothing, with a note.
A file that is damaged, or was made by an older tracker, is rebuilt the same way; a
SQLite file that is not a read model (someone's own log, say) is never touched.

Where it lives: `--read-model PATH`, else $TRACKER_READ_MODEL, else a file in the user's
cache directory ($XDG_CACHE_HOME, else ~/.cache, then `ksilkroad-tracker/`) named from a
hash of the connection string with its password left out, so each shared log has its own.

Two processes catching up at once take turns: a lock file beside the read model is held
for the whole catch-up (rows and replay), and the second finds the first's work done.
Readers never take it: SQLite's WAL lets them read while it is written.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tracker.log.connection import busy_timeout, rollback
from tracker.log.postgres import PostgresEventStore, describe
from tracker.log.preparing import BATCH, GENESIS, LogError, PreparedBatch, utc_now
from tracker.log.schema import LogProblem
from tracker.log.store import EventStore

#: Bumped whenever a read model made by an older tracker cannot simply be continued.
READ_MODEL_VERSION = 1
#: The table that marks a SQLite file as a read model (and says of what, and which version).
META_TABLE = "read_model"
ENVIRONMENT = "TRACKER_READ_MODEL"
CACHE_FOLDER = "ksilkroad-tracker"


class ReadModelError(Exception):
    """The read model's location cannot be used: bad input, and nothing was written."""


class ReadModelBusy(Exception):
    """Another process held the read model's lock for longer than the busy timeout."""


@dataclass
class CatchUp:
    """What bringing the read model up to date did."""

    copied: int = 0  # rows copied from the shared log
    replayed: int = 0  # events the projections took in
    head_seq: int = 0
    head_hash: str = GENESIS
    rebuilt: str | None = None  # why the read model was started again from nothing

    @property
    def note(self) -> str | None:
        return f"the read model was rebuilt from scratch: {self.rebuilt}" if self.rebuilt else None


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/ksilkroad-tracker, else ~/.cache/ksilkroad-tracker."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / CACHE_FOLDER


def default_location(dsn: str) -> Path:
    """The read model of `dsn` in the cache: named from a hash of the connection string with
    any password left out (so a changed password keeps the same read model)."""
    digest = hashlib.sha256(describe(dsn).strip().encode()).hexdigest()[:16]
    return cache_dir() / f"read-model-{digest}.db"


def location(dsn: str, given: str | os.PathLike | None = None) -> Path:
    """Where the read model of `dsn` lives: `given` (--read-model), else $TRACKER_READ_MODEL,
    else `default_location`."""
    chosen = given or os.environ.get(ENVIRONMENT)
    return Path(chosen).expanduser() if chosen else default_location(dsn)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold the read model's lock file (beside it) for one catch-up; wait at most the busy timeout."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except FileExistsError:
        raise ReadModelError(f"{path}: its folder is a file, not a folder: choose another read model path") from None
    if path.is_dir():
        raise ReadModelError(f"{path} is a folder: give the read model's file, for example {path / 'read-model.db'}")
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + busy_timeout()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ReadModelBusy(
                        f"{path}: another process is bringing the read model up to date and held its lock "
                        f"for more than {busy_timeout():g} s (set TRACKER_BUSY_TIMEOUT to wait longer)"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # (releases the lock)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _unlink(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _empty(path: Path) -> None:
    """Drop everything in the read model, in one transaction, keeping the file itself: a
    server reading it (`tracker serve`) keeps its connections, and sees the rebuild."""
    from tracker.log.connection import connect

    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for type_ in ("view", "trigger"):
                for (name,) in conn.execute(f"SELECT name FROM sqlite_master WHERE type = '{type_}'").fetchall():
                    conn.execute(f'DROP {type_.upper()} IF EXISTS "{name}"')
            virtual = "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
            for (name,) in conn.execute(virtual).fetchall():
                conn.execute(f'DROP TABLE IF EXISTS "{name}"')
            for name in sorted(_tables(conn)):
                if not name.startswith("sqlite_"):
                    conn.execute(f'DROP TABLE IF EXISTS "{name}"')
            conn.execute("PRAGMA user_version = 0")
            conn.execute("COMMIT")
        except BaseException:
            rollback(conn)
            raise
    finally:
        conn.close()


def _open(path: Path, source: str) -> tuple[EventStore, str | None]:
    """The read model at `path` for writing, made or remade as need be; and why it was remade.

    A file that cannot be read as SQLite is deleted and made again; one that is a read
    model of another version, or whose log copy is not as the tracker makes it, is
    emptied and made again. A SQLite file with tables that is not a read model is refused.
    """
    reason = None
    for attempt in range(2):
        try:
            conn = sqlite3.connect(str(path), timeout=busy_timeout())
            try:
                tables = _tables(conn)
                version = (
                    conn.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'version'").fetchone()
                    if META_TABLE in tables
                    else None
                )
            finally:
                conn.close()
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
                raise
            if attempt:
                raise
            _unlink(path)
            reason = f"the file could not be read ({e})"
            continue
        if tables and META_TABLE not in tables:
            raise ReadModelError(
                f"{path} is a SQLite database but not a read model (is it a tracker log of its own?): "
                f"it is left as it is; choose another --read-model path (or unset {ENVIRONMENT})"
            )
        if tables and (version is None or version[0] != str(READ_MODEL_VERSION)):
            _empty(path)
            reason = f"it was made by another version of the tracker (read model version {version[0] if version else '?'})"
            continue
        try:
            store = EventStore(path)
        except LogProblem as e:
            _empty(path)
            reason = f"its copy of the log was not as the tracker makes it ({e.problems[0]})"
            continue
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError) or attempt:
                raise
            _unlink(path)
            reason = f"the file could not be read ({e})"
            continue
        _mark(store.conn, source)
        return store, reason
    raise ReadModelError(f"{path}: the read model could not be made again")  # pragma: no cover


def _mark(conn: sqlite3.Connection, source: str) -> None:
    """Write the read model's marker (first time only): its version and the log it copies."""
    if conn.execute(f"SELECT 1 FROM sqlite_master WHERE name = '{META_TABLE}'").fetchone():
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.executemany(
            f"INSERT OR IGNORE INTO {META_TABLE} (key, value) VALUES (?, ?)",
            [("version", str(READ_MODEL_VERSION)), ("source", source), ("created_at", utc_now())],
        )
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


class _Replaced(Exception):
    """The shared log no longer holds the event the read model's copy ends with."""


def _divergence(shared: PostgresEventStore, local: EventStore) -> str | None:
    """Why the read model's copy is not a beginning of the shared log; None when it is."""
    seq, local_hash, _ = local.head()
    if seq == 0:
        return None
    there = shared.hash_at(seq)
    if there == local_hash:
        return None
    if there is None:
        last = shared.head()[0]
        return (
            f"the shared log ends at seq {last}, but the read model had copied it up to seq {seq}: "
            "it was cut short or replaced by another log"
        )
    return (
        f"the shared log's event at seq {seq} is not the one the read model copied (its hash differs): "
        "it was rewritten or replaced by another log"
    )


def _batches(shared: PostgresEventStore, local: EventStore, counter: list[int]) -> Iterator[PreparedBatch]:
    """The shared log's rows after the local head, as batches the store restores exactly.

    Read when `append` asks for them, that is inside its write transaction: the local
    head cannot move meanwhile. The junction is checked first (`_divergence`).
    """
    problem = _divergence(shared, local)
    if problem:
        raise _Replaced(problem)
    rows = shared.rows_after(local.head()[0])
    while True:
        block = [row for _, row in zip(range(BATCH), rows)]
        if not block:
            return
        counter[0] += len(block)
        seqs, ids, kinds, occurred, starts, ends, stamps, bodies, prevs, hashes = zip(*block)
        yield PreparedBatch(
            list(seqs),  # (as "lines": an error names the seq of the row that does not check out)
            list(ids),
            list(kinds),
            list(occurred),
            list(starts),
            list(ends),
            "\n".join(bodies),
            list(stamps),
            {
                position: {"seq": seqs[position], "recorded_at": stamps[position],
                           "prev_hash": prevs[position], "hash": hashes[position]}
                for position in range(len(block))
            },
        )


def _copy(shared: PostgresEventStore, local: EventStore) -> int:
    """Copy the rows the read model lacks; raises _Replaced, or LogProblem for a shared log
    whose new rows do not check out."""
    counter = [0]
    try:
        result = local.append(_batches(shared, local, counter))
    except LogError as e:
        what = re.split(r"[:;]", e.message)[0]
        raise LogProblem([
            f"the shared log does not check out at seq {e.line} ({what}): the read model copied none of "
            "its new events"
        ]) from None
    return result.added


def bring_up_to_date(shared: PostgresEventStore, path: Path, *, replay: bool = True) -> tuple[EventStore, CatchUp]:
    """Catch the read model at `path` up with the shared log, and (unless `replay` is False)
    its projections with its rows; the read model's store (open, for writing) and what was done.

    The caller closes the store. Raises ReadModelError (the path cannot be used),
    ReadModelBusy, LogProblem (the shared log's new rows do not check out), and whatever
    the server or the file raises.
    """
    from tracker.replay.engine import catch_up

    with _locked(path):
        store, reason = _open(path, shared.path)
        try:
            try:
                copied = _copy(shared, store)
            except _Replaced as e:
                store.close()
                _empty(path)
                store, _ = _open(path, shared.path)
                reason = str(e)
                copied = _copy(shared, store)
            outcome = CatchUp(copied=copied, rebuilt=reason)
            if replay:
                outcome.replayed = catch_up(store).events
            outcome.head_seq, outcome.head_hash, _ = store.head()
        except BaseException:
            store.close()
            raise
    return store, outcome


def is_current(shared: PostgresEventStore, path: Path) -> bool:
    """Does the read model already hold the shared log's head (the same seq and hash)? Reads only."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=busy_timeout())
    except sqlite3.Error:
        return False
    try:
        row = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        done = conn.execute("SELECT min(last_seq) FROM replay_state").fetchone()
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    seq, hash_ = row if row else (0, GENESIS)
    return shared.head()[:2] == (seq, hash_) and done is not None and done[0] == seq

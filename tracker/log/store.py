"""The event log: an append-only, hash-chained `events` table in SQLite.

Nothing here edits or deletes a row. Triggers refuse UPDATE and DELETE even to
someone with a SQL shell; each row's hash covers the previous row's hash, so a row
changed, removed or moved behind the tracker's back is found by `verify`. Appends
run inside `BEGIN IMMEDIATE`, so concurrent writers queue rather than fork the chain.
"""

from __future__ import annotations

import gc
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from events.identity import canonical_json
from events.models import AMENDMENT_KINDS

from tracker.log.amendments import Amendment, amendment_problem
from tracker.log.connection import DEFAULT_DB, connect, connect_readonly, connect_scratch, rollback
from tracker.log.preparing import (
    GENESIS,
    LogError,
    PreparedBatch,
    _batches,
    check_restore,
    utc_now,
)
from tracker.log.schema import (
    LOG_TABLE,
    LOG_TRIGGERS,
    INDEXES,
    SCHEMA_VERSION,
    LogProblem,
    _has_log,
    _tracker_tables,
    is_older_log,
    schema_problems,
)
from tracker.log.tuning import AUTOMATIC, Tuning

#: Events appended between two passes of the cycle collector, which is off meanwhile.
COLLECT_EVERY = 200_000


@dataclass
class AppendResult:
    added: int = 0
    skipped: int = 0
    last_seq: int = 0
    last_id: str | None = None  # the id of the last event added: what `tracker log` prints


@dataclass(frozen=True)
class StoredEvent:
    """An event as the log holds it: the record plus where and when it was logged."""

    seq: int
    recorded_at: str
    prev_hash: str
    hash: str
    record: dict[str, Any]

    @property
    def id(self) -> str:
        return self.record["id"]

    @property
    def kind(self) -> str:
        return self.record["kind"]

    def exported(self) -> dict[str, Any]:
        """The contract's export form: the event plus its log fields."""
        return {
            **self.record,
            "seq": self.seq,
            "recorded_at": self.recorded_at,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


#: The rows amending an event (`?` its id), found through the events_amendment_target index.
#: A correction's or retraction's row, and what it bears on (both served by the partial
#: index `events_amendment_target`); AMENDING finds the amendments of one target.
AMENDMENT_ROW = "kind IN ('correction', 'retraction')"
TARGET = "json_extract(body, '$.target')"
AMENDING = f"{AMENDMENT_ROW} AND {TARGET} = ?"
_AMENDING = f"SELECT seq, recorded_at, prev_hash, hash, body FROM events WHERE {AMENDING} AND seq <= ?"


def amendments_of(
    conn: sqlite3.Connection, event_id: str, *, up_to_seq: int | None = None, query: str = _AMENDING
) -> list[StoredEvent]:
    """The event's corrections and retractions (logged up to `up_to_seq`, if given) and the
    retractions of those corrections, in log order: what its effective form is made of.

    One function for the store (`show`, checking a new amendment) and the replay engine.
    """
    bound = (1 << 62) if up_to_seq is None else up_to_seq
    found = [_stored(row) for row in conn.execute(query, (event_id, bound))]
    for correction in [e.id for e in found if e.kind == "correction"]:
        found += [_stored(row) for row in conn.execute(query, (correction, bound))]
    return sorted(found, key=lambda e: e.seq)


def _stored(row: tuple) -> StoredEvent:
    seq, recorded_at, prev_hash, hash_, body = row
    return StoredEvent(seq, recorded_at, prev_hash, hash_, orjson.loads(body))


def _remove_folder(folder: str) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


class EventStore:
    """The append-only log. Usable from Python; the CLI is a thin layer over it.

    `readonly=True` opens the file so that nothing can be written to it (the reading
    commands and `verify`). Opening checks the log's schema against the tracker's and
    raises LogProblem when they differ; `check=False` leaves that to the caller
    (`verify`, which reports every problem). A new database gets the schema; an
    existing one never has it re-created, only an older tracker's log upgraded.

    `tuning` chooses between the fast and the plain ways of preparing and storing
    events (and of importing a file, unless `import_file` is given its own); by
    default the choice is made by size. Every choice stores the same rows.
    """

    #: True for a log shared by a team on a server (tracker.log.postgres), whose
    #: projections live in a local read model rather than beside the log.
    shared = False
    #: The query for an event's amendments (`amendments_of`), in this backend's SQL.
    _amending = _AMENDING

    def __init__(
        self,
        path: str | os.PathLike = DEFAULT_DB,
        *,
        readonly: bool = False,
        check: bool = True,
        tuning: Tuning = AUTOMATIC,
    ):
        self.path = path
        self.readonly = readonly
        self.tuning = tuning
        self.conn = connect_readonly(path) if readonly else connect(path)
        try:
            self._open(check)
        except BaseException:
            self.conn.close()
            raise

    def _open(self, check: bool) -> None:
        conn = self.conn
        if not self.readonly and not _has_log(conn) and not _tracker_tables(conn):
            self._create()
        problems = schema_problems(conn)
        if problems and check:
            raise LogProblem(problems)
        if not self.readonly and not problems:
            if is_older_log(conn):
                self._migrate([LOG_TRIGGERS["events_no_replace"]], is_older_log)
            conn.executescript(INDEXES)

    def _create(self) -> None:
        """Give a new database the log's schema (another process may be doing the same)."""
        self._migrate([LOG_TABLE, *LOG_TRIGGERS.values()], lambda conn: not _has_log(conn))

    def _migrate(self, statements: list[str], still_needed) -> None:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if still_needed(conn):
                for statement in statements:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            rollback(conn)
            raise

    def close(self) -> None:
        self.conn.close()

    def has_log(self) -> bool:
        """True when the database holds an `events` table (whatever its state)."""
        return _has_log(self.conn)

    def schema_problems(self) -> list[str]:
        """What differs between this log's schema and the tracker's; [] when none."""
        return schema_problems(self.conn)

    def _begin_write(self) -> None:
        """Start the transaction an append runs in, holding the log's write lock."""
        self.conn.execute("BEGIN IMMEDIATE")

    def _rollback(self) -> None:
        rollback(self.conn)

    def _insert(self, rows: Iterable[tuple]) -> None:
        """Insert chained rows (the columns of `_INSERT`, in order) in the open transaction."""
        self.conn.executemany(self._INSERT, rows)

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def private_copy(self) -> EventStore:
        """A store over a copy of this database in memory: whatever is done to it stays there."""
        copy = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self.conn.backup(copy)
        store = object.__new__(EventStore)
        store.path, store.readonly, store.conn, store.tuning = ":memory:", False, copy, self.tuning
        return store

    def scratch_copy(self, *, log_only: bool = False) -> EventStore:
        """A store over a copy of this database in a temporary file, deleted when the store
        is closed: whatever is done to it stays there, and however large the log, memory
        holds only SQLite's page cache. `log_only` copies the log's rows alone, the part a
        fresh replay needs (at a million events, a quarter of a replayed file)."""
        import tempfile

        folder = tempfile.mkdtemp(prefix="tracker-scratch-")
        path = os.path.join(folder, "copy.db")
        conn = connect_scratch(path)
        try:
            if log_only:
                conn.execute(LOG_TABLE)  # no triggers: nothing but this copy ever writes here
                conn.executescript(INDEXES)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                rows = self.conn.execute("SELECT * FROM events ORDER BY seq")
                marks = ", ".join("?" * len(rows.description))
                conn.execute("BEGIN")
                while batch := rows.fetchmany(5000):
                    conn.executemany(f"INSERT INTO events VALUES ({marks})", batch)
                conn.execute("COMMIT")
            else:
                self.conn.backup(conn)
        except BaseException:
            conn.close()
            _remove_folder(folder)
            raise
        store = object.__new__(_ScratchStore)
        store.path, store.readonly, store.conn, store.tuning, store.folder = path, False, conn, self.tuning, folder
        return store

    def use_private_copy(self) -> None:
        """From now on, read a copy of the database in memory, never the file.

        For a reading command that finds the projections behind the log: the copy is
        brought up to date and answers, and the file stays as it was.
        """
        copy = self.private_copy()
        self.conn.close()
        self.conn = copy.conn

    # Reading -------------------------------------------------------------

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM events").fetchone()[0]

    def head(self) -> tuple[int, str, str | None]:
        """(seq, hash, recorded_at) of the last event, or (0, GENESIS, None) for an empty log."""
        row = self.conn.execute(
            "SELECT seq, hash, recorded_at FROM events ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return tuple(row) if row else (0, GENESIS, None)  # type: ignore[return-value]

    _stored = staticmethod(_stored)

    _COLUMNS = "seq, recorded_at, prev_hash, hash, body"

    def get(self, event_id: str) -> StoredEvent | None:
        row = self.conn.execute(
            f"SELECT {self._COLUMNS} FROM events WHERE id = ?", (event_id,)
        ).fetchone()
        return self._stored(row) if row else None

    def amendments_of(self, event_id: str, *, up_to_seq: int | None = None) -> list[StoredEvent]:
        """Corrections and retractions of an event, and retractions of those corrections, in log order."""
        return amendments_of(self.conn, event_id, up_to_seq=up_to_seq, query=self._amending)

    def iter_events(self, *, after_seq: int = 0, known_at: str | None = None) -> Iterator[StoredEvent]:
        """Every event in log order, optionally only those recorded by `known_at`."""
        sql = f"SELECT {self._COLUMNS} FROM events WHERE seq > ?"
        params: list[Any] = [after_seq]
        if known_at is not None:
            sql += " AND recorded_at <= ?"
            params.append(known_at)
        for row in self.conn.execute(sql + " ORDER BY seq", params):
            yield self._stored(row)

    def export_lines(self) -> Iterator[bytes]:
        """The log as JSONL lines, in seq order; importing them into an empty log restores it."""
        for event in self.iter_events():
            yield canonical_json(event.exported()) + b"\n"

    # Writing -------------------------------------------------------------

    def append(
        self,
        items: Iterable[dict[str, Any] | tuple[int | None, dict[str, Any]] | PreparedBatch],
        *,
        progress: Callable[[int], None] | None = None,
        recorded_at: str | None = None,
        tuning: Tuning | None = None,
    ) -> AppendResult:
        """Validate and append events, all or nothing.

        `items` are event dicts, (line number, dict) pairs so errors can name the
        line, or batches already prepared (`prepare_batch`); `tuning` (by default
        the store's) says how the rest are prepared, and how each batch is stored.
        An event whose id is already logged with the same content is skipped; the
        same id with other content is an error. Events carrying the export's log fields are restored
        exactly (their hashes must check out and continue the chain). Raises
        LogError; on error nothing is written.
        """
        conn = self.conn
        tuning = self.tuning if tuning is None else tuning
        result = AppendResult()
        self._begin_write()
        collecting = gc.isenabled()
        gc.disable()  # see below
        try:
            seq, head_hash, head_time = self.head()
            now = max(recorded_at or utc_now(), head_time or "")
            chain = (seq, head_hash, head_time or "")
            uncollected = 0
            for batch in _batches(items, tuning):
                # Earlier batches are already in the table (same transaction), so only
                # this batch needs keeping in memory: the import streams.
                chain = self._append_batch(batch, chain, now, result, tuning.store_at_once)
                # A batch makes thousands of objects but no reference cycles; the cycle
                # collector's automatic passes over them would cost more than storing,
                # so it runs by hand, every so many events.
                uncollected += len(batch.ids)
                if uncollected >= COLLECT_EVERY:
                    gc.collect()
                    uncollected = 0
                if progress:
                    progress(len(batch.ids))
            conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        finally:
            if collecting:
                gc.enable()
        result.last_seq = chain[0]
        return result

    _INSERT = (
        "INSERT INTO events (seq, id, kind, occurred, occurred_start, occurred_end,"
        " recorded_at, body, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)"
    )

    def _append_batch(
        self, batch: PreparedBatch, chain: tuple[int, str, str], now: str, result: AppendResult, at_once: bool
    ) -> tuple[int, str, str]:
        """Chain and insert one prepared batch; (seq, hash, recorded_at) of the log's new head.

        `at_once` (a Tuning's `store_at_once`) allows the fast path, where the batch does.
        """
        if not batch.ids:
            return chain
        bodies = batch.bodies.split("\n")
        stamps = [stamp or now for stamp in batch.recorded_at]
        if not at_once or batch.restores or stamps[0] < chain[2] or stamps != sorted(stamps):
            return self._append_checked(batch, bodies, chain, now, result)
        ids = batch.ids
        where = dict(zip(ids, range(len(ids))))
        if len(where) < len(ids) or self._known(ids):
            return self._append_checked(batch, bodies, chain, now, result)
        # Every event is new, in time order, and nothing is restored: only the
        # amendments need checking one by one; the rest is a hash and a row each.
        kinds = batch.kinds
        amending: dict[str, list[str]] = {}  # target → bodies of this batch's amendments of it
        amendments = (
            [position for position, kind in enumerate(kinds) if kind in AMENDMENT_KINDS]
            if any(kind in kinds for kind in AMENDMENT_KINDS)
            else ()
        )
        for position in amendments:
            amendment = orjson.loads(bodies[position])
            target = amendment["target"]
            earlier = where.get(target, position)
            pending = {target: bodies[earlier]} if earlier < position else {}
            self._check_amendment(amendment, batch.line(position), pending, amending)
            amending.setdefault(target, []).append(bodies[position])
        seq, head_hash, _ = chain
        sha256 = hashlib.sha256
        digest = head_hash
        digests = [
            digest := sha256(f"{digest}\n{stamp}\n{body}".encode()).hexdigest()
            for stamp, body in zip(stamps, bodies)
        ]
        self._insert(
            zip(
                range(seq + 1, seq + len(ids) + 1),
                ids,
                kinds,
                batch.occurred,
                batch.starts,
                batch.ends,
                stamps,
                bodies,
                [head_hash, *digests[:-1]],
                digests,
            ),
        )
        result.added += len(ids)
        result.last_id = ids[-1]
        return seq + len(ids), digests[-1], stamps[-1]

    def _append_checked(
        self, batch: PreparedBatch, bodies: list[str], chain: tuple[int, str, str], now: str, result: AppendResult
    ) -> tuple[int, str, str]:
        """`_append_batch` event by event, for a batch that repeats ids, restores or goes back in time.

        Each event is checked in order, so the error raised is the first bad line's.
        This is the plain path, which the fast one must agree with; a Tuning with
        `store_at_once=False` sends every batch here.
        """
        seq, head_hash, last_time = chain
        ids, kinds, bodies, stamps, restores = (
            batch.ids, batch.kinds, bodies, batch.recorded_at, batch.restores
        )
        occurred, starts, ends = batch.occurred, batch.starts, batch.ends
        known = self._known(ids)
        pending: dict[str, str] = {}  # id → body of the events this batch adds
        amending: dict[str, list[str]] = {}  # target → bodies of this batch's amendments of it
        rows = []
        sha256 = hashlib.sha256
        for position, event_id in enumerate(ids):
            body = bodies[position]
            if event_id in pending or event_id in known:
                if (pending.get(event_id) or known[event_id]) != body:
                    raise LogError(
                        f"id '{event_id}' is already in the log with different content",
                        batch.line(position),
                    )
                result.skipped += 1
                continue
            kind = kinds[position]
            amendment = None
            if kind in AMENDMENT_KINDS:
                amendment = orjson.loads(body)
                self._check_amendment(amendment, batch.line(position), pending, amending)
            stamp = stamps[position] or now
            # chain_hash, inlined: this is the hot loop of an import
            digest = sha256(f"{head_hash}\n{stamp}\n{body}".encode()).hexdigest()
            if restores and position in restores:
                check_restore(restores[position], seq, head_hash, digest, batch.line(position))
            if stamp < last_time:
                raise LogError(
                    f"recorded_at {stamp} is earlier than the log's last event "
                    f"({last_time}); the log only moves forward in time",
                    batch.line(position),
                )
            seq += 1
            rows.append((
                seq,
                event_id,
                kind,
                occurred[position],
                starts[position],
                ends[position],
                stamp,
                body,
                head_hash,
                digest,
            ))
            head_hash, last_time = digest, stamp
            pending[event_id] = body
            if amendment is not None:
                amending.setdefault(amendment["target"], []).append(body)
            result.added += 1
            result.last_id = event_id
        self._insert(rows)
        return seq, head_hash, last_time

    def _known(self, ids: list[str]) -> dict[str, str]:
        """The bodies of those of `ids` already in the log (usually none).

        Asks the id index alone first: reading bodies only for the ids found keeps
        this cheap when, as in most imports, nothing is found.
        """
        found: list[str] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.extend(
                event_id
                for (event_id,) in self.conn.execute(f"SELECT id FROM events WHERE id IN ({marks})", chunk)
            )
        bodies: dict[str, str] = {}
        for event_id in found:
            (body,) = self.conn.execute("SELECT body FROM events WHERE id = ?", (event_id,)).fetchone()
            bodies[event_id] = body if isinstance(body, str) else body.decode()
        return bodies

    def _lookup(self, event_id: str, pending: dict[str, str]) -> dict[str, Any] | None:
        if event_id in pending:
            return orjson.loads(pending[event_id])
        event = self.get(event_id)
        return event.record if event else None

    def _check_amendment(
        self, record: dict, line: int | None, pending: dict[str, str], amending: dict[str, list[str]]
    ) -> None:
        """Refuse an amendment the rules of `amendment_problem` refuse.

        `pending` holds this batch's events so far (not yet in the table) by id, and
        `amending` its amendments by target.
        """
        target_id = record["target"]
        target = self._lookup(target_id, pending)
        if target is None:
            raise LogError(f"field 'target': no event with id '{target_id}' in the log", line)
        history = [
            Amendment.from_record(e.record, e.seq) for e in self.amendments_of(target_id)
        ] + [Amendment.from_record(orjson.loads(body), None) for body in amending.get(target_id, ())]
        problem = amendment_problem(record, target, history)
        if problem:
            raise LogError(problem, line)


class _ScratchStore(EventStore):
    """A store over a temporary copy (`EventStore.scratch_copy`): closing it deletes the copy."""

    folder: str

    def close(self) -> None:
        self.conn.close()
        _remove_folder(self.folder)

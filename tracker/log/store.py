"""The event log: an append-only, hash-chained `events` table in SQLite.

Nothing here edits or deletes a row. Triggers refuse UPDATE and DELETE even to
someone with a SQL shell; each row's hash covers the previous row's hash, so a row
changed, removed or moved behind the tracker's back is found by `verify`. Appends
run inside `BEGIN IMMEDIATE`, so concurrent writers queue rather than fork the chain.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import os
import re
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from pydantic import ValidationError

from events.dates import iso_span
from events.identity import canonical_json, content_id, identify_all
from events.models import (
    AMENDMENT_KINDS,
    MODELS,
    explain,
    key_ordered_kinds,
    to_record,
    validate_event,
    validate_records,
)

from tracker.log.amendments import Amendment, apply_corrections

GENESIS = "0" * 64
DEFAULT_DB = "tracker.db"
#: Fields that exist only in the log, not in the event: `export` adds them, `import` checks them.
LOG_FIELDS = ("seq", "recorded_at", "prev_hash", "hash")
BATCH = 2000
#: Events appended between two passes of the cycle collector, which is off meanwhile.
COLLECT_EVERY = 200_000

#: The log's own schema, created in a new database and never again: a trigger dropped or
#: replaced later is reported (`schema_problems`), not quietly put back.
LOG_TABLE = """CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    occurred TEXT,
    occurred_start TEXT,
    occurred_end TEXT,
    recorded_at TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)"""
#: The triggers that make the table append-only, by name. UPDATE and DELETE are refused;
#: so is an INSERT that is not at the end with a new id, which is how `INSERT OR REPLACE`
#: would otherwise delete a row without firing the DELETE trigger.
LOG_TRIGGERS = {
    "events_no_update": """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events is append-only: UPDATE is not allowed');
END""",
    "events_no_delete": """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events is append-only: DELETE is not allowed');
END""",
    "events_no_replace": """CREATE TRIGGER events_no_replace BEFORE INSERT ON events
WHEN NEW.seq <= (SELECT max(seq) FROM events) OR EXISTS (SELECT 1 FROM events WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'events is append-only: a row goes after the last one, with a new id (REPLACE is not allowed)');
END""",
}
SCHEMA = ";\n".join([LOG_TABLE, *LOG_TRIGGERS.values()]) + ";\n"
#: Indexes that only make reading faster: put back when missing, and never a problem.
INDEXES = """
CREATE INDEX IF NOT EXISTS events_amendment_target
    ON events (json_extract(body, '$.target'))
    WHERE kind IN ('correction', 'retraction');
"""
#: `PRAGMA user_version` of a log with this schema. Version 0 is a log made before
#: events_no_replace existed: with its first two triggers intact, a write adds the third.
SCHEMA_VERSION = 1
TRIGGERS = tuple(LOG_TRIGGERS)
#: Tables only the tracker makes: a database holding them has been a log, even if `events` is gone.
TRACKER_TABLES = ("replay_state", "effective_events")


class LogProblem(Exception):
    """The database is not the log as the tracker left it: reported, never repaired.

    Raised on opening (a trigger missing or altered, the table gone or changed) and by
    the replay engine (a log shorter than its projections). `tracker verify` reports
    every problem; other commands refuse to go on.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(problems[0])


def _normal(sql: str | None) -> str:
    return " ".join((sql or "").split())


@lru_cache(maxsize=1)
def _expected_schema() -> dict[str, tuple[str, str]]:
    """name → (type, normalised SQL) of every object SCHEMA makes, as SQLite stores it."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    rows = conn.execute("SELECT name, type, sql FROM sqlite_master").fetchall()
    conn.close()
    return {name: (type_, _normal(sql)) for name, type_, sql in rows}


def schema_problems(conn: sqlite3.Connection) -> list[str]:
    """What differs between this database's log and the log the tracker makes; [] when none.

    The table and each trigger are compared as SQLite stores their SQL, so a trigger
    dropped, replaced by one that does nothing, or joined by another on `events`, and a
    column added, all show. A log of schema version 0 lacking only `events_no_replace`
    is an older tracker's, not a problem for reading (`is_older_log`).
    """
    expected = _expected_schema()
    found = {
        name: (type_, _normal(sql))
        for name, type_, sql in conn.execute(
            "SELECT name, type, sql FROM sqlite_master WHERE tbl_name = 'events' AND type IN ('table', 'trigger')"
        )
    }
    if "events" not in found:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables & set(TRACKER_TABLES):
            return ["the events table is missing, though the projections built from it are here: the log was dropped"]
        return ["there is no events table: this is not a tracker database"]
    problems = []
    if found["events"] != expected["events"]:
        problems.append("the events table is not as the tracker made it: its columns or constraints were changed")
    for name in TRIGGERS:
        if name not in found:
            if name == "events_no_replace" and is_older_log(conn, found):
                continue
            problems.append(f"trigger {name} is missing: the log is no longer append-only")
        elif found[name] != expected[name]:
            problems.append(f"trigger {name} is not the tracker's: it was replaced, and may not protect the log")
    for name, (type_, _) in sorted(found.items()):
        if type_ == "trigger" and name not in TRIGGERS:
            problems.append(f"trigger {name} on events is not the tracker's: nothing but the tracker may act on the log")
    return problems


def is_older_log(conn: sqlite3.Connection, found: dict | None = None) -> bool:
    """True for a log an older tracker made: schema version 0, its two triggers intact."""
    if conn.execute("PRAGMA user_version").fetchone()[0] != 0:
        return False
    expected = _expected_schema()
    if found is None:
        found = {
            name: (type_, _normal(sql))
            for name, type_, sql in conn.execute("SELECT name, type, sql FROM sqlite_master WHERE tbl_name = 'events'")
        }
    return "events_no_replace" not in found and all(
        found.get(name) == expected[name] for name in ("events", "events_no_update", "events_no_delete")
    )


class LogError(ValueError):
    """Bad input for the log: says where (file line, when there is one) and what."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}" if line is not None else message)


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


class Prepared(NamedTuple):
    """An event validated and written down canonically, ready to be chained and stored.

    Preparing needs no database, so a large import prepares lines in another process.
    """

    line: int | None
    id: str
    kind: str
    occurred: str | None
    occurred_start: str | None
    occurred_end: str | None
    body: bytes
    log_fields: dict[str, Any]


def prepare(item: dict[str, Any] | tuple[int | None, dict[str, Any]]) -> Prepared:
    """Validate one event (a dict, or a (line, dict) pair); raise LogError naming the line."""
    line, data = item if isinstance(item, tuple) else (None, item)
    if not isinstance(data, dict):
        raise LogError("an event must be a JSON object", line)
    log_fields = {key: data[key] for key in LOG_FIELDS if key in data}
    if log_fields:
        data = {key: value for key, value in data.items() if key not in LOG_FIELDS}
        if "recorded_at" in log_fields:
            try:
                _valid_timestamp(log_fields["recorded_at"])
            except ValueError as e:
                raise LogError(f"field 'recorded_at': {e}", line) from None
        if "hash" in log_fields and "recorded_at" not in log_fields:
            raise LogError("field 'recorded_at' is required to restore an exported event", line)
    try:
        event = validate_event(data)
    except ValidationError as e:
        raise LogError(explain(e), line) from None
    record = to_record(event)
    if "id" not in record:
        record["id"] = content_id(record)
    occurred = record.get("occurred")
    start, end = iso_span(occurred) if occurred else (None, None)
    return Prepared(
        line,
        record["id"],
        record["kind"],
        occurred,
        start,
        end,
        canonical_json(record),
        log_fields,
    )


class PreparedBatch(NamedTuple):
    """Events prepared as by `prepare`, column by column, ready to be chained and stored.

    Columns rather than one tuple per event: a large import's workers send these to
    the process that stores them, and a few lists pickle and unpickle far faster than
    thousands of small objects.
    """

    lines: list[int | None]  # line numbers (in the file, or within a block: see `first_line`)
    ids: list[str]
    kinds: list[str]
    occurred: list[str | None]
    starts: list[str | None]
    ends: list[str | None]
    # The canonical JSON of each event, one a line: text is the form the table stores,
    # and one string crosses between processes far faster than thousands.
    bodies: str
    recorded_at: list[str | None]  # as given in the input (an exported file), else None
    restores: dict[int, dict[str, Any]]  # position → log fields of an event with a hash to restore
    first_line: int = 0  # added to `lines`: a worker numbers the lines of its block from 1

    def line(self, position: int) -> int | None:
        """The file line of the event at `position`, for error messages."""
        line = self.lines[position]
        return line + self.first_line if line is not None else None


#: Fewer events than this are prepared one by one: the batch validator covers every
#: kind and takes longer to build (~30 ms) than `tracker log` takes to validate one.
TOGETHER_FROM = 32


class _Unfit(Exception):
    """The batch needs the one-by-one path (which finds and names the bad line)."""


def prepare_batch(items: list[tuple[int | None, Any]]) -> PreparedBatch:
    """Prepare (line, event) pairs as `prepare` does each; raise LogError naming the first bad line.

    Valid events, by far the common case, are validated in one call into
    pydantic-core; only a batch that fails is prepared one event at a time, so that
    the error is exactly the one `prepare` gives for the first bad line.
    """
    if len(items) >= TOGETHER_FROM:
        try:
            return _prepare_together(items)
        except Exception:  # any problem at all: the one-by-one path decides, and explains
            pass
    prepared = [prepare(item) for item in items]
    restores = {
        position: p.log_fields
        for position, p in enumerate(prepared)
        if "hash" in p.log_fields
    }
    return PreparedBatch(
        [p.line for p in prepared],
        [p.id for p in prepared],
        [p.kind for p in prepared],
        [p.occurred for p in prepared],
        [p.occurred_start for p in prepared],
        [p.occurred_end for p in prepared],
        _text([p.body for p in prepared]),
        [p.log_fields.get("recorded_at") for p in prepared],
        restores,
    )


def _prepare_together(items: list[tuple[int | None, Any]]) -> PreparedBatch:
    """`prepare_batch` for a batch with no bad event; raises on any problem, without explaining it."""
    records = validate_records([data for _, data in items], passthrough=LOG_FIELDS)
    stamps = [record.pop("recorded_at", _ABSENT) for record in records]
    restores: dict[int, dict[str, Any]] = {}
    exported = [p for p, record in enumerate(records) if "hash" in record or "prev_hash" in record or "seq" in record]
    for position in exported:
        # An exported event: its log fields are taken out, and it is restored if it has its hash.
        if stamps[position] is _ABSENT:
            raise _Unfit  # the one-by-one path says recorded_at is required
        record = records[position]
        restore = {"recorded_at": stamps[position], **{key: record.pop(key) for key in _RESTORE_FIELDS if key in record}}
        if "hash" in restore:
            restores[position] = restore
    _valid_timestamps([stamp for stamp in stamps if stamp is not _ABSENT])
    ids, bodies = identify_all(records, key_ordered_kinds())
    occurred = [record.get("occurred") for record in records]
    spans = [iso_span(when) if when else _NO_SPAN for when in occurred]
    return PreparedBatch(
        [line for line, _ in items],
        ids,
        [record["kind"] for record in records],
        occurred,
        [start for start, _ in spans],
        [end for _, end in spans],
        _text(bodies),
        [None if stamp is _ABSENT else stamp for stamp in stamps],
        restores,
    )


def _text(bodies: list[bytes]) -> str:
    """Canonical JSON bodies as one text, a line each (JSON escapes any newline within)."""
    return b"\n".join(bodies).decode()


def warm_up() -> None:
    """Build the validators now: done once before forking workers, they inherit them."""
    _prepare_together([])


_ABSENT = object()
#: The log fields an exported event carries besides recorded_at: it is being restored.
_RESTORE_FIELDS = tuple(key for key in LOG_FIELDS if key != "recorded_at")
_NO_SPAN = (None, None)


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_hash(prev_hash: str, recorded_at: str, body: bytes) -> str:
    """SHA-256 over the previous hash and the canonical JSON of the event with its recorded_at.

    `body` is the event's canonical JSON without recorded_at; splicing recorded_at in
    as its own sorted key would need a second serialisation, so the hashed bytes are
    defined as: prev_hash, a newline, recorded_at, a newline, body.
    """
    return hashlib.sha256(
        b"%s\n%s\n%s" % (prev_hash.encode(), recorded_at.encode(), body)
    ).hexdigest()


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", re.ASCII)


def _valid_timestamp(value: Any) -> str:
    """recorded_at must be exactly the log's own format, so that text order is time order."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise ValueError(
            f"recorded_at {value!r} is not UTC ISO 8601 with microseconds (YYYY-MM-DDTHH:MM:SS.ffffffZ)"
        )
    try:
        dt.datetime.fromisoformat(value[:-1])
    except ValueError:
        raise ValueError(f"recorded_at {value!r} is not a real moment") from None
    return value


#: Timestamps one a line, each a time of day that exists: ASCII digits only, 27 characters.
_TIMESTAMPS = re.compile(r"(?:\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z\n)*", re.ASCII)


def _valid_timestamps(stamps: list[Any]) -> None:
    """`_valid_timestamp` for many at once, without saying which is bad: raises ValueError.

    One pattern over all of them checks the format and the time of day; each distinct
    day is then checked once to be a real date. That accepts exactly what
    `_valid_timestamp` accepts.
    """
    if not stamps:
        return
    if not all(type(stamp) is str for stamp in stamps):
        raise ValueError("recorded_at must be text")
    text = "\n".join(stamps) + "\n"
    if len(text) != 28 * len(stamps) or not _TIMESTAMPS.fullmatch(text):  # (a newline inside one, too)
        raise ValueError("a recorded_at is not in the log's format")
    for day in {stamp[:10] for stamp in stamps}:
        _real_day(day)


@lru_cache(maxsize=4096)
def _real_day(day: str) -> None:
    dt.date.fromisoformat(day)


def resolve_db_path(db: str | os.PathLike | None) -> Path:
    """--db, else $TRACKER_DB, else ./tracker.db."""
    return Path(db or os.environ.get("TRACKER_DB") or DEFAULT_DB)


class SettingError(ValueError):
    """An environment variable the tracker reads holds something it cannot use."""


def busy_timeout() -> float:
    """Seconds a write waits for another writer's lock: $TRACKER_BUSY_TIMEOUT, else 60."""
    text = os.environ.get("TRACKER_BUSY_TIMEOUT") or "60"
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86400:  # (nan fails too)
        raise SettingError(f"TRACKER_BUSY_TIMEOUT is {text!r}: give the seconds to wait for a busy database, 0 to 86400")
    return seconds


def connect(path: str | os.PathLike) -> sqlite3.Connection:
    """A connection with the log's pragmas: WAL, a busy timeout, and a generous page cache."""
    wait = busy_timeout()
    conn = sqlite3.connect(str(path), timeout=wait, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if mode != "wal" and str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: content ids still land all over the index
    return conn


def connect_readonly(path: str | os.PathLike) -> sqlite3.Connection:
    """A connection that cannot write to the database file, for commands that only read.

    A log in WAL mode is read through its shared-memory file, which SQLite creates
    beside the database if need be; on a read-only file system it cannot, and nobody
    can write there either, so the file is then opened as immutable.
    """
    location = Path(path).resolve()
    if not location.is_file():
        raise sqlite3.OperationalError(f"no database file at {path}")
    uri = f"file:{urllib.parse.quote(str(location))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout(), isolation_level=None, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        conn.close()
        if not _read_only_file_system(location):
            raise
        conn = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    conn.execute("PRAGMA cache_size = -65536")
    return conn


def _read_only_file_system(path: Path) -> bool:
    return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY) or not os.access(path.parent, os.W_OK)


def _has_log(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone() is not None


def _tracker_tables(conn: sqlite3.Connection) -> bool:
    marks = ",".join("?" * len(TRACKER_TABLES))
    return conn.execute(f"SELECT 1 FROM sqlite_master WHERE name IN ({marks})", TRACKER_TABLES).fetchone() is not None


class EventStore:
    """The append-only log. Usable from Python; the CLI is a thin layer over it.

    `readonly=True` opens the file so that nothing can be written to it (the reading
    commands and `verify`). Opening checks the log's schema against the tracker's and
    raises LogProblem when they differ; `check=False` leaves that to the caller
    (`verify`, which reports every problem). A new database gets the schema; an
    existing one never has it re-created, only an older tracker's log upgraded.
    """

    def __init__(self, path: str | os.PathLike = DEFAULT_DB, *, readonly: bool = False, check: bool = True):
        self.path = path
        self.readonly = readonly
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

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def private_copy(self) -> EventStore:
        """A store over a copy of this database in memory: whatever is done to it stays there."""
        copy = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self.conn.backup(copy)
        store = object.__new__(EventStore)
        store.path, store.readonly, store.conn = ":memory:", False, copy
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

    def _stored(self, row: tuple) -> StoredEvent:
        seq, recorded_at, prev_hash, hash_, body = row
        return StoredEvent(seq, recorded_at, prev_hash, hash_, orjson.loads(body))

    _COLUMNS = "seq, recorded_at, prev_hash, hash, body"

    def get(self, event_id: str) -> StoredEvent | None:
        row = self.conn.execute(
            f"SELECT {self._COLUMNS} FROM events WHERE id = ?", (event_id,)
        ).fetchone()
        return self._stored(row) if row else None

    def _amending(self, target_ids: list[str]) -> list[StoredEvent]:
        marks = ",".join("?" * len(target_ids))
        rows = self.conn.execute(
            f"SELECT {self._COLUMNS} FROM events WHERE kind IN ('correction', 'retraction')"
            f" AND json_extract(body, '$.target') IN ({marks})",
            target_ids,
        ).fetchall()
        return [self._stored(row) for row in rows]

    def amendments_of(self, event_id: str) -> list[StoredEvent]:
        """Corrections and retractions of an event, and retractions of those corrections, in log order."""
        direct = self._amending([event_id])
        corrections = [a.id for a in direct if a.kind == "correction"]
        indirect = self._amending(corrections) if corrections else []
        return sorted(direct + indirect, key=lambda e: e.seq)

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
    ) -> AppendResult:
        """Validate and append events, all or nothing.

        `items` are event dicts, (line number, dict) pairs so errors can name the
        line, or batches already prepared (`prepare_batch`). An event whose id is
        already logged with the same content is skipped; the same id with other
        content is an error. Events carrying the export's log fields are restored
        exactly (their hashes must check out and continue the chain). Raises
        LogError; on error nothing is written.
        """
        conn = self.conn
        result = AppendResult()
        conn.execute("BEGIN IMMEDIATE")
        collecting = gc.isenabled()
        gc.disable()  # see below
        try:
            seq, head_hash, head_time = self.head()
            now = max(recorded_at or utc_now(), head_time or "")
            chain = (seq, head_hash, head_time or "")
            uncollected = 0
            for batch in _batches(items):
                # Earlier batches are already in the table (same transaction), so only
                # this batch needs keeping in memory: the import streams.
                chain = self._append_batch(batch, chain, now, result)
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
            rollback(conn)
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
        self, batch: PreparedBatch, chain: tuple[int, str, str], now: str, result: AppendResult
    ) -> tuple[int, str, str]:
        """Chain and insert one prepared batch; (seq, hash, recorded_at) of the log's new head."""
        if not batch.ids:
            return chain
        bodies = batch.bodies.split("\n")
        stamps = [stamp or now for stamp in batch.recorded_at]
        if batch.restores or stamps[0] < chain[2] or stamps != sorted(stamps):
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
        self.conn.executemany(
            self._INSERT,
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
                self._check_restore(restores[position], seq, head_hash, digest, batch.line(position))
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
        self.conn.executemany(self._INSERT, rows)
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

    def _check_restore(self, log_fields, seq, head_hash, digest, line) -> None:
        if "seq" in log_fields and log_fields["seq"] != seq + 1:
            raise LogError(
                f"seq {log_fields['seq']} does not follow the log's last seq {seq}; "
                "an exported log restores only into the log it continues (or an empty one)",
                line,
            )
        if log_fields.get("prev_hash") != head_hash:
            raise LogError(
                "prev_hash does not continue this log's chain; an exported log restores only "
                "into the log it continues (or an empty one); drop the seq, recorded_at, "
                "prev_hash and hash fields to append its events as new ones",
                line,
            )
        if log_fields["hash"] != digest:
            raise LogError("hash does not match the event's content: the file was altered", line)

    def _lookup(self, event_id: str, pending: dict[str, str]) -> dict[str, Any] | None:
        if event_id in pending:
            return orjson.loads(pending[event_id])
        event = self.get(event_id)
        return event.record if event else None

    def _check_amendment(
        self, record: dict, line: int | None, pending: dict[str, str], amending: dict[str, list[str]]
    ) -> None:
        """A correction must leave its target a valid event; neither may hit a missing event.

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
        retracted = {a.target for a in history if a.kind == "retraction"}
        if target["kind"] == "retraction":
            raise LogError(f"'{target_id}' is a retraction; a retraction cannot be amended", line)
        if target["kind"] == "correction" and record["kind"] == "correction":
            raise LogError(
                f"'{target_id}' is a correction; correct its target instead, "
                "or retract it and record a new one",
                line,
            )
        if target_id in retracted:
            raise LogError(f"'{target_id}' was already retracted", line)
        if record["kind"] == "correction":
            live = [a for a in history if a.kind == "correction" and a.id not in retracted]
            corrected = apply_corrections(target, [a.changes for a in live] + [record["changes"]])
            try:
                MODELS[target["kind"]].model_validate(corrected)
            except ValidationError as e:
                raise LogError(
                    f"the correction would make '{target_id}' invalid: {explain(e)}", line
                ) from None


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already done so.

    A full disk or an I/O error can end the transaction inside SQLite; rolling back
    again would raise "no transaction is active" and hide the real cause.
    """
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _batches(items: Iterable[Any]) -> Iterator[PreparedBatch]:
    """Prepared batches of up to BATCH events, in order, from events or batches already prepared."""
    waiting: list[tuple[int | None, Any]] = []
    for item in items:
        if isinstance(item, PreparedBatch):
            if waiting:
                yield prepare_batch(waiting)
                waiting = []
            yield item
            continue
        waiting.append(item if isinstance(item, tuple) else (None, item))
        if len(waiting) == BATCH:
            yield prepare_batch(waiting)
            waiting = []
    if waiting:
        yield prepare_batch(waiting)

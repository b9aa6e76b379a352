"""The log on a PostgreSQL server, for a team sharing one record (DESIGN §9).

The same `events` table (the same columns, the same bytes in `body`, the same chain) and
the same EventStore, with four things done the server's way: triggers written in
PL/pgSQL refuse UPDATE, DELETE and TRUNCATE; an append takes a transaction-scoped
advisory lock (`pg_advisory_xact_lock`) before it reads the log's head, so writers on many
machines queue and the chain never forks (readers are not blocked); rows are stored with
`COPY`; and a query that reads the whole log in seq order (verify, export, the read
model's catch-up) streams through a server-side cursor, so memory stays flat at any size.
The schema check reads the server's catalogue, so a trigger dropped, disabled or
replaced, a rule added or a column changed is reported as on SQLite.

Who may write: an advisory lock needs no privilege on the table (`LOCK TABLE ... IN
EXCLUSIVE MODE` would need UPDATE, DELETE or TRUNCATE), so the role analysts write as
needs only SELECT and INSERT on `events` (`WRITER_GRANTS`). The owner can always disable
the triggers; `verify` says when the connecting role could change the log (`privilege_notes`).

A log is named by a libpq connection string: a `postgresql://` (or `postgres://`) URL, or
`key=value` pairs such as `host=/run/postgresql dbname=tracker`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from tracker.log.connection import _POSTGRES_URL
from tracker.log.schema import LogProblem
from tracker.log.store import EventStore
from tracker.log.tuning import AUTOMATIC, Tuning


#: Text columns compare byte by byte (`COLLATE "C"`), as SQLite's do: recorded_at and the
#: ISO dates are compared as strings, which a locale's collation would get wrong.
LOG_TABLE = """CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    kind TEXT COLLATE "C" NOT NULL,
    occurred TEXT COLLATE "C",
    occurred_start TEXT COLLATE "C",
    occurred_end TEXT COLLATE "C",
    recorded_at TEXT COLLATE "C" NOT NULL,
    body TEXT COLLATE "C" NOT NULL,
    prev_hash TEXT COLLATE "C" NOT NULL,
    hash TEXT COLLATE "C" NOT NULL
)"""
#: (name, type, nullable) of each column, in order, as information_schema reports them.
COLUMNS = [
    ("seq", "bigint", "NO"),
    ("id", "text", "NO"),
    ("kind", "text", "NO"),
    ("occurred", "text", "YES"),
    ("occurred_start", "text", "YES"),
    ("occurred_end", "text", "YES"),
    ("recorded_at", "text", "NO"),
    ("body", "text", "NO"),
    ("prev_hash", "text", "NO"),
    ("hash", "text", "NO"),
]
CONSTRAINTS = {("p", "PRIMARY KEY (seq)"), ("u", "UNIQUE (id)")}

GUARD = "events_append_only"
GUARD_BODY = """
BEGIN
    RAISE EXCEPTION 'events is append-only: % is not allowed', TG_OP;
END
"""
GUARD_FUNCTION = f"CREATE FUNCTION {GUARD}() RETURNS trigger LANGUAGE plpgsql AS $guard${GUARD_BODY}$guard$"
#: The triggers that make the table append-only: name → (pg_trigger.tgtype, definition).
#: tgtype bits: 1 row-level, 2 before, 8 delete, 16 update, 32 truncate.
LOG_TRIGGERS = {
    "events_no_update": (1 | 2 | 16, f"CREATE TRIGGER events_no_update BEFORE UPDATE ON events FOR EACH ROW EXECUTE FUNCTION {GUARD}()"),
    "events_no_delete": (1 | 2 | 8, f"CREATE TRIGGER events_no_delete BEFORE DELETE ON events FOR EACH ROW EXECUTE FUNCTION {GUARD}()"),
    "events_no_truncate": (2 | 32, f"CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION {GUARD}()"),
}
#: Only makes reading an event's amendments faster: never a problem when missing.
INDEX = (
    "CREATE INDEX IF NOT EXISTS events_amendment_target ON events ((body::jsonb ->> 'target'))"
    " WHERE kind IN ('correction', 'retraction')"
)
#: Key of the advisory lock held while one process gives a new database the schema.
SCHEMA_LOCK = 0x6B73696C6B  # "ksilk"
#: Key of the advisory lock every append holds for its transaction: one writer at a time.
APPEND_LOCK = 0x6B73696C6B01
#: What the role analysts write as is given (by the table's owner): reading and appending,
#: nothing else. {role} is a quoted identifier.
WRITER_GRANTS = "GRANT SELECT, INSERT ON events TO {role}"
#: Rows a server-side cursor fetches at a time.
STREAM_ROWS = 5000


def describe(dsn: str) -> str:
    """The connection string as it may be shown: any password left out."""
    if _POSTGRES_URL.match(dsn):
        return re.sub(r"(://[^:/@?]*):[^@/?]*@", r"\1:***@", re.sub(r"(password=)[^&]*", r"\1***", dsn))
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", dsn)


def server_fault(dsn: str, error: BaseException) -> str:
    """A psycopg error in one line, for a person: the server's first line of it, with
    the connection string's password masked wherever it might show."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    reason = lines[0] if lines else type(error).__name__
    if reason.startswith("connection failed:") and len(lines) > 1:  # libpq's own wording, then the cause
        reason = lines[-1]
    password = _password(dsn)
    if password:
        reason = reason.replace(password, "***")
    return reason


def _password(dsn: str) -> str | None:
    try:
        from psycopg.conninfo import conninfo_to_dict

        return conninfo_to_dict(dsn).get("password") or None
    except Exception:  # a string libpq cannot parse has failed to connect already
        return None


@lru_cache(maxsize=64)
def _dialect(sql: str) -> str:
    """The store's SQL (qmark parameters) with psycopg's %s placeholders."""
    return sql.replace("?", "%s")


_WHOLE_LOG = re.compile(r"\s*SELECT\b.*\bFROM events\b.*\bORDER BY seq\s*$", re.IGNORECASE | re.DOTALL)


def streams(sql: str) -> bool:
    """Does `sql` read the log in seq order with no bound on the rows (a walk of the whole log)?"""
    return bool(_WHOLE_LOG.match(sql)) and "LIMIT" not in sql.upper()


class Stream:
    """The rows of one query through a server-side (named) cursor, `STREAM_ROWS` at a time.

    A client-side cursor holds every row in memory before the first is read: a million
    events would take gigabytes. A named cursor lives in a transaction: one is begun for
    it when none is open, and ended when the rows run out (or reading stops).
    """

    def __init__(self, conn: "Connection", sql: str, params: list | None):
        self.conn, self.sql, self.params = conn, sql, params
        self._rows: Iterator[tuple] | None = None

    def __iter__(self) -> Iterator[tuple]:
        if self._rows is None:
            self._rows = self._read()
        return self._rows

    def fetchone(self) -> tuple | None:
        return next(iter(self), None)

    def fetchall(self) -> list[tuple]:
        return list(self)

    def _read(self) -> Iterator[tuple]:
        conn = self.conn
        began = not conn.in_transaction
        if began:
            conn.raw.execute("BEGIN")
        try:
            with conn.raw.cursor(name=f"tracker_stream_{id(self):x}") as cursor:
                cursor.itersize = STREAM_ROWS
                cursor.execute(self.sql, self.params)
                while rows := cursor.fetchmany(STREAM_ROWS):
                    yield from rows
            if began:
                conn.raw.execute("COMMIT")
        except BaseException:
            if began:
                conn.rollback_quietly()
            raise


class Connection:
    """A psycopg connection that takes the store's SQL as sqlite3 does: `?` parameters,
    `execute` returning a cursor, and transactions begun and ended by statements. A
    walk of the whole log in seq order (`streams`) comes back as a `Stream`."""

    def __init__(self, raw):
        self.raw = raw

    def execute(self, sql: str, params: Iterable[Any] | None = None):
        if streams(sql):
            return Stream(self, _dialect(sql), list(params) if params else None)
        return self.raw.execute(_dialect(sql), list(params) if params else None)

    def rollback_quietly(self) -> None:
        """Roll back the open transaction, if the connection still has one to roll back."""
        import psycopg

        if self.in_transaction:
            try:
                self.raw.execute("ROLLBACK")
            except psycopg.Error:
                pass

    def executemany(self, sql: str, rows: Iterable[tuple]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(_dialect(sql), rows)

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


def connect(dsn: str, *, readonly: bool = False) -> Connection:
    import psycopg

    raw = psycopg.connect(dsn, autocommit=True, application_name="tracker")
    if readonly:
        raw.execute("SET default_transaction_read_only = on")
    return Connection(raw)


def has_log(conn: Connection) -> bool:
    return conn.execute("SELECT to_regclass('events') IS NOT NULL").fetchone()[0]


def schema_problems(conn: Connection) -> list[str]:
    """What differs between this server's `events` and the log the tracker makes; [] when none.

    Read from the catalogue: the columns and constraints, each trigger's presence, timing,
    function and whether it is enabled (`ALTER TABLE ... DISABLE TRIGGER` shows), the
    function's source, and any trigger or rule on `events` that is not the tracker's.
    """
    if not has_log(conn):
        return ["there is no events table: this is not a tracker database"]
    problems = []
    columns = [
        tuple(row)
        for row in conn.execute(
            "SELECT column_name, data_type, is_nullable, collation_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'events' ORDER BY ordinal_position"
        )
    ]
    expected = [(*column, "C" if column[1] == "text" else None) for column in COLUMNS]
    constraints = {
        (contype, definition)
        for contype, definition in conn.execute(
            "SELECT contype, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'events'::regclass"
        )
    }
    if columns != expected or constraints != CONSTRAINTS:
        problems.append("the events table is not as the tracker made it: its columns or constraints were changed")
    found = {
        name: (tgtype, enabled, function, " ".join((source or "").split()), has_when, nargs)
        for name, tgtype, enabled, function, source, has_when, nargs in conn.execute(
            "SELECT t.tgname, t.tgtype, t.tgenabled, p.proname, p.prosrc, t.tgqual IS NOT NULL, t.tgnargs"
            " FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
            " WHERE t.tgrelid = 'events'::regclass AND NOT t.tgisinternal"
        )
    }
    guard = " ".join(GUARD_BODY.split())
    for name, (tgtype, _) in LOG_TRIGGERS.items():
        if name not in found:
            problems.append(f"trigger {name} is missing: the log is no longer append-only")
            continue
        type_, enabled, function, source, has_when, nargs = found[name]
        if (type_, function, source, has_when, nargs) != (tgtype, GUARD, guard, False, 0):
            problems.append(f"trigger {name} is not the tracker's: it was replaced, and may not protect the log")
        elif enabled not in ("O", "A"):
            problems.append(f"trigger {name} is disabled: the log is no longer append-only")
    for name in sorted(set(found) - set(LOG_TRIGGERS)):
        problems.append(f"trigger {name} on events is not the tracker's: nothing but the tracker may act on the log")
    for (name,) in conn.execute("SELECT rulename FROM pg_rewrite WHERE ev_class = 'events'::regclass"):
        problems.append(f"rule {name} on events is not the tracker's: nothing but the tracker may act on the log")
    return problems


class PostgresEventStore(EventStore):
    """The append-only log in a PostgreSQL database: EventStore's contract, on a server.

    `dsn` is a libpq connection string. A database without the log gets its schema (one
    process at a time, under an advisory lock); one with it never has it re-created.
    """

    shared = True
    _amending = (
        "SELECT seq, recorded_at, prev_hash, hash, body FROM events WHERE kind IN ('correction', 'retraction')"
        " AND (body::jsonb ->> 'target') = ? AND seq <= ?"
    )

    def __init__(self, dsn: str, *, readonly: bool = False, check: bool = True, tuning: Tuning = AUTOMATIC):
        self.dsn = dsn
        self.path = describe(dsn)
        self.readonly = readonly
        self.tuning = tuning
        self.conn = connect(dsn, readonly=readonly)
        try:
            if not readonly and not has_log(self.conn):
                self._create()
            problems = schema_problems(self.conn)
            if problems and check:
                raise LogProblem(problems)
        except BaseException:
            self.conn.close()
            raise

    def _create(self) -> None:
        conn = self.conn
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
            if not has_log(conn):
                conn.execute(LOG_TABLE)
                conn.execute(GUARD_FUNCTION)
                for _, statement in LOG_TRIGGERS.values():
                    conn.execute(statement)
                conn.execute(INDEX)
            conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def has_log(self) -> bool:
        return has_log(self.conn)

    def schema_problems(self) -> list[str]:
        return schema_problems(self.conn)

    def _begin_write(self) -> None:
        # Every append takes the same lock, which it holds until its transaction ends:
        # the next writer waits for it, then reads the head this one committed. (A
        # transaction's commit is visible before its locks are released.) Readers are not
        # blocked, and the role needs no privilege but INSERT: see the module's docstring.
        self.conn.execute("BEGIN")
        self.conn.execute("SELECT pg_advisory_xact_lock(?)", (APPEND_LOCK,))

    def _rollback(self) -> None:
        self.conn.rollback_quietly()

    def _insert(self, rows: Iterable[tuple]) -> None:
        with self.conn.raw.cursor() as cursor:
            with cursor.copy(
                "COPY events (seq, id, kind, occurred, occurred_start, occurred_end,"
                " recorded_at, body, prev_hash, hash) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)

    def privilege_notes(self) -> list[str]:
        """What the connecting role could do to the log besides reading and appending.

        Not a problem with the log (the owner can always do this), but worth saying:
        the triggers refuse UPDATE, DELETE and TRUNCATE, and a role that may alter the
        table may also disable them. Analysts should write as a role with only SELECT
        and INSERT (`WRITER_GRANTS`).
        """
        role, owner, superuser, *allowed = self.conn.execute(
            "SELECT current_user, pg_get_userbyid(c.relowner) = current_user,"
            " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),"
            " has_table_privilege('events', 'UPDATE'), has_table_privilege('events', 'DELETE'),"
            " has_table_privilege('events', 'TRUNCATE')"
            " FROM pg_class c WHERE c.oid = 'events'::regclass"
        ).fetchone()
        may = [verb for verb, granted in zip(("UPDATE", "DELETE", "TRUNCATE"), allowed) if granted]
        if not (may or owner or superuser):
            return []
        why = "a superuser" if superuser else "the table's owner" if owner else "granted it"
        what = ", ".join(may) if may else "alter the table"
        return [
            f"the role {role} may {what} on events ({why}): the triggers still refuse edits, but this role "
            "could disable them; let analysts write as a role with only SELECT and INSERT on events"
        ]

    def rows_after(self, seq: int) -> Iterator[tuple]:
        """Every column of the events after `seq`, in seq order, streamed: what a read model copies."""
        return iter(self.conn.execute(
            "SELECT seq, id, kind, occurred, occurred_start, occurred_end, recorded_at, body, prev_hash, hash"
            " FROM events WHERE seq > ? ORDER BY seq",
            (seq,),
        ))

    def hash_at(self, seq: int) -> str | None:
        """The hash of the event at `seq`, or None when the log holds none there."""
        row = self.conn.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
        return row[0] if row else None

    def private_copy(self) -> EventStore:
        raise NotImplementedError("a shared log is read through its local read model, not copied")

    def use_private_copy(self) -> None:
        raise NotImplementedError("a shared log is read through its local read model, not copied")

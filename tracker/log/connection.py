"""Opening the log's SQLite file: for writing (WAL, a busy timeout) or read-only (never
written, even on a read-only file system), and the settings that govern it."""

from __future__ import annotations

import os
import re
import sqlite3
import urllib.parse
from pathlib import Path

DEFAULT_DB = "tracker.db"


_POSTGRES_URL = re.compile(r"\s*postgres(ql)?://", re.IGNORECASE)
#: libpq's keywords a `key=value` connection string starts with, in practice.
_POSTGRES_KEYWORDS = re.compile(
    r"\s*(host|hostaddr|port|dbname|user|password|passfile|service|options|sslmode|"
    r"connect_timeout|application_name|target_session_attrs)\s*=",
)


def is_postgres(location: object) -> bool:
    """True when --db / $TRACKER_DB names a PostgreSQL log (a libpq connection string:
    a postgresql:// URL or key=value pairs) rather than a SQLite file."""
    return isinstance(location, str) and bool(_POSTGRES_URL.match(location) or _POSTGRES_KEYWORDS.match(location))


def resolve_db_path(db: str | os.PathLike | None) -> Path | str:
    """--db, else $TRACKER_DB, else ./tracker.db: a file's Path, or a PostgreSQL
    connection string as given (a Path would fold the `//` of a URL)."""
    location = db or os.environ.get("TRACKER_DB") or DEFAULT_DB
    return location if is_postgres(location) else Path(location)


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


def readonly_uri(path: str | os.PathLike) -> str:
    """The URI that opens (or attaches) a database file for reading only; immutable on a
    read-only file system, where nobody can write it and SQLite cannot make its WAL index."""
    location = Path(path).resolve()
    uri = f"file:{urllib.parse.quote(str(location))}?mode=ro"
    return uri + "&immutable=1" if _read_only_file_system(location) else uri


def connect_scratch(path: str | os.PathLike) -> sqlite3.Connection:
    """A connection to a throwaway database file: no journal and no syncing (nothing in it
    needs to survive a crash), and URIs understood, so that `readonly_uri` can attach."""
    conn = sqlite3.connect(f"file:{urllib.parse.quote(str(Path(path).resolve()))}", uri=True,
                           isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -65536")
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

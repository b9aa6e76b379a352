"""Limits that keep the site answering whatever it is asked: nothing can freeze it or flood it.

The site runs SQL anyone types (`?sql=` on the database page, `_where=` on table pages),
and table pages whose cost anyone chooses (search, sort, facets, filters). Here that work
is bounded in memory, in what it returns, in time and in the share of Datasette's SQL
threads it may hold; the site is read-only, so a request with any method but GET or HEAD
is refused.

- Every connection Datasette opens to the tracker's database is given per-connection
  SQLite limits (`Connection.setlimit`): a string or blob may be at most MAX_VALUE_BYTES
  long, a query may return at most MAX_COLUMNS columns. `randomblob`, `zeroblob`,
  `printf`, `replace`, `group_concat` and strings built by recursive CTEs stop there with
  an error, before they allocate. These limits are the connection's own: the replay
  engine and the search index's upkeep, on their own connections, are not touched (a
  process-wide `PRAGMA hard_heap_limit` would cap them too).
- The rows one query hands back are counted as they are fetched: past MAX_RESULT_CHARS
  characters of text and blobs the query stops with an error.
- A response body past MAX_RESPONSE_BYTES is not sent: an error in its place, or, when it
  was already streaming, the end of it with a note.
- SQL a person wrote runs under a stricter time limit (USER_SQL_TIME_LIMIT_MS); it and the
  pages whose cost a person chose share at most all but one of Datasette's SQL threads, so
  the pages as the site links them (tables, rows, the home page, the canned queries, the
  dashboard) always find a thread free (`lane_for`).

`datasette_for` (tracker.publish.site) builds the site with all of this; a snapshot served by
plain `datasette` has only what Datasette's settings give (tracker.publish.site.SETTINGS).
"""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
import urllib.parse
import weakref
from typing import Any, Callable

from datasette.database import Database
from datasette.views.base import DatasetteError

#: Longest string or blob any SQL on the site may make or read, in bytes (SQLITE_LIMIT_LENGTH).
#: A stored value is read through the same limit, so this must be far above the longest cell
#: of a real database: an event's JSON body, under 2 KB in the bundled record.
MAX_VALUE_BYTES = 500_000
#: Most columns a query may return (SQLITE_LIMIT_COLUMN; the widest table has 21). With
#: MAX_VALUE_BYTES it bounds one row at 32 MB: no query allocates gigabytes in one row.
MAX_COLUMNS = 64
#: Most characters of text and bytes of blobs one query may return to Datasette: the
#: largest page, 1,000 events with their JSON bodies, is about 1.3 million.
MAX_RESULT_CHARS = 8_000_000
#: Largest response body the site sends, in bytes.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
#: Time limit for SQL a person wrote (`?sql=`, `_where=`), in milliseconds; everything else
#: has Datasette's sql_time_limit_ms. Grouping or scanning a million events takes 0.2-1.2 s.
USER_SQL_TIME_LIMIT_MS = 1500
#: How long a request of the "sql" or "heavy" lane waits for a thread before the site answers 503.
USER_SQL_QUEUE_SECONDS = 10.0
#: SQLite's heap ceiling for the whole `tracker serve` process (`PRAGMA hard_heap_limit`): a
#: backstop behind the per-connection limits, for memory they do not count (sorts, hash
#: tables, caches). It is one for the process, so it sits far above what serving needs.
HEAP_LIMIT_BYTES = 1024**3
#: Methods the site answers; anything else is 405 (the site is read-only).
ALLOWED_METHODS = ("GET", "HEAD")

#: The lane of the request being answered (set by `guard`, see `lane_for`): "site", "heavy" or "sql".
lane: contextvars.ContextVar[str] = contextvars.ContextVar("tracker_lane", default="site")


#: SQLite steps between two looks at a query's time limit. Datasette looks every 1,000 (about
#: 0.1 ms), taking Python's global lock each time: a few slow queries then keep the lock so
#: busy that every page waits for it. Every 100,000 steps is still every 10 ms or so.
PROGRESS_STEPS = 100_000


class _Connection(sqlite3.Connection):
    """A connection whose time-limit check takes Python's lock a hundred times less often."""

    def set_progress_handler(self, handler, n):
        super().set_progress_handler(handler, n if handler is None or n <= 1 else max(n, PROGRESS_STEPS))


class ResultTooLarge(sqlite3.OperationalError):
    """A query asked for more than the site hands back (Datasette shows it as an SQL error)."""


def apply_connection_limits(conn: sqlite3.Connection) -> None:
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, MAX_COLUMNS)


# --- which requests run SQL a person wrote ---------------------------------------------------


def normalize_sql(sql: str) -> str:
    return " ".join(sql.split())


def dashboard_queries(metadata: dict[str, Any]) -> set[str]:
    """Every SQL text the dashboards send to `?sql=`: each chart's query with each
    combination of its optional `[[ ... :filter ... ]]` parts kept or dropped."""
    import itertools
    import re

    found: set[str] = set()
    for dashboard in (metadata.get("plugins", {}).get("datasette-dashboards") or {}).values():
        for chart in (dashboard.get("charts") or {}).values():
            query = chart.get("query")
            if not query:
                continue
            parts = re.findall(r"\[\[.*?\]\]", query, flags=re.S)
            for keep in itertools.product((False, True), repeat=len(parts)):
                sql = query
                for part, kept in zip(parts, keep):
                    sql = sql.replace(part, part[2:-2] if kept else "", 1)
                found.add(normalize_sql(sql))
    return found


#: Query-string arguments with which a person, not the site, decides what a page costs:
#: table search, sorting, facets, and filters other than "equals" (`summary__contains=`).
HEAVY_ARGS = ("_search", "_sort", "_sort_desc", "_facet")


def lane_for(query_string: bytes, trusted: set[str]) -> str:
    """Which lane a request's SQL runs in: "sql" (SQL a person wrote: `sql=` other than the
    dashboard's, `_where=`), "heavy" (a page whose cost a person chose: HEAVY_ARGS, or a
    filter with an operator) or "site" (the pages as the site links them)."""
    if not query_string:
        return "site"
    lane = "site"
    for key, value in urllib.parse.parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key == "_where" or (key == "sql" and normalize_sql(value) not in trusted):
            return "sql"
        if key.startswith(HEAVY_ARGS) or (not key.startswith("_") and "__" in key):
            lane = "heavy"
    return lane


# --- the database, with its limits ----------------------------------------------------------

_result = threading.local()  # characters the query running on this thread may still fetch


def _counted_row(cursor: sqlite3.Cursor, row: tuple) -> sqlite3.Row:
    left = _result.left - sum(len(v) for v in row if isinstance(v, (str, bytes)))
    if left < 0:
        raise ResultTooLarge(
            f"the result is larger than this site returns ({MAX_RESULT_CHARS:,} characters):"
            " ask for fewer rows or columns, or shorter values (substr)"
        )
    _result.left = left
    return sqlite3.Row(cursor, row)


class TrackerDatabase(Database):
    """Datasette's Database with the site's limits on its connections and its queries."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # all but one of Datasette's SQL threads, for the "sql" and "heavy" lanes (one per event loop)
        self._shared_slots: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def connect(self, write=False):
        if self.is_memory or self.memory_name:
            conn = super().connect(write=write)
        else:  # Datasette 0.65's own, with the connection class above
            qs = ("?mode=ro" + ("&nolock=1" if self.ds.nolock else "")) if self.is_mutable else "?immutable=1"
            assert not (write and not self.is_mutable)
            conn = sqlite3.connect(
                f"file:{self.path}{'' if write else qs}", uri=True, check_same_thread=False, factory=_Connection
            )
            self._all_file_connections.append(conn)
        apply_connection_limits(conn)
        return conn

    async def execute_fn(self, fn):
        def counted(conn):
            conn.row_factory = _counted_row  # Datasette sets sqlite3.Row; this is that, counted
            _result.left = MAX_RESULT_CHARS
            try:
                return fn(conn)
            finally:
                _result.left = MAX_RESULT_CHARS

        return await super().execute_fn(counted)

    #: Tables counted first on the home and database pages: the log and its effective
    #: form, the largest, whose count is the first to run out of time on a big log.
    COUNT_FIRST = ("events", "effective_events")

    async def table_counts(self, limit=10):
        """Datasette's row counts (each given `limit` ms), stopping at the first table too big
        to count in time: the home page drops every count once one is missing, so counting
        the rest (up to `limit` ms each, two dozen tables) only made a reader wait. The
        tables not counted say so (None, "many rows"), as a timed-out one does."""
        from datasette.database import QueryInterrupted

        if not self.is_mutable and self.cached_table_counts is not None:
            return self.cached_table_counts
        names = await self.table_names()
        names = [n for n in self.COUNT_FIRST if n in names] + [n for n in names if n not in self.COUNT_FIRST]
        counts: dict[str, int | None] = {}
        for i, table in enumerate(names):
            try:
                counts[table] = (await self.execute(f"select count(*) from [{table}]", custom_time_limit=limit)).rows[0][0]
            except (QueryInterrupted, sqlite3.OperationalError, sqlite3.DatabaseError):
                counts.update(dict.fromkeys(names[i:]))
                break
        if not self.is_mutable:
            self._cached_table_counts = counts
        return counts

    def shared_slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        slots = self._shared_slots.get(loop)
        if slots is None:
            threads = self.ds.setting("num_sql_threads") or 1
            slots = self._shared_slots[loop] = asyncio.Semaphore(max(1, threads - 1))
        return slots

    async def execute(
        self, sql, params=None, truncate=False, custom_time_limit=None, page_size=None, log_sql_errors=True
    ):
        which = lane.get()
        if which == "site":
            return await self._execute(sql, params, truncate, custom_time_limit, page_size, log_sql_errors)
        if which == "sql":
            custom_time_limit = min(custom_time_limit or USER_SQL_TIME_LIMIT_MS, USER_SQL_TIME_LIMIT_MS)
        slots = self.shared_slots()
        try:
            await asyncio.wait_for(slots.acquire(), USER_SQL_QUEUE_SECONDS)
        except asyncio.TimeoutError:
            raise DatasetteError(
                "The site is busy answering other searches and queries: try again in a moment.",
                title="Busy",
                status=503,
            ) from None
        try:
            return await self._execute(sql, params, truncate, custom_time_limit, page_size, log_sql_errors)
        finally:
            slots.release()

    async def _execute(self, sql, params, truncate, custom_time_limit, page_size, log_sql_errors):
        try:
            return await super().execute(
                sql,
                params=params,
                truncate=truncate,
                custom_time_limit=custom_time_limit,
                page_size=page_size,
                log_sql_errors=log_sql_errors,
            )
        except sqlite3.DataError as e:  # "string or blob too big": a 500 on a table page otherwise
            raise sqlite3.OperationalError(
                f"{e}: a string or blob on this site is at most {MAX_VALUE_BYTES:,} bytes"
            ) from None
        except MemoryError:
            raise sqlite3.OperationalError(
                "out of memory: the query asks for more than this site has"
            ) from None


# --- the ASGI layer ------------------------------------------------------------------------------


async def _send_text(send, status: int, text: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _ResponseCut(Exception):
    """Raised into the app when it goes on sending after its response was cut."""


TOO_LARGE = (
    f"The response is larger than this site sends ({MAX_RESPONSE_BYTES // (1024 * 1024)} MB):"
    " ask for fewer rows or columns, or shorter values.\n"
)


def guard(app, trusted_sql: Callable[[], set[str]], max_bytes: int | None = None):
    """The site's ASGI app: read-only, responses bounded, each request in its lane."""
    limit = max_bytes or MAX_RESPONSE_BYTES

    async def guarded(scope, receive, send):
        if scope.get("type") != "http":
            return await app(scope, receive, send)
        if scope.get("method", "GET").upper() not in ALLOWED_METHODS:
            return await _send_text(
                send,
                405,
                "Method not allowed: this site is read-only (GET and HEAD).\n",
                [(b"allow", ", ".join(ALLOWED_METHODS).encode())],
            )
        start: dict | None = None
        sent = 0
        cut = False

        async def bounded_send(message):
            nonlocal start, sent, cut
            if cut:
                raise _ResponseCut()
            kind = message.get("type")
            if kind == "http.response.start":
                start = message  # held back until the body shows whether it may go out
                return
            if kind != "http.response.body":
                return await send(message)
            body = message.get("body", b"")
            sent += len(body)
            if sent > limit:
                cut = True
                if start is not None:  # nothing sent yet: an error instead
                    start = None
                    await _send_text(send, 400, TOO_LARGE)
                else:  # already streaming: end it with a note
                    note = b"\n" + TOO_LARGE.encode()
                    await send({"type": "http.response.body", "body": note, "more_body": False})
                if message.get("more_body"):
                    raise _ResponseCut()  # stop the app producing the rest
                return
            if start is not None:
                await send(start)
                start = None
            await send(message)

        token = lane.set(lane_for(scope.get("query_string", b""), trusted_sql()))
        try:
            await app(scope, receive, bounded_send)
        except _ResponseCut:
            pass
        finally:
            lane.reset(token)

    return guarded


def quiet_error_pages() -> None:
    """Datasette 0.65 prints every error it answers, a 400 included, as a rich traceback with
    its local variables: seconds of work on the event loop, during which no page is served.
    Errors are answered as before; a 500's traceback is still printed, plainly."""
    import datasette.handle_exception as handler

    handler.rich = None


def set_heap_ceiling(limit: int = HEAP_LIMIT_BYTES) -> None:
    """Cap SQLite's heap for this whole process: past `limit` bytes, a query fails with
    "out of memory" instead of taking the machine's memory. For serving processes only:
    the cap holds for every connection of the process, replay included."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(f"PRAGMA hard_heap_limit = {int(limit)}")
    finally:
        conn.close()

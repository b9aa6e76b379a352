"""The tracker's Datasette plugin: the links, scripts and feeds its pages have.

Loaded by its `datasette` entry point (pyproject.toml) wherever the package is installed,
so a snapshot served by plain `datasette` (or published with `--install`) has it too;
`tracker serve` registers it itself when the entry point is not there (a checkout not
reinstalled since). Either way it is registered once. It works on the tracker's database
whatever its file is called: `tracker serve`'s `tracker`, or a snapshot's (`site.db` is
served as `site`), told apart by its metadata describing `effective_events`.

- Pages for readers: `/project/<slug>` and `/event/<id>` (tracker.publish.routes, with
  what they show in tracker.publish.pages), `/timeline`, projects across time
  (tracker.publish.overview_page), and the home page's story (its `index.html`),
  rendered with the templates in this package's `templates` directory, which Datasette
  finds because the plugin is a package with a `templates` directory (a plain module's
  would not be looked for). They ship as package data, so a snapshot has them too.
- Links: a cell naming an event or a project links to its page (`/event/<id>`,
  `/project/<slug>`), on every table and query page, foreign key or not; a country cell
  links to the country's row. On a live database the projection tables declare no
  foreign keys, so country cells are linked here (a built database declares real foreign
  keys and Datasette links those itself); so are such cells on query pages (search, the
  as-of questions), where nothing declares keys.
- Tables read as words (tracker.publish.cells): the events table shows a reader's
  columns by default through the plugin's `_table.html` (Datasette's own for every other
  table, and for any request choosing columns with `_col` / `_nocol`); dates as entered,
  money ("$196 million") and country names in cells; a summary links to its event's page.
- The search page lists a hundred matches at a time: a full page gets a link to the next.
- Feeds: the calendar (`.ics`) and Atom (`.atom`) renderers of tracker.publish.feeds (in
  place of datasette-ics's and datasette-atom's, should either be installed).
- Freshness: the replay engine may replace `effective_events` wholesale, which drops the
  search triggers with the old table; after any write by another process the search
  index is checked and rebuilt if needed, so new events are searchable without a restart.
  That work is done on a thread of its own and never waits for another process's write
  lock, so no page waits for a writer. (Only `tracker serve` asks for it: a snapshot is
  never written.)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import threading
import time
import urllib.parse

import markupsafe
from datasette import hookimpl

from tracker.publish import cells, feeds, overview_page, prose, routes
from tracker.publish.served import is_tracker_database
from tracker.publish.schema import ensure_indexes, index_name, indexes
from tracker.replay.search import FTS_TRIGGERS, ensure_search

#: The name the plugin is registered under, by its entry point or by `tracker serve`.
PLUGIN_NAME = "ksilkroad-tracker"

#: Columns that name a row elsewhere: column → (table, key column), or the path of the
#: reader's page for it (`/event/<id>`, `/project/<slug>`).
LINKS = {
    "event": "/event/",
    "project": "/project/",
    "country": ("countries", "code"),
    "countries": ("countries", "code"),
}
#: Tables whose `id` column is an event id.
EVENT_ID_TABLES = {"event_map"}


class Freshness:
    """Keeps the search index current while Datasette serves a database other processes write to.

    The work is done on a thread of its own, never on a request's: a request asks for a
    check (at most every `min_interval` seconds) and waits at most `wait` seconds for it.
    The check reads the database's data version; when another process has written, it
    looks for the search triggers and the indexes and, only if something is missing,
    takes the write lock to put it back. It never waits for that lock: when another
    process holds it, the request goes on at once, and the thread tries again every
    `retry_interval` seconds until the lock is free.
    """

    def __init__(self, path: str, min_interval: float = 0.5, wait: float = 1.0, retry_interval: float = 0.2,
                 idle: float = 60.0):
        self.path = path
        self.min_interval = min_interval
        self.wait = wait
        self.retry_interval = retry_interval
        self.idle = idle  # the thread ends after this long with nothing to do (and starts again when asked)
        self.cond = threading.Condition()
        self.asked_at = float("-inf")
        self.pending: concurrent.futures.Future | None = None  # the next check's answer
        self.running = False
        self.busy = False  # the last check found another process writing: retrying on its own
        self.thread: threading.Thread | None = None
        self.version: int | None = None
        self.conn: sqlite3.Connection | None = None

    def request(self) -> concurrent.futures.Future | None:
        """Ask for a check (never blocks). Returns the check's answer to wait for, or None
        when there is nothing worth waiting for: checked just now, a check is running, or
        another process is writing (the thread is trying again on its own)."""
        now = time.monotonic()
        with self.cond:
            if now - self.asked_at < self.min_interval:
                return None
            self.asked_at = now
            if self.pending is None:
                self.pending = concurrent.futures.Future()
            answer = None if self.running or self.busy else self.pending
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="tracker-freshness", daemon=True)
                self.thread.start()
            self.cond.notify()
            return answer

    async def before_request(self) -> None:
        answer = self.request()
        if answer is None:
            return
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def wake(_):
            try:
                loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))
            except RuntimeError:  # the loop has closed
                pass

        answer.add_done_callback(wake)
        try:
            await asyncio.wait_for(done, self.wait)
        except asyncio.TimeoutError:
            pass  # a long rebuild: the page is served now, the index catches up behind it

    def _run(self) -> None:
        while True:
            with self.cond:
                while self.pending is None:
                    if not self.cond.wait(self.idle) and self.pending is None:
                        self.thread = None
                        if self.conn is not None:
                            self.conn.close()
                            self.conn = None
                        return
                answer, self.pending = self.pending, None
                self.running = True
            try:
                outcome = self.check()
            except Exception as e:  # pragma: no cover - reported to the waiting request
                outcome = e
            with self.cond:
                self.running = False
                self.busy = outcome == "busy"
                if self.busy and self.pending is None:
                    self.pending = concurrent.futures.Future()  # try again shortly, unasked
            answer.set_result(outcome)
            if outcome == "busy":
                time.sleep(self.retry_interval)

    def check(self) -> str:
        """One check, on the calling thread: "current", "repaired", "busy" (another process
        is writing: the thread tries again shortly) or "failed" (a later request tries again)."""
        try:
            if self.conn is None:
                from tracker.log.connection import connect

                self.conn = connect(self.path)
                self.conn.execute("PRAGMA busy_timeout = 0")  # never wait for a writer
            version = self.conn.execute("PRAGMA data_version").fetchone()[0]
            if version == self.version:
                return "current"
            if not needs_repair(self.conn):
                self.version = version
                return "current"
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                ensure_search(self.conn)
                ensure_indexes(self.conn)
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            # our own commit bumps nothing for this connection, so the version stays current
            self.version = version
            return "repaired"
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                return "busy"
            return "failed"
        except sqlite3.Error:
            return "failed"


def needs_repair(conn: sqlite3.Connection) -> bool:
    """Are the search triggers or any of the publishing indexes missing? (Reads only.)"""
    rows = conn.execute(
        "SELECT type, name, tbl_name FROM sqlite_master WHERE type IN ('table', 'trigger', 'index')"
    ).fetchall()
    tables = {name for type_, name, _ in rows if type_ == "table"}
    if "effective_events" not in tables:
        return False
    triggers = {name for type_, name, table in rows if type_ == "trigger" and table == "effective_events"}
    if not set(FTS_TRIGGERS) <= triggers:
        return True
    present = {name for type_, name, _ in rows if type_ == "index"}
    for table, cols, where in indexes():
        if table in tables and index_name(table, cols, where) not in present:
            columns = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
            if set(cols) <= columns:
                return True
    return False


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def wrapped(scope, receive, send):
            fresh = getattr(datasette, "tracker_freshness", None)
            if fresh is not None and scope.get("type") == "http":
                await fresh.before_request()
            await app(scope, receive, send)

        return wrapped

    return wrap


#: Foreign-key columns each table of each database file declares (a live database's schema
#: keeps them for good; a built one declares them all).
_declared_keys: dict[tuple[str | None, str], set[str]] = {}


#: Each linked table's URL, worked out once: Datasette's URL builder took most of the time
#: of a page of a thousand linked rows.
_table_urls: dict[tuple[str, str, str], str] = {}


def _link(datasette, database: str, table: str, key: str, value: str, label: str | None = None) -> markupsafe.Markup:
    where = (datasette.setting("base_url"), database, table)
    base = _table_urls.get(where)
    if base is None:
        base = _table_urls[where] = datasette.urls.table(database, table)
    url = f"{base}?{key}={urllib.parse.quote_plus(value)}"
    escape = markupsafe.escape
    return markupsafe.Markup(f'<a href="{escape(url)}">{escape(label or value)}</a>')


def _page_link(datasette, page: str, value: str, label: str | None = None) -> markupsafe.Markup:
    """A link to a reader's page (`/event/<id>`, `/project/<slug>`), showing `label` or the value."""
    url = datasette.urls.path(page + urllib.parse.quote(value, safe=""))
    escape = markupsafe.escape
    return markupsafe.Markup(f'<a href="{escape(url)}">{escape(label or value)}</a>')


def _links(datasette, database: str, column: str, target: tuple[str, str] | str, value: str) -> markupsafe.Markup:
    if isinstance(target, str):
        return _page_link(datasette, target, value)
    if column == "countries":
        codes = [c.strip() for c in value.replace(";", ",").split(",") if c.strip()]
        return markupsafe.Markup(", ").join(_link(datasette, database, *target, code, prose.country(code))
                                            for code in codes)
    return _link(datasette, database, *target, value, prose.country(value))


async def _project_link(datasette, database: str, slug: str) -> markupsafe.Markup:
    """A link to the project's page, named as the tracker names the project now."""
    found = await datasette.get_database(database).execute(cells.PROJECT_NAME_SQL, [slug])
    row = found.first()
    return _page_link(datasette, LINKS["project"], slug, row[0] if row and row[0] else None)


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """Link cells naming an event, a project or a country (by its name), on table pages and
    query pages; an event's summary links to its page; dates as entered and sums of money
    in words (tracker.publish.cells).

    Called for every cell drawn, so it returns None as early as it can; on a query page
    (table is None: search, the as-of questions) nothing declares keys, so it links at once.
    """
    words = cells.in_words(value, column, table, row)
    if words is not None:
        return words if is_tracker_database(datasette, database) else None
    if column == "summary" and table == "effective_events" and isinstance(value, str):
        event_id = cells.field(row, "id")
        if isinstance(event_id, str) and is_tracker_database(datasette, database):
            return _page_link(datasette, LINKS["event"], event_id, value)
        return None
    target = LINKS.get(column)
    if isinstance(value, dict) and isinstance(target, str) and isinstance(value.get("value"), str):
        # a declared foreign key Datasette has expanded to {value, label}: to the page, labelled
        if not is_tracker_database(datasette, database):
            return None
        return _page_link(datasette, target, value["value"], value.get("label") or None)
    if not isinstance(value, str) or not value:
        return None
    if column == "id" and table in EVENT_ID_TABLES:
        target = LINKS["event"]
    if target is None or not is_tracker_database(datasette, database):
        return None
    if column == "project" and table in cells.READABLE:
        return _project_link(datasette, database, value)
    if isinstance(target, str):
        return _page_link(datasette, target, value)
    if target[0] == table:
        return None
    if table is None:
        return _links(datasette, database, column, target, value)

    async def render():
        db = datasette.get_database(database)
        declared = _declared_keys.get((db.path, table))
        if declared is None:
            fks = await db.foreign_keys_for_table(table)
            declared = _declared_keys[(db.path, table)] = {fk["column"] for fk in fks}
        if column in declared:
            return None  # Datasette links declared foreign keys itself, with labels
        return _links(datasette, database, column, target, value)

    return render()


#: Datasette 0.65 lists every column's description above a table's rows, which pushes
#: the data a screen down; fold them into one "About these columns" toggle instead.
FOLD_COLUMN_DESCRIPTIONS = """
// The events table's amended_body column (an amended event's full JSON) makes its row a
// screen tall; the row page, the JSON and the CSV keep it.
var style = document.createElement("style");
style.textContent = "body.table-effective_events .col-amended_body { display: none; }";
document.head.appendChild(style);
document.querySelectorAll("dl.column-descriptions").forEach(function (list) {
  var details = document.createElement("details");
  details.className = "column-descriptions-toggle";
  var summary = document.createElement("summary");
  summary.textContent = "About these columns";
  list.parentNode.insertBefore(details, list);
  details.appendChild(summary);
  details.appendChild(list);
});
"""


#: Rows the search page lists at a time (the LIMIT of its SQL in metadata.yml).
SEARCH_PAGE_ROWS = 100

#: The search page lists the newest matches a hundred at a time; its `before` parameter
#: goes further back. A full page gets a link to the next one, from its last row's seq.
NEXT_SEARCH_PAGE = """
(function () {
  var cells = document.querySelectorAll("table.rows-and-columns td.col-seq");
  if (cells.length < %d) return;
  var params = new URLSearchParams(location.search);
  params.set("before", cells[cells.length - 1].textContent.trim());
  var link = document.createElement("a");
  link.href = "?" + params.toString();
  link.textContent = "Next %d matches (recorded earlier) \u2192";
  var para = document.createElement("p");
  para.className = "tracker-next-page";
  para.appendChild(link);
  var table = document.querySelector("table.rows-and-columns");
  (table.closest(".table-wrapper") || table).insertAdjacentElement("afterend", para);
})();
""" % (SEARCH_PAGE_ROWS, SEARCH_PAGE_ROWS)


@hookimpl
def extra_body_script(template, database, request, datasette):
    if template not in ("table.html", "query.html") or not is_tracker_database(datasette, database):
        return None
    if template == "query.html" and request is not None and request.path == datasette.urls.table(database, "search"):
        return FOLD_COLUMN_DESCRIPTIONS + NEXT_SEARCH_PAGE
    return FOLD_COLUMN_DESCRIPTIONS


@hookimpl(trylast=True)
def register_output_renderer(datasette):
    """The calendar and Atom renderers. Called after every other plugin's (trylast), so they
    take the place of datasette-ics's and datasette-atom's, which register the same
    extensions: Datasette keeps the last renderer given for an extension."""
    return [
        {"extension": "ics", "render": feeds.render_ics, "can_render": feeds.can_render_ics},
        {"extension": "atom", "render": feeds.render_atom, "can_render": feeds.can_render_atom},
    ]


@hookimpl
def register_routes(datasette):
    """The reader's pages: `/project/<slug>` and `/event/<id>` (tracker.publish.routes), and
    `/timeline`, projects across time (tracker.publish.overview_page)."""
    return [*routes.ROUTES, *overview_page.ROUTES]


@hookimpl
def extra_template_vars(template, database, table, request, datasette):
    """The home page's story (headline numbers, latest events, projects by status, the
    summit's date) for the plugin's `index.html`; a table's reader's columns for the
    plugin's `_table.html` (tracker.publish.cells); nothing for any other page."""
    if template == "index.html":
        return routes.home_variables(datasette, request)
    if template == "table.html" and is_tracker_database(datasette, database):
        columns = cells.readable_columns(table, request.args if request is not None else None)
        if columns:
            return {"tracker_columns": columns, "tracker_every_column": cells.EVERY_COLUMN.get(table)}
    return None


@hookimpl
def prepare_connection(conn, database, datasette):
    """`tracker_reported`, the SQL function by which the questions and the dashboard answer
    `reported_by` (tracker.publish.reported_sql), on the tracker's database."""
    if is_tracker_database(datasette, database):
        from tracker.publish.reported_sql import register

        register(conn)

"""The site can be neither frozen nor flooded: no page waits for a writer or for someone's
slow SQL, no query allocates or returns without bound, and nothing but GET and HEAD is answered."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.servers import free_port, wait_until_serving

from tests.test_publish import HOSTILE
from tests.conftest import bundled_log
from tracker.publish.schema import prepare_path
from tracker.publish.site import SETTINGS, datasette_for, load_metadata
from tracker.publish import limits
from tracker.log.store import EventStore

ROOT = Path(__file__).resolve().parent.parent

#: Counts to a billion: a query that runs until its time limit stops it.
SLOW_SQL = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c where x < 1000000000"
#: Pages the site links to, which must answer whatever else is asked of it.
FAST_PAGES = ["/-/versions.json", "/tracker/projects", "/", "/tracker/effective_events/hostile-test-event.json"]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    db = bundled_log(tmp_path_factory.mktemp("limits") / "source.db", [HOSTILE])
    prepare_path(db)
    return db


@pytest.fixture
def db(source, tmp_path):
    """A live database of its own for each test (the bundled record plus one event)."""
    copy = tmp_path / "tracker.db"
    src = sqlite3.connect(source)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    return copy


def run(ds, scenario):
    async def main():
        await ds.invoke_startup()
        return await scenario(ds.client)

    return asyncio.run(main())


async def timed(client, path, method="get"):
    started = time.perf_counter()
    response = await client.request(method.upper(), path)
    return response, time.perf_counter() - started


def sql_url(sql: str, fmt: str = ".json") -> str:
    return f"/tracker{fmt}?" + urllib.parse.urlencode({"sql": sql})


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS (Linux)


# --- 1. serving never waits on a writer ----------------------------------------------------

HOLD_LOCK = """
import json, sqlite3, sys
from tracker.replay.engine import catch_up
from tracker.log.store import EventStore

db, event = sys.argv[1], json.loads(sys.argv[2])
conn = sqlite3.connect(db, isolation_level=None)
# As when the replay engine replaces effective_events: the search triggers are gone, so
# the new event below reaches the table but not the search index.
for name in ("events_fts_insert", "events_fts_delete", "events_fts_update"):
    conn.execute(f"DROP TRIGGER IF EXISTS {name}")
with EventStore(db) as store:
    store.append([event])
    catch_up(store)
conn.execute("BEGIN IMMEDIATE")  # and now another process holds the write lock
print("holding", flush=True)
sys.stdin.read()
conn.execute("COMMIT")
"""


def test_no_page_waits_while_another_process_holds_the_write_lock(db):
    event = {**HOSTILE, "id": "locked-out-event", "summary": "An event logged behind a lock: quetzalcoatlite"}
    live = datasette_for(db)

    async def scenario(client):
        assert (await client.get("/tracker/search.json?q=quetzalcoatlite&_shape=array")).json() == []
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(db), json.dumps(event)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "holding"
            for path in [*FAST_PAGES, "/tracker/search?q=quetzalcoatlite", "/tracker/effective_events?_search=quetzalcoatlite"]:
                await asyncio.sleep(0.6)  # past the freshness check's interval: every request asks again
                response, elapsed = await timed(client, path)
                assert response.status_code == 200, (path, response.text[:300])
                # Waiting for the lock would take the busy timeout, 60 s: half of that is no noise.
                assert elapsed < 30, (path, elapsed)
        finally:
            holder.stdin.close()
            assert holder.wait(30) == 0
        # the lock is free: the search index catches up on its own
        rows = []
        for _ in range(100):
            rows = (await client.get("/tracker/search.json?q=quetzalcoatlite&_shape=array")).json()
            if rows:
                break
            await asyncio.sleep(0.2)
        assert [r["event"] for r in rows] == ["locked-out-event"]

    run(live, scenario)
    conn = sqlite3.connect(db)
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert {"events_fts_insert", "events_fts_delete", "events_fts_update"} <= triggers


def test_the_search_index_follows_a_full_replay(db):
    from tracker.publish.schema import index_name, indexes
    from tracker.replay.engine import replay

    live = datasette_for(db)

    async def scenario(client):
        await client.get("/tracker/projects")
        with EventStore(db) as store:
            replay(store, full=True)  # drops the publishing indexes with its tables
        await asyncio.sleep(0.6)
        assert (await client.get("/tracker/projects")).status_code == 200

    run(live, scenario)
    names = {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {index_name(*spec) for spec in indexes()} <= names


# --- 2. a memory ceiling, and a bound on what is returned -------------------------------------

#: SQL that allocates hundreds of megabytes to gigabytes on a site without limits.
ALLOCATES = [
    "select length(randomblob(400000000))",
    "select length(zeroblob(400000000))",
    "select length(replace(printf('%.*c', 20000, 'x'), 'x', printf('%.*c', 20000, 'y')))",
    "select group_concat(printf('%.*c', 100000, 'x')) from (with recursive c(i) as"
    " (select 1 union all select i + 1 from c where i < 4000) select i from c)",
    "with recursive c(i, s) as (select 1, 'x' union all select i + 1, s || s from c where i < 28)"
    " select i, length(s) from c order by i desc limit 1",
    "with t(x) as (select randomblob(400000)) select " + ", ".join(["x"] * 2000) + " from t",
]


@pytest.mark.parametrize("sql", ALLOCATES)
def test_sql_that_allocates_a_lot_answers_an_error_not_gigabytes(db, sql):
    live = datasette_for(db)

    async def scenario(client):
        await client.get("/tracker/projects")
        reset_peak_rss()
        before = peak_rss_mb()
        response = await client.get(sql_url(sql))
        return response, peak_rss_mb() - before

    response, grown = run(live, scenario)
    assert response.status_code == 400, response.text[:300]
    assert response.json()["ok"] is False
    assert grown < 150, f"{grown:.0f} MB"  # each would allocate a gigabyte or more


def test_a_too_long_value_on_a_table_page_is_an_error_page_not_a_crash(db):
    live = datasette_for(db)
    where = urllib.parse.quote("length(randomblob(400000000)) > 0")

    async def scenario(client):
        return await client.get(f"/tracker/effective_events?_where={where}"), await client.get(
            f"/tracker/effective_events.json?_where={where}"
        )

    page, data = run(live, scenario)
    assert page.status_code == 400 and "string or blob too big" in page.text
    assert data.status_code == 400 and f"{limits.MAX_VALUE_BYTES:,} bytes" in data.json()["error"]


def test_a_huge_result_is_refused_not_sent(db):
    # 1,000 rows of 100,000 characters: 100 MB of JSON on a site without limits
    sql = "with recursive c(i) as (select 1 union all select i + 1 from c where i < 1000) select i, printf('%.*c', 100000, 'x') from c"
    live = datasette_for(db)

    async def scenario(client):
        reset_peak_rss()
        before = peak_rss_mb()
        responses = [await client.get(sql_url(sql, fmt)) for fmt in (".json", "", ".csv")]
        return responses, peak_rss_mb() - before

    (data, page, csv), grown = run(live, scenario)
    for response in (data, page):
        assert response.status_code == 400, response.text[:300]
        assert len(response.content) < 100_000
        assert "larger than this site returns" in response.text
    assert csv.text.strip() == ""  # Datasette 0.65 answers a query's CSV with no rows when the query fails
    assert grown < 150, f"{grown:.0f} MB"


def test_a_response_past_the_size_bound_is_not_sent(db):
    # under the result bound, but each control character is six bytes of JSON: 45 MB
    sql = ("with recursive c(i) as (select 1 union all select i + 1 from c where i < 19)"
           " select replace(printf('%.*c', 400000, 'x'), 'x', char(1)) from c")
    live = datasette_for(db)
    response = run(live, lambda client: client.get(sql_url(sql)))
    assert response.status_code == 400
    assert len(response.content) < 1000
    assert "The response is larger than this site sends" in response.text


def test_a_streamed_response_is_cut_and_its_producer_stopped():
    produced = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/csv")]})
        for i in range(40):
            produced.append(i)
            await send({"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    guarded = limits.guard(app, set, max_bytes=10_500)
    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    asyncio.run(guarded({"type": "http", "method": "GET", "path": "/", "query_string": b""}, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert sent[0]["status"] == 200
    assert body.startswith(b"x" * 10_000) and body.endswith(limits.TOO_LARGE.encode())
    assert len(body) < 10_000 + 1000
    assert sent[-1].get("more_body", False) is False
    assert len(produced) <= 12  # the app was stopped, not left to produce 40 KB into the void


def test_every_connection_of_the_site_has_the_limits(db):
    live = datasette_for(db)

    async def scenario(client):
        database = live.get_database("tracker")
        return await database.execute_fn(
            lambda conn: (conn.getlimit(sqlite3.SQLITE_LIMIT_LENGTH), conn.getlimit(sqlite3.SQLITE_LIMIT_COLUMN))
        )

    assert run(live, scenario) == (limits.MAX_VALUE_BYTES, limits.MAX_COLUMNS)


def test_the_longest_real_values_are_well_within_the_limits(db):
    conn = sqlite3.connect(db)
    longest = conn.execute("SELECT max(length(body)) FROM events").fetchone()[0]
    assert longest * 100 < limits.MAX_VALUE_BYTES
    widest = max(
        len(conn.execute(f'PRAGMA table_xinfo("{name}")').fetchall())
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    )
    assert widest * 2 < limits.MAX_COLUMNS


# --- 3. slow queries cannot starve the pages ----------------------------------------------------


def test_slow_queries_leave_the_pages_a_thread(db, monkeypatch):
    # Each slow query runs 4 s here, so a page that had to wait for one would take 4 s.
    monkeypatch.setattr(limits, "USER_SQL_TIME_LIMIT_MS", 4000)
    live = datasette_for(db)
    live._settings["sql_time_limit_ms"] = 4000
    slow = [
        sql_url(SLOW_SQL),
        sql_url(SLOW_SQL + " and 1", ""),
        "/tracker/effective_events?_where=" + urllib.parse.quote(f"seq in ({SLOW_SQL})"),
        sql_url(SLOW_SQL + " and 2"),
        sql_url(SLOW_SQL + " and 3"),
        sql_url(SLOW_SQL + " and 4"),
    ]

    async def scenario(client):
        running = [asyncio.create_task(client.get(url)) for url in slow]
        await asyncio.sleep(0.5)  # every slow query has asked for its thread
        answered_while_slow_ran = {}
        for path in FAST_PAGES:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text[:300])
            answered_while_slow_ran[path] = not any(task.done() for task in running)
        return answered_while_slow_ran, await asyncio.gather(*running)

    # Every page came back while all six slow queries still held their threads: none waited.
    answered_while_slow_ran, answers = run(live, scenario)
    assert all(answered_while_slow_ran.values()), answered_while_slow_ran
    assert [r.status_code for r in answers] == [400] * len(slow)  # each stopped by its time limit


def test_sql_a_person_wrote_has_a_stricter_time_limit(db, monkeypatch):
    from datasette.database import Database

    limits_asked = []
    plain_execute = Database.execute

    async def spy(self, sql, *args, custom_time_limit=None, **kwargs):
        limits_asked.append((sql, custom_time_limit))
        return await plain_execute(self, sql, *args, custom_time_limit=custom_time_limit, **kwargs)

    monkeypatch.setattr(Database, "execute", spy)
    live = datasette_for(db)
    assert limits.USER_SQL_TIME_LIMIT_MS < SETTINGS["sql_time_limit_ms"]
    response = run(live, lambda client: client.get(sql_url(SLOW_SQL)))
    assert response.status_code == 400 and "SQL query took too long" in response.text
    assert (SLOW_SQL, limits.USER_SQL_TIME_LIMIT_MS) in limits_asked


def test_the_dashboard_charts_are_not_taken_for_sql_a_person_wrote():
    trusted = limits.dashboard_queries(load_metadata())
    charts = load_metadata()["plugins"]["datasette-dashboards"]["ksilkroad"]["charts"]
    for chart in charts.values():
        query = chart["query"]
        kept = query.replace("[[", "").replace("]]", "")
        dropped = query.split("[[")[0] + (query.split("]]")[1] if "]]" in query else "")
        for sql in (kept, dropped):
            qs = urllib.parse.urlencode({"sql": sql, "as_of": "2024-08-01", "_shape": "objects"}).encode()
            assert limits.lane_for(qs, trusted) == "site"


@pytest.mark.parametrize("query, lane", [
    ("", "site"),
    ("_size=max&_shape=array", "site"),
    ("kind=signing&status=committed", "site"),
    ("as_of=2024-08&known_at=&project=x", "site"),
    ("q=high-speed+train&before=40", "site"),
    ("sql=select+1", "sql"),
    ("sql=select+kind+from+effective_events", "sql"),
    ("_where=1%3D1", "sql"),
    ("_search=lithium", "heavy"),
    ("_sort=summary", "heavy"),
    ("_sort_desc=occurred", "heavy"),
    ("_facet=kind", "heavy"),
    ("summary__contains=rail", "heavy"),
])
def test_each_request_runs_in_its_lane(query, lane):
    assert limits.lane_for(query.encode(), limits.dashboard_queries(load_metadata())) == lane


# --- 4. read-only: GET and HEAD only -------------------------------------------------------------

PATHS = ["/", "/tracker", "/tracker/projects", "/tracker/effective_events", "/tracker/effective_events/hostile-test-event.json",
         "/tracker/project_status_on", "/tracker/search?q=train", "/-/versions.json", "/-/dashboards/ksilkroad"]


def test_only_get_and_head_are_answered(db):
    live = datasette_for(db)

    async def scenario(client):
        answers = {}
        for path in PATHS:
            for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
                answers[(method, path)] = await client.request(method, path, content=b"as_of=2024&csrftoken=x")
            answers[("GET", path)] = await client.get(path)
            answers[("HEAD", path)] = await client.head(path)
        return answers

    for (method, path), response in run(live, scenario).items():
        if method in ("GET", "HEAD"):
            assert response.status_code == 200, (method, path)
        else:
            assert response.status_code == 405, (method, path, response.status_code)
            assert response.headers["allow"] == "GET, HEAD", (method, path)


# --- tracker serve, as run -----------------------------------------------------------------------


def test_tracker_serve_has_the_limits(tmp_path):
    db = tmp_path / "tracker.db"
    port = free_port()
    tracker = Path(sys.executable).with_name("tracker")
    assert shutil.which(str(tracker))
    process = subprocess.Popen(
        [str(tracker), "--db", str(db), "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, base, "tracker serve")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(base + "/tracker/projects", data=b"x=1", method="POST"), timeout=10)
        assert refused.value.code == 405 and refused.value.headers["Allow"] == "GET, HEAD"
        with pytest.raises(urllib.error.HTTPError) as too_big:
            urllib.request.urlopen(base + sql_url("select length(randomblob(400000000))"), timeout=10)
        assert too_big.value.code == 400
        assert "string or blob too big" in too_big.value.read().decode()
    finally:
        process.terminate()
        process.wait(10)


HEAP_CEILING = """
import sqlite3, sys
from tracker.publish import limits
limits.set_heap_ceiling(64 * 1024 * 1024)
conn = sqlite3.connect(":memory:")  # a plain connection: no per-connection limits
try:
    conn.execute("with recursive c(i) as (select 1 union all select i + 1 from c where i < 300)"
                 " select length(group_concat(randomblob(1000000))) from c").fetchone()
except MemoryError:  # SQLite's "out of memory", as Python raises it (the site answers it as a 400)
    print("out of memory")
"""


def test_the_serving_process_has_a_heap_ceiling():
    # 300 MB of blobs in one string: past a 64 MB ceiling, SQLite stops instead of allocating
    result = subprocess.run([sys.executable, "-c", HEAP_CEILING], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "out of memory" in result.stdout

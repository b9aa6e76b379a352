"""Replay benchmark: full replay against a floor, one append plus catch-up, as-of queries.

Each measurement runs in its own subprocess, so its peak memory (ru_maxrss) and its
imports are its own. The floor reads the same rows with orjson and folds plain per-key
counts: what any replay must at least pay. Figures are printed as plain lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = r"""
import resource, sqlite3, sys, time
from collections import Counter
import orjson
conn = sqlite3.connect(sys.argv[1])
started = time.perf_counter()
projects, countries = Counter(), Counter()
for seq, kind, recorded_at, body in conn.execute(
        "SELECT seq, kind, recorded_at, body FROM events ORDER BY seq"):
    record = orjson.loads(body)
    if record.get("project"):
        projects[record["project"]] += 1
    for country in record.get("countries", ()):
        countries[country] += 1
seconds = time.perf_counter() - started
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

FULL = r"""
import resource, sys, time
from tracker.log.store import EventStore
from tracker.replay.engine import replay
store = EventStore(sys.argv[1])
started = time.perf_counter()
result = replay(store, full=True)
seconds = time.perf_counter() - started
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, result.events)
"""

#: The full replay again, timing its phases (set BENCH_REPLAY_SPLIT=1): where the time goes.
SPLIT = r"""
import sys, time
from tracker.log.store import EventStore
import tracker.replay.search as search
import tracker.replay.engine as replay
from functools import partial
from benchmarks.timing import timed
spent = {}
timed = partial(timed, spent)
replay._drop_and_create = timed("drop old tables", replay._drop_and_create)
replay._Run.apply_log = timed("log pass", replay._Run.apply_log)
replay._Run.flush = timed("  of which row inserts", replay._Run.flush)
replay._Run.finish_sums = timed("sum totals, checkpoints and cells", replay._Run.finish_sums)
replay._Run.refold = timed("state folds", replay._Run.refold)
search.ensure_search = timed("search index", search.ensure_search)
store = EventStore(sys.argv[1])
conn = store.conn
conn.execute("BEGIN IMMEDIATE")
started = time.perf_counter()
replay._run(conn, full=True)
total = time.perf_counter() - started
started = time.perf_counter()
conn.execute("COMMIT")
spent["commit (with WAL checkpoint)"] = time.perf_counter() - started
accounted = sum(v for k, v in spent.items() if not k.startswith(" ") and not k.startswith("commit"))
spent["index builds and the rest"] = total - accounted
order = ["drop old tables", "log pass", "  of which row inserts", "sum totals, checkpoints and cells", "state folds", "search index",
         "index builds and the rest", "commit (with WAL checkpoint)"]
for name in order:
    print(name.replace(" ", "_"), spent.get(name, 0.0))
"""

APPEND = r"""
import statistics, sys, time
from tracker.log.store import EventStore
from tracker.replay.engine import catch_up, replay
store = EventStore(sys.argv[1])
replay(store)  # start from an up-to-date checkpoint
project = store.conn.execute("SELECT project FROM projects LIMIT 1 OFFSET 7").fetchone()[0]
times = []
for i in range(10):
    event = {
        "kind": "milestone", "occurred": "2010-03-%02d" % (i + 1), "countries": ["KR", "UZ"],
        "summary": "Benchmark event %d appended at %r." % (i, time.time()),
        "project": project, "status": "suspended" if i % 2 else "in_progress",
        "sources": [{"publisher": "Bench", "title": "Bench", "published": "2010-03-01"}],
    }
    started = time.perf_counter()
    store.append([event])
    catch_up(store)
    times.append(time.perf_counter() - started)
# the first: the process's first event, which builds pydantic's validator (and loads its plugins)
print(statistics.median(times[1:]) * 1000, max(times[1:]) * 1000, times[0] * 1000)
"""

#: What both query scripts start with: the median of `runs` timed calls, in ms, after one to warm up.
TIMED = r"""
import statistics, sys, time
def timed(fn, runs):
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000
"""

QUERIES = TIMED + r"""
from tracker.log.store import EventStore
from tracker.replay import queries
store = EventStore(sys.argv[1])
conn = store.conn
project = conn.execute("SELECT project FROM projects LIMIT 1 OFFSET 11").fetchone()[0]
known = conn.execute("SELECT recorded_at FROM events WHERE seq = (SELECT max(seq) / 2 FROM events)").fetchone()[0]
print("project_status_one", timed(lambda: queries.project_status(conn, project, as_of="2012-06-30", known_at=known), 50))
print("project_status_all", timed(lambda: queries.project_status(conn, as_of="2012-06-30", known_at=known), 3))
print("summit_timeline_one", timed(lambda: queries.summit_timeline(conn, project, as_of="2012-06-30", known_at=known), 50))
print("country_tallies_uz", timed(lambda: queries.country_tallies(conn, "UZ", as_of="2012-06-30", known_at=known), 3))
print("country_tallies_all", timed(lambda: queries.country_tallies(conn, as_of="2012-06-30", known_at=known), 3))
print("country_tallies_now", timed(lambda: queries.country_tallies(conn), 50))
planned = conn.execute("SELECT project FROM projects WHERE planned_for IS NOT NULL LIMIT 1 OFFSET 11").fetchone()
if planned:
    print("project_status_planned_one", timed(lambda: queries.project_status(conn, planned[0], as_of="2012-06-30", known_at=known), 50))
    print("project_status_planned_now", timed(lambda: queries.project_status(conn, planned[0]), 50))
series = conn.execute("SELECT series FROM figures LIMIT 1 OFFSET 11").fetchone()
if series:
    print("figures_series_one", timed(lambda: queries.figures(conn, series[0], as_of="2012-06-30", known_at=known), 50))
    print("figures_series_now", timed(lambda: queries.figures(conn, series[0]), 50))
    metric = series[0].split(":")[0]
    print("figures_metric_all", timed(lambda: queries.figures(conn, metric, as_of="2012-06-30", known_at=known), 3))
"""

REPORTED = TIMED + r"""
import projections
from tracker.log.store import EventStore
from tracker.replay.keyed import reported_answer
store = EventStore(sys.argv[1])
conn = store.conn
project = conn.execute("SELECT project FROM projects WHERE planned_for IS NOT NULL LIMIT 1 OFFSET 11").fetchone()[0]
series = conn.execute("SELECT series FROM figures LIMIT 1 OFFSET 11").fetchone()[0]
day = conn.execute("SELECT occurred_start FROM events WHERE seq = (SELECT max(seq) / 2 FROM events)").fetchone()[0]
known = conn.execute("SELECT recorded_at FROM events WHERE seq = (SELECT max(seq) * 3 / 4 FROM events)").fetchone()[0]
for name, key in (("project_status", project), ("summit_timeline", project), ("figures", series)):
    p = projections.by_name(name)
    print(f"{name}_one_by_key", timed(lambda: reported_answer(store, p, key, reported_by=day), 20))
    print(f"{name}_one_by_key_all_axes", timed(lambda: reported_answer(store, p, key, reported_by=day, known_at=known, as_of=day), 20))
tallies = projections.by_name("country_tallies")
for country in ("UZ", "KR"):
    print(f"country_tallies_{country.lower()}_by_key", timed(lambda: reported_answer(store, tallies, country, reported_by=day, as_of=day), 20))
print("country_tallies_all_by_key", timed(lambda: reported_answer(store, tallies, None, reported_by=day, as_of=day), 5))
print("country_tallies_all_now_by_key", timed(lambda: reported_answer(store, tallies, None, reported_by=day), 5))
p = projections.by_name("project_status")
print("project_status_one_plain", timed(lambda: reported_answer(store, p, project, reported_by=day, by_key=False), 1))
# one read of the log (no replay): every project, tallies with a knowledge bound, `list --reported-by`
from tracker.replay.listing import reported_events
print("project_status_all_one_read", timed(lambda: reported_answer(store, p, None, reported_by=day, as_of=day), 1))
print("country_tallies_all_known_at_one_read", timed(lambda: reported_answer(store, tallies, None, reported_by=day, known_at=known, as_of=day), 1))
print("country_tallies_uz_known_at_one_read", timed(lambda: reported_answer(store, tallies, "UZ", reported_by=day, known_at=known, as_of=day), 1))
print("list_reported_by_one_read", timed(lambda: reported_events(store, reported_by=day), 1))
print("list_reported_by_one_country_one_read", timed(lambda: reported_events(store, reported_by=day, country="UZ"), 1))
"""


def _python(script: str, db: Path) -> list[str]:
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", script, str(db)], check=True, capture_output=True, text=True, env=env
    )
    return out.stdout.split("\n")


def named_figures(script: str, db: Path) -> list[tuple[str, float]]:
    """What a script of this module prints, a `name value` per line, as (name, value)."""
    return [(name, float(value)) for name, value in (line.split() for line in _python(script, db) if line.strip())]


def append_line(db: Path) -> str:
    """The APPEND script's figures, in words."""
    median, worst, first = map(float, _python(APPEND, db)[0].split())
    return (f"append one event + catch-up: median {median:.1f} ms, worst {worst:.1f} ms of 9 (target < 50); "
            f"the process's first, which builds the event validator, {first:.1f} ms")


def prepare(n: int, workdir: Path) -> Path:
    """The benchmark log of `n` synthetic events, generated and imported unless already there."""
    import orjson

    from benchmarks.synthetic import generate
    from tracker.log.importing import import_file
    from tracker.log.store import EventStore

    jsonl = workdir / f"events-{n}.jsonl"
    db = workdir / f"replay-{n}.db"
    if not jsonl.exists():
        started = time.perf_counter()
        partial = jsonl.with_name(jsonl.name + ".partial")
        with open(partial, "wb") as f:
            for event in generate(n):
                f.write(orjson.dumps(event) + b"\n")
        partial.replace(jsonl)
        print(f"generate: {n} events in {time.perf_counter() - started:.1f} s")
    if not db.exists():
        started = time.perf_counter()
        partial = db.with_name(db.name + ".partial")
        store = EventStore(partial)
        import_file(store, str(jsonl), show_progress=False)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
        partial.replace(db)
        print(f"import: {n} events in {time.perf_counter() - started:.1f} s")
    return db


def run(suite: str, n: int, workdir: str | None) -> None:
    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="bench-replay-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = prepare(n, folder)
    print(f"replay benchmark: {n} synthetic events (10% recorded late, 1% amendments), db {db}")

    floor_s, floor_mb = map(float, _python(FLOOR, db)[0].split())
    print(f"floor (orjson + per-key counts): {floor_s:.2f} s, peak {floor_mb:.0f} MB")

    full_s, full_mb, events = _python(FULL, db)[0].split()
    full_s, full_mb = float(full_s), float(full_mb)
    print(
        f"full replay: {full_s:.2f} s ({full_s / floor_s:.1f}x floor), peak {full_mb:.0f} MB,"
        f" {int(events)} events"
    )

    if os.environ.get("BENCH_REPLAY_SPLIT"):
        for name, seconds in named_figures(SPLIT, db):
            print(f"  split {name.replace('_', ' ')}: {seconds:.2f} s")

    print(append_line(db))

    for name, ms in named_figures(QUERIES, db):
        print(f"query {name} (as-of + known-at unless 'now'): {ms:.2f} ms")

    for name, ms in named_figures(REPORTED, db):
        how = ("a replay in memory of every event that passes: the plain path" if name.endswith("plain")
               else "from the country's cells: the fast path" if name.startswith("country_tallies")
               else "from the key's own events: the fast path")
        print(f"query {name} reported-by the log's middle day: {ms:,.2f} ms ({how})")

"""Bulk work against its floor, at several sizes in one run: `python -m benchmarks`.

For each N (100,000 and 1,000,000 unless `--n` names one), on the synthetic log:

- `tracker import FILE` into an empty log until every projection is queryable (the
  command as a user runs it: the import, then the replay it ends with), against the
  floor: the same rows appended with plain `executemany` and the same SHA-256 chain,
  plus a per-key fold of them (orjson, counts per project and per country), in one
  transaction. The floor's time to read those rows back from a database is taken off.
- `tracker replay --full` against the toy fold alone, and beside it what storing the
  replay's rows costs with no fold at all (the same tables, indexes and search index);
  `tracker verify` against the floor.
- The database's bytes (with its write-ahead log) against the floor's bare log.
- Peak memory of each command; one append + catch-up; as-of / known-at queries for one
  key; every Datasette page of `python -m benchmarks datasette`.

BENCH_BULK_TABLES=1 adds the bytes per event of each table and index; BENCH_BULK_SPLIT=1
runs the full replay once more and prints how long each phase takes.

Each command runs in a fresh process; figures are printed, nothing is asserted.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_import import FLOOR, READ_ONLY, _child, _fresh, machine_speed, synthetic_file
from benchmarks.bench_replay import FLOOR as TOY_FOLD, _python

#: Runs the tracker's command line in this process and reports its peak memory on stderr.
COMMAND = (
    "import atexit, runpy, sys\n"
    "from benchmarks.timing import peak_mb\n"
    "atexit.register(lambda: print('PEAK', peak_mb(), file=sys.stderr))\n"
    "sys.argv = ['tracker', *sys.argv[1:]]\n"
    "runpy.run_module('tracker', run_name='__main__')\n"
)

#: What a replay stores, stored with no fold: every derived table's rows (read from a
#: replayed database; the reading is timed apart and taken off) inserted with plain
#: `executemany` into the same tables, then the same indexes and the search index built,
#: in one transaction. Prints SECONDS (storing) and READ (reading alone).
STORE_ONLY = """
import sqlite3
from tracker.replay.tables import _all_schemas, _objects, derived_tables
from tracker.replay.search import ensure_search
source = sqlite3.connect(sys.argv[1])
target = sqlite3.connect(sys.argv[2], isolation_level=None)
target.execute('PRAGMA journal_mode = WAL'); target.execute('PRAGMA synchronous = NORMAL')
target.execute('PRAGMA cache_size = -65536')
tables = derived_tables()
started = time.perf_counter()
for table in tables:
    for row in source.execute(f'SELECT * FROM {table}'):
        pass
read = time.perf_counter() - started
indexes = []
for schema in _all_schemas():
    for statement in schema.split(';'):
        created = _objects(statement)
        if created and created[0][0] == 'INDEX':
            indexes.append(statement)
        elif created:
            target.execute(statement)
started = time.perf_counter()
target.execute('BEGIN IMMEDIATE')
for table in tables:
    rows = source.execute(f'SELECT * FROM {table}')
    marks = ','.join('?' * len(rows.description))
    while batch := rows.fetchmany(5000):
        target.executemany(f'INSERT INTO {table} VALUES ({marks})', batch)
for statement in indexes:
    target.execute(statement)
ensure_search(target)
target.execute('COMMIT')
print('SECONDS', time.perf_counter() - started)
print('READ', read)
"""


def tracker(db: Path, *args: str) -> tuple[float, float]:
    """Run `tracker --db DB ARGS` in a fresh process: (wall seconds, its peak RSS in MB)."""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", COMMAND, "--db", str(db), *args],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"tracker {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    peak = float(next(line.split()[1] for line in out.stderr.splitlines() if line.startswith("PEAK")))
    return seconds, peak


def size(db: Path) -> int:
    """A database's bytes on disk, with its write-ahead log."""
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())


def _ratio(measured: float, floor: float, target: float) -> str:
    ratio = measured / floor
    return f"{ratio:.2f}x (target {target:g}x){'' if ratio <= target else '  <-- over target'}"


def bulk(n: int, workdir: Path) -> None:
    source = synthetic_file(n, workdir)
    db, floor_db = workdir / f"bulk-{n}.db", workdir / f"bulk-floor-{n}.db"
    print(f"\n== {n:,} synthetic events ({source.stat().st_size / 1e6:.0f} MB of JSONL); "
          f"machine speed {machine_speed():.2f} s for a fixed loop")

    _fresh(db)
    import_s, import_mb = tracker(db, "import", str(source), "--json")
    db_bytes = size(db)

    read_s, _, _ = _child(READ_ONLY, str(db))
    _fresh(floor_db)
    floor_total, floor_mb, _ = _child(FLOOR, str(db), str(floor_db), "fold")
    floor_s = max(floor_total - read_s, 1e-9)
    floor_bytes = size(floor_db)
    _fresh(floor_db)
    toy_s = float(_python(TOY_FOLD, db)[0].split()[0])

    replay_s, replay_mb = tracker(db, "replay", "--full", "--json")
    store_db = workdir / f"bulk-store-only-{n}.db"
    _fresh(store_db)
    store_total, _, out = _child(STORE_ONLY, str(db), str(store_db))
    store_s = max(store_total - float(next(line.split()[1] for line in out.splitlines() if line.startswith("READ"))), 1e-9)
    _fresh(store_db)
    verify_s, verify_mb = tracker(db, "verify", "--json")

    print(f"floor: append with the chain + per-key fold {floor_s:.2f} s (peak {floor_mb:.0f} MB); "
          f"toy fold alone {toy_s:.2f} s; bare log {floor_bytes / n:,.0f} bytes/event")
    print(f"import until queryable: {import_s:.2f} s, {_ratio(import_s, floor_s, 3)}, peak {import_mb:.0f} MB")
    print(f"replay --full:          {replay_s:.2f} s, {_ratio(replay_s, toy_s, 4)} the toy fold, peak {replay_mb:.0f} MB")
    print(f"  storing what it stores, with no fold: {store_s:.2f} s ({store_s / toy_s:.1f}x the toy fold; "
          f"the replay is {replay_s / store_s:.2f}x it)")
    print(f"verify:                 {verify_s:.2f} s, {_ratio(verify_s, floor_s, 4)}, peak {verify_mb:.0f} MB")
    print(f"database with WAL:      {db_bytes / n:,.0f} bytes/event, {_ratio(db_bytes, floor_bytes, 2.5)} the bare log")
    peak = max(import_mb, replay_mb, verify_mb)
    print(f"peak memory:            {peak:.0f} MB (target < 300){'' if peak < 300 else '  <-- over target'}")
    if os.environ.get("BENCH_BULK_TABLES"):
        _tables(db, n)

    from benchmarks.bench_replay import QUERIES, SPLIT, append_line, named_figures

    if os.environ.get("BENCH_BULK_SPLIT"):  # the full replay again, phase by phase
        for name, seconds in named_figures(SPLIT, db):
            print(f"  replay phase {name.replace('_', ' ')}: {seconds:.2f} s")

    print(append_line(db))
    for name, ms in named_figures(QUERIES, db):
        print(f"query {name}: {ms:.2f} ms{'' if 'all' in name or ms < 10 else '  <-- over 10 ms'}")
    sys.stdout.flush()
    # in a process of its own, as a server runs: not in this one, which has done a run's work
    subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from benchmarks.bench_bulk import _pages;"
                    " _pages(Path(sys.argv[1]))", str(db)], check=True)


def _tables(db: Path, n: int) -> None:
    """Bytes per event of each table and index (BENCH_BULK_TABLES=1): where the size goes."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    finally:
        conn.close()
    for name, pages in rows:
        if pages / n >= 5:
            print(f"  {name:40s} {pages / n:8,.0f} bytes/event")


def _pages(db: Path) -> None:
    from benchmarks.bench_datasette import PAGES, dashboard_pages, measure, reader_pages
    from tracker.publish.schema import prepare_path
    from tracker.publish.site import datasette_for

    prepare_path(db)
    ds = datasette_for(db)

    async def main():
        await ds.invoke_startup()
        worst = 0.0
        for name, url in {**PAGES, **reader_pages(db), **dashboard_pages()}.items():
            median, status = await measure(ds, url, 5)
            worst = max(worst, median)
            flag = "" if status == 200 and median < 200 else "  <-- over target"
            print(f"  page {name}: {median:.1f} ms{'' if status == 200 else f' (HTTP {status})'}{flag}")
        print(f"Datasette pages: slowest {worst:.1f} ms (median of 5 each; target < 200)", flush=True)

    asyncio.run(main())


def run(suite: str, n: int | None, workdir: str | None) -> None:
    sys.stdout.reconfigure(line_buffering=True)  # figures as they come, into a file too
    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"bulk benchmark in {folder}: each figure beside the floor measured in the same run")
    for size_n in [n] if n else [100_000, 1_000_000]:
        bulk(size_n, folder)

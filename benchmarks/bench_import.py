"""Import throughput and memory against a floor, and the start-up cost of `tracker log`.

Each measurement runs in its own process so that peak memory is that process's
alone. The floor is plain sqlite3 `executemany` of the very rows the import
wrote, with the same hash chain, schema and UNIQUE index; the time it spends
only reading those rows back is measured separately and taken off.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

FLOOR_SCHEMA = """
CREATE TABLE events (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, occurred TEXT,
    occurred_start TEXT, occurred_end TEXT, recorded_at TEXT NOT NULL, body TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
"""


def synthetic_file(n: int, workdir: Path) -> Path:
    """The synthetic log as JSONL, generated once per size and kept in the workdir."""
    path = workdir / f"synthetic-{n}.jsonl"
    if not path.exists():
        from .synthetic import generate

        partial = path.with_suffix(".partial")
        started = time.perf_counter()
        with open(partial, "wb") as f:
            for event in generate(n):
                f.write(orjson.dumps(event) + b"\n")
        partial.replace(path)
        print(f"generated {n:,} synthetic events in {time.perf_counter() - started:.1f} s ({path.stat().st_size / 1e6:.0f} MB)")
    return path


def _child(code: str, *args: str) -> tuple[float, float, str]:
    """Run python code in a fresh process: (seconds it reports, its peak RSS in MB, its output)."""
    wrapper = (
        "import resource, sys, time\n"
        + code
        + "\nfrom benchmarks.timing import peak_mb\nprint('PEAK', peak_mb())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *args], check=True, capture_output=True, text=True
    ).stdout
    seconds = float(next(line.split()[1] for line in out.splitlines() if line.startswith("SECONDS")))
    peak = float(next(line.split()[1] for line in out.splitlines() if line.startswith("PEAK")))
    return seconds, peak, out


IMPORT = """
from tracker.log.store import EventStore
from tracker.log.importing import import_file
store = EventStore(sys.argv[2])
started = time.perf_counter()
result = import_file(store, sys.argv[1], show_progress=False)
print('SECONDS', time.perf_counter() - started)
print('ADDED', result.added)
own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print('CPU', own.ru_utime + own.ru_stime, workers.ru_utime + workers.ru_stime)
"""

READ_ONLY = """
import sqlite3
source = sqlite3.connect(sys.argv[1])
started = time.perf_counter()
count = 0
for row in source.execute('SELECT id, kind, occurred, occurred_start, occurred_end, recorded_at, body FROM events ORDER BY seq'):
    count += 1
print('SECONDS', time.perf_counter() - started)
"""

#: The floor: the rows appended with plain executemany and the same chain; with a third
#: argument `fold`, also folded per key as they go (orjson, counts per project and per
#: country), the floor of an import until queryable (`python -m benchmarks bulk`).
FLOOR = """
import hashlib, sqlite3
from collections import Counter
import orjson
from benchmarks.bench_import import FLOOR_SCHEMA
fold = sys.argv[3:] == ['fold']
projects, countries = Counter(), Counter()
source = sqlite3.connect(sys.argv[1])
target = sqlite3.connect(sys.argv[2], isolation_level=None)
target.execute('PRAGMA journal_mode = WAL'); target.execute('PRAGMA synchronous = NORMAL')
target.execute('PRAGMA cache_size = -65536')
target.executescript(FLOOR_SCHEMA)
started = time.perf_counter()
target.execute('BEGIN IMMEDIATE')
prev, seq, batch = '0' * 64, 0, []
for id_, kind, occurred, start, end, recorded_at, body in source.execute(
        'SELECT id, kind, occurred, occurred_start, occurred_end, recorded_at, body FROM events ORDER BY seq'):
    digest = hashlib.sha256(b'%s\\n%s\\n%s' % (prev.encode(), recorded_at.encode(), body.encode())).hexdigest()
    seq += 1
    batch.append((seq, id_, kind, occurred, start, end, recorded_at, body, prev, digest))
    prev = digest
    if fold:
        record = orjson.loads(body)
        if record.get('project'):
            projects[record['project']] += 1
        for country in record.get('countries', ()):
            countries[country] += 1
    if len(batch) == 2000:
        target.executemany('INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)', batch); batch = []
target.executemany('INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)', batch)
target.execute('COMMIT')
print('SECONDS', time.perf_counter() - started)
"""


#: Preparing and storing apart, in one process, on the first events of the file (set
#: BENCH_IMPORT_SPLIT=1): what each costs per event, next to the floor on the same rows.
SPLIT = """
import gc, os
from tracker.log import importing
from tracker.log.preparing import warm_up
from tracker.log.store import EventStore
from tracker.log.tuning import AUTOMATIC
path, db, wanted = sys.argv[1], sys.argv[2], int(sys.argv[3])
import tracker.log.preparing as preparing_module
from benchmarks.timing import timed
spent = {'validating': 0.0, 'writing': 0.0}
preparing_module.validate_records = timed(spent, "validating", preparing_module.validate_records, time.process_time)
preparing_module.identify_all = timed(spent, "writing", preparing_module.identify_all, time.process_time)
warm_up()
gc.disable(); gc.freeze()
size = os.path.getsize(path)
block = AUTOMATIC.block_bytes
fd = os.open(path, os.O_RDONLY)
batches, count, index, started = [], 0, 0, time.process_time()
while count < wanted and index * block < size:
    batches.append(importing._prepare_block(fd, index, size, AUTOMATIC)[1])
    count += len(batches[-1].ids)
    index += 1
preparing = time.process_time() - started
store = EventStore(db)
started = time.perf_counter()
store.append(iter(batches))
print('SECONDS', time.perf_counter() - started)
print('SPLIT', count, preparing, spent['validating'], spent['writing'])
"""


def split(source: Path, workdir: Path, wanted: int = 100_000) -> None:
    """Print the cost per event of preparing and of storing, apart, and the floor's on the same rows."""
    db, floor_db = workdir / "split.db", workdir / "split-floor.db"
    _fresh(db)
    storing, _, out = _child(SPLIT, str(source), str(db), str(wanted))
    count, preparing, validating, writing = next(line.split()[1:] for line in out.splitlines() if line.startswith("SPLIT"))
    count, preparing, validating, writing = int(count), float(preparing), float(validating), float(writing)
    read_seconds, _, _ = _child(READ_ONLY, str(db))
    _fresh(floor_db)
    floor_total, _, _ = _child(FLOOR, str(db), str(floor_db))
    floor = max(floor_total - read_seconds, 1e-9)
    for leftover in (db, floor_db):
        _fresh(leftover)
    prepare_us, validate_us, write_us, store_us, floor_us = (
        x / count * 1e6 for x in (preparing, validating, writing, storing, floor)
    )
    print(f"split:  on the first {count:,} events, in one process, per event: preparing {prepare_us:.1f} µs "
          f"({prepare_us / floor_us:.2f}x the floor's time; of it pydantic-core validation {validate_us:.1f}, "
          f"canonical JSON and content ids {write_us:.1f}, JSON parsing and the rest {prepare_us - validate_us - write_us:.1f}), "
          f"storing {store_us:.1f} µs ({store_us / floor_us:.2f}x), floor {floor_us:.1f} µs. "
          f"Two cores sharing both perfectly would take {(prepare_us + store_us) / 2 / floor_us:.2f}x the floor's time")


def machine_speed() -> float:
    """Seconds for a fixed pure-Python loop: printed beside each run, it shows how fast the
    machine itself was running at the time (on a shared machine this drifts)."""
    started = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i * i
    return time.perf_counter() - started


def _fresh(db: Path) -> None:
    for leftover in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        leftover.unlink(missing_ok=True)


def bench_import(n: int, workdir: Path, repeat: int = 3) -> Path:
    """Import the synthetic file and run the floor on its rows, `repeat` times in turn.

    On a shared machine the speed of the same code drifts by tens of percent over
    minutes, so import and floor alternate, every run is printed, and each side's
    best run (its time with the least interference) gives the summary.
    """
    source = synthetic_file(n, workdir)
    db = workdir / f"import-{n}.db"
    floor_db = workdir / f"floor-{n}.db"
    runs = []
    for run in range(1, repeat + 1):
        _fresh(db)
        seconds, peak, out = _child(IMPORT, str(source), str(db))
        added = int(next(line.split()[1] for line in out.splitlines() if line.startswith("ADDED")))
        cpu = [float(x) for x in next(line.split()[1:] for line in out.splitlines() if line.startswith("CPU"))]
        read_seconds, _, _ = _child(READ_ONLY, str(db))
        _fresh(floor_db)
        floor_total, floor_peak, _ = _child(FLOOR, str(db), str(floor_db))
        floor_seconds = max(floor_total - read_seconds, 1e-9)
        _fresh(floor_db)
        runs.append((seconds, peak, cpu, floor_seconds, floor_peak, read_seconds))
        print(f"run {run}/{repeat}: import {seconds:.1f} s ({added / seconds:,.0f}/s), "
              f"floor {floor_seconds:.1f} s ({added / floor_seconds:,.0f}/s), ratio {seconds / floor_seconds:.2f}; "
              f"a fixed Python loop took {machine_speed():.2f} s", flush=True)
    seconds, peak, (own_cpu, workers_cpu), _, _, _ = min(runs, key=lambda r: r[0])
    _, _, _, floor_seconds, floor_peak, read_seconds = min(runs, key=lambda r: r[3])
    peak, floor_peak = max(r[1] for r in runs), max(r[4] for r in runs)
    best = f"best of {repeat}" if repeat > 1 else "one run"
    print(f"import: {added:,} events in {seconds:.1f} s = {added / seconds:,.0f} events/s "
          f"(validation, content ids, hashing and inserts; {best}), peak memory {peak:.0f} MB")
    print(f"floor:  plain executemany + hash chain of the same rows: {floor_seconds:.1f} s = "
          f"{added / floor_seconds:,.0f} events/s ({best}; reading them back, {read_seconds:.1f} s, taken off), "
          f"peak memory {floor_peak:.0f} MB")
    print(f"ratio:  import takes {seconds / floor_seconds:.2f}x the floor's time")
    if os.environ.get("BENCH_IMPORT_SPLIT"):
        split(source, workdir)
    # On a busy machine wall time says little about the code; CPU time says more.
    print(f"cpu:    import used {(own_cpu + workers_cpu) / added * 1e6:.0f} µs of CPU per event "
          f"({own_cpu / added * 1e6:.0f} storing and preparing, {workers_cpu / added * 1e6:.0f} in workers, "
          f"start-up included); the floor's wall time is {floor_seconds / added * 1e6:.0f} µs per event")
    return db


def bench_log(db: Path, runs: int = 15) -> None:
    """Wall time of whole `tracker log` processes appending to the benchmark's database.

    The projections are brought up to date first (not timed), so each run measures one
    append plus its catch-up, as a person logging an event would see it. The tracker's
    modules are byte-compiled first, as an installed package's are: where bytecode is
    not written (PYTHONDONTWRITEBYTECODE), an editable install would otherwise compile
    them again in every process.
    """
    import compileall
    import importlib.util

    for package in ("tracker", "events", "projections"):
        compileall.compile_dir(Path(importlib.util.find_spec(package).origin).parent, quiet=1)
    tracker = Path(sys.executable).with_name("tracker")
    started = time.perf_counter()
    subprocess.run([str(tracker), "--db", str(db), "replay"], check=True, capture_output=True)
    print(f"(projections brought up to date first in {time.perf_counter() - started:.0f} s, not counted)")
    times = []
    for i in range(runs):
        args = [str(tracker), "--db", str(db), "log", "meeting", "--participants", "KOICA",
                "--topic", "benchmark", "--date", "2024-07", "--country", "TJ,KR",
                "--summary", f"Benchmark meeting {time.time_ns()} {i}.", "--source", "Bench | Run | 2025-01-31"]
        started = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    print(f"log:    one `tracker log` process, median of {runs}: {statistics.median(times) * 1000:.0f} ms "
          f"(min {min(times) * 1000:.0f} ms) on a log of {sqlite3.connect(db).execute('SELECT count(*) FROM events').fetchone()[0]:,} events")


def run(suite: str, n: int, workdir: str | None, repeat: int = 3) -> None:
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if suite == "import":
        db = bench_import(n, work, repeat)
        bench_log(db)
    elif suite == "log":
        db = work / f"import-{n}.db"
        if not db.exists():
            db = bench_import(n, work, 1)
        bench_log(db)

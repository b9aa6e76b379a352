"""The shared log on PostgreSQL beside the SQLite log, in the same run (issue 17).

A server is started the way the tests start theirs (tests/pg_server.py: initdb and pg_ctl
on a private socket directory, fsync off), and for N synthetic events it reports:

- import of the file into PostgreSQL, against a floor: `COPY` of the very rows the import
  wrote, with the same hash chain computed on the way, into the same schema (the time
  spent only reading those rows back is taken off); beside it the SQLite import;
- 8 processes appending one event at a time, at once, on each backend: events/s, and
  that nothing was lost and the chain is whole;
- the read model's catch-up of the N events (rows copied, then the projections replayed)
  against the SQLite import of the same file followed by its replay;
- `verify` of the shared log: time and peak memory (a server-side cursor keeps it flat).

Each measurement runs in its own process, so peak memory is that process's alone.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from pathlib import Path

from .bench_import import READ_ONLY, _child, _fresh, synthetic_file

SQLITE_IMPORT = """
from tracker.log.store import EventStore
from tracker.log.importing import import_file
from tracker.replay.engine import catch_up
store = EventStore(sys.argv[2])
started = time.perf_counter()
result = import_file(store, sys.argv[1], show_progress=False)
imported = time.perf_counter() - started
catch_up(store)
print('SECONDS', imported)
print('REPLAY', time.perf_counter() - started - imported)
print('ADDED', result.added)
"""

POSTGRES_IMPORT = """
from tracker.log.postgres import PostgresEventStore
from tracker.log.importing import import_file
store = PostgresEventStore(sys.argv[2])
started = time.perf_counter()
result = import_file(store, sys.argv[1], show_progress=False)
print('SECONDS', time.perf_counter() - started)
print('ADDED', result.added)
"""

CATCH_UP = """
from pathlib import Path
from tracker.log.postgres import PostgresEventStore
from tracker.replay.engine import catch_up
from tracker.replay.readmodel import bring_up_to_date
shared = PostgresEventStore(sys.argv[1], readonly=True)
started = time.perf_counter()
store, outcome = bring_up_to_date(shared, Path(sys.argv[2]), replay=False)
copied = time.perf_counter() - started
catch_up(store)
print('SECONDS', copied)
print('REPLAY', time.perf_counter() - started - copied)
print('ADDED', outcome.copied)
"""

#: COPY of the rows the import wrote (read from the read model, which holds them byte for
#: byte), the chain recomputed on the way, into a fresh database with the tracker's schema.
COPY_FLOOR = """
import hashlib, sqlite3
import psycopg
from tracker.log.postgres import PostgresEventStore
PostgresEventStore(sys.argv[2]).close()  # the schema: table, constraints, triggers, index
source = sqlite3.connect(sys.argv[1])
target = psycopg.connect(sys.argv[2], autocommit=True)
started = time.perf_counter()
prev, seq = '0' * 64, 0
with target.transaction(), target.cursor() as cursor:
    with cursor.copy('COPY events (seq, id, kind, occurred, occurred_start, occurred_end, recorded_at, body,'
                     ' prev_hash, hash) FROM STDIN') as copy:
        for id_, kind, occurred, start, end, recorded_at, body in source.execute(
                'SELECT id, kind, occurred, occurred_start, occurred_end, recorded_at, body FROM events ORDER BY seq'):
            digest = hashlib.sha256(b'%s\\n%s\\n%s' % (prev.encode(), recorded_at.encode(), body.encode())).hexdigest()
            seq += 1
            copy.write_row((seq, id_, kind, occurred, start, end, recorded_at, body, prev, digest))
            prev = digest
print('SECONDS', time.perf_counter() - started)
"""

VERIFY = """
from tracker.log.postgres import PostgresEventStore
from tracker.log.store import EventStore
from tracker.log.verify import verify_log
location = sys.argv[1]
store = PostgresEventStore(location, readonly=True) if '://' in location else EventStore(location, readonly=True)
started = time.perf_counter()
report = verify_log(store)
print('SECONDS', time.perf_counter() - started)
print('OK', report.ok, report.events)
"""

WRITERS = 8


def _event(worker: int, i: int) -> dict:
    return {
        "kind": "meeting", "occurred": "2024-06-12", "countries": ["KR", "KZ"],
        "summary": f"Writer {worker} logs meeting {i} for the concurrency benchmark.",
        "participants": ["KOICA", "a ministry"], "topic": "benchmark",
        "sources": [{"publisher": "Bench", "title": "Run", "published": "2025-01-31", "url": None, "author": None}],
    }


def _writer(location: str, worker: int, each: int, ready, go) -> None:
    from tracker.log.postgres import PostgresEventStore
    from tracker.log.store import EventStore

    store = PostgresEventStore(location) if "://" in location else EventStore(location)
    store.append([_event(worker, -1)])  # connected and warmed up before the clock starts
    ready.release()
    go.wait()
    for i in range(each):
        store.append([_event(worker, i)])
    store.close()


def concurrent_appends(location: str, each: int) -> tuple[float, int, bool]:
    """WRITERS processes appending `each` events one at a time, at once: (seconds, events in
    the log, chain whole and seq without a gap)."""
    from tracker.log.postgres import PostgresEventStore
    from tracker.log.store import EventStore
    from tracker.log.verify import verify_log

    opened = (lambda **o: PostgresEventStore(location, **o)) if "://" in location else (lambda **o: EventStore(location, **o))
    opened().close()  # the schema, once, before the race
    context = multiprocessing.get_context("fork")
    ready, go = context.Semaphore(0), context.Event()
    workers = [context.Process(target=_writer, args=(location, w, each, ready, go)) for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.acquire()
    started = time.perf_counter()
    go.set()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    with opened(readonly=True) as store:
        report = verify_log(store)
        seqs = [seq for (seq,) in store.conn.execute("SELECT seq FROM events ORDER BY seq")]
    whole = report.ok and seqs == list(range(1, len(seqs) + 1)) and all(w.exitcode == 0 for w in workers)
    return seconds, len(seqs), whole


def _value(out: str, key: str) -> str:
    return next(line.split(None, 1)[1] for line in out.splitlines() if line.startswith(key + " "))


def run(suite: str, n: int, workdir: str | None, **_) -> None:
    from tests.pg_server import Server

    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    source = synthetic_file(n, work)
    server = Server()
    server.start("max_wal_size=4GB", "shared_buffers=256MB")
    try:
        _run(server, source, n, work)
    finally:
        server.stop()


def _run(server, source: Path, n: int, work: Path) -> None:
    sqlite_db = work / f"postgres-suite-sqlite-{n}.db"
    _fresh(sqlite_db)
    sqlite_seconds, sqlite_peak, out = _child(SQLITE_IMPORT, str(source), str(sqlite_db))
    sqlite_replay = float(_value(out, "REPLAY"))
    added = int(_value(out, "ADDED"))
    print(f"sqlite import:   {added:,} events in {sqlite_seconds:.1f} s = {added / sqlite_seconds:,.0f}/s "
          f"(then its replay {sqlite_replay:.1f} s), peak memory {sqlite_peak:.0f} MB", flush=True)

    shared = server.new_database()
    pg_seconds, pg_peak, out = _child(POSTGRES_IMPORT, str(source), shared)
    assert int(_value(out, "ADDED")) == added
    print(f"postgres import: {added:,} events in {pg_seconds:.1f} s = {added / pg_seconds:,.0f}/s, "
          f"peak memory {pg_peak:.0f} MB ({pg_seconds / sqlite_seconds:.2f}x the SQLite import's time)", flush=True)

    model = work / f"postgres-suite-read-model-{n}.db"
    _fresh(model)
    copy_seconds, model_peak, out = _child(CATCH_UP, shared, str(model))
    model_replay = float(_value(out, "REPLAY"))
    assert int(_value(out, "ADDED")) == added

    read_seconds, _, _ = _child(READ_ONLY, str(model))
    floor_total, floor_peak, _ = _child(COPY_FLOOR, str(model), server.new_database())
    floor = max(floor_total - read_seconds, 1e-9)
    print(f"copy floor:      COPY + hash chain of the same rows: {floor:.1f} s = {added / floor:,.0f}/s "
          f"(reading them back, {read_seconds:.1f} s, taken off), peak memory {floor_peak:.0f} MB")
    print(f"ratio:           the PostgreSQL import takes {pg_seconds / floor:.2f}x the COPY floor's time", flush=True)

    total, sqlite_total = copy_seconds + model_replay, sqlite_seconds + sqlite_replay
    print(f"read model:      catch-up of {added:,} events in {total:.1f} s: rows copied {copy_seconds:.1f} s "
          f"({added / copy_seconds:,.0f}/s), projections replayed {model_replay:.1f} s; peak memory {model_peak:.0f} MB")
    print(f"ratio:           catch-up takes {total / sqlite_total:.2f}x the SQLite import + replay of the same "
          f"file ({sqlite_total:.1f} s); copying the rows {copy_seconds / sqlite_seconds:.2f}x importing them", flush=True)

    each = max(25, min(n // WRITERS, 250))
    for name, location in (("postgres", server.new_database()), ("sqlite", str(work / "postgres-suite-writers.db"))):
        if name == "sqlite":
            _fresh(Path(location))
        seconds, count, whole = concurrent_appends(location, each)
        expected = WRITERS * (each + 1)
        print(f"{WRITERS} writers {name + ':':9} {WRITERS} processes x {each} one-event appends at once in {seconds:.2f} s "
              f"= {WRITERS * each / seconds:,.0f} events/s; {count:,} of {expected:,} events in the log, "
              f"chain {'whole, no seq gap' if whole and count == expected else 'BROKEN OR INCOMPLETE'}", flush=True)

    for name, location in (("postgres", shared), ("sqlite", str(sqlite_db))):
        seconds, peak, out = _child(VERIFY, location)
        print(f"verify {name + ':':11} {added:,} events in {seconds:.1f} s = {added / seconds:,.0f}/s, "
              f"peak memory {peak:.0f} MB ({_value(out, 'OK')})", flush=True)
    for leftover in (sqlite_db, model):
        _fresh(leftover)

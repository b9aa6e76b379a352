"""The log's contract (DESIGN §3), one suite run on both backends: a SQLite file and a
PostgreSQL database on a real server the tests start themselves (tests/pg_server.py).

Whatever the backend, the log appends, skips what it already holds, refuses edits at the
storage level, keeps one unbroken chain under concurrent writers, proves tampering, and
moves between backends byte for byte.
"""

from __future__ import annotations

import multiprocessing
import sqlite3

import orjson
import pytest

from tests.conftest import Cli, example, write_jsonl
from tests.pg_server import pg_server  # noqa: F401 (a fixture)
from tracker.log.importing import import_file
from tracker.log.postgres import PostgresEventStore
from tracker.log.preparing import LogError
from tracker.log.store import EventStore
from tracker.log.verify import verify_log

BACKENDS = ["sqlite", "postgresql"]


def open_log(location, **options) -> EventStore:
    return PostgresEventStore(location, **options) if isinstance(location, str) else EventStore(location, **options)


def raw_sql(location, *statements: str) -> None:
    """Run SQL on the log's database behind the tracker's back, as someone with a SQL shell."""
    if isinstance(location, str):
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)
    else:
        conn = sqlite3.connect(location, isolation_level=None)
        try:
            for statement in statements:
                conn.execute(statement)
        finally:
            conn.close()


@pytest.fixture(params=BACKENDS)
def log(request, tmp_path):
    """Where a fresh, empty log goes: a SQLite file's path or a PostgreSQL connection string."""
    if request.param == "sqlite":
        return tmp_path / "tracker.db"
    return request.getfixturevalue("pg_server").new_database()


def events(n: int, prefix: str = "event") -> list[dict]:
    return [example("meeting", summary=f"{prefix} {i}: a meeting for the contract suite.") for i in range(n)]


def test_an_appended_event_is_read_back_with_its_place_in_the_chain(log):
    with open_log(log) as store:
        result = store.append(events(3))
        assert (result.added, result.last_seq) == (3, 3)
        stored = list(store.iter_events())
        assert [e.seq for e in stored] == [1, 2, 3]
        assert stored[1].prev_hash == stored[0].hash
        assert store.get(stored[2].id).record == stored[2].record
        assert store.head()[:2] == (3, stored[2].hash)


def test_appending_the_same_events_again_adds_nothing(log):
    with open_log(log) as store:
        store.append(events(3))
        again = store.append(events(3))
        assert (again.added, again.skipped) == (0, 3)
        assert store.count() == 3


def test_the_same_id_with_other_content_is_refused_and_nothing_is_written(log):
    with open_log(log) as store:
        first = events(1)[0]
        event_id = store.append([first]).last_id
        other = {**first, "id": event_id, "summary": "Something else entirely, under the same id."}
        with pytest.raises(LogError, match="different content"):
            store.append([*events(2, "fresh"), other])
        assert store.count() == 1


@pytest.mark.parametrize("statement", ["UPDATE events SET kind = 'visit'", "DELETE FROM events"])
def test_the_storage_refuses_to_edit_or_delete_an_event(log, statement):
    with open_log(log) as store:
        store.append(events(2))
    with pytest.raises(Exception, match="append-only"):
        raw_sql(log, statement)
    with open_log(log, readonly=True) as store:
        assert store.count() == 2 and verify_log(store).ok


def test_postgresql_refuses_truncate(pg_server):  # noqa: F811
    location = pg_server.new_database()
    with open_log(location) as store:
        store.append(events(1))
    with pytest.raises(Exception, match="append-only: TRUNCATE"):
        raw_sql(location, "TRUNCATE events")


def test_verify_finds_an_edit_made_with_the_triggers_out_of_the_way(log):
    with open_log(log) as store:
        store.append(events(5))
    if isinstance(log, str):
        raw_sql(
            log,
            "ALTER TABLE events DISABLE TRIGGER events_no_update",
            "UPDATE events SET body = replace(body, 'event 2:', 'event 9:') WHERE seq = 3",
            "ALTER TABLE events ENABLE TRIGGER events_no_update",
        )
    else:
        from tracker.log.schema import LOG_TRIGGERS

        raw_sql(
            log,
            "DROP TRIGGER events_no_update",
            "UPDATE events SET body = replace(body, 'event 2:', 'event 9:') WHERE seq = 3",
            LOG_TRIGGERS["events_no_update"],
        )
    with open_log(log, readonly=True) as store:
        report = verify_log(store)
    assert not report.ok and report.first_bad_seq == 3
    assert "edited" in report.problems[0]


def test_verify_reports_a_dropped_trigger(log):
    with open_log(log) as store:
        store.append(events(1))
    raw_sql(log, "DROP TRIGGER events_no_delete" + (" ON events" if isinstance(log, str) else ""))
    _verify_fails_with(log, "trigger events_no_delete is missing")


def test_verify_reports_a_disabled_trigger_on_postgresql(pg_server):  # noqa: F811
    """(SQLite has no way to disable a trigger but dropping it.)"""
    log = pg_server.new_database()
    with open_log(log) as store:
        store.append(events(1))
    raw_sql(log, "ALTER TABLE events DISABLE TRIGGER events_no_delete")
    _verify_fails_with(log, "trigger events_no_delete is disabled")


def _verify_fails_with(log, expected: str) -> None:
    result = Cli(log)("verify")
    assert result.exit_code == 1, result.output
    assert expected in result.stderr
    with pytest.raises(Exception, match=expected):
        open_log(log)  # and no other command goes on


def _append_one_at_a_time(location, worker: int, count: int) -> None:
    with open_log(location) as store:
        for event in events(count, f"worker {worker}"):
            store.append([event])


WRITERS, EACH = 8, 15


def test_concurrent_writers_leave_one_unbroken_chain(log):
    with open_log(log):
        pass  # the schema, made once, before the writers race
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_one_at_a_time, args=(log, w, EACH)) for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0] * WRITERS
    with open_log(log, readonly=True) as store:
        stored = list(store.iter_events())
        report = verify_log(store)
    assert [e.seq for e in stored] == list(range(1, WRITERS * EACH + 1))  # no gap, nothing lost
    assert report.ok, report.problems  # one chain: no fork


def test_a_bad_line_in_an_import_leaves_nothing(log, tmp_path):
    with open_log(log) as store:
        store.append(events(2, "before"))
        path = tmp_path / "bad.jsonl"
        write_jsonl(path, [*events(3, "good"), {**events(1, "bad")[0], "occurred": "not a date"}])
        with pytest.raises(LogError):
            import_file(store, str(path), show_progress=False)
        assert store.count() == 2
        assert verify_log(store).ok


def test_export_import_export_is_byte_identical_across_backends(pg_server, tmp_path):  # noqa: F811
    """SQLite → PostgreSQL → SQLite: every line, hash and timestamp the same."""
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    with EventStore(first) as store:
        store.append(events(20))
        amended = store.get(store.head()[0] and next(store.iter_events()).id)
        store.append([{
            "kind": "retraction", "target": amended.id, "reason": "a duplicate, for the suite",
            "sources": amended.record["sources"],
        }])
        exported = b"".join(store.export_lines())
    (tmp_path / "first.jsonl").write_bytes(exported)
    shared = pg_server.new_database()
    with PostgresEventStore(shared) as store:
        import_file(store, str(tmp_path / "first.jsonl"), show_progress=False)
        via_postgres = b"".join(store.export_lines())
    assert via_postgres == exported
    (tmp_path / "second.jsonl").write_bytes(via_postgres)
    with EventStore(second) as store:
        import_file(store, str(tmp_path / "second.jsonl"), show_progress=False)
        assert b"".join(store.export_lines()) == exported


def test_the_cli_works_on_a_postgresql_log_named_by_url_or_by_keywords(pg_server):  # noqa: F811
    url = pg_server.new_database()
    name = url.split("///")[1].split("?")[0]
    keywords = f"host={pg_server.socket} dbname={name} user=postgres"
    cli = Cli(url)
    assert cli("init").exit_code == 0
    shown = Cli(keywords).json("verify")
    assert shown["ok"] and shown["events"] == 50
    exported = Cli(keywords)("export")
    assert exported.exit_code == 0 and len(exported.stdout_bytes.splitlines()) == 50
    event_id = cli("log", "meeting", "--date", "2024-06-12", "--country", "KR,KZ",
                   "--summary", "A meeting logged into the shared log.",
                   "--source", "Caspian Policy Center | Implementing the K-Silk Road | 2025-01-31 | | Maia Kiniyalocts",
                   "--participants", "officials of both sides", "--topic", "the shared log")
    assert event_id.exit_code == 0, event_id.output
    event_id = event_id.stdout.strip()
    assert cli.json("show", event_id)["event"]["seq"] == 51


def test_an_unreachable_server_is_one_line_and_exit_3(tmp_path):
    result = Cli(f"postgresql:///nowhere?host={tmp_path}")("verify")
    assert result.exit_code == 3
    assert "cannot use the PostgreSQL log" in result.stderr and "Traceback" not in result.output

"""`verify` finds what was done to the log behind the tracker's back, and names where."""

import multiprocessing
import sqlite3

import orjson

from tracker.log.schema import LOG_TRIGGERS
from tracker.log.store import EventStore
from tracker.log.verify import verify_log

from .conftest import example


def logged(store, n=6):
    store.append([example("meeting", summary=f"Meeting number {i}.") for i in range(n)])
    return store


def behind_the_back(path, *statements):
    """What someone with a SQL shell could do: drop the guards, change rows, put the guards back
    exactly as they were, so that only the chain can tell."""
    conn = sqlite3.connect(path)
    for name in LOG_TRIGGERS:
        conn.execute(f"DROP TRIGGER {name}")
    for statement in statements:
        conn.execute(statement)
    for sql in LOG_TRIGGERS.values():
        conn.execute(sql)
    conn.commit()
    conn.close()


def test_an_untouched_log_verifies(store):
    report = verify_log(logged(store))
    assert report.ok and report.events == 6 and report.head_seq == 6


def test_an_edited_row_is_found_at_its_seq(store):
    logged(store)
    body = orjson.loads(store.conn.execute("SELECT body FROM events WHERE seq = 4").fetchone()[0])
    body["summary"] = "Something that never happened."
    edited = orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode().replace("'", "''")
    behind_the_back(store.path, f"UPDATE events SET body = '{edited}' WHERE seq = 4")
    report = verify_log(store)
    assert report.first_bad_seq == 4
    assert "hash does not match the event's content" in report.problems[0]


def test_a_deleted_row_is_found_at_the_seq_after_it(store):
    logged(store)
    behind_the_back(store.path, "DELETE FROM events WHERE seq = 3")
    report = verify_log(store)
    assert report.first_bad_seq == 4
    assert "seq 3 to 3 missing" in report.problems[0]


def test_a_reordered_pair_is_found_at_the_first_of_the_two(store):
    logged(store)
    columns = "id, kind, occurred, occurred_start, occurred_end, recorded_at, body, prev_hash, hash"
    behind_the_back(
        store.path,
        f"CREATE TABLE swap AS SELECT seq, {columns} FROM events WHERE seq IN (2, 3)",
        "DELETE FROM events WHERE seq IN (2, 3)",
        f"INSERT INTO events (seq, {columns}) SELECT 5 - seq, {columns} FROM swap",
    )
    report = verify_log(store)
    assert report.first_bad_seq == 2
    assert "removed, reordered or rewritten" in report.problems[0]


def test_a_changed_date_column_is_found_even_when_the_body_is_intact(store):
    logged(store)
    behind_the_back(store.path, "UPDATE events SET occurred_start = '1999-01-01' WHERE seq = 5")
    assert verify_log(store).first_bad_seq == 5


def test_a_dropped_trigger_is_a_problem(store):
    logged(store)
    store.conn.execute("DROP TRIGGER events_no_delete")
    report = verify_log(store)
    assert not report.ok
    assert "trigger events_no_delete is missing" in report.problems[0]


def test_the_cli_exits_1_and_names_the_seq(cli, db):
    assert cli("init", "--empty").exit_code == 0
    with EventStore(db) as store:
        logged(store)
    behind_the_back(db, "DELETE FROM events WHERE seq = 2")
    result = cli("verify")
    assert result.exit_code == 1
    assert "seq 3: prev_hash does not match" in result.output


def _append_many(path: str, worker: int, count: int) -> None:
    with EventStore(path) as store:
        for i in range(count):
            store.append([example("meeting", summary=f"Worker {worker} meeting {i}.")])


def test_eight_processes_appending_at_once_lose_nothing_and_keep_one_chain(tmp_path):
    path = str(tmp_path / "tracker.db")
    EventStore(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(path, w, 25)) for w in range(8)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    with EventStore(path) as store:
        assert store.count() == 200
        seqs = [seq for (seq,) in store.conn.execute("SELECT seq FROM events ORDER BY seq")]
        assert seqs == list(range(1, 201))
        links = store.conn.execute("SELECT count(DISTINCT prev_hash) FROM events").fetchone()[0]
        assert links == 200
        summaries = {e.record["summary"] for e in store.iter_events()}
        assert summaries == {f"Worker {w} meeting {i}." for w in range(8) for i in range(25)}
        assert verify_log(store).ok


def test_verify_prints_the_head_hash_to_anchor_the_log(cli):
    assert cli("init", "--empty").exit_code == 0
    cli("log", "meeting", "--participants", "KOICA", "--topic", "rail", "--date", "2024-07",
        "--country", "TJ,KR", "--summary", "Talks.", "--source", "CPC | Title | 2025-01-31")
    report = cli.json("verify")
    assert report["ok"] and report["head_seq"] == 1 and len(report["head_hash"]) == 64


def test_a_projection_changed_behind_the_trackers_back_is_found_by_table(cli, db):
    """The projections are checked against a fresh replay of the log (in a scratch copy):
    a tally bumped by hand, or a history row duplicated in place of another, is named."""
    assert cli("init").exit_code == 0
    assert cli("verify").exit_code == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE country_tallies_history SET visits_hosted = visits_hosted + 1"
                     " WHERE rowid = (SELECT min(rowid) FROM country_tallies_history)")
    result = cli("verify")
    assert result.exit_code == 1
    assert "table country_tallies_history differs from a fresh replay" in result.output


def test_the_same_rows_in_another_order_verify_but_a_row_twice_does_not(cli, db):
    assert cli("init").exit_code == 0
    with sqlite3.connect(db) as conn:  # the same rows, written in the reverse order
        conn.execute("CREATE TEMP TABLE kept AS SELECT * FROM project_status_history ORDER BY rowid DESC")
        conn.execute("DELETE FROM project_status_history")
        conn.execute("INSERT INTO project_status_history SELECT * FROM kept")
    assert cli("verify").exit_code == 0
    with sqlite3.connect(db) as conn:  # one row in place of another: as many rows, not the same
        first, last = conn.execute("SELECT min(rowid), max(rowid) FROM project_status_history").fetchone()
        conn.execute("DELETE FROM project_status_history WHERE rowid = ?", (last,))
        conn.execute("INSERT INTO project_status_history SELECT * FROM project_status_history WHERE rowid = ?", (first,))
    result = cli("verify")
    assert result.exit_code == 1 and "table project_status_history differs" in result.output

"""The replay engine: incremental catch-up, checkpoints, versions, atomic rebuilds, verify."""

from __future__ import annotations

import sqlite3

import projections
from projections import project_status
from tracker.replay import queries
from tracker.replay.checkpoints import checkpoint
from tracker.replay.engine import replay
from tracker.log.store import EventStore
from tracker.replay.checks import verify_all
from tests.replay_fixtures import at, correction, digests, event, full_digests, log, retraction, status_of

P = "uz-trains"


def _history(store):
    return store.conn.execute(
        "SELECT valid_from, valid_to, status, known_from, known_to, event FROM project_status_history"
        " ORDER BY known_from, valid_from"
    ).fetchall()


def test_a_checkpoint_is_written_with_the_rows(store):
    log(store, event("order", "o1", "2024-03-01", at("2024-03-02"), project=P))
    assert checkpoint(store.conn) == 1
    states = store.conn.execute("SELECT projection, version, last_seq FROM replay_state").fetchall()
    assert {name for name, _, _ in states} == {"effective_events", *(p.NAME for p in projections.PROJECTIONS)}
    assert {last for _, _, last in states} == {1}


def test_catch_up_replays_only_what_is_new(store):
    log(store, event("order", "o1", "2024-03-01", at("2024-03-02"), project=P))
    store.append([event("milestone", "m1", "2024-04-01", at("2024-04-02"), project=P, status="completed")])
    result = replay(store)
    assert (result.full, result.events, result.last_seq) == (False, 1, 2)
    assert replay(store).events == 0


def test_incremental_equals_full_replay(store):
    log(store, event("order", "o1", "2024-03-01", at("2024-03-02"), project=P))
    log(store, event("milestone", "m1", "2024-05-01", at("2024-05-02"), project=P, status="suspended"))
    log(store, event("mou", "late", "2024-01-01", at("2024-06-01"), project=P, project_name="Trains"))
    log(store, correction("c1", "o1", at("2024-06-02"), occurred="2024-06-01"))
    log(store, retraction("r1", "c1", at("2024-06-03")))
    log(store, retraction("r2", "m1", at("2024-06-04")))
    incremental = digests(store)
    assert full_digests(store) == incremental
    assert full_digests(store) == incremental  # two full replays give identical tables
    assert full_digests(store, shortcuts=False) == incremental  # and without the short cuts


def test_history_rows_are_closed_in_knowledge_time_and_never_rewritten(store):
    log(store, event("order", "o1", "2024-03-01", at("2024-03-02"), project=P))
    log(store, event("milestone", "m1", "2024-02-01", at("2024-04-01"), project=P, status="negotiating"))
    log(store, event("milestone", "m2", "2024-02-15", at("2024-05-01"), project=P, status="committed"))
    assert _history(store) == [
        ("2024-03-01", None, "committed", at("2024-03-02"), at("2024-05-01"), "o1"),  # the committed segment stays...
        ("2024-02-01", "2024-03-01", "negotiating", at("2024-04-01"), at("2024-05-01"), "m1"),
        ("2024-02-01", "2024-02-15", "negotiating", at("2024-05-01"), None, "m1"),  # ...until m2 moves it
        ("2024-02-15", None, "committed", at("2024-05-01"), None, "m2"),
    ]


def test_an_unchanged_row_keeps_its_known_from(store):
    log(store, event("order", "o1", "2024-03-01", at("2024-03-02"), project=P))
    log(store, event("meeting", "m1", "2024-04-01", at("2024-04-02"), project="other"))
    assert _history(store)[0][3] == at("2024-03-02")


def test_projects_are_named_by_the_latest_project_name_in_world_order(store):
    log(
        store,
        event("mou", "a", "2024-03-01", at("2024-03-02"), project=P, project_name="Later name"),
        event("mou", "b", "2024-01-01", at("2024-03-03"), project=P, project_name="Earlier name"),
    )
    assert queries.project_status(store.conn, P)[0]["name"] == "Later name"


def test_a_changed_projection_version_rebuilds_it_on_the_next_run(store, monkeypatch):
    log(store, event("order", "o1", "2024-03-01", at("2024-03-02"), project=P))
    monkeypatch.setattr(project_status, "VERSION", project_status.VERSION + 1)
    assert checkpoint(store.conn) is None
    result = replay(store)
    assert result.full
    version = store.conn.execute(
        "SELECT version FROM replay_state WHERE projection = 'project_status'"
    ).fetchone()[0]
    assert version == project_status.VERSION


def test_a_full_rebuild_is_atomic_for_readers(store, tmp_path):
    log(store, event("order", "o1", "2024-03-01", at("2024-03-02"), project=P))
    reader = EventStore(store.path)
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    from tracker.replay.engine import _run

    conn.execute("DELETE FROM replay_state")
    conn.execute("DROP VIEW projects")
    # mid-rebuild, a reader still sees the old projections
    assert status_of(reader, P) == "committed"
    _run(conn, full=True)
    assert status_of(reader, P) == "committed"
    conn.execute("COMMIT")
    assert status_of(reader, P) == "committed"
    reader.close()


def test_a_failed_replay_leaves_the_old_projections(store, monkeypatch):
    log(store, event("order", "o1", "2024-03-01", at("2024-03-02"), project=P))
    before = digests(store)

    def broken(key, events):
        raise RuntimeError("boom")

    monkeypatch.setattr(project_status, "fold", broken)
    try:
        replay(store, full=True)
    except RuntimeError:
        pass
    assert digests(store) == before


def test_effective_events_hold_the_corrected_form_and_leave_out_retracted(store):
    log(
        store,
        event("order", "o1", "2024-03-01", at("2024-03-02"), project=P),
        event("visit", "v1", "2024-03-05", at("2024-03-02")),
    )
    log(store, correction("c1", "o1", at("2024-04-01"), item="trams"), retraction("r1", "v1", at("2024-04-01")))
    rows = store.conn.execute(
        "SELECT id, title, parties, value_amount, value_currency, corrected, countries FROM effective_events"
    ).fetchall()
    assert rows == [("o1", "trams", "Uzbekistan Railways, Hyundai Rotem", 196000000.0, "USD", 1, "KR,KZ")]
    assert store.conn.execute("SELECT country FROM event_countries ORDER BY 1").fetchall() == [("KR",), ("KZ",)]


def test_write_commands_bring_the_projections_up_to_date(cli):
    cli("init", "--empty")
    result = cli("log", "milestone", "--date", "2024-06-01", "--country", "UZ", "--summary", "Trains run.",
                 "--source", "Gazeta.uz | Trains | 2024-06-02", "--project", P, "--status", "completed")
    assert result.exit_code == 0, result.output
    with EventStore(cli.db) as store:
        head = store.count()
        assert checkpoint(store.conn) == head
    assert cli.json("status", P)["status"] == "completed"


def test_verify_checks_the_projections_against_a_fresh_replay(store):
    log(store, event("order", "o1", "2024-03-01", at("2024-03-02"), project=P))
    assert verify_all(store).ok
    store.conn.execute("UPDATE project_status_history SET status = 'cancelled'")
    report = verify_all(store)
    assert not report.ok and "project_status_history" in report.problems[0]


def test_verify_reads_the_stored_file_with_a_small_page_cache_and_gives_the_old_one_back(store, monkeypatch):
    """verify reads the file through once; the memory of a large page cache goes to its replay."""
    from tracker.replay import checks

    log(store, event("order", "o1", "2024-03-01", at("2024-03-02"), project=P))
    before = store.conn.execute("PRAGMA cache_size").fetchone()[0]
    seen = []
    replay_run = checks._run
    monkeypatch.setattr(checks, "_run", lambda conn, **kw: (
        seen.append(store.conn.execute("PRAGMA cache_size").fetchone()[0]), replay_run(conn, **kw))[1])
    assert verify_all(store).ok
    assert seen == [checks.READING_CACHE] and checks.READING_CACHE != before
    assert store.conn.execute("PRAGMA cache_size").fetchone()[0] == before


def test_verify_on_the_command_line_fails_when_a_projection_was_tampered_with(cli):
    cli("init")
    assert cli("verify").exit_code == 0
    conn = sqlite3.connect(cli.db)
    conn.execute("DELETE FROM country_tallies WHERE country = 'KR'")
    conn.commit()
    conn.close()
    result = cli("verify")
    assert result.exit_code == 1 and "country_tallies" in result.output


def test_replay_full_on_the_command_line(cli):
    cli("init")
    before = cli.json("tallies")
    summary = cli.json("replay", "--full")
    assert summary["full"] and summary["events"] > 0
    assert cli.json("tallies") == before


def test_search_index_and_its_triggers_survive_a_full_replay(store):
    from tracker.replay.search import FTS_TRIGGERS

    def triggers():
        return {r[0] for r in store.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'effective_events'")}

    def found(word):
        return [r[0] for r in store.conn.execute(
            "SELECT e.id FROM events_fts JOIN effective_events e ON e.seq = events_fts.rowid"
            " WHERE events_fts MATCH ?", (word,))]

    log(store, event("order", "o1", "2024-03-01", at("2024-03-02"), summary="A zanzibarite order."))
    replay(store, full=True)
    assert set(FTS_TRIGGERS) <= triggers()
    assert found("zanzibarite") == ["o1"]
    log(store, event("order", "o2", "2024-03-05", at("2024-03-06"), summary="A quixotic order."))
    assert found("quixotic") == ["o2"]  # the triggers keep it current
    log(store, retraction("r1", "o1", at("2024-03-07")))
    assert found("zanzibarite") == []


def test_a_replay_declares_references_and_loads_the_countries_they_point_at(store):
    log(store, event("order", "o1", "2024-03-01", at("2024-03-02"), countries=["KR", "UZ"]))
    conn = store.conn
    assert conn.execute("SELECT name FROM countries WHERE code = 'UZ'").fetchone()[0]

    def refs(table):
        return {(r[3], r[2], r[4]) for r in conn.execute(f"PRAGMA foreign_key_list({table})")}

    assert refs("event_countries") == {("event", "effective_events", "id"), ("country", "countries", "code")}
    for table in ("project_status_history", "summit_timeline_history", "country_tallies_history"):
        assert ("event", "effective_events", "id") in refs(table), table
    for table in ("country_tallies", "country_tallies_history", "country_tallies_checkpoints"):
        assert ("country", "countries", "code") in refs(table), table


def test_full_replays_write_rows_in_the_same_order_whatever_the_hash_seed(tmp_path):
    import os
    import subprocess
    import sys

    from tracker.log.bundled import record_path
    from tracker.log.importing import read_jsonl

    db = tmp_path / "t.db"
    with EventStore(db) as s:
        s.append(read_jsonl(record_path()))
    script = (
        "import sys, hashlib; from tracker.log.store import EventStore; from tracker.replay.engine import replay; from tracker.replay.tables import derived_tables\n"
        "s = EventStore(sys.argv[1]); replay(s, full=True); h = hashlib.sha256()\n"
        "for t in derived_tables(): h.update(repr(s.conn.execute(f'SELECT * FROM {t}').fetchall()).encode())\n"
        "print(h.hexdigest())"
    )
    outs = {
        subprocess.run([sys.executable, "-c", script, str(db)], env={**os.environ, "PYTHONHASHSEED": seed},
                       capture_output=True, text=True, check=True).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1


def test_a_synthetic_log_caught_up_in_batches_equals_a_full_replay(store):
    """Late events, corrections and retractions of every kind, at a size where keys span years."""
    from itertools import islice

    from benchmarks.synthetic import generate

    events = generate(3000, amendment_share=0.03)
    while batch := list(islice(events, 400)):
        store.append(batch)
        replay(store)
    incremental = digests(store)
    assert full_digests(store) == incremental
    assert full_digests(store, shortcuts=False) == incremental

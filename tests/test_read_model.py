"""A shared log on PostgreSQL, read through its local read model (DESIGN §9).

Every command that reads projections answers on a PostgreSQL log exactly as on a SQLite
log of the same events; the read model catches up as teammates append, in `tracker
serve` too; it starts again from nothing (saying so) when the shared log is replaced or
its file is damaged, and refuses to be silently wrong. The role analysts write as cannot
edit the log, and a server that goes away mid-command is one line and exit 3.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from tests.conftest import Cli, example
from tests.pg_server import pg_server  # noqa: F401 (a fixture)
from tests.servers import free_port, wait_until_serving
from tracker.log.importing import import_file
from tracker.log.postgres import PostgresEventStore
from tracker.log.store import EventStore
from tracker.replay import readmodel


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    """The user's cache directory, where read models go by default: the test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TRACKER_READ_MODEL", raising=False)
    return tmp_path / "cache" / readmodel.CACHE_FOLDER


@pytest.fixture
def shared(pg_server):  # noqa: F811
    """A PostgreSQL log holding the bundled record."""
    url = pg_server.new_database()
    assert Cli(url)("init").exit_code == 0
    return url


def meeting(n: int, prefix: str = "teammate") -> dict:
    return example("meeting", summary=f"{prefix} {n}: a meeting logged by a teammate.")


def test_reading_commands_answer_on_a_postgresql_log_as_on_a_sqlite_log_of_the_same_events(pg_server, tmp_path):  # noqa: F811
    local = tmp_path / "tracker.db"
    assert Cli(local)("init").exit_code == 0
    assert Cli(local)("correct", "2024-06-12-alatau-city-call", "--set", "status=negotiating",
                      "--reason", "a correction, so amendments are copied too").exit_code == 0
    exported = tmp_path / "log.jsonl"
    assert Cli(local)("export", "--out", str(exported)).exit_code == 0
    url = pg_server.new_database()
    assert Cli(url)("import", str(exported)).exit_code == 0
    for command in (
        ["status"], ["tallies"], ["timeline"], ["figures"], ["list"], ["status", "alatau-city"],
        ["tallies", "KZ", "--as-of", "2024-06"], ["status", "--known-at", "2000-01-01"],
        ["list", "--known-at", "2099-01-01", "--country", "UZ"], ["timeline", "--reported-by", "2024-12-31"],
    ):
        on_sqlite, on_postgres = Cli(local)(*command, "--json"), Cli(url)(*command, "--json")
        assert on_postgres.exit_code == on_sqlite.exit_code == 0, (command, on_postgres.output)
        assert orjson.loads(on_postgres.stdout) == orjson.loads(on_sqlite.stdout), command
    assert Cli(local)("build", str(tmp_path / "from-sqlite.db")).exit_code == 0
    assert Cli(url)("build", str(tmp_path / "from-postgres.db")).exit_code == 0
    assert (tmp_path / "from-postgres.db").read_bytes() == (tmp_path / "from-sqlite.db").read_bytes()


def test_the_next_status_sees_what_a_teammate_appended(shared):
    cli = Cli(shared)
    before = {row["project"]: row["status"] for row in cli.json("status")}
    assert before["alatau-city"] == "proposed"
    with PostgresEventStore(shared) as teammate:  # another machine, its own connection
        teammate.append([example("milestone", project="alatau-city", status="cancelled",
                                 summary="A teammate records that the Alatau City call was dropped.")])
    after = {row["project"]: row["status"] for row in cli.json("status")}
    assert after["alatau-city"] == "cancelled"
    assert any(e["project"] == "alatau-city" and e["kind"] == "milestone" for e in cli.json("list"))


def test_replay_on_a_postgresql_log_rebuilds_the_read_models_projections(shared):
    summary = Cli(shared).json("replay", "--full")
    assert summary["full"] and summary["events"] == 50 and summary["last_seq"] == 50


def test_serve_shows_a_teammates_event_without_a_restart(shared, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TRACKER_FOLLOW_INTERVAL": "0.2", "TRACKER_READ_MODEL": str(tmp_path / "served.db")}
    process = subprocess.Popen(
        [sys.executable, "-m", "tracker", "--db", shared, "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )
    try:
        wait_until_serving(process, base, "tracker serve")
        with PostgresEventStore(shared) as teammate:
            event_id = teammate.append([meeting(1)]).last_id
        url = f"{base}/tracker/effective_events.json?id={event_id}&_shape=array"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with urllib.request.urlopen(url, timeout=5) as response:
                if orjson.loads(response.read()):
                    break
            time.sleep(0.2)
        else:
            pytest.fail(f"{event_id} never appeared in the served read model")
        search = f"{base}/tracker/effective_events.json?_search=teammate&_shape=array"
        with urllib.request.urlopen(search, timeout=5) as response:
            assert [row["id"] for row in orjson.loads(response.read())] == [event_id]
    finally:
        process.terminate()
        process.wait(10)


def test_a_replaced_shared_log_makes_the_read_model_start_again_and_say_so(pg_server, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TRACKER_READ_MODEL", str(tmp_path / "read-model.db"))
    first, second = pg_server.new_database(), pg_server.new_database()
    with PostgresEventStore(first) as store:
        store.append([meeting(n, "first") for n in range(3)])
    with PostgresEventStore(second) as store:  # another log where the first was
        store.append([meeting(n, "second") for n in range(5)])
    assert len(Cli(first).json("list")) == 3
    result = Cli(second)("list", "--json")
    assert result.exit_code == 0
    assert "rebuilt from scratch" in result.stderr and "hash differs" in result.stderr
    assert sorted(e["summary"][:8] for e in orjson.loads(result.stdout)) == ["second 0", "second 1", "second 2",
                                                                             "second 3", "second 4"]
    again = Cli(second)("list", "--json")
    assert "rebuilt" not in again.stderr  # once only


def test_a_shared_log_cut_short_makes_the_read_model_start_again(pg_server, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TRACKER_READ_MODEL", str(tmp_path / "read-model.db"))
    longer, shorter = pg_server.new_database(), pg_server.new_database()
    with PostgresEventStore(longer) as store:
        store.append([meeting(n) for n in range(4)])
        exported = list(store.export_lines())
    (tmp_path / "first-two.jsonl").write_bytes(b"".join(exported[:2]))
    with PostgresEventStore(shorter) as store:  # the same log, but for its last two events
        import_file(store, str(tmp_path / "first-two.jsonl"), show_progress=False)
    assert len(Cli(longer).json("list")) == 4
    result = Cli(shorter)("list", "--json")
    assert result.exit_code == 0 and "ends at seq 2" in result.stderr
    assert len(orjson.loads(result.stdout)) == 2


def test_a_shared_log_rewritten_behind_the_tracker_is_refused_not_copied(shared):
    import psycopg

    assert Cli(shared)("status").exit_code == 0
    with psycopg.connect(shared, autocommit=True) as conn:
        conn.execute("ALTER TABLE events DISABLE TRIGGER events_no_update")
        conn.execute("UPDATE events SET hash = repeat('0', 64) WHERE seq = 50")  # the read model's last
        conn.execute("ALTER TABLE events ENABLE TRIGGER events_no_update")
    result = Cli(shared)("status")
    assert result.exit_code == 2, result.output
    assert "does not check out at seq 50" in result.stderr.splitlines()[-1]
    assert Cli(shared)("status").exit_code == 2  # and it stays refused: no half-made read model answers


def test_the_read_model_lives_where_TRACKER_READ_MODEL_or_read_model_says(shared, tmp_path, cache):
    assert Cli(shared)("status").exit_code == 0
    [default] = cache.glob("read-model-*.db")
    chosen = tmp_path / "elsewhere" / "team.db"
    assert Cli(shared)("tallies", env={"TRACKER_READ_MODEL": str(chosen)}).exit_code == 0
    assert chosen.exists()
    option = tmp_path / "option.db"
    assert Cli(shared).runner.invoke(__import__("tracker.cli.main", fromlist=["cli_app"]).cli_app(),
                                     ["--db", shared, "--read-model", str(option), "timeline"]).exit_code == 0
    assert option.exists()
    with sqlite3.connect(chosen) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 50
    assert sorted(p.name for p in cache.glob("read-model-*.db")) == [default.name]


def test_the_default_read_model_is_named_for_the_log_not_its_password():
    one = readmodel.default_location("postgresql://ann:first@db.example/tracker")
    two = readmodel.default_location("postgresql://ann:second@db.example/tracker")
    other = readmodel.default_location("postgresql://ann:first@db.example/another")
    assert one == two != other
    assert "first" not in str(one)


def test_a_damaged_read_model_is_rebuilt(shared, tmp_path, monkeypatch):
    path = tmp_path / "read-model.db"
    monkeypatch.setenv("TRACKER_READ_MODEL", str(path))
    expected = Cli(shared).json("status")
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"this is not what the tracker wrote" * 100)
    result = Cli(shared)("status", "--json")
    assert result.exit_code == 0, result.output
    assert "rebuilt from scratch" in result.stderr and "could not be read" in result.stderr
    assert orjson.loads(result.stdout) == expected


def test_a_read_model_of_another_version_is_rebuilt(shared, tmp_path, monkeypatch):
    path = tmp_path / "read-model.db"
    monkeypatch.setenv("TRACKER_READ_MODEL", str(path))
    expected = Cli(shared).json("tallies")
    with sqlite3.connect(path) as conn:
        conn.execute(f"UPDATE {readmodel.META_TABLE} SET value = '0' WHERE key = 'version'")
    conn.close()
    result = Cli(shared)("tallies", "--json")
    assert result.exit_code == 0 and "another version" in result.stderr
    assert orjson.loads(result.stdout) == expected


def test_a_sqlite_log_is_never_taken_for_a_read_model(shared, tmp_path, monkeypatch):
    own = tmp_path / "tracker.db"
    assert Cli(own)("init").exit_code == 0
    before = own.read_bytes()
    monkeypatch.setenv("TRACKER_READ_MODEL", str(own))
    result = Cli(shared)("status")
    assert result.exit_code == 2 and "not a read model" in result.stderr
    assert own.read_bytes() == before


def _catch_up(url: str, path: str, results) -> None:
    with PostgresEventStore(url, readonly=True) as shared:
        store, outcome = readmodel.bring_up_to_date(shared, Path(path))
        store.close()
    results.put((outcome.copied, outcome.head_seq))


def test_two_processes_catching_up_at_once_take_turns(pg_server, tmp_path):  # noqa: F811
    url = pg_server.new_database()
    with PostgresEventStore(url) as store:
        store.append([meeting(n) for n in range(3000)])
    path = tmp_path / "read-model.db"
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_catch_up, args=(url, str(path), results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    outcomes = sorted(results.get(timeout=5) for _ in workers)
    assert outcomes == [(0, 3000), (3000, 3000)]  # one copied everything, the other found it done
    from tracker.replay.checks import verify_all

    with EventStore(path, readonly=True) as local:
        report = verify_all(local)
    assert report.ok and report.events == 3000, report.problems


def test_a_role_with_only_select_and_insert_appends_but_cannot_edit(shared, pg_server):  # noqa: F811
    import psycopg

    name = shared.split("///")[1].split("?")[0]
    with pg_server.admin() as admin:
        admin.execute(f"CREATE ROLE analyst_{name} LOGIN")
    with psycopg.connect(shared, autocommit=True) as owner:  # the table's owner grants it
        from tracker.log.postgres import WRITER_GRANTS

        owner.execute(WRITER_GRANTS.format(role=f"analyst_{name}"))
    writer = shared.replace("user=postgres", f"user=analyst_{name}")
    cli = Cli(writer)
    logged = cli("log", "meeting", "--date", "2024-06-12", "--country", "KR,KZ",
                 "--summary", "A meeting logged by an analyst.",
                 "--source", "Caspian Policy Center | Implementing the K-Silk Road | 2025-01-31 | | Maia Kiniyalocts",
                 "--participants", "analysts", "--topic", "privileges")
    assert logged.exit_code == 0, logged.output
    with psycopg.connect(writer, autocommit=True) as conn:
        for statement in ("UPDATE events SET kind = 'visit'", "DELETE FROM events", "TRUNCATE events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    as_writer = cli.json("verify")
    assert as_writer["ok"] and as_writer["events"] == 51 and as_writer["notes"] == []
    as_owner = Cli(shared).json("verify")
    assert any("may UPDATE, DELETE, TRUNCATE" in note for note in as_owner["notes"])


def test_a_server_gone_mid_command_is_one_line_exit_3_with_the_password_masked(shared, pg_server, monkeypatch):  # noqa: F811
    with_password = shared.replace("postgresql:///", "postgresql://postgres:s3cret-word@/")
    divergence = readmodel._divergence

    def server_goes_away(shared_store, local):
        with pg_server.admin() as admin:  # as an administrator's shutdown does to every session
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tracker'")
        return divergence(shared_store, local)

    monkeypatch.setattr(readmodel, "_divergence", server_goes_away)
    result = Cli(with_password)("status")
    assert result.exit_code == 3, result.output
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.output
    assert "PostgreSQL server did not complete the command" in result.stderr
    assert "s3cret-word" not in result.output and "postgres:***@" in result.stderr


def test_verify_walks_the_log_through_a_server_side_cursor(pg_server, monkeypatch):  # noqa: F811
    from tracker.log import postgres
    from tracker.log.verify import verify_log

    url = pg_server.new_database()
    with PostgresEventStore(url) as store:
        store.append([meeting(n) for n in range(40)])
    monkeypatch.setattr(postgres, "STREAM_ROWS", 7)
    with PostgresEventStore(url, readonly=True) as store:
        walk = store.conn.execute("SELECT seq FROM events ORDER BY seq")
        assert isinstance(walk, postgres.Stream)
        report = verify_log(store)
        assert report.ok and report.events == 40
        assert not store.conn.in_transaction  # the cursor's transaction ended with it

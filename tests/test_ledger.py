"""The log as a ledger: it reports what was done to it and never repairs the evidence; the
database itself refuses what the triggers cannot see; and when the machine fails a
command (a busy database, a full disk, a read-only file), the user gets one line that
tells the truth about what was written."""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tracker.cli.faults import COULD_NOT_COMPLETE
from tracker.log.importing import import_file
from tracker.log.schema import LOG_TRIGGERS
from tracker.log.store import EventStore

from .conftest import Cli, example, write_jsonl
from .log_paths import BOTH

READING_COMMANDS = [("list",), ("status",), ("tallies",), ("timeline",), ("export",)]
LOG_A_MEETING = ("log", "meeting", "--participants", "KOICA", "--topic", "rail", "--date", "2024-07",
                 "--country", "TJ,KR", "--summary", "Talks on rail.", "--source", "CPC | Title | 2025-01-31")


def fingerprint(path: Path) -> dict[str, str | None]:
    """The bytes of a database and its WAL files: what a command that only reads must leave alone."""
    return {  # (an empty WAL, which a reader may create, is no WAL)
        suffix: hashlib.sha256(Path(f"{path}{suffix}").read_bytes() if Path(f"{path}{suffix}").exists() else b"").hexdigest()
        for suffix in ("", "-wal")
    }


def quiesced(path: Path) -> None:
    """Fold the WAL into the file, as a clean close does, so the file alone holds the log."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def sql(path: Path, *statements: str) -> None:
    """What someone with a SQL shell could do to the file."""
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def one_line(result) -> str:
    """The error a command printed: exactly one line, and no traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def bundled(cli, db):
    assert cli("init").exit_code == 0
    return db


# Reading changes nothing ---------------------------------------------------------------------


def test_verify_and_every_reading_command_leave_the_file_as_it_was(cli, bundled):
    quiesced(bundled)
    before = fingerprint(bundled)
    for args in [("verify",), ("show", "2009-kr-kz-strategic-partnership"), *READING_COMMANDS]:
        result = cli(*args)
        assert result.exit_code in (0, 2), (args, result.output)
        assert fingerprint(bundled) == before, args


def test_verify_does_not_bring_projections_up_to_date_behind_the_users_back(cli, bundled):
    with EventStore(bundled) as store:  # an append whose catch-up never ran (a command cut short)
        store.append([example("meeting", summary="Appended, projections not caught up.")])
    quiesced(bundled)
    before = fingerprint(bundled)
    result = cli("verify")
    assert result.exit_code == 0, result.output
    assert "behind the log" in result.output
    assert fingerprint(bundled) == before


def test_reading_commands_answer_for_the_whole_log_when_projections_lag(cli, bundled):
    with EventStore(bundled) as store:
        store.append([example("meeting", id="late-meeting", summary="Appended, projections not caught up.")])
    quiesced(bundled)
    before = fingerprint(bundled)
    result = cli("list", "--json")
    assert result.exit_code == 0, result.output
    assert "late-meeting" in {row["id"] for row in orjson.loads(result.stdout)}
    assert result.stderr.startswith("Note: ")
    assert fingerprint(bundled) == before
    assert cli("replay").exit_code == 0
    assert cli("list").stderr == ""


# Tampering is reported, never repaired ----------------------------------------------------------


@pytest.mark.parametrize("trigger", sorted(LOG_TRIGGERS))
def test_a_dropped_trigger_is_reported_and_stays_dropped(cli, bundled, trigger):
    sql(bundled, f"DROP TRIGGER {trigger}")
    result = cli("verify")
    assert result.exit_code == 1
    assert f"trigger {trigger} is missing" in result.output
    for args in [("list",), ("status",), LOG_A_MEETING, ("replay", "--full")]:
        refused = cli(*args)
        assert refused.exit_code == 2, (args, refused.output)
        assert one_line(refused) == (
            f"Error: {bundled}: trigger {trigger} is missing: the log is no longer append-only. "
            "Nothing was done: `tracker verify` reports on the whole log"
        )
    conn = sqlite3.connect(bundled)
    assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (trigger,)).fetchone() is None
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 50


def test_a_trigger_that_does_nothing_under_the_same_name_is_reported(cli, bundled):
    sql(bundled, "DROP TRIGGER events_no_delete",
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT 1; END")
    result = cli("verify")
    assert result.exit_code == 1
    assert "trigger events_no_delete is not the tracker's" in result.output
    assert cli("list").exit_code == 2


def test_an_extra_trigger_on_the_log_is_reported(cli, bundled):
    sql(bundled, "CREATE TRIGGER events_quietly AFTER INSERT ON events BEGIN SELECT 1; END")
    result = cli("verify")
    assert result.exit_code == 1
    assert "trigger events_quietly" in result.output
    assert cli(*LOG_A_MEETING).exit_code == 2
    assert count(bundled) == 50


def test_a_dropped_log_table_is_reported_not_re_created_empty(cli, bundled):
    sql(bundled, "DROP TABLE events")
    result = cli("verify")
    assert result.exit_code == 1
    assert "OK" not in result.output
    assert "the events table is missing" in result.output
    refused = cli(*LOG_A_MEETING)
    assert refused.exit_code == 2
    assert "the events table is missing" in one_line(refused)
    conn = sqlite3.connect(bundled)
    assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone() is None


def put_back_exactly(path: Path, *statements: str) -> None:
    """Drop the guards, do something, and put the guards back exactly as they were."""
    sql(path, *(f"DROP TRIGGER {name}" for name in LOG_TRIGGERS), *statements, *LOG_TRIGGERS.values())


def test_a_truncated_log_is_shorter_than_its_own_projections(cli, bundled):
    put_back_exactly(bundled, "DELETE FROM events WHERE seq > 45")
    result = cli("verify")
    assert result.exit_code == 1
    assert "the log ends at seq 45, but its projections were built from events up to seq 50" in result.output
    for args in [("list",), ("status",), ("replay",), ("replay", "--full"), LOG_A_MEETING]:
        refused = cli(*args)
        assert refused.exit_code == 2, (args, refused.output)
        assert "events after seq 45 were removed" in one_line(refused)
    assert count(bundled) == 45


def test_a_log_rewritten_from_seq_20_fails_against_a_head_published_before(cli, bundled):
    published = cli.json("verify")
    early = cli.json("verify")  # the same log: any head it printed is still in it
    assert early["head_seq"] == 50
    conn = sqlite3.connect(bundled)
    seq10 = conn.execute("SELECT hash FROM events WHERE seq = 10").fetchone()[0]
    conn.close()
    # Rewrite the chain from seq 20 and cover the tracks: the projections' record of how far
    # the log reached goes too, and the projections are rebuilt to match.
    put_back_exactly(bundled, "DELETE FROM events WHERE seq >= 20", "DELETE FROM replay_head",
                     "DELETE FROM replay_state")
    with EventStore(bundled) as store:
        store.append([example("meeting", summary=f"A rewritten meeting {i}.") for i in range(31)])
    assert cli("replay", "--full").exit_code == 0
    assert cli("verify").exit_code == 0  # the chain alone cannot tell: it is a valid chain
    result = cli("verify", "--head", f"{published['head_seq']}:{published['head_hash']}")
    assert result.exit_code == 1
    assert "seq 50" in result.output and "published head" in result.output
    still = cli("verify", "--head", f"10:{seq10}")
    assert still.exit_code == 0, still.output
    assert "1 published head(s) still in it" in still.output


def test_heads_can_come_from_a_file_of_published_heads(cli, bundled, tmp_path):
    report = cli.json("verify")
    heads = tmp_path / "heads.txt"
    heads.write_text(f"# published with the site\n{report['head_seq']}:{report['head_hash']}\n\n")
    assert cli("verify", "--heads", str(heads)).exit_code == 0
    heads.write_text(f"{report['head_seq']}:{'0' * 64}\n")
    assert cli("verify", "--heads", str(heads)).exit_code == 1
    heads.write_text("fifty:abc\n")
    bad = cli("verify", "--heads", str(heads))
    assert bad.exit_code == 2
    assert "line 1" in one_line(bad) and "fifty:abc" in one_line(bad)


def test_a_head_beyond_the_end_of_the_log_is_a_failure(cli, bundled):
    report = cli.json("verify")
    result = cli("verify", "--head", f"{report['head_seq'] + 5}:{report['head_hash']}")
    assert result.exit_code == 1
    assert f"seq {report['head_seq'] + 5}" in result.output


# The database refuses what the triggers cannot see -------------------------------------------------


@pytest.mark.parametrize("statement", [
    "INSERT OR REPLACE INTO events SELECT * FROM events WHERE seq = 3",
    "REPLACE INTO events SELECT * FROM events WHERE seq = 3",
    "INSERT OR REPLACE INTO events (seq, id, kind, occurred, occurred_start, occurred_end, recorded_at, body,"
    " prev_hash, hash) SELECT seq, 'new-id', kind, occurred, occurred_start, occurred_end, recorded_at, body,"
    " prev_hash, hash FROM events WHERE seq = 3",
    "INSERT OR REPLACE INTO events (seq, id, kind, occurred, occurred_start, occurred_end, recorded_at, body,"
    " prev_hash, hash) SELECT 999, id, kind, occurred, occurred_start, occurred_end, recorded_at, body,"
    " prev_hash, hash FROM events WHERE seq = 3",
])
def test_replace_cannot_delete_a_row_behind_the_triggers(store, statement):
    store.append([example("meeting", summary=f"Meeting {i}.") for i in range(5)])
    before = store.conn.execute("SELECT * FROM events ORDER BY seq").fetchall()
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.conn.execute(statement)
    assert store.conn.execute("SELECT * FROM events ORDER BY seq").fetchall() == before


def test_a_log_from_the_previous_version_is_upgraded_on_the_next_write(cli, bundled):
    sql(bundled, "DROP TRIGGER events_no_replace", "PRAGMA user_version = 0")
    assert cli("verify").exit_code == 0  # an older tracker's log is not a tampered one
    assert cli(*LOG_A_MEETING).exit_code == 0
    conn = sqlite3.connect(bundled)
    assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events_no_replace'").fetchone()
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1


# Faults: one line, exit 3, the truth about what was written ------------------------------------------


def test_a_held_write_lock_is_one_line_and_nothing_is_written(cli, bundled, tmp_path):
    batch = tmp_path / "batch.jsonl"
    write_jsonl(batch, [example("meeting", summary=f"Batch meeting {i}.") for i in range(3)])
    holder = sqlite3.connect(bundled, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        env = {"TRACKER_BUSY_TIMEOUT": "0.5"}
        for args in [LOG_A_MEETING, ("import", str(batch)), ("replay", "--full")]:
            result = cli(*args, env=env)
            assert result.exit_code == COULD_NOT_COMPLETE, (args, result.output)
            line = one_line(result)
            assert "the database is busy: another process held its write lock for more than 0.5 s" in line
            if args[0] != "replay":
                assert "nothing was written" in line
        assert cli("list", env=env).exit_code == 0  # readers never wait for a writer
        assert cli("verify", env=env).exit_code == 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert count(bundled) == 50


@pytest.mark.parametrize("tuning", BOTH)
def test_a_held_write_lock_stops_an_import_on_either_path_before_anything_is_written(bundled, tmp_path, monkeypatch, tuning):
    """The command turns this error into the one line above, whichever path the import takes."""
    monkeypatch.setenv("TRACKER_BUSY_TIMEOUT", "0.2")
    batch = tmp_path / "batch.jsonl"
    write_jsonl(batch, [example("meeting", summary=f"Batch meeting {i}.") for i in range(40)])
    with EventStore(bundled, tuning=tuning) as store:
        holder = sqlite3.connect(bundled, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                import_file(store, str(batch), show_progress=False)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert multiprocessing.active_children() == []
    assert count(bundled) == 50


@pytest.mark.parametrize("tuning", BOTH)
def test_a_write_that_fails_mid_import_leaves_nothing_written_and_no_worker_running(
    cli, bundled, tmp_path, monkeypatch, tuning
):
    """A fault where line 50 is stored (a disk filling up, say): on the fast path, earlier
    blocks are in the table by then, and workers are still preparing later ones."""
    store_batch = EventStore._append_batch

    def failing(self, batch, *rest):
        if batch.line(len(batch.ids) - 1) >= 50:
            raise sqlite3.OperationalError("database or disk is full")
        return store_batch(self, batch, *rest)

    monkeypatch.setattr(EventStore, "_append_batch", failing)
    batch = tmp_path / "batch.jsonl"
    write_jsonl(batch, [example("meeting", summary=f"Batch meeting {i}.") for i in range(100)])
    with EventStore(bundled, tuning=tuning) as store:
        with pytest.raises(sqlite3.OperationalError, match="^database or disk is full$"):
            import_file(store, str(batch), show_progress=False)
    assert multiprocessing.active_children() == []
    assert count(bundled) == 50
    monkeypatch.undo()
    assert cli("verify").exit_code == 0


def test_a_non_number_busy_timeout_is_named(cli, bundled):
    result = cli(*LOG_A_MEETING, env={"TRACKER_BUSY_TIMEOUT": "soon"})
    assert result.exit_code == 2
    assert "TRACKER_BUSY_TIMEOUT" in one_line(result) and "soon" in one_line(result)


need_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs or a read-only bind needs root")


@contextlib.contextmanager
def mounted(*args: str, at: Path):
    at.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", *args, str(at)], check=True)
    try:
        yield at
    finally:
        subprocess.run(["umount", "-l", str(at)], check=True)


def fill(folder: Path, leave: int) -> Path:
    """Fill the file system of `folder` until `leave` bytes are free."""
    filler = folder / "filler"
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    with open(filler, "ab") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


def tracker(db: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The installed `tracker` command, in a process of its own as a person runs it."""
    return subprocess.run([sys.executable, "-m", "tracker", "--db", str(db), *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@need_root
def test_a_full_disk_never_gets_a_false_report(tmp_path):
    batch = tmp_path / "batch.jsonl"
    seen = set()
    with mounted("-t", "tmpfs", "-o", "size=8m", "tmpfs", at=tmp_path / "small") as small:
        db = small / "tracker.db"
        assert tracker(db, "init").returncode == 0
        events = count(db)
        for leave in [0, 4096, 12288, 32768, 65536, 98304, 131072, 196608, 262144, 393216, 524288, 786432,
                      1048576, 2097152, 4194304]:
            write_jsonl(batch, [example("meeting", summary=f"Meeting {i} with {leave} bytes free.") for i in range(40)])
            filler = fill(small, leave)
            result = tracker(db, "import", str(batch))
            filler.unlink()
            after = count(db)
            assert "Traceback" not in result.stderr, result.stderr
            if result.returncode == 0:
                assert after == events + 40
                seen.add("written")
            else:
                assert result.returncode == COULD_NOT_COMPLETE, result.stderr
                line = result.stderr.strip()
                assert "\n" not in line and "the disk is full" in line, line
                if "nothing was written" in line:
                    assert after == events
                    seen.add("nothing")
                else:
                    assert "40 events were added" in line and "Run `tracker replay` when there is room" in line
                    assert after == events + 40
                    seen.add("added, projections behind")
                    assert tracker(db, "replay").returncode == 0
            events = after
            checked = tracker(db, "verify")
            assert checked.returncode == 0, checked.stdout + checked.stderr
        assert seen == {"nothing", "added, projections behind", "written"}, seen  # every outcome was met


@need_root
def test_export_on_a_full_disk_leaves_no_partial_file(cli, bundled, tmp_path):
    with mounted("-t", "tmpfs", "-o", "size=1m", "tmpfs", at=tmp_path / "small") as small:
        fill(small, 8192)
        out = small / "log.jsonl"
        result = cli("export", "--out", str(out))
        assert result.exit_code == COULD_NOT_COMPLETE, result.output
        assert "the disk is full" in one_line(result)
        assert sorted(p.name for p in small.iterdir()) == ["filler"]


@need_root
def test_a_log_on_a_read_only_mount_can_be_read_but_not_written(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    db = home / "tracker.db"
    assert tracker(db, "init").returncode == 0
    quiesced(db)
    before = fingerprint(db)
    view = tmp_path / "view"
    with mounted("--bind", str(home), at=view):
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        ro = view / "tracker.db"
        for args in [("verify",), ("show", "2009-kr-kz-strategic-partnership"), ("list",), ("status",), ("tallies",),
                     ("timeline",), ("export", "--out", str(tmp_path / "log.jsonl"))]:
            result = tracker(ro, *args)
            assert result.returncode == 0, (args, result.stderr)
            assert result.stderr == "", (args, result.stderr)
        assert (tmp_path / "log.jsonl").read_bytes().count(b"\n") == 50
        for args in [LOG_A_MEETING, ("replay", "--full")]:
            result = tracker(ro, *args)
            assert result.returncode == COULD_NOT_COMPLETE, (args, result.stderr)
            assert "read-only" in result.stderr.strip() and "\n" not in result.stderr.strip()
            assert "Traceback" not in result.stderr
    assert fingerprint(db) == before


def test_a_command_stopped_by_a_fault_in_process_says_so_in_one_line(cli, bundled, monkeypatch):
    """The catch-up after a write fails (here: the disk fills between the two): the event is in
    the log, its id is printed, and the error says exactly that."""
    import tracker.replay.engine as replay

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(replay, "catch_up", full)
    result = cli(*LOG_A_MEETING)
    assert result.exit_code == COULD_NOT_COMPLETE
    event_id = result.stdout.strip()
    assert event_id and count(bundled) == 51
    assert one_line(result) == (
        f"Error: {event_id} was added to the log; the projections were not brought up to date: the disk is "
        "full. Run `tracker replay` when there is room"
    )

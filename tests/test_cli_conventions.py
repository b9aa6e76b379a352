"""The command line refuses instead of guessing, explains an empty answer, and keeps the
conventions people expect of a command: --version, completion, --db anywhere, a quiet
exit when the reader of a pipe goes away, 130 when stopped, tables a person can read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tracker.cli.main import hoist_db
from tracker.cli.output import emit_table

from .conftest import example, plain, write_jsonl


@pytest.fixture
def bundled(cli, db):
    assert cli("init").exit_code == 0
    return db


def error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# Refuse instead of guessing --------------------------------------------------------------------


@pytest.mark.parametrize("args, expected", [
    (("list", "--country", "Kazakhstan"), "Error: --country 'Kazakhstan': countries are ISO 3166-1 alpha-2 codes: Kazakhstan is KZ"),
    (("list", "--country", "XX"), "Error: --country 'XX' is not an ISO 3166-1 alpha-2 country code, e.g. KZ for Kazakhstan"),
    (("list", "--country", "Kazakstan"), "Error: --country 'Kazakstan' is not an ISO 3166-1 alpha-2 country code; did you mean KZ (Kazakhstan)?"),
    (("list", "--country", "Korea"), "did you mean KR (South Korea) or KP (North Korea)?"),
    (("tallies", "Uzbekistan"), "Error: COUNTRY 'Uzbekistan': countries are ISO 3166-1 alpha-2 codes: Uzbekistan is UZ"),
    (("list", "--project", "uz-hyundai-rotem-high-speed-train"), "Error: --project 'uz-hyundai-rotem-high-speed-train': no such project; the nearest: uz-hyundai-rotem-high-speed-trains"),
    (("list", "--project", "trains"), "the nearest: uz-hyundai-rotem-high-speed-trains"),
    (("status", "galkynysh"), "Error: PROJECT 'galkynysh': no such project; the nearest: galkynysh-desulfurization-complex"),
    (("timeline", "--project", "korea-central-asia-sumit"), "the nearest: korea-central-asia-summit"),
])
def test_an_unknown_country_or_project_is_refused_with_the_fix(cli, bundled, args, expected):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert expected in error_line(result)
    assert result.stdout == ""


def test_codes_and_slugs_still_work_in_any_case(cli, bundled):
    assert cli.json("list", "--country", "kz") == cli.json("list", "--country", "KZ") != []
    assert cli.json("list", "--project", "UZ-Hyundai-Rotem-High-Speed-Trains") != []


def test_a_known_project_not_there_yet_is_a_different_error(cli, bundled):
    result = cli("status", "k-silk-road-initiative", "--as-of", "2010")
    assert result.exit_code == 2
    assert "no project 'k-silk-road-initiative' (as of 2010-12-31): it does not appear until later" in error_line(result)


# An empty answer says why ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["list", "status", "tallies", "timeline"])
def test_knowledge_time_before_the_log_began_is_explained(cli, bundled, command):
    result = cli(command, "--known-at", "2020-01-01", "--json")
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == []
    assert result.stderr.startswith("Note: nothing had been recorded by 2020-01-01T23:59:59.999999Z: "
                                    "the log's first event was recorded at ")


def test_world_time_before_the_first_event_is_explained(cli, bundled):
    result = cli("list", "--as-of", "1990")
    assert result.exit_code == 0
    assert "Note: no event in the log had begun by 1990-12-31: the earliest began on 2009-01-01." in result.stderr


def test_an_empty_log_says_so(cli, db):
    assert cli("init", "--empty").exit_code == 0
    result = cli("list")
    assert "Note: the log is empty" in result.stderr


def test_an_answer_that_is_not_empty_has_no_note(cli, bundled):
    assert cli("list", "--known-at", "2099-01-01").stderr == ""


def test_importing_an_empty_file_says_nothing_was_in_it(cli, bundled, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    result = cli("import", str(empty))
    assert result.exit_code == 0
    assert result.stdout == "0 events added, 0 already in the log.\n"
    assert result.stderr == f"Note: {empty} holds no events (no lines but blank ones): nothing was added.\n"


# Conventions ---------------------------------------------------------------------------------------


def run(*args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TRACKER_DB"}
    return subprocess.run([sys.executable, "-m", "tracker", *args], cwd=cwd, capture_output=True, text=True,
                          input=input, env=env, timeout=120)


def test_version(tmp_path):
    from importlib.metadata import version

    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == f"tracker {version('ksilkroad-tracker')}\n"


def test_shell_completion_is_offered_and_completes_commands(tmp_path):
    shown = run("--show-completion", "bash", cwd=tmp_path)
    assert shown.returncode == 0 and "_tracker_completion" in shown.stdout
    env = {**os.environ, "_TRACKER_COMPLETE": "complete_bash", "COMP_WORDS": "tracker log me", "COMP_CWORD": "2"}
    completed = subprocess.run([sys.executable, "-m", "tracker"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert completed.stdout.split() == ["meeting"]


@pytest.mark.parametrize("argv, expected", [
    (["list", "--db", "x.db"], ["--db", "x.db", "list"]),
    (["list", "--kind", "order", "--db=x.db"], ["--db=x.db", "list", "--kind", "order"]),
    (["--db", "x.db", "list"], ["--db", "x.db", "list"]),
    (["log", "meeting", "--topic", "rail", "--db", "x.db"], ["--db", "x.db", "log", "meeting", "--topic", "rail"]),
    (["list", "--", "--db", "x.db"], ["list", "--", "--db", "x.db"]),
])
def test_db_is_taken_after_the_command_name_too(argv, expected):
    assert hoist_db(argv) == expected


def test_db_after_the_command_name_runs(tmp_path):
    assert run("init", "--db", "elsewhere.db", cwd=tmp_path).returncode == 0
    assert (tmp_path / "elsewhere.db").exists() and not (tmp_path / "tracker.db").exists()
    listed = run("list", "--json", "--db", "elsewhere.db", cwd=tmp_path)
    assert listed.returncode == 0 and len(orjson.loads(listed.stdout)) == 50


@pytest.mark.parametrize("command", ["list", "list --json", "export"])
def test_a_reader_that_goes_away_is_no_error(tmp_path, command):
    db = tmp_path / "tracker.db"
    batch = tmp_path / "batch.jsonl"
    write_jsonl(batch, [example("meeting", summary=f"Meeting number {i} of many.") for i in range(3000)])
    assert run("--db", str(db), "import", str(batch), cwd=tmp_path).returncode == 0
    process = subprocess.Popen([sys.executable, "-m", "tracker", "--db", str(db), *command.split()],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    process.stdout.readline()  # `| head -1`
    process.stdout.close()
    assert process.wait(60) == 0
    assert process.stderr.read() == b""


def test_stopping_at_a_prompt_exits_130_and_writes_nothing(cli, bundled, monkeypatch):
    import tracker.cli.kinds

    monkeypatch.setattr(tracker.cli.kinds, "stdin_is_terminal", lambda: True)
    result = cli("log", "meeting", "--participants", "KOICA", input="")  # end of input at the first prompt
    assert result.exit_code == 130
    assert "Stopped: nothing was written." in result.stderr
    assert len(cli.json("list")) == 50


# Tables a person can read ----------------------------------------------------------------------------


def terminal(monkeypatch, columns: int) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", str(columns))


def test_counts_read_as_english():
    from tracker.cli.common import counted

    assert [counted(1, "event"), counted(2, "event"), counted(1, "country", "countries"),
            counted(3, "country", "countries"), counted(1_000_000, "event")] == [
        "1 event", "2 events", "1 country", "3 countries", "1,000,000 events"]


def test_a_terminal_table_formats_numbers_and_keeps_ids_whole(capsys, monkeypatch):
    terminal(monkeypatch, 100)
    long_id = "2024-06-hyundai-rotem-uz-high-speed-trains-" + "x" * 30
    emit_table(["summary", "order_value_usd", "id"],
               [["Hyundai Rotem won a contract to supply high-speed trains. " * 2, 196000000.0, long_id]],
               title="1 event")
    out = plain(capsys.readouterr().out)
    assert "196,000,000" in out and "196000000.0" not in out
    assert long_id in out  # on one line, whole


def test_a_table_too_wide_for_the_terminal_is_shown_a_record_at_a_time(capsys, monkeypatch):
    terminal(monkeypatch, 60)
    long_id = "2024-06-hyundai-rotem-uz-high-speed-trains-contract"
    emit_table(["occurred", "kind", "project", "summary", "id"],
               [["2024-06-10/2024-06-30", "order", "uz-hyundai-rotem-high-speed-trains", "Hyundai Rotem won. " * 8, long_id]])
    lines = plain(capsys.readouterr().out).splitlines()
    assert f"id        {long_id}" in lines
    assert all(len(line) <= 60 or long_id in line for line in lines)


def test_piped_tables_keep_numbers_as_they_are(capsys):
    emit_table(["country", "order_value_usd"], [["UZ", 196000000.0]])
    assert capsys.readouterr().out == "country\torder_value_usd\nUZ\t196000000.0\n"


def test_dates_show_at_their_precision(cli, bundled):
    rows = cli("status").stdout.splitlines()
    galkynysh = next(row.split("\t") for row in rows if row.startswith("galkynysh-desulfurization-complex\t"))
    assert galkynysh[3] == "2009"  # the event says 2009 (to mid-2024), not 1 January 2009
    summit = [row.split("\t") for row in cli("timeline").stdout.splitlines()[1:]]
    assert summit[0][0] == "2024-06"
    assert cli.json("status", "galkynysh-desulfurization-complex")["since"] == "2009-01-01"  # JSON keeps the day


def test_help_wraps_at_the_terminal_not_where_the_source_broke_lines(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = cli("import", "--help")
    assert "so importing a file twice adds nothing" in plain(result.stdout)
    assert "Append the events in a JSONL file, all or nothing." in plain(result.stdout)


def test_a_snapshot_built_before_the_log_began_says_why_it_is_empty(cli, bundled, tmp_path):
    result = cli("build", str(tmp_path / "early.db"), "--known-at", "2020-01-01")
    assert result.exit_code == 0, result.output
    assert "Note: nothing had been recorded by 2020-01-01T23:59:59.999999Z" in result.stderr
    assert ": 0 events, head seq 0" in result.stderr

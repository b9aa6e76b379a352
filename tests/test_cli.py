"""The command line, used the way a person types it."""

import orjson
import pytest

from events.models import MODELS, WORLD_KINDS
from tracker.cli.kinds import kind_inputs
from tracker.cli.typed_input import parse_location, parse_source, parse_value

from .conftest import SOURCE, example, plain, write_jsonl


def as_options(event: dict) -> list[str]:
    """The `tracker log KIND` options that say the same as an event dict."""
    args: list[str] = []
    for spec in kind_inputs(event["kind"]):
        value = event.get(spec.name)
        if value is None:
            continue
        if spec.name == "sources":
            for s in value:
                parts = [s["publisher"], s["title"], s["published"], s.get("url") or "", s.get("author") or ""]
                while not parts[-1]:
                    parts.pop()
                args += [spec.option, " | ".join(parts)]  # by position: an author without a URL leaves it empty
        elif spec.name == "location":
            args += [spec.option, f"{value['name']} @ {value['lat']}, {value['lon']}"]
        elif isinstance(value, dict):  # a value
            args += [spec.option, f"{value['amount']} {value['currency']}"]
        elif isinstance(value, list):
            for item in value:
                args += [spec.option, str(item)]
        else:
            args += [spec.option, str(value)]
    return args


@pytest.mark.parametrize("kind", WORLD_KINDS)
def test_every_kind_can_be_logged_in_one_command_line(cli, kind):
    event = example(kind, location={"name": "Astana", "lat": 51.1694, "lon": 71.4491})
    result = cli("log", kind, *as_options(event))
    assert result.exit_code == 0, result.output
    event_id = result.stdout.strip()
    shown = cli.json("show", event_id)["event"]
    for field, value in event.items():
        if field == "value":
            assert shown[field] == value
        elif field != "sources":
            assert shown[field] == value, field
    assert shown["sources"][0]["author"] == SOURCE["author"]


@pytest.mark.parametrize("kind", WORLD_KINDS)
def test_log_kind_help_lists_every_field_of_the_model(cli, kind):
    result = cli("log", kind, "--help", env={"COLUMNS": "400"})  # one line per option
    assert result.exit_code == 0
    text = " ".join(plain(result.stdout).replace("│", " ").split())
    for spec in kind_inputs(kind):
        assert spec.option in text, spec.option
    for name, info in MODELS[kind].model_fields.items():
        if info.description and name != "kind":
            assert info.description.split(":")[0][:25] in text, name


def test_each_missing_required_option_is_one_line_and_exit_2(cli):
    result = cli("log", "order", "--buyer", "Uzbekistan", "--date", "2024-06", "--country", "UZ", "--summary", "An order.")
    assert result.exit_code == 2
    assert plain(result.output).strip().splitlines() == [
        "Error: --supplier is required: who supplies",
        "Error: --item is required: what was ordered",
        f"Error: --source is required: {next(s.help for s in kind_inputs('order') if s.name == 'sources')}",
    ]


def test_on_a_terminal_log_asks_for_what_is_missing(cli, monkeypatch):
    monkeypatch.setattr("tracker.cli.kinds.stdin_is_terminal", lambda: True)
    answers = "\n".join(["Hyundai Rotem", "trains", "2024-06", "UZ, KR", "An order.", "CPC | Title | 2025-01-31"]) + "\n"
    result = cli("log", "order", "--buyer", "Uzbekistan Railways", input=answers)
    assert result.exit_code == 0, result.output
    event = cli.json("list")[0]
    assert (event["supplier"], event["countries"], event["sources"][0]["publisher"]) == ("Hyundai Rotem", ["UZ", "KR"], "CPC")


def test_bad_values_name_the_option_or_field(cli):
    result = cli("log", "order", *as_options(example("order")), "--value", "lots of money")
    assert result.exit_code == 2
    assert "'lots of money' is not a value: use 'AMOUNT CURRENCY'" in result.output
    result = cli("log", "visit", *as_options(example("visit", occurred="2024-02-30")))
    assert result.exit_code == 2
    assert "--date '2024-02-30': day 30 does not exist in February 2024" in result.output


def test_the_typed_forms_of_structured_fields():
    assert parse_source("CPC | Implementing | 2025-01-31 | https://x.org/a | M. K") == {
        "publisher": "CPC", "title": "Implementing", "published": "2025-01-31", "url": "https://x.org/a", "author": "M. K"}
    assert parse_source("CPC | Implementing | 2025-01-31 | | M. K")["author"] == "M. K"
    assert parse_value("196,000,000 usd") == {"amount": "196000000", "currency": "USD"}
    assert parse_location("Astana, Kazakhstan @ 51.1694, 71.4491") == {"name": "Astana, Kazakhstan", "lat": 51.1694, "lon": 71.4491}


def test_import_is_all_or_nothing_and_names_the_line(cli, tmp_path):
    events = [example("meeting", summary=f"Meeting {i}.") for i in range(40)]
    events[36]["occurred"] = "2024-13"
    path = tmp_path / "in.jsonl"
    write_jsonl(path, events)
    result = cli("import", str(path))
    assert result.exit_code == 2
    assert plain(result.output).strip() == (
        f"Error: {path}: line 37: field 'occurred': '2024-13': month 13 does not exist (months are 01 to 12)"
    )
    assert cli.json("list") == []


def test_import_reports_what_it_added_and_skipped(cli, tmp_path):
    path = tmp_path / "in.jsonl"
    write_jsonl(path, [example("visit"), example("mou")])
    assert cli.json("import", str(path)) == {"added": 2, "skipped": 0, "last_seq": 2}
    assert cli.json("import", str(path)) == {"added": 0, "skipped": 2, "last_seq": 2}


def test_export_to_a_file_restores_exactly(cli, tmp_path):
    cli("log", "visit", *as_options(example("visit")))
    out = tmp_path / "log.jsonl"
    assert cli("export", "--out", str(out)).exit_code == 0
    restored = tmp_path / "restored.db"
    result = cli.runner.invoke(__import__("tracker.cli.main", fromlist=["cli_app"]).cli_app(), ["--db", str(restored), "import", str(out)])
    assert result.exit_code == 0, result.output
    again = cli.runner.invoke(__import__("tracker.cli.main", fromlist=["cli_app"]).cli_app(), ["--db", str(restored), "export"])
    assert again.stdout_bytes == out.read_bytes()


def test_list_filters_and_json_is_only_json(cli, tmp_path):
    path = tmp_path / "in.jsonl"
    write_jsonl(path, [
        example("visit", occurred="2024-06-10/2024-06-11", countries=["KR", "TM"]),
        example("order", occurred="2024-06", countries=["KR", "UZ"], project="uz-trains"),
        example("meeting", occurred="2024-12-09", countries=["KR", "TJ"]),
    ])
    cli("import", str(path))
    assert [e["kind"] for e in cli.json("list")] == ["order", "visit", "meeting"]
    assert [e["kind"] for e in cli.json("list", "--country", "tj")] == ["meeting"]
    assert [e["kind"] for e in cli.json("list", "--project", "uz-trains")] == ["order"]
    assert [e["kind"] for e in cli.json("list", "--since", "2024-06-05", "--until", "2024-06-30")] == ["visit"]
    assert [e["kind"] for e in cli.json("list", "--as-of", "2024-06")] == ["order", "visit"]
    result = cli("list", "--kind", "parade")
    assert result.exit_code == 2 and "--kind 'parade': must be one of" in result.output


def test_correct_and_retract_change_what_list_says_but_not_the_log(cli):
    event_id = cli("log", "order", *as_options(example("order"))).stdout.strip()
    fix = cli("correct", event_id, "--set", "quantity=10", "--set", "countries=UZ,KR", "--reason", "the article says ten").stdout.strip()
    listed = cli.json("list")[0]
    assert (listed["quantity"], listed["countries"]) == (10, ["UZ", "KR"])
    shown = cli.json("show", event_id)
    assert shown["event"]["quantity"] == 42 and shown["effective"]["quantity"] == 10
    assert [a["id"] for a in shown["amendments"]] == [fix]
    cli("retract", fix, "--reason", "the first figure was right")
    assert cli.json("list")[0]["quantity"] == 42
    cli("retract", event_id, "--reason", "duplicate")
    assert cli.json("list") == []
    assert cli.json("show", event_id)["retracted"] is True
    assert cli("verify").exit_code == 0


def test_knowledge_time_shows_what_the_tracker_said_before_a_correction(cli, tmp_path):
    path = tmp_path / "in.jsonl"
    write_jsonl(path, [{**example("order", id="uz-order"), "recorded_at": "2024-07-01T00:00:00.000000Z"}])
    cli("import", str(path))
    cli("correct", "uz-order", "--set", "quantity=10", "--reason", "fixed")
    assert cli.json("list", "--known-at", "2024-07-01")[0]["quantity"] == 42
    assert cli.json("list")[0]["quantity"] == 10
    assert cli.json("list", "--known-at", "2024-06-30") == []


@pytest.mark.parametrize("args, message", [
    (["correct", "nope", "--set", "summary=x", "--reason", "r"], "no event with id 'nope'"),
    (["retract", "nope", "--reason", "r"], "no event with id 'nope'"),
    (["show", "nope"], "no event with id 'nope'"),
    (["list", "--as-of", "2024-02-30"], "day 30 does not exist"),
    (["list", "--known-at", "yesterday"], "--known-at 'yesterday'"),
])
def test_bad_input_is_exit_2_with_one_line(cli, args, message):
    cli("init", "--empty")
    result = cli(*args)
    assert result.exit_code == 2
    lines = plain(result.output).strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_a_correction_to_an_unknown_field_is_refused(cli):
    event_id = cli("log", "visit", *as_options(example("visit"))).stdout.strip()
    result = cli("correct", event_id, "--set", "buyer=x", "--reason", "r")
    assert result.exit_code == 2 and "'buyer' is not a field of this kind of event" in result.output


def test_reading_a_database_that_does_not_exist_says_how_to_make_one(cli):
    result = cli("list")
    assert result.exit_code == 2 and "run `tracker init` first" in result.output


def test_tracker_db_environment_variable_picks_the_database(tmp_path):
    from typer.testing import CliRunner

    from tracker.cli.main import cli_app

    target = tmp_path / "elsewhere.db"
    result = CliRunner().invoke(cli_app(), ["init", "--empty"], env={"TRACKER_DB": str(target)})
    assert result.exit_code == 0 and target.exists()


def test_init_loads_the_bundled_record_and_it_verifies(cli):
    result = cli("init")
    assert result.exit_code == 0, result.output
    events = cli.json("list")
    assert len(events) >= 40
    assert all(e["sources"] for e in events)
    assert cli("verify").exit_code == 0
    again = cli("init")
    assert "0 events added" in again.output


def test_log_json_prints_the_logged_event(cli):
    out = cli.json("log", "mou", *as_options(example("mou")))
    assert out["kind"] == "mou" and out["seq"] == 1 and len(out["hash"]) == 64
    assert orjson.loads(orjson.dumps(out))  # plain JSON, nothing else on stdout

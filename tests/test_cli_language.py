"""The command line tells the truth in its own language: options as typed, what to type instead.

`tracker log` names the option and quotes what was typed; `tracker import` names
the file line and the JSON field. Both use the tracker's own words for every rule
the models enforce, and both report every problem of an event at once.
"""

from __future__ import annotations

import copy

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from events.models import (
    MAX_COUNT,
    MAX_NAMES,
    MAX_SOURCES,
    MODELS,
    NAME_MAX,
    TEXT_MAX,
    WORLD_KINDS,
    Figure,
    to_record,
    validate_event,
)
from events.problems import explain
from tracker.cli.main import cli_app
from tracker.cli.kinds import collect, kind_inputs
from tracker.cli.typed_input import InputError, parse_assignment, parse_source, parse_value

from .conftest import example, plain, write_jsonl
from .test_cli import as_options
from .test_hostile_input import HOSTILE_VALUES, leaf_fields, with_field

#: What pydantic says when its own words get through: none of it may reach a person.
PYDANTIC_PHRASES = ("should be", "should have", "should match", "Input should", "String should", "instance of",
                    "Field required", "Extra inputs", "valid dictionary", "Value error")


def errors_of(result) -> list[str]:
    lines = plain(result.stderr).strip().splitlines()
    assert lines and all(line.startswith("Error: ") for line in lines), result.stderr
    return [line.removeprefix("Error: ") for line in lines]


def in_pydantic_words(message: str) -> bool:
    return any(phrase in message for phrase in PYDANTIC_PHRASES)


# tracker log: options as typed ---------------------------------------------------------------


def test_a_date_that_does_not_exist_is_named_by_its_option(cli):
    result = cli("log", "meeting", *as_options(example("meeting", occurred="2024-02-30")))
    assert result.exit_code == 2
    assert errors_of(result) == ["--date '2024-02-30': day 30 does not exist in February 2024, which has 29 days"]


def test_a_bad_country_among_several_is_quoted_as_typed(cli):
    result = cli("log", "meeting", *as_options(example("meeting")), "--country", "UZ, XX")
    assert errors_of(result) == ["--country 'XX' is not an ISO 3166-1 alpha-2 country code"]


def test_a_country_name_is_answered_with_its_code(cli):
    result = cli("log", "visit", *as_options(example("visit", host_country="Kazakhstan")))
    assert errors_of(result) == ["--host-country 'Kazakhstan' is not an ISO 3166-1 alpha-2 country code (Kazakhstan is KZ)"]


def test_a_bad_part_of_a_source_quotes_the_source_as_typed(cli):
    event = example("meeting")
    result = cli("log", "meeting", *as_options(event), "--source", "P | T | 2024-13-01")
    assert errors_of(result) == ["--source 'P | T | 2024-13-01': the date '2024-13-01': month 13 does not exist (months are 01 to 12)"]


def test_a_bad_amount_is_named_with_its_value(cli):
    result = cli("log", "order", *as_options(example("order", value=None)), "--value", "-5 USD")
    assert errors_of(result) == ["--value '-5 USD': the amount '-5' is negative: it must be 0 or more"]


def test_a_rule_across_fields_names_the_options(cli):
    result = cli("log", "meeting", *as_options(example("meeting", status="agreed")))
    assert errors_of(result) == ["--status needs a --project to apply to"]


def test_every_problem_of_one_event_is_reported_at_once_one_line_each(cli, db):
    result = cli("log", "order", "--buyer", "Uzbekistan Railways", "--quantity", "-1", "--date", "2024-02-30",
                 "--country", "KZ,XX", "--source", "P | T | 2024-06-12 | www.site.org/x", "--source", "P | T | 2024-13-01")
    assert result.exit_code == 2
    assert errors_of(result) == [
        "--supplier is required: who supplies",
        "--item is required: what was ordered",
        "--quantity -1 is negative: it must be 0 or more",
        "--date '2024-02-30': day 30 does not exist in February 2024, which has 29 days",
        "--country 'XX' is not an ISO 3166-1 alpha-2 country code",
        "--summary is required: one or two sentences in the tracker's own words",
        "--source 'P | T | 2024-06-12 | www.site.org/x': the fourth field is the URL and must start with "
        "http:// or https://: did you mean 'https://www.site.org/x'?",
        "--source 'P | T | 2024-13-01': the date '2024-13-01': month 13 does not exist (months are 01 to 12)",
    ]
    assert not db.exists()  # nothing written, not even an empty log


#: Text a person might type into any option, meant or not.
TYPED = ["", " ", "x", "X", "-1", "0", "7.5", "1e999", "NaN", "2024-02-30", "2024-13", "KZ", "xx", "Bad Slug",
         "a\x1bb", "\u202eevil", "x" * (TEXT_MAX + 1), "P | T", "P | T | 2024-06-12 | javascript:alert(1)",
         "1 USD", "1 XYZ", "lots of money", "A @ 91, 0", "A @ x", "in_progress", "royal"]


def test_no_option_of_any_kind_is_answered_in_pydantic_words():
    for kind in WORLD_KINDS:
        base = {spec.name: _typed(spec.name, example(kind)) for spec in kind_inputs(kind)}
        for spec in kind_inputs(kind):
            for text in TYPED:
                given = {**base, spec.name: [text] if spec.multiple else text}
                try:
                    collect(kind, given, interactive=False)
                except InputError as e:
                    for problem in e.problems:
                        assert problem.startswith("--"), (kind, spec.option, text, problem)
                        assert not in_pydantic_words(problem), (kind, spec.option, text, problem)


def _typed(name: str, event: dict):
    """An event's field as `tracker log` options carry it (the parsed option values)."""
    options = as_options({"kind": event["kind"], name: event.get(name)}) if event.get(name) is not None else []
    values = options[1::2]
    spec = next(s for s in kind_inputs(event["kind"]) if s.name == name)
    return values if spec.multiple else (values[0] if values else None)


# tracker import: the field's path, the tracker's words --------------------------------------

#: Values that break every rule a model sets, whatever field they land in: every JSON type,
#: each limit (text, list and number bounds) just crossed, and characters text may not hold.
BREAKING = HOSTILE_VALUES + [
    "y" * (NAME_MAX + 1), "y" * (TEXT_MAX + 1), ["A"] * (MAX_NAMES + 1), [{"publisher": "P"}] * (MAX_SOURCES + 1),
    -5, 91.5, -181.0, float("inf"), float("nan"), MAX_COUNT + 1, 10**30, "not-a-date", "Bad Slug", "royal",
    {"unknown": 1}, [{"unknown": 1}], "x", ["x"], [7], "ftp://x", "https://x\u2028y", {"Bad Key": 1},
]
#: Every kind of error the models can raise, each of which the tracker words itself.
MODEL_ERRORS = {
    "missing", "extra_forbidden", "string_type", "string_too_short", "string_too_long", "string_pattern_mismatch",
    "literal_error", "value_error", "list_type", "too_short", "too_long", "dict_type", "model_type", "int_type",
    "float_type", "decimal_type", "decimal_parsing", "finite_number", "decimal_max_digits", "decimal_max_places",
    "decimal_whole_digits", "greater_than_equal", "less_than_equal",
}


def test_every_rule_the_models_enforce_is_explained_in_the_trackers_words():
    seen: set[str] = set()
    for kind, path, _, is_list in leaf_fields():
        for value in BREAKING:
            for event in (with_field(kind, path, copy.deepcopy(value), is_list), _whole(kind, path, value)):
                try:
                    validate_event(event)
                except ValidationError as e:
                    message = explain(e)
                    for details in e.errors(include_url=False):
                        seen.add(details["type"])
                        assert details["msg"] not in message, (kind, path, value, details)
                    assert not in_pydantic_words(message), (kind, path, value, message)
    assert MODEL_ERRORS <= seen, MODEL_ERRORS - seen  # the walk did meet every rule


def _whole(kind: str, path: tuple[str, ...], value) -> dict:
    """The event with its field (not an item or part of it) set to `value`, or missing."""
    event = with_field(kind, path, "x", False)
    if value is None:
        event.pop(path[0], None)
    else:
        event[path[0]] = copy.deepcopy(value)
    return event


def test_import_names_the_line_and_every_problem_of_it(cli, tmp_path):
    path = tmp_path / "events.jsonl"
    bad = example("meeting", occurred="2024-02-30", countries=["KZ", "kz"], location={"name": "A", "lat": 1})
    write_jsonl(path, [example("meeting"), example("visit"), bad, example("figure", amount="-1")])
    result = cli("import", str(path))
    assert result.exit_code == 2
    assert errors_of(result) == [
        f"{path}: line 3: field 'occurred': '2024-02-30': day 30 does not exist in February 2024, which has 29 days; "
        "field 'countries.1': 'kz' is not an ISO 3166-1 alpha-2 country code (codes are upper case: KZ); "
        "field 'location.lon': is required"
    ]


@pytest.mark.parametrize("value, message", [
    ("Astana", "field 'location': must be an object with the fields name, lat, lon, not 'Astana'"),
    ({"name": "A", "lat": 1, "lon": 2, "alt": 3}, "field 'location.alt': is not a field of a location: its fields are name, lat, lon"),
    ({"name": "A", "lat": 1, "lon": 200}, "field 'location.lon': 200 is more than 180.0, the most allowed"),
])
def test_import_words_nested_objects_itself(value, message):
    with pytest.raises(ValidationError) as info:
        validate_event(example("meeting", location=value))
    assert explain(info.value) == message


# Prompts: each answer checked as it is typed --------------------------------------------------


@pytest.fixture
def terminal(monkeypatch):
    monkeypatch.setattr("tracker.cli.kinds.stdin_is_terminal", lambda: True)


def answers(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def test_a_bad_date_at_a_prompt_is_refused_at_once_and_asked_again(cli, terminal):
    typed = answers("Hyundai Rotem", "trains", "2024-02-30", "2024-02-29", "UZ", "An order.", "CPC | Title | 2025-01-31")
    result = cli("log", "order", "--buyer", "Uzbekistan Railways", input=typed)
    assert result.exit_code == 0, result.output
    stderr = plain(result.stderr)
    refusal = "Error: --date '2024-02-30': day 30 does not exist in February 2024, which has 29 days"
    assert refusal in stderr
    assert stderr.index(refusal) < stderr.index("ISO 3166-1")  # before the next question, not after the last
    event = cli.json("list")[0]
    assert (event["supplier"], event["item"], event["occurred"]) == ("Hyundai Rotem", "trains", "2024-02-29")


def test_a_blank_answer_says_why_it_is_asked_again(cli, terminal):
    typed = answers("Hyundai Rotem", "trains", "", "2024-06", "", "UZ", "An order.", "CPC | Title | 2025-01-31")
    result = cli("log", "order", "--buyer", "Uzbekistan Railways", input=typed)
    assert result.exit_code == 0, result.output
    assert "Error: --date is required: when it happened" in result.stderr
    assert "Error: --country is required: ISO 3166-1 alpha-2 codes" in result.stderr
    # a prompt asks for one answer: how to repeat an option is no concern of it
    assert "(repeat for more):" not in result.stderr and "involved (comma-separated):" in result.stderr


def test_every_answer_is_checked_by_its_own_rule(cli, terminal):
    typed = answers("UZ, XX", "UZ, kr", "An order.", "CPC | Title | 2025-01-31 | cpc.org/a", "CPC | Title | 2025-01-31")
    result = cli("log", "mou", "--parties", "Korea", "--subject", "rail", "--date", "2024-06", input=typed)
    assert result.exit_code == 0, result.output
    assert "Error: --country 'XX' is not an ISO 3166-1 alpha-2 country code" in result.stderr
    assert "did you mean 'https://cpc.org/a'?" in result.stderr
    assert cli.json("list")[0]["countries"] == ["UZ", "KR"]


def test_options_given_are_checked_before_anything_is_asked(cli, terminal):
    result = cli("log", "order", "--buyer", "Uzbekistan Railways", "--date", "2024-02-30", input=answers("never asked"))
    assert result.exit_code == 2
    assert errors_of(result) == ["--date '2024-02-30': day 30 does not exist in February 2024, which has 29 days"]


def test_a_rule_across_answers_is_reported_after_the_last_one(cli, terminal, db):
    typed = answers("KZ, KZ", "A meeting.", "CPC | Title | 2025-01-31")
    result = cli("log", "meeting", "--participants", "A", "--topic", "t", "--date", "2024-06", input=typed)
    assert result.exit_code == 2
    assert "Error: --country lists a country twice" in result.stderr
    assert not db.exists()


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, typer.Abort])
def test_ctrl_c_or_end_of_input_at_a_prompt_ends_the_prompts(monkeypatch, interruption):
    """Nothing swallows them: the command line ends on them (Ctrl-C is exit 130), with nothing written."""
    answered = iter(["Hyundai Rotem"])

    def prompt(text, **options):
        try:
            return next(answered)
        except StopIteration:
            raise interruption from None  # typer.prompt raises Abort for Ctrl-C and end of input

    monkeypatch.setattr(typer, "prompt", prompt)
    with pytest.raises(interruption):
        collect("order", {"buyer": "Uzbekistan Railways"}, interactive=True)


def test_end_of_input_at_a_prompt_writes_nothing(cli, terminal, db):
    result = cli("log", "order", "--buyer", "Uzbekistan Railways", input=answers("Hyundai Rotem"))
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert not db.exists()


# Amounts: --value and --amount take what import takes -----------------------------------------


@pytest.mark.parametrize("typed, stored", [
    ("1.5e9", "1500000000"), ("196,000,000", "196000000"), ("1_000", "1000"), ("+5", "5"), (".5", "0.5"),
    ("5.", "5"), ("1E3", "1000"), ("0.0000000001", "0.0000000001"), ("196000000.00", "196000000"),
])
def test_the_value_option_reads_amounts_by_the_models_rule(typed, stored):
    assert parse_value(f"{typed} usd") == {"amount": stored, "currency": "USD"}


def test_the_value_option_takes_its_own_help_example(cli):
    assert "'1.5e9 USD'" in MODELS["signing"].model_fields["value"].description
    result = cli("log", "signing", *as_options(example("signing", value=None)), "--value", "1.5e9 USD")
    assert result.exit_code == 0, result.output
    assert cli.json("show", result.stdout.strip())["event"]["value"] == {"amount": "1500000000", "currency": "USD"}


amounts_as_text = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: f"{d:e}"),
    st.floats().map(repr),
    st.integers(-(10**25), 10**25).map(str),
    st.from_regex(r"[+-]?[0-9_]{0,25}(\.[0-9]{0,14})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
)


@settings(max_examples=400, deadline=None)
@given(text=amounts_as_text)
def test_value_and_amount_options_accept_exactly_what_import_accepts(text):
    try:
        imported = to_record(validate_event(example("figure", amount=text)))["amount"]
    except ValidationError:
        imported = None
    try:
        typed = parse_value(f"{text} USD")["amount"]
        figure = collect("figure", {**_figure_options(), "amount": text}, interactive=False)["amount"]
        assert to_record(Figure.model_validate({**example("figure"), "amount": typed}))["amount"] == typed
    except InputError:
        typed = figure = None
    assert typed == figure == imported


def _figure_options() -> dict:
    event = example("figure")
    return {spec.name: _typed(spec.name, event) for spec in kind_inputs("figure")}


def test_json_numbers_import_takes_are_typed_the_same_way():
    for number in (0.1, 1.5e9, 1e16, 1e-10, 42, 0, 10**19):
        imported = to_record(validate_event(example("figure", amount=number)))["amount"]
        assert parse_value(f"{number!r} USD")["amount"] == imported


# Sources: the fourth field is the URL ------------------------------------------------------


@pytest.mark.parametrize("fourth, fix", [
    ("www.site.org/x", ": did you mean 'https://www.site.org/x'?"),
    ("javascript:alert(1)", ""),
    ("M. Kim", "; for an author without a URL, leave the URL empty: 'P | T | 2024-06-12 | | M. Kim'"),
    ("M. Kim | https://x.org/a", ": did you mean 'P | T | 2024-06-12 | https://x.org/a | M. Kim'?"),
])
def test_a_fourth_field_that_is_not_a_url_is_refused_with_the_fix(cli, db, fourth, fix):
    source = f"P | T | 2024-06-12 | {fourth}"
    result = cli("log", "meeting", *as_options(example("meeting", sources=None)), "--source", source)
    assert result.exit_code == 2
    assert errors_of(result) == [
        f"--source {source!r}: the fourth field is the URL and must start with http:// or https://{fix}"
    ]
    assert not db.exists()


def test_an_author_without_a_url_leaves_the_url_empty():
    assert parse_source("P | T | 2024-06-12 | | M. Kim") == {
        "publisher": "P", "title": "T", "published": "2024-06-12", "author": "M. Kim"}
    assert parse_source("P | T | 2024-06-12 | HTTPS://site.org/x | M. Kim")["url"] == "HTTPS://site.org/x"


def test_correct_reads_sources_the_same_way():
    fields = MODELS["meeting"].model_fields
    with pytest.raises(InputError, match="did you mean 'https://www.site.org/x'"):
        parse_assignment(fields, "sources=P | T | 2024-06-12 | www.site.org/x")
    assert parse_assignment(fields, "sources=P | T | 2024-06-12 | | M. Kim")[1][0]["author"] == "M. Kim"


# Help and unknown kinds --------------------------------------------------------------------


@pytest.mark.parametrize("kind", WORLD_KINDS)
def test_log_kind_help_marks_every_required_option(cli, kind):
    result = cli("log", kind, "--help", env={"COLUMNS": "400"})  # one line per option
    lines = plain(result.stdout).splitlines()
    for spec in kind_inputs(kind):
        line = next(line for line in lines if f" {spec.option} " in line)
        assert ("[required]" in line) == spec.required, line


def test_log_help_lists_every_kind_on_one_line_at_80_columns(cli):
    result = cli("log", "--help", env={"COLUMNS": "80"})
    lines = plain(result.stdout).splitlines()
    for kind in WORLD_KINDS:
        assert any(f" {kind} " in line and MODELS[kind].about in line for line in lines), kind


@pytest.mark.parametrize("argv", [["log", "purchase"], None])  # as `tracker` builds it, and whole
def test_an_unknown_kind_lists_the_kinds_there_are(tmp_path, argv):
    result = CliRunner().invoke(cli_app(argv), ["--db", str(tmp_path / "t.db"), "log", "purchase", "--date", "2024"])
    assert result.exit_code == 2
    lines = plain(result.stderr).strip().splitlines()
    assert lines[0] == "Error: 'purchase' is not a kind of event. The kinds:"
    assert [line.split()[0] for line in lines[1:]] == list(WORLD_KINDS)
    assert all(MODELS[line.split()[0]].about in line for line in lines[1:])


def test_a_mistyped_kind_is_named(cli):
    result = cli("log", "vist")
    assert plain(result.stderr).startswith("Error: 'vist' is not a kind of event. Did you mean 'visit'?")


def test_an_amendment_kind_points_to_its_own_command(cli):
    result = cli("log", "correction")
    assert result.exit_code == 2
    assert errors_of(result) == ["a correction is recorded with `tracker correct ID --set FIELD=VALUE --reason WHY`, not `tracker log`"]


def test_the_fix_for_a_long_source_is_quoted_whole_to_be_copied():
    typed = "Caspian Policy Center | Implementing the K-Silk Road | 2025-01-31 | Maia Kiniyalocts"
    with pytest.raises(InputError) as refused:
        parse_source(typed)
    fixed = "Caspian Policy Center | Implementing the K-Silk Road | 2025-01-31 | | Maia Kiniyalocts"
    assert str(refused.value).endswith(f"leave the URL empty: '{fixed}'")
    assert parse_source(fixed)["author"] == "Maia Kiniyalocts"

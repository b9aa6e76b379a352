"""Hostile input: every limit the models set, the duplicate-key check, and what reaches a terminal.

Whatever a line of input holds, the tracker either stores a sound event or refuses
the line with one clear message (exit 2) and leaves the log as it was: never a
traceback, never an event much larger than its line, and never text that can move
a terminal's cursor, recolour it, or reorder what a reader sees.
"""

from __future__ import annotations

import copy
import json
import random
import sqlite3
import sys
import types
import typing
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from typer.testing import CliRunner

from events.codes import first_unsafe
from events.dates import DateError, parse_occurred
from events.identity import canonical_json, content_id, duplicate_key, may_repeat_a_key
from events.models import (
    AMOUNT_DECIMAL_PLACES,
    AMOUNT_WHOLE_DIGITS,
    KINDS,
    MAX_COUNT,
    MODELS,
    WORLD_KINDS,
    to_record,
    validate_event,
)
from events.problems import explain
from tracker.cli.main import cli_app
from tracker.log.importing import import_file
from tracker.cli.output import emit_json, emit_table
from tracker.log.preparing import LogError, _prepare_together, chain_hash, prepare
from tracker.log.store import EventStore
from tracker.log.tuning import PLAIN, TOGETHER_FROM
from tracker.cli.typed_input import InputError, parse_assignment

from .conftest import example, plain, write_jsonl
from .log_paths import BOTH, fast

RECORD = Path(__file__).resolve().parents[1] / "events" / "data" / "ksilkroad.jsonl"
AMENDMENT_BASE = {
    "correction": {"kind": "correction", "target": "some-event", "reason": "A reason.", "changes": {"summary": "New."}},
    "retraction": {"kind": "retraction", "target": "some-event", "reason": "A reason."},
}
#: Characters no text may hold, one of each sort.
UNSAFE = {
    "\x1b": "U+001B",  # ESC: starts every terminal escape sequence
    "\x00": "U+0000",
    "\t": "U+0009",
    "\n": "U+000A",
    "\x7f": "U+007F",
    "\x9b": "U+009B",  # CSI as a C1 control
    "\u2028": "U+2028",
    "\u202e": "U+202E",  # right-to-left override
    "\u2066": "U+2066",  # left-to-right isolate
    "\u200f": "U+200F",  # right-to-left mark
    "\u061c": "U+061C",  # Arabic letter mark
}


def refusal(data: dict) -> str:
    with pytest.raises(ValidationError) as info:
        validate_event(data)
    return explain(info.value)


def base(kind: str) -> dict:
    return copy.deepcopy(AMENDMENT_BASE[kind]) if kind in AMENDMENT_BASE else example(kind)


def _inner(annotation: typing.Any) -> tuple[typing.Any, bool]:
    """(the type inside Optional, Annotated and list, whether it is a list)."""
    is_list = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin is list:
            annotation, is_list = typing.get_args(annotation)[0], True
        else:
            return annotation, is_list


def leaf_fields(kinds=KINDS) -> list[tuple[str, tuple[str, ...], typing.Any, bool]]:
    """(kind, path, leaf type, in a list) for every field of every model, nested models included."""
    found = []
    for kind in kinds:
        for name, info in MODELS[kind].model_fields.items():
            inner, is_list = _inner(info.annotation)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                for sub, sub_info in inner.model_fields.items():
                    leaf, _ = _inner(sub_info.annotation)
                    found.append((kind, (name, sub), leaf, is_list))
            else:
                found.append((kind, (name,), inner, is_list))
    return found


NESTED_DEFAULTS = {
    "value": {"amount": "100", "currency": "USD"},
    "location": {"name": "Astana", "lat": 51.1694, "lon": 71.4491},
    "sources": [{"publisher": "P", "title": "T", "published": "2024-01-01"}],
}


def with_field(kind: str, path: tuple[str, ...], value: typing.Any, is_list: bool) -> dict:
    """A valid event of `kind` with the field at `path` set to `value`."""
    event = base(kind)
    if len(path) == 1:
        event[path[0]] = [value] if is_list else value
        if path[0] in ("project_name", "status") and "project" not in event:
            event["project"] = "some-project"
        return event
    outer, inner = path
    holder = copy.deepcopy(event.get(outer) or NESTED_DEFAULTS[outer])
    target = holder[0] if isinstance(holder, list) else holder
    target[inner] = value
    event[outer] = holder
    return event


def free_text_fields():
    """Every field, in every model, that takes free text: whatever a person may write there."""
    fields = []
    for kind, path, leaf, is_list in leaf_fields():
        if leaf is not str:
            continue
        try:
            validate_event(with_field(kind, path, "Plain words, as a person writes them.", is_list))
        except ValidationError:
            continue  # a slug, an id, a date, a URL: not free text
        fields.append((kind, path, is_list))
    return fields


FREE_TEXT = free_text_fields()


def fields_of_type(wanted) -> list[tuple[str, tuple[str, ...], bool]]:
    return [(kind, path, is_list) for kind, path, leaf, is_list in leaf_fields() if leaf is wanted]


# Amounts ---------------------------------------------------------------------------------

AMOUNT_FIELDS = fields_of_type(Decimal)


def test_every_amount_field_is_found():
    assert {(kind, path) for kind, path, _ in AMOUNT_FIELDS} == {
        ("signing", ("value", "amount")), ("order", ("value", "amount")), ("figure", ("amount",)),
    }


@pytest.mark.parametrize("kind, path, is_list", AMOUNT_FIELDS)
@pytest.mark.parametrize(
    "amount",
    ["1e999999999", "1e999999", "1E+20", "1" + "0" * AMOUNT_WHOLE_DIGITS, "0." + "0" * AMOUNT_DECIMAL_PLACES + "1",
     "1e-999999999", 1e308, "12345678901234567890.12345678901"],
)
def test_an_amount_out_of_range_is_refused_in_one_line(kind, path, is_list, amount):
    message = refusal(with_field(kind, path, amount, is_list))
    assert message.startswith(f"field '{'.'.join(path)}': ")
    assert f"at most {AMOUNT_WHOLE_DIGITS} digits before the decimal point and {AMOUNT_DECIMAL_PLACES} after" in message
    assert len(message) < 300


@pytest.mark.parametrize("kind, path, is_list", AMOUNT_FIELDS)
@pytest.mark.parametrize(
    "amount, stored",
    [
        ("9" * AMOUNT_WHOLE_DIGITS, "9" * AMOUNT_WHOLE_DIGITS),
        ("0." + "0" * (AMOUNT_DECIMAL_PLACES - 1) + "1", "0." + "0" * (AMOUNT_DECIMAL_PLACES - 1) + "1"),
        # 30 significant digits are kept exactly, not rounded to Python's default 28
        ("12345678901234567890.1234567891", "12345678901234567890.1234567891"),
        ("1.50E+3", "1500"),
        ("100.000000000000000000000000000000", "100"),
    ],
)
def test_an_amount_within_range_is_stored_exactly(kind, path, is_list, amount, stored):
    record = to_record(validate_event(with_field(kind, path, amount, is_list)))
    value = record[path[0]][path[1]] if len(path) == 2 else record[path[0]]
    assert value == stored


@pytest.mark.parametrize("kind, path, is_list", AMOUNT_FIELDS)
@pytest.mark.parametrize("zero", ["-0", "-0.00", "0.000", "0E+9", "-0E-5", -0.0, 0])
def test_every_zero_is_stored_as_0_and_hashes_like_it(kind, path, is_list, zero):
    plain_zero = to_record(validate_event(with_field(kind, path, "0", is_list)))
    record = to_record(validate_event(with_field(kind, path, zero, is_list)))
    assert record == plain_zero
    assert content_id(record) == content_id(plain_zero)
    assert b'"amount":"0"' in canonical_json(record)


def test_a_huge_exponent_on_import_is_one_line_and_exit_2(cli, tmp_path):
    # It used to crash with a 132-line traceback (a decimal overflow while writing it down).
    path = tmp_path / "events.jsonl"
    write_jsonl(path, [example("figure"), example("figure", amount="1e999999999")])
    result = cli("import", str(path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert plain(result.stderr).strip().splitlines() == [
        f"Error: {path}: line 2: field 'amount': '1e999999999' is out of range: amounts are non-negative "
        f"decimals with at most {AMOUNT_WHOLE_DIGITS} digits before the decimal point and "
        f"{AMOUNT_DECIMAL_PLACES} after it"
    ]


def test_a_short_line_never_becomes_a_huge_event(tmp_path):
    # "1e999999" used to turn a 300-byte line into a 1 MB stored event.
    with EventStore(tmp_path / "t.db") as store:
        with pytest.raises(LogError, match="out of range"):
            store.append([example("figure", amount="1e999999")])
        assert store.count() == 0


# Whole numbers and coordinates -------------------------------------------------------------

INT_FIELDS = fields_of_type(int)


def test_every_whole_number_field_is_found():
    assert {(kind, path) for kind, path, _ in INT_FIELDS} == {
        ("signing", ("agreement_count",)), ("order", ("quantity",)),
        ("forum", ("edition",)), ("forum", ("attendance",)),
    }


@pytest.mark.parametrize("kind, path, is_list", INT_FIELDS)
@pytest.mark.parametrize("value, shown", [(True, "true"), (False, "false"), (7.0, "7.0"), ("7", "'7'"), (7.5, "7.5")])
def test_whole_numbers_are_json_integers_only(kind, path, is_list, value, shown):
    message = refusal(with_field(kind, path, value, is_list))
    assert message == f"field '{path[0]}': must be a whole number (a JSON integer such as 7), not {shown}"


@pytest.mark.parametrize("kind, path, is_list", INT_FIELDS)
def test_whole_numbers_are_bounded_so_sums_fit_in_sqlite(kind, path, is_list):
    assert to_record(validate_event(with_field(kind, path, MAX_COUNT, is_list)))[path[0]] == MAX_COUNT
    assert f"is more than {MAX_COUNT}, the most allowed" in refusal(with_field(kind, path, MAX_COUNT + 1, is_list))
    assert f"is more than {MAX_COUNT}, the most allowed" in refusal(with_field(kind, path, 2**63 - 1, is_list))


@pytest.mark.parametrize("coordinate", ["lat", "lon"])
@pytest.mark.parametrize("value", [True, "51.1", None])
def test_coordinates_are_json_numbers_only(coordinate, value):
    location = {"name": "Astana", "lat": 51.1694, "lon": 71.4491, coordinate: value}
    assert f"field 'location.{coordinate}'" in refusal(example("meeting", location=location))


def test_an_integer_coordinate_is_still_a_number():
    record = to_record(validate_event(example("meeting", location={"name": "Astana", "lat": 51, "lon": 71})))
    assert record["location"] == {"name": "Astana", "lat": 51.0, "lon": 71.0}


def test_the_command_line_still_types_whole_numbers(cli):
    result = cli("log", "order", "--buyer", "B", "--supplier", "S", "--item", "trains", "--quantity", "7",
                 "--date", "2024-06", "--country", "UZ", "--summary", "An order.", "--source", "P | T | 2024-06-01")
    assert result.exit_code == 0, result.output
    assert cli.json("show", result.stdout.strip())["event"]["quantity"] == 7
    result = cli("log", "order", "--buyer", "B", "--supplier", "S", "--item", "trains", "--quantity", "\u0667",
                 "--date", "2024-06", "--country", "UZ", "--summary", "An order.", "--source", "P | T | 2024-06-01")
    assert result.exit_code == 2
    assert "is not a whole number" in result.stderr


# Free text --------------------------------------------------------------------------------


def test_free_text_fields_are_found_in_every_model():
    paths = {(kind, path) for kind, path, _ in FREE_TEXT}
    for kind in KINDS:
        assert (kind, ("note",)) in paths
    assert {("visit", ("visitor",)), ("signing", ("parties",)), ("figure", ("unit",)), ("correction", ("reason",)),
            ("meeting", ("sources", "title")), ("meeting", ("location", "name"))} <= paths


@pytest.mark.parametrize("kind, path, is_list", FREE_TEXT)
def test_no_free_text_field_takes_a_control_or_bidirectional_character(kind, path, is_list):
    field = ".".join(path[:1] + (("0",) if is_list and len(path) == 1 else ()) + path[1:])
    if len(path) == 2 and path[0] == "sources":
        field = f"sources.0.{path[1]}"
    for char, code in UNSAFE.items():
        message = refusal(with_field(kind, path, f"Before{char}after", is_list))
        assert message.startswith(f"field '{field}': contains the "), message
        assert code in message
        assert first_unsafe(message) is None


@pytest.mark.parametrize("text", ["Seoul–Astana talks", "Ташкент", "한국-중앙아시아", "Family \U0001F468\u200D\U0001F469", "ZWNJ\u200cok"])
def test_text_in_any_script_is_accepted(text):
    assert to_record(validate_event(example("meeting", summary=text)))["summary"] == text


@pytest.mark.parametrize("char", sorted(UNSAFE))
@pytest.mark.parametrize("field", ["url", "published"])
def test_urls_and_source_dates_refuse_them_too(char, field):
    source = {"publisher": "P", "title": "T", "published": "2024-01-01", "url": "https://example.org/a"}
    source[field] += f"{char}b"
    message = refusal(example("meeting", sources=[source]))
    assert message.startswith(f"field 'sources.0.{field}': contains the ")
    assert first_unsafe(message) is None


def test_a_field_name_or_a_long_value_cannot_smuggle_anything_into_a_message():
    message = refusal({**example("meeting"), "\x1b[2Jevil\u202e": 1})
    assert message == "field '<U+001B>[2Jevil<U+202E>': is not a field of this kind of event"
    message = refusal(example("meeting", countries=["\x1b" * 10000]))
    assert first_unsafe(message) is None and len(message) < 200


def test_a_lone_surrogate_from_the_command_line_is_named(cli):
    result = cli("log", "meeting", "--participants", "A", "--topic", "t", "--date", "2024-06", "--country", "KZ",
                 "--summary", "Bad \udcff byte.", "--source", "P | T | 2024-06-01")
    assert result.exit_code == 2
    assert "--summary contains the lone surrogate (not a character) U+DCFF" in result.stderr


def test_logging_an_escape_sequence_is_refused_in_one_clean_line(cli):
    result = cli("log", "meeting", "--participants", "A", "--topic", "t", "--date", "2024-06", "--country", "KZ",
                 "--summary", "Quiet \x1b]8;;https://evil.example\x07click\x1b]8;;\x07 text.", "--source", "P | T | 2024-06-01")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "\x1b" not in result.stderr
    assert "--summary contains the control character U+001B" in lines[0]


# Dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["\u0661\u0662", "１２", "1\u0665", "\U0001D7D9\U0001D7DA"])
@pytest.mark.parametrize("tuning", BOTH)
def test_amounts_take_ascii_digits_only_one_by_one_and_in_a_batch(store, tmp_path, amount, tuning):
    event = example("figure", amount=amount)
    with pytest.raises(LogError, match="write it with the digits 0-9"):
        prepare(event)
    batch = tmp_path / "batch.jsonl"
    write_jsonl(batch, [example("meeting", summary=f"Meeting {i}.") for i in range(TOGETHER_FROM + 5)] + [event])
    with pytest.raises(LogError, match="^line 38: .*write it with the digits 0-9"):
        import_file(store, str(batch), tuning=tuning)
    assert store.count() == 0


@pytest.mark.parametrize("text", ["\u0662\u0660\u0662\u0664", "\u0662\u0660\u0662\u0664-06", "２０２４-06-12",
                                  "2024-\u0966\u096c", "2024/\u0662\u0660\u0662\u0665", "\U0001D7DA\U0001D7D8\U0001D7DA\U0001D7DC"])
def test_dates_take_ascii_digits_only(text):
    with pytest.raises(DateError, match="digits 0-9"):
        parse_occurred(text)


@pytest.mark.parametrize("kind, field", [("meeting", "occurred"), ("summit", "planned_for"), ("figure", "period")])
def test_every_date_field_refuses_other_digits(kind, field):
    assert "digits 0-9 only" in refusal(example(kind, **{field: "\u0662\u0660\u0662\u0664-06"}))


def test_source_dates_refuse_other_digits():
    source = {"publisher": "P", "title": "T", "published": "\u0662\u0660\u0662\u0664-01-01"}
    assert "is not a calendar date (YYYY-MM-DD, digits 0-9)" in refusal(example("meeting", sources=[source]))


def test_a_long_date_is_refused_without_quoting_all_of_it():
    message = refusal(example("meeting", occurred="2024" * 10000))
    assert len(message) < 300


@pytest.mark.parametrize("option", ["--as-of", "--known-at", "--since", "--until"])
def test_time_options_take_ascii_digits_only(cli, tmp_path, option):
    path = tmp_path / "one.jsonl"
    write_jsonl(path, [example("meeting")])
    assert cli("import", str(path)).exit_code == 0
    result = cli("list", option, "\u0662\u0660\u0662\u0664")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")


# Duplicate keys ---------------------------------------------------------------------------


class Obj:
    """A JSON object as written, which may repeat a key."""

    def __init__(self, pairs):
        self.pairs = pairs


def render(node, rng: random.Random) -> str:
    """JSON text for a node, laid out and escaped at random, as any writer might."""
    space = lambda: rng.choice(["", "", " ", "  ", "\t"])  # noqa: E731
    if isinstance(node, Obj):
        members = [f"{space()}{render_str(k, rng)}{space()}:{space()}{render(v, rng)}{space()}" for k, v in node.pairs]
        return "{" + ",".join(members) + "}"
    if isinstance(node, list):
        return "[" + ",".join(f"{space()}{render(v, rng)}{space()}" for v in node) + "]"
    if isinstance(node, str):
        return render_str(node, rng)
    return json.dumps(node)


def render_str(text: str, rng: random.Random) -> str:
    out = []
    for char in text:
        roll = rng.random()
        if char in '"\\' or ord(char) < 0x20:
            out.append(json.dumps(char)[1:-1] if roll < 0.7 else f"\\u{ord(char):04x}")
        elif (roll < 0.15 or (char == ":" and roll < 0.5)) and ord(char) > 0xFFFF:
            high, low = divmod(ord(char) - 0x10000, 0x400)  # a surrogate pair, as JSON spells it
            out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
        elif roll < 0.15 or (char == ":" and roll < 0.5):
            out.append(f"\\u{ord(char):04{'x' if roll < 0.3 else 'X'}}")  # any character may be escaped
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def repeats(node) -> bool:
    if isinstance(node, Obj):
        keys = [k for k, _ in node.pairs]
        return len(set(keys)) < len(keys) or any(repeats(v) for _, v in node.pairs)
    if isinstance(node, list):
        return any(repeats(v) for v in node)
    return False


keys = st.sampled_from(["kind", "summary", "a", "a:b", 'q"', "k\\", "é", "\u003a", "x y", ""])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8))
json_nodes = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(st.tuples(keys, children), max_size=5).map(Obj),
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(node=json_nodes, seed=st.integers(0, 2**32))
def test_the_duplicate_key_checks_are_exact_however_the_json_is_written(node, seed):
    text = render(node, random.Random(seed)).encode()
    parsed = orjson.loads(text)
    doubled = repeats(node)
    assert (duplicate_key(text) is not None) == doubled
    if doubled:
        assert may_repeat_a_key(text, parsed)  # the cheap check never misses one
    elif b"\\u003" not in text:
        assert not may_repeat_a_key(text, parsed)  # and sends nothing else to the slow one


def test_the_cheap_check_passes_every_exported_line_and_the_bundled_record(store, tmp_path):
    store.append([(n, e) for n, e in enumerate(orjson.loads(line) for line in RECORD.read_bytes().splitlines())])
    for line in list(store.export_lines()) + RECORD.read_bytes().splitlines():
        assert not may_repeat_a_key(line, orjson.loads(line))


def _line(event: dict) -> bytes:
    return orjson.dumps(event)


DOUBLED = [
    ("top level", lambda line: line.replace(b'{"kind"', b'{"summary":"First.","kind"', 1), "summary"),
    ("same value twice", lambda line: line.replace(b'"kind":"meeting"', b'"kind":"meeting","kind":"meeting"', 1), "kind"),
    ("in a source", lambda line: line.replace(b'"publisher":', b'"title":"Other","publisher":', 1), "title"),
    ("escaped spelling", lambda line: line.replace(b'{"kind"', b'{"\\u0073ummary":"First.","kind"', 1), "summary"),
    ("with spaces", lambda line: line.replace(b'{"kind"', b'{ "topic" : "First." , "kind"', 1), "topic"),
]


def _doubled_file(tmp_path, double) -> Path:
    """Twelve meetings, the ninth with a key given twice."""
    lines = [_line(example("meeting", summary=f"Meeting {i}.")) for i in range(12)]
    lines[8] = double(lines[8])
    assert lines[8] != _line(example("meeting", summary="Meeting 8."))
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("case, double, key", DOUBLED, ids=[c[0] for c in DOUBLED])
def test_a_duplicate_key_is_refused_naming_the_line_and_the_key(cli, tmp_path, case, double, key):
    path = _doubled_file(tmp_path, double)
    result = cli("import", str(path))
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [
        f"Error: {path}: line 9: the key '{key}' appears twice in one object; give each field once"
    ]
    assert cli("export").stdout == ""  # nothing was written (the database exists, empty)


@pytest.mark.parametrize("case, double, key", DOUBLED, ids=[c[0] for c in DOUBLED])
@pytest.mark.parametrize("tuning", [*BOTH, pytest.param(fast(block_bytes=400), id="fast, two lines a block")])
def test_a_duplicate_key_is_refused_in_the_same_words_on_either_path(store, tmp_path, case, double, key, tuning):
    """The command above prints `Error: FILE: ` and this error: whichever path found it."""
    path = _doubled_file(tmp_path, double)
    with pytest.raises(LogError) as info:
        import_file(store, str(path), show_progress=False, tuning=tuning)
    assert str(info.value) == f"line 9: the key '{key}' appears twice in one object; give each field once"
    assert store.count() == 0


def test_a_duplicate_key_inside_a_corrections_changes_is_refused(store, tmp_path):
    target = store.append([example("meeting")]).last_id
    correction = _line({"kind": "correction", "target": target, "reason": "Typo.", "changes": {"topic": "A"}})
    path = tmp_path / "fix.jsonl"
    path.write_bytes(correction.replace(b'"topic":"A"', b'"topic":"A","topic":"B"') + b"\n")
    with pytest.raises(LogError, match=r"^line 1: the key 'topic' appears twice"):
        import_file(store, str(path), show_progress=False)
    assert store.count() == 1


@pytest.mark.parametrize("tuning", [
    pytest.param(PLAIN, id="plain"),
    pytest.param(fast(block_bytes=50 * 512), id="fast, one block"),
    pytest.param(fast(), id="fast, a few lines a block"),
])
def test_the_first_bad_line_is_named_whatever_is_wrong_with_the_later_one(store, tmp_path, tuning):
    lines = [_line(example("meeting", summary=f"Meeting {i}.")) for i in range(40)]
    lines[9] = _line(example("meeting", occurred="2024-13"))
    lines[19] = lines[19].replace(b'{"kind"', b'{"topic":"x","kind"', 1)
    lines[29] = b"not json"
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(LogError, match=r"^line 10: field 'occurred'"):
        import_file(store, str(path), show_progress=False, tuning=tuning)
    lines[9] = _line(example("meeting"))
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(LogError, match=r"^line 20: the key 'topic' appears twice"):
        import_file(store, str(path), show_progress=False, tuning=tuning)
    assert store.count() == 0


def test_a_duplicate_key_from_standard_input_is_refused(cli):
    line = _line(example("meeting")).replace(b'{"kind"', b'{"topic":"x","kind"', 1)
    result = cli("import", "-", input=line + b"\n")
    assert result.exit_code == 2
    assert "line 1: the key 'topic' appears twice" in result.stderr


def test_a_duplicate_key_in_a_json_value_on_the_command_line_is_refused():
    fields = MODELS["meeting"].model_fields
    with pytest.raises(InputError, match="the key 'name' appears twice"):
        parse_assignment(fields, 'location={"name": "A", "lat": 1, "lon": 2, "name": "B"}')
    assert parse_assignment(fields, 'location={"name": "A", "lat": 1, "lon": 2}')[1]["name"] == "A"


# What reaches a terminal ------------------------------------------------------------------

HOSTILE_CELLS = ["red \x1b[31malert", "csi \x9b2J", "bell \x07", "nul \x00", "bidi \u202eevil\u202c",
                 "isolate \u2066x\u2069", "tab\tand\nnewline", "[link=https://evil.example]click[/link]", ":smile:"]


def test_a_piped_table_shows_control_and_bidirectional_characters_as_escapes(capsys):
    emit_table(["c\x1b", "d"], [[cell, None] for cell in HOSTILE_CELLS])
    out = capsys.readouterr().out
    rows = out.split("\n")[:-1]
    assert len(rows) == 1 + len(HOSTILE_CELLS)  # one line per row: no newline got through
    assert all(row.count("\t") == 1 for row in rows)  # and no tab
    assert first_unsafe(out.replace("\t", "").replace("\n", "")) is None
    assert "red <U+001B>[31malert" in out and "csi <U+009B>2J" in out and "bidi <U+202E>evil" in out


def test_a_terminal_table_shows_them_as_escapes_and_reads_no_markup(capsys, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")
    emit_table(["text"], [[cell] for cell in HOSTILE_CELLS], title="hostile [bold]title\x1b")
    out = capsys.readouterr().out
    without_styles = plain(out)  # the table's own colours are the only escape sequences
    assert "\x1b" not in without_styles
    assert first_unsafe(without_styles.replace("\n", "")) is None
    assert "\x1b]8;" not in out  # no hyperlink was made from the data
    assert "[link=https://evil.example]click[/link]" in without_styles
    assert ":smile:" in without_styles and "<U+001B>[31malert" in without_styles


def test_json_output_escapes_what_a_terminal_could_act_on(capsys):
    data = {"summary": "".join(HOSTILE_CELLS), "note": "\x7f\u2028\u200e\u061c"}
    emit_json(data)
    out = capsys.readouterr().out
    assert first_unsafe(out.replace("\n", "")) is None
    assert orjson.loads(out) == data  # the same JSON, only escaped


def _log_with_a_raw_row(path: Path, summary: str) -> None:
    """A log whose last event was written by hand, bypassing the models, with its chain intact."""
    with EventStore(path) as store:
        store.append([example("meeting")])
        seq, head_hash, recorded_at = store.head()
        record = example("meeting", summary=summary)
        record["id"] = "hand-written"
        body = canonical_json(record)
        stamp = recorded_at[:-2] + "9Z"
        store.conn.execute(
            "INSERT INTO events (seq, id, kind, occurred, occurred_start, occurred_end, recorded_at, body, prev_hash, hash)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            (seq + 1, "hand-written", "meeting", "2024-06-12", "2024-06-12", "2024-06-12", stamp, body.decode(),
             head_hash, chain_hash(head_hash, stamp, body)),
        )
        store.conn.commit()


def test_a_log_written_by_hand_cannot_drive_the_terminal(cli, db):
    _log_with_a_raw_row(db, "Hand \x1b[2J\x1b]0;pwned\x07 \u202eevil\u202c written.")
    result = cli("list")
    assert result.exit_code == 0, result.output
    assert first_unsafe(result.stdout.replace("\t", "").replace("\n", "")) is None
    assert "Hand <U+001B>[2J<U+001B>]0;pwned<U+0007> <U+202E>evil<U+202C> written." in result.stdout
    listed = cli("list", "--json")
    assert first_unsafe(listed.stdout.replace("\n", "")) is None
    assert "Hand \x1b[2J" in orjson.loads(listed.stdout)[-1]["summary"]  # JSON keeps the data, escaped
    for args in (("show", "hand-written"), ("show", "hand-written", "--json")):
        shown = cli(*args)
        assert shown.exit_code == 0, shown.output
        assert first_unsafe(shown.stdout.replace("\n", "")) is None, args
        assert "\\u202e" in shown.stdout  # escaped the JSON way, and still there


# Fuzzing the import ------------------------------------------------------------------------

HOSTILE_VALUES = [
    None, True, False, 0, -1, 7, 7.0, -0.0, 2**63 - 1, 2**64, 1e308, MAX_COUNT + 1, "", " ", "x", "-0", "-0.00",
    "1e999999999", "1e999999", "9" * 25, "0.00000000001", "1E+20", "NaN", "\x1b[31m", "a\x00b", "\u202eevil",
    "\u2066x\u2069", "\u200f", "\x85", "a\nb", "\u0662\u0660\u0662\u0664-06", "２０２４", "2024-02-30", "2024-06",
    "2024-06-12/2024-06-01", "KZ", "kz", ["KZ"], ["KR", "KR"], [], {}, ["\x1b"], {"amount": "-0", "currency": "USD"},
    {"amount": "1e999999", "currency": "USD"}, {"name": "A", "lat": True, "lon": "1"}, "x" * 3000,
    [{"publisher": "P", "title": "T\u202e", "published": "2024-01-01"}], "javascript:alert(1)",
    "https://example.org/\x1b", {"\x1b": 1},
]
FIELD_NAMES = sorted({path[0] for _, path, _, _ in leaf_fields()} | {"kind", "id", "seq", "hash", "recorded_at", "\x1b"})


def as_obj(value):
    if isinstance(value, dict):
        return Obj([(k, as_obj(v)) for k, v in value.items()])
    if isinstance(value, list):
        return [as_obj(v) for v in value]
    return value


def leaves(node, path=()):
    """(path, value) of every scalar in a node: a path is a list of (object member or list item, index)."""
    if isinstance(node, Obj):
        for at, (_, value) in enumerate(node.pairs):
            yield from leaves(value, path + (("member", at),))
    elif isinstance(node, list):
        for at, value in enumerate(node):
            yield from leaves(value, path + (("item", at),))
    else:
        yield path, node


def replace_leaf(node, path, value):
    (how, at), rest = path[0], path[1:]
    if how == "member":
        key, old = node.pairs[at]
        node.pairs[at] = (key, replace_leaf(old, rest, value) if rest else value)
    else:
        node[at] = replace_leaf(node[at], rest, value) if rest else value
    return node


NUMERIC = st.one_of(
    st.builds(lambda m, e: f"{m}e{e}", st.integers(0, 99), st.integers(-(2**31), 2**31)),  # exponents any size
    st.builds(lambda m, e: f"{m}E+{e}", st.integers(1, 9), st.integers(0, 40)),
    st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["-0", "-0.00", "0E+9", "9" * 21, "0.00000000001", "1" * 40, "NaN", "Infinity", "7", "",
                     True, False, None, 7.0, -0.0, 2**63 - 1, MAX_COUNT + 1]),
)
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
UNSAFE_CHARS = st.sampled_from(sorted(UNSAFE) + ["\x07", "\x08", "\r", "\x1b[2J", "\x1b]8;;http://x\x07", "\udcff"])


@st.composite
def hostile_text(draw, current: str):
    how = draw(st.sampled_from(["insert", "insert", "digits", "long", "other"]))
    if how == "insert":
        at = draw(st.integers(0, len(current)))
        return current[:at] + draw(UNSAFE_CHARS) + current[at:]
    if how == "digits":
        return current.translate(ARABIC_DIGITS)
    if how == "long":
        return current * draw(st.sampled_from([300, 3000]))
    return draw(st.sampled_from(HOSTILE_VALUES))


def hostile_for(draw, current):
    """A hostile value for a leaf, of the sort that hurts a leaf like it."""
    if isinstance(current, (bool, int, float)) or (isinstance(current, str) and current.replace(".", "").isdigit()):
        return draw(NUMERIC)
    if isinstance(current, str):
        return draw(hostile_text(current))
    return draw(st.sampled_from(HOSTILE_VALUES))


MUTATIONS = ["set", "nested", "delete", "dup", "dup nested", "drop id", "amend", "truncate", "bytes", "kind"]


@st.composite
def mutated_line(draw, events: list[dict]) -> bytes:
    """A line of the bundled record, broken: one value made hostile, and perhaps more."""
    event = copy.deepcopy(draw(st.sampled_from(events)))
    node = as_obj(event)
    raw = None
    for step in range(draw(st.integers(1, 3))):
        how = "leaf" if step == 0 else draw(st.sampled_from(MUTATIONS))
        objects = [node] + [v for _, v in node.pairs if isinstance(v, Obj)] + [
            item for _, v in node.pairs if isinstance(v, list) for item in v if isinstance(item, Obj)]
        target = draw(st.sampled_from(objects)) if how in ("nested", "dup nested") else node
        keys_here = [k for k, _ in target.pairs]
        if how == "leaf":
            path, current = draw(st.sampled_from(list(leaves(node))))
            replace_leaf(node, path, as_obj(hostile_for(draw, current)))
        elif how in ("set", "nested"):
            key = draw(st.sampled_from(keys_here + FIELD_NAMES)) if how == "set" else draw(st.sampled_from(keys_here or ["x"]))
            value = as_obj(draw(st.sampled_from(HOSTILE_VALUES)))
            target.pairs = [(k, v) for k, v in target.pairs if k != key] + [(key, value)]
        elif how == "delete" and keys_here:
            key = draw(st.sampled_from(keys_here))
            target.pairs = [(k, v) for k, v in target.pairs if k != key]
        elif how in ("dup", "dup nested") and keys_here:
            key = draw(st.sampled_from(keys_here))
            value = dict(target.pairs)[key] if draw(st.booleans()) else as_obj(draw(st.sampled_from(HOSTILE_VALUES)))
            target.pairs.insert(draw(st.integers(0, len(target.pairs))), (key, value))
        elif how == "drop id":
            target.pairs = [(k, v) for k, v in target.pairs if k != "id"]
        elif how == "kind":
            target.pairs = [(k, v) for k, v in target.pairs if k != "kind"] + [("kind", draw(st.sampled_from(KINDS)))]
        elif how == "amend":
            changes = Obj([(draw(st.sampled_from(FIELD_NAMES)), as_obj(draw(st.sampled_from(HOSTILE_VALUES))))])
            kind = draw(st.sampled_from(["correction", "correction", "retraction"]))
            node = Obj([("kind", kind), ("target", event.get("id", "missing")), ("reason", "Fuzzed.")]
                       + ([("changes", changes)] if kind == "correction" else []))
        elif how in ("truncate", "bytes"):
            raw = raw if raw is not None else render(node, random.Random(draw(st.integers(0, 9)))).encode("utf-8", "surrogatepass")
            if how == "truncate":
                raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
            else:
                at = draw(st.integers(0, len(raw)))
                raw = raw[:at] + draw(st.sampled_from([b"\x00", b"\xff", b"\x1b", b'"', b"\\", b"}", b",", b"\xe2\x80\xae"])) + raw[at:]
    if raw is None:
        raw = render(node, random.Random(draw(st.integers(0, 9)))).encode("utf-8", "surrogatepass")
    return raw.replace(b"\n", b"\\n").replace(b"\r", b"\\r")  # one line, even after a mutation


BUNDLED = [orjson.loads(line) for line in RECORD.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def bundled_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bundled") / "tracker.db"
    result = CliRunner().invoke(cli_app(), ["--db", str(path), "import", str(RECORD)])
    assert result.exit_code == 0, result.output
    return path


def _copy(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), start=st.sampled_from(["empty", "bundled"]), whole=st.booleans(), stdin=st.booleans())
def test_any_mutated_record_imports_cleanly_or_is_refused_in_one_line(tmp_path_factory, bundled_db, data, start, whole, stdin):
    runner = CliRunner()
    work = tmp_path_factory.mktemp("fuzz")
    db = work / "tracker.db"
    if start == "bundled":
        _copy(bundled_db, db)

    def run(*args, **kwargs):
        result = runner.invoke(cli_app(), ["--db", str(db), *args], **kwargs)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            "".join(__import__("traceback").format_exception(*result.exc_info)))
        assert "Traceback" not in result.output
        return result

    lines = RECORD.read_bytes().splitlines() if whole else []
    for _ in range(data.draw(st.integers(1, 4))):
        line = data.draw(mutated_line(BUNDLED))
        if lines:
            lines[data.draw(st.integers(0, len(lines) - 1))] = line
        else:
            lines.append(line)
    text = b"\n".join(lines) + b"\n"
    before = run("export").stdout_bytes if db.exists() else b""
    if stdin:
        result = run("import", "-", input=text)
    else:
        path = work / "events.jsonl"
        path.write_bytes(text)
        result = run("import", str(path))
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        message = result.stderr.strip().splitlines()
        assert len(message) == 1 and message[0].startswith("Error: "), result.stderr
        assert first_unsafe(message[0]) is None
        assert (run("export").stdout_bytes if db.exists() else b"") == before
    if db.exists():
        checked = run("verify")
        assert checked.exit_code == 0, checked.output


# One validator, two paths ------------------------------------------------------------------

VALID = [example(kind) for kind in WORLD_KINDS] + [
    copy.deepcopy(e) for e in BUNDLED if e["kind"] not in ("correction", "retraction")]
PATHS_TO_CHANGE = [(kind, path, is_list) for kind, path, _, is_list in leaf_fields(WORLD_KINDS)]


@st.composite
def any_event(draw):
    """An event that may be valid or not, in any of the ways the fuzzer breaks them."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([None, 7, "event", [], {"kind": "nothing"}, {}]))
    kind, path, is_list = draw(st.sampled_from(PATHS_TO_CHANGE))
    value = draw(st.one_of(st.sampled_from(HOSTILE_VALUES), st.just("Fine words."), st.just("2024-06-12")))
    event = with_field(kind, path, copy.deepcopy(value), is_list)
    if draw(st.booleans()):
        event = draw(st.sampled_from(VALID))
        event = copy.deepcopy(event)
        key = draw(st.sampled_from(sorted(event)))
        if draw(st.booleans()):
            del event[key]
        else:
            event[key] = copy.deepcopy(draw(st.sampled_from(HOSTILE_VALUES)))
    if draw(st.integers(0, 4)) == 0:
        event["recorded_at"] = draw(st.sampled_from(
            ["2024-01-01T00:00:00.000000Z", "2024-01-01T24:00:00.000000Z", "\u0662024-01-01T00:00:00.000000Z",
             "2024-01-01T00:00:00Z", "2024-02-30T00:00:00.000000Z", 7]))
    return event


@settings(max_examples=300, deadline=None)
@given(event=any_event(), position=st.integers(0, TOGETHER_FROM - 1))
def test_the_batch_validator_accepts_and_writes_exactly_what_the_one_event_validator_does(event, position):
    # The batch path is called directly: through prepare_batch, a batch it wrongly
    # refused would be prepared again one by one, and the difference would not show.
    items = [(n + 1, copy.deepcopy(example("meeting", summary=f"Filler {n}."))) for n in range(TOGETHER_FROM)]
    items[position] = (position + 1, copy.deepcopy(event))
    try:
        one = [prepare(copy.deepcopy(item)) for item in items]
    except LogError:
        one = None
    try:
        together = _prepare_together(copy.deepcopy(items))
    except Exception:
        together = None
    assert (one is None) == (together is None), (one, together)
    if one is not None:
        assert together.ids == [p.id for p in one]
        assert together.bodies.split("\n") == [p.body.decode() for p in one]
        assert together.occurred == [p.occurred for p in one]
        assert (together.starts, together.ends) == ([p.occurred_start for p in one], [p.occurred_end for p in one])
        assert together.recorded_at == [p.log_fields.get("recorded_at") for p in one]

"""Sources as precise as they are, and the provenance of corrections (issue 13).

- A source's `published` is `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, kept as entered.
- A correction's own sources join the effective event's provenance; a retracted
  correction's sources leave it again.
- A correction can replace or drop a stale `note`.
- `tracker show` says which source supports which change.

Every log here is written by hand: imported JSONL with fixed ids and `recorded_at`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3

import orjson
import pytest
from pydantic import ValidationError

from events.codes import first_unsafe
from events.dates import DateError, parse_published
from events.identity import canonical_json
from events.models import to_record, validate_event
from events.problems import explain
from tracker.log.amendments import Amendment, changes_made, effective_form
from tracker.replay.effective import BODY_SQL

from .conftest import example, plain, write_jsonl

CPC = {"publisher": "Caspian Policy Center", "title": "Implementing the K-Silk Road", "published": "2025-01",
       "url": None, "author": "Maia Kiniyalocts"}
CAL = {"publisher": "Central Asian Light", "title": "Uzbekistan orders six trainsets", "published": "2024-06-12",
       "url": "https://example.org/trains", "author": None}
YONHAP = {"publisher": "Yonhap", "title": "Rail deal", "published": "2024", "url": None, "author": None}


def stamp(day: str, second: int = 0) -> str:
    return f"{day}T00:00:{second:02d}.000000Z"


def order(**overrides) -> dict:
    event = example("order", id="uz-order", occurred="2024-06", countries=["UZ", "KR"], quantity=7,
                    note="number of trains not reported", sources=[CPC], recorded_at=stamp("2025-02-01"))
    event.update(overrides)
    return event


def fix(fix_id: str, changes: dict, sources: list, recorded_at: str, reason: str = "a later report") -> dict:
    return {"kind": "correction", "id": fix_id, "target": "uz-order", "changes": changes, "reason": reason,
            "countries": ["UZ", "KR"], "sources": sources, "recorded_at": recorded_at}


def withdraw(retraction_id: str, target: str, recorded_at: str, sources: list | None = None) -> dict:
    return {"kind": "retraction", "id": retraction_id, "target": target, "reason": "it was wrong",
            "countries": ["UZ", "KR"], "sources": sources or [], "recorded_at": recorded_at}


def load(cli, tmp_path, *events) -> None:
    path = tmp_path / "log.jsonl"
    write_jsonl(path, list(events))
    result = cli("import", str(path))
    assert result.exit_code == 0, result.output


def refusal(event: dict) -> str:
    with pytest.raises(ValidationError) as caught:
        validate_event(event)
    return explain(caught.value)


# 1. Publication dates as precise as the source shows ---------------------------------------


@pytest.mark.parametrize("published, start, end, precision", [
    ("2024", "2024-01-01", "2024-12-31", "year"),
    ("2024-02", "2024-02-01", "2024-02-29", "month"),
    ("2024-06-12", "2024-06-12", "2024-06-12", "day"),
])
def test_a_source_date_is_a_day_a_month_or_a_year_kept_as_entered(published, start, end, precision):
    span = parse_published(published)
    assert (span.start.isoformat(), span.end.isoformat(), span.precision) == (start, end, precision)
    record = to_record(validate_event(example("meeting", sources=[{"publisher": "P", "title": "T", "published": published}])))
    assert record["sources"][0]["published"] == published
    assert f'"published":"{published}"'.encode() in canonical_json(record)


@pytest.mark.parametrize("published, message", [
    ("2024-13", "field 'sources.0.published': '2024-13': month 13 does not exist (months are 01 to 12)"),
    ("2024-02-30", "field 'sources.0.published': '2024-02-30': day 30 does not exist in February 2024, which has 29 days"),
    ("24-01", "field 'sources.0.published': '24-01' is not a calendar date (YYYY-MM-DD, digits 0-9), "
              "a month (YYYY-MM) or a year (YYYY)"),
    ("2024-06-12/2024-06-13", "field 'sources.0.published': '2024-06-12/2024-06-13' is not a calendar date"),
    ("2024~", "field 'sources.0.published': '2024~' is not a calendar date"),
    ("0000", "field 'sources.0.published': '0000': year 0000 does not exist"),
])
def test_an_impossible_source_date_is_refused_naming_the_field_and_the_value(published, message):
    assert refusal(example("meeting", sources=[{"publisher": "P", "title": "T", "published": published}])).startswith(message)


@pytest.mark.parametrize("text", ["24-01", "2024-13", "2024-02-30", "2024/2025", "June 2024", "٢٠٢٤"])
def test_parse_published_refuses_what_the_model_refuses(text):
    with pytest.raises(DateError):
        parse_published(text)


def test_tracker_log_takes_a_source_known_to_its_month_or_year(cli):
    for published in ("2024-06", "2024"):
        result = cli("log", "meeting", "--participants", "KOICA", "--topic", "rail", "--date", "2024-06",
                     "--country", "KZ", "--summary", f"Talks reported in {published}.",
                     "--source", f"Yonhap | Rail talks | {published}")
        assert result.exit_code == 0, result.output
        shown = cli.json("show", result.stdout.strip())["event"]
        assert shown["sources"][0]["published"] == published


@pytest.mark.parametrize("published, message", [
    ("2024-13", "--source 'Yonhap | Rail talks | 2024-13': the date '2024-13': month 13 does not exist (months are 01 to 12)"),
    ("2024-02-30", "--source 'Yonhap | Rail talks | 2024-02-30': the date '2024-02-30': day 30 does not exist in "
                   "February 2024, which has 29 days"),
    ("24-01", "--source 'Yonhap | Rail talks | 24-01': the date '24-01' is not a calendar date (YYYY-MM-DD, digits 0-9), "
              "a month (YYYY-MM) or a year (YYYY)"),
])
def test_tracker_log_refuses_an_impossible_source_date_in_one_line(cli, db, published, message):
    result = cli("log", "meeting", "--participants", "KOICA", "--topic", "rail", "--date", "2024-06",
                 "--country", "KZ", "--summary", "Talks.", "--source", f"Yonhap | Rail talks | {published}")
    assert result.exit_code == 2
    assert plain(result.stderr).strip().splitlines() == [f"Error: {message}"]
    assert not db.exists()


@pytest.mark.parametrize("count", [1, 40])  # one at a time, and validated together as a batch
def test_import_takes_partial_source_dates_and_export_keeps_them_byte_for_byte(cli, tmp_path, count):
    events = [example("meeting", id=f"m{i}", summary=f"Meeting {i}.",
                      sources=[{"publisher": "P", "title": "T", "published": ("2024", "2024-06", "2024-06-12")[i % 3]}])
              for i in range(count)]
    load(cli, tmp_path, *events)
    exported = cli("export").stdout_bytes
    lines = [orjson.loads(line) for line in exported.splitlines()]
    assert [line["sources"][0]["published"] for line in lines] == [e["sources"][0]["published"] for e in events]
    copy_db = tmp_path / "copy.db"
    (tmp_path / "backup.jsonl").write_bytes(exported)
    assert cli("--db", str(copy_db), "import", str(tmp_path / "backup.jsonl")).exit_code == 0
    assert cli("--db", str(copy_db), "export").stdout_bytes == exported
    assert cli("verify").exit_code == 0


def test_import_refuses_an_impossible_source_date_naming_line_field_and_value(cli, tmp_path, db):
    path = tmp_path / "bad.jsonl"
    write_jsonl(path, [example("meeting", id="ok"),
                       example("meeting", id="bad", sources=[{"publisher": "P", "title": "T", "published": "2024-02-30"}])])
    result = cli("import", str(path))
    assert result.exit_code == 2
    assert plain(result.stderr).strip().splitlines() == [
        f"Error: {path}: line 2: field 'sources.0.published': '2024-02-30': day 30 does not exist in February 2024, "
        "which has 29 days"
    ]


def test_an_event_with_day_precise_sources_hashes_as_before(cli, tmp_path):
    """The old form is still the canonical one: a full date is stored as it always was."""
    event = order(id="o1", sources=[{**CPC, "published": "2025-01-31"}], recorded_at=stamp("2025-02-01"))
    load(cli, tmp_path, event)
    (line,) = [orjson.loads(x) for x in cli("export").stdout_bytes.splitlines()]
    body = {k: v for k, v in line.items() if k not in ("seq", "recorded_at", "prev_hash", "hash")}
    digest = hashlib.sha256(f"{'0' * 64}\n{line['recorded_at']}\n".encode() + canonical_json(body)).hexdigest()
    assert line["hash"] == digest
    assert b'"published":"2025-01-31"' in canonical_json(body)


# 2. A correction's sources join the effective event's provenance --------------------------


def _amendments(*records) -> list[Amendment]:
    return [Amendment.from_record(r, seq, r["recorded_at"]) for seq, r in enumerate(records, start=2)]


def test_effective_form_lists_the_sources_of_every_live_correction_once_in_log_order():
    original = to_record(validate_event({k: v for k, v in order().items() if k != "recorded_at"}))
    c1 = fix("c1", {"quantity": 6}, [CAL, CPC], stamp("2025-03-01"))
    c2 = fix("c2", {"note": "Six trainsets."}, [YONHAP, CAL], stamp("2025-03-02"))
    c3 = fix("c3", {"item": "trainsets"}, [], stamp("2025-03-03"), reason="wording")
    form = effective_form(original, _amendments(c1, c2, c3))
    assert form["sources"] == [CPC, CAL, YONHAP]
    assert form["amended_by"] == [
        {"id": "c1", "fields": ["quantity"], "reason": "a later report", "sources": [CAL, CPC]},
        {"id": "c2", "fields": ["note"], "reason": "a later report", "sources": [YONHAP, CAL]},
        {"id": "c3", "fields": ["item"], "reason": "wording", "sources": []},
    ]
    assert orjson.loads(orjson.dumps(form)) == form  # plain JSON, as effective_events.body stores it
    assert original["sources"] == [CPC] and "amended_by" not in original  # the logged record is untouched
    # as known before the second correction, only the first one's sources count
    then = effective_form(original, _amendments(c1, c2, c3), known_at=stamp("2025-03-01", 30))
    assert then["sources"] == [CPC, CAL] and [a["id"] for a in then["amended_by"]] == ["c1"]
    # as known before any correction, the event is as logged: the very same record
    assert effective_form(original, _amendments(c1, c2, c3), known_at=stamp("2025-02-15")) is original


def test_a_retracted_corrections_sources_leave_the_effective_form_again():
    original = to_record(validate_event({k: v for k, v in order().items() if k != "recorded_at"}))
    c1 = fix("c1", {"quantity": 6}, [CAL], stamp("2025-03-01"))
    c2 = fix("c2", {"note": None}, [YONHAP], stamp("2025-03-02"))
    r1 = withdraw("r1", "c1", stamp("2025-03-03"), sources=[YONHAP])
    form = effective_form(original, _amendments(c1, c2, r1))
    assert form["quantity"] == 7 and "note" not in form
    assert form["sources"] == [CPC, YONHAP]
    assert [a["id"] for a in form["amended_by"]] == ["c2"]
    only_retracted = effective_form(original, _amendments(c1, withdraw("r1", "c1", stamp("2025-03-03"))))
    assert only_retracted is original


def test_a_correction_of_the_sources_themselves_keeps_every_corrections_provenance():
    original = to_record(validate_event({k: v for k, v in order().items() if k != "recorded_at"}))
    c1 = fix("c1", {"quantity": 6}, [CAL], stamp("2025-03-01"))
    c2 = fix("c2", {"sources": [YONHAP]}, [], stamp("2025-03-02"), reason="the first source was misattributed")
    form = effective_form(original, _amendments(c1, c2))
    assert form["sources"] == [YONHAP, CAL]
    assert [(a["id"], a["fields"]) for a in form["amended_by"]] == [("c1", ["quantity"]), ("c2", ["sources"])]


def test_list_shows_the_corrections_sources_now_and_not_before(cli, tmp_path):
    load(cli, tmp_path,
         order(),
         fix("c1", {"quantity": 6, "note": None}, [CAL], stamp("2025-03-01")),
         fix("c2", {"item": "high-speed trainsets"}, [], stamp("2025-03-02")))
    (now,) = cli.json("list")
    assert now["sources"] == [CPC, CAL]
    assert now["amended_by"] == [
        {"id": "c1", "fields": ["note", "quantity"], "reason": "a later report", "sources": [CAL]},
        {"id": "c2", "fields": ["item"], "reason": "a later report", "sources": []},
    ]
    # the log read at a knowledge time, and the replayed index, agree
    assert cli.json("list", "--known-at", "2999-01-01") == [now]
    (before,) = cli.json("list", "--known-at", stamp("2025-02-15"))
    assert before["sources"] == [CPC] and "amended_by" not in before
    assert cli("verify").exit_code == 0
    # retracting the first correction takes its source out again
    load(cli, tmp_path, withdraw("r1", "c1", stamp("2025-03-03")))
    (after,) = cli.json("list")
    assert after["sources"] == [CPC] and after["quantity"] == 7
    assert [a["id"] for a in after["amended_by"]] == ["c2"]
    assert cli("verify").exit_code == 0


def test_the_replayed_effective_body_is_the_effective_form_as_json(cli, tmp_path, db):
    load(cli, tmp_path, order(), fix("c1", {"quantity": 6}, [CAL], stamp("2025-03-01")))
    with sqlite3.connect(db) as conn:
        (body,) = conn.execute(f"SELECT {BODY_SQL} FROM effective_events AS e WHERE id = 'uz-order'").fetchone()
        (amended,) = conn.execute("SELECT amended_body FROM effective_events WHERE id = 'uz-order'").fetchone()
    assert orjson.loads(body)["sources"] == [CPC, CAL]
    assert orjson.loads(body)["amended_by"][0]["id"] == "c1"
    assert amended == body  # an amended event keeps its own copy of its effective form


def test_an_event_as_logged_keeps_no_second_copy_of_its_json(cli, tmp_path, db):
    load(cli, tmp_path, order(), order(id="kz-order", countries=["KZ", "KR"]),
         fix("c1", {"quantity": 6}, [CAL], stamp("2025-03-01")))
    with sqlite3.connect(db) as conn:
        unamended = conn.execute("SELECT count(*) FROM effective_events WHERE amended_body IS NULL").fetchone()[0]
        (body,) = conn.execute(f"SELECT {BODY_SQL} FROM effective_events AS e WHERE id <> 'uz-order' LIMIT 1").fetchone()
        logged = {b for (b,) in conn.execute("SELECT body FROM events")}
    assert unamended >= 1 and body in logged


# 3. A correction can replace or drop a stale note -----------------------------------------


def test_a_correction_drops_a_stale_note_and_a_later_one_writes_a_new_one(cli, tmp_path):
    load(cli, tmp_path, order(), fix("c1", {"quantity": 6, "note": None}, [CAL], stamp("2025-03-01")))
    (listed,) = cli.json("list")
    assert listed["quantity"] == 6 and "note" not in listed
    load(cli, tmp_path, fix("c2", {"note": "Six trainsets, per the June report."}, [CAL], stamp("2025-03-02")))
    (listed,) = cli.json("list")
    assert listed["note"] == "Six trainsets, per the June report."
    (then,) = cli.json("list", "--known-at", stamp("2025-02-15"))
    assert then["note"] == "number of trains not reported" and then["quantity"] == 7
    assert cli.json("show", "uz-order")["event"]["note"] == "number of trains not reported"  # the log is untouched
    assert cli("verify").exit_code == 0


def test_tracker_correct_replaces_and_removes_a_note(cli, tmp_path):
    load(cli, tmp_path, order())
    result = cli("correct", "uz-order", "--set", "note=Six trainsets, not seven.", "--reason", "the June report",
                 "--source", "Central Asian Light | Uzbekistan orders six trainsets | 2024-06")
    assert result.exit_code == 0, result.output
    (listed,) = cli.json("list")
    assert listed["note"] == "Six trainsets, not seven."
    assert listed["sources"][-1]["published"] == "2024-06"
    result = cli("correct", "uz-order", "--set", "quantity=6", "--set", "note=null", "--reason", "the note is stale")
    assert result.exit_code == 0, result.output
    (listed,) = cli.json("list")
    assert listed["quantity"] == 6 and "note" not in listed
    fix_id = result.stdout.strip()
    assert "note removed" in cli.json("show", fix_id)["event"]["summary"]
    assert cli("verify").exit_code == 0


def test_a_note_given_to_an_event_without_one_by_a_correction(cli, tmp_path):
    load(cli, tmp_path, order(note=None), fix("c1", {"note": "Sources disagree on the count."}, [], stamp("2025-03-01")))
    (listed,) = cli.json("list")
    assert listed["note"] == "Sources disagree on the count."


# 4. `tracker show` says which source supports which change --------------------------------


def test_show_of_an_uncorrected_event_is_the_event_as_logged_and_nothing_more(cli, tmp_path):
    load(cli, tmp_path, order())
    (line,) = cli("export").stdout_bytes.splitlines()
    result = cli("show", "uz-order")
    assert result.exit_code == 0
    assert result.stdout == orjson.dumps(orjson.loads(line), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
    shown = cli.json("show", "uz-order")
    assert shown["corrections"] == [] and shown["effective"]["sources"] == [CPC] and "amended_by" not in shown["effective"]


def _corrected_log(cli, tmp_path) -> None:
    load(cli, tmp_path,
         order(),
         fix("c1", {"quantity": 6, "note": None}, [CAL, CPC], stamp("2025-03-01"), reason="six trainsets, per the June report"),
         fix("c2", {"quantity": 5}, [YONHAP], stamp("2025-03-02"), reason="a misreading"),
         withdraw("r1", "c2", stamp("2025-03-03")),
         fix("c3", {"item": "high-speed trainsets"}, [], stamp("2025-03-04"), reason="wording"))


def test_show_says_what_each_correction_changed_why_and_on_what_sources(cli, tmp_path):
    _corrected_log(cli, tmp_path)
    result = cli("show", "uz-order")
    assert result.exit_code == 0, result.output
    text = plain(result.stdout)
    section = text[text.index("Corrections in effect"):text.index("Effective now:")]
    assert section.strip().splitlines() == [
        "Corrections in effect, and what supports them:",
        "c1: six trainsets, per the June report",
        '  note: "number of trains not reported" → (removed)',
        "  quantity: 7 → 6",
        '  source: Central Asian Light, "Uzbekistan orders six trainsets", 2024-06-12, https://example.org/trains',
        '  source: Caspian Policy Center, "Implementing the K-Silk Road", 2025-01',
        "c3: wording",
        '  item: "high-speed trains" → "high-speed trainsets"',
        "  source: none given",
    ]
    # the history still lists every amendment, the retracted correction included
    for amendment_id in ("c1", "c2", "r1", "c3"):
        assert f" {amendment_id} (recorded " in text


def test_show_json_has_the_same_account_field_by_field(cli, tmp_path):
    _corrected_log(cli, tmp_path)
    shown = cli.json("show", "uz-order")
    assert shown["corrections"] == [
        {"id": "c1", "recorded_at": stamp("2025-03-01"), "reason": "six trainsets, per the June report",
         "sources": [CAL, CPC],
         "changes": [{"field": "note", "old": "number of trains not reported", "new": None},
                     {"field": "quantity", "old": 7, "new": 6}]},
        {"id": "c3", "recorded_at": stamp("2025-03-04"), "reason": "wording", "sources": [],
         "changes": [{"field": "item", "old": "high-speed trains", "new": "high-speed trainsets"}]},
    ]
    assert shown["effective"]["sources"] == [CPC, CAL]
    assert [a["id"] for a in shown["effective"]["amended_by"]] == ["c1", "c3"]
    assert [a["id"] for a in shown["amendments"]] == ["c1", "c2", "r1", "c3"]


def test_old_values_follow_the_corrections_before():
    original = to_record(validate_event({k: v for k, v in order().items() if k != "recorded_at"}))
    steps = changes_made(original, _amendments(fix("c1", {"quantity": 6}, [], stamp("2025-03-01")),
                                               fix("c2", {"quantity": 8}, [], stamp("2025-03-02"))))
    assert [(c["changes"][0]["old"], c["changes"][0]["new"]) for c in steps] == [(7, 6), (6, 8)]


def test_show_of_a_retracted_event_lists_no_corrections_in_effect(cli, tmp_path):
    load(cli, tmp_path, order(), fix("c1", {"quantity": 6}, [CAL], stamp("2025-03-01")),
         withdraw("r1", "uz-order", stamp("2025-03-02")))
    text = plain(cli("show", "uz-order").stdout)
    assert "This event is retracted" in text and "Corrections in effect" not in text
    shown = cli.json("show", "uz-order")
    assert shown["retracted"] is True and shown["effective"] is None and shown["corrections"] == []


def test_show_prints_a_hand_written_corrections_sources_safely(cli, tmp_path, db):
    """A correction written into the log by hand, bypassing the models: nothing in it drives the terminal."""
    load(cli, tmp_path, order())
    record = {"kind": "correction", "id": "hand-fix", "target": "uz-order", "changes": {"quantity": 6},
              "reason": "Hand \x1b[2J", "countries": ["UZ", "KR"], "project": None, "status": None,
              "summary": "A hand-written correction.",
              "sources": [{"publisher": "Evil \u202ePress", "title": "T\x1b]0;pwned\x07", "published": "2024-06",
                           "url": None, "author": None}]}
    body = canonical_json(record)
    with sqlite3.connect(db) as conn:
        seq, prev, recorded_at = conn.execute("SELECT seq, hash, recorded_at FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        later = (dt.datetime.fromisoformat(recorded_at.replace("Z", "+00:00")) + dt.timedelta(seconds=1))
        when = later.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        digest = hashlib.sha256(f"{prev}\n{when}\n".encode() + body).hexdigest()
        conn.execute(
            "INSERT INTO events (seq, id, kind, occurred, occurred_start, occurred_end, recorded_at, body, prev_hash, hash)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            (seq + 1, "hand-fix", "correction", None, None, None, when, body.decode(), prev, digest),
        )
    for args in (("show", "uz-order"), ("show", "uz-order", "--json")):
        shown = cli(*args)
        assert shown.exit_code == 0, shown.output
        assert first_unsafe(shown.stdout.replace("\n", "")) is None, args
    text = cli("show", "uz-order").stdout
    assert '  source: Evil <U+202E>Press, "T<U+001B>]0;pwned<U+0007>", 2024-06' in text

"""The fast import path must give exactly what the one-event-at-a-time path gives.

A large import validates a batch in one call, writes each record once with its
content id spliced in, has worker processes read their own blocks of the file, and
stores a batch of new events at once. Every one of those shortcuts is checked here
against the plain path, each chosen explicitly with a `Tuning`: same records, same
bytes and ids, same accepted and refused events, same error for the same file.
"""

from __future__ import annotations

import copy
import multiprocessing

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import tracker.log.importing
import tracker.log.preparing
from benchmarks.synthetic import generate
from events.identity import canonical_json, content_id, identified
from events.batch import key_ordered_kinds, validate_records
from events.models import to_record, validate_event
from tracker.log.importing import import_file
from tracker.log.preparing import LOG_FIELDS, LogError, prepare, prepare_batch
from tracker.log.store import EventStore
from tracker.log.tuning import AUTOMATIC, PARALLEL_FROM_BYTES, PLAIN, TOGETHER_FROM, Tuning

from .conftest import EXAMPLES, example, write_jsonl
from .log_paths import BOTH, FAST, fast

#: Preparing a batch one event at a time, or together in one call, whatever its size.
ONE_BY_ONE = Tuning(prepare_together=False)
TOGETHER = Tuning(prepare_together=True)
PREPARING = [pytest.param(ONE_BY_ONE, id="one by one"), pytest.param(TOGETHER, id="together")]


def _variants() -> list[dict]:
    """Valid events of every kind, written in the ways people write them."""
    events = [example(kind) for kind in EXAMPLES]
    events += [
        example("visit", visitor="  Padded Name  ", summary=" Spaces around. ", level=None),
        example("visit", occurred=" 2024-06 ", countries=["KR", "UZ"], host_country="UZ"),
        example("signing", agreement_count=3, value={"amount": 1500000, "currency": "EUR"}),
        example("signing", value={"amount": "1.50E+3", "currency": "KRW"}),
        example("signing", value={"amount": "0.000", "currency": "USD"}),
        example("figure", amount=12.5, period=None),
        example("figure", amount="007.10"),
        example("order", quantity=None, value=None, project="uz-trains", status="negotiating"),
        example("order", quantity=4),
        example("forum", edition=None, host_country=None, attendance=12),
        example("meeting", project="kca", project_name="Korea-Central Asia", note="Sources disagree."),
        example("meeting", location={"name": " Astana ", "lat": 51, "lon": 71.4491}),
        example("figure", amount="-0.00"),
        example("mou", id="my-own.id_1", occurred="2024-06-10/2024-06-12~"),
        example("summit", planned_for=None, occurred="2025?"),
        example("announcement", sources=[{"publisher": "P", "title": "T", "published": "2024-02-29"}]),
        example("milestone", status="completed", occurred="2023-02/2023-04"),
        {"kind": "retraction", "target": "2024-06-12-visit-0123456789ab", "reason": "Wrong."},
        {"kind": "correction", "target": "x", "reason": "Typo.", "changes": {"summary": "New.", "b": {"z": 1, "a": 2}}},
        {"kind": "correction", "target": "x", "reason": "Typo.", "changes": {"occurred": "2024"},
         "countries": ["KZ"], "summary": None, "note": None},
    ]
    return events


def _invalid() -> list[dict]:
    """Events that must be refused, each for one reason."""
    bad = [
        example("visit", occurred="2024-13"),
        example("visit", occurred="2024-02-30"),
        example("visit", countries=["kr"]),
        example("visit", countries=["KR", "KR"]),
        example("visit", countries=[]),
        example("visit", status="agreed"),
        example("visit", project_name="Orphan name"),
        example("visit", level="royal"),
        example("visit", typo="x"),
        example("signing", value={"amount": "-1", "currency": "USD"}),
        example("signing", value={"amount": "NaN", "currency": "USD"}),
        example("signing", value={"amount": "1", "currency": "usd"}),
        example("signing", agreement_count=0),
        example("order", quantity=4.5),
        # Whole numbers and coordinates are JSON numbers: no strings, no true, no 4.0.
        example("order", quantity=4.0),
        example("signing", agreement_count="3"),
        example("forum", attendance=True),
        example("meeting", location={"name": "N", "lat": 51, "lon": "71.4491"}),
        example("figure", amount="1e999999"),
        example("meeting", summary="Red \x1b[31malert"),
        example("meeting", participants=["A\u202eB"]),
        example("meeting", occurred="\u0662\u0660\u0662\u0664"),
        example("meeting", sources=[{"publisher": "P", "title": "T", "published": "2024-02-30"}]),
        example("meeting", sources=[{"publisher": "P", "title": "T", "published": "2024-01-01", "url": "ftp://x"}]),
        example("meeting", sources=[{"publisher": "P", "title": "T", "published": "2024-01-01", "extra": 1}]),
        example("meeting", location={"name": "N", "lat": 91, "lon": 0}),
        example("meeting", summary="   "),
        example("meeting", id="Upper"),
        example("figure", amount="inf"),
        {"kind": "retraction", "target": "x", "reason": "r", "project": "p"},
        {"kind": "correction", "target": "x", "reason": "r", "changes": {"id": "y"}},
        {"kind": "correction", "target": "x", "reason": "r", "changes": {}},
        {"kind": "nothing"},
        {"summary": "no kind"},
    ]
    return bad


def test_validating_a_batch_gives_exactly_the_records_of_one_at_a_time():
    events = _variants() + [{k: v for k, v in e.items() if k != "recorded_at"} for e in generate(3000)]
    assert validate_records(copy.deepcopy(events)) == [to_record(validate_event(e)) for e in events]


def test_a_batch_with_any_invalid_event_is_refused_like_the_event_itself():
    for event in _invalid():
        with pytest.raises(ValidationError):
            validate_event(copy.deepcopy(event))
        with pytest.raises(ValidationError):
            validate_records([example("visit"), copy.deepcopy(event)])


def test_records_of_key_ordered_kinds_come_with_their_keys_sorted_at_every_level():
    def ordered(value) -> bool:
        if isinstance(value, dict):
            return list(value) == sorted(value) and all(ordered(v) for v in value.values())
        if isinstance(value, list):
            return all(ordered(v) for v in value)
        return True

    for record in validate_records(_variants()):
        if record["kind"] in key_ordered_kinds():
            assert ordered(record)


def test_a_spliced_content_id_gives_the_same_id_and_bytes_as_writing_it_twice():
    records = validate_records(_variants() + [{k: v for k, v in e.items() if k != "recorded_at"} for e in generate(2000)])
    for record in records:
        expected = dict(record)
        expected.setdefault("id", content_id(record))
        for key_ordered in {False, record["kind"] in key_ordered_kinds()}:
            assert identified(record, key_ordered=key_ordered) == (expected["id"], canonical_json(expected))


def test_preparing_a_batch_equals_preparing_each_event(monkeypatch):
    items = [(n, e) for n, e in enumerate(_variants() + list(generate(500)), 1)]
    items.append((len(items) + 1, {**example("visit"), "seq": 9, "recorded_at": "2024-01-01T00:00:00.000000Z",
                                   "prev_hash": "0" * 64, "hash": "f" * 64}))
    one_by_one = [prepare(copy.deepcopy(item)) for item in items]
    plain = prepare_batch(copy.deepcopy(items), tuning=ONE_BY_ONE)
    calls = []
    # A batch that fails together is prepared again one by one: this one must not need to be.
    monkeypatch.setattr(tracker.log.preparing, "prepare", lambda item: calls.append(item))
    batch = prepare_batch(copy.deepcopy(items), tuning=TOGETHER)
    assert calls == []
    assert batch == plain
    assert batch.lines == [p.line for p in one_by_one]
    assert batch.ids == [p.id for p in one_by_one]
    assert batch.kinds == [p.kind for p in one_by_one]
    assert batch.occurred == [p.occurred for p in one_by_one]
    assert batch.starts == [p.occurred_start for p in one_by_one]
    assert batch.ends == [p.occurred_end for p in one_by_one]
    assert batch.bodies.split("\n") == [p.body.decode() for p in one_by_one]
    assert batch.recorded_at == [p.log_fields.get("recorded_at") for p in one_by_one]
    assert batch.restores == {len(items) - 1: one_by_one[-1].log_fields}


@pytest.mark.parametrize("tuning", PREPARING)
def test_preparing_a_batch_leaves_the_callers_events_as_they_were(tuning):
    items = [(1, {**example("visit"), "recorded_at": "2024-01-01T00:00:00.000000Z"})]
    before = copy.deepcopy(items)
    prepare_batch(items, tuning=tuning)
    assert items == before


@pytest.mark.parametrize("log_fields", [
    {"recorded_at": "2024-01-01T00:00:00Z"},
    {"recorded_at": "2024-02-30T00:00:00.000000Z"},
    {"recorded_at": None},
    {"hash": "f" * 64},
])
@pytest.mark.parametrize("tuning", PREPARING)
def test_a_batch_with_a_bad_log_field_names_the_first_bad_line(log_fields, tuning):
    items = [(n, example("meeting", summary=f"Meeting {n}.")) for n in range(1, 6)]
    items[3][1].update(log_fields)
    with pytest.raises(LogError) as fast:
        prepare_batch(items, tuning=tuning)
    with pytest.raises(LogError) as slow:
        for item in items:
            prepare(item)
    assert (fast.value.line, fast.value.message) == (slow.value.line, slow.value.message) and fast.value.line == 4


def _import(tmp_path, name: str, data: bytes, tuning: Tuning) -> tuple[str, list]:
    """(outcome, exported lines) of importing `data` into a fresh log the way `tuning` says."""
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(data)
    with EventStore(tmp_path / f"{name}.db") as store:
        try:
            result = import_file(store, str(path), show_progress=False, tuning=tuning)
            outcome = f"added {result.added} skipped {result.skipped}"
        except LogError as e:
            outcome = str(e)
        exported = [orjson.loads(line) for line in store.export_lines()]
    for event in exported:
        event.pop("recorded_at"), event.pop("hash"), event.pop("prev_hash")
    return outcome, exported


def _lines(events) -> list[bytes]:
    return [orjson.dumps(e) for e in events]


@pytest.mark.parametrize("workers", [0, 1, 3])
@pytest.mark.parametrize("case", ["plain", "blank lines", "crlf", "no final newline", "long line",
                                  "bad json last", "truncated last", "bad event late", "duplicate",
                                  "different content", "amendments", "many errors"])
def test_workers_and_one_process_agree_on_every_file(tmp_path, case, workers):
    # With no worker the storing process prepares every block itself; with several,
    # blocks come back out of order and the storing process takes some too.
    events = [example("meeting", summary=f"Meeting number {i}.") for i in range(30)]
    lines = _lines(events)
    if case == "blank lines":
        lines[3:3] = [b"", b"   ", b"\t"]
        lines.append(b"")
    if case == "crlf":
        lines = [line + b"\r" for line in lines]
    if case == "long line":
        lines[10] = orjson.dumps(example("meeting", summary="Long. " * 300))
    if case == "bad json last":
        lines.append(b'{"kind": "visit",')
    if case == "truncated last":
        lines[-1] = lines[-1][:-5]
    if case == "bad event late":
        lines[25] = orjson.dumps(example("meeting", countries=["ZZ"]))
    if case == "duplicate":
        lines[20] = lines[2]
    if case == "different content":
        lines[20] = orjson.dumps(example("meeting", id="fixed", summary="One."))
        lines[2] = orjson.dumps(example("meeting", id="fixed", summary="Two."))
    if case == "amendments":
        target = content_id(to_record(validate_event(events[0])))
        lines.insert(5, orjson.dumps({"kind": "correction", "target": target, "reason": "Typo.",
                                      "changes": {"summary": "Fixed."}}))
        lines.insert(6, orjson.dumps({"kind": "retraction", "target": target, "reason": "Wrong."}))
        lines.insert(7, orjson.dumps({"kind": "retraction", "target": target, "reason": "Twice."}))
    if case == "many errors":
        lines[7] = b"not json"
        lines[12] = orjson.dumps(example("meeting", occurred="2024-13"))
    data = b"\n".join(lines)
    if case != "no final newline" and not case.endswith("last"):
        data += b"\n"
    plain = _import(tmp_path, "plain", data, PLAIN)
    one_process = _import(tmp_path, "one", data, Tuning(prepare_together=True, parallel=False))
    in_parallel = _import(tmp_path, "many", data, fast(workers=workers, block_bytes=400))
    assert one_process == plain
    assert in_parallel == plain


@pytest.mark.parametrize("tuning", BOTH)
def test_an_export_restores_exactly_through_the_workers_or_without(tmp_path, tuning):
    events = list(generate(300))
    path = tmp_path / "in.jsonl"
    write_jsonl(path, events)
    with EventStore(tmp_path / "tracker.db", tuning=tuning) as store:
        assert import_file(store, str(path), show_progress=False).added == 300
        assert import_file(store, str(path), show_progress=False).added == 0  # idempotent
        exported = tmp_path / "export.jsonl"
        exported.write_bytes(b"".join(store.export_lines()))
    with EventStore(tmp_path / "restored.db", tuning=tuning) as restored:
        assert import_file(restored, str(exported), show_progress=False).added == 300
        assert b"".join(restored.export_lines()) == exported.read_bytes()


def test_the_plain_and_fast_paths_restore_an_export_into_the_same_bytes(tmp_path):
    events = list(generate(300))
    path = tmp_path / "in.jsonl"
    write_jsonl(path, events)
    with EventStore(tmp_path / "tracker.db") as store:
        import_file(store, str(path), show_progress=False, tuning=PLAIN)
        exported = tmp_path / "export.jsonl"
        exported.write_bytes(b"".join(store.export_lines()))
    restored = {}
    for name, tuning in [("plain", PLAIN), ("fast", FAST)]:
        with EventStore(tmp_path / f"{name}.db", tuning=tuning) as store:
            import_file(store, str(exported), show_progress=False)
            restored[name] = store.conn.execute("SELECT * FROM events ORDER BY seq").fetchall()
    assert restored["fast"] == restored["plain"]
    assert len(restored["plain"]) == 300


@pytest.mark.parametrize("tuning", [*BOTH, pytest.param(fast(workers=None), id="a worker per spare core")])
def test_a_failed_import_leaves_no_worker_running(tmp_path, tuning):
    events = [example("meeting", summary=f"Meeting number {i}.") for i in range(200)]
    events[5]["countries"] = ["ZZ"]
    path = tmp_path / "in.jsonl"
    write_jsonl(path, events)
    with EventStore(tmp_path / "tracker.db", tuning=tuning) as store:
        with pytest.raises(LogError, match="^line 6: "):
            import_file(store, str(path), show_progress=False)
        assert multiprocessing.active_children() == []
        assert store.count() == 0


def test_log_fields_are_not_taken_for_event_fields():
    assert set(LOG_FIELDS).isdisjoint({name for kind in EXAMPLES for name in example(kind)})


@pytest.mark.parametrize("stamp", [
    "2024-01-01T00:00:00.000000Z", "2024-02-29T23:59:59.999999Z", "2023-02-29T00:00:00.000000Z",
    "2024-01-01T24:00:00.000000Z", "2024-01-01T00:60:00.000000Z", "2024-01-01T00:00:60.000000Z",
    "0000-01-01T00:00:00.000000Z", "2024-13-01T00:00:00.000000Z", "2024-01-01T00:00:00.000000",
    "2024-01-01T00:00:00Z", "2024-01-01 00:00:00.000000Z", "٢٠٢٤-01-01T00:00:00.000000Z",
    "2024-01-01T00:00:00.00000٠Z", "2024-01-01T00:00:00.000000Z\n2024-01-01T00:00:00.000000Z",
    "2024-01-01T00:00:00.000000Z\n", 20240101, None,
])
@pytest.mark.parametrize("tuning", PREPARING)
def test_recorded_at_is_checked_in_a_batch_exactly_as_alone(stamp, tuning):
    items = [(1, {**example("visit"), "recorded_at": "2024-01-01T00:00:00.000000Z"}),
             (2, {**example("mou"), "recorded_at": stamp})]
    try:
        for item in items:
            prepare(copy.deepcopy(item))
        alone = None
    except LogError as e:
        alone = str(e)
    try:
        batch = prepare_batch(copy.deepcopy(items), tuning=tuning)
        together = None
    except LogError as e:
        together = str(e)
    assert together == alone
    if alone is None:
        assert batch.recorded_at[1] == stamp


@pytest.mark.parametrize("tuning", BOTH)
def test_log_fields_without_a_hash_restore_nothing_in_a_batch_either(tmp_path, tuning):
    """Only an event carrying its hash is a restore; seq or prev_hash alone are ignored, as before."""
    events = [(n, {**example("meeting", summary=f"Meeting {n}."), "seq": 99, "prev_hash": "x",
                   "recorded_at": f"2024-01-0{n}T00:00:00.000000Z"}) for n in range(1, 4)]
    assert prepare_batch(copy.deepcopy(events), tuning=tuning).restores == {}
    with EventStore(tmp_path / "tracker.db", tuning=tuning) as store:
        assert store.append(events).added == 3


def test_by_default_each_path_is_chosen_by_size():
    assert not AUTOMATIC.prepares_together(TOGETHER_FROM - 1) and AUTOMATIC.prepares_together(TOGETHER_FROM)
    assert not AUTOMATIC.imports_in_parallel(PARALLEL_FROM_BYTES - 1)
    assert AUTOMATIC.imports_in_parallel(PARALLEL_FROM_BYTES)
    assert AUTOMATIC.store_at_once and AUTOMATIC.workers is None
    assert PLAIN.prepares_together(10**6) is False and PLAIN.imports_in_parallel(1 << 40) is False
    assert FAST.prepares_together(1) is True and FAST.imports_in_parallel(0) is True


def test_a_small_batch_is_prepared_one_event_at_a_time_unless_told(monkeypatch):
    calls = []
    together = tracker.log.preparing._prepare_together
    monkeypatch.setattr(tracker.log.preparing, "_prepare_together", lambda items: calls.append(len(items)) or together(items))
    items = [(n, example("meeting", summary=f"Meeting {n}.")) for n in range(1, TOGETHER_FROM)]
    assert prepare_batch(items).ids == [prepare(item).id for item in items]
    assert calls == []
    assert prepare_batch(items, tuning=TOGETHER).ids == [prepare(item).id for item in items]
    assert calls == [TOGETHER_FROM - 1]


def test_a_store_imports_as_its_tuning_says_unless_the_import_says_otherwise(tmp_path, monkeypatch):
    in_parallel = []
    parallel = tracker.log.importing.prepared_in_parallel
    monkeypatch.setattr(tracker.log.importing, "prepared_in_parallel",
                        lambda *args: in_parallel.append(args[1]) or parallel(*args))
    path = tmp_path / "in.jsonl"
    write_jsonl(path, [example("meeting", summary=f"Meeting {i}.") for i in range(20)])
    with EventStore(tmp_path / "tracker.db", tuning=FAST) as store:
        assert import_file(store, str(path), show_progress=False).added == 20
        assert in_parallel == [path.stat().st_size]
        assert import_file(store, str(path), show_progress=False, tuning=PLAIN).skipped == 20
        assert in_parallel == [path.stat().st_size]
        assert store.private_copy().tuning == FAST


@pytest.mark.parametrize("changes", [{"workers": -1}, {"block_bytes": 0}])
def test_a_tuning_refuses_sizes_that_cannot_work(changes):
    with pytest.raises(ValueError):
        Tuning(**changes)


def _append_outcome(tmp_path, name: str, batches: list[list[dict]], tuning: Tuning) -> tuple[str, list[bytes]]:
    """(outcome, exported lines) of appending each list of events as one batch prepared the way `tuning` says."""
    with EventStore(tmp_path / f"{name}.db", tuning=tuning) as store:
        outcome = []
        for events in batches:
            try:
                batch = prepare_batch(list(enumerate(events, 1)), tuning=tuning)
                result = store.append([batch], recorded_at="2025-01-01T00:00:00.000000Z")
                outcome.append(f"added {result.added} skipped {result.skipped} last {result.last_id}")
            except LogError as e:
                outcome.append(str(e))
        return " / ".join(outcome), list(store.export_lines())


def _amendment(kind: str, target: str, n: int) -> dict:
    """A retraction numbered n; a correction is the same for every n, so it can be amended in turn."""
    if kind == "correction":
        return {"kind": "correction", "target": target, "reason": "Fix.", "changes": {"summary": "Fixed."}}
    return {"kind": "retraction", "target": target, "reason": f"Withdrawn {n}."}


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_storing_a_batch_at_once_equals_storing_it_event_by_event(tmp_path_factory, data):
    """The store takes a batch of new events in one go, checking only its amendments.

    Whatever the batch holds (repeats, amendments of events before or after them in
    the batch or in the log, amendments of amendments, times going backwards), the
    outcome must be exactly that of checking every event in order.
    """
    tmp_path = tmp_path_factory.mktemp("batches")
    meetings = [example("meeting", summary=f"Meeting number {i}.") for i in range(12)]
    ids = [content_id(to_record(validate_event(e))) for e in meetings]
    batches, drawn = [], []  # drawn: ids of the meetings drawn so far, the likeliest targets
    for b in range(data.draw(st.integers(1, 3))):
        batch = []
        for n in range(data.draw(st.integers(1, 10))):
            choice = data.draw(st.sampled_from(["new", "new", "repeat", "amend", "amend-an-amendment", "missing", "stamped"]))
            if choice in ("new", "repeat", "stamped"):
                event = dict(data.draw(st.sampled_from(meetings)))
                drawn.append(ids[meetings.index(event)])
                if choice == "stamped":
                    event["recorded_at"] = data.draw(st.sampled_from(
                        ["2024-01-01T00:00:00.000000Z", "2025-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z"]))
            elif choice == "amend":
                event = _amendment(data.draw(st.sampled_from(["correction", "retraction"])), data.draw(st.sampled_from(drawn or ids)), n)
            elif choice == "amend-an-amendment":
                corrected = data.draw(st.sampled_from(drawn or ids))
                event = _amendment("retraction", content_id(to_record(validate_event(_amendment("correction", corrected, n)))), n)
            else:
                event = _amendment("retraction", "2099-01-01-meeting-000000000000", n)
            batch.append(event)
        batches.append(batch)
    at_once = _append_outcome(tmp_path, "at-once", batches, FAST)
    one_by_one = _append_outcome(tmp_path, "one-by-one", batches, PLAIN)
    assert at_once == one_by_one


@pytest.mark.parametrize("cores, workers", [(1, 0), (2, 1), (4, 3), (16, 3)])
def test_a_worker_per_spare_core_up_to_the_storing_limit(monkeypatch, cores, workers):
    # The machine is simulated: how many cores this process may use.
    monkeypatch.setattr(tracker.log.importing.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert tracker.log.importing.worker_count() == workers

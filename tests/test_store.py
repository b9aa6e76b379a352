"""The log: append-only, hash-chained, idempotent, restorable.

Every test here runs on the log's plain paths and on its fast ones (see log_paths.py):
each claim holds on both.
"""

import sqlite3

import orjson
import pytest

from tracker.log.importing import import_file
from tracker.log.preparing import GENESIS, LogError, chain_hash
from tracker.log.store import EventStore
from tracker.log.verify import verify_log

from .conftest import example, write_jsonl
from .log_paths import BOTH


@pytest.fixture(params=BOTH)
def tuning(request):
    """The plain paths, then every fast one: prepared together, stored at once, imported by workers."""
    return request.param


@pytest.fixture
def store(tmp_path, tuning):
    with EventStore(tmp_path / "tracker.db", tuning=tuning) as s:
        yield s


def test_an_appended_event_gets_a_content_id_a_seq_and_a_chained_hash(store):
    result = store.append([example("visit")])
    event = store.get(result.last_id)
    assert result.added == 1 and event.seq == 1
    assert event.id.startswith("2024-06-12-visit-")
    assert event.prev_hash == GENESIS
    body = orjson.dumps({k: v for k, v in event.record.items()}, option=orjson.OPT_SORT_KEYS)
    assert event.hash == chain_hash(GENESIS, event.recorded_at, body)
    assert event.recorded_at.endswith("Z") and len(event.recorded_at) == 27


def test_each_hash_covers_the_previous_one(store):
    store.append([example("visit"), example("mou")])
    first, second = store.iter_events()
    assert second.prev_hash == first.hash


@pytest.mark.parametrize("statement", ["UPDATE events SET kind = 'visit'", "DELETE FROM events"])
def test_the_table_itself_refuses_updates_and_deletes(store, statement):
    store.append([example("visit")])
    with pytest.raises(sqlite3.IntegrityError, match="events is append-only"):
        store.conn.execute(statement)
    assert store.count() == 1


def test_importing_the_same_file_twice_adds_nothing(store, tmp_path):
    path = tmp_path / "events.jsonl"
    write_jsonl(path, [example(kind) for kind in ("visit", "mou", "order")])
    assert import_file(store, str(path), show_progress=False).added == 3
    again = import_file(store, str(path), show_progress=False)
    assert (again.added, again.skipped) == (0, 3)
    assert store.count() == 3


def test_the_same_event_twice_in_one_file_is_logged_once(store):
    result = store.append([example("visit"), example("visit")])
    assert (result.added, result.skipped) == (1, 1)


def test_the_same_id_with_different_content_is_an_error(store):
    store.append([example("visit", id="kz-visit")])
    with pytest.raises(LogError, match="id 'kz-visit' is already in the log with different content"):
        store.append([example("visit", id="kz-visit", summary="Something else.")])


def test_a_bad_line_stops_the_import_naming_the_line_and_nothing_is_written(store, tmp_path):
    events = [example("meeting", summary=f"Meeting number {i}.") for i in range(60)]
    events[36]["countries"] = ["ZZ"]
    path = tmp_path / "events.jsonl"
    write_jsonl(path, events)
    with pytest.raises(LogError) as info:
        import_file(store, str(path), show_progress=False)
    assert str(info.value) == "line 37: field 'countries.0': 'ZZ' is not an ISO 3166-1 alpha-2 country code"
    assert store.count() == 0


def test_a_line_that_is_not_json_is_named(store, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(orjson.dumps(example("visit")) + b"\n\n{not json\n")
    with pytest.raises(LogError, match=r"^line 3: not valid JSON"):
        import_file(store, str(path), show_progress=False)
    assert store.count() == 0


def test_export_then_import_into_an_empty_log_then_export_is_byte_identical(store, tmp_path, tuning):
    store.append([example(kind) for kind in ("visit", "signing", "order", "figure")])
    store.append([{"kind": "retraction", "target": next(store.iter_events()).id, "reason": "duplicate"}])
    exported = b"".join(store.export_lines())
    path = tmp_path / "export.jsonl"
    path.write_bytes(exported)
    with EventStore(tmp_path / "restored.db", tuning=tuning) as restored:
        import_file(restored, str(path), show_progress=False)
        assert b"".join(restored.export_lines()) == exported
        assert verify_log(restored).ok


def test_an_export_restores_only_into_the_log_it_continues(store, tmp_path, tuning):
    store.append([example("visit")])
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"".join(store.export_lines()))
    with EventStore(tmp_path / "other.db", tuning=tuning) as other:
        other.append([example("mou")])
        with pytest.raises(LogError, match="line 1: seq 1 does not follow the log's last seq 1"):
            import_file(other, str(path), show_progress=False)


def test_an_altered_export_line_is_refused(store, tmp_path, tuning):
    store.append([example("visit")])
    line = orjson.loads(next(store.export_lines()))
    line["summary"] = "Quietly rewritten."
    path = tmp_path / "export.jsonl"
    write_jsonl(path, [line])
    with EventStore(tmp_path / "restored.db", tuning=tuning) as restored:
        with pytest.raises(LogError, match="line 1: hash does not match the event's content"):
            import_file(restored, str(path), show_progress=False)


def test_recorded_at_never_goes_backwards(store):
    store.append([{**example("visit"), "recorded_at": "2025-01-01T00:00:00.000000Z"}])
    with pytest.raises(LogError, match="earlier than the log's last event"):
        store.append([{**example("mou"), "recorded_at": "2024-12-31T00:00:00.000000Z"}])


def test_recorded_at_must_be_in_the_logs_own_format(store):
    with pytest.raises(LogError, match="field 'recorded_at'.*microseconds"):
        store.append([{**example("visit"), "recorded_at": "2025-01-01 10:00"}])


def test_a_correction_of_an_event_that_does_not_exist_is_bad_input(store):
    with pytest.raises(LogError, match="field 'target': no event with id 'nope' in the log"):
        store.append([{"kind": "correction", "target": "nope", "changes": {"summary": "x"}, "reason": "r"}])


def test_a_correction_must_leave_its_target_valid(store):
    target = store.append([example("order")]).last_id
    with pytest.raises(LogError, match=f"the correction would make '{target}' invalid: field 'quantity'"):
        store.append([{"kind": "correction", "target": target, "changes": {"quantity": -3}, "reason": "r"}])


def test_a_correction_can_name_an_event_earlier_in_the_same_import(store):
    event = example("order", id="uz-trains-order")
    correction = {"kind": "correction", "target": "uz-trains-order", "changes": {"quantity": 7}, "reason": "r"}
    assert store.append([event, correction]).added == 2


def test_an_event_is_retracted_once(store):
    target = store.append([example("visit")]).last_id
    store.append([{"kind": "retraction", "target": target, "reason": "duplicate"}])
    with pytest.raises(LogError, match="was already retracted"):
        store.append([{"kind": "retraction", "target": target, "reason": "again"}])


def test_a_retraction_of_a_correction_is_allowed_but_a_correction_of_a_correction_is_not(store):
    target = store.append([example("order")]).last_id
    fix = store.append([{"kind": "correction", "target": target, "changes": {"quantity": 7}, "reason": "r"}]).last_id
    with pytest.raises(LogError, match="is a correction; correct its target instead"):
        store.append([{"kind": "correction", "target": fix, "changes": {"reason": "x"}, "reason": "r"}])
    assert store.append([{"kind": "retraction", "target": fix, "reason": "wrong"}]).added == 1
    assert [a.kind for a in store.amendments_of(target)] == ["correction", "retraction"]


def test_a_failed_append_leaves_the_log_and_its_head_as_they_were(store):
    store.append([example("visit")])
    head = store.head()
    with pytest.raises(LogError):
        store.append([example("mou"), example("order", countries=["??"])])
    assert store.head() == head and store.count() == 1


def test_the_body_is_stored_as_json_text_that_sqlite_can_query(store):
    store.append([example("order", project="uz-trains")])
    row = store.conn.execute("SELECT typeof(body), json_extract(body, '$.project') FROM events").fetchone()
    assert row == ("text", "uz-trains")


def test_a_large_import_is_stored_in_file_order_whoever_prepares_it(store, tmp_path):
    events = [example("meeting", summary=f"Meeting number {i}.") for i in range(100)]
    path = tmp_path / "events.jsonl"
    write_jsonl(path, events)
    assert import_file(store, str(path), show_progress=False).added == 100
    assert [e.record["summary"] for e in store.iter_events()] == [e["summary"] for e in events]
    assert verify_log(store).ok


def test_a_bad_line_found_by_a_worker_or_not_names_the_first_bad_line(store, tmp_path):
    events = [example("meeting", summary=f"Meeting number {i}.") for i in range(100)]
    events[36]["occurred"] = "2024-02-30"
    events[80]["countries"] = ["ZZ"]
    path = tmp_path / "events.jsonl"
    write_jsonl(path, events)
    with pytest.raises(LogError, match=r"^line 37: field 'occurred'"):
        import_file(store, str(path), show_progress=False)
    assert store.count() == 0

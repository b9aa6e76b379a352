"""`tracker list` as known now reads the replayed index; it must say what the log says."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tracker.replay.listing import current_events, effective_events
from tests.replay_fixtures import at, correction, event, log, logged_store, retraction
from tests.test_replay_properties import SETTINGS, _run, logs
from tests.test_reported_time import reported_logs


def _listed(events):
    return [(e.seq, e.recorded_at, e.record, e.corrected) for e in events]


FILTERS = st.fixed_dictionaries({}, optional={
    "kind": st.sampled_from(["order", "mou", "milestone", "visit"]),
    "country": st.sampled_from(["KR", "UZ", "TJ"]),
    "project": st.sampled_from(["p1", "p2"]),
    "since": st.sampled_from(["2024-01-01", "2024-02-10"]),
    "until": st.sampled_from(["2024-01-31", "2024-03-05"]),
    "as_of": st.sampled_from(["2023-12-31", "2024-02-29"]),
})


@SETTINGS
@given(logs(), FILTERS)
def test_the_replayed_index_lists_what_reading_the_log_lists(batches, filters):
    def check(store, _):
        assert _listed(current_events(store, **filters)) == _listed(effective_events(store, **filters))

    _run(batches, check)


def test_a_correction_that_was_itself_retracted_leaves_the_event_uncorrected(store):
    log(
        store,
        event("order", "o1", "2024-03-01", at("2024-06-01"), countries=["KR", "UZ"]),
        correction("c1", "o1", at("2024-06-01", 60), occurred="2024-04-01"),
        retraction("r1", "c1", at("2024-06-01", 120)),
    )
    from_log = list(effective_events(store))
    from_index = list(current_events(store))
    assert [e.corrected for e in from_log] == [e.corrected for e in from_index] == [False]
    assert from_index[0].record["occurred"] == "2024-03-01"
    # as known between the correction and its retraction, it was corrected
    (then,) = effective_events(store, known_at=at("2024-06-01", 90))
    assert then.corrected and then.record["occurred"] == "2024-04-01"


def test_list_json_streams_the_same_array_as_known_now_and_as_known_then(cli):
    cli("init")
    now = cli.json("list", "--country", "UZ")
    assert now and all("UZ" in e["countries"] for e in now)
    # a knowledge time after everything was recorded gives the same answer from the log
    assert cli.json("list", "--country", "UZ", "--known-at", "2999-01-01") == now
    assert cli.json("list", "--kind", "forum", "--country", "ZW") == []


@SETTINGS
@given(reported_logs(), FILTERS, st.sampled_from(["2023-12-31", "2024-01-20", "2024-02-29", "2024-03-03", "2024-12-31"]),
       st.sampled_from([None, at("2024-06-01", 150), at("2024-06-01", 400)]))
def test_listing_as_reported_from_one_read_of_the_log_equals_the_replay_of_what_passes(items, filters, reported_by,
                                                                                        known_at):
    """`list --reported-by`: one read of the log (the fast path) against a replay in memory
    of every row that passes (the plain one), with every filter and both other axes."""
    from tracker.replay.listing import reported_events

    with logged_store(items) as store:
        fast = reported_events(store, reported_by=reported_by, known_at=known_at, **filters)
        plain = reported_events(store, reported_by=reported_by, known_at=known_at, replay=True, **filters)
        assert _listed(fast) == _listed(plain)


def test_list_reported_by_reads_an_amended_event_as_reported_then(store):
    """A correction counts from its own source: before it, the event as first reported."""
    from tests.test_reported_time import sourced
    from tracker.replay.listing import reported_events

    log(store, sourced(event("order", "o1", "2024-03-01", at("2024-06-01"), countries=["KR", "UZ"]), "2024-03-02"),
        sourced(correction("c1", "o1", at("2024-06-01", 60), occurred="2024-04-01"), "2024-04-10"),
        sourced(event("mou", "m1", "2024-01-01", at("2024-06-01", 90)), "2024-05-01"))
    for replay in (False, True):
        assert reported_events(store, reported_by="2024-03-01", replay=replay) == []
        (before,) = reported_events(store, reported_by="2024-03-31", replay=replay)
        assert before.record["occurred"] == "2024-03-01" and not before.corrected
        after = reported_events(store, reported_by="2024-05-01", replay=replay)
        assert [(e.record["id"], e.record["occurred"], e.corrected) for e in after] == [
            ("m1", "2024-01-01", False), ("o1", "2024-04-01", True)]

"""One key on the reported axis from its own events (tracker.replay.keyed), against the
plain answer, a replay in memory of everything that passes (tracker.replay.filtered).

The fast path must give the same rows for every key, on every combination of the three
axes, including when corrections move events between keys and retractions take them away.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import projections
from tests.replay_fixtures import at, correction, event, log, logged_store, retraction
from tracker.log.store import EventStore
from tracker.replay.keyed import candidates, reported_answer

from .test_reported_time import DAYS, PUBLISHED, sourced

STATE = [p for p in projections.PROJECTIONS if p.SHAPE == "state"]
METRICS = ["bilateral_trade", "remittances"]
PERIODS = [None, "2023", "2024"]


def both(store, projection, key, **bounds):
    """The fast and the plain answer for one key."""
    fast = reported_answer(store, projection, key, by_key=True, **bounds)
    plain = reported_answer(store, projection, key, by_key=False, **bounds)
    return fast, plain


def figure(id: str, occurred: str, recorded: str, metric: str = "bilateral_trade", period: str | None = None,
           amount: str = "100") -> dict:
    made = event("figure", id, occurred, recorded, metric=metric, amount=amount, unit="USD", countries=["KR", "UZ"],
                 period=period)
    return {k: v for k, v in made.items() if v is not None or k == "project"}


def keys_of(projection) -> list[str]:
    """Every key the logs below can give the projection."""
    if projection.NAME == "figures":
        return [f"{m}:KR,UZ" + (f":{p}" if p else "") for m in METRICS for p in PERIODS]
    return ["p1", "p2"]


# --- examples --------------------------------------------------------------------------------


def test_an_event_moved_to_another_project_still_counts_for_the_first_until_the_move_is_reported(store):
    status = projections.by_name("project_status")
    log(store, sourced(event("order", "e1", "2024-01-10", at("2024-06-01"), project="p1", status="agreed"), "2024-01-15"),
        sourced(correction("c1", "e1", at("2024-06-01", 60), project="p2"), "2024-03-01"))
    assert candidates(store.conn, status, "p1") == ["e1"]  # through former_keys: its form now is p2's
    for reported_by, p1, p2 in [("2024-02-01", ["agreed"], []), ("2024-03-31", [], ["agreed"])]:
        for key, want in (("p1", p1), ("p2", p2)):
            fast, plain = both(store, status, key, reported_by=reported_by)
            assert [r["status"] for r in fast] == want and fast == plain


def test_a_retracted_event_counts_until_its_retraction_is_reported(store):
    status = projections.by_name("project_status")
    log(store, sourced(event("order", "e1", "2024-01-10", at("2024-06-01"), project="p1", status="agreed"), "2024-01-15"),
        sourced(retraction("r1", "e1", at("2024-06-01", 60)), "2024-03-01"))
    fast, plain = both(store, status, "p1", reported_by="2024-02-01")
    assert [r["status"] for r in fast] == ["agreed"] and fast == plain
    assert both(store, status, "p1", reported_by="2024-03-31") == ([], [])


def test_a_figure_whose_metric_and_period_were_corrected_apart_is_found_under_every_mix(store):
    figures = projections.by_name("figures")
    log(store, sourced(figure("f1", "2024-01-10", at("2024-06-01"), period="2024"), "2024-01-15"),
        sourced(correction("c1", "f1", at("2024-06-01", 60), metric="remittances"), "2024-04-01"),
        sourced(correction("c2", "f1", at("2024-06-01", 120), period="2023"), "2024-02-01"))
    # reported by March: only c2 (the period) applies, a series no form in log order ever had
    mixed = "bilateral_trade:KR,UZ:2023"
    assert mixed in {r["series"] for r in reported_answer(store, figures, None, reported_by="2024-03-01")}
    fast, plain = both(store, figures, mixed, reported_by="2024-03-01")
    assert [r["series"] for r in fast] == [mixed] and fast == plain


# --- the property ------------------------------------------------------------------------------


@st.composite
def moving_logs(draw):
    """Logs of project events and figures whose corrections move them between keys."""
    n = draw(st.integers(1, 10))
    items, world, corrections = [], [], []
    for i in range(n):
        stamp = at("2024-06-01", 60 * i)
        roll = draw(st.integers(0, 9))
        published = draw(st.lists(st.sampled_from(PUBLISHED), max_size=2))
        if roll >= 6 and world:
            target = draw(st.sampled_from(world + corrections))
            if target in corrections or roll == 9:
                items.append(sourced(retraction(f"r{i}", target, stamp), *published))
                continue
            if target.startswith("f"):
                changes = draw(st.sampled_from([{"metric": m} for m in METRICS] + [{"period": p} for p in PERIODS]
                                               + [{"amount": "250"}]))
            else:
                changes = draw(st.sampled_from([{"project": "p1"}, {"project": "p2"}, {"status": "suspended"},
                                                {"occurred": draw(st.sampled_from(DAYS))}]))
            items.append(sourced(correction(f"c{i}", target, stamp, **changes), *published))
            corrections.append(f"c{i}")
            continue
        day = draw(st.sampled_from(DAYS))
        if draw(st.booleans()):
            item = figure(f"f{i}", day, stamp, draw(st.sampled_from(METRICS)), draw(st.sampled_from(PERIODS)),
                          draw(st.sampled_from(["100", "120"])))
        else:
            kind = draw(st.sampled_from(["order", "mou", "summit"]))
            item = event(kind, f"e{i}", day, stamp, project=draw(st.sampled_from(["p1", "p2"])))
        items.append(sourced(item, *(published or ["2024-02-20"])))
        world.append(item["id"])
    return items


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(moving_logs(), st.sampled_from(["2023-12-31", "2024-02-29", "2024-03-03", "2024-12-31"]),
       st.sampled_from([None, at("2024-06-01", 150), at("2024-06-01", 400)]),
       st.sampled_from([None, "2024-01", "2024-02-15"]))
def test_one_key_from_its_own_events_equals_the_replay_of_everything_that_passes(items, reported_by, known_at, as_of):
    with logged_store(items) as store:
        for projection in STATE:
            for key in [None, *keys_of(projection)]:  # every key at once: from one read of the log
                fast, plain = both(store, projection, key, reported_by=reported_by, known_at=known_at, as_of=as_of)
                assert fast == plain, (projection.NAME, key)


SUMS = [p for p in projections.PROJECTIONS if p.SHAPE == "sum"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(moving_logs(), st.sampled_from(["2023-12-31", "2024-01-31", "2024-02-29", "2024-03-03", "2024-12-31"]),
       st.sampled_from([None, "2023-12", "2024-01", "2024-02-15", "2024-03-01"]),
       st.sampled_from([None, None, at("2024-06-01", 150), at("2024-06-01", 400)]))
def test_a_sum_from_its_reported_cells_equals_the_replay_of_everything_that_passes(items, reported_by, as_of, known_at):
    """Without a knowledge bound from the cells; with one, added up from one read of the log."""
    with tempfile.TemporaryDirectory() as tmp, EventStore(Path(tmp) / "t.db") as store:
        for item in items:
            try:
                log(store, item)
            except Exception:
                continue
        for projection in SUMS:
            for key in (None, "KR", "UZ", "KZ"):
                fast, plain = both(store, projection, key, reported_by=reported_by, as_of=as_of, known_at=known_at)
                assert fast == plain, key


@pytest.mark.parametrize("projection", SUMS, ids=lambda p: p.NAME)
def test_a_sum_with_a_knowledge_bound_counts_only_what_was_recorded_and_reported(store, projection):
    log(store, sourced(event("order", "e1", "2024-01-10", at("2024-06-01"), project="p1"), "2024-01-15"))
    fast, plain = both(store, projection, "KR", reported_by="2024-02-01", known_at=at("2024-06-01", 30))
    assert fast == plain and [row["events"] for row in fast] == [1]
    # a knowledge bound before the event was recorded leaves nothing, on either path
    assert both(store, projection, "KR", reported_by="2024-02-01", known_at=at("2024-05-31")) == ([], [])
    # and a reported bound before its source: nothing either, though it was recorded
    assert both(store, projection, "KR", reported_by="2024-01-14", known_at=at("2024-06-01", 30)) == ([], [])

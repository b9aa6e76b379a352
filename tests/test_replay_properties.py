"""Property tests over random logs: the tables answer every (as of, known at) as a fold would."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.replay.engine import catch_up
from tracker.log.preparing import LogError
from tracker.log.store import EventStore
from tests.replay_fixtures import (
    assert_matches_reference, at, correction, digests, event, full_digests, retraction,
)

PROJECTS = ["p1", "p2", "p3"]
DAYS = ["2024-01-01", "2024-01-15", "2024-02", "2024-02-10", "2024-03-01/2024-03-05", "2024", "2024-03-01",
        "2023-11-20", "2024-05-31", "2023-12", "2022-07-04"]
STATUSES = ["proposed", "agreed", "committed", "suspended", "completed", "cancelled"]
# Planned dates that refine (2024 → 2024-06), move later, move earlier and pass the as-of dates below.
PLANNED = ["2024", "2024-06", "2024-01-31", "2023-12", "2024-03-01/2024-03-05", "2025"]
COUNTRIES = [["KR", "KZ"], ["KR", "UZ"], ["UZ"], ["KR", "TJ", "KZ"]]
# Figures: few metrics, periods, amounts and publication dates, so that series repeat and disagree.
METRICS = ["bilateral_trade", "investment_stock"]
PERIODS = [None, "2023", "2024-06"]
AMOUNTS = ["6", "7", "6.0"]
PUBLISHED = ["2024", "2024-06", "2024-06-12", "2025-01-31"]


def figure_fields(draw) -> dict:
    sources = [{"publisher": f"Publisher {n}", "title": "Figures", "published": draw(st.sampled_from(PUBLISHED))}
               for n in range(draw(st.integers(1, 2)))]
    return {"metric": draw(st.sampled_from(METRICS)), "period": draw(st.sampled_from(PERIODS)),
            "amount": draw(st.sampled_from(AMOUNTS)), "unit": draw(st.sampled_from(["USD", "USD", "EUR"])),
            "sources": sources}


@st.composite
def logs(draw):
    """A list of append batches; each event has a recorded_at later than the one before."""
    n = draw(st.integers(1, 14))
    world: list[str] = []
    figures: set[str] = set()
    corrections: list[str] = []
    retracted: set[str] = set()
    batches, batch = [], []
    for i in range(n):
        stamp = at("2024-06-01", 60 * i)
        roll = draw(st.integers(0, 9))
        live = [w for w in world if w not in retracted]
        if roll >= 8 and live:
            target = draw(st.sampled_from(live))
            changes = draw(st.sampled_from([
                {"occurred": draw(st.sampled_from(DAYS))},
                {"project": draw(st.sampled_from(PROJECTS))},
                {"status": draw(st.sampled_from(STATUSES))},
                {"countries": draw(st.sampled_from(COUNTRIES))},
                {"planned_for": draw(st.sampled_from([*PLANNED, None]))},
            ] + ([
                {"period": draw(st.sampled_from(PERIODS))},
                {"amount": draw(st.sampled_from(AMOUNTS))},
                {"metric": draw(st.sampled_from(METRICS))},
                {"sources": figure_fields(draw)["sources"]},
            ] if target in figures else [])))
            batch.append(correction(f"c{i}", target, stamp, **changes))
            corrections.append(f"c{i}")
        elif roll == 7 and (live or corrections):
            target = draw(st.sampled_from(live + [c for c in corrections if c not in retracted]))
            retracted.add(target)
            batch.append(retraction(f"r{i}", target, stamp))
        else:
            kind = draw(st.sampled_from(["order", "mou", "meeting", "milestone", "summit", "visit", "signing",
                                         "figure", "figure"]))
            fields = {"countries": draw(st.sampled_from(COUNTRIES))}
            if kind == "figure":  # one pair of countries, in either order: one series or another by period
                fields.update(figure_fields(draw), countries=draw(st.sampled_from([["KR", "KZ"], ["KZ", "KR"]])))
                figures.add(f"e{i}")
            if kind == "visit":
                fields["host_country"] = fields["countries"][-1]
            project = draw(st.sampled_from(PROJECTS + [None]))
            if kind in ("milestone", "summit") and project is None:
                project = PROJECTS[0]
            fields["project"] = project
            if project is not None and (kind == "milestone" or draw(st.booleans())):
                fields["status"] = draw(st.sampled_from(STATUSES))
            if project is not None and draw(st.booleans()):
                fields["project_name"] = f"Name {i}"
            if project is not None and draw(st.booleans()):
                fields["planned_for"] = draw(st.sampled_from(PLANNED))
            batch.append(event(kind, f"e{i}", draw(st.sampled_from(DAYS)), stamp, **fields))
            world.append(f"e{i}")
        if draw(st.booleans()):
            batches.append(batch)
            batch = []
    if batch:
        batches.append(batch)
    return batches


def _run(batches, check):
    with tempfile.TemporaryDirectory() as tmp:
        with EventStore(Path(tmp) / "t.db") as store:
            for batch in batches:
                try:
                    store.append(batch)
                except LogError:  # e.g. a status corrected onto an event with no project
                    continue
                catch_up(store)
            catch_up(store)
            check(store, batches)


SETTINGS = settings(max_examples=int(__import__("os").environ.get("HYPOTHESIS_EXAMPLES", 30)), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("shortcuts", [True, False], ids=["short-cuts", "plain"])
@SETTINGS
@given(logs())
def test_incremental_catch_up_equals_a_full_replay(shortcuts, batches):
    def check(store, _):
        incremental = digests(store)
        assert full_digests(store, shortcuts) == incremental

    _run(batches, check)


@SETTINGS
@given(logs())
def test_event_days_count_the_effective_events_by_day_and_kind(batches):
    """Kept through corrections that move an event and retractions, caught up batch by batch."""
    def check(store, _):
        counted = store.conn.execute(
            "SELECT occurred_start, kind, count(*) FROM effective_events GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
        assert store.conn.execute("SELECT day, kind, events FROM event_days ORDER BY 1, 2").fetchall() == counted

    _run(batches, check)


@SETTINGS
@given(logs())
def test_two_full_replays_give_identical_tables(batches):
    def check(store, _):
        assert full_digests(store) == full_digests(store)

    _run(batches, check)


@SETTINGS
@given(logs(), st.data())
def test_as_of_known_at_from_the_tables_equals_folding_what_was_recorded_by_then(batches, data):
    def check(store, batches):
        stamps = [e["recorded_at"] for batch in batches for e in batch]
        for _ in range(4):
            known_at = data.draw(st.sampled_from([None, *stamps, at("2024-05-31")]))
            as_of = data.draw(st.sampled_from([None, "2022-07-31", "2022-12", "2023-11-30", "2023-12-31", "2024-01-01", "2024-01-31",
                                               "2024-02-10", "2024-03-01", "2024-03-03", "2024-04-15",
                                               "2024-05-31", "2024-12-31"]))
            assert_matches_reference(store, as_of=as_of, known_at=known_at)

    _run(batches, check)


@SETTINGS
@given(logs())
def test_a_full_replay_gives_the_same_tables_with_and_without_its_short_cuts(batches):
    """The short cuts only let a full replay skip work for events no amendment touches."""

    def check(store, _):
        assert full_digests(store, shortcuts=False) == full_digests(store, shortcuts=True)

    _run(batches, check)

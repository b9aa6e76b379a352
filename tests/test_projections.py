"""The projection modules as pure folds: lifecycle rules, tallies columns, the summit timeline."""

from __future__ import annotations

import random

import pytest

import projections
from projections import country_tallies, project_status, summit_timeline


def ev(id, kind, day, seq, **fields):
    return {"id": id, "kind": kind, "occurred": day, "occurred_start": day, "occurred_end": day,
            "seq": seq, "summary": f"{id}.", **fields}


def test_every_projection_module_has_the_engine_interface():
    for module in projections.PROJECTIONS:
        assert module.SHAPE in ("state", "sum")
        assert {"NAME", "VERSION", "SCHEMA", "HISTORY", "KEY_COLUMN", "keys"} <= set(dir(module))
        needed = {"fold", "ROW_COLUMNS", "FIELDS", "KEY_FILTER"} if module.SHAPE == "state" else {
            "contributions", "add", "empty", "TOTAL_COLUMNS", "CONTRIBUTION_COLUMNS", "CHECKPOINTS"}
        assert needed <= set(dir(module)), module.NAME


@pytest.mark.parametrize("kind, status", [("mou", "agreed"), ("signing", "committed"), ("order", "committed"),
                                          ("meeting", "proposed"), ("visit", "proposed")])
def test_a_project_first_seen_moves_by_the_kind_of_event(kind, status):
    rows = project_status.fold("p", [ev("a", kind, "2024-01-01", 1, project="p")])
    assert rows[0][4] == status


def test_a_status_on_the_event_wins_over_the_kind_and_other_kinds_leave_it():
    rows = project_status.fold("p", [
        ev("a", "order", "2024-01-01", 1, project="p", status="negotiating"),
        ev("b", "meeting", "2024-02-01", 2, project="p"),
    ])
    assert [(r[0], r[1], r[4], r[5]) for r in rows] == [("2024-01-01", None, "negotiating", "2024-01-01")]


def test_segments_end_where_the_next_change_begins_and_name_is_the_latest_given():
    rows = project_status.fold("p", [
        ev("a", "mou", "2024-01-01", 1, project="p", project_name="One"),
        ev("b", "order", "2024-03-01", 2, project="p"),
        ev("c", "meeting", "2024-04-01", 3, project="p", project_name="Two"),
    ])
    assert [(r[0], r[1], r[3], r[4], r[-1]) for r in rows] == [  # the opening event is the last column
        ("2024-01-01", "2024-03-01", "One", "agreed", "a"),
        ("2024-03-01", "2024-04-01", "One", "committed", "b"),
        ("2024-04-01", None, "Two", "committed", "c"),
    ]


def test_the_summit_timeline_lists_every_event_of_a_summit_project_from_its_first_summit():
    events = [ev("a", "meeting", "2024-01-01", 1, project="s"), ev("b", "summit", "2024-02-01", 2, project="s",
              name="Summit", planned_for="2025", location={"name": "Seoul", "lat": 1, "lon": 2})]
    rows = summit_timeline.fold("s", events)
    assert [(r[0], r[2], r[6], r[7], r[8]) for r in rows] == [
        ("2024-02-01", "2024-01-01", "proposed", None, None),
        ("2024-02-01", "2024-02-01", "proposed", "2025", "Seoul"),
    ]
    assert summit_timeline.fold("s", events[:1]) == []


def test_tally_contributions_fill_every_column():
    signing = ev("s", "signing", "2024-01-01", 1, countries=["KR", "KZ"], agreement_count=3)
    visit = ev("v", "visit", "2024-01-02", 2, countries=["KR", "KZ"], visitor_country="KR", host_country="KZ")
    order = ev("o", "order", "2024-01-03", 3, countries=["UZ"], value={"amount": "2.5", "currency": "USD"})
    totals = {}
    for e in (signing, visit, order):
        for key, values in country_tallies.contributions(e):
            country_tallies.add(totals.setdefault(key, country_tallies.empty()), values, e["occurred_start"])
    kz = dict(zip(country_tallies.TOTAL_COLUMNS, totals["KZ"]))
    assert (kz["events"], kz["signings"], kz["visits"], kz["agreements"], kz["visits_hosted"], kz["visits_made"],
            kz["last_event_on"]) == (2, 1, 1, 3, 1, 0, "2024-01-02")
    assert dict(zip(country_tallies.TOTAL_COLUMNS, totals["UZ"]))["order_value_usd"] == 2.5
    assert dict(zip(country_tallies.TOTAL_COLUMNS, totals["KR"]))["visits_made"] == 1


@pytest.mark.parametrize("module", [project_status, summit_timeline])
@pytest.mark.parametrize("seed", range(30))
def test_the_extend_fast_path_agrees_with_fold(module, seed):
    rng = random.Random(seed)
    events, rows, carry = [], set(), None
    for i in range(25):
        day = f"2024-{rng.randint(1, 3):02d}-{rng.randint(1, 3):02d}"
        if events and day < events[-1]["occurred_start"]:
            day = events[-1]["occurred_start"]
        e = ev(f"e{i}", rng.choice(["meeting", "order", "mou", "summit", "milestone"]), day, i, project="p")
        if rng.random() < 0.4:
            e["status"] = rng.choice(["agreed", "suspended", "completed"])
        if rng.random() < 0.3:
            e["project_name"] = rng.choice(["A", "B"])
        if carry is None:
            carry = module.resume("p", events)
        step = module.extend("p", carry, e)
        events.append(e)
        if step is None:
            rows, carry = set(module.fold("p", events)), None
        else:
            dropped, added, carry = step
            assert set(dropped) <= rows
            rows = (rows - set(dropped)) | set(added)
        assert rows == set(module.fold("p", events))

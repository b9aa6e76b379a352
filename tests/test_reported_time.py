"""The third time axis, --reported-by: what public reporting had said by a date.

Hand-written logs for each rule of DESIGN §5 (partial publication dates, corrections
reported before or after their target, a retraction without a source, the axes
combined), the command line on them, and a property: the answer from the log as
reported by R equals a reference fold over only the events and amendments that pass
all three filters, filtered here by rules written out afresh from DESIGN §5.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.dates import iso_span
from tests.replay_fixtures import (
    at, correction, event, from_tables, log, logged_store, reference_status, reference_tallies, reference_timeline,
    retraction,
)
from tracker.log.amendments import Amendment, effective_form
from tracker.log.reported import reported_on
from tracker.replay import queries
from tracker.replay.filtered import reported_view
from tracker.replay.listing import EffectiveEvent

P = "uz-trains"


def source(published: str, title: str = "A report") -> dict:
    return {"publisher": "Test Wire", "title": title, "published": published, "url": None, "author": None}


def sourced(item: dict, *published: str) -> dict:
    """`item` with one source per publication date (an amendment with none: no sources)."""
    return {**item, "sources": [source(day, f"Report {i}") for i, day in enumerate(published)]}


def status_reported(store, project, reported_by, known_at=None, as_of=None):
    with reported_view(store, reported_by=reported_by, known_at=known_at) as view:
        rows = queries.project_status(view.conn, project, as_of=as_of)
    return rows[0]["status"] if rows else None


# --- the rules, one at a time ------------------------------------------------------------


def test_an_event_counts_from_the_end_of_its_sources_period(store):
    log(store, sourced(event("order", "o1", "2024-05-20", at("2025-01-10"), project=P), "2024-06"))
    assert status_reported(store, P, "2024-06-29") is None
    assert status_reported(store, P, "2024-06-30") == "committed"


def test_an_event_counts_from_its_earliest_source(store):
    log(store, sourced(event("order", "o1", "2024-01-20", at("2025-01-10"), project=P), "2024", "2024-03-05"))
    assert status_reported(store, P, "2024-03-04") is None
    assert status_reported(store, P, "2024-03-05") == "committed"
    assert reported_on(sourced({"kind": "order"}, "2024", "2024-03-05"), at("2025-01-10")) == "2024-03-05"
    assert reported_on(sourced({"kind": "order"}, "2023-02"), at("2025-01-10")) == "2023-02-28"


def test_a_correction_reported_after_its_target_applies_from_its_own_source(store):
    log(store, sourced(event("order", "o1", "2024-03-01", at("2025-01-10"), project=P), "2024-03-02"))
    log(store, sourced(correction("c1", "o1", at("2025-01-11"), status="suspended"), "2024-09-01"))
    assert status_reported(store, P, "2024-08-31") == "committed"
    assert status_reported(store, P, "2024-09-01") == "suspended"


def test_a_correction_reported_before_its_target_waits_for_the_target(store):
    log(store, sourced(event("order", "o1", "2024-03-01", at("2025-01-10"), project=P), "2024-09-01"))
    log(store, sourced(correction("c1", "o1", at("2025-01-11"), status="suspended"), "2024-04-01"))
    assert status_reported(store, P, "2024-05-01") is None  # nothing to correct yet
    assert status_reported(store, P, "2024-09-01") == "suspended"


def test_a_retraction_without_a_source_counts_from_the_day_it_was_recorded(store):
    log(store, sourced(event("order", "o1", "2024-03-01", at("2024-03-02"), project=P), "2024-03-02"))
    log(store, retraction("r1", "o1", at("2024-07-15", 3600)))
    assert status_reported(store, P, "2024-07-14") == "committed"
    assert status_reported(store, P, "2024-07-15") is None


def test_a_retracted_correction_stops_counting_when_its_retraction_is_reported(store):
    log(store, sourced(event("order", "o1", "2024-03-01", at("2025-01-10"), project=P), "2024-03-02"))
    log(store, sourced(correction("c1", "o1", at("2025-01-11"), status="suspended"), "2024-04-01"))
    log(store, sourced(retraction("r1", "c1", at("2025-01-12")), "2024-05-01"))
    assert [status_reported(store, P, day) for day in ("2024-03-31", "2024-04-15", "2024-05-01")] == [
        "committed", "suspended", "committed",
    ]


def test_the_three_axes_combine(store):
    log(store, sourced(event("order", "o1", "2024-03-01", at("2024-03-10"), project=P), "2024-03-02"))
    log(store, sourced(event("milestone", "m1", "2024-05-01", at("2024-08-01"), project=P,
                             status="in_progress"), "2024-05-02"))
    # reported by June, but only recorded in August
    assert status_reported(store, P, "2024-06-30") == "in_progress"
    assert status_reported(store, P, "2024-06-30", known_at=at("2024-07-31")) == "committed"
    # as of April, the milestone had not happened whatever was reported
    assert status_reported(store, P, "2024-06-30", as_of="2024-04-30") == "committed"


# --- the command line ----------------------------------------------------------------------


def test_status_list_tallies_and_timeline_take_reported_by(cli):
    cli("init")
    proposed = cli.json("status", "korea-central-asia-summit", "--reported-by", "2024-12-31")
    agreed = cli.json("status", "korea-central-asia-summit", "--reported-by", "2025-01")
    assert (proposed["status"], agreed["status"]) == ("proposed", "agreed")
    table = cli("status", "korea-central-asia-summit", "--reported-by", "2024-12")
    assert table.exit_code == 0 and "\tproposed\t" in table.output
    listed = cli.json("list", "--reported-by", "2024-06-10")
    assert listed and all(
        min(s["published"] for s in e["sources"]) <= "2024-06-10" for e in listed
    )
    assert len(cli.json("list")) > len(listed)
    assert cli.json("tallies", "KZ", "--reported-by", "2024-06-11")["events"] < cli.json("tallies", "KZ")["events"]
    assert cli("timeline", "--reported-by", "2025").exit_code == 0


def test_show_gives_the_event_as_reported_and_as_recorded_then(cli):
    trains = "2024-06-hyundai-rotem-uz-high-speed-trains"
    cli("init")
    fixed = cli("correct", trains, "--set", "quantity=6", "--reason", "Six trainsets, in a later report.",
                "--source", "Trend | Uzbekistan receives high-speed trains | 2025-06")
    assert fixed.exit_code == 0
    before, after = (cli.json("show", trains, "--reported-by", day) for day in ("2025-03", "2025-07"))
    assert before["amendments"] == [] and "quantity" not in before["effective"] and before["corrections"] == []
    assert after["effective"]["quantity"] == 6 and [c["changes"][0]["new"] for c in after["corrections"]] == [6]
    unreported = cli("show", trains, "--reported-by", "2024-12")
    assert unreported.exit_code == 0
    assert f"Note: {trains} had not been reported by 2024-12-31: its earliest source was out on 2025-01-31." \
        in unreported.stderr
    assert cli.json("show", trains, "--reported-by", "2024-12")["effective"] is None
    unrecorded = cli.json("show", trains, "--known-at", "2001")
    assert unrecorded["effective"] is None and unrecorded["event"]["id"] == trains
    assert cli.json("show", trains) == after  # now, everything counts
    bad = cli("show", trains, "--known-at", "yesterday")
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: --known-at 'yesterday'")


def test_a_reported_by_before_all_reporting_says_so_and_exits_0(cli):
    cli("init")
    result = cli("status", "--reported-by", "2001")
    assert result.exit_code == 0
    assert "nothing had been reported by 2001-12-31" in result.output


def test_a_reported_by_that_is_no_date_is_one_line_naming_it(cli):
    cli("init")
    result = cli("list", "--reported-by", "2024-13")
    assert result.exit_code == 2
    assert result.output.strip().startswith("Error: --reported-by '2024-13'")
    assert len(result.output.strip().splitlines()) == 1


def test_build_writes_what_had_been_reported(cli, tmp_path):
    cli("init")
    out = tmp_path / "then.db"
    result = cli("build", str(out), "--reported-by", "2024-06-10")
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(out)
    meta = dict(conn.execute("SELECT key, value FROM publish_meta"))
    events = conn.execute("SELECT count(*) FROM effective_events").fetchone()[0]
    assert meta["reported_by"] == "2024-06-10"
    assert 0 < events < len(cli.json("list"))


# --- the property --------------------------------------------------------------------------

PUBLISHED = ["2024-01-15", "2024-02", "2024", "2023-12-31", "2024-06-01", "2024-03-03"]
DAYS = ["2024-01-01", "2024-02", "2024-02-10", "2023-11-20", "2024-03-01/2024-03-05", "2024-05-31"]


def _last_day(published: str) -> str:
    """End of a publication date's period, written out here from DESIGN §5."""
    if len(published) == 4:
        return f"{published}-12-31"
    if len(published) == 7:
        year, month = int(published[:4]), int(published[5:])
        first_of_next = dt.date(year + month // 12, month % 12 + 1, 1)
        return (first_of_next - dt.timedelta(days=1)).isoformat()
    return published


@st.composite
def reported_logs(draw):
    n = draw(st.integers(1, 10))
    items, world, corrections = [], [], []
    for i in range(n):
        stamp = at("2024-06-01", 60 * i)
        roll = draw(st.integers(0, 9))
        published = draw(st.lists(st.sampled_from(PUBLISHED), max_size=2))
        if roll >= 7 and world:
            target = draw(st.sampled_from(world + corrections))
            if target in corrections or roll == 9:
                items.append(sourced(retraction(f"r{i}", target, stamp), *published))
            else:
                changes = draw(st.sampled_from([{"status": "suspended"}, {"occurred": draw(st.sampled_from(DAYS))},
                                                {"countries": ["UZ"]}, {"project": "p2"}]))
                items.append(sourced(correction(f"c{i}", target, stamp, **changes), *published))
                corrections.append(f"c{i}")
        else:
            kind = draw(st.sampled_from(["order", "mou", "meeting", "summit"]))
            fields = {"project": draw(st.sampled_from(["p1", "p2"]))}
            items.append(sourced(event(kind, f"e{i}", draw(st.sampled_from(DAYS)), stamp, **fields),
                                 *(published or ["2024-02-20"])))
            world.append(f"e{i}")
    return items


def _reference_events(store, reported_by, known_at):
    """Effective events from the log's rows that pass the filters, by rules written out here."""
    rows = store.conn.execute("SELECT seq, recorded_at, kind, body FROM events ORDER BY seq").fetchall()
    kept, amendments = {}, {}
    for seq, recorded_at, kind, body in rows:
        record = json.loads(body)
        days = [_last_day(s["published"]) for s in record.get("sources") or []]
        on = min(days) if days else recorded_at[:10]
        if (known_at and recorded_at > known_at) or on > reported_by:
            continue
        if kind in ("correction", "retraction"):
            if record["target"] not in kept:
                continue
            kept[record["id"]] = (seq, recorded_at, record)
            world = kept[record["target"]][2].get("target", record["target"])
            amendments.setdefault(world, []).append(Amendment.from_record(record, seq, recorded_at))
        else:
            kept[record["id"]] = (seq, recorded_at, record)
    found = []
    for event_id, (seq, recorded_at, record) in kept.items():
        if record["kind"] in ("correction", "retraction"):
            continue
        form = effective_form(record, amendments.get(event_id, []))
        if form is not None:
            found.append(EffectiveEvent(seq, recorded_at, form, form is not record))
    found.sort(key=lambda e: (*iso_span(e.record["occurred"]), e.seq))
    return found


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reported_logs(), st.sampled_from(["2023-12-31", "2024-01-20", "2024-02-29", "2024-03-03", "2024-12-31"]),
       st.sampled_from([None, at("2024-06-01", 150), at("2024-06-01", 400)]))
def test_reported_by_from_the_tables_equals_a_fold_over_what_passes_the_filters(items, reported_by, known_at):
    with logged_store(items) as store:
        found = _reference_events(store, reported_by, known_at)
        with reported_view(store, reported_by=reported_by, known_at=known_at) as view:
            status, tallies, timeline = from_tables(view)
        want_status = reference_status(found)
        assert {p: (r["status"], r["since"], r["event"]) for p, r in status.items()} == {
            p: (r["status"], r["since"], r["event"]) for p, r in want_status.items()
        }
        want_tallies = reference_tallies(found)
        assert {c: t["events"] for c, t in tallies.items()} == {c: t["events"] for c, t in want_tallies.items()}
        assert timeline == reference_timeline(found)

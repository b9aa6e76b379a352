"""Schedules: any event about a project may say when it is planned for; `projects` keeps the
latest planned date, how many times it moved later, and whether it is overdue (DESIGN §4, §6)."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from events.dates import abbreviated
from events.identity import content_id
from events.models import to_record, validate_event
from projections import project_status
from tests.conftest import example, plain
from tests.replay_fixtures import (
    assert_matches_reference, at, correction, digests, event, full_digests, log, retraction,
)
from tracker.replay import queries

P = "ca-summit"


def schedule_of(store, project=P, as_of=None, known_at=None) -> dict | None:
    rows = queries.project_status(store.conn, project, as_of=as_of, known_at=known_at)
    if not rows:
        return None
    row = rows[0]
    return {k: row[k] for k in ("planned_for", "rescheduled", "overdue", "first_planned_for", "planned_end")}


def planned(store, project=P, **bounds):
    found = schedule_of(store, project, **bounds)
    return found and (found["planned_for"], found["rescheduled"], found["overdue"])


def summit_story(store) -> None:
    """The first Korea-Central Asia summit as it was reported: agreed for 2025, postponed in
    June 2025 to 2026, fixed in February 2026 for 16-17 September 2026."""
    log(store,
        event("summit", "agreed", "2024-11", at("2025-01-31"), project=P, status="agreed", planned_for="2025"),
        event("announcement", "postponed", "2025-06", at("2025-06-20"), project=P, planned_for="2026"),
        event("meeting", "fixed", "2026-02", at("2026-02-10"), project=P, planned_for="2026-09-16/2026-09-17"))


# --- the event: planned_for is an envelope field -------------------------------------------


@pytest.mark.parametrize("kind", ["order", "mou", "meeting", "announcement", "milestone", "signing", "summit"])
def test_any_event_about_a_project_may_give_a_planned_date(kind):
    project = {"project": "uz-trains"} if kind != "milestone" else {}
    record = to_record(validate_event(example(kind, planned_for="2028-08~", **project)))
    assert record["planned_for"] == "2028-08~"


def test_a_planned_date_needs_a_project_to_plan():
    with pytest.raises(ValidationError, match="planned_for needs a project"):
        validate_event(example("order", planned_for="2028"))


def test_a_summit_without_a_project_keeps_its_planned_date_as_before():
    assert validate_event(example("summit", project=None, planned_for="2025")).planned_for == "2025"


def test_a_correction_has_no_planned_date_of_its_own():
    with pytest.raises(ValidationError, match="no planned date of its own"):
        validate_event({"kind": "correction", "target": "x", "changes": {"planned_for": "2026"},
                        "reason": "Postponed.", "planned_for": "2026"})


def test_a_planned_date_is_checked_like_any_date():
    with pytest.raises(ValidationError, match="planned_for"):
        validate_event(example("order", project="p", planned_for="2026-02-30"))


def test_summit_events_keep_their_content_ids_and_hashes():
    """A field moving from Summit to the envelope changes no stored byte: the id (and so the
    body hash) of a summit with a planned date is what it was before the move."""
    summit = {"kind": "summit", "occurred": "2024-11", "countries": ["KR", "KZ"],
              "summary": "Leaders agreed to hold the first summit.",
              "sources": [{"publisher": "Caspian Policy Center", "title": "Implementing the K-Silk Road",
                           "published": "2025-01-31"}],
              "project": "kca-summit", "status": "agreed", "name": "Korea-Central Asia Summit",
              "planned_for": "2025", "location": {"name": "Seoul", "lat": 37.5665, "lon": 126.978}}
    assert content_id(to_record(validate_event(summit))) == "2024-11-01-summit-be971bf5fc4f"


# --- the fold: latest planned date, moves later, overdue ---------------------------------


def test_a_project_rescheduled_twice(store):
    log(store,
        event("mou", "a", "2024-03-01", at("2024-03-02"), project=P, planned_for="2025"),
        event("meeting", "b", "2025-06-01", at("2025-06-02"), project=P, planned_for="2026-06"),
        event("announcement", "c", "2026-05-01", at("2026-05-02"), project=P, planned_for="2027"))
    assert schedule_of(store, as_of="2026-05-01") == {
        "planned_for": "2027", "rescheduled": 2, "overdue": 0, "first_planned_for": "2025", "planned_end": "2027-12-31"}
    assert planned(store, as_of="2026-04-30") == ("2026-06", 1, 0)
    assert planned(store, as_of="2025-05-31") == ("2025", 0, 0)


def test_a_date_moved_earlier_or_narrowed_is_not_rescheduled(store):
    log(store,
        event("mou", "a", "2024-03-01", at("2024-03-02"), project=P, planned_for="2026"),
        event("meeting", "b", "2024-05-01", at("2024-05-02"), project=P, planned_for="2025"),  # brought forward
        event("meeting", "c", "2024-06-01", at("2024-06-02"), project=P, planned_for="2025-09"),  # narrowed
        event("meeting", "d", "2024-07-01", at("2024-07-02"), project=P, planned_for="2025-09~"))  # same last day
    assert schedule_of(store, as_of="2024-12-31") == {
        "planned_for": "2025-09~", "rescheduled": 0, "overdue": 0, "first_planned_for": "2026",
        "planned_end": "2025-09-30"}


def test_moving_later_again_after_moving_earlier_counts_once_more(store):
    log(store,
        event("mou", "a", "2024-03-01", at("2024-03-02"), project=P, planned_for="2025"),
        event("meeting", "b", "2024-05-01", at("2024-05-02"), project=P, planned_for="2026"),
        event("meeting", "c", "2024-06-01", at("2024-06-02"), project=P, planned_for="2025"),
        event("meeting", "d", "2024-07-01", at("2024-07-02"), project=P, planned_for="2026"))
    assert planned(store, as_of="2024-12-31") == ("2026", 2, 0)


def test_the_summit_story_reads_as_rescheduled_once(store):
    summit_story(store)
    row = queries.project_status(store.conn, P, as_of="2026-03-01")[0]
    assert (row["planned_for"], row["rescheduled"], row["first_planned_for"]) == ("2026-09-16/2026-09-17", 1, "2025")
    assert project_status.schedule(row) == "planned 2026-09-16/17, rescheduled once, from 2025"
    assert row["status"] == "agreed"  # a planned date does not move the status


def test_a_planned_date_that_passes_is_overdue_from_the_next_day_not_before(store):
    log(store, event("mou", "a", "2024-03-01", at("2024-03-02"), project=P, planned_for="2025-06"))
    assert planned(store, as_of="2025-06-30") == ("2025-06", 0, 0)
    assert planned(store, as_of="2025-07-01") == ("2025-06", 0, 1)
    assert planned(store, as_of="2025-07") == ("2025-06", 0, 1)
    row = queries.project_status(store.conn, P, as_of="2025-07-01")[0]
    assert project_status.schedule(row) == "planned 2025-06; overdue since 2025-07-01"


def test_an_interval_is_overdue_only_after_its_last_day(store):
    log(store, event("mou", "a", "2024-03-01", at("2024-03-02"), project=P, planned_for="2026-09-16/2026-09-17"))
    assert planned(store, as_of="2026-09-17")[2] == 0
    assert planned(store, as_of="2026-09-18")[2] == 1


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_a_completed_or_cancelled_project_is_never_overdue(store, status):
    log(store,
        event("mou", "a", "2024-03-01", at("2024-03-02"), project=P, planned_for="2025"),
        event("milestone", "b", "2026-03-01", at("2026-03-02"), project=P, status=status))
    assert planned(store, as_of="2026-02-28") == ("2025", 0, 1)  # late, until it was finished
    for day in ("2026-03-01", "2027", "2100"):
        assert planned(store, as_of=day) == ("2025", 0, 0), day
    assert planned(store) == ("2025", 0, 0)


def test_a_project_finished_on_time_is_never_overdue(store):
    log(store,
        event("mou", "a", "2024-03-01", at("2024-03-02"), project=P, planned_for="2024-12"),
        event("milestone", "b", "2024-11-20", at("2024-11-21"), project=P, status="completed"))
    assert [planned(store, as_of=day)[2] for day in ("2024-12-31", "2025-01-01", "2030")] == [0, 0, 0]


def test_a_suspended_project_past_its_date_is_overdue(store):
    log(store,
        event("mou", "a", "2024-03-01", at("2024-03-02"), project=P, planned_for="2024-12"),
        event("milestone", "b", "2024-11-20", at("2024-11-21"), project=P, status="suspended"))
    assert planned(store, as_of="2025-01-01") == ("2024-12", 0, 1)


def test_without_as_of_overdue_is_judged_on_today(store):
    today = dt.datetime.now(dt.timezone.utc).date()
    log(store,
        event("mou", "past", "2024-03-01", at("2024-03-02"), project="past", planned_for=str(today.year - 1)),
        event("mou", "future", "2024-03-01", at("2024-03-02"), project="future", planned_for=str(today.year + 1)),
        event("mou", "none", "2024-03-01", at("2024-03-02"), project="none"))
    now = {r["project"]: r["overdue"] for r in queries.project_status(store.conn)}
    assert now == {"past": 1, "future": 0, "none": 0}
    known = {r["project"]: r["overdue"] for r in queries.project_status(store.conn, known_at=at("2024-03-03"))}
    assert known == now  # knowledge time changes what is known, not the day overdue is judged on
    assert schedule_of(store, "none") == {
        "planned_for": None, "rescheduled": 0, "overdue": 0, "first_planned_for": None, "planned_end": None}


def test_the_latest_planned_date_is_the_latest_in_world_order_not_the_latest_recorded(store):
    log(store, event("meeting", "later", "2025-06", at("2025-06-20"), project=P, planned_for="2026"))
    log(store, event("mou", "earlier", "2024-11", at("2025-07-01"), project=P, planned_for="2025"))  # backdated
    assert planned(store, as_of="2025-12-31") == ("2026", 1, 0)
    assert planned(store, as_of="2025-05-31") == ("2025", 0, 0)


# --- time axes -------------------------------------------------------------------------------


def test_as_of_and_known_at_answer_the_schedule(store):
    log(store, event("summit", "agreed", "2024-11", at("2025-01-31"), project=P, status="agreed", planned_for="2025"))
    # the postponement (June 2025) is only recorded in January 2026
    log(store, event("announcement", "postponed", "2025-06", at("2026-01-15"), project=P, planned_for="2026"))
    assert planned(store, as_of="2026-01-01", known_at="2026-01-14") == ("2025", 0, 1)  # said then: overdue
    assert planned(store, as_of="2026-01-01", known_at="2026-01-15") == ("2026", 1, 0)  # not, once told
    assert planned(store, as_of="2025-05-31", known_at="2026-01-15") == ("2025", 0, 0)
    assert planned(store, as_of="2024-10-31") is None
    assert planned(store, as_of="2026-01-01") == ("2026", 1, 0)


def test_a_correction_or_retraction_of_a_planned_date_refolds_the_schedule(store):
    summit_story(store)
    log(store, correction("c1", "postponed", at("2026-03-01"), planned_for="2025-12"))  # no postponement after all
    assert planned(store, as_of="2026-03-01") == ("2026-09-16/2026-09-17", 1, 0)  # the fixing moved it later
    assert planned(store, as_of="2025-12-31") == ("2025-12", 0, 0)
    assert planned(store, as_of="2025-12-31", known_at=at("2026-02-28")) == ("2026", 1, 0)
    log(store, retraction("r1", "fixed", at("2026-03-02")))
    assert planned(store, as_of="2026-03-01") == ("2025-12", 0, 1)
    log(store, correction("c2", "agreed", at("2026-03-03"), planned_for=None))
    assert schedule_of(store, as_of="2026-03-01")["first_planned_for"] == "2025-12"


def test_incremental_replay_equals_a_full_replay_with_and_without_short_cuts(store):
    summit_story(store)
    log(store, event("mou", "late", "2024-06", at("2026-03-01"), project=P, planned_for="2024"))  # backdated
    log(store, correction("c1", "postponed", at("2026-03-02"), planned_for="2027"))
    log(store, retraction("r1", "fixed", at("2026-03-03")))
    log(store, event("milestone", "done", "2027-05", at("2027-05-02"), project=P, status="completed"))
    log(store, event("meeting", "same-day", "2027-05", at("2027-05-03"), project=P, planned_for="2028"))
    incremental = digests(store)
    assert full_digests(store, shortcuts=True) == incremental
    assert full_digests(store, shortcuts=False) == incremental


def test_the_tables_agree_with_the_reference_fold_on_every_axis(store):
    summit_story(store)
    log(store, event("milestone", "done", "2026-09-17", at("2026-09-18"), project=P, status="completed"))
    for as_of in (None, "2024-12", "2025-06", "2025-12-31", "2026-01-01", "2026-03", "2026-09-17", "2027"):
        for known_at in (None, "2025-02-01", "2025-06-20", "2026-02-09"):
            assert_matches_reference(store, as_of=as_of, known_at=known_at)


def test_the_fast_path_agrees_with_the_fold():
    events = []
    for i, (day, planned_for) in enumerate([("2024-01-01", "2025"), ("2024-02-01", None), ("2024-03-01", "2026"),
                                            ("2024-04-01", "2025-06"), ("2024-05-01", "2027")]):
        e = {"kind": "meeting", "id": f"e{i}", "seq": i + 1, "project": "p", "occurred_start": day,
             "occurred_end": day}
        if planned_for:
            e["planned_for"] = planned_for
        events.append(e)
    for n in range(len(events)):
        carry = project_status.resume("p", events[:n])
        step = project_status.extend("p", carry, events[n])
        rows = set(project_status.fold("p", events[:n]))
        dropped, added, _ = step
        assert (rows - set(dropped)) | set(added) == set(project_status.fold("p", events[: n + 1])), n


# --- what people see --------------------------------------------------------------------------


def test_dates_are_shown_at_the_precision_entered():
    assert abbreviated("2026-09-16/2026-09-17") == "2026-09-16/17"
    assert abbreviated("2026-09-30/2026-10-02?") == "2026-09-30/10-02?"
    assert abbreviated("2025-12-30/2026-01-02") == "2025-12-30/2026-01-02"
    for whole in ("2025", "2025-09", "2025~", "2026-09/2026-11", "2025/2026", "2026-09/2026-10-15"):
        assert abbreviated(whole) == whole


@pytest.mark.parametrize("row, words", [
    ({"planned_for": None}, None),
    ({"planned_for": "2025", "rescheduled": 0, "first_planned_for": "2025", "overdue": 0}, "planned 2025"),
    ({"planned_for": "2027", "rescheduled": 2, "first_planned_for": "2025", "overdue": 0},
     "planned 2027, rescheduled twice, from 2025"),
    ({"planned_for": "2029", "rescheduled": 3, "first_planned_for": "2025", "overdue": 0},
     "planned 2029, rescheduled 3 times, from 2025"),
    ({"planned_for": "2025-09", "rescheduled": 0, "first_planned_for": "2026", "overdue": 0},
     "planned 2025-09, first planned for 2026"),
    ({"planned_for": "2025", "rescheduled": 0, "first_planned_for": "2025", "overdue": 1, "planned_end": "2025-12-31"},
     "planned 2025; overdue since 2026-01-01"),
])
def test_the_schedule_in_words(row, words):
    assert project_status.schedule(row) == words


def test_log_takes_planned_for_on_every_kind(cli):
    cli("init", "--empty")
    common = ["--date", "2024-06", "--country", "UZ,KR", "--summary", "A plant was planned.",
              "--source", "Gazeta.uz | A plant | 2024-06-02"]
    logged = cli.json("log", "announcement", "--announcer", "Uzkimyosanoat", "--subject", "a fertilizer plant",
                      *common, "--project", "uz-fertilizer-plant", "--planned-for", "2028")
    assert logged["planned_for"] == "2028"
    result = cli("log", "meeting", "--participants", "KOICA", "--topic", "plans", *common, "--planned-for", "2028")
    assert result.exit_code == 2 and "--planned-for needs a --project" in plain(result.stderr)
    help_text = plain(cli("log", "visit", "--help").stdout)
    assert "--planned-for" in help_text


def test_status_shows_the_schedule_and_json_has_its_fields(cli):
    cli("init", "--empty")
    common = ["--country", "KR,KZ", "--project", P, "--source", "Yonhap | Summit | 2026-02-10"]
    cli("log", "summit", "--name", "Korea-Central Asia summit", "--date", "2024-11", "--summary", "Agreed.",
        "--status", "agreed", "--planned-for", "2025", *common)
    cli("log", "announcement", "--announcer", "Seoul", "--subject", "postponement", "--date", "2025-06",
        "--summary", "Postponed.", "--planned-for", "2026", *common)
    summit = cli.json("status", P, "--as-of", "2026-01-01")
    assert {k: summit[k] for k in ("status", "planned_for", "rescheduled", "overdue", "first_planned_for",
                                   "planned_end")} == {
        "status": "agreed", "planned_for": "2026", "rescheduled": 1, "overdue": 0, "first_planned_for": "2025",
        "planned_end": "2026-12-31"}
    table = cli("status", P, "--as-of", "2027-01-01").stdout.splitlines()
    assert table[0].split("\t") == ["project", "name", "status", "since", "schedule", "event"]
    assert table[1].split("\t")[4] == "planned 2026, rescheduled once, from 2025; overdue since 2027-01-01"
    # a correction by the command line moves the date, like any field
    event_id = cli.json("list", "--kind", "announcement")[0]["id"]
    assert cli("correct", event_id, "--set", "planned_for=2025-12", "--reason", "misread").exit_code == 0
    assert cli.json("status", P, "--as-of", "2026-01-01")["overdue"] == 1


def test_the_bundled_summit_is_overdue_from_2026(cli):
    assert cli("init").exit_code == 0
    summit = "korea-central-asia-summit"
    assert cli.json("status", summit, "--as-of", "2025-12-31")["overdue"] == 0
    last = cli.json("status", summit, "--as-of", "2026-01-01")
    assert (last["planned_for"], last["rescheduled"], last["overdue"]) == ("2025", 0, 1)
    assert cli.json("status", summit, "--reported-by", "2024-12-31")["planned_for"] == "2025"

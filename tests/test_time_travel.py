"""Both time axes on small hand-written logs: --as-of (world time) and --known-at (knowledge time)."""

from __future__ import annotations

import pytest

from tracker.replay import queries
from tests.replay_fixtures import (
    assert_matches_reference, at, correction, event, log, retraction, status_of,
)

P = "uz-trains"


def test_a_late_recorded_event_that_happened_earlier_changes_the_past_but_not_what_was_said(store):
    log(store, event("milestone", "m-progress", "2024-06-01", at("2024-06-02"), project=P, status="in_progress"))
    log(store, event("order", "late-order", "2024-03-01", at("2024-07-01"), project=P))
    assert status_of(store, P, as_of="2024-04-01") == "committed"
    assert status_of(store, P, as_of="2024-04-01", known_at=at("2024-06-30")) is None
    assert status_of(store, P) == "in_progress"
    assert status_of(store, P, as_of="2024-02-28") is None
    assert_matches_reference(store, as_of="2024-04-01", known_at=at("2024-06-30"))


def test_a_correction_that_moves_an_event_across_another_reorders_the_lifecycle(store):
    log(
        store,
        event("order", "o1", "2024-03-01", at("2024-03-02"), project=P),
        event("milestone", "m1", "2024-05-01", at("2024-05-02"), project=P, status="suspended"),
    )
    assert status_of(store, P) == "suspended"
    log(store, correction("c1", "o1", at("2024-06-01"), occurred="2024-06-01"))
    assert status_of(store, P) == "committed"
    assert status_of(store, P, as_of="2024-05-15") == "suspended"
    assert status_of(store, P, known_at=at("2024-05-31")) == "suspended"
    assert status_of(store, P, as_of="2024-03-15", known_at=at("2024-05-31")) == "committed"
    assert status_of(store, P, as_of="2024-03-15") is None
    for known_at in (None, at("2024-05-31"), at("2024-03-05")):
        for as_of in (None, "2024-03-15", "2024-05-15", "2024-06"):
            assert_matches_reference(store, as_of=as_of, known_at=known_at)


def test_a_correction_can_change_an_events_project_and_both_keys_are_rebuilt(store):
    log(store, event("signing", "s1", "2024-03-01", at("2024-03-02"), project="a"))
    log(store, correction("c1", "s1", at("2024-04-01"), project="b"))
    assert status_of(store, "a") is None
    assert status_of(store, "b") == "committed"
    assert status_of(store, "a", known_at=at("2024-03-31")) == "committed"
    assert_matches_reference(store)


def test_a_correction_of_countries_and_amounts_moves_the_tallies(store):
    log(store, event("order", "o1", "2024-03-01", at("2024-03-02"), countries=["KR", "UZ"]))
    log(store, correction("c1", "o1", at("2024-04-01"), countries=["KR", "KZ"],
                          value={"amount": "5", "currency": "USD"}))
    now = {r["country"]: r for r in queries.country_tallies(store.conn)}
    assert set(now) == {"KR", "KZ"} and now["KR"]["order_value_usd"] == 5.0
    before = {r["country"]: r for r in queries.country_tallies(store.conn, known_at=at("2024-03-31"))}
    assert set(before) == {"KR", "UZ"} and before["UZ"]["order_value_usd"] == 196000000.0
    assert_matches_reference(store, known_at=at("2024-03-31"))


def test_retracting_a_correction_restores_the_original_from_that_moment(store):
    log(store, event("milestone", "m1", "2024-05-01", at("2024-05-02"), project=P, status="agreed"))
    log(store, correction("c1", "m1", at("2024-06-01"), status="cancelled"))
    log(store, retraction("r1", "c1", at("2024-07-01")))
    assert status_of(store, P) == "agreed"
    assert status_of(store, P, known_at=at("2024-06-15")) == "cancelled"
    assert status_of(store, P, known_at=at("2024-05-15")) == "agreed"
    for known_at in (None, at("2024-06-15"), at("2024-05-15")):
        assert_matches_reference(store, known_at=known_at)


def test_a_retracted_event_counts_nowhere_from_the_retraction_on(store):
    log(store, event("visit", "v1", "2024-05-01", at("2024-05-02")))
    log(store, retraction("r1", "v1", at("2024-06-01")))
    assert queries.country_tallies(store.conn) == []
    said = queries.country_tallies(store.conn, "KZ", known_at=at("2024-05-31"))
    assert said[0]["visits_hosted"] == 1 and said[0]["visits"] == 1


def test_partial_dates_start_on_the_first_day_and_as_of_means_the_last(store):
    log(
        store,
        event("mou", "mou-june", "2024-06", at("2024-07-01"), project=P),
        event("signing", "s-year", "2025", at("2025-01-02"), project=P),
    )
    assert status_of(store, P, as_of="2024-05-31") is None
    assert status_of(store, P, as_of="2024-06-01") == "agreed"
    assert status_of(store, P, as_of="2024") == "agreed"
    assert status_of(store, P, as_of="2025") == "committed"
    assert queries.project_status(store.conn, P)[0]["since"] == "2025-01-01"


def test_an_interval_counts_from_its_first_day_and_orders_by_its_last(store):
    log(
        store,
        event("milestone", "long", "2024-06-01/2024-06-30", at("2024-07-01"), project=P, status="in_progress"),
        event("milestone", "short", "2024-06-01", at("2024-07-01", 1), project=P, status="suspended"),
    )
    # same first day: the one that ends first comes first, so the interval wins
    assert status_of(store, P, as_of="2024-06-01") == "in_progress"
    assert_matches_reference(store, as_of="2024-06-01")


def test_two_events_on_one_day_apply_in_log_order(store):
    log(
        store,
        event("milestone", "first", "2024-06-01", at("2024-07-01"), project=P, status="suspended"),
        event("milestone", "second", "2024-06-01", at("2024-07-01"), project=P, status="completed"),
    )
    assert status_of(store, P, as_of="2024-06-01") == "completed"
    rows = store.conn.execute("SELECT count(*) FROM project_status_history").fetchone()[0]
    assert rows == 1  # one day, one segment


def test_the_canned_query_sql_takes_blank_and_partial_bounds(store):
    log(store, event("order", "o1", "2024-03-01", at("2024-03-02"), project=P))
    log(store, event("milestone", "m1", "2024-05-01", at("2024-05-02"), project=P, status="suspended"))
    sql = queries.CANNED["project_status_on"]
    run = lambda **p: [r[2] for r in store.conn.execute(sql, {"project": "", **p})]  # noqa: E731
    assert run(as_of="", known_at="") == ["suspended"]
    assert run(as_of="2024-03", known_at="") == ["committed"]
    assert run(as_of="", known_at="2024-03-31") == ["committed"]
    assert run(as_of="", known_at="2024-05-02T00:00:00Z") == ["suspended"]
    assert run(as_of="2024-02", known_at="") == []
    tallies = store.conn.execute(queries.CANNED["country_tallies_on"],
                                 {"as_of": "2024", "known_at": "2024-04", "country": "KZ"}).fetchall()
    assert tallies[0][1] == 1


@pytest.mark.parametrize("command", ["status", "tallies", "timeline", "list"])
def test_every_state_command_takes_as_of_known_at_and_json(cli, command):
    assert cli("init").exit_code == 0
    now = cli.json(command)
    assert now
    assert cli.json(command, "--as-of", "2024-06", "--known-at", "2099-01-01") is not None
    assert cli.json(command, "--as-of", "1990") in ([], None) or command == "list"
    bad = cli(command, "--as-of", "June")
    assert bad.exit_code == 2 and "--as-of" in bad.output


def test_status_of_one_project_is_one_json_object(cli):
    cli("init")
    rows = cli.json("status")
    one = cli.json("status", rows[0]["project"])
    assert one == rows[0]
    assert cli("status", "no-such-project").exit_code == 2


def test_country_tallies_checkpoints_are_yearly_and_monthly_and_revised_by_late_events(store):
    conn = store.conn
    sql = ("SELECT level, start, events FROM country_tallies_checkpoints WHERE country = 'KZ'"
           " AND known_to IS NULL ORDER BY level, start")
    log(store, event("meeting", "m1", "2024-01-10", at("2024-01-11"), countries=["KZ"]))
    log(store, event("meeting", "m2", "2024-01-20", at("2024-01-21"), countries=["KZ"]))
    log(store, event("meeting", "m3", "2024-03-05", at("2024-03-06"), countries=["KZ"]))
    # in-order events in a month add nothing; the first event of a month or year opens its checkpoint
    assert conn.execute(sql).fetchall() == [
        ("month", "2024-02-01", 2), ("month", "2024-03-01", 2), ("year", "2024-01-01", 0)]
    assert conn.execute("SELECT count(*) FROM country_tallies_checkpoints WHERE known_to IS NOT NULL").fetchone() == (0,)
    log(store, event("meeting", "late", "2023-11-30", at("2024-04-01"), countries=["KZ"]))
    assert conn.execute(sql).fetchall() == [
        *(("month", f"2023-{m:02d}-01", 0) for m in range(2, 12)),
        ("month", "2024-02-01", 2), ("month", "2024-03-01", 2), ("year", "2023-01-01", 0), ("year", "2024-01-01", 1)]
    log(store, event("meeting", "late2", "2024-02-03", at("2024-04-02"), countries=["KZ"]))
    assert conn.execute(sql).fetchall()[-4:] == [
        ("month", "2024-02-01", 2), ("month", "2024-03-01", 3), ("year", "2023-01-01", 0), ("year", "2024-01-01", 1)]
    log(store, retraction("r1", "m2", at("2024-05-01")))
    log(store, retraction("r2", "late2", at("2024-05-02")))
    for known_at in (None, at("2024-03-31"), at("2024-04-30"), "2024-05-01T12:00:00.000000Z", at("2024-01-15")):
        for as_of in (None, "2023-11", "2023-12-15", "2024-01-15", "2024-02", "2024-03-05"):
            assert_matches_reference(store, as_of=as_of, known_at=known_at)
    said = queries.country_tallies(store.conn, "KZ", as_of="2024-02", known_at=at("2024-04-30"))
    assert said[0]["events"] == 4 and said[0]["last_event_on"] == "2024-02-03"
    now = queries.country_tallies(store.conn, "KZ", as_of="2024-02")
    assert now[0]["events"] == 2 and now[0]["last_event_on"] == "2024-01-10"

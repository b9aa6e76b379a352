"""`reported_by` on Datasette's questions and the dashboard (tracker.publish.reported_sql):
the same answers as the command line, and the plain SQL unchanged when it is blank."""

from __future__ import annotations

import re
import sqlite3
import urllib.parse

import pytest

import projections
from tests.conftest import bundled_log, get
from tracker.log.store import EventStore
from tracker.publish.reported_sql import FUNCTION, register, with_reported_by
from tracker.publish.site import datasette_for, load_metadata
from tracker.replay.keyed import reported_answer
from tracker.replay.queries import answer

SUMMIT = "korea-central-asia-summit"
#: Days on which the bundled record's reporting stood differently (its two articles).
DAYS = ["2024-06-10", "2024-06-30", "2024-12-31", "2025-01", "2025-12-31"]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return bundled_log(tmp_path_factory.mktemp("reported-site") / "tracker.db")


@pytest.fixture(scope="module")
def ds(db):
    return datasette_for(db, immutable=True, live=False)


def get_json(ds, path: str, **params) -> list[dict]:
    response = get(ds, path + "?" + urllib.parse.urlencode({**params, "_shape": "objects"}))
    assert response.status_code == 200, response.text[:500]
    return response.json()["rows"]


def canned(projection) -> str:
    return f"/tracker/{projection.CANNED_QUERY.name}.json"


@pytest.mark.parametrize("projection", projections.PROJECTIONS, ids=lambda p: p.NAME)
def test_every_canned_question_takes_reported_by(projection):
    query = load_metadata()["databases"]["tracker"]["queries"][projection.CANNED_QUERY.name]
    assert set(re.findall(r":(\w+)", query["sql"])) >= {"as_of", "known_at", "reported_by", projection.KEY_COLUMN}
    assert "reported_by" in query["description_html"]


@pytest.mark.parametrize("projection", projections.PROJECTIONS, ids=lambda p: p.NAME)
def test_a_canned_question_reported_by_gives_the_command_lines_rows(ds, db, projection):
    with EventStore(db) as store:
        for day in DAYS:
            for as_of in ("", "2024-06-30"):
                want = reported_answer(store, projection, None, reported_by=day, as_of=as_of or None)
                got = get_json(ds, canned(projection), as_of=as_of, known_at="", reported_by=day,
                               **{projection.KEY_COLUMN: ""})
                if projection.NAME == "summit_timeline":  # the page lists the latest 200 at most
                    want = want[-200:]
                assert got == want, (day, as_of)


def test_the_summit_as_reported_by_the_end_of_2024_and_after_the_january_article(ds):
    status = projections.by_name("project_status")
    for day, want in (("2024-12-31", "proposed"), ("2025-01", "agreed")):
        rows = get_json(ds, canned(status), project=SUMMIT, as_of="", known_at="", reported_by=day)
        assert [r["status"] for r in rows] == [want]


@pytest.mark.parametrize("projection", projections.PROJECTIONS, ids=lambda p: p.NAME)
def test_without_reported_by_a_canned_question_answers_as_before(ds, db, projection):
    conn = sqlite3.connect(db)
    try:
        for as_of in ("", "2024-06-30"):
            want = answer(conn, projection, None, as_of=as_of, known_at="")
            got = get_json(ds, canned(projection), as_of=as_of, known_at="", reported_by="",
                           **{projection.KEY_COLUMN: ""})
            if projection.NAME == "summit_timeline":
                want = want[-200:]
            assert got == want
    finally:
        conn.close()


def test_the_function_is_not_called_when_reported_by_is_blank(db):
    """The plain branch alone runs: the function (here counting its calls) never does."""
    calls = []
    conn = sqlite3.connect(db)
    try:
        register(conn)
        inner = None
        status = projections.by_name("project_status")

        def counting(*args):
            calls.append(args)
            return "[]"

        conn.create_function(FUNCTION, 5, counting)
        rows = conn.execute(with_reported_by(status), {"as_of": "", "known_at": "", "project": "",
                                                         "reported_by": ""}).fetchall()
        assert rows and calls == [] and inner is None
        conn.execute(with_reported_by(status), {"as_of": "", "known_at": "", "project": "",
                                                "reported_by": "2024-12-31"}).fetchall()
        assert len(calls) == 1
    finally:
        conn.close()


def _chart_sql(query: str, as_of: str) -> str:
    """A chart's SQL as the dashboards plugin sends it (its [[ ... ]] kept with a date)."""
    return re.sub(r"\[\[(.*?)\]\]", lambda m: m.group(1) if as_of else "", query)


def _sorted(rows: list[dict]) -> list:
    return sorted(tuple(sorted(row.items())) for row in rows)


def test_every_dashboard_chart_takes_reported_by_and_everything_reported_is_today(ds):
    """Reported by a day after every source, a chart shows what it shows without the bound;
    before every source, nothing (no events, no projects)."""
    dashboard = load_metadata()["plugins"]["datasette-dashboards"]["ksilkroad"]
    assert "reported_by" in dashboard["filters"]
    for slug, chart in dashboard["charts"].items():
        assert ":reported_by" in chart["query"], slug
        for as_of in ("", "2024-08-01"):
            sql = _chart_sql(chart["query"], as_of)
            plain = get_json(ds, "/tracker.json", sql=sql, as_of=as_of)
            everything = get_json(ds, "/tracker.json", sql=sql, as_of=as_of, reported_by="2999-12-31")
            assert _sorted(everything) == _sorted(plain), (slug, as_of)
            before = get_json(ds, "/tracker.json", sql=sql, as_of=as_of, reported_by="2000-01-01")
            assert all(not any(v for k, v in row.items() if k == "n") for row in before), slug
            if "n" not in (plain[0] if plain else {}):
                assert before == [], slug


def test_the_dashboard_reported_by_counts_what_was_reported_then(ds):
    charts = load_metadata()["plugins"]["datasette-dashboards"]["ksilkroad"]["charts"]
    with EventStore(ds.databases["tracker"].path) as store:
        from tracker.replay.listing import reported_events

        listed = reported_events(store, reported_by="2024-12-31")
        status = reported_answer(store, projections.by_name("project_status"), None, reported_by="2024-12-31")
    total = get_json(ds, "/tracker.json", sql=_chart_sql(charts["total-events"]["query"], ""), reported_by="2024-12-31")
    assert total == [{"n": len(listed)}] and 0 < len(listed) < 50
    by_status = get_json(ds, "/tracker.json", sql=_chart_sql(charts["projects-by-status"]["query"], ""),
                         as_of="", reported_by="2024-12-31")
    want: dict[str, int] = {}
    for row in status:
        want[row["status"]] = want.get(row["status"], 0) + 1
    assert {r["status"]: r["projects"] for r in by_status} == want


def test_the_dashboard_page_has_the_reported_by_filter(ds):
    page = get(ds, "/-/dashboards/ksilkroad?reported_by=2024-12-31")
    assert page.status_code == 200
    assert 'name="reported_by"' in page.text and 'value="2024-12-31"' in page.text


def test_a_reported_by_that_is_no_date_is_one_line_naming_it(ds):
    response = get(ds, "/tracker/project_status_on.json?reported_by=2024-13&as_of=&known_at=&project=")
    assert response.status_code == 400
    error = response.json()["error"]
    assert 'reported_by "2024-13"' in error and "month 13 does not exist" in error and "\n" not in error

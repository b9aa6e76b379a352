"""Publishing: the built database served through Datasette's own test client."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.conftest import bundled_log, get
from tracker.log.bundled import record_path
from tracker.publish.build import build
from tracker.publish.schema import prepare_path
from tracker.publish.site import datasette_for, load_metadata
from tracker.replay.engine import catch_up
from tracker.log.importing import read_jsonl
from tracker.log.store import EventStore

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HOSTILE = {
    "id": "hostile-test-event",
    "kind": "signing",
    "occurred": "2024-06-14",
    "countries": ["KR", "UZ"],
    "summary": f"Hostile summary {SCRIPT} and {IMG} javascript:alert(1) zanzibarite",
    "project": "hostile-project",
    "project_name": f"Hostile project {SCRIPT}",
    "parties": [f"Party {IMG}", "javascript:alert(1)"],
    "title": f"Title {SCRIPT}",
    "location": {"name": f"Place {IMG}", "lat": 41.3, "lon": 69.2},
    "sources": [{
        "publisher": f"Publisher {SCRIPT}",
        "title": f"Article {IMG}",
        "published": "2024-06-15",
        "url": "https://example.com/?q=<script>alert(1)</script>&x=javascript:alert(1)",
        "author": None,
    }],
}
HOSTILE_SUMMIT = {
    "id": "hostile-summit-step",
    "kind": "summit",
    "occurred": "2024-07-01",
    "countries": ["KR", "KZ"],
    "summary": f"Summit step {SCRIPT}",
    "name": f"Summit {IMG}",
    "project": "korea-central-asia-summit",
    "planned_for": "2025",
    "sources": [{"publisher": "P", "title": "T", "published": "2024-07-02", "url": None, "author": None}],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The bundled record plus hostile events, built into a publishable database."""
    work = tmp_path_factory.mktemp("publish")
    bundled_log(work / "tracker.db", [HOSTILE, HOSTILE_SUMMIT])
    out = work / "site.db"
    build(work / "tracker.db", out)
    return work, out


@pytest.fixture(scope="module")
def ds(built):
    return datasette_for(built[1], immutable=True, live=False)


def all_tables(ds):
    return [t for t in get(ds, "/tracker.json").json()["tables"] if not t["hidden"]] + [
        {"name": v["name"]} for v in get(ds, "/tracker.json").json()["views"]
    ]


QUERIES = ["search", "project_status_on", "country_tallies_on", "summit_timeline_on", "calendar", "recent_events"]


def assert_no_live_markup(text: str) -> None:
    for needle in ("<script>alert", "<img src=x", 'href="javascript:', "onerror=alert(1)>"):
        assert needle not in text, needle


def test_home_page_has_a_search_box(ds):
    page = get(ds, "/")
    assert page.status_code == 200
    assert 'name="q"' in page.text and 'action="/tracker/search"' in page.text


def test_the_home_page_lists_only_the_tracker_and_credits_the_real_sources(ds):
    page = get(ds, "/")
    assert "_memory" not in page.text
    assert "Caspian Policy Center" in page.text and "Central Asian Light" in page.text


def test_every_table_and_view_answers(ds):
    names = [t["name"] for t in all_tables(ds)]
    for expected in ("events", "effective_events", "projects", "country_tallies", "summit_timeline", "countries", "event_map"):
        assert expected in names
    for name in names:
        page = get(ds, f"/tracker/{name}")
        assert page.status_code == 200, name
        assert_no_live_markup(page.text)


def test_every_table_and_column_is_described():
    tables = load_metadata()["databases"]["tracker"]["tables"]
    for name in ("events", "effective_events", "projects", "project_status_history", "country_tallies",
                 "country_tallies_history", "summit_timeline", "summit_timeline_history", "countries", "event_map"):
        assert tables[name].get("description"), name


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("params", ["", "?as_of=&known_at=", "?as_of=2024-08&known_at=", "?as_of=2024-08-01&known_at=2030-01-01T00:00:00Z",
                                    "?as_of=banana&known_at=not-a-date", "?as_of=2024-13-45", "?as_of=%27%3B%20DROP%20TABLE%20events"])
def test_canned_queries_answer_blank_and_bad_parameters(ds, query, params):
    page = get(ds, f"/tracker/{query}{params}")
    assert page.status_code == 200, page.text[:500]
    assert_no_live_markup(page.text)


def test_project_status_on_a_past_date(ds):
    rows = get(ds, "/tracker/project_status_on.json?_shape=array&as_of=2024-06-13&known_at=").json()
    hostile = [r for r in rows if r["project"] == "hostile-project"]
    assert hostile == []  # the hostile signing happened on the 14th
    rows = get(ds, "/tracker/project_status_on.json?_shape=array&as_of=2024-06-14&known_at=").json()
    assert [r["status"] for r in rows if r["project"] == "hostile-project"] == ["committed"]


def test_search_finds_events(ds):
    rows = get(ds, "/tracker/effective_events.json?_search=zanzibarite&_shape=array").json()
    assert [r["id"] for r in rows] == ["hostile-test-event"]
    rows = get(ds, "/tracker/effective_events.json?_search=Rotem&_shape=array").json()
    assert rows
    page = get(ds, "/tracker/effective_events?_search=zanzibarite")
    assert page.status_code == 200
    assert_no_live_markup(page.text)


def search(ds, q, before=""):
    import urllib.parse

    query = urllib.parse.urlencode({"q": q, "before": before, "_shape": "array"})
    return get(ds, f"/tracker/search.json?{query}").json()


def test_the_search_page_finds_what_the_table_search_finds_newest_recorded_first(ds):
    for word in ("zanzibarite", "Rotem", "high-speed train", "railways", "summit"):
        table = get(ds, "/tracker/effective_events.json?_size=max&_shape=array&_search=" + word).json()
        rows = search(ds, word)
        assert rows, word
        assert [r["seq"] for r in rows] == sorted((r["seq"] for r in table), reverse=True)[:100], word
    assert [r["event"] for r in search(ds, "zanzibarite")] == ["hostile-test-event"]


def test_the_search_page_goes_back_a_hundred_at_a_time(ds):
    everything = [r["seq"] for r in get(ds, "/tracker/effective_events.json?_size=max&_shape=array&_sort_desc=seq").json()]
    first = search(ds, "the")
    assert [r["seq"] for r in first] == [s for s in everything if s in {r["seq"] for r in first}]
    older = search(ds, "the", before=first[-1]["seq"])
    assert all(r["seq"] < first[-1]["seq"] for r in older)
    assert len(first) == 100 or older == []


@pytest.mark.parametrize("q", ["", " ", '"', '""', "NEAR(", "a OR", "*", "-x", "'; DROP TABLE events; --", SCRIPT])
def test_the_search_page_takes_any_text(ds, q):
    page = get(ds, "/tracker/search?q=" + __import__("urllib.parse").parse.quote(q))
    assert page.status_code == 200, page.text[:300]
    assert_no_live_markup(page.text)


def test_the_search_page_offers_the_next_page_when_it_is_full(built):
    from tracker.publish.plugin import SEARCH_PAGE_ROWS

    sql = load_metadata()["databases"]["tracker"]["queries"]["search"]["sql"]
    assert sql.rstrip().endswith(f"LIMIT {SEARCH_PAGE_ROWS}")
    live = datasette_for(built[0] / "tracker.db")
    assert "tracker-next-page" in get(live, "/tracker/search?q=zanzibarite").text
    assert "tracker-next-page" not in get(live, "/tracker/summit_timeline_on").text


def test_the_search_page_shows_hostile_text_as_text(ds):
    page = get(ds, "/tracker/search?q=hostile")
    assert "Hostile summary &lt;script&gt;" in page.text
    assert_no_live_markup(page.text)


def test_event_links_to_its_project_and_countries(ds):
    listed = get(ds, "/tracker/effective_events?id=hostile-test-event")
    assert 'href="/project/hostile-project"' in listed.text  # the project's page, labelled with its name
    assert_no_live_markup(listed.text)
    page = get(ds, "/event/hostile-test-event")
    assert page.status_code == 200 and 'href="/project/hostile-project"' in page.text
    assert_no_live_markup(page.text)
    countries = get(ds, "/tracker/event_countries?event=hostile-test-event")
    assert 'href="/tracker/countries/UZ"' in countries.text


def test_an_events_table_rows_page_is_the_events_own_page(ds, tmp_path):
    """Datasette's page for a row of the events table goes to the reader's page of the event
    (the axes carried); the row's JSON stays Datasette's, and so does another database's
    table that happens to have the name."""
    import sqlite3

    from datasette.app import Datasette

    page = get(ds, "/tracker/effective_events/hostile-test-event?as_of=2024-06-30")
    assert (page.status_code, page.headers["location"]) == (302, "/event/hostile-test-event?as_of=2024-06-30")
    row = get(ds, "/tracker/effective_events/hostile-test-event.json").json()
    assert row["rows"][0][0] == "hostile-test-event"
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE effective_events (id TEXT PRIMARY KEY, note TEXT)")
    conn.execute("INSERT INTO effective_events VALUES ('e1', 'not the tracker''s')")
    conn.commit()
    conn.close()
    plain = get(Datasette([str(other)]), "/other/effective_events/e1")
    assert plain.status_code == 200 and "not the tracker" in plain.text


def test_facets(ds):
    data = get(ds, "/tracker/effective_events.json?_facet=kind&_facet=countries&_facet=status").json()
    assert {"kind", "countries", "status"} <= set(data["facet_results"])


def test_atom_feed_parses_and_escapes(ds):
    page = get(ds, "/tracker/recent_events.atom")
    assert page.status_code == 200
    root = ET.fromstring(page.content)
    entries = root.findall("{http://www.w3.org/2005/Atom}entry")
    assert entries
    assert_no_live_markup(page.text)
    contents = [e.find("{http://www.w3.org/2005/Atom}content") for e in entries]
    assert all(c.get("type") == "text" for c in contents)


def test_calendar_parses_and_is_plain_text(ds):
    from ics import Calendar

    page = get(ds, "/tracker/calendar.ics")
    assert page.status_code == 200
    calendar = Calendar(page.text)
    names = [e.name for e in calendar.events]
    assert any(n.startswith("First Korea-Central Asia summit: ") for n in names)
    assert any(n.endswith("(as last planned)") for n in names)
    assert not any("korea-central-asia-summit" in n for n in names)  # names in words, not slugs


def test_dashboard_and_its_chart_queries(ds):
    page = get(ds, "/-/dashboards/ksilkroad?as_of=2024-08-01")
    assert page.status_code == 200
    assert_no_live_markup(page.text)
    charts = load_metadata()["plugins"]["datasette-dashboards"]["ksilkroad"]["charts"]
    import urllib.parse

    for slug, chart in charts.items():
        for as_of in ("2024-08-01", ""):
            sql = chart["query"].replace("[[", "").replace("]]", "") if as_of else chart["query"].split("[[")[0] + (
                chart["query"].split("]]")[1] if "]]" in chart["query"] else "")
            data = get(ds, "/tracker.json?" + urllib.parse.urlencode({"sql": sql, "as_of": as_of, "_shape": "objects"}))
            assert data.status_code == 200, (slug, data.text[:300])
            assert_no_live_markup(data.text)


def chart_rows(ds, slug: str, as_of: str) -> list[dict]:
    """A dashboard chart's rows as the dashboard asks for them, with its date filter."""
    import urllib.parse

    from datasette_dashboards import replace_opts_in_query

    chart = load_metadata()["plugins"]["datasette-dashboards"]["ksilkroad"]["charts"][slug]
    sql = replace_opts_in_query(chart["query"], {"as_of": as_of})
    query = urllib.parse.urlencode({"sql": sql, "as_of": as_of, "_shape": "objects"})
    return get(ds, "/tracker.json?" + query).json()["rows"]


def test_the_dashboards_countries_are_the_events_countries_counted(ds, built):
    """Countries involved and events by country come from the country tallies as of the
    date: the same numbers as counting each event's countries (what the charts once did)."""
    import sqlite3

    conn = sqlite3.connect(built[1])
    names = dict(conn.execute("SELECT code, name FROM countries"))
    for as_of in ("", "2024-06-30", "2010-01-01"):
        counted = dict(conn.execute(
            "SELECT c.country, count(*) FROM event_countries c JOIN effective_events e ON e.seq = c.seq"
            " WHERE ? = '' OR e.occurred_start <= ? GROUP BY c.country", (as_of, as_of)))

        def chart(slug):
            return chart_rows(ds, slug, as_of)

        assert chart("total-countries") == [{"n": len(counted)}], as_of
        assert {row["country"]: row["events"] for row in chart("country-tallies")} == {
            names.get(code, code): n for code, n in counted.items()}, as_of
    assert counted  # (the record has events before 2010)


def test_the_dashboards_totals_and_years_are_the_events_counted(ds, built):
    """Events, signings and MoUs, and events per year by kind sum event_days: the same
    numbers as counting the effective events, undated and as of a date; and the projects'
    numbers are those of their history."""
    import sqlite3

    conn = sqlite3.connect(built[1])
    for as_of in ("", "2024-06-30", "2010-01-01"):
        def chart(slug):
            return chart_rows(ds, slug, as_of)

        def counted(where=""):
            return conn.execute("SELECT count(*) FROM effective_events WHERE (? = '' OR occurred_start <= ?)" + where,
                                (as_of, as_of)).fetchone()[0]

        assert chart("total-events") == [{"n": counted()}], as_of
        assert chart("total-agreements") == [{"n": counted(" AND kind IN ('signing', 'mou')")}], as_of
        by_year = conn.execute(
            "SELECT substr(occurred_start, 1, 4), kind, count(*) FROM effective_events"
            " WHERE ? = '' OR occurred_start <= ? GROUP BY 1, 2", (as_of, as_of)).fetchall()
        assert sorted((r["year"], r["kind"], r["events"]) for r in chart("events-by-year")) == sorted(by_year), as_of
        # projects: undated from the `projects` view, dated from every live history row
        day = as_of or "9999-12-31"
        live = "FROM project_status_history WHERE known_to IS NULL AND valid_from <= ?"
        assert chart("total-projects") == [{"n": conn.execute(f"SELECT count(DISTINCT project) {live}", (day,)).fetchone()[0]}]
        by_status = conn.execute(f"SELECT status, count(*) {live} AND (valid_to IS NULL OR valid_to > ?) GROUP BY status",
                                 (day, day)).fetchall()
        assert sorted((r["status"], r["projects"]) for r in chart("projects-by-status")) == sorted(by_status), as_of
    assert counted() > 0


def test_the_dashboards_figures_read_as_the_pages_do(ds):
    """Country names, not codes, and dollars in words, as on the project and event pages."""
    import urllib.parse

    chart = load_metadata()["plugins"]["datasette-dashboards"]["ksilkroad"]["charts"]["figures"]
    sql = chart["query"].split("[[")[0] + chart["query"].split("]]")[1]
    rows = get(ds, "/tracker.json?" + urllib.parse.urlencode({"sql": sql, "_shape": "objects"})).json()["rows"]
    by_series = {row["series"]: row for row in rows}
    trade = by_series["bilateral_trade:KR,KZ"]
    assert (trade["figure"], trade["countries"], trade["latest"]) == ("bilateral trade", "South Korea, Kazakhstan",
                                                                     "$6 billion")
    assert by_series["investment_stock:KR,KZ:2023"]["latest"] == "$9.6 billion"
    assert by_series["remittances:KR,UZ:2024"]["latest"] == "$420 million"
    assert by_series["e9_visa_quota:KR,UZ:2024-05"]["latest"] == "100,000 workers per year"


def test_the_countries_table_names_a_country_as_the_pages_do():
    """One name per country: the reference table's (dashboard, map, tallies) is the common
    English name the pages and the command line use."""
    import csv

    from events.codes import country_names
    from tracker.log.bundled import countries_path

    with open(countries_path(), newline="", encoding="utf-8") as f:
        listed = {row["code"]: row["name"] for row in csv.DictReader(f)}
    assert listed == {code: country_names()[code] for code in listed}


def test_map_view_places_every_event(ds):
    rows = get(ds, "/tracker/event_map.json?_shape=array&_size=max").json()
    assert rows and all(r["latitude"] is not None and r["longitude"] is not None for r in rows)
    page = get(ds, "/tracker/event_map")
    assert "datasette-cluster-map" in page.text or "cluster" in page.text


def test_served_read_only_with_a_time_limit(ds):
    page = get(ds, "/tracker.json?sql=" + "DELETE%20FROM%20countries")
    assert page.status_code == 400
    assert ds.setting("sql_time_limit_ms") <= 5000


def test_build_is_deterministic(built, tmp_path):
    work, first = built
    second = tmp_path / "again.db"
    build(work / "tracker.db", second)
    assert first.read_bytes() == second.read_bytes()


def test_build_known_at_leaves_out_later_events(built, tmp_path):
    work, _ = built
    with EventStore(work / "tracker.db") as store:
        first = next(store.iter_events())
    out = tmp_path / "then.db"
    summary = build(work / "tracker.db", out, known_at=first.recorded_at)
    assert 1 <= summary["events"] < 52


def test_the_summit_timeline_page_lists_the_latest_steps_up_to_the_date(built):
    import sqlite3

    from projections import summit_timeline

    conn = sqlite3.connect(built[1])
    for params in ({"as_of": "", "known_at": "", "project": ""}, {"as_of": "2024-06", "known_at": "2024-08-01", "project": ""},
                   {"as_of": "", "known_at": "", "project": "korea-central-asia-summit"}):
        everything = conn.execute(summit_timeline.AS_OF_SQL, params).fetchall()
        for limit in (1, 2, 1000):
            assert conn.execute(summit_timeline.page_sql(limit), params).fetchall() == everything[-limit:]
    page = load_metadata()["databases"]["tracker"]["queries"]["summit_timeline_on"]
    # the page's SQL is the module's, taken when reported_by is blank (tracker.publish.reported_sql)
    from tracker.publish.reported_sql import with_reported_by

    assert summit_timeline.CANNED_QUERY.sql == summit_timeline.page_sql(summit_timeline.TIMELINE_PAGE_ROWS)
    assert page["sql"] == with_reported_by(summit_timeline) and summit_timeline.CANNED_QUERY.sql in page["sql"]
    assert f"{summit_timeline.TIMELINE_PAGE_ROWS} latest steps" in page["description_html"]


def test_query_pages_link_events_projects_and_countries(built):
    live = datasette_for(built[0] / "tracker.db")  # as `tracker serve` runs it
    page = get(live, "/tracker/search?q=zanzibarite")
    assert 'href="/event/hostile-test-event"' in page.text
    assert 'href="/project/hostile-project"' in page.text
    assert 'href="/tracker/countries?code=UZ"' in page.text
    assert_no_live_markup(page.text)
    page = get(live, "/tracker/project_status_on?as_of=&known_at=&project=hostile-project")
    assert 'href="/project/hostile-project"' in page.text


def test_the_projects_page_has_its_indexes_after_a_full_replay(tmp_path):
    from tracker.publish.schema import index_name, indexes
    from tracker.replay.engine import replay

    db = tmp_path / "full.db"
    with EventStore(db) as store:
        store.append(read_jsonl(record_path()))
        catch_up(store)
        replay(store, full=True)
    prepare_path(db)  # as `tracker serve` does before serving
    import sqlite3

    conn = sqlite3.connect(db)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {index_name(*spec) for spec in indexes()} <= names
    for sql in ("SELECT count(*) FROM projects", "SELECT status, count(*) FROM projects GROUP BY status"):
        plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "_current" in plan, plan  # the partial index of current rows, not the whole history


def test_live_search_follows_new_events(tmp_path):
    db = bundled_log(tmp_path / "live.db")
    prepare_path(db)
    live = datasette_for(db)
    assert get(live, "/tracker/effective_events.json?_search=zanzibarite&_shape=array").json() == []
    with EventStore(db) as store:
        store.append([HOSTILE])
        catch_up(store)
    rows = get(live, "/tracker/effective_events.json?_search=zanzibarite&_shape=array").json()
    assert [r["id"] for r in rows] == ["hostile-test-event"]
    page = get(live, "/tracker/effective_events?_search=zanzibarite")
    assert 'href="/project/hostile-project"' in page.text
    assert_no_live_markup(page.text)


def test_the_events_table_is_faceted_by_kind_and_folds_its_column_notes(built):
    live = datasette_for(built[0] / "tracker.db")  # as `tracker serve` runs it
    page = get(live, "/tracker/effective_events")
    assert page.status_code == 200
    assert 'id="facet-kind"' in page.text
    assert "About these columns" in page.text and "col-amended_body { display: none; }" in page.text


def test_every_table_and_view_of_a_built_database_has_a_description(built):
    import sqlite3

    tables = load_metadata()["databases"]["tracker"]["tables"]
    conn = sqlite3.connect(built[1])
    names = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'events_fts_%'"
        )
    ]
    for name in names:
        entry = tables.get(name, {})
        assert entry.get("description") or entry.get("description_html"), name


def test_the_site_shows_the_head_a_reader_can_check_the_log_against(built, ds):
    import subprocess
    import sys

    rows = get(ds, "/tracker/log_head.json?_shape=array").json()
    assert len(rows) == 1
    with EventStore(built[0] / "tracker.db") as store:
        seq, hash_, _ = store.head()
    assert (rows[0]["seq"], rows[0]["hash"]) == (seq, hash_)
    # the command shown beside it, run as shown, checks the log
    command = rows[0]["verify_with"].split()
    assert command[:2] == ["tracker", "verify"]
    result = subprocess.run([sys.executable, "-m", "tracker", "--db", str(built[0] / "tracker.db"), *command[1:]],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "1 published head(s) still in it" in result.stdout


def test_the_dashboard_gives_the_same_charts_in_any_order_of_visits(built):
    """The dashboards plugin fills each chart's query in place: a dated visit must not leave
    its date clause for the next undated one (every card 0), nor an undated one drop it."""
    import re

    def total_events_query(page: str) -> str:
        return re.search(r"renderChart\('total-events', (\{.*?\}), '", page).group(1)

    def visit(ds, url):
        return total_events_query(get(ds, url).text)

    fresh = {url: visit(datasette_for(built[1], immutable=True, live=False), url)
             for url in ("/-/dashboards/ksilkroad", "/-/dashboards/ksilkroad?as_of=2024-01-01")}
    # (the date clause is dropped; :as_of stays in the reported_by branch, blank there)
    assert "day \\u003c= :as_of" not in fresh["/-/dashboards/ksilkroad"]
    assert "day \\u003c= :as_of" in fresh["/-/dashboards/ksilkroad?as_of=2024-01-01"]
    ds = datasette_for(built[1], immutable=True, live=False)
    for url in ["/-/dashboards/ksilkroad?as_of=2024-01-01", "/-/dashboards/ksilkroad",
                "/-/dashboards/ksilkroad?as_of=2024-01-01", "/-/dashboards/ksilkroad"]:
        assert visit(ds, url) == fresh[url], url

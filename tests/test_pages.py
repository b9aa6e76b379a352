"""The reader's pages — a project, an event, the home page's story — through Datasette's own
client, on the bundled record with a correction and a retraction added, live (as `tracker
serve` serves it) and as a built snapshot served under another name."""

from __future__ import annotations

import re
import sqlite3

import pytest

from tests.conftest import get
from tracker.log.bundled import record_path
from tracker.log.importing import read_jsonl
from tracker.log.store import EventStore
from tracker.publish.build import build
from tracker.publish.schema import prepare_path
from tracker.publish.site import INTERNAL_TABLES, datasette_for, load_metadata
from tracker.replay.engine import catch_up

SUMMIT = "korea-central-asia-summit"
TRAINS = "2024-06-hyundai-rotem-uz-high-speed-trains"
KTG = "2024-ktg-uzbekistan-subsidiary-plan"
SCRIPT = "<script>alert(1)</script>"
CORRECTION = {
    "id": "trains-summary-fixed",
    "kind": "correction",
    "target": TRAINS,
    "changes": {"summary": f"Hyundai Rotem won Uzbekistan's order for high-speed trains {SCRIPT}."},
    "reason": "The buyer was named later",
    "sources": [{"publisher": "Test Wire", "title": "Trains order named", "published": "2025-02",
                 "url": "https://example.com/trains", "author": None}],
}
RETRACTION = {"id": "ktg-plan-withdrawn", "kind": "retraction", "target": KTG, "reason": "Not confirmed"}


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """The bundled record, then a correction and a retraction; returns the database and
    the moment between them and the record (for known_at)."""
    work = tmp_path_factory.mktemp("pages")
    db = work / "tracker.db"
    with EventStore(db) as store:
        store.append(read_jsonl(record_path()))
        before = store.head()[2]
        store.append([CORRECTION, RETRACTION])
        catch_up(store)
    prepare_path(db)
    return db, before


@pytest.fixture(scope="module")
def live(logged):
    return datasette_for(logged[0])


@pytest.fixture(scope="module")
def snapshot(logged, tmp_path_factory):
    """A built snapshot served as `site` with the metadata `tracker build` writes for it,
    as plain `datasette site.db -m site.yml` would (the plugin is the same installed one)."""
    from datasette.app import Datasette

    from tracker.publish.site import SETTINGS, ensure_plugin

    out = tmp_path_factory.mktemp("site") / "site.db"
    build(logged[0], out)
    ensure_plugin()
    return Datasette([], immutables=[str(out)], metadata=load_metadata("site"), settings=SETTINGS)


def test_the_project_page_shows_the_summits_status_and_planned_date(live):
    page = get(live, f"/project/{SUMMIT}")
    assert page.status_code == 200
    assert "<h1>First Korea-Central Asia summit</h1>" in page.text
    assert re.search(r'tracker-status"[^>]*>agreed</span>\s*since <strong>2024-11</strong>', page.text)
    assert "planned for <strong>2025</strong>" in page.text
    assert "<svg class=\"tracker-timeline\"" in page.text
    # its events, each linked to its page, with its sources
    assert 'href="/event/2024-11-korea-central-asia-summit-agreed"' in page.text
    assert "Caspian Policy Center" in page.text


def test_the_project_page_as_of_a_date_shows_the_state_then_and_carries_the_date(live):
    page = get(live, f"/project/{SUMMIT}?as_of=2024-08-01")
    assert page.status_code == 200
    assert re.search(r'tracker-status"[^>]*>proposed</span>\s*since <strong>2024-06</strong>', page.text)
    assert "2024-11-korea-central-asia-summit-agreed" not in page.text  # not yet happened
    assert 'href="/event/2024-06-korea-central-asia-summit-proposed?as_of=2024-08-01"' in page.text
    assert 'name="as_of" value="2024-08-01"' in page.text


def test_a_project_before_its_first_event_says_so(live):
    page = get(live, f"/project/{SUMMIT}?as_of=2020")
    assert page.status_code == 200
    assert "the tracker had nothing on this project yet" in page.text


def test_a_retracted_event_leaves_its_projects_page(live):
    page = get(live, "/project/ktg-uzbekistan-subsidiary")
    assert page.status_code == 200
    assert f'href="/event/{KTG}"' not in page.text


def test_the_event_page_tells_it_in_words_with_its_sources_and_correction(live):
    page = get(live, f"/event/{TRAINS}")
    assert page.status_code == 200
    text = page.text
    assert "worth $196 million" in text and "196000000" not in text
    assert "South Korea, Uzbekistan" in text
    # sources: title, publisher, date as published; a web address is a link
    assert "Implementing the K-Silk Road" in text and "Caspian Policy Center" in text and "2025-01-31" in text
    assert '<a href="https://example.com/trains" rel="nofollow noopener">Trains order named</a>' in text
    # the correction: why, what it changed, from what
    assert "The buyer was named later" in text and "<th>Was</th>" in text
    assert "Hyundai Rotem won Uzbekistan&#39;s order for high-speed trains &lt;script&gt;" in text
    assert SCRIPT not in text
    assert 'href="/project/uz-hyundai-rotem-high-speed-trains"' in text
    assert "<strong>Note:</strong>" in text


def test_the_event_page_known_before_the_correction_shows_the_original(live, logged):
    _, before = logged
    page = get(live, f"/event/{TRAINS}?known_at={before}")
    assert page.status_code == 200
    assert "The buyer was named later" not in page.text
    assert "Hyundai Rotem won a $196 million contract" in page.text
    assert f"?known_at={before.replace(':', '%3A')}" in page.text  # carried to the project link


def test_the_project_page_reported_by_a_date_shows_what_reporting_had_said(live):
    page = get(live, f"/project/{SUMMIT}?reported_by=2024-12-31")
    assert page.status_code == 200
    # the summit's agreement (2024-11) was first reported in January 2025
    assert re.search(r'tracker-status"[^>]*>proposed</span>\s*since <strong>2024-06</strong>', page.text)
    assert "2024-11-korea-central-asia-summit-agreed" not in page.text
    assert 'href="/event/2024-06-korea-central-asia-summit-proposed?reported_by=2024-12-31"' in page.text
    assert 'name="reported_by" value="2024-12-31"' in page.text
    assert "as public reporting had told it by <strong>2024-12-31</strong>" in page.text
    later = get(live, f"/project/{SUMMIT}?reported_by=2025-02")
    assert re.search(r'tracker-status"[^>]*>agreed</span>\s*since <strong>2024-11</strong>', later.text)
    assert 'href="/event/2024-11-korea-central-asia-summit-agreed?reported_by=2025-02"' in later.text


def test_the_project_page_combines_reported_by_with_as_of(live):
    page = get(live, f"/project/{SUMMIT}?reported_by=2025-02&as_of=2024-08-01")
    assert re.search(r'tracker-status"[^>]*>proposed</span>', page.text)
    assert "as_of=2024-08-01&amp;reported_by=2025-02" in page.text or "as_of=2024-08-01&reported_by=2025-02" in page.text


def test_the_event_page_reported_by_a_date_shows_the_event_as_reported_then(live):
    # the correction was reported in 2025-02: by the end of January the original stands
    page = get(live, f"/event/{TRAINS}?reported_by=2025-01-31")
    assert page.status_code == 200
    assert "The buyer was named later" not in page.text
    assert "Hyundai Rotem won a $196 million contract" in page.text
    later = get(live, f"/event/{TRAINS}?reported_by=2025-02")
    assert "The buyer was named later" in later.text
    early = get(live, f"/event/{TRAINS}?reported_by=2024-12-31")
    assert "Not reported yet by 2024-12-31" in early.text and "2025-01-31" in early.text


def test_dates_keep_their_precision_on_the_event_page(live):
    page = get(live, "/event/2024-11-korea-central-asia-summit-agreed")
    assert "<h1>Summit, 2024-11</h1>" in page.text and "2024-11-01" not in page.text


def test_a_retracted_event_says_so(live):
    page = get(live, f"/event/{KTG}")
    assert page.status_code == 200
    assert "<strong>Retracted</strong>" in page.text and "Not confirmed" in page.text


@pytest.mark.parametrize("path, named", [
    ("/project/no-such-project", "no project &#39;no-such-project&#39;"),
    ("/event/no-such-event", "no event &#39;no-such-event&#39;"),
    ("/project/%3Cscript%3E", "no project &#39;&lt;script&gt;&#39;"),
])
def test_an_unknown_slug_or_id_is_a_404_naming_it(live, path, named):
    page = get(live, path)
    assert page.status_code == 404
    assert named in page.text and "<script>" not in page.text.split("</head>")[1].split("<footer")[0]


@pytest.mark.parametrize("query, says", [
    ("as_of=banana", "as_of &#39;banana&#39;"),
    ("known_at=not-a-moment", "known_at &#39;not-a-moment&#39;"),
    ("reported_by=soon", "reported_by &#39;soon&#39;"),
])
def test_a_bad_time_axis_is_one_clear_line(live, query, says):
    page = get(live, f"/project/{SUMMIT}?{query}")
    assert page.status_code == 400
    assert says in page.text and "Traceback" not in page.text


def test_the_home_page_tells_the_story(live):
    page = get(live, "/")
    assert page.status_code == 200
    text = page.text
    assert re.search(r"<strong>\d+</strong>events", text) and re.search(r"<strong>\d+</strong>projects", text)
    assert f'href="/project/{SUMMIT}">First Korea-Central Asia summit</a>:\n  planned for <strong>2025</strong>' in text
    assert re.search(r'href="/event/[^"]+">', text)  # the latest events, linked
    assert "Projects by status" in text and "overdue" in text  # the summit's date has passed
    assert 'href="/tracker/figures"' in text


def test_internal_tables_are_hidden_from_the_listings(live):
    tables = {t["name"]: t for t in get(live, "/tracker.json").json()["tables"]}
    for name in INTERNAL_TABLES:
        if name in tables:
            assert tables[name]["hidden"], name
    for name in ("events", "effective_events", "countries", "event_countries"):
        assert not tables[name]["hidden"], name


def test_cells_naming_a_project_or_an_event_link_to_their_pages(live, snapshot):
    page = get(live, f"/tracker/effective_events?project={SUMMIT}")
    assert f'href="/project/{SUMMIT}"' in page.text
    page = get(snapshot, f"/site/summit_timeline?project={SUMMIT}")  # declared foreign keys
    assert page.status_code == 200
    assert f'href="/project/{SUMMIT}"' in page.text and 'href="/event/2024-11-korea-central-asia-summit-agreed"' in page.text


def test_the_feeds_link_to_the_event_pages(live):
    atom = get(live, "/tracker/recent_events.atom").text
    assert f'href="http://localhost/event/{TRAINS}"' in atom
    ics = get(live, "/tracker/calendar.ics").text.replace("\r\n ", "")
    assert "URL:http://localhost/event/" in ics


def test_a_snapshot_served_under_another_name_has_the_same_pages(live, snapshot):
    for path in (f"/project/{SUMMIT}", f"/event/{TRAINS}", f"/project/{SUMMIT}?as_of=2024-08-01",
                 f"/project/{SUMMIT}?reported_by=2024-12-31", f"/event/{TRAINS}?reported_by=2025-01-31"):
        served = get(snapshot, path)
        assert served.status_code == 200, path
        assert served.text.replace("/site/", "/tracker/") == get(live, path).text, path
    home = get(snapshot, "/")
    assert f'href="/project/{SUMMIT}"' in home.text and 'href="/site/projects"' in home.text


def test_the_templates_ship_inside_the_plugin_package():
    """Datasette looks for a plugin's templates in a `templates` directory of its package,
    which the wheel carries as package data."""
    import importlib.resources

    from datasette.plugins import get_plugins

    from tracker.publish import plugin
    from tracker.publish.site import ensure_plugin

    ensure_plugin()
    templates = importlib.resources.files(plugin.__name__) / "templates"
    for name in ("index.html", "tracker_project.html", "tracker_event.html", "tracker_error.html"):
        assert (templates / name).is_file(), name
    declared = {p["name"]: p["templates_path"] for p in get_plugins()}
    assert declared[plugin.PLUGIN_NAME] == str(templates)


def test_the_events_table_shows_a_readers_columns_by_default(live, snapshot):
    page = get(live, "/tracker/effective_events?project=uz-hyundai-rotem-high-speed-trains")
    text = page.text
    assert '<table class="rows-and-columns tracker-readable">' in text
    headings = re.findall(r'<th [^>]*data-column="([^"]+)"', text)
    assert headings == ["occurred", "kind", "countries", "project", "summary", "value_amount"]
    assert "$196 million" in text and "196000000" not in text.split("<tbody>")[1].split("</tbody>")[0]
    assert '<a href="/tracker/countries?code=UZ">Uzbekistan</a>' in text
    assert f'<a href="/event/{TRAINS}">' in text  # the summary links to the event's page
    # the project linked to its page, named
    assert 'href="/project/uz-hyundai-rotem-high-speed-trains">Hyundai Rotem high-speed trains for Uzbekistan<' in text
    served = get(snapshot, "/site/effective_events?project=uz-hyundai-rotem-high-speed-trains")
    assert "tracker-readable" in served.text and "$196 million" in served.text


def test_every_column_is_one_click_away(live):
    page = get(live, "/tracker/effective_events?_nocol=amended_body")
    assert "tracker-readable" not in page.text
    assert 'data-column="recorded_at"' in page.text and 'data-column="occurred_start"' in page.text
    assert "_nocol=amended_body" in get(live, "/tracker/effective_events").text


def test_dates_in_cells_keep_their_precision(live):
    page = get(live, "/tracker/effective_events?id=2024-11-korea-central-asia-summit-agreed&_nocol=amended_body")
    cell = re.search(r'<td class="col-occurred[^"]*">([^<]*)</td>', page.text).group(1)
    assert cell == "2024-11"


def test_the_events_table_is_faceted_by_kind_and_by_status_or_project_when_asked(live):
    facets = get(live, "/tracker/effective_events.json?_facet_size=3").json()["facet_results"]
    assert set(facets) == {"kind"}  # the one facet an index keeps quick at a million events
    asked = get(live, "/tracker/effective_events.json?_facet=status&_facet=project").json()["facet_results"]
    assert {"kind", "status", "project"} <= set(asked)
    assert "agreed" in {row["value"] for row in asked["status"]["results"]}


def test_the_home_page_as_of_a_date_counts_what_had_happened_then(live):
    now = get(live, "/").text
    then = get(live, "/?as_of=2024-08-01").text
    count = lambda text, what: int(re.search(r"<strong>([\d,]+)</strong>" + what, text).group(1).replace(",", ""))
    assert count(then, "events") < count(now, "events")
    conn = sqlite3.connect(live.databases["tracker"].path)
    for text, day in ((now, "9999-12-31"), (then, "2024-08-01")):  # (summed from event_days)
        counted = lambda kinds: conn.execute(
            f"SELECT count(*) FROM effective_events WHERE occurred_start <= ? AND kind IN ({kinds})", (day,)).fetchone()[0]
        assert count(text, "events") == counted("SELECT kind FROM effective_events")
        assert count(text, "signings and MoUs") == counted("'signing', 'mou'") > 0
    conn.close()
    assert 'name="as_of" value="2024-08-01"' in then and "Shown as of <strong>2024-08-01</strong>" in then
    assert "Projects by status as of 2024-08-01" in then
    assert 'href="/event/2024-11-korea-central-asia-summit-agreed' not in then  # not yet happened
    assert 'href="/project/korea-central-asia-summit?as_of=2024-08-01"' in then  # the date carried
    # and the undated page after it is the same as before it
    assert get(live, "/").text == now


@pytest.mark.parametrize("query, says", [
    ("as_of=banana", "as_of &#39;banana&#39;"),
    ("reported_by=2024", "reported_by: the home page does not answer reported time"),
])
def test_the_home_page_says_what_it_cannot_answer_in_one_line(live, query, says):
    page = get(live, f"/?{query}")
    assert page.status_code == 200
    assert f'<p class="tracker-banner">{says}' in page.text and "Traceback" not in page.text


def test_an_event_with_a_place_has_a_map_pin(live):
    page = get(live, "/event/2024-06-12-kr-kz-state-visit")
    assert 'class="tracker-map"' in page.text and "51.1694" in page.text
    assert 'href="/tracker/event_map?id=2024-06-12-kr-kz-state-visit"' in page.text
    assert "/-/static-plugins/datasette-leaflet/" in page.text
    assert 'class="tracker-map"' not in get(live, f"/event/{TRAINS}").text  # no coordinates


def test_the_home_page_as_of_a_date_links_to_the_question_when_there_are_too_many_projects(live, monkeypatch):
    from tracker.publish import pages

    grouped = get(live, "/?as_of=2024-08-01")
    assert "Too many projects to group" not in grouped.text and "Projects by status" in grouped.text
    monkeypatch.setattr(pages, "HOME_AS_OF_MAX_PROJECTS", 3)  # the bundled record has 23
    linked = get(live, "/?as_of=2024-08-01")
    assert linked.status_code == 200 and "Too many projects to group on this page as of 2024-08-01" in linked.text
    assert "/tracker/project_status_on?as_of=2024-08-01" in linked.text

"""The timeline page (`/timeline`): projects across time and the summit's steps, through
Datasette's own client, on a hand-written log whose dates are known, on the bundled record,
and in a built snapshot served by plain `datasette`."""

from __future__ import annotations

import re
import urllib.parse

import pytest

from tests.conftest import bundled_log, example, get
from tests.test_snapshot_plugin import as_served, fetch, snapshot  # noqa: F401 (a fixture)

from tracker.log.store import EventStore
from tracker.publish.schema import prepare_path
from tracker.publish.site import datasette_for
from tracker.replay.engine import catch_up


def source(published: str) -> list[dict]:
    return [{"publisher": "Test Wire", "title": "A report", "published": published, "url": None, "author": None}]


#: A bridge built on time, a railway that slipped, a project with a hostile name, and a
#: summit: their dates are the test's.
LOG = [
    example("mou", id="bridge-mou", occurred="2023-03-10", countries=["KR", "TJ"], project="bridge",
            project_name="Amu Darya bridge", planned_for="2024-06", sources=source("2023-03-11")),
    example("signing", id="bridge-signed", occurred="2023-09-01", countries=["KR", "TJ"], project="bridge",
            sources=source("2023-09-02")),
    example("milestone", id="bridge-done", occurred="2024-05-20", countries=["KR", "TJ"], project="bridge",
            status="completed", sources=source("2024-07-15")),
    example("announcement", id="railway-plan", occurred="2023-01", countries=["KR", "UZ"], project="railway",
            project_name="Tashkent-Samarkand railway", planned_for="2024", sources=source("2023-01")),
    example("milestone", id="railway-works", occurred="2023-06-15", countries=["KR", "UZ"], project="railway",
            status="in_progress", sources=source("2023-06-16")),
    example("announcement", id="railway-later", occurred="2024-03", countries=["KR", "UZ"], project="railway",
            planned_for="2025", sources=source("2024-03")),
    example("announcement", id="odd-plan", occurred="2020", countries=["KR", "KG"], project="odd",
            project_name='A "plan" <script>alert(1)</script> & more', sources=source("2020")),
    example("summit", id="summit-proposed", occurred="2024-02", countries=["KR", "KZ"], project="ca-summit",
            project_name="Korea-Central Asia summit", planned_for="2025-09", status=None, sources=source("2024-02")),
    example("summit", id="summit-agreed", occurred="2024-10-05", countries=["KR", "KZ"], project="ca-summit",
            status="agreed", planned_for="2025-09", sources=source("2024-12-20")),
]
#: Logged after the rest: the railway's works were never confirmed.
RETRACTION = {"id": "railway-works-withdrawn", "kind": "retraction", "target": "railway-works",
              "reason": "Not confirmed"}


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """The log above, then the retraction; returns Datasette over it and the moment between."""
    db = tmp_path_factory.mktemp("timeline") / "tracker.db"
    with EventStore(db) as store:
        store.append(LOG)
        before = store.head()[2]
        store.append([RETRACTION])
        catch_up(store)
    prepare_path(db)
    return datasette_for(db), before


@pytest.fixture(scope="module")
def site(logged):
    return logged[0]


def line(page: str, slug: str) -> str:
    """The picture's group for one project (or summit)."""
    found = re.search(rf'<g class="line [^"]*" data-project="{slug}".*?</g>', page, re.S)
    assert found, f"no line for {slug}"
    return found.group(0)


def spans(page: str, slug: str) -> list[str]:
    """A line's bars, as their titles say them: "agreed from 2023-03-10 to 2023-09-01"."""
    return [re.sub(r"^.*?: ", "", t) for t in re.findall(r'class="span"><title>([^<]*)</title>', line(page, slug))]


def test_a_projects_bar_is_its_status_span_after_span_up_to_the_day_asked(site):
    page = get(site, "/timeline?as_of=2024-12-31")
    assert page.status_code == 200
    assert spans(page.text, "bridge") == [
        "agreed from 2023-03-10 to 2023-09-01", "committed from 2023-09-01 to 2024-05-20", "completed from 2024-05-20"]
    # as of an earlier day the bar stops there, in the status it had then
    earlier = get(site, "/timeline?as_of=2023-12-31").text
    assert spans(earlier, "bridge") == ["agreed from 2023-03-10 to 2023-09-01", "committed from 2023-09-01"]


def test_a_completed_project_shows_its_completion_against_its_planned_date(site):
    page = get(site, "/timeline?as_of=2024-12-31").text
    bridge = line(page, "bridge")
    assert "<title>planned for 2024-06</title>" in bridge
    assert "<title>completed 2024-05-20, on time</title>" in bridge
    assert 'class="line project overdue"' not in bridge


def test_a_project_past_its_planned_date_is_flagged_overdue_from_the_day_after(site):
    on_time = line(get(site, "/timeline?as_of=2025-12-31").text, "railway")
    assert "overdue" not in on_time
    late = get(site, "/timeline?as_of=2026-01-01").text
    railway = line(late, "railway")
    assert railway.startswith('<g class="line project overdue"')
    assert "<title>overdue since 2026-01-01</title>" in railway
    assert "<title>planned for 2025 (overdue)</title>" in railway
    assert "<title>first planned for 2024</title>" in railway  # the plan it slipped from
    assert re.search(r'Tashkent-Samarkand railway</a></td>.*?2025 <span class="tracker-muted">\(first 2024\)</span> '
                     r'<span class="tracker-overdue">overdue</span>', late, re.S)


def test_the_summits_steps_lead_each_linked_to_its_event(site):
    page = get(site, "/timeline?as_of=2024-12-31").text
    summit = line(page, "ca-summit")
    assert summit.startswith('<g class="line summit"')
    assert 'href="/event/summit-proposed?as_of=2024-12-31"' in summit
    assert 'href="/event/summit-agreed?as_of=2024-12-31"' in summit
    assert ">proposed 2024-02</text>" in summit and ">agreed 2024-10-05</text>" in summit
    # the summit is not drawn twice: it is not among the projects' lines
    assert page.count('data-project="ca-summit"') == 1


def test_each_bar_and_name_links_to_its_project_page_with_the_axes(site):
    page = get(site, "/timeline?as_of=2024-12-31&known_at=2030-01-01&reported_by=2029-12-31").text
    axes = "as_of=2024-12-31&amp;known_at=2030-01-01&amp;reported_by=2029-12-31"
    for slug in ("bridge", "railway", "ca-summit"):
        assert f'href="/project/{slug}?{axes}"' in line(page, slug)
    links = re.findall(r'href="(/(?:project|event)/[^"]*)"', page)
    assert links and all(link.endswith(f"?{axes}") for link in links)
    # the page's own links (the status chips, "every project") keep the axes and add the filter
    assert f'href="/timeline?{axes}&amp;status=completed"' in page


def test_reported_by_shows_what_reporting_had_said_by_then(site):
    # the summit's agreement was first reported on 2024-12-20
    before = get(site, "/timeline?as_of=2024-12-31&reported_by=2024-11-30").text
    assert "agreed 2024-10-05" not in before
    assert line(before, "ca-summit").startswith('<g class="line summit" data-project="ca-summit" data-status="proposed"')
    after = get(site, "/timeline?as_of=2024-12-31&reported_by=2024-12-31").text
    assert ">agreed 2024-10-05</text>" in line(after, "ca-summit")
    # the bridge's completion was reported only in July: in June it was still committed
    june = get(site, "/timeline?as_of=2024-12-31&reported_by=2024-06-30").text
    assert spans(june, "bridge") == ["agreed from 2023-03-10 to 2023-09-01", "committed from 2023-09-01"]
    assert "as public reporting had told it by <strong>2024-06-30</strong>" in june


def test_known_at_shows_a_status_the_tracker_said_before_it_was_retracted(site, logged):
    _, before = logged
    now = get(site, "/timeline?as_of=2024-12-31").text
    assert spans(now, "railway") == ["proposed from 2023-01-01"]
    then = get(site, "/timeline?" + urllib.parse.urlencode({"as_of": "2024-12-31", "known_at": before})).text
    assert spans(then, "railway") == ["proposed from 2023-01-01 to 2023-06-15", "in progress from 2023-06-15"]


def test_filters_by_status_then_and_by_country(site):
    completed = get(site, "/timeline?as_of=2024-12-31&status=completed").text
    assert 'data-project="bridge"' in completed and 'data-project="railway"' not in completed
    uzbek = get(site, "/timeline?as_of=2024-12-31&country=UZ").text
    assert 'data-project="railway"' in uzbek and 'data-project="bridge"' not in uzbek
    assert "involving <strong>Uzbekistan</strong>" in uzbek
    # before the bridge was completed, no project was
    assert 'class="line project' not in get(site, "/timeline?as_of=2024-01-31&status=completed").text


def test_it_shows_the_most_recently_active_and_links_to_more(site):
    page = get(site, "/timeline?as_of=2024-12-31&limit=1").text
    assert re.findall(r'class="line project[^"]*" data-project="([^"]+)"', page) == ["bridge"]  # active 2024-05-20
    assert 'href="/timeline?as_of=2024-12-31&amp;limit=2">Show 2</a>' in page


@pytest.mark.parametrize("query, message", [
    ("as_of=2024-02-30", "day 30 does not exist in February 2024"),
    ("status=finished", "status &#39;finished&#39;: give one of proposed"),
    ("country=Uzbekistan", "country &#39;UZBEKISTAN&#39;: give a country code"),
    ("limit=5000", "limit &#39;5000&#39;: give a whole number of projects from 1 to 200"),
    ("from=24", "from &#39;24&#39;: give the year the picture starts at"),
])
def test_bad_input_is_an_error_page_saying_what_is_wrong(site, query, message):
    page = get(site, f"/timeline?{query}")
    assert page.status_code == 400
    assert message in page.text


def test_the_home_page_and_project_pages_link_to_it_with_their_axes(site):
    home = get(site, "/?as_of=2024-12-31").text
    assert 'href="/timeline?as_of=2024-12-31&amp;known_at=">Projects across time</a>' in home
    project = get(site, "/project/bridge?as_of=2024-12-31&reported_by=2024-12-31").text
    assert 'href="/timeline?as_of=2024-12-31&amp;reported_by=2024-12-31">Every project across time</a>' in project


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    db = bundled_log(tmp_path_factory.mktemp("bundled") / "tracker.db")
    prepare_path(db)
    return datasette_for(db)


def test_on_the_bundled_record_it_tells_the_summits_story(bundled):
    page = get(bundled, "/timeline?as_of=2026-01-31").text
    summit = line(page, "korea-central-asia-summit")
    assert ">proposed 2024-06</text>" in summit and ">agreed 2024-11</text>" in summit
    assert "<title>overdue since 2026-01-01</title>" in summit  # planned for 2025, and no summit by then
    assert "planned for <strong>2025</strong> &middot; <span class=\"tracker-overdue\">overdue</span>" in page
    projects = re.findall(r'class="line project[^"]*" data-project="([^"]+)"', page)
    assert len(projects) == 22 and "uz-hyundai-rotem-high-speed-trains" in projects
    assert 'data-project="uz-hyundai-rotem-high-speed-trains" data-status="committed"' in page
    # as reported at the end of 2024, the summit was still only proposed
    reported = get(bundled, "/timeline?reported_by=2024-12-31").text
    assert 'data-project="korea-central-asia-summit" data-status="proposed"' in reported


def test_a_snapshot_served_by_plain_datasette_has_the_same_page(snapshot):  # noqa: F811
    base, live = snapshot
    for path in ("/timeline", "/timeline?as_of=2024-08-01&status=agreed"):
        _, page = fetch(base + path)
        assert 'class="tracker-overview"' in page, path
        assert as_served(page, base) == get(live, path).text, path


def test_with_no_date_overdue_is_judged_on_today(logged):
    import sqlite3

    from tracker.publish import overview, pages

    conn = sqlite3.connect(logged[0].databases["tracker"].path)
    everything = overview.Choice()
    on_time = overview.overview(conn, pages.Bounds(), everything, today="2025-12-31")
    late = overview.overview(conn, pages.Bounds(), everything, today="2026-01-01")
    assert [p["overdue"] for p in on_time["projects"] if p["project"] == "railway"] == [False]
    assert [p["overdue_since"] for p in late["projects"] if p["project"] == "railway"] == ["2026-01-01"]


def test_a_page_out_of_time_says_it_stopped_looking(site, logged):
    import sqlite3

    from tracker.publish import overview, pages

    conn = sqlite3.connect(logged[0].databases["tracker"].path)
    found = overview.overview(conn, pages.bounds("2024-12-31", None), overview.Choice(), budget_ms=0)
    assert found["stopped"] and found["projects"] == []
    assert found["summits"]  # the summit is always drawn
    assert "Stopped looking" not in get(site, "/timeline?as_of=2024-12-31").text


def test_a_projects_name_is_shown_as_text_never_run(site):
    page = get(site, "/timeline?as_of=2024-12-31").text
    odd = line(page, "odd")
    assert "<script>alert(1)" not in page
    assert "A &#34;plan&#34; &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in odd  # its full name, in the title

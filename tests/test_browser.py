"""`tracker serve` driven in headless Chromium: the pages people use load with no console errors.

Needs Debian's chromium at /usr/bin/chromium (installed by .ci/run); skipped without it.
Screenshots go to test-artifacts/ (ignored by git). The README's picture, docs/dashboard.png,
is redrawn only when asked for, by `make screenshots` (UPDATE_SCREENSHOTS=1): a test run
leaves the checkout as it found it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import free_port, wait_until_serving

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
#: Set (by `make screenshots`) to copy the dashboard's screenshot over the README's picture.
UPDATE_SCREENSHOTS = os.environ.get("UPDATE_SCREENSHOTS") == "1"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
#: A transparent 1x1 PNG, served for map tiles so the test needs no network.
BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no chromium at {CHROMIUM}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`tracker serve` on a database that does not exist yet: it builds one from the bundled record."""
    db = tmp_path_factory.mktemp("serve") / "tracker.db"
    port = free_port()
    tracker = Path(sys.executable).with_name("tracker")
    process = subprocess.Popen(
        [str(tracker), "--db", str(db), "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, base, "tracker serve")
        yield base, db
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


PAGES = {
    "home": ("/", ".tracker-numbers"),
    "project": ("/project/korea-central-asia-summit", "svg.tracker-timeline"),
    "project-as-of": ("/project/korea-central-asia-summit?as_of=2024-08-01", "svg.tracker-timeline"),
    "home-as-of": ("/?as_of=2024-08-01", ".tracker-numbers"),
    "project-reported-by": ("/project/korea-central-asia-summit?reported_by=2024-12-31", "svg.tracker-timeline"),
    "event": ("/event/2024-06-hyundai-rotem-uz-high-speed-trains", ".tracker-facts"),
    "event-with-map-pin": ("/event/2024-06-12-kr-kz-state-visit", ".tracker-map .leaflet-marker-icon"),
    "events-table": ("/tracker/effective_events", "table.tracker-readable"),
    "events-faceted": ("/tracker/effective_events?_facet=kind&_facet=status&kind=announcement", "table.rows-and-columns"),
    "project-status-as-of": ("/tracker/project_status_on?as_of=2024-08-01&known_at=&project=", "table.rows-and-columns"),
    "dashboard": ("/-/dashboards/ksilkroad?as_of=2024-12-31", "#chart-events-by-year svg, #chart-events-by-year canvas"),
    "map": ("/tracker/event_map?_size=max", ".leaflet-marker-icon, .marker-cluster"),
    "timeline": ("/timeline", "svg.tracker-overview"),
    "timeline-reported-by": ("/timeline?reported_by=2024-12-31&status=proposed", "svg.tracker-overview"),
}


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_without_console_errors(server, browser, name):
    base, _ = server
    path, ready = PAGES[name]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Map tiles and anything else off this machine: answered locally, so no network is needed.
    page.route(
        lambda url: not url.startswith(base),
        lambda route: route.fulfill(status=200, content_type="image/png", body=BLANK_PNG),
    )
    response = page.goto(base + path)
    assert response.status == 200
    page.wait_for_selector(ready, timeout=20_000)
    page.wait_for_load_state("networkidle")
    if name == "dashboard":
        page.wait_for_selector("#chart-summit-timeline svg, #chart-summit-timeline canvas", timeout=20_000)
        page.wait_for_timeout(500)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(shot), full_page=name != "map")
    context.close()
    assert errors == []
    if name == "dashboard" and UPDATE_SCREENSHOTS:
        shutil.copyfile(shot, ROOT / "docs" / "dashboard.png")


def test_the_home_page_search_box_finds_events(server, browser):
    base, _ = server
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base + "/")
    page.fill("#tracker-search-q", "railway")
    page.click("form.tracker-search input[type=submit]")
    page.wait_for_selector("table.rows-and-columns")
    assert "/tracker/search?q=railway" in page.url
    assert page.inner_text("table.rows-and-columns td.col-event")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "search.png"))
    page.close()
    assert errors == []


def test_new_events_appear_without_restart(server, browser):
    base, db = server
    tracker = Path(sys.executable).with_name("tracker")
    subprocess.run(
        [str(tracker), "--db", str(db), "log", "announcement", "--date", "2024-09-09", "--country", "KR",
         "--country", "UZ", "--summary", "Quokkaberry <script>alert(1)</script> announced for the browser test.",
         "--source", "Test Wire | Browser test | 2024-09-10", "--announcer", "Test", "--subject", "browser test"],
        check=True, capture_output=True,
    )
    page = browser.new_page()
    page.goto(base + "/tracker/effective_events?_search=quokkaberry")
    text = page.inner_text("table.rows-and-columns")
    assert "Quokkaberry <script>alert(1)</script>" in text  # shown as text, not run
    page.close()


def test_a_reader_goes_from_home_to_a_project_and_one_of_its_events(server, browser):
    """What a reader checks: the home page's numbers and the summit's date, the project's
    status, schedule and timeline, and an event's prose and sources, following links."""
    base, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base + "/")
    numbers = page.inner_text(".tracker-numbers")
    assert "events" in numbers and "projects" in numbers
    assert "planned for 2025" in page.inner_text(".tracker-summit")
    page.click(".tracker-summit a")
    page.wait_for_selector("svg.tracker-timeline")
    assert page.url.endswith("/project/korea-central-asia-summit")
    assert page.inner_text("h1") == "First Korea-Central Asia summit"
    lede = page.inner_text(".tracker-lede")
    assert "agreed" in lede and "since 2024-11" in lede and "planned for 2025" in lede
    page.click(".tracker-list a:has-text(\"The chief result of the 17th cooperation forum\")")
    page.wait_for_selector(".tracker-facts")
    assert page.url.endswith("/event/2024-11-korea-central-asia-summit-agreed")
    assert page.inner_text("h1") == "Summit, 2024-11"
    assert "Caspian Policy Center" in page.inner_text("body")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "event-from-project.png"), full_page=True)
    page.close()
    assert errors == []


def test_a_reader_sees_projects_across_time_and_follows_a_bar_and_a_summit_step(server, browser):
    """The timeline page from the home page: the summit's steps and the projects' bars drawn,
    a bar leading to its project's page and a step to its event's, the date carried along."""
    base, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base + "/?as_of=2024-12-31")
    page.click("text=Projects across time")
    page.wait_for_selector("svg.tracker-overview")
    assert page.url.endswith("/timeline?as_of=2024-12-31&known_at=")
    summit = page.locator('svg.tracker-overview g.summit[data-project="korea-central-asia-summit"]')
    assert summit.locator("text.step-label").all_text_contents() == ["proposed 2024-06", "agreed 2024-11"]
    assert page.locator("svg.tracker-overview g.project").count() == 22
    box = page.locator("svg.tracker-overview").bounding_box()
    assert box["width"] > 900 and box["height"] > 600  # drawn at a readable size, not squeezed
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "timeline-as-of.png"), full_page=True)
    page.click('svg.tracker-overview g.project[data-project="uz-hyundai-rotem-high-speed-trains"] rect.span')
    page.wait_for_selector("svg.tracker-timeline")
    assert "/project/uz-hyundai-rotem-high-speed-trains?as_of=2024-12-31" in page.url
    assert page.inner_text("h1") == "Hyundai Rotem high-speed trains for Uzbekistan"
    page.go_back()
    page.click('svg.tracker-overview g.summit a.step-link >> nth=1')
    page.wait_for_selector(".tracker-facts")
    assert "/event/2024-11-korea-central-asia-summit-agreed?as_of=2024-12-31" in page.url
    page.close()
    assert errors == []


def _events_on_or_before(db: Path, day: str | None) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM effective_events WHERE occurred_start <= ?",
                            (day or "9999-12-31",)).fetchone()[0]
    finally:
        conn.close()


def _metric(page, chart: str) -> int:
    page.wait_for_selector(f"#chart-{chart} p", timeout=20_000)
    return int(page.inner_text(f"#chart-{chart} p").replace(",", ""))


def test_the_dashboard_gives_the_right_numbers_dated_then_undated(server, browser):
    """Its date filter once used, an undated visit must still count everything (the plugin
    rewrites its queries per request: one visit must not change the next)."""
    base, db = server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    expected = {"2024-08-01": _events_on_or_before(db, "2024-08-01"), "": _events_on_or_before(db, None)}
    assert 0 < expected["2024-08-01"] < expected[""]
    seen = {}
    for day in ("2024-08-01", "", "2024-08-01", ""):
        page.goto(base + "/-/dashboards/ksilkroad" + (f"?as_of={day}" if day else ""))
        seen.setdefault(day, []).append(_metric(page, "total-events"))
        if day:
            assert _metric(page, "total-projects") > 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-undated-after-dated.png"), full_page=True)
    page.close()
    assert seen == {day: [n, n] for day, n in expected.items()}
    assert errors == []


def test_the_events_table_reads_as_words(server, browser):
    """Date as entered, kind, country names, the project linked, a wide summary linking to the
    event's page; internal columns out of the way until asked for."""
    base, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(base + "/tracker/effective_events?project=uz-hyundai-rotem-high-speed-trains")
    headings = [h.split("\xa0")[0].strip() for h in page.locator("table.tracker-readable th").all_inner_texts()]
    assert headings[:5] == ["When", "Kind", "Countries", "Project", "Summary"]
    table = page.inner_text("table.tracker-readable")
    assert "Uzbekistan" in table and "$196 million" in table and "196000000" not in table
    assert "recorded_at" not in table and "occurred_start" not in table
    assert page.locator("table.tracker-readable td.col-summary a[href^='/event/']").count() > 0
    width = page.evaluate("document.querySelector('table.tracker-readable').scrollWidth")
    assert width <= 1280
    page.click("a:has-text('Show every column')")
    page.wait_for_selector("table.rows-and-columns th.col-recorded_at")
    page.close()


def test_the_map_of_events_places_them(server, browser):
    base, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.route(lambda url: not url.startswith(base),
               lambda route: route.fulfill(status=200, content_type="image/png", body=BLANK_PNG))
    page.goto(base + "/tracker/event_map?_size=max")
    page.wait_for_selector(".leaflet-marker-icon, .marker-cluster", timeout=20_000)
    markers = page.locator(".leaflet-marker-icon, .marker-cluster").count()
    assert markers > 0
    page.close()
    assert errors == []

"""Datasette page latency at N synthetic events, through Datasette's own client.

Builds (or reuses, in --workdir) a database of N synthetic events, replays it, adds the
publishing objects, then reports the median latency of the pages people use most.
Target: each under 200 ms at 1,000,000 events.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

#: Search words, by the share of synthetic events that contain them (benchmarks/synthetic.py):
#: every summary is 18-40 words drawn from a 50-word vocabulary, so each of those words is
#: in about half of all events; "samsung" is only in some announcements' subjects.
PAGES = {
    "events table": "/tracker/effective_events",
    "faceted (kind=signing, facets kind, status)": "/tracker/effective_events?kind=signing&_facet=kind&_facet=status",
    "faceted by country (event_countries)": "/tracker/event_countries?country=UZ&_facet=country",
    "projects (status facet)": "/tracker/projects",
    "search, selective word (samsung: 3%)": "/tracker/search?q=samsung",
    "search, common word (railway: 54%)": "/tracker/search?q=railway",
    "search, two common words, next 100": "/tracker/search?q=lithium+refinery&before=500000",
    # Datasette's own table search (for facets and filters) fetches and sorts every match:
    # fine for the tracker's real size, slow at a million events for all but rare words.
    "events table search, rare word (af: 0.8%)": "/tracker/effective_events?_search=af",
    "project_status_on": "/tracker/project_status_on?as_of=2015-06-30&known_at=&project=project-7",
    "project_status_on (all projects)": "/tracker/project_status_on?as_of=2015-06-30&known_at=",
    "country_tallies_on": "/tracker/country_tallies_on?as_of=2015-06&known_at=2024-06-01",
    "summit_timeline_on": "/tracker/summit_timeline_on?as_of=2015&known_at=",
    "summit_timeline_on (one summit)": "/tracker/summit_timeline_on?as_of=2015&known_at=&project=project-530",
    # reported_by: the plugin's SQL function (tracker.publish.reported_sql) answers as the command
    # line does: one key from its events, tallies from the reported cells, every key from a read of the log.
    "project_status_on reported by": "/tracker/project_status_on?as_of=2015-06-30&known_at=&project=project-7&reported_by=2015-09",
    "project_status_on (all projects) reported by": "/tracker/project_status_on?as_of=2015-06-30&known_at=&reported_by=2015-09",
    "country_tallies_on (one country) reported by": "/tracker/country_tallies_on?as_of=2015-06&known_at=&country=UZ&reported_by=2015-09",
    "country_tallies_on reported by": "/tracker/country_tallies_on?as_of=2015-06&known_at=&reported_by=2015-09",
    "country_tallies_on known at, reported by": "/tracker/country_tallies_on?as_of=2015-06&known_at=2024-06-01&reported_by=2015-09",
    "summit_timeline_on (one summit) reported by": "/tracker/summit_timeline_on?as_of=2015&known_at=&project=project-530&reported_by=2015-09",
    "summit_timeline_on reported by": "/tracker/summit_timeline_on?as_of=2015&known_at=&reported_by=2015-09",
    "atom feed": "/tracker/recent_events.atom",
    # The reader's pages (tracker.publish.routes): the home page's story, a project, an event.
    "home page (headline numbers, latest, projects by status)": "/",
    "home page as of a date": "/?as_of=2015-06-30",
    "home page as of a date, known at a moment": "/?as_of=2015-06-30&known_at=2024-06-01",
    "project page": "/project/project-7",
    "project page as of a date, known at a moment": "/project/project-7?as_of=2015-06-30&known_at=2024-06-01",
    "project page reported by a date": "/project/project-7?reported_by=2015-06-30",
    "project page as of, known at, reported by": "/project/project-7?as_of=2015-06-30&known_at=2024-06-01&reported_by=2015-09",
    # The timeline page (tracker.publish.overview): the summits' steps and the most recently active projects.
    "timeline page (projects across time)": "/timeline",
    "timeline page as of a date, known at a moment": "/timeline?as_of=2015-06-30&known_at=2024-06-01",
    "timeline page, one status, one country": "/timeline?status=cancelled&country=TJ",
    "timeline page, one status as of a date": "/timeline?status=completed&as_of=2015-06-30",
    "timeline page, 200 projects": "/timeline?limit=200",
    "timeline page reported by a date": "/timeline?reported_by=2015-06-30",
    "timeline page reported by a date, one status": "/timeline?reported_by=2015-06-30&status=completed",
    # The events table as a reader sees it (readable columns, facets kind, status, project), and as stored.
    "events table, every column": "/tracker/effective_events?_nocol=amended_body",
    "events table, one project": "/tracker/effective_events?project=project-7",
}


def reader_pages(path: Path) -> dict[str, str]:
    """Pages named by what the synthetic log holds: an event in the middle of the log, and
    one with a project (its ids are derived from content, so they are looked up)."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        (count,) = conn.execute("SELECT max(seq) FROM effective_events").fetchone()
        middle = conn.execute("SELECT id FROM effective_events WHERE seq >= ? ORDER BY seq LIMIT 1",
                              (count // 2,)).fetchone()[0]
        busiest = conn.execute("SELECT project FROM effective_events WHERE project IS NOT NULL "
                               "GROUP BY project ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
        placed = conn.execute("SELECT id FROM effective_events WHERE lat IS NOT NULL AND seq >= ? ORDER BY seq LIMIT 1",
                              (count // 2,)).fetchone()
    finally:
        conn.close()
    pages = {"event page": f"/event/{middle}", "event page known at a moment": f"/event/{middle}?known_at=2024-06-01",
             "event page reported by a date": f"/event/{middle}?reported_by=2015-06-30",
             f"project page, busiest project ({busiest})": f"/project/{busiest}",
             "project page, busiest project, reported by a date": f"/project/{busiest}?reported_by=2015-06-30"}
    if placed:
        pages["event page with a map pin"] = f"/event/{placed[0]}"
    return pages


def dashboard_pages() -> dict[str, str]:
    """Each dashboard chart's query as a browser on the dashboard asks it (a JSON query
    with the filters, the optional clauses resolved by datasette-dashboards itself),
    undated and as of a date."""
    import urllib.parse

    from datasette_dashboards import replace_opts_in_query

    from tracker.publish.site import load_metadata

    charts = load_metadata()["plugins"]["datasette-dashboards"]["ksilkroad"]["charts"]
    pages = {}
    for filters in ({}, {"as_of": "2015-06-30"}):
        for slug, chart in charts.items():
            sql = replace_opts_in_query(chart["query"], filters)
            name = f"dashboard chart {slug}{' as of a date' if filters else ''}"
            pages[name] = "/tracker.json?" + urllib.parse.urlencode({"sql": sql, "_shape": "objects", **filters})
    return pages


def ensure_database(n: int, workdir: Path) -> Path:
    from benchmarks.synthetic import generate
    from tracker.log.importing import import_file
    from tracker.publish.schema import prepare_path
    from tracker.replay.engine import catch_up
    from tracker.log.store import EventStore

    path = workdir / f"datasette-{n}.db"
    if not path.exists():
        import orjson

        jsonl = workdir / f"bench-{n}.jsonl"
        started = time.perf_counter()
        with open(jsonl, "wb") as f:
            for event in generate(n):
                f.write(orjson.dumps(event) + b"\n")
        print(f"generated {n:,} events in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        with EventStore(path) as store:
            import_file(store, str(jsonl), show_progress=False)
            print(f"imported in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            catch_up(store)
            print(f"replayed in {time.perf_counter() - started:.1f} s")
        jsonl.unlink()
    started = time.perf_counter()
    prepare_path(path)
    print(f"publishing objects (countries, search index, indexes) in {time.perf_counter() - started:.1f} s")
    return path


async def measure(ds, path: str, repeat: int) -> tuple[float, int]:
    response = await ds.client.get(path)  # warm the page cache and plans
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = await ds.client.get(path)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), response.status_code


def run(suite: str, n: int, workdir: str | None) -> None:
    from tracker.publish.site import datasette_for

    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="bench-datasette-"))
    base.mkdir(parents=True, exist_ok=True)
    path = ensure_database(n, base)
    ds = datasette_for(path)

    async def main():
        await ds.invoke_startup()
        print(f"\nDatasette page latency at {n:,} events (median of 9, ms; target < 200):")
        for name, url in {**PAGES, **reader_pages(path), **dashboard_pages()}.items():
            median, status = await measure(ds, url, 9)
            flag = "" if status == 200 and median < 200 else "  <-- over target" if status == 200 else f"  <-- HTTP {status}"
            print(f"  {name:48s} {median:8.1f}{flag}")

    asyncio.run(main())

"""The reader's pages as Datasette routes: `/project/<slug>` and `/event/<id>`, and the home
page's story (through the index template's variables).

A route parses the request (the time axes, the slug or id), asks tracker.publish.pages
for what the page shows on the tracker's database, and renders it with the plugin's
templates (tracker/publish/plugin/templates). Bad input is an error page with one line
saying what is wrong; an unknown slug or id is a 404 page naming it.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from datasette.utils.asgi import Response

from tracker.publish import pages, timeline
from tracker.publish.served import tracker_database

#: The time axis the pages do not answer yet (the command line does: DESIGN §5).
UNANSWERED = {"reported_by": "--reported-by"}


def links(datasette, when: pages.Bounds) -> dict[str, Any]:
    """URL makers for the templates, carrying the page's time axes to the next page."""
    query = urllib.parse.urlencode(when.query)
    suffix = f"?{query}" if query else ""

    def project_url(slug: str) -> str:
        return datasette.urls.path(f"/project/{urllib.parse.quote(slug, safe='')}") + suffix

    def event_url(event_id: str) -> str:
        return datasette.urls.path(f"/event/{urllib.parse.quote(event_id, safe='')}") + suffix

    return {"project_url": project_url, "event_url": event_url}


async def _error(datasette, request, status: int, title: str, message: str) -> Response:
    body = await datasette.render_template(
        "tracker_error.html", {"status": status, "title": title, "message": message}, request=request)
    return Response.html(body, status=status)


async def _start(datasette, request) -> tuple[str | None, pages.Bounds | None, Response | None]:
    """The tracker's database and the page's bounds, or the error page to answer instead."""
    from tracker.replay.timeaxes import TimeError

    for name, option in UNANSWERED.items():
        if request.args.get(name):
            return None, None, await _error(
                datasette, request, 400, "Not answered here",
                f"{name}: this page does not answer reported time yet; ask the command line "
                f"(`tracker status`, `tracker show` with {option}).")
    try:
        when = pages.bounds(request.args.get("as_of"), request.args.get("known_at"))
    except TimeError as e:
        return None, None, await _error(datasette, request, 400, "Bad date", str(e).replace("--known-at", "known_at"))
    database = await tracker_database(datasette)
    if database is None:
        return None, None, await _error(datasette, request, 404, "No tracker database",
                                        "no database served here holds the tracker's tables")
    return database, when, None


async def project_page(datasette, request) -> Response:
    slug = urllib.parse.unquote(request.url_vars["slug"])
    database, when, failed = await _start(datasette, request)
    if failed:
        return failed
    db = datasette.get_database(database)
    data = await db.execute_fn(lambda conn: pages.project(conn, slug, when))
    if data is None:
        return await _error(datasette, request, 404, "No such project",
                            f"the tracker has no project '{slug}'")
    urls = links(datasette, when)
    import datetime as dt

    picture = timeline.svg(
        data["segments"], data["events"], day=dt.date.fromisoformat(data["day"]),
        planned_end=(data["state"] or {}).get("planned_end"), planned_for=(data["state"] or {}).get("planned_for"),
        overdue=bool((data["state"] or {}).get("overdue")), link=urls["event_url"])
    body = await datasette.render_template("tracker_project.html", {
        "p": data, "when": when, "database": database, "timeline": picture,
        "statuses": pages.STATUSES, "colours": timeline.STATUS_COLOURS, **urls,
        "events_table": datasette.urls.table(database, "effective_events") + "?" + urllib.parse.urlencode(
            {"project": slug, "_sort": "occurred_start"}),
        "now_url": datasette.urls.path(f"/project/{urllib.parse.quote(slug, safe='')}"),
    }, request=request)
    return Response.html(body)


async def event_page(datasette, request) -> Response:
    event_id = urllib.parse.unquote(request.url_vars["id"])
    database, when, failed = await _start(datasette, request)
    if failed:
        return failed
    db = datasette.get_database(database)
    data = await db.execute_fn(lambda conn: pages.event(conn, event_id, when))
    if data is None:
        return await _error(datasette, request, 404, "No such event", f"the tracker has no event '{event_id}'")
    urls = links(datasette, when)
    body = await datasette.render_template("tracker_event.html", {
        "e": data, "when": when, "database": database, **urls,
        "raw_url": datasette.urls.table(database, "events") + "?" + urllib.parse.urlencode({"id": event_id}),
        "now_url": datasette.urls.path(f"/event/{urllib.parse.quote(event_id, safe='')}"),
    }, request=request)
    return Response.html(body)


ROUTES = [
    (r"^/project/(?P<slug>[^/]+)/?$", project_page),
    (r"^/event/(?P<id>[^/]+)/?$", event_page),
]


async def home_variables(datasette) -> dict[str, Any]:
    """The home page's story, for the index template (empty with no tracker database)."""
    database = await tracker_database(datasette)
    if database is None:
        return {}
    data = await datasette.get_database(database).execute_fn(pages.home)
    urls = links(datasette, pages.Bounds())
    return {"tracker_home": data, "tracker_database": database, "tracker_colours": timeline.STATUS_COLOURS,
            "tracker_project_url": urls["project_url"], "tracker_event_url": urls["event_url"]}

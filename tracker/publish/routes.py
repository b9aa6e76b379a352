"""The reader's pages as Datasette routes: `/project/<slug>` and `/event/<id>` (where a row
of the events table leads too), and the home page's story (through the index template's
variables).

A route parses the request (the time axes `as_of`, `known_at` and `reported_by`, the slug
or id), asks tracker.publish.pages for what the page shows on the tracker's database, and
renders it with the plugin's templates (tracker/publish/plugin/templates); links carry
the axes given to the next page. Bad input is an error page with one line saying what is
wrong; an unknown slug or id is a 404 page naming it.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from datasette.utils.asgi import Response

from tracker.publish import pages, timeline
from tracker.publish.served import is_tracker_database, tracker_database

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

    try:
        when = pages.bounds(request.args.get("as_of"), request.args.get("known_at"), request.args.get("reported_by"))
    except TimeError as e:
        message = str(e).replace("--known-at", "known_at").replace("--reported-by", "reported_by")
        return None, None, await _error(datasette, request, 400, "Bad date", message)
    database = await tracker_database(datasette)
    if database is None:
        return None, None, await _error(datasette, request, 404, "No tracker database",
                                        "no database served here holds the tracker's tables")
    return database, when, None


async def _read_page(datasette, request, what: str, read):
    """A reader's page's start: the axes asked, then `read(conn, name, when)` for the name in
    the path (`what`: project or event) on the tracker's database. Returns (database,
    when, name, data), or a Response: an error page, 404 naming what was asked for."""
    name = urllib.parse.unquote(request.url_vars["slug" if what == "project" else "id"])
    database, when, failed = await _start(datasette, request)
    if failed:
        return failed
    data = await datasette.get_database(database).execute_fn(lambda conn: read(conn, name, when))
    if data is None:
        return await _error(datasette, request, 404, f"No such {what}", f"the tracker has no {what} '{name}'")
    return database, when, name, data


async def project_page(datasette, request) -> Response:
    started = await _read_page(datasette, request, "project", pages.project)
    if isinstance(started, Response):
        return started
    database, when, slug, data = started
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
    started = await _read_page(datasette, request, "event", pages.event)
    if isinstance(started, Response):
        return started
    database, when, event_id, data = started
    urls = links(datasette, when)
    body = await datasette.render_template("tracker_event.html", {
        "e": data, "when": when, "database": database, **urls, "pin": pin(datasette, data),
        "map_url": datasette.urls.table(database, "event_map") + "?" + urllib.parse.urlencode({"id": event_id}),
        "raw_url": datasette.urls.table(database, "events") + "?" + urllib.parse.urlencode({"id": event_id}),
        "now_url": datasette.urls.path(f"/event/{urllib.parse.quote(event_id, safe='')}"),
    }, request=request)
    return Response.html(body)


#: Map tiles when the site's datasette-cluster-map configuration names none (its own default).
TILES = "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png"
TILES_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


def pin(datasette, event: dict[str, Any]) -> dict[str, Any] | None:
    """Where the event page's map puts its pin: the event's own coordinates, drawn with the
    Leaflet that datasette-leaflet serves (installed with datasette-cluster-map) and the
    tiles the site's map of events uses; None for an event without coordinates."""
    location = event.get("location") or {}
    lat, lon = location.get("lat"), location.get("lon")
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        return None
    config = datasette.plugin_config("datasette-cluster-map") or {}
    options = config.get("tile_layer_options") or {"maxZoom": 19, "attribution": TILES_ATTRIBUTION}
    return {"lat": lat, "lon": lon, "label": location.get("name") or "", "tiles": config.get("tile_layer") or TILES,
            "options": options}


async def event_row_page(datasette, request, send) -> Response:
    """Datasette's own page for a row of the tracker's events table: the reader's page of
    the event instead, which says more. Datasette's counts every row of every table that
    names the event (1.1 s at a million events, where no history table is indexed by event);
    the row's JSON (`.json`) is still Datasette's, and any other database's rows are too."""
    from datasette.utils import tilde_decode
    from datasette.views.row import RowView

    if not is_tracker_database(datasette, request.url_vars["database"]):
        request.scope["url_route"]["kwargs"]["format"] = None  # (as Datasette's own route gives it)
        return await RowView.as_view(datasette)(request, send)
    event_id = tilde_decode(request.url_vars["pks"])
    query = f"?{request.query_string}" if request.query_string else ""
    return Response.redirect(datasette.urls.path(f"/event/{urllib.parse.quote(event_id, safe='')}") + query)


ROUTES = [
    (r"^/project/(?P<slug>[^/]+)/?$", project_page),
    (r"^/event/(?P<id>[^/]+)/?$", event_page),
    # (before Datasette's row route, which takes the same path: plugin routes come first)
    (r"^/(?P<database>[^/.]+)/(?P<table>effective_events)/(?P<pks>[^/.]+)$", event_row_page),
]


async def home_variables(datasette, request=None) -> dict[str, Any]:
    """The home page's story, for the index template (empty with no tracker database), as
    of the request's `as_of` and known at its `known_at` (now, with neither). A date that
    cannot be understood, or `reported_by` (which the home page does not answer: it would
    take a replay of every project; a project's page answers it), is one line on the page,
    over the story as known now."""
    from tracker.replay.timeaxes import TimeError

    database = await tracker_database(datasette)
    if database is None:
        return {}
    args = request.args if request is not None else {}
    problem = None
    try:
        when = pages.bounds(args.get("as_of"), args.get("known_at"))
    except TimeError as e:
        when, problem = pages.Bounds(), str(e).replace("--known-at", "known_at")
    if args.get("reported_by"):
        problem = ("reported_by: the home page does not answer reported time; "
                   "a project's page or an event's page does (their form has it)")
    data = await datasette.get_database(database).execute_fn(lambda conn: pages.home(conn, when))
    urls = links(datasette, when)
    asked = urllib.parse.urlencode({"as_of": when.as_of, "known_at": when.known_at}) if when.any else ""
    return {"tracker_home": data, "tracker_database": database, "tracker_colours": timeline.STATUS_COLOURS,
            "tracker_project_url": urls["project_url"], "tracker_event_url": urls["event_url"],
            "tracker_when": when, "tracker_problem": problem, "tracker_asked": asked}

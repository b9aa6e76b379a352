"""The timeline page as a Datasette route: `/timeline`, projects across time and the summits' steps.

It parses the request as the other reader's pages do (tracker.publish.routes: the time axes
`as_of`, `known_at`, `reported_by`, a bad date an error page) plus its own filters
(`status`, `country`, `limit`, and `from`, the year the picture starts at), asks
tracker.publish.overview what to show, draws it (tracker.publish.overview_svg) and renders
the plugin's `tracker_timeline.html`. Every link carries the axes; the page's own links
carry its filters too.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

from datasette.utils.asgi import Response

from tracker.publish import overview, overview_svg, pages, routes
from tracker.publish.timeline import STATUS_COLOURS

PATH = "/timeline"


def _start_year(text: str | None) -> int | None:
    """The `from` parameter: the year the picture starts at, or None to choose one."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) != 4 or not text.isdigit() or not 1900 <= int(text) <= 2200:
        raise overview.ChoiceError(f"from '{text}': give the year the picture starts at, YYYY")
    return int(text)


def page_url(datasette, when: pages.Bounds, chosen: overview.Choice, start_year: int | None = None,
             **changes: Any) -> str:
    """This page's address with the page's axes and filters, some of them changed (None drops one)."""
    query: dict[str, Any] = {**when.query, **chosen.query}
    if start_year is not None:
        query["from"] = str(start_year)
    for name, value in changes.items():
        name = "from" if name == "start" else name
        if value is None or value == "":
            query.pop(name, None)
        else:
            query[name] = str(value)
    suffix = urllib.parse.urlencode(query)
    return datasette.urls.path(PATH) + (f"?{suffix}" if suffix else "")


async def timeline_page(datasette, request) -> Response:
    database, when, failed = await routes._start(datasette, request)
    if failed:
        return failed
    db = datasette.get_database(database)
    codes = await db.execute_fn(overview.country_codes)
    args = request.args
    try:
        chosen = overview.choice(args.get("status"), args.get("country"), args.get("limit"), codes)
        start_year = _start_year(args.get("from"))
    except overview.ChoiceError as e:
        return await routes._error(datasette, request, 400, "Bad filter", str(e))
    data = await db.execute_fn(lambda conn: overview.overview(conn, when, chosen))
    urls = routes.links(datasette, when)
    day = dt.date.fromisoformat(data["day"])
    picture, frame = overview_svg.svg(data["summits"], data["projects"], day=day, project_url=urls["project_url"],
                                      event_url=urls["event_url"], start_year=start_year)

    def url(**changes: Any) -> str:
        return page_url(datasette, when, chosen, start_year, **changes)

    from tracker.publish import prose

    countries = sorted(((code, prose.country(code)) for code in codes), key=lambda c: c[1])
    shown = {line["status"] for line in [*data["summits"], *data["projects"]]}
    body = await datasette.render_template("tracker_timeline.html", {
        "t": data, "when": when, "chosen": chosen, "database": database, "picture": picture, "frame": frame,
        "start_year": start_year, "url": url, **urls, "statuses": pages.STATUSES, "colours": STATUS_COLOURS,
        "shown_statuses": [s for s in pages.STATUSES if s in shown], "countries": countries,
        "more_limit": min(chosen.limit * 2, overview.MAX_LIMIT), "max_limit": overview.MAX_LIMIT,
        "now_url": page_url(datasette, pages.Bounds(), chosen, start_year),
        "status_on_url": datasette.urls.table(database, "project_status_on") + "?" + urllib.parse.urlencode(
            {"as_of": when.as_of, "known_at": when.known_at, "project": ""}),
    }, request=request)
    return Response.html(body)


ROUTES = [(r"^/timeline/?$", timeline_page)]

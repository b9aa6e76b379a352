"""A project's timeline as a small inline SVG, drawn on the server.

One picture a reader takes in at a glance: the project's status over time (a bar coloured
by status), its events (dots, each a link to the event's page), the date it is planned
for (a diamond, red once overdue) and the day the page is about (today, or the `as_of`
date). Plain SVG needs no script and no chart library, so the page is the same in a
published snapshot and in a browser with scripts off; every text in it is escaped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from markupsafe import Markup, escape

from tracker.publish import prose

#: Status colours, shared with the pages' status labels (tracker.css in the templates).
STATUS_COLOURS = {
    "proposed": "#9e9e9e", "negotiating": "#7b8fc4", "agreed": "#4aa88a", "committed": "#3b6ea5",
    "in_progress": "#e07b39", "completed": "#1b7a5a", "suspended": "#c9a227", "cancelled": "#b23a3a",
}
WIDTH, HEIGHT = 900, 118
LEFT, RIGHT = 12, 12
BAR_Y, BAR_H = 14, 22
DOTS_Y = 56
AXIS_Y = 86


def _day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def svg(segments: list[dict[str, Any]], events: list[dict[str, Any]], *, day: dt.date,
        planned_end: str | None, planned_for: str | None, overdue: bool, link: Callable[[str], str]) -> Markup:
    """The timeline: `segments` are status history rows (valid_from, valid_to, status), in
    order; `events` have id, occurred, occurred_start and kind; `day` is the day the page
    is about; `link(id)` is an event's page."""
    days = [d for d in (_day(s["valid_from"]) for s in segments) if d]
    days += [d for d in (_day(e["occurred_start"]) for e in events) if d]
    planned = _day(planned_end)
    if not days:
        return Markup("")
    start = min(days)
    end = max([day, *days, *([planned] if planned else [])])
    span = max((end - start).days, 1)
    start -= dt.timedelta(days=max(span // 40, 1))
    end += dt.timedelta(days=max(span // 40, 1))
    span = (end - start).days

    def x(d: dt.date) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (d - start).days / span

    parts = [f'<svg class="tracker-timeline" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
             f'xmlns="http://www.w3.org/2000/svg" aria-label="Timeline of the project">']
    # status bar: each segment from its start to the next (or to the page's day)
    for s in segments:
        a, b = _day(s["valid_from"]), _day(s.get("valid_to")) or day
        if a is None or a > day:
            continue
        b = min(b, day)
        x0, x1 = x(a), max(x(b), x(a) + 2)
        colour = STATUS_COLOURS.get(s["status"], "#888")
        label = prose.status_name(s["status"])
        parts.append(f'<rect x="{x0:.1f}" y="{BAR_Y}" width="{x1 - x0:.1f}" height="{BAR_H}" fill="{colour}">'
                     f'<title>{escape(label)} from {escape(s["valid_from"])}</title></rect>')
        if x1 - x0 > 8 * len(label) + 8:
            parts.append(f'<text x="{x0 + 4:.1f}" y="{BAR_Y + 15}" class="bar-label">{escape(label)}</text>')
    # events
    for e in events:
        d = _day(e["occurred_start"])
        if d is None:
            continue
        parts.append(f'<a href="{escape(link(e["id"]))}"><circle cx="{x(d):.1f}" cy="{DOTS_Y}" r="6" '
                     f'class="event-dot kind-{escape(e["kind"])}"><title>{escape(prose.when(e["occurred"]))}: '
                     f'{escape(prose.kind_name(e["kind"]))} {escape(e.get("summary") or "")}</title></circle></a>')
    # the planned date
    if planned:
        px = x(planned)
        colour = "#b23a3a" if overdue else "#333"
        parts.append(f'<path d="M{px:.1f},{DOTS_Y - 9} l7,9 l-7,9 l-7,-9 z" fill="none" stroke="{colour}" '
                     f'stroke-width="2"><title>planned for {escape(prose.when(planned_for))}</title></path>')
        anchor = "end" if px > WIDTH * 0.75 else "start"
        dx = -10 if anchor == "end" else 10
        parts.append(f'<text x="{px + dx:.1f}" y="{DOTS_Y + 4}" text-anchor="{anchor}" class="planned-label" '
                     f'fill="{colour}">planned {escape(prose.when(planned_for))}'
                     f'{" (overdue)" if overdue else ""}</text>')
    # the page's day
    nx = x(day)
    parts.append(f'<line x1="{nx:.1f}" x2="{nx:.1f}" y1="6" y2="{AXIS_Y}" class="today-line"/>')
    # axis with year ticks (at most ~12)
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{AXIS_Y}" y2="{AXIS_Y}" class="axis"/>')
    years = list(range(start.year + 1, end.year + 1))
    step = max(1, len(years) // 12 + (1 if len(years) % 12 else 0)) if len(years) > 12 else 1
    for year in years[::step]:
        tx = x(dt.date(year, 1, 1))
        parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{AXIS_Y}" y2="{AXIS_Y + 5}" class="axis"/>'
                     f'<text x="{tx:.1f}" y="{AXIS_Y + 18}" text-anchor="middle" class="tick">{year}</text>')
    if not years or span < 400:  # a short span: months of its year are more use than one tick
        for m in range(1, 13):
            for year in range(start.year, end.year + 1):
                d = dt.date(year, m, 1)
                if start < d < end and m != 1:
                    tx = x(d)
                    parts.append(f'<text x="{tx:.1f}" y="{AXIS_Y + 18}" text-anchor="middle" class="tick minor">'
                                 f'{d.strftime("%b")}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))

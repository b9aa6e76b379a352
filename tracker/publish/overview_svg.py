"""The timeline page's picture: projects across time and the summits' steps, as one inline SVG
drawn on the server.

A Gantt chart a reader takes in at a glance: one line per project, its bar coloured by
status span after span up to the page's day; the date it is planned for (its period as an
outline, its last day a diamond, red once overdue, with the overdue stretch hatched red);
the day it was completed (a tick) and any earlier planned date (a faint diamond). The
summits lead, each a thin bar with its steps as dots. Every bar and name links to the
project's page and every step to its event's page. Plain SVG, as tracker.publish.timeline
draws one project's, needs no script or chart library, so a published snapshot draws the
same; every text in it is escaped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from markupsafe import Markup, escape

from tracker.publish.timeline import STATUS_COLOURS

WIDTH = 1000
LABEL_W = 250  # the names' column
CHART_X0, CHART_X1 = LABEL_W + 14, WIDTH - 16
AXIS_H = 30  # the year ticks along the top
ROW_H, BAR_H = 26, 14
SUMMIT_H = 62
SECTION_H = 24  # a section's heading ("Summits", "Projects")
NAME_CHARS = 36
#: The window opens at most this many years before the page's day, unless asked for earlier.
WINDOW_YEARS = 4
OVERDUE = "#b23a3a"


def _day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def window(lines: list[dict[str, Any]], day: dt.date, start_year: int | None = None) -> tuple[dt.date, dt.date, bool]:
    """The span the picture covers, and whether a bar begins before it (clipped): from the
    year before the one most lines had begun by (the median start), so that a few old
    projects do not squeeze everyone else's story into a corner, never before the earliest
    start nor more than WINDOW_YEARS before the page's day's year (unless `start_year` asks
    for another); to the later of the day and the last planned date shown."""
    starts = sorted(d for d in (_day(line["started"]) for line in lines) if d) or [day]
    first = min(starts)
    if start_year is not None:
        start = dt.date(min(start_year, day.year), 1, 1)  # a year after the day would show nothing
    else:
        median = starts[len(starts) // 2]
        start = max(first, dt.date(max(median.year - 1, 1), 1, 1), dt.date(max(day.year - WINDOW_YEARS, 1), 1, 1))
    ends = [d for line in lines for d in (_day(line.get("planned_end")), _day(line.get("first_planned_end"))) if d]
    latest = max([day, *[d for d in ends if d <= day + dt.timedelta(days=3660)]])
    span = max((latest - start).days, 60)
    margin = dt.timedelta(days=max(span // 50, 5))
    start_drawn = start - margin if start_year is None and start == first else start
    return start_drawn, latest + margin, first < start_drawn


class _Scale:
    def __init__(self, start: dt.date, end: dt.date):
        self.start, self.end = start, end
        self.days = max((end - start).days, 1)

    def x(self, d: dt.date) -> float:
        d = min(max(d, self.start), self.end)
        return CHART_X0 + (CHART_X1 - CHART_X0) * (d - self.start).days / self.days


def _name(text: str, room: int = NAME_CHARS) -> str:
    return text if len(text) <= room else text[:room - 1].rstrip() + "\u2026"


def _axis(scale: _Scale, height: float) -> list[str]:
    """Year ticks along the top and a faint line down the picture at each; months on a short span."""
    parts = []
    years = list(range(scale.start.year + 1, scale.end.year + 1))
    step = 1 if len(years) <= 14 else (len(years) + 13) // 14
    for year in years[::step]:
        tx = scale.x(dt.date(year, 1, 1))
        parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{AXIS_H - 6}" y2="{height}" class="grid"/>'
                     f'<text x="{tx:.1f}" y="{AXIS_H - 12}" text-anchor="middle" class="tick">{year}</text>')
    if scale.days < 6 * 366:  # quarters: a tick each, named on a span short enough to read them
        for year in range(scale.start.year, scale.end.year + 1):
            for month in (4, 7, 10):
                d = dt.date(year, month, 1)
                if scale.start < d < scale.end:
                    tx = scale.x(d)
                    parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{AXIS_H - 9}" y2="{AXIS_H - 6}" class="axis"/>')
                    if scale.days < 1000:
                        parts.append(f'<text x="{tx:.1f}" y="{AXIS_H - 12}" text-anchor="middle" '
                                     f'class="tick minor">{d.strftime("%b")}</text>')
    parts.append(f'<line x1="{CHART_X0}" x2="{CHART_X1}" y1="{AXIS_H - 6}" y2="{AXIS_H - 6}" class="axis"/>')
    return parts


def _bars(line: dict[str, Any], scale: _Scale, day: dt.date, y: float, height: float, url: str) -> list[str]:
    """A project's status spans from left to right, up to the page's day, linked to its page."""
    parts = [f'<a href="{escape(url)}" class="bar-link">']
    for span in line["spans"]:
        a, b = _day(span["from"]), _day(span["to"]) or day
        if a is None:
            continue
        b = max(min(b, day), a)
        x0, x1 = scale.x(a), scale.x(b)
        if x1 <= CHART_X0 and a < scale.start:
            continue
        until = f" to {span['to']}" if span["to"] and _day(span["to"]) <= day else ""
        parts.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 2):.1f}" height="{height}" '
                     f'fill="{STATUS_COLOURS.get(span["status"], "#888")}" class="span">'
                     f'<title>{escape(line["name"])}: {escape(span["status_name"])} from {escape(span["from"])}'
                     f'{escape(until)}</title></rect>')
    parts.append("</a>")
    return parts


def _schedule(line: dict[str, Any], scale: _Scale, day: dt.date, mid: float) -> list[str]:
    """The planned date against what happened: the planned period, its last day, an earlier
    plan, the overdue stretch since the planned day, the day it was completed."""
    parts = []
    colour = OVERDUE if line["overdue"] else "#333"
    first_end = _day(line.get("first_planned_end"))
    if first_end:
        fx = scale.x(first_end)
        parts.append(f'<path d="M{fx:.1f},{mid - 5} l5,5 l-5,5 l-5,-5 z" class="first-planned">'
                     f'<title>first planned for {escape(line["first_planned"])}</title></path>')
    start, end = _day(line.get("planned_start")), _day(line.get("planned_end"))
    if end:
        if line["overdue"]:
            ox0, ox1 = scale.x(end), scale.x(day)
            parts.append(f'<rect x="{ox0:.1f}" y="{mid - BAR_H / 2:.1f}" width="{max(ox1 - ox0, 1):.1f}" '
                         f'height="{BAR_H}" fill="url(#tracker-overdue-hatch)" class="overdue-stretch">'
                         f'<title>overdue since {escape(line["overdue_since"])}</title></rect>')
        if start and start < end:
            px0, px1 = scale.x(start), scale.x(end)
            if px1 - px0 >= 3:
                parts.append(f'<rect x="{px0:.1f}" y="{mid - BAR_H / 2 - 3:.1f}" width="{px1 - px0:.1f}" '
                             f'height="{BAR_H + 6}" rx="3" class="planned-period" stroke="{colour}"/>')
        px = scale.x(end)
        parts.append(f'<path d="M{px:.1f},{mid - 7} l7,7 l-7,7 l-7,-7 z" class="planned" fill="#fff" '
                     f'stroke="{colour}"><title>planned for {escape(line["planned"])}'
                     f'{" (overdue)" if line["overdue"] else ""}</title></path>')
    done = _day(line.get("completed_on"))
    if done:
        cx = scale.x(done)
        parts.append(f'<path d="M{cx - 5:.1f},{mid} l4,4 l7,-9" class="completed">'
                     f'<title>completed {escape(line["completed"])}'
                     f'{", " + escape(line["against_plan"]) if line.get("against_plan") else ""}</title></path>')
    return parts


def _label(line: dict[str, Any], y: float, url: str, clipped: bool) -> list[str]:
    """The project's name (linked to its page), "since YEAR" when its bar began before the
    picture's window, a red ▲ when it is overdue."""
    flag = ""
    if line["overdue"]:
        flag = '<tspan class="overdue-flag"> \u25b2</tspan>'
    since = ""
    if clipped:
        since = f'<tspan class="since"> since {escape(line["started"][:4])}</tspan>'
    return [f'<a href="{escape(url)}"><text x="{LABEL_W}" y="{y:.1f}" text-anchor="end" class="name">'
            f'<title>{escape(line["name"])}</title>{escape(_name(line["name"], NAME_CHARS - (11 if clipped else 0)))}{since}{flag}</text></a>']


def _steps(steps: list[dict[str, Any]], scale: _Scale, mid: float, event_url: Callable[[str], str]) -> list[str]:
    """A summit's steps as dots on its bar, each linked to its event; the summit events (the
    steps proper) labelled with the status they left it in, above or below the bar so that
    neighbouring labels do not overlap."""
    parts = []
    ends = {"above": float("-inf"), "below": float("-inf")}  # where the last label on each side ends
    for step in steps:
        d = _day(step["on"])
        if d is None:
            continue
        sx = scale.x(d)
        title = f'{step["when"]}: {step["kind_name"]}, {step["status_name"]}. {step.get("summary") or ""}'
        parts.append(f'<a href="{escape(event_url(step["event"]))}" class="step-link">'
                     f'<circle cx="{sx:.1f}" cy="{mid}" r="6" class="step kind-{escape(step["kind"])}" '
                     f'fill="{STATUS_COLOURS.get(step["status"], "#888")}"><title>{escape(title)}</title></circle></a>')
        if step["kind"] != "summit":
            continue
        label = f'{step["status_name"]} {step["when"]}'
        half = 3.3 * len(label)
        side = min(ends, key=lambda side: (ends[side] > sx - half, side != "above"))
        ends[side] = sx + half + 4
        ly = mid - 11 if side == "above" else mid + 20
        parts.append(f'<a href="{escape(event_url(step["event"]))}"><text x="{sx:.1f}" y="{ly}" '
                     f'text-anchor="middle" class="step-label">{escape(label)}</text></a>')
    return parts


def _group(kind: str, line: dict[str, Any]) -> str:
    """A line's group, named for what it is: its slug and status, and whether it is overdue."""
    overdue = " overdue" if line["overdue"] else ""
    return (f'<g class="line {kind}{overdue}" data-project="{escape(line["project"])}" '
            f'data-status="{escape(line["status"])}">')


def svg(summits: list[dict[str, Any]], projects: list[dict[str, Any]], *, day: dt.date,
        project_url: Callable[[str], str], event_url: Callable[[str], str],
        start_year: int | None = None) -> tuple[Markup, dict[str, Any]]:
    """The picture, and what its legend needs (the window, whether bars are clipped)."""
    lines = [*summits, *projects]
    if not lines:
        return Markup(""), {}
    start, end, clipped = window(lines, day, start_year)
    scale = _Scale(start, end)
    height = AXIS_H + (SECTION_H + SUMMIT_H * len(summits) if summits else 0) \
        + (SECTION_H + ROW_H * len(projects) if projects else 0) + 8
    parts = [f'<svg class="tracker-overview" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
             f'xmlns="http://www.w3.org/2000/svg" aria-label="Projects across time, and the summits\' steps">',
             '<defs><pattern id="tracker-overdue-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f6dcdc"/>'
             f'<line x1="0" y1="0" x2="0" y2="6" stroke="{OVERDUE}" stroke-width="2.5"/></pattern></defs>']
    parts += _axis(scale, height - 8)
    y = AXIS_H
    if summits:
        parts.append(f'<text x="4" y="{y + 16}" class="section">Summits</text>')
        y += SECTION_H
        for s in summits:
            mid = y + 26
            url = project_url(s["project"])
            parts.append(_group("summit", s))
            parts += _label(s, mid + 4, url, s["started"] < start.isoformat())
            parts += _bars(s, scale, day, mid - 4, 8, url)
            parts += _schedule(s, scale, day, mid)
            parts += _steps(s["steps"], scale, mid, event_url)
            parts.append("</g>")
            y += SUMMIT_H
    if projects:
        parts.append(f'<text x="4" y="{y + 16}" class="section">Projects</text>')
        y += SECTION_H
        for i, line in enumerate(projects):
            mid = y + ROW_H / 2
            if i % 2:
                parts.append(f'<rect x="0" y="{y:.1f}" width="{WIDTH}" height="{ROW_H}" class="stripe"/>')
            url = project_url(line["project"])
            parts.append(_group("project", line))
            parts += _label(line, mid + 4, url, line["started"] < start.isoformat())
            parts += _bars(line, scale, day, mid - BAR_H / 2, BAR_H, url)
            parts += _schedule(line, scale, day, mid)
            parts.append("</g>")
            y += ROW_H
    # the page's day, over everything
    nx = scale.x(day)
    parts.append(f'<line x1="{nx:.1f}" x2="{nx:.1f}" y1="{AXIS_H - 6}" y2="{height - 8}" class="day-line"/>')
    parts.append("</svg>")
    return Markup("".join(parts)), {"start": start, "end": end, "clipped": clipped,
                                    "first_year": min(int(line["started"][:4]) for line in lines)}

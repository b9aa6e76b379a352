"""What the timeline page (`/timeline`) shows: projects across time and the summits' steps.

A reader wants the whole programme at a glance, but a long log has thousands of projects,
so the page shows a bounded set: the projects most recently active by the page's day (their
latest event dated by then), optionally only those in one status then or with an event
involving one country, at most `limit` of them. They are found by walking the events
backwards in world order (the `effective_events_world_order` index), so the page costs what
it shows, not what the log holds; a filter that matches little stops the walk after
`WALK_BUDGET_MS` and the page says it looked no further.

Each project's bars are its status history on the page's axes: its rows in
`project_status_history` in force as known at `known_at` (an indexed read per project), or,
reported by a date, its projection's own fold of the events public reporting had told by
then (tracker.replay.keyed, as `tracker status --reported-by` answers it). A summit's steps
are the summit timeline's rows for it on the same axes. Plain functions of a sqlite3
connection, returning plain data for the template and the picture (tracker.publish.overview_svg).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from projections import project_status, summit_timeline

from tracker.publish import prose
from tracker.publish.pages import STATUSES, Bounds

#: How many projects the page shows unless asked for another number, and at most.
DEFAULT_LIMIT = 40
MAX_LIMIT = 200
#: Summits whose steps lead the page: the most recently stepped towards by the page's day.
SUMMITS = 3
#: The page stops looking for more projects this long after it began (reported time folds
#: each candidate's own events, a couple of milliseconds each at a million events).
WALK_BUDGET_MS = 100
#: A status that no longer moves: never overdue (project_status.overdue's rule).
SETTLED = ("completed", "cancelled")


class ChoiceError(ValueError):
    """A filter the page cannot answer: one line naming the parameter."""


@dataclass(frozen=True)
class Choice:
    """Which projects the reader asked for, besides the time axes."""

    status: str = ""
    country: str = ""
    limit: int = DEFAULT_LIMIT

    @property
    def query(self) -> dict[str, str]:
        """The filters for links: only those given."""
        return {k: v for k, v in (("status", self.status), ("country", self.country),
                                  ("limit", "" if self.limit == DEFAULT_LIMIT else str(self.limit))) if v}


def choice(status: str | None, country: str | None, limit: str | None, countries: set[str]) -> Choice:
    """The filters from the query string; raises ChoiceError for one the page cannot answer."""
    status = (status or "").strip()
    country = (country or "").strip().upper()
    if status and status not in STATUSES:
        raise ChoiceError(f"status '{status}': give one of {', '.join(STATUSES)}")
    if country and country not in countries:
        raise ChoiceError(f"country '{country}': give a country code the tracker knows ({', '.join(sorted(countries))})")
    text = (limit or "").strip()
    if not text:
        return Choice(status, country)
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ChoiceError(f"limit '{text}': give a whole number of projects from 1 to {MAX_LIMIT}")
    return Choice(status, country, int(text))


def _today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


#: The events by the page's day, the latest first, walking the world-order index backwards
#: (`+` keeps SQLite from leading with the recorded_at or countries indexes instead).
def _walk_sql(known: bool, country: bool) -> str:
    recorded = " AND +e.recorded_at <= :k" if known else ""
    involving = (" AND EXISTS (SELECT 1 FROM event_countries AS c WHERE c.country = :country AND c.seq = e.seq)"
                 if country else "")
    return f"""SELECT e.project, e.occurred_start FROM effective_events AS e
WHERE e.occurred_start <= :v AND +e.project IS NOT NULL{recorded}{involving}
ORDER BY e.occurred_start DESC, e.occurred_end DESC, e.seq DESC"""


#: One project's history rows with world time up to V, as the tracker said them at T.
SEGMENTS_SQL = f"""SELECT valid_from, valid_to, name, status, since, status_event, planned_for, planned_end,
  first_planned_for, rescheduled, event
FROM {project_status.HISTORY}
WHERE project = :project AND valid_from <= :v AND known_from <= :k AND (known_to IS NULL OR known_to > :k)
ORDER BY valid_from"""

#: The summits most recently stepped towards by V (recorded by T): their latest summit events.
SUMMITS_SQL = """SELECT project, max(occurred_start) AS latest FROM (
  SELECT project, occurred_start FROM effective_events
  WHERE kind = 'summit' AND project IS NOT NULL AND occurred_start <= :v AND +recorded_at <= :k
  ORDER BY occurred_start DESC LIMIT 100)
GROUP BY project ORDER BY latest DESC LIMIT :limit"""

#: One project's status as of V as the tracker said it at T: its latest history row by then.
STATUS_THEN_SQL = f"""SELECT status FROM {project_status.HISTORY}
WHERE project = :project AND valid_from <= :v AND known_from <= :k AND (known_to IS NULL OR known_to > :k)
ORDER BY valid_from DESC LIMIT 1"""
#: The projects in a status now (the `projects` view's partial index by status).
STATUS_NOW_SQL = "SELECT project FROM projects WHERE status = :status"

COUNTRY_CODES_SQL = "SELECT code FROM countries"
NO_BOUND = {"v": "9999-12-31", "k": "9999-12-31T23:59:59.999999Z"}


def country_codes(conn: sqlite3.Connection) -> set[str]:
    """The country codes a filter may name: the reference table's."""
    return {code for (code,) in conn.execute(COUNTRY_CODES_SQL)}


def _rows(conn: sqlite3.Connection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def _segments(conn: sqlite3.Connection, slug: str, when: Bounds, exact: dict[str, str]) -> list[dict[str, Any]]:
    """The project's status history on the page's axes, oldest first (dicts of the history's columns)."""
    if not when.reported:
        return _rows(conn, SEGMENTS_SQL, {**exact, "project": slug})
    from tracker.replay.keyed import key_events

    events = key_events(conn, project_status, slug, reported_by=when.reported, known_at=when.stamp)
    rows = project_status.fold(slug, events)
    names = project_status.ROW_COLUMNS
    return [row for row in (dict(zip(names, r)) for r in rows) if row["valid_from"] <= exact["v"]]


def _in_status(conn: sqlite3.Connection, status: str, when: Bounds, exact: dict[str, str]):
    """A test of whether a project was in `status` by the page's axes, cheaper than its whole
    history, so a walk with a status filter passes over the others quickly: now, one read of
    the projects in that status; as of a date or known at a moment, its latest row then. On
    reported time a project's status needs its own events, so every candidate is folded."""
    if when.reported:
        return lambda slug: True
    if not when.day and not when.stamp:
        members = {slug for (slug,) in conn.execute(STATUS_NOW_SQL, {"status": status})}
        return members.__contains__

    def then(slug: str) -> bool:
        row = conn.execute(STATUS_THEN_SQL, {**exact, "project": slug}).fetchone()
        return row is not None and row[0] == status

    return then


def _span(date: str | None) -> tuple[str | None, str | None]:
    """The first and last day a date as entered can mean (None, None for none, or for one the
    log holds but cannot be read: it is shown as entered and never drawn)."""
    from events.dates import iso_span

    try:
        return iso_span(date) if date else (None, None)
    except Exception:
        return None, None


def project_line(slug: str, segments: list[dict[str, Any]], day: str) -> dict[str, Any] | None:
    """One project's line of the picture: its status spans (each ending where the next begins,
    the last at the page's day), its schedule (planned against actual completion) and whether
    it is overdue on `day`; None for a project with no history by then."""
    if not segments:
        return None
    last = segments[-1]
    spans: list[dict[str, Any]] = []
    for i, s in enumerate(segments):
        until = segments[i + 1]["valid_from"] if i + 1 < len(segments) else None
        if spans and spans[-1]["status"] == s["status"]:  # a new plan or name, the same status: one span
            spans[-1]["to"] = until
            continue
        spans.append({"from": s["valid_from"], "to": until, "status": s["status"],
                      "status_name": prose.status_name(s["status"]), "event": s["event"]})
    planned_end = last["planned_end"]
    status = last["status"]
    completed_on = last["since"] if status == "completed" else None
    overdue = bool(planned_end and planned_end < day and status not in SETTLED)
    first = last.get("first_planned_for")
    line = {
        "project": slug,
        "name": last["name"] or slug,
        "status": status,
        "status_name": prose.status_name(status),
        "since": last["since"],
        "status_event": last["status_event"],
        "spans": spans,
        "planned_for": last["planned_for"],
        "planned": prose.when(last["planned_for"]),
        "planned_start": _span(last["planned_for"])[0],
        "planned_end": planned_end,
        "first_planned_for": first if first and first != last["planned_for"] else None,
        "first_planned": prose.when(first) if first and first != last["planned_for"] else None,
        "first_planned_end": _span(first)[1] if first and first != last["planned_for"] else None,
        "rescheduled": last["rescheduled"] or 0,
        "overdue": overdue,
        "overdue_since": (dt.date.fromisoformat(planned_end) + dt.timedelta(days=1)).isoformat() if overdue else None,
        "completed_on": completed_on,
        "completed": prose.when(completed_on) if completed_on else None,
        "started": segments[0]["valid_from"],
        "latest": last["valid_from"],
    }
    if completed_on and planned_end:
        line["against_plan"] = ("on time" if completed_on <= planned_end else
                                f"{(dt.date.fromisoformat(completed_on) - dt.date.fromisoformat(planned_end)).days} days late")
    return line


#: An event's date as entered (a status set by a "2024-11" event is "since 2024-11"): from
#: the effective events, or from the log for one retracted since.
OCCURRED_SQL = "SELECT id, occurred FROM {table} WHERE id IN ({marks})"


def _occurred(conn: sqlite3.Connection, ids: set[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for table in ("effective_events", "events"):
        wanted = sorted(ids - set(found))
        if wanted:
            found.update(conn.execute(OCCURRED_SQL.format(table=table, marks=", ".join("?" * len(wanted))),
                                      wanted).fetchall())
    return found


def _summit_steps(conn: sqlite3.Connection, slug: str, when: Bounds) -> list[dict[str, Any]]:
    """A summit's steps on the page's axes, in date order (the summit timeline's rows)."""
    if when.reported:
        from tracker.replay.keyed import key_answer

        rows = key_answer(conn, summit_timeline, slug, as_of=when.day, known_at=when.stamp, reported_by=when.reported)
    else:
        rows = _rows(conn, summit_timeline.AS_OF_SQL, {**when.params, "project": slug})
    return [{**r, "when": prose.when(r["occurred"]), "kind_name": prose.kind_name(r["kind"]),
             "status_name": prose.status_name(r["status"]), "planned": prose.when(r["planned_for"])} for r in rows]


def overview(conn: sqlite3.Connection, when: Bounds, chosen: Choice, *, today: str | None = None,
             budget_ms: float = WALK_BUDGET_MS) -> dict[str, Any]:
    """Everything `/timeline` shows: the summits' lines with their steps, and the projects
    most recently active by the page's day (`when.day`, else `today`, else today UTC) that
    pass the filters, at most `chosen.limit`, looked for for at most `budget_ms`."""
    day = when.day or today or _today()
    exact = {"v": when.day or NO_BOUND["v"], "k": when.stamp or NO_BOUND["k"]}
    deadline = time.monotonic() + budget_ms / 1000
    # which projects and summits to show: those most recently active by the day, or, on
    # reported time, by the day reporting is asked about (what had happened by then)
    chosen_by = {**exact, "v": min(exact["v"], when.reported or exact["v"])}

    summits = []
    for row in _rows(conn, SUMMITS_SQL, {**chosen_by, "limit": SUMMITS}):
        line = project_line(row["project"], _segments(conn, row["project"], when, exact), day)
        steps = _summit_steps(conn, row["project"], when)
        if line is not None and steps:
            summits.append({**line, "steps": steps})

    in_summits = {s["project"] for s in summits}
    walk = conn.execute(_walk_sql(when.stamp is not None, bool(chosen.country)),
                        {**chosen_by, "country": chosen.country})
    maybe = _in_status(conn, chosen.status, when, exact) if chosen.status else (lambda slug: True)
    seen: set[str] = set()
    lines: list[dict[str, Any]] = []
    more = stopped = False
    for scanned, (slug, _) in enumerate(walk):
        fresh = slug not in seen and slug not in in_summits
        if (fresh or scanned % 64 == 0) and time.monotonic() > deadline:
            # out of time: with the page full there may well be more; short of it, say so
            more, stopped = len(lines) == chosen.limit, len(lines) < chosen.limit
            break
        if not fresh:
            continue
        seen.add(slug)
        if not maybe(slug):
            continue
        line = project_line(slug, _segments(conn, slug, when, exact), day)
        if line is None or (chosen.status and line["status"] != chosen.status):
            continue
        if len(lines) == chosen.limit:
            more = True
            break
        lines.append(line)
    walk.close()
    # drawn as a Gantt chart: the longest-running first, so the picture reads left to right
    lines.sort(key=lambda line: (line["started"], line["name"].lower()))
    entered = _occurred(conn, {line["status_event"] for line in [*summits, *lines]})
    for line in [*summits, *lines]:
        line["since_text"] = prose.when(entered.get(line["status_event"])) or line["since"]
    return {"day": day, "projects": lines, "more": more, "stopped": stopped, "summits": summits,
            "status_name": prose.status_name(chosen.status) if chosen.status else None,
            "country_name": prose.country(chosen.country) if chosen.country else None}

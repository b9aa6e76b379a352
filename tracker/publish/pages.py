"""What the reader's pages show: a project (`/project/<slug>`), an event (`/event/<id>`) and
the home page's story, each read from the tracker's database in a few indexed queries.

Plain functions of a sqlite3 connection (Datasette runs them with `execute_fn`), returning
plain data for the templates; the routes (tracker.publish.routes) only parse the request
and render. They read what the projections and the log already hold: a project's state is
its projection module's own as-of SQL (`project_status.AS_OF_SQL`), an event's effective
form is the log's own rule (`tracker.log.amendments.effective_form`), and reported time is
the log's own filter on the page's few rows (tracker.publish.reported), so a page never
says something the command line would not. Both work on a live database and on a built
snapshot.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any

import orjson

from events.models import AMENDMENT_KINDS
from projections import project_status
from projections import sql as projection_sql

from tracker.log.amendments import Amendment, changes_made, effective_form, live_corrections
from tracker.log.reported import reported_on
from tracker.log.store import amendments_of
from tracker.publish import prose
from tracker.replay.effective import BODY_SQL

#: Events a project page lists (the latest; the events table has the rest).
PROJECT_EVENTS = 100
#: Status history rows a project page lists (the latest).
PROJECT_HISTORY = 60
#: Latest events on the home page, and projects listed under each status.
HOME_EVENTS = 8
HOME_PROJECTS_PER_STATUS = 6
#: The lifecycle, in order (DESIGN §4).
STATUSES = ("proposed", "negotiating", "agreed", "committed", "in_progress", "completed", "suspended", "cancelled")


@dataclass(frozen=True)
class Bounds:
    """The time axes a page is asked about, as typed (for links) and as exact bounds."""

    as_of: str = ""  # as typed: carried in links
    known_at: str = ""
    reported_by: str = ""
    day: str | None = None  # the last day as_of means (YYYY-MM-DD)
    stamp: str | None = None  # known_at as the log's recorded_at format
    reported: str | None = None  # the last day reported_by means (YYYY-MM-DD)

    @property
    def params(self) -> dict[str, str]:
        """The bounds for a projection's canned SQL, blank meaning none."""
        return {"as_of": self.day or "", "known_at": self.stamp or ""}

    @property
    def query(self) -> dict[str, str]:
        """The bounds for links: only those given."""
        return {k: v for k, v in (("as_of", self.as_of), ("known_at", self.known_at),
                                  ("reported_by", self.reported_by)) if v}

    @property
    def said(self) -> list[tuple[str, str]]:
        """The axes given, in words for the page's notice: (what it means, as typed)."""
        return [(words, value) for words, value in (
            ("as of", self.as_of), ("as the tracker knew it at", self.known_at),
            ("as public reporting had told it by", self.reported_by)) if value]

    @property
    def any(self) -> bool:
        return bool(self.day or self.stamp or self.reported)


def bounds(as_of: str | None, known_at: str | None, reported_by: str | None = None) -> Bounds:
    """The page's bounds from its query string; raises tracker.replay.timeaxes.TimeError
    (one line naming the parameter) for a date that cannot be understood."""
    from tracker.replay.timeaxes import as_of_day, known_at_stamp

    as_of, known_at, reported_by = ((v or "").strip() for v in (as_of, known_at, reported_by))
    return Bounds(as_of, known_at, reported_by, as_of_day(as_of, "as_of"),
                  known_at_stamp(known_at) if known_at else None, as_of_day(reported_by, "reported_by"))


def _rows(conn: sqlite3.Connection, sql: str, params: dict[str, Any] | tuple = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def _today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


def _sources(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [prose.source_line(s) for s in body.get("sources") or () if isinstance(s, dict)]


# --- a project ----------------------------------------------------------------------------

#: A project's status history as of V, known at T: its history rows that had begun by V.
PROJECT_HISTORY_SQL = projection_sql.BOUNDS + f"""SELECT h.valid_from, h.valid_to, h.name, h.status, h.since,
  h.planned_for, h.planned_end, h.rescheduled, h.event
FROM bounds AS b, {project_status.HISTORY} AS h
WHERE h.project = :project AND h.valid_from <= b.v
  AND h.known_from <= b.k AND (h.known_to IS NULL OR h.known_to > b.k)
ORDER BY h.valid_from DESC
LIMIT :limit"""

#: A project's events up to V, recorded by T, the latest first.
PROJECT_EVENTS_SQL = projection_sql.BOUNDS + f"""SELECT e.id, e.seq, e.kind, e.occurred, e.occurred_start,
  e.occurred_end, e.recorded_at, e.summary, e.status, e.corrected, {BODY_SQL} AS body
FROM bounds AS b, effective_events AS e
WHERE e.project = :project AND e.occurred_start <= b.v AND e.recorded_at <= b.k
ORDER BY e.occurred_start DESC, e.occurred_end DESC, e.seq DESC
LIMIT :limit"""

PROJECT_EVENT_COUNT_SQL = projection_sql.BOUNDS + """SELECT count(*) FROM bounds AS b, effective_events AS e
WHERE e.project = :project AND e.occurred_start <= b.v AND e.recorded_at <= b.k"""


def project_exists(conn: sqlite3.Connection, slug: str) -> bool:
    """Has the log ever named this project (in any form the tracker has held)?"""
    return conn.execute(f"SELECT 1 FROM {project_status.HISTORY} WHERE project = ? LIMIT 1", (slug,)).fetchone() is not None


def _as_known(conn: sqlite3.Connection, event: dict[str, Any], stamp: str | None) -> dict[str, Any] | None:
    """An event row's body as the tracker held it at `stamp` (its corrections then), or None
    if it was retracted by then. With no stamp, or no correction, the body as stored."""
    body = orjson.loads(event["body"])
    if stamp is None or not event.get("corrected"):
        return body
    row = conn.execute("SELECT body FROM events WHERE id = ?", (event["id"],)).fetchone()
    if row is None:
        return body
    amendments = [Amendment.from_record(s.record, s.seq, s.recorded_at) for s in amendments_of(conn, event["id"])]
    return effective_form(orjson.loads(row[0]), amendments, stamp)


def _occurred(conn: sqlite3.Connection, ids: set[str]) -> dict[str, str]:
    """Each event's date as entered (`occurred`), by id."""
    found: dict[str, str] = {}
    for event_id in ids:
        row = conn.execute("SELECT occurred FROM effective_events WHERE id = ?", (event_id,)).fetchone()
        if row is None:  # retracted since: the log still has the date as entered
            row = conn.execute("SELECT occurred FROM events WHERE id = ?", (event_id,)).fetchone()
        if row is not None:
            found[event_id] = row[0]
    return found


def _project_as_reported(conn: sqlite3.Connection, slug: str, when: Bounds) -> tuple[list, list, list, int]:
    """A project's state, status history (latest first) and events (the latest first, with
    their forms then as `body`) as reported by `when.reported`: read from the project's own
    events (tracker.publish.reported), asked the same SQL as the live tables."""
    from tracker.publish import reported

    memory = reported.project_history(conn, slug, reported_by=when.reported, known_at=when.stamp)
    try:
        asked = {"as_of": when.day or "", "known_at": "", "project": slug}
        state = _rows(memory, project_status.AS_OF_SQL, asked)
        history = _rows(memory, PROJECT_HISTORY_SQL, {**asked, "limit": PROJECT_HISTORY + 1})
    finally:
        memory.close()
    found = reported.project_events(conn, slug, as_of=when.day, reported_by=when.reported, known_at=when.stamp)
    rows = [{"id": e.id, "seq": e.seq, "kind": e.form["kind"], "occurred": e.form["occurred"],
             "occurred_start": span["occurred_start"], "occurred_end": span["occurred_end"],
             "recorded_at": e.recorded_at, "summary": e.form.get("summary"), "status": e.form.get("status"),
             "corrected": int(bool(e.amendments)), "body": e.form}
            for e, span in found[:PROJECT_EVENTS]]
    return state, history, rows, len(found)


def project(conn: sqlite3.Connection, slug: str, when: Bounds) -> dict[str, Any] | None:
    """Everything `/project/<slug>` shows, or None for a project the log never named."""
    if not project_exists(conn, slug):
        return None
    params = {**when.params, "project": slug}
    if when.reported:
        state, history, rows, total = _project_as_reported(conn, slug, when)
    else:
        state = _rows(conn, project_status.AS_OF_SQL, params)
        history = _rows(conn, PROJECT_HISTORY_SQL, {**params, "limit": PROJECT_HISTORY + 1})
        rows = _rows(conn, PROJECT_EVENTS_SQL, {**params, "limit": PROJECT_EVENTS})
        total = conn.execute(PROJECT_EVENT_COUNT_SQL, params).fetchone()[0] if len(rows) == PROJECT_EVENTS else len(rows)
        for row in rows:
            row["body"] = _as_known(conn, row, when.stamp)
    history = list(reversed(history))
    earlier_history = len(history) > PROJECT_HISTORY
    history = history[-PROJECT_HISTORY:]
    events = []
    for row in reversed(rows):
        body = row["body"]
        if body is None:
            continue
        events.append({**row, "body": body, "when": prose.when(body.get("occurred", row["occurred"])),
                       "kind_name": prose.kind_name(row["kind"]), "summary": body.get("summary", row["summary"]),
                       "sources": _sources(body), "what": prose.what(body)})
    # a status history in words: one entry per change of status or of planned date
    changes = []
    for h in history:
        if changes and changes[-1]["status"] == h["status"] and changes[-1]["planned_for"] == h["planned_for"]:
            continue
        changes.append({**h, "from": h["valid_from"], "status_name": prose.status_name(h["status"]),
                        "planned": prose.when(h["planned_for"])})
    # dates as entered: a status set by a "2024-11" event is "since 2024-11", not 2024-11-01
    entered = _occurred(conn, {h["event"] for h in history} | ({state[0]["event"]} if state else set()))
    for change in changes:
        change["from"] = prose.when(entered.get(change["event"])) or change["valid_from"]
    current = state[0] if state else None
    name = (current or {}).get("name") or (history[-1]["name"] if history else None)
    summit = conn.execute("SELECT 1 FROM summit_timeline_history WHERE project = ? LIMIT 1", (slug,)).fetchone()
    day = when.day or _today()
    return {
        "slug": slug,
        "name": name or slug,
        "state": current and {
            **current,
            "status_name": prose.status_name(current["status"]),
            "since_text": prose.when(entered.get(current["event"])) or current["since"],
            "planned": prose.when(current["planned_for"]),
            "first_planned": prose.when(current.get("first_planned_for")),
            "schedule": project_status.schedule(current),
        },
        "history": changes,
        "earlier_history": earlier_history,
        "events": events,
        "event_count": total,
        "summit": summit is not None,
        "day": day,
        "segments": history,
    }


# --- an event -----------------------------------------------------------------------------

EVENT_ROW_SQL = "SELECT seq, kind, occurred, recorded_at, body FROM events WHERE id = ?"


def event(conn: sqlite3.Connection, event_id: str, when: Bounds) -> dict[str, Any] | None:
    """Everything `/event/<id>` shows, or None for an id the log does not hold.

    The event is shown in its effective form as known at `when.stamp` (now, with none):
    the original with its live corrections applied. A retracted event is still shown, as
    it stood before the retraction, under the retraction's notice."""
    row = conn.execute(EVENT_ROW_SQL, (event_id,)).fetchone()
    if row is None:
        return None
    seq, kind, occurred, recorded_at, body = row
    record = orjson.loads(body)
    recorded_yet = when.stamp is None or recorded_at <= when.stamp
    page: dict[str, Any] = {"id": event_id, "seq": seq, "kind": kind, "kind_name": prose.kind_name(kind),
                            "recorded_at": recorded_at, "recorded_yet": recorded_yet, "reported_yet": True,
                            "reported_on": reported_on(record, recorded_at)}
    if kind in AMENDMENT_KINDS:
        page.update(amendment=True, target=record.get("target"), reason=record.get("reason"),
                    changes=[{"field": k, "new": prose.change_value(v)} for k, v in (record.get("changes") or {}).items()],
                    sources=_sources(record), when=prose.when(record.get("occurred")), what=prose.what(record))
        return page
    if when.reported:
        # as reported by then: the event and the amendments that count by the log's rules
        from tracker.publish.reported import as_reported

        seen = as_reported(conn, event_id, reported_by=when.reported, known_at=when.stamp)
        known = list(seen.amendments)
        page.update(reported_on=seen.reported_on, reported_yet=seen.counted or not recorded_yet)
    else:
        stored = amendments_of(conn, event_id)
        amendments = [Amendment.from_record(s.record, s.seq, s.recorded_at) for s in stored]
        known = [a for a in amendments if when.stamp is None or (a.recorded_at or "") <= when.stamp]
    retraction = next((a for a in known if a.kind == "retraction" and a.target == event_id), None)
    withdrawn = {a.target for a in known if a.kind == "retraction"}
    before_retraction = [a for a in known if not (a.kind == "retraction" and a.target == event_id)]
    live = live_corrections(event_id, before_retraction) or []
    form = effective_form(record, before_retraction) or record
    corrections = []
    for account in changes_made(record, live):
        corrections.append({**account, "sources": [prose.source_line(s) for s in account["sources"]],
                            "changes": [{"field": c["field"], "old": prose.change_value(c["old"]),
                                         "new": prose.change_value(c["new"])} for c in account["changes"]]})
    withdrawn_corrections = [
        {"id": a.id, "recorded_at": a.recorded_at, "reason": a.reason, "fields": list(a.changes)}
        for a in known if a.kind == "correction" and a.id in withdrawn
    ]
    project_slug = form.get("project")
    project_name = None
    if project_slug:
        found = conn.execute(f"SELECT name FROM {project_status.HISTORY} WHERE project = ? AND known_to IS NULL"
                             " ORDER BY valid_from DESC LIMIT 1", (project_slug,)).fetchone()
        project_name = found[0] if found else None
    location = form.get("location") if isinstance(form.get("location"), dict) else None
    figure = kind == "figure"
    page.update(
        amendment=False,
        form=form,
        what=prose.what(form, project_name),
        summary=form.get("summary"),
        when=prose.when(form.get("occurred")),
        countries=prose.countries(form.get("countries")),
        where=(location or {}).get("name"),
        location=location,
        parties=prose.listed(form.get("parties") or form.get("participants")
                             or [p for p in (form.get("buyer"), form.get("supplier"), form.get("announcer")) if p]),
        value=prose.amount(form["amount"], form.get("unit")) if figure else prose.money(form.get("value")),
        planned=prose.when(form.get("planned_for")),
        project=project_slug,
        project_name=project_name or project_slug,
        status=prose.status_name(form.get("status")),
        note=form.get("note"),
        sources=_sources(form),
        corrections=corrections,
        withdrawn_corrections=withdrawn_corrections,
        retraction=retraction and {"id": retraction.id, "recorded_at": retraction.recorded_at,
                                   "reason": retraction.reason,
                                   "sources": [prose.source_line(s) for s in retraction.sources]},
        after_day=bool(when.day) and _start(form) > when.day,
    )
    return page


def _start(form: dict[str, Any]) -> str:
    from events.dates import iso_span

    try:
        return iso_span(form["occurred"])[0]
    except Exception:  # an unreadable date is shown as entered, never compared
        return ""


# --- the home page ------------------------------------------------------------------------

#: (events and agreements summed from event_days, a row per day and kind, not counted one by one)
HOME_NUMBERS_SQL = """SELECT
  (SELECT coalesce(sum(events), 0) FROM event_days) AS events,
  (SELECT coalesce(sum(events), 0) FROM event_days WHERE kind IN ('signing', 'mou')) AS agreements,
  (SELECT count(*) FROM projects) AS projects,
  (SELECT count(*) FROM country_tallies WHERE events > 0) AS countries"""

HOME_LATEST_SQL = """SELECT id, kind, occurred, summary, project, countries
FROM effective_events WHERE occurred_start <= :today
ORDER BY occurred_start DESC, occurred_end DESC, seq DESC LIMIT :limit"""

#: How many projects are in each status (the partial index of current rows, by status).
HOME_STATUS_COUNTS_SQL = "SELECT status, count(*) AS n FROM projects GROUP BY status"
#: A status's projects: the overdue first (few), then the rest in the index's order, a few.
HOME_STATUS_PROJECTS_SQL = """SELECT * FROM (SELECT project, name, status, since, planned_for, overdue FROM projects
  WHERE status = :status AND overdue = 1 ORDER BY project LIMIT :limit)
UNION ALL
SELECT * FROM (SELECT project, name, status, since, planned_for, overdue FROM projects
  WHERE status = :status AND overdue = 0 ORDER BY project LIMIT :limit)"""
#: Overdue projects by status (a status neither completed nor cancelled, its date passed).
HOME_OVERDUE_SQL = "SELECT status, count(*) AS n FROM projects WHERE overdue = 1 GROUP BY status"

#: The summits most recently stepped towards (their latest summit events), and when each is
#: planned for: read from the latest summit events by index, however long the log.
HOME_SUMMITS_SQL = """WITH recent AS (
  SELECT project, max(occurred_start) AS latest FROM (
    SELECT project, occurred_start FROM effective_events
    WHERE kind = 'summit' AND project IS NOT NULL ORDER BY occurred_start DESC LIMIT 100)
  GROUP BY project ORDER BY latest DESC LIMIT 3)
SELECT p.project, p.name, p.status, p.planned_for, p.overdue
FROM recent r JOIN projects p ON p.project = r.project
ORDER BY r.latest DESC"""


#: The home page as of V (and known at T), with exact bounds (`:v` a day, `:k` the log's
#: stamp): the events dated by V, recorded by T, counted from indexes alone
#: (tracker.publish.schema's on occurred_start and recorded_at).
def _dated(known: bool, covered: bool = True) -> str:
    """The WHERE for both bounds; `covered`: counted from the (occurred_start, recorded_at)
    indexes (`+` keeps SQLite from leading with recorded_at alone, and a row lookup each)."""
    recorded = f" AND {'+' if covered else ''}recorded_at <= :k" if known else ""
    return f"occurred_start <= :v{recorded}"


def _home_as_of_sql(known: bool) -> dict[str, str]:
    # as of V alone, summed from event_days; known at T as well, counted (event_days has no
    # knowledge time)
    numbers = f"""SELECT
  (SELECT count(*) FROM effective_events WHERE {_dated(known)}) AS events,
  (SELECT count(*) FROM effective_events WHERE kind IN ('signing', 'mou') AND {_dated(known)}) AS agreements""" if known else """SELECT
  (SELECT coalesce(sum(events), 0) FROM event_days WHERE day <= :v) AS events,
  (SELECT coalesce(sum(events), 0) FROM event_days WHERE kind IN ('signing', 'mou') AND day <= :v) AS agreements"""
    return {
        "numbers": numbers,
        "latest": f"""SELECT id, kind, occurred, summary, project, countries FROM effective_events
WHERE {_dated(known, covered=False)} ORDER BY occurred_start DESC, occurred_end DESC, seq DESC LIMIT :limit""",
        # the summits most recently stepped towards by V
        "summits": f"""SELECT project, max(occurred_start) AS latest FROM (
  SELECT project, occurred_start FROM effective_events
  WHERE kind = 'summit' AND project IS NOT NULL AND {_dated(known, covered=False)} ORDER BY occurred_start DESC LIMIT 100)
GROUP BY project ORDER BY latest DESC LIMIT 3""",
    }


HOME_AS_OF_SQL = {known: _home_as_of_sql(known) for known in (False, True)}
#: The countries with tallies now, and those of the reference table: their tallies then are asked one by one.
HOME_COUNTRY_CODES_SQL = "SELECT country FROM country_tallies UNION SELECT code FROM countries"


def home(conn: sqlite3.Connection, when: Bounds | None = None) -> dict[str, Any]:
    """The home page's story: headline numbers, the latest events, projects by status with
    the overdue flagged, and when the summit is planned for; as of `when.day` and known at
    `when.stamp` when given (from the projections' own as-of SQL), else now."""
    when = when or Bounds()
    if when.day or when.stamp:
        return _home_as_of(conn, when)
    numbers = _rows(conn, HOME_NUMBERS_SQL)[0]
    latest = _rows(conn, HOME_LATEST_SQL, {"today": _today(), "limit": HOME_EVENTS})
    counts = {r["status"]: r["n"] for r in _rows(conn, HOME_STATUS_COUNTS_SQL)}
    overdue = {r["status"]: r["n"] for r in _rows(conn, HOME_OVERDUE_SQL)}
    listed = {status: _rows(conn, HOME_STATUS_PROJECTS_SQL, {"status": status, "limit": HOME_PROJECTS_PER_STATUS})
              for status in counts}
    return _story(numbers, latest, counts, overdue, listed, _rows(conn, HOME_SUMMITS_SQL))


#: The home page as of a date groups every project's row then (the `project_status_on`
#: question) only up to this many projects: a few hundred take a few ms and read well, but
#: 2,000 took the page to 200 ms, and tens of thousands (a synthetic million events) to a
#: third of a second, so past this the page links to that question instead. Its countries,
#: asked one by one, stop after HOME_AS_OF_BUDGET_MS.
HOME_AS_OF_MAX_PROJECTS = 500
HOME_AS_OF_BUDGET_MS = 40
HOME_PROJECT_COUNT_SQL = "SELECT count(*) FROM projects"


def _countries_then(conn: sqlite3.Connection, when: Bounds) -> int | None:
    """How many countries had events as of V, known at T: each country's tallies then by its
    own key (all keys at once read the whole history); None past HOME_AS_OF_BUDGET_MS."""
    import time

    from projections import country_tallies

    deadline = time.monotonic() + HOME_AS_OF_BUDGET_MS / 1000
    involved = 0
    for (code,) in conn.execute(HOME_COUNTRY_CODES_SQL).fetchall():
        if time.monotonic() > deadline:
            return None
        rows = _rows(conn, country_tallies.AS_OF_SQL, {**when.params, "country": code})
        involved += any(row.get("events") for row in rows)
    return involved


def _home_as_of(conn: sqlite3.Connection, when: Bounds) -> dict[str, Any]:
    """The home page as of a date, known at a moment: every project's row then (the
    projection's AS_OF_SQL, the `project_status_on` question), grouped here, up to
    HOME_AS_OF_MAX_PROJECTS projects (past that the page links to that question)."""
    sql = HOME_AS_OF_SQL[when.stamp is not None]
    exact = {"v": when.day or "9999-12-31", "k": when.stamp}
    numbers = _rows(conn, sql["numbers"], exact)[0]
    projects = None
    if conn.execute(HOME_PROJECT_COUNT_SQL).fetchone()[0] <= HOME_AS_OF_MAX_PROJECTS:
        projects = _rows(conn, project_status.AS_OF_SQL, {**when.params, "project": ""})
    numbers.update(projects=None if projects is None else len(projects), countries=_countries_then(conn, when))
    counts: dict[str, int] = {}
    overdue: dict[str, int] = {}
    listed: dict[str, list[dict[str, Any]]] = {}
    for p in sorted(projects or (), key=lambda p: (not p["overdue"], p["project"])):
        counts[p["status"]] = counts.get(p["status"], 0) + 1
        overdue[p["status"]] = overdue.get(p["status"], 0) + bool(p["overdue"])
        listed.setdefault(p["status"], []).append(p)
    summits = [row for r in _rows(conn, sql["summits"], exact)
               for row in _rows(conn, project_status.AS_OF_SQL, {**when.params, "project": r["project"]})]
    latest = _rows(conn, sql["latest"], {**exact, "limit": HOME_EVENTS})
    story = _story(numbers, latest, counts, overdue, listed, summits)
    story["statuses_unanswered"] = projects is None
    return story


def _story(numbers: dict[str, Any], latest: list[dict[str, Any]], counts: dict[str, int], overdue: dict[str, int],
           listed: dict[str, list[dict[str, Any]]], summits: list[dict[str, Any]]) -> dict[str, Any]:
    """The home page's data in words, whatever it was read as of."""
    groups = []
    for status in [s for s in STATUSES if s in counts] + sorted(s for s in counts if s not in STATUSES):
        groups.append({"status": status, "status_name": prose.status_name(status), "count": counts[status],
                       "overdue": overdue.get(status, 0),
                       "projects": [{**p, "planned": prose.when(p["planned_for"])}
                                    for p in listed.get(status, [])[:HOME_PROJECTS_PER_STATUS]]})
    return {
        "numbers": numbers,
        "latest": [{**e, "when": prose.when(e["occurred"]), "kind_name": prose.kind_name(e["kind"])} for e in latest],
        "statuses": groups,
        "summits": [{**s, "planned": prose.when(s["planned_for"]), "status_name": prose.status_name(s["status"])}
                    for s in summits],
    }

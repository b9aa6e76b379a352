"""Project status: the lifecycle and schedule of every project (DESIGN §4, §6), keyed by project.

History rows are *state segments*: each says that from `valid_from` (inclusive) to
`valid_to` (exclusive; NULL = still) the project had this name, status and schedule. A
new segment starts on a day whose events change any of them; several events on one day
make one segment (the state after the last of them). `since` is the day the project
entered its current status and `status_event` the event that put it there (repeating the
same status does not reset them); `event` is the event that opened the row.

The schedule: any event about a project may report when it is planned to happen or be
finished (`planned_for`, EDTF). `planned_for` is the one reported by the latest such
event in world order, kept as entered, with `planned_end` its last day (ISO);
`first_planned_for` is the first one reported. `rescheduled` counts the moves to a later
date: the times a reported date's last day came after the last day of the one before
(so narrowing `2025` to `2025-09`, or bringing a date forward, is no rescheduling, and
moving back later again is one more). `overdue` is not stored: it depends on the day
asked about, not on any event, so the questions work it out from `planned_end` (overdue
from the day after it, as of V; today, UTC, when no V is given) and the status (never
overdue once `completed` or `cancelled`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from events.dates import abbreviated, iso_span
from events.models import MODELS

from . import sql
from .protocol import CannedQuery, Command

NAME = "project_status"
VERSION = 3
SHAPE = "state"
HISTORY = "project_status_history"
KEY_COLUMN = "project"
ROW_COLUMNS = (
    "valid_from", "valid_to", "project", "name", "status", "since", "status_event",
    "planned_for", "planned_end", "first_planned_for", "rescheduled", "event",
)
FIELDS = ("kind", "project", "status", "project_name", "planned_for")
KEY_FILTER = "project = ?"
#: The key of an `effective_events` row as SQL (NULL or '': none), for folding every key in one query.
KEY_SQL = "project"
#: No index is needed while a full replay writes the rows.
RUN_INDEXES: frozenset[str] = frozenset()


def overdue(day: str, prefix: str = "") -> str:
    """SQL: 1 when the planned date's last day is before `day` (an SQL expression) and the
    project is neither completed nor cancelled, else 0 (also with no planned date)."""
    return (f"CASE WHEN {prefix}planned_end < {day} AND {prefix}status NOT IN ('completed', 'cancelled')"
            " THEN 1 ELSE 0 END")


#: The day `overdue` is judged on in the as-of questions: V, or today (UTC) with no --as-of.
OVERDUE_DAY = "(CASE WHEN coalesce(:as_of, '') = '' THEN date('now') ELSE b.v END)"

SCHEMA = f"""
CREATE TABLE project_status_history (
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    project TEXT NOT NULL,
    name TEXT,
    status TEXT NOT NULL,
    since TEXT NOT NULL,
    status_event TEXT NOT NULL REFERENCES effective_events (id),
    planned_for TEXT,
    planned_end TEXT,
    first_planned_for TEXT,
    rescheduled INTEGER NOT NULL,
    event TEXT NOT NULL REFERENCES effective_events (id),
    known_from TEXT NOT NULL,
    known_to TEXT
);
CREATE INDEX project_status_history_as_of
    ON project_status_history (project, valid_from, known_from, valid_to, known_to);
CREATE INDEX project_status_history_current
    ON project_status_history (project) WHERE known_to IS NULL;
CREATE VIEW projects AS
    SELECT project, name, status, since, status_event AS event, planned_for, rescheduled,
           {overdue("date('now')")} AS overdue, first_planned_for, planned_end
    FROM project_status_history
    WHERE known_to IS NULL AND valid_to IS NULL;
"""

FIRST_STATUS = "proposed"
DEFAULT_STATUS = {kind: model.default_status for kind, model in MODELS.items()}


def keys(event: dict[str, Any]) -> Iterable[str]:
    project = event.get("project")
    return (project,) if project else ()


#: A project before its first event: (name, status, since, status_event, planned_for,
#: planned_end, first_planned_for, rescheduled).
NOTHING = (None, None, None, None, None, None, None, 0)


def step(state: tuple | None, event: dict[str, Any]) -> tuple:
    """The state after one event: (name, status, since, status_event, planned_for,
    planned_end, first_planned_for, rescheduled), the row's columns between the key and
    the opening event."""
    (name, status, since, status_event,
     planned_for, planned_end, first_planned_for, rescheduled) = state or NOTHING
    new_status = event.get("status") or DEFAULT_STATUS.get(event["kind"]) or status or FIRST_STATUS
    if new_status != status:
        status, since, status_event = new_status, event["occurred_start"], event["id"]
    if event.get("project_name"):
        name = event["project_name"]
    planned = event.get("planned_for")
    if planned:
        end = iso_span(planned)[1]
        if planned_for is None:
            first_planned_for = planned
        elif end > planned_end:
            rescheduled += 1
        planned_for, planned_end = planned, end
    return (name, status, since, status_event, planned_for, planned_end, first_planned_for, rescheduled)


def fold(key: str, events: list[dict[str, Any]]) -> list[tuple]:
    """State segments of one project from its events in world order."""
    segments: list[list] = []  # [valid_from, state, opening event]
    state = None
    for event in events:
        new = step(state, event)
        day = event["occurred_start"]
        if new != state:
            if segments and segments[-1][0] == day:
                segments[-1][1], segments[-1][2] = new, event["id"]
            else:
                segments.append([day, new, event["id"]])
        state = new
    rows = []
    for i, (day, state, opened_by) in enumerate(segments):
        if rows and rows[-1][3:-1] == state:
            continue  # a same-day change undone later that day
        until = segments[i + 1][0] if i + 1 < len(segments) else None
        rows.append((day, until, key, *state, opened_by))
    # valid_to is where the next *kept* segment starts
    return [
        (*row[:1], rows[i + 1][0] if i + 1 < len(rows) else None, *row[2:])
        for i, row in enumerate(rows)
    ]


def resume(key: str, events: list[dict[str, Any]]) -> tuple:
    """What `extend` needs to carry on from these events: the state and the open row."""
    state = None
    for event in events:
        state = step(state, event)
    rows = fold(key, events)
    return (state, rows[-1] if rows else None)


def extend(key: str, carry: tuple, event: dict[str, Any]):
    """The fast path for an event that comes after all the key's others in world order.

    Returns (rows dropped, rows added, new carry), or None to ask for a full refold.
    """
    state, last = carry
    new = step(state, event)
    if new == state:
        return (), (), carry
    day = event["occurred_start"]
    row = (day, None, key, *new, event["id"])
    if last is None:
        return (), (row,), (new, row)
    if last[0] == day:
        return None  # a same-day change: let fold() merge the day
    return (last,), ((last[0], day, *last[2:]), row), (new, row)


# --- what the tracker asks and shows (see projections.protocol) ----------------------------

#: What a question answers: the contract's columns, then what a reader of the schedule wants.
ANSWER_COLUMNS = (
    "project", "name", "status", "since", "event", "planned_for", "rescheduled", "overdue",
    "first_planned_for", "planned_end",
)
NOW_SQL = sql.current(", ".join(ANSWER_COLUMNS), "projects", KEY_COLUMN)
AS_OF_SQL = sql.keyed_or_all(
    "h.project, h.name, h.status, h.since, h.status_event AS event, h.planned_for, h.rescheduled, "
    f"{overdue(OVERDUE_DAY, 'h.')} AS overdue, h.first_planned_for, h.planned_end",
    HISTORY, "", "project", KEY_COLUMN,
)


def schedule(row: dict[str, Any]) -> str | None:
    """A project's schedule in words, for a table: "planned 2026-09-16/17, rescheduled once,
    from 2025", "planned 2025; overdue since 2026-01-01". Dates keep the precision they were
    given (`abbreviated`); None with no planned date."""
    planned = row.get("planned_for")
    if not planned:
        return None
    words = [f"planned {abbreviated(planned)}"]
    moves, first = row.get("rescheduled") or 0, row.get("first_planned_for")
    if moves:
        words.append("rescheduled " + {1: "once", 2: "twice"}.get(moves, f"{moves} times"))
    if first and first != planned:
        words.append(f"{'from' if moves else 'first planned for'} {abbreviated(first)}")
    text = ", ".join(words)
    if row.get("overdue") and row.get("planned_end"):
        text += f"; overdue since {dt.date.fromisoformat(row['planned_end']) + dt.timedelta(days=1)}"
    return text


COMMAND = Command(
    name="status",
    help="""Project status: each project's name, status, since when, the event that set it, and its schedule.

    The schedule is the planned date last reported, how many times it moved later, and
    whether it has passed with the project neither completed nor cancelled ("planned 2025,
    rescheduled once, from 2024; overdue since 2026-01-01"): overdue as of --as-of, or
    today. With PROJECT, that project only (--json prints one object, with planned_for,
    rescheduled, overdue, first_planned_for and planned_end).
    """,
    key_help="One project's slug.",
    key_metavar="[PROJECT]",
    key_names="project",
    noun=("project", "projects"),
    columns=("project", "name", "status", "since", "schedule", "event"),
    derived={"schedule": schedule},
    event_days=("since",),
    one=True,
    missing="no project '{key}'{when}: it does not appear until later",
)

CANNED_QUERY = CannedQuery(
    name="project_status_on",
    title="Project status on a date",
    description_html=(
        "<p>Every project's status as of a date in world time. Give <code>as_of</code> as YYYY, "
        "YYYY-MM or YYYY-MM-DD (a partial date means the end of its period; blank means no "
        "limit: everything up to now and anything already dated later). Optionally give "
        "<code>known_at</code> (a date, meaning the end of that day UTC, or a timestamp such as "
        "2025-01-15T10:30:00Z) to see what the tracker said at that moment, before any later "
        "correction; blank means as known now. <code>project</code> (a slug) narrows it to one "
        "project; blank means all.</p> <p>Each project's schedule comes with it: the planned "
        "date last reported by then, how many times it had moved later, and whether it was "
        "<code>overdue</code> on the <code>as_of</code> date (today with no date): past its "
        "planned date's last day, and neither completed nor cancelled.</p>"
    ),
    sql=AS_OF_SQL,
    parameters=("as_of", "known_at", "project"),
)

DATASETTE_TABLES = {
    "projects": {
        "title": "Projects",
        "description": "Every project, programme and summit the tracker follows, with its status now.",
        "label_column": "name",
        "sort": "project",
        "facets": ["status"],
        "columns": {
            "project": "The project's slug.",
            "name": "The project's human name (the latest one given).",
            "status": "Its lifecycle status now (proposed, negotiating, agreed, committed, in_progress, "
                      "completed, suspended, cancelled).",
            "since": "The day the status took effect (ISO date).",
            "event": "The event that put it in that status.",
            "planned_for": "When it is planned to happen or be finished, as the latest event (in world order) "
                           "that gives a date reported it; as entered (EDTF: a year stays a year).",
            "rescheduled": "How many times the planned date moved later (its last day later than the one "
                           "before).",
            "overdue": "1 when today (UTC; in a published snapshot, the day it was built) is after the "
                       "planned date's last day and the project is neither completed nor cancelled.",
            "first_planned_for": "The first planned date reported for it.",
            "planned_end": "The last day the planned date can mean (ISO date): overdue from the day after.",
        },
    },
    "project_status_history": {
        "title": "Project status history (bitemporal)",
        "description": "Every status a project has had, with when it held in the world (valid_from to valid_to) "
                       "and when the tracker said so (known_from to known_to). Use the canned query \"Project "
                       "status on a date\" rather than reading this by hand.",
        "sort": "project",
        "facets": ["status", "project"],
        "columns": {
            "project": "The project's slug.",
            "name": "The project's name at the time.",
            "status": "The status it was in.",
            "since": "The day the status took effect.",
            "status_event": "The event that put the project in this status.",
            "planned_for": "The planned date in force, as entered (the latest reported in world order).",
            "planned_end": "The planned date's last day (ISO date): a project not completed or cancelled is "
                           "overdue from the day after.",
            "first_planned_for": "The first planned date reported for the project.",
            "rescheduled": "How many times the planned date had moved later by then.",
            "valid_from": "World time the row starts holding (ISO date, inclusive).",
            "valid_to": "World time the row stops holding (exclusive; blank = still holds).",
            "known_from": "When the tracker started saying this (UTC).",
            "known_to": "When the tracker stopped saying this (UTC; blank = still says it).",
            "event": "The event that opened the row (the latest event folded into it).",
        },
    },
}

#: Datasette links an event to its project, and a project to the event that set its status.
FOREIGN_KEYS = {
    "effective_events": [("project", "projects", "project")],
    "projects": [("event", "effective_events", "id")],
    "project_status_history": [("project", "projects", "project"), ("event", "effective_events", "id")],
}
#: In a built snapshot `projects` is a table, so that a project has a row page of its own.
MATERIALIZE = {"projects": "project"}

#: The `projects` view's WHERE: the current rows, a few percent of the history.
CURRENT_ROWS = "known_to IS NULL AND valid_to IS NULL"
#: The `projects` page's row count and status facet, which would otherwise read the whole history.
PUBLISH_INDEXES = [
    (HISTORY, ("status", "project"), CURRENT_ROWS),
    (HISTORY, ("project",), CURRENT_ROWS),
]

"""The summit timeline: every event about a summit project, with the project's status after it.

A summit project is one that at least one `summit` event names. History rows are
*timeline entries*: one per event about a summit project, entering the timeline (its
`valid_from`) on the later of the event's own day (`on`) and the day of the project's
first summit event, so that "as of V" shows a project only once a summit event had
named it by V. Entries never leave the timeline in world time (`valid_to` is NULL);
corrections and retractions close them in knowledge time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import project_status, sql
from .protocol import CannedQuery, Command

NAME = "summit_timeline"
VERSION = 2
SHAPE = "state"
HISTORY = "summit_timeline_history"
KEY_COLUMN = "project"
ROW_COLUMNS = (
    "valid_from", "valid_to", "on", "occurred_end", "occurred", "project", "status", "planned_for",
    "location", "summary", "kind", "seq", "event",
)
FIELDS = ("kind", "occurred", "project", "status", "project_name", "planned_for", "location", "summary")
KEY_FILTER = "project = ?"
#: The key of an `effective_events` row as SQL (NULL or '': none), for folding every key in one query.
KEY_SQL = "project"
#: No index is needed while a full replay writes the rows.
RUN_INDEXES: frozenset[str] = frozenset()

SCHEMA = """
CREATE TABLE summit_timeline_history (
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    "on" TEXT NOT NULL,
    occurred_end TEXT NOT NULL,
    occurred TEXT NOT NULL,
    project TEXT NOT NULL,
    status TEXT NOT NULL,
    planned_for TEXT,
    location TEXT,
    summary TEXT,
    kind TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL REFERENCES effective_events (id),
    known_from TEXT NOT NULL,
    known_to TEXT
);
CREATE INDEX summit_timeline_history_as_of
    ON summit_timeline_history (project, valid_from, known_from);
CREATE INDEX summit_timeline_history_order
    ON summit_timeline_history ("on", occurred_end, seq, valid_from, valid_to, known_from, known_to);
CREATE VIEW summit_timeline AS
    SELECT "on", project, status, planned_for, location, summary, event, kind, occurred
    FROM summit_timeline_history
    WHERE known_to IS NULL
    ORDER BY "on", occurred_end, seq;
"""


def keys(event: dict[str, Any]) -> Iterable[str]:
    project = event.get("project")
    return (project,) if project else ()


def fold(key: str, events: list[dict[str, Any]]) -> list[tuple]:
    summit_days = [e["occurred_start"] for e in events if e["kind"] == "summit"]
    if not summit_days:
        return []
    named_on = min(summit_days)
    rows = []
    state = None
    for event in events:
        state = project_status.step(state, event)
        rows.append(_row(key, event, state, named_on))
    return rows


def _row(key: str, event: dict[str, Any], state: tuple, named_on: str) -> tuple:
    location = event.get("location")
    return (
        max(event["occurred_start"], named_on),
        None,
        event["occurred_start"],
        event["occurred_end"],
        event["occurred"],
        key,
        state[1],
        event.get("planned_for"),
        location.get("name") if isinstance(location, dict) else None,
        event.get("summary"),
        event["kind"],
        event["seq"],
        event["id"],
    )


def resume(key: str, events: list[dict[str, Any]]) -> tuple:
    """What `extend` needs to carry on: the project's state and its first summit day."""
    state = None
    for event in events:
        state = project_status.step(state, event)
    summit_days = [e["occurred_start"] for e in events if e["kind"] == "summit"]
    return (state, min(summit_days) if summit_days else None)


def extend(key: str, carry: tuple, event: dict[str, Any]):
    """The fast path for an event after all the key's others: (dropped, added, carry) or None."""
    state, named_on = carry
    new = project_status.step(state, event)
    if named_on is None:
        if event["kind"] == "summit":
            return None  # the project becomes a summit project: every row appears
        return (), (), (new, None)
    return (), (_row(key, event, new, named_on),), (new, named_on)


# --- what the tracker asks and shows (see projections.protocol) ----------------------------

_COLUMNS = 'h."on", h.project, h.status, h.planned_for, h.location, h.summary, h.event, h.kind, h.occurred'
_SHOWN = '"on", project, status, planned_for, location, summary, event, kind, occurred'

#: The whole timeline (or one summit's) as of :as_of, known at :known_at, in date order.
AS_OF_SQL = (
    sql.BOUNDS
    + f"SELECT {_SHOWN} FROM (\n"
    + sql.keyed_or_all(
        _COLUMNS + ", h.occurred_end, h.seq",
        HISTORY,
        ' AND h."on" <= b.v',  # valid_from >= "on": nothing later in the index can be in force
        "1, 10, 11",
        KEY_COLUMN,
    ).removeprefix(sql.BOUNDS)
    + "\n)"
)
#: Entries never end in world time, so today's timeline is the rows the tracker still says.
NOW_SQL = AS_OF_SQL.replace(sql.BITEMPORAL, "h.known_to IS NULL")

#: How many steps the "Summit timeline on a date" page lists at most: the latest ones up
#: to the date. A page of a thousand rows took most of a second to draw and is past reading;
#: an earlier date, or one summit, shows the steps before them.
TIMELINE_PAGE_ROWS = 200


def page_sql(limit: int) -> str:
    """AS_OF_SQL's rows, only the `limit` latest up to the date, still in date order.

    The branch for every summit walks the ("on", ...) index backwards from the date
    (bounds first, so the date bounds the walk) and stops after `limit` rows in force;
    the one-summit branch reads that summit's rows. The outer query puts them back in
    date order.
    """
    columns = _COLUMNS + ", h.occurred_end, h.seq"
    return (
        sql.BOUNDS
        + f"""SELECT {_SHOWN} FROM (
SELECT {columns}
FROM bounds AS b, {HISTORY} AS h
WHERE coalesce(:project, '') <> '' AND h.project = :project
  AND {sql.BITEMPORAL}
UNION ALL
SELECT {columns}
FROM bounds AS b CROSS JOIN {HISTORY} AS h
WHERE coalesce(:project, '') = '' AND h."on" <= b.v
  AND {sql.BITEMPORAL}
ORDER BY 1 DESC, 10 DESC, 11 DESC
LIMIT {int(limit)}
)
ORDER BY "on", occurred_end, seq"""
    )


COMMAND = Command(
    name="timeline",
    help="The summit timeline: every event about a summit project, with the project's status after it.",
    key_help="Only this summit project.",
    key_option="--project",
    key_names="project",
    noun=("timeline entry", "timeline entries"),
    columns=("on", "project", "status", "planned_for", "location", "summary", "event"),
    event_days=("on",),
)

CANNED_QUERY = CannedQuery(
    name="summit_timeline_on",
    title="Summit timeline on a date",
    description_html=(
        "<p>The summit timeline up to a date in <code>as_of</code> (YYYY, YYYY-MM or YYYY-MM-DD; "
        "blank means no limit), optionally as the tracker told it at <code>known_at</code> (a date "
        "or a UTC timestamp; blank means as known now). <code>project</code> narrows it to one "
        f"summit.</p> <p>At most the {TIMELINE_PAGE_ROWS} latest steps up to the date are listed, in "
        "date order. For the steps before them, give the first listed day as <code>as_of</code>, "
        "or pick one summit.</p>"
    ),
    sql=page_sql(TIMELINE_PAGE_ROWS),
    parameters=("as_of", "known_at", "project"),
)

DATASETTE_TABLES = {
    "summit_timeline_history": {
        "title": "Summit timeline history (bitemporal)",
        "description": "The rows the summit timeline is read from, with world time (valid_from, valid_to) and "
                       "knowledge time (known_from, known_to). Use \"Summit timeline on a date\" to read it "
                       "for a date.",
        "facets": ["project", "status"],
        "columns": {
            "valid_from": "World time the row starts holding (ISO date).",
            "valid_to": "World time the row stops holding (blank = still holds).",
            "on": "The day the step happened (ISO date).",
            "occurred": "When it happened, as entered.",
            "project": "The summit's slug.",
            "status": "The summit's status after this step.",
            "planned_for": "When the summit was planned for, as said at that step.",
            "location": "Where it is, or was, to be held.",
            "summary": "What happened, in the tracker's words.",
            "kind": "The kind of the event.",
            "seq": "The event's position in the log.",
            "event": "The event.",
            "known_from": "When the tracker started saying this (UTC).",
            "known_to": "When the tracker stopped saying this (UTC; blank = still says it).",
        },
    },
    "summit_timeline": {
        "title": "Summit timeline",
        "description": "Every step in the life of a Korea-Central Asia summit, in the order it happened.",
        "sort": "on",
        "facets": ["project", "status"],
        "columns": {
            "on": "The day the step happened (ISO date).",
            "project": "The summit's slug (click for its status).",
            "status": "The summit's status after this step.",
            "planned_for": "When the summit was planned for, as said at that step.",
            "location": "Where it is, or was, to be held.",
            "summary": "What happened, in the tracker's words.",
            "event": "The event (click for it).",
            "kind": "The kind of the event.",
            "occurred": "When it happened, as entered (EDTF subset).",
        },
    },
}

#: Datasette links a step to its summit's status and to its event.
FOREIGN_KEYS = {
    "summit_timeline": [("project", "projects", "project"), ("event", "effective_events", "id")],
    "summit_timeline_history": [("project", "projects", "project"), ("event", "effective_events", "id")],
}
#: In a built snapshot the timeline is a table (no view is needed there).
MATERIALIZE = {"summit_timeline": None}
PUBLISH_INDEXES: list = []

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

from . import project_status

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

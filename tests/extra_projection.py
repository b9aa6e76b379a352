"""A projection that lives outside `projections/`: how many events of each kind there are.

The tests register it (`projections.registered`) to show that one module is all a
projection needs: the replay engine fills its tables, `tracker kind-counts` reads them,
Datasette describes them and offers its canned query, `tracker build` links them, and no
other file names it. Keyed by kind; a state fold whose rows are the running count, one
segment per day on which the count changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from projections import sql
from projections.protocol import CannedQuery, Command

NAME = "kind_counts"
VERSION = 1
SHAPE = "state"
HISTORY = "kind_counts_history"
KEY_COLUMN = "kind"
ROW_COLUMNS = ("valid_from", "valid_to", "kind", "events", "event")
FIELDS = ("kind",)
KEY_FILTER = "kind = ?"
#: effective_events has an index that leads with kind: a full replay folds every kind from one read.
KEY_SQL = "kind"
RUN_INDEXES: frozenset[str] = frozenset()

SCHEMA = """
CREATE TABLE kind_counts_history (
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    kind TEXT NOT NULL,
    events INTEGER NOT NULL,
    event TEXT NOT NULL REFERENCES effective_events (id),
    known_from TEXT NOT NULL,
    known_to TEXT
);
CREATE INDEX kind_counts_history_as_of ON kind_counts_history (kind, valid_from, known_from);
CREATE VIEW kind_counts AS
    SELECT kind, events, event FROM kind_counts_history
    WHERE known_to IS NULL AND valid_to IS NULL;
"""


def keys(event: dict[str, Any]) -> Iterable[str]:
    return (event["kind"],)


def fold(key: str, events: list[dict[str, Any]]) -> list[tuple]:
    """(valid_from, valid_to, kind, events so far, the day's last event), one row per day."""
    rows: list[tuple] = []
    for count, event in enumerate(events, start=1):
        day = event["occurred_start"]
        if rows and rows[-1][0] == day:
            rows[-1] = (day, None, key, count, event["id"])
            continue
        if rows:
            rows[-1] = (rows[-1][0], day, *rows[-1][2:])
        rows.append((day, None, key, count, event["id"]))
    return rows


NOW_SQL = sql.current("kind, events, event", "kind_counts", KEY_COLUMN)
AS_OF_SQL = sql.keyed_or_all("h.kind, h.events, h.event", HISTORY, "", "kind", KEY_COLUMN)

COMMAND = Command(
    name="kind-counts",
    help="""Events per kind: how many events of each kind, and the latest of them.

    With KIND, that kind only (--json prints one object).
    """,
    key_help="One kind of event.",
    key_metavar="[KIND]",
    noun=("kind", "kinds"),
    columns=("kind", "events", "event"),
    one=True,
    missing="no events of kind '{key}'{when}",
)

CANNED_QUERY = CannedQuery(
    name="kind_counts_on",
    title="Events per kind on a date",
    description_html="<p>How many events of each kind had happened by <code>as_of</code>, as the tracker "
                     "said at <code>known_at</code>; <code>kind</code> narrows it to one kind.</p>",
    sql=AS_OF_SQL,
    parameters=("as_of", "known_at", "kind"),
)

DATASETTE_TABLES = {
    "kind_counts_history": {
        "title": "Events per kind, history (bitemporal)",
        "description": "The running count of each kind's events, with world and knowledge time.",
        "columns": {
            "valid_from": "The day the count was reached.",
            "valid_to": "The day it grew again (blank = still so).",
            "kind": "The kind of event.",
            "events": "How many events of the kind there were.",
            "event": "The last event counted that day.",
            "known_from": "When the tracker started saying this (UTC).",
            "known_to": "When it stopped (UTC; blank = still says it).",
        },
    },
    "kind_counts": {
        "title": "Events per kind",
        "description": "How many events of each kind there are, as known now.",
        "columns": {
            "kind": "The kind of event.",
            "events": "How many there are.",
            "event": "The latest of them in world time.",
        },
    },
}
FOREIGN_KEYS = {
    "kind_counts": [("event", "effective_events", "id")],
    "kind_counts_history": [("event", "effective_events", "id")],
}
MATERIALIZE = {"kind_counts": "kind"}
PUBLISH_INDEXES = [(HISTORY, ("kind",), "known_to IS NULL AND valid_to IS NULL")]

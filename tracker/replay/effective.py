"""Effective events: the engine's own derived table, every world event as known now.

An event's effective form is the logged event with its live corrections applied
(`tracker.log.amendments`); a retracted event has none. `effective_events` holds one
row per effective form (searchable columns) and `event_countries` one row per
(event, country). The log stays the one copy of each event's JSON: a row keeps its
own (`amended_body`) only when amendments made its form differ from the log's; SQL
that needs an effective event's JSON reads BODY_SQL. The folds read events in their
*compact* form: only the fields a projection names, plus its position in world order.
"""

from __future__ import annotations

from typing import Any

import orjson

from events.dates import iso_span
from events.models import MODELS


COLUMNS = (
    "id", "seq", "kind", "occurred", "occurred_start", "occurred_end", "recorded_at", "summary",
    "project", "status", "countries", "location_name", "lat", "lon", "title", "parties",
    "value_amount", "value_currency", "corrected", "amended_body",
)
INSERT = f"INSERT INTO effective_events ({', '.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})"
INSERT_COUNTRIES = "INSERT INTO event_countries (seq, country, event) VALUES (?, ?, ?)"
#: (event_countries is keyed by country first, for the country facets and filters: a row
#: is found by its country and seq, which the form it was written from gives back)
DELETE_COUNTRIES = "DELETE FROM event_countries WHERE seq = ? AND country = ? AND event = ?"
#: The effective form's JSON of `effective_events AS e`: its own when amended, else the log's.
BODY_SQL = "coalesce(e.amended_body, (SELECT log.body FROM events AS log WHERE log.seq = e.seq))"


def row(form: dict[str, Any], seq: int, recorded_at: str, corrected: bool, logged: str | None = None) -> tuple:
    """The `effective_events` row of an effective form.

    `logged` is the log row's body, for an event taken as logged (every event when it
    first enters): the row then points to the log's copy instead of holding its own.
    """
    start, end = iso_span(form["occurred"])
    kind = form["kind"]
    model = MODELS[kind]
    location = form.get("location") or {}
    value = form.get("value")
    return (
        form["id"], seq, kind, form["occurred"], start, end,
        recorded_at, form.get("summary"), form.get("project"), form.get("status"),
        ",".join(form["countries"]), location.get("name"), location.get("lat"), location.get("lon"),
        form.get(model.title_field) if model.title_field else None, model.parties_of(form),
        float(value["amount"]) if value else None, value["currency"] if value else None,
        int(corrected), None if logged is not None else orjson.dumps(form, option=orjson.OPT_SORT_KEYS).decode(),
    )


_OCCURRED_START, _KIND = COLUMNS.index("occurred_start"), COLUMNS.index("kind")


class EventDays:
    """`event_days`: how many effective events begin on each day (occurred_start), by kind.

    Counting events as of a day is then a sum over at most a row per day and kind,
    however many events there are (the dashboard's totals and events per year: a count of
    a million effective events took about a second). A replay run keeps the changes here,
    one per row entering or leaving `effective_events`, and writes them when it ends; a
    day and kind whose count falls to 0 has no row, as a rebuild would give.
    """

    UPSERT = ("INSERT INTO event_days (day, kind, events) VALUES (?, ?, ?)"
              " ON CONFLICT (day, kind) DO UPDATE SET events = events + excluded.events")

    def __init__(self) -> None:
        self.changes: dict[tuple[str, str], int] = {}

    def enter(self, rows: list[tuple]) -> None:
        """`effective_events` rows (`row`) going in."""
        changes, day, kind = self.changes, _OCCURRED_START, _KIND
        for r in rows:
            key = (r[day], r[kind])
            changes[key] = changes.get(key, 0) + 1

    def leave(self, form: dict[str, Any]) -> None:
        """The effective form `form` going out."""
        key = (iso_span(form["occurred"])[0], form["kind"])
        self.changes[key] = self.changes.get(key, 0) - 1

    def write(self, conn) -> None:
        changed = sorted((day, kind, n) for (day, kind), n in self.changes.items() if n)
        conn.executemany(self.UPSERT, changed)
        if any(n < 0 for _, _, n in changed):
            conn.executemany("DELETE FROM event_days WHERE day = ? AND kind = ? AND events = 0",
                             [(day, kind) for day, kind, n in changed if n < 0])
        self.changes.clear()


def country_rows(form: dict[str, Any], seq: int) -> list[tuple]:
    return [(seq, country, form["id"]) for country in sorted(set(form["countries"]))]


def compact(form: dict[str, Any], seq: int, fields: tuple[str, ...]) -> dict[str, Any]:
    """What a fold reads of an event: its `fields`, its id and seq, its span in world time."""
    start, end = iso_span(form["occurred"])
    found = {name: form[name] for name in fields if form.get(name) is not None}
    found.update(id=form["id"], seq=seq, occurred_start=start, occurred_end=end)
    return found


def world_order(event: dict[str, Any]) -> tuple[str, str, int]:
    return (event["occurred_start"], event["occurred_end"], event["seq"])

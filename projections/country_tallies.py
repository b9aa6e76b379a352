"""Country tallies: per ISO code, how many events of each kind, agreements, visits, order value.

The state of a country is a sum over its events. Two bitemporal tables hold it:

`country_tallies_history` — *contribution rows*, not state segments: one row per
(event, country, stretch of knowledge time during which the event said that), with
`valid_from` = the event's occurred_start, `valid_to` NULL (a contribution, once made,
counts for every later day), `known_from`/`known_to` the knowledge interval of that
effective form of the event, and its counts. A late-recorded event adds one row per
country; a correction closes the event's rows and opens new ones; a retraction closes them.

`country_tallies_checkpoints` — *checkpoints* in two levels, each row versioned in
knowledge time (`known_from`/`known_to`):
  - `level` 'year', `start` = a year's first day: the totals of all the country's
    contributions with valid_from before that day, for every year from the country's
    first year with a contribution to its last;
  - `level` 'month', `start` = a month's first day (February to December): the totals
    of its contributions from the first day of that year to before that day, for every
    month from February to the year's last month with a contribution.
The engine keeps them: an event that is the newest in world order for its country only
adds a row when it is the country's first in a new month or year (copying the running
totals); a late or amended contribution dated d revises the month rows after d in d's
year and the year rows after d's year (each closed at T and reopened at T with new
totals): at most 11 + one per later year, however late the event. An event before a
country's first year adds zero year rows back to it.

"As of V, known at T" for a country is then a few indexed lookups:

    Y = the year row with the latest start <= V's year, the version live at T
    M = the month row of Y's year with the latest start <= V's month, live at T
        (none: start = Y's first day and zero totals)
    totals = Y + M + the contribution rows live at T with
             M.start <= valid_from <= V and valid_from < M.start + 1 month

(every month with a contribution live at T has rows live at T, so nothing live lies
past that month), so it reads two checkpoints and at most a month of contribution
rows, however long the history. `country_tallies` holds the current sums.
Visits count as hosted/made for a country listed in the visit's `countries` that is its
`host_country`/`visitor_country`; `order_value_usd` sums orders valued in USD only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from events.models import MODELS, WORLD_KINDS

NAME = "country_tallies"
VERSION = 2
SHAPE = "sum"
HISTORY = "country_tallies_history"
#: Yearly and monthly running totals, bitemporal (see above).
CHECKPOINTS = "country_tallies_checkpoints"
KEY_COLUMN = "country"
#: Per-kind counts, named by the kind's plural (visits, signings, ...).
KIND_COLUMNS = tuple((kind, MODELS[kind].plural) for kind in WORLD_KINDS)
CONTRIBUTION_COLUMNS = ("kind", "agreements", "visits_hosted", "visits_made", "order_value_usd")
#: The current table's columns after `country`, in order.
TOTAL_COLUMNS = (
    "events", *(plural for _, plural in KIND_COLUMNS), "agreements", "visits_hosted",
    "visits_made", "order_value_usd", "last_event_on",
)

#: The totals columns, shared by the current table and the checkpoints.
TOTALS_DDL = ",\n    ".join(
    ["events INTEGER NOT NULL"]
    + [f"{plural} INTEGER NOT NULL" for _, plural in KIND_COLUMNS]
    + ["agreements INTEGER NOT NULL", "visits_hosted INTEGER NOT NULL",
       "visits_made INTEGER NOT NULL", "order_value_usd REAL NOT NULL", "last_event_on TEXT"]
)
SCHEMA = f"""
CREATE TABLE country_tallies_history (
    country TEXT NOT NULL REFERENCES countries (code),
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    known_from TEXT NOT NULL,
    known_to TEXT,
    event TEXT NOT NULL REFERENCES effective_events (id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    agreements INTEGER NOT NULL,
    visits_hosted INTEGER NOT NULL,
    visits_made INTEGER NOT NULL,
    order_value_usd REAL NOT NULL
);
CREATE INDEX country_tallies_history_as_of
    ON country_tallies_history (country, valid_from, known_from);
CREATE INDEX country_tallies_history_seq ON country_tallies_history (seq);
CREATE TABLE country_tallies_checkpoints (
    country TEXT NOT NULL REFERENCES countries (code),
    level TEXT NOT NULL,
    start TEXT NOT NULL,
    known_from TEXT NOT NULL,
    known_to TEXT,
    {TOTALS_DDL}
);
CREATE INDEX country_tallies_checkpoints_as_of
    ON country_tallies_checkpoints (country, level, start, known_from);
CREATE INDEX country_tallies_checkpoints_current
    ON country_tallies_checkpoints (country, level, start) WHERE known_to IS NULL;
CREATE TABLE country_tallies (
    country TEXT PRIMARY KEY REFERENCES countries (code),
    {TOTALS_DDL}
);
"""

_KIND_INDEX = {kind: i for i, (kind, _) in enumerate(KIND_COLUMNS)}


def keys(event: dict[str, Any]) -> Iterable[str]:
    return event["countries"]


def contributions(event: dict[str, Any]) -> Iterable[tuple[str, tuple]]:
    kind = event["kind"]
    model = MODELS[kind]
    usd = 0.0
    if model.counts_as_order_value:
        value = event.get("value") or {}
        if value.get("currency") == "USD":
            usd = float(value["amount"])
    for country in event["countries"]:
        yield country, (
            kind,
            model.agreements_in(event),
            int(model.counts_as_visit and event.get("host_country") == country),
            int(model.counts_as_visit and event.get("visitor_country") == country),
            usd,
        )


def empty() -> list:
    return [0] * (len(TOTAL_COLUMNS) - 2) + [0.0, None]


def add(total: list, values: tuple, valid_from: str, sign: int = 1) -> None:
    """Fold one contribution into a current total (sign -1 takes it out again).

    `last_event_on` cannot be taken out by subtraction; the engine recomputes it.
    """
    kind, agreements, hosted, made, usd = values
    total[0] += sign
    total[1 + _KIND_INDEX[kind]] += sign
    base = 1 + len(KIND_COLUMNS)
    total[base] += sign * agreements
    total[base + 1] += sign * hosted
    total[base + 2] += sign * made
    total[base + 3] += sign * usd
    if sign > 0 and (total[-1] is None or valid_from > total[-1]):
        total[-1] = valid_from

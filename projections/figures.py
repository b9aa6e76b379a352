"""Figures: reported numbers as series, with every value kept in view (DESIGN §6).

A series is one metric about one set of countries over one period: `figure` events
with the same `metric`, the same `countries` (in any order) and the same `period` (or
none) report values of the same thing. Its key, the `series` column, says all three:
``bilateral_trade:KR,KZ:2023`` (``bilateral_trade:KR,KZ`` when no period is given).
Metrics are slugs from a documented list (`events.metrics`).

History rows are *values*: one per figure event of the series, in force in world time
from the event's first day and never after ended in it (a later value does not undo an
earlier one: both are what was reported). A correction or retraction closes a value in
knowledge time; a correction of its metric, countries or period moves it to another
series. A series' state as of V, known at T, is its values in force then:

- ``values``: every one of them (amount, unit, publication date and source, event), the
  earliest published first;
- the headline ``amount`` (with ``unit``, ``reported`` and ``event``): the most recently
  published value. A value is published on its earliest source's ``published`` date, a
  partial date counting from the end of its period (as for ``--reported-by``); of values
  published on the same day, the one whose event comes later in world order;
- ``disagree``: 1 when the values do not all give the same amount in the same unit.

Why rows per value rather than per state: a series' state holds all its values, so a
row per state would copy every value again with each new one; here each value is
written once, and the state is put together when asked (one indexed read of the
series' rows, and a window over them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from events.dates import parse_published

from . import sql
from .protocol import CannedQuery, Command

NAME = "figures"
VERSION = 1
SHAPE = "state"
HISTORY = "figure_history"
KEY_COLUMN = "series"
ROW_COLUMNS = (
    "valid_from", "valid_to", "series", "metric", "countries", "period", "amount", "unit", "reported",
    "precedence", "publisher", "title", "url", "seq", "event",
)
FIELDS = ("kind", "metric", "countries", "period", "amount", "unit", "sources")
#: A series' events: the ones its current rows name. The key (countries sorted) cannot be
#: computed by an index of `effective_events`, but every live value of a series has
#: exactly one current row, and the engine reads this only to find a key's events as of
#: its checkpoint (the events a run changes, it takes from the changes themselves).
KEY_FILTER = f"seq IN (SELECT seq FROM {HISTORY} WHERE series = ? AND known_to IS NULL)"
#: No index is needed while a full replay writes the rows.
RUN_INDEXES: frozenset[str] = frozenset()

_SHOWN = "series, metric, countries, period, amount, unit, reported, event, \"values\", disagree"


def _state(live: str, order: str = "\nORDER BY series") -> str:
    """Each series' state from its values in force, the rows `live` selects as `h`: the
    headline value's row, with every value (`values`) and whether they differ (`disagree`).

    The window takes each series' values in precedence order, so `values` lists them in
    that order (an aggregate's order is otherwise unspecified in SQLite)."""
    return f"""SELECT {_SHOWN} FROM (
SELECT h.series, h.metric, h.countries, h.period, h.amount, h.unit, h.reported, h.event,
  json_group_array(json_object('amount', h.amount, 'unit', h.unit, 'reported', h.reported,
    'publisher', h.publisher, 'title', h.title, 'url', h.url, 'event', h.event)) OVER w AS "values",
  min(h.amount || ' ' || h.unit) OVER w <> max(h.amount || ' ' || h.unit) OVER w AS disagree,
  h.precedence = max(h.precedence) OVER w AS headline
FROM (
{live}
) AS h
WINDOW w AS (PARTITION BY h.series ORDER BY h.precedence ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
)
WHERE headline{order}"""


_SCHEMA = """
CREATE TABLE figure_history (
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    series TEXT NOT NULL,
    metric TEXT NOT NULL,
    countries TEXT NOT NULL,
    period TEXT,
    amount TEXT NOT NULL,
    unit TEXT NOT NULL,
    reported TEXT NOT NULL,
    precedence TEXT NOT NULL,
    publisher TEXT NOT NULL,
    title TEXT NOT NULL,
    url TEXT,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL REFERENCES effective_events (id),
    known_from TEXT NOT NULL,
    known_to TEXT
);
CREATE INDEX figure_history_as_of ON figure_history (series, valid_from, known_from);
CREATE INDEX figure_history_metric ON figure_history (metric, valid_from, known_from);
CREATE INDEX figure_history_current ON figure_history (series, precedence) WHERE known_to IS NULL;
CREATE VIEW figures AS
{view};
"""
#: The current state as a view: the values the tracker still gives, in series order from the
#: index on them (no ORDER BY, which would make a reader wait for every series).
SCHEMA = _SCHEMA.format(view=_state(f"SELECT * FROM {HISTORY} WHERE known_to IS NULL", order=""))


def series_of(event: dict[str, Any]) -> str:
    """The key of a figure's series: `metric:COUNTRIES[:period]`, the countries sorted."""
    key = f"{event['metric']}:{','.join(sorted(event['countries']))}"
    period = event.get("period")
    return f"{key}:{period}" if period else key


def keys(event: dict[str, Any]) -> Iterable[str]:
    return (series_of(event),) if event["kind"] == "figure" else ()


def _row(key: str, event: dict[str, Any]) -> tuple:
    """A value's history row: in force from its event's first day, published with its earliest source."""
    ends = [parse_published(source["published"]).end.isoformat() for source in event["sources"]]
    first = ends.index(min(ends))
    source = event["sources"][first]
    start, end, seq = event["occurred_start"], event["occurred_end"], event["seq"]
    return (
        start, None, key, event["metric"], ",".join(sorted(event["countries"])), event.get("period"),
        event["amount"], event["unit"], source["published"],
        f"{ends[first]} {start} {end} {seq:012d}",  # the greatest is the headline
        source["publisher"], source["title"], source.get("url"), seq, event["id"],
    )


def fold(key: str, events: list[dict[str, Any]]) -> list[tuple]:
    """One row per value of the series: each stands on its own."""
    return [_row(key, event) for event in events]


def resume(key: str, events: list[dict[str, Any]]) -> tuple:
    """Values do not depend on one another: `extend` needs nothing carried."""
    return ()


def extend(key: str, carry: tuple, event: dict[str, Any]):
    """A new value adds its row and changes no other."""
    return (), (_row(key, event),), carry


# --- what the tracker asks and shows (see projections.protocol) ----------------------------


def _live(in_force: str) -> str:
    """The values `in_force` (a condition on h and b) of one series (`:series` holds a
    colon), of one metric (`:series` is a metric), or of every series (blank): three
    branches, each led by its own index, only one of which yields rows."""
    return f"""SELECT h.* FROM bounds AS b, {HISTORY} AS h
WHERE instr(:series, ':') > 0 AND h.series = :series
  AND {in_force}
UNION ALL
SELECT h.* FROM bounds AS b, {HISTORY} AS h
WHERE coalesce(:series, '') <> '' AND instr(:series, ':') = 0 AND h.metric = :series
  AND {in_force}
UNION ALL
SELECT h.* FROM {HISTORY} AS h, bounds AS b
WHERE coalesce(:series, '') = ''
  AND {in_force}"""


#: Every series (or one metric's, or one series) as of :as_of, known at :known_at.
AS_OF_SQL = sql.BOUNDS + _state(_live(sql.BITEMPORAL))
#: Values never end in world time: today's state is the values the tracker still gives.
NOW_SQL = AS_OF_SQL.replace(sql.BITEMPORAL, "h.known_to IS NULL")

def readable_amount(row: dict[str, Any]) -> str | None:
    """The headline amount with its thousands separated, for a table: 6,000,000,000. The
    amount is stored as the decimal it was entered as, so it is never rounded here."""
    from decimal import Decimal, InvalidOperation

    amount = row.get("amount")
    try:
        return f"{Decimal(amount):,}" if amount is not None else None
    except (InvalidOperation, TypeError, ValueError):
        return str(amount)


def disagreement(row: dict[str, Any]) -> str:
    """`disagree` in words, for a table: the values given differ ("yes"), or blank."""
    return "yes" if row.get("disagree") else ""


COMMAND = Command(
    name="figures",
    help="""Reported figures: each series' latest published value, every value reported, and whether they disagree.

    A series is one metric about the same countries over the same period. With METRIC,
    that metric's series only; with a series as the `series` column gives it
    (bilateral_trade:KR,KZ:2023), that series. --json adds each series' `values`: every
    value in force, with its source and publication date. Metrics are listed in
    events/data/metrics.csv (and in the file TRACKER_METRICS names).
    """,
    key_help="A metric (bilateral_trade), or one series (bilateral_trade:KR,KZ:2023).",
    key_metavar="[METRIC]",
    key_names="metric",
    noun=("series", "series"),
    columns=("metric", "countries", "period", "amount", "unit", "reported", "disagree", "event"),
    derived={"amount": readable_amount, "disagree": disagreement},
    json_columns=("values",),
    missing="no figures for '{key}'{when}",
)

CANNED_QUERY = CannedQuery(
    name="figures_on",
    title="Figures on a date",
    description_html=(
        "<p>Every series of reported figures as of a date in world time: for each metric, the "
        "countries it is about and the period it covers, the most recently published value "
        "(<code>amount</code>), every value reported (<code>values</code>, with its source and "
        "publication date) and whether they disagree. Give <code>as_of</code> as YYYY, YYYY-MM or "
        "YYYY-MM-DD (blank means no limit), and optionally <code>known_at</code> (a date or a UTC "
        "timestamp; blank means as known now). <code>series</code> narrows it to one metric "
        "(<code>bilateral_trade</code>) or one series (<code>bilateral_trade:KR,KZ:2023</code>); "
        "blank means all.</p>"
    ),
    sql=AS_OF_SQL,
    parameters=("as_of", "known_at", "series"),
)

_VALUES = ("Every value in force, earliest published first, as JSON: amount, unit, reported (publication "
           "date), publisher, title and url of its earliest source, event.")

DATASETTE_TABLES = {
    "figures": {
        "title": "Figures",
        "description": "Reported figures as series: one row per metric, countries and period, with the most "
                       "recently published value and every value reported. Use \"Figures on a date\" for "
                       "another date.",
        # no sort: the view comes in series order from its index, and sorting it again would
        # make Datasette build every series before showing the first
        "facets": ["metric", "disagree"],
        "columns": {
            "series": "The series: metric, countries and period (metric:COUNTRIES:period).",
            "metric": "What is measured (a slug from the tracker's list of metrics).",
            "countries": "The countries it is about (ISO 3166-1 alpha-2 codes, sorted).",
            "period": "The period it covers (EDTF subset; blank = not stated).",
            "amount": "The most recently published value (an exact decimal, as text).",
            "unit": "The unit of that value.",
            "reported": "When that value was published (its earliest source; as precise as the source).",
            "event": "The figure event that reported it.",
            "values": _VALUES,
            "disagree": "1 when the values reported for the series do not all agree.",
        },
    },
    "figure_history": {
        "title": "Figure history (bitemporal)",
        "description": "Every value reported for a series, with when it held in the world (from the day it was "
                       "reported, valid_from) and when the tracker said so (known_from to known_to). Use "
                       "\"Figures on a date\" rather than reading this by hand.",
        "sort": "series",
        "facets": ["metric"],
        "columns": {
            "valid_from": "World time the value starts holding: its event's first day (ISO date).",
            "valid_to": "World time it stops holding (always blank: a value reported stays reported).",
            "series": "The series: metric:COUNTRIES:period.",
            "metric": "What is measured.",
            "countries": "The countries it is about (sorted).",
            "period": "The period it covers (blank = not stated).",
            "amount": "The value (an exact decimal, as text).",
            "unit": "Its unit.",
            "reported": "When it was published: its earliest source's date.",
            "precedence": "Orders the series' values: publication day, then world order. The greatest is the "
                          "headline.",
            "publisher": "Who published its earliest source.",
            "title": "The title of that source.",
            "url": "Its address, if any.",
            "seq": "The event's position in the log.",
            "event": "The figure event.",
            "known_from": "When the tracker started saying this (UTC).",
            "known_to": "When the tracker stopped saying this (UTC; blank = still says it).",
        },
    },
}

#: Datasette links a series to the event of its headline value, and a value to its event.
FOREIGN_KEYS = {
    "figures": [("event", "effective_events", "id")],
    "figure_history": [("event", "effective_events", "id")],
}
#: In a built snapshot `figures` is a table, a series a row with a page of its own.
MATERIALIZE = {"figures": "series"}
PUBLISH_INDEXES: list = []

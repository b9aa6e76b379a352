"""Country tallies: per ISO code, how many events of each kind, agreements, visits, order value.

The state of a country is a sum over its events. Two bitemporal tables hold it:

`country_tallies_history` — *contribution rows*, not state segments: one row per
(event, country, stretch of knowledge time during which the event said that), with
`valid_from` = the event's occurred_start, `valid_to` NULL (a contribution, once made,
counts for every later day), `known_from`/`known_to` the knowledge interval of that
effective form of the event, and its counts. A late-recorded event adds one row per
country; a correction closes the event's rows and opens new ones; a retraction closes them.

A row's `reported` is the day its event counts as reported from (its earliest source's
publication date), on the rows of events no amendment has touched, while they are live;
with `tracker.replay.reported_sums`'s cells it answers "as of V, reported by R" without
a replay (an amended event's rows carry none: its stretches of reported time are kept
apart, see there).

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

The table is keyed by (country, level, start, known_from), one version of one checkpoint,
and stored in that order (WITHOUT ROWID): the lookups below walk the key itself, so the
checkpoints need no index beside them.

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

from . import sql
from .protocol import CannedQuery, Command

NAME = "country_tallies"
VERSION = 4
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
#: The total that counts contributions: a country whose count is 0 has no row.
COUNT_COLUMN = "events"
#: The total holding the latest valid_from (the day the country's latest event began).
LATEST_COLUMN = "last_event_on"
#: Amendments find an event's contribution rows by seq while a full replay runs.
RUN_INDEXES = frozenset({"country_tallies_history_seq"})

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
    reported TEXT,
    kind TEXT NOT NULL,
    agreements INTEGER NOT NULL,
    visits_hosted INTEGER NOT NULL,
    visits_made INTEGER NOT NULL,
    order_value_usd REAL NOT NULL
);
CREATE INDEX country_tallies_history_as_of
    ON country_tallies_history (country, valid_from, known_from);
CREATE INDEX country_tallies_history_seq ON country_tallies_history (seq);
CREATE INDEX country_tallies_history_reported ON country_tallies_history (country, reported)
    WHERE reported IS NOT NULL AND known_to IS NULL;
CREATE INDEX country_tallies_history_advance ON country_tallies_history (country, valid_from)
    WHERE reported IS NOT NULL AND known_to IS NULL AND valid_from > reported;
CREATE TABLE country_tallies_checkpoints (
    country TEXT NOT NULL REFERENCES countries (code),
    level TEXT NOT NULL,
    start TEXT NOT NULL,
    known_from TEXT NOT NULL,
    known_to TEXT,
    {TOTALS_DDL},
    PRIMARY KEY (country, level, start, known_from)
) WITHOUT ROWID;
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
    """Fold one contribution into a current total (sign -1 takes it out again; sign n
    folds in n alike contributions).

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


# --- what the tracker asks and shows (see projections.protocol) ----------------------------


def _named(key: str, level: str, named: str) -> str:
    """The checkpoint row a lookup `named` (its start, a day of ten characters, then its
    known_from), found by its primary key."""
    return (f"c.country = {key} AND c.level = '{level}' AND c.start = substr({named}, 1, 10)"
            f" AND c.known_from = substr({named}, 11)")


def _as_of_sql() -> str:
    """Country tallies as of V known at T: two checkpoints + at most a month of contribution rows.

    For each country, the year checkpoint with the latest start <= V's year live at T, the
    month checkpoint of that year with the latest start <= V's month live at T, plus the
    contribution rows from that month's first day to V live at T (see above). `:country`
    blank means every country: the keys are found by skipping through the checkpoint index
    one country at a time.
    """
    plurals = [plural for _, plural in KIND_COLUMNS]
    count_columns = ["events", *plurals, "agreements", "visits_hosted", "visits_made"]
    from_rows = ", ".join(
        ["1", *(f"h.kind = '{kind}'" for kind, _ in KIND_COLUMNS),
         "h.agreements", "h.visits_hosted", "h.visits_made", "h.order_value_usd", "h.valid_from"]
    )
    from_checkpoint = ", ".join(f"c.{name}" for name in [*count_columns, "order_value_usd", "last_event_on"])
    sums = ", ".join(f"sum(t.{name}) AS {name}" for name in count_columns)
    live_at_k = "c.known_from <= b.k AND (c.known_to IS NULL OR c.known_to > b.k)"
    return (
        "WITH RECURSIVE "
        + sql.BOUNDS.removeprefix("WITH ")
        + """, b AS (SELECT v, k, substr(v, 1, 4) || '-01-01' AS year, substr(v, 1, 7) || '-01' AS month FROM bounds),
every_key(country) AS (
  SELECT min(country) FROM country_tallies_checkpoints WHERE coalesce(:country, '') = ''
  UNION ALL
  SELECT (SELECT min(c.country) FROM country_tallies_checkpoints AS c WHERE c.country > e.country)
  FROM every_key AS e WHERE e.country IS NOT NULL
),
keys(country) AS (
  SELECT :country WHERE coalesce(:country, '') <> ''
  UNION ALL
  SELECT country FROM every_key WHERE country IS NOT NULL
),
years AS (
  SELECT keys.country, (
    SELECT c.start || c.known_from FROM country_tallies_checkpoints AS c
    WHERE c.country = keys.country AND c.level = 'year' AND c.start <= b.year AND """
        + live_at_k
        + """
    ORDER BY c.start DESC, c.known_from DESC LIMIT 1
  ) AS checkpoint
  FROM keys, b
),
months AS (
  SELECT y.country, y.checkpoint, y.start AS year, (
    SELECT c.start || c.known_from FROM country_tallies_checkpoints AS c
    WHERE c.country = y.country AND c.level = 'month' AND c.start > y.start AND c.start < date(y.start, '+1 year')
      AND c.start <= b.month AND """
        + live_at_k
        + """
    ORDER BY c.start DESC, c.known_from DESC LIMIT 1
  ) AS month_checkpoint
  FROM (SELECT years.*, c.start FROM years JOIN country_tallies_checkpoints AS c ON """
        + _named("years.country", "year", "years.checkpoint")
        + """) AS y, b
),
picked AS (
  SELECT m.country, m.checkpoint, m.month_checkpoint, coalesce(c.start, m.year) AS start
  FROM months AS m LEFT JOIN country_tallies_checkpoints AS c ON """
        + _named("m.country", "month", "m.month_checkpoint")
        + """
),
parts AS ("""
        + "".join(  # the two checkpoints picked, each by its key
            f"""
  SELECT c.country, {from_checkpoint}
  FROM picked AS p JOIN country_tallies_checkpoints AS c ON {_named("p.country", level, named)}
  UNION ALL"""
            for level, named in (("year", "p.checkpoint"), ("month", "p.month_checkpoint"))
        )
        + """
  SELECT h.country, """
        + from_rows
        + """
  FROM picked AS p, b
  JOIN country_tallies_history AS h ON h.country = p.country
    AND h.valid_from >= p.start AND h.valid_from < date(p.start, '+1 month')
  WHERE h.valid_from <= b.v AND h.known_from <= b.k AND (h.known_to IS NULL OR h.known_to > b.k)
)
SELECT t.country, """
        + sums
        + """, total(t.order_value_usd) AS order_value_usd,
  max(t.last_event_on) AS last_event_on
FROM parts AS t
GROUP BY t.country
HAVING sum(t.events) > 0
ORDER BY t.country"""
    )


AS_OF_SQL = _as_of_sql()
NOW_SQL = sql.current(", ".join((KEY_COLUMN, *TOTAL_COLUMNS)), NAME, KEY_COLUMN)

def kinds_in_words(row: dict[str, Any]) -> str:
    """The per-kind counts in words, the largest first, for a table: "12 announcements,
    7 milestones, 3 visits" (a column per kind would make the table too wide to read)."""
    shown = {"mou": ("MoU", "MoUs")}
    counts = sorted(((row.get(plural) or 0, kind, plural) for kind, plural in KIND_COLUMNS), key=lambda c: -c[0])
    return ", ".join(f"{n} {shown.get(kind, (kind, plural))[n != 1]}" for n, kind, plural in counts if n)


def usd_in_words(row: dict[str, Any]) -> str:
    """The USD order value with its thousands separated, blank when none."""
    value = row.get("order_value_usd") or 0
    return f"{value:,.0f}" if value else ""


COMMAND = Command(
    name="tallies",
    help="""Country tallies: events per kind, agreements, visits hosted and made, USD order value.

    The table gives the counts per kind in words; --json gives every count in its own
    field. With COUNTRY, that country only (--json prints one object).
    """,
    key_help="One ISO 3166-1 alpha-2 code.",
    key_metavar="[COUNTRY]",
    key_names="country",
    noun=("country", "countries"),
    columns=(KEY_COLUMN, "events", "kinds", "agreements", "visits_hosted", "visits_made", "order_value_usd",
             "last_event_on"),
    derived={"kinds": kinds_in_words, "order_value_usd": usd_in_words},
    one=True,
    missing="no events involving '{key}'{when}",
)

CANNED_QUERY = CannedQuery(
    name="country_tallies_on",
    title="Country tallies on a date",
    description_html=(
        "<p>Event counts per country as of a date in <code>as_of</code> (YYYY, YYYY-MM or "
        "YYYY-MM-DD; blank means no limit), optionally as the tracker knew them at "
        "<code>known_at</code> (a date or a UTC timestamp; blank means as known now). "
        "<code>country</code> (an ISO code such as UZ) narrows it to one country.</p>"
    ),
    sql=AS_OF_SQL,
    parameters=("as_of", "known_at", "country"),
)

DATASETTE_TABLES = {
    "country_tallies": {
        "title": "Country tallies",
        "description": "Counts of events per country as known now. A country involved in an event counts it once.",
        "label_column": "country",
        "sort_desc": "events",
        "columns": {
            "country": "ISO 3166-1 alpha-2 code (click for the country).",
            "events": "Events involving the country.",
            "visits": "Visits.",
            "signings": "Signings.",
            "mous": "Memoranda of understanding.",
            "orders": "Orders.",
            "forums": "Forums.",
            "meetings": "Meetings.",
            "summits": "Summit steps.",
            "announcements": "Announcements.",
            "milestones": "Project milestones.",
            "figures": "Reported figures.",
            "agreements": "Agreements signed (each signing's agreement_count, plus one per MoU).",
            "visits_hosted": "Visits the country hosted.",
            "visits_made": "Visits made by the country's officials.",
            "order_value_usd": "Value of orders stated in US dollars (USD; other currencies are not converted).",
            "last_event_on": "The day its latest event began (ISO date).",
        },
    },
    "country_tallies_history": {
        "title": "Country tallies history (bitemporal)",
        "description": "The rows the country tallies are summed from, with world time (valid_from, valid_to) and "
                       "knowledge time (known_from, known_to). Use the canned query \"Country tallies on a "
                       "date\" to total them for a date.",
        "facets": ["country", "kind"],
        "columns": {
            "country": "ISO 3166-1 alpha-2 code (click for the country).",
            "valid_from": "The day the event began (world time); the row counts from then on.",
            "valid_to": "Unused for tallies (contributions never expire in world time).",
            "known_from": "When the tracker started counting this (UTC).",
            "known_to": "When the tracker stopped counting it, after a correction or retraction (UTC; blank "
                        "= still counts).",
            "event": "The event that contributes the row.",
            "seq": "The event's position in the log.",
            "reported": "The day the event counts as reported from (its earliest source's publication "
                        "date), while it is as logged and the row is live; blank otherwise.",
            "kind": "The event's kind (each row adds one to the kind's count).",
            "agreements": "Agreements it adds (a signing's agreement_count, 1 for an MoU).",
            "visits_hosted": "1 if it is a visit the country hosted.",
            "visits_made": "1 if it is a visit the country's officials made.",
            "order_value_usd": "Order value it adds, in US dollars (USD).",
        },
    },
    "country_tallies_checkpoints": {
        "title": "Country tallies checkpoints (bitemporal)",
        "description": "Running totals that make \"country tallies on a date\" a few lookups. A 'year' row "
                       "holds the totals of every event involving the country that began before the year's "
                       "first day; a 'month' row those from the first day of its year to before the month's "
                       "first day; each as the tracker said between known_from and known_to. A date's tallies "
                       "are its year row, its month row and that month's rows in the country tallies history.",
        "columns": {
            "country": "ISO 3166-1 alpha-2 code (click for the country).",
            "level": "'year' (totals before the year) or 'month' (totals from the year's start to before the "
                     "month).",
            "start": "The first day of the year or month (ISO date).",
            "known_from": "When the tracker started saying this (UTC).",
            "known_to": "When a late-recorded event, correction or retraction changed it (UTC; blank = still "
                        "so).",
            "events": "Events involving the country in the row's span.",
            "visits": "Visits.",
            "signings": "Signings.",
            "mous": "MoUs.",
            "orders": "Orders.",
            "forums": "Forums.",
            "meetings": "Meetings.",
            "summits": "Summit steps.",
            "announcements": "Announcements.",
            "milestones": "Milestones.",
            "figures": "Figures.",
            "agreements": "Agreements (signings' agreement_count summed, plus MoUs).",
            "visits_hosted": "Visits the country hosted.",
            "visits_made": "Visits made by the country's officials.",
            "order_value_usd": "Value of orders stated in US dollars.",
            "last_event_on": "The day the latest of those events began (ISO date).",
        },
    },
}

#: Datasette links a country's tallies to the country, and a contribution to its event.
FOREIGN_KEYS = {
    "country_tallies": [("country", "countries", "code")],
    "country_tallies_history": [("country", "countries", "code"), ("event", "effective_events", "id")],
}
MATERIALIZE: dict = {}
PUBLISH_INDEXES: list = []

"""Reported time: what public reporting had said by a date.

Every event carries its sources' publication dates, and those, not the day an analyst
typed the event in, are what "known then" means for a record filled in after the fact.
The rules (DESIGN §5):

- a world event counts from its earliest source's `published` date, a partial date
  counting from the end of its period (a source of `2024-06` was out by 2024-06-30);
- a correction or retraction counts from its own earliest source, or, with none, from
  the day it was recorded (UTC);
- an amendment of something not yet reported counts for nothing: there is nothing for
  it to amend. (A correction's change of its target's `sources` does not move when the
  target counts: that is set by the sources it was logged with.)

`reported_rows` reads the log "as reported by R" (and recorded by T): the rows a
question on all three axes is answered from. Nothing here knows the projections.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from events.dates import parse_published
from events.models import AMENDMENT_KINDS

from tracker.log.amendments import Amendment, effective_form
from tracker.log.store import AMENDMENT_ROW, TARGET


@lru_cache(maxsize=65536)
def published_by(published: str) -> str:
    """The day (YYYY-MM-DD) a source of `published` was out by: the end of its period.
    Cached: a replay asks it of every source, and sources share their dates."""
    return parse_published(published).end.isoformat()


def reported_on(record: dict[str, Any], recorded_at: str) -> str:
    """The day (YYYY-MM-DD) from which `record` counts as reported."""
    ends = [published_by(source["published"]) for source in record.get("sources") or ()]
    if ends:
        return min(ends)
    return recorded_at[:10]


def reported_versions(record: dict[str, Any], recorded_at: str,
                      amendments: list[Amendment]) -> list[tuple[str, str | None, dict[str, Any] | None]]:
    """What a world event said as reporting went on, everything recorded taken as known:
    (from, to, form) for each stretch of reported time, `to` None for the last, `form`
    None while retracted; nothing before the event itself counts as reported.

    `amendments` are the event's corrections and retractions and the retractions of those
    corrections (as `effective_form` takes them). The form at R is the event with the
    amendments that pass at R (the rules above, as `passing` applies them to log rows),
    so the form changes only on the days an amendment comes to count.
    """
    start = reported_on(record, recorded_at)
    on = {a.id: max(start, reported_on({"sources": a.sources}, a.recorded_at or "")) for a in amendments}
    versions: list[tuple[str, str | None, dict[str, Any] | None]] = []
    for day in sorted({start, *on.values()}):
        passed: set[str] = {record["id"]}
        counted = []
        for a in sorted(amendments, key=lambda a: a.seq or 0):
            if on[a.id] <= day and a.target in passed:
                passed.add(a.id)
                counted.append(a)
        form = effective_form(record, counted)
        if versions and versions[-1][2] == form:
            continue
        if versions:
            versions[-1] = (versions[-1][0], day, versions[-1][2])
        versions.append((day, None, form))
    return versions


#: The columns `reported_rows` yields, in order: the whole log row.
COLUMNS = ("seq", "id", "kind", "occurred", "occurred_start", "occurred_end", "recorded_at", "body",
           "prev_hash", "hash")


def reported_rows(conn: sqlite3.Connection, *, reported_by: str | None = None,
                  known_at: str | None = None) -> Iterator[tuple]:
    """The log's rows (COLUMNS) recorded by `known_at` and reported by `reported_by`, in seq order.

    An amendment passes when it and the event it amends (through a correction it
    retracts, too) both do.
    """
    sql = f"SELECT {', '.join(COLUMNS)} FROM events" + (" WHERE recorded_at <= ?" if known_at else "")
    rows = conn.execute(sql + " ORDER BY seq", (known_at,) if known_at else ())
    if reported_by is None:
        yield from rows
    else:
        yield from passing(rows, reported_by=reported_by)


def passing(rows: Iterable[tuple], *, reported_by: str | None = None,
            known_at: str | None = None) -> Iterator[tuple]:
    """Those of `rows` (log rows, COLUMNS, in seq order) that pass the bounds, by the rules
    above: the filter `reported_rows` applies to the whole log, for any part of it that
    holds each amendment's target with it (one key's events and their amendments)."""
    body_at, kind_at, recorded_at_at = COLUMNS.index("body"), COLUMNS.index("kind"), COLUMNS.index("recorded_at")
    passed: set[str] = set()
    for row in rows:
        if known_at is not None and row[recorded_at_at] > known_at:
            continue
        if reported_by is None:
            yield row
            continue
        record = orjson.loads(row[body_at])
        if reported_on(record, row[recorded_at_at]) > reported_by:
            continue
        if row[kind_at] in AMENDMENT_KINDS and record["target"] not in passed:
            continue
        passed.add(record["id"])
        yield row


def first_reported(conn: sqlite3.Connection) -> str | None:
    """The earliest day any world event in the log counts as reported from (None: no event)."""
    world = ", ".join(f"'{kind}'" for kind in AMENDMENT_KINDS)
    days = (
        reported_on(orjson.loads(body), recorded_at)
        for recorded_at, body in conn.execute(f"SELECT recorded_at, body FROM events WHERE kind NOT IN ({world})")
    )
    return min(days, default=None)


# --- one event as reported then (`tracker show`, the event page) -----------------------------

_SEQ, _ID, _KIND, _RECORDED_AT, _BODY = (COLUMNS.index(c) for c in ("seq", "id", "kind", "recorded_at", "body"))


@dataclass(frozen=True)
class Reported:
    """One world event as reported by a day (and recorded by a moment)."""

    id: str
    seq: int
    record: dict[str, Any]  # as first logged
    recorded_at: str
    reported_on: str  # the day it counts from (its earliest source)
    counted: bool  # it passes the bounds
    amendments: tuple[Amendment, ...]  # those that count by then, in log order
    form: dict[str, Any] | None  # its effective form then; None if not counted or retracted


#: Ids asked about in one query: a key's events come in a few queries, not two per event.
CHUNK = 500


def _rows_where(conn: sqlite3.Connection, condition: str, ids: list[str]) -> list[tuple]:
    """The log rows (COLUMNS) where `condition`, which ends in `IN`, holds of one of `ids`."""
    rows: list[tuple] = []
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows.extend(conn.execute(f"SELECT {', '.join(COLUMNS)} FROM events WHERE {condition} ({marks})", chunk))
    return rows


def rows_with_amendments(conn: sqlite3.Connection, ids: list[str]) -> list[tuple]:
    """The log rows (COLUMNS) of the events `ids`, their corrections and retractions and
    the retractions of those corrections, in seq order: every row `passing` needs to
    decide what those events said at any bound, and nothing else of the log."""
    kind_at, id_at = COLUMNS.index("kind"), COLUMNS.index("id")
    ids = sorted(set(ids))
    amending = f"{AMENDMENT_ROW} AND {TARGET} IN"
    rows = _rows_where(conn, "id IN", ids)
    amendments = _rows_where(conn, amending, ids)
    corrections = sorted({row[id_at] for row in amendments if row[kind_at] == "correction"})
    rows += amendments + _rows_where(conn, amending, corrections)
    return sorted(rows, key=lambda row: row[COLUMNS.index("seq")])


def as_reported(conn: sqlite3.Connection, event_id: str, *, reported_by: str | None,
                known_at: str | None) -> Reported | None:
    """The world event `event_id` as reported by `reported_by` (a day) and recorded by
    `known_at` (the log's stamp), or None when the log has no such world event."""
    rows = rows_with_amendments(conn, [event_id])
    row = next((r for r in rows if r[_ID] == event_id), None)
    if row is None or row[_KIND] in AMENDMENT_KINDS:
        return None
    passed = {r[_ID]: r for r in passing(rows, reported_by=reported_by, known_at=known_at)}
    record = orjson.loads(row[_BODY])
    counted = event_id in passed
    amendments = tuple(Amendment.from_record(orjson.loads(r[_BODY]), r[_SEQ], r[_RECORDED_AT])
                       for i, r in passed.items() if i != event_id)
    return Reported(event_id, row[_SEQ], record, row[_RECORDED_AT], reported_on(record, row[_RECORDED_AT]),
                    counted, amendments, effective_form(record, list(amendments)) if counted else None)

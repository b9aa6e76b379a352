"""The reader's pages on reported time (`reported_by`): a project and an event as public
reporting had told them by a date.

The rules are the log's (tracker.log.reported: an event counts from its earliest
source's `published` date, the end of a partial date's period; an amendment from its own
earliest source, or the day it was recorded, and only once its target counts), applied
by the log's own filter `passing` to the few log rows a page needs: the event and its
amendments, or a project's events (tracker.replay.keyed's `candidates`, which include
events a correction has since moved to another project) and theirs. A project's state is
its projection's own fold of those events, asked its own SQL in memory, as `tracker
status --reported-by` answers it (tracker.replay.keyed). Nothing here reads the whole log,
so a page costs what its key's events cost.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import orjson

from events.models import AMENDMENT_KINDS
from projections import project_status

from tracker.log.amendments import Amendment, effective_form
from tracker.log.reported import COLUMNS, passing, reported_on
from tracker.log.store import amendments_of
from tracker.replay.effective import compact, world_order
from tracker.replay.keyed import candidates, key_history

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


def _log_rows(conn: sqlite3.Connection, ids: list[str]) -> list[tuple]:
    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    return conn.execute(f"SELECT {', '.join(COLUMNS)} FROM events WHERE id IN ({marks}) ORDER BY seq", ids).fetchall()


def as_reported(conn: sqlite3.Connection, event_id: str, *, reported_by: str | None,
                known_at: str | None) -> Reported | None:
    """The world event `event_id` as reported by `reported_by` (a day) and recorded by
    `known_at` (the log's stamp), or None when the log has no such world event."""
    found = _log_rows(conn, [event_id])
    if not found or found[0][_KIND] in AMENDMENT_KINDS:
        return None
    row = found[0]
    ids = [event_id] + [a.id for a in amendments_of(conn, event_id)]
    passed = {r[_ID]: r for r in passing(_log_rows(conn, ids), reported_by=reported_by, known_at=known_at)}
    record = orjson.loads(row[_BODY])
    counted = event_id in passed
    amendments = tuple(Amendment.from_record(orjson.loads(r[_BODY]), r[_SEQ], r[_RECORDED_AT])
                       for i, r in passed.items() if i != event_id)
    return Reported(event_id, row[_SEQ], record, row[_RECORDED_AT], reported_on(record, row[_RECORDED_AT]),
                    counted, amendments, effective_form(record, list(amendments)) if counted else None)


def project_events(conn: sqlite3.Connection, slug: str, *, as_of: str | None, reported_by: str | None,
                   known_at: str | None) -> list[tuple[Reported, dict[str, Any]]]:
    """The project's events as reported by then, the latest first, each with its span in
    world time (`occurred_start`, `occurred_end`): those whose form then names the project
    and whose date had come by `as_of`."""
    found = []
    for event_id in candidates(conn, project_status, slug):
        event = as_reported(conn, event_id, reported_by=reported_by, known_at=known_at)
        if event is None or event.form is None or event.form.get("project") != slug:
            continue
        span = compact(event.form, event.seq, ())
        if as_of is None or span["occurred_start"] <= as_of:
            found.append((event, span))
    return sorted(found, key=lambda found: world_order(found[1]), reverse=True)


def project_history(conn: sqlite3.Connection, slug: str, *, reported_by: str | None,
                    known_at: str | None) -> sqlite3.Connection:
    """The project's status history as reported by then, in a database in memory holding
    its projection's history table (every row taken as known), to be asked the same SQL
    as the live table. The caller closes it."""
    return key_history(conn, project_status, slug, reported_by=reported_by, known_at=known_at)

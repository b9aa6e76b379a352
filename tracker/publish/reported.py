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
from typing import Any

from projections import project_status

from tracker.log.reported import Reported, as_reported
from tracker.replay.effective import compact, world_order
from tracker.replay.keyed import candidates, key_history

__all__ = ["Reported", "as_reported", "project_events", "project_history"]


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

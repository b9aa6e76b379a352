"""Effective events: the log read through its corrections and retractions, on both time axes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from events.dates import iso_span

from tracker.log.amendments import Amendment, effective_form
from tracker.log.store import EventStore
from tracker.replay.effective import BODY_SQL


@dataclass(frozen=True)
class EffectiveEvent:
    seq: int
    recorded_at: str
    record: dict[str, Any]  # the effective form: corrections applied
    corrected: bool

    @property
    def sort_key(self) -> tuple[str, str, int]:
        return (*iso_span(self.record["occurred"]), self.seq)

    def as_json(self) -> dict[str, Any]:
        return {**self.record, "seq": self.seq, "recorded_at": self.recorded_at}


def current_events(
    store: EventStore,
    *,
    as_of: str | None = None,
    kind: str | None = None,
    country: str | None = None,
    project: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Iterator[EffectiveEvent]:
    """The same events as `effective_events` with no `known_at`, read from the replayed tables.

    `effective_events` (the replay's own index of the log as known now) has the
    effective form of every live event, indexed by world order, kind, project and
    country, so a filtered listing reads only what it returns and streams it, where
    reading the log parses every event. The caller brings the projections up to date.
    """
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in (
        ("e.kind = ?", kind),
        ("e.project = ?", project),
        ("e.seq IN (SELECT c.seq FROM event_countries c WHERE c.country = ?)", country),
        ("e.occurred_start >= ?", since),
        ("e.occurred_start <= ?", until),
        ("e.occurred_start <= ?", as_of),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    rows = store.conn.execute(
        f"SELECT e.seq, e.recorded_at, {BODY_SQL}, e.corrected FROM effective_events e{where}"
        " ORDER BY e.occurred_start, e.occurred_end, e.seq",
        params,
    )
    for seq, recorded_at, body, corrected in rows:
        yield EffectiveEvent(seq, recorded_at, orjson.loads(body), bool(corrected))


def amendments_by_target(store: EventStore, known_at: str | None = None,
                         reported_by: str | None = None) -> dict[str, list[Amendment]]:
    """Every amendment recorded by `known_at` (and reported by `reported_by`), grouped
    under the world event it ultimately concerns.

    On reported time an amendment counts only once it and its target do (the log's own
    rule, `tracker.log.reported.passing`), so the few amended events are read with their
    amendments (`rows_with_amendments`) and filtered by that rule.
    """
    sql = (
        "SELECT seq, recorded_at, body FROM events WHERE kind IN ('correction', 'retraction')"
        + (" AND recorded_at <= ?" if known_at else "")
        + " ORDER BY seq"
    )
    rows = store.conn.execute(sql, (known_at,) if known_at else ())
    amendments = [
        Amendment.from_record(orjson.loads(body), seq, recorded_at) for seq, recorded_at, body in rows
    ]
    correction_target = {a.id: a.target for a in amendments if a.kind == "correction"}
    if reported_by is not None:
        from tracker.log.reported import COLUMNS, passing, rows_with_amendments

        world = sorted({correction_target.get(a.target, a.target) for a in amendments})
        kind_at = COLUMNS.index("kind")
        passed = {
            row[COLUMNS.index("id")]
            for row in passing(rows_with_amendments(store.conn, world), reported_by=reported_by, known_at=known_at)
            if row[kind_at] in ("correction", "retraction")
        }
        amendments = [a for a in amendments if a.id in passed]
    grouped: dict[str, list[Amendment]] = defaultdict(list)
    for amendment in amendments:
        grouped[correction_target.get(amendment.target, amendment.target)].append(amendment)
    return grouped


def effective_events(
    store: EventStore,
    *,
    as_of: str | None = None,
    known_at: str | None = None,
    reported_by: str | None = None,
    kind: str | None = None,
    country: str | None = None,
    project: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Iterator[EffectiveEvent]:
    """World events as the tracker took them at `known_at`, as reported by `reported_by`,
    that had begun by `as_of`: one ordered read of the log, each event made effective by
    its amendments that pass the same bounds.

    Ordered by (occurred_start, occurred_end, seq) of their effective dates. `since`
    and `until` are YYYY-MM-DD bounds on occurred_start. On reported time a world event
    counts from its earliest source (`tracker.log.reported.reported_on`, the rule
    `passing` applies), so no replay is needed: this is `list --reported-by`'s answer,
    and `reported_events(..., replay=True)` the replay it is checked against.
    """
    amendments = amendments_by_target(store, known_at, reported_by)
    if reported_by is not None:
        from tracker.log.reported import reported_on
    clauses = ["kind NOT IN ('correction', 'retraction')"]
    params: list[Any] = []
    if known_at:
        clauses.append("recorded_at <= ?")
        params.append(known_at)
    if kind:
        clauses.append("kind = ?")
        params.append(kind)
    rows = store.conn.execute(
        "SELECT seq, recorded_at, id, body FROM events WHERE "
        + " AND ".join(clauses)
        + (" ORDER BY seq" if reported_by is not None else " ORDER BY occurred_start, occurred_end, seq"),
        params,
    )
    found: list[EffectiveEvent] = []
    for seq, recorded_at, event_id, body in rows:
        record = orjson.loads(body)
        if reported_by is not None and reported_on(record, recorded_at) > reported_by:
            continue
        own = amendments.get(event_id)
        original = record
        if own:
            record = effective_form(record, own, known_at)
            if record is None:
                continue
        start = iso_span(record["occurred"])[0]
        if as_of and start > as_of:
            continue
        if since and start < since:
            continue
        if until and start > until:
            continue
        if country and country not in record["countries"]:
            continue
        if project and record.get("project") != project:
            continue
        # corrected: a live correction changed it (not one that was itself retracted)
        found.append(EffectiveEvent(seq, recorded_at, record, record is not original))
    # Corrections can move an event's date, so the SQL order is only nearly right (and on
    # reported time the log is read in seq order, which needs no sort of the log's rows).
    found.sort(key=lambda e: e.sort_key)
    yield from found


def reported_events(store: EventStore, *, reported_by: str, replay: bool = False,
                    **bounds: Any) -> list[EffectiveEvent]:
    """World events as reported by `reported_by` (with `known_at`, `as_of` and the listing's
    filters in `bounds`). By default one read of the log (`effective_events`); with
    `replay` the plain way, a replay in memory of every row that passes
    (`tracker.replay.filtered`) listed from its index: the same events, kept to check the
    first against."""
    if not replay:
        return list(effective_events(store, reported_by=reported_by, **bounds))
    from tracker.replay.filtered import reported_view

    known_at = bounds.pop("known_at", None)
    with reported_view(store, reported_by=reported_by, known_at=known_at) as view:
        return list(current_events(view, **bounds))

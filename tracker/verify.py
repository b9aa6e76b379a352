"""Proof that nobody rewrote the log: the hash chain, the triggers and the derived columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from events.dates import DateError, parse_occurred
from events.identity import canonical_json

from .store import GENESIS, TRIGGERS, EventStore, chain_hash


@dataclass
class Report:
    events: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, message: str, seq: int | None = None) -> None:
        if seq is not None and self.first_bad_seq is None:
            self.first_bad_seq = seq
        self.problems.append(f"seq {seq}: {message}" if seq is not None else message)

    def as_json(self) -> dict:
        return {
            "ok": self.ok,
            "events": self.events,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_bad_seq": self.first_bad_seq,
            "problems": self.problems,
        }


def check_triggers(store: EventStore, report: Report) -> None:
    present = {
        name
        for (name,) in store.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
        )
    }
    for name in TRIGGERS:
        if name not in present:
            report.problem(f"trigger {name} is missing: the log is no longer append-only")


def check_chain(store: EventStore, report: Report) -> None:
    """Walk the log in seq order; name the first row whose link or content does not check out.

    Only the first break in the chain is reported: every row after it would fail too.
    """
    expected_prev, last_seq, last_time = GENESIS, 0, ""
    rows = store.conn.execute(
        "SELECT seq, id, kind, occurred, occurred_start, occurred_end, recorded_at, body,"
        " prev_hash, hash FROM events ORDER BY seq"
    )
    for seq, id_, kind, occurred, start, end, recorded_at, body, prev_hash, hash_ in rows:
        report.events += 1
        body_bytes = body if isinstance(body, bytes) else body.encode()
        if prev_hash != expected_prev:
            gap = f" (seq {last_seq + 1} to {seq - 1} missing)" if seq != last_seq + 1 else ""
            report.problem(
                f"prev_hash does not match the hash of the event before it{gap}: "
                "an event was removed, reordered or rewritten",
                seq,
            )
            return
        if chain_hash(prev_hash, recorded_at, body_bytes) != hash_:
            report.problem("hash does not match the event's content: the row was edited", seq)
            return
        try:
            record = orjson.loads(body_bytes)
            span = parse_occurred(occurred) if occurred else None
        except (orjson.JSONDecodeError, DateError) as e:
            report.problem(f"the row cannot be read: {e}", seq)
            return
        derived = (
            record.get("id"),
            record.get("kind"),
            record.get("occurred"),
            span.start.isoformat() if span else None,
            span.end.isoformat() if span else None,
        )
        if derived != (id_, kind, occurred, start, end) or canonical_json(record) != body_bytes:
            report.problem("the id, kind or date columns disagree with the event's body", seq)
            return
        if recorded_at < last_time:
            report.problem("recorded_at goes back in time", seq)
            return
        expected_prev, last_seq, last_time = hash_, seq, recorded_at
    report.head_seq, report.head_hash = last_seq, expected_prev


def verify_log(store: EventStore) -> Report:
    report = Report()
    check_triggers(store, report)
    check_chain(store, report)
    return report


def verify_all(store: EventStore) -> Report:
    """The log's own checks, then the projections against a fresh replay."""
    report = verify_log(store)
    from .replay import check_projections

    check_projections(store, report)
    return report

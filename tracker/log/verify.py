"""Proof that nobody rewrote the log: its schema, the hash chain and published heads.

Verifying only reads: the database is opened read-only. Whatever is found is reported,
never repaired, so the evidence stays for whoever looks next. The projections are
checked against the log one layer up (tracker.replay.checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import orjson

from events.dates import DateError, parse_occurred
from events.identity import canonical_json

from tracker.log.preparing import GENESIS, chain_hash
from tracker.log.store import EventStore


@dataclass
class Report:
    events: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None
    heads_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, message: str, seq: int | None = None) -> None:
        if seq is not None and self.first_bad_seq is None:
            self.first_bad_seq = seq
        self.problems.append(f"seq {seq}: {message}" if seq is not None else message)

    def note(self, message: str) -> None:
        """Something worth knowing that is not a problem with the log."""
        self.notes.append(message)

    def as_json(self) -> dict:
        return {
            "ok": self.ok,
            "events": self.events,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "heads_checked": self.heads_checked,
            "first_bad_seq": self.first_bad_seq,
            "problems": self.problems,
            "notes": self.notes,
        }


class HeadError(ValueError):
    """A published head that cannot be read: bad input, not a problem with the log."""


_HEAD = re.compile(r"(\d+)[:\s]\s*([0-9a-f]{64})", re.ASCII)


def parse_head(text: str) -> tuple[int, str]:
    """'SEQ:HASH' (or 'SEQ HASH', as `verify` prints them) → (seq, hash)."""
    found = _HEAD.fullmatch(text.strip())
    if not found or int(found.group(1)) < 1:
        raise HeadError(f"'{text.strip()}' is not a head: write SEQ:HASH, e.g. 50:{'0' * 8}... with the 64 hex digits `tracker verify` printed")
    return int(found.group(1)), found.group(2)


def read_heads(path: str) -> list[tuple[int, str]]:
    """Heads from a file, one a line ('SEQ:HASH' or 'SEQ HASH'); blank lines and '#' comments skipped."""
    heads = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                heads.append(parse_head(text))
            except HeadError as e:
                raise HeadError(f"{path}: line {number}: {e}") from None
    return heads


def check_schema(store: EventStore, report: Report) -> bool:
    """The table and its triggers as the tracker made them; False when there is no log to check."""
    for problem in store.schema_problems():
        report.problem(problem)
    return store.has_log()


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


def check_heads(store: EventStore, report: Report, heads: list[tuple[int, str]]) -> None:
    """Each head published earlier must still be in the log: the same hash at the same seq.

    With the chain intact, that proves every event up to the head is unchanged.
    """
    last = store.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
    for seq, expected in heads:
        report.heads_checked += 1
        row = store.conn.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            report.problem(
                f"the log ends at seq {last}, before the head published at seq {seq}: events were removed"
            )
        elif row[0] != expected:
            report.problem(
                f"the hash here is {row[0][:12]}..., not the published head's {expected[:12]}...: "
                f"the log was rewritten at or before seq {seq}",
                seq,
            )


def verify_log(store: EventStore, heads: list[tuple[int, str]] = ()) -> Report:
    report = Report()
    if check_schema(store, report):
        check_chain(store, report)
        check_heads(store, report, list(heads))
    return report

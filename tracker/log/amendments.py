"""Corrections and retractions: the effective form of an event, as known at a moment.

The log never changes; what changes is what an event is taken to say. The
effective form of an event is the original with every live correction applied in
log order. A retraction makes an event (or a correction) count nowhere from the
moment the retraction is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Amendment:
    id: str
    kind: str  # "correction" or "retraction"
    target: str
    seq: int | None
    recorded_at: str | None
    changes: dict[str, Any]

    @classmethod
    def from_record(
        cls, record: dict[str, Any], seq: int | None, recorded_at: str | None = None
    ) -> Amendment:
        return cls(
            record["id"],
            record["kind"],
            record["target"],
            seq,
            recorded_at,
            record.get("changes") or {},
        )


def apply_corrections(record: dict[str, Any], changes_in_order: list[dict[str, Any]]) -> dict[str, Any]:
    """The record with each set of changes applied in turn; a null value removes a field."""
    result = dict(record)
    for changes in changes_in_order:
        for key, value in changes.items():
            if value is None and key not in ("project", "status"):
                result.pop(key, None)
            else:
                result[key] = value
    return result


def effective_form(
    record: dict[str, Any], amendments: list[Amendment], known_at: str | None = None
) -> dict[str, Any] | None:
    """What the tracker took `record` to say at `known_at` (None: now), or None if retracted then.

    `amendments` are the event's corrections and retractions and the retractions of
    those corrections, each with its recorded_at, in log order.
    """
    known = [a for a in amendments if known_at is None or (a.recorded_at or "") <= known_at]
    retracted = {a.target for a in known if a.kind == "retraction"}
    if record["id"] in retracted:
        return None
    live = [a.changes for a in known if a.kind == "correction" and a.id not in retracted]
    return apply_corrections(record, live) if live else record

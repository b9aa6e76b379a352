"""`tracker verify` whole: the log's own checks, then the projections against the log.

The log layer proves the chain; only the replay layer knows what the projections
should hold, so the two are put together here, one layer up.
"""

from __future__ import annotations

from tracker.log.store import EventStore
from tracker.log.verify import Report, verify_log
from tracker.replay.engine import check_projections


def verify_all(store: EventStore, heads: list[tuple[int, str]] = ()) -> Report:
    """The log's own checks, then the projections against a fresh replay (on a private copy)."""
    report = verify_log(store, heads)
    if store.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
        check_projections(store, report)
    return report

"""The three time axes a question can be asked on.

World time (`--as-of`): what had happened by a date. Knowledge time
(`--known-at`): what the tracker had been told by a moment. Reported time
(`--reported-by`): what public reporting had said by a date (`tracker.log.reported`).
All arrive as text from people; these functions turn them into the exact bounds the
queries compare with.
"""

from __future__ import annotations

import datetime as dt

from events.dates import DateError, parse_occurred


class TimeError(ValueError):
    """A --as-of, --known-at or --reported-by value that cannot be understood."""


def as_of_day(text: str | None, option: str = "--as-of") -> str | None:
    """The last day a world-time date means, as YYYY-MM-DD: `2024-06` → `2024-06-30`."""
    if text is None or text == "":
        return None
    if "/" in text or text[-1:] in "?~":
        raise TimeError(f"{option} '{text}': give one date, YYYY, YYYY-MM or YYYY-MM-DD")
    try:
        return parse_occurred(text).end.isoformat()
    except DateError as e:
        raise TimeError(f"{option} {e}") from None


def reported_by_day(text: str | None) -> str | None:
    """The last day a reported-time date means, as YYYY-MM-DD: `2024` → `2024-12-31`."""
    return as_of_day(text, "--reported-by")


def known_at_stamp(text: str | None) -> str | None:
    """A knowledge-time bound in the log's recorded_at format (UTC, microseconds, Z).

    A date means the end of that day, UTC; a timestamp without a zone is taken as UTC.
    """
    if text is None or text == "":
        return None
    value = text.strip()
    try:
        if len(value) <= 10:
            day = parse_occurred(value).end
            moment = dt.datetime.combine(day, dt.time(23, 59, 59, 999999))
        else:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
            if moment.tzinfo is not None:
                moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    except (DateError, ValueError):
        raise TimeError(
            f"--known-at '{text}': give a date (YYYY, YYYY-MM, YYYY-MM-DD) "
            "or a timestamp such as 2025-01-15T10:30:00Z"
        ) from None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

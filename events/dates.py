"""The EDTF subset events are dated with, and the day ranges they cover.

Analysts often know only a month or a year, or only that something happened
"around" a date. Recording that precision honestly (rather than a guessed day)
matters more than parsing all of EDTF, so the tracker accepts a small, strict
subset and derives from it the first and last day an event may have happened on.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from .codes import visible

ACCEPTED = (
    "YYYY, YYYY-MM, YYYY-MM-DD, or an interval START/END of those, "
    "optionally ending in ? (uncertain) or ~ (approximate)"
)

# ASCII digits only: `\d` and int() also take other scripts' digits (Arabic-Indic,
# full-width and more), and a date must read the same to every reader and sort as text.
_PART = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
#: A source's publication date: one day, month or year, as precise as the source shows.
PUBLISHED_PATTERN = r"^[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?$"
PUBLISHED_ACCEPTED = "YYYY-MM-DD, YYYY-MM or YYYY, as precise as the source shows"
#: No accepted date is longer than this (`2024-06-12/2024-06-13?` has 22 characters).
MAX_DATE_LENGTH = 40
_QUALIFIERS = {"?": "uncertain", "~": "approximate"}


class DateError(ValueError):
    """A date outside the accepted subset, or one that cannot exist."""


@dataclass(frozen=True)
class Occurred:
    """A parsed date: the text as entered and the days it may stand for."""

    text: str
    start: dt.date
    end: dt.date
    precision: str  # "year", "month" or "day": the coarsest part given
    qualifier: str | None  # "uncertain", "approximate" or None
    interval: bool


def _quoted(text: str) -> str:
    """A date as messages quote it: safe on a terminal and never overlong."""
    return f"'{visible(text, MAX_DATE_LENGTH)}'"


def _parse_part(part: str, whole: str, *, as_end: bool) -> tuple[dt.date, str]:
    match = _PART.fullmatch(part)
    if match is None:
        if any(char.isdigit() and not char.isascii() for char in part):
            raise DateError(f"{_quoted(whole)}: dates are written with the digits 0-9 only")
        raise DateError(f"{_quoted(whole)} is not a date the tracker accepts: use {ACCEPTED}")
    year, month, day = (int(g) if g else None for g in match.groups())
    if year == 0:
        raise DateError(f"{_quoted(whole)}: year 0000 does not exist; years run from 0001")
    if month is None:
        return (dt.date(year, 12, 31) if as_end else dt.date(year, 1, 1)), "year"
    if not 1 <= month <= 12:
        raise DateError(f"{_quoted(whole)}: month {month:02d} does not exist (months are 01 to 12)")
    last_day = calendar.monthrange(year, month)[1]
    if day is None:
        return dt.date(year, month, last_day if as_end else 1), "month"
    if not 1 <= day <= last_day:
        raise DateError(
            f"{_quoted(whole)}: day {day:02d} does not exist in {calendar.month_name[month]} {year}, "
            f"which has {last_day} days"
        )
    return dt.date(year, month, day), "day"


_COARSER = {"year": 0, "month": 1, "day": 2}


@lru_cache(maxsize=65536)
def parse_occurred(text: str) -> Occurred:
    """Parse a date of the accepted EDTF subset, or raise DateError saying why not.

    Cached: a log holds a few thousand distinct dates however many events it has.
    """
    if not isinstance(text, str) or not text:
        raise DateError(f"a date is required: use {ACCEPTED}")
    if len(text) > MAX_DATE_LENGTH:
        raise DateError(f"{_quoted(text)} is not a date the tracker accepts: use {ACCEPTED}")
    body, qualifier = text, None
    if text[-1] in _QUALIFIERS:
        body, qualifier = text[:-1], _QUALIFIERS[text[-1]]
    if "/" in body:
        first, _, last = body.partition("/")
        if "/" in last:
            raise DateError(f"{_quoted(text)}: an interval has exactly one '/'")
        start, p1 = _parse_part(first, text, as_end=False)
        end, p2 = _parse_part(last, text, as_end=True)
        if end < start:
            raise DateError(f"{_quoted(text)}: the interval ends before it starts")
        precision = p1 if _COARSER[p1] <= _COARSER[p2] else p2
        return Occurred(text, start, end, precision, qualifier, True)
    start, precision = _parse_part(body, text, as_end=False)
    end, _ = _parse_part(body, text, as_end=True)
    return Occurred(text, start, end, precision, qualifier, False)


@lru_cache(maxsize=65536)
def parse_published(text: str) -> Occurred:
    """A source's `published` date, or DateError saying why not.

    One day, month or year (`2024-06-12`, `2024-06`, `2024`): a source's date is as
    precise as the source shows it, never an interval and never qualified. Like an
    event's date it stands for the days from `start` to `end`: a source known only to
    its month was out by the month's last day at the latest.
    """
    if not isinstance(text, str) or re.fullmatch(PUBLISHED_PATTERN, text) is None:
        if isinstance(text, str) and any(char.isdigit() and not char.isascii() for char in text):
            raise DateError(f"{_quoted(text)}: dates are written with the digits 0-9 only")
        raise DateError(f"{_quoted(str(text))} is not a publication date: use {PUBLISHED_ACCEPTED}")
    start, precision = _parse_part(text, text, as_end=False)
    end, _ = _parse_part(text, text, as_end=True)
    return Occurred(text, start, end, precision, None, False)


@lru_cache(maxsize=65536)
def iso_span(text: str) -> tuple[str, str]:
    """(occurred_start, occurred_end) of a date as ISO text: the log's derived columns.

    Cached apart from `parse_occurred`: storing, replaying and content ids all need
    these strings for every event, and formatting them costs more than looking them up.
    """
    span = parse_occurred(text)
    return span.start.isoformat(), span.end.isoformat()


def last_day_of(text: str) -> dt.date:
    """The last day a date may mean: `--as-of 2024-06` asks about 2024-06-30."""
    return parse_occurred(text).end


def abbreviated(text: str) -> str:
    """A date as a table shows it: as entered, except that an interval of days leaves out
    what its end repeats of its start (`2026-09-16/2026-09-17` → `2026-09-16/17`,
    `2026-09-30/2026-10-02` → `2026-09-30/10-02`). The precision stays as entered; any
    other interval (`2026-09/2026-11` would read as a day) is shown whole.
    """
    qualifier = text[-1] if text[-1:] in _QUALIFIERS else ""
    body = text[: len(text) - len(qualifier)]
    first, slash, last = body.partition("/")
    start, end = first.split("-"), last.split("-")
    if not slash or len(start) != 3 or len(end) != 3:
        return text
    same = 0
    while same < len(end) - 1 and start[same] == end[same]:
        same += 1
    return f"{first}/{'-'.join(end[same:])}{qualifier}"

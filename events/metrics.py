"""The metrics a `figure` can measure: a documented list, extended without code.

Figures of one metric about the same countries and period are one series (see
`projections.figures`), so a thing measured must have one name, not three spellings:
a figure's `metric` is a slug from this list, and a figure naming any other is refused
with the list's nearest names. The list is CSV with three columns:

- `slug`: the metric's name in events (lower-case letters, digits, `.`, `_`, `-`);
- `unit`: the unit its figures are usually given in (a figure still says its own);
- `meaning`: what it measures, and how its countries are read.

Further columns (notes, say) are ignored.

It is read from two files:

1. `events/data/metrics.csv`, shipped with the tracker;
2. the CSV file named by the environment variable ``TRACKER_METRICS``, when it is set:
   a team's own metrics, added to the shipped ones. A slug listed twice, a row without
   a unit or a meaning, or a file that cannot be read is an error naming the file and
   the line, and no figure is accepted until it is fixed.

An environment variable rather than a file beside the database, because the models
validate events knowing nothing of where the log is kept (`events/` is below the log);
`tracker log`, `tracker import` and `tracker correct` all see the same list.

A figure's `period` is the time its number covers: for a flow (trade, investment in a
year, aid, remittances) the time it was counted over; for a stock, a count or a rank
(investment accumulated, companies, a quota) the time it stood so, its period's end.

The list is read when a figure is first validated, once for each value of
``TRACKER_METRICS`` a process sees.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

#: The environment variable naming a CSV file of further metrics.
ENV = "TRACKER_METRICS"
#: The columns of a metrics file, in order.
COLUMNS = ("slug", "unit", "meaning")
#: What a slug is: the models' ID_PATTERN (events.models imports this module, so it cannot
#: be imported from there; tests/test_figures.py holds the two the same).
SLUG_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,127}$"
#: The longest unit and meaning: as long as a name and a text may be in an event.
UNIT_MAX, MEANING_MAX = 300, 2000


class Metric(NamedTuple):
    slug: str
    unit: str
    meaning: str
    #: Where it is listed: `metrics.csv` or the file TRACKER_METRICS names.
    listed_in: str


class MetricListError(ValueError):
    """A metrics file that cannot be read or holds a bad row."""


def shipped_path() -> Path:
    """The list shipped with the tracker (package data, beside the bundled record)."""
    return Path(__file__).with_name("data") / "metrics.csv"


def _read(path: Path, what: str, into: dict[str, Metric]) -> None:
    """Add the metrics listed in `path` to `into`; `what` names the file in messages."""
    import csv
    import re

    from events.codes import code_point, first_unsafe, unsafe_kind

    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise MetricListError(f"the metric list {what} cannot be read: {reason}") from None
    header = [cell.strip() for cell in rows[0]] if rows else []
    if header[:3] != list(COLUMNS):
        raise MetricListError(f"the metric list {what}: line 1 must be the header {','.join(COLUMNS)}")
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        slug, unit, meaning = ([cell.strip() for cell in row] + ["", "", ""])[:3]
        where = f"the metric list {what}, line {number}"
        if not re.fullmatch(SLUG_PATTERN, slug):
            raise MetricListError(f"{where}: {slug!r} is not a slug (lower-case a-z, 0-9, '.', '_', '-')")
        if slug in into:
            raise MetricListError(f"{where}: {slug} is already listed in {into[slug].listed_in}")
        for name, text, most in (("unit", unit, UNIT_MAX), ("meaning", meaning, MEANING_MAX)):
            if not text:
                raise MetricListError(f"{where}: {slug} has no {name}")
            if len(text) > most or first_unsafe(text) is not None:
                char = first_unsafe(text)
                why = f"holds the {unsafe_kind(char)} {code_point(char)}" if char else f"is over {most} characters"
                raise MetricListError(f"{where}: the {name} of {slug} {why}")
        into[slug] = Metric(slug, unit, meaning, what)


@lru_cache(maxsize=8)
def _listed(extra: str | None) -> dict[str, Metric]:
    found: dict[str, Metric] = {}
    _read(shipped_path(), "metrics.csv", found)
    if extra:
        _read(Path(extra), f"{extra} ({ENV})", found)
    return found


def metrics() -> dict[str, Metric]:
    """Every listed metric by slug: the shipped list, then the file TRACKER_METRICS names.

    Raises MetricListError when a file cannot be read or holds a bad row.
    """
    return _listed(os.environ.get(ENV) or None)


def nearest(text: str, most: int = 3) -> list[str]:
    """The listed slugs closest to `text`, the closest first: those sharing a word with it
    (`trade volume` → bilateral_trade), then the close spellings, or else the least far."""
    import difflib
    import re

    slugs = list(metrics())
    words = set(re.split(r"[\s._-]+", text.lower())) - {""}
    sharing = [slug for slug in difflib.get_close_matches(text, slugs, n=len(slugs), cutoff=0)
               if words & set(re.split(r"[._-]+", slug))]
    close = difflib.get_close_matches(text, slugs, n=most) or difflib.get_close_matches(text, slugs, n=most, cutoff=0)
    return list(dict.fromkeys(sharing + close))[:most]


def listed_metric(slug: str) -> str:
    """`slug` when it is a listed metric; otherwise ValueError, naming the nearest listed ones.

    The validator of a figure's `metric` (events.models.Figure).
    """
    try:
        listed = metrics()
    except MetricListError as e:
        raise ValueError(f"cannot be checked: {e}") from None
    if slug in listed:
        return slug
    raise ValueError(
        f"{slug!r} is not a listed metric (nearest: {', '.join(nearest(slug))}); "
        f"a new one goes in a CSV file of slug,unit,meaning named by {ENV}"
    )

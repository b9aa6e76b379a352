"""What a person calls a country or a project, turned into the code or slug the log uses.

Filters refuse rather than guess: `--country Kazakhstan` or a mistyped `--project`
would otherwise match nothing and print an empty table that looks like a true answer.
An unknown name is an error that names the fix ("Kazakhstan is KZ", the nearest slugs).
"""

from __future__ import annotations

import difflib
import sqlite3

from events.codes import code_named, codes_like, country_names, visible


class UnknownName(ValueError):
    """A name that is not a country code or a project slug the log knows."""


def _shown(text: str) -> str:
    return "'" + visible(text, 60) + "'"


def country_code(text: str, option: str = "--country") -> str:
    """The ISO 3166-1 alpha-2 code a person meant by `text`, or UnknownName saying what to type."""
    given = text.strip()
    codes = country_names()
    if given.upper() in codes and len(given) == 2:
        return given.upper()
    named = code_named(given)
    if named:
        raise UnknownName(f"{option} {_shown(text)}: countries are ISO 3166-1 alpha-2 codes: {codes[named]} is {named}")
    meant = codes_like(given)
    hint = (
        "; did you mean " + " or ".join(f"{code} ({codes[code]})" for code in meant) + "?"
        if meant
        else ", e.g. KZ for Kazakhstan"
    )
    raise UnknownName(f"{option} {_shown(text)} is not an ISO 3166-1 alpha-2 country code{hint}")


def known_projects(conn: sqlite3.Connection) -> list[str]:
    """Every project slug the projections have seen, at any time."""
    try:
        return [slug for (slug,) in conn.execute("SELECT DISTINCT project FROM project_status_history ORDER BY project")]
    except sqlite3.OperationalError:  # no projections yet: an empty log
        return []


def project_slug(conn: sqlite3.Connection, text: str, option: str = "--project") -> str:
    """`text` when it is a project the log knows; else UnknownName naming the nearest slugs."""
    known = known_projects(conn)
    if text in known:
        return text
    if text.strip().lower() in known:
        return text.strip().lower()
    close = difflib.get_close_matches(text.strip().lower(), known, n=3, cutoff=0.5)
    if not close:  # a word of a slug: 'trains' for 'uz-hyundai-rotem-high-speed-trains'
        words = set(text.lower().replace("-", " ").split())
        close = [slug for slug in known if words & set(slug.split("-"))][:3]
    if not known:
        hint = ": the log has no projects yet"
    elif close:
        hint = "; the nearest: " + ", ".join(close)
    else:
        hint = "; `tracker status` lists every project"
    raise UnknownName(f"{option} {_shown(text)}: no such project{hint}")


def metric_key(text: str, option: str = "METRIC") -> str:
    """`text` when it names a listed metric, alone or leading a series key
    (`bilateral_trade:KR,KZ:2023`); else UnknownName naming the nearest listed metrics.

    A metric nobody lists can have no figures, so a typo is told apart from a series with
    no values yet."""
    from events.metrics import MetricListError, metrics, nearest

    given = text.strip()
    metric = given.split(":", 1)[0]
    try:
        listed = metrics()
    except MetricListError as e:
        raise UnknownName(f"{option} {_shown(text)} cannot be checked: {e}") from None
    if metric in listed:
        return given
    if metric.lower() in listed:
        return metric.lower() + given[len(metric):]
    named = _shown(text) if metric == given else f"{_shown(text)}: {_shown(metric)}"
    close = nearest(metric.lower().replace("-", "_").replace(" ", "_"))
    raise UnknownName(
        f"{option} {named} is not a listed metric; the nearest: {', '.join(close)} "
        "(events/data/metrics.csv lists them all, with the file TRACKER_METRICS names)"
    )

"""What a person calls a country or a project, turned into the code or slug the log uses.

Filters refuse rather than guess: `--country Kazakhstan` or a mistyped `--project`
would otherwise match nothing and print an empty table that looks like a true answer.
An unknown name is an error that names the fix ("Kazakhstan is KZ", the nearest slugs).
"""

from __future__ import annotations

import difflib
import sqlite3
import unicodedata
from functools import lru_cache

from events.codes import country_names, country_records, visible


class UnknownName(ValueError):
    """A name that is not a country code or a project slug the log knows."""


def _folded(text: str) -> str:
    """Lower case, accents and punctuation dropped: 'Türkiye' and 'turkiye', 'Korea, Republic of'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join("".join(c if c.isalnum() else " " for c in plain.lower()).split())


@lru_cache(maxsize=1)
def _codes_by_name() -> dict[str, str]:
    """Every English name pycountry gives a country (name, common and official names) → code."""
    names: dict[str, str] = {}
    for country in country_records():
        for key in ("name", "common_name", "official_name"):
            if key in country:
                names.setdefault(_folded(country[key]), country["alpha_2"])
    return names


def _shown(text: str) -> str:
    return "'" + visible(text, 60) + "'"


def country_code(text: str, option: str = "--country") -> str:
    """The ISO 3166-1 alpha-2 code a person meant by `text`, or UnknownName saying what to type."""
    given = text.strip()
    codes = country_names()
    if given.upper() in codes and len(given) == 2:
        return given.upper()
    folded = _folded(given)
    named = _codes_by_name().get(folded)
    if named:
        raise UnknownName(f"{option} {_shown(text)}: countries are ISO 3166-1 alpha-2 codes: {codes[named]} is {named}")
    names = _codes_by_name()
    close = difflib.get_close_matches(folded, list(names), n=3, cutoff=0.75) if len(folded) > 2 else []
    if not close and len(folded) > 2:  # a word of the name: 'Korea' for South and North Korea
        close = [name for name in names if folded in name.split()]
    meant = list(dict.fromkeys(names[name] for name in close))[:3]
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
        words = set(_folded(text).split())
        close = [slug for slug in known if words & set(slug.split("-"))][:3]
    if not known:
        hint = ": the log has no projects yet"
    elif close:
        hint = "; the nearest: " + ", ".join(close)
    else:
        hint = "; `tracker status` lists every project"
    raise UnknownName(f"{option} {_shown(text)}: no such project{hint}")

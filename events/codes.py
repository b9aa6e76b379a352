"""ISO 3166-1 country and ISO 4217 currency codes, from pycountry's own data files,
and the characters free text may not hold.

Importing pycountry costs about 100 ms; reading the two JSON tables it ships
costs about 2 ms, which keeps `tracker log` fast. The data is pycountry's either way.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from functools import lru_cache


def _database(name: str) -> dict:
    spec = importlib.util.find_spec("pycountry")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover
        raise RuntimeError("pycountry is not installed")
    path = os.path.join(spec.submodule_search_locations[0], "databases", name)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@lru_cache(maxsize=1)
def country_records() -> list[dict]:
    """pycountry's ISO 3166-1 records: alpha_2, name, and common_name and official_name where it has them."""
    return _database("iso3166-1.json")["3166-1"]


@lru_cache(maxsize=1)
def country_names() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code → common English name."""
    return {c["alpha_2"]: c.get("common_name", c["name"]) for c in country_records()}


def _folded(text: str) -> str:
    """Lower case, accents and punctuation dropped: 'Türkiye' and 'turkiye', 'Korea, Republic of'."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join("".join(c if c.isalnum() else " " for c in plain.lower()).split())


@lru_cache(maxsize=1)
def _codes_by_name() -> dict[str, str]:
    """Every English name pycountry gives a country (name, common and official), folded → code."""
    names: dict[str, str] = {}
    for country in country_records():
        for key in ("name", "common_name", "official_name"):
            if key in country:
                names.setdefault(_folded(country[key]), country["alpha_2"])
    return names


def code_named(text: str) -> str | None:
    """The code of the country `text` names in English ('Kazakhstan', 'south korea'), if any."""
    return _codes_by_name().get(_folded(text))


def codes_like(text: str, most: int = 3) -> list[str]:
    """Codes of the countries whose names are close to `text` ('Kazakstan') or hold it as a
    word ('Korea': South and North Korea)."""
    import difflib

    folded, names = _folded(text), _codes_by_name()
    if len(folded) <= 2:
        return []
    close = difflib.get_close_matches(folded, list(names), n=most, cutoff=0.75)
    if not close:
        close = [name for name in names if folded in name.split()]
    return list(dict.fromkeys(names[name] for name in close))[:most]


@lru_cache(maxsize=1)
def currency_names() -> dict[str, str]:
    """ISO 4217 alphabetic code → name."""
    return {c["alpha_3"]: c["name"] for c in _database("iso4217.json")["4217"]}


# Characters free text may not hold ----------------------------------------------------
#
# Event text is printed on terminals, written into feeds and shown on web pages. A
# control character (an escape sequence, a NUL, a line break) or an invisible
# bidirectional formatting character (which reorders what a reader sees) can make text
# display as something other than what is stored, so no text field accepts them:
#
# - C0 controls U+0000-U+001F (tab and line feed too) and DEL, U+007F;
# - C1 controls U+0080-U+009F;
# - the line and paragraph separators U+2028 and U+2029;
# - the bidirectional formatting characters U+061C, U+200E, U+200F, U+202A-U+202E and
#   U+2066-U+2069;
# - lone surrogates U+D800-U+DFFF, which are not characters at all (they reach Python
#   from undecodable command-line bytes).

#: The refused characters as a regular-expression class, in the Rust `regex` syntax that
#: pydantic-core patterns use (surrogates cannot occur in a Rust string: pydantic-core
#: refuses them before any pattern runs).
UNSAFE_CLASS_RUST = r"\x00-\x1f\x7f-\x9f\x{061c}\x{200e}\x{200f}\x{2028}-\x{202e}\x{2066}-\x{2069}"
#: The same class in Python `re` syntax, with the surrogates.
UNSAFE_CLASS = "\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028-\\u202e\\u2066-\\u2069\\ud800-\\udfff"
_UNSAFE = re.compile(f"[{UNSAFE_CLASS}]")


def first_unsafe(text: str) -> str | None:
    """The first character of `text` that free text may not hold, if any."""
    found = _UNSAFE.search(text)
    return found.group() if found else None


def code_point(char: str) -> str:
    """`U+001B`: how messages name a character."""
    return f"U+{ord(char):04X}"


def unsafe_kind(char: str) -> str:
    """What sort of refused character `char` is, in words."""
    point = ord(char)
    if point < 0x20 or 0x7F <= point <= 0x9F:
        return "control character"
    if point in (0x2028, 0x2029):
        return "line or paragraph separator"
    if 0xD800 <= point <= 0xDFFF:
        return "lone surrogate (not a character)"
    return "bidirectional formatting character"


def visible(text: str, limit: int | None = None) -> str:
    """`text` safe to print on a terminal: each refused character shown as `<U+001B>`.

    With `limit`, text longer than that is cut and ends in an ellipsis, so that a
    message quoting a huge value stays one readable line.
    """
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(lambda m: f"<{code_point(m.group())}>", text)

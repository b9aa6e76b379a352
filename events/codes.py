"""ISO 3166-1 country and ISO 4217 currency codes, from pycountry's own data files.

Importing pycountry costs about 100 ms; reading the two JSON tables it ships
costs about 2 ms, which keeps `tracker log` fast. The data is pycountry's either way.
"""

from __future__ import annotations

import importlib.util
import json
import os
from functools import lru_cache


def _database(name: str) -> dict:
    spec = importlib.util.find_spec("pycountry")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover
        raise RuntimeError("pycountry is not installed")
    path = os.path.join(spec.submodule_search_locations[0], "databases", name)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@lru_cache(maxsize=1)
def country_names() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code → common English name."""
    return {
        c["alpha_2"]: c.get("common_name", c["name"])
        for c in _database("iso3166-1.json")["3166-1"]
    }


@lru_cache(maxsize=1)
def currency_names() -> dict[str, str]:
    """ISO 4217 alphabetic code → name."""
    return {c["alpha_3"]: c["name"] for c in _database("iso4217.json")["4217"]}

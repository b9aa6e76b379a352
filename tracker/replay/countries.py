"""The `countries` reference table: code, name, capital and coordinates of every country.

The replay engine's own SQL joins it (tallies name countries; the map places events at
capitals), so it lives beside the engine; its rows come with the bundled record.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from tracker.log.bundled import countries_path

COUNTRIES_SCHEMA = """CREATE TABLE IF NOT EXISTS countries (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    capital TEXT,
    lat REAL,
    lon REAL
)"""


def load_countries(conn: sqlite3.Connection, path: Path | None = None) -> None:
    conn.execute(COUNTRIES_SCHEMA)
    with open(path or countries_path(), newline="", encoding="utf-8") as f:
        rows = [
            (r["code"], r["name"], r["capital"] or None, float(r["lat"]), float(r["lon"]))
            for r in csv.DictReader(f)
        ]
    conn.executemany(
        "INSERT INTO countries (code, name, capital, lat, lon) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (code) DO UPDATE SET name = excluded.name, capital = excluded.capital,"
        " lat = excluded.lat, lon = excluded.lon",
        sorted(rows),
    )

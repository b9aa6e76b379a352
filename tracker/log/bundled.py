"""Where the bundled K-Silk Road record and its reference tables live (package data)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_dir() -> Path:
    return Path(str(files("events") / "data"))


def record_path() -> Path:
    """The bundled log: every event of the seed articles, in the import format."""
    return data_dir() / "ksilkroad.jsonl"


def countries_path() -> Path:
    """ISO code, name, capital and coordinates of every country the record names."""
    return data_dir() / "countries.csv"

"""Replay: bringing the projections up to date with the log."""

from __future__ import annotations


def catch_up(store) -> None:
    """Placeholder until the replay engine lands: the log alone is complete."""


def check_projections(store, report) -> None:
    """Placeholder until the replay engine lands."""

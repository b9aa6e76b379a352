"""Timing a benchmark's phases by wrapping the functions that do them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def timed(spent: dict[str, float], name: str, fn: Callable[..., Any], clock: Callable[[], float] = time.perf_counter):
    """`fn`, adding the time each call takes to `spent[name]`: patched in where a phase runs."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + clock() - started

    return wrapper

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


def peak_mb() -> float:
    """This process's peak resident memory in MB, since it started its program.

    Read from /proc (VmHWM) where there is one: Linux carries `ru_maxrss` over from the
    parent across fork and exec, so a measuring process started by a large parent would
    report the parent's peak as its own.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

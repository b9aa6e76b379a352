"""Importing a JSONL file: streamed, all or nothing, with a progress bar on a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from .store import AppendResult, EventStore, LogError


def _lines(f: BinaryIO, on_bytes=None) -> Iterator[tuple[int, dict[str, Any]]]:
    done = 0
    for number, raw in enumerate(f, 1):
        done += len(raw)
        if on_bytes is not None and number % 1000 == 0:
            on_bytes(done)
        if not raw.strip():
            continue
        try:
            yield number, orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise LogError(f"not valid JSON ({e})", number) from None
    if on_bytes is not None:
        on_bytes(done)


def import_file(store: EventStore, file: str, *, show_progress: bool = True) -> AppendResult:
    """Append every event of `file` ('-' for stdin) in one transaction.

    Memory stays flat however large the file: lines are validated and written in
    batches, and only the current batch is held.
    """
    if file == "-":
        return store.append(_lines(sys.stdin.buffer))
    size = os.path.getsize(file)
    with open(file, "rb") as f:
        if not (show_progress and sys.stderr.isatty() and size > 256 * 1024):
            return store.append(_lines(f))
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as progress:
            task = progress.add_task(f"Importing {os.path.basename(file)}", total=size)
            return store.append(_lines(f, lambda done: progress.update(task, completed=done)))

"""Importing a JSONL file: streamed, all or nothing, with a progress bar on a terminal.

A large file is prepared (parsed, validated, written canonically) by worker
processes while this process chains and stores what they return, so validation
and SQLite use both cores. Chunks go out in order and only a few are in flight,
so memory stays flat however large the file.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from .store import AppendResult, EventStore, LogError, Prepared, prepare

#: Files smaller than this are prepared in-process: starting workers would cost more.
PARALLEL_FROM_BYTES = 4 * 1024 * 1024
CHUNK_LINES = 2000
CHUNKS_IN_FLIGHT = 6


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


def _prepare_chunk(chunk: list[tuple[int, bytes]]) -> list[Prepared] | tuple[str, int]:
    """Prepare a chunk of lines in a worker; the first bad line comes back as (message, line)."""
    out = []
    for number, raw in chunk:
        try:
            out.append(prepare((number, orjson.loads(raw))))
        except orjson.JSONDecodeError as e:
            return (f"not valid JSON ({e})", number)
        except LogError as e:
            return (e.message, number)
    return out


def _chunks(f: BinaryIO, on_bytes=None) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    done = 0
    for number, raw in enumerate(f, 1):
        done += len(raw)
        if raw.strip():
            chunk.append((number, raw))
        if len(chunk) == CHUNK_LINES:
            yield chunk
            chunk = []
            if on_bytes is not None:
                on_bytes(done)
    if chunk:
        yield chunk
    if on_bytes is not None:
        on_bytes(done)


def prepared_in_parallel(f: BinaryIO, on_bytes=None, workers: int | None = None) -> Iterator[Prepared]:
    """Prepared events in file order, prepared by a pool of worker processes."""
    count = workers or max(1, min(2, (os.cpu_count() or 1)))
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(count) as pool:
        in_flight: deque = deque()

        def finished():
            result = in_flight.popleft().get()
            if isinstance(result, tuple):
                message, line = result
                raise LogError(message, line)
            return result

        for chunk in _chunks(f, on_bytes):
            in_flight.append(pool.apply_async(_prepare_chunk, (chunk,)))
            if len(in_flight) >= CHUNKS_IN_FLIGHT:
                yield from finished()
        while in_flight:
            yield from finished()


def _events(f: BinaryIO, size: int, on_bytes=None):
    if size >= PARALLEL_FROM_BYTES:
        return prepared_in_parallel(f, on_bytes)
    return _lines(f, on_bytes)


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
            return store.append(_events(f, size))
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as progress:
            task = progress.add_task(f"Importing {os.path.basename(file)}", total=size)
            return store.append(_events(f, size, lambda done: progress.update(task, completed=done)))

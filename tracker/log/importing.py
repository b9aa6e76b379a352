"""Importing a JSONL file: streamed, all or nothing, with a progress bar on a terminal.

A large file is cut into blocks at line ends, and each block is prepared (parsed,
validated, written canonically) by a worker process, one per spare core, which
reads the block itself: this process sends only block numbers. This process chains
and stores the prepared blocks in file order, and prepares a block itself whenever
the next one to store is not ready, so every core is busy and none is shared. Only
a window of blocks is prepared ahead of the one being stored, so memory stays flat
however large the file.

Small files, and standard input, are prepared line by line in this process instead:
the plain path, which gives exactly what the parallel one gives. A `Tuning` chooses
between them (by size, unless told), and sets the blocks' size and the workers.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import os
import sys
import traceback
from collections import deque
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple

import orjson

from events.codes import visible
from events.identity import NestingError, duplicate_key, may_repeat_a_key

from tracker.log.preparing import BATCH, LogError, PreparedBatch, prepare_batch, warm_up
from tracker.log.store import AppendResult, EventStore
from tracker.log.tuning import Tuning

#: What a results pipe is asked to hold: a prepared block of the default BLOCK_BYTES
#: (tuning.py) of input, with room to spare (see `_widen`).
PIPE_BYTES = 1024 * 1024
#: Each worker is given this many blocks at a time, so it never waits for the next.
BLOCKS_PER_WORKER = 3
#: Blocks are prepared at most this far ahead of the one being stored.
BLOCKS_AHEAD = 16
#: More workers than this gain nothing: storing, which one process must do, is then the limit.
MAX_WORKERS = 3
WORKER_NICENESS = 2


def _key_problem(text: bytes, data: Any) -> str | None:
    """What is wrong with the keys of a parsed line, if anything: a key given twice."""
    if not may_repeat_a_key(text, data):
        return None
    try:
        key = duplicate_key(text)
    except NestingError:
        return "nested too deeply"
    if key is None:
        return None
    return f"the key {visible(repr(key[:60]))} appears twice in one object; give each field once"


def _lines(f: BinaryIO, on_bytes=None) -> Iterator[tuple[int, dict[str, Any]]]:
    done = 0
    for number, raw in enumerate(f, 1):
        done += len(raw)
        if on_bytes is not None and number % 1000 == 0:
            on_bytes(done)
        if not raw.strip():
            continue
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise LogError(f"not valid JSON ({e})", number) from None
        problem = _key_problem(raw, data)
        if problem is not None:
            raise LogError(problem, number)
        yield number, data
    if on_bytes is not None:
        on_bytes(done)


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a line that is not JSON is a LogError."""
    with open(path, "rb") as f:
        yield from _lines(f)


def _prepared_lines(f: BinaryIO, tuning: Tuning, on_bytes=None) -> Iterator[PreparedBatch]:
    """The lines of a file prepared in this process, BATCH lines at a time: the plain path.

    Prepared as a worker prepares a block (`_prepare_lines`), so that the first bad
    line is the one named whichever path a file takes, whatever is wrong with it.
    """
    done = 0
    numbered: list[tuple[int, bytes]] = []
    unterminated = None
    for number, raw in enumerate(f, 1):
        done += len(raw)
        if on_bytes is not None and number % 1000 == 0:
            on_bytes(done)
        if raw[-1:] == b"\n":
            raw = raw[:-1]
        else:
            unterminated = number  # the file's last line
        if raw[:1] not in _SPACE or raw.strip():
            numbered.append((number, raw))
        if len(numbered) == BATCH:
            yield _prepare_lines(numbered, tuning, unterminated)
            numbered = []
    if numbered:
        yield _prepare_lines(numbered, tuning, unterminated)
    if on_bytes is not None:
        on_bytes(done)


def _prepare_lines(
    numbered: list[tuple[int, bytes]], tuning: Tuning, unterminated: int | None = None
) -> PreparedBatch:
    """Prepare (line, text) pairs of a block; raise LogError for the first bad line.

    `text` is a line without its newline, which parses the same as with it; only a
    parse error, whose message names a position, needs the line exactly as the file
    has it: with its newline, unless it is line `unterminated`, the file's last.
    """
    try:
        items = [(number, orjson.loads(text)) for number, text in numbered]
    except orjson.JSONDecodeError:
        pass
    else:
        for (_, text), (_, data) in zip(numbered, items):
            if may_repeat_a_key(text, data):
                break  # the line by line path below finds the line and its key
        else:
            return prepare_batch(items, tuning=tuning)
    items = []
    for number, text in numbered:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            try:
                orjson.loads(text if number == unterminated else text + b"\n")
            except orjson.JSONDecodeError as e:
                problem = f"not valid JSON ({e})"
            else:  # pragma: no cover - the text and the raw line parse alike
                raise
        else:
            problem = _key_problem(text, data)
            if problem is None:
                items.append((number, data))
                continue
        if items:
            prepare_batch(items, tuning=tuning)  # a bad line before this one is the one to name
        raise LogError(problem, number)
    return prepare_batch(items, tuning=tuning)  # only a key that looked repeated and was not


def _boundary(fd: int, nominal: int, size: int) -> int:
    """Where the block that nominally starts at `nominal` really starts: after a newline."""
    if nominal <= 0:
        return 0
    position = nominal - 1
    while position < size:
        piece = os.pread(fd, 65536, position)
        if not piece:
            break
        at = piece.find(b"\n")
        if at >= 0:
            return position + at + 1
        position += len(piece)
    return size


def _read(fd: int, start: int, end: int) -> bytes:
    parts = []
    while start < end:
        part = os.pread(fd, end - start, start)
        if not part:
            break
        parts.append(part)
        start += len(part)
    return b"".join(parts)


def _prepare_block(fd: int, index: int, size: int, tuning: Tuning) -> tuple[int, PreparedBatch | tuple[str, int]]:
    """(lines in the block, its prepared events or the first bad line's (message, line)).

    Blocks are `tuning.block_bytes` of the file, cut at line ends. Line numbers count
    from 1 within the block; the caller knows where it starts.
    """
    block = tuning.block_bytes
    start = _boundary(fd, index * block, size)
    end = _boundary(fd, (index + 1) * block, size) if (index + 1) * block < size else size
    data = _read(fd, start, end) if start < end else b""
    texts = data.split(b"\n")
    unterminated = None if texts[-1] == b"" else len(texts)
    if unterminated is None:
        texts.pop()
    if data.count(b"\n{") + data.startswith(b"{") == len(texts):
        numbered = list(enumerate(texts, 1))  # every line starts an object: none is blank
    else:
        # A line starting with anything but white space is not blank: strip (a copy) only the rest.
        numbered = [
            (number, text) for number, text in enumerate(texts, 1) if text[:1] not in _SPACE or text.strip()
        ]
    try:
        return data.count(b"\n"), _prepare_lines(numbered, tuning, unterminated)
    except LogError as e:
        return data.count(b"\n"), (e.message, e.line)


#: What bytes.strip() strips.
_SPACE = b" \t\n\r\x0b\x0c"


def _work(path: str, size: int, tuning: Tuning, requests, results, theirs: list) -> None:
    """A worker: prepare the blocks asked for, in the order asked, until told to stop.

    `theirs` are the storing process's ends of the pipes, inherited on fork: closed
    here, so that when that process closes them this worker sees the pipe end.
    """
    for end in theirs:
        end.close()
    # Nothing a worker keeps between blocks forms reference cycles, and the cycle
    # collector's passes over each block's many young objects cost more than the
    # preparing itself; collect by hand, rarely, instead.
    gc.disable()
    gc.freeze()
    # The storing process, which the whole import waits on, should not have to share
    # its core with a worker when something else wants the other one.
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)
    done = 0
    with open(path, "rb") as f:
        while True:
            done += 1
            if done % 64 == 0:
                gc.collect()
            try:
                index = requests.recv()
            except EOFError:
                return
            if index is None:
                return
            try:
                result: Any = _prepare_block(f.fileno(), index, size, tuning)
            except BaseException:
                result = ("crashed", traceback.format_exc())
            try:
                results.send(result)
            except OSError:
                return


def worker_count() -> int:
    """Worker processes for a large import: one per core besides this process's own.

    This process prepares blocks too whenever the next one it must store is not
    ready, so every core stays busy with no more processes than cores: on two
    cores, one worker and this process share the work between them.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(0, min(MAX_WORKERS, cores - 1))


def _widen(conn) -> None:
    """Let a results pipe hold a whole prepared block, so a worker can send and go on.

    A pipe holds 64 KiB by default; a worker whose result did not fit would wait
    for the storing process to come and read it. Linux lets anyone raise a pipe
    to 1 MiB; elsewhere, or if refused, the worker waits sometimes, no more.
    """
    try:
        import fcntl

        fcntl.fcntl(conn.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (ImportError, OSError):
        pass


class _Worker(NamedTuple):
    process: Any
    requests: Any  # the storing process's end: block numbers go this way
    results: Any  # and prepared blocks come back this way
    asked: deque  # blocks asked of it and not yet received, in order


def prepared_in_parallel(path: str, size: int, tuning: Tuning, on_bytes=None) -> Iterator[PreparedBatch]:
    """Prepared batches in file order, prepared by worker processes and by this one.

    Each worker is kept a few blocks ahead, always given the lowest block
    nobody has taken. When the block to store next is not ready, this process
    prepares the lowest untaken block itself rather than wait; nothing is prepared
    more than BLOCKS_AHEAD blocks ahead, so memory stays flat. `tuning` gives the
    blocks' size and the number of workers (by default one per spare core).
    """
    count = worker_count() if tuning.workers is None else tuning.workers
    block = tuning.block_bytes
    blocks = max(1, -(-size // block))
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if tuning.prepare_together is not False:
        warm_up()  # for this process's own blocks; forked workers inherit the validators
    crew: list[_Worker] = []
    ready: dict[int, Any] = {}  # block → (lines, prepared batch or the first bad line)
    with open(path, "rb") as f:
        try:
            for _ in range(count):
                their_requests, requests = context.Pipe(duplex=False)
                results, their_results = context.Pipe(duplex=False)
                _widen(results)
                inherited = [end for w in crew for end in (w.requests, w.results)] + [requests, results]
                process = context.Process(
                    target=_work,
                    args=(path, size, tuning, their_requests, their_results, inherited if method == "fork" else []),
                    daemon=True,
                )
                process.start()
                their_requests.close()
                their_results.close()
                crew.append(_Worker(process, requests, results, deque()))
            untaken, first_line = 0, 0
            for index in range(blocks):
                horizon = min(blocks, index + BLOCKS_AHEAD)
                while index not in ready:
                    for worker in crew:
                        while len(worker.asked) < BLOCKS_PER_WORKER and untaken < horizon:
                            worker.requests.send(untaken)  # a few bytes: never blocks
                            worker.asked.append(untaken)
                            untaken += 1
                    busy = {worker.results: worker for worker in crew if worker.asked}
                    # Take what has arrived; wait for it only with nothing else to do.
                    timeout = 0 if untaken < horizon else None
                    for conn in multiprocessing.connection.wait(list(busy), timeout):
                        ready[busy[conn].asked.popleft()] = _received(conn)
                    if index not in ready and untaken < horizon:
                        ready[untaken] = _prepare_block(f.fileno(), untaken, size, tuning)
                        untaken += 1
                lines, result = ready.pop(index)
                if not isinstance(result, PreparedBatch):
                    message, line = result
                    raise LogError(message, first_line + line)
                yield result._replace(first_line=first_line)
                first_line += lines
                if on_bytes is not None:
                    on_bytes(min(size, (index + 1) * block))
            for worker in crew:
                worker.requests.send(None)
        finally:
            for worker in crew:
                worker.requests.close()
                worker.results.close()  # a worker still sending sees the pipe closed and stops
            for worker in crew:
                worker.process.join(timeout=10)
                if worker.process.is_alive():
                    worker.process.terminate()
                    worker.process.join()


def _received(conn) -> tuple[int, Any]:
    try:
        lines, result = conn.recv()
    except EOFError:
        raise RuntimeError("an import worker stopped unexpectedly") from None
    if lines == "crashed":
        raise RuntimeError(f"an import worker failed:\n{result}")
    return lines, result


def _events(f: BinaryIO, file: str, size: int, tuning: Tuning, on_bytes=None) -> Iterator[Any]:
    if tuning.imports_in_parallel(size):
        return prepared_in_parallel(file, size, tuning, on_bytes)
    return _prepared_lines(f, tuning, on_bytes)


def _append_all(store: EventStore, events: Iterator[Any], tuning: Tuning) -> AppendResult:
    """Append, then stop the workers at once, even when a bad line ended the import early."""
    try:
        return store.append(events, tuning=tuning)
    finally:
        events.close()  # type: ignore[attr-defined]


def import_file(
    store: EventStore, file: str, *, show_progress: bool = True, tuning: Tuning | None = None
) -> AppendResult:
    """Append every event of `file` ('-' for stdin) in one transaction.

    Memory stays flat however large the file: lines are validated and written in
    batches, and only the current batch is held. `tuning` (by default the store's)
    chooses between preparing the lines in parallel and in this process, and between
    the fast and plain ways of preparing and storing each batch: the same events are
    stored, and the same first bad line named, whichever it chooses.
    """
    if tuning is None:
        tuning = store.tuning
    if file == "-":
        return store.append(_prepared_lines(sys.stdin.buffer, tuning), tuning=tuning)
    size = os.path.getsize(file)
    with open(file, "rb") as f:
        if not (show_progress and sys.stderr.isatty() and size > 256 * 1024):
            return _append_all(store, _events(f, file, size, tuning), tuning)
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as progress:
            task = progress.add_task(f"Importing {os.path.basename(file)}", total=size)
            return _append_all(
                store, _events(f, file, size, tuning, lambda done: progress.update(task, completed=done)), tuning
            )

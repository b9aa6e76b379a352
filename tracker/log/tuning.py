"""Which way the log does its work where it has two ways to the same result, and the sizes
it works in.

Preparing a batch, storing it and importing a file each have a plain path, which takes
one event (or one line) at a time, and beside it a fast path that must give exactly the
same result: the same stored rows and hashes, and the same first bad line, named in the
same words. By default the log chooses as production needs, by size, and nobody has to
think about it. A `Tuning` passed to `EventStore`, `import_file` or `prepare_batch`
makes the choice explicit instead: that is how the tests run both paths and compare
them, and how a benchmark measures one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Fewer events than this are prepared one by one: the batch validator covers every
#: kind and takes longer to build (~30 ms) than `tracker log` takes to validate one.
TOGETHER_FROM = 32
#: Files smaller than this are prepared in-process: starting workers would cost more.
PARALLEL_FROM_BYTES = 4 * 1024 * 1024
#: About how many lines a worker prepares at a time: blocks are CHUNK_LINES * LINE_BYTES
#: bytes, cut at line ends.
CHUNK_LINES = 500
LINE_BYTES = 512
BLOCK_BYTES = CHUNK_LINES * LINE_BYTES


@dataclass(frozen=True)
class Tuning:
    """How the log prepares, stores and imports events: each fast path, or the plain one.

    A choice left as None is made by size, as the log has always made it; True or
    False makes it regardless of size. The result is the same either way: only the
    time taken differs.
    """

    #: Validate a batch's events in one call into pydantic-core and write them down in
    #: one pass (True), or validate and write each event in turn (False). None: together
    #: from TOGETHER_FROM events. A batch that fails together is prepared again one event
    #: at a time either way, so that the error is the first bad line's, in its words.
    prepare_together: bool | None = None
    #: Store a batch of new events at once, checking only its amendments one by one
    #: (True: whenever the batch allows it, that is when every event is new, in time
    #: order, and nothing is restored), or check and store every event in turn (False).
    store_at_once: bool = True
    #: `import_file` only: prepare the file's lines in blocks, by worker processes and by
    #: the storing process (True), or line by line in the storing process (False).
    #: None: in parallel from PARALLEL_FROM_BYTES. Standard input is always read in the
    #: storing process: workers read their blocks from the file themselves.
    parallel: bool | None = None
    #: Worker processes for a parallel import. None: one per spare core (`worker_count`);
    #: 0: the storing process prepares every block itself.
    workers: int | None = None
    #: Bytes of the file in a block of a parallel import, cut at line ends.
    block_bytes: int = BLOCK_BYTES

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 0:
            raise ValueError(f"workers must be 0 or more, not {self.workers}")
        if self.block_bytes < 1:
            raise ValueError(f"block_bytes must be 1 or more, not {self.block_bytes}")

    def prepares_together(self, count: int) -> bool:
        """Whether a batch of `count` events is prepared together (the fast path)."""
        return count >= TOGETHER_FROM if self.prepare_together is None else self.prepare_together

    def imports_in_parallel(self, size: int) -> bool:
        """Whether a file of `size` bytes is prepared in blocks, in parallel (the fast path)."""
        return size >= PARALLEL_FROM_BYTES if self.parallel is None else self.parallel


#: Every choice made by size: what the tracker itself uses.
AUTOMATIC = Tuning()
#: Every plain path, whatever the size: the reference each fast path must agree with.
PLAIN = Tuning(prepare_together=False, store_at_once=False, parallel=False)

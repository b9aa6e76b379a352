"""The log's two ways of doing its work, for the tests that must hold on both.

The plain paths take one event, or one line, at a time. The fast paths validate a
batch of any size in one call, store a batch at once, and cut every file, however
small, into blocks of a few lines for two worker processes (more than this machine
may have cores: blocks then come back out of order, and the storing process takes
some itself). A test parametrized over BOTH runs each, and the two must agree
exactly: the same stored rows and hashes, the same first bad line in the same words.
"""

from __future__ import annotations

import dataclasses

import pytest

from tracker.log.tuning import PLAIN, Tuning

#: A few lines of the tests' events to a block.
SMALL_BLOCKS = 1024
FAST = Tuning(prepare_together=True, store_at_once=True, parallel=True, workers=2, block_bytes=SMALL_BLOCKS)
BOTH = [pytest.param(PLAIN, id="plain"), pytest.param(FAST, id="fast")]


def fast(**changes) -> Tuning:
    """The fast paths with other sizes, e.g. fast(workers=0, block_bytes=400)."""
    return dataclasses.replace(FAST, **changes)

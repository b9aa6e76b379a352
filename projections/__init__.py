"""Projections: what the log is turned into. A projection is one module, and a keyed fold.

A projection module declares everything about its projection, as plain data and
functions (the protocol is `projections.protocol`; shared SQL is `projections.sql`):

- its fold: which keys an effective event touches and how the state of one key follows
  from its events;
- its tables: ``SCHEMA`` (the bitemporal ``HISTORY`` table, a current table or view,
  their indexes) and ``RUN_INDEXES``, the indexes a full replay needs while it runs;
- its questions: ``NOW_SQL`` and ``AS_OF_SQL`` (the state now, and as of :as_of known at
  :known_at, for one key or every key) and ``CANNED_QUERY``, the Datasette page that asks
  the as-of question;
- its command: ``COMMAND``, the name, key argument, help and table columns of the
  `tracker` command that reads it;
- its pages: ``DATASETTE_TABLES`` (a description of every table and column),
  ``FOREIGN_KEYS`` and ``MATERIALIZE`` (for a built snapshot) and ``PUBLISH_INDEXES``.

The layers above derive everything from those declarations: the replay engine
(`tracker.replay.engine`, through `tracker.replay.tables.projections()`) reads the log,
applies corrections and retractions and keeps knowledge time, the bitemporal history
rows, checkpoints and rebuilds; `tracker.replay.queries` answers the questions; the
command line, the Datasette metadata and `tracker build` follow. Adding a projection
means adding a module here and naming it in `PROJECTIONS`, or, for a module kept
elsewhere, calling `register(module)` before the tracker runs.

Two shapes of fold are supported (`protocol.StateProjection`, `protocol.SumProjection`):

``state`` folds (`project_status`, `summit_timeline`, `figures`)
    ``keys(event)`` names the keys; ``fold(key, events)`` gets the key's effective
    events in world order (occurred_start, occurred_end, seq) and returns the key's
    rows, each a tuple in ``ROW_COLUMNS`` order that starts with ``valid_from`` and
    ``valid_to``. Whenever a key's events change at knowledge moment T the engine
    refolds it, closes the rows no longer produced (``known_to = T``) and opens the
    new ones (``known_from = T``). Optionally, ``resume(key, events)`` and
    ``extend(key, carry, event)`` give a fast path for an event that comes after all
    of the key's others in world order (the common case): ``extend`` returns the rows
    dropped and added, or None to ask for a full refold. They must agree with ``fold``.
    Module attributes: ROW_COLUMNS, FIELDS (event fields the fold reads), KEY_FILTER (a
    WHERE clause on `effective_events` selecting the key's events, one `?` for the key).
    Optionally, KEY_SQL: for a projection whose ``keys`` gives at most one key, that key
    as an SQL expression over an `effective_events` row (NULL or '': none), ideally a
    column an index of the table leads with. A full replay then folds every key from
    one ordered read of the table instead of queueing each event.

``sum`` folds (`country_tallies`)
    The state of a key is a sum over its events, so each event's contribution is a
    history row of its own: ``contributions(event)`` gives ``(key, values)`` pairs in
    ``CONTRIBUTION_COLUMNS`` order; ``add(total, values, valid_from, sign)`` folds one into
    (or out of) a total in ``TOTAL_COLUMNS`` order, of which ``COUNT_COLUMN`` counts the
    contributions (a key whose count is 0 has no row) and ``LATEST_COLUMN`` holds the
    latest valid_from. The engine also keeps bitemporal yearly and monthly running totals
    in the ``CHECKPOINTS`` table, so that "as of V known at T" reads two checkpoint rows
    and at most a month of contribution rows (see `projections.country_tallies`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from types import ModuleType

from . import country_tallies, figures, project_status, summit_timeline
from .protocol import check

#: The projections the tracker ships, in the order it shows them (commands, pages).
DEFAULT: tuple[ModuleType, ...] = (project_status, country_tallies, summit_timeline, figures)

#: Every registered projection, in the order the tracker shows them; the engine replays the
#: state projections first, then the sums (`tracker.replay.tables.projections`). Read it at
#: the time of use (`projections.PROJECTIONS`, not a copy taken at import): `register`
#: replaces it.
PROJECTIONS: tuple[ModuleType, ...] = DEFAULT

_CREATED = re.compile(r"CREATE\s+(?:TABLE|VIEW|INDEX)\s+(\w+)", re.IGNORECASE)


def by_name(name: str) -> ModuleType:
    for module in PROJECTIONS:
        if module.NAME == name:
            return module
    raise KeyError(name)


def register(module: ModuleType) -> None:
    """Add a projection module after the registered ones, for every part of the tracker.

    The module must satisfy its shape's protocol (TypeError says what it lacks), and its
    name, command, canned query and tables must be its own (ValueError names the clash).
    A module registered again is left where it is. The next replay sees a projection it
    has no checkpoint for and rebuilds every projection from the log.
    """
    global PROJECTIONS
    if module in PROJECTIONS:
        return
    check(module)
    for other in PROJECTIONS:
        clashes = [
            f"{what} {mine!r}"
            for what, mine, theirs in (
                ("NAME", module.NAME, other.NAME),
                ("command", module.COMMAND.name, other.COMMAND.name),
                ("canned query", module.CANNED_QUERY.name, other.CANNED_QUERY.name),
            )
            if mine == theirs
        ]
        clashes += [f"table {name!r}" for name in sorted(set(_CREATED.findall(module.SCHEMA))
                                                         & set(_CREATED.findall(other.SCHEMA)))]
        if clashes:
            raise ValueError(f"{module.__name__} cannot be registered: {', '.join(clashes)} already "
                             f"belong to {other.__name__}")
    PROJECTIONS = (*PROJECTIONS, module)


def unregister(module: ModuleType) -> None:
    """Take a projection module out of the registry (a database keeps its tables; the tracker
    no longer writes them)."""
    global PROJECTIONS
    PROJECTIONS = tuple(m for m in PROJECTIONS if m is not module)


@contextlib.contextmanager
def registered(*modules: ModuleType) -> Iterator[tuple[ModuleType, ...]]:
    """Register `modules` for the duration of a `with` block, then restore the registry as it was."""
    global PROJECTIONS
    before = PROJECTIONS
    try:
        for module in modules:
            register(module)
        yield PROJECTIONS
    finally:
        PROJECTIONS = before

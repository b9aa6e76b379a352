"""Projections: what the log is turned into. One module per projection, each a keyed fold.

A projection module says which keys an effective event touches and how the state of
one key follows from its events; the replay engine (`tracker.replay.engine`) does the rest:
reading the log, applying corrections and retractions, knowledge time, the bitemporal
history rows, checkpoints and rebuilds. Adding a projection means adding a module here
and naming it in `PROJECTIONS`.

Two shapes of fold are supported:

``state`` folds (`project_status`, `summit_timeline`)
    ``keys(event)`` names the keys; ``fold(key, events)`` gets the key's effective
    events in world order (occurred_start, occurred_end, seq) and returns the key's
    rows, each a tuple in ``ROW_COLUMNS`` order that starts with ``valid_from`` and
    ``valid_to``. Whenever a key's events change at knowledge moment T the engine
    refolds it, closes the rows no longer produced (``known_to = T``) and opens the
    new ones (``known_from = T``). Optionally, ``resume(key, events)`` and
    ``extend(key, carry, event)`` give a fast path for an event that comes after all
    of the key's others in world order (the common case): ``extend`` returns the rows
    dropped and added, or None to ask for a full refold. They must agree with ``fold``.
    Module attributes: NAME, VERSION, SHAPE = "state", HISTORY (table), KEY_COLUMN,
    ROW_COLUMNS, FIELDS (event fields the fold reads), KEY_FILTER (a WHERE clause on
    `effective_events` selecting the key's events, one `?` for the key), SCHEMA (DDL).
    Optionally, KEY_SQL: for a projection whose ``keys`` gives at most one key, that key
    as an SQL expression over an `effective_events` row (NULL or '': none), ideally a
    column an index of the table leads with. A full replay then folds every key from
    one ordered read of the table instead of queueing each event.

``sum`` folds (`country_tallies`)
    The state of a key is a sum over its events, so each event's contribution is a
    history row of its own: ``contributions(event)`` gives ``(key, values)`` pairs in
    ``CONTRIBUTION_COLUMNS`` order; ``add(total, values, valid_from, sign)`` folds one into
    (or out of) a total in ``TOTAL_COLUMNS`` order. The engine also keeps bitemporal
    yearly and monthly running totals in the ``CHECKPOINTS`` table, so that "as of V
    known at T" reads two checkpoint rows and at most a month of contribution rows
    (see `projections.country_tallies`).
"""

from __future__ import annotations

from types import ModuleType

from . import country_tallies, project_status, summit_timeline

#: Every projection, in the order the engine runs them.
PROJECTIONS: tuple[ModuleType, ...] = (project_status, summit_timeline, country_tallies)


def by_name(name: str) -> ModuleType:
    for module in PROJECTIONS:
        if module.NAME == name:
            return module
    raise KeyError(name)

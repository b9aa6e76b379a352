"""What a projection module declares: the one place a projection is described.

A projection is one module in `projections/` (or anywhere, registered with
`projections.register`). Everything the tracker does with it is derived from what the
module declares, so that adding a projection touches no other file:

- the replay engine (`tracker.replay`) creates its tables from ``SCHEMA``, runs its fold
  and keeps its bitemporal history (``HISTORY``), building the indexes named in
  ``RUN_INDEXES`` before the rows go in and the rest after;
- the as-of / known-at questions (`tracker.replay.queries`) run its ``NOW_SQL`` and
  ``AS_OF_SQL``;
- the command line (`tracker.cli.state`) makes a command from its ``COMMAND``;
- Datasette (`tracker.publish`) shows its tables with ``DATASETTE_TABLES``, offers its
  ``CANNED_QUERY``, keeps ``PUBLISH_INDEXES``, and a built snapshot declares its
  ``FOREIGN_KEYS`` and holds its ``MATERIALIZE`` views as tables.

Why plain data and functions: `projections/` is the lowest layer after `events/`. The
tracker imports it, so it imports nothing of the tracker, typer or Datasette; what it
declares is read by the layers above, each taking what it needs. The SQL it declares is
plain SQL (built with `projections.sql`), so `datasette publish` serves it without
the tracker installed.

The protocols below are what a type checker checks a module against (a module whose
attributes match satisfies a Protocol) and what `problems` checks at run time, when a
module is registered and in the test suite. There are two shapes of fold, ``state`` and
``sum`` (see `projections`), with the declarations they share in `Projection`.
"""

from __future__ import annotations

import keyword
import types
import typing
from collections.abc import Iterable, Mapping, Sequence, Set
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Protocol, runtime_checkable


@dataclass(frozen=True)
class Command:
    """A projection's reading command: ``tracker NAME [KEY] [--as-of] [--known-at] [--json]``.

    The command prints the projection's rows as the tracker takes them now, or as of
    `--as-of` and known at `--known-at` (``NOW_SQL`` / ``AS_OF_SQL``); with a key, one
    key's rows. It is declared as data because the command line is two layers up: the
    CLI builds the typer command from this, with the options every reading command shares.
    """

    #: The command's name: `tracker status`.
    name: str
    #: Its help, as a docstring: the first paragraph is the one-line summary in `tracker --help`.
    help: str
    #: What the key argument means, for `--help`: "One project's slug."
    key_help: str
    #: The key as a positional argument, shown as this (`[PROJECT]`); or None with `key_option`.
    key_metavar: str | None = None
    #: The key as an option instead (`--project`).
    key_option: str | None = None
    #: What a person may call the key, checked (and turned into the stored form) before
    #: the query: "project" (a slug the log knows; an unknown one is refused naming the
    #: nearest), "country" (an ISO code; a country's name is refused naming its code),
    #: "metric" (a listed metric, alone or starting a series key; an unlisted one is
    #: refused naming the nearest listed), or None (taken as given).
    key_names: str | None = None
    #: The unit of a row, singular and plural, for the table's title: ("project", "projects").
    noun: tuple[str, str] = ("row", "rows")
    #: The columns the terminal table shows, in order (`--json` prints every column).
    columns: tuple[str, ...] = ()
    #: Columns holding the first day of the event in the row's `event` column: a table
    #: shows them at the precision the event was given (`2024-06`, not `2024-06-01`).
    event_days: tuple[str, ...] = ()
    #: Columns the table shows made from the row rather than read as stored: column → the
    #: cell from the row (a dict of the answer's columns), such as the status's `schedule`
    #: in words or a figure's amount with thousands separated. `--json` prints the columns
    #: as stored, so a program never parses words.
    derived: Mapping[str, Callable[[dict[str, Any]], Any]] = field(default_factory=dict)
    #: Columns stored as JSON text (SQLite has no arrays): `--json` prints them as JSON
    #: values, not as strings holding JSON.
    json_columns: tuple[str, ...] = ()
    #: With a key, `--json` prints one object rather than an array.
    one: bool = False
    #: With a key and no rows, the error (exit 2), formatted with `key` and `when` (the
    #: time bounds asked about, e.g. " (as of 2024-06-30)"); None: an empty answer is no error.
    missing: str | None = None

    @property
    def key_label(self) -> str:
        """How the key is named in messages: `PROJECT`, `--project`."""
        return self.key_option or (self.key_metavar or "KEY").strip("[]")


@dataclass(frozen=True)
class CannedQuery:
    """A projection's Datasette canned query: its page at ``/tracker/NAME``.

    ``sql`` takes ``parameters`` by name (``:as_of``, ``:known_at`` and the key, each of
    which may be left blank); Datasette finds them in the SQL, so they are declared here
    to be checked against it, not written into the metadata.
    """

    name: str
    title: str
    description_html: str
    sql: str
    parameters: tuple[str, ...]
    #: The page shows the question, not its SQL (one click shows it).
    hide_sql: bool = True

    def metadata(self) -> dict[str, Any]:
        """The query's entry in Datasette's metadata."""
        return {"title": self.title, "description_html": self.description_html, "sql": self.sql,
                "hide_sql": self.hide_sql}


#: A foreign key a built database declares: (column, parent table, parent key column).
ForeignKey = tuple[str, str, str]
#: An index publishing keeps: (table, columns, WHERE of a partial index or None).
PublishIndex = tuple[str, tuple[str, ...], Optional[str]]


@runtime_checkable
class Projection(Protocol):
    """What every projection module declares, whatever the shape of its fold."""

    #: The projection's name: its `replay_state` row, and the current table of a sum.
    NAME: str
    #: Bumped when the fold or the tables change: the next replay rebuilds from the log.
    VERSION: int
    SHAPE: Literal["state", "sum"]
    #: The bitemporal history table.
    HISTORY: str
    #: The key's column in the tables, and the name of the key's SQL parameter (`:project`).
    KEY_COLUMN: str
    #: The DDL of every table, index and view the projection owns (HISTORY among them).
    SCHEMA: str
    #: Indexes (by name, from SCHEMA) a full replay needs while it writes the rows; the
    #: others are built in bulk once the rows are in.
    RUN_INDEXES: Set[str]

    #: Today's state as known now: :as_of and :known_at are passed as NULL, the key or ''.
    NOW_SQL: str
    #: The state as of :as_of, known at :known_at, for the key or (blank) every key: what
    #: the command line runs with --as-of or --known-at.
    AS_OF_SQL: str
    COMMAND: Command
    CANNED_QUERY: CannedQuery

    #: Datasette's metadata for each table and view in SCHEMA: title, description, a
    #: description of every column, facets, sorts (metadata.yml's form, as a dict).
    DATASETTE_TABLES: Mapping[str, Mapping[str, Any]]
    #: Foreign keys a built database declares, by table (this projection's, or another
    #: table whose column names this projection's rows), so Datasette links them.
    FOREIGN_KEYS: Mapping[str, Sequence[ForeignKey]]
    #: Views a built database holds as tables: view → its primary key column (or None).
    MATERIALIZE: Mapping[str, Optional[str]]
    #: Indexes the Datasette pages need beyond the replay's own (publish_* names).
    PUBLISH_INDEXES: Sequence[PublishIndex]

    def keys(self, event: dict[str, Any]) -> Iterable[str]:
        """The keys an effective event touches."""


@runtime_checkable
class StateProjection(Projection, Protocol):
    """A fold whose history rows are the key's states, refolded from the key's events.

    Optionally the module also declares ``KEY_SQL`` (the key of an `effective_events` row
    as SQL, for a projection whose ``keys`` gives at most one key) and the fast path
    ``resume(key, events)`` / ``extend(key, carry, event)``; see `projections`.
    """

    SHAPE: Literal["state"]
    #: A history row's columns before known_from/known_to, starting valid_from, valid_to.
    ROW_COLUMNS: tuple[str, ...]
    #: The event fields the fold reads.
    FIELDS: tuple[str, ...]
    #: A WHERE clause on `effective_events` selecting the key's events, one `?` for the key.
    KEY_FILTER: str

    def fold(self, key: str, events: list[dict[str, Any]]) -> list[tuple]:
        """The key's history rows from its effective events in world order."""


@runtime_checkable
class SumProjection(Projection, Protocol):
    """A fold whose state is a sum of its events' contributions (see `projections.country_tallies`)."""

    SHAPE: Literal["sum"]
    #: (HISTORY, the contribution rows, also has a `reported` column and the indexes
    #: `HISTORY_reported` and `HISTORY_advance`, which the reported axis reads: see
    #: `projections.country_tallies` and `tracker.replay.reported_sums`.)
    #: The yearly and monthly running totals, bitemporal; keyed by (key, level, start,
    #: known_from), with a partial index `CHECKPOINTS_current` of the rows live now, which a
    #: catch-up reads (the key holds every version: thousands for a busy key's years).
    CHECKPOINTS: str
    #: A contribution's values, in order.
    CONTRIBUTION_COLUMNS: tuple[str, ...]
    #: The current table's columns after the key, in order.
    TOTAL_COLUMNS: tuple[str, ...]
    #: The total that counts contributions: a key whose count is 0 has no row.
    COUNT_COLUMN: str
    #: The total holding the latest valid_from folded in (subtraction cannot undo it, so
    #: the engine recomputes it when a contribution is taken out).
    LATEST_COLUMN: str

    def contributions(self, event: dict[str, Any]) -> Iterable[tuple[str, tuple]]:
        """(key, values in CONTRIBUTION_COLUMNS order) for each key the event adds to."""

    def empty(self) -> list:
        """A zero total, in TOTAL_COLUMNS order."""

    def add(self, total: list, values: tuple, valid_from: str, sign: int = 1) -> None:
        """Fold one contribution into (sign 1) or out of (sign -1) a total; `sign` n folds
        in n alike contributions at once (the reported axis adds groups of them)."""


SHAPES: dict[str, type] = {"state": StateProjection, "sum": SumProjection}
#: Marks a protocol member that is a function, not a declaration.
METHOD = object()
#: What a command's key may be checked as (Command.key_names).
KEY_NAMES = (None, "project", "country", "metric")
#: The parameters every projection's command has besides its key (the key cannot be one).
COMMAND_OPTIONS = ("ctx", "as_of", "known_at", "as_json")


def _members(protocol: type) -> dict[str, Any]:
    """A protocol's members: name → its annotation (a declaration) or METHOD (a function)."""
    members: dict[str, Any] = {}
    for klass in reversed(protocol.__mro__):
        if not getattr(klass, "_is_protocol", False) or klass is Protocol:
            continue
        hints = typing.get_type_hints(klass)
        members.update({name: hints[name] for name in vars(klass).get("__annotations__", {})})
        members.update({name: METHOD for name, value in vars(klass).items()
                        if callable(value) and not name.startswith("_")})
    return members


def _fits(value: Any, annotation: Any) -> bool:
    """Whether `value` has the type `annotation` names, to the depth a declaration needs."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return True
    if origin is Literal:
        return value in args
    if origin in (typing.Union, getattr(types, "UnionType", None)):
        return any(_fits(value, arg) for arg in args)
    if annotation is type(None):
        return value is None
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(item, args[0]) for item in value)
        return len(args) == len(value) and all(_fits(v, a) for v, a in zip(value, args))
    if origin in (Mapping, dict) or annotation in (Mapping, dict):
        return isinstance(value, Mapping) and (not args or all(
            _fits(k, args[0]) and _fits(v, args[1]) for k, v in value.items()))
    if origin in (Sequence, list):
        return isinstance(value, (list, tuple)) and (not args or all(_fits(v, args[0]) for v in value))
    if origin in (Set, frozenset, set):
        return isinstance(value, Set) and (not args or all(_fits(v, args[0]) for v in value))
    if isinstance(annotation, type):
        return isinstance(value, annotation) and not (annotation is int and isinstance(value, bool))
    return True


def problems(module: Any) -> list[str]:
    """What `module` lacks to be a projection, in words; [] when it satisfies its shape's protocol.

    Checks that every declaration is there with the right type, which `isinstance` with a
    Protocol does not (it only looks for the names).
    """
    shape = getattr(module, "SHAPE", None)
    protocol = SHAPES.get(shape)
    name = getattr(module, "__name__", repr(module))
    if protocol is None:
        return [f"{name}: SHAPE must be one of {sorted(SHAPES)}, not {shape!r}"]
    found = []
    for member, annotation in _members(protocol).items():
        if not hasattr(module, member):
            found.append(f"{name}: no {member}")
        elif annotation is METHOD:
            if not callable(getattr(module, member)):
                found.append(f"{name}: {member} must be a function")
        elif not _fits(getattr(module, member), annotation):
            found.append(f"{name}: {member} must be {annotation}, not {getattr(module, member)!r:.80}")
    key = getattr(module, "KEY_COLUMN", None)
    if isinstance(key, str) and (not key.isidentifier() or keyword.iskeyword(key) or key in COMMAND_OPTIONS):
        found.append(f"{name}: KEY_COLUMN {key!r} cannot name the key's SQL parameter and command argument")
    command = getattr(module, "COMMAND", None)
    if isinstance(command, Command):
        if (command.key_metavar is None) == (command.key_option is None):
            found.append(f"{name}: COMMAND takes its key as an argument (key_metavar) or an option (key_option)")
        if command.one and command.missing is None:
            found.append(f"{name}: COMMAND.one needs COMMAND.missing (one key's answer with no rows)")
        if command.key_names not in KEY_NAMES:
            found.append(f"{name}: COMMAND.key_names must be one of {', '.join(map(repr, KEY_NAMES))}")
        if not command.columns:
            found.append(f"{name}: COMMAND.columns names no column")
        for column, made in command.derived.items():
            if column not in command.columns:
                found.append(f"{name}: COMMAND.derived makes {column!r}, which COMMAND.columns does not show")
            if not callable(made):
                found.append(f"{name}: COMMAND.derived[{column!r}] must be a function of the row")
    return found


def check(module: Any) -> None:
    """Raise TypeError naming what `module` lacks to be a projection."""
    found = problems(module)
    if found:
        raise TypeError("not a projection module: " + "; ".join(found))


__all__ = [
    "CannedQuery", "Command", "ForeignKey", "Projection", "PublishIndex", "SHAPES", "StateProjection",
    "SumProjection", "check", "problems",
]

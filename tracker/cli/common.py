"""What every command shares: the typer app and its root options, opening the log for
reading or writing, and reporting bad input (exit 2), the log's problems (exit 2) and the
machine's failures (exit 3) in one line each.

Command modules (log_commands, kinds, state, publishing) import this one; tracker.cli.main
assembles them.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tracker.log.connection import is_postgres, resolve_db_path
from tracker.log.preparing import LogError
from tracker.log.store import EventStore

app = typer.Typer(
    name="tracker",
    help="An event-sourced timeline of South Korea's K-Silk Road cooperation with Central Asia.\n\n"
    "Events are appended to a hash-chained log; nothing is ever edited or deleted. "
    "Corrections and retractions are events too, so every past state can be asked for: "
    "--as-of DATE (what was true then) and --known-at WHEN (what the tracker said then).",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout and nothing else.")]
AsOf = Annotated[
    Optional[str],
    typer.Option(
        "--as-of",
        metavar="DATE",
        help="World time: only what had happened by DATE (YYYY, YYYY-MM or YYYY-MM-DD; "
        "a partial date means the end of its period).",
    ),
]
KnownAt = Annotated[
    Optional[str],
    typer.Option(
        "--known-at",
        metavar="WHEN",
        help="Knowledge time: only what had been recorded by WHEN (a date means the end of that "
        "day, UTC; or a timestamp like 2025-01-15T10:30:00Z).",
    ),
]
ReportedBy = Annotated[
    Optional[str],
    typer.Option(
        "--reported-by",
        metavar="DATE",
        help="Reported time: only what public reporting had said by DATE (an event counts from "
        "its earliest source's publication date, an amendment from its own source or the day it "
        "was recorded; a partial date means the end of its period).",
    ),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """One clear line on stderr, then the exit code."""
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


def db_path(ctx: typer.Context) -> Path | str:
    """The database file's Path, or a PostgreSQL log's connection string."""
    return ctx.find_root().obj["db"]


#: Commands that open the log for writing only to write its projections: on a PostgreSQL
#: log they write the read model's (whose rows are caught up first, the projections left
#: to the command), and the shared log is only read.
WRITES_PROJECTIONS_ONLY = {"replay"}


def _command(ctx: typer.Context) -> str:
    """The name of the command run (`log` for `tracker log order`)."""
    while ctx.parent is not None and ctx.parent.parent is not None:
        ctx = ctx.parent
    return ctx.info_name or ""


def shown_location(location: Path | str) -> str:
    """--db as it may be printed: a PostgreSQL connection string with its password masked."""
    if is_postgres(location):
        from tracker.log.postgres import describe

        return describe(str(location))
    return str(location)


def _open_shared(ctx: typer.Context, **options) -> EventStore:
    """The PostgreSQL log at --db (its own commands: init, log, import, export, show, verify...);
    a server that cannot be reached is a failure of the machine (exit 3)."""
    from tracker.cli.faults import Fault
    from tracker.log.postgres import PostgresEventStore, describe, server_fault

    import psycopg

    dsn = db_path(ctx)
    try:
        return PostgresEventStore(dsn, **options)
    except psycopg.OperationalError as e:
        raise Fault(f"{describe(dsn)}: cannot use the PostgreSQL log: {server_fault(dsn, e)}: nothing was done") from None


def read_model_path(ctx: typer.Context) -> Path:
    """Where the read model of the PostgreSQL log at --db lives (--read-model, $TRACKER_READ_MODEL, the cache)."""
    from tracker.replay.readmodel import location

    return location(db_path(ctx), ctx.find_root().obj.get("read_model"))


def open_read_model(ctx: typer.Context, *, replay: bool = True) -> EventStore:
    """The local read model of the PostgreSQL log at --db, caught up with it: a SQLite log
    holding the same rows and, unless `replay` is False, current projections.

    Every command that reads projections (or lists events) on a shared log works on this,
    so the replay engine, the queries and Datasette need not know about the server. A
    rebuild (the shared log was replaced; the file was damaged) is said on stderr.
    """
    from tracker.cli.faults import Fault, cause
    from tracker.cli.output import say
    from tracker.replay.readmodel import ReadModelBusy, ReadModelError, bring_up_to_date

    path = read_model_path(ctx)
    with _open_shared(ctx, readonly=True) as shared:
        try:
            store, outcome = bring_up_to_date(shared, path, replay=replay)
        except ReadModelError as e:
            raise fail(str(e)) from None
        except ReadModelBusy as e:
            raise Fault(str(e)) from None
        except (sqlite3.Error, OSError) as e:
            reason = cause(e, path)
            if reason is None:
                raise
            raise Fault(f"{path} (the read model): {reason}: the shared log is unchanged") from None
    if outcome.note:
        say(f"Note: {outcome.note}.")
    return store


def open_store(ctx: typer.Context) -> EventStore:
    """The log at --db for writing, created empty when there is none.

    A log that is not as the tracker left it (LogProblem) is refused before anything
    is added to it: appending would bury the evidence. On a PostgreSQL log, the log on
    the server (its projections live in the read model: `open_read_model`).
    """
    from tracker.replay.checkpoints import reach_problems
    from tracker.log.schema import LogProblem

    from tracker.cli.faults import Fault, cause

    path = db_path(ctx)
    if is_postgres(path):
        if _command(ctx) in WRITES_PROJECTIONS_ONLY:
            return open_read_model(ctx, replay=False)
        return _open_shared(ctx)
    try:
        store = EventStore(path)
    except (sqlite3.Error, OSError) as e:
        reason = cause(e, path)
        if reason is None:
            raise
        raise Fault(f"{path}: {reason}: nothing was written") from None
    problems = reach_problems(store.conn)
    if problems:
        store.close()
        raise LogProblem(problems)
    return store


def open_existing(ctx: typer.Context, *, check: bool = True) -> EventStore:
    """The log at --db for reading, opened read-only; a missing database is bad input."""
    path = db_path(ctx)
    if is_postgres(path):
        return _open_shared(ctx, readonly=True, check=check)
    if not path.exists():
        raise fail(f"no database at {path}: run `tracker init` first, or pass --db PATH")
    return EventStore(path, readonly=True, check=check)


def open_current(ctx: typer.Context) -> EventStore:
    """The log at --db, read-only, with projections that answer for the whole log.

    When the stored projections are behind (a write cut short), the answer comes from
    a replay in memory, and a note on stderr says so; the file is never written. On a
    PostgreSQL log, its read model, caught up first (`open_read_model`).
    """
    from tracker.cli.output import say
    from tracker.replay.engine import ensure_current

    if is_postgres(db_path(ctx)):
        return open_read_model(ctx)
    store = open_existing(ctx)
    try:
        note = ensure_current(store)
    except BaseException:
        store.close()
        raise
    if note:
        say(f"Note: {note}.")
    return store


def explain_empty(store: EventStore, *, as_of: str | None = None, known_at: str | None = None,
                  until: str | None = None, reported_by: str | None = None) -> None:
    """Say on stderr why an answer is empty when a time bound lies before the log begins,
    so that an empty table is never taken for a fact about the world."""
    from tracker.cli.output import say

    if store.count() == 0:
        say("Note: the log is empty: `tracker init` loads the bundled record, `tracker import` a file.")
        return
    if known_at is not None:
        first = store.conn.execute("SELECT recorded_at FROM events ORDER BY seq LIMIT 1").fetchone()[0]
        if known_at < first:
            say(f"Note: nothing had been recorded by {known_at}: the log's first event was recorded at {first}.")
            return
    if reported_by is not None:
        from tracker.log.reported import first_reported

        first = first_reported(store.conn)
        if first is not None and reported_by < first:
            say(f"Note: nothing had been reported by {reported_by}: the log's earliest source was out on {first}.")
            return
    earliest = min(day for day in (as_of, until) if day) if (as_of or until) else None
    if earliest is not None:
        began = store.conn.execute("SELECT min(occurred_start) FROM events").fetchone()[0]
        if began and earliest < began:
            say(f"Note: no event in the log had begun by {earliest}: the earliest began on {began}.")


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 event', '2 events', '1 country', '3 timeline entries'."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


#: Catching up on more events than this shows a status line on a terminal.
LONG_CATCH_UP = 5000


def after_write(store: EventStore, written: str) -> None:
    """Bring the projections up to date before a write command returns.

    `written` says what the command has already committed to the log, so that a
    catch-up that fails (a full disk, a writer holding the lock) is reported truthfully:
    the events are in, only the projections lag. A large import can take a while to
    replay: say so on a terminal rather than sit silent. A single `tracker log` stays
    quiet (and does not pay for importing rich).
    """
    from tracker.cli.faults import Fault, cause, remedy
    from tracker.replay.checkpoints import checkpoint
    from tracker.replay.engine import catch_up

    if store.shared:  # its projections belong in a local read model, not on the server
        return
    try:
        if sys.stderr.isatty():
            done = checkpoint(store.conn)
            behind = store.head()[0] - (done or 0)
            if behind > LONG_CATCH_UP:
                from rich.console import Console

                with Console(stderr=True).status(f"Bringing the projections up to date ({behind:,} events)..."):
                    catch_up(store)
                return
        catch_up(store)
    except (sqlite3.Error, OSError) as e:
        reason = cause(e, store.path)
        if reason is None:
            raise
        raise Fault(
            f"{written}; the projections were not brought up to date: {reason}. "
            f"Run `tracker replay` {remedy(reason)}"
        ) from None


def appended(store: EventStore, items, **options):
    """`store.append`, with bad input (exit 2) and a failure of the machine (exit 3) reported.

    An append is one transaction, so when the machine fails it, nothing was written.
    """
    from tracker.cli.faults import Fault, cause

    try:
        return store.append(items, **options)
    except LogError as e:
        raise fail(str(e)) from None
    except (sqlite3.Error, OSError) as e:
        reason = cause(e, store.path)
        if reason is None:
            raise
        raise Fault(f"{reason}: nothing was written") from None
    except Exception as e:
        if not is_server_error(e):
            raise
        from tracker.log.postgres import server_fault

        raise Fault(f"{shown_location(store.dsn)}: {server_fault(store.dsn, e)}: nothing was written") from None


def append_and_report(ctx: typer.Context, events: list[dict[str, Any]], *, as_json: bool) -> None:
    """Append events and print the new id (or, with --json, the logged event)."""
    from tracker.cli.output import emit_json

    with open_store(ctx) as store:
        result = appended(store, events)
        event_id = result.last_id or events[-1].get("id")
        if result.added:
            try:
                after_write(store, f"{event_id} was added to the log")
            except Exception:
                typer.echo(event_id)  # it is in the log, whatever else failed
                raise
        if as_json:
            stored = store.get(event_id) if event_id else None
            emit_json(stored.exported() if stored else None)
        elif result.added:
            typer.echo(event_id)
        else:
            typer.echo(event_id)
            typer.echo("(already in the log: nothing added)", err=True)


def is_server_error(error: BaseException) -> bool:
    """Is `error` psycopg's: the PostgreSQL server refused or dropped a command? (psycopg is
    only imported by a command on a PostgreSQL log, so a SQLite log never pays for it.)"""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(error, psycopg.Error)


def reporting(callback):
    """A command that reports the log's problems (exit 2) and the machine's failures (exit 3) in one line."""
    import functools

    from tracker.cli.faults import COULD_NOT_COMPLETE, Fault, cause
    from tracker.log.connection import SettingError
    from tracker.log.schema import LogProblem

    @functools.wraps(callback)
    def run(*args, **kwargs):
        contexts = [v for v in (*args, *kwargs.values()) if hasattr(v, "find_root")]  # typer's own click
        location = db_path(contexts[0]) if contexts else None
        where = shown_location(location) if location is not None else "the database"
        try:
            return callback(*args, **kwargs)
        except LogProblem as e:
            more = f" (and {len(e.problems) - 1} more)" if len(e.problems) > 1 else ""
            raise fail(
                f"{where}: {e.problems[0]}{more}. Nothing was done: `tracker verify` reports on the whole log"
            ) from None
        except Fault as e:
            raise fail(e.message, COULD_NOT_COMPLETE) from None
        except SettingError as e:
            raise fail(str(e)) from None
        except typer.Abort:  # Ctrl-C or end of input at a prompt: nothing was written
            typer.echo("\nStopped: nothing was written.", err=True)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            _quiet_stdout()
            raise typer.Exit(0) from None
        except (sqlite3.Error, OSError) as e:
            reason = cause(e, where if contexts else None)
            if reason is None:
                raise
            raise fail(f"{where}: {reason}", COULD_NOT_COMPLETE) from None
        except Exception as e:
            # the server went away or refused mid-command (a dropped connection, a shutdown,
            # a role without the privilege): one line, the password masked; whatever was
            # being written was one transaction, which the server rolled back
            if not is_server_error(e) or location is None:
                raise
            from tracker.log.postgres import server_fault

            raise fail(f"{where}: the PostgreSQL server did not complete the command: "
                       f"{server_fault(str(location), e)}", COULD_NOT_COMPLETE) from None

    return run


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"tracker {version('ksilkroad-tracker')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("tracker (not installed: no version)")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        Optional[str],
        typer.Option(
            "--db",
            envvar="TRACKER_DB",
            metavar="PATH",
            help="The database file, or a PostgreSQL log's connection string (postgresql://...). "
            "Default: $TRACKER_DB, else ./tracker.db.",
            show_envvar=True,
        ),
    ] = None,
    read_model: Annotated[
        Optional[Path],
        typer.Option(
            "--read-model",
            envvar="TRACKER_READ_MODEL",
            metavar="PATH",
            help="With a PostgreSQL log: the local SQLite file its projections are kept in, caught up "
            "from the log before each reading command. Default: a file named for the log under "
            "$XDG_CACHE_HOME/ksilkroad-tracker (~/.cache/ksilkroad-tracker).",
            show_envvar=True,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="Print the tracker's version and exit."),
    ] = False,
) -> None:
    ctx.obj = {"db": resolve_db_path(db), "read_model": read_model}

def _quiet_stdout() -> None:
    """The reader of our output has gone (`tracker list | head`): what is left is not
    wanted, and that is no error. Point stdout at /dev/null so the final flush is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())

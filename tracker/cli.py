"""The `tracker` command line: a thin layer over the store, replay and queries.

Exit codes: 0 success; 1 `verify` found a problem; 2 bad input or usage.
Data goes to stdout (`--json` prints only JSON); notes and errors go to stderr.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .store import EventStore, LogError, resolve_db_path
from .typed_input import SOURCE_FORM

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


def fail(message: str, code: int = 2) -> typer.Exit:
    """One clear line on stderr, then the exit code."""
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


def db_path(ctx: typer.Context) -> Path:
    return ctx.find_root().obj["db"]


def open_store(ctx: typer.Context) -> EventStore:
    """The log at --db for writing, created empty when there is none.

    A log that is not as the tracker left it (LogProblem) is refused before anything
    is added to it: appending would bury the evidence.
    """
    from .replay import reach_problems
    from .store import LogProblem

    from .faults import Fault, cause

    path = db_path(ctx)
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
    if not path.exists():
        raise fail(f"no database at {path}: run `tracker init` first, or pass --db PATH")
    return EventStore(path, readonly=True, check=check)


def open_current(ctx: typer.Context) -> EventStore:
    """The log at --db, read-only, with projections that answer for the whole log.

    When the stored projections are behind (a write cut short), the answer comes from
    a replay in memory, and a note on stderr says so; the file is never written.
    """
    from .output import say
    from .replay import ensure_current

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
                  until: str | None = None) -> None:
    """Say on stderr why an answer is empty when a time bound lies before the log begins,
    so that an empty table is never taken for a fact about the world."""
    from .output import say

    if store.count() == 0:
        say("Note: the log is empty: `tracker init` loads the bundled record, `tracker import` a file.")
        return
    if known_at is not None:
        first = store.conn.execute("SELECT recorded_at FROM events ORDER BY seq LIMIT 1").fetchone()[0]
        if known_at < first:
            say(f"Note: nothing had been recorded by {known_at}: the log's first event was recorded at {first}.")
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
    from .faults import Fault, cause, remedy
    from .replay import catch_up, checkpoint

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
    from .faults import Fault, cause

    try:
        return store.append(items, **options)
    except LogError as e:
        raise fail(str(e)) from None
    except (sqlite3.Error, OSError) as e:
        reason = cause(e, store.path)
        if reason is None:
            raise
        raise Fault(f"{reason}: nothing was written") from None


def append_and_report(ctx: typer.Context, events: list[dict[str, Any]], *, as_json: bool) -> None:
    """Append events and print the new id (or, with --json, the logged event)."""
    from .output import emit_json

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


def reporting(callback):
    """A command that reports the log's problems (exit 2) and the machine's failures (exit 3) in one line."""
    import functools

    from .faults import COULD_NOT_COMPLETE, Fault, cause
    from .store import LogProblem, SettingError

    @functools.wraps(callback)
    def run(*args, **kwargs):
        contexts = [v for v in (*args, *kwargs.values()) if hasattr(v, "find_root")]  # typer's own click
        where = str(db_path(contexts[0])) if contexts else "the database"
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
        Optional[Path],
        typer.Option(
            "--db",
            envvar="TRACKER_DB",
            metavar="PATH",
            help="The database file. Default: $TRACKER_DB, else ./tracker.db.",
            show_envvar=True,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="Print the tracker's version and exit."),
    ] = False,
) -> None:
    ctx.obj = {"db": resolve_db_path(db)}


@app.command()
def init(
    ctx: typer.Context,
    empty: Annotated[bool, typer.Option("--empty", help="Create an empty log, without the bundled record.")] = False,
) -> None:
    """Create the database, loaded with the bundled K-Silk Road record unless --empty.

    Running it again on an existing database adds only what is missing.
    """
    from .bundled import record_path
    from .output import say

    with open_store(ctx) as store:
        written = "the log is ready"
        if not empty:
            from .store import read_jsonl

            result = appended(store, read_jsonl(record_path()))
            say(f"Loaded the bundled record: {result.added} events added, {result.skipped} already present.")
            written = f"{result.added} events of the bundled record were added"
        after_write(store, written)
        say(f"{db_path(ctx)}: {store.count()} events.")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="A JSONL file, one event per line; - for stdin.")],
    as_json: JsonFlag = False,
) -> None:
    """Append the events in a JSONL file, all or nothing.

    Events already in the log (same id, same content) are skipped, so importing a file
    twice adds nothing. Lines carrying seq, recorded_at, prev_hash and hash (as written
    by `export`) are restored exactly. Any bad line stops the import: nothing is written.
    """
    from .faults import Fault, cause
    from .importing import import_file

    with open_store(ctx) as store:
        try:
            result = import_file(store, file, show_progress=not as_json)
        except LogError as e:
            raise fail(f"{file}: {e}") from None
        except sqlite3.Error as e:
            reason = cause(e, store.path)
            if reason is None:
                raise
            raise Fault(f"{reason}: nothing was written (the import is all or nothing)") from None
        except OSError as e:
            raise fail(f"{file}: {e.strerror or e}") from None
        after_write(store, f"{result.added} events were added (the log now ends at seq {store.head()[0]})")
    summary = {"added": result.added, "skipped": result.skipped, "last_seq": result.last_seq}
    if as_json:
        from .output import emit_json

        emit_json(summary)
    else:
        typer.echo(f"{counted(result.added, 'event')} added, {result.skipped:,} already in the log.")
    if result.added == 0 and result.skipped == 0:
        from .output import say

        say(f"Note: {'standard input' if file == '-' else file} holds no events (no lines but blank ones): nothing was added.")


@app.command()
def export(
    ctx: typer.Context,
    out: Annotated[Optional[Path], typer.Option("--out", metavar="FILE", help="Write here instead of stdout.")] = None,
) -> None:
    """Write the whole log as JSONL, with seq, recorded_at, prev_hash and hash.

    Importing the file into an empty log restores it exactly.
    """
    with open_existing(ctx) as store:
        if out is None:
            write = sys.stdout.buffer.write
            for line in store.export_lines():
                write(line)
            sys.stdout.flush()
            return
        partial = out.with_name(out.name + ".partial")
        try:
            with open(partial, "wb") as f:
                for line in store.export_lines():
                    f.write(line)
            partial.replace(out)  # never leave a half-written export under the real name
        except BaseException:
            partial.unlink(missing_ok=True)
            raise


@app.command("list")
def list_(
    ctx: typer.Context,
    kind: Annotated[Optional[str], typer.Option("--kind", help="Only this kind of event.")] = None,
    country: Annotated[Optional[str], typer.Option("--country", metavar="CC", help="Only events involving this country.")] = None,
    project: Annotated[Optional[str], typer.Option("--project", help="Only events about this project.")] = None,
    since: Annotated[Optional[str], typer.Option("--since", metavar="DATE", help="Only events that began on or after DATE.")] = None,
    until: Annotated[Optional[str], typer.Option("--until", metavar="DATE", help="Only events that began on or before DATE.")] = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    as_json: JsonFlag = False,
) -> None:
    """List events as the tracker takes them: corrections applied, retractions left out.

    Ordered by when they happened (first possible day, last possible day, log position).
    """
    from events.dates import DateError, parse_occurred
    from events.models import WORLD_KINDS

    from .listing import current_events, effective_events
    from .output import emit_json_array, emit_table
    from .timeaxes import TimeError, as_of_day, known_at_stamp

    if kind is not None and kind not in WORLD_KINDS:
        raise fail(f"--kind '{kind}': must be one of {', '.join(WORLD_KINDS)}")
    try:
        bounds = {
            "as_of": as_of_day(as_of),
            "since": parse_occurred(since).start.isoformat() if since else None,
            "until": parse_occurred(until).end.isoformat() if until else None,
        }
        known = known_at_stamp(known_at)
    except (TimeError, DateError) as e:
        raise fail(str(e)) from None
    from .names import UnknownName, country_code, project_slug

    try:
        code = country_code(country) if country is not None else None
    except UnknownName as e:
        raise fail(str(e)) from None
    with open_current(ctx) if known is None else open_existing(ctx) as store:
        try:
            slug = project_slug(store.conn, project) if project is not None else None
        except UnknownName as e:
            raise fail(str(e)) from None
        filters = {"kind": kind, "country": code, "project": slug, **bounds}
        if known is None:
            # as known now: the replayed index answers from its indexes, streaming
            found = current_events(store, **filters)
        else:
            # what the tracker said then: the log itself, read through its amendments
            found = effective_events(store, known_at=known, **filters)
        found = iter(found)  # (--json streams it)
        first = next(found, None)
        if first is None:
            explain_empty(store, as_of=bounds["as_of"], known_at=known, until=bounds["until"])
        found = itertools.chain([first], found) if first is not None else iter(())
        if as_json:
            emit_json_array(event.as_json() for event in found)
            return
        found = list(found)
    emit_table(
        ["occurred", "kind", "countries", "project", "summary", "id"],
        (
            [
                e.record["occurred"],
                e.record["kind"] + (" (corrected)" if e.corrected else ""),
                ",".join(e.record["countries"]),
                e.record.get("project"),
                e.record["summary"],
                e.record["id"],
            ]
            for e in found
        ),
        title=counted(len(found), "event"),
    )


@app.command()
def show(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="ID", help="The event's id.")],
    as_json: JsonFlag = False,
) -> None:
    """One event as logged, its corrections and retraction, and its effective form now."""
    from .amendments import Amendment, effective_form
    from .output import emit_json

    with open_existing(ctx) as store:
        event = store.get(event_id)
        if event is None:
            raise fail(f"no event with id '{event_id}'")
        amendments = store.amendments_of(event_id)
    history = [Amendment.from_record(a.record, a.seq, a.recorded_at) for a in amendments]
    effective = effective_form(event.record, history) if event.kind not in ("correction", "retraction") else None
    result = {
        "event": event.exported(),
        "amendments": [a.exported() for a in amendments],
        "effective": effective,
        "retracted": any(a.kind == "retraction" and a.target == event_id for a in history),
    }
    if as_json:
        emit_json(result)
        return
    import orjson

    from events.codes import visible

    from .output import safe_json

    def pretty(data) -> str:  # JSON, with nothing in it a terminal could act on
        return safe_json(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)).decode()

    typer.echo(pretty(event.exported()))
    for amendment in amendments:
        record = amendment.record
        what = record.get("changes") if record["kind"] == "correction" else ""
        typer.echo(
            f"\n{record['kind']} {record['id']} (recorded {amendment.recorded_at}, target "
            f"{visible(record['target'])}): {visible(record['reason'])} "
            f"{safe_json(orjson.dumps(what)).decode() if what else ''}"
        )
    if result["retracted"]:
        typer.echo("\nThis event is retracted: it counts nowhere.")
    elif amendments and effective is not None:
        typer.echo("\nEffective now:")
        typer.echo(pretty(effective))


SourceOption = Annotated[
    Optional[list[str]],
    typer.Option("--source", metavar="SOURCE", help=f"Where the fix was reported: {SOURCE_FORM}. Repeatable."),
]


def _amendment(ctx, kind: str, target_id: str, reason: str, sources: list[str] | None, extra: dict, as_json: bool) -> None:
    from .typed_input import InputError, parse_source

    with open_existing(ctx) as store:
        target = store.get(target_id)
        if target is None:
            raise fail(f"no event with id '{target_id}'")
    try:
        parsed_sources = [parse_source(s) for s in sources or ()]
    except InputError as e:
        raise fail(str(e)) from None
    changes = extra.get("changes")
    what = ", ".join(f"{k} → {v}" for k, v in changes.items()) if changes else "withdrawn"
    event = {
        "kind": kind,
        "target": target_id,
        "reason": reason,
        "countries": target.record.get("countries", []),
        "summary": f"{kind.capitalize()} of {target_id}: {what}. {reason}",
        "sources": parsed_sources,
        **extra,
    }
    append_and_report(ctx, [event], as_json=as_json)


@app.command()
def correct(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="ID", help="The event to correct.")],
    set_: Annotated[
        list[str],
        typer.Option("--set", metavar="FIELD=VALUE", help="A new value, typed as for `tracker log` (lists comma-separated; JSON for structures; null removes). Repeatable."),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why the event is corrected.")],
    sources: SourceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Append a correction: new values for some fields of an earlier event.

    The original row is never touched; from now on the event is taken to say the new
    values (and `--known-at` before now still shows what it said before).
    """
    from events.models import MODELS

    from .typed_input import InputError, parse_assignment

    with open_existing(ctx) as store:
        target = store.get(event_id)
    if target is None:
        raise fail(f"no event with id '{event_id}'")
    if target.kind in ("correction", "retraction"):
        raise fail(f"'{event_id}' is a {target.kind}; correct the event it amends instead")
    try:
        changes = dict(parse_assignment(MODELS[target.kind].model_fields, s) for s in set_)
    except InputError as e:
        raise fail(str(e)) from None
    _amendment(ctx, "correction", event_id, reason, sources, {"changes": changes}, as_json)


@app.command()
def retract(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="ID", help="The event (or correction) to retract.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is withdrawn.")],
    sources: SourceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Append a retraction: the event (or correction) counts nowhere from now on."""
    _amendment(ctx, "retraction", event_id, reason, sources, {}, as_json)


@app.command()
def verify(
    ctx: typer.Context,
    head: Annotated[
        Optional[list[str]],
        typer.Option("--head", metavar="SEQ:HASH", help="A head published earlier (as verify prints it): the log must still hold it. Repeatable."),
    ] = None,
    heads: Annotated[
        Optional[Path],
        typer.Option("--heads", metavar="FILE", help="A file of published heads, one SEQ:HASH a line ('#' starts a comment)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the log's schema and triggers, the hash chain, published heads and the projections.

    Only reads: the database is opened read-only and nothing is repaired. Exits 1 naming
    the first seq that does not check out. Prints the head (seq and hash): keep it, or
    publish it, and a later `verify --head SEQ:HASH` proves the log up to it is unchanged.
    """
    from .output import emit_json, say
    from .verify import HeadError, parse_head, read_heads, verify_all

    try:
        published = [parse_head(text) for text in head or ()]
        if heads is not None:
            published += read_heads(str(heads))
    except HeadError as e:
        raise fail(str(e)) from None
    except OSError as e:
        raise fail(f"{heads}: {e.strerror or e}") from None
    with open_existing(ctx, check=False) as store:  # verify reports a bad schema itself
        report = verify_all(store, published)
    if as_json:
        emit_json(report.as_json())
    else:
        for note in report.notes:
            say(f"Note: {note}.")
        if report.ok:
            proved = f", {report.heads_checked} published head(s) still in it" if report.heads_checked else ""
            typer.echo(
                f"OK: {report.events} events, chain intact{proved}, head seq {report.head_seq} hash {report.head_hash}"
            )
        else:
            for problem in report.problems:
                typer.echo(f"FAIL: {problem}", err=True)
    if not report.ok:
        raise typer.Exit(1)


# Commands defined in other modules register themselves on `app` when imported.
from . import cli_state  # noqa: E402,F401

from . import cli_publish  # noqa: E402,F401


def _command_words(argv: list[str]) -> list[str]:
    """The command words of a command line: `--db x log order --buyer y` → [log, order, y]."""
    words, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--db":
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
    return words


def cli_app(argv: list[str] | None = None) -> typer.Typer:
    """The `tracker` app: every command, or with `argv`, just the command it invokes.

    Typer turns every parameter of every command into a validator when it assembles
    the CLI, so building only the invoked command keeps `tracker log` quick to start.
    """
    from .cli_log import log_app

    words = _command_words(argv) if argv is not None else []
    wanted = words[0] if words else None
    names = {info.name or info.callback.__name__.rstrip("_") for info in app.registered_commands}
    result = typer.Typer(
        name=app.info.name,
        help=app.info.help,
        no_args_is_help=True,
        add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    result.registered_callback = app.registered_callback
    result.registered_commands = [
        info
        for info in app.registered_commands
        if wanted not in names or (info.name or info.callback.__name__.rstrip("_")) == wanted
    ]
    if wanted not in names:
        only_kind = words[1] if wanted == "log" and len(words) > 1 else None
        log = log_app(only_kind)
        log.registered_commands = [_reporting_info(info) for info in log.registered_commands]
        result.add_typer(log, name="log")
    result.registered_commands = [_reporting_info(info) for info in result.registered_commands]
    return result


def _reporting_info(info):
    """A copy of a registered command whose callback reports faults (see `reporting`), and
    whose help is its docstring reflowed (see `reflowed`)."""
    import copy

    wrapped = copy.copy(info)
    wrapped.callback = reporting(info.callback)
    wrapped.help = reflowed(info.help or info.callback.__doc__ or "")
    return wrapped


def reflowed(doc: str) -> str:
    """A docstring as help: paragraphs kept, the line breaks inside them dropped, so that
    the terminal wraps the text at its own width rather than where the source did."""
    import inspect

    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def main() -> None:
    # The tracker's models use no pydantic plugins, and looking for them scans the
    # metadata of every installed package on each command (10-15 ms). An explicit
    # PYDANTIC_DISABLE_PLUGINS (even empty) is left as the user set it.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")
    argv = hoist_db(sys.argv[1:])
    try:
        cli_app(argv)(args=argv, prog_name="tracker")
    except BrokenPipeError:
        _quiet_stdout()
        sys.exit(0)


def _quiet_stdout() -> None:
    """The reader of our output has gone (`tracker list | head`): what is left is not
    wanted, and that is no error. Point stdout at /dev/null so the final flush is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def hoist_db(argv: list[str]) -> list[str]:
    """`tracker list --db x.db` as `tracker --db x.db list`: --db is the tracker's own option,
    but people type it after the command too. Everything after `--` is left alone."""
    words = list(argv)
    end = words.index("--") if "--" in words else len(words)
    first_word = next((i for i, w in enumerate(words[:end]) if not w.startswith("-") and (i == 0 or words[i - 1] != "--db")), None)
    if first_word is None:
        return words
    hoisted: list[str] = []
    i = first_word + 1
    while i < end:
        if words[i] == "--db" and i + 1 < end:
            hoisted += words[i:i + 2]
            del words[i:i + 2]
            end -= 2
        elif words[i].startswith("--db="):
            hoisted.append(words.pop(i))
            end -= 1
        else:
            i += 1
    return hoisted + words if hoisted else words

"""Commands that read the projections (one per projection module: status, tallies, timeline,
each made from the module's COMMAND), and replay."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Annotated, Any, Optional

import typer

from tracker.cli.common import AsOf, JsonFlag, KnownAt, ReportedBy, app, counted, fail, open_current, open_store


def _bounds(as_of: str | None, known_at: str | None, reported_by: str | None = None) -> dict[str, str | None]:
    from tracker.replay.timeaxes import TimeError, as_of_day, known_at_stamp, reported_by_day

    try:
        return {"as_of": as_of_day(as_of), "known_at": known_at_stamp(known_at),
                "reported_by": reported_by_day(reported_by)}
    except TimeError as e:
        raise fail(str(e)) from None


def _read(ctx: typer.Context, projection, key: str | None, bounds: dict, *, names=None, as_json: bool = False):
    """The projection's rows, `key` first checked by `names` (a tracker.cli.names lookup), and an
    empty answer explained. For a table, also each row's event as entered (`occurred`),
    so its dates show at their precision."""
    from tracker.replay.queries import answer

    from tracker.cli.common import explain_empty
    from tracker.cli.names import UnknownName

    with open_current(ctx) as store:
        if key is not None and names is not None:
            try:
                key = names(store.conn, key)
            except UnknownName as e:
                raise fail(str(e)) from None
        if bounds.get("reported_by"):  # one key's events, or the log as reported then in memory
            from tracker.replay.keyed import reported_answer

            rows = reported_answer(store, projection, key, as_of=bounds["as_of"], known_at=bounds["known_at"],
                                   reported_by=bounds["reported_by"])
        else:
            rows = answer(store.conn, projection, key, as_of=bounds["as_of"], known_at=bounds["known_at"])
        if not rows:
            explain_empty(store, as_of=bounds["as_of"], known_at=bounds["known_at"],
                          reported_by=bounds.get("reported_by"))
        occurred = {} if as_json else _occurred_of(store, rows)
    return key, rows, occurred


def _occurred_of(store, rows: list[dict[str, Any]]) -> dict[str, str]:
    """event id → `occurred` as entered, for the events the rows name."""
    ids = sorted({row["event"] for row in rows if row.get("event")})
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        found.update(store.conn.execute(
            f"SELECT id, occurred FROM events WHERE id IN ({', '.join('?' * len(chunk))})", chunk
        ).fetchall())
    return found


def _when(bounds: dict) -> str:
    parts = []
    if bounds["as_of"]:
        parts.append(f"as of {bounds['as_of']}")
    if bounds["known_at"]:
        parts.append(f"known at {bounds['known_at']}")
    if bounds.get("reported_by"):
        parts.append(f"reported by {bounds['reported_by']}")
    return f" ({', '.join(parts)})" if parts else ""


def _emit(rows: list[dict[str, Any]], one: bool, as_json: bool, title: str,
          occurred: dict[str, str] | None = None, *, columns: tuple[str, ...] = (),
          event_days: tuple[str, ...] = (), derived: Mapping[str, Any] | None = None,
          json_columns: tuple[str, ...] = ()) -> None:
    """JSON as the contract has it (every column, a column in `json_columns` decoded); or a
    table for people of `columns`, where a day in `event_days` that is the first day of its
    event's month or year shows as that month or year (`2024-06`, not `2024-06-01`), and a
    column in `derived` is made from the row by its function (Command.derived, such as the
    status's `schedule`)."""
    import json

    from events.dates import DateError, parse_occurred

    from tracker.cli.output import emit_json, emit_table

    if as_json:
        if json_columns:
            rows = [{c: json.loads(v) if c in json_columns and isinstance(v, str) else v for c, v in row.items()}
                    for row in rows]
        emit_json(rows[0] if one else rows)
        return

    def shown(row: dict[str, Any], column: str) -> Any:
        if derived and column in derived:
            return derived[column](row)
        value = row[column]
        entered = (occurred or {}).get(row.get("event") or "")
        if column in event_days and entered and value:
            first = entered.split("/")[0]  # an interval's start, at its own precision
            try:
                span = parse_occurred(first)
            except DateError:
                return value
            if span.start.isoformat() == value:
                return first
        return value

    columns = columns if rows else ()
    emit_table(columns, ([shown(row, c) for c in columns] for row in rows), title=title)


# --- the projections' commands ------------------------------------------------------------
#
# Each projection module declares its command (COMMAND: name, key, help, columns); the
# commands are made from those declarations whenever the app is assembled
# (tracker.cli.main.cli_app), so a projection registered with `projections.register` has its
# command too. They share the time options and --json, and answer with `_answer`.


def _answer(ctx: typer.Context, projection, key: str | None, as_of: str | None, known_at: str | None,
            reported_by: str | None, as_json: bool) -> None:
    """Print a projection's rows (one key's with `key`), now or as of/known at the bounds."""

    from tracker.cli.names import UnknownName, country_code, metric_key, project_slug

    command = projection.COMMAND
    bounds = _bounds(as_of, known_at, reported_by)
    names = None
    if command.key_names == "country" and key is not None:  # no log needed: checked first
        try:
            key = country_code(key, command.key_label)
        except UnknownName as e:
            raise fail(str(e)) from None
    elif command.key_names == "metric" and key is not None:
        try:
            key = metric_key(key, command.key_label)
        except UnknownName as e:
            raise fail(str(e)) from None
    elif command.key_names == "project":
        names = functools.partial(project_slug, option=command.key_label)
    key, rows, occurred = _read(ctx, projection, key, bounds, names=names, as_json=as_json)
    if key and not rows and command.missing:
        raise fail(command.missing.format(key=key, when=_when(bounds)))
    singular, plural = command.noun
    _emit(rows, command.one and bool(key), as_json, f"{counted(len(rows), singular, plural)}{_when(bounds)}",
          occurred, columns=command.columns, event_days=command.event_days,
          derived=command.derived, json_columns=command.json_columns)


def _command_info(projection) -> typer.models.CommandInfo:
    """The typer command a projection's COMMAND declares: `tracker NAME [KEY] --as-of --known-at --json`."""
    import inspect

    command = projection.COMMAND
    if command.key_option:
        key = typer.Option(command.key_option, help=command.key_help)
    else:
        key = typer.Argument(metavar=command.key_metavar, help=command.key_help)
    parameter = inspect.Parameter
    signature = inspect.Signature([
        parameter("ctx", parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        parameter(projection.KEY_COLUMN, parameter.POSITIONAL_OR_KEYWORD, default=None,
                  annotation=Annotated[Optional[str], key]),
        parameter("as_of", parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=AsOf),
        parameter("known_at", parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=KnownAt),
        parameter("reported_by", parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=ReportedBy),
        parameter("as_json", parameter.POSITIONAL_OR_KEYWORD, default=False, annotation=JsonFlag),
    ])

    def run(ctx: typer.Context, **options: Any) -> None:
        _answer(ctx, projection, options[projection.KEY_COLUMN], options["as_of"], options["known_at"],
                options["reported_by"], options["as_json"])

    run.__signature__ = signature
    run.__annotations__ = {name: p.annotation for name, p in signature.parameters.items()}
    run.__name__ = run.__qualname__ = command.name.replace("-", "_")
    run.__doc__ = command.help
    return typer.models.CommandInfo(name=command.name, callback=run, help=command.help)


def projection_commands() -> list[typer.models.CommandInfo]:
    """A command for every registered projection, in the order they are registered."""
    import projections

    return [_command_info(p) for p in projections.PROJECTIONS]


@app.command()
def replay(
    ctx: typer.Context,
    full: Annotated[bool, typer.Option("--full", help="Rebuild every projection from the whole log (atomically).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Bring the projections up to date with the log.

    Incremental from the stored checkpoint; --full rebuilds everything in one
    transaction, so readers see the old projections or the new, never a mix.
    """
    import time

    from tracker.cli.output import emit_json, say
    from tracker.replay.engine import replay as run_replay

    with open_store(ctx) as store:
        started = time.perf_counter()
        result = run_replay(store, full=full)
        seconds = time.perf_counter() - started
    summary = {
        "full": result.full,
        "events": result.events,
        "last_seq": result.last_seq,
        "seconds": round(seconds, 3),
    }
    if as_json:
        emit_json(summary)
    else:
        how = "rebuilt from the whole log" if result.full else "caught up"
        say(f"Projections {how}: {result.events} events replayed, up to seq {result.last_seq} ({seconds:.2f} s).")

"""Commands that read the projections: status, tallies, timeline, replay."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Optional

import typer

from tracker.cli.common import AsOf, JsonFlag, KnownAt, app, counted, fail, open_current, open_store


def _bounds(as_of: str | None, known_at: str | None) -> dict[str, str | None]:
    from tracker.replay.timeaxes import TimeError, as_of_day, known_at_stamp

    try:
        return {"as_of": as_of_day(as_of), "known_at": known_at_stamp(known_at)}
    except TimeError as e:
        raise fail(str(e)) from None


def _read(ctx: typer.Context, query, key: str | None, bounds: dict, *, names=None, as_json: bool = False):
    """The query's rows, `key` first checked by `names` (a tracker.cli.names lookup), and an
    empty answer explained. For a table, also each row's event as entered (`occurred`),
    so its dates show at their precision."""
    from tracker.cli.common import explain_empty
    from tracker.cli.names import UnknownName

    with open_current(ctx) as store:
        if key is not None and names is not None:
            try:
                key = names(store.conn, key)
            except UnknownName as e:
                raise fail(str(e)) from None
        rows = query(store.conn, key, **bounds)
        if not rows:
            explain_empty(store, as_of=bounds["as_of"], known_at=bounds["known_at"])
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
    return f" ({', '.join(parts)})" if parts else ""


#: Columns that hold the first day of the event named in the row's `event` column.
DAY_OF_EVENT = ("since", "on")


def _emit(rows: list[dict[str, Any]], one: bool, as_json: bool, title: str,
          occurred: dict[str, str] | None = None) -> None:
    """JSON as the contract has it; or a table for people, where a day that is the first day
    of its event's month or year shows as that month or year (`2024-06`, not `2024-06-01`)."""
    from events.dates import DateError, parse_occurred

    from tracker.cli.output import emit_json, emit_table

    if as_json:
        emit_json(rows[0] if one else rows)
        return

    def shown(row: dict[str, Any], column: str) -> Any:
        value = row[column]
        entered = (occurred or {}).get(row.get("event") or "")
        if column in DAY_OF_EVENT and entered and value:
            first = entered.split("/")[0]  # an interval's start, at its own precision
            try:
                span = parse_occurred(first)
            except DateError:
                return value
            if span.start.isoformat() == value:
                return first
        return value

    columns = list(rows[0]) if rows else []
    emit_table(columns, ([shown(row, c) for c in columns] for row in rows), title=title)


@app.command()
def status(
    ctx: typer.Context,
    project: Annotated[Optional[str], typer.Argument(metavar="[PROJECT]", help="One project's slug.")] = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    as_json: JsonFlag = False,
) -> None:
    """Project status: each project's name, lifecycle status, since when, and the event that set it.

    With PROJECT, that project only (--json prints one object).
    """
    from tracker.replay.queries import project_status

    from tracker.cli.names import project_slug

    bounds = _bounds(as_of, known_at)
    named = functools.partial(project_slug, option="PROJECT")
    project, rows, occurred = _read(ctx, project_status, project, bounds, names=named, as_json=as_json)
    if project and not rows:
        raise fail(f"no project '{project}'{_when(bounds)}: it does not appear until later")
    _emit(rows, bool(project), as_json, f"{counted(len(rows), 'project')}{_when(bounds)}", occurred)


@app.command()
def tallies(
    ctx: typer.Context,
    country: Annotated[Optional[str], typer.Argument(metavar="[COUNTRY]", help="One ISO 3166-1 alpha-2 code.")] = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    as_json: JsonFlag = False,
) -> None:
    """Country tallies: events per kind, agreements, visits hosted and made, USD order value.

    With COUNTRY, that country only (--json prints one object).
    """
    from tracker.replay.queries import country_tallies

    from tracker.cli.names import UnknownName, country_code

    bounds = _bounds(as_of, known_at)
    try:
        code = country_code(country, "COUNTRY") if country is not None else None
    except UnknownName as e:
        raise fail(str(e)) from None
    _, rows, occurred = _read(ctx, country_tallies, code, bounds, as_json=as_json)
    if code and not rows:
        raise fail(f"no events involving '{code}'{_when(bounds)}")
    _emit(rows, bool(code), as_json, f"{counted(len(rows), 'country', 'countries')}{_when(bounds)}", occurred)


@app.command()
def timeline(
    ctx: typer.Context,
    project: Annotated[Optional[str], typer.Option("--project", help="Only this summit project.")] = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    as_json: JsonFlag = False,
) -> None:
    """The summit timeline: every event about a summit project, with the project's status after it."""
    from tracker.replay.queries import summit_timeline

    from tracker.cli.names import project_slug

    bounds = _bounds(as_of, known_at)
    _, rows, occurred = _read(ctx, summit_timeline, project, bounds, names=project_slug, as_json=as_json)
    if as_json:
        _emit(rows, False, True, "")
        return
    shown = [{k: v for k, v in row.items() if k not in ("kind", "occurred")} for row in rows]
    _emit(shown, False, False, f"{counted(len(rows), 'timeline entry', 'timeline entries')}{_when(bounds)}", occurred)


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

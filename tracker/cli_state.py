"""Commands that read the projections: status, tallies, timeline, replay."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from .cli import AsOf, JsonFlag, KnownAt, app, fail, open_current, open_store


def _bounds(as_of: str | None, known_at: str | None) -> dict[str, str | None]:
    from .timeaxes import TimeError, as_of_day, known_at_stamp

    try:
        return {"as_of": as_of_day(as_of), "known_at": known_at_stamp(known_at)}
    except TimeError as e:
        raise fail(str(e)) from None


def _read(ctx: typer.Context, query, key: str | None, bounds: dict) -> list[dict[str, Any]]:
    with open_current(ctx) as store:
        return query(store.conn, key, **bounds)


def _when(bounds: dict) -> str:
    parts = []
    if bounds["as_of"]:
        parts.append(f"as of {bounds['as_of']}")
    if bounds["known_at"]:
        parts.append(f"known at {bounds['known_at']}")
    return f" ({', '.join(parts)})" if parts else ""


def _emit(rows: list[dict[str, Any]], one: bool, as_json: bool, title: str) -> None:
    from .output import emit_json, emit_table

    if as_json:
        emit_json(rows[0] if one else rows)
        return
    columns = list(rows[0]) if rows else []
    emit_table(columns, ([row[c] for c in columns] for row in rows), title=title)


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
    from .queries import project_status

    bounds = _bounds(as_of, known_at)
    rows = _read(ctx, project_status, project, bounds)
    if project and not rows:
        raise fail(f"no project '{project}'{_when(bounds)}")
    _emit(rows, bool(project), as_json, f"{len(rows)} projects{_when(bounds)}")


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
    from .queries import country_tallies

    bounds = _bounds(as_of, known_at)
    code = country.upper() if country else None
    rows = _read(ctx, country_tallies, code, bounds)
    if code and not rows:
        raise fail(f"no events involving '{code}'{_when(bounds)}")
    _emit(rows, bool(code), as_json, f"{len(rows)} countries{_when(bounds)}")


@app.command()
def timeline(
    ctx: typer.Context,
    project: Annotated[Optional[str], typer.Option("--project", help="Only this summit project.")] = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    as_json: JsonFlag = False,
) -> None:
    """The summit timeline: every event about a summit project, with the project's status after it."""
    from .queries import summit_timeline

    bounds = _bounds(as_of, known_at)
    rows = _read(ctx, summit_timeline, project, bounds)
    if as_json:
        _emit(rows, False, True, "")
        return
    shown = [{k: v for k, v in row.items() if k not in ("kind", "occurred")} for row in rows]
    _emit(shown, False, False, f"{len(rows)} timeline entries{_when(bounds)}")


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

    from .output import emit_json, say
    from .replay import replay as run_replay

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

"""The commands on the log itself: init, import, export, list, show, correct, retract, verify."""

from __future__ import annotations

import itertools
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from tracker.cli.common import (
    AsOf,
    JsonFlag,
    KnownAt,
    ReportedBy,
    after_write,
    app,
    append_and_report,
    appended,
    counted,
    db_path,
    explain_empty,
    fail,
    open_current,
    open_existing,
    open_store,
)
from tracker.cli.typed_input import SOURCE_FORM
from tracker.log.connection import is_postgres
from tracker.log.preparing import LogError

@app.command()
def init(
    ctx: typer.Context,
    empty: Annotated[bool, typer.Option("--empty", help="Create an empty log, without the bundled record.")] = False,
) -> None:
    """Create the database, loaded with the bundled K-Silk Road record unless --empty.

    Running it again on an existing database adds only what is missing.
    """
    from tracker.log.bundled import record_path
    from tracker.cli.output import say

    with open_store(ctx) as store:
        written = "the log is ready"
        if not empty:
            from tracker.log.importing import read_jsonl

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
    from tracker.cli.faults import Fault, cause
    from tracker.log.importing import import_file

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
        from tracker.cli.output import emit_json

        emit_json(summary)
    else:
        typer.echo(f"{counted(result.added, 'event')} added, {result.skipped:,} already in the log.")
    if result.added == 0 and result.skipped == 0:
        from tracker.cli.output import say

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
    reported_by: ReportedBy = None,
    as_json: JsonFlag = False,
) -> None:
    """List events as the tracker takes them: corrections applied, retractions left out.

    Ordered by when they happened (first possible day, last possible day, log position).
    """
    from events.dates import DateError, parse_occurred
    from events.models import WORLD_KINDS

    from tracker.replay.listing import current_events, effective_events
    from tracker.cli.output import emit_json_array, emit_table
    from tracker.replay.timeaxes import TimeError, as_of_day, known_at_stamp, reported_by_day

    if kind is not None and kind not in WORLD_KINDS:
        raise fail(f"--kind '{kind}': must be one of {', '.join(WORLD_KINDS)}")
    try:
        bounds = {
            "as_of": as_of_day(as_of),
            "since": parse_occurred(since).start.isoformat() if since else None,
            "until": parse_occurred(until).end.isoformat() if until else None,
        }
        known = known_at_stamp(known_at)
        reported = reported_by_day(reported_by)
    except (TimeError, DateError) as e:
        raise fail(str(e)) from None
    from tracker.cli.names import UnknownName, country_code, project_slug

    try:
        code = country_code(country) if country is not None else None
    except UnknownName as e:
        raise fail(str(e)) from None
    # (a PostgreSQL log is read through its read model either way: the same rows, in SQLite)
    shared = is_postgres(db_path(ctx))
    with open_current(ctx) if known is None or shared else open_existing(ctx) as store:
        try:
            slug = project_slug(store.conn, project) if project is not None else None
        except UnknownName as e:
            raise fail(str(e)) from None
        filters = {"kind": kind, "country": code, "project": slug, **bounds}
        if reported is not None:
            # the log as reported then (and recorded by --known-at), read once in seq order
            from tracker.replay.listing import reported_events

            found = reported_events(store, reported_by=reported, known_at=known, **filters)
        elif known is None:
            # as known now: the replayed index answers from its indexes, streaming
            found = current_events(store, **filters)
        else:
            # what the tracker said then: the log itself, read through its amendments
            found = effective_events(store, known_at=known, **filters)
        found = iter(found)  # (--json streams it)
        first = next(found, None)
        if first is None:
            explain_empty(store, as_of=bounds["as_of"], known_at=known, until=bounds["until"], reported_by=reported)
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
    known_at: KnownAt = None,
    reported_by: ReportedBy = None,
    as_json: JsonFlag = False,
) -> None:
    """One event as logged, its corrections and retraction, and its effective form now.

    For each correction in effect it says what changed (old → new), why, and on what
    sources. With --known-at or --reported-by, the amendments recorded (or reported) by
    then and the event as the tracker took it then; an event not yet recorded or
    reported then is shown as logged, with no effective form, and a note says when it
    came. With --json: `event`, `amendments`, `effective` (null when retracted),
    `retracted`, and `corrections`: the corrections in effect, in log order, each with
    `id`, `recorded_at`, `reason`, `sources` and `changes`, a list of
    `{field, old, new}` (null for no value).
    """
    from tracker.log.amendments import Amendment, changes_made, effective_form, live_corrections
    from tracker.log.reported import as_reported
    from tracker.replay.timeaxes import TimeError, known_at_stamp, reported_by_day
    from tracker.cli.output import emit_json, say

    try:
        known_at, reported_by = known_at_stamp(known_at), reported_by_day(reported_by)
    except TimeError as e:
        raise fail(str(e)) from None
    bounded = known_at is not None or reported_by is not None
    with open_existing(ctx) as store:
        event = store.get(event_id)
        if event is None:
            raise fail(f"no event with id '{event_id}'")
        amendments = store.amendments_of(event_id)
        then = as_reported(store.conn, event_id, reported_by=reported_by, known_at=known_at) if bounded else None
    world = event.kind not in ("correction", "retraction")
    if then is not None:  # a world event, asked about a moment: what counted then
        counting = {a.id for a in then.amendments}
        amendments = [a for a in amendments if a.record["id"] in counting]
        if not then.counted:
            say(f"Note: {event_id} " + (
                f"had not been recorded by {known_at}: it was recorded at {then.recorded_at}"
                if known_at is not None and then.recorded_at > known_at else
                f"had not been reported by {reported_by}: its earliest source was out on {then.reported_on}"
            ) + ".")
    history = [Amendment.from_record(a.record, a.seq, a.recorded_at) for a in amendments]
    effective = effective_form(event.record, history) if world and (then is None or then.counted) else None
    live = (live_corrections(event_id, history) or []) if world and effective is not None else []
    result = {
        "event": event.exported(),
        "amendments": [a.exported() for a in amendments],
        "effective": effective,
        "retracted": any(a.kind == "retraction" and a.target == event_id for a in history),
        "corrections": changes_made(event.record, live),
    }
    if as_json:
        emit_json(result)
        return
    import orjson

    from events.codes import visible

    from tracker.cli.output import safe_json

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
        if result["corrections"]:
            typer.echo("\nCorrections in effect, and what supports them:")
            for correction in result["corrections"]:
                typer.echo(correction_lines(correction))
        typer.echo("\nEffective then:" if bounded else "\nEffective now:")
        typer.echo(pretty(effective))


def correction_lines(correction: dict) -> str:
    """A correction in effect as `show` prints it: its id and reason, each change
    old → new, and its sources (or that it gave none), every value safe to print."""
    import orjson

    from events.codes import visible

    from tracker.cli.output import safe_json

    def value(data, missing: str) -> str:
        return missing if data is None else safe_json(orjson.dumps(data)).decode()

    lines = [f"{visible(correction['id'])}: {visible(str(correction['reason'] or ''))}"]
    for change in correction["changes"]:
        lines.append(
            f"  {visible(change['field'])}: {value(change['old'], '(none)')} → {value(change['new'], '(removed)')}"
        )
    for source in correction["sources"]:
        lines.append(f"  source: {source_line(source)}")
    if not correction["sources"]:
        lines.append("  source: none given")
    return "\n".join(lines)


def source_line(source: dict) -> str:
    """`Publisher, "Title", 2024-06, https://...`: a source on one line, safe to print."""
    from events.codes import visible

    parts = [
        visible(str(source.get("publisher"))),
        f'"{visible(str(source.get("title")))}"',
        visible(str(source.get("published"))),
    ]
    if source.get("url"):
        parts.append(visible(str(source["url"])))
    return ", ".join(parts)


SourceOption = Annotated[
    Optional[list[str]],
    typer.Option("--source", metavar="SOURCE", help=f"Where the fix was reported: {SOURCE_FORM}. Repeatable."),
]


def _amendment(ctx, kind: str, target_id: str, reason: str, sources: list[str] | None, extra: dict, as_json: bool) -> None:
    from tracker.cli.typed_input import InputError, parse_source

    with open_existing(ctx) as store:
        target = store.get(target_id)
        if target is None:
            raise fail(f"no event with id '{target_id}'")
    try:
        parsed_sources = [parse_source(s) for s in sources or ()]
    except InputError as e:
        raise fail(str(e)) from None
    changes = extra.get("changes")
    what = ", ".join(f"{k} removed" if v is None else f"{k} → {v}" for k, v in changes.items()) if changes else "withdrawn"
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

    from tracker.cli.typed_input import InputError, parse_assignment

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
    from tracker.cli.output import emit_json, say
    from tracker.log.verify import HeadError, parse_head, read_heads
    from tracker.replay.checks import verify_all

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
        if store.shared and store.has_log():
            for note in store.privilege_notes():
                report.note(note)
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

"""Commands that publish the tracker: serve, build."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tracker.cli.common import KnownAt, ReportedBy, after_write, app, appended, db_path, fail, open_existing, open_store


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8001,
) -> None:
    """Browse the tracker in Datasette: tables, search, as-of queries, dashboard, map, feeds.

    With no database yet, builds one from the bundled K-Silk Road record first. Pages are
    read-only with a SQL time limit; events logged while it runs appear without a restart.
    """
    from tracker.cli.output import say
    from tracker.publish.schema import prepare_path
    from tracker.publish.site import datasette_for
    from tracker.log.importing import read_jsonl

    path = db_path(ctx)
    if not path.exists():
        from tracker.log.bundled import record_path

        with open_store(ctx) as store:
            result = appended(store, read_jsonl(record_path()))
            after_write(store, f"{path} was created with the bundled record's {result.added} events")
        say(f"{path}: created from the bundled record ({result.added} events).")
    with open_store(ctx) as store:  # refuses a log that is not as the tracker left it
        after_write(store, "nothing was written to the log")
        head_seq, head_hash, _ = store.head()
    prepare_path(path)
    import uvicorn

    from tracker.publish.limits import set_heap_ceiling

    set_heap_ceiling()

    ds = datasette_for(path)
    say(f"Serving {path} (head seq {head_seq} hash {head_hash}) at http://{host}:{port}/ (Ctrl+C stops)")
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")


@app.command()
def build(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(metavar="OUT.db", help="The database file to write.")],
    known_at: KnownAt = None,
    reported_by: ReportedBy = None,
) -> None:
    """Write a self-contained database for `datasette publish`, plus its metadata file.

    The log is replayed from scratch into OUT.db with search, reference tables and
    foreign keys; the same log gives a byte-identical file. With --known-at, only what
    had been recorded by then; with --reported-by, only what had been reported by then.
    The metadata is written beside it as OUT.metadata.yml.
    """
    from tracker.cli.output import say
    from tracker.publish.build import build as build_database
    from tracker.publish.site import datasette_command
    from tracker.publish.site import write_metadata
    from tracker.replay.timeaxes import TimeError, known_at_stamp, reported_by_day

    source = db_path(ctx)
    if not source.exists():
        raise fail(f"no database at {source}: run `tracker init` first, or pass --db PATH")
    with open_existing(ctx):  # refuses a log that is not as the tracker left it
        pass
    if out.resolve() == source.resolve():
        raise fail("OUT.db must not be the tracker's own database")
    try:
        stamp = known_at_stamp(known_at)
        reported = reported_by_day(reported_by)
    except TimeError as e:
        raise fail(str(e)) from None
    summary = build_database(source, out, known_at=stamp, reported_by=reported)
    if (stamp or reported) and summary["events"] == 0:
        with open_existing(ctx) as store:
            from tracker.cli.common import explain_empty

            explain_empty(store, known_at=stamp, reported_by=reported)
    meta = out.with_name(out.stem + ".metadata.yml")
    write_metadata(meta, out.stem)
    say(
        f"{out}: {summary['events']} events, head seq {summary['head_seq']} hash {summary['head_hash']}"
        + (f", as known at {stamp}" if stamp else "")
        + (f", as reported by {reported}" if reported else "")
    )
    say(f"{meta}: metadata. Serve it with: {datasette_command(out, meta)}")

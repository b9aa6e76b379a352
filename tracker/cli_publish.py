"""Commands that publish the tracker: serve, build."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .cli import KnownAt, after_write, app, db_path, fail


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
    from .output import say
    from .publish import datasette_for, prepare_path
    from .store import EventStore, LogError, read_jsonl

    path = db_path(ctx)
    if not path.exists():
        from .bundled import record_path

        with EventStore(path) as store:
            try:
                result = store.append(read_jsonl(record_path()))
            except LogError as e:  # pragma: no cover - the bundled record is tested
                raise fail(f"{record_path()}: {e}") from None
            after_write(store)
        say(f"{path}: created from the bundled record ({result.added} events).")
    prepare_path(path)
    import uvicorn

    ds = datasette_for(path)
    say(f"Serving {path} at http://{host}:{port}/ (Ctrl+C stops)")
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")


@app.command()
def build(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(metavar="OUT.db", help="The database file to write.")],
    known_at: KnownAt = None,
) -> None:
    """Write a self-contained database for `datasette publish`, plus its metadata file.

    The log is replayed from scratch into OUT.db with search, reference tables and
    foreign keys; the same log gives a byte-identical file. With --known-at, only what
    had been recorded by then. The metadata is written beside it as OUT.metadata.yml.
    """
    from .output import say
    from .publish import build as build_database
    from .publish import write_metadata
    from .timeaxes import TimeError, known_at_stamp

    source = db_path(ctx)
    if not source.exists():
        raise fail(f"no database at {source}: run `tracker init` first, or pass --db PATH")
    if out.resolve() == source.resolve():
        raise fail("OUT.db must not be the tracker's own database")
    try:
        stamp = known_at_stamp(known_at)
    except TimeError as e:
        raise fail(str(e)) from None
    summary = build_database(source, out, known_at=stamp)
    meta = out.with_name(out.stem + ".metadata.yml")
    write_metadata(meta, out.stem)
    say(
        f"{out}: {summary['events']} events, head seq {summary['head_seq']} hash {summary['head_hash']}"
        + (f", as known at {stamp}" if stamp else "")
    )
    say(f"{meta}: metadata. Serve it with: datasette -i {out} -m {meta} --setting suggest_facets off")

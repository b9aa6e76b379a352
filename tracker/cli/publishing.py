"""Commands that publish the tracker: serve, build."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import typer

from tracker.cli.common import (
    KnownAt,
    ReportedBy,
    after_write,
    app,
    appended,
    db_path,
    fail,
    is_server_error,
    open_existing,
    open_read_model,
    open_store,
    shown_location,
)
from tracker.log.connection import is_postgres
from tracker.log.store import EventStore


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
    follower = None
    if is_postgres(path):
        path, head_seq, head_hash, follower = _serve_shared(ctx)
        shown = f"{shown_location(db_path(ctx))} through its read model {path}"
    else:
        if not path.exists():
            from tracker.log.bundled import record_path

            with open_store(ctx) as store:
                result = appended(store, read_jsonl(record_path()))
                after_write(store, f"{path} was created with the bundled record's {result.added} events")
            say(f"{path}: created from the bundled record ({result.added} events).")
        with open_store(ctx) as store:  # refuses a log that is not as the tracker left it
            after_write(store, "nothing was written to the log")
            head_seq, head_hash, _ = store.head()
        shown = str(path)
    prepare_path(path)
    import uvicorn

    from tracker.publish.limits import set_heap_ceiling

    set_heap_ceiling()

    ds = datasette_for(path)
    if follower is not None:
        follower.start()
    say(f"Serving {shown} (head seq {head_seq} hash {head_hash}) at http://{host}:{port}/ (Ctrl+C stops)")
    try:
        uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")
    finally:
        if follower is not None:
            follower.stop()


#: Seconds between two looks at a shared log by `tracker serve`: $TRACKER_FOLLOW_INTERVAL, else 2.
FOLLOW_INTERVAL = 2.0


def _serve_shared(ctx: typer.Context):
    """For `serve` on a PostgreSQL log: the log made with the bundled record if the server
    has none yet (as `serve` does with a missing file), its read model caught up, and a
    follower that keeps it caught up while Datasette serves it. (read model path, head seq,
    head hash, follower)"""
    import os

    from tracker.cli.common import _open_shared, open_read_model, read_model_path
    from tracker.cli.output import say
    from tracker.log.importing import read_jsonl

    with _open_shared(ctx, readonly=True, check=False) as probe:
        missing = not probe.has_log()
    if missing:
        from tracker.log.bundled import record_path

        with open_store(ctx) as store:
            result = appended(store, read_jsonl(record_path()))
        say(f"{shown_location(db_path(ctx))}: the log was created with the bundled record ({result.added} events).")
    with open_read_model(ctx) as store:
        head_seq, head_hash, _ = store.head()
    text = os.environ.get("TRACKER_FOLLOW_INTERVAL") or str(FOLLOW_INTERVAL)
    try:
        interval = float(text)
    except ValueError:
        interval = -1.0
    if not 0.05 <= interval <= 3600:
        raise fail(f"TRACKER_FOLLOW_INTERVAL is {text!r}: give the seconds between looks at the shared log, 0.05 to 3600")
    return read_model_path(ctx), head_seq, head_hash, Follower(db_path(ctx), read_model_path(ctx), interval)


class Follower:
    """Keeps a read model caught up with its shared log while `tracker serve` serves it.

    A thread of its own looks at the log's head every `interval` seconds and, when it
    has moved, catches the read model up (rows and projections) the way every command
    does; Datasette reads the file meanwhile and sees each catch-up when it commits
    (its Freshness check puts back the search triggers and indexes a rebuild drops).
    A server that cannot be reached is said once on stderr, and tried again: the pages
    keep showing the last state caught up.
    """

    def __init__(self, dsn: str, path: Path, interval: float):
        import threading

        self.dsn, self.path, self.interval = dsn, path, interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tracker-read-model", daemon=True)
        self.shared = None
        self.trouble: str | None = None  # the last failure said, so it is said once

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            self.follow()
        if self.shared is not None:
            self.shared.close()

    def follow(self) -> None:
        """One look at the log; catch up if it moved. Never raises: a failure is said once."""
        from tracker.cli.output import say
        from tracker.log.postgres import PostgresEventStore, describe, server_fault
        from tracker.replay.readmodel import bring_up_to_date, is_current

        try:
            if self.shared is None:
                self.shared = PostgresEventStore(self.dsn, readonly=True)
            if is_current(self.shared, self.path):
                trouble = None
            else:
                store, outcome = bring_up_to_date(self.shared, self.path)
                store.close()
                if outcome.note:
                    say(f"Note: {outcome.note}.")
                trouble = None
        except Exception as e:  # the pages keep showing the last state; the next look tries again
            if self.shared is not None:
                try:
                    self.shared.close()
                except Exception:
                    pass
                self.shared = None
            reason = server_fault(self.dsn, e) if is_server_error(e) else str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            trouble = f"{describe(self.dsn)}: the read model could not be caught up: {reason}; trying again"
            if trouble != self.trouble:
                say(f"Warning: {trouble}.")
        if trouble is None and self.trouble is not None:
            say(f"{describe(self.dsn)}: the read model is caught up again.")
        self.trouble = trouble


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
    if is_postgres(source):  # built from the read model's copy of the shared log
        with open_read_model(ctx, replay=False) as store:
            source = Path(store.path)
        reopen = functools.partial(EventStore, source, readonly=True)
    else:
        if not source.exists():
            raise fail(f"no database at {source}: run `tracker init` first, or pass --db PATH")
        reopen = functools.partial(open_existing, ctx)
        with reopen():  # refuses a log that is not as the tracker left it
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
        with reopen() as store:
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

"""Which database Datasette serves is the tracker's: `tracker` under `tracker serve`, a
snapshot's file name (`site.db` is `site`) under plain `datasette`. The plugin's links and
scripts and the reader's pages all ask, so the answer lives in one place.
"""

from __future__ import annotations

from tracker.publish.schema import DB_NAME


def is_tracker_database(datasette, database: str | None) -> bool:
    """Is `database` the tracker's? `tracker serve` serves it as `tracker`; a snapshot is
    served under its file's name, with metadata (`tracker build`'s) that describes the
    tracker's tables. Worked out once per database: cells ask for every value drawn."""
    if database == DB_NAME:
        return True
    known = datasette.__dict__.setdefault("_tracker_databases", {})
    if database not in known:
        tables = datasette.metadata("tables", database=database, fallback=False) if database else None
        known[database] = "effective_events" in (tables or {})
    return known[database]


async def tracker_database(datasette) -> str | None:
    """The name the tracker's database is served under: `tracker` in `tracker serve`, a
    snapshot's file name under plain `datasette` (told apart as the plugin does, by its
    metadata; else by having the tracker's tables). Worked out once."""
    known = datasette.__dict__.get("_tracker_database_name")
    if known is not None and known in datasette.databases:
        return known
    names = [n for n in datasette.databases if n != "_internal"]
    found = next((n for n in names if is_tracker_database(datasette, n)), None)
    if found is None:
        for name in names:
            tables = set(await datasette.get_database(name).table_names())
            if {"effective_events", "project_status_history", "events"} <= tables:
                found = name
                break
    if found is not None:
        datasette._tracker_database_name = found
    return found

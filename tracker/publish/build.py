"""`tracker build`: a deterministic, self-contained database for `datasette publish`.

The log is copied (up to a knowledge time), replayed from scratch, given the publishing
objects, and copied object by object in a fixed order, so the same log always gives a
byte-identical file that can be checked against it.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from tracker.publish.schema import _columns, _tables, prepare

#: Foreign keys a built database declares on the engine's own tables, so Datasette links
#: an event's countries; each projection declares its own (its FOREIGN_KEYS).
OWN_FOREIGN_KEYS: dict[str, list[tuple[str, str, str]]] = {
    "event_countries": [("event", "effective_events", "id"), ("country", "countries", "code")],
}


def foreign_keys() -> dict[str, list[tuple[str, str, str]]]:
    """Every foreign key a built database declares, by table: the engine's, then each
    registered projection's (event → project → countries)."""
    import projections

    found: dict[str, list[tuple[str, str, str]]] = {t: list(keys) for t, keys in OWN_FOREIGN_KEYS.items()}
    for p in projections.PROJECTIONS:
        for table, keys in p.FOREIGN_KEYS.items():
            have = found.setdefault(table, [])
            have += [tuple(k) for k in keys if tuple(k) not in have]
    return found


def materialize() -> dict[str, str | None]:
    """Views a built database holds as tables (a snapshot needs no view), keyed so that rows
    have pages of their own and foreign keys can point at them: view → primary key. Each
    projection names its own (its MATERIALIZE)."""
    import projections

    return {view: key for p in projections.PROJECTIONS for view, key in p.MATERIALIZE.items()}


def _with_foreign_keys(conn: sqlite3.Connection, table: str, sql: str, fkeys: dict) -> str:
    have = set(_columns(conn, table))
    tables = _tables(conn)
    declared = {r[3] for r in conn.execute(f'PRAGMA foreign_key_list("{table}")')}
    clauses = [
        f'FOREIGN KEY ("{col}") REFERENCES "{parent}" ("{key}")'
        for col, parent, key in fkeys.get(table, [])
        if col in have and parent in tables and col not in declared
    ]
    if not clauses:
        return sql
    close = sql.rindex(")")
    return sql[:close].rstrip() + ",\n    " + ",\n    ".join(clauses) + "\n" + sql[close:]


def _materialize(src: sqlite3.Connection, out: sqlite3.Connection, view: str, pk: str | None, fkeys: dict) -> None:
    cols = _columns(src, view)
    defs = [f'"{c}"' + (" TEXT PRIMARY KEY" if c == pk else "") for c in cols]
    sql = f'CREATE TABLE "{view}" (\n    ' + ",\n    ".join(defs) + "\n)"
    out.execute(_with_foreign_keys(src, view, sql, fkeys))
    quoted = ", ".join(f'"{c}"' for c in cols)
    rows = src.execute(f'SELECT {quoted} FROM "{view}" ORDER BY {quoted}').fetchall()
    out.executemany(f'INSERT INTO "{view}" ({quoted}) VALUES ({", ".join("?" * len(cols))})', rows)


def _copy_database(src: sqlite3.Connection, out_path: Path) -> None:
    """Copy every object into a fresh file in a fixed order, declaring foreign keys."""
    fkeys, views = foreign_keys(), materialize()
    out = sqlite3.connect(out_path, isolation_level=None)
    try:
        out.execute("PRAGMA journal_mode = DELETE")
        out.execute("PRAGMA page_size = 4096")
        out.execute("BEGIN")
        objects = src.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL"
            " ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, name"
        ).fetchall()
        virtual = {name for type_, name, _, sql in objects if type_ == "table" and sql.upper().startswith("CREATE VIRTUAL")}
        shadow = {name for _, name, _, _ in objects if any(name.startswith(v + "_") for v in virtual)}
        for type_, name, _, sql in objects:
            if type_ != "table" or name in shadow or name.startswith("sqlite_"):
                continue
            if name in virtual:
                out.execute(sql)
                continue
            out.execute(_with_foreign_keys(src, name, sql, fkeys))
            cols = ", ".join(f'"{c}"' for c in _columns(src, name))
            # Rows go in in their stored order (rowid, or the key of a WITHOUT ROWID table): the
            # replay engine writes the same rows in the same order from the same log.
            if "WITHOUT ROWID" in sql.upper():
                keys = sorted((r for r in src.execute(f'PRAGMA table_info("{name}")') if r[5]), key=lambda r: r[5])
                order = ", ".join(f'"{r[1]}"' for r in keys)
            else:
                order = "rowid"
            rows = src.execute(f'SELECT {cols} FROM "{name}" ORDER BY {order}')
            marks = ", ".join("?" * len(_columns(src, name)))
            while batch := rows.fetchmany(5000):
                out.executemany(f'INSERT INTO "{name}" ({cols}) VALUES ({marks})', batch)
        for type_, name, _, sql in objects:
            if type_ == "view" and name in views:
                _materialize(src, out, name, views[name], fkeys)
        for type_, name, _, sql in objects:
            if type_ == "index" or (type_ == "view" and name not in views) or type_ == "trigger":
                out.execute(sql)
        if "events_fts" in virtual:
            out.execute("INSERT INTO events_fts (events_fts) VALUES ('rebuild')")
            out.execute("INSERT INTO events_fts (events_fts) VALUES ('optimize')")
        out.execute("COMMIT")
        out.execute("ANALYZE")
        out.execute("VACUUM")
    finally:
        out.close()


def build(source: str | os.PathLike, out: str | os.PathLike, *, known_at: str | None = None,
          reported_by: str | None = None) -> dict[str, Any]:
    """Write a self-contained database for `datasette publish`, as the tracker knew it at
    `known_at`, from what had been reported by `reported_by`.

    The log is copied (what passes the bounds: `tracker.log.reported`), replayed from
    scratch into a scratch file, given the publishing objects, and copied object by
    object in a fixed order; the same log gives a byte-identical file. Returns a summary
    (events, head seq and hash).
    """
    from tracker.replay.engine import catch_up
    from tracker.replay.filtered import copy_rows
    from tracker.log.connection import connect_readonly
    from tracker.log.store import EventStore

    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tracker-build-") as tmp:
        scratch = Path(tmp) / "scratch.db"
        with EventStore(scratch) as store:
            conn = store.conn
            src = connect_readonly(source)  # (a log on a read-only file system too)
            try:
                copy_rows(src, conn, reported_by=reported_by, known_at=known_at)
            finally:
                src.close()
            catch_up(store)
            prepare(conn)
            head_seq, head_hash, head_time = store.head()
            count = store.count()
            conn.execute("CREATE TABLE publish_meta (key TEXT PRIMARY KEY, value TEXT)")
            conn.executemany(
                "INSERT INTO publish_meta VALUES (?, ?)",
                [
                    ("events", str(count)),
                    ("head_seq", str(head_seq)),
                    ("head_hash", head_hash),
                    ("last_recorded_at", head_time or ""),
                    ("known_at", known_at or ""),
                    ("reported_by", reported_by or ""),
                ],
            )
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            partial = out_path.with_name(out_path.name + ".partial")
            partial.unlink(missing_ok=True)
            _copy_database(conn, partial)
        partial.replace(out_path)
    return {"events": count, "head_seq": head_seq, "head_hash": head_hash, "known_at": known_at,
            "reported_by": reported_by, "path": str(out_path)}

"""The search index over effective events: an FTS5 table kept current by triggers.

The replay engine owns `effective_events` and may replace it wholesale (which drops
the triggers with the old table), so the index is the engine's to put back: after a
full replay, and on a database served while other processes write (tracker.publish.plugin).
"""

from __future__ import annotations

import sqlite3

#: What search covers: summaries, titles and parties of effective events (rowid = seq).
FTS_COLUMNS = ("summary", "title", "parties")
#: An index with external content: it keeps only the index, and reads the text it shows
#: (snippets, highlights) from `effective_events` by rowid, which is that table's seq;
#: a second copy of every summary would cost a sixth of the database for nothing.
FTS_SCHEMA = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5("
    + ", ".join(FTS_COLUMNS)
    + ", content = 'effective_events', content_rowid = 'seq'"
    + ", tokenize = 'porter unicode61 remove_diacritics 2')"
)
_COLUMNS = ", ".join(FTS_COLUMNS)
_NEW = ", ".join(f"new.{c}" for c in FTS_COLUMNS)
_OLD = ", ".join(f"old.{c}" for c in FTS_COLUMNS)
# (an external-content index forgets a row by being told the values it indexed)
FTS_TRIGGERS = {
    "events_fts_insert": f"""CREATE TRIGGER IF NOT EXISTS events_fts_insert AFTER INSERT ON effective_events
BEGIN
    INSERT INTO events_fts (rowid, {_COLUMNS}) VALUES (new.seq, {_NEW});
END""",
    "events_fts_delete": f"""CREATE TRIGGER IF NOT EXISTS events_fts_delete AFTER DELETE ON effective_events
BEGIN
    INSERT INTO events_fts (events_fts, rowid, {_COLUMNS}) VALUES ('delete', old.seq, {_OLD});
END""",
    "events_fts_update": f"""CREATE TRIGGER IF NOT EXISTS events_fts_update AFTER UPDATE ON effective_events
BEGIN
    INSERT INTO events_fts (events_fts, rowid, {_COLUMNS}) VALUES ('delete', old.seq, {_OLD});
    INSERT INTO events_fts (rowid, {_COLUMNS}) VALUES (new.seq, {_NEW});
END""",
}


def ensure_search(conn: sqlite3.Connection) -> bool:
    """Create the search index and its triggers if they are missing, filling the index.

    Returns True when the index had to be (re)built: the first time, or after the replay
    engine replaced `effective_events` (which drops the triggers with the old table).
    """
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'effective_events'").fetchone():
        return False
    triggers = {
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'effective_events'")
    }
    if set(FTS_TRIGGERS) <= triggers:
        return False
    schema = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events_fts'").fetchone()
    if schema and "content" not in schema[0]:  # an index from before it read effective_events
        conn.execute("DROP TABLE events_fts")
    conn.execute(FTS_SCHEMA)
    for sql in FTS_TRIGGERS.values():
        conn.execute(sql)
    conn.execute("INSERT INTO events_fts (events_fts) VALUES ('rebuild')")
    return True

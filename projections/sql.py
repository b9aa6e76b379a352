"""SQL the projection modules build their questions from: the time bounds and the key filter.

Each projection module declares its own as-of / known-at SQL (see `projections.protocol`):
the text Datasette runs as the module's canned query, and the variant the command line
runs. The pieces every one of them shares live here, in the lowest layer that writes SQL,
so that a module can build its SQL without importing the tracker (which imports it).

Every text takes its parameters as people type them: `:as_of` and `:known_at` (a blank
value means "no bound"; a partial date means the end of its period; a date for
`:known_at` means the end of that day, UTC) and the key, named as the projection's
`KEY_COLUMN` (`:project`, `:country`; blank = every key).
"""

from __future__ import annotations

#: Turns :as_of / :known_at as typed into the exact bounds the history rows are compared with.
BOUNDS = """WITH bounds AS (
  SELECT
    CASE
      WHEN coalesce(:as_of, '') = '' THEN '9999-12-31'
      WHEN length(:as_of) = 4 THEN :as_of || '-12-31'
      WHEN length(:as_of) = 7 THEN date(:as_of || '-01', '+1 month', '-1 day')
      ELSE :as_of
    END AS v,
    CASE
      WHEN coalesce(:known_at, '') = '' THEN '9999-12-31T23:59:59.999999Z'
      WHEN length(:known_at) = 4 THEN :known_at || '-12-31T23:59:59.999999Z'
      WHEN length(:known_at) = 7
        THEN date(:known_at || '-01', '+1 month', '-1 day') || 'T23:59:59.999999Z'
      WHEN length(:known_at) = 10 THEN :known_at || 'T23:59:59.999999Z'
      WHEN :known_at GLOB '????-??-??T??:??:??.??????Z' THEN :known_at
      ELSE strftime('%Y-%m-%dT%H:%M:%S', :known_at) || '.000000Z'
    END AS k
)
"""

#: "In force at V, as the tracker said at T" for a history row h joined with bounds b.
BITEMPORAL = (
    "h.valid_from <= b.v AND (h.valid_to IS NULL OR h.valid_to > b.v)"
    " AND h.known_from <= b.k AND (h.known_to IS NULL OR h.known_to > b.k)"
)


def keyed_or_all(columns: str, table: str, extra_all: str, order: str, key: str = "project") -> str:
    """A UNION ALL of a branch for one key (`:key` given) and one for every key (blank).

    Only one branch yields rows. The keyed one seeks the (key, valid_from, ...) index;
    the other walks an index in the ORDER BY order (filtering on the index alone), so
    SQLite streams rows without sorting and a caller that stops early (Datasette stops
    at max_returned_rows) reads only what it shows. `(blank OR h.key = :key)` in one
    WHERE would defeat both indexes. `extra_all` adds to the every-key branch's WHERE.
    """
    return (
        BOUNDS
        + f"""SELECT {columns}
FROM bounds AS b, {table} AS h
WHERE coalesce(:{key}, '') <> '' AND h.{key} = :{key}
  AND {BITEMPORAL}
UNION ALL
SELECT {columns}
FROM {table} AS h, bounds AS b
WHERE coalesce(:{key}, '') = ''{extra_all}
  AND {BITEMPORAL}
ORDER BY {order}"""
    )


def current(columns: str, table: str, key: str) -> str:
    """Today's rows as known now from a current-state table or view, ordered by the key:
    one key's (`:key` given) or every key's (blank).

    Two branches for the reason `keyed_or_all` gives: the keyed one seeks the key, the
    other reads the table in key order.
    """
    return f"""SELECT {columns} FROM {table} WHERE coalesce(:{key}, '') <> '' AND {key} = :{key}
UNION ALL
SELECT {columns} FROM {table} WHERE coalesce(:{key}, '') = ''
ORDER BY {key}"""

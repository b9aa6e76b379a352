"""Serving the tracker with Datasette: its metadata, settings, plugin and limits.

`datasette_for` builds the Datasette instance `tracker serve` runs and the tests drive;
the objects a database needs first are tracker.publish.schema's, and `tracker build`
is tracker.publish.build's.
"""

from __future__ import annotations

import copy
import os
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml


from tracker.publish.schema import DB_NAME

# --- SQL --------------------------------------------------------------------------------
#
# Each projection's canned query is its module's own SQL (CANNED_QUERY, which the command
# line shares): plain SQL taking :as_of and :known_at as people type them, blank meaning no
# bound, so `datasette publish` serves it without this package.

#: Projects by status on the dashboard, as of the dashboard's date filter; blank, from the
#: `projects` view (a partial index of the current rows by status: every live row of a
#: million events' history took 180-230 ms).
PROJECTS_BY_STATUS = """SELECT status, count(*) AS projects FROM projects
WHERE coalesce(:as_of, '') = ''
GROUP BY status
UNION ALL
SELECT h.status, count(*) AS projects
FROM project_status_history h
WHERE coalesce(:as_of, '') <> '' AND h.known_to IS NULL AND h.valid_from <= :as_of
  AND (h.valid_to IS NULL OR h.valid_to > :as_of)
GROUP BY h.status"""

# --- metadata ---------------------------------------------------------------------------


def metadata_text() -> str:
    """metadata.yml as shipped: the repo root file in a source checkout, else package data.

    The checkout is tried first because an editable install holds a copy taken at install time.
    """
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "metadata.yml").is_file():
        return (checkout / "metadata.yml").read_text(encoding="utf-8")
    return (files("tracker") / "metadata.yml").read_text(encoding="utf-8")


def projection_tables() -> dict[str, dict[str, Any]]:
    """Datasette's metadata for every registered projection's tables (their DATASETTE_TABLES)."""
    import projections

    return {
        name: copy.deepcopy(dict(entry))
        for p in projections.PROJECTIONS
        for name, entry in p.DATASETTE_TABLES.items()
    }


def projection_queries() -> dict[str, dict[str, Any]]:
    """Every registered projection's canned query (its CANNED_QUERY), as Datasette's metadata."""
    import projections

    return {p.CANNED_QUERY.name: p.CANNED_QUERY.metadata() for p in projections.PROJECTIONS}


def _placed(entries: dict[str, Any] | None, declared: dict[str, Any], what: str) -> dict[str, Any]:
    """metadata.yml's `entries` with the projections' `declared` ones put in: each in the place
    an empty entry of its name keeps, or else after the others. An empty entry no registered
    projection fills is left out; a projection's entry metadata.yml also writes out is an error
    (the module is the one place it is described)."""
    placed: dict[str, Any] = {}
    for name, entry in (entries or {}).items():
        if entry is None:
            if name in declared:
                placed[name] = declared[name]
        elif name in declared:
            raise ValueError(f"metadata.yml describes the {what} {name!r}, which its projection module declares")
        else:
            placed[name] = entry
    placed.update((name, entry) for name, entry in declared.items() if name not in placed)
    return placed


#: Tables a reader has no use for in the listings: the projections' bitemporal histories
#: and checkpoints (the "on a date" questions and the reader's pages read them) and the
#: replay engine's bookkeeping. Hidden, not removed: each still answers at its URL, and a
#: projection module describes its own (metadata.yml only keeps their places).
INTERNAL_TABLES = (
    "project_status_history", "country_tallies_history", "country_tallies_checkpoints",
    "summit_timeline_history", "figure_history", "former_keys", "sum_reported_cells",
    "sum_reported_versions", "event_days", "replay_state", "replay_head",
    "publish_meta", "events_fts",
)


def load_metadata(db_name: str = DB_NAME) -> dict[str, Any]:
    """The Datasette metadata, with the projections' tables and canned queries filled in,
    for a database served as `db_name`."""
    metadata = yaml.safe_load(metadata_text())
    database = metadata["databases"][DB_NAME]
    database["tables"] = _placed(database.get("tables"), projection_tables(), "table")
    database["queries"] = _placed(database.get("queries"), projection_queries(), "canned query")
    for name in INTERNAL_TABLES:
        if name in database["tables"]:
            database["tables"][name] = {**database["tables"][name], "hidden": True}
    from projections import country_tallies

    # the SQL metadata.yml's charts name, written here (projects by status) or by a
    # projection (its own as-of question: countries involved, events by country)
    placed = {"PROJECTS_BY_STATUS": PROJECTS_BY_STATUS, "COUNTRY_TALLIES_AS_OF": country_tallies.AS_OF_SQL}
    for chart in metadata["plugins"]["datasette-dashboards"]["ksilkroad"]["charts"].values():
        for name, sql in placed.items():
            chart["query"] = chart["query"].replace(name, sql)
    from tracker.publish.reported_sql import add_reported_by

    add_reported_by(metadata, DB_NAME)  # reported_by, answered by the plugin's SQL function
    if db_name != DB_NAME:
        metadata = _rename_database(metadata, db_name)
    return metadata


def _rename_database(metadata: dict[str, Any], db_name: str) -> dict[str, Any]:
    """The same metadata for a database file not called tracker.db (its URLs follow its name)."""
    import json

    text = json.dumps(metadata)
    text = text.replace(f"/{DB_NAME}/", f"/{db_name}/").replace(f'"db": "{DB_NAME}"', f'"db": {json.dumps(db_name)}')
    renamed = json.loads(text)
    renamed["databases"] = {db_name: renamed["databases"].pop(DB_NAME)}
    return renamed


def write_metadata(path: Path, db_name: str = DB_NAME) -> None:
    path.write_text(
        "# Generated by `tracker build` from the tracker's metadata.yml: pass it to datasette -m.\n"
        + yaml.safe_dump(load_metadata(db_name), sort_keys=False, allow_unicode=True, width=100),
        encoding="utf-8",
    )


# --- serving ------------------------------------------------------------------------------

#: Datasette settings for the tracker: read-only pages with a time limit, explicit facets only
#: (suggested facets cost most of a table page's time at a million rows), and bounds on what
#: one request may ask for. They apply to a published snapshot too (`tracker build` prints
#: them); `tracker serve` adds the limits of tracker.publish.limits on top.
SETTINGS = {
    "sql_time_limit_ms": 3000,
    "facet_time_limit_ms": 200,  # a facet too slow for a huge table is skipped, not waited for
    "suggest_facets": False,
    "default_page_size": 50,
    "max_returned_rows": 1000,  # drawing 5,000 rows of HTML took ~0.5 s; narrow the query instead
    "allow_download": False,
    "num_sql_threads": 3,  # SQL a person wrote may hold all but one of them (tracker serve)
    "max_csv_mb": 16,  # a CSV stops, with a note, past 16 MB
    "truncate_cells_html": 2048,  # a long cell is cut on an HTML page (JSON and CSV keep it)
}


#: Plugins that change the configuration Datasette hands them (datasette-dashboards fills
#: each chart's query with the request's filters).
MUTATES_ITS_CONFIG = frozenset({"datasette-dashboards"})


def _datasette_class():
    """Datasette, looking each plugin's configuration up once per database and table, and
    serving through the site's limits (tracker.publish.limits).

    Plugins with a render_cell hook (datasette-render-markdown, installed with the
    dashboards) ask for their configuration for every cell drawn; Datasette merges the
    metadata afresh each time, which was a quarter of the time of a 1,000-row page. The
    metadata is fixed for the life of the instance, so the answer can be kept. The
    dashboards plugin rewrites its charts' queries in place for each request (dropping or
    keeping the `[[ ... ]]` date clauses), so it is handed a copy of the kept answer: one
    visit must never change what the next one gets. Likewise a table's `allow` rules:
    Datasette 0.65.5 finds them by copying the whole metadata for every table it checks,
    which on the home page (every table checked) took 150 ms at a million events.
    """
    from datasette.app import Datasette

    from tracker.publish import limits

    class TrackerDatasette(Datasette):
        def plugin_config(self, plugin_name, database=None, table=None, fallback=True):
            key = (plugin_name, database, table, fallback)
            cache = self.__dict__.setdefault("_plugin_config_cache", {})
            if key not in cache:
                cache[key] = super().plugin_config(plugin_name, database=database, table=table, fallback=fallback)
            if plugin_name in MUTATES_ITS_CONFIG:
                return copy.deepcopy(cache[key])
            return cache[key]

        def _table_permission_allows(self, database, table):
            key = (database, table)
            cache = self.__dict__.setdefault("_table_allows_cache", {})
            if key not in cache:
                cache[key] = super()._table_permission_allows(database, table)
            return cache[key]

        def trusted_sql(self) -> set[str]:
            """The SQL texts the site itself sends to `?sql=` (the dashboard's charts)."""
            if "_trusted_sql" not in self.__dict__:
                self._trusted_sql = limits.dashboard_queries(self.metadata() or {})
            return self._trusted_sql

        def app(self):
            # Read-only, responses bounded, SQL a person wrote marked for the stricter limits.
            return limits.guard(super().app(), self.trusted_sql)

    return TrackerDatasette


def ensure_plugin() -> None:
    """Register the tracker's plugin with Datasette unless its entry point already has
    (a checkout not reinstalled since the entry point was declared): once, either way."""
    from datasette.plugins import pm

    from tracker.publish import plugin

    if not pm.is_registered(plugin) and pm.get_plugin(plugin.PLUGIN_NAME) is None:
        pm.register(plugin, name=plugin.PLUGIN_NAME)


def datasette_for(path: str | os.PathLike, *, immutable: bool = False, live: bool = True):
    """A Datasette instance serving `path` as `tracker`, with the metadata, plugins and limits.

    The tracker's own plugin (tracker.publish.plugin: links, scripts, feeds) is the one
    its entry point loads wherever the package is installed, as for a snapshot served by
    plain `datasette`; it is registered here only when that has not happened. `live` keeps
    the search index current while other processes append to the log (not for an
    immutable file). The limits of tracker.publish.limits apply either way.
    """
    from tracker.publish import limits, plugin

    ensure_plugin()
    limits.quiet_error_pages()
    ds = _datasette_class()([], metadata=load_metadata(), settings=SETTINGS)
    if live and not immutable:
        ds.tracker_freshness = plugin.Freshness(str(path))
    ds.add_database(limits.TrackerDatabase(ds, path=str(path), is_mutable=not immutable), name=DB_NAME)
    if "_memory" in ds.databases:  # Datasette adds an empty one when it is given no files
        ds.remove_database("_memory")
    return ds


def datasette_settings() -> str:
    """SETTINGS as `datasette` options."""
    return " ".join(
        f"--setting {name} {'on' if value is True else 'off' if value is False else value}"
        for name, value in SETTINGS.items()
    )


def datasette_command(db: str | os.PathLike, metadata: str | os.PathLike) -> str:
    """The `datasette` command that serves a built snapshot with the tracker's settings."""
    import shlex

    return f"datasette -i {shlex.quote(str(db))} -m {shlex.quote(str(metadata))} {datasette_settings()}"

"""A projection is one module: every registered one keeps the protocol, and a module the
tracker has never seen, once registered, is replayed, asked, shown and published like the rest."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import types

import orjson
import pytest
from typer.testing import CliRunner

import projections
from projections import protocol
from tests import extra_projection
from tests.replay_fixtures import at, correction, event, full_digests, digests, log, retraction
from tracker.cli.main import cli_app
from tracker.log.bundled import record_path
from tracker.log.importing import read_jsonl
from tracker.log.store import EventStore
from tracker.replay import queries
from tracker.replay.engine import catch_up
from tracker.replay.tables import ENGINE_SCHEMA

#: Every projection the tracker ships, and one it does not.
MODULES = [*projections.PROJECTIONS, extra_projection]


#: Columns published without a description, left so that the metadata stays as it was.
UNDESCRIBED = {("summit_timeline_history", "occurred_end")}


def by_name(module) -> str:
    return module.NAME


def parameters(sql: str) -> set[str]:
    """The named parameters of an SQL text (string literals such as '23:59:59' left out)."""
    return set(re.findall(r"(?<![\w:]):([A-Za-z_]\w*)", re.sub(r"'[^']*'", "''", sql)))


def created(schema: str) -> dict[str, str]:
    """name → TABLE / VIEW / INDEX for every object a SCHEMA creates."""
    return {name: kind.upper() for kind, name in re.findall(r"CREATE\s+(TABLE|VIEW|INDEX)\s+(\w+)", schema, re.I)}


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The bundled record, replayed with the extra projection registered too (and then not)."""
    path = tmp_path_factory.mktemp("modules") / "tracker.db"
    with projections.registered(extra_projection), EventStore(path) as store:
        store.append(read_jsonl(record_path()))
        catch_up(store)
    conn = sqlite3.connect(path)
    yield conn
    conn.close()


@pytest.fixture
def extra():
    """The extra projection registered for one test, and the registry as it was afterwards."""
    before = projections.PROJECTIONS
    with projections.registered(extra_projection):
        assert projections.PROJECTIONS == (*before, extra_projection)
        yield extra_projection
    assert projections.PROJECTIONS == before


# --- the contract, for every projection -----------------------------------------------------


@pytest.mark.parametrize("module", MODULES, ids=by_name)
def test_the_module_satisfies_its_shapes_protocol(module):
    assert protocol.problems(module) == []
    assert isinstance(module, protocol.Projection)
    assert isinstance(module, protocol.SHAPES[module.SHAPE])
    assert isinstance(module.COMMAND, protocol.Command) and isinstance(module.CANNED_QUERY, protocol.CannedQuery)


@pytest.mark.parametrize("module", MODULES, ids=by_name)
def test_the_schema_creates_the_history_and_every_table_the_module_names(module):
    conn = sqlite3.connect(":memory:")
    conn.executescript(ENGINE_SCHEMA)
    conn.executescript(module.SCHEMA)
    objects = created(module.SCHEMA)
    assert objects[module.HISTORY] == "TABLE"
    if module.SHAPE == "state":
        assert columns(conn, module.HISTORY) == [*module.ROW_COLUMNS, "known_from", "known_to"]
        assert module.ROW_COLUMNS[:2] == ("valid_from", "valid_to") and module.KEY_COLUMN in module.ROW_COLUMNS
    else:
        assert objects[module.CHECKPOINTS] == "TABLE" and objects[module.NAME] == "TABLE"
        assert columns(conn, module.NAME) == [module.KEY_COLUMN, *module.TOTAL_COLUMNS]
        assert set(module.TOTAL_COLUMNS) <= set(columns(conn, module.CHECKPOINTS))
        assert set(module.CONTRIBUTION_COLUMNS) <= set(columns(conn, module.HISTORY))
        # the reported axis's fast path (tracker.replay.reported_sums) reads these
        assert "reported" in columns(conn, module.HISTORY)
        assert objects[f"{module.HISTORY}_reported"] == objects[f"{module.HISTORY}_advance"] == "INDEX"
    assert module.KEY_COLUMN in columns(conn, module.HISTORY)
    assert module.RUN_INDEXES <= {name for name, kind in objects.items() if kind == "INDEX"}
    # every table and view it makes is described, every column of it too
    shown = {name for name, kind in objects.items() if kind != "INDEX"}
    assert set(module.DATASETTE_TABLES) == shown
    for table, entry in module.DATASETTE_TABLES.items():
        assert entry["title"] and entry["description"], table
        assert set(entry["columns"]) == {c for c in columns(conn, table) if (table, c) not in UNDESCRIBED}, table
        assert all(entry["columns"].values()), table
    for view, key in module.MATERIALIZE.items():
        assert objects[view] == "VIEW" and (key is None or key in columns(conn, view))
    for table, cols, where in module.PUBLISH_INDEXES:
        assert set(cols) <= set(columns(conn, table))
        if where:
            conn.execute(f"SELECT 1 FROM {table} WHERE {where}")
    for table, keys in module.FOREIGN_KEYS.items():
        for column, parent, key in keys:
            assert column in columns(conn, table), (table, column)
            assert parent in {"countries", *created(ENGINE_SCHEMA), *(n for m in MODULES for n in created(m.SCHEMA))}


@pytest.mark.parametrize("module", MODULES, ids=by_name)
def test_the_command_is_declared_in_full(module):
    command = module.COMMAND
    assert re.fullmatch(r"[a-z][a-z-]*", command.name)
    assert command.help.strip().split("\n")[0].endswith(".")
    assert command.key_help.endswith(".")
    assert (command.key_metavar is None) != (command.key_option is None)
    assert command.key_names in (None, "project", "country", "metric")
    assert command.columns and set(command.event_days) <= set(command.columns)
    assert not command.event_days or "event" in command.columns
    assert all(command.noun)
    if command.one:
        assert "{key}" in command.missing and "{when}" in command.missing


@pytest.mark.parametrize("module", MODULES, ids=by_name)
def test_the_sql_takes_the_time_bounds_and_the_key_and_nothing_else(module):
    expected = {"as_of", "known_at", module.KEY_COLUMN}
    assert set(module.CANNED_QUERY.parameters) == expected
    assert parameters(module.CANNED_QUERY.sql) == expected
    assert parameters(module.AS_OF_SQL) == expected
    assert parameters(module.NOW_SQL) <= expected and module.KEY_COLUMN in parameters(module.NOW_SQL)
    assert re.fullmatch(r"[a-z_]+", module.CANNED_QUERY.name)


def test_names_commands_and_pages_are_each_projections_own():
    for attribute in (lambda m: m.NAME, lambda m: m.COMMAND.name, lambda m: m.CANNED_QUERY.name):
        names = [attribute(m) for m in MODULES]
        assert len(set(names)) == len(names)
    tables = [name for m in MODULES for name in created(m.SCHEMA)]
    assert len(set(tables)) == len(tables)


@pytest.mark.parametrize("module", MODULES, ids=by_name)
def test_the_sql_runs_on_a_replayed_database_and_now_agrees_with_as_of_with_no_bounds(module, bundled):
    def ask(sql, key="", **bounds):
        params = {"as_of": "", "known_at": "", module.KEY_COLUMN: key, **bounds}
        cursor = bundled.execute(sql, params)
        return [dict(zip([d[0] for d in cursor.description], row)) for row in cursor]

    now = ask(module.NOW_SQL, as_of=None, known_at=None)
    assert now, "the bundled record gives every projection rows"
    assert now == ask(module.AS_OF_SQL)
    assert set(module.COMMAND.columns) <= set(now[0]) | set(module.COMMAND.derived)
    canned = ask(module.CANNED_QUERY.sql)
    assert canned and all(row in now for row in canned)
    key = now[-1][module.KEY_COLUMN]
    one = ask(module.AS_OF_SQL, key)
    assert one == [row for row in now if row[module.KEY_COLUMN] == key]
    assert ask(module.NOW_SQL, key, as_of=None, known_at=None) == one
    assert ask(module.AS_OF_SQL, as_of="1900") == []
    assert ask(module.AS_OF_SQL, known_at="1900-01-01") == []


@pytest.mark.parametrize("module", [m for m in MODULES if m.SHAPE == "sum"], ids=by_name)
def test_a_sums_count_and_latest_columns_are_what_add_keeps(module):
    assert module.COUNT_COLUMN in module.TOTAL_COLUMNS and module.LATEST_COLUMN in module.TOTAL_COLUMNS
    count = module.TOTAL_COLUMNS.index(module.COUNT_COLUMN)
    latest = module.TOTAL_COLUMNS.index(module.LATEST_COLUMN)
    total = module.empty()
    assert len(total) == len(module.TOTAL_COLUMNS) and total[count] == 0 and total[latest] is None
    events = [event("signing", "s1", "2024-03-01", at("2024-03-02")),
              event("visit", "v1", "2024-01-05", at("2024-03-02"))]
    for e in events:
        for key, values in module.contributions({**e, "occurred_start": e["occurred"], "occurred_end": e["occurred"]}):
            if key == "KZ":
                module.add(total, values, e["occurred"])
    assert total[count] == 2 and total[latest] == "2024-03-01"


# --- registering a module -------------------------------------------------------------------


def test_registering_refuses_a_module_that_is_not_a_projection_and_names_what_it_lacks():
    broken = types.ModuleType("broken")
    for name in dir(extra_projection):
        if not name.startswith("_"):
            setattr(broken, name, getattr(extra_projection, name))
    broken.VERSION = "1"
    del broken.COMMAND
    with pytest.raises(TypeError, match="no COMMAND") as refused:
        projections.register(broken)
    assert "VERSION must be" in str(refused.value)
    assert broken not in projections.PROJECTIONS
    assert protocol.problems(types.ModuleType("empty")) == ["empty: SHAPE must be one of ['state', 'sum'], not None"]


def test_a_command_may_only_derive_columns_its_table_shows_and_check_keys_it_knows():
    import dataclasses

    odd = types.ModuleType("odd")
    for name in dir(extra_projection):
        if not name.startswith("_"):
            setattr(odd, name, getattr(extra_projection, name))
    odd.COMMAND = dataclasses.replace(extra_projection.COMMAND, derived={"wordy": str, "kind": "not a function"},
                                      key_names="colour")
    found = protocol.problems(odd)
    assert "odd: COMMAND.derived makes 'wordy', which COMMAND.columns does not show" in found
    assert "odd: COMMAND.derived['kind'] must be a function of the row" in found
    assert any(p.startswith("odd: COMMAND.key_names must be one of") for p in found)


def test_registering_refuses_a_module_whose_names_are_taken():
    twin = types.ModuleType("twin")
    for name in dir(projections.project_status):
        if not name.startswith("_"):
            setattr(twin, name, getattr(projections.project_status, name))
    with pytest.raises(ValueError, match="NAME 'project_status'.*table 'project_status_history'"):
        projections.register(twin)
    assert twin not in projections.PROJECTIONS


def test_the_engine_replays_the_state_projections_before_the_sums():
    from tracker.replay.tables import projections as engine_order

    with projections.registered(extra_projection):
        shapes = [p.SHAPE for p in engine_order()]
        assert shapes == sorted(shapes, key=lambda shape: shape == "sum")
        assert extra_projection in engine_order()
    assert extra_projection not in engine_order()


# --- a module from outside projections/, registered -----------------------------------------

VISITS = [
    event("visit", "v1", "2024-01-10", at("2024-01-11")),
    event("visit", "v2", "2024-02-10", at("2024-02-11")),
    event("mou", "m1", "2024-02-10", at("2024-02-11", 1)),
    event("visit", "v3", "2024-02-10", at("2024-02-12")),
]


def counts(rows) -> dict[str, int]:
    return {row["kind"]: row["events"] for row in rows}


def test_a_registered_projection_is_replayed_with_both_time_axes(extra, store):
    log(store, *VISITS)
    conn = store.conn
    assert conn.execute("SELECT count(*) FROM kind_counts_history").fetchone()[0] > 0
    assert counts(queries.answer(conn, extra)) == {"visit": 3, "mou": 1}
    assert counts(queries.kind_counts(conn, as_of="2024-01")) == {"visit": 1}
    log(store, retraction("r1", "v2", at("2024-03-01")), correction("c1", "v3", at("2024-03-02"), occurred="2023-12-01"))
    assert counts(queries.answer(conn, extra)) == {"visit": 2, "mou": 1}
    assert counts(queries.answer(conn, extra, as_of="2024-01-01")) == {"visit": 1}
    assert counts(queries.answer(conn, extra, "visit", known_at=at("2024-02-28"))) == {"visit": 3}
    assert queries.answer(conn, extra, "visit", as_of="2024-01-31", known_at=at("2024-02-28"))[0]["event"] == "v1"
    # catch-up, a full replay with its short cuts (KEY_SQL) and one without agree
    caught_up = digests(store)
    assert "kind_counts_history" in caught_up
    assert full_digests(store) == caught_up == full_digests(store, shortcuts=False)


def test_a_registered_projection_has_its_command(extra, db):
    with EventStore(db) as store:
        log(store, *VISITS)
    runner = CliRunner()

    def tracker(*args):
        return runner.invoke(cli_app(), ["--db", str(db), *args])

    listing = tracker("--help")
    assert listing.exit_code == 0 and "kind-counts" in listing.stdout
    assert listing.stdout.index("timeline") < listing.stdout.index("kind-counts") < listing.stdout.index("replay")
    helped = tracker("kind-counts", "--help")
    assert helped.exit_code == 0 and "Events per kind" in helped.stdout and "--as-of" in helped.stdout
    everything = tracker("kind-counts", "--json")
    assert everything.exit_code == 0, everything.output
    assert counts(orjson.loads(everything.stdout)) == {"mou": 1, "visit": 3}
    one = tracker("kind-counts", "visit", "--as-of", "2024-01", "--json")
    assert orjson.loads(one.stdout) == {"kind": "visit", "events": 1, "event": "v1"}
    table = tracker("kind-counts", "--as-of", "2024-01-31")
    assert table.exit_code == 0 and table.stdout.splitlines() == ["kind\tevents\tevent", "visit\t1\tv1"]
    missing = tracker("kind-counts", "summit")
    assert missing.exit_code == 2 and missing.stderr == "Error: no events of kind 'summit'\n"
    only = runner.invoke(cli_app(["kind-counts"]), ["--db", str(db), "kind-counts", "mou", "--json"])
    assert orjson.loads(only.stdout)["events"] == 1


def test_a_registered_projection_is_published_with_its_page(extra, tmp_path):
    from tracker.publish.build import build
    from tracker.publish.site import datasette_for, load_metadata

    metadata = load_metadata()["databases"]["tracker"]
    from tracker.publish.reported_sql import with_reported_by

    # its own SQL, taken when reported_by is blank, beside the reported_by branch
    assert metadata["queries"]["kind_counts_on"]["sql"] == with_reported_by(extra)
    assert extra.AS_OF_SQL in metadata["queries"]["kind_counts_on"]["sql"]
    assert metadata["queries"]["kind_counts_on"]["title"] == "Events per kind on a date"
    assert list(metadata["queries"])[-1] == "kind_counts_on"  # no place kept for it: after the others
    assert metadata["tables"]["kind_counts"]["columns"]["events"] == "How many there are."
    with EventStore(tmp_path / "tracker.db") as store:
        log(store, *VISITS)
    out = tmp_path / "site.db"
    build(tmp_path / "tracker.db", out)
    built = sqlite3.connect(out)
    assert built.execute("SELECT type FROM sqlite_master WHERE name = 'kind_counts'").fetchone() == ("table",)
    links = {(r[3], r[2]) for r in built.execute("PRAGMA foreign_key_list(kind_counts)")}
    assert ("event", "effective_events") in links
    index = "publish_kind_counts_history_kind_current"
    assert built.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (index,)).fetchone()

    ds = datasette_for(out, immutable=True, live=False)

    async def page(path):
        await ds.invoke_startup()
        return await ds.client.get(path)

    answer = asyncio.run(page("/tracker/kind_counts_on.json?_shape=array&as_of=2024-01&known_at=&kind="))
    assert answer.status_code == 200 and answer.json() == [{"kind": "visit", "events": 1, "event": "v1"}]


def test_once_unregistered_a_projection_is_nowhere(extra):
    from tracker.publish.site import load_metadata

    projections.unregister(extra)
    try:
        assert "kind-counts" not in CliRunner().invoke(cli_app(), ["--help"]).stdout
        assert "kind_counts_on" not in load_metadata()["databases"]["tracker"]["queries"]
        assert "kind_counts_on" not in queries.canned()
        with pytest.raises(AttributeError):
            queries.kind_counts  # noqa: B018
    finally:
        projections.register(extra)

"""Small hand-written logs for the replay tests: events with explicit dates and recorded_at."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from events.models import MODELS, WORLD_KINDS
from tests.conftest import example
from tracker.log.store import EventStore
from tracker.replay import queries
from tracker.replay.listing import effective_events
from tracker.replay.checks import table_digest
from tracker.replay.engine import catch_up, replay
from tracker.replay.tables import derived_tables


def at(day: str, n: int = 0) -> str:
    """A recorded_at stamp on `day` (YYYY-MM-DD), `n` seconds after midnight."""
    return f"{day}T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000000Z"


def event(kind: str, id: str, occurred: str, recorded: str, **fields) -> dict[str, Any]:
    base = example(kind, id=id, occurred=occurred, **fields)
    if kind != "summit" and "project" not in fields and kind != "milestone":
        base["project"] = None
    return {**base, "recorded_at": recorded}


def correction(id: str, target: str, recorded: str, **changes) -> dict[str, Any]:
    return {"kind": "correction", "id": id, "target": target, "changes": changes,
            "reason": "A better source.", "recorded_at": recorded}


def retraction(id: str, target: str, recorded: str) -> dict[str, Any]:
    return {"kind": "retraction", "id": id, "target": target, "reason": "Not so.", "recorded_at": recorded}


def log(store, *events: dict[str, Any]) -> None:
    """Append and catch up, as a write command does."""
    store.append(list(events))
    catch_up(store)


@contextmanager
def logged_store(items) -> Iterator[EventStore]:
    """A store in a scratch folder holding `items` logged one by one, each caught up,
    those the log refuses (e.g. a correction of a retracted event) left out, as a
    generated log may hold them."""
    with tempfile.TemporaryDirectory() as tmp, EventStore(Path(tmp) / "t.db") as store:
        for item in items:
            try:
                log(store, item)
            except Exception:  # an amendment the log refuses
                continue
        yield store


def status_of(store, project: str, as_of=None, known_at=None) -> str | None:
    rows = queries.project_status(store.conn, project, as_of=as_of, known_at=known_at)
    return rows[0]["status"] if rows else None


def digests(store) -> dict[str, tuple[int, str]]:
    return {table: table_digest(store.conn, table) for table in derived_tables()}


def full_digests(store, shortcuts: bool = True) -> dict[str, tuple[int, str]]:
    replay(store, full=True, shortcuts=shortcuts)
    return digests(store)


# Reference folds: written independently of projections/, straight from DESIGN §4-§6.

def reference_status(events, on: str | None = None) -> dict[str, dict[str, Any]]:
    """Project status and schedule (DESIGN §6): the planned date the latest event in world
    order gives; `rescheduled`, how many times a planned date's last day came after the last
    day of the one before; `overdue` on the day `on` (today, UTC, when None): the planned
    date's last day is before it and the status is not completed or cancelled."""
    import datetime as dt

    from events.dates import last_day_of

    projects: dict[str, dict[str, Any]] = {}
    for e in events:
        r = e.record
        if not r.get("project"):
            continue
        p = projects.get(r["project"])
        new = r.get("status") or MODELS[r["kind"]].default_status or (p and p["status"]) or "proposed"
        if p is None:
            p = projects[r["project"]] = {"project": r["project"], "name": None, "status": None,
                                          "planned_for": None, "first_planned_for": None, "rescheduled": 0}
        if new != p["status"]:
            p.update(status=new, since=e.sort_key[0], event=r["id"])
        if r.get("project_name"):
            p["name"] = r["project_name"]
        planned = r.get("planned_for")
        if planned:
            if p["planned_for"] is None:
                p["first_planned_for"] = planned
            elif last_day_of(planned) > last_day_of(p["planned_for"]):
                p["rescheduled"] += 1
            p["planned_for"] = planned
    day = dt.date.fromisoformat(on) if on else dt.datetime.now(dt.timezone.utc).date()
    for p in projects.values():
        p["overdue"] = int(p["planned_for"] is not None and last_day_of(p["planned_for"]) < day
                           and p["status"] not in ("completed", "cancelled"))
    return projects


def reference_tallies(events) -> dict[str, dict[str, Any]]:
    tallies: dict[str, dict[str, Any]] = {}
    for e in events:
        r = e.record
        for c in r["countries"]:
            t = tallies.setdefault(c, defaultdict(int, order_value_usd=0.0, last_event_on=None))
            t["events"] += 1
            t[MODELS[r["kind"]].plural] += 1
            if r["kind"] == "signing":
                t["agreements"] += r.get("agreement_count", 1)
            if r["kind"] == "mou":
                t["agreements"] += 1
            if r["kind"] == "visit":
                t["visits_hosted"] += r["host_country"] == c
                t["visits_made"] += r["visitor_country"] == c
            if r["kind"] == "order" and (r.get("value") or {}).get("currency") == "USD":
                t["order_value_usd"] += float(r["value"]["amount"])
            t["last_event_on"] = max(t["last_event_on"] or "", e.sort_key[0])
    return {c: {k: t[k] for k in ("events", *(MODELS[k].plural for k in WORLD_KINDS), "agreements",
                                   "visits_hosted", "visits_made", "order_value_usd", "last_event_on")}
            for c, t in tallies.items()}


def reference_timeline(events) -> list[tuple]:
    summit_projects = {e.record["project"] for e in events if e.record["kind"] == "summit"}
    statuses: dict[str, str] = {}
    rows = []
    for e in events:
        r = e.record
        project = r.get("project")
        if not project:
            continue
        statuses[project] = r.get("status") or MODELS[r["kind"]].default_status or statuses.get(project) or "proposed"
        if project in summit_projects:
            rows.append((e.sort_key[0], project, statuses[project], r["id"]))
    return sorted(rows, key=lambda row: row[0])  # stable: world order within a day


def reference_figures(events) -> dict[tuple, dict[str, Any]]:
    """Figures as DESIGN §6 has them: a series per (metric, countries as a set, period); every
    value of it listed, earliest published first; the headline the most recently published
    (a value is published on its earliest source's date, a partial date at the end of its
    period; a tie goes to the later event in world order); `disagree` when the values'
    amounts or units are not all the same."""
    from events.dates import last_day_of

    series: dict[tuple, list] = {}
    for e in events:
        r = e.record
        if r["kind"] != "figure":
            continue
        first = min(r["sources"], key=lambda s: last_day_of(s["published"]))  # the first listed of equals
        key = (r["metric"], tuple(sorted(r["countries"])), r.get("period"))
        series.setdefault(key, []).append(((last_day_of(first["published"]), e.sort_key), r, first))
    found = {}
    for key, values in series.items():
        values.sort(key=lambda v: v[0])
        _, latest, source = values[-1]
        found[key] = {
            "amount": latest["amount"], "unit": latest["unit"], "reported": source["published"],
            "event": latest["id"], "disagree": len({(r["amount"], r["unit"]) for _, r, _ in values}) > 1,
            "values": [(r["amount"], r["unit"], s["published"], s["publisher"], r["id"]) for _, r, s in values],
        }
    return found


def figures_from_tables(store, as_of=None, known_at=None, key=None) -> dict[tuple, dict[str, Any]]:
    """The figures projection's answer (for one metric or series with `key`), keyed as `reference_figures`."""
    import orjson

    return {
        (r["metric"], tuple(r["countries"].split(",")), r["period"]): {
            "amount": r["amount"], "unit": r["unit"], "reported": r["reported"], "event": r["event"],
            "disagree": bool(r["disagree"]),
            "values": [(v["amount"], v["unit"], v["reported"], v["publisher"], v["event"])
                       for v in orjson.loads(r["values"])],
        }
        for r in queries.figures(store.conn, key, as_of=as_of, known_at=known_at)
    }


def reference(store, as_of=None, known_at=None):
    found = list(effective_events(store, as_of=as_of, known_at=known_at))
    return reference_status(found, as_of), reference_tallies(found), reference_timeline(found)


def from_tables(store, as_of=None, known_at=None):
    conn = store.conn
    status = {r["project"]: r for r in queries.project_status(conn, as_of=as_of, known_at=known_at)}
    tallies = {r["country"]: {k: v for k, v in r.items() if k != "country"}
               for r in queries.country_tallies(conn, as_of=as_of, known_at=known_at)}
    timeline = [(r["on"], r["project"], r["status"], r["event"])
                for r in queries.summit_timeline(conn, as_of=as_of, known_at=known_at)]
    return status, tallies, timeline


def assert_matches_reference(store, as_of=None, known_at=None) -> None:
    import math

    from tracker.replay.timeaxes import as_of_day, known_at_stamp

    as_of, known_at = as_of_day(as_of), known_at_stamp(known_at)
    want_status, want_tallies, want_timeline = reference(store, as_of, known_at)
    got_status, got_tallies, got_timeline = from_tables(store, as_of, known_at)
    where = f"as_of={as_of} known_at={known_at}"
    shown = ("name", "status", "since", "event", "planned_for", "first_planned_for", "rescheduled", "overdue")
    assert {p: tuple(r[c] for c in shown) for p, r in got_status.items()} == {
        p: tuple(r[c] for c in shown) for p, r in want_status.items()
    }, where
    for project, want in want_status.items():  # one project's answer is its row of the whole
        one = queries.project_status(store.conn, project, as_of=as_of, known_at=known_at)
        assert [tuple(r[c] for c in shown) for r in one] == [tuple(want[c] for c in shown)], (where, project)
    assert got_tallies.keys() == want_tallies.keys(), where
    for country, want in want_tallies.items():
        got = dict(got_tallies[country])
        assert math.isclose(got.pop("order_value_usd"), want.pop("order_value_usd"), rel_tol=1e-9), where
        assert got == want, (where, country)
        one = queries.country_tallies(store.conn, country, as_of=as_of, known_at=known_at)
        assert [r["events"] for r in one] == [want["events"]], (where, country)
    assert got_timeline == want_timeline, where
    want_figures = reference_figures(effective_events(store, as_of=as_of, known_at=known_at))
    assert figures_from_tables(store, as_of, known_at) == want_figures, where
    for metric in {key[0] for key in want_figures}:
        one = figures_from_tables(store, as_of, known_at, metric)
        assert one == {key: value for key, value in want_figures.items() if key[0] == metric}, (where, metric)
    for (metric, countries, period), want in want_figures.items():
        series = f"{metric}:{','.join(countries)}" + (f":{period}" if period else "")
        assert figures_from_tables(store, as_of, known_at, series) == {(metric, countries, period): want}, where

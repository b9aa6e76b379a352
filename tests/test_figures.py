"""Figures: reported numbers as series, on small hand-written logs and through the command line.

A series is a metric about a set of countries over a period; every value reported for it
stays in view, the most recently published one leads, and `disagree` says when they differ.
Metric names come from a list (events/metrics.py) that a file named by TRACKER_METRICS extends.
"""

from __future__ import annotations

import orjson
import pytest

from events.metrics import ENV, metrics
from projections import figures
from tests.replay_fixtures import (
    assert_matches_reference, at, correction, digests, event, full_digests, log, retraction,
)
from tracker.log.bundled import record_path
from tracker.replay import queries

from .conftest import SOURCE, example, plain, write_jsonl

INVESTMENT = "investment_stock:KR,KZ:2023"


def source(published: str, publisher: str = "Central Asian Light") -> dict:
    return {**SOURCE, "publisher": publisher, "published": published}


def figure(id: str, occurred: str, recorded: str, amount: str, published: str, **fields) -> dict:
    """An investment figure for Korea and Kazakhstan over 2023, unless `fields` say otherwise."""
    fields = {"metric": "investment_stock", "countries": ["KR", "KZ"], "period": "2023", "unit": "USD",
              "sources": [source(published)], **fields}
    return event("figure", id, occurred, recorded, amount=amount, **fields)


def series(store, key: str = INVESTMENT, **bounds) -> dict | None:
    rows = queries.figures(store.conn, key, **bounds)
    assert len(rows) <= 1
    if not rows:
        return None
    row = dict(rows[0])
    row["values"] = orjson.loads(row["values"])
    return row


def amounts(row: dict) -> list[str]:
    return [value["amount"] for value in row["values"]]


# --- series, headline and disagreement ------------------------------------------------------


def test_values_that_agree_are_one_series_that_does_not_disagree(store):
    log(store, figure("f1", "2024-06-12", at("2024-06-13"), "9600000000", "2024-06-12"),
        figure("f2", "2025-01-31", at("2025-02-01"), "9.6e9", "2025-01-31", countries=["KZ", "KR"]))
    row = series(store)
    assert row["series"] == INVESTMENT and row["countries"] == "KR,KZ" and row["period"] == "2023"
    assert row["amount"] == "9600000000" and row["disagree"] == 0
    assert [v["event"] for v in row["values"]] == ["f1", "f2"]
    assert row["event"] == "f2" and row["reported"] == "2025-01-31"
    assert_matches_reference(store)


def test_values_that_differ_disagree_and_the_most_recently_published_leads(store):
    log(store,
        figure("late-news", "2024-06-12", at("2024-06-13"), "9000000000", "2025-01-31"),
        figure("early-news", "2024-12-01", at("2024-12-02"), "9600000000", "2024-06-12"))
    row = series(store)
    assert row["disagree"] == 1
    # published last, though it happened first in world time
    assert (row["amount"], row["event"], row["reported"]) == ("9000000000", "late-news", "2025-01-31")
    assert amounts(row) == ["9600000000", "9000000000"]  # earliest published first
    assert row["values"][0] == {
        "amount": "9600000000", "unit": "USD", "reported": "2024-06-12", "publisher": "Central Asian Light",
        "title": SOURCE["title"], "url": None, "event": "early-news",
    }
    assert_matches_reference(store)


def test_a_different_unit_is_a_disagreement_too(store):
    log(store, figure("f1", "2024-06-12", at("2024-06-13"), "9600", "2024-06-12", unit="USD million"),
        figure("f2", "2024-06-12", at("2024-06-13", 1), "9600", "2024-06-12"))
    assert series(store)["disagree"] == 1


def test_a_partial_publication_date_counts_from_the_end_of_its_period(store):
    log(store, figure("in-2024", "2024-06-12", at("2024-06-13"), "1", "2024"),
        figure("mid-2024", "2024-06-12", at("2024-06-13", 1), "2", "2024-07-01"))
    assert series(store)["event"] == "in-2024"  # "2024" was out by 2024-12-31, after 1 July


def test_a_value_is_published_by_its_earliest_source(store):
    log(store, figure("f1", "2024-06-12", at("2024-06-13"), "1", "2025-01-31",
                      sources=[source("2025-01-31"), source("2024-06-12", "Caspian Policy Center")]),
        figure("f2", "2024-06-12", at("2024-06-13", 1), "2", "2024-09-01"))
    row = series(store)
    assert row["event"] == "f2"
    assert row["values"][0]["reported"] == "2024-06-12" and row["values"][0]["publisher"] == "Caspian Policy Center"


def test_of_values_published_the_same_day_the_later_event_leads(store):
    log(store, figure("second", "2024-06-13", at("2024-06-14"), "2", "2024-06-14"),
        figure("first", "2024-06-12", at("2024-06-14", 1), "1", "2024-06-14"))
    row = series(store)
    assert row["event"] == "second" and amounts(row) == ["1", "2"]


def test_countries_in_any_order_are_one_series_and_another_period_or_country_is_another(store):
    log(store,
        figure("a", "2024-06-12", at("2024-06-13"), "1", "2024-06-12", countries=["KZ", "KR"]),
        figure("b", "2024-06-12", at("2024-06-13", 1), "1", "2024-06-12"),
        figure("c", "2024-06-12", at("2024-06-13", 2), "1", "2024-06-12", period="2024"),
        figure("d", "2024-06-12", at("2024-06-13", 3), "1", "2024-06-12", period=None),
        figure("e", "2024-06-12", at("2024-06-13", 4), "1", "2024-06-12", countries=["KR", "UZ"]),
        figure("f", "2024-06-12", at("2024-06-13", 5), "1", "2024-06-12", metric="bilateral_trade"))
    rows = queries.figures(store.conn)
    assert [r["series"] for r in rows] == [
        "bilateral_trade:KR,KZ:2023", "investment_stock:KR,KZ", "investment_stock:KR,KZ:2023",
        "investment_stock:KR,KZ:2024", "investment_stock:KR,UZ:2023",
    ]
    assert len(series(store)["values"]) == 2
    # a metric gives its series; a series, itself
    assert [r["series"] for r in queries.figures(store.conn, "bilateral_trade")] == ["bilateral_trade:KR,KZ:2023"]
    assert len(queries.figures(store.conn, "investment_stock")) == 4
    assert queries.figures(store.conn, "investment_stock:KR,KZ") == [
        r for r in rows if r["series"] == "investment_stock:KR,KZ"]
    assert queries.figures(store.conn, "joint_ventures") == []
    assert_matches_reference(store)


# --- corrections, retractions and the time axes ------------------------------------------------


def test_a_retracted_value_leaves_the_series_and_the_disagreement_goes_with_it(store):
    log(store, figure("f1", "2024-06-12", at("2024-06-13"), "9600000000", "2024-06-12"),
        figure("f2", "2025-01-31", at("2025-02-01"), "9000000000", "2025-01-31"))
    assert series(store)["disagree"] == 1
    log(store, retraction("r1", "f2", at("2025-03-01")))
    row = series(store)
    assert (row["disagree"], row["amount"], row["event"], amounts(row)) == (0, "9600000000", "f1", ["9600000000"])
    # what the tracker said before the retraction
    before = series(store, known_at=at("2025-02-28"))
    assert before["disagree"] == 1 and before["event"] == "f2"
    for known_at in (None, at("2025-02-28"), at("2024-12-31")):
        assert_matches_reference(store, known_at=known_at)


def test_a_correction_that_moves_a_value_to_another_period_moves_it_to_that_series(store):
    log(store, figure("f1", "2024-06-12", at("2024-06-13"), "9600000000", "2024-06-12"),
        figure("f2", "2025-01-31", at("2025-02-01"), "10400000000", "2025-01-31"))
    assert series(store)["disagree"] == 1
    log(store, correction("c1", "f2", at("2025-03-01"), period="2024"))
    moved = series(store, "investment_stock:KR,KZ:2024")
    assert moved["event"] == "f2" and moved["disagree"] == 0
    row = series(store)
    assert row["event"] == "f1" and row["disagree"] == 0 and amounts(row) == ["9600000000"]
    # known before the correction: one series, disagreeing; the other not there yet
    assert series(store, known_at=at("2025-02-28"))["disagree"] == 1
    assert series(store, "investment_stock:KR,KZ:2024", known_at=at("2025-02-28")) is None
    for known_at in (None, at("2025-02-28")):
        assert_matches_reference(store, known_at=known_at)


def test_a_correction_of_the_amount_settles_a_disagreement(store):
    log(store, figure("f1", "2024-06-12", at("2024-06-13"), "9600000000", "2024-06-12"),
        figure("f2", "2025-01-31", at("2025-02-01"), "96000000000", "2025-01-31"))
    log(store, correction("c1", "f2", at("2025-02-02"), amount="9600000000"))
    assert series(store)["disagree"] == 0
    assert series(store, known_at=at("2025-02-01"))["disagree"] == 1


def test_as_of_shows_the_values_reported_in_the_world_by_then(store):
    log(store, figure("f1", "2024-06-12", at("2025-02-01"), "9600000000", "2024-06-12"),
        figure("f2", "2025-01-31", at("2025-02-01", 1), "9000000000", "2025-01-31"))
    assert series(store, as_of="2024-05") is None
    early = series(store, as_of="2024-12")
    assert early["disagree"] == 0 and early["event"] == "f1"
    assert series(store, as_of="2025")["disagree"] == 1
    assert queries.figures(store.conn, as_of="2024-12", known_at=at("2025-01-31")) == []  # not yet recorded
    for as_of in ("2024-05", "2024-12", "2025"):
        assert_matches_reference(store, as_of=as_of)


def test_catching_up_gives_the_tables_a_full_replay_gives_with_and_without_short_cuts(store):
    log(store, figure("f1", "2024-06-12", at("2024-06-13"), "1", "2024-06-12"))
    log(store, figure("f2", "2025-01-31", at("2025-02-01"), "2", "2025-01-31"),
        figure("f0", "2023-01-01", at("2025-02-01"), "3", "2023-02-01", countries=["KZ", "KR"]))
    log(store, correction("c1", "f1", at("2025-03-01"), period="2024"), retraction("r1", "f0", at("2025-03-01")))
    log(store, correction("c2", "f2", at("2025-04-01"), metric="bilateral_trade", countries=["KR", "UZ"]))
    log(store, retraction("r2", "c1", at("2025-05-01")),
        figure("f3", "2025-06-01", at("2025-06-02"), "2", "2025-06-01"))
    caught_up = digests(store)
    assert caught_up["figure_history"][0] > 0
    assert full_digests(store) == caught_up == full_digests(store, shortcuts=False)
    for known_at in (None, at("2025-03-15"), at("2025-04-15")):
        assert_matches_reference(store, known_at=known_at)


# --- the metric list ---------------------------------------------------------------------------


def test_a_listed_slug_is_what_a_figures_metric_may_be():
    from events import metrics as listing
    from events.models import NAME_MAX, TEXT_MAX, ID_PATTERN

    assert (listing.SLUG_PATTERN, listing.UNIT_MAX, listing.MEANING_MAX) == (ID_PATTERN, NAME_MAX, TEXT_MAX)


def test_every_listed_metric_has_a_unit_and_a_meaning():
    listed = metrics()
    assert {"bilateral_trade", "investment_stock", "remittances", "e9_visa_quota"} <= set(listed)
    for slug, metric in listed.items():
        assert metric.slug == slug and metric.unit and metric.meaning.endswith("."), slug


def test_an_unknown_metric_is_refused_by_tracker_log_naming_the_nearest(cli):
    from .test_cli import as_options

    result = cli("log", "figure", *as_options(example("figure", metric="bilateral_trad")))
    assert result.exit_code == 2
    message = plain(result.stderr).strip()
    assert len(message.splitlines()) == 1
    assert "--metric" in message and "'bilateral_trad' is not a listed metric" in message
    assert "nearest: bilateral_trade" in message and ENV in message
    assert not cli.db.exists() or cli.json("list") == []


def test_an_unknown_metric_is_refused_by_tracker_import_naming_the_line(cli, tmp_path):
    path = tmp_path / "in.jsonl"
    write_jsonl(path, [example("figure"), example("figure", metric="trade_kz_kr")])
    result = cli("import", str(path))
    assert result.exit_code == 2
    message = plain(result.output).strip()
    assert message.startswith(f"Error: {path}: line 2: field 'metric': 'trade_kz_kr' is not a listed metric")
    assert "bilateral_trade" in message and len(message.splitlines()) == 1
    assert cli.json("list") == []


def test_a_correction_to_an_unknown_metric_is_refused(cli):
    from .test_cli import as_options

    logged = cli("log", "figure", *as_options(example("figure"))).stdout.strip()
    result = cli("correct", logged, "--set", "metric=trade", "--reason", "A typo.")
    assert result.exit_code == 2 and "'trade' is not a listed metric" in plain(result.output)


def test_a_file_named_by_tracker_metrics_adds_metrics(cli, tmp_path, monkeypatch):
    from .test_cli import as_options

    listed = tmp_path / "our-metrics.csv"
    listed.write_text("slug,unit,meaning\nstudents_in_korea,students,Students from the other country in Korea.\n")
    monkeypatch.setenv(ENV, str(listed))
    assert "students_in_korea" in metrics() and "bilateral_trade" in metrics()
    event = example("figure", metric="students_in_korea", amount="12000", unit="students")
    result = cli("log", "figure", *as_options(event))
    assert result.exit_code == 0, result.output
    assert cli.json("figures", "students_in_korea")[0]["amount"] == "12000"
    monkeypatch.delenv(ENV)
    assert cli("log", "figure", *as_options({**event, "summary": "Again."})).exit_code == 2


@pytest.mark.parametrize("text, problem", [
    ("slug,unit,meaning\nbilateral_trade,USD,Trade again.\n",
     "line 2: bilateral_trade is already listed in metrics.csv"),
    ("slug,unit,meaning\nStudents,students,Students.\n",
     "line 2: 'Students' is not a slug (lower-case a-z, 0-9, '.', '_', '-')"),
    ("slug,unit,meaning\nstudents,,Students.\n", "line 2: students has no unit"),
    ("metric,unit\nstudents,students\n", "line 1 must be the header slug,unit,meaning"),
])
def test_a_bad_metrics_file_is_named_with_its_line(cli, tmp_path, monkeypatch, text, problem):
    from .test_cli import as_options

    listed = tmp_path / "bad.csv"
    listed.write_text(text)
    monkeypatch.setenv(ENV, str(listed))
    result = cli("log", "figure", *as_options(example("figure")))
    assert result.exit_code == 2
    where = f"{listed} ({ENV}):" if problem.startswith("line 1 ") else f"{listed} ({ENV}),"
    assert plain(result.stderr).strip() == f"Error: --metric cannot be checked: the metric list {where} {problem}"


def test_a_metrics_file_that_is_not_there_is_named(cli, tmp_path, monkeypatch):
    from .test_cli import as_options

    monkeypatch.setenv(ENV, str(tmp_path / "missing.csv"))
    result = cli("log", "figure", *as_options(example("figure")))
    assert result.exit_code == 2
    assert plain(result.stderr).strip() == (
        f"Error: --metric cannot be checked: the metric list {tmp_path / 'missing.csv'} ({ENV}) cannot be read: "
        "No such file or directory")


# --- the bundled record and the command line ---------------------------------------------------


def test_the_bundled_records_figures_use_listed_metrics_and_none_disagree(cli):
    record = [orjson.loads(line) for line in record_path().read_bytes().splitlines() if line.strip()]
    assert {e["metric"] for e in record if e["kind"] == "figure"} <= set(metrics())
    assert cli("init").exit_code == 0
    rows = cli.json("figures")
    assert {r["series"] for r in rows} >= {
        "bilateral_trade:KR,KZ", "investment_stock:KR,KZ:2023", "remittances:KR,UZ:2024",
        "e9_visa_quota:KR,UZ", "e9_visa_quota:KR,UZ:2024-05", "joint_ventures:KR,KZ",
        "companies_with_korean_capital:KR,KZ",
    }
    assert not [r["series"] for r in rows if r["disagree"]]
    quotas = cli.json("figures", "e9_visa_quota", "--as-of", "2024-05")
    assert [(q["period"], q["amount"]) for q in quotas] == [(None, "60000"), ("2024-05", "100000")]
    assert [r["series"] for r in cli.json("figures", "--as-of", "2024-04")] == ["remittances:KR,UZ:2024"]
    assert cli.json("figures", "--as-of", "2023") == []
    # reported by the end of 2024, the Caspian Policy Center's figures (January 2025) are not there yet
    reported = cli.json("figures", "--reported-by", "2024-12-31")
    assert "remittances:KR,UZ:2024" not in {r["series"] for r in reported}
    assert "investment_stock:KR,KZ:2023" in {r["series"] for r in reported}


def test_tracker_figures_prints_a_table_and_names_a_metric_without_figures(cli):
    from .test_cli import as_options

    assert cli("log", "figure", *as_options(example("figure"))).exit_code == 0
    table = cli("figures", "bilateral_trade")
    assert table.exit_code == 0
    assert table.stdout.splitlines() == [
        "metric\tcountries\tperiod\tamount\tunit\treported\tdisagree\tevent",
        f"bilateral_trade\tKR,KZ\t2023\t6,000,000,000\tUSD\t2025-01-31\t\t{cli.json('list')[0]['id']}",
    ]
    missing = cli("figures", "remittances")
    assert missing.exit_code == 2 and plain(missing.stderr).startswith("Error: no figures for 'remittances'")
    assert cli("figures", "bilateral_trade", "--as-of", "2024-01").exit_code == 2


def test_tracker_figures_json_gives_values_as_a_list_and_the_table_marks_a_disagreement(cli):
    from .test_cli import as_options

    first = example("figure")
    assert cli("log", "figure", *as_options(first)).exit_code == 0
    assert cli("log", "figure", *as_options({**first, "amount": "6200000000", "summary": "A second estimate."})).exit_code == 0
    [row] = cli.json("figures", "bilateral_trade:KR,KZ:2023")
    assert isinstance(row["values"], list) and sorted(v["amount"] for v in row["values"]) == ["6000000000", "6200000000"]
    assert row["disagree"] == 1 and row["amount"] in {"6000000000", "6200000000"}
    table = cli("figures", "bilateral_trade").stdout.splitlines()
    assert table[1].split("\t")[6] == "yes"


@pytest.mark.parametrize("typed, named, nearest", [
    ("trade-volume", "'trade-volume' is not a listed metric", "bilateral_trade"),
    ("investment:KR,KZ", "'investment' is not a listed metric", "investment_flow, investment_stock"),
    ("Bilateral_Trad", "'Bilateral_Trad' is not a listed metric", "bilateral_trade"),
])
def test_tracker_figures_refuses_an_unlisted_metric_naming_the_nearest(cli, typed, named, nearest):
    assert cli("init").exit_code == 0
    result = cli("figures", typed)
    message = plain(result.stderr).strip()
    assert result.exit_code == 2 and result.stdout == "" and len(message.splitlines()) == 1
    assert message.startswith(f"Error: METRIC '{typed}'") and named in message
    assert f"the nearest: {nearest}" in message


def test_a_listed_metric_in_another_case_is_the_metric(cli):
    assert cli("init").exit_code == 0
    assert cli.json("figures", "Bilateral_Trade") == cli.json("figures", "bilateral_trade") != []


def test_the_figures_page_asks_the_same_question(tmp_path):
    import asyncio

    from tracker.log.store import EventStore
    from tracker.publish.build import build
    from tracker.publish.site import datasette_for, load_metadata

    from tracker.publish.reported_sql import with_reported_by

    # the module's SQL, taken when reported_by is blank, beside the reported_by branch
    assert load_metadata()["databases"]["tracker"]["queries"]["figures_on"]["sql"] == with_reported_by(figures)
    assert figures.AS_OF_SQL in with_reported_by(figures)
    with EventStore(tmp_path / "tracker.db") as store:
        log(store, figure("f1", "2024-06-12", at("2024-06-13"), "9600000000", "2024-06-12"),
            figure("f2", "2025-01-31", at("2025-02-01"), "9000000000", "2025-01-31"))
    out = tmp_path / "site.db"
    build(tmp_path / "tracker.db", out)
    ds = datasette_for(out, immutable=True, live=False)

    async def get(path):
        await ds.invoke_startup()
        return await ds.client.get(path)

    page = asyncio.run(get("/tracker/figures_on.json?_shape=array&as_of=2024&known_at=&series=investment_stock"))
    assert page.status_code == 200
    assert [(r["amount"], r["disagree"]) for r in page.json()] == [("9600000000", 0)]
    row = asyncio.run(get("/tracker/figures.json?_shape=array"))
    assert [(r["series"], r["disagree"]) for r in row.json()] == [(INVESTMENT, 1)]

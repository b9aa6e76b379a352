"""The vocabulary: what an event of each kind is, and what it is refused for."""

import datetime as dt
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from events.identity import canonical_json, content_id
from events.models import KINDS, MODELS, WORLD_KINDS, to_record, validate_event
from events.problems import explain

from .conftest import EXAMPLES, example


def rejection(data: dict) -> str:
    with pytest.raises(ValidationError) as info:
        validate_event(data)
    return explain(info.value)


def test_there_is_one_model_per_kind_of_the_contract():
    assert set(KINDS) == {
        "visit", "signing", "mou", "order", "forum", "meeting", "summit",
        "announcement", "milestone", "figure", "correction", "retraction",
    }
    assert set(EXAMPLES) == set(WORLD_KINDS)


@pytest.mark.parametrize("kind", WORLD_KINDS)
def test_every_kind_round_trips_through_json(kind):
    record = to_record(validate_event(example(kind)))
    again = to_record(validate_event(orjson.loads(canonical_json(record))))
    assert again == record
    assert record["kind"] == kind


countries = st.lists(st.sampled_from(["KR", "KZ", "UZ", "TM", "KG", "TJ", "CN", "RU"]), min_size=1, max_size=4, unique=True)
days = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2030, 12, 31))
amounts = st.decimals(min_value=0, max_value=Decimal("1e15"), places=2, allow_nan=False, allow_infinity=False)
text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]), min_size=1, max_size=40)


@st.composite
def occurred(draw):
    day = draw(days)
    form = draw(st.sampled_from(["day", "month", "year", "interval"]))
    if form == "day":
        value = day.isoformat()
    elif form == "month":
        value = day.isoformat()[:7]
    elif form == "year":
        value = day.isoformat()[:4]
    else:
        value = f"{day.isoformat()}/{(day + dt.timedelta(days=draw(st.integers(0, 400)))).isoformat()}"
    return value + draw(st.sampled_from(["", "?", "~"]))


@settings(max_examples=150)
@given(
    kind=st.sampled_from(WORLD_KINDS),
    when=occurred(),
    where=countries,
    summary=text,
    amount=amounts,
    with_location=st.booleans(),
)
def test_any_valid_event_round_trips_and_keeps_its_content_id(kind, when, where, summary, amount, with_location):
    event = example(kind, occurred=when, countries=where, summary=summary)
    if "value" in event:
        event["value"] = {"amount": str(amount), "currency": "USD"}
    if kind == "figure":
        event["amount"] = str(amount)
    if with_location:
        event["location"] = {"name": "Astana", "lat": 51.1694, "lon": 71.4491}
    record = to_record(validate_event(event))
    parsed = orjson.loads(canonical_json(record))
    assert to_record(validate_event(parsed)) == record
    assert content_id(parsed) == content_id(record)


def test_amounts_are_written_without_exponent_or_trailing_zeros_so_equal_amounts_hash_equally():
    a = to_record(validate_event(example("order", value={"amount": "196000000.00", "currency": "USD"})))
    b = to_record(validate_event(example("order", value={"amount": 1.96e8, "currency": "USD"})))
    assert a["value"]["amount"] == b["value"]["amount"] == "196000000"
    assert content_id(a) == content_id(b)


def test_a_content_id_starts_with_the_first_day_and_the_kind():
    record = to_record(validate_event(example("visit", occurred="2024-06")))
    assert content_id(record).startswith("2024-06-01-visit-")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "parade"}, "field 'kind': must be one of: visit, signing"),
        ({"kind": ...}, "field 'kind': is required"),
        ({"nickname": "x"}, "field 'nickname': is not a field of this kind of event"),
        ({"countries": ["XX"]}, "field 'countries.0': 'XX' is not an ISO 3166-1 alpha-2 country code"),
        ({"countries": ["kz"]}, "(codes are upper case: KZ)"),
        ({"countries": []}, "field 'countries': is empty: at least one is required"),
        ({"countries": ["KZ", "KZ"]}, "countries lists a country twice"),
        ({"occurred": "2024-02-30"}, "field 'occurred': '2024-02-30': day 30 does not exist in February 2024"),
        ({"occurred": "2024-13"}, "month 13 does not exist"),
        ({"occurred": "2024-07-01/2024-06-01"}, "the interval ends before it starts"),
        ({"occurred": "mid-2024"}, "use YYYY, YYYY-MM, YYYY-MM-DD, or an interval START/END"),
        ({"sources": []}, "field 'sources': is empty: at least one is required"),
        ({"sources": ...}, "field 'sources': is required"),
        ({"sources": [{"publisher": "X", "title": "Y", "published": "2024-02-30"}]}, "field 'sources.0.published': '2024-02-30': day 30 does not exist in February 2024, which has 29 days"),
        ({"sources": [{"publisher": "X", "title": "Y", "published": "2024-01-01", "url": "javascript:alert(1)"}]}, "is not an http(s) URL"),
        ({"summary": "   "}, "field 'summary': must not be empty"),
        ({"status": "committed"}, "status needs a project to apply to"),
        ({"project": "uz-trains", "status": "finished"}, "field 'status': 'finished' is not one of 'proposed', 'negotiating'"),
        ({"project": "Uz Trains"}, "field 'project': 'Uz Trains' is not a slug: use lower-case letters"),
        ({"id": "Has Spaces"}, "field 'id': 'Has Spaces' is not an event id: use lower-case letters"),
    ],
)
def test_rejections_name_the_field_and_the_problem(change, message):
    assert message in rejection(example("meeting", **change))


@pytest.mark.parametrize(
    "kind, change, message",
    [
        ("order", {"value": {"amount": "-1", "currency": "USD"}}, "field 'value.amount': '-1' is negative: it must be 0 or more"),
        ("order", {"value": {"amount": "10", "currency": "XYZ"}}, "'XYZ' is not an ISO 4217 currency code"),
        ("order", {"value": {"amount": "NaN", "currency": "USD"}}, "field 'value.amount'"),
        ("order", {"buyer": ...}, "field 'buyer': is required"),
        ("visit", {"level": "royal"}, "field 'level': 'royal' is not one of 'state', 'official' or 'working'"),
        ("visit", {"host_country": "Kazakhstan"}, "field 'host_country': 'Kazakhstan' is not an ISO 3166-1"),
        ("signing", {"agreement_count": 0}, "field 'agreement_count': 0 is less than 1, the least allowed"),
        ("milestone", {"status": ...}, "field 'status': is required"),
        ("figure", {"period": "sometime"}, "field 'period'"),
        ("summit", {"planned_for": "2025-02-30"}, "field 'planned_for'"),
    ],
)
def test_kind_fields_are_checked_too(kind, change, message):
    assert message in rejection(example(kind, **change))


def test_a_correction_cannot_change_who_an_event_is():
    message = rejection({"kind": "correction", "target": "x", "changes": {"kind": "visit"}, "reason": "r"})
    assert "a correction cannot change kind" in message


def test_amendments_need_no_date_countries_or_sources_of_their_own():
    retraction = validate_event({"kind": "retraction", "target": "some-event", "reason": "duplicate"})
    assert to_record(retraction) == {
        "kind": "retraction", "target": "some-event", "reason": "duplicate",
        "countries": [], "sources": [], "project": None, "status": None,
    }


def test_models_defer_building_their_validators_so_the_cli_starts_fast():
    assert all(model.model_config.get("defer_build") for model in MODELS.values())


def test_what_a_kind_declares_for_the_derived_tables_names_its_own_fields():
    from events.models import MODELS, WORLD_KINDS

    for kind in WORLD_KINDS:
        model = MODELS[kind]
        fields = model.model_fields
        assert model.title_field is None or model.title_field in fields, kind
        assert all(name in fields for name in model.party_fields), kind
        if model.counts_as_order_value:
            assert "value" in fields, kind
        if model.counts_as_visit:
            assert {"host_country", "visitor_country"} <= set(fields), kind
    assert MODELS["signing"].agreements_in({"agreement_count": 11}) == 11
    assert MODELS["signing"].agreements_in({}) == 1 and MODELS["mou"].agreements_in({}) == 1
    assert MODELS["visit"].agreements_in({}) == 0
    assert MODELS["order"].parties_of({"buyer": "Uzbekistan Railways", "supplier": "Hyundai Rotem"}) == (
        "Uzbekistan Railways, Hyundai Rotem")
    assert MODELS["forum"].parties_of({"name": "x"}) is None

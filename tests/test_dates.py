import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.dates import DateError, parse_occurred


@pytest.mark.parametrize(
    "text, start, end, precision",
    [
        ("2024", "2024-01-01", "2024-12-31", "year"),
        ("2024-02", "2024-02-01", "2024-02-29", "month"),
        ("2023-02", "2023-02-01", "2023-02-28", "month"),
        ("2024-06-12", "2024-06-12", "2024-06-12", "day"),
        ("2024-06-12/2024-06-13", "2024-06-12", "2024-06-13", "day"),
        ("2024-06/2025", "2024-06-01", "2025-12-31", "year"),
    ],
)
def test_a_date_covers_the_days_its_precision_allows(text, start, end, precision):
    occurred = parse_occurred(text)
    assert (occurred.start.isoformat(), occurred.end.isoformat()) == (start, end)
    assert occurred.precision == precision


def test_a_trailing_question_mark_means_uncertain_and_a_tilde_approximate():
    assert parse_occurred("2024-06?").qualifier == "uncertain"
    assert parse_occurred("2024-06~").qualifier == "approximate"
    assert parse_occurred("2024-06~").start == dt.date(2024, 6, 1)
    assert parse_occurred("2024-06-10/2025-01-31?").interval


@pytest.mark.parametrize(
    "text, message",
    [
        ("2024-02-30", "day 30 does not exist in February 2024, which has 29 days"),
        ("2023-02-29", "day 29 does not exist in February 2023"),
        ("2024-13", "month 13 does not exist"),
        ("2024-00", "month 00 does not exist"),
        ("2024-06-13/2024-06-12", "the interval ends before it starts"),
        ("June 2024", "is not a date the tracker accepts: use YYYY, YYYY-MM, YYYY-MM-DD"),
        ("2025-06-1X", "is not a date the tracker accepts"),
        ("24-06-12", "is not a date the tracker accepts"),
        ("2024-6-1", "is not a date the tracker accepts"),
        ("2024/2025/2026", "exactly one '/'"),
        ("0000", "year 0000 does not exist"),
        ("2024-06-12T10:00", "is not a date the tracker accepts"),
        ("", "a date is required"),
    ],
)
def test_dates_outside_the_subset_or_impossible_are_rejected_saying_why(text, message):
    with pytest.raises(DateError, match=message):
        parse_occurred(text)


@given(st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)))
def test_any_real_day_parses_to_itself(day):
    occurred = parse_occurred(day.isoformat())
    assert occurred.start == occurred.end == day


@given(st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)))
def test_a_month_runs_from_its_first_to_its_last_day(day):
    occurred = parse_occurred(f"{day.year:04d}-{day.month:02d}")
    assert occurred.start == day.replace(day=1)
    assert occurred.start <= day <= occurred.end
    assert (occurred.end + dt.timedelta(days=1)).day == 1

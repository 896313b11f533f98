"""Term dates and the notice deadline (DESIGN.md: a term is [start, start + 1 year))."""

import datetime as dt

import pytest

from agreements import rules

D = dt.date


@pytest.mark.parametrize(
    ("start", "end", "last_day", "deadline"),
    [
        (D(2027, 1, 1), D(2028, 1, 1), D(2027, 12, 31), D(2027, 12, 1)),
        (D(2027, 2, 28), D(2028, 2, 28), D(2028, 2, 27), D(2028, 1, 28)),
        # A term that starts on a leap day ends on 28 February (dateutil's relativedelta).
        (D(2028, 2, 29), D(2029, 2, 28), D(2029, 2, 27), D(2029, 1, 28)),
        (D(2027, 1, 31), D(2028, 1, 31), D(2028, 1, 30), D(2027, 12, 31)),
        (D(2027, 12, 31), D(2028, 12, 31), D(2028, 12, 30), D(2028, 11, 30)),
        # The year after a leap day: the notice window crosses 29 February 2028.
        (D(2027, 3, 31), D(2028, 3, 31), D(2028, 3, 30), D(2028, 2, 29)),
    ],
)
def test_term_dates_and_notice_deadline(start, end, last_day, deadline):
    assert rules.term_end(start) == end
    assert rules.last_covered_day(end) == last_day
    assert rules.notice_deadline(end) == deadline


def test_design_example_deadline_is_december_first():
    assert rules.notice_deadline(D(2028, 1, 1)) == D(2027, 12, 1)


def test_first_term_starts_at_last_signature_or_a_later_start_date():
    signed = D(2026, 12, 3)
    assert rules.first_term_start(signed_on=signed, requested_start=None) == signed
    assert rules.first_term_start(signed_on=signed, requested_start=D(2027, 1, 1)) == D(2027, 1, 1)
    # A requested start that has already passed when the last signature comes is ignored.
    assert rules.first_term_start(signed_on=signed, requested_start=D(2026, 12, 1)) == signed


def test_term_dates_hold_only_the_first_term_until_its_end_comes():
    first = (D(2026, 3, 15), D(2027, 3, 15))
    assert rules.term_dates(D(2026, 3, 15), through=D(2026, 3, 15)) == [first]
    assert rules.term_dates(D(2026, 3, 15), through=D(2027, 3, 14)) == [first]
    # A first term that starts later than ``through`` (a start date in the future) is there.
    assert rules.term_dates(D(2026, 3, 15), through=D(2026, 1, 1)) == [first]


def test_term_dates_add_the_next_term_on_the_day_the_previous_one_ends():
    assert rules.term_dates(D(2024, 3, 15), through=D(2026, 11, 28)) == [
        (D(2024, 3, 15), D(2025, 3, 15)),
        (D(2025, 3, 15), D(2026, 3, 15)),
        (D(2026, 3, 15), D(2027, 3, 15)),
    ]
    assert rules.term_dates(D(2024, 3, 15), through=D(2027, 3, 15))[-1] == (
        D(2027, 3, 15),
        D(2028, 3, 15),
    )


def test_after_a_leap_day_start_every_later_term_starts_on_february_28():
    assert rules.term_dates(D(2028, 2, 29), through=D(2033, 1, 1)) == [
        (D(2028, 2, 29), D(2029, 2, 28)),
        (D(2029, 2, 28), D(2030, 2, 28)),
        (D(2030, 2, 28), D(2031, 2, 28)),
        (D(2031, 2, 28), D(2032, 2, 28)),
        # The next leap year does not bring 29 February back: each term follows the last end.
        (D(2032, 2, 28), D(2033, 2, 28)),
    ]


@pytest.mark.parametrize(
    ("first_start", "through", "last"),
    [
        (D(2025, 1, 31), D(2027, 6, 1), (D(2027, 1, 31), D(2028, 1, 31))),
        (D(2025, 8, 31), D(2026, 8, 30), (D(2025, 8, 31), D(2026, 8, 31))),
        (D(2025, 8, 31), D(2026, 8, 31), (D(2026, 8, 31), D(2027, 8, 31))),
        (D(2025, 12, 31), D(2026, 12, 31), (D(2026, 12, 31), D(2027, 12, 31))),
        (D(2027, 2, 28), D(2028, 2, 29), (D(2028, 2, 28), D(2029, 2, 28))),
    ],
)
def test_term_dates_keep_month_ends(first_start, through, last):
    dates = rules.term_dates(first_start, through=through)
    assert dates[-1] == last
    # Each term starts where the previous one ends, and the last one has not ended yet.
    assert all(end == start for (_s, end), (start, _e) in zip(dates, dates[1:], strict=False))
    assert dates[-1][1] > through

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

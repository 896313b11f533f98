"""The date rules of terms and notice, as pure functions (DESIGN.md, "Terms, renewal and
termination"). A term is the half-open range [start, end)."""

import datetime as dt

from dateutil.relativedelta import relativedelta

NOTICE_DAYS = 30
# The renewal queue, the staff home's renewals: agreements whose term ends within 90 days.
RENEWAL_WINDOW = dt.timedelta(days=90)


def term_end(start: dt.date) -> dt.date:
    """The exclusive end of a one-year term (dateutil: 2028-02-29 + 1 year = 2029-02-28)."""
    return start + relativedelta(years=1)


def term_dates(first_start: dt.date, *, through: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The (start, end) of each term from ``first_start`` up to ``through``: the first term,
    then one more from each end that has come (``end <= through``), as renewal adds them. Each
    term starts on the previous one's end, so after a leap-day start every later term starts
    on 28 February."""
    dates = [(first_start, term_end(first_start))]
    while dates[-1][1] <= through:
        dates.append((dates[-1][1], term_end(dates[-1][1])))
    return dates


def last_covered_day(end: dt.date) -> dt.date:
    """The last day a term covers (its exclusive end minus one day)."""
    return end - dt.timedelta(days=1)


def notice_deadline(end: dt.date) -> dt.date:
    """The last local date a termination request is timely: last covered day minus 30 days."""
    return last_covered_day(end) - dt.timedelta(days=NOTICE_DAYS)


def first_term_start(*, signed_on: dt.date, requested_start: dt.date | None) -> dt.date:
    """The first term starts on the day of the last signature, or a later start set in the draft."""
    if requested_start and requested_start > signed_on:
        return requested_start
    return signed_on


def is_timely(received_on: dt.date, *, deadline: dt.date) -> bool:
    """A request received on or before the deadline (a local date) is timely."""
    return received_on <= deadline

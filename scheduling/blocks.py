"""Prescheduled blocks against the schedules that fill them.

A Prescheduled Services line sells a block of hours each month (``hours_per_month``) and plans
visits on a schedule. When the visits of a month add up to more than the block, the customer is
billed the difference as overage, at the standard (undiscounted) hourly rate of the line's labor
rate. ``block_overruns`` finds those months of a term before anything is signed, so staff can
fix the schedule or the block while drafting.

Months are calendar months; a partial first or last month's block is prorated by days, as
billing does (hours_per_month × days / days in the month, rounded to 0.01 h: the rule of
billing.rules.prorated_hours). A visit counts in the month of its local start date, for its
elapsed duration.

``block_overruns`` is a pure function of its arguments; ``version_block_overruns`` loads what a
draft needs (the term it would run in and the rates its overage would cost) and calls it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

from django.core.exceptions import ValidationError

from agreements import rules
from agreements.document import version_lines
from agreements.models import ServiceKind, prefetched
from allora.validation import date_in_range
from billing.charges import Stretch, included_hours, stretches
from billing.pricing import merged_rates, snapshot_rate
from billing.rules import list_amount
from billing.services import rates_snapshot

from . import recurrence

HOURS = Decimal("0.01")
_MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Overrun:
    """One month (or the part of it inside the term, [start, end)) whose visits exceed its block."""

    month: dt.date  # the first day of the calendar month
    start: dt.date
    end: dt.date
    planned_hours: Decimal
    block_hours: Decimal
    excess_hours: Decimal
    rate: Decimal | None  # the standard hourly rate; None when the rates have none
    cost: Decimal | None

    @property
    def stretch(self) -> Stretch:
        return Stretch(None, self.start, self.end)

    @property
    def is_partial(self) -> bool:
        return not self.stretch.is_whole_month

    @property
    def label(self) -> str:
        """ "March 2027" for a whole month, "January 15–31, 2027" for part of one."""
        return self.stretch.label


def block_overruns(
    line, *, tz: str, start: dt.date, end: dt.date, rate: Decimal | None
) -> list[Overrun]:
    """The months of [start, end) in which ``line``'s schedule plans more hours than its block.

    ``line`` needs kind, rrule, start_time, duration_minutes and hours_per_month (a ServiceLine,
    saved or not, or anything with those attributes); ``tz`` is the agreement's time zone;
    ``rate`` the standard hourly rate of the line's labor rate (None: the cost is unknown).
    Lines that are not Prescheduled Services, or have no complete schedule, give [].
    Raises recurrence.RecurrenceError for a schedule that cannot be expanded.
    """
    if line.kind != ServiceKind.PRESCHEDULED or not line.hours_per_month:
        return []
    if not (line.rrule and line.start_time and line.duration_minutes):
        return []
    minutes: dict[dt.date, int] = defaultdict(int)
    for starts_at, ends_at in recurrence.occurrences(
        line.rrule,
        start_time=line.start_time,
        duration_minutes=line.duration_minutes,
        tz=tz,
        start=start,
        end=end,
    ):
        local_day = recurrence.to_local(starts_at, tz).date()
        minutes[local_day.replace(day=1)] += (ends_at - starts_at) // _MINUTE
    found = []
    # The months of [start, end), as billing cuts a term; the block of each as billing counts it.
    for stretch in stretches([SimpleNamespace(start=start, end=end)], start=start, end=end):
        month = stretch.start.replace(day=1)
        planned = _hours(Decimal(minutes.get(month, 0)) / 60)
        block = included_hours(stretch, line)
        excess = planned - block
        if excess <= 0:
            continue
        cost = None if rate is None else list_amount(excess, rate)
        found.append(Overrun(month, stretch.start, stretch.end, planned, block, excess, rate, cost))
    return found


@dataclass(frozen=True)
class LineOverruns:
    """A line whose schedule exceeds its block, the term checked ([start, end)) and the months."""

    line: object  # agreements.models.ServiceLine
    start: dt.date
    end: dt.date
    is_first_term: bool  # False: the rest of the running term (an amendment)
    overruns: list[Overrun]

    @property
    def last_day(self) -> dt.date:
        return rules.last_covered_day(self.end)

    @property
    def excess_hours(self) -> Decimal:
        return sum((overrun.excess_hours for overrun in self.overruns), Decimal("0.00"))

    @property
    def total_cost(self) -> Decimal | None:
        """What all the overruns would cost (None when the rates have no price for it)."""
        costs = [overrun.cost for overrun in self.overruns]
        if any(cost is None for cost in costs):
            return None
        return sum(costs, Decimal("0.00"))


def version_block_overruns(version, *, today: dt.date, snapshot=None) -> list[LineOverruns]:
    """The Prescheduled lines of a version whose schedule exceeds the block in some month of
    the term the version would run in, in Exhibit B order.

    The term: for an amendment of an agreement with a term not yet over, the rest of that term
    (from today), at its locked rates; otherwise the prospective first term [start, start + 1
    year) with start = the version's start date or today, at the rates of the version's Exhibit
    A if it was sent, else the rate card in effect today (``snapshot``: as the caller already
    read it). Lines and terms the caller prefetched are not read again."""
    if version.start_date and not date_in_range(version.start_date):
        return []  # such a term cannot be priced; the page says the start date is out of range
    lines = [
        line
        for line in version_lines(version)
        if line.kind == ServiceKind.PRESCHEDULED
        and line.rrule
        and line.start_time
        and line.duration_minutes
        and line.hours_per_month
    ]
    if not lines:
        return []
    snapshot = version.rates_snapshot or snapshot
    if snapshot is None:
        try:
            snapshot = rates_snapshot(on=today)
        except ValidationError:  # no rate card in effect: the hours still warn
            snapshot = None
    term = None
    if version.is_amendment:
        terms = prefetched(version.agreement, "terms")
        if terms is None:
            term = version.agreement.terms.filter(end__gt=today).order_by("-number").first()
        else:
            later = [term for term in terms if term.end > today]
            term = max(later, key=lambda term: term.number, default=None)
    if term is not None:
        start, end = max(today, term.start), term.end
        snapshot = merged_rates(term.locked_rates, snapshot)
    else:
        start = rules.first_term_start(signed_on=today, requested_start=version.start_date)
        end = rules.term_end(start)
    tz = version.agreement.time_zone
    found = []
    for line in lines:
        rate = _standard_rate(snapshot, line.labor_rate)
        try:
            overruns = block_overruns(line, tz=tz, start=start, end=end, rate=rate)
        except recurrence.RecurrenceError:  # the schedule form reports a broken schedule
            continue
        if overruns:
            found.append(LineOverruns(line, start, end, term is None, overruns))
    return found


def _standard_rate(snapshot, labor_rate) -> Decimal | None:
    if not snapshot or not labor_rate:
        return None
    try:
        return snapshot_rate(snapshot, labor_rate)
    except LookupError:
        return None


def _hours(value: Decimal) -> Decimal:
    return value.quantize(HOURS, rounding=ROUND_HALF_UP)

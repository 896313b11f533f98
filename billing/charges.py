"""The charges of invoicing, as pure functions: the stretches a date range is billed in (a
calendar month inside one term), and the charges of a stretch, each priced by the rules.

Recurring charges are billed in advance: each Monthly Maintenance visit the rule put in the
stretch (hours × rate, discounted), the Prescheduled Services block and hosting (prorated by days
when the stretch is not a whole month). Usage is billed in arrears: emergency hours at the
emergency rate, and prescheduled hours beyond the block at the standard (undiscounted) rate.
Rates always come from the term's locked rates. The money of each line (list, discount, net,
proration, rounding to cents half-up once per line) is computed by rules.py.
"""

import calendar
import datetime as dt
import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from agreements.models import ServiceKind

from .models import InvoiceLine
from .pricing import hosting_price, snapshot_rate
from .rules import discount_percent, line_money, net_rate, prorated_hours, prorated_quantity

LineKind = InvoiceLine.Kind
LABOR = {"onsite_hourly": "on-site", "remote_hourly": "remote"}


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    """The first day of the month after ``day``'s."""
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def days_in_month(day: dt.date) -> int:
    return _days_in_month(day.year, day.month)


@functools.lru_cache(maxsize=1024)
def _days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


class PricedTerm(Protocol):
    """What a stretch needs of its term: agreements.models.Term, or a stand-in in tests."""

    pk: int
    locked_rates: dict
    version_id: int


@dataclass(frozen=True)
class Stretch:
    """[start, end): part of one calendar month inside one term, billed at that term's rates."""

    term: PricedTerm
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def days_in_month(self) -> int:
        return days_in_month(self.start)

    @property
    def is_whole_month(self) -> bool:
        return self.days == self.days_in_month

    @property
    def label(self) -> str:
        """ "March 2027" for a whole month, "January 15–31, 2027" for part of one."""
        return _label(self.start, self.end)


@functools.lru_cache(maxsize=1024)
def _label(start: dt.date, end: dt.date) -> str:
    # The same few months recur across every agreement of a run: each is written out once.
    if (end - start).days == days_in_month(start):
        return f"{start:%B %Y}"
    last = end - dt.timedelta(days=1)
    if last == start:
        return f"{start:%B %-d, %Y}"
    return f"{start:%B %-d}–{last:%-d, %Y}"


def stretches(terms, *, start: dt.date, end: dt.date) -> list[Stretch]:
    """[start, end) cut at month and term boundaries, for the days some term covers."""
    found = []
    for term in sorted(terms, key=lambda term: term.start):
        cursor, until = max(start, term.start), min(end, term.end)
        while cursor < until:
            stop = min(until, next_month(cursor))
            found.append(Stretch(term, cursor, stop))
            cursor = stop
    return found


def term_on(terms, day: dt.date):
    """The term covering ``day`` (None when no term does)."""
    return next((term for term in terms if term.start <= day < term.end), None)


@dataclass(frozen=True)
class Charge:
    """An invoice line before it is stored."""

    kind: str
    description: str
    quantity: Decimal
    unit: str
    list_rate: Decimal
    discount_percent: Decimal
    net_rate: Decimal
    list_amount: Decimal
    amount: Decimal
    stretch: Stretch
    service_line_id: int | None = None

    @property
    def discount_amount(self) -> Decimal:
        return self.list_amount - self.amount


def _charge(kind, description, *, quantity, unit, rate, rates, stretch, line, prorated):
    """Price ``quantity`` at ``rate`` less the discount ``rates`` give a line of ``kind``; a
    prorated line carries the prorated quantity, so list = quantity × rate holds for every line."""
    quantity, rate = Decimal(quantity), Decimal(rate)
    percent = discount_percent(rates, kind)
    if prorated and not stretch.is_whole_month:
        days, month_days = stretch.days, stretch.days_in_month
        quantity = prorated_quantity(quantity, days=days, days_in_month=month_days)
        description += f" (prorated: {days} of {month_days} days)"
    list_amount, _, amount = line_money(quantity, rate, percent)
    return Charge(
        kind=kind,
        description=description,
        quantity=quantity,
        unit=unit,
        list_rate=rate,
        discount_percent=percent,
        net_rate=net_rate(rate, percent),
        list_amount=list_amount,
        amount=amount,
        stretch=stretch,
        service_line_id=line.pk if line is not None else None,
    )


def _hours(value) -> str:
    return f"{Decimal(value).normalize():f}"


def recurring_charges(stretch: Stretch, lines, visit_counts, *, rates=None) -> list[Charge]:
    """The in-advance charges of a stretch: maintenance visits (``visit_counts``: line id → the
    number of visits the rule put in the stretch), the prescheduled block and hosting, at
    ``rates`` (the term's locked rates by default)."""
    snapshot = rates or stretch.term.locked_rates
    charges = []
    for line in lines:
        if line.kind == ServiceKind.MAINTENANCE:
            count = visit_counts.get(line.pk, 0)
            if not count:
                continue
            visits = "1 visit" if count == 1 else f"{count} visits"
            charges.append(
                _charge(
                    LineKind.MAINTENANCE,
                    f"Monthly Maintenance, {stretch.label}: {visits} × "
                    f"{_hours(line.hours_per_visit)} h {LABOR[line.labor_rate]}",
                    quantity=Decimal(line.hours_per_visit) * count,
                    unit="hour",
                    rate=snapshot_rate(snapshot, line.labor_rate),
                    rates=snapshot,
                    stretch=stretch,
                    line=line,
                    prorated=False,  # a partial month simply has fewer visits
                )
            )
        elif line.kind == ServiceKind.PRESCHEDULED:
            charges.append(
                _charge(
                    LineKind.PRESCHEDULED,
                    f"Prescheduled Services, {stretch.label}: block of "
                    f"{_hours(line.hours_per_month)} h {LABOR[line.labor_rate]}",
                    quantity=line.hours_per_month,
                    unit="hour",
                    rate=snapshot_rate(snapshot, line.labor_rate),
                    rates=snapshot,
                    stretch=stretch,
                    line=line,
                    prorated=True,
                )
            )
        elif line.kind == ServiceKind.HOSTING:
            charges.append(
                _charge(
                    LineKind.HOSTING,
                    f"{line.package_name}, {stretch.label}",
                    quantity=line.quantity,
                    unit="month",
                    rate=hosting_price(snapshot, line.package_name),
                    rates=snapshot,
                    stretch=stretch,
                    line=line,
                    prorated=True,
                )
            )
    return charges


def emergency_charge(stretch: Stretch, line, hours, *, rates=None) -> Charge:
    """Emergency hours worked in a stretch, at the term's emergency rate (no discount)."""
    rates = rates or stretch.term.locked_rates
    return _charge(
        LineKind.EMERGENCY,
        f"Emergency Support, {stretch.label}: {_hours(hours)} h",
        quantity=hours,
        unit="hour",
        rate=snapshot_rate(rates, "emergency_hourly"),
        rates=rates,
        stretch=stretch,
        line=line,
        prorated=False,
    )


def after_hours_charge(stretch: Stretch, line, hours, *, rates=None) -> Charge:
    """After-hours emergency hours worked in a stretch, at the term's after-hours rate (no
    discount: the agreement discount covers maintenance and the prescheduled block only)."""
    rates = rates or stretch.term.locked_rates
    rate = snapshot_rate(rates, "after_hours_hourly")
    return _charge(
        LineKind.AFTER_HOURS,
        f"After-hours emergency support, {stretch.label}: {_hours(hours)} h × ${rate:,.2f}",
        quantity=hours,
        unit="hour",
        rate=rate,
        rates=rates,
        stretch=stretch,
        line=line,
        prorated=False,
    )


def included_hours(stretch: Stretch, line) -> Decimal:
    """The block's hours in a stretch: all of them in a whole month, prorated by days otherwise."""
    return prorated_hours(
        line.hours_per_month, days=stretch.days, days_in_month=stretch.days_in_month
    )


def overage_charge(
    stretch: Stretch, line, *, used, already_billed, included=None, rates=None
) -> Charge | None:
    """Prescheduled hours used in a stretch beyond its block, less the overage already billed
    for it, at the STANDARD rate (the discount covers the block only). None when there is none."""
    if included is None:
        included = included_hours(stretch, line)
    hours = Decimal(used) - included - Decimal(already_billed)
    if hours <= 0:
        return None
    rates = rates or stretch.term.locked_rates
    return _charge(
        LineKind.OVERAGE,
        f"Prescheduled Services beyond the block, {stretch.label}: {_hours(hours)} h "
        f"at the standard {LABOR[line.labor_rate]} rate",
        quantity=hours,
        unit="hour",
        rate=snapshot_rate(rates, line.labor_rate),
        rates=rates,
        stretch=stretch,
        line=line,
        prorated=False,
    )

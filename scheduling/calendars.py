"""Month and week grids for the calendar pages (pure: dates and already-fetched visits in).

Each visit lands on its local date in its own customer's zone, so a staff calendar mixing
customers in several zones still shows every visit on the day the customer sees it.
"""

import calendar
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from allora.validation import date_in_range, query_date

WEEK_STARTS_ON = calendar.SUNDAY  # as US wall calendars do
ONE_DAY = dt.timedelta(days=1)
# UTC bounds are widened by this much so that every zone's local day is covered.
_ZONE_MARGIN = dt.timedelta(days=1)


@dataclass
class Day:
    date: dt.date
    in_month: bool
    is_today: bool
    visits: list = field(default_factory=list)


@dataclass
class Month:
    first: dt.date
    weeks: list

    @property
    def previous(self) -> dt.date:
        return (self.first - ONE_DAY).replace(day=1)

    @property
    def next(self) -> dt.date:
        return (self.first + dt.timedelta(days=32)).replace(day=1)

    @property
    def weekday_names(self):
        first = self.weeks[0][0].date
        return [(first + dt.timedelta(days=n)).strftime("%a") for n in range(7)]


def parse_month(text: str, *, today: dt.date) -> dt.date:
    """The first day of the month "YYYY-MM"; this month for anything else (a month out of the
    accepted range of dates too: the grid's arithmetic would overflow near year 9999)."""
    try:
        year, month = (int(part) for part in text.split("-"))
        first = dt.date(year, month, 1)
    except (ValueError, TypeError):
        return today.replace(day=1)
    return first if date_in_range(first) else today.replace(day=1)


def parse_day(text: str, *, today: dt.date) -> dt.date:
    return query_date(text, default=today)


def month_days(first: dt.date) -> list[list[dt.date]]:
    return calendar.Calendar(WEEK_STARTS_ON).monthdatescalendar(first.year, first.month)


def utc_bounds(days: list[dt.date]) -> tuple[dt.datetime, dt.datetime]:
    """A UTC range that holds every visit whose local date is one of `days`, in any zone."""
    start = dt.datetime.combine(days[0], dt.time.min, tzinfo=dt.UTC) - _ZONE_MARGIN
    end = dt.datetime.combine(days[-1] + ONE_DAY, dt.time.min, tzinfo=dt.UTC) + _ZONE_MARGIN
    return start, end


def by_local_date(visits) -> dict[dt.date, list]:
    found = defaultdict(list)
    for visit in visits:
        found[visit.local_start.date()].append(visit)
    for day_visits in found.values():
        day_visits.sort(key=lambda visit: visit.local_start.time())
    return found


def month_grid(first: dt.date, visits, *, today: dt.date) -> Month:
    """The weeks of the month starting on `first`, each day with its visits."""
    found = by_local_date(visits)
    weeks = [
        [Day(day, day.month == first.month, day == today, found.get(day, [])) for day in week]
        for week in month_days(first)
    ]
    return Month(first, weeks)


def week_of(day: dt.date) -> list[dt.date]:
    """The seven days (Sunday first) of the week that holds `day`."""
    start = day - dt.timedelta(days=(day.weekday() + 1) % 7)
    return [start + dt.timedelta(days=n) for n in range(7)]

"""Business days and company holidays.

A business day is Monday to Friday and not a company holiday. The holiday list is data
(`Holiday`, kept by admins), seeded with the US federal holidays of the `holidays` package
(observed dates: when July 4 is a Saturday, the office closes on Friday July 3).
"""

import datetime as dt
from collections.abc import Iterable

import holidays as holiday_calendars

from .models import Holiday

ONE_DAY = dt.timedelta(days=1)
# The first business day after a holiday is never further away than this, even with a long
# weekend and back-to-back holidays; a bound keeps a broken list from looping forever.
_MAX_SKIP = 14


def is_business_day(day: dt.date, holidays: set[dt.date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def next_business_day(day: dt.date, holidays: set[dt.date]) -> dt.date:
    """The first business day strictly after `day`."""
    candidate = day + ONE_DAY
    for _ in range(_MAX_SKIP):
        if is_business_day(candidate, holidays):
            return candidate
        candidate += ONE_DAY
    return candidate


def holiday_dates(start: dt.date, end: dt.date) -> dict[dt.date, str]:
    """Company holidays in [start, end): date -> name (one query)."""
    return dict(Holiday.objects.filter(date__gte=start, date__lt=end).values_list("date", "name"))


def us_federal_holidays(years: Iterable[int]) -> dict[dt.date, str]:
    """The US federal holidays (observed dates included) of the given years."""
    return dict(holiday_calendars.country_holidays("US", years=list(years)).items())


def seed_holidays(years: Iterable[int]) -> int:
    """Add the US federal holidays of `years` to the company list; returns how many were new.

    Dates already on the list keep the name the admin gave them (idempotent)."""
    found = us_federal_holidays(years)
    existing = set(Holiday.objects.filter(date__in=list(found)).values_list("date", flat=True))
    new = [
        Holiday(date=day, name=name) for day, name in sorted(found.items()) if day not in existing
    ]
    Holiday.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)

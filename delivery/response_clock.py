"""The Emergency Support response clock, as pure functions.

A 24×7 guarantee counts wall-clock minutes from the moment a request is received. A
business-hours guarantee counts only the minutes inside the business window (Mon–Fri 08:00–17:00
in the customer's zone by default, ``EMERGENCY_BUSINESS_HOURS`` in settings), skipping company
holidays. Windows are built from local wall-clock times and measured in UTC, so a daylight saving
change inside a count is neither lost nor counted twice.
"""

import datetime as dt
import math
from collections.abc import Collection
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings

from scheduling.business_days import ONE_DAY

UTC = dt.UTC
# A guarantee longer than this many calendar days is a data error, not a deadline: a bound keeps
# a holiday list without business days from looping forever.
MAX_DAYS = 366


@dataclass(frozen=True)
class BusinessHours:
    """The business window: local opening and closing times on the given weekdays (Mon = 0)."""

    opens: dt.time = dt.time(8, 0)
    closes: dt.time = dt.time(17, 0)
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)

    @classmethod
    def from_settings(cls):
        """The company's window: ``EMERGENCY_BUSINESS_HOURS = {"opens": "08:00", ...}``."""
        config = getattr(settings, "EMERGENCY_BUSINESS_HOURS", None) or {}
        default = cls()
        return cls(
            opens=dt.time.fromisoformat(config["opens"]) if "opens" in config else default.opens,
            closes=dt.time.fromisoformat(config["closes"])
            if "closes" in config
            else default.closes,
            weekdays=tuple(config.get("weekdays", default.weekdays)),
        )

    def is_open(self, day: dt.date, at: dt.time, *, holidays: Collection[dt.date] = ()) -> bool:
        """Whether local wall-clock ``at`` on ``day`` is inside the window (work starting then
        is business-hours work; outside it, after-hours work)."""
        return (
            day.weekday() in self.weekdays
            and day not in holidays
            and self.opens <= at < self.closes
        )


def _window(day: dt.date, tz: ZoneInfo, hours: BusinessHours) -> tuple[dt.datetime, dt.datetime]:
    """The business window of a local day, in UTC."""
    opens = dt.datetime.combine(day, hours.opens, tzinfo=tz).astimezone(UTC)
    closes = dt.datetime.combine(day, hours.closes, tzinfo=tz).astimezone(UTC)
    return opens, closes


def _business_windows(start: dt.datetime, *, tz, holidays, hours):
    """The business windows from the local day of ``start`` on, clipped to start after it."""
    day = start.astimezone(tz).date()
    for _ in range(MAX_DAYS):
        if day.weekday() in hours.weekdays and day not in holidays:
            opens, closes = _window(day, tz, hours)
            if closes > start:
                yield max(opens, start), closes
        day += ONE_DAY


def deadline(
    received_at: dt.datetime,
    *,
    minutes: float,
    business_hours_only: bool,
    tz: ZoneInfo,
    holidays: Collection[dt.date] = (),
    hours: BusinessHours | None = None,
) -> dt.datetime:
    """When ``minutes`` of the guarantee have run from ``received_at`` (UTC)."""
    start = received_at.astimezone(UTC)
    if not business_hours_only:
        return start + dt.timedelta(minutes=minutes)
    remaining = dt.timedelta(minutes=minutes)
    end = start
    for opens, closes in _business_windows(
        start, tz=tz, holidays=set(holidays), hours=hours or BusinessHours()
    ):
        if closes - opens >= remaining:
            return opens + remaining
        remaining -= closes - opens
        end = closes
    return end + remaining


def elapsed_minutes(
    received_at: dt.datetime,
    now: dt.datetime,
    *,
    business_hours_only: bool,
    tz: ZoneInfo,
    holidays: Collection[dt.date] = (),
    hours: BusinessHours | None = None,
) -> int:
    """Whole minutes of the guarantee used between ``received_at`` and ``now``."""
    start, now = received_at.astimezone(UTC), now.astimezone(UTC)
    if now <= start:
        return 0
    if not business_hours_only:
        return math.floor((now - start).total_seconds() / 60)
    used = dt.timedelta()
    for opens, closes in _business_windows(
        start, tz=tz, holidays=set(holidays), hours=hours or BusinessHours()
    ):
        if opens >= now:
            break
        used += min(closes, now) - opens
    return math.floor(used.total_seconds() / 60)


def milestones(
    received_at: dt.datetime,
    *,
    minutes: int,
    business_hours_only: bool,
    tz: ZoneInfo,
    holidays: Collection[dt.date] = (),
    hours: BusinessHours | None = None,
) -> dict[int, dt.datetime]:
    """The instants at which 50%, 80% and 100% of the window have run (the alert thresholds)."""
    return {
        percent: deadline(
            received_at,
            minutes=minutes * percent / 100,
            business_hours_only=business_hours_only,
            tz=tz,
            holidays=holidays,
            hours=hours,
        )
        for percent in (50, 80, 100)
    }


def is_met(acknowledged_at: dt.datetime, due_at: dt.datetime) -> bool:
    """An acknowledgment at the deadline itself is in time."""
    return acknowledged_at <= due_at


def time_left(due_at: dt.datetime, now: dt.datetime) -> dt.timedelta:
    """Wall-clock time until the deadline (negative once it has passed)."""
    return due_at - now


def describe_left(left: dt.timedelta) -> str:
    """E.g. "42 min left", "2 h 05 min left", "overdue by 12 min"."""
    minutes = math.floor(abs(left.total_seconds()) / 60)
    text = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
    return f"overdue by {text}" if left.total_seconds() < 0 else f"{text} left"

"""Recurring visit schedules: RFC 5545 RRULE strings expanded in local wall-clock time.

A schedule is an RRULE without DTSTART (e.g. "FREQ=MONTHLY;BYDAY=+3WE") plus a local start
time, a duration in minutes and an IANA time zone name. Everything here is a pure function of
its arguments: no Django, no global state (only a cache of compiled rules) and no calls to "now".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rruleset, rrulestr

FREQUENCIES = ("weekly", "monthly")
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAY_NAMES = dict(zip(WEEKDAYS, _DAY_NAMES, strict=True))

# The start time carries the time of day, so rules that pick their own times (or sub-daily
# frequencies) would contradict it; DTSTART would silently override the caller's anchor.
_GENERAL_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_FORBIDDEN_KEYS = ("BYHOUR", "BYMINUTE", "BYSECOND", "DTSTART")
_FORM_KEYS = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY"}
_NEXT_SEARCH_YEARS = 5

Occurrence = tuple[dt.datetime, dt.datetime]  # (starts_at, ends_at), both aware UTC


class RecurrenceError(ValueError):
    """A schedule problem; the message is plain English and safe to show to users."""


@dataclass(frozen=True)
class RuleParts:
    """The pieces of a schedule that the friendly form edits."""

    frequency: str
    interval: int = 1
    weekdays: tuple[str, ...] = ()
    ordinal: int | None = None
    month_day: int | None = None


def build_rrule(parts: RuleParts) -> str:
    """Validate form parts and return the RRULE string (without DTSTART) they describe."""
    parts = _validated(parts)
    fields = [f"FREQ={parts.frequency.upper()}"]
    if parts.interval != 1:
        fields.append(f"INTERVAL={parts.interval}")
    if parts.frequency == "weekly":
        fields.append("BYDAY=" + ",".join(parts.weekdays))
    elif parts.month_day is not None:
        fields.append(f"BYMONTHDAY={parts.month_day}")
    else:
        fields.append(f"BYDAY={parts.ordinal:+d}{parts.weekdays[0]}")
    return ";".join(fields)


def parse_rrule(rule: str) -> RuleParts:
    """Turn an RRULE built by build_rrule back into form parts, rejecting anything else."""
    fields = _fields(rule)
    unsupported = sorted(set(fields) - _FORM_KEYS)
    if unsupported:
        raise RecurrenceError(f"The form does not support this schedule option: {unsupported[0]}.")
    frequency = fields.get("FREQ", "").lower()
    if frequency not in FREQUENCIES:
        raise RecurrenceError("Only weekly and monthly schedules are supported.")
    interval = _parse_int(fields.get("INTERVAL", "1"), "repeat interval")
    days = fields["BYDAY"].split(",") if "BYDAY" in fields else []
    weekdays = tuple(day[-2:] for day in days)
    # Only a single monthly day may carry an ordinal prefix such as +3 or -1.
    prefixes = [day[:-2] for day in days if day[:-2]]
    if prefixes and (frequency == "weekly" or len(days) != 1):
        raise RecurrenceError("The form does not support this combination of days.")
    ordinal = _parse_int(prefixes[0], "week of the month") if prefixes else None
    month_day_text = fields.get("BYMONTHDAY")
    month_day = None if month_day_text is None else _parse_int(month_day_text, "day of the month")
    if frequency == "monthly" and weekdays and ordinal is None:
        raise RecurrenceError("Choose first, second, third, fourth or last.")
    return _validated(RuleParts(frequency, interval, weekdays, ordinal, month_day))


def describe(rule: str, *, start_time: dt.time, duration_minutes: int) -> str:
    """Describe a form-supported rule in plain English, e.g. "Every Tuesday at 09:00 for 1 hour"."""
    parts = parse_rrule(rule)
    _check_duration(duration_minutes)
    at = f"at {start_time:%H:%M} for {_duration_text(duration_minutes)}"
    n = parts.interval
    if parts.frequency == "weekly":
        days = _join_names([WEEKDAY_NAMES[d] for d in parts.weekdays])
        return f"Every {days} {at}" if n == 1 else f"Every {n} weeks on {days} {at}"
    if parts.ordinal is not None:  # validated: a weekday form has an ordinal, no month day
        which = f"{ORDINALS[parts.ordinal]} {WEEKDAY_NAMES[parts.weekdays[0]]}"
        if n == 1:
            return f"The {which} of every month {at}"
        return f"Every {n} months on the {which} {at}"
    day = parts.month_day or 1  # validated: the day form always has its day
    text = f"Day {day} of every month {at}" if n == 1 else f"Every {n} months on day {day} {at}"
    if day >= 29:  # February (and for the 31st, the 30-day months) has no such day
        text += f"; months without a {day}{'st' if day == 31 else 'th'} are skipped"
    return text


def occurrences(
    rule: str,
    *,
    start_time: dt.time,
    duration_minutes: int,
    tz: str,
    start: dt.date,
    end: dt.date,
    since: dt.date | None = None,
) -> list[Occurrence]:
    """Return (starts_at, ends_at) in UTC for every occurrence with local date in [start, end);
    with ``since``, only those with local date in [since, end), of the rule still anchored at
    ``start`` (a rule whose dates do not depend on its anchor is expanded from ``since``
    only, so a term planned from a day late in it does not go through all its earlier dates)."""
    if end < start:
        raise RecurrenceError("The end date must not be before the start date.")
    return list(_iter_occurrences(rule, start_time, duration_minutes, tz, start, end, since))


def next_occurrences(
    rule: str,
    *,
    start_time: dt.time,
    duration_minutes: int,
    tz: str,
    after: dt.date,
    count: int = 6,
) -> list[Occurrence]:
    """Return the first `count` occurrences on or after local date `after` (within 5 years)."""
    if count < 0:
        raise RecurrenceError("The number of dates must not be negative.")
    end = _add_years(after, _NEXT_SEARCH_YEARS)
    found = _iter_occurrences(rule, start_time, duration_minutes, tz, after, end)
    return list(islice(found, count))


def validate_rule(
    rule: str, *, start_time: dt.time, duration_minutes: int, tz: str, start: dt.date
) -> None:
    """Raise RecurrenceError unless the rule parses and has a date in the year from `start`."""
    end = _add_years(start, 1)
    found = _iter_occurrences(rule, start_time, duration_minutes, tz, start, end)
    if next(found, None) is None:
        raise RecurrenceError(
            f"This schedule has no date in the year from {start.isoformat()}; "
            "check the day and month settings."
        )


def local_to_utc(day: dt.date, time: dt.time, zone) -> dt.datetime:
    """A local date and time in `zone` (a ZoneInfo) as UTC. fold=0, as for occurrences: a time
    skipped by a daylight-saving change moves forward, a repeated one is the first."""
    return dt.datetime.combine(day, time).replace(tzinfo=zone).astimezone(dt.UTC)


def to_local(dt_utc: dt.datetime, tz: str) -> dt.datetime:
    """Convert an aware datetime (normally UTC) to an aware datetime in zone `tz`."""
    if dt_utc.tzinfo is None:
        raise RecurrenceError("The date and time must include a time zone.")
    return dt_utc.astimezone(_zone(tz))


def _validated(parts: RuleParts) -> RuleParts:
    """Check form parts and return them with weekdays de-duplicated in Monday-first order."""
    if parts.frequency not in FREQUENCIES:
        raise RecurrenceError("Choose how often the visit repeats: weekly or monthly.")
    if not _is_int(parts.interval) or parts.interval < 1:
        raise RecurrenceError("The repeat interval must be a whole number of 1 or more.")
    for day in parts.weekdays:
        if day not in WEEKDAYS:
            raise RecurrenceError(f"Unknown day of the week: {day!r}.")
    # Sorting keeps the rule string and the description stable whatever order was ticked.
    weekdays = tuple(sorted(set(parts.weekdays), key=WEEKDAYS.index))
    if parts.frequency == "weekly":
        if not weekdays:
            raise RecurrenceError("Choose at least one day of the week.")
        if parts.ordinal is not None or parts.month_day is not None:
            raise RecurrenceError("A weekly schedule cannot also set a week or day of the month.")
    else:
        by_weekday = parts.ordinal is not None or bool(weekdays)
        if by_weekday and parts.month_day is not None:
            raise RecurrenceError("Choose either a day of the month or a weekday, not both.")
        if not by_weekday and parts.month_day is None:
            raise RecurrenceError("Choose a day of the month or a weekday, e.g. the third Monday.")
        if by_weekday:
            if parts.ordinal not in ORDINALS or not _is_int(parts.ordinal):
                raise RecurrenceError("Choose first, second, third, fourth or last.")
            if len(weekdays) != 1:
                raise RecurrenceError("Choose exactly one weekday for a monthly schedule.")
        elif (
            parts.month_day is None
            or not _is_int(parts.month_day)
            or not 1 <= parts.month_day <= 31
        ):
            raise RecurrenceError("The day of the month must be between 1 and 31.")
    return RuleParts(parts.frequency, parts.interval, weekdays, parts.ordinal, parts.month_day)


def _fields(rule: str) -> dict[str, str]:
    """Split a one-line RRULE into upper-cased KEY -> value, rejecting malformed text."""
    if not isinstance(rule, str) or not rule.strip():
        raise RecurrenceError("The schedule is empty.")
    text = rule.strip().upper().removeprefix("RRULE:")
    # A colon or line break means DTSTART/EXDATE lines or other iCalendar content.
    if ":" in text or "\n" in text or "\r" in text:
        raise RecurrenceError("The schedule must be a single repeat rule.")
    fields: dict[str, str] = {}
    for item in text.split(";"):
        key, sep, value = item.partition("=")
        if not sep or not key or not value or key in fields:
            raise RecurrenceError("The schedule could not be understood.")
        fields[key] = value
    return fields


def _compile(rule: str, dtstart: dt.datetime) -> rrule | rruleset:
    """Build a dateutil rrule anchored at a naive local dtstart from any supported RRULE."""
    if not isinstance(rule, str):  # (not a key of the cache) reported as _fields does
        raise RecurrenceError("The schedule is empty.")
    return _compiled(rule, dtstart)


@lru_cache(maxsize=4096)
def _compiled(rule: str, dtstart: dt.datetime) -> rrule | rruleset:
    """``_compile``, cached: an import or a planning run compiles the same few rules for many
    terms that start on the same days (parsing the text each time was a large part of it). A
    compiled rule is only iterated (each time from its start), never changed, so sharing it is
    safe; a rule that fails raises again each time (errors are not cached)."""
    fields = _fields(rule)
    if fields.get("FREQ") not in _GENERAL_FREQS:
        raise RecurrenceError("The schedule must repeat daily, weekly, monthly or yearly.")
    if any(key in fields for key in _FORBIDDEN_KEYS):
        raise RecurrenceError("The schedule must not set its own times or start date.")
    # dateutil misbehaves on INTERVAL=0 (a confusing date error), so check it ourselves.
    if _parse_int(fields.get("INTERVAL", "1"), "repeat interval") < 1:
        raise RecurrenceError("The repeat interval must be a whole number of 1 or more.")
    try:
        return rrulestr(";".join(f"{k}={v}" for k, v in fields.items()), dtstart=dtstart)
    except (ValueError, TypeError) as exc:
        raise RecurrenceError("The schedule could not be understood.") from exc


# The parts of a rule that give its dates by themselves; without any of them dateutil takes the
# day (weekday, day of the month) from the anchor.
_DAY_KEYS = ("BYDAY", "BYWEEKDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYEASTER")


@lru_cache(maxsize=1024)
def _free_of_anchor(rule: str) -> bool:
    """Whether a (valid) rule has the same dates from any later anchor on: every period (no
    INTERVAL over 1), no COUNT from the anchor, no BYSETPOS (dateutil takes a first weekly
    period from the anchor's day) and its days named, not taken from the anchor. Expanding it
    from a later day gives the same dates from that day on."""
    fields = _fields(rule)
    return (
        int(fields.get("INTERVAL", "1")) == 1
        and "COUNT" not in fields
        and "BYSETPOS" not in fields
        and (fields["FREQ"] == "DAILY" or any(key in fields for key in _DAY_KEYS))
    )


def _iter_occurrences(
    rule: str,
    start_time: dt.time,
    duration_minutes: int,
    tz: str,
    start: dt.date,
    end: dt.date,
    since: dt.date | None = None,
) -> Iterator[Occurrence]:
    """Check every input now, then lazily yield UTC (starts_at, ends_at) for [start, end), or
    [since, end) of the rule anchored at ``start``."""
    zone = _zone(tz)
    _check_duration(duration_minutes)
    if start_time.tzinfo is not None:
        raise RecurrenceError("The start time must be a local time without a time zone.")
    duration = dt.timedelta(minutes=duration_minutes)
    # Expanding in naive wall-clock time keeps 10:00 at 10:00 whatever the UTC offset.
    local_starts = _compile(rule, dt.datetime.combine(start, start_time))
    if since is not None and since > start and _free_of_anchor(rule):
        local_starts = _compile(rule, dt.datetime.combine(since, start_time))
    first = since or start

    def generate() -> Iterator[Occurrence]:
        for local in local_starts:
            if local.date() >= end:
                return
            if local.date() < first:
                continue
            # fold=0: a missing time (spring forward) uses the pre-gap offset, landing one
            # hour later in wall time; a repeated time (fall back) takes its first occurrence.
            starts_at = local.replace(tzinfo=zone).astimezone(dt.UTC)
            # Adding in UTC gives elapsed time; aware arithmetic in `zone` is wall time.
            yield starts_at, starts_at + duration

    # A generator body runs lazily, so the checks above live outside it to fail fast.
    return generate()


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        raise RecurrenceError(f"Unknown time zone: {tz!r}.") from exc


def _check_duration(duration_minutes: int) -> None:
    if not _is_int(duration_minutes) or duration_minutes <= 0:
        raise RecurrenceError("The duration must be a whole number of minutes greater than 0.")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_int(text: str, what: str) -> int:
    # Stricter than int(), which would also accept "1_0", " 3" and non-ASCII digits.
    if not re.fullmatch(r"[+-]?[0-9]{1,4}", text):
        raise RecurrenceError(f"The {what} in this schedule is not a valid number.")
    return int(text)


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year + years, day=28)


def _duration_text(minutes: int) -> str:
    hours, mins = divmod(minutes, 60)
    pieces = [f"{hours} hour{'s' * (hours != 1)}"] if hours else []
    if mins:
        pieces.append(f"{mins} minute{'s' * (mins != 1)}")
    return " ".join(pieces)


def _join_names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

"""A technician is never double-booked.

Two visits clash when their half-open intervals [start, end) overlap and neither is cancelled,
whatever customer they are for; visits that only touch (10:00–12:00 and 12:00–13:00) do not
clash. When a move or an assignment would clash, `alternatives()` proposes conflict-free slots:
the same day at another hour, the next business day at the same time, or another technician.
"""

import datetime as dt
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError

from .business_days import holiday_dates, is_business_day
from .models import Visit, technicians

# Alternatives at another hour stay inside the working day, on the half hour.
WORKDAY_START = dt.time(8, 0)
WORKDAY_END = dt.time(18, 0)
STEP = dt.timedelta(minutes=30)
SAME_DAY_CHOICES = 2
OTHER_TECHNICIAN_CHOICES = 3
NEXT_DAY_SEARCH_DAYS = 14


class VisitConflict(ValidationError):
    """A change would double-book a technician; `clashes` are the visits in the way."""

    def __init__(self, technician, clashes):
        self.technician = technician
        self.clashes = list(clashes)
        names = "; ".join(
            f"{visit.agreement.customer} {visit.local_label}" for visit in self.clashes
        )
        super().__init__(f"{technician} is already booked at that time: {names}.")


@dataclass(frozen=True)
class Slot:
    """A proposed conflict-free time and technician for a visit."""

    label: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    technician: object  # a User
    tz: str

    @property
    def local_start(self):
        return self.starts_at.astimezone(ZoneInfo(self.tz))

    @property
    def local_end(self):
        return self.ends_at.astimezone(ZoneInfo(self.tz))

    def form_data(self) -> dict:
        """What the move form takes to book this slot (local date and times, technician id)."""
        return {
            "date": self.local_start.date().isoformat(),
            "start_time": f"{self.local_start:%H:%M}",
            "end_time": f"{self.local_end:%H:%M}",
            "technician": self.technician.pk if self.technician else "",
        }


def find_clashes(technician, starts_at, ends_at, *, exclude=None) -> list[Visit]:
    """The technician's non-cancelled visits overlapping [starts_at, ends_at) (one query)."""
    if technician is None:
        return []
    visits = Visit.objects.active().filter(technician=technician).overlapping(starts_at, ends_at)
    if exclude is not None:
        visits = visits.exclude(pk=exclude.pk)
    return list(visits.for_display())


def split_clashes(candidates, busy) -> set:
    """Keys of the candidates that clash, for one technician.

    candidates: [(key, starts_at, ends_at)] to book; busy: [(starts_at, ends_at)] already booked.
    Candidates are booked in start order, so a candidate also blocks later ones it overlaps.
    Pure and O(n log n): planning runs it over a whole term of visits at once.
    """
    busy = sorted(busy)
    busy_starts = [start for start, _ in busy]
    # reach[i]: the latest end among busy[0..i]; a candidate [s, e) clashes with something
    # already booked iff some busy interval starting before e ends after s.
    reach = list(accumulate((end for _, end in busy), max))
    clashing, booked_until = set(), None
    for key, start, end in sorted(candidates, key=lambda item: item[1]):
        index = bisect_left(busy_starts, end)
        if (index and reach[index - 1] > start) or (booked_until and booked_until > start):
            clashing.add(key)
            continue
        booked_until = end if booked_until is None else max(booked_until, end)
    return clashing


def _free(busy, starts_at, ends_at) -> bool:
    return not any(start < ends_at and starts_at < end for start, end in busy)


def _at(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    # Same convention as recurrence.occurrences: fold=0, a missing time moves forward.
    return dt.datetime.combine(day, time).replace(tzinfo=zone).astimezone(dt.UTC)


def alternatives(visit, *, starts_at, ends_at, technician, now) -> list[Slot]:
    """Conflict-free slots near the requested one, best first (a few queries, whatever the size)."""
    tz_name = visit.agreement.time_zone
    zone = ZoneInfo(tz_name)
    duration = ends_at - starts_at
    local = starts_at.astimezone(zone)
    day, at = local.date(), local.time().replace(tzinfo=None)
    slots = []
    if technician is not None:
        horizon = starts_at + dt.timedelta(days=NEXT_DAY_SEARCH_DAYS + 2)
        busy = list(
            Visit.objects.active()
            .filter(technician=technician)
            .overlapping(starts_at - dt.timedelta(days=1), horizon)
            .exclude(pk=visit.pk)
            .values_list("starts_at", "ends_at")
        )
        holidays = set(holiday_dates(day, day + dt.timedelta(days=NEXT_DAY_SEARCH_DAYS + 2)))
        slots += _same_day(day, at, duration, zone, busy, now, technician, tz_name)
        slots += _next_business_day(
            day, at, duration, zone, busy, holidays, now, technician, tz_name
        )
    if starts_at > now:
        slots += _other_technicians(starts_at, ends_at, technician, visit, tz_name)
    return slots


def _same_day(day, at, duration, zone, busy, now, technician, tz_name):
    found = []
    cursor = dt.datetime.combine(day, WORKDAY_START)
    last = dt.datetime.combine(day, WORKDAY_END) - duration
    requested = dt.datetime.combine(day, at)
    while cursor <= last:
        if cursor != requested:
            found.append(cursor)
        cursor += STEP
    found.sort(key=lambda start: (abs(start - requested), start))
    slots = []
    for local_start in found:
        start = _at(day, local_start.time(), zone)
        end = start + duration
        if start > now and _free(busy, start, end):
            label = f"Same day at {local_start:%H:%M}–{(local_start + duration):%H:%M}"
            slots.append(Slot(label, start, end, technician, tz_name))
            if len(slots) == SAME_DAY_CHOICES:
                break
    return slots


def _next_business_day(day, at, duration, zone, busy, holidays, now, technician, tz_name):
    candidate = day
    for _ in range(NEXT_DAY_SEARCH_DAYS):
        candidate += dt.timedelta(days=1)
        if not is_business_day(candidate, holidays):
            continue
        start = _at(candidate, at, zone)
        end = start + duration
        if start > now and _free(busy, start, end):
            label = (
                f"{candidate:%a %b %-d} at {at:%H:%M} (next business day with {technician} free)"
            )
            return [Slot(label, start, end, technician, tz_name)]
    return []


def _other_technicians(starts_at, ends_at, technician, visit, tz_name):
    people = technicians()
    if technician is not None:
        people = people.exclude(pk=technician.pk)
    people = list(people)
    busy = set(
        Visit.objects.active()
        .filter(technician__in=people)
        .overlapping(starts_at, ends_at)
        .exclude(pk=visit.pk)
        .values_list("technician_id", flat=True)
    )
    free = [person for person in people if person.pk not in busy][:OTHER_TECHNICIAN_CHOICES]
    return [
        Slot(f"{person} at the requested time", starts_at, ends_at, person, tz_name)
        for person in free
    ]

"""The calendar pages' days: how many visits each day holds and the first few of them, read from
the database in a fixed number of queries, and the month grid, week and day that lay them out.

Each visit lands on its local date in its own zone (its agreement's, the zone ``Visit.tz`` shows
its times in), so a staff calendar mixing customers in several zones still shows every visit on
the day the customer sees it. The database does that work, so a page reads what it shows and no
more (issue 14: a December month of every technician read and rendered 20 MB):

1. the number of visits of each local date in each zone: one grouped query, each visit (or
   each stored 15-minute count, ``VisitCount``, when they hold the calendar's visits:
   ``Counted``) dated on its own zone's clock (``LocalDate``); it names the zones present;
2. the first ``shown`` visits of each local date, with their customer, line and technician
   (``pk IN`` a subquery of their ids): on PostgreSQL one ``UNION ALL`` of a small
   ``ORDER BY starts_at LIMIT shown`` per day and zone that has visits (each an index range
   scan that stops early), the first ``shown`` of each date among the zones' kept in Python
   (merged by local time); on SQLite, which cannot slice the parts of a union, a
   ``ROW_NUMBER()`` window partitioned by the local date and filtered on.

Both forms of 2 keep the visits between each zone's own local midnights (a range on
``starts_at`` per zone); on SQLite the local date and time are a ``CASE`` over the zones found
in 1 (``TruncDate``/``TruncTime`` in each zone). So the number of queries is two whatever the
number of visits, days or zones (only the first when the range holds no visit), and the rows
read are one count per day and zone, and at most ``shown`` visits per day (and zone, on
PostgreSQL).
"""

import calendar
import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateField,
    F,
    Func,
    IntegerField,
    Q,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber, TruncDate, TruncTime

from allora.statements import Read
from allora.validation import date_in_range, query_date

from .models import VisitCount, listed_visits

WEEK_STARTS_ON = calendar.SUNDAY  # as US wall calendars do
ONE_DAY = dt.timedelta(days=1)
# UTC bounds are widened by this much so that every zone's local day is covered.
_ZONE_MARGIN = dt.timedelta(days=1)

# Visits listed per day: a month's cell, a week's day (7 × 25 stays under a page of 200), a day.
# Past it a day shows "+N more" (a link to its day view) or, on the day view, asks for a filter.
MONTH_SHOWN = 3
WEEK_SHOWN = 25
DAY_SHOWN = 200

VIEWS = ("month", "week", "day")


@dataclass
class Day:
    date: dt.date
    in_month: bool
    is_today: bool
    visits: list = field(default_factory=list)
    count: int = 0

    @property
    def more(self) -> int:
        """The visits of the day that are counted but not listed."""
        return self.count - len(self.visits)

    # The labels of the month grid's 42 days and of the week's 7, here rather than template
    # `date` filters (a fifth of the month's rendering).
    @property
    def iso(self) -> str:
        """E.g. "2027-03-09", for links and data-date."""
        return self.date.isoformat()

    @property
    def weekday_month(self) -> str:
        """E.g. "Tue, Mar", before the day's number in the phone's list of days."""
        return self.date.strftime("%a, %b")

    @property
    def month_day(self) -> str:
        """E.g. "March 9"."""
        return f"{self.date:%B} {self.date.day}"

    @property
    def long_date(self) -> str:
        """E.g. "Tuesday, March 9", the heading of a day in the week and day views."""
        return f"{self.date:%A, %B} {self.date.day}"


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


def parse_view(text: str) -> str:
    """ "month", "week" or "day"; the month for anything else."""
    return text if text in VIEWS else "month"


def month_days(first: dt.date) -> list[list[dt.date]]:
    return calendar.Calendar(WEEK_STARTS_ON).monthdatescalendar(first.year, first.month)


def week_of(day: dt.date) -> list[dt.date]:
    """The seven days (Sunday first) of the week that holds `day`."""
    start = day - dt.timedelta(days=(day.weekday() + 1) % 7)
    return [start + dt.timedelta(days=n) for n in range(7)]


def utc_bounds(days: list[dt.date]) -> tuple[dt.datetime, dt.datetime]:
    """A UTC range that holds every visit whose local date is one of `days`, in any zone."""
    start = dt.datetime.combine(days[0], dt.time.min, tzinfo=dt.UTC) - _ZONE_MARGIN
    end = dt.datetime.combine(days[-1] + ONE_DAY, dt.time.min, tzinfo=dt.UTC) + _ZONE_MARGIN
    return start, end


def _in_zones(zones, trunc, *, single: bool):
    """``trunc`` ("starts_at" as a date or a time) in each visit's own zone."""
    if single:
        return trunc("starts_at", tzinfo=ZoneInfo(zones[0]))
    return Case(
        *[
            When(agreement__time_zone=zone, then=trunc("starts_at", tzinfo=ZoneInfo(zone)))
            for zone in zones
        ]
    )


def _in_zone(zone, *, single: bool) -> Q:
    return Q() if single else Q(agreement__time_zone=zone)


def _local_range(zones, days, *, single: bool) -> Q:
    """Visits from the first local midnight of `days` to the one after the last, in their own
    zone: a plain range on "starts_at" per zone (the index serves it; no CASE per row)."""
    found = Q()
    for zone in zones:
        tz = ZoneInfo(zone)
        start = dt.datetime.combine(days[0], dt.time.min, tzinfo=tz)
        end = dt.datetime.combine(days[-1] + ONE_DAY, dt.time.min, tzinfo=tz)
        found |= _in_zone(zone, single=single) & Q(starts_at__gte=start, starts_at__lt=end)
    return found


class LocalDate(Func):
    """The date of a datetime (a UTC instant) on the wall clock of the zone that a second
    expression names, row by row: what ``TruncDate(tzinfo=…)`` gives for one zone known in
    advance, with Django's own means on each backend (PostgreSQL's ``AT TIME ZONE``; on SQLite
    the function Django registers for ``TruncDate``)."""

    output_field = DateField()
    arity = 2

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="(%(expressions)s)::date", arg_joiner=" AT TIME ZONE "
        )

    def as_sqlite(self, compiler, connection, **extra):
        # (datetime, its zone, the connection's zone): see TruncDate on SQLite.
        in_zone = Func(
            *self.get_source_expressions(),
            Value(connection.timezone_name),
            function="django_datetime_cast_date",
            output_field=DateField(),
        )
        return in_zone.as_sql(compiler, connection)


@dataclass(frozen=True)
class Counted:
    """Which stored counts (``VisitCount``) hold the calendar's visits: every technician's
    (``technician=None``), one technician's (their id) or the unassigned visits' (0). A calendar
    filtered otherwise (a customer, the portal) counts its visits live."""

    technician: int | None = None


def visits_by_day(
    visits,
    days: list[dt.date],
    *,
    shown: int,
    counted: Counted | None = None,
    instances: bool = False,
) -> dict[dt.date, tuple[int, list]]:
    """For each local date of `days` (consecutive, in order) that has active visits: how many,
    and the first `shown` of them by local time, as list rows (``ListedVisit``) or, with
    `instances`, as visits with their customer, line and technician (a technician's own
    schedule shows the address and checklist). `counted` says which stored counts equal
    `visits`' active ones (None: count them live)."""
    start, end = utc_bounds(days)
    in_range = visits.active().filter(starts_at__gte=start, starts_at__lt=end).order_by()
    # The zones of the range, the count of each local date and the (zone, local date) that
    # have visits (no part of the union for the others).
    if counted is not None:
        zones, counts, busy = _stored_counts(counted, days, start, end)
    else:
        zones, counts, busy = _live_counts(in_range, days)
    single = len(zones) == 1  # every visit of the range is in it: no join needed
    if not counts:
        return {}
    # The first `shown` of each local date in each zone (their ids, a subquery), read with
    # what the page shows; the earliest `shown` of each date among them kept.
    if connection.features.supports_slicing_ordering_in_compound:
        firsts = _firsts_per_local_day(in_range, zones, days, shown=shown, single=single, busy=busy)
    else:
        on_days = _on_days(in_range, zones, days, single=single)
        at_time = _in_zones(zones, TruncTime, single=single)
        firsts = _firsts_by_window(on_days.annotate(at_time=at_time), shown=shown)
    chosen = visits.model.objects.filter(pk__in=firsts)
    rows = chosen.for_display() if instances else listed_visits(chosen.listed())
    found: dict[dt.date, tuple[int, list]] = {day: (count, []) for day, count in counts.items()}
    for day, first in _earliest(rows, shown).items():
        # A visit moved onto another day since the counts were read still shows (no KeyError).
        found[day] = (max(counts.get(day, 0), len(first)), first)
    return found


def _earliest(visits, shown: int) -> dict[dt.date, list]:
    """The first `shown` of `visits` of each local date, by local time (then by instant and
    id: a fixed order)."""
    kept: dict[dt.date, list] = {}
    for visit in sorted(
        visits, key=lambda visit: (visit.local_start.time(), visit.local_start, visit.pk)
    ):
        day = kept.setdefault(visit.local_start.date(), [])
        if len(day) < shown:
            day.append(visit)
    return kept


def _live_counts(in_range, days) -> tuple[list[str], dict, set]:
    """``_per_day`` of the range's visits, counted (a grouped ``COUNT``) by their agreement's
    zone and their date on its clock."""
    rows = (
        in_range.annotate(on_date=LocalDate("starts_at", "agreement__time_zone"))
        .values_list("agreement__time_zone", "on_date")
        .annotate(count=Count("pk"))
    )
    return _per_day(rows, days)


def _on_days(in_range, zones, days, *, single: bool):
    """The range's visits between their zone's local midnights, with their local date."""
    return in_range.filter(_local_range(zones, days, single=single)).annotate(
        on_date=_in_zones(zones, TruncDate, single=single)
    )


def _stored_count_rows(start, end, technician=None):
    """(zone, local date, visits) of the stored 15-minute counts of [start, end), every
    technician's or one's, each bucket on its zone's clock."""
    rows = VisitCount.objects.filter(bucket__gte=start, bucket__lt=end, visits__gt=0).order_by()
    if technician is not None:
        rows = rows.filter(technician=technician)
    return (
        rows.annotate(on_date=LocalDate("bucket", "time_zone"))
        .values_list("time_zone", "on_date")
        .annotate(count=Sum("visits"))
    )


# Each calendar's first read, compiled once (allora/statements.py): every technician's counts,
# or one technician's (0: the unassigned visits').
_STORED_COUNTS = Read(_stored_count_rows, start=dt.datetime, end=dt.datetime)
_STORED_COUNTS_OF = Read(_stored_count_rows, start=dt.datetime, end=dt.datetime, technician=int)


def _stored_counts(counted: Counted, days, start, end) -> tuple[list[str], dict, set]:
    """``_per_day`` summed from the stored 15-minute counts (a few rows per day and zone)
    instead of counting the visits."""
    if counted.technician is None:
        rows = _STORED_COUNTS.run(start=start, end=end)
    else:
        rows = _STORED_COUNTS_OF.run(start=start, end=end, technician=counted.technician)
    return _per_day(rows, days)


def _per_day(rows, days) -> tuple[list[str], dict, set]:
    """From (zone, local date, count) rows of the UTC range, a day wider than `days` on each
    side (``utc_bounds``), read in one grouped query: the zones of the range, the count of each
    local date of `days` and the (zone, local date) of `days` that have visits."""
    zones, busy = set(), set()
    counts: dict[dt.date, int] = {}
    for zone, date, count in rows:
        zones.add(zone)
        if days[0] <= date <= days[-1]:
            counts[date] = counts.get(date, 0) + count
            busy.add((zone, date))
    return sorted(zones), counts, busy


def _firsts_by_window(on_days, *, shown: int):
    """The ids of the first `shown` visits of each local date (a subquery): one
    ``ROW_NUMBER()`` window partitioned by the local date (SQLite, which cannot slice the parts
    of a UNION)."""
    order = [F("at_time").asc(), F("starts_at").asc(), F("pk").asc()]
    return (
        on_days.annotate(day_rank=Window(RowNumber(), partition_by=[F("on_date")], order_by=order))
        .filter(day_rank__lte=shown)
        .values("pk")
    )


# Stand-ins for a day's bounds in the one compiled part of a zone (see _firsts_per_local_day).
_DAY_START = dt.datetime(1, 1, 2, 0, 0, 1, tzinfo=dt.UTC)
_DAY_END = dt.datetime(1, 1, 2, 0, 0, 2, tzinfo=dt.UTC)


def _firsts_per_local_day(
    in_range, zones, days, *, shown: int, single: bool, busy: set
) -> RawSQL | list:
    """The ids of the first `shown` visits of each local date in each zone (a subquery): a
    UNION ALL of one small ``ORDER BY starts_at LIMIT shown`` per day and zone (PostgreSQL),
    each an index range scan that stops after `shown` rows, instead of numbering every visit of
    the month (a December of 60,000 visits: 450 ms → a few ms). The zones' firsts of a day are
    merged by local time once read (``visits_by_day``). An empty list when no day needs one.

    Each zone's part is compiled once, with stand-in bounds, and repeated with each day's bounds
    as its parameters: compiling the 42 parts of a month (a queryset ``union``) took longer than
    running them. `busy` names the (zone, local date) that have visits (`_per_day`): the
    others need no part."""
    parts, params = [], []
    for zone in zones:
        tz = ZoneInfo(zone)
        part = (
            in_range.filter(
                _in_zone(zone, single=single), starts_at__gte=_DAY_START, starts_at__lt=_DAY_END
            )
            .order_by("starts_at", "pk")
            .values_list("pk")[:shown]
        )
        sql, part_params = part.query.sql_with_params()
        for n in range((days[-1] - days[0]).days + 1):
            day = days[0] + n * ONE_DAY
            if (zone, day) not in busy:
                continue
            bounds = {
                _DAY_START: dt.datetime.combine(day, dt.time.min, tzinfo=tz),
                _DAY_END: dt.datetime.combine(day + ONE_DAY, dt.time.min, tzinfo=tz),
            }
            parts.append(f"({sql})")
            params += [bounds.get(param, param) for param in part_params]
    if not parts:
        return []
    # The ORM's own SQL for each part, the values all parameters.
    return RawSQL(" UNION ALL ".join(parts), params, output_field=IntegerField())  # noqa: S611


def _day(date, found, *, today, in_month=True) -> Day:
    count, visits = found.get(date, (0, []))
    return Day(date, in_month, date == today, visits, count)


def month_grid(
    first: dt.date,
    visits,
    *,
    today: dt.date,
    shown: int = MONTH_SHOWN,
    counted: Counted | None = None,
) -> Month:
    """The weeks of the month starting on `first`, each day with its count and first visits."""
    weeks = month_days(first)
    found = visits_by_day(visits, [weeks[0][0], weeks[-1][-1]], shown=shown, counted=counted)
    return Month(
        first,
        [
            [_day(day, found, today=today, in_month=day.month == first.month) for day in week]
            for week in weeks
        ],
    )


def day_list(
    days: list[dt.date],
    visits,
    *,
    today: dt.date,
    shown: int,
    counted: Counted | None = None,
    instances: bool = False,
) -> list[Day]:
    """The consecutive `days` (a week, or one day), each with its count and first visits
    (``visits_by_day``)."""
    found = visits_by_day(visits, days, shown=shown, counted=counted, instances=instances)
    return [_day(day, found, today=today) for day in days]

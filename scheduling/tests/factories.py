"""Terms with scheduled lines, and visits, built directly for planning tests (no signing)."""

import datetime as dt
import itertools
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from agreements.models import Agreement, ServiceKind, Term
from agreements.tests.factories import AgreementFactory, ServiceLineFactory, VersionFactory
from scheduling.models import Visit

NY = "America/New_York"
UTC = dt.UTC

THIRD_WEDNESDAY = {}  # the line factory's default: FREQ=MONTHLY;BYDAY=+3WE at 10:00 for 2 hours
EVERY_TUESDAY = {
    "kind": ServiceKind.PRESCHEDULED,
    "hours_per_visit": None,
    "hours_per_month": D("8.00"),
    "rrule": "FREQ=WEEKLY;BYDAY=TU",
    "start_time": dt.time(9, 0),
    "duration_minutes": 120,
    "schedule_text": "Every Tuesday at 09:00 for 2 hours",
    "checklist": [],
}
HOSTING = {
    "kind": ServiceKind.HOSTING,
    "hours_per_visit": None,
    "rrule": "",
    "start_time": None,
    "duration_minutes": None,
    "schedule_text": "",
    "checklist": [],
    "package_name": "Website hosting",
}


def make_term(*, customer=None, start=dt.date(2027, 1, 1), lines=(THIRD_WEDNESDAY,), tz=NY):
    """An active agreement whose term 1 [start, start + 1 year) applies the given lines."""
    fields = {"customer": customer} if customer else {}
    agreement = AgreementFactory(time_zone=tz, status=Agreement.Status.ACTIVE, **fields)
    version = VersionFactory(agreement=agreement)
    for position, line in enumerate(lines):
        ServiceLineFactory(version=version, position=position, **line)
    return Term.objects.create(
        agreement=agreement,
        number=1,
        start=start,
        end=start + relativedelta(years=1),
        locked_rates={},
        version=version,
    )


def local(day, hour, minute=0, tz=NY):
    """An aware datetime at a wall-clock time in `tz`."""
    return dt.datetime.combine(day, dt.time(hour, minute)).replace(tzinfo=ZoneInfo(tz))


_HAND_PLACED = itertools.count(100)


def _hand_placed(term, line, starts_at, ends_at, **fields):
    """An unsaved visit with a series of its own, so it never collides with planned ones."""
    return Visit(
        agreement=term.agreement,
        term=term,
        line=line,
        series=next(_HAND_PLACED) % 30000,
        occurrence_start=starts_at,
        starts_at=starts_at,
        ends_at=ends_at,
        **fields,
    )


def _scheduled_line(term):
    return term.version.lines.filter(rrule__gt="").first()


def make_visit(term, starts_at, ends_at, *, technician=None, **fields):
    """A visit placed by hand (a series of its own, so it never collides with planned ones)."""
    visit = _hand_placed(
        term, _scheduled_line(term), starts_at, ends_at, technician=technician, **fields
    )
    visit.save()
    return visit


def visits_on(term, day, count, *, hour=8, technician=None):
    """`count` visits of `term` on the local `day`, two minutes apart from `hour`:00, 30 minutes
    long, in one query (a busy calendar day)."""
    line = _scheduled_line(term)
    first = local(day, hour, tz=term.agreement.time_zone)
    starts = [first + dt.timedelta(minutes=2 * n) for n in range(count)]
    half_hour = dt.timedelta(minutes=30)
    return Visit.objects.bulk_create(
        _hand_placed(term, line, start, start + half_hour, technician=technician)
        for start in starts
    )

"""The stored visit counts (``VisitCount``, kept by database triggers) always equal the active
visits counted live, whatever writes the visits: planning (bulk_create), assigning and
resolving a line, moving, cancelling and deleting one visit, cancelling an agreement's future
visits and other bulk updates, raw SQL, and a change of an agreement's zone (issue 14)."""

import contextlib
import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allora.tests.factories import UserFactory
from scheduling import calendars, planning
from scheduling.apps import recount_visits_on_sqlite
from scheduling.conflicts import VisitConflict
from scheduling.models import Visit, VisitCount
from scheduling.tests.factories import EVERY_TUESDAY, THIRD_WEDNESDAY, make_term

TODAY = dt.date(2027, 1, 1)
NOW = dt.datetime(2027, 1, 1, 12, 0, tzinfo=dt.UTC)
# Zones with offsets of whole hours, half and three quarters of an hour, on both sides of UTC.
ZONES = ["America/New_York", "America/Los_Angeles", "Asia/Kolkata", "Asia/Kathmandu"]

ops = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "plan",
                "assign",
                "resolve",
                "move",
                "cancel",
                "delete",
                "end",
                "bulk",
                "raw",
                "zone",
            ]
        ),
        st.integers(min_value=0, max_value=10_000),
    ),
    min_size=1,
    max_size=8,
)


def live_counts() -> Counter:
    """(local date in the agreement's zone, technician or 0) → active visits, from the visits."""
    found = Counter()
    for starts_at, zone, technician in Visit.objects.active().values_list(
        "starts_at", "agreement__time_zone", "technician_id"
    ):
        found[starts_at.astimezone(ZoneInfo(zone)).date(), technician or 0] += 1
    return found


def stored_counts() -> Counter:
    found = Counter()
    for bucket, zone, technician, visits in VisitCount.objects.values_list(
        "bucket", "time_zone", "technician", "visits"
    ):
        assert visits >= 0
        found[bucket.astimezone(ZoneInfo(zone)).date(), technician] += visits
    return +found  # without the zeros


def _nth(queryset, n):
    count = queryset.count()
    return queryset.order_by("pk")[n % count] if count else None


def apply(op, n, *, terms, technicians, staff):
    term = terms[n % len(terms)]
    line = term.version.lines.order_by("position")[n % 2]
    technician = technicians[n % len(technicians)]
    visit = _nth(Visit.objects.filter(term__in=terms), n)
    if op == "plan":
        planning.plan_terms(terms[: 1 + n % len(terms)], today=TODAY)
    elif op == "assign":
        planning.assign_line(line, technician=technician, by=staff, today=TODAY)
    elif op == "resolve" and (waiting := planning.visits_to_resolve(line, today=TODAY)):
        planning.resolve_visits(
            line,
            [v.pk for v in waiting],
            technician=technician,
            start_time=dt.time(23, 45) if n % 2 else None,
            now=NOW,
            today=TODAY,
        )
    elif op == "move" and visit:
        # Any quarter of an hour up to two days away: across local midnights too.
        moved = dt.timedelta(minutes=15 * (n % 384 - 192))
        with contextlib.suppress(ValidationError, VisitConflict):
            planning.reschedule_visit(
                visit,
                starts_at=visit.starts_at + moved,
                ends_at=visit.ends_at + moved,
                technician=technician if n % 3 else None,
                now=NOW,
            )
    elif op == "cancel" and visit and visit.status != Visit.Status.CANCELLED:
        visit.cancel(now=NOW)
    elif op == "delete" and visit:
        Visit.objects.filter(pk=visit.pk).delete()
    elif op == "end":
        planning.cancel_future_visits(term.agreement, after=TODAY + dt.timedelta(days=n % 365))
    elif op == "bulk":
        moved = dt.timedelta(minutes=n % 120 - 60)
        Visit.objects.filter(term=term, pk__gt=visit.pk if visit else 0).update(
            starts_at=F("starts_at") + moved,
            ends_at=F("ends_at") + moved,
            technician=technician if n % 2 else None,
        )
    elif op == "raw":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE scheduling_visit SET status = %s WHERE term_id = %s AND id %% 3 = %s",
                ["scheduled" if n % 2 else "cancelled", term.pk, n % 3],
            )
    elif op == "zone":
        agreement = term.agreement
        agreement.time_zone = ZONES[n % len(ZONES)]
        agreement.save(update_fields=["time_zone"])


def _days(*, counted, **filters):
    days = [dt.date(2027, 2, 28), dt.date(2027, 4, 10)]
    found = calendars.visits_by_day(Visit.objects.filter(**filters), days, shown=2, counted=counted)
    return {day: (count, [visit.pk for visit in visits]) for day, (count, visits) in found.items()}


@pytest.mark.django_db
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops)
def test_stored_counts_equal_the_live_counts_after_any_writes(ops):
    with transaction.atomic():
        staff = UserFactory(email="lead@example.com")
        technicians = [UserFactory(email=f"tech{n}@example.com") for n in range(2)]
        terms = [
            make_term(tz=zone, start=TODAY, lines=(THIRD_WEDNESDAY, EVERY_TUESDAY))
            for zone in ZONES[:2]
        ]
        planning.plan_terms(terms[:1], today=TODAY)
        for op, n in ops:
            apply(op, n, terms=terms, technicians=technicians, staff=staff)
            assert stored_counts() == live_counts(), (op, n)
        # The calendar reads the same days (counts and first visits) from the stored counts as
        # it does counting live.
        assert _days(counted=calendars.Counted()) == _days(counted=None)
        one = technicians[0]
        assert _days(counted=calendars.Counted(technician=one.pk), technician=one) == _days(
            counted=None, technician=one
        )
        transaction.set_rollback(True)


def test_a_month_with_no_visits_reads_no_counts(db):
    assert (
        calendars.visits_by_day(
            Visit.objects.all(), [dt.date(2027, 3, 1)], shown=3, counted=calendars.Counted()
        )
        == {}
    )


@pytest.mark.django_db(transaction=True)
def test_a_flush_leaves_no_counts_whatever_the_order_of_the_tables(db):
    """SQLite flushes table by table in no fixed order: the counts are recounted after it
    (none left), and a recount puts counts that went wrong back in line with the visits."""
    planning.plan_terms([make_term(start=TODAY)], today=TODAY)
    VisitCount.objects.all().delete()  # the counts first, then the visits: below zero
    Visit.objects.filter(pk__in=Visit.objects.order_by("pk").values("pk")[:5]).delete()
    assert VisitCount.objects.filter(visits__lt=0).exists()
    recount_visits_on_sqlite()
    assert connection.vendor != "sqlite" or stored_counts() == live_counts()
    call_command("flush", interactive=False, verbosity=0)
    assert not VisitCount.objects.exists()

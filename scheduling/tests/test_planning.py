"""Planning a term's visits as rows: counts, wall-clock times, idempotence, holidays, changes."""

import datetime as dt
from collections import Counter
from decimal import Decimal as D

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agreements.tests.factories import signed_agreement
from billing.tests.factories import published_card
from scheduling.business_days import seed_holidays, us_federal_holidays
from scheduling.models import (
    Holiday,
    HolidayPolicy,
    LineAssignment,
    SchedulingSettings,
    Visit,
)
from scheduling.planning import (
    _new_visit,
    assign_line,
    cancel_future_visits,
    change_schedule,
    plan_term,
    plan_terms,
    segments,
)
from scheduling.tests.factories import EVERY_TUESDAY, HOSTING, UTC, local, make_term

pytestmark = pytest.mark.django_db


def test_activation_plans_every_scheduled_line_for_the_whole_term(customer_a, alice, admin):
    published_card()
    signed_at = dt.datetime(2027, 1, 4, 15, 0, tzinfo=UTC)
    version = signed_agreement(
        customer=customer_a, customer_user=alice, admin=admin, signed_at=signed_at, pdf=False
    )
    term = version.agreement.terms.get()

    kinds = Counter(term.visits.values_list("line__kind", flat=True))
    # Third Wednesdays Jan 20 … Dec 15, 2027: 12; Tuesdays Jan 5 … Dec 28, 2027 (Jan 4, 2028 is
    # the first day after the term): 52. Emergency Support and Hosting have no visits.
    assert kinds == {"maintenance": 12, "prescheduled": 52}
    assert term.start == dt.date(2027, 1, 4) and term.end == dt.date(2028, 1, 4)
    maintenance = term.visits.filter(line__kind="maintenance").first()
    assert maintenance.checklist[0] == {"item": "Inspections", "done": False}
    assert len(maintenance.checklist) == 5
    assert term.visits.filter(line__kind="prescheduled").first().checklist == []
    assert set(term.visits.values_list("status", flat=True)) == {"scheduled"}


def test_ten_oclock_stays_ten_oclock_across_both_dst_changes():
    term = make_term()

    assert plan_term(term) == 12
    visits = list(term.visits.order_by("starts_at"))
    for visit in visits:
        assert visit.local_start.time() == dt.time(10, 0)
        assert visit.local_end.time() == dt.time(12, 0)
    # EST (UTC−5) in February, EDT (UTC−4) in March … October, EST again in November.
    assert visits[1].starts_at == dt.datetime(2027, 2, 17, 15, 0, tzinfo=UTC)
    assert visits[2].starts_at == dt.datetime(2027, 3, 17, 14, 0, tzinfo=UTC)
    assert visits[9].starts_at == dt.datetime(2027, 10, 20, 14, 0, tzinfo=UTC)
    assert visits[10].starts_at == dt.datetime(2027, 11, 17, 15, 0, tzinfo=UTC)


def test_a_year_of_third_wednesdays_gives_12_visits_and_weekly_52_or_53():
    tuesdays = make_term(lines=[EVERY_TUESDAY])  # 2027 has 52 Tuesdays
    fridays = make_term(
        lines=[{**EVERY_TUESDAY, "rrule": "FREQ=WEEKLY;BYDAY=FR"}]
    )  # and 53 Fridays
    third_wednesday = make_term()

    assert plan_terms([tuesdays, fridays, third_wednesday]) == 52 + 53 + 12
    assert tuesdays.visits.count() == 52
    assert fridays.visits.count() == 53
    assert third_wednesday.visits.count() == 12


def test_a_rule_on_the_31st_skips_short_months():
    term = make_term(lines=[{"rrule": "FREQ=MONTHLY;BYMONTHDAY=31"}])

    plan_term(term)

    dates = [visit.local_start.date() for visit in term.visits.all()]
    assert [day.month for day in dates] == [1, 3, 5, 7, 8, 10, 12]
    assert all(day.day == 31 for day in dates)


def test_planning_twice_creates_nothing_twice():
    term = make_term(lines=[{}, EVERY_TUESDAY, HOSTING])

    assert plan_term(term) == 64
    assert plan_term(term) == 0
    assert plan_terms([term, term]) == 0
    assert term.visits.count() == 64


def test_planning_is_set_based_with_no_query_per_visit():
    small = [make_term()]
    large = [make_term(lines=[{}, EVERY_TUESDAY]) for _ in range(5)]

    with CaptureQueriesContext(connection) as few:
        plan_terms(small)
    with CaptureQueriesContext(connection) as many:
        plan_terms(large)

    assert Visit.objects.count() == 12 + 5 * 64

    def reads(context):
        # On PostgreSQL the visits go through a temporary table (`allora.batches.insert_new`).
        staging = ("INSERT", "CREATE TEMPORARY TABLE", "COPY", "DROP TABLE")
        return [q["sql"] for q in context.captured_queries if not q["sql"].startswith(staging)]

    def inserts(context):
        return [q["sql"] for q in context.captured_queries if q["sql"].startswith("INSERT")]

    # Savepoint, terms, lines, schedule changes, default technicians, existing keys, holidays,
    # settings, release: the same 9 for 1 term as for 5, for 12 visits as for 320.
    assert len(reads(few)) == len(reads(many)) == 9
    # Inserts are multi-row batches (SQLite allows ~999 parameters, so ~49 rows per batch).
    assert len(inserts(few)) == 1
    assert len(inserts(many)) <= 320 // 40


def test_terms_and_lines_in_memory_plan_the_same_visits_without_reading_them():
    # An import hands over the terms and lines it just wrote (in any order).
    terms = [make_term(lines=[{}, EVERY_TUESDAY, HOSTING]), make_term(start=dt.date(2027, 3, 1))]
    lines = [line for term in terms for line in term.version.lines.all()]

    def visits():
        return list(
            Visit.objects.order_by("pk").values_list(
                "term_id", "line_id", "series", "occurrence_start", "starts_at", "ends_at",
                "checklist", "flag", "note",
            )
        )  # fmt: skip

    with CaptureQueriesContext(connection) as given:
        created = plan_terms(terms[::-1], lines=lines[::-1])
    planned = visits()
    Visit.objects.all().delete()
    with CaptureQueriesContext(connection) as read:
        assert plan_terms(terms) == created == 64 + 12
    assert visits() == planned  # the same rows, written in the same order
    # Two reads fewer: the terms (with their agreements) and the lines.
    assert len(read.captured_queries) - len(given.captured_queries) == 2
    given_sql = " ".join(q["sql"] for q in given.captured_queries)
    assert '"agreements_term"' not in given_sql and '"agreements_serviceline"' not in given_sql


def test_a_new_visit_is_the_visit_django_builds_from_the_same_values():
    now = dt.datetime(2027, 1, 5, 15, tzinfo=UTC)
    values = {
        "agreement_id": 1, "term_id": 2, "line_id": 3, "series": 0, "occurrence_start": now,
        "starts_at": now, "ends_at": now, "technician_id": None,
        "checklist": [{"item": "Backups", "done": False}], "updated_at": now,
    }  # fmt: skip

    def fields(visit):
        return {f.attname: getattr(visit, f.attname) for f in Visit._meta.concrete_fields}

    built, django = _new_visit(**values), Visit(**values)
    assert fields(built) == fields(django)
    assert built._state.adding and built._state.db is None
    del values["checklist"]  # a default list is a new one for each visit
    first, second = _new_visit(**values), _new_visit(**values)
    assert first.checklist == second.checklist == [] and first.checklist is not second.checklist


def test_today_skips_occurrences_before_it():
    term = make_term()

    assert plan_term(term, today=dt.date(2027, 7, 1)) == 6
    assert min(v.local_start.date() for v in term.visits.all()) == dt.date(2027, 7, 21)
    # Planning the whole term later fills in the first half, once.
    assert plan_term(term) == 6


def test_a_visit_on_a_holiday_moves_to_the_next_business_day_at_the_same_time():
    seed_holidays([2027])
    term = make_term(lines=[{**EVERY_TUESDAY, "rrule": "FREQ=WEEKLY;BYDAY=FR"}])

    plan_term(term)

    # Christmas (observed) is Friday December 24: the visit goes to Monday December 27, 09:00.
    christmas = term.visits.get(occurrence_start=local(dt.date(2027, 12, 24), 9))
    assert christmas.local_start == local(dt.date(2027, 12, 27), 9)
    assert christmas.ends_at - christmas.starts_at == dt.timedelta(hours=2)
    assert "Christmas Day (observed)" in christmas.note
    # New Year's Day (observed), Friday Dec 31, moves past the term's end to Monday Jan 3, 2028.
    new_year = term.visits.get(occurrence_start=local(dt.date(2027, 12, 31), 9))
    assert new_year.local_start == local(dt.date(2028, 1, 3), 9)
    assert term.visits.count() == 53
    assert not term.visits.filter(flag=Visit.Flag.HOLIDAY).exists()


def test_with_the_flag_policy_a_holiday_visit_keeps_its_date_and_is_flagged():
    SchedulingSettings.objects.create(holiday_policy=HolidayPolicy.FLAG)
    Holiday.objects.create(date=dt.date(2027, 3, 17), name="Company offsite")
    term = make_term()

    plan_term(term)

    visit = term.visits.get(flag=Visit.Flag.HOLIDAY)
    assert visit.local_start == local(dt.date(2027, 3, 17), 10)
    assert visit.note == "Company offsite: staff to decide"


def test_seeding_us_federal_holidays_is_idempotent_and_keeps_admin_names():
    Holiday.objects.create(date=dt.date(2027, 11, 25), name="Thanksgiving (office closed)")

    added = seed_holidays([2027])

    assert added == len(us_federal_holidays([2027])) - 1
    assert seed_holidays([2027]) == 0
    assert Holiday.objects.get(date=dt.date(2027, 11, 25)).name == "Thanksgiving (office closed)"
    assert Holiday.objects.get(date=dt.date(2027, 7, 5)).name == "Independence Day (observed)"


def test_the_default_technician_gets_new_visits_unless_busy(staff):
    first = make_term()
    LineAssignment.objects.create(line=first.version.lines.get(), technician=staff)
    second = make_term()  # the same third Wednesdays, 10:00–12:00, another customer
    LineAssignment.objects.create(line=second.version.lines.get(), technician=staff)

    plan_term(first)
    plan_term(second)

    assert first.visits.filter(technician=staff).count() == 12
    # Never double-booked: the second customer's visits wait for another technician.
    assert second.visits.filter(technician__isnull=True, flag=Visit.Flag.CONFLICT).count() == 12


def test_assigning_a_line_reports_the_visits_that_would_clash(staff, admin):
    busy = make_term(lines=[EVERY_TUESDAY])  # Tuesdays 09:00–11:00
    plan_term(busy)
    busy.visits.filter(starts_at__month=3).update(technician=staff)
    term = make_term(lines=[{"rrule": "FREQ=MONTHLY;BYDAY=+3TU", "start_time": dt.time(10, 0)}])
    plan_term(term)
    line = term.version.lines.get()

    result = assign_line(line, technician=staff, by=admin, today=dt.date(2027, 1, 1))

    assert result.assigned == 11
    [(visit, in_the_way)] = result.clashing
    assert visit.local_start == local(dt.date(2027, 3, 16), 10)
    assert [v.local_start for v in in_the_way] == [local(dt.date(2027, 3, 16), 9)]
    visit.refresh_from_db()
    assert visit.technician is None and visit.flag == Visit.Flag.CONFLICT
    assert LineAssignment.objects.get(line=line).technician == staff


def test_touching_visits_do_not_block_an_assignment(staff, admin):
    busy = make_term(lines=[{**EVERY_TUESDAY, "rrule": "FREQ=MONTHLY;BYDAY=+3WE"}])  # 09:00–11:00
    plan_term(busy)
    busy.visits.update(technician=staff)
    term = make_term(lines=[{"start_time": dt.time(11, 0)}])  # third Wednesdays 11:00–13:00
    plan_term(term)

    result = assign_line(term.version.lines.get(), technician=staff, by=admin, today=term.start)

    assert result.assigned == 12 and result.clashing == []


def test_changing_the_rule_from_a_date_replans_only_future_open_visits(staff, admin):
    term = make_term()
    plan_term(term)
    line = term.version.lines.get()
    march = term.visits.get(starts_at__month=3)
    march.complete(
        done_items=[0],
        findings="ok",
        hours_worked=D("2"),
        by=staff,
        now=march.ends_at,
        today=dt.date(2027, 3, 17),
    )
    july = term.visits.get(starts_at__month=7)

    result = change_schedule(
        line,
        effective_from=dt.date(2027, 6, 1),
        rrule="FREQ=MONTHLY;BYDAY=+1MO",
        start_time=dt.time(14, 0),
        duration_minutes=90,
        schedule_text="The first Monday of every month at 14:00 for 1 hour 30 minutes",
        by=admin,
        today=dt.date(2027, 5, 20),
    )

    assert result.replaced == 7  # June … December
    assert result.created == 7  # first Mondays, June … December
    july.refresh_from_db()
    assert july.status == Visit.Status.CANCELLED and july.sequence == 1
    open_visits = list(term.visits.open().order_by("starts_at"))
    assert [v.local_start.date().month for v in open_visits] == [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert open_visits[4].local_start == local(dt.date(2027, 6, 7), 14)
    assert open_visits[4].ends_at - open_visits[4].starts_at == dt.timedelta(minutes=90)
    march.refresh_from_db()
    assert march.status == Visit.Status.COMPLETED and march.findings == "ok"
    # Planning again (e.g. the nightly catch-up) changes nothing.
    assert plan_term(term) == 0


def test_replanning_never_changes_completed_visits(staff, admin):
    term = make_term()
    plan_term(term)
    august = term.visits.get(starts_at__month=8)
    august.complete(
        done_items=[0, 1],
        findings="All good",
        hours_worked=D("1.5"),
        by=staff,
        now=august.ends_at,
        today=dt.date(2027, 8, 18),
    )
    before = Visit.objects.values().get(pk=august.pk)

    change_schedule(
        term.version.lines.get(),
        effective_from=dt.date(2027, 8, 1),
        rrule="FREQ=MONTHLY;BYDAY=+3WE",
        start_time=dt.time(13, 0),
        duration_minutes=60,
        schedule_text="The third Wednesday of every month at 13:00 for 1 hour",
        by=admin,
        today=dt.date(2027, 7, 1),
    )
    plan_term(term)

    assert Visit.objects.values().get(pk=august.pk) == before
    # The new series still plans its own August visit beside the completed one.
    assert term.visits.filter(series=1).count() == 5


def test_a_schedule_change_in_the_past_or_with_a_bad_rule_is_refused(admin):
    term = make_term()
    plan_term(term)
    line = term.version.lines.get()
    common = {
        "start_time": dt.time(10, 0),
        "duration_minutes": 60,
        "schedule_text": "x",
        "by": admin,
        "today": dt.date(2027, 5, 1),
    }

    with pytest.raises(ValidationError, match="not in the past"):
        change_schedule(
            line, effective_from=dt.date(2027, 4, 1), rrule="FREQ=WEEKLY;BYDAY=MO", **common
        )
    with pytest.raises(ValidationError, match="could not be understood"):
        change_schedule(
            line, effective_from=dt.date(2027, 6, 1), rrule="FREQ=WEEKLY;BYDAY=XX", **common
        )
    assert not line.schedule_changes.exists()


def test_segments_apply_the_latest_change_in_effect():
    term = make_term()
    line = term.version.lines.get()

    class Change:
        def __init__(self, series, since):
            self.series, self.effective_from = series, since
            self.rrule, self.start_time, self.duration_minutes = "FREQ=DAILY", dt.time(9), 30

    found = segments(
        line,
        [
            Change(1, dt.date(2026, 6, 1)),
            Change(2, dt.date(2027, 4, 1)),
            Change(3, dt.date(2027, 4, 1)),
        ],
        start=term.start,
        end=term.end,
    )

    assert [(s.series, s.start, s.end) for s in found] == [
        (1, dt.date(2027, 1, 1), dt.date(2027, 4, 1)),
        (3, dt.date(2027, 4, 1), dt.date(2028, 1, 1)),
    ]


@time_machine.travel(dt.datetime(2027, 6, 10, 12, 0, tzinfo=UTC))
def test_cancel_future_visits_keeps_past_and_completed_ones(staff):
    term = make_term(lines=[{}, EVERY_TUESDAY])
    plan_term(term)
    june = term.visits.get(line__kind="maintenance", starts_at__month=6)
    Visit.objects.filter(pk=june.pk).update(status=Visit.Status.COMPLETED)

    cancelled = cancel_future_visits(term.agreement, after=dt.date(2027, 6, 15))

    # Tuesdays from June 15 to Dec 28 (29) and third Wednesdays July … December (6).
    assert cancelled == 29 + 6
    assert term.visits.get(pk=june.pk).status == Visit.Status.COMPLETED
    assert term.visits.filter(status="cancelled", sequence=1).count() == cancelled
    assert not term.visits.filter(starts_at__lt=local(dt.date(2027, 6, 15), 0), status="cancelled")
    assert cancel_future_visits(term.agreement, after=dt.date(2027, 6, 15)) == 0
    assert plan_term(term) == 0  # planning again does not bring them back

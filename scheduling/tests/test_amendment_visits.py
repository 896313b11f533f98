"""Visits through an amendment (DESIGN.md, "Scheduling" and "Billing over a whole life"): from
the day an amendment takes effect, the visits follow the new version's lines. A service kept as
it was keeps its visits (same rows, technicians, moves); a re-scheduled or removed one has its
open future visits cancelled; a new or re-scheduled one is planned from that day to the term end.
Completed and past visits never change."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agreements import lifecycle, signing
from agreements.models import AgreementVersion, ServiceKind
from agreements.tests.factories import (
    ServiceLineFactory,
    agreement_for_2027,
    evidence,
    prescheduled_line,
    signed_agreement,
    signer_contact,
)
from billing.tests.factories import published_card
from scheduling.models import LineAssignment, Visit
from scheduling.planning import (
    assign_line,
    change_schedule,
    plan_term,
    replan_for_amendment,
    reschedule_visit,
)
from scheduling.tests.factories import UTC, local

pytestmark = pytest.mark.django_db

# The amendment is countersigned at 10:00 EST on Wednesday March 10, 2027, four days before
# daylight saving time starts (March 14): it takes effect that local day.
AMENDED_AT = dt.datetime(2027, 3, 10, 15, 0, tzinfo=UTC)
EFFECTIVE = dt.date(2027, 3, 10)
MIDNIGHT = local(EFFECTIVE, 0)
NOTE = "Replaced by amendment (version 2)"


@pytest.fixture(autouse=True)
def rates(db):
    return published_card(effective_date=dt.date(2026, 1, 1))


@pytest.fixture
def agreement(customer_a, alice, admin):
    """Active, term 1 = [2027-01-01, 2028-01-01): maintenance on third Wednesdays at 10:00 and a
    prescheduled block every Tuesday at 09:00, both planned for the whole term."""
    with time_machine.travel(dt.datetime(2026, 12, 10, 15, 0, tzinfo=UTC), tick=False):
        return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def line_of(version, kind):
    return version.lines.get(kind=kind)


def amend(agreement, *, customer, alice, admin, at=AMENDED_AT, edit=None):
    """Draft an amendment, let ``edit`` change the draft, send, sign and countersign at ``at``."""
    with time_machine.travel(at, tick=False):
        draft = signing.start_amendment(agreement, by=admin)
        if edit:
            edit(draft)
        signing.send_for_signature(
            draft,
            signer=signer_contact(customer, alice),
            by=admin,
            today=timezone.localdate(at, agreement.tz),
        )
        signing.sign_as_customer(draft, user=alice, evidence=evidence(), now=at)
        signing.countersign(draft, user=admin, evidence=evidence("Dana Whitfield"), now=at)
    draft.refresh_from_db()
    assert draft.status == AgreementVersion.Status.SIGNED
    return draft


def complete(visit, *, by):
    return visit.complete(
        done_items=[],
        findings="All good",
        hours_worked=D("2"),
        by=by,
        now=visit.ends_at,
        today=visit.local_day,
    )


def replan_message(agreement):
    return agreement.events.get(kind="visits_replanned").message


def days(first, end, weekday):
    """The dates of a weekday (0 = Monday) in [first, end)."""
    day = first + dt.timedelta(days=(weekday - first.weekday()) % 7)
    found = []
    while day < end:
        found.append(day)
        day += dt.timedelta(days=7)
    return found


def test_an_unchanged_service_keeps_its_future_visits_on_the_new_line(
    agreement, customer_a, alice, admin, staff
):
    term = agreement.terms.get()
    old = agreement.signed_version()
    maintenance = line_of(old, ServiceKind.MAINTENANCE)
    with time_machine.travel(dt.datetime(2027, 1, 4, 14, 0, tzinfo=UTC), tick=False):
        assign_line(maintenance, technician=staff, by=admin, today=dt.date(2027, 1, 4))
    for visit in term.visits.filter(line=maintenance, starts_at__lt=MIDNIGHT):
        complete(visit, by=staff)  # January 20 and February 17
    tuesday_march_9 = term.visits.get(line__kind="prescheduled", starts_at__date="2027-03-09")
    july = term.visits.get(line=maintenance, starts_at__month=7)
    with time_machine.travel(dt.datetime(2027, 2, 1, 14, 0, tzinfo=UTC), tick=False):
        reschedule_visit(
            july,
            starts_at=local(dt.date(2027, 7, 22), 15),
            ends_at=local(dt.date(2027, 7, 22), 17),
            technician=staff,
            now=timezone.now(),
        )
    future = {
        visit.pk: (visit.technician_id, visit.starts_at, visit.status)
        for visit in term.visits.open().filter(starts_at__gte=MIDNIGHT)
    }
    completed = list(Visit.objects.filter(status=Visit.Status.COMPLETED).values())
    visits_before = term.visits.count()

    draft = amend(agreement, customer=customer_a, alice=alice, admin=admin)

    new_maintenance = line_of(draft, ServiceKind.MAINTENANCE)
    new_prescheduled = line_of(draft, ServiceKind.PRESCHEDULED)
    assert new_maintenance.replaces_id == maintenance.pk
    assert {line.replaces_id for line in draft.lines.all()} == {line.pk for line in old.lines.all()}
    kept = Visit.objects.filter(pk__in=future)
    # Mar 17 … Dec 15 (10 third Wednesdays) and Mar 16 … Dec 28 (42 Tuesdays).
    assert len(future) == 10 + 42
    assert {v.pk: (v.technician_id, v.starts_at, v.status) for v in kept} == future
    assert set(kept.values_list("line_id", flat=True)) == {new_maintenance.pk, new_prescheduled.pk}
    assert set(kept.filter(line=new_maintenance).values_list("technician", flat=True)) == {staff.pk}
    july.refresh_from_db()
    assert july.status == Visit.Status.MOVED and july.local_start == local(dt.date(2027, 7, 22), 15)
    assert july.line_id == new_maintenance.pk
    # Nothing cancelled, nothing twice; completed and past visits stay on the old lines.
    assert not Visit.objects.filter(status=Visit.Status.CANCELLED).exists()
    assert term.visits.count() == visits_before
    assert list(Visit.objects.filter(status=Visit.Status.COMPLETED).values()) == completed
    tuesday_march_9.refresh_from_db()
    assert tuesday_march_9.line.version_id == old.pk
    assert tuesday_march_9.status == Visit.Status.SCHEDULED
    # The term applies the amendment; its lines have the default technician of the old ones.
    term.refresh_from_db()
    assert term.version_id == draft.pk
    assert LineAssignment.objects.get(line=new_maintenance).technician == staff
    assert replan_message(agreement) == (
        "Visits re-planned for amendment: 52 kept, 0 cancelled, 0 planned"
    )
    assert plan_term(term, today=EFFECTIVE) == 0


def test_a_new_schedule_cancels_the_old_future_visits_and_plans_the_new_rule(
    agreement, customer_a, alice, admin, staff
):
    term = agreement.terms.get()
    maintenance = line_of(agreement.signed_version(), ServiceKind.MAINTENANCE)
    with time_machine.travel(dt.datetime(2027, 1, 4, 14, 0, tzinfo=UTC), tick=False):
        assign_line(maintenance, technician=staff, by=admin, today=dt.date(2027, 1, 4))
    february = term.visits.get(line=maintenance, starts_at__month=2)
    complete(february, by=staff)
    old_future = list(term.visits.filter(line=maintenance, starts_at__gte=MIDNIGHT))

    def third_thursday_at_one(draft):
        line = line_of(draft, ServiceKind.MAINTENANCE)
        line.rrule = "FREQ=MONTHLY;BYDAY=+3TH"
        line.start_time = dt.time(13, 0)
        line.duration_minutes = 90
        line.schedule_text = "The third Thursday of every month at 13:00 for 1 hour 30 minutes"
        line.save()

    draft = amend(
        agreement, customer=customer_a, alice=alice, admin=admin, edit=third_thursday_at_one
    )

    new_line = line_of(draft, ServiceKind.MAINTENANCE)
    assert new_line.replaces_id == maintenance.pk
    assert len(old_future) == 10
    for before in old_future:
        visit = Visit.objects.get(pk=before.pk)
        assert visit.line_id == maintenance.pk
        assert (visit.status, visit.note) == (Visit.Status.CANCELLED, NOTE)
        assert visit.sequence == before.sequence + 1  # calendars drop it
    planned = list(new_line.visits.order_by("starts_at"))
    assert [v.local_day for v in planned] == [
        dt.date(2027, month, day)
        for month, day in [
            (3, 18),
            (4, 15),
            (5, 20),
            (6, 17),
            (7, 15),
            (8, 19),
            (9, 16),
            (10, 21),
            (11, 18),
            (12, 16),
        ]
    ]
    # 13:00 local on both sides of the clock changes: EDT (UTC−4) in March, EST in November.
    assert planned[0].starts_at == dt.datetime(2027, 3, 18, 17, 0, tzinfo=UTC)
    assert planned[8].starts_at == dt.datetime(2027, 11, 18, 18, 0, tzinfo=UTC)
    assert {v.ends_at - v.starts_at for v in planned} == {dt.timedelta(minutes=90)}
    # The default technician went with the service.
    assert {v.technician_id for v in planned} == {staff.pk}
    assert planned[0].checklist[0] == {"item": "Inspections", "done": False}
    february.refresh_from_db()
    assert (february.status, february.line_id) == (Visit.Status.COMPLETED, maintenance.pk)
    assert replan_message(agreement) == (
        "Visits re-planned for amendment: 42 kept, 10 cancelled, 10 planned"
    )


def test_an_added_service_is_planned_from_the_effective_date_to_the_term_end(
    agreement, customer_a, alice, admin
):
    term = agreement.terms.get()

    def add_two_lines(draft):
        prescheduled_line(
            draft,
            position=10,
            hours_per_month=D("10.00"),
            rrule="FREQ=WEEKLY;BYDAY=TH",
            start_time=dt.time(14, 0),
            schedule_text="Every Thursday at 14:00 for 2 hours",
        )
        ServiceLineFactory(
            version=draft,
            position=11,
            rrule="FREQ=MONTHLY;BYMONTHDAY=10",
            start_time=dt.time(16, 0),
            duration_minutes=60,
            schedule_text="The 10th of every month at 16:00 for 1 hour",
        )

    draft = amend(agreement, customer=customer_a, alice=alice, admin=admin, edit=add_two_lines)

    thursdays = draft.lines.get(position=10)
    tenth = draft.lines.get(position=11)
    assert thursdays.replaces_id is None and tenth.replaces_id is None
    assert [v.local_day for v in thursdays.visits.order_by("starts_at")] == days(
        EFFECTIVE, term.end, weekday=3
    )
    assert thursdays.visits.count() == 43  # Mar 11 … Dec 30, 2027
    # The effective day itself counts: March 10 at 16:00 … December 10.
    assert [v.local_day for v in tenth.visits.order_by("starts_at")] == [
        dt.date(2027, month, 10) for month in range(3, 13)
    ]
    assert {v.local_start.time() for v in tenth.visits.all()} == {dt.time(16, 0)}
    assert all(v.term_id == term.pk for v in [*thursdays.visits.all(), *tenth.visits.all()])
    assert not Visit.objects.filter(status=Visit.Status.CANCELLED).exists()
    assert replan_message(agreement) == (
        "Visits re-planned for amendment: 52 kept, 0 cancelled, 53 planned"
    )


def test_a_removed_service_has_its_future_visits_cancelled(
    agreement, customer_a, alice, admin, staff
):
    term = agreement.terms.get()
    prescheduled = line_of(agreement.signed_version(), ServiceKind.PRESCHEDULED)
    march_2 = term.visits.get(line=prescheduled, starts_at__date="2027-03-02")
    complete(march_2, by=staff)
    march_9 = term.visits.get(line=prescheduled, starts_at__date="2027-03-09")  # never reported
    past = list(Visit.objects.filter(starts_at__lt=MIDNIGHT).values())

    draft = amend(
        agreement,
        customer=customer_a,
        alice=alice,
        admin=admin,
        edit=lambda draft: line_of(draft, ServiceKind.PRESCHEDULED).delete(),
    )

    assert not draft.lines.filter(kind=ServiceKind.PRESCHEDULED).exists()
    future = prescheduled.visits.filter(starts_at__gte=MIDNIGHT)
    assert future.count() == 42
    assert set(future.values_list("status", "note")) == {(Visit.Status.CANCELLED, NOTE)}
    assert list(Visit.objects.filter(starts_at__lt=MIDNIGHT).values()) == past
    march_9.refresh_from_db()
    assert march_9.status == Visit.Status.SCHEDULED
    assert not Visit.objects.filter(line__version=draft, line__kind="prescheduled").exists()
    assert replan_message(agreement) == (
        "Visits re-planned for amendment: 10 kept, 42 cancelled, 0 planned"
    )


def test_a_schedule_change_before_the_amendment_is_carried_into_the_copy(
    agreement, customer_a, alice, admin, staff
):
    term = agreement.terms.get()
    maintenance = line_of(agreement.signed_version(), ServiceKind.MAINTENANCE)
    second_tuesday = {
        "rrule": "FREQ=MONTHLY;BYDAY=+2TU",
        "start_time": dt.time(14, 0),
        "duration_minutes": 60,
        "schedule_text": "The second Tuesday of every month at 14:00 for 1 hour",
    }
    with time_machine.travel(dt.datetime(2027, 1, 25, 14, 0, tzinfo=UTC), tick=False):
        change_schedule(
            maintenance,
            effective_from=dt.date(2027, 2, 1),
            by=admin,
            today=dt.date(2027, 1, 25),
            **second_tuesday,
        )
    complete(term.visits.get(line=maintenance, series=1, starts_at__date="2027-02-09"), by=staff)
    june = term.visits.get(line=maintenance, series=1, starts_at__month=6)
    june.cancel(now=dt.datetime(2027, 2, 1, 14, 0, tzinfo=UTC), reason="Office closed that week")
    future = set(
        term.visits.open()
        .filter(line=maintenance, starts_at__gte=MIDNIGHT)
        .values_list("pk", flat=True)
    )

    draft = amend(agreement, customer=customer_a, alice=alice, admin=admin)

    new_line = line_of(draft, ServiceKind.MAINTENANCE)
    assert new_line.replaces_id == maintenance.pk
    assert {field: getattr(new_line, field) for field in second_tuesday} == second_tuesday
    assert not new_line.schedule_changes.exists()
    # April … December without June: the same rows, now the new line's own series.
    assert len(future) == 8
    assert set(new_line.visits.open().values_list("pk", flat=True)) == future
    assert set(new_line.visits.values_list("series", flat=True)) == {0}
    june.refresh_from_db()
    assert (june.status, june.note) == (Visit.Status.CANCELLED, "Office closed that week")
    assert not new_line.visits.open().filter(starts_at__month=6).exists()
    assert replan_message(agreement) == (
        "Visits re-planned for amendment: 50 kept, 0 cancelled, 0 planned"
    )

    # The new line's schedule can change in turn: it belongs to the term now.
    with time_machine.travel(dt.datetime(2027, 6, 20, 14, 0, tzinfo=UTC), tick=False):
        result = change_schedule(
            new_line,
            effective_from=dt.date(2027, 7, 1),
            rrule="FREQ=MONTHLY;BYDAY=+1FR",
            start_time=dt.time(9, 0),
            duration_minutes=60,
            schedule_text="The first Friday of every month at 09:00 for 1 hour",
            by=admin,
            today=dt.date(2027, 6, 20),
        )
    assert (result.replaced, result.created) == (6, 6)  # July … December


def test_a_visit_done_on_the_effective_day_is_not_planned_again(
    agreement, customer_a, alice, admin, staff
):
    term = agreement.terms.get()
    tuesday = term.visits.get(line__kind="prescheduled", starts_at__date="2027-03-16")
    complete(tuesday, by=staff)  # 09:00–11:00 EDT

    # Countersigned at 14:00 EDT the same Tuesday, two days after the clocks went forward.
    amend(
        agreement,
        customer=customer_a,
        alice=alice,
        admin=admin,
        at=dt.datetime(2027, 3, 16, 18, 0, tzinfo=UTC),
    )

    that_day = Visit.objects.filter(
        line__kind="prescheduled",
        starts_at__gte=local(dt.date(2027, 3, 16), 0),
        starts_at__lt=local(dt.date(2027, 3, 17), 0),
    )
    assert list(that_day.values_list("pk", "status")) == [(tuesday.pk, Visit.Status.COMPLETED)]
    assert replan_message(agreement) == (
        # Third Wednesdays Mar 17 … Dec 15 and Tuesdays Mar 23 … Dec 28.
        "Visits re-planned for amendment: 51 kept, 0 cancelled, 0 planned"
    )


def test_the_effective_date_is_the_local_day_of_the_countersignature(
    agreement, customer_a, alice, admin
):
    # 22:00 EST on Tuesday March 9 is March 10 in UTC: the amendment takes effect on March 9.
    def tuesdays_at_eight(draft):
        line = line_of(draft, ServiceKind.PRESCHEDULED)
        line.start_time = dt.time(8, 0)
        line.schedule_text = "Every Tuesday at 08:00 for 2 hours"
        line.save()

    draft = amend(
        agreement,
        customer=customer_a,
        alice=alice,
        admin=admin,
        at=dt.datetime(2027, 3, 10, 3, 0, tzinfo=UTC),
        edit=tuesdays_at_eight,
    )

    first = line_of(draft, ServiceKind.PRESCHEDULED).visits.order_by("starts_at").first()
    assert first.local_start == local(dt.date(2027, 3, 9), 8)
    cancelled = Visit.objects.filter(status=Visit.Status.CANCELLED).order_by("starts_at").first()
    assert cancelled.local_start == local(dt.date(2027, 3, 9), 9)


def test_a_renewal_after_the_amendment_plans_the_new_versions_lines(
    agreement, customer_a, alice, admin
):
    def thursdays_instead_of_tuesdays(draft):
        line = line_of(draft, ServiceKind.PRESCHEDULED)
        line.rrule = "FREQ=WEEKLY;BYDAY=TH"
        line.schedule_text = "Every Thursday at 09:00 for 2 hours"
        line.save()

    draft = amend(
        agreement,
        customer=customer_a,
        alice=alice,
        admin=admin,
        edit=thursdays_instead_of_tuesdays,
    )
    with time_machine.travel(dt.datetime(2028, 1, 1, 12, 0, tzinfo=UTC), tick=False):
        [term_2] = lifecycle.renew_agreement(agreement.pk, today=dt.date(2028, 1, 1))

    assert term_2.version_id == draft.pk
    visits = term_2.visits.all()
    assert {v.line.version_id for v in visits} == {draft.pk}
    thursdays = line_of(draft, ServiceKind.PRESCHEDULED).visits.filter(term=term_2)
    assert [v.local_day for v in thursdays.order_by("starts_at")] == days(
        term_2.start, term_2.end, weekday=3
    )
    assert line_of(draft, ServiceKind.MAINTENANCE).visits.filter(term=term_2).count() == 12


def test_replanning_takes_the_same_queries_whatever_changed_and_runs_once(
    agreement, customer_a, customer_b, alice, bob, admin, staff
):
    with time_machine.travel(dt.datetime(2026, 12, 10, 15, 0, tzinfo=UTC), tick=False):
        other = signed_agreement(
            customer=customer_b,
            customer_user=bob,
            admin=admin,
            signed_at=dt.datetime(2026, 12, 10, 15, 0, tzinfo=UTC),
            start_date=dt.date(2027, 1, 1),
            pdf=False,
        ).agreement
    drafts = []
    with time_machine.travel(AMENDED_AT, tick=False):
        for each in (agreement, other):
            line = line_of(each.signed_version(), ServiceKind.MAINTENANCE)
            assign_line(line, technician=staff, by=admin, today=dt.date(2027, 1, 1))
            drafts.append(signing.start_amendment(each, by=admin))
        # Both amendments move maintenance to 11:00; the second one also adds two weekly lines.
        for draft in drafts:
            line = line_of(draft, ServiceKind.MAINTENANCE)
            line.start_time = dt.time(11, 0)
            line.save()
        for weekday in ("MO", "FR"):
            ServiceLineFactory(version=drafts[1], rrule=f"FREQ=WEEKLY;BYDAY={weekday}")
        AgreementVersion.objects.filter(pk__in=[d.pk for d in drafts]).update(
            status=AgreementVersion.Status.SIGNED
        )

        def reads(each, draft):
            with CaptureQueriesContext(connection) as context:
                result = replan_for_amendment(each, version=draft, effective=EFFECTIVE)
            return result, [
                q["sql"] for q in context.captured_queries if not q["sql"].startswith("INSERT")
            ]

        same, few = reads(agreement, drafts[0])
        changed, many = reads(other, drafts[1])
        again, _ = reads(other, drafts[1])

    assert (same.kept, same.cancelled, same.planned) == (42, 10, 10)
    # Mar 15 … Dec 27 (42 Mondays), Mar 12 … Dec 31 (43 Fridays), 10 maintenance visits.
    assert (changed.kept, changed.cancelled, changed.planned) == (42, 10, 42 + 43 + 10)
    assert len(few) == len(many)
    assert (again.kept, again.cancelled, again.planned) == (0, 0, 0)

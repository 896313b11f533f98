"""No double-booking: clashes across customers, touching intervals, moves and alternatives."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from allora.tests.factories import UserFactory
from scheduling.conflicts import VisitConflict, alternatives, find_clashes, split_clashes
from scheduling.models import Holiday, Visit
from scheduling.planning import plan_term, reschedule_visit
from scheduling.tests.factories import UTC, local, make_term, make_visit

pytestmark = pytest.mark.django_db

MAR_17 = dt.date(2027, 3, 17)  # a Wednesday
NOW = dt.datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def hours(a, b, day=MAR_17):
    return local(day, a), local(day, b)


# --- the pure rule -----------------------------------------------------------------------


def t(hour):
    return dt.datetime(2027, 3, 17, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("candidate", "busy", "clashes"),
    [
        ((10, 12), (12, 13), False),  # touching after
        ((12, 13), (10, 12), False),  # touching before
        ((10, 12), (11, 13), True),  # overlapping the end
        ((11, 13), (10, 12), True),  # overlapping the start
        ((10, 14), (11, 12), True),  # containing
        ((11, 12), (10, 14), True),  # contained
        ((10, 12), (10, 12), True),  # identical
        ((8, 9), (10, 12), False),  # apart
    ],
)
def test_any_overlap_clashes_and_touching_intervals_do_not(candidate, busy, clashes):
    found = split_clashes([("new", t(candidate[0]), t(candidate[1]))], [(t(busy[0]), t(busy[1]))])
    assert (found == {"new"}) is clashes


def test_a_long_busy_interval_is_found_even_when_it_started_long_before():
    busy = [(t(1), t(20)), (t(2), t(3)), (t(4), t(5))]
    assert split_clashes([("x", t(10), t(11))], busy) == {"x"}


def test_new_candidates_block_each_other_in_start_order():
    candidates = [("a", t(10), t(12)), ("b", t(11), t(13)), ("c", t(12), t(14))]
    assert split_clashes(candidates, []) == {"b"}


# --- the database ------------------------------------------------------------------------


def test_clashes_count_across_customers_and_ignore_cancelled_visits(staff):
    oak, legal = make_term(), make_term()
    mine = make_visit(oak, *hours(10, 12), technician=staff)
    make_visit(legal, *hours(11, 13), technician=staff, status=Visit.Status.CANCELLED)
    other = make_visit(legal, *hours(11, 12), technician=staff)
    make_visit(legal, *hours(12, 13), technician=staff)  # touching

    assert find_clashes(staff, *hours(10, 12), exclude=mine) == [other]
    assert find_clashes(staff, *hours(12, 13), exclude=mine) != []
    assert find_clashes(staff, *hours(8, 10)) == []
    assert find_clashes(None, *hours(10, 12)) == []


def test_moving_onto_another_customers_visit_names_the_clash(staff):
    oak, legal = make_term(), make_term()
    visit = make_visit(oak, *hours(10, 12, dt.date(2027, 3, 16)), technician=staff)
    theirs = make_visit(legal, *hours(10, 12), technician=staff)

    with pytest.raises(VisitConflict) as caught:
        reschedule_visit(
            visit, starts_at=local(MAR_17, 11), ends_at=local(MAR_17, 13), technician=staff, now=NOW
        )

    assert caught.value.clashes == [theirs]
    assert str(legal.agreement.customer) in caught.value.messages[0]
    assert "Wed Mar 17, 2027 10:00–12:00 EDT" in caught.value.messages[0]
    visit.refresh_from_db()
    assert visit.status == Visit.Status.SCHEDULED and visit.sequence == 0


def test_moving_next_to_another_visit_is_fine_and_leaves_the_series_alone(staff):
    term = make_term()
    plan_term(term)
    term.visits.update(technician=staff)
    march, april = term.visits.filter(starts_at__month__in=[3, 4]).order_by("starts_at")
    make_visit(make_term(), *hours(12, 13, dt.date(2027, 3, 18)), technician=staff)

    moved = reschedule_visit(
        march,
        starts_at=local(dt.date(2027, 3, 18), 10),
        ends_at=local(dt.date(2027, 3, 18), 12),
        technician=staff,
        now=NOW,
    )

    assert moved.status == Visit.Status.MOVED and moved.sequence == 1
    assert moved.occurrence_start == local(MAR_17, 10)  # still the same occurrence of the series
    assert moved.note == "Moved from Wed Mar 17, 2027 10:00–12:00 EDT"
    april.refresh_from_db()
    assert april.status == Visit.Status.SCHEDULED and april.sequence == 0
    assert plan_term(term) == 0


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (
            dt.datetime(2027, 2, 28, 15, tzinfo=UTC),
            dt.datetime(2027, 2, 28, 17, tzinfo=UTC),
            "into the past",
        ),
        (local(MAR_17, 12), local(MAR_17, 10), "end must be after the start"),
        (local(MAR_17, 12), local(MAR_17, 12), "end must be after the start"),
    ],
)
def test_a_move_into_the_past_or_ending_before_it_starts_is_refused(staff, start, end, message):
    visit = make_visit(make_term(), *hours(10, 12), technician=staff)

    with pytest.raises(ValidationError, match=message):
        reschedule_visit(visit, starts_at=start, ends_at=end, technician=staff, now=NOW)


def test_completed_and_cancelled_visits_cannot_be_moved(staff):
    term = make_term()
    done = make_visit(term, *hours(10, 12), status=Visit.Status.COMPLETED)
    gone = make_visit(term, *hours(13, 14), status=Visit.Status.CANCELLED)

    for visit in (done, gone):
        with pytest.raises(ValidationError, match="can no longer be changed"):
            reschedule_visit(
                visit,
                starts_at=local(MAR_17, 15),
                ends_at=local(MAR_17, 16),
                technician=staff,
                now=NOW,
            )


def test_reassigning_checks_the_new_technician_and_clears_the_conflict_flag(staff):
    priya = UserFactory(role="staff", first_name="Priya", last_name="Raman")
    visit = make_visit(make_term(), *hours(10, 12), flag=Visit.Flag.CONFLICT)
    make_visit(make_term(), *hours(9, 11), technician=staff)

    with pytest.raises(VisitConflict):
        reschedule_visit(
            visit, starts_at=visit.starts_at, ends_at=visit.ends_at, technician=staff, now=NOW
        )
    done = reschedule_visit(
        visit, starts_at=visit.starts_at, ends_at=visit.ends_at, technician=priya, now=NOW
    )

    assert done.technician == priya and done.flag == Visit.Flag.NONE
    assert done.status == Visit.Status.SCHEDULED  # a new technician is not a move


def test_alternatives_offer_another_hour_the_next_business_day_and_other_technicians(staff):
    priya = UserFactory(role="staff", first_name="Priya", last_name="Raman")
    busy_too = UserFactory(role="staff", first_name="Sam", last_name="Busy")
    visit = make_visit(make_term(), *hours(14, 16, dt.date(2027, 3, 16)), technician=staff)
    legal = make_term()
    make_visit(legal, *hours(10, 12), technician=staff)  # the slot asked for
    make_visit(legal, *hours(12, 13), technician=staff)
    make_visit(legal, *hours(10, 12), technician=busy_too)
    Holiday.objects.create(date=dt.date(2027, 3, 18), name="Company day")

    slots = alternatives(
        visit, starts_at=local(MAR_17, 10), ends_at=local(MAR_17, 12), technician=staff, now=NOW
    )

    labels = [slot.label for slot in slots]
    # Nearest first; 08:00–10:00 only touches the 10:00 visit, so it is free.
    assert labels[:2] == ["Same day at 08:00–10:00", "Same day at 13:00–15:00"]
    # Thursday is a company holiday: the next business day is Friday.
    assert labels[2].startswith("Fri Mar 19 at 10:00 (next business day")
    assert slots[2].starts_at == local(dt.date(2027, 3, 19), 10)
    assert labels[3:] == ["Priya Raman at the requested time"]
    assert slots[3].technician == priya and slots[3].starts_at == local(MAR_17, 10)
    for slot in slots:
        assert find_clashes(slot.technician, slot.starts_at, slot.ends_at, exclude=visit) == []
        assert slot.ends_at - slot.starts_at == dt.timedelta(hours=2)


def test_alternatives_never_propose_the_past():
    visit = make_visit(make_term(), *hours(10, 12))
    now = local(MAR_17, 15)

    slots = alternatives(
        visit, starts_at=local(MAR_17, 9), ends_at=local(MAR_17, 11), technician=None, now=now
    )

    assert slots == []


# --- completing and cancelling -----------------------------------------------------------


def test_completing_records_the_report_once(staff):
    term = make_term()
    plan_term(term)
    visit = term.visits.get(starts_at__month=3)
    now = local(MAR_17, 12, 5)

    visit.complete(
        done_items=["0", "2"],
        findings=" Replaced a UPS battery. ",
        hours_worked=D("2.25"),
        by=staff,
        now=now,
        today=MAR_17,
    )

    visit.refresh_from_db()
    assert visit.status == Visit.Status.COMPLETED
    assert [entry["done"] for entry in visit.checklist] == [True, False, True, False, False]
    assert visit.findings == "Replaced a UPS battery."
    assert visit.hours_worked == D("2.25") and visit.completed_by == staff
    with pytest.raises(ValidationError, match="already completed on Mar 17, 2027"):
        visit.complete(
            done_items=[], findings="again", hours_worked=D("1"), by=staff, now=now, today=MAR_17
        )
    visit.refresh_from_db()
    assert visit.findings == "Replaced a UPS battery."


def test_a_visit_cannot_be_completed_before_its_day_or_once_cancelled(staff):
    term = make_term()
    upcoming = make_visit(term, *hours(10, 12))
    cancelled = make_visit(term, *hours(13, 14), status=Visit.Status.CANCELLED)

    with pytest.raises(ValidationError, match="complete it on that day or later"):
        upcoming.complete(
            done_items=[],
            findings="",
            hours_worked=D("1"),
            by=staff,
            now=NOW,
            today=dt.date(2027, 3, 16),
        )
    with pytest.raises(ValidationError, match="cancelled"):
        cancelled.complete(
            done_items=[], findings="", hours_worked=D("1"), by=staff, now=NOW, today=MAR_17
        )


def test_cancelling_one_visit_bumps_its_sequence_and_keeps_completed_ones():
    term = make_term()
    visit = make_visit(term, *hours(10, 12))
    done = make_visit(term, *hours(13, 14), status=Visit.Status.COMPLETED)

    visit.cancel(now=NOW, reason="Office closed for a move")

    visit.refresh_from_db()
    assert (visit.status, visit.sequence, visit.note) == (
        "cancelled",
        1,
        "Office closed for a move",
    )
    with pytest.raises(ValidationError, match="already cancelled"):
        visit.cancel(now=NOW)
    with pytest.raises(ValidationError, match="completed visit cannot be cancelled"):
        done.cancel(now=NOW)

"""Company holidays added after planning, the seed_holidays command, the admin."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from scheduling.business_days import is_business_day, next_business_day
from scheduling.models import (
    Holiday,
    HolidayPolicy,
    SchedulingSettings,
    Visit,
)
from scheduling.planning import apply_holidays, plan_term
from scheduling.tests.factories import local, make_term

pytestmark = pytest.mark.django_db


def test_business_days_skip_weekends_and_holidays():
    holidays = {dt.date(2027, 11, 25), dt.date(2027, 11, 26)}  # Thanksgiving and the Friday

    assert next_business_day(dt.date(2027, 11, 24), holidays) == dt.date(2027, 11, 29)
    assert not is_business_day(dt.date(2027, 11, 27), holidays)
    assert is_business_day(dt.date(2027, 11, 24), holidays)


def test_a_holiday_added_after_planning_moves_the_visits_on_it(staff):
    term = make_term()
    plan_term(term)
    term.visits.update(technician=staff)
    Holiday.objects.create(date=dt.date(2027, 6, 16), name="Company day")

    assert apply_holidays(today=dt.date(2027, 5, 1)) == 1
    assert apply_holidays(today=dt.date(2027, 5, 1)) == 0  # idempotent

    visit = term.visits.get(occurrence_start=local(dt.date(2027, 6, 16), 10))
    assert visit.local_start == local(dt.date(2027, 6, 17), 10)
    assert (visit.sequence, visit.technician, visit.note) == (
        1,
        staff,
        "Moved from Wed Jun 16 (Company day)",
    )


def test_a_holiday_in_the_past_or_on_a_moved_visit_changes_nothing():
    term = make_term()
    plan_term(term)
    Visit.objects.filter(starts_at__month=7).update(status=Visit.Status.MOVED)
    Holiday.objects.create(date=dt.date(2027, 3, 17), name="Past")
    Holiday.objects.create(date=dt.date(2027, 7, 21), name="Moved by staff already")

    assert apply_holidays(today=dt.date(2027, 5, 1)) == 0


def test_with_the_flag_policy_a_late_holiday_flags_the_visit():
    SchedulingSettings.objects.create(holiday_policy=HolidayPolicy.FLAG)
    term = make_term()
    plan_term(term)
    Holiday.objects.create(date=dt.date(2027, 6, 16), name="Company day")

    apply_holidays(today=dt.date(2027, 5, 1))

    visit = term.visits.get(flag=Visit.Flag.HOLIDAY)
    assert visit.local_start == local(dt.date(2027, 6, 16), 10)


def test_the_seed_holidays_command():
    out = io.StringIO()

    call_command("seed_holidays", "--years", "2027", "--today", "2027-01-01", stdout=out)

    assert "15 holidays added for 2027"  # observed dates included in out.getvalue()
    assert Holiday.objects.filter(date=dt.date(2027, 11, 25), name="Thanksgiving Day").exists()
    with pytest.raises(CommandError, match="not a year"):
        call_command("seed_holidays", "--years", "27", stdout=out)


@pytest.fixture
def superuser(admin):
    admin.is_superuser = True  # as the demo's admin is: the admin site checks model permissions
    admin.save()
    return admin


def test_adding_a_holiday_in_the_admin_applies_it(client_for, superuser, time_machine):
    time_machine.move_to(dt.datetime(2027, 5, 1, 12, tzinfo=dt.UTC), tick=False)
    term = make_term()
    plan_term(term)

    response = client_for(superuser).post(
        reverse("admin:scheduling_holiday_add"),
        {"date": "2027-06-16", "name": "Company day"},
        follow=True,
    )

    assert "1 planned visits on this holiday were updated" in response.content.decode()
    assert term.visits.filter(note__startswith="Moved from Wed Jun 16").count() == 1


def test_the_scheduling_admin_pages_open(client_for, superuser):
    client = client_for(superuser)
    for model in (
        "holiday",
        "schedulingsettings",
        "lineassignment",
        "schedulechange",
        "visit",
        "calendarfeed",
    ):
        assert client.get(reverse(f"admin:scheduling_{model}_changelist")).status_code == 200

"""The calendar pages read what they show (issue 14): per day its count and the first visits,
"+N more" leading to the day; week and day views; the technician and customer filters; each
visit on its local date in its own zone; queries and rows the same whatever the visits a day."""

import datetime as dt

import pytest
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models.sql import compiler
from django.db.models.sql.constants import MULTI
from django.urls import reverse

from allora.tests.factories import UserFactory
from scheduling.calendars import DAY_SHOWN, WEEK_SHOWN
from scheduling.models import Visit
from scheduling.tests.factories import UTC, make_term, visits_on

NOW = dt.datetime(2027, 3, 1, 17, 0, tzinfo=UTC)  # Monday March 1, 2027, 12:00 in Raleigh
MARCH_9, MARCH_10 = dt.date(2027, 3, 9), dt.date(2027, 3, 10)
CALENDAR = reverse("scheduling:calendar")
LOS_ANGELES, AUCKLAND = "America/Los_Angeles", "Pacific/Auckland"


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def term(frozen, customer_a):
    """Customer A's term (New York), with no visit until a test places them."""
    return make_term(customer=customer_a)


def day_of(response, date):
    """The calendars.Day of `date` on a month, week or day page."""
    if "month" in response.context and response.context["view"] == "month":
        days = [day for week in response.context["month"].weeks for day in week]
    else:
        days = response.context["days"]
    return next(day for day in days if day.date == date)


def pks(visits):
    return [visit.pk for visit in visits]


# --- month: counts, the first three, "+N more" -------------------------------------------


def test_a_day_with_ten_visits_shows_three_and_links_to_its_day_for_seven_more(
    term, client_for, staff
):
    visits = visits_on(term, MARCH_9, 10)
    client = client_for(staff)

    month = client.get(CALENDAR, {"month": "2027-03"})
    day = day_of(month, MARCH_9)
    assert (day.count, pks(day.visits)) == (10, pks(visits[:3]))
    link = '<a class="calendar-more" href="?view=day&amp;day=2027-03-09&amp;technician=">+7 more'
    assert link in month.content.decode()
    assert month.content.decode().count('class="calendar-visit ') == 3

    whole_day = client.get(CALENDAR, {"view": "day", "day": "2027-03-09", "technician": ""})
    assert pks(day_of(whole_day, MARCH_9).visits) == pks(visits)
    page = whole_day.content.decode()
    assert all(reverse("scheduling:visit_detail", args=[visit.pk]) in page for visit in visits)
    assert "Showing the first" not in page


def test_a_visit_late_at_night_lands_on_its_own_local_date_in_any_zone(frozen, client_for, staff):
    """23:30 in Los Angeles is 07:30 UTC the next day; 00:30 in Auckland is 11:30 UTC the
    day before: each lands on the date its customer sees, among New York's visits."""
    new_york = visits_on(make_term(), MARCH_9, 1, hour=9)
    [late] = visits_on(make_term(tz=LOS_ANGELES), MARCH_9, 1, hour=23)
    late.starts_at += dt.timedelta(minutes=30)
    late.ends_at += dt.timedelta(minutes=30)
    late.save()
    [early] = visits_on(make_term(tz=AUCKLAND), MARCH_10, 1, hour=0)
    client = client_for(staff)
    for params in (
        {"month": "2027-03"},
        {"view": "week", "day": "2027-03-09"},
        {"view": "day", "day": "2027-03-09"},
    ):
        response = client.get(CALENDAR, params)
        ninth = day_of(response, MARCH_9)
        assert (ninth.count, pks(ninth.visits)) == (2, [new_york[0].pk, late.pk])
        assert ninth.visits[1].local_label == "Tue Mar 9, 2027 23:30–00:00 PST"
    tenth = day_of(client.get(CALENDAR, {"month": "2027-03"}), MARCH_10)
    assert (tenth.count, pks(tenth.visits)) == (1, [early.pk])
    cell = client.get(CALENDAR, {"month": "2027-03"}).content.decode().split('data-date="')
    ninth_cell = next(part for part in cell if part.startswith("2027-03-09"))
    assert reverse("scheduling:visit_detail", args=[late.pk]) in ninth_cell
    assert reverse("scheduling:visit_detail", args=[early.pk]) not in ninth_cell


def test_the_days_just_outside_the_grid_are_not_counted_in_it(frozen, client_for, staff):
    """The month of March 2027 shows February 28 to April 3; the counts are read a day wider
    in UTC. Auckland's 00:30 on April 4 is April 3 in UTC, New York's 22:00 on February 27
    is February 28 in UTC: neither is on the grid."""
    feb_27, feb_28, apr_3, apr_4 = (
        dt.date(2027, *day) for day in ((2, 27), (2, 28), (4, 3), (4, 4))
    )
    new_york, auckland = make_term(start=dt.date(2026, 6, 1)), make_term(tz=AUCKLAND)
    visits_on(new_york, feb_27, 2, hour=22)
    [first] = visits_on(new_york, feb_28, 1, hour=9)
    [last] = visits_on(auckland, apr_3, 1, hour=9)
    visits_on(auckland, apr_4, 3, hour=0)
    month = client_for(staff).get(CALENDAR, {"month": "2027-03"})
    days = [day for week in month.context["month"].weeks for day in week]
    assert (days[0].date, days[-1].date) == (feb_28, apr_3)
    assert [(day.date, day.count, pks(day.visits)) for day in days if day.count] == [
        (feb_28, 1, [first.pk]),
        (apr_3, 1, [last.pk]),
    ]


def test_a_cancelled_visit_is_neither_counted_nor_shown(term, client_for, staff):
    kept, cancelled = visits_on(term, MARCH_9, 2)
    cancelled.status = Visit.Status.CANCELLED
    cancelled.save()
    day = day_of(client_for(staff).get(CALENDAR, {"month": "2027-03"}), MARCH_9)
    assert (day.count, pks(day.visits)) == (1, [kept.pk])


# --- what a page reads does not grow with the visits of a day -------------------------------


@pytest.fixture
def rows_fetched(monkeypatch):
    """Counts the rows fetched: every SELECT through the query compiler, and the rows of a
    statement run on a cursor (the first visits of each day on PostgreSQL; the session with its
    signed-in user, allora/sessions.py)."""
    fetched = {"rows": 0}
    original = compiler.SQLCompiler.execute_sql

    def execute_sql(self, result_type=MULTI, *args, **kwargs):
        result = original(self, result_type, *args, **kwargs)
        if result_type != MULTI or result is None:
            return result
        chunks = [list(chunk) for chunk in result]
        fetched["rows"] += sum(len(chunk) for chunk in chunks)
        return iter(chunks)

    def fetchall(self):
        rows = self.cursor.fetchall()
        fetched["rows"] += len(rows)
        return rows

    def fetchone(self):
        row = self.cursor.fetchone()
        fetched["rows"] += row is not None
        return row

    monkeypatch.setattr(compiler.SQLCompiler, "execute_sql", execute_sql)
    monkeypatch.setattr(CursorWrapper, "fetchall", fetchall, raising=False)
    monkeypatch.setattr(CursorWrapper, "fetchone", fetchone, raising=False)
    return fetched


def test_the_month_reads_the_same_queries_and_rows_with_10_or_100_visits_a_day(
    term, client_for, staff, django_assert_num_queries, rows_fetched
):
    west = make_term(tz=LOS_ANGELES)
    days = [MARCH_9, MARCH_10, dt.date(2027, 3, 31)]
    client = client_for(staff)
    url = f"{CALENDAR}?month=2027-03"

    def read():
        rows_fetched["rows"] = 0
        # the session with its user, the count per zone and local date (summed from the stored
        # 15-minute counts), the first 3 visits of each date (their ids a subquery; customer,
        # line and technician joined), technicians
        with django_assert_num_queries(4):
            assert client.get(url).status_code == 200
        return rows_fetched["rows"]

    for day in days:
        visits_on(term, day, 5)
        visits_on(west, day, 5, hour=14)
    with_10 = read()
    for day in days:
        visits_on(term, day, 45, hour=10)
        visits_on(west, day, 45, hour=16)
    assert read() == with_10
    # the session with its user, 3 counts in each of the 2 zones, the first 3 visits of each
    # date (of each date and zone on PostgreSQL, merged by local time in Python), the technician
    candidates = 3 * 3 * (2 if connection.features.supports_slicing_ordering_in_compound else 1)
    assert with_10 == 1 + 3 * 2 + candidates + 1


# --- week and day ---------------------------------------------------------------------


def test_the_week_lists_each_day_and_links_to_a_busy_day(term, client_for, staff):
    busy = visits_on(term, MARCH_9, WEEK_SHOWN + 5)
    visits_on(term, dt.date(2027, 3, 11), 2)
    client = client_for(staff)

    week = client.get(CALENDAR, {"view": "week", "day": "2027-03-10"})
    days = week.context["days"]
    assert [day.date for day in days] == [dt.date(2027, 3, 7) + dt.timedelta(n) for n in range(7)]
    assert [day.count for day in days] == [0, 0, WEEK_SHOWN + 5, 0, 2, 0, 0]
    assert pks(days[2].visits) == pks(busy[:WEEK_SHOWN])
    page = week.content.decode()
    assert 'href="?view=day&amp;day=2027-03-09&amp;technician=">+5 more' in page
    assert "Week of March 7, 2027" in page
    assert 'href="?view=week&amp;day=2027-03-03&amp;technician="' in page  # previous week

    day = client.get(CALENDAR, {"view": "day", "day": "2027-03-09"})
    assert pks(day.context["days"][0].visits) == pks(busy)
    assert 'href="?view=day&amp;day=2027-03-10&amp;technician="' in day.content.decode()  # next


def test_a_day_with_more_visits_than_a_page_lists_a_page_and_asks_for_a_filter(
    term, client_for, staff
):
    visits_on(term, MARCH_9, DAY_SHOWN + 1)
    response = client_for(staff).get(CALENDAR, {"view": "day", "day": "2027-03-09"})
    assert len(day_of(response, MARCH_9).visits) == DAY_SHOWN
    page = response.content.decode()
    assert f"Showing the first {DAY_SHOWN} of {DAY_SHOWN + 1} visits of this day." in page
    assert "Narrow the calendar with a technician or customer filter" in page


# --- filters, in every view -----------------------------------------------------------

VIEWS = [
    {"month": "2027-03"},
    {"view": "week", "day": "2027-03-09"},
    {"view": "day", "day": "2027-03-09"},
]


@pytest.mark.parametrize("params", VIEWS)
def test_the_technician_filter_keeps_one_technicians_visits(term, client_for, staff, params):
    rosa = UserFactory.create(role="staff", first_name="Rosa")
    hers = visits_on(term, MARCH_9, 2, technician=rosa)
    unassigned = visits_on(term, MARCH_9, 4, hour=13)
    client = client_for(staff)

    response = client.get(CALENDAR, {**params, "technician": str(rosa.pk)})
    assert pks(day_of(response, MARCH_9).visits) == pks(hers)
    assert f'value="{rosa.pk}" selected' in response.content.decode()
    assert f"technician={rosa.pk}" in response.content.decode()  # kept by the links
    nobody = day_of(client.get(CALENDAR, {**params, "technician": "none"}), MARCH_9)
    assert (nobody.count, pks(nobody.visits[:3])) == (4, pks(unassigned[:3]))
    assert day_of(client.get(CALENDAR, params), MARCH_9).count == 6


@pytest.mark.parametrize("params", VIEWS)
def test_the_customer_filter_keeps_one_customers_visits(
    term, client_for, staff, customer_b, params
):
    ours = visits_on(term, MARCH_9, 2)
    visits_on(make_term(customer=customer_b), MARCH_9, 3, hour=7)
    client = client_for(staff)
    for customer, shown in (
        ({"customer_name": "oak city"}, "oak city"),
        ({"customer": str(term.agreement.customer_id)}, "Oak City Dental, PLLC"),
    ):
        response = client.get(CALENDAR, {**params, **customer})
        day = day_of(response, MARCH_9)
        assert (day.count, pks(day.visits)) == (2, pks(ours))
        assert f'name="customer_name" value="{shown}"' in response.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"view": "year"},
        {"view": "day", "day": "2101-01-01"},
        {"view": "week", "day": "1999-12-31"},
        {"view": "day", "day": "2027-02-29"},
        {"view": "week", "day": "next tuesday"},
        {"month": "2027-00"},
        {"month": "0001-01"},
        {"technician": "²"},
        {"technician": "9" * 40, "customer": "-1", "customer_name": "x" * 5000},
    ],
)
def test_garbage_or_far_params_show_this_month_week_or_day(term, client_for, staff, params):
    visits_on(term, dt.date(2027, 3, 1), 1)
    response = client_for(staff).get(CALENDAR, params)
    assert response.status_code == 200
    if response.context["view"] == "month":
        assert response.context["month"].first == dt.date(2027, 3, 1)
    else:
        assert dt.date(2027, 3, 1) in [day.date for day in response.context["days"]]


# --- the technician's month and the portal ----------------------------------------------


def test_my_calendar_sends_a_busy_day_to_my_schedule(term, client_for, staff):
    mine = visits_on(term, MARCH_9, 5, technician=staff)
    visits_on(term, MARCH_9, 5, hour=12)  # someone else's
    client = client_for(staff)

    month = client.get(reverse("scheduling:my_calendar"), {"month": "2027-03"})
    assert day_of(month, MARCH_9).count == 5
    more = f'href="{reverse("scheduling:my_schedule")}?view=day&amp;day=2027-03-09">+2 more'
    assert more in month.content.decode()
    day = client.get(reverse("scheduling:my_schedule"), {"view": "day", "day": "2027-03-09"})
    assert pks(day.context["days"][0].visits) == pks(mine)


def test_the_portal_month_sends_a_busy_day_to_its_day_with_only_the_customers_visits(
    term, client_for, alice, customer_b
):
    ours = visits_on(term, MARCH_9, 5)
    theirs = visits_on(make_term(customer=customer_b), MARCH_9, 5)
    client = client_for(alice)
    url = reverse("portal:calendar")

    month = client.get(url, {"month": "2027-03"})
    assert day_of(month, MARCH_9).count == 5
    assert 'href="?view=day&amp;day=2027-03-09">+2 more' in month.content.decode()
    day = client.get(url, {"view": "day", "day": "2027-03-09"})
    assert pks(day.context["days"][0].visits) == pks(ours)
    page = day.content.decode()
    assert reverse("portal:visit_detail", args=[ours[4].pk]) in page
    assert not any(reverse("portal:visit_detail", args=[v.pk]) in page for v in theirs)

"""The scheduling pages: staff, technician and portal, with their bad input and query counts."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.urls import reverse

from agreements.tests.factories import signed_agreement
from allora.tests.factories import UserFactory
from billing.tests.factories import published_card
from scheduling.models import LineAssignment, Visit
from scheduling.planning import plan_term
from scheduling.tests.factories import (
    EVERY_TUESDAY,
    UTC,
    local,
    make_term,
    make_visit,
    visits_on,
)

NOW = dt.datetime(2027, 3, 1, 17, 0, tzinfo=UTC)  # Monday March 1, 2027, 12:00 in Raleigh


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def oak(frozen, customer_a, alice, admin):
    """Customer A's active agreement: term 1 from Jan 4, 2027, all its visits planned."""
    published_card()
    version = signed_agreement(
        customer=customer_a,
        customer_user=alice,
        admin=admin,
        signed_at=dt.datetime(2027, 1, 4, 15, 0, tzinfo=UTC),
        pdf=False,
    )
    return version.agreement


@pytest.fixture
def legal(frozen, customer_b):
    """Customer B's term with third Wednesdays at 10:00 (like A's) and Tuesdays at 09:00."""
    term = make_term(customer=customer_b, lines=[{}, EVERY_TUESDAY], start=dt.date(2027, 1, 4))
    plan_term(term)
    return term


def maintenance(agreement, month):
    return agreement.visits.get(line__kind="maintenance", starts_at__month=month)


# --- authorization: the outsider never sees customer A's visits --------------------------


def test_bob_gets_a_404_for_a_visit_of_customer_a(oak, client_for, bob, alice):
    url = reverse("portal:visit_detail", args=[maintenance(oak, 3).pk])

    assert client_for(bob).get(url).status_code == 404
    assert client_for(alice).get(url).status_code == 200


def test_the_portal_shows_only_the_customers_own_visits(oak, legal, client_for, alice):
    client = client_for(alice)

    schedule = client.get(reverse("portal:schedule")).content.decode()
    calendar = client.get(reverse("portal:calendar") + "?month=2027-03").content.decode()

    assert "Wed Mar 17, 2027 10:00–12:00" in schedule
    assert str(legal.agreement.customer) not in schedule + calendar
    for visit in legal.visits.filter(starts_at__month=3):
        assert reverse("portal:visit_detail", args=[visit.pk]) not in calendar


# --- constant query counts ---------------------------------------------------------------


def _queries(client, url, django_assert_num_queries, count):
    with django_assert_num_queries(count):
        response = client.get(url)
    assert response.status_code == 200
    return response


def test_the_staff_calendar_uses_the_same_queries_whatever_the_number_of_visits(
    frozen, client_for, staff, django_assert_num_queries
):
    client = client_for(staff)
    url = reverse("scheduling:calendar") + "?month=2027-03"
    # the session with its user, the count per day and zone summed from the stored counts
    # (none: nothing more to read), technicians for the filter (the customer filter is a search
    # box: no list of customers)
    _queries(client, url, django_assert_num_queries, 3)
    plan_term(make_term(lines=[{}, EVERY_TUESDAY]))
    # + the first 3 visits of each day (their ids a subquery; customer, line, technician
    # joined)
    _queries(client, url, django_assert_num_queries, 4)
    for _ in range(4):
        plan_term(make_term(lines=[{}, EVERY_TUESDAY]))
    page = _queries(client, url, django_assert_num_queries, 4).content.decode()
    # Five Tuesdays and the third Wednesday, each with 5 visits: 3 shown, "+2 more".
    assert page.count('class="calendar-visit ') == 6 * 3
    assert page.count("+2 more") == 6


def test_the_visit_list_uses_the_same_queries_whatever_the_number_of_visits(
    frozen, client_for, staff, django_assert_num_queries
):
    client = client_for(staff)
    url = reverse("scheduling:visit_list")
    plan_term(make_term())
    # the session with its user, count for the paginator, the page of visits (joined),
    # technicians
    _queries(client, url, django_assert_num_queries, 4)
    for _ in range(3):
        plan_term(make_term(lines=[{}, EVERY_TUESDAY]))
    _queries(client, url, django_assert_num_queries, 4)


def test_the_visit_list_reads_each_row_it_shows_in_its_four_queries(
    frozen, client_for, staff, django_assert_num_queries
):
    # The list reads only some columns as plain values (Visit.objects.listed): what a row
    # shows must be among them (a technician's name too).
    plan_term(make_term(lines=[{}, EVERY_TUESDAY]))
    technician = UserFactory(role="staff", first_name="Tess", last_name="Ng")
    Visit.objects.update(technician=technician, flag=Visit.Flag.CONFLICT)
    client = client_for(staff)
    url = reverse("scheduling:visit_list")
    with django_assert_num_queries(4) as queries:
        page = client.get(url).content.decode()
    assert "Tess Ng" in page and "Needs a technician" in page
    # The paginator's capped count reads the visits alone, not the joins of the rows.
    (count,) = [query["sql"] for query in queries.captured_queries if "COUNT(" in query["sql"]]
    assert "JOIN" not in count
    visit = Visit.objects.select_related("agreement__customer").latest("starts_at")
    assert visit.agreement.customer.legal_name in page and visit.agreement.number in page
    with django_assert_num_queries(2):  # the session with its user, the visits
        export = b"".join(client.get(reverse("scheduling:visit_export")).streaming_content)
    assert b"Tess Ng" in export and visit.agreement.number.encode() in export


def test_the_technicians_week_uses_the_same_queries_whatever_the_number_of_visits(
    frozen, client_for, staff, django_assert_num_queries
):
    client = client_for(staff)
    url = reverse("scheduling:my_schedule") + "?view=week&day=2027-03-16"

    def assign_one_more_term():
        term = make_term(lines=[{}, EVERY_TUESDAY])
        plan_term(term)
        term.visits.update(technician=staff)

    assign_one_more_term()
    client.get(url)
    # the session with its user, the week's visits counted per zone and day, the first visits
    # of each day (their ids a subquery), visits waiting for a report, the feed (get_or_create:
    # a read once it exists; the first request also inserts it)
    _queries(client, url, django_assert_num_queries, 5)
    for _ in range(2):
        assign_one_more_term()
    response = _queries(client, url, django_assert_num_queries, 5)
    assert response.content.decode().count("technician-visit") == 3 * 2  # Tue 16 and Wed 17


def test_the_portal_pages_use_the_same_queries_whatever_the_number_of_visits(
    oak, client_for, alice, django_assert_num_queries
):
    client = client_for(alice)
    schedule = reverse("portal:schedule")
    calendar = reverse("portal:calendar") + "?month=2027-03"
    client.get(schedule)  # creates the feed's secret address once
    # the session with its user, the customer (nav), upcoming visits, visit reports, the feed
    _queries(client, schedule, django_assert_num_queries, 5)
    # the session with its user, the customer (nav), the month's visits counted per zone and
    # day, the first 3 visits of each day (their ids a subquery)
    _queries(client, calendar, django_assert_num_queries, 4)
    for _ in range(3):
        make_visit(oak.terms.get(), local(dt.date(2027, 3, 8), 9), local(dt.date(2027, 3, 8), 10))
    _queries(client, schedule, django_assert_num_queries, 5)
    _queries(client, calendar, django_assert_num_queries, 4)


def test_a_bad_month_or_day_falls_back_to_today(frozen, client_for, staff):
    client = client_for(staff)
    for url in (
        reverse("scheduling:calendar") + "?month=2027-13",
        reverse("scheduling:calendar") + "?month=nonsense&technician=x&customer=y",
        reverse("scheduling:my_schedule") + "?day=2027-02-30",
        reverse("scheduling:visit_list") + "?from=yesterday",
    ):
        response = client.get(url)
        assert response.status_code == 200
    assert "March 2027" in client.get(reverse("scheduling:calendar") + "?month=x").content.decode()


# --- moving, with a conflict and its alternatives -----------------------------------------


def test_a_move_onto_another_visit_of_the_technician_names_it_and_offers_alternatives(
    oak, legal, client_for, staff
):
    Visit.objects.update(technician=staff)  # both customers' visits
    mine = maintenance(oak, 4)
    theirs = legal.visits.get(line__kind="maintenance", starts_at__month=3)
    client = client_for(staff)
    url = reverse("scheduling:visit_move", args=[mine.pk])

    response = client.post(url, {"date": "2027-03-17", "start_time": "11:00", "end_time": "13:00"})

    assert response.status_code == 409
    page = response.content.decode()
    assert "This would double-book" in page
    assert str(legal.agreement.customer) in page
    assert reverse("scheduling:visit_detail", args=[theirs.pk]) in page
    assert "Same day at 12:00–14:00" in page  # touching the 10:00–12:00 visit is fine
    mine.refresh_from_db()
    assert mine.status == Visit.Status.SCHEDULED

    # One click on the proposed slot: its hidden fields post back to the same form.
    response = client.post(
        url,
        {"date": "2027-03-17", "start_time": "12:00", "end_time": "14:00", "technician": staff.pk},
    )

    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.status == Visit.Status.MOVED
    assert mine.local_start == local(dt.date(2027, 3, 17), 12)
    assert maintenance(oak, 5).status == Visit.Status.SCHEDULED  # the series is untouched


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"date": "2027-02-10", "start_time": "10:00", "end_time": "12:00"}, "into the past"),
        ({"date": "2027-04-21", "start_time": "12:00", "end_time": "10:00"}, "end time must be"),
        ({"date": "2027-04-31", "start_time": "10:00", "end_time": "12:00"}, "Enter a date"),
        ({"date": "2027-04-21", "start_time": "25:00", "end_time": "12:00"}, "Enter a time"),
        (
            {"date": "2027-04-21", "start_time": "10:00", "end_time": "12:00", "technician": "999"},
            "Pick a technician from the list",
        ),
    ],
)
def test_bad_moves_get_a_clear_message(oak, client_for, staff, data, message):
    visit = maintenance(oak, 4)

    response = client_for(staff).post(reverse("scheduling:visit_move", args=[visit.pk]), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    visit.refresh_from_db()
    assert visit.status == Visit.Status.SCHEDULED


def test_reassigning_one_visit_leaves_the_others(oak, client_for, staff):
    priya = UserFactory(role="staff", first_name="Priya", last_name="Raman")
    visit = maintenance(oak, 4)

    response = client_for(staff).post(
        reverse("scheduling:visit_reassign", args=[visit.pk]), {"technician": priya.pk}
    )

    assert response.status_code == 302
    assert maintenance(oak, 4).technician == priya
    assert maintenance(oak, 5).technician is None


def test_assigning_a_line_reports_clashes_with_links_to_resolve_them(oak, legal, client_for, staff):
    legal.visits.filter(line__kind="maintenance").update(technician=staff)
    line = oak.versions.get(status="signed").lines.get(kind="maintenance")

    response = client_for(staff).post(
        reverse("scheduling:line_assign", args=[line.pk]), {"technician": staff.pk}, follow=True
    )

    page = response.content.decode()
    assert response.redirect_chain == [(reverse("scheduling:line_resolve", args=[line.pk]), 302)]
    assert "Visits to resolve" in page
    assert "10 visits clash with other visits of" in page
    # Customer B's third Wednesdays at 10:00 are in the way from March (today) to December.
    assert page.count('name="visits"') == 10
    assert page.count("One by one…") == 10
    assert LineAssignment.objects.get(line=line).technician == staff
    visit = maintenance(oak, 4)
    detail = client_for(staff).get(reverse("scheduling:visit_detail", args=[visit.pk]))
    assert "Conflict-free alternatives" in detail.content.decode()
    # The list stays: the services page links to it until the visits are resolved.
    services = client_for(staff).get(reverse("scheduling:line_list")).content.decode()
    assert "10 to resolve" in services


def test_the_technician_page_warns_of_clashes_before_assigning(oak, legal, client_for, staff):
    legal.visits.filter(line__kind="maintenance").update(technician=staff)
    line = oak.versions.get(status="signed").lines.get(kind="maintenance")
    free = UserFactory(role="staff", first_name="Priya", last_name="Raman")
    url = reverse("scheduling:line_assign_preview", args=[line.pk])

    busy = client_for(staff).get(url, {"technician": staff.pk}).content.decode()
    clear = client_for(staff).get(url, {"technician": free.pk}).content.decode()

    assert "10 of 10 upcoming visits clash" in busy
    assert "Wed Mar 17, 2027" in busy and str(legal.agreement.customer) in busy
    assert "Priya Raman is free for all 10 upcoming visits." in clear
    assert not Visit.objects.filter(line=line, technician__isnull=False).exists()  # nothing written


def _resolve_page(oak, legal, client_for, staff):
    legal.visits.filter(line__kind="maintenance").update(technician=staff)
    line = oak.versions.get(status="signed").lines.get(kind="maintenance")
    client_for(staff).post(
        reverse("scheduling:line_assign", args=[line.pk]), {"technician": staff.pk}
    )
    ids = list(
        Visit.objects.filter(line=line, flag=Visit.Flag.CONFLICT).values_list("pk", flat=True)
    )
    return line, ids, reverse("scheduling:line_resolve", args=[line.pk])


def test_clashing_visits_go_to_another_technician_at_once(oak, legal, client_for, staff):
    line, ids, url = _resolve_page(oak, legal, client_for, staff)
    priya = UserFactory(role="staff", first_name="Priya", last_name="Raman")

    response = client_for(staff).post(url, {"visits": ids, "technician": priya.pk}, follow=True)

    assert "10 visits booked with Priya Raman." in response.content.decode()
    visits = Visit.objects.filter(pk__in=ids)
    assert {(v.technician, v.flag) for v in visits} == {(priya, "")}
    assert "Nothing to resolve" in response.content.decode()


def test_clashing_visits_move_to_another_time_for_all(oak, legal, client_for, staff):
    line, ids, url = _resolve_page(oak, legal, client_for, staff)
    before = {v.pk: v.local_start for v in Visit.objects.filter(pk__in=ids)}

    # March to December: the local time stays 14:00 across November's daylight-saving change.
    response = client_for(staff).post(
        url, {"visits": ids[1:], "technician": staff.pk, "start_time": "14:00"}, follow=True
    )

    assert "9 visits booked with" in response.content.decode()
    moved = Visit.objects.filter(pk__in=ids[1:])
    assert {v.local_start.utcoffset() for v in moved} == {
        dt.timedelta(hours=-4),
        dt.timedelta(hours=-5),
    }
    for visit in moved:
        assert visit.technician == staff and visit.status == Visit.Status.MOVED
        assert visit.local_start.date() == before[visit.pk].date()
        assert (visit.local_start.hour, visit.local_start.minute) == (14, 0)
        assert visit.ends_at - visit.starts_at == dt.timedelta(hours=2)
    # The other one waits, still listed.
    assert Visit.objects.filter(pk__in=ids[:1], flag=Visit.Flag.CONFLICT).count() == 1


def test_a_visit_that_still_clashes_is_reported_and_left_alone(oak, legal, client_for, staff):
    line, ids, url = _resolve_page(oak, legal, client_for, staff)

    response = client_for(staff).post(url, {"visits": ids[:2], "technician": staff.pk}, follow=True)

    page = response.content.decode()
    assert page.count("Not changed:") == 2 and "is busy then:" in page
    assert Visit.objects.filter(pk__in=ids, flag=Visit.Flag.CONFLICT).count() == 10


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"technician": "me"}, "Tick at least one visit."),
        ({"visits": ["999999"], "technician": "me"}, "Tick visits of this list only"),
        ({"visits": "first", "technician": ""}, "Pick a technician."),
        ({"visits": "first", "technician": "me", "start_time": "25:99"}, "Enter a time"),
    ],
)
def test_bad_bulk_resolutions_change_nothing(oak, legal, client_for, staff, data, message):
    line, ids, url = _resolve_page(oak, legal, client_for, staff)
    data = {
        key: (staff.pk if value == "me" else ids[0] if value == "first" else value)
        for key, value in data.items()
    }

    response = client_for(staff).post(url, data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Visit.objects.filter(pk__in=ids, flag=Visit.Flag.CONFLICT).count() == 10


def test_the_schedule_change_preview_warns_of_the_technicians_clashes(
    oak, legal, client_for, staff
):
    legal.visits.filter(line__kind="maintenance").update(technician=staff)
    line = oak.versions.get(status="signed").lines.get(kind="maintenance")
    LineAssignment.objects.create(line=line, technician=staff, assigned_by=staff)
    params = {
        "tz": "America/New_York",
        "anchor": "2027-03-01",
        "line": line.pk,
        "schedule-frequency": "monthly",
        "schedule-interval": "1",
        "schedule-monthly_mode": "weekday",
        "schedule-ordinal": "3",
        "schedule-weekday": "WE",
        "schedule-start_time": "10:00",
        "schedule-duration_hours": "2",
    }
    url = reverse("scheduling:schedule_preview")

    clash = client_for(staff).get(url, params).content.decode()
    free = client_for(staff).get(url, {**params, "schedule-start_time": "13:00"}).content.decode()

    assert "6 of the next 6 visits clash with other visits of" in clash
    assert "clashes with" in clash
    assert "is free for the next 6 visits." in free


def test_changing_a_lines_schedule_from_a_date(oak, client_for, staff):
    line = oak.versions.get(status="signed").lines.get(kind="maintenance")
    data = {
        "effective_from": "2027-06-01",
        "schedule-frequency": "monthly",
        "schedule-interval": "1",
        "schedule-monthly_mode": "weekday",
        "schedule-ordinal": "1",
        "schedule-weekday": "MO",
        "schedule-start_time": "14:00",
        "schedule-duration_hours": "1.5",
    }

    response = client_for(staff).post(reverse("scheduling:line_schedule", args=[line.pk]), data)

    assert response.status_code == 302
    june = oak.visits.open().filter(line=line, starts_at__month=6).get()
    assert june.local_start == local(dt.date(2027, 6, 7), 14)
    assert oak.visits.filter(line=line, status="cancelled").count() == 7


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("2027-02-01", "must start today or later"),
        ("9999-12-31", "Enter a date from 2000-01-01 to 2100-12-31."),
        ("2101-01-01", "Enter a date from 2000-01-01 to 2100-12-31."),
    ],
)
def test_a_schedule_change_in_the_past_or_beyond_2100_is_refused(
    oak, client_for, staff, day, message
):
    line = oak.versions.get(status="signed").lines.get(kind="maintenance")

    response = client_for(staff).post(
        reverse("scheduling:line_schedule", args=[line.pk]),
        {
            "effective_from": day,
            "schedule-frequency": "weekly",
            "schedule-interval": "1",
            "schedule-weekdays": ["MO"],
            "schedule-start_time": "09:00",
            "schedule-duration_hours": "1",
        },
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not line.schedule_changes.exists()


def test_moving_a_visit_to_a_far_date_is_refused_with_the_range(oak, client_for, staff):
    visit = maintenance(oak, 4)
    data = {"date": "9999-12-31", "start_time": "10:00", "end_time": "12:00"}

    response = client_for(staff).post(reverse("scheduling:visit_move", args=[visit.pk]), data)

    assert "Enter a date from 2000-01-01 to 2100-12-31." in response.content.decode()
    assert Visit.objects.get(pk=visit.pk).starts_at == visit.starts_at


# --- completing -----------------------------------------------------------------------------


def test_the_technician_completes_a_visit_once(oak, client_for, staff, alice):
    visit = maintenance(oak, 2)  # February 17: done, waiting for its report
    Visit.objects.filter(pk=visit.pk).update(technician=staff)
    client = client_for(staff)
    url = reverse("scheduling:visit_complete", args=[visit.pk])
    week = client.get(reverse("scheduling:my_schedule")).content.decode()
    assert url in week  # listed under "Waiting for your report"

    response = client.post(
        url,
        {"done": ["0", "1", "3"], "findings": "Cleaned the server fans.", "hours_worked": "2.5"},
    )

    assert response.status_code == 302
    visit.refresh_from_db()
    assert visit.status == Visit.Status.COMPLETED and visit.hours_worked == D("2.50")
    again = client.post(url, {"findings": "twice", "hours_worked": "1"}, follow=True)
    assert "already completed on Mar 1, 2027" in again.content.decode()
    visit.refresh_from_db()
    assert visit.findings == "Cleaned the server fans."

    report = client_for(alice).get(reverse("portal:visit_detail", args=[visit.pk]))
    page = report.content.decode()
    assert "Visit report" in page and "Cleaned the server fans." in page and "2.50 hours" in page
    assert page.count('aria-label="done"') == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"hours_worked": ""}, "Enter the hours worked"),
        ({"hours_worked": "-1"}, "at least 0.25 hours"),
        ({"hours_worked": "30"}, "at most 24 hours"),
        ({"hours_worked": "2", "done": ["9"]}, "Tick items of this visit"),
    ],
)
def test_bad_reports_get_a_clear_message(oak, client_for, staff, data, message):
    visit = maintenance(oak, 2)

    response = client_for(staff).post(reverse("scheduling:visit_complete", args=[visit.pk]), data)

    assert response.status_code == 200
    assert message in response.content.decode()


def test_a_future_visit_cannot_be_completed_yet(oak, client_for, staff):
    visit = maintenance(oak, 4)

    response = client_for(staff).post(
        reverse("scheduling:visit_complete", args=[visit.pk]), {"hours_worked": "2"}, follow=True
    )

    assert "complete it on that day or later" in response.content.decode()
    visit.refresh_from_db()
    assert visit.status == Visit.Status.SCHEDULED


def test_cancelling_one_visit_asks_first(oak, client_for, staff):
    visit = maintenance(oak, 4)
    url = reverse("scheduling:visit_cancel", args=[visit.pk])
    client = client_for(staff)

    assert "Cancel this visit?" in client.get(url).content.decode()
    client.post(url)

    visit.refresh_from_db()
    assert visit.status == Visit.Status.CANCELLED
    again = client.post(url, follow=True)
    assert "already cancelled" in again.content.decode()


def test_the_visit_list_counts_no_further_than_its_cap(frozen, client_for, staff, monkeypatch):
    """Upcoming visits grow without bound: the list counts at most its cap ("Page 2 of 3+") and
    says how to see further, instead of counting every future visit."""
    from scheduling import views

    monkeypatch.setattr(views, "UPCOMING_PAGE", 2)
    monkeypatch.setattr(views, "UPCOMING_CAP", 6)
    term = make_term()
    visits_on(term, dt.date(2027, 3, 20), 9)
    client = client_for(staff)
    url = reverse("scheduling:visit_list")
    first = client.get(url).content.decode()
    assert "Page 1 of 3+" in first
    assert "The list stops here" not in first
    last = client.get(url + "?page=3").content.decode()
    assert "Page 3 of 3+" in last
    assert "The list stops here" in last
    assert last.count("<tr") - 1 == 2  # a header row and the page's two visits


def test_the_visit_list_keeps_a_visit_going_on_at_midnight(frozen, client_for, staff):
    """The index bound on the start (a day before) keeps a visit still going on at midnight."""
    term = make_term()
    tz = term.agreement.tz
    make_visit(
        term,
        dt.datetime(2027, 3, 20, 23, 30, tzinfo=tz),
        dt.datetime(2027, 3, 21, 1, 0, tzinfo=tz),
    )
    page = client_for(staff).get(reverse("scheduling:visit_list") + "?from=2027-03-21")
    assert "Mar 20" in page.content.decode() or "March 20" in page.content.decode()

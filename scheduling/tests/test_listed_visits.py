"""The visit list's rows (``ListedVisit``, read from plain values): each says what its ``Visit``
says, in the customer's zone across a daylight-saving change, with or without a technician,
whatever its status and flag; and the list and its CSV print them."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from allora.templatetags.listing import visit_badge
from allora.tests.factories import UserFactory
from scheduling.models import ListedVisit, Visit, listed_visits
from scheduling.tests.factories import local, make_term, make_visit

NOW = dt.datetime(2027, 3, 1, 17, 0, tzinfo=dt.UTC)
BEFORE_DST = dt.date(2027, 3, 13)  # Saturday; New York moves to EDT on Sunday the 14th at 2:00
AFTER_DST = dt.date(2027, 3, 15)


@pytest.fixture
def visits(time_machine, db):
    """A New York and a Los Angeles term, with visits on both sides of the change to summer
    time, one of each status, one of each flag, assigned or not."""
    time_machine.move_to(NOW, tick=False)
    tess = UserFactory(role="staff", first_name="Tess", last_name="Ng")
    nameless = UserFactory(role="staff", first_name="", last_name="", email="tech@example.com")
    new_york, los_angeles = make_term(), make_term(tz="America/Los_Angeles")
    made = []
    for n, (term, day, status, flag, technician) in enumerate(
        [
            (new_york, BEFORE_DST, Visit.Status.SCHEDULED, "", tess),
            (new_york, AFTER_DST, Visit.Status.MOVED, Visit.Flag.HOLIDAY, None),
            (los_angeles, BEFORE_DST, Visit.Status.COMPLETED, "", nameless),
            (los_angeles, AFTER_DST, Visit.Status.SCHEDULED, Visit.Flag.CONFLICT, None),
            (new_york, AFTER_DST, Visit.Status.CANCELLED, "", tess),
        ]
    ):
        tz = term.agreement.time_zone
        made.append(
            make_visit(
                term,
                local(day, 10 + n, tz=tz),
                local(day, 12 + n, 30, tz=tz),
                technician=technician,
                status=status,
                flag=flag,
            )
        )
    return made


def _listed(visits) -> list[ListedVisit]:
    ids = [visit.pk for visit in visits]
    return list(listed_visits(Visit.objects.filter(pk__in=ids).order_by("pk").listed()))


def test_a_listed_visit_says_what_its_visit_says(visits):
    for visit, row in zip(visits, _listed(visits), strict=True):
        visit = Visit.objects.for_display().get(pk=visit.pk)
        assert row.pk == visit.pk
        assert (row.local_day, row.local_times, row.zone_abbr, row.local_label) == (
            visit.local_day,
            visit.local_times,
            visit.zone_abbr,
            visit.local_label,
        )
        assert row.customer == str(visit.agreement.customer)
        assert row.agreement_number == visit.agreement.number
        assert row.service == visit.line.get_kind_display()
        assert (str(row.technician) if row.technician else None) == (
            str(visit.technician) if visit.technician else None
        )
        assert row.get_status_display() == visit.get_status_display()
        assert row.get_flag_display() == visit.get_flag_display()
        assert visit_badge(row) == visit_badge(visit)
        assert visit_badge(row, hide_flag=True) == visit_badge(visit, hide_flag=True)


def test_times_are_the_customers_on_each_side_of_the_change_to_summer_time(visits):
    rows = _listed(visits)
    assert [(row.local_label) for row in rows[:4]] == [
        "Sat Mar 13, 2027 10:00–12:30 EST",
        "Mon Mar 15, 2027 11:00–13:30 EDT",
        "Sat Mar 13, 2027 12:00–14:30 PST",
        "Mon Mar 15, 2027 13:00–15:30 PDT",
    ]


def test_a_technician_reads_by_name_or_email_and_an_unassigned_visit_has_none(visits):
    tess, unassigned, nameless, *_ = _listed(visits)
    assert (str(tess.technician), tess.technician.get_full_name()) == ("Tess Ng", "Tess Ng")
    assert (str(nameless.technician), nameless.technician.get_full_name()) == (
        "tech@example.com",
        "",
    )
    assert unassigned.technician is None


def test_the_visit_list_and_its_export_print_the_rows(visits, client_for, staff):
    client = client_for(staff)
    page = client.get(reverse("scheduling:visit_list"), {"from": "2027-03-13"}).content.decode()
    assert 'Sat Mar 13, 2027 10:00–12:30</a> <span class="small text-muted">EST' in page
    assert 'Mon Mar 15, 2027 13:00–15:30</a> <span class="small text-muted">PDT' in page
    assert '<td class="d-none d-sm-table-cell">—</td>' in page  # the unassigned visits
    assert '<span class="badge text-bg-info">Moved</span>' in page
    assert '<span class="badge text-bg-success">Completed</span>' not in page  # not open
    assert "Needs a technician (the default one is busy)" in page

    export = client.get(reverse("scheduling:visit_export"), {"from": "2027-03-13"})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[1:] == [
        ["2027-03-13", "10:00", "12:30", "EST", *_names(visits[0]), "Tess Ng", "Scheduled", ""],
        ["2027-03-15", "11:00", "13:30", "EDT", *_names(visits[1]), "", "Moved",
         "On a company holiday"],
        ["2027-03-15", "13:00", "15:30", "PDT", *_names(visits[3]), "", "Scheduled",
         "Needs a technician (the default one is busy)"],
    ]  # fmt: skip


def _names(visit):
    agreement = visit.agreement
    return [agreement.customer.legal_name, agreement.number, visit.line.get_kind_display()]


def test_the_calendars_print_the_rows(visits, client_for, staff):
    client = client_for(staff)
    week = client.get(reverse("scheduling:calendar"), {"view": "week", "day": "2027-03-15"})
    text = week.content.decode()
    assert all(
        isinstance(visit, ListedVisit) for day in week.context["days"] for visit in day.visits
    )
    new_york = visits[0].agreement.customer.legal_name
    assert f'11:00–13:30</a> <span class="small text-muted">EDT</span></td>\n<td>{new_york}' in text
    assert "<td>unassigned</td>" in text
    assert '<span class="badge text-bg-warning">On a company holiday</span>' in text
    month = client.get(reverse("scheduling:calendar"), {"month": "2027-03"}).content.decode()
    assert "10:00</span> " + new_york + " · Tess" in month
    assert " · unassigned" in month and "calendar-visit-flagged" in month
    assert "Sat Mar 13, 2027 12:00–14:30 PST · tech@example.com" in month  # title: str(user)


def test_the_portal_calendar_hides_the_flags_and_my_schedule_shows_the_address(
    visits, client_for, customer_a, alice
):
    mine = make_term(customer=customer_a)
    tz = mine.agreement.time_zone
    make_visit(mine, local(AFTER_DST, 9, tz=tz), local(AFTER_DST, 10, tz=tz), flag="holiday")
    week = client_for(alice).get(reverse("portal:calendar"), {"view": "week", "day": "2027-03-15"})
    text = week.content.decode()
    assert "09:00–10:00" in text and "to be confirmed" in text
    assert "On a company holiday" not in text

    tess = visits[0].technician
    schedule = client_for(tess).get(reverse("scheduling:my_schedule"), {"day": "2027-03-13"})
    (visit,) = [visit for day in schedule.context["days"] for visit in day.visits]
    assert isinstance(visit, Visit)
    assert visit.agreement.customer.address in schedule.content.decode()

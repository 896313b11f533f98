"""What the calendar pages print in each day (``scheduling/templatetags/calendar_days.py``): a
month cell's first visits in order and "+N more", the week's rows in each customer's local time
across the change to summer time, and customers' and technicians' names escaped everywhere."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from agreements.tests.factories import CustomerFactory
from allora.tests.factories import UserFactory
from scheduling.models import Visit
from scheduling.tests.factories import UTC, local, make_term, make_visit, visits_on

NOW = dt.datetime(2027, 3, 1, 17, 0, tzinfo=UTC)  # Monday March 1, 2027, 12:00 in Raleigh
MARCH_9, MARCH_10 = dt.date(2027, 3, 9), dt.date(2027, 3, 10)
CALENDAR = reverse("scheduling:calendar")
TIMES = re.compile(r'<span class="calendar-time">(\d\d:\d\d)</span> ([^<]*) </a>')
ROWS = re.compile(
    r'<td class="calendar-time"><a href="[^"]+">([^<]+)</a> '
    r'<span class="small text-muted">(\w+)</span></td>\n<td>([^<]*)</td>'
)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def month_cells(page: str) -> dict[str, str]:
    """Each ``<td>`` of the month grid by its date ("2027-03-09"), with its class."""
    cells = re.findall(r'<td class="([^"]*)" data-date="([^"]+)">(.*?)</td>', page, re.S)
    return {date: f"{css}|{html}" for css, date, html in cells}


def week_days(page: str) -> dict[str, str]:
    """Each day's part of a week page by its heading ("Tuesday, March 9")."""
    parts = page.split('<h3 class="h6 mt-3')[1:]
    headings = [re.findall(r">([A-Z][a-z]+day, [A-Z][a-z]+ \d+)<", part)[0] for part in parts]
    return dict(zip(headings, parts, strict=True))


def test_a_month_cell_lists_its_first_three_visits_by_time_and_counts_the_rest(
    frozen, client_for, staff
):
    term = make_term()
    rosa = UserFactory(role="staff", first_name="Rosa", last_name="Diaz")
    visits_on(term, MARCH_9, 4, hour=13)
    visits_on(term, MARCH_9, 1, hour=9, technician=rosa)
    [done] = visits_on(term, MARCH_10, 1, hour=11, technician=rosa)
    done.status = Visit.Status.COMPLETED
    done.save()
    page = client_for(staff).get(CALENDAR, {"month": "2027-03"}).content.decode()
    cells = month_cells(page)

    assert (len(cells), min(cells), max(cells)) == (35, "2027-02-28", "2027-04-03")  # 5 weeks
    customer = term.agreement.customer.legal_name
    ninth = cells["2027-03-09"]
    assert TIMES.findall(ninth) == [
        ("09:00", f"{customer} · Rosa"),
        ("13:00", f"{customer} · unassigned"),
        ("13:02", f"{customer} · unassigned"),
    ]
    assert (
        '<a class="calendar-more" href="?view=day&amp;day=2027-03-09&amp;technician=">+2 more'
        '<span class="visually-hidden"> visits on March 9</span></a>'
    ) in ninth
    assert TIMES.findall(cells["2027-03-10"]) == [("11:00", f"{customer} · Rosa ✓")]
    assert "calendar-visit-completed" in cells["2027-03-10"]
    assert "Wed Mar 10, 2027 11:00–11:30 EST · Rosa Diaz" in cells["2027-03-10"]
    assert "calendar-more" not in cells["2027-03-10"]
    # Today, an empty day of the month, a day of the next month.
    assert cells["2027-03-01"].startswith(" calendar-today calendar-empty|")
    assert cells["2027-03-11"].startswith(" calendar-empty|")
    assert cells["2027-04-01"].startswith("calendar-other-month calendar-empty|")
    assert '<span class="calendar-weekday">Tue, Mar </span>9</div>' in ninth


def test_the_week_shows_each_visit_on_its_local_day_across_the_change_to_summer_time(
    frozen, client_for, staff
):
    """New York moves to EDT on Sunday March 14, 2027 at 2:00: a visit from 01:30 ends at
    03:30 EDT an hour later; 23:30 in Los Angeles that Sunday is Monday in UTC."""
    sunday, monday = dt.date(2027, 3, 14), dt.date(2027, 3, 15)
    new_york, los_angeles = make_term(), make_term(tz="America/Los_Angeles")
    night = local(sunday, 1, 30)
    make_visit(new_york, night, night + dt.timedelta(hours=1))
    make_visit(new_york, local(monday, 10), local(monday, 12))
    late = local(sunday, 23, 30, tz="America/Los_Angeles")
    make_visit(los_angeles, late, late + dt.timedelta(minutes=30))
    page = client_for(staff).get(CALENDAR, {"view": "week", "day": "2027-03-16"}).content.decode()
    days = week_days(page)

    ny, la = (term.agreement.customer.legal_name for term in (new_york, los_angeles))
    assert list(days) == [
        "Sunday, March 14", "Monday, March 15", "Tuesday, March 16", "Wednesday, March 17",
        "Thursday, March 18", "Friday, March 19", "Saturday, March 20",
    ]  # fmt: skip
    assert ROWS.findall(days["Sunday, March 14"]) == [
        ("01:30–03:30", "EST", ny),
        ("23:30–00:00", "PDT", la),
    ]
    assert "· 2 visits" in days["Sunday, March 14"]
    assert ROWS.findall(days["Monday, March 15"]) == [("10:00–12:00", "EDT", ny)]
    assert "· 1 visit<" in days["Monday, March 15"]
    assert "Visits on Monday, March 15, 2027</caption>" in days["Monday, March 15"]
    assert ROWS.findall(days["Tuesday, March 16"]) == []
    assert "· 0 visits" in days["Tuesday, March 16"]


MARKUP = '<script>alert("x")</script> & Sons'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Sons"


def test_names_with_markup_are_escaped_in_the_month_week_and_day(frozen, client_for, staff):
    term = make_term(customer=CustomerFactory(legal_name=MARKUP))
    eve = UserFactory(role="staff", first_name="<b>Eve</b>", last_name="O'Hara")
    visits_on(term, MARCH_9, 1, hour=10, technician=eve)
    client = client_for(staff)

    month = client.get(CALENDAR, {"month": "2027-03"}).content.decode()
    ninth = month_cells(month)["2027-03-09"]
    assert TIMES.findall(ninth) == [("10:00", f"{ESCAPED} · &lt;b&gt;Eve&lt;/b&gt;")]
    assert f'title="{ESCAPED} · ' in ninth
    assert "&lt;b&gt;Eve&lt;/b&gt; O&#x27;Hara" in ninth
    assert "<script>alert" not in month and "<b>Eve" not in month
    for params in ({"view": "week", "day": "2027-03-09"}, {"view": "day", "day": "2027-03-09"}):
        page = client.get(CALENDAR, params).content.decode()
        assert ROWS.findall(page) == [("10:00–10:30", "EST", ESCAPED)]
        assert "<td>&lt;b&gt;Eve&lt;/b&gt; O&#x27;Hara</td>" in page
        assert "<script>alert" not in page and "<b>Eve" not in page


def test_the_visit_list_prints_each_row_with_names_escaped(frozen, client_for, staff):
    """The list's rows (`VisitRow.html`) print what its template printed, names escaped."""
    term = make_term(customer=CustomerFactory(legal_name=MARKUP))
    eve = UserFactory(role="staff", first_name="<b>Eve</b>", last_name="O'Hara")
    [visit] = visits_on(term, MARCH_9, 1, hour=10, technician=eve)
    page = client_for(staff).get(reverse("scheduling:visit_list")).content.decode()
    number = term.agreement.number
    row = (
        "\n    <tr>\n"
        f'      <td><a href="/schedule/visits/{visit.pk}/">Tue Mar 9, 2027 10:00–10:30</a> '
        '<span class="small text-muted">EST</span></td>\n'
        f'      <td>{ESCAPED}<div class="small text-muted">{number}</div></td>\n'
        '      <td class="d-none d-md-table-cell">'
    )
    assert row in page
    assert '<td class="d-none d-sm-table-cell">&lt;b&gt;Eve&lt;/b&gt; O&#x27;Hara</td>' in page
    assert "<script>alert" not in page and "<b>Eve" not in page

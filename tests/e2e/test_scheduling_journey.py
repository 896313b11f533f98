"""Staff assign a technician to a line, hit a conflict when moving a visit onto another customer's
visit of that technician and pick a proposed alternative; the technician completes a visit; the
customer reads the report, sees the month calendar and downloads the calendar feed."""

import datetime as dt

import pytest
from django.db.models import F
from django.utils import timezone
from icalendar import Calendar
from playwright.sync_api import expect

from agreements.tests.factories import signed_agreement
from billing.tests.factories import published_card
from scheduling.conflicts import find_clashes
from scheduling.models import Visit
from scheduling.planning import assign_line

pytestmark = pytest.mark.django_db(transaction=True)


def maintenance_line(agreement):
    return agreement.versions.get(status="signed").lines.get(kind="maintenance")


@pytest.fixture
def agreements(customer_a, customer_b, alice, bob, admin, staff):
    """Both customers signed 45 days ago (third Wednesdays at 10:00 for 2 hours). Customer B's
    visits sit on the Thursdays after, and already belong to the technician (staff)."""
    published_card()
    signed_at = timezone.now() - dt.timedelta(days=45)
    oak = signed_agreement(
        customer=customer_a, customer_user=alice, admin=admin, signed_at=signed_at, pdf=False
    ).agreement
    legal = signed_agreement(
        customer=customer_b, customer_user=bob, admin=admin, signed_at=signed_at, pdf=False
    ).agreement
    day = dt.timedelta(days=1)
    legal.visits.update(
        starts_at=F("starts_at") + day,
        ends_at=F("ends_at") + day,
        occurrence_start=F("occurrence_start") + day,
    )
    assign_line(maintenance_line(legal), technician=staff, by=admin, today=legal.terms.get().start)
    return oak, legal


def test_assign_conflict_alternative_complete_and_the_customer_sees_it(
    page, live_server, sign_in, sign_out, staff, alice, agreements, tmp_path
):
    oak, legal = agreements
    soon = timezone.now() + dt.timedelta(days=1)
    mine = oak.visits.filter(line__kind="maintenance", starts_at__gt=soon).first()
    theirs = legal.visits.filter(line__kind="maintenance", starts_at__gt=soon).first()
    done = oak.visits.filter(line__kind="maintenance", ends_at__lt=timezone.now()).last()

    # Staff make the technician the default of customer A's maintenance line.
    sign_in(staff)
    page.get_by_role("link", name="Schedule", exact=True).click()
    page.get_by_role("link", name="Services and technicians").click()
    page.get_by_role(
        "link", name="Assign a technician to Monthly Maintenance of Oak City Dental, PLLC"
    ).click()
    page.get_by_label("Technician").select_option(label=str(staff))
    page.get_by_role("button", name="Assign").click()
    expect(
        page.get_by_text(f"{staff} is now the technician for Monthly Maintenance")
    ).to_be_visible()
    mine.refresh_from_db()
    assert mine.technician == staff

    # Moving A's next visit onto B's visit of the same technician is a conflict ...
    page.get_by_role("link", name="Next visits").click()
    page.get_by_role("link", name=f"{mine.local_day:%a %b %-d, %Y} {mine.local_times}").click()
    page.get_by_role("link", name="Move…").click()
    page.get_by_label("Date").fill(theirs.local_day.isoformat())
    page.get_by_label("From").fill(f"{theirs.local_start:%H:%M}")
    page.get_by_label("To").fill(f"{theirs.local_end:%H:%M}")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_role("heading", name=f"This would double-book {staff}")).to_be_visible()
    expect(
        page.get_by_role("link", name="Triangle Legal Group, LLP · Monthly Maintenance")
    ).to_be_visible()
    mine.refresh_from_db()
    assert mine.status == Visit.Status.SCHEDULED

    # ... and one click on the first proposed alternative books it.
    first = page.locator(".alternatives li").first
    first.get_by_role("button", name="Use this").click()
    expect(page.get_by_text("Visit now")).to_be_visible()
    mine.refresh_from_db()
    assert mine.status == Visit.Status.MOVED
    assert find_clashes(mine.technician, mine.starts_at, mine.ends_at, exclude=mine) == []
    assert oak.visits.filter(status=Visit.Status.MOVED).count() == 1  # the series stays

    # The technician completes A's last visit: checklist ticks, findings and hours.
    page.get_by_role("link", name="Next visits").click()
    page.get_by_label("From").fill(done.local_day.isoformat())
    # The customer filter is a search box: typing suggests the matching names (htmx).
    page.get_by_label("Customer").press_sequentially("oak city")
    suggestion = page.locator('#customer-options option[value="Oak City Dental, PLLC"]')
    expect(suggestion).to_have_count(1)
    page.get_by_label("Customer").fill("Oak City Dental, PLLC")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name=f"{done.local_day:%a %b %-d, %Y} {done.local_times}").click()
    page.get_by_role("link", name="Complete…").click()
    page.get_by_label("Inspections").check()
    page.get_by_label("Backups").check()
    page.get_by_label("Findings").fill("Replaced the UPS battery in the server closet.")
    page.get_by_label("Hours worked").fill("2.5")
    page.get_by_role("button", name="Complete the visit").click()
    expect(page.get_by_text("Visit completed")).to_be_visible()
    complete_url = f"{live_server.url}/schedule/visits/{done.pk}/complete/"
    page.goto(complete_url)
    expect(page.get_by_text("already completed on")).to_be_visible()
    done.refresh_from_db()
    assert done.status == Visit.Status.COMPLETED and done.completed_by == staff
    sign_out()

    # The customer reads the report, sees the month calendar and downloads the feed.
    sign_in(alice)
    page.get_by_role("link", name="Visits", exact=True).click()
    page.get_by_role("link", name=f"Monthly Maintenance, {done.local_day:%B %-d, %Y}").click()
    expect(page.get_by_text("Replaced the UPS battery in the server closet.")).to_be_visible()
    expect(page.get_by_text("2.50 hours")).to_be_visible()
    expect(page.get_by_label("done", exact=True)).to_have_count(2)
    page.get_by_role("link", name="All visits").click()
    page.get_by_role("link", name="Month calendar").click()
    expect(page.get_by_role("heading", name=f"{timezone.localdate():%B %Y}")).to_be_visible()
    expect(page.locator(".calendar-visit").first).to_be_visible()
    expect(page.get_by_text("Triangle Legal")).to_have_count(0)
    page.get_by_role("link", name="List and reports").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download (.ics)").click()
    path = tmp_path / "visits.ics"
    download.value.save_as(path)

    events = {str(e["uid"]): e for e in Calendar.from_ical(path.read_bytes()).walk("VEVENT")}
    visits = {v.uid: v for v in Visit.objects.filter(agreement__customer=oak.customer)}
    assert set(events) <= set(visits) and len(events) >= 12
    for uid, event in events.items():
        assert event.decoded("dtstart") == visits[uid].starts_at
        assert event.decoded("dtend") == visits[uid].ends_at
    moved = events[mine.uid]
    # Assigned, then moved: two changes a subscribed calendar must pick up.
    assert int(moved["sequence"]) == mine.sequence == 2
    assert moved.decoded("dtstart") == mine.starts_at

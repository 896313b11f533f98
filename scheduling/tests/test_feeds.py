"""iCalendar feeds: parsed back with `icalendar`, every event must equal its visit."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from icalendar import Calendar

from scheduling.models import CalendarFeed, Visit
from scheduling.planning import cancel_future_visits, plan_term, reschedule_visit
from scheduling.tests.factories import EVERY_TUESDAY, NY, UTC, local, make_term

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2027, 1, 2, 17, 0, tzinfo=UTC)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def term(frozen, customer_a):
    term = make_term(customer=customer_a, lines=[{}, EVERY_TUESDAY])
    plan_term(term)
    return term


def fetch(client, feed):
    response = client.get(reverse("scheduling:feed", args=[feed.token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def events(calendar):
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


def test_the_customer_feed_holds_every_visit_at_its_exact_time(term, client, customer_a):
    found = events(fetch(client, CalendarFeed.for_customer(customer_a)))

    visits = list(term.visits.all())
    assert len(visits) == 12 + 52
    assert set(found) == {visit.uid for visit in visits}
    for visit in visits:
        event = found[visit.uid]
        assert event.decoded("dtstart") == visit.starts_at
        assert event.decoded("dtend") == visit.ends_at
        assert event.decoded("dtstart").tzinfo.utcoffset(None) == dt.timedelta(0)  # UTC
        assert str(event["status"]) == "CONFIRMED"
        assert int(event["sequence"]) == 0
        assert str(event["location"]) == customer_a.address
    # 10:00 stays 10:00 in Raleigh on both sides of both DST changes.
    maintenance = [found[v.uid] for v in visits if v.line.kind == "maintenance"]
    local_times = {e.decoded("dtstart").astimezone(ZoneInfo(NY)).time() for e in maintenance}
    assert local_times == {dt.time(10, 0)}
    utc_hours = {e.decoded("dtstart").hour for e in maintenance}
    assert utc_hours == {14, 15}


def test_a_move_and_a_cancellation_update_the_event_in_place(term, client, customer_a, staff):
    feed = CalendarFeed.for_customer(customer_a)
    before = events(fetch(client, feed))
    march = term.visits.get(line__kind="maintenance", starts_at__month=3)
    reschedule_visit(
        march,
        starts_at=local(dt.date(2027, 3, 18), 14),
        ends_at=local(dt.date(2027, 3, 18), 16),
        technician=None,
        now=NOW,
    )
    cancel_future_visits(term.agreement, after=dt.date(2027, 11, 1))

    after = events(fetch(client, feed))

    assert set(after) == set(before)  # stable UIDs: the same events, updated
    moved = after[march.uid]
    assert moved.decoded("dtstart") == local(dt.date(2027, 3, 18), 14)
    assert int(moved["sequence"]) == 1
    assert str(moved["status"]) == "CONFIRMED"
    cancelled = [e for e in after.values() if str(e["status"]) == "CANCELLED"]
    assert len(cancelled) == term.visits.filter(status=Visit.Status.CANCELLED).count() > 0
    assert all(int(e["sequence"]) == 1 for e in cancelled)


def test_the_technician_feed_holds_only_their_visits(term, client, staff):
    term.visits.filter(line__kind="maintenance").update(technician=staff)

    found = events(fetch(client, CalendarFeed.for_technician(staff)))

    assert len(found) == 12
    assert all(str(term.agreement.customer) in str(e["summary"]) for e in found.values())


def test_a_wrong_token_is_a_404_that_reveals_nothing(term, client, customer_a):
    CalendarFeed.for_customer(customer_a)

    for token in ("not-a-real-token", "x" * 43):
        response = client.get(reverse("scheduling:feed", args=[token]))
        assert response.status_code == 404
        assert str(customer_a) not in response.content.decode()
    assert client.get("/feeds/../admin.ics").status_code == 404


def test_regenerating_revokes_the_old_address(term, client_for, alice, bob, customer_a):
    feed = CalendarFeed.for_customer(customer_a)
    old = reverse("scheduling:feed", args=[feed.token])
    client = client_for(alice)
    confirm = client.get(reverse("portal:feed_regenerate"))
    assert "Create a new calendar address?" in confirm.content.decode()

    response = client.post(reverse("portal:feed_regenerate"), follow=True)

    feed.refresh_from_db()
    assert client.get(old).status_code == 404
    assert client.get(reverse("scheduling:feed", args=[feed.token])).status_code == 200
    assert reverse("scheduling:feed", args=[feed.token]) in response.content.decode()
    # Bob regenerating his own customer's address leaves customer A's alone.
    client_for(bob).post(reverse("portal:feed_regenerate"))
    assert CalendarFeed.objects.get(pk=feed.pk).token == feed.token


def test_a_technician_regenerates_their_own_address(client_for, staff):
    feed = CalendarFeed.for_technician(staff)

    client_for(staff).post(reverse("scheduling:my_feed_regenerate"))

    assert CalendarFeed.objects.get(pk=feed.pk).token != feed.token


def test_a_deactivated_technicians_feed_stops(client, staff):
    feed = CalendarFeed.for_technician(staff)
    staff.is_active = False
    staff.save()

    assert client.get(reverse("scheduling:feed", args=[feed.token])).status_code == 404

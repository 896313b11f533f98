"""iCalendar feeds (RFC 5545) of visits: one per customer, one per technician.

Times are written in UTC (`DTSTART:20270317T140000Z`), which every client (Google Calendar,
Outlook, Apple) imports without needing a VTIMEZONE; each client shows them in its user's zone,
and X-WR-TIMEZONE hints the customer's zone. UIDs are stable (one per visit row), and a move or
cancellation bumps SEQUENCE and sets STATUS, so subscribed calendars update the event in place.
"""

import datetime as dt

from django.conf import settings
from django.urls import reverse
from icalendar import Calendar, Event

from .models import Visit

PRODID = "-//Allora//Customer Agreements visits//EN"
# A feed holds the recent past (for the record) and every planned visit ahead.
PAST = dt.timedelta(days=90)


def customer_visits(customer, *, now):
    return (
        Visit.objects.filter(agreement__customer=customer, ends_at__gte=now - PAST)
        .for_display()
        .order_by("starts_at", "id")
    )


def technician_visits(user, *, now):
    return (
        Visit.objects.filter(technician=user, ends_at__gte=now - PAST)
        .for_display()
        .order_by("starts_at", "id")
    )


def feed_for(feed, *, now) -> bytes:
    """The calendar behind a CalendarFeed row (a customer's or a technician's)."""
    if feed.customer_id:
        customer = feed.customer
        return build_calendar(
            customer_visits(customer, now=now),
            name=f"Allora visits – {customer}",
            tz=customer.time_zone,
            for_customer=True,
        )
    person = feed.technician
    return build_calendar(
        technician_visits(person, now=now),
        name=f"Allora visits – {person}",
        tz=settings.TIME_ZONE,
        for_customer=False,
    )


def build_calendar(visits, *, name, tz, for_customer) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", tz)
    for visit in visits:
        calendar.add_component(_event(visit, for_customer=for_customer))
    return calendar.to_ical()


def _event(visit, *, for_customer) -> Event:
    customer = visit.agreement.customer
    kind = visit.line.get_kind_display()
    event = Event()
    event.add("uid", visit.uid)
    event.add("dtstamp", visit.updated_at.astimezone(dt.UTC))
    event.add("last-modified", visit.updated_at.astimezone(dt.UTC))
    event.add("dtstart", visit.starts_at.astimezone(dt.UTC))
    event.add("dtend", visit.ends_at.astimezone(dt.UTC))
    event.add("sequence", visit.sequence)
    event.add("status", "CANCELLED" if visit.status == Visit.Status.CANCELLED else "CONFIRMED")
    event.add("summary", f"Allora: {kind}" if for_customer else f"{customer}: {kind}")
    event.add("location", customer.address)
    event.add("description", _description(visit))
    path = (
        reverse("portal:visit_detail", args=[visit.pk])
        if for_customer
        else reverse("scheduling:visit_detail", args=[visit.pk])
    )
    event.add("url", f"{settings.SITE_URL}{path}")
    return event


def _description(visit) -> str:
    lines = [f"{visit.line.get_kind_display()} – {visit.get_status_display()}"]
    if visit.technician:
        lines.append(f"Technician: {visit.technician}")
    if visit.note:
        lines.append(visit.note)
    if visit.checklist:
        lines.append("Checklist: " + ", ".join(entry["item"] for entry in visit.checklist))
    return "\n".join(lines)

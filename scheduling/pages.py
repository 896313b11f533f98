"""What the staff schedule pages (``scheduling/views.py``) and the customer portal's
(``portal/views/schedule.py``) share: a month's visits for a calendar, and the confirmation that
replaces a calendar feed's secret address."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from . import calendars


def month_visits(visits, first):
    """The visits shown on the calendar of the month starting ``first`` (with its edge days)."""
    days = [day for week in calendars.month_days(first) for day in week]
    start, end = calendars.utc_bounds(days)
    return visits.active().filter(starts_at__gte=start, starts_at__lt=end).for_display()


def regenerate_feed_view(request, feed, *, done, cancel_url, reason=""):
    """Confirm, then give the feed a new secret address (the old one stops working)."""
    if request.method == "POST":
        feed.regenerate(now=timezone.now(), reason=reason)
        messages.success(
            request, "New calendar address created; the old one no longer works anywhere."
        )
        return redirect(done)
    return render(
        request,
        "allora/confirm.html",
        {
            "title": "Create a new calendar address?",
            "body": "The current address stops working at once: calendars subscribed to it "
            "(Google Calendar, Outlook, phones) stop updating until you subscribe them to the "
            "new address.",
            "confirm_label": "Create a new address",
            "cancel_url": cancel_url,
        },
    )

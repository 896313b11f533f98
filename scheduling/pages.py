"""What the staff schedule pages (``scheduling/views.py``) and the customer portal's
(``portal/views/schedule.py``) share: the calendar's month, week or day asked by the query string,
and the confirmation that replaces a calendar feed's secret address."""

import datetime as dt

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from . import calendars


def calendar_period(request, visits, *, today: dt.date, counted=None) -> dict:
    """The calendar page's context for ``?view=month&month=YYYY-MM`` (the default),
    ``?view=week&day=YYYY-MM-DD`` or ``?view=day&day=…``: each day with its number of visits and
    the first ones (``calendars.visits_by_day``). Anything unknown or out of range is this month,
    this week or today, never an error. `counted`: the stored counts that hold `visits`
    (``calendars.Counted``), None to count them live."""
    view = calendars.parse_view(request.GET.get("view", ""))
    if view == "month":
        first = calendars.parse_month(request.GET.get("month", ""), today=today)
        return {
            "view": view,
            "month": calendars.month_grid(first, visits, today=today, counted=counted),
            # The day the week and day buttons open: today in this month, else the 1st.
            "day": today if (today.year, today.month) == (first.year, first.month) else first,
        }
    return days_period(request, visits, view=view, today=today, counted=counted)


def days_period(
    request, visits, *, view: str, today: dt.date, counted=None, instances=False
) -> dict:
    """The context of a week (``view="week"``) or one day of ``?day=YYYY-MM-DD`` (today when
    unknown): each day with its count and first visits (``instances``: as ``Visit``), and the
    previous and next period."""
    day = calendars.parse_day(request.GET.get("day", ""), today=today)
    days, shown = (
        ([day], calendars.DAY_SHOWN)
        if view == "day"
        else (calendars.week_of(day), calendars.WEEK_SHOWN)
    )
    step = dt.timedelta(days=len(days))
    return {
        "view": view,
        "day": day,
        "days": calendars.day_list(
            days, visits, today=today, shown=shown, counted=counted, instances=instances
        ),
        "previous": day - step,
        "next": day + step,
    }


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

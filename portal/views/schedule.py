"""The customer's schedule: next visits and recent visit reports, the month calendar, one
visit, and their calendar feed's secret address (visits of draft agreements are never shown)."""

from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from agreements.models import Agreement
from allora.tenancy import portal_required
from allora.timeutils import local_today
from scheduling.models import CalendarFeed, Visit
from scheduling.pages import calendar_period, regenerate_feed_view

UPCOMING = 20
RECENT_REPORTS = 10


def _portal_visits(request):
    return Visit.objects.for_user(request.user).exclude(agreement__status=Agreement.Status.DRAFT)


@portal_required
def schedule(request):
    """The customer's next visits, recent visit reports and their calendar feed."""
    now = timezone.now()
    visits = _portal_visits(request).for_display()
    return render(
        request,
        "portal/schedule.html",
        {
            "upcoming": visits.open().filter(ends_at__gte=now).order_by("starts_at")[:UPCOMING],
            "reports": visits.filter(status=Visit.Status.COMPLETED).order_by("-starts_at")[
                :RECENT_REPORTS
            ],
            "feed": CalendarFeed.for_customer(request.user.customer),
        },
    )


@portal_required
def calendar(request):
    """The customer's month (or one day, where a busy day's "+N more" leads)."""
    context = calendar_period(request, _portal_visits(request), today=local_today())
    return render(request, "portal/calendar.html", context)


@portal_required
def visit_detail(request, pk):
    visit = get_object_or_404(_portal_visits(request).for_display(), pk=pk)
    return render(request, "portal/visit_detail.html", {"visit": visit})


@portal_required
def feed_regenerate(request):
    url = reverse("portal:schedule")
    return regenerate_feed_view(
        request, CalendarFeed.for_customer(request.user.customer), done=url, cancel_url=url
    )

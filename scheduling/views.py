import datetime as dt

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_GET

from allora.tenancy import staff_required
from allora.timeutils import local_today

from .forms import ScheduleForm


@staff_required
@require_GET
def schedule_preview(request):
    """The htmx fragment under the schedule fields: the rule in words and its next visits."""
    form = ScheduleForm(
        request.GET,
        prefix="schedule",
        # An unknown zone is not replaced: the form reports it rather than show wrong times.
        tz=request.GET.get("tz") or settings.DEFAULT_CUSTOMER_TIME_ZONE,
        anchor=_date_or_today(request.GET.get("anchor", "")),
    )
    return render(request, "scheduling/_schedule_preview.html", {"form": form})


def _date_or_today(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return local_today()

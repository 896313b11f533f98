"""Time entries: technicians log hours against a visit, the Prescheduled Services block or
Emergency Support of an agreement, an emergency request, or a project. The monthly invoice bills
the prescheduled hours beyond the block and the emergency hours (those of emergency requests
too); time on a maintenance visit is covered by the visit's price, and project time is never on
the agreement's invoice. One function, `log_time`, checks every entry the same way."""

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from agreements.models import ServiceKind
from delivery.models import EmergencyRequest, Project
from delivery.response_clock import BusinessHours
from scheduling.business_days import ONE_DAY, holiday_dates
from scheduling.models import Visit

from .models import TimeEntry

LOGGABLE_KINDS = (ServiceKind.PRESCHEDULED, ServiceKind.EMERGENCY)
MAX_HOURS = Decimal("24")


def loggable_lines(agreement):
    """The Exhibit B lines time can be logged against directly (not through a visit)."""
    version = agreement.signed_version()
    if version is None:
        return []
    return list(version.lines.filter(kind__in=LOGGABLE_KINDS).order_by("position", "id"))


def _check_hours(hours):
    if hours is None:
        raise ValidationError("Enter the hours worked, e.g. 1.5.")
    if hours <= 0:
        raise ValidationError(
            "Hours must be more than zero, e.g. 1.5 (a correction is not a "
            "negative entry: ask an admin to change the wrong one)."
        )
    if hours > MAX_HOURS:
        raise ValidationError("A day has 24 hours at most; log each day separately.")


def _check_visit(agreement, visit, *, today):
    if visit.agreement_id != agreement.pk:
        raise ValidationError("This visit belongs to another agreement.")
    if visit.status == visit.Status.CANCELLED:
        raise ValidationError(
            "This visit was cancelled, so no time can be logged against it. Log the time "
            "against the visit that took place, the prescheduled block or Emergency Support."
        )
    if visit.local_day > today:
        raise ValidationError(
            "This visit is on %(day)s: log its time on that day or later.",
            params={"day": f"{visit.local_day:%B %-d, %Y}"},
        )


def _agreement_work(agreement, *, line, visit, work_date, today):
    """The agreement and line of time on a visit or directly on a line of an agreement."""
    if agreement is None:
        raise ValidationError("Choose the agreement the time was for.")
    if not agreement.is_live:
        raise ValidationError("Time can be logged only on an active agreement.")
    terms = list(agreement.terms.order_by("start"))
    if not any(term.start <= work_date < term.end for term in terms):
        raise ValidationError(
            "%(day)s is outside the agreement's terms (from %(start)s).",
            params={
                "day": f"{work_date:%B %-d, %Y}",
                "start": f"{terms[0].start:%B %-d, %Y}" if terms else "its signature",
            },
        )
    if visit is not None:
        # Locked: a visit cancelled at this very moment takes no time.
        visit = (
            Visit.objects.select_for_update(of=("self",)).select_related("line").get(pk=visit.pk)
        )
        _check_visit(agreement, visit, today=today)
        line = visit.line
    elif line is None:
        raise ValidationError("Choose what the time was for: a visit or a service.")
    elif line.kind not in LOGGABLE_KINDS:
        raise ValidationError(
            "Time on %(kind)s is logged against one of its visits.",
            params={"kind": line.get_kind_display()},
        )
    elif line.version.agreement_id != agreement.pk:
        raise ValidationError("This service is not part of the agreement.")
    return {"agreement": agreement, "line": line, "visit": visit}


def is_after_hours(work_date, start_time, *, marked, hours=None) -> bool:
    """After-hours work: marked so, or started outside the business hours (Mon–Fri 08:00–17:00
    local by default, ``EMERGENCY_BUSINESS_HOURS``; weekends and company holidays are outside)."""
    if marked:
        return True
    if start_time is None:
        return False
    holidays = holiday_dates(work_date, work_date + ONE_DAY)
    return not (hours or BusinessHours.from_settings()).is_open(
        work_date, start_time, holidays=holidays
    )


def _request_work(request, *, work_date):
    """Time on an emergency request: emergency hours of the request's agreement (none when the
    customer had no live agreement: recorded, not invoiced). A request still waiting for a
    technician takes no time (acknowledge it first); a resolved one does, as hours are often
    logged after the work is done."""
    request = (
        EmergencyRequest.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=request.pk)
    )
    if request.status == EmergencyRequest.Status.OPEN:
        raise ValidationError(
            "Acknowledge the request first (that stops its response clock), then log the time."
        )
    received = request.local_received.date()
    if work_date < received:
        raise ValidationError(
            "The request was received on %(day)s: time on it cannot be before that day.",
            params={"day": f"{received:%B %-d, %Y}"},
        )
    return {
        "emergency_request": request,
        "agreement_id": request.agreement_id,
        "line_id": request.line_id,
    }


def _project_work(project, *, hours, by, now):
    """Time on a project: refused unless a designated approver approved it and within the
    approved hours (estimate and change orders). The first hours start an approved project."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    logged = project.time_entries.aggregate(total=Sum("hours"))["total"] or Decimal("0")
    project.check_can_log(hours, logged=logged)
    if project.status == Project.Status.APPROVED:
        project.start(by=by, now=now)
    return {"project": project}


@transaction.atomic
def log_time(
    agreement=None,
    *,
    line=None,
    visit=None,
    emergency_request=None,
    project=None,
    work_date,
    hours,
    technician,
    note="",
    start_time=None,
    after_hours=False,
    by,
    today,
    now=None,
) -> TimeEntry:
    """Record hours worked for one thing (a visit or line of ``agreement``, an
    ``emergency_request`` or a ``project``), with a plain message for anything that is off.
    Emergency and project work marked after-hours, or started (``start_time``, local) outside
    the business hours, is after-hours work, billed at the after-hours rate."""
    _check_hours(hours)
    if work_date is None:
        raise ValidationError("Enter the date worked.")
    if work_date > today:
        raise ValidationError("Time cannot be logged for a future date.")
    if project is not None:
        work = _project_work(project, hours=hours, by=by, now=now or timezone.now())
    elif emergency_request is not None:
        work = _request_work(emergency_request, work_date=work_date)
    else:
        work = _agreement_work(agreement, line=line, visit=visit, work_date=work_date, today=today)
    emergency_or_project = (
        "project" in work
        or "emergency_request" in work
        or (work.get("line") is not None and work["line"].kind == ServiceKind.EMERGENCY)
    )
    return TimeEntry.objects.create(
        **work,
        work_date=work_date,
        start_time=start_time,
        after_hours=emergency_or_project
        and is_after_hours(work_date, start_time, marked=after_hours),
        hours=hours,
        technician=technician,
        note=note.strip()[:300],
        created_by=by,
    )


def log_form_time(agreement, data, *, by, today) -> TimeEntry:
    """Log the hours of a valid time entry form (``billing.forms.TimeEntryForm``'s cleaned
    data: a visit or line of ``agreement``, the date, hours, technician, note, and the start
    time and after-hours box)."""
    return log_time(
        agreement,
        **data["work"],
        work_date=data["work_date"],
        hours=data["hours"],
        technician=data["technician"],
        note=data["note"],
        start_time=data.get("start_time"),
        after_hours=data.get("after_hours", False),
        by=by,
        today=today,
    )


def describe(entry) -> str:
    """What an entry was for, in a few words."""
    return entry.for_label


def default_work_date(visit, *, today: dt.date) -> dt.date:
    return visit.local_day if visit is not None and visit.local_day <= today else today


def billing_state(entry) -> str:
    """Where the entry is billed, in a few words: its invoice's number, or why it has none (the
    time list's "Billed on" column and its CSV export)."""
    if entry.invoice_id:
        return entry.invoice.number
    if entry.line_id and entry.line.kind == ServiceKind.MAINTENANCE:
        return "included"
    if entry.project_id or not entry.agreement_id:
        return "not on an agreement invoice"
    return "next invoice"

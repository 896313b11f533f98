"""Time entries: technicians log hours against a visit, the Prescheduled Services block or
Emergency Support of an agreement. The monthly invoice bills the prescheduled hours beyond the
block and the emergency hours; time on a maintenance visit is covered by the visit's price."""

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from agreements.models import Agreement, ServiceKind
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


@transaction.atomic
def log_time(
    agreement, *, line=None, visit=None, work_date, hours, technician, note="", by, today
) -> TimeEntry:
    """Record hours worked for an agreement, with a plain message for anything that is off."""
    _check_hours(hours)
    if agreement.status not in (Agreement.Status.ACTIVE, Agreement.Status.ENDING):
        raise ValidationError("Time can be logged only on an active agreement.")
    if work_date > today:
        raise ValidationError("Time cannot be logged for a future date.")
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
    return TimeEntry.objects.create(
        agreement=agreement,
        line=line,
        visit=visit,
        work_date=work_date,
        hours=hours,
        technician=technician,
        note=note.strip()[:300],
        created_by=by,
    )


def describe(entry) -> str:
    """What an entry was for, in a few words."""
    if entry.visit_id:
        return f"{entry.line.get_kind_display()} visit"
    return entry.line.get_kind_display()


def default_work_date(visit, *, today: dt.date) -> dt.date:
    return visit.local_day if visit is not None and visit.local_day <= today else today

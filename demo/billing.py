"""Demo rate card, time entries, invoices and payments for `manage.py seed_demo`."""

import contextlib
import datetime as dt
from decimal import Decimal as D

from django.core.exceptions import ValidationError
from django.utils import timezone

from agreements.models import Agreement, ServiceKind
from billing import invoicing
from billing.models import Invoice, Payment, RateCard, RateCardLine, RateKind, TimeEntry
from billing.timesheets import log_time
from scheduling.models import Visit

LINES = [
    (RateKind.ONSITE, "On-site support", "hour", D("150.00")),
    (RateKind.REMOTE, "Remote support", "hour", D("120.00")),
    (RateKind.EMERGENCY, "Emergency support", "hour", D("225.00")),
    (RateKind.AFTER_HOURS, "After-hours support", "hour", D("195.00")),
    (RateKind.HOSTING, "Website hosting – Standard", "month", D("45.00")),
    (RateKind.HOSTING, "Email hosting – per mailbox", "month", D("8.50")),
    (RateKind.HOSTING, "Website + email – Business", "month", D("99.00")),
]


def seed(*, today, admin):
    """Version 1 of the standard rates, in effect since 1 January of last year."""
    card = RateCard.objects.filter(version=1).first()
    if card is None:
        card = RateCard.objects.create(version=1, created_by=admin)
        RateCardLine.objects.bulk_create(
            RateCardLine(card=card, kind=kind, name=name, unit=unit, price=price, position=i)
            for i, (kind, name, unit, price) in enumerate(LINES)
        )
        card.status = RateCard.Status.PUBLISHED
        card.effective_date = dt.date(today.year - 1, 1, 1)
        card.published_by = admin
        card.published_at = timezone.now()
        card.save()
    return card


# Invoicing ---------------------------------------------------------------------------------

# (customer, days before today, hours): emergency calls, logged if the agreement covered the day.
EMERGENCIES = [
    ("Oak City Dental, PLLC", 100, "1.00"),
    ("Oak City Dental, PLLC", 40, "2.50"),
    ("Glenwood Family Practice, PA", 70, "3.00"),
    ("Triangle Legal Group, LLP", 20, "1.50"),
]
OVERDUE_CUSTOMER = "Glenwood Family Practice, PA"


def seed_invoices(*, today, staff):
    """Time entries (the prescheduled visits' hours and a few emergencies), then the invoices
    of the past months as the daily job issues them, paid except one overdue and those not
    due yet. Runs after the scheduling demo (which completed the past visits). Idempotent."""
    if not TimeEntry.objects.exists():
        _log_demo_time(today=today, staff=staff)
    invoicing.issue_invoices(today=today)
    _pay_past_invoices(today=today, staff=staff)
    invoicing.mark_overdue(today=today)


def _log(agreement, *, today, **fields):
    # A demo agreement that did not cover the day simply gets no entry.
    with contextlib.suppress(ValidationError):
        log_time(agreement, today=today, **fields)


def _log_demo_time(*, today, staff):
    visits = Visit.objects.filter(
        status=Visit.Status.COMPLETED, line__kind=ServiceKind.PRESCHEDULED
    ).select_related("agreement", "line", "technician")
    for visit in visits:
        _log(
            visit.agreement,
            today=today,
            visit=visit,
            work_date=visit.local_day,
            hours=visit.hours_worked,
            technician=visit.technician or staff,
            note="Prescheduled visit",
            by=staff,
        )
    for legal_name, days_ago, hours in EMERGENCIES:
        agreement = Agreement.objects.filter(
            customer__legal_name=legal_name, status__in=Agreement.LIVE
        ).first()
        line = agreement and agreement.signed_version().lines.filter(kind="emergency").first()
        if line is not None:
            _log(
                agreement,
                today=today,
                line=line,
                work_date=today - dt.timedelta(days=days_ago),
                hours=D(hours),
                technician=staff,
                note="Emergency call: workstation outage",
                by=staff,
            )


def _pay_past_invoices(*, today, staff):
    past_due = Invoice.objects.filter(due_on__lt=today, payments__isnull=True).exclude(
        status__in=[Invoice.Status.VOID, Invoice.Status.PAID]
    )
    overdue = past_due.filter(customer__legal_name=OVERDUE_CUSTOMER).order_by("-issued_on").first()
    for invoice in past_due.exclude(pk=getattr(overdue, "pk", None)):
        invoice.record_payment(
            amount=invoice.balance,
            received_on=min(invoice.issued_on + dt.timedelta(days=18), today),
            method=Payment.Method.ACH,
            reference=f"ACH {invoice.number}",
            by=staff,
            today=today,
        )

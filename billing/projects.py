"""Project invoices: an approved project billed by its estimate's terms (DESIGN.md, "Service
delivery"; issue 15).

- Fixed price: the estimate's milestones, each invoiced once when completed. A fixed price
  invoiced on approval (or on completion) is one milestone completed at the approval (at the
  completion); a change order of a fixed-price project is one more milestone of its own total
  (``delivery/projects.py`` creates and completes them).
- Time and materials: the project's time entries not invoiced yet, monthly (the entries of
  past months: ``work_date`` before the first of this month, one invoice per month worked) or
  all of them once the project is completed. Hours fill the approved estimate, then each
  approved change order, in order, at each one's rate; after-hours hours fill them the same
  way but are priced at the term's after-hours rate (shown so on their line). Hours beyond the
  approved ones are never invoiced: they are held (``Project.billing_hold`` says so on the
  project's page) until a change order covering them is approved.

Issuing locks the project's row (``select_for_update``) and claims what it bills with
conditional UPDATEs (``invoice IS NULL``) whose row counts are checked, inside the transaction
that takes the invoice number: a re-run or a second worker never bills a milestone or an hour
twice, and a rolled-back invoice gives its number back. The email (with the PDF) is queued
after the commit, as for the monthly invoices.
"""

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from delivery.models import Project, ProjectEstimate, ProjectMilestone
from delivery.projects import project_rate
from integrations import events as webhook_events

from .charges import month_start
from .credits import apply_customer_credit
from .invoicing import bill_to, queue_invoice_email
from .models import (
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    InvoiceSequence,
    RateKind,
    TimeEntry,
    invoice_number,
)
from .pricing import PricingError
from .rules import line_money, totals

logger = logging.getLogger(__name__)

Billing, Schedule = ProjectEstimate.Billing, ProjectEstimate.Schedule
APPROVED = ProjectEstimate.Status.APPROVED
DEFAULT_PAYMENT_TERMS_DAYS = 30


@dataclass(frozen=True)
class ProjectLine:
    """A project invoice line before it is stored."""

    kind: str
    description: str
    quantity: Decimal
    unit: str
    rate: Decimal
    start: dt.date
    end: dt.date

    @property
    def money(self) -> tuple[Decimal, Decimal, Decimal]:
        return line_money(self.quantity, self.rate, 0)  # no agreement discount on projects

    @property
    def list_amount(self) -> Decimal:
        return self.money[0]

    @property
    def amount(self) -> Decimal:
        return self.money[2]


@dataclass
class Bill:
    """One project invoice to issue: its lines and what it claims."""

    lines: list
    milestone_ids: list
    entry_ids: list


# Which projects have something due -------------------------------------------------------------


def _due_milestones():
    return ProjectMilestone.objects.filter(
        estimate__status=APPROVED, completed_at__isnull=False, invoice__isnull=True
    )


def _time_terms(schedule):
    """Projects billed by time whose approved estimate has ``schedule``."""
    return ProjectEstimate.objects.filter(
        kind=ProjectEstimate.Kind.ESTIMATE, status=APPROVED, billing=Billing.TIME, schedule=schedule
    ).values("project_id")


def due_project_invoices(*, today: dt.date, project=None) -> list:
    """The projects (or just ``project``) with something to invoice on ``today``: a completed
    milestone not invoiced, or time not invoiced (of past months when billed monthly; any, once
    completed, when billed on completion)."""
    mine = Q() if project is None else Q(project=project)
    unbilled = TimeEntry.objects.filter(mine, project__isnull=False, invoice__isnull=True)
    monthly = unbilled.filter(
        project__in=_time_terms(Schedule.MONTHLY), work_date__lt=month_start(today)
    )
    at_completion = unbilled.filter(
        project__in=_time_terms(Schedule.ON_COMPLETION), project__status=Project.Status.COMPLETED
    )
    milestones = _due_milestones()
    if project is not None:
        milestones = milestones.filter(estimate__project=project)
    ids = (
        set(milestones.values_list("estimate__project_id", flat=True))
        | set(monthly.values_list("project_id", flat=True))
        | set(at_completion.values_list("project_id", flat=True))
    )
    return list(Project.objects.filter(pk__in=ids).order_by("pk"))


def issue_project_invoices(*, today: dt.date) -> list:
    """Daily: issue every project invoice due (catch-up safe). One project that cannot be
    priced never stops the others: its reason is held on it."""
    issued = []
    for project in due_project_invoices(today=today):
        try:
            issued += issue_project_invoice(project, today=today)
        except ClaimLost:
            continue  # another worker invoiced it a moment ago
        except (ValidationError, PricingError) as error:
            reason = " ".join(getattr(error, "messages", [str(error)]))[:300]
            Project.objects.filter(pk=project.pk).update(billing_hold=reason)
            logger.warning("Project %s not invoiced: %s", project.pk, reason)
    return issued


# Issuing --------------------------------------------------------------------------------------


def issue_project_invoice(project, *, today: dt.date) -> list:
    """Issue what is due for one project (the milestones completed, the hours of past months or
    of the completed project): a list of invoices, empty when nothing is due. Credit the
    customer holds is applied to them once they are stored."""
    invoices = _issue_project_invoice(project, today=today)
    if invoices:
        apply_customer_credit(invoices, today=today)
    return invoices


@transaction.atomic
def _issue_project_invoice(project, *, today: dt.date) -> list:
    project = (
        Project.objects.select_for_update(of=("self",))
        .select_related("customer", "agreement")
        .get(pk=project.pk)
    )
    terms = project.billing_terms()
    if terms is None:
        return []
    bills = []
    milestones = list(
        _due_milestones().filter(estimate__project=project).order_by("estimate__number", "position")
    )
    if milestones:
        bills.append(_milestone_bill(milestones, today=today, tz=project.customer.tz))
    if terms.billing == Billing.TIME:
        time_bills, hold = _time_bills(project, terms, today=today)
        bills += time_bills
        if hold != project.billing_hold:
            project.billing_hold = hold
            project.save(update_fields=["billing_hold"])
    return [_store(project, bill, today=today) for bill in bills if bill.lines]


def local_day(at: dt.datetime, tz) -> str:
    return f"{at.astimezone(tz):%B %-d, %Y}"


def _milestone_bill(milestones, *, today, tz) -> Bill:
    lines = [
        ProjectLine(
            kind=InvoiceLine.Kind.PROJECT,
            description=f"{m.title} (milestone completed {local_day(m.completed_at, tz)})",
            quantity=Decimal(1),
            unit="milestone",
            rate=m.amount,
            start=today,
            end=today,
        )
        for m in milestones
    ]
    return Bill(lines=lines, milestone_ids=[m.pk for m in milestones], entry_ids=[])


def allocate(capacities, *, used, entries):
    """Fill the approved estimates' hours (``capacities``: [(rate, hours)] in approval order)
    with ``used`` hours already invoiced, then with ``entries`` in order: a list of (entry,
    [(rate, hours)]) pieces for the entries that fit, and the entries held (the first that does
    not fit whole and every later one)."""
    left = []
    for rate, hours in capacities:
        taken = min(hours, used)
        used -= taken
        left.append([rate, hours - taken])
    placed, held = [], []
    for entry in entries:
        if held or entry.hours > sum((hours for _, hours in left), Decimal(0)):
            held.append(entry)
            continue
        need, pieces = entry.hours, []
        for bucket in left:
            take = min(bucket[1], need)
            if take > 0:
                pieces.append((bucket[0], take))
                bucket[1] -= take
                need -= take
        placed.append((entry, pieces))
    return placed, held


def _time_bills(project, terms, *, today) -> tuple[list, str]:
    """The invoices of the project's hours due today, and the hold message (empty: none)."""
    unbilled = list(
        TimeEntry.objects.filter(project=project, invoice__isnull=True).order_by("work_date", "pk")
    )
    if terms.schedule == Schedule.MONTHLY:
        due = [entry for entry in unbilled if entry.work_date < month_start(today)]
    elif project.status == Project.Status.COMPLETED:
        due = unbilled
    else:
        return [], ""
    used = TimeEntry.objects.filter(project=project, invoice__isnull=False).values_list(
        "hours", flat=True
    )
    capacities = [(estimate.rate, estimate.hours) for estimate in project.approved_estimates()]
    placed, held = allocate(capacities, used=sum(used, Decimal(0)), entries=due)
    hold = ""
    if held:
        hours = sum((entry.hours for entry in held), Decimal(0)).normalize()
        approved = Decimal(project.approved_hours()).normalize()
        hold = (
            f"{hours:f} h logged beyond the {approved:f} h approved are not invoiced: they "
            "will be once a change order covering them is approved."
        )
    by_invoice = defaultdict(list)
    for entry, pieces in placed:
        month = month_start(entry.work_date) if terms.schedule == Schedule.MONTHLY else None
        by_invoice[month].append((entry, pieces))
    bills = [
        _time_bill(project, rows, monthly=month is not None)
        for month, rows in sorted(by_invoice.items(), key=lambda item: item[0] or dt.date.min)
    ]
    return bills, hold


def _time_bill(project, rows, *, monthly) -> Bill:
    """One invoice of placed entries: a line per (month, rate, after-hours)."""
    groups = defaultdict(lambda: [Decimal(0), dt.date.max, dt.date.min])
    for entry, pieces in rows:
        month = month_start(entry.work_date)
        for rate, hours in pieces:
            group = groups[(month, entry.after_hours, rate)]
            group[0] += hours
            group[1], group[2] = min(group[1], entry.work_date), max(group[2], entry.work_date)
    lines = []
    for (month, after, rate), (hours, first, last) in sorted(groups.items()):
        label, worked = f"{month:%B %Y}", f"{hours.normalize():f}"
        if after:
            rate = project_rate(
                project.customer, project.agreement, today=last, kind=RateKind.AFTER_HOURS
            )
            text = f"After-hours project work, {label}: {worked} h × ${rate:,.2f}"
        else:
            text = f"Project work, {label}: {worked} h × ${rate:,.2f}"
        lines.append(
            ProjectLine(
                kind=InvoiceLine.Kind.AFTER_HOURS if after else InvoiceLine.Kind.PROJECT,
                description=text,
                quantity=hours,
                unit="hour",
                rate=rate,
                start=first,
                end=last + dt.timedelta(days=1),
            )
        )
    return Bill(lines=lines, milestone_ids=[], entry_ids=[entry.pk for entry, _ in rows])


def _payment_terms_days(project) -> int:
    version = project.agreement and project.agreement.signed_version()
    return version.payment_terms_days if version else DEFAULT_PAYMENT_TERMS_DAYS


def _store(project, bill, *, today) -> Invoice:
    """Store one project invoice and claim what it bills (the caller holds the project's lock;
    a count that does not match rolls everything back, the number included)."""
    listed, discount, total = totals(bill.lines)
    days = _payment_terms_days(project)
    customer = project.customer
    invoice = Invoice.objects.create(
        number=invoice_number(InvoiceSequence.take(1)),
        kind=Invoice.Kind.PROJECT,
        project=project,
        agreement=project.agreement,
        customer=customer,
        period=month_start(today),
        issued_on=today,
        due_on=today + dt.timedelta(days=days),
        payment_terms_days=days,
        bill_to=bill_to(customer),
        subtotal=listed,
        discount_total=discount,
        total=total,
        covers_from=today,
        covers_until=today,
        usage_until=today,
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=position,
            kind=line.kind,
            description=line.description[:300],
            quantity=line.quantity,
            unit=line.unit,
            list_rate=line.rate,
            net_rate=line.rate,
            list_amount=line.list_amount,
            amount=line.amount,
            service_start=line.start,
            service_end=line.end,
        )
        for position, line in enumerate(bill.lines)
    )
    _claim(ProjectMilestone.objects, bill.milestone_ids, invoice)
    _claim(TimeEntry.objects, bill.entry_ids, invoice)
    InvoiceEvent.objects.create(
        invoice=invoice, kind=InvoiceEvent.Kind.ISSUED, detail=f"Project “{project.title}”"[:300]
    )
    webhook_events.invoices_issued([invoice], now=timezone.now())
    transaction.on_commit(partial(queue_invoice_email, invoice.pk))
    return invoice


class ClaimLost(ValidationError):
    """Another worker invoiced some of the rows first: this invoice rolls back."""


def _claim(manager, ids, invoice):
    """Point these rows at the invoice, only those not invoiced yet (one UPDATE): another
    worker that billed one of them first makes this invoice roll back."""
    if ids and manager.filter(Q(pk__in=ids), invoice__isnull=True).update(invoice=invoice) != len(
        ids
    ):
        raise ClaimLost("Another run is invoicing this project right now.")

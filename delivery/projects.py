"""Project workflows: estimates and change orders, the designated approvers' decisions, and the
time logged against a project.

The rules that protect the customer are enforced here and in the models (``Project.start``,
``Project.check_can_log``): until a designated approver approves the estimate, the project
cannot start and no time can be logged; hours beyond the approved ones need a change order."""

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from agreements.models import Agreement, Contact
from allora.emails import send_after_commit
from billing.models import RateCard, RateKind
from billing.pricing import snapshot_rate
from billing.rules import list_amount, money
from billing.timesheets import log_time

from .models import Project, ProjectApproval, ProjectEstimate, ProjectMilestone

MAX_ESTIMATE_HOURS = Decimal("10000")
MAX_PRICE = Decimal("1000000000")
MAX_MILESTONES = 20
HUNDRED = Decimal("100")
Billing, Schedule = ProjectEstimate.Billing, ProjectEstimate.Schedule


def project_rate(customer, agreement, *, today: dt.date, kind=RateKind.ONSITE) -> Decimal:
    """An hourly rate (on-site by default; after-hours for after-hours work) of the agreement's
    current term (Exhibit A as locked), else of the rate card in effect today."""
    if agreement is not None:
        term = agreement.current_term(today=today) or agreement.latest_term
        if term is not None:
            return snapshot_rate(term.locked_rates, kind)
    card = RateCard.objects.current(on=today)
    line = card and card.lines.filter(kind=kind).first()
    if line is None:
        raise ValidationError(
            "No %(kind)s rate is published yet: publish a rate card first.",
            params={"kind": RateKind(kind).label.lower()},
        )
    return line.price


# Billing terms ---------------------------------------------------------------------------------


def milestone_amounts(price: Decimal, milestones) -> list[tuple[str, Decimal | None, Decimal]]:
    """(title, percent, amount) of milestones given as (title, amount or None, percent or
    None): a percent is of ``price`` in cents half-up, the last milestone taking the cents
    rounding leaves, so the amounts always add up to the fixed price (refused otherwise)."""
    if not milestones:
        raise ValidationError({"milestones": "List the milestones, e.g. “Design: 40%”."})
    if len(milestones) > MAX_MILESTONES:
        raise ValidationError({"milestones": "Twenty milestones at most."})
    rows = []
    for title, amount, percent in milestones:
        if not title.strip() or len(title.strip()) > 200:
            raise ValidationError(
                {"milestones": "Each milestone needs a title (200 characters at most)."}
            )
        if percent is not None:
            if not 0 < percent <= HUNDRED:
                raise ValidationError({"milestones": "A percent is more than 0 and at most 100."})
            amount = money(price * percent / HUNDRED)
        if amount is None or amount <= 0 or amount != money(amount):
            raise ValidationError(
                {"milestones": "Each milestone needs an amount above $0, in dollars and cents."}
            )
        rows.append((title.strip(), percent, amount))
    total = sum((amount for _, _, amount in rows), Decimal("0"))
    percents = [percent for _, percent, _ in rows]
    if all(p is not None for p in percents) and sum(percents) == HUNDRED and total != price:
        title, percent, amount = rows[-1]
        rows[-1] = (title, percent, amount + price - total)  # the rounding cents
        total = price
    if total != price:
        raise ValidationError(
            {
                "milestones": f"The milestones add up to ${total:,.2f}, not the fixed price of "
                f"${price:,.2f}."
            }
        )
    return rows


def _check_terms(billing, schedule, fixed_price):
    if billing not in Billing.values:
        raise ValidationError({"billing": "Choose fixed price or time and materials."})
    if schedule not in ProjectEstimate.SCHEDULES[billing]:
        raise ValidationError(
            {"schedule": f"Choose when a {Billing(billing).label.lower()} is invoiced."}
        )
    if fixed_price is not None and not Decimal("0") < fixed_price < MAX_PRICE:
        raise ValidationError(
            {"fixed_price": "A fixed price is more than $0 and below $1 billion."}
        )


def describe_terms(estimate) -> str:
    """The estimate's billing terms in words, milestones included (the approval records it)."""
    text = estimate.terms_label
    milestones = list(estimate.milestones.all())
    if estimate.schedule == Schedule.MILESTONES and milestones:
        text += ": " + "; ".join(f"{m.title} ${m.amount:,.2f}" for m in milestones)
    return text


def live_agreement(customer):
    """The customer's live agreement the estimate takes its rates from (None when there is none)."""
    return Agreement.objects.live().filter(customer=customer).order_by("-pk").first()


def _check_estimate_hours(hours):
    if hours is None:
        raise ValidationError({"hours": "Enter the estimated hours, e.g. 12."})
    if hours <= 0:
        raise ValidationError({"hours": "The estimated hours must be more than zero."})
    if hours > MAX_ESTIMATE_HOURS:
        raise ValidationError({"hours": "That is more than 10,000 hours: check the number."})


def approvers(customer):
    """The customer's designated project approvers who can sign in to the portal."""
    return Contact.objects.filter(
        customer=customer, is_project_approver=True, user__isnull=False, user__is_active=True
    ).select_related("user")


def _notify_approvers(estimate):
    project = estimate.project
    send_after_commit(
        "project_estimate",
        to=[contact.email for contact in approvers(project.customer)],
        context={"project": project, "estimate": estimate},
    )


@transaction.atomic
def create_project(
    customer,
    *,
    title,
    scope,
    hours,
    by,
    today,
    billing=Billing.TIME,
    schedule=Schedule.MONTHLY,
    fixed_price=None,
    milestones=(),
) -> Project:
    """A new project with its first estimate, sent to the customer's designated approvers."""
    errors = {}
    if not title.strip():
        errors["title"] = "Give the project a title."
    if not scope.strip():
        errors["scope"] = "Describe the scope: what will be done, what is not included."
    if errors:
        raise ValidationError(errors)
    _check_estimate_hours(hours)
    if not approvers(customer).exists():
        raise ValidationError(
            "%(customer)s has no designated project approver with portal access: mark a "
            "contact as approver and invite them first.",
            params={"customer": customer},
        )
    agreement = live_agreement(customer)
    project = Project.objects.create(
        customer=customer,
        agreement=agreement,
        title=title.strip(),
        scope=scope.strip(),
        created_by=by,
    )
    terms = {"billing": billing, "schedule": schedule, "fixed_price": fixed_price}
    _new_estimate(
        project, hours=hours, description="", by=by, today=today, terms=terms, milestones=milestones
    )
    return project


def _new_estimate(project, *, hours, description, by, today, terms, milestones=()):
    """A new estimate with its billing terms, or a change order following the project's
    approved terms (a fixed-price change order is one more milestone, of its own total)."""
    rate = project_rate(project.customer, project.agreement, today=today)
    last = project.estimates.aggregate(last=Max("number"))["last"] or 0
    approved = project.billing_terms()
    if approved is not None:
        terms = {"billing": approved.billing, "schedule": approved.schedule, "fixed_price": None}
    _check_terms(**terms)
    total = list_amount(hours, rate)
    if terms["billing"] == Billing.FIXED and terms["fixed_price"] is not None:
        total = terms["fixed_price"]
    estimate = ProjectEstimate.objects.create(
        project=project,
        number=last + 1,
        kind=ProjectEstimate.Kind.CHANGE_ORDER if approved else ProjectEstimate.Kind.ESTIMATE,
        description=description.strip(),
        hours=hours,
        rate=rate,
        total=total,
        billing=terms["billing"],
        schedule=terms["schedule"],
        created_by=by,
    )
    if estimate.is_fixed_price:
        if estimate.schedule == Schedule.MILESTONES and approved is None:
            rows = milestone_amounts(total, milestones)
        else:
            label = "Change order" if approved else "Fixed price"
            rows = [(f"{label} #{estimate.number}, {estimate.get_schedule_display()}", None, total)]
        ProjectMilestone.objects.bulk_create(
            ProjectMilestone(
                estimate=estimate, position=position, title=title, percent=percent, amount=amount
            )
            for position, (title, percent, amount) in enumerate(rows, start=1)
        )
    _notify_approvers(estimate)
    return estimate


@transaction.atomic
def propose_estimate(
    project,
    *,
    hours,
    description="",
    by,
    today,
    billing=Billing.TIME,
    schedule=Schedule.MONTHLY,
    fixed_price=None,
    milestones=(),
) -> ProjectEstimate:
    """A revised estimate (before approval) or a change order (extra hours, after approval).
    A pending one it replaces is superseded and can no longer be approved."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    _check_estimate_hours(hours)
    if project.status == Project.Status.COMPLETED:
        raise ValidationError("This project is completed; start a new project for more work.")
    if project.is_approved and not description.strip():
        raise ValidationError({"description": "Say what the extra hours are for."})
    project.estimates.filter(status=ProjectEstimate.Status.PENDING).update(
        status=ProjectEstimate.Status.SUPERSEDED
    )
    if project.status == Project.Status.DECLINED:
        project.status = Project.Status.AWAITING
        project.save(update_fields=["status"])
    terms = {"billing": billing, "schedule": schedule, "fixed_price": fixed_price}
    return _new_estimate(
        project,
        hours=hours,
        description=description,
        by=by,
        today=today,
        terms=terms,
        milestones=milestones,
    )


def _refuse_unless_pending(estimate):
    if estimate.status == ProjectEstimate.Status.PENDING:
        return
    if estimate.status == ProjectEstimate.Status.SUPERSEDED:
        newer = estimate.project.estimates.filter(number__gt=estimate.number).order_by("-number")
        raise ValidationError(
            "This estimate was replaced by %(kind)s #%(number)s; review that one instead.",
            params={"kind": newer[0].get_kind_display().lower(), "number": newer[0].number},
        )
    approval = getattr(estimate, "approval", None)
    raise ValidationError(
        "This %(kind)s was already %(status)s%(by)s; it cannot be decided again.",
        params={
            "kind": estimate.get_kind_display().lower(),
            "status": estimate.get_status_display().lower(),
            "by": f" by {approval.typed_name} on {approval.decided_at:%b %-d, %Y}"
            if approval
            else "",
        },
    )


def approver_contact(user, customer):
    """The signed-in user's contact if they are a designated approver of the customer."""
    contact = Contact.objects.filter(user=user, customer=customer).first()
    if contact is None or not contact.is_project_approver:
        raise ValidationError(
            "Only a designated project approver of %(customer)s can approve or decline "
            "estimates. Ask Allora to add you as one.",
            params={"customer": customer},
        )
    return contact


@transaction.atomic
def decide(estimate, *, user, approve, typed_name, ip, user_agent="", comment="", now):
    """A designated approver approves or declines a pending estimate or change order; the
    decision records who, when, from which IP, and what was approved."""
    estimate = (
        ProjectEstimate.objects.select_for_update(of=("self",))
        .select_related("project__customer")
        .get(pk=estimate.pk)
    )
    project = estimate.project
    contact = approver_contact(user, project.customer)
    _refuse_unless_pending(estimate)
    if len(typed_name.strip()) < 3:
        raise ValidationError({"typed_name": "Type your full name to sign the decision."})
    decision = ProjectApproval.Decision.APPROVED if approve else ProjectApproval.Decision.DECLINED
    ProjectApproval.objects.create(
        estimate=estimate,
        decision=decision,
        contact=contact,
        user=user,
        typed_name=typed_name.strip(),
        decided_at=now,
        ip_address=ip or None,
        user_agent=(user_agent or "")[:400],
        hours=estimate.hours,
        rate=estimate.rate,
        total=estimate.total,
        billing_terms=describe_terms(estimate),
        comment=comment.strip(),
    )
    estimate.status = (
        ProjectEstimate.Status.APPROVED if approve else ProjectEstimate.Status.DECLINED
    )
    estimate.save(update_fields=["status"])
    if approve and estimate.schedule == Schedule.ON_APPROVAL:
        estimate.milestones.filter(completed_at__isnull=True).update(completed_at=now)
    if estimate.kind == ProjectEstimate.Kind.ESTIMATE:
        project.status = Project.Status.APPROVED if approve else Project.Status.DECLINED
        project.save(update_fields=["status"])
    send_after_commit(
        "project_decision",
        to=[project.created_by.email],
        context={"project": project, "estimate": estimate, "contact": contact, "approve": approve},
    )
    return estimate


def time_entries(project):
    """The project's time entries (billing's TimeEntry.project)."""
    return project.time_entries.all()


def logged_hours(project) -> Decimal:
    total = time_entries(project).aggregate(total=Sum("hours"))["total"] or 0
    return Decimal(total).quantize(Decimal("0.01"))  # SQLite sums decimals without their places


def log_project_time(
    project,
    *,
    work_date,
    hours,
    technician,
    note="",
    start_time=None,
    after_hours=False,
    by,
    today,
    now,
):
    """Record hours on a project (billing's one ``log_time``, with its checks): refused unless
    approved and within the approved hours; logging the first hours starts an approved project.
    Hours started outside business hours (or marked so) are after-hours hours."""
    return log_time(
        project=project,
        work_date=work_date,
        hours=hours,
        technician=technician,
        note=note,
        start_time=start_time,
        after_hours=after_hours,
        by=by,
        today=today,
        now=now,
    )


def complete(project, *, by=None, now=None):
    """Close an in-progress project: a fixed price (or change order) invoiced on completion
    is due from now on."""
    now = now or timezone.now()
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        if project.status != Project.Status.IN_PROGRESS:
            raise ValidationError("Only a project in progress can be completed.")
        project.status = Project.Status.COMPLETED
        project.completed_at = now
        project.save(update_fields=["status", "completed_at"])
        ProjectMilestone.objects.filter(
            estimate__project=project,
            estimate__status=ProjectEstimate.Status.APPROVED,
            estimate__schedule=Schedule.ON_COMPLETION,
            completed_at__isnull=True,
        ).update(completed_at=now, completed_by=by)
    return project


def complete_milestone(milestone, *, by, now) -> ProjectMilestone:
    """Staff mark a milestone of an approved fixed price completed: it is due for invoicing."""
    with transaction.atomic():
        milestone = (
            ProjectMilestone.objects.select_for_update(of=("self",))
            .select_related("estimate__project")
            .get(pk=milestone.pk)
        )
        estimate = milestone.estimate
        if estimate.status != ProjectEstimate.Status.APPROVED:
            raise ValidationError("Only a milestone of an approved estimate can be completed.")
        if estimate.schedule != Schedule.MILESTONES:
            raise ValidationError(
                "This fixed price is invoiced %(when)s, not by milestones.",
                params={"when": estimate.get_schedule_display()},
            )
        if milestone.completed_at is not None:
            raise ValidationError(
                "“%(title)s” was already completed on %(day)s.",
                params={"title": milestone.title, "day": f"{milestone.completed_at:%b %-d, %Y}"},
            )
        milestone.completed_at, milestone.completed_by = now, by
        milestone.save(update_fields=["completed_at", "completed_by"])
    return milestone

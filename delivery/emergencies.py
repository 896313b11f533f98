"""Emergency Support workflows: file a request, acknowledge it (the clock stops), close it, and
the every-minute job that alerts the on-call staff at 50% and 80% of the window and at breach.

The guarantee comes from the customer's active agreement: its signed version's Emergency
Support line and response tier, copied onto the request when it is received."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Max, Q, Value, When
from django.urls import reverse

from agreements.models import Agreement, AgreementVersion, ServiceKind, ServiceLine
from allora.emails import send_after_commit
from integrations import events as webhook_events
from scheduling.business_days import holiday_dates
from scheduling.models import technicians

from . import response_clock
from .models import EmergencyAlert, EmergencyRequest

THRESHOLD_FIELDS = {50: "alert_50_at", 80: "alert_80_at", 100: "due_at"}
REQUIRED = {
    "summary": "Say what is wrong, e.g. “The server room is flooding”.",
    "contact_name": "Say who we should call.",
    "contact_phone": "Give a phone number we can reach them at.",
    "site": "Say where the technician should go (the site address).",
}


@dataclass(frozen=True)
class Guarantee:
    """The agreement and Emergency Support line that apply to a new request (both may be None)."""

    agreement: Agreement | None
    line: ServiceLine | None


def guarantee_for(customer, *, today: dt.date) -> Guarantee:
    """The customer's live agreement with an Emergency Support line in force on ``today``, else
    any live agreement (no guarantee, billed at the emergency rate), else nothing."""
    agreements = list(
        Agreement.objects.filter(
            customer=customer,
            status__in=Agreement.LIVE,
            terms__start__lte=today,
            terms__end__gt=today,
        ).order_by("pk")
    )
    lines = {
        line.version.agreement_id: line
        for line in ServiceLine.objects.filter(
            version__agreement__in=agreements,
            version__status=AgreementVersion.Status.SIGNED,
            kind=ServiceKind.EMERGENCY,
            response_tier__isnull=False,
        )
        .select_related("version", "response_tier")
        .order_by("version__number")  # the latest signed version wins
    }
    for agreement in agreements:
        if agreement.pk in lines:
            return Guarantee(agreement, lines[agreement.pk])
    return Guarantee(agreements[0] if agreements else None, None)


def _holidays_from(received_at, tz):
    start = received_at.astimezone(tz).date()
    return set(holiday_dates(start, start + dt.timedelta(days=response_clock.MAX_DAYS)))


def _check_fields(fields):
    errors = {name: message for name, message in REQUIRED.items() if not fields[name].strip()}
    if errors:
        raise ValidationError(errors)


def on_call_recipients():
    """Who is alerted: ``EMERGENCY_ON_CALL_EMAILS`` when set, else every active technician."""
    configured = getattr(settings, "EMERGENCY_ON_CALL_EMAILS", None)
    if configured:
        return list(configured)
    return [user.email for user in technicians()]


def _email_context(request, **extra):
    return {
        "request": request,
        "staff_url": settings.SITE_URL
        + reverse("delivery:emergency_detail", kwargs={"pk": request.pk}),
        **extra,
    }


@transaction.atomic
def file_request(
    customer,
    *,
    summary,
    contact_name,
    contact_phone,
    site,
    channel,
    received_at,
    by,
    now,
) -> EmergencyRequest:
    """Record an emergency request and start its response clock (portal or taken by phone)."""
    fields = {
        "summary": summary,
        "contact_name": contact_name,
        "contact_phone": contact_phone,
        "site": site,
    }
    _check_fields(fields)
    if received_at > now:
        raise ValidationError({"received_at": "The time received cannot be in the future."})
    guarantee = guarantee_for(customer, today=received_at.astimezone(customer.tz).date())
    request = EmergencyRequest(
        customer=customer,
        agreement=guarantee.agreement,
        line=guarantee.line,
        channel=channel,
        received_at=received_at,
        filed_by=by,
        **{name: value.strip() for name, value in fields.items()},
    )
    tier = guarantee.line.response_tier if guarantee.line else None
    if tier is None:
        request.outcome = EmergencyRequest.Outcome.NO_GUARANTEE
    else:
        request.tier_name = tier.name
        request.response_minutes = tier.response_minutes
        request.business_hours_only = tier.business_hours_only
        times = response_clock.milestones(
            received_at,
            minutes=tier.response_minutes,
            business_hours_only=tier.business_hours_only,
            tz=customer.tz,
            holidays=_holidays_from(received_at, customer.tz) if tier.business_hours_only else (),
            hours=response_clock.BusinessHours.from_settings(),
        )
        request.alert_50_at, request.alert_80_at, request.due_at = times[50], times[80], times[100]
    request.save()
    send_after_commit(
        "emergency_received", to=on_call_recipients(), context=_email_context(request)
    )
    return request


def _locked(request):
    return (
        EmergencyRequest.objects.select_for_update(of=("self",))
        .select_related("customer", "filed_by")
        .get(pk=request.pk)
    )


@transaction.atomic
def acknowledge(request, *, by, now) -> EmergencyRequest:
    """A technician takes the request: the clock stops; met or breached is recorded."""
    request = _locked(request)
    if request.status == EmergencyRequest.Status.CLOSED:
        raise ValidationError("This request is already resolved; it cannot be acknowledged.")
    if request.status == EmergencyRequest.Status.ACKNOWLEDGED:
        raise ValidationError(
            "%(who)s already acknowledged this request at %(at)s.",
            params={"who": request.acknowledged_by, "at": f"{request.local_acknowledged:%H:%M}"},
        )
    request.status = EmergencyRequest.Status.ACKNOWLEDGED
    request.acknowledged_at = max(now, request.received_at)
    request.acknowledged_by = by
    if request.is_guaranteed:
        met = response_clock.is_met(request.acknowledged_at, request.due_at)
        request.outcome = EmergencyRequest.Outcome.MET if met else EmergencyRequest.Outcome.BREACHED
    request.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "outcome"])
    webhook_events.emergency_breached(request, now=now)
    if request.channel == EmergencyRequest.Channel.PORTAL:
        send_after_commit(
            "emergency_acknowledged",
            to=[request.filed_by.email],
            context={
                **_email_context(request),
                "portal_url": settings.SITE_URL
                + reverse("portal:emergency_detail", kwargs={"pk": request.pk}),
            },
        )
    return request


@transaction.atomic
def close(request, *, by, now, resolution) -> EmergencyRequest:
    """Mark an acknowledged request resolved, with what was done."""
    request = _locked(request)
    if request.status == EmergencyRequest.Status.CLOSED:
        raise ValidationError("This request is already resolved.")
    if request.status == EmergencyRequest.Status.OPEN:
        raise ValidationError("Acknowledge the request first: the response clock is still running.")
    if not resolution.strip():
        raise ValidationError({"resolution": "Say what was done to resolve it."})
    request.status = EmergencyRequest.Status.CLOSED
    request.closed_at, request.closed_by, request.resolution = now, by, resolution.strip()
    request.save(update_fields=["status", "closed_at", "closed_by", "resolution"])
    return request


def by_time_left(requests):
    """Waiting requests first, the nearest deadline first; requests without a guarantee after."""
    rank = Case(
        When(status=EmergencyRequest.Status.OPEN, then=Value(0)),
        When(status=EmergencyRequest.Status.ACKNOWLEDGED, then=Value(1)),
        default=Value(2),
    )
    return requests.annotate(rank=rank).order_by(
        "rank", F("due_at").asc(nulls_last=True), "received_at"
    )


def with_time_left(requests, now):
    """The requests, each with ``left``: the time left on its clock in words ("42 min left",
    "overdue by 12 min"), empty once acknowledged or without a guarantee. For the pages."""
    for request in requests:
        request.left = (
            response_clock.describe_left(response_clock.time_left(request.due_at, now))
            if request.due_at and request.is_open
            else ""
        )
    return requests


# The every-minute job ----------------------------------------------------------------------


def _due_thresholds(request, now):
    return [t for t, name in THRESHOLD_FIELDS.items() if getattr(request, name) <= now]


def alert_emergency_deadlines(*, now) -> list[EmergencyAlert]:
    """Alert the on-call staff of open requests at 50%, 80% and 100% of their window, each
    threshold once (a unique key per request and threshold). After downtime, the thresholds
    passed meanwhile are recorded together and one email names the most urgent."""
    candidates = (
        EmergencyRequest.objects.filter(status=EmergencyRequest.Status.OPEN, alert_50_at__lte=now)
        .annotate(last_alert=Max("alerts__threshold"))
        .filter(Q(last_alert__isnull=True) | Q(last_alert__lt=100))
        .values_list("pk", flat=True)
    )
    sent = []
    for pk in list(candidates):
        sent += _alert_one(pk, now=now)
    return sent


@transaction.atomic
def _alert_one(pk, *, now):
    request = (
        EmergencyRequest.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=pk)
    )
    if request.status != EmergencyRequest.Status.OPEN:
        return []  # acknowledged meanwhile: the clock has stopped
    done = set(request.alerts.values_list("threshold", flat=True))
    new = [t for t in _due_thresholds(request, now) if t not in done]
    if not new:
        return []
    recipients = on_call_recipients()
    alerts = [
        EmergencyAlert.objects.create(
            request=request, threshold=t, sent_at=now, recipients=", ".join(recipients)
        )
        for t in new
    ]
    if 100 in new:
        request.outcome = EmergencyRequest.Outcome.BREACHED
        request.save(update_fields=["outcome"])
        webhook_events.emergency_breached(request, now=now)
    left = response_clock.time_left(request.due_at, now)
    send_after_commit(
        "emergency_alert",
        to=recipients,
        context=_email_context(
            request, threshold=max(new), left=response_clock.describe_left(left)
        ),
    )
    return alerts

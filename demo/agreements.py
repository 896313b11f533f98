"""Demo agreements for `manage.py seed_demo`, in every state around ``today``: active ones
(one with next-term rates finalized), termination requests timely and late, one sent for
signature, a draft. Signed the way customers sign (sent, signed, countersigned, PDF stored)."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from agreements import lifecycle, signing
from agreements.models import Agreement, ResponseTier, ServiceLine, TermsTemplate
from agreements.services import create_agreement


def _draft(customer, *, by, today, lines):
    version = create_agreement(
        customer,
        by=by,
        today=today,
        terms_template=TermsTemplate.objects.get(version=1),
        billing_day=1,
        payment_terms_days=30,
    )
    tier = ResponseTier.objects.order_by("response_minutes").first()
    for position, fields in enumerate(lines):
        fields = dict(fields)
        if fields.get("kind") == "emergency":
            fields["response_tier"] = tier
        ServiceLine.objects.create(version=version, position=position, **fields)
    return version


MAINTENANCE = {
    "kind": "maintenance",
    "labor_rate": "onsite_hourly",
    "hours_per_visit": "3.00",
    "rrule": "FREQ=MONTHLY;BYDAY=+3WE",
    "start_time": "10:00",
    "duration_minutes": 180,
    "schedule_text": "The third Wednesday of every month at 10:00 for 3 hours",
    "checklist": ["Inspections", "Updates", "Backups", "Scans", "Workplace optimization"],
}
PRESCHEDULED = {
    "kind": "prescheduled",
    "labor_rate": "remote_hourly",
    "hours_per_month": "8.00",
    "rrule": "FREQ=WEEKLY;BYDAY=TU",
    "start_time": "09:00",
    "duration_minutes": 120,
    "schedule_text": "Every Tuesday at 09:00 for 2 hours",
}
EMERGENCY = {"kind": "emergency"}


def _hosting(name, quantity=1):
    return {"kind": "hosting", "package_name": name, "quantity": quantity}


def _sign(version, *, admin, staff, signed_on):
    """Send, sign and countersign a demo version on a past date, and store its signed PDF."""
    customer = version.agreement.customer
    signer = customer.contacts.filter(is_authorized_signer=True, user__isnull=False).first()
    signing.send_for_signature(version, signer=signer, by=staff, today=signed_on)
    when = timezone.make_aware(dt.datetime.combine(signed_on, dt.time(15, 0)), customer.tz)
    evidence = {
        "consent": True,
        "typed_name": signer.name,
        "title": signer.title,
        "drawing": DEMO_SIGNATURE,
        "ip": "198.51.100.20",
        "user_agent": "Demo data",
    }
    signing.sign_as_customer(version, user=signer.user, evidence=evidence, now=when)
    allora = {**evidence, "typed_name": admin.get_full_name(), "title": "Managing Director"}
    signing.countersign(version, user=admin, evidence=allora, now=when)
    signing.store_signed_pdf(version.pk, today=signed_on)
    return version.agreement


def seed(*, today, admin, staff, customers):
    """Agreements in every state, placed around ``today`` so the daily jobs have work:

    - Oak City Dental: active, its term ends in about 65 days, next-term rates finalized (+4%);
    - Triangle Legal: active for two months, with a timely termination request; and a draft;
    - Glenwood Family Practice: term ends in 15 days, with a late request (renews, then ends);
    - Crabtree Valley Architects: sent for signature.
    """
    if Agreement.objects.exists():
        return
    oak = customers["Oak City Dental, PLLC"]
    legal = customers["Triangle Legal Group, LLP"]
    glenwood = customers["Glenwood Family Practice, PA"]
    crabtree = customers["Crabtree Valley Architects, Inc."]
    signed = {}
    for customer, days_ago, lines in (
        (oak, 300, [MAINTENANCE, PRESCHEDULED, EMERGENCY, _hosting("Website + email – Business")]),
        (legal, 60, [MAINTENANCE, EMERGENCY, _hosting("Email hosting – per mailbox", 12)]),
        (glenwood, 350, [MAINTENANCE, EMERGENCY]),
    ):
        signed_on = today - dt.timedelta(days=days_ago)
        version = _draft(customer, by=staff, today=signed_on, lines=lines)
        signed[customer.pk] = _sign(version, admin=admin, staff=staff, signed_on=signed_on)

    review = lifecycle.save_rate_review(
        signed[oak.pk], method="uplift", uplift_percent=Decimal("4"), by=admin, today=today
    )
    lifecycle.finalize_rate_review(review, by=admin, today=today)
    for customer, days_ago, reason in (
        (legal, 5, "We are merging with another firm that has its own IT department."),
        (glenwood, 10, "The practice is moving to a hospital network's IT services."),
    ):
        signer = customer.contacts.filter(is_authorized_signer=True, user__isnull=False).first()
        received = timezone.now() - dt.timedelta(days=days_ago)
        lifecycle.file_termination_request(
            signed[customer.pk],
            by=signer.user,
            received_at=received,
            reason=reason,
            typed_name=signer.name,
            channel="portal",
        )

    sent = _draft(crabtree, by=staff, today=today, lines=[MAINTENANCE, EMERGENCY])
    signer = crabtree.contacts.filter(is_authorized_signer=True).first()
    signing.send_for_signature(sent, signer=signer, by=staff, today=today)
    _draft(legal, by=staff, today=today, lines=[PRESCHEDULED])


DEMO_SIGNATURE = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAgAAAAECAYAAACzzX7wAAAAFklEQVR4nGP4//8/Az4MAv"
    "/xYopNAAB/Aj/BSILWkwAAAABJRU5ErkJggg=="
)

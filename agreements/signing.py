"""Signing: a draft sent for signature (Exhibit A frozen from billing's rate card), the
customer's authorized signer and Allora's countersignature, then the version takes effect (an
original is activated by ``lifecycle.activate``; an amendment replaces the version in force and
re-plans visits) and its signed PDF is stored; amendments are drafted here too.

Each step is one transaction that locks the version row; emails and the PDF run after commit.
"""

import datetime as dt
import hashlib

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from allora.emails import send_after_commit
from allora.models import Role
from allora.validation import DATE_RANGE_MESSAGE, date_in_range
from billing.services import rates_snapshot
from integrations import events as webhook_events

from . import lifecycle
from .document import content_digest, customer_record, parties_record, version_parties
from .drawing import check_drawing
from .models import (
    Agreement,
    AgreementEvent,
    AgreementVersion,
    Contact,
    ServiceKind,
    Signature,
)
from .services import ensure_portal_user, set_password_url

Event = AgreementEvent.Kind

Status = AgreementVersion.Status


def _lock(version) -> AgreementVersion:
    return (
        AgreementVersion.objects.select_for_update(of=("self",))
        .select_related("agreement__customer", "terms_template", "signer__user")
        .get(pk=version.pk)
    )


def check_ready_to_send(version):
    """The problems that keep a draft from being sent, in plain words (empty: ready)."""
    problems = []
    lines = list(version.lines.all())
    if not lines:
        problems.append("Add at least one Exhibit B service line.")
    for line in lines:
        if line.is_scheduled and not line.rrule:
            problems.append(f"{line.get_kind_display()} needs a schedule.")
    return problems + dates_out_of_range(version)


def dates_out_of_range(version) -> list[str]:
    """The version's dates outside the accepted range, in plain words (empty: none). Such a
    version cannot take effect (its term's arithmetic would overflow), so it is neither sent
    nor signed; the forms refuse these dates, so only older or imported data has them."""
    start = version.start_date
    if start and not date_in_range(start):
        return [f"The start date {start.isoformat()} is out of range. {DATE_RANGE_MESSAGE}"]
    return []


def _check_dates_in_range(version):
    if problems := dates_out_of_range(version):
        raise ValidationError(
            [*problems, "This version cannot take effect with this date, so it was not signed."]
        )


@transaction.atomic
def send_for_signature(version, *, signer: Contact, by, today: dt.date):
    """Freeze the draft (Exhibit A from today's rate card, content hash) and email the signer."""
    version = _lock(version)
    agreement = version.agreement
    if version.status != Status.DRAFT:
        raise ValidationError("Only a draft can be sent for signature.")
    if signer.customer_id != agreement.customer_id or not signer.is_authorized_signer:
        raise ValidationError(
            "%(name)s is not an authorized signer of %(customer)s.",
            params={"name": signer.name, "customer": agreement.customer},
        )
    if version.start_date and version.start_date < today:
        raise ValidationError("The start date is in the past; change it or clear it first.")
    problems = check_ready_to_send(version)
    if problems:
        raise ValidationError(problems)
    version.rates_snapshot = rates_snapshot(on=today)
    hosting = {r["name"] for r in version.rates_snapshot["rates"] if r["kind"] == "hosting_monthly"}
    for line in version.lines.filter(kind=ServiceKind.HOSTING):
        if line.package_name not in hosting:
            raise ValidationError(
                "The hosting package “%(name)s” is not on the rate card in effect.",
                params={"name": line.package_name},
            )
    version.save(update_fields=["rates_snapshot"])
    version.signer = signer
    version.status = Status.SENT
    version.sent_at = timezone.now()
    version.parties = parties_record(agreement.customer)
    version.content_sha256 = content_digest(version)
    version.save(update_fields=["signer", "status", "sent_at", "parties", "content_sha256"])
    if not version.is_amendment:
        agreement.set_status(Agreement.Status.SENT)
    agreement.log(
        Event.SENT, f"Version {version.number} sent to {signer.name} for signature", actor=by
    )
    link_user = ensure_portal_user(signer)
    sign_url = reverse("portal:agreement_sign", args=[agreement.pk])
    send_after_commit(
        "signature_request",
        to=[signer.email],
        context={
            "version": version,
            "agreement": agreement,
            "signer": signer,
            "sender": by,
            "needs_password": not link_user.has_usable_password(),
            "password_link": set_password_url(link_user, next_url=sign_url),
        },
    )
    return version


@transaction.atomic
def recall(version, *, by):
    """Take a sent version back to draft, as long as nobody has signed it."""
    version = _lock(version)
    if version.status != Status.SENT or version.signatures.exists():
        raise ValidationError("Only a version that nobody has signed yet can be recalled.")
    AgreementVersion.objects.filter(pk=version.pk).update(
        status=Status.DRAFT, rates_snapshot=None, parties=None, content_sha256="", sent_at=None
    )
    if not version.is_amendment:
        version.agreement.set_status(Agreement.Status.DRAFT)
    version.agreement.log(Event.RECALLED, f"Version {version.number} recalled to draft", actor=by)


def _signature(version, *, party, user, contact, evidence, now):
    if not evidence.get("consent"):
        raise ValidationError("Tick the consent to sign electronically.")
    typed = (evidence.get("typed_name") or "").strip()
    if len(typed) < 3:
        raise ValidationError("Type your full name.")
    method = evidence.get("method") or Signature.Method.DRAWN
    if method == Signature.Method.TYPED:
        # The typed name is the signature, rendered in a script font on the pages and the PDF.
        drawing = ""
    elif method == Signature.Method.DRAWN:
        drawing = evidence.get("drawing") or ""
        if not drawing.startswith("data:image/png;base64,"):
            raise ValidationError("Draw your signature in the box.")
        check_drawing(drawing)  # a real PNG of the pad's size (and no bigger)
    else:
        raise ValidationError("Choose to draw or to type your signature.")
    digest = content_digest(version)
    if digest != version.content_sha256:
        raise ValidationError("The content of this version changed since it was sent.")
    try:
        with transaction.atomic():
            return Signature.objects.create(
                version=version,
                party=party,
                user=user,
                contact=contact,
                typed_name=typed,
                title=(evidence.get("title") or "").strip()[:100],
                method=method,
                drawing=drawing,
                consent=True,
                signed_at=now,
                ip_address=evidence.get("ip") or None,
                user_agent=(evidence.get("user_agent") or "")[:400],
                content_sha256=digest,
            )
    except IntegrityError:
        raise ValidationError("This party has already signed this version.") from None


def _check_signable(version):
    if version.status == Status.SUPERSEDED:
        raise ValidationError("This version was superseded by a newer one; sign that one instead.")
    if version.status in (Status.DRAFT, Status.SIGNED):
        raise ValidationError("This version is not waiting for a signature.")


def authorized_signer(version, user):
    """The user's contact when they may sign for the version's customer, else None."""
    return Contact.objects.filter(
        user=user, customer_id=version.agreement.customer_id, is_authorized_signer=True
    ).first()


def can_sign(version, user, *, is_signer=None):
    """Whether the portal should offer this user the signature: sent, and an authorized signer
    (``is_signer``: already known from `authorized_signer`, not read again)."""
    if is_signer is None:
        is_signer = authorized_signer(version, user) is not None
    return version.status == Status.SENT and is_signer


@transaction.atomic
def sign_as_customer(version, *, user, evidence, now=None):
    """The customer's authorized signer signs in the portal."""
    now = now or timezone.now()
    version = _lock(version)
    _check_signable(version)
    contact = authorized_signer(version, user)
    if contact is None:
        raise ValidationError(
            "Only an authorized signer of %(customer)s can sign this agreement.",
            params={"customer": version.agreement.customer},
        )
    if version.status != Status.SENT:
        raise ValidationError("The customer has already signed this version.")
    _check_dates_in_range(version)
    _signature(
        version,
        party=Signature.Party.CUSTOMER,
        user=user,
        contact=contact,
        evidence=evidence,
        now=now,
    )
    AgreementVersion.objects.filter(pk=version.pk).update(status=Status.CUSTOMER_SIGNED)
    if not version.is_amendment:
        version.agreement.set_status(Agreement.Status.CUSTOMER_SIGNED)
    version.agreement.log(Event.SIGNED, f"Signed by {contact.name} for the customer", actor=user)
    admins = get_user_model().objects.filter(role=Role.ADMIN, is_active=True)
    send_after_commit(
        "countersignature_needed",
        to=list(admins.values_list("email", flat=True)),
        context={"version": version, "agreement": version.agreement, "contact": contact},
    )
    return version


@transaction.atomic
def countersign(version, *, user, evidence, now=None):
    """An Allora admin countersigns; on this last signature the agreement takes effect."""
    now = now or timezone.now()
    version = _lock(version)
    _check_signable(version)
    if not user.is_admin:
        raise ValidationError("Only an Allora admin can countersign.")
    if version.status != Status.CUSTOMER_SIGNED:
        raise ValidationError("The customer must sign before Allora countersigns.")
    _check_dates_in_range(version)
    _signature(
        version, party=Signature.Party.ALLORA, user=user, contact=None, evidence=evidence, now=now
    )
    version.agreement.log(Event.COUNTERSIGNED, f"Countersigned by {user} for Allora", actor=user)
    return complete(version, now=now, by=user)


def complete(version, *, now, by):
    """Both parties signed: the version takes effect (first term, or replaces the old version)."""
    agreement = version.agreement
    AgreementVersion.objects.filter(pk=version.pk).update(status=Status.SIGNED, completed_at=now)
    if version.is_amendment:
        agreement.versions.filter(status=Status.SIGNED).exclude(pk=version.pk).update(
            status=Status.SUPERSEDED
        )
        agreement.log(Event.AMENDED, f"Amendment (version {version.number}) in effect", actor=by)
        from scheduling.planning import replan_for_amendment

        effective = timezone.localdate(now, agreement.tz)
        replan = replan_for_amendment(agreement, version=version, effective=effective)
        agreement.log(Event.VISITS_REPLANNED, replan.message, actor=by)
    else:
        lifecycle.activate(
            agreement, version=version, signed_on=timezone.localdate(now, agreement.tz)
        )
    webhook_events.agreement_signed(version, now=now)
    transaction.on_commit(lambda: generate_signed_pdf_later(version.pk))
    return version


def generate_signed_pdf_later(version_id):
    from .tasks import generate_signed_pdf

    generate_signed_pdf.delay(version_id)


def store_signed_pdf(version_id, *, today):
    """Render the final PDF with its signature certificate once, and record its SHA-256."""
    from .pdf import agreement_pdf

    version = AgreementVersion.objects.select_related("agreement").get(pk=version_id)
    if version.signed_pdf or version.status not in (Status.SIGNED, Status.SUPERSEDED):
        return version
    data = agreement_pdf(version, today=today, final=True)
    digest = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        locked = AgreementVersion.objects.select_for_update().get(pk=version_id)
        if locked.signed_pdf:
            return locked
        name = f"{locked.agreement.number}-v{locked.number}-signed.pdf"
        locked.signed_pdf.save(name, ContentFile(data), save=False)
        locked.signed_pdf_sha256 = digest
        locked.save(update_fields=["signed_pdf", "signed_pdf_sha256"])
        locked.agreement.log(Event.PDF, f"Signed PDF stored (SHA-256 {digest[:12]}…)")
    return locked


def verify_signed_pdf(version) -> tuple[bool, str]:
    """Recompute the stored PDF's SHA-256 and compare it with the one recorded at signing."""
    if not version.signed_pdf:
        return False, "There is no signed PDF for this version yet."
    try:
        with version.signed_pdf.open("rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return False, "The signed PDF file is missing from storage."
    if digest == version.signed_pdf_sha256:
        return True, f"The signed PDF is intact (SHA-256 {digest})."
    return False, (
        f"The signed PDF does NOT match: recorded {version.signed_pdf_sha256}, file {digest}. "
        "It was altered after signing."
    )


@transaction.atomic
def start_amendment(agreement, *, by):
    """A new draft version copied from the version in force; terms and rates stay as they are."""
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    if agreement.versions.filter(
        status__in=[Status.DRAFT, Status.SENT, Status.CUSTOMER_SIGNED]
    ).exists():
        raise ValidationError("An amendment is already in progress for this agreement.")
    current = agreement.signed_version()
    if current is None or agreement.status not in (
        Agreement.Status.ACTIVE,
        Agreement.Status.ENDING,
    ):
        raise ValidationError("Only an active agreement can be amended.")
    draft = AgreementVersion.objects.create(
        agreement=agreement,
        number=current.number + 1,
        terms_template=current.terms_template,
        billing_day=current.billing_day,
        payment_terms_days=current.payment_terms_days,
        created_by=by,
    )
    # Each copy continues its line (`replaces`) with the schedule in force: the latest change.
    for line in current.lines.prefetch_related("schedule_changes"):
        changes = sorted(line.schedule_changes.all(), key=lambda c: (c.effective_from, c.series))
        if changes:
            latest = changes[-1]
            line.rrule = latest.rrule
            line.start_time = latest.start_time
            line.duration_minutes = latest.duration_minutes
            line.schedule_text = latest.schedule_text
        line.replaces_id = line.pk
        line.pk = None
        line.version = draft
        line.save()
    agreement.log(Event.AMENDMENT_DRAFTED, f"Amendment (version {draft.number}) drafted", actor=by)
    return draft


# The recorded parties: a customer edited while a version awaits signature ------------------


def awaiting_signature(customer):
    """The customer's versions sent and not yet signed by both parties, with their agreements."""
    return (
        AgreementVersion.objects.filter(
            agreement__customer=customer, status__in=[Status.SENT, Status.CUSTOMER_SIGNED]
        )
        .select_related("agreement", "signer")
        .order_by("agreement__number", "number")
    )


def parties_changed(version) -> bool:
    """Whether the customer's name or address differs now from what the version records."""
    return version_parties(version)["customer"] != customer_record(version.agreement.customer)


def recorded_parties_notice(version) -> str:
    """What staff are told after an edit of the customer changed what a version awaiting
    signature records (empty when the version still names the customer as it is)."""
    if not parties_changed(version):
        return ""
    recorded = version_parties(version)["customer"]
    sent_with = f"{recorded['legal_name']}, {recorded['address']}"
    if version.status == Status.SENT:
        return (
            f"{version.agreement.number} version {version.number} awaits signature and still "
            f"names the customer as it was sent: {sent_with}. Recall and resend it to have it "
            "signed with the new name and address."
        )
    return (
        f"{version.agreement.number} version {version.number} was signed by the customer naming "
        f"{sent_with} and keeps that; once it takes effect, an amendment can bring the new name "
        "and address."
    )


@transaction.atomic
def resend(version, *, by, today: dt.date):
    """Recall a version nobody has signed and send it again to the same signer, so that it
    records the customer's current name and address (and today's Exhibit A); all or nothing."""
    version = _lock(version)
    if version.status != Status.SENT or version.signatures.exists():
        raise ValidationError("Only a version that nobody has signed yet can be resent.")
    signer = version.signer
    recall(version, by=by)
    version.refresh_from_db()
    return send_for_signature(version, signer=signer, by=by, today=today)


# Who may end the agreement -----------------------------------------------------------------


def may_request_termination(agreement, user, *, is_signer=None) -> bool:
    """Whether the user may file or withdraw the agreement's written termination request: Allora
    staff (recording a letter or email), or the people who may sign for the customer
    (``is_signer``: already known from `authorized_signer`, not read again)."""
    if user.is_allora_staff:
        return True
    if is_signer is None:
        version = agreement.latest_version()
        is_signer = version is not None and authorized_signer(version, user) is not None
    return is_signer


def termination_refusal(agreement) -> str:
    """Why a customer user who is not an authorized signer cannot end the agreement."""
    return (
        f"Only an authorized signer of {agreement.customer} can file or withdraw the written "
        "termination request; ask one of them, or Allora, to do it."
    )

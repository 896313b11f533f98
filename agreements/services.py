"""Workflows on customers and contacts, and on drafting agreements (a new agreement, its
settings, its Exhibit B lines)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlencode, urlsafe_base64_encode

from allora.emails import send_after_commit
from allora.models import Role
from allora.tokens import invitation_token_generator

from .models import Agreement, AgreementEvent, AgreementVersion, Contact, Customer, ServiceLine

Event = AgreementEvent.Kind


def set_password_url(user, *, next_url=""):
    """The absolute link where an invited user chooses a password (valid INVITATION_TIMEOUT,
    longer than a password-reset link); then they are signed in and go on to ``next_url`` (a
    path of this site, e.g. the agreement to sign), or to their home."""
    path = reverse(
        "invitation_accept",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": invitation_token_generator.make_token(user),
        },
    )
    query = f"?{urlencode({'next': next_url})}" if next_url else ""
    return settings.SITE_URL + path + query


def ensure_portal_user(contact: Contact):
    """The contact's portal account: created (with no password yet) when they have none."""
    User = get_user_model()
    user = contact.user
    if user is None:
        email = contact.email.lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(
                "The email %(email)s already belongs to another user; "
                "change the contact's email or ask an admin.",
                params={"email": email},
            )
        first, _, last = contact.name.partition(" ")
        user = User.objects.create_user(
            email,
            password=None,
            first_name=first[:150],
            last_name=last[:150],
            role=Role.CUSTOMER,
            customer=contact.customer,
        )
        contact.user = user
    elif not user.is_active:
        _set_account_open(user, active=True, now=timezone.now())
    contact.has_portal_access = True
    contact.save(update_fields=["user", "has_portal_access"])
    return user


@transaction.atomic
def invite_contact(contact: Contact, *, invited_by):
    """Give a contact a portal account (or re-send the invitation) and email a set-password link."""
    contact = (
        Contact.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=contact.pk)
    )
    user = ensure_portal_user(contact)
    send_after_commit(
        "portal_invite",
        to=[user.email],
        context={
            "contact": contact,
            "customer": contact.customer,
            "invited_by": invited_by,
            "link": set_password_url(user),
        },
    )
    return user


def _set_account_open(user, *, active: bool, now):
    """Open or close an account, either way with no password to sign in with and no API token:
    a closed account cannot be used, and a reopened one (also one revoked before revocation
    cleared them, or deactivated in the admin site) gets a new password from the invitation."""
    user.is_active = active
    user.set_unusable_password()
    user.save(update_fields=["is_active", "password"])
    user.api_tokens.revoke(now=now)


@transaction.atomic
def revoke_portal_access(contact: Contact, *, now=None):
    """Stop a contact from signing in to the portal: their account is closed, its password made
    unusable and its API tokens revoked; when no other portal user of the customer is left, the
    customer's calendar feed gets a new address. Their history stays."""
    from scheduling.models import CalendarFeed

    now = now or timezone.now()
    contact = (
        Contact.objects.select_for_update(of=("self",))
        .select_related("customer", "user")
        .get(pk=contact.pk)
    )
    contact.has_portal_access = False
    contact.save(update_fields=["has_portal_access"])
    user = contact.user
    if user is None:
        return contact
    was_active = user.is_active
    _set_account_open(user, active=False, now=now)
    others = get_user_model().objects.filter(
        customer_id=contact.customer_id, role=Role.CUSTOMER, is_active=True
    )
    if was_active and not others.exists():
        CalendarFeed.rotate_for_customer(
            contact.customer,
            now=now,
            reason=f"New address: {contact.name}, the last portal user, lost portal access",
        )
    return contact


def next_agreement_number(year: int) -> str:
    """CA-<year>-<sequence>: sequential within a year, never reused."""
    prefix = f"CA-{year}-"
    last = (
        Agreement.objects.filter(number__startswith=prefix)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    sequence = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{sequence:04d}"


def create_agreement(customer: Customer, *, by, today, **version_fields):
    """A new agreement with its first draft version."""
    for _attempt in range(5):
        try:
            with transaction.atomic():
                agreement = Agreement.objects.create(
                    customer=customer,
                    number=next_agreement_number(today.year),
                    time_zone=customer.time_zone,
                    created_by=by,
                )
                version = AgreementVersion.objects.create(
                    agreement=agreement, created_by=by, **version_fields
                )
                agreement.log(Event.DRAFTED, "Agreement drafted", actor=by)
                return version
        except IntegrityError:
            continue  # another agreement took the number at the same moment: take the next
    raise ValidationError("Could not number the agreement; please try again.")


SCHEDULE_FIELDS = ("rrule", "start_time", "duration_minutes", "schedule_text")


def save_service_line(line: ServiceLine, *, version, kind, schedule=None, by) -> ServiceLine:
    """Save an Exhibit B line of the draft ``version`` (a new one, without a pk, goes last)
    with the schedule form's cleaned data for a scheduled kind; the history says so. The line
    refuses to save unless the version is a draft (FrozenContentError)."""
    new = line.pk is None
    line.version, line.kind = version, kind
    if schedule is not None:
        for field in SCHEDULE_FIELDS:
            setattr(line, field, schedule[field])
    if new:
        line.position = version.lines.count()
    line.save()
    verb = "added" if new else "changed"
    version.agreement.log(Event.EDITED, f"{line.get_kind_display()} line {verb}", actor=by)
    return line


def remove_service_line(line: ServiceLine, *, by):
    """Remove a line from a draft's Exhibit B (FrozenContentError once sent); the history says
    so."""
    line.delete()
    line.version.agreement.log(Event.EDITED, f"{line.get_kind_display()} line removed", actor=by)


def save_draft_settings(form, *, by) -> AgreementVersion:
    """Save a draft version's settings (a valid ``VersionForm``); the history says so."""
    version = form.save()
    version.agreement.log(Event.EDITED, f"Version {version.number} settings changed", actor=by)
    return version

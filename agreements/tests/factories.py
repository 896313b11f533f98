import datetime as dt
from decimal import Decimal as D

import factory
from django.utils import timezone

from agreements.models import (
    Agreement,
    AgreementVersion,
    Contact,
    Customer,
    ResponseTier,
    ServiceKind,
    ServiceLine,
    Term,
    TermsTemplate,
)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        django_get_or_create = ("legal_name",)

    legal_name = factory.Sequence(lambda n: f"Customer {n}, LLC")
    address_line1 = factory.Sequence(lambda n: f"{100 + n} Hillsborough Street")
    postal_code = "27603"
    phone = "(919) 555-0100"
    status = Customer.Status.ACTIVE


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")


class TermsTemplateFactory(factory.django.DjangoModelFactory):
    """Version 1 of the terms (a data migration creates it too; a transactional test's flush
    may have removed that row, so factories never rely on it)."""

    class Meta:
        model = TermsTemplate
        django_get_or_create = ("version",)

    version = 1
    title = "Customer Agreement"
    body = "## 1. Term\nOne year, renewing.\n\n## 2. Rates\nGuaranteed for the term."
    published_at = factory.LazyFunction(timezone.now)


def response_tier(name="1 hour, 24×7", minutes=60, business_hours_only=False):
    tier, _ = ResponseTier.objects.get_or_create(
        name=name,
        defaults={"response_minutes": minutes, "business_hours_only": business_hours_only},
    )
    return tier


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agreement

    customer = factory.SubFactory(CustomerFactory)
    number = factory.Sequence(lambda n: f"CA-2026-{n + 1:04d}")


class VersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgreementVersion

    agreement = factory.SubFactory(AgreementFactory)
    terms_template = factory.SubFactory(TermsTemplateFactory)


class ServiceLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceLine

    version = factory.SubFactory(VersionFactory)
    kind = ServiceKind.MAINTENANCE
    hours_per_visit = D("2.00")
    labor_rate = "onsite_hourly"
    rrule = "FREQ=MONTHLY;BYDAY=+3WE"
    start_time = dt.time(10, 0)
    duration_minutes = 120
    schedule_text = "The third Wednesday of every month at 10:00 for 2 hours"
    checklist = factory.LazyFunction(
        lambda: ["Inspections", "Updates", "Backups", "Scans", "Workplace optimization"]
    )


def prescheduled_line(version, **fields):
    """A Prescheduled Services line: an 8 h block, every Tuesday at 09:00 for 2 hours."""
    return ServiceLineFactory(
        version=version,
        **{
            "position": 1,
            "kind": ServiceKind.PRESCHEDULED,
            "hours_per_visit": None,
            "hours_per_month": D("8.00"),
            "rrule": "FREQ=WEEKLY;BYDAY=TU",
            "start_time": dt.time(9, 0),
            "duration_minutes": 120,
            "schedule_text": "Every Tuesday at 09:00 for 2 hours",
            "checklist": [],
            **fields,
        },
    )


def hosting_line(version, *, package_name="Website hosting", quantity=1, position=3):
    """A hosting line: a package of the rate card and a quantity."""
    return ServiceLineFactory(
        version=version,
        position=position,
        kind=ServiceKind.HOSTING,
        hours_per_visit=None,
        rrule="",
        start_time=None,
        duration_minutes=None,
        schedule_text="",
        checklist=[],
        package_name=package_name,
        quantity=quantity,
    )


def draft_with_all_services(customer=None, **kwargs):
    """A draft version with one line of each kind (maintenance, prescheduled, emergency,
    hosting), as staff would draft it."""
    agreement = AgreementFactory(**({"customer": customer} if customer else {}))
    version = VersionFactory(agreement=agreement, **kwargs)
    ServiceLineFactory(version=version, position=0)
    prescheduled_line(version)
    ServiceLineFactory(
        version=version,
        position=2,
        kind=ServiceKind.EMERGENCY,
        hours_per_visit=None,
        rrule="",
        start_time=None,
        duration_minutes=None,
        schedule_text="",
        checklist=[],
        response_tier=response_tier(),
    )
    hosting_line(version)
    return version


SIGNATURE_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAgAAAAECAYAAACzzX7wAAAAFklEQVR4nGP4//8/Az4MAv"
    "/xYopNAAB/Aj/BSILWkwAAAABJRU5ErkJggg=="
)


def evidence(name="Alice Moore", **extra):
    """What a signing form hands to the lifecycle: consent, typed name, drawing, IP, browser."""
    return {
        "consent": True,
        "typed_name": name,
        "title": "Owner",
        "drawing": SIGNATURE_PNG,
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Test",
        **extra,
    }


def signer_contact(customer, customer_user):
    contact = Contact.objects.filter(user=customer_user).first()
    if contact is None:
        contact = ContactFactory(
            customer=customer,
            user=customer_user,
            email=customer_user.email,
            name=customer_user.get_full_name() or "Signer",
            has_portal_access=True,
        )
    Contact.objects.filter(pk=contact.pk).update(is_authorized_signer=True)
    contact.refresh_from_db()
    return contact


def sent_agreement(*, customer, customer_user, sender, today=dt.date(2026, 11, 28), **kwargs):
    """A version with all four services, sent to the customer's signer on ``today``."""
    from agreements import signing

    version = draft_with_all_services(customer=customer, **kwargs)
    contact = signer_contact(customer, customer_user)
    return signing.send_for_signature(version, signer=contact, by=sender, today=today)


def signed_agreement(*, customer, customer_user, admin, signed_at=None, pdf=True, **kwargs):
    """A version signed by both parties (active agreement, first term, stored signed PDF).

    ``pdf=False`` stores a stand-in file instead of rendering, for tests about access only."""
    from django.utils import timezone

    from agreements import signing

    signed_at = signed_at or timezone.now()
    version = sent_agreement(customer=customer, customer_user=customer_user, sender=admin, **kwargs)
    signing.sign_as_customer(version, user=customer_user, evidence=evidence(), now=signed_at)
    signing.countersign(version, user=admin, evidence=evidence("Dana Whitfield"), now=signed_at)
    if not pdf:
        from django.core.files.base import ContentFile

        version.refresh_from_db()
        version.signed_pdf.save("stand-in.pdf", ContentFile(b"%PDF-1.7 stand-in"), save=False)
        version.save(update_fields=["signed_pdf"])
        return version
    return signing.store_signed_pdf(version.pk, today=signed_at.date())


def agreement_for_2027(*, customer, customer_user, admin):
    """An active agreement signed on 2026-12-10 whose term 1 is [2027-01-01, 2028-01-01): last
    covered day 2027-12-31, notice deadline 2027-12-01 (the example of DESIGN.md)."""
    version = signed_agreement(
        customer=customer,
        customer_user=customer_user,
        admin=admin,
        signed_at=dt.datetime(2026, 12, 10, 15, tzinfo=dt.UTC),
        start_date=dt.date(2027, 1, 1),
        pdf=False,
    )
    return Agreement.objects.get(pk=version.agreement_id)


def next_term(agreement, *, end=None):
    """The term after the agreement's latest, at its locked rates, recorded as a renewal would
    record it (``end``: another end than a year on)."""
    from agreements import rules

    latest = agreement.terms.order_by("-number").first()
    return Term.objects.create(
        agreement=agreement,
        number=latest.number + 1,
        start=latest.end,
        end=end or rules.term_end(latest.end),
        locked_rates=latest.locked_rates,
        version=latest.version,
    )

import datetime as dt
from decimal import Decimal as D

import factory

from agreements.models import (
    Agreement,
    AgreementVersion,
    Contact,
    Customer,
    ResponseTier,
    ServiceKind,
    ServiceLine,
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
    class Meta:
        model = TermsTemplate
        django_get_or_create = ("version",)

    version = 1
    title = "Customer Agreement"
    body = "## 1. Term\nOne year, renewing.\n\n## 2. Rates\nGuaranteed for the term."


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agreement

    customer = factory.SubFactory(CustomerFactory)
    number = factory.Sequence(lambda n: f"CA-2026-{n + 1:04d}")


class VersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgreementVersion

    agreement = factory.SubFactory(AgreementFactory)
    terms_template = factory.LazyFunction(lambda: TermsTemplate.objects.order_by("version").first())


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


def draft_with_all_services(customer=None, **kwargs):
    """A draft version with one line of each kind (maintenance, prescheduled, emergency,
    hosting), as staff would draft it."""
    agreement = AgreementFactory(**({"customer": customer} if customer else {}))
    version = VersionFactory(agreement=agreement, **kwargs)
    ServiceLineFactory(version=version, position=0)
    ServiceLineFactory(
        version=version,
        position=1,
        kind=ServiceKind.PRESCHEDULED,
        hours_per_visit=None,
        hours_per_month=D("8.00"),
        rrule="FREQ=WEEKLY;BYDAY=TU",
        start_time=dt.time(9, 0),
        duration_minutes=120,
        schedule_text="Every Tuesday at 09:00 for 2 hours",
        checklist=[],
    )
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
        response_tier=ResponseTier.objects.get(name="1 hour, 24×7"),
    )
    ServiceLineFactory(
        version=version,
        position=3,
        kind=ServiceKind.HOSTING,
        hours_per_visit=None,
        rrule="",
        start_time=None,
        duration_minutes=None,
        schedule_text="",
        checklist=[],
        package_name="Website hosting",
        quantity=1,
    )
    return version

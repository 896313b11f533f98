import datetime as dt
from decimal import Decimal as D

import factory

from billing.models import DiscountPolicy, RateCard, RateCardLine, RateKind

STANDARD_LINES = [
    (RateKind.ONSITE, "On-site support", "hour", D("150.00")),
    (RateKind.REMOTE, "Remote support", "hour", D("120.00")),
    (RateKind.EMERGENCY, "Emergency support", "hour", D("225.00")),
    (RateKind.AFTER_HOURS, "After-hours support", "hour", D("195.00")),
    (RateKind.HOSTING, "Website hosting", "month", D("45.00")),
]


class RateCardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RateCard
        skip_postgeneration_save = True

    version = factory.Sequence(lambda n: n + 1)

    @factory.post_generation
    def lines(card, create, extracted, **kwargs):
        for position, (kind, name, unit, price) in enumerate(
            STANDARD_LINES if extracted is None else extracted
        ):
            RateCardLine.objects.create(
                card=card, kind=kind, name=name, unit=unit, price=price, position=position
            )


def agreement_discounts():
    """The 25% discounts of the data migration (recreated if a transactional test flushed them)."""
    for kind in ("maintenance", "prescheduled"):
        DiscountPolicy.objects.get_or_create(
            service_kind=kind, effective_date=dt.date(2020, 1, 1), defaults={"percent": D("25")}
        )


def default_reminder_steps():
    """The payment reminder steps of the data migration (-3, 0, 7, 14, 30 days)."""
    from billing.models import ReminderStep

    for days in (-3, 0, 7, 14, 30):
        ReminderStep.objects.get_or_create(days=days)


def published_card(*, effective_date=dt.date(2026, 1, 1), **kwargs):
    """A standard card, published (bypassing the no-past-dates rule for test set-up), and the
    agreement discounts."""
    agreement_discounts()
    card = RateCardFactory(**kwargs)
    RateCard.objects.filter(pk=card.pk).update(
        status=RateCard.Status.PUBLISHED, effective_date=effective_date
    )
    card.refresh_from_db()
    return card


def billing_contact(customer, **fields):
    """A contact of the customer who receives its invoices."""
    from agreements.tests.factories import ContactFactory

    return ContactFactory(
        customer=customer,
        is_billing_contact=True,
        **{"name": "Bill Payer", "email": f"billing@{customer.pk}.example", **fields},
    )


def line_of(agreement, kind):
    """The agreement's Exhibit B line of a kind (in its signed version)."""
    return agreement.signed_version().lines.get(kind=kind)


def log_hours(agreement, kind, work_date, hours, *, by, today=None, after_hours=False):
    """A time entry against the agreement's prescheduled block or emergency line (emergency
    hours may be after-hours work)."""
    from billing.timesheets import log_time

    return log_time(
        agreement,
        line=line_of(agreement, kind),
        work_date=work_date,
        hours=D(hours),
        technician=by,
        after_hours=after_hours,
        by=by,
        today=today or work_date,
    )


def make_invoice(agreement, *, issued_on=dt.date(2027, 1, 1), total=D("1170.00"), **fields):
    """An issued invoice with one line, stored directly (for tests about access and payments)."""
    from django.db import transaction

    from billing.models import Invoice, InvoiceLine, InvoiceSequence, invoice_number

    with transaction.atomic():
        invoice = Invoice.objects.create(
            number=invoice_number(InvoiceSequence.take()),
            agreement=agreement,
            customer=agreement.customer,
            period=issued_on.replace(day=1),
            issued_on=issued_on,
            due_on=issued_on + dt.timedelta(days=30),
            payment_terms_days=30,
            bill_to=f"{agreement.customer.legal_name}\n{agreement.customer.address}",
            subtotal=total,
            discount_total=D("0.00"),
            total=total,
            covers_from=issued_on,
            covers_until=issued_on,
            usage_until=issued_on,
            **fields,
        )
        InvoiceLine.objects.create(
            invoice=invoice,
            kind="hosting",
            description="Website hosting",
            quantity=1,
            unit="month",
            list_rate=total,
            net_rate=total,
            list_amount=total,
            amount=total,
            service_start=issued_on,
            service_end=issued_on,
        )
    return invoice

"""One-off invoices (issue 15): hardware, a site visit outside any agreement — lines typed by
staff, for a customer with or without one of its agreements. In the one invoice numbering,
emailed like the monthly invoices, and paid first from the credit the customer holds."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from integrations import events as webhook_events

from .credits import apply_customer_credit
from .invoicing import bill_to, queue_invoice_email
from .models import ZERO, Invoice, InvoiceEvent, InvoiceLine, InvoiceSequence, invoice_number
from .rules import list_amount, money

MAX_LINES = 50
MAX_QUANTITY = Decimal("10000")
MAX_PRICE = Decimal("1000000")
MAX_TERMS_DAYS = 120
# How far back a one-off invoice may be dated (numbers roughly follow the dates).
MAX_BACKDATE = dt.timedelta(days=31)


@dataclass(frozen=True)
class Item:
    """One typed line: ``quantity`` ``unit`` of ``description`` at ``unit_price`` each."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    unit: str = "each"


def issue_one_off_invoice(customer, *, agreement, lines, issued_on, terms_days, by, today):
    """Issue a one-off invoice of ``lines`` (Items) to ``customer`` (``agreement``: one of its
    agreements, or None), numbered in the invoice sequence, in one transaction; its email is
    queued after the commit, then the customer's credit is applied to it."""
    _check(customer, agreement=agreement, lines=lines, issued_on=issued_on, today=today)
    if not 0 <= terms_days <= MAX_TERMS_DAYS:
        raise ValidationError("Payment terms are 0 to 120 days.")
    amounts = [list_amount(item.quantity, item.unit_price) for item in lines]
    total = sum(amounts, ZERO)
    if total <= 0:
        raise ValidationError("The invoice total must be more than $0.00.")
    with transaction.atomic():
        invoice = Invoice.objects.create(
            number=invoice_number(InvoiceSequence.take()),
            kind=Invoice.Kind.ONE_OFF,
            customer=customer,
            agreement=agreement,
            period=issued_on.replace(day=1),
            issued_on=issued_on,
            due_on=issued_on + dt.timedelta(days=terms_days),
            payment_terms_days=terms_days,
            bill_to=bill_to(customer),
            subtotal=total,
            discount_total=ZERO,
            total=total,
            covers_from=issued_on,
            covers_until=issued_on,
            usage_until=issued_on,
        )
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=invoice,
                position=position,
                kind=InvoiceLine.Kind.ITEM,
                description=item.description.strip(),
                quantity=item.quantity,
                unit=(item.unit or "each").strip(),
                list_rate=item.unit_price,
                net_rate=item.unit_price,
                list_amount=amount,
                amount=amount,
                service_start=issued_on,
                service_end=issued_on,
            )
            for position, (item, amount) in enumerate(zip(lines, amounts, strict=True))
        )
        InvoiceEvent.objects.create(
            invoice=invoice, kind=InvoiceEvent.Kind.ISSUED, detail="One-off invoice", by=by
        )
        webhook_events.invoices_issued([invoice], now=timezone.now())
        transaction.on_commit(partial(queue_invoice_email, invoice.pk))
    apply_customer_credit([invoice], today=today, by=by)
    invoice.refresh_from_db()
    return invoice


def _check(customer, *, agreement, lines, issued_on, today):
    if agreement is not None and agreement.customer_id != customer.pk:
        raise ValidationError(
            "That agreement is not one of %(customer)s's.", params={"customer": customer}
        )
    if issued_on > today:
        raise ValidationError("The invoice date cannot be in the future.")
    if issued_on < today - MAX_BACKDATE:
        raise ValidationError("The invoice date can be at most 31 days in the past.")
    if not 1 <= len(lines) <= MAX_LINES:
        raise ValidationError("An invoice has 1 to 50 lines.")
    for item in lines:
        if not item.description.strip() or len(item.description) > 300:
            raise ValidationError("Each line needs a description (at most 300 characters).")
        if not 0 < item.quantity <= MAX_QUANTITY:
            raise ValidationError("A quantity is more than 0 and at most 10,000.")
        if not 0 <= item.unit_price < MAX_PRICE or item.unit_price != money(item.unit_price):
            raise ValidationError("A unit price is from $0.00 to less than $1,000,000.00.")
        if len(item.unit or "") > 20:
            raise ValidationError("A unit is at most 20 characters.")

"""Receivables test data, stored with the models directly and kept consistent with the
foundation's rules (billing/models.py): one-off invoices, payments (an overpayment's excess held
as customer credit), credit notes (the part beyond the balance held as credit), customer credit
applied with a "credit" payment."""

import datetime as dt
from decimal import Decimal as D

from django.db import transaction

from billing.models import (
    CreditNote,
    CustomerCredit,
    Invoice,
    InvoiceSequence,
    Payment,
    ReminderStep,
    credit_note_number,
    invoice_number,
)


def one_off(customer, *, issued_on, due_on=None, total="100.00", status=Invoice.Status.ISSUED):
    """A one-off invoice of the customer (Net 30 unless ``due_on`` says otherwise)."""
    total = D(total)
    due_on = due_on or issued_on + dt.timedelta(days=30)
    with transaction.atomic():
        return Invoice.objects.create(
            number=invoice_number(InvoiceSequence.take()),
            customer=customer,
            kind=Invoice.Kind.ONE_OFF,
            period=issued_on.replace(day=1),
            issued_on=issued_on,
            due_on=due_on,
            payment_terms_days=(due_on - issued_on).days,
            bill_to=f"{customer.legal_name}\n{customer.address}",
            subtotal=total,
            discount_total=D("0.00"),
            total=total,
            covers_from=issued_on,
            covers_until=issued_on,
            usage_until=issued_on,
            status=status,
        )


def _settle(invoice, on):
    if invoice.balance == 0 and invoice.total > 0:
        invoice.status, invoice.paid_on = Invoice.Status.PAID, on
    invoice.save()


def pay(invoice, amount, *, on, by, method=Payment.Method.ACH, reference=""):
    """A payment; what goes beyond the balance is held as customer credit."""
    amount = D(amount)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        applied = min(amount, invoice.balance)
        payment = Payment.objects.create(
            invoice=invoice,
            amount=amount,
            to_credit=amount - applied,
            received_on=on,
            method=method,
            reference=reference,
            recorded_by=by,
        )
        if payment.to_credit:
            CustomerCredit.objects.create(
                customer=invoice.customer, amount=payment.to_credit, on=on, payment=payment
            )
        invoice.amount_paid += applied
        _settle(invoice, on)
    return payment


def apply_credit(invoice, amount, *, on, by):
    """Customer credit applied to an invoice: a "credit" payment and the credit taken off."""
    amount = D(amount)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        assert amount <= invoice.balance
        payment = Payment.objects.create(
            invoice=invoice,
            amount=amount,
            received_on=on,
            method=Payment.Method.CREDIT,
            recorded_by=by,
        )
        CustomerCredit.objects.create(
            customer=invoice.customer, amount=-amount, on=on, payment=payment
        )
        invoice.amount_paid += amount
        _settle(invoice, on)
    return payment


def credit_note(invoice, total, *, on, by, reason="Service credit"):
    """A credit note: taken off the balance, the rest (a paid invoice) held as credit."""
    total = D(total)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        applied = min(total, invoice.balance)
        note = CreditNote.objects.create(
            number=credit_note_number(InvoiceSequence.take(name=InvoiceSequence.CREDIT_NOTE)),
            invoice=invoice,
            customer=invoice.customer,
            issued_on=on,
            reason=reason,
            total=total,
            applied_to_invoice=applied,
            to_customer_credit=total - applied,
            created_by=by,
        )
        if note.to_customer_credit:
            CustomerCredit.objects.create(
                customer=invoice.customer,
                amount=note.to_customer_credit,
                on=on,
                credit_note=note,
            )
        invoice.amount_credited += applied
        _settle(invoice, on)
    return note


def reminder_steps(*days):
    """Exactly these reminder steps, active."""
    ReminderStep.objects.all().delete()
    for value in days:
        ReminderStep.objects.create(days=value)

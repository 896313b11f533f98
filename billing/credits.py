"""Credit notes and customer credit (issue 15).

- A credit note takes an amount off one invoice: all that remains of it, or amounts of some of
  its lines, with a reason. What the invoice still owes is reduced first
  (`CreditNote.applied_to_invoice`); the rest, when it had been paid already, is held as the
  customer's credit (`to_customer_credit`, a `CustomerCredit` entry). The credit notes of an
  invoice never add up to more than its total; none on a void invoice. Numbered CN-…, never
  reused, never deleted.
- Customer credit (an overpayment, `Invoice.record_payment`, or a credit note on a paid
  invoice) is applied to the customer's next invoices when they are issued
  (`apply_customer_credit`: a payment of method "credit" and a negative `CustomerCredit`
  entry), or by staff on an open invoice. The customer's row is locked while its credit is
  spent, so two workers never spend the same dollars.
"""

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery, Sum

from agreements.models import Customer
from allora.statements import Read

from .models import (
    ZERO,
    CreditNote,
    CreditNoteLine,
    CustomerCredit,
    Invoice,
    InvoiceEvent,
    InvoiceSequence,
    Payment,
    credit_note_number,
)
from .rules import money

MAX_AMOUNT = Decimal("1000000000")
OPEN = (Invoice.Status.ISSUED, Invoice.Status.OVERDUE)


# Customer credit ---------------------------------------------------------------------------


def credit_balance(customer) -> Decimal:
    """The credit the customer holds (one query)."""
    total = CustomerCredit.objects.filter(customer=customer).aggregate(total=Sum("amount"))
    # Rounded to cents: SQLite sums decimals as floating point (1e-15 off).
    return money(total["total"] or ZERO)


def _with_credit(pk):
    held = (
        CustomerCredit.objects.filter(customer=OuterRef("pk"))
        .order_by()
        .values("customer")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Customer.objects.annotate(credit_held=Subquery(held)).filter(pk=pk)


_WITH_CREDIT = Read(_with_credit, pk=int)


def customer_with_credit(pk) -> Customer:
    """The customer with its `credit` (as `credit_balance` gives it), read in one query."""
    found = _WITH_CREDIT.run(pk=pk)
    if not found:
        raise Customer.DoesNotExist(f"No customer {pk}")
    customer = found[0]
    customer.credit = money(customer.credit_held or ZERO)
    return customer


def apply_customer_credit(invoices, *, today: dt.date, by=None) -> list:
    """Apply the credit their customers hold to these invoices (instances or ids), the oldest
    first; the payments made (method "credit"). One query when no customer of them holds
    credit. Each customer's credit is spent in its own transaction under a lock of the
    customer's row (concurrent runs never spend it twice); ``by`` None: applied on issue."""
    ids = [getattr(invoice, "pk", invoice) for invoice in invoices]
    if not ids:
        return []
    holders = (
        CustomerCredit.objects.filter(
            customer_id__in=Invoice.objects.filter(pk__any=ids).values("customer_id")
        )
        .values("customer_id")
        .annotate(total=Sum("amount"))
        .filter(total__gte=Decimal("0.005"))  # a cent or more (SQLite sums floating point)
        .values_list("customer_id", flat=True)
    )
    payments = []
    for customer_id in sorted(holders):
        payments += _spend_credit(customer_id, ids, today=today, by=by)
    return payments


@transaction.atomic
def _spend_credit(customer_id, invoice_ids, *, today, by) -> list:
    """Called with no lock held: locks the customer's row, then its open invoices among
    ``invoice_ids`` (the same order as every writer of customer credit that spends it)."""
    Customer.objects.select_for_update().filter(pk=customer_id).first()
    credit = credit_balance(customer_id)
    open_invoices = (
        Invoice.objects.select_for_update()
        .filter(pk__in=invoice_ids, customer_id=customer_id, status__in=OPEN)
        .order_by("issued_on", "number")
    )
    payments = []
    for invoice in open_invoices:
        amount = min(credit, invoice.balance)
        if amount <= 0:
            continue
        on = max(today, invoice.issued_on)
        payment = Payment.objects.create(
            invoice=invoice,
            amount=amount,
            received_on=on,
            method=Payment.Method.CREDIT,
            reference="Customer credit",
            recorded_by=by,
        )
        CustomerCredit.objects.create(
            customer_id=customer_id,
            amount=-amount,
            on=on,
            payment=payment,
            note=f"Applied to {invoice.number}",
            created_by=by,
        )
        invoice.settle(paid=amount, on=on)
        InvoiceEvent.objects.create(
            invoice=invoice,
            kind=InvoiceEvent.Kind.CREDIT_APPLIED,
            detail=f"${amount:,.2f} of the customer's credit",
            by=by,
        )
        payments.append(payment)
        credit -= amount
        if credit <= 0:
            break
    return payments


# Credit notes ------------------------------------------------------------------------------


def creditable(invoice) -> Decimal:
    """What remains to be credited on an invoice: its total less its credit notes' totals."""
    noted = money(invoice.credit_notes.aggregate(total=Sum("total"))["total"] or ZERO)
    return max(invoice.total - noted, ZERO)


def line_remaining(invoice) -> dict:
    """{invoice line id: what remains to be credited on it} (its net amount less the credit
    note lines against it; lines of no positive amount are left out)."""
    credited = defaultdict(
        lambda: ZERO,
        CreditNoteLine.objects.filter(invoice_line__invoice=invoice)
        .values("invoice_line")
        .annotate(total=Sum("amount"))
        .values_list("invoice_line", "total"),
    )
    return {
        line.pk: line.amount - money(credited[line.pk])
        for line in invoice.lines.all()
        if line.amount > 0
    }


def issue_credit_note(invoice, *, reason, by, today: dt.date, lines=None, amount=None):
    """Issue a credit note against ``invoice``: ``lines`` [(invoice line, amount)] or one
    ``amount`` against the invoice as a whole. Refused plainly, with nothing written, on a void
    invoice, for nothing or more than remains (of a line or of the invoice). The credit note
    is emailed to the customer's billing contacts after the commit."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give the reason for the credit note.")
    if len(reason) > 300:
        raise ValidationError("Keep the reason under 300 characters.")
    if (lines is None) == (amount is None):
        raise ValueError("Credit either some lines or an amount.")
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status == Invoice.Status.VOID:
            raise ValidationError("This invoice is void: it cannot be credited.")
        if today < locked.issued_on:
            raise ValidationError("A credit note cannot be dated before its invoice.")
        rows = _credit_rows(locked, lines=lines, amount=amount)
        total = sum((row[1] for row in rows), ZERO)
        remaining = creditable(locked)
        if total > remaining:
            raise ValidationError(
                "The credit of $%(total)s is more than what remains to be credited on "
                "%(number)s ($%(remaining)s).",
                params={
                    "total": f"{total:,.2f}",
                    "number": locked.number,
                    "remaining": f"{remaining:,.2f}",
                },
            )
        applied = min(total, max(locked.balance, ZERO))
        note = CreditNote.objects.create(
            number=credit_note_number(InvoiceSequence.take(name=InvoiceSequence.CREDIT_NOTE)),
            invoice=locked,
            customer_id=locked.customer_id,
            issued_on=today,
            reason=reason,
            total=total,
            applied_to_invoice=applied,
            to_customer_credit=total - applied,
            created_by=by,
        )
        CreditNoteLine.objects.bulk_create(
            CreditNoteLine(
                credit_note=note,
                position=position,
                invoice_line=line,
                description=description[:300],
                amount=line_amount,
            )
            for position, (line, line_amount, description) in enumerate(rows)
        )
        if note.to_customer_credit:
            CustomerCredit.objects.create(
                customer_id=locked.customer_id,
                amount=note.to_customer_credit,
                on=today,
                credit_note=note,
                note=f"Credit note {note.number} on the paid part of {locked.number}",
                created_by=by,
            )
        locked.settle(credited=applied, on=today)
        InvoiceEvent.objects.create(
            invoice=locked,
            kind=InvoiceEvent.Kind.CREDIT_NOTE,
            detail=f"{note.number}: ${total:,.2f} — {reason}"[:300],
            by=by,
        )
        transaction.on_commit(partial(queue_credit_note_email, note.pk))
    invoice.refresh_from_db()
    return note


def _credit_rows(invoice, *, lines, amount) -> list:
    """[(invoice line or None, amount, description)] of a credit, each amount checked."""
    if amount is not None:
        return [(None, _amount(amount), f"Credit on invoice {invoice.number}")]
    remaining = line_remaining(invoice)
    own = {line.pk: line for line in invoice.lines.all()}
    rows, seen = [], set()
    for line, line_amount in lines:
        pk = getattr(line, "pk", line)
        if pk not in own or pk in seen:
            raise ValidationError("Choose each line of this invoice at most once.")
        seen.add(pk)
        line_amount = _amount(line_amount)
        left = remaining.get(pk, ZERO)
        if line_amount > left:
            raise ValidationError(
                "The credit of $%(amount)s on “%(line)s” is more than what remains of it "
                "($%(left)s).",
                params={
                    "amount": f"{line_amount:,.2f}",
                    "line": own[pk].description,
                    "left": f"{left:,.2f}",
                },
            )
        rows.append((own[pk], line_amount, own[pk].description))
    if not rows:
        raise ValidationError("Choose at least one line to credit.")
    return rows


def _amount(value) -> Decimal:
    value = Decimal(value)
    if value <= 0:
        raise ValidationError("A credit must be more than $0.00.")
    if value != money(value):
        raise ValidationError("A credit is in dollars and cents, e.g. 150.00.")
    if value >= MAX_AMOUNT:
        raise ValidationError("That credit is too large.")
    return value


def queue_credit_note_email(credit_note_id):
    from .tasks import email_credit_note

    email_credit_note.delay(credit_note_id)

"""What billing hands out: the invoice and credit note PDFs, their emails (with the PDF
attached; an invoice can be sent again) and the CSV export for the accounting package."""

import datetime as dt
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from allora.emails import build_email
from allora.pdf import render_pdf

from .models import CreditNote, CreditNoteLine, Invoice, InvoiceEvent, InvoiceLine

# Every figure as stored: list amount = quantity × list rate and discount = list amount × percent,
# each rounded to cents BEFORE the next step, so a prorated line (3.6129 h × $150.00 = $541.94,
# 25% off: $135.49, net $406.45) reconciles only with its list amount in the file; and each row
# carries its invoice's totals, so the net amounts of an invoice's rows sum to its total.
EXPORT_COLUMNS = [
    "Invoice number",
    "Date",
    "Due date",
    "Customer",
    "Item",
    "Quantity",
    "Unit",
    "List rate",
    "List amount",
    "Discount %",
    "Discount",
    "Net amount",
    "Invoice list amount",
    "Invoice discount",
    "Invoice total",
]


def invoice_context(invoice):
    return {
        "invoice": invoice,
        "lines": invoice.lines.all(),
        "payments": invoice.payments.all(),
        "credit_notes": invoice.credit_notes.all(),
        "agreement": invoice.agreement,
        "customer": invoice.customer,
        "bill_to": invoice.bill_to.splitlines(),
    }


def invoice_pdf(invoice) -> bytes:
    """The invoice as PDF bytes (rendered from its stored lines, so it never changes)."""
    html = render_to_string(
        "billing/invoice_pdf.html", {**invoice_context(invoice), "generated_at": timezone.now()}
    )
    return render_pdf(html, base_url=str(settings.BASE_DIR))


def invoice_filename(invoice) -> str:
    return f"{invoice.number}.pdf"


def billing_recipients(customer) -> list:
    """The customer's billing contacts (its authorized signers when it has none)."""
    contacts = customer.contacts.filter(is_billing_contact=True)
    if not contacts.exists():
        contacts = customer.contacts.filter(is_authorized_signer=True)
    emails = contacts.values_list("email", flat=True)
    return list(dict.fromkeys(email.lower() for email in emails if email))


def send_invoice_email(invoice_id) -> bool:
    """Email an issued invoice with its PDF, once: the row is claimed before sending, and
    released again if sending fails so a retry can send it."""
    invoices = Invoice.objects.filter(pk=invoice_id).exclude(status=Invoice.Status.VOID)
    if not _claim(invoices):
        return False
    invoice = Invoice.objects.select_related("customer", "agreement").get(pk=invoice_id)
    return _send_or_release(invoices, partial(invoice_message, invoice), invoice=invoice)


def resend_invoice(invoice, *, by):
    """Send the invoice email (the same message and PDF) again, after the commit; recorded on
    its timeline. Refused for a void invoice or a customer with no billing contact."""
    if invoice.status == Invoice.Status.VOID:
        raise ValidationError("This invoice is void: it is not sent again.")
    if not billing_recipients(invoice.customer):
        raise ValidationError(
            "%(customer)s has no billing contact (nor authorized signer) with an email address.",
            params={"customer": invoice.customer},
        )
    with transaction.atomic():
        event = InvoiceEvent.objects.create(invoice=invoice, kind=InvoiceEvent.Kind.RESENT, by=by)
        transaction.on_commit(partial(_queue_resend, event.pk))
    return event


def _queue_resend(event_id):
    from .tasks import resend_invoice_email

    resend_invoice_email.delay(event_id)


def send_invoice_again(event_id) -> bool:
    """The email of a "resent" event: the invoice's email to its billing contacts now."""
    event = InvoiceEvent.objects.select_related("invoice__customer", "invoice__agreement").get(
        pk=event_id
    )
    message = invoice_message(event.invoice)
    if message is None:
        return False
    message.send()
    InvoiceEvent.objects.filter(pk=event.pk).update(detail=", ".join(message.to)[:300])
    return True


def invoice_message(invoice):
    """The invoice email with its PDF attached (None: no one to send it to)."""
    return _document_message(
        "invoice_issued",
        customer=invoice.customer,
        context={"invoice": invoice},
        portal_url=reverse("portal:invoice_detail", args=[invoice.pk]),
        attachment=(invoice_filename(invoice), partial(invoice_pdf, invoice)),
    )


def _document_message(name, *, customer, context, portal_url, attachment):
    recipients = billing_recipients(customer)
    if not recipients:
        return None
    filename, pdf = attachment
    return build_email(
        name,
        to=recipients,
        context={**context, "customer": customer, "portal_url": settings.SITE_URL + portal_url},
        attachments=[(filename, pdf(), "application/pdf")],
    )


def _claim(queryset) -> bool:
    """Whether this call claims the email of the document of ``queryset`` (``emailed_at`` set
    by a conditional UPDATE: only one caller does)."""
    return bool(queryset.filter(emailed_at__isnull=True).update(emailed_at=timezone.now()))


def _send_or_release(queryset, build, *, invoice=None) -> bool:
    """Build and send a claimed document's email; release the claim if that fails (a retry
    sends it). An invoice's timeline records the email."""
    try:
        message = build()
        if message is None:
            return False  # no one to send it to (the claim stays: nothing to retry)
        message.send()
    except Exception:
        queryset.update(emailed_at=None)
        raise
    if invoice is not None:
        InvoiceEvent.objects.create(
            invoice=invoice, kind=InvoiceEvent.Kind.EMAILED, detail=", ".join(message.to)[:300]
        )
    return True


# Credit notes -------------------------------------------------------------------------------


def credit_note_context(note):
    return {
        "note": note,
        "invoice": note.invoice,
        "lines": note.lines.all(),
        "customer": note.customer,
        "bill_to": note.invoice.bill_to.splitlines(),
    }


def credit_note_pdf(note) -> bytes:
    """The credit note as PDF bytes (the invoice PDF's look)."""
    context = {**credit_note_context(note), "generated_at": timezone.now()}
    html = render_to_string("billing/credit_note_pdf.html", context)
    return render_pdf(html, base_url=str(settings.BASE_DIR))


def credit_note_filename(note) -> str:
    return f"{note.number}.pdf"


def send_credit_note_email(credit_note_id) -> bool:
    """Email a credit note with its PDF to the customer's billing contacts, once."""
    notes = CreditNote.objects.filter(pk=credit_note_id)
    if not _claim(notes):
        return False
    note = CreditNote.objects.select_related("customer", "invoice").get(pk=credit_note_id)
    return _send_or_release(notes, partial(credit_note_message, note))


def credit_note_message(note):
    """The credit note email with its PDF attached (None: no one to send it to)."""
    return _document_message(
        "credit_note_issued",
        customer=note.customer,
        context={"note": note, "invoice": note.invoice},
        portal_url=reverse("portal:invoice_detail", args=[note.invoice_id]),
        attachment=(credit_note_filename(note), partial(credit_note_pdf, note)),
    )


def quantity_text(quantity) -> str:
    """A quantity with two places, or four when a prorated quantity needs them (3.8710)."""
    short = quantity.quantize(Decimal("0.01"))
    return f"{short:f}" if short == quantity else f"{quantity:f}"


def bill_to_name(invoice) -> str:
    """The customer's name as the invoice was issued (the first line of its bill-to)."""
    return (invoice.bill_to.splitlines() or [""])[0]


def export_rows(*, start: dt.date, end: dt.date):
    """One row per line of the invoices issued from ``start`` to ``end`` (inclusive), void
    invoices left out, in the columns of EXPORT_COLUMNS (text: the CSV writer makes each cell
    safe, ``allora.spreadsheet``). Per invoice, the rows' list amounts, discounts and net
    amounts sum to its list amount, discount and total (rules.totals)."""
    lines = (
        InvoiceLine.objects.filter(invoice__issued_on__range=(start, end))
        .exclude(invoice__status=Invoice.Status.VOID)
        .select_related("invoice")
        .order_by("invoice__issued_on", "invoice__number", "position", "id")
    )
    for line in lines.iterator(chunk_size=2000):
        invoice = line.invoice
        yield [
            invoice.number,
            invoice.issued_on.isoformat(),
            invoice.due_on.isoformat(),
            bill_to_name(invoice),
            line.description,
            quantity_text(line.quantity),
            line.unit,
            f"{line.list_rate:f}",
            f"{line.list_amount:f}",
            f"{line.discount_percent:f}",
            f"{line.discount_amount:f}",
            f"{line.amount:f}",
            f"{invoice.subtotal:f}",
            f"{invoice.discount_total:f}",
            f"{invoice.total:f}",
        ]


def credit_note_export_rows(*, start: dt.date, end: dt.date):
    """One row per line of the credit notes issued from ``start`` to ``end`` (inclusive), in
    the columns of EXPORT_COLUMNS, as negative amounts (the credit note's number in the first
    column)."""
    lines = (
        CreditNoteLine.objects.filter(credit_note__issued_on__range=(start, end))
        .select_related("credit_note__invoice")
        .order_by("credit_note__issued_on", "credit_note__number", "position", "id")
    )
    for line in lines.iterator(chunk_size=2000):
        note = line.credit_note
        yield [
            note.number,
            note.issued_on.isoformat(),
            note.issued_on.isoformat(),
            note.invoice.bill_to.splitlines()[0],
            f"{line.description} (credit on {note.invoice.number}: {note.reason})",
            "1.00",
            f"{-line.amount:f}",
            "0.00",
            f"{-line.amount:f}",
        ]

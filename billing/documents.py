"""What billing hands out: the invoice PDF, the invoice email (with the PDF attached) and the
CSV export for the accounting package."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from allora.emails import build_email
from allora.pdf import render_pdf

from .models import Invoice, InvoiceLine

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
    claimed = (
        Invoice.objects.filter(pk=invoice_id, emailed_at__isnull=True)
        .exclude(status=Invoice.Status.VOID)
        .update(emailed_at=timezone.now())
    )
    if not claimed:
        return False
    invoice = Invoice.objects.select_related("customer", "agreement").get(pk=invoice_id)
    recipients = billing_recipients(invoice.customer)
    if not recipients:
        return False
    try:
        message = build_email(
            "invoice_issued",
            to=recipients,
            context={
                "invoice": invoice,
                "customer": invoice.customer,
                "portal_url": settings.SITE_URL
                + reverse("portal:invoice_detail", args=[invoice.pk]),
            },
            attachments=[(invoice_filename(invoice), invoice_pdf(invoice), "application/pdf")],
        )
        message.send()
    except Exception:
        Invoice.objects.filter(pk=invoice_id).update(emailed_at=None)
        raise
    return True


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

"""What the staff invoice pages (``billing/views.py``) and the customer portal's
(``portal/views/invoices.py``) share: the one scoping helper that fetches an invoice for the
signed-in user, the invoice and credit note PDF responses, the invoice's timeline, and the rows
of the staff invoice list."""

import datetime as dt
from dataclasses import dataclass

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse

from allora.templatetags.listing import invoice_badge, row_url, short_date

from .documents import credit_note_filename, credit_note_pdf, invoice_filename, invoice_pdf
from .models import CreditNote, Invoice, InvoiceEvent, Payment
from .templatetags.billing import usd


def get_invoice_for_user(request, pk):
    """The invoice if the signed-in user may see it; another customer's invoice is a 404."""
    invoices = Invoice.objects.for_user(request.user).select_related(
        "customer", "agreement", "project"
    )
    return get_object_or_404(invoices, pk=pk)


def invoice_pdf_response(invoice, *, download):
    return pdf_response(invoice_pdf(invoice), invoice_filename(invoice), download=download)


def pdf_response(content, filename, *, download):
    disposition = "attachment" if download else "inline"
    return HttpResponse(
        content,
        content_type="application/pdf",
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
    )


def get_credit_note_for_user(request, pk):
    """The credit note if the signed-in user may see it; another customer's is a 404."""
    notes = CreditNote.objects.for_user(request.user).select_related("customer", "invoice")
    return get_object_or_404(notes, pk=pk)


def credit_note_pdf_response(note, *, download):
    return pdf_response(credit_note_pdf(note), credit_note_filename(note), download=download)


@dataclass
class Moment:
    """One row of an invoice's timeline."""

    at: dt.datetime
    label: str
    detail: str = ""
    by: object = None
    url: str = ""


# Payments and credit notes have rows of their own (older ones have no event).
_FROM_ROWS = (
    InvoiceEvent.Kind.PAYMENT,
    InvoiceEvent.Kind.CREDIT_NOTE,
    InvoiceEvent.Kind.CREDIT_APPLIED,
)


def invoice_timeline(invoice, *, payments, credit_notes) -> list:
    """What happened to an invoice, oldest first: issued (an event, or its issue date for the
    monthly run's invoices, which record none), emails, reminders, payments (customer credit
    applied among them), credit notes, void. One query (the events)."""
    events = list(invoice.events.select_related("by"))
    moments = [
        Moment(event.at, event.get_kind_display(), event.detail, event.by)
        for event in events
        if event.kind not in _FROM_ROWS
    ]
    if not any(event.kind == InvoiceEvent.Kind.ISSUED for event in events):
        moments.append(Moment(invoice.created_at, "Issued", f"{invoice.issued_on:%B %-d, %Y}"))
    for payment in payments:
        credit = payment.method == Payment.Method.CREDIT
        detail = f"${payment.amount:,.2f} received {payment.received_on:%b %-d, %Y}"
        if credit:
            detail = f"${payment.amount:,.2f} of the customer's credit"
        elif payment.to_credit:
            detail += f", ${payment.to_credit:,.2f} held as credit"
        label = "Customer credit applied" if credit else f"Payment ({payment.get_method_display()})"
        moments.append(Moment(payment.recorded_at, label, detail, payment.recorded_by))
    for note in credit_notes:
        url = reverse("billing:credit_note_detail", args=[note.pk])
        detail = f"{note.number}: ${note.total:,.2f} — {note.reason}"
        moments.append(Moment(note.created_at, "Credit note", detail, note.created_by, url))
    return sorted(moments, key=lambda moment: moment.at)


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    """One row of the staff invoice list, as the page prints it: each cell worked out once, in
    Python, so the template prints strings (issue 14: resolving every cell through the invoice,
    its related rows and a filter took the template about 95 us a row, a quarter of the page)."""

    url: str
    number: str
    customer: str
    regarding: str
    period: str
    issued: str
    due: str
    total: str
    balance: str
    badge: str  # safe HTML


def invoice_rows(invoices) -> list[InvoiceRow]:
    """The list's rows of ``invoices`` (read with their customer, agreement and project)."""
    return [
        InvoiceRow(
            url=row_url("billing:invoice_detail", invoice.pk),
            number=invoice.number,
            customer=invoice.customer.legal_name,
            regarding=invoice.regarding,
            period=invoice.period_label,
            issued=short_date(invoice.issued_on),
            due=short_date(invoice.due_on),
            total=usd(invoice.total),
            balance=usd(invoice.balance),
            badge=invoice_badge(invoice),
        )
        for invoice in invoices
    ]

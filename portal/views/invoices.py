"""The customer's invoices: the list (with the credit they hold), one invoice with its credit
notes, the PDFs (void invoices are never shown)."""

from django.core.paginator import Paginator
from django.shortcuts import render

from allora.tenancy import portal_required
from billing.credits import credit_balance
from billing.documents import invoice_context
from billing.models import Invoice
from billing.pages import (
    credit_note_pdf_response,
    get_credit_note_for_user,
    get_invoice_for_user,
    invoice_pdf_response,
)


@portal_required
def invoice_list(request):
    invoices = Invoice.objects.for_user(request.user).select_related("agreement")
    page = Paginator(invoices.order_by("-issued_on", "-number"), 25).get_page(
        request.GET.get("page")
    )
    credit = credit_balance(request.user.customer)
    return render(request, "portal/invoice_list.html", {"page": page, "credit": credit})


@portal_required
def invoice_detail(request, pk):
    invoice = get_invoice_for_user(request, pk)
    return render(request, "portal/invoice_detail.html", invoice_context(invoice))


@portal_required
def invoice_pdf(request, pk):
    return invoice_pdf_response(get_invoice_for_user(request, pk), download=True)


@portal_required
def credit_note_pdf(request, pk):
    return credit_note_pdf_response(get_credit_note_for_user(request, pk), download=True)

"""The customer's invoices: the list (with the credit they hold), one invoice with its credit
notes, the PDFs (void invoices are never shown), and the statement of account (always the
signed-in user's own customer)."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse

from allora.models import CompanyProfile
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
from billing.views_receivables import statement_response


@portal_required
def invoice_list(request):
    invoices = Invoice.objects.for_user(request.user).select_related("agreement", "project")
    page = Paginator(invoices.order_by("-issued_on", "-number"), 25).get_page(
        request.GET.get("page")
    )
    credit = credit_balance(request.user.customer)
    return render(request, "portal/invoice_list.html", {"page": page, "credit": credit})


@portal_required
def invoice_detail(request, pk):
    invoice = get_invoice_for_user(request, pk)
    return render(
        request,
        "portal/invoice_detail.html",
        {**invoice_context(invoice), "company": CompanyProfile.current()},
    )


@portal_required
def invoice_pdf(request, pk):
    return invoice_pdf_response(get_invoice_for_user(request, pk), download=True)


def _statement(request, *, pdf):
    return statement_response(
        request,
        request.user.customer,
        template="portal/statement.html",
        pdf=pdf,
        pdf_url=reverse("portal:statement_pdf"),
    )


@portal_required
def statement(request):
    return _statement(request, pdf=False)


@portal_required
def statement_pdf(request):
    return _statement(request, pdf=True)


@portal_required
def credit_note_pdf(request, pk):
    return credit_note_pdf_response(get_credit_note_for_user(request, pk), download=True)

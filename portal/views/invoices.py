"""The customer's invoices: the list, one invoice, its PDF (void invoices are never shown)."""

from django.core.paginator import Paginator
from django.shortcuts import render

from allora.tenancy import portal_required
from billing.documents import invoice_context
from billing.models import Invoice
from billing.pages import get_invoice_for_user, invoice_pdf_response


@portal_required
def invoice_list(request):
    invoices = Invoice.objects.for_user(request.user).select_related("agreement", "project")
    page = Paginator(invoices.order_by("-issued_on", "-number"), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "portal/invoice_list.html", {"page": page})


@portal_required
def invoice_detail(request, pk):
    invoice = get_invoice_for_user(request, pk)
    return render(request, "portal/invoice_detail.html", invoice_context(invoice))


@portal_required
def invoice_pdf(request, pk):
    return invoice_pdf_response(get_invoice_for_user(request, pk), download=True)

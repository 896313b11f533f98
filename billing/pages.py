"""What the staff invoice pages (``billing/views.py``) and the customer portal's
(``portal/views/invoices.py``) share: the one scoping helper that fetches an invoice for the
signed-in user, and the invoice PDF response."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from .documents import invoice_filename, invoice_pdf
from .models import Invoice


def get_invoice_for_user(request, pk):
    """The invoice if the signed-in user may see it; another customer's invoice is a 404."""
    invoices = Invoice.objects.for_user(request.user).select_related(
        "customer", "agreement", "project"
    )
    return get_object_or_404(invoices, pk=pk)


def invoice_pdf_response(invoice, *, download):
    disposition = "attachment" if download else "inline"
    return HttpResponse(
        invoice_pdf(invoice),
        content_type="application/pdf",
        headers={"Content-Disposition": f'{disposition}; filename="{invoice_filename(invoice)}"'},
    )

"""The agreement as a PDF: the same document as the browser page, plus the signature
certificate in final (signed) PDFs."""

import datetime as dt

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from allora.pdf import render_pdf

from .document import document_context
from .models import AgreementVersion

TEMPLATE = "agreements/document/pdf.html"


def agreement_html(
    version: AgreementVersion, *, today: dt.date, request=None, final: bool = False
) -> str:
    """The HTML WeasyPrint renders; with ``final`` it ends with the signature certificate."""
    context = document_context(version, today=today)
    context.update(
        final=final,
        generated_at=timezone.now(),
        certificate_signatures=[
            ("Customer signature", context["customer_signature"]),
            ("Allora signature", context["allora_signature"]),
        ],
    )
    return render_to_string(TEMPLATE, context, request=request)


def agreement_pdf(version: AgreementVersion, *, today: dt.date, final: bool = False) -> bytes:
    """The agreement as PDF bytes."""
    return render_pdf(
        agreement_html(version, today=today, final=final), base_url=str(settings.BASE_DIR)
    )

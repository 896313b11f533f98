"""Allora's details from *Settings → Company* on the invoice and statement PDFs: name, address,
phone, email and logo at the top, how to pay and where to remit on what is owed."""

import datetime as dt
import io

import pytest
from PIL import Image

from agreements.tests.factories import agreement_for_2027
from agreements.tests.test_document_pdf import pdf_text
from allora.models import CompanyProfile
from billing.documents import invoice_pdf
from billing.receivables import statement, statement_pdf
from billing.tests.factories import make_invoice, published_card


@pytest.fixture
def invoice(customer_a, alice, admin):
    published_card(effective_date=dt.date(2026, 1, 1))
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    return make_invoice(agreement, issued_on=dt.date(2027, 2, 1))


def save_company(**fields):
    logo = io.BytesIO()
    Image.new("RGB", (40, 20), "navy").save(logo, "PNG")
    CompanyProfile(
        pk=1,
        legal_name="Allora IT Services, LLC",
        address="100 Fayetteville St\nRaleigh, NC 27601",
        phone="919-555-0100",
        email="billing@allora.example",
        remit_to="PO Box 1, Raleigh, NC 27602",
        payment_instructions="ACH to First Bank, account 123.",
        logo=logo.getvalue(),
        logo_type="image/png",
        **fields,
    ).save()


def test_the_invoice_pdf_names_allora_and_says_how_to_pay(invoice):
    save_company()

    text = pdf_text(invoice_pdf(invoice))

    for expected in (
        "Allora IT Services, LLC",
        "100 Fayetteville St",
        "Raleigh, NC 27601",
        "919-555-0100",
        "billing@allora.example",
        "Remit to:",
        "ACH to First Bank, account 123.",
        "PO Box 1, Raleigh, NC 27602",
    ):
        assert expected in text


def test_without_saved_details_the_pdf_keeps_the_defaults_and_no_payment_box(invoice):
    text = pdf_text(invoice_pdf(invoice))

    assert "Allora" in text and "Raleigh, NC" in text
    assert "Remit to" not in text


def test_the_statement_pdf_names_allora_and_says_how_to_pay(invoice, customer_a):
    save_company()
    report = statement(customer_a, start=dt.date(2027, 1, 1), end=dt.date(2027, 3, 31))

    text = pdf_text(statement_pdf(report))

    assert "Allora IT Services, LLC" in text and "919-555-0100" in text
    assert "ACH to First Bank, account 123." in text

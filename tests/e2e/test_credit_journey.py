"""An admin issues a one-off invoice of two lines (the second added with "Add a line"), credits
part of one line, records a payment larger than what is left (the rest held as credit); the
customer sees the invoice, its credit note, the credit held and the statement of account in the
portal."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from playwright.sync_api import expect

from billing.models import CreditNote, Invoice

pytestmark = pytest.mark.django_db(transaction=True)

NOW = dt.datetime(2027, 3, 15, 15, tzinfo=dt.UTC)


def test_one_off_invoice_credited_paid_and_seen_in_the_portal(
    page, live_server, sign_in, sign_out, admin, alice, customer_a
):
    with time_machine.travel(NOW, tick=True):
        sign_in(admin)
        page.get_by_role("link", name="Invoices").click()
        page.get_by_role("link", name="New one-off invoice").click()
        page.get_by_label("Customer").fill(customer_a.legal_name)
        page.get_by_label("Payment terms (days)").fill("15")
        page.get_by_label("Description").fill("Firewall appliance")
        page.get_by_label("Quantity").fill("2")
        page.get_by_label("Unit price").fill("450")
        page.get_by_role("button", name="Add a line").click()
        page.get_by_label("Description").nth(1).fill("Site visit")
        page.get_by_label("Quantity").nth(1).fill("1")
        page.get_by_label("Unit price").nth(1).fill("125.50")
        page.get_by_role("button", name="Issue the invoice").click()
        invoice = Invoice.objects.get(kind=Invoice.Kind.ONE_OFF)
        expect(
            page.get_by_text(f"Invoice {invoice.number} issued to Oak City Dental")
        ).to_be_visible()
        expect(page.get_by_text("$1,025.50").first).to_be_visible()

        page.get_by_role("link", name="Credit note…").click()
        page.get_by_label("Some lines").check()
        page.get_by_label("Site visit (up to $125.50)").fill("25.50")
        page.get_by_label("Reason").fill("Visit ended early")
        page.get_by_role("button", name="Issue the credit note").click()
        expect(page.get_by_text("Credit note CN-000001 issued: $25.50")).to_be_visible()

        page.get_by_role("link", name=invoice.number, exact=True).click()
        page.get_by_role("link", name="Record a payment…").click()
        page.get_by_label("Amount ($)").fill("1100")
        page.get_by_role("button", name="Record payment").click()
        expect(page.get_by_text("$100.00 beyond the balance is held")).to_be_visible()
        sign_out()

        sign_in(alice)
        page.get_by_role("link", name="Invoices").click()
        expect(page.get_by_text("You have $100.00 of credit on your account")).to_be_visible()
        page.get_by_role("link", name=invoice.number, exact=True).click()
        expect(page.get_by_text("One-off invoice").first).to_be_visible()
        expect(page.get_by_text("Visit ended early")).to_be_visible()
        expect(page.get_by_role("link", name="PDF of CN-000001")).to_be_visible()

        # The statement of account reconciles it: +1,025.50 − 25.50 − 1,100.00 = −100.00, the
        # credit held for the next invoices.
        page.get_by_role("link", name="Invoices").click()
        page.get_by_role("link", name="Statement of account").click()
        closing = page.locator("tfoot tr", has_text="Closing balance")
        expect(closing).to_contain_text("−$100.00")
        expect(closing).to_contain_text("$100.00")
        expect(page.get_by_role("link", name=invoice.number).first).to_be_visible()
        expect(page.get_by_text("CN-000001").first).to_be_visible()

    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_credited, invoice.amount_paid) == (
        "paid",
        D("25.50"),
        D("1000.00"),
    )
    assert CreditNote.objects.get().total == D("25.50")

"""Staff log emergency hours; the invoicing job runs for a date; the customer sees the invoice
with its discount line and the hours in arrears in the portal, and downloads its PDF."""

import datetime as dt
import shutil
import subprocess

import pytest
import time_machine
from django.core.management import call_command
from playwright.sync_api import expect

from agreements.tests.factories import agreement_for_2027
from billing.models import Invoice
from billing.tests.factories import published_card

pytestmark = pytest.mark.django_db(transaction=True)

# Term 1 is [2027-01-01, 2028-01-01), billing day 1, Net 30.
LOGGING_TIME = dt.datetime(2027, 2, 10, 15, tzinfo=dt.UTC)
AFTER_THE_JOB = dt.datetime(2027, 3, 2, 15, tzinfo=dt.UTC)


def test_time_logged_invoice_issued_and_downloaded_from_the_portal(
    page, live_server, sign_in, sign_out, staff, admin, alice, customer_a, tmp_path
):
    published_card(effective_date=dt.date(2026, 1, 1))
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)

    # The server's clock moves forward only, so the browser keeps its session cookies.
    with time_machine.travel(LOGGING_TIME, tick=True):
        sign_in(staff)
        page.get_by_role("link", name="Invoices").click()
        page.get_by_role("link", name="Log time").click()
        page.get_by_label("Agreement").fill(f"{agreement.number} – {customer_a}")  # search box
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Worked on").select_option(label="Emergency Support")
        page.get_by_label("Date").fill("2027-02-09")
        page.locator("#id_hours").fill("1.5")
        page.get_by_label("Note").fill("Server room flooded: restored the file server")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("1.5 h logged for Oak City Dental")).to_be_visible()
        expect(page.get_by_role("cell", name="next invoice")).to_be_visible()
        sign_out()

    call_command("issue_invoices", "--today", "2027-03-01")
    march = Invoice.objects.get(agreement=agreement, period=dt.date(2027, 3, 1))

    with time_machine.travel(AFTER_THE_JOB, tick=True):
        sign_in(alice)
        page.get_by_role("link", name="Invoices").click()
        page.get_by_role("link", name=march.number, exact=True).click()
        expect(page.get_by_role("heading", name=f"Invoice {march.number}")).to_be_visible()
        block = page.get_by_role("row").filter(has_text="Prescheduled Services, March 2027")
        expect(block).to_contain_text("$1,200.00")  # list price
        expect(block).to_contain_text("25% off (−$300.00)")  # the discount
        expect(block).to_contain_text("$900.00")  # net
        emergency = page.get_by_role("row").filter(has_text="Emergency Support, February 2027")
        expect(emergency).to_contain_text("$337.50")  # 1.5 h at $225, in arrears
        expect(page.get_by_text("$1,507.50").first).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download PDF").click()
        path = tmp_path / "invoice.pdf"
        download.value.save_as(path)

    assert download.value.suggested_filename == f"{march.number}.pdf"
    assert path.read_bytes().startswith(b"%PDF")
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    assert f"Invoice {march.number}" in text and "25% off" in text and "$1,507.50" in text

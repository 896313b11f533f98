"""An admin publishes a rate card with a new hosting package, "Cloud backup"; staff amend an
active agreement to add 2 of it and send the amendment; the customer signs it in the portal; the
admin countersigns. After the renewal the monthly run bills it: the customer's invoice for the
new term has a "Cloud backup" line (issue 11, item 1)."""

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import expect

from agreements.models import Agreement, ServiceKind
from agreements.tests.factories import agreement_for_2027
from billing.invoicing import issue_invoices
from billing.models import Invoice, InvoiceLine
from billing.tests.factories import published_card
from tests.e2e.test_agreement_journey import add_service, open_for_signing, send_to, sign

pytestmark = pytest.mark.django_db(transaction=True)

# Term 1 is [2027-01-01, 2028-01-01), billing day 1; the amendment is completed on 2027-06-10.
AMENDING = dt.datetime(2027, 6, 10, 14, tzinfo=dt.UTC)
RENEWAL_RUN = dt.datetime(2028, 1, 1, 12, tzinfo=dt.UTC)
AFTER_THE_RUN = dt.datetime(2028, 1, 2, 15, tzinfo=dt.UTC)
SHOTS = Path("/tmp/shots")  # noqa: S108 - screenshots for review, never read back


def publish_cloud_backup(page, card, price):
    """From the card in effect, a new version with a "Cloud backup" package, effective today."""
    page.get_by_role("button", name="Settings").click()
    page.get_by_role("link", name="Rate cards").click()
    page.get_by_role("table").get_by_role("link", name=str(card)).click()
    page.get_by_role("button", name="Start a new version").click()
    expect(page.get_by_text(f"created from {card}")).to_be_visible()
    row = card.lines.count()  # the first empty row after the copied rates
    page.locator(f"select[name='lines-{row}-kind']").select_option(
        label="Hosting package (monthly)"
    )
    page.locator(f"input[name='lines-{row}-name']").fill("Cloud backup")
    page.locator(f"input[name='lines-{row}-unit']").fill("month")
    page.locator(f"input[name='lines-{row}-price']").fill(price)
    page.get_by_role("button", name="Save rates").click()
    expect(page.get_by_text("Rates saved.")).to_be_visible()
    expect(page.get_by_role("cell", name="Cloud backup")).to_be_visible()
    page.get_by_role("link", name="Publish…").click()
    page.get_by_label("Effective date").fill(AMENDING.date().isoformat())
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("published, in effect from")).to_be_visible()


def test_an_amendment_adds_cloud_backup_billed_after_the_renewal(
    page, live_server, sign_in, sign_out, staff, admin, alice, customer_a
):
    card = published_card(effective_date=dt.date(2026, 1, 1))
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)

    # The server's clock moves forward only, so the browser keeps its session cookies.
    with time_machine.travel(AMENDING, tick=True):
        sign_in(admin)
        publish_cloud_backup(page, card, "30")
        sign_out()

        sign_in(staff)
        page.get_by_role("link", name="Agreements").click()
        page.get_by_role("link", name=agreement.number).click()
        page.get_by_role("button", name="Start an amendment").click()
        expect(page.get_by_text("Amendment drafted")).to_be_visible()
        add_service(page, "Hosting")
        page.get_by_label("Hosting package").select_option(value="Cloud backup")
        page.get_by_label("Quantity").fill("2")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Hosting added.")).to_be_visible()
        send_to(page, "Alice Moore", alice.email)
        sign_out()

        sign_in(alice)
        open_for_signing(page, agreement)
        expect(page.get_by_role("cell", name="Cloud backup").first).to_be_visible()  # Exhibit A
        sign(page, "Alice Moore")
        sign_out()

        sign_in(admin)
        page.goto(f"{live_server.url}/agreements/{agreement.pk}/")
        page.get_by_role("link", name="Countersign…").click()
        sign(page, "Dana Whitfield")
        expect(page.get_by_text("Version 2 (amendment): Signed")).to_be_visible()
        sign_out()

    amended = Agreement.objects.get(pk=agreement.pk).signed_version()
    assert amended.number == 2
    assert amended.lines.filter(kind=ServiceKind.HOSTING, package_name="Cloud backup").exists()

    # The clock passes the renewal (term 2 starts 2028-01-01) and the monthly run bills.
    with time_machine.travel(RENEWAL_RUN, tick=False):
        issue_invoices(today=RENEWAL_RUN.date())
    agreement.refresh_from_db()
    assert agreement.billing_problem == ""
    assert agreement.terms.filter(number=2, start=dt.date(2028, 1, 1)).exists()
    january = Invoice.objects.get(agreement=agreement, period=dt.date(2028, 1, 1))
    # Billed during the running term too: June 10–30 prorated (21 of 30 days of 2 × $30.00) on
    # the July invoice, then every month through the renewal, once each.
    backup = InvoiceLine.objects.filter(
        invoice__agreement=agreement, description__startswith="Cloud backup"
    )
    assert backup.get(service_start=dt.date(2027, 6, 10)).amount == D("42.00")
    assert backup.count() == 8

    with time_machine.travel(AFTER_THE_RUN, tick=True):
        sign_in(alice)
        page.get_by_role("link", name="Invoices").click()
        page.get_by_role("link", name=january.number, exact=True).click()
        expect(page.get_by_role("heading", name=f"Invoice {january.number}")).to_be_visible()
        backup = page.get_by_role("row").filter(has_text="Cloud backup")
        expect(backup).to_have_count(1)
        expect(backup).to_contain_text("January 2028")
        expect(backup).to_contain_text("$30.00")  # the amendment's list rate
        expect(backup).to_contain_text("$60.00")  # 2 × $30.00, no discount on hosting
        SHOTS.mkdir(parents=True, exist_ok=True)
        for width, height in ((1366, 900), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=SHOTS / f"amendment-invoice-{width}.png", full_page=True)

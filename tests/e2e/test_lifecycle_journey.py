"""An admin applies a 5% uplift to an agreement ending in 60 days; the customer sees the new
rates, files a late termination request and reads the exact dates; the renewal job runs for the
term-end date; the agreement has a second term with the new rates and its visits."""

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from playwright.sync_api import expect

from agreements.models import Agreement
from agreements.tests.factories import agreement_for_2027
from billing.tests.factories import published_card

pytestmark = pytest.mark.django_db(transaction=True)

# Term 1 is [2027-01-01, 2028-01-01): the notice deadline is 2027-12-01.
SIXTY_DAYS_BEFORE = dt.datetime(2027, 11, 2, 15, tzinfo=dt.UTC)
AFTER_DEADLINE = dt.datetime(2027, 12, 10, 15, tzinfo=dt.UTC)
AFTER_RENEWAL = dt.datetime(2028, 1, 2, 15, tzinfo=dt.UTC)


def test_uplift_late_request_and_renewal(
    page, live_server, sign_in, sign_out, admin, alice, customer_a
):
    published_card(effective_date=dt.date(2026, 1, 1))
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)

    # The server's clock moves forward only, so the browser keeps its session cookies.
    with time_machine.travel(SIXTY_DAYS_BEFORE, tick=True):
        sign_in(admin)
        page.get_by_role("link", name="Renewals").click()
        page.get_by_role("link", name=agreement.number).click()
        # Typing the percent picks the uplift method (static/js/uplift-method.js).
        page.get_by_label("Uplift (%)").fill("5")
        expect(page.get_by_label("Apply an uplift in percent")).to_be_checked()
        # The form previews the new rate and monthly total before anything is saved.
        preview = page.locator("#rate-preview")
        expect(preview.get_by_text("Preview, not saved yet")).to_be_visible()
        expect(preview.get_by_role("cell", name="$157.50")).to_be_visible()
        page.get_by_role("button", name="Save as draft").click()
        expect(page.get_by_text("Next-term rates saved as a draft.")).to_be_visible()
        expect(page.get_by_role("cell", name="$157.50").first).to_be_visible()
        page.get_by_role("link", name="Finalize and notify the customer…").click()
        page.get_by_role("button", name="Finalize and notify").click()
        expect(page.get_by_text("Rates for term 2 finalized")).to_be_visible()
        sign_out()

    with time_machine.travel(AFTER_DEADLINE, tick=True):
        sign_in(alice)
        page.get_by_role("link", name="Agreements").click()
        page.get_by_role("link", name=agreement.number).click()
        expect(page.get_by_role("heading", name="Rates for your next term")).to_be_visible()
        expect(page.get_by_role("cell", name="$157.50")).to_be_visible()
        page.get_by_role("link", name="Request termination…").click()
        expect(
            page.get_by_text("The notice deadline of December 1, 2027 has passed")
        ).to_be_visible()
        page.get_by_label("Why do you want to end the agreement?").fill("We are consolidating IT.")
        page.get_by_label("Type your full name").fill("Alice Moore")
        page.get_by_label("I confirm this written request").check()
        page.get_by_role("button", name="File the request").click()
        expect(
            page.get_by_text(
                "Your request arrived after the notice deadline of December 1, 2027. The agreement "
                "renews on January 1, 2028 for one year and will end on December 31, 2028; no "
                "further notice is needed."
            ).first
        ).to_be_visible()
        sign_out()

    call_command("renew_agreements", "--today", "2028-01-01")

    with time_machine.travel(AFTER_RENEWAL, tick=True):
        sign_in(admin)
        page.goto(f"{live_server.url}/agreements/{agreement.pk}/")
        expect(page.get_by_text("Term 2", exact=True)).to_be_visible()
        page.get_by_text("Locked rates").last.click()
        expect(page.get_by_text("On-site support: $157.50/hour")).to_be_visible()
        expect(page.get_by_text("Ending", exact=True).first).to_be_visible()

    agreement = Agreement.objects.get(pk=agreement.pk)
    term2 = agreement.terms.get(number=2)
    assert (term2.start, term2.last_day) == (dt.date(2028, 1, 1), dt.date(2028, 12, 31))
    assert term2.visits.filter(starts_at__year=2028).count() == 12 + 52

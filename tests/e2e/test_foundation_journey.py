"""The admin publishes a rate card; a customer user sees their portal and nothing of others."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from billing.models import RateCard

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_publishes_a_rate_card_and_customer_sees_only_their_portal(
    page, live_server, sign_in, sign_out, admin, alice, bob
):
    sign_in(admin)
    page.get_by_role("button", name="Settings").click()
    page.get_by_role("link", name="Rate cards").click()
    page.get_by_role("link", name="New draft").click()
    page.get_by_label("Title").fill("Standard rates 2027")
    page.get_by_role("button", name="Create draft").click()

    rows = [
        ("On-site hourly", "On-site support", "150"),
        ("Remote hourly", "Remote support", "120"),
    ]
    for index, (kind, name, price) in enumerate(rows):
        page.locator(f"select[name='lines-{index}-kind']").select_option(label=kind)
        page.locator(f"input[name='lines-{index}-name']").fill(name)
        page.locator(f"input[name='lines-{index}-price']").fill(price)
    page.get_by_role("button", name="Save rates").click()
    expect(page.get_by_text("Rates saved.")).to_be_visible()

    page.get_by_role("link", name="Edit rates").click()
    more = [
        ("Emergency hourly", "Emergency support", "225"),
        ("After-hours hourly", "After-hours support", "195"),
    ]
    for index, (kind, name, price) in enumerate(more, start=2):
        page.locator(f"select[name='lines-{index}-kind']").select_option(label=kind)
        page.locator(f"input[name='lines-{index}-name']").fill(name)
        page.locator(f"input[name='lines-{index}-price']").fill(price)
    page.get_by_role("button", name="Save rates").click()

    page.get_by_role("link", name="Publish…").click()
    page.get_by_label("Effective date").fill(dt.date.today().isoformat())  # noqa: DTZ011
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("published, in effect from")).to_be_visible()
    card = RateCard.objects.get(title="Standard rates 2027")
    assert card.status == RateCard.Status.PUBLISHED
    assert card.lines.count() == 4
    sign_out()

    sign_in(alice)
    expect(page.get_by_role("heading", name="Oak City Dental, PLLC", exact=True)).to_be_visible()
    expect(page.get_by_text("Triangle Legal")).to_have_count(0)
    page.get_by_role("link", name="Alice Moore").click()
    alice_contact_url = page.url
    expect(page.get_by_text("Authorized signer")).to_be_visible()
    sign_out()

    # Bob, of the other customer, gets a 404 for the same page, and a 403 for a staff page.
    sign_in(bob)
    expect(
        page.get_by_role("heading", name="Triangle Legal Group, LLP", exact=True)
    ).to_be_visible()
    assert page.goto(alice_contact_url).status == 404
    expect(page.get_by_text("Page not found")).to_be_visible()
    assert page.goto(f"{live_server.url}/customers/").status == 403

"""Staff find an agreement with the menu's search box (live results as they type, then the full
search page), open it, sort a list and see its Export CSV link; the menu fits 1280 px with the
search box, for an admin (the longest menu)."""

import pytest
from playwright.sync_api import expect

from agreements.models import Agreement
from agreements.tests.factories import (
    AgreementFactory,
    ContactFactory,
    CustomerFactory,
    draft_with_all_services,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _within_viewport(page, locator):
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


def test_admin_searches_opens_an_agreement_and_sorts_the_list(page, live_server, sign_in, admin):
    customer = CustomerFactory(legal_name="Five Points Bakery, LLC")
    agreement = draft_with_all_services(customer).agreement
    Agreement.objects.filter(pk=agreement.pk).update(number="CA-2026-0042")
    AgreementFactory(customer=customer, number="CA-2026-0043")
    ContactFactory(customer=customer, name="Priya Raman", email="priya@fivepoints.example")
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(admin)

    # The whole menu fits: Sign out is on screen, beside the search magnifier.
    toggle = page.get_by_role("button", name="Open search")
    assert _within_viewport(page, page.get_by_role("button", name="Sign out"))
    assert _within_viewport(page, toggle)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    # The magnifier opens the box; live results as one types.
    toggle.click()
    box = page.get_by_role("searchbox", name="Search by number, name or email")
    expect(box).to_be_focused()
    assert _within_viewport(page, box)
    box.press_sequentially("0042", delay=50)
    live = page.locator("#nav-search-results")
    expect(live.get_by_role("link", name="CA-2026-0042")).to_be_visible()
    expect(live.get_by_role("link", name="CA-2026-0043")).to_have_count(0)
    live.get_by_role("link", name="CA-2026-0042").click()
    expect(page.get_by_role("heading", name="CA-2026-0042")).to_be_visible()
    assert page.url.endswith(f"/agreements/{agreement.pk}/")

    # Enter opens the search page, grouped.
    page.get_by_role("button", name="Open search").click()
    box = page.get_by_role("searchbox", name="Search by number, name or email")
    box.fill("five")
    box.press("Enter")
    expect(page.get_by_role("heading", name="Search", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Five Points Bakery, LLC")).to_be_visible()
    expect(page.get_by_role("link", name="Priya Raman")).to_be_visible()
    page.locator("#search-q").fill("x")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("Type at least 2 characters to search.")).to_be_visible()

    # The agreement list sorts by number, both ways.
    page.get_by_role("link", name="Agreements", exact=True).click()
    page.get_by_role("link", name="Agreement", exact=True).click()
    header = page.locator("th[aria-sort]")
    expect(header).to_have_attribute("aria-sort", "ascending")
    rows = page.locator("tbody tr td:first-child")
    expect(rows.first).to_have_text("CA-2026-0042")
    header.get_by_role("link").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(rows.first).to_have_text("CA-2026-0043")
    export = page.get_by_role("link", name="Export CSV")
    assert "sort=-number" in export.get_attribute("href")

"""An admin changes the terms and conditions from the Settings menu (a new version as a copy of
the latest, a preview, publishing after a confirmation) and retires a response tier, on a
desktop and a phone."""

import os

import pytest
from playwright.sync_api import expect

from agreements.models import ResponseTier, TermsTemplate
from agreements.tests.factories import TermsTemplateFactory, response_tier

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = os.environ.get("SCREENSHOTS_DIR")


def shot(page, name):
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


@pytest.mark.parametrize("width", [1366, 390])
def test_admin_publishes_new_terms_and_retires_a_tier(page, live_server, sign_in, admin, width):
    TermsTemplateFactory()
    tier = response_tier("4 business hours", 240, business_hours_only=True)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(admin)

    def open_settings(item):
        toggler = page.get_by_role("button", name="Menu")
        if toggler.is_visible():  # a phone: the menu is collapsed
            toggler.click()
            expect(page.locator("#mainnav.show")).to_be_visible()  # opened, not still opening
        settings = page.get_by_role("button", name="Settings")
        settings.click()
        expect(settings).to_have_attribute("aria-expanded", "true")
        page.get_by_role("link", name=item).click()

    open_settings("Terms and conditions")
    expect(page.get_by_role("heading", name="Terms and conditions")).to_be_visible()
    shot(page, f"terms_list_{width}")
    page.get_by_role("link", name="New version").click()
    body = page.get_by_label("Terms and conditions")
    expect(body).to_have_value(TermsTemplate.objects.get(version=1).body)
    body.fill(body.input_value() + "\n\n## 3. Notices\nIn writing, to the addresses above.")
    page.get_by_role("button", name="Add draft").click()

    expect(page.get_by_role("heading", name="3. Notices")).to_be_visible()
    shot(page, f"terms_preview_{width}")
    page.get_by_role("link", name="Publish…").click()
    expect(page.get_by_role("heading", name="Publish terms v2?")).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("alert")).to_contain_text("Terms v2 published: new agreements")
    assert TermsTemplate.objects.get(version=2).published_at is not None
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)

    open_settings("Response tiers")
    expect(page.get_by_role("heading", name="Response tiers")).to_be_visible()  # loaded
    shot(page, f"tier_list_{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # the table scrolls
    page.get_by_role("button", name="Deactivate 4 business hours").click()
    expect(page.get_by_role("alert")).to_contain_text("is deactivated: new agreements no longer")
    assert ResponseTier.objects.get(pk=tier.pk).is_active is False

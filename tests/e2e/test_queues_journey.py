"""The signer, on a phone, from the signing email to the signed agreement with a typed signature;
the admin countersigns from the "Waiting for you" card of their home page."""

import re

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from agreements import signing
from agreements.models import Signature
from agreements.tests.factories import (
    ContactFactory,
    draft_with_all_services,
    evidence,
    sent_agreement,
)
from billing.tests.factories import published_card
from tests.e2e.conftest import assert_accessible

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
PASSWORD = "a-long-new-passphrase-42"


def focused_id(page):
    return page.evaluate("() => document.activeElement && document.activeElement.id")


def test_the_signer_goes_from_the_email_to_the_signed_agreement_on_a_phone_typing_the_signature(
    page, live_server, customer_a, admin
):
    published_card()
    signer = ContactFactory(
        customer=customer_a,
        name="Riley Chen",
        email="riley@oakcity.example",
        is_authorized_signer=True,
    )
    version = draft_with_all_services(customer=customer_a)
    mail.outbox.clear()
    signing.send_for_signature(version, signer=signer, by=admin, today=timezone.localdate())
    (message,) = [m for m in mail.outbox if signer.email in m.to]
    link = re.search(r"\S+/accounts/reset/invitation/\S+", message.body).group(0)

    page.set_viewport_size(PHONE)
    page.goto(link.replace(settings.SITE_URL, live_server.url))
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    assert_accessible(page)
    page.locator("#id_new_password1").fill(PASSWORD)
    page.locator("#id_new_password2").fill(PASSWORD)
    page.get_by_role("button", name="Save the password").click()

    # Straight to the signing page, signed in.
    expect(page).to_have_url(f"{live_server.url}/portal/agreements/{version.agreement_id}/sign/")
    expect(page.get_by_text("Your password is saved and you are signed in.")).to_be_visible()
    expect(page.get_by_role("heading", name="Exhibit A — Rates")).to_be_visible()
    # On a phone the document reads in the page: no scroll box of its own.
    frame = page.locator(".doc-frame")
    assert frame.evaluate("box => getComputedStyle(box).overflowY") == "visible"
    assert frame.evaluate("box => box.scrollHeight <= box.clientHeight + 1")

    # Nothing filled in: the errors sit next to their fields and the focus moves to the first.
    page.get_by_role("button", name="Sign the agreement").click()
    consent_error = page.locator("#id_consent_error")
    expect(consent_error).to_have_text("Tick the consent to sign electronically.")
    assert focused_id(page) == "id_consent"
    assert_accessible(page)  # the signing page with its errors, at a phone's width

    page.get_by_label("I agree to sign this agreement electronically").check()
    page.get_by_label("Type your full name").fill("Riley Chen")
    page.get_by_role("radio", name="Type").check()
    expect(page.locator("#signature-pad")).to_be_hidden()
    preview = page.locator("#signature-typed-preview")
    expect(preview).to_have_text("Riley Chen")
    assert "Allora Signature" in preview.evaluate("el => getComputedStyle(el).fontFamily")
    page.get_by_role("button", name="Sign the agreement").click()

    expect(page.get_by_text("Signed. Thank you.")).to_be_visible()
    expect(page.get_by_text("You signed this agreement.")).to_be_visible()
    expect(page.locator("#signed-documents")).to_contain_text("once Allora has countersigned")
    signature = Signature.objects.get(version=version)
    assert (signature.method, signature.typed_name) == ("typed", "Riley Chen")
    assert signature.drawing == ""
    assert signature.ip_address and signature.user_agent
    # Nothing waits for the signer any more.
    page.get_by_role("link", name="Allora", exact=True).click()
    expect(page.locator("#waiting-for-you")).to_contain_text("Nothing is waiting for you.")


def test_the_admin_countersigns_from_the_home_queue(
    page, live_server, sign_in, admin, alice, customer_a
):
    published_card()
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    signing.sign_as_customer(version, user=alice, evidence=evidence())

    sign_in(admin)
    queue = page.locator("#waiting-for-you")
    expect(queue).to_contain_text("Awaiting your countersignature")
    queue.get_by_role("link", name=f"Countersign {version.agreement.number}").click()

    heading = f"Review and sign {version.agreement.number}"
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    assert_accessible(page)
    page.get_by_label("I agree to sign this agreement electronically").check()
    page.get_by_label("Type your full name").fill("Dana Whitfield")
    page.get_by_role("radio", name="Type").check()
    page.get_by_role("button", name="Sign the agreement").click()

    expect(page.get_by_text("Signed. Thank you.")).to_be_visible()
    expect(page.get_by_text("Term 1", exact=True)).to_be_visible()
    expect(page.locator("#agreement-versions")).to_contain_text("Signed PDF")
    page.goto(f"{live_server.url}/staff/")
    expect(queue).not_to_contain_text("countersignature")

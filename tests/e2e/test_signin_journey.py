"""A staff member's first sign-in with the second factor enforced: set up an authenticator app
from the page (the key shown there), save the recovery codes, then a later sign-in uses one."""

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def app_code(secret_text):
    """What an authenticator app set up with the page's key shows now."""
    from base64 import b32decode

    key = b32decode(secret_text.replace(" ", ""))
    return f"{TOTP(key).token():06d}"


def test_staff_set_up_an_app_at_first_sign_in_and_later_use_a_recovery_code(
    page, live_server, second_factor_enforced, sign_out, staff
):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill(staff.email)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    page.get_by_label("6-digit code from the app").fill(
        app_code(page.locator("#totp-secret").inner_text())
    )
    page.get_by_role("button", name="Confirm and turn on").click()

    expect(page.get_by_text("Save these codes now")).to_be_visible()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I have saved them, continue").click()
    expect(page.get_by_role("link", name="Agreements")).to_be_visible()
    sign_out()

    page.get_by_label("Email address").fill(staff.email)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(codes[0])
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("link", name="Agreements")).to_be_visible()

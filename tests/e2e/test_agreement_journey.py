"""Staff draft an agreement with all four services, preview and send it; the customer signs with
a drawn signature; an admin countersigns; the customer downloads the signed PDF."""

import hashlib
import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from agreements.models import Agreement, AgreementVersion
from billing.tests.factories import published_card

pytestmark = pytest.mark.django_db(transaction=True)


def draw_signature(page):
    box = page.locator("#signature-pad").bounding_box()
    x, y = box["x"] + 20, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(x + step * 18, y + (12 if step % 2 else -12), steps=3)
    page.mouse.up()


def sign(page, name):
    page.get_by_label("I agree to sign this agreement electronically").check()
    page.get_by_label("Type your full name").fill(name)
    draw_signature(page)
    page.get_by_role("button", name="Sign the agreement").click()
    expect(page.get_by_text("Signed. Thank you.")).to_be_visible()


def add_service(page, kind):
    page.get_by_role("button", name="Add a service").click()
    page.get_by_role("link", name=kind, exact=True).click()


def send_to(page, name, email):
    """Staff, on the agreement page: send the version to a signer."""
    page.get_by_role("link", name="Send for signature…").click()
    page.get_by_label("Signer").select_option(label=f"{name} ({email})")
    page.get_by_role("button", name="Send for signature").click()
    expect(page.get_by_text(f"Sent to {name} for signature.")).to_be_visible()


def open_for_signing(page, agreement):
    """The signer, in the portal: from the menu to the agreement's signing page."""
    page.get_by_role("link", name="Agreements").click()
    page.get_by_role("link", name=agreement.number).click()
    page.get_by_role("link", name="Review and sign").click()


def test_draft_send_sign_countersign_and_download(
    page, live_server, sign_in, sign_out, staff, admin, alice, customer_a, tmp_path
):
    published_card()
    sign_in(staff)
    page.get_by_role("link", name="Agreements").click()
    page.get_by_role("link", name="New agreement").click()
    # A search box (issue 14): its suggestion, once loaded, puts the customer's id in the form.
    customer = page.get_by_label("Customer")
    customer.fill(customer_a.legal_name[:8])
    expect(page.locator("#id_customer-options option")).to_have_count(1)
    customer.fill(customer_a.legal_name)
    expect(page.locator("#id_customer-id")).to_have_value(str(customer_a.pk))
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_text("drafted. Add its services.")).to_be_visible()

    add_service(page, "Monthly Maintenance")
    page.get_by_label("Hours per visit").fill("2")
    page.get_by_label("Repeat").select_option("monthly")
    page.get_by_label("On a weekday").check()
    page.get_by_label("Which", exact=True).select_option(label="third")
    page.get_by_label("Weekday", exact=True).select_option(label="Wednesday")
    page.get_by_label("At", exact=True).fill("10:00")
    page.get_by_label("For (hours)").fill("2")
    expect(page.locator("#schedule-preview")).to_contain_text(
        "The third Wednesday of every month at 10:00 for 2 hours"
    )
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Monthly Maintenance added.")).to_be_visible()

    add_service(page, "Prescheduled Services")
    page.get_by_label("Hours per month").fill("8")
    page.get_by_label("Repeat").select_option("weekly")
    page.get_by_label("Tuesday").check()
    page.get_by_label("At", exact=True).fill("09:00")
    page.get_by_label("For (hours)").fill("2")
    expect(page.locator("#schedule-preview")).to_contain_text("Every Tuesday at 09:00")
    page.get_by_role("button", name="Save").click()

    add_service(page, "Emergency Support")
    page.get_by_label("Response guarantee").select_option(label="1 hour, 24×7")
    page.get_by_role("button", name="Save").click()

    add_service(page, "Hosting")
    page.get_by_label("Hosting package").select_option(value="Website hosting")
    page.get_by_label("Quantity").fill("1")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Hosting added.")).to_be_visible()

    agreement = Agreement.objects.get(customer=customer_a)
    assert agreement.latest_version().lines.count() == 4
    preview = page.request.get(f"{live_server.url}/agreements/{agreement.pk}/preview.pdf")
    assert preview.ok and preview.body().startswith(b"%PDF")

    send_to(page, "Alice Moore", alice.email)
    sign_out()

    sign_in(alice)
    open_for_signing(page, agreement)
    expect(page.get_by_role("heading", name="Exhibit A — Rates")).to_be_visible()
    sign(page, "Alice Moore")
    expect(page.get_by_text("Allora will countersign it shortly")).to_be_visible()
    sign_out()

    sign_in(admin)
    page.goto(f"{live_server.url}/agreements/{agreement.pk}/")
    page.get_by_role("link", name="Countersign…").click()
    sign(page, "Dana Whitfield")
    expect(page.get_by_text("Term 1", exact=True)).to_be_visible()
    sign_out()

    sign_in(alice)
    page.get_by_role("link", name="Agreements").click()
    page.get_by_role("link", name=agreement.number).click()
    expect(page.get_by_text("Notice deadline", exact=True)).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download version 1 (PDF)").click()
    path = tmp_path / "signed.pdf"
    download.value.save_as(path)

    version = AgreementVersion.objects.get(agreement=agreement)
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == version.signed_pdf_sha256
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Exhibit A" in text
    assert "$112.50" in text and "25%" in text
    assert "Signature certificate" in text
    assert version.content_sha256 in text.replace(" ", "").replace("\n", "")
    assert "Alice Moore" in text and "Dana Whitfield" in text

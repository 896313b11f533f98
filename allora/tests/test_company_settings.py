"""Settings → Company: admins keep Allora's details; bad input is a form error and saves
nothing; the details reach the documents (agreements keep what they were sent with)."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from allora.models import CompanyProfile

URL = reverse("company_settings")
DATA = {
    "legal_name": "Allora IT Services, LLC",
    "address": "100 Fayetteville St\nSuite 400\nRaleigh, NC 27601",
    "phone": "919-555-0100",
    "email": "billing@allora.example",
    "website": "https://allora.example",
    "emergency_phone": "919-555-0199",
    "remit_to": "Allora IT Services, LLC\nPO Box 1\nRaleigh, NC 27602",
    "payment_instructions": "ACH to First Bank, routing 000000000, account 123.",
}


def png(size=(4, 4)):
    buffer = io.BytesIO()
    Image.new("RGB", size, "navy").save(buffer, "PNG")
    return SimpleUploadedFile("logo.png", buffer.getvalue(), content_type="image/png")


def test_defaults_until_an_admin_saves(db):
    company = CompanyProfile.current()
    assert (company.legal_name, company.address) == ("Allora", "Raleigh, NC")
    assert not CompanyProfile.objects.exists()


def test_admin_saves_the_details_and_a_logo(client_for, admin):
    response = client_for(admin).post(URL, {**DATA, "logo_file": png()}, follow=True)

    assert "Company details saved." in response.content.decode()
    company = CompanyProfile.objects.get()
    assert company.pk == 1 and company.updated_by == admin
    assert company.address_lines == ["100 Fayetteville St", "Suite 400", "Raleigh, NC 27601"]
    assert company.logo_type == "image/png" and company.logo_data_uri.startswith(
        "data:image/png;base64,"
    )
    assert company.party_record()["address"] == "100 Fayetteville St, Suite 400, Raleigh, NC 27601"

    client_for(admin).post(URL, {**DATA, "remove_logo": "on"})
    assert not CompanyProfile.objects.get().logo


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"legal_name": ""}, "This field is required."),
        ({"legal_name": "x" * 201}, "at most 200 characters"),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"website": "javascript:alert(1)"}, "Enter a valid URL."),
        ({"logo_file": SimpleUploadedFile("logo.png", b"GIF89a not a png")}, "not a PNG or JPEG"),
        ({"logo_file": SimpleUploadedFile("big.png", b"0" * (600 * 1024))}, "at most 512 kB"),
    ],
)
def test_bad_details_are_form_errors_and_save_nothing(client_for, admin, changes, message):
    response = client_for(admin).post(URL, {**DATA, **changes})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not CompanyProfile.objects.exists()


def test_a_gif_is_refused_even_named_png(client_for, admin):
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, "GIF")
    upload = SimpleUploadedFile("logo.png", buffer.getvalue(), content_type="image/png")

    response = client_for(admin).post(URL, {**DATA, "logo_file": upload})

    assert "The logo must be a PNG or JPEG image." in response.content.decode()
    assert not CompanyProfile.objects.exists()


def test_emails_are_signed_with_the_company_details(db):
    from allora.emails import build_email

    CompanyProfile(pk=1, legal_name="Allora IT Services, LLC", phone="919-555-0100").save()

    message = build_email(
        "portal_invite",
        to=["someone@example.com"],
        context={"name": "Sam", "url": "https://example.com/x", "customer": "Oak"},
    )

    assert message.body.rstrip().endswith("-- \nAllora IT Services, LLC\n919-555-0100")
    assert "919-555-0100" in message.alternatives[0][0]


def test_without_contact_details_emails_carry_no_signature(db):
    from allora.emails import signature

    assert signature(CompanyProfile.current()) == ""

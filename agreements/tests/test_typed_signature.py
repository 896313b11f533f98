"""The typed signature: the signer types their name instead of drawing; it is recorded with the
same evidence (plus the method) and rendered in a script font on the pages and the signed PDF."""

import datetime as dt
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from agreements import signing
from agreements.forms import SignForm
from agreements.models import Signature
from agreements.tests.factories import evidence, sent_agreement
from agreements.tests.test_document_pdf import pdf_text
from billing.tests.factories import published_card

NOW = dt.datetime(2026, 12, 10, 15, tzinfo=dt.UTC)


def pdf_fonts(pdf: bytes) -> str:
    """The fonts of a PDF as pdffonts lists them (poppler-utils, like pdftotext)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "agreement.pdf"
        path.write_bytes(pdf)
        result = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True)
    return result.stdout


@pytest.fixture
def version(customer_a, alice, admin):
    published_card()
    return sent_agreement(customer=customer_a, customer_user=alice, sender=admin)


def typed(name="Alice Moore"):
    return evidence(name, method="typed", drawing="")


def test_a_typed_signature_records_the_same_evidence_and_the_method(version, alice):
    signing.sign_as_customer(version, user=alice, evidence=typed(), now=NOW)
    signature = version.signatures.get()
    assert signature.method == Signature.Method.TYPED
    assert signature.drawing == ""
    assert (signature.typed_name, signature.title) == ("Alice Moore", "Owner")
    assert str(signature.ip_address) == "203.0.113.7"
    assert signature.user_agent == "Mozilla/5.0 (X11; Linux x86_64) Test"
    assert signature.signed_at == NOW and signature.consent is True
    assert signature.content_sha256 == version.content_sha256


def test_a_drawing_sent_with_a_typed_signature_is_not_kept(version, alice):
    signing.sign_as_customer(version, user=alice, evidence=typed() | {"drawing": "junk"}, now=NOW)
    assert version.signatures.get().drawing == ""


def test_a_typed_signature_still_needs_the_full_name_and_an_unknown_method_is_refused(
    version, alice
):
    with pytest.raises(ValidationError, match="Type your full name"):
        signing.sign_as_customer(version, user=alice, evidence=typed(name="A"), now=NOW)
    with pytest.raises(ValidationError, match="Choose to draw or to type"):
        signing.sign_as_customer(version, user=alice, evidence=typed() | {"method": "x"}, now=NOW)
    assert not version.signatures.exists()


def test_the_signed_pdf_shows_the_typed_name_in_the_script_font(version, alice, admin):
    signing.sign_as_customer(version, user=alice, evidence=typed("Alice Q. Moore"), now=NOW)
    signing.countersign(version, user=admin, evidence=evidence("Dana Whitfield"), now=NOW)
    stored = signing.store_signed_pdf(version.pk, today=NOW.date())
    data = stored.signed_pdf.open("rb").read()
    text = pdf_text(data)
    assert "Allora-Signature" in pdf_fonts(data)  # the vendored script font, embedded
    assert "Alice Q. Moore" in text
    assert "Typed (the name in a script font)" in text and "Drawn" in text  # the certificate
    assert signing.verify_signed_pdf(stored)[0] is True


def test_the_form_asks_for_a_drawing_only_when_drawing(version):
    drawn = SignForm({"consent": "on", "typed_name": "Alice Moore", "method": "drawn"})
    assert not drawn.is_valid()
    assert drawn.errors["drawing"] == ["Draw your signature in the box, or choose Type to type it."]
    typed_form = SignForm({"consent": "on", "typed_name": "Alice Moore", "method": "typed"})
    assert typed_form.is_valid()
    assert (typed_form.cleaned_data["method"], typed_form.cleaned_data["drawing"]) == ("typed", "")
    # An old form with no choice draws, as before.
    assert not SignForm({"consent": "on", "typed_name": "Alice Moore"}).is_valid()


def test_the_portal_signs_with_a_typed_name_and_keeps_ip_and_browser(version, alice, client_for):
    client = client_for(alice)
    url = reverse("portal:agreement_sign", args=[version.agreement_id])
    response = client.post(
        url,
        {"consent": "on", "typed_name": "Alice Moore", "title": "Owner", "method": "typed"},
        HTTP_USER_AGENT="Phone browser 1.0",
        REMOTE_ADDR="198.51.100.4",
    )
    assert response.status_code == 302
    signature = version.signatures.get()
    assert (signature.method, signature.user_agent) == ("typed", "Phone browser 1.0")
    assert signature.ip_address is not None


def test_errors_sit_next_to_their_field_and_the_page_moves_the_focus_there(
    version, alice, client_for
):
    client = client_for(alice)
    url = reverse("portal:agreement_sign", args=[version.agreement_id])
    body = client.post(url, {"method": "drawn", "typed_name": ""}).content.decode()
    assert 'id="id_consent_error"' in body and 'aria-describedby="id_consent_error"' in body
    assert 'id="id_typed_name_error"' in body
    assert 'id="id_drawing_error"' in body
    assert "js/form-errors.js" in body
    assert not version.signatures.exists()

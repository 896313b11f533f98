"""The agreement document: the PDF (WeasyPrint) and the browser partial say the same thing."""

import base64
import datetime as dt
import os
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest
from django.template.loader import render_to_string

from agreements.document import document_context
from agreements.models import AgreementVersion, Signature
from agreements.pdf import agreement_html, agreement_pdf
from agreements.tests.factories import draft_with_all_services
from allora.pdf import render_pdf
from allora.tests.factories import UserFactory
from billing.services import rates_snapshot
from billing.tests.factories import published_card

TODAY = dt.date(2026, 6, 1)
SHA = "ab" * 32


def tiny_png() -> bytes:
    """A valid 1×1 black PNG, built here so the test data explains itself."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])  # 1×1, 8-bit greyscale
    pixels = zlib.compress(b"\x00\x00")  # filter byte + one black pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PNG_DATA_URL = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF, laid out (pdftotext -layout)."""
    if shutil.which("pdftotext") is None:
        reason = "pdftotext (Debian package poppler-utils) is not installed"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"pdftotext is required in CI: {reason}")
        pytest.skip(reason)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "agreement.pdf"
        path.write_bytes(pdf)
        result = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
        )
    return result.stdout


def dollars(amount) -> str:
    return f"${amount:,.2f}"


@pytest.fixture
def draft(db):
    published_card()
    return draft_with_all_services()


@pytest.fixture
def signed(draft):
    """The draft as sent and signed by both parties (signed in March 2027, during EDT)."""
    AgreementVersion.objects.filter(pk=draft.pk).update(
        status=AgreementVersion.Status.SIGNED,
        content_sha256=SHA,
        rates_snapshot=rates_snapshot(on=TODAY),
    )
    version = AgreementVersion.objects.get(pk=draft.pk)
    customer = version.agreement.customer
    for party, user, name, title, at, ip in (
        (
            Signature.Party.CUSTOMER,
            UserFactory(role="customer", customer=customer, email="alice@oakcity.example"),
            "Alice Moore",
            "Owner",
            dt.datetime(2027, 3, 15, 14, 0, tzinfo=dt.UTC),
            "203.0.113.7",
        ),
        (
            Signature.Party.ALLORA,
            UserFactory(role="admin", email="dana@allora.example"),
            "Dana Whitfield",
            "Managing Director",
            dt.datetime(2027, 3, 16, 13, 30, tzinfo=dt.UTC),
            "198.51.100.23",
        ),
    ):
        Signature.objects.create(
            version=version,
            party=party,
            user=user,
            contact=None,
            typed_name=name,
            title=title,
            drawing=PNG_DATA_URL,
            consent=True,
            signed_at=at,
            ip_address=ip,
            user_agent="Mozilla/5.0 Test",
            content_sha256=SHA,
        )
    return version


def key_figures(version):
    """What both renderings must show: the standard on-site rate, its 25% agreement rate and the
    monthly total, computed from the document context rather than hard-coded."""
    context = document_context(version, today=TODAY)
    onsite = next(r for r in context["standard_rates"] if r["kind"] == "onsite_hourly")
    maintenance = next(r for r in context["agreement_rates"] if r.label.endswith("on-site"))
    total = sum(amount.net_amount for _line, amount in context["lines"] if amount is not None)
    assert total == context["monthly_total"]
    return [
        dollars(onsite["price"]),
        dollars(maintenance.net_rate),
        f"{maintenance.discount_percent.normalize():f}%",
        dollars(context["monthly_total"]),
    ]


def test_render_pdf_returns_pdf_bytes():
    pdf = render_pdf("<p>Hello</p>")
    assert isinstance(pdf, bytes)
    assert pdf.startswith(b"%PDF")


def test_render_pdf_fetches_nothing_from_the_network():
    pdf = render_pdf('<img src="http://127.0.0.1:9/x.png"><p>Still renders</p>')
    assert pdf.startswith(b"%PDF")


def test_render_pdf_reads_files_under_the_base_directory_only(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    (base / "inside.png").write_bytes(tiny_png())
    (tmp_path / "outside.png").write_bytes(tiny_png())

    def has_image(html):
        return b"/Image" in render_pdf(html, base_url=str(base))

    assert has_image('<img src="inside.png">')
    assert not has_image('<img src="../outside.png">')
    assert not has_image(f'<img src="file://{tmp_path}/outside.png">')


def test_only_png_data_urls_are_drawn_as_signatures(signed):
    Signature.objects.filter(version=signed, party="allora").update(
        drawing="http://169.254.169.254/latest/meta-data.png"
    )
    html = agreement_html(signed, today=TODAY, final=True)

    assert html.count('<img src="data:image/png;base64,') == 1
    assert "169.254.169.254" not in html


def test_draft_pdf_shows_the_agreement_rates_and_charges(draft):
    text = pdf_text(agreement_pdf(draft, today=TODAY))

    figures = key_figures(draft)
    assert figures == ["$150.00", "$112.50", "25%", "$1,170.00"]
    for expected in [
        "Customer Agreement",
        draft.agreement.customer.legal_name,
        draft.agreement.number,
        "Exhibit A",
        "Exhibit B",
        "Monthly recurring total",
        "Page 1 of",
        "DRAFT",
        "Draft: rates are those in effect today",
        "Guaranteed response: 1 hour, 24×7",
        "payable Net 30",
        "Starts on the date of the last signature.",
        *figures,
    ]:
        assert expected in text, expected
    assert "Signature certificate" not in text


def test_final_pdf_ends_with_the_signature_certificate(signed):
    text = pdf_text(agreement_pdf(signed, today=TODAY, final=True))

    certificate = text.split("Signature certificate")[-1]
    assert "Signature certificate" in text
    assert "DRAFT" not in text
    for expected in [
        SHA,
        "Alice Moore",
        "alice@oakcity.example",
        "203.0.113.7",
        "Dana Whitfield",
        "dana@allora.example",
        "198.51.100.23",
        "Mozilla/5.0 Test",
        "Agreed to sign electronically",
        "recorded by Allora when the file is created",
    ]:
        assert expected in certificate, expected
    # The signature page shows both signatures, not empty lines.
    assert "March 15, 2027" in text and "March 16, 2027" in text


def test_certificate_shows_signing_times_in_the_agreement_time_zone(signed):
    assert signed.agreement.time_zone == "America/New_York"
    html = agreement_html(signed, today=TODAY, final=True)

    # 14:00 UTC on March 15, 2027 is 10:00 EDT (DST started on March 14, 2027).
    assert "March 15, 2027, 10:00 EDT" in html
    assert "March 16, 2027, 09:30 EDT" in html


def test_browser_partial_shows_the_same_figures_as_the_pdf(draft):
    context = document_context(draft, today=TODAY)
    html = render_to_string("agreements/document/_document.html", context)

    for expected in [
        "Customer Agreement",
        draft.agreement.number,
        "Exhibit A — Rates",
        "Exhibit B — Services and payment terms",
        *key_figures(draft),
    ]:
        assert expected in html, expected
    assert "<script" not in html


def test_customer_text_is_escaped_in_the_pdf_html(db):
    from agreements.tests.factories import CustomerFactory

    published_card()
    customer = CustomerFactory(legal_name='Smith & <Sons> "Repair", LLC')
    version = draft_with_all_services(customer=customer)
    html = agreement_html(version, today=TODAY)

    assert "Smith &amp; &lt;Sons&gt; &quot;Repair&quot;, LLC" in html
    assert "<Sons>" not in html
    assert customer.legal_name in pdf_text(agreement_pdf(version, today=TODAY))

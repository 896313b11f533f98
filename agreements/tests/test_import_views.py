"""The import through the API (POST /api/v1/imports) and the admins' upload page: preview,
per-row error report, confirm."""

import base64
import datetime as dt
import json

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from agreements.models import Agreement, Customer
from agreements.tests.import_samples import PDF, sample_document
from allora.tests.api_support import bearer


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def upload(document, name="agreements.json"):
    return SimpleUploadedFile(name, json.dumps(document).encode(), "application/json")


def test_api_import_creates_the_agreements_and_reports_them(admin):
    document = sample_document(2)
    document["agreements"][0]["pdf_base64"] = base64.b64encode(PDF).decode()
    response = Client().post("/api/v1/imports", {"file": upload(document)}, headers=bearer(admin))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] and body["agreements_created"] == 2
    assert body["agreements"][0]["number"].startswith("CA-2024-")
    assert Agreement.objects.filter(status="active").count() == 2
    again = Client().post("/api/v1/imports", {"file": upload(document)}, headers=bearer(admin))
    assert again.json()["agreements_existing"] == 2


def test_api_import_dry_run_and_bad_rows(admin):
    dry = Client().post(
        "/api/v1/imports?dry_run=true", {"file": upload(sample_document())}, headers=bearer(admin)
    )
    assert dry.status_code == 200 and dry.json()["dry_run"]
    assert not Agreement.objects.exists()
    document = sample_document()
    document["agreements"][0]["rates"]["rates"][0]["price"] = "140.001"
    bad = Client().post("/api/v1/imports", {"file": upload(document)}, headers=bearer(admin))
    assert bad.status_code == 422
    [error] = bad.json()["errors"]
    assert error["field"] == "price" and error["reason"] == "has more than two decimals"
    other = Client().post(
        "/api/v1/imports", {"file": upload(document, "a.txt")}, headers=bearer(admin)
    )
    assert other.status_code == 400
    missing = Client().post("/api/v1/imports", {}, headers=bearer(admin))
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["file", "file"]


def test_admin_previews_then_confirms_an_upload(client_for, admin):
    client = client_for(admin)
    page = client.get(reverse("agreement_import"))
    assert b"Preview the import" in page.content
    preview = client.post(
        reverse("agreement_import"), {"file": upload(sample_document(2))}, follow=True
    )
    html = preview.content.decode()
    assert "Preview: agreements.json" in html
    assert "Sample Customer 2, LLC" in html
    assert not Customer.objects.exists()  # nothing until confirmed
    job = preview.context["job"]
    done = client.post(reverse("agreement_import_confirm", args=[job.pk]), follow=True)
    assert "Imported: agreements.json" in done.content.decode()
    assert Agreement.objects.count() == 2
    # The preview is used once.
    expired = client.post(reverse("agreement_import_confirm", args=[job.pk]))
    assert expired.status_code == 302 and expired.url == reverse("agreement_import")
    assert Agreement.objects.count() == 2


def test_upload_with_bad_rows_shows_each_line_and_no_confirm(client_for, admin):
    document = sample_document()
    document["agreements"][0]["signed_on"] = "March 15, 2024"
    document["agreements"][0]["services"][1]["rrule"] = "FREQ=WEEKLY;BYDAY=XX"
    text = json.dumps(document, indent=2).encode()
    response = client_for(admin).post(
        reverse("agreement_import"), {"file": SimpleUploadedFile("bad.json", text)}, follow=True
    )
    html = response.content.decode()
    assert "Cannot import: bad.json" in html
    assert "must be a date written YYYY-MM-DD" in html
    assert "Unknown day of the week" in html or "could not be understood" in html
    assert "Confirm the import" not in html
    assert response.context["report"].errors[0].line > 1
    # A refused file is not kept.
    assert not default_storage.exists(response.context["job"].file_path)


def test_only_admins_import(client_for, staff, alice):
    for user in (staff, alice):
        response = Client().post(
            "/api/v1/imports", {"file": upload(sample_document())}, headers=bearer(user)
        )
        assert response.status_code == 403
        assert client_for(user).get(reverse("agreement_import")).status_code == 403


# Imports never back-bill: the preview shows each agreement's first invoice here.

NOV_15 = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))


@time_machine.travel(NOV_15, tick=False)
def test_preview_shows_the_first_invoice_of_each_agreement(client_for, admin):
    document = sample_document(2)
    document["agreements"][1]["billed_through"] = "2026-12-31"
    document["agreements"][1]["billing_day"] = 5
    preview = client_for(admin).post(
        reverse("agreement_import"), {"file": upload(document)}, follow=True
    )
    html = preview.content.decode()
    assert "Preview: agreements.json" in html
    # Without billed_through: everything to the end of the import month was billed.
    assert "First invoice: December 2026, issued December 1, 2026" in html
    assert "through November 30, 2026" in html
    assert "First invoice: January 2027, issued January 5, 2027" in html
    assert "through December 31, 2026" in html
    assert not Agreement.objects.exists()


@time_machine.travel(NOV_15, tick=False)
def test_api_import_reports_billed_through_and_the_first_invoice(admin):
    document = sample_document(2)
    document["agreements"][1]["billed_through"] = "2026-12-31"
    response = Client().post(
        "/api/v1/imports?dry_run=true", {"file": upload(document)}, headers=bearer(admin)
    )
    assert response.status_code == 200, response.content
    first, second = response.json()["agreements"]
    assert (first["billed_through"], first["first_invoice_period"], first["first_invoice_on"]) == (
        "2026-11-30",
        "2026-12-01",
        "2026-12-01",
    )
    assert (second["billed_through"], second["first_invoice_period"]) == (
        "2026-12-31",
        "2027-01-01",
    )
    document["agreements"][0]["billed_through"] = "1999-12-31"
    bad = Client().post("/api/v1/imports", {"file": upload(document)}, headers=bearer(admin))
    assert bad.status_code == 422
    [error] = bad.json()["errors"]
    assert error["field"] == "billed_through"
    assert error["reason"] == "must lie between 2000-01-01 and 2100-12-31"
    assert not Agreement.objects.exists()

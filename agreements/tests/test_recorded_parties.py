"""Signed means frozen: a version records the customer's name and address when it is sent, its
document, PDF and pages show that record, and staff editing the customer while a version awaits
signature are warned and offered to recall and resend it."""

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse

from agreements import signing
from agreements.document import content_digest, customer_record, document_context
from agreements.models import AgreementVersion, Customer
from agreements.pdf import agreement_html
from agreements.tests.factories import (
    draft_with_all_services,
    evidence,
    sent_agreement,
    signed_agreement,
)
from agreements.tests.test_document_pdf import pdf_text
from allora.models import CompanyProfile
from allora.tests.api_support import bearer
from billing.tests.factories import published_card

TODAY = dt.date(2026, 11, 28)
OLD_ADDRESS = "1 Old Mill Road, Raleigh, NC 27603"
NEW_ADDRESS = "500 Glenwood Avenue, Raleigh, NC 27603"


@pytest.fixture(autouse=True)
def rates(db):
    return published_card()


@pytest.fixture
def customer(customer_a):
    customer_a.address_line1 = "1 Old Mill Road"
    customer_a.save()
    return customer_a


def customer_form_data(customer, **changes):
    data = {
        "legal_name": customer.legal_name,
        "address_line1": customer.address_line1,
        "address_line2": customer.address_line2,
        "city": customer.city,
        "state": customer.state,
        "postal_code": customer.postal_code,
        "phone": customer.phone,
        "time_zone": customer.time_zone,
        "status": customer.status,
    }
    return {**data, **changes}


def move_and_rename(customer):
    customer.refresh_from_db()
    customer.legal_name = "Oak City Dental Group, PLLC"
    customer.address_line1 = "500 Glenwood Avenue"
    customer.save()


def test_sending_records_the_customer_name_and_address(customer, alice, staff):
    version = sent_agreement(customer=customer, customer_user=alice, sender=staff)
    version.refresh_from_db()
    assert version.parties == {
        "customer": {"legal_name": "Oak City Dental, PLLC", "address": OLD_ADDRESS},
        "allora": {"legal_name": "Allora", "address": "Raleigh, NC", "phone": "", "email": ""},
    }


def test_a_version_records_allora_as_sent_and_keeps_it_after_the_settings_change(
    customer, alice, staff, admin
):
    company = CompanyProfile.current()
    company.legal_name, company.address = "Allora IT, LLC", "100 Main St\nRaleigh, NC 27601"
    company.phone = "919-555-0100"
    company.save()
    version = sent_agreement(customer=customer, customer_user=alice, sender=staff)
    digest = version.content_sha256
    CompanyProfile.objects.filter(pk=1).update(legal_name="Someone Else, Inc.", address="Elsewhere")

    version.refresh_from_db()
    html = agreement_html(version, today=TODAY)

    assert "Allora IT, LLC" in html and "100 Main St, Raleigh, NC 27601" in html
    assert "919-555-0100" in html and "Someone Else" not in html
    assert content_digest(version) == digest
    # A different Allora would be a different document.
    version.parties["allora"]["legal_name"] = "Someone Else, Inc."
    assert content_digest(version) != digest


def as_sent_before_parties_were_recorded(version):
    """What a version sent before migration 0012 looks like: no recorded parties, and a hash of
    the customer alone (Allora's details were not part of what was signed)."""
    version.parties = {"customer": customer_record(version.agreement.customer)}
    AgreementVersion.objects.filter(pk=version.pk).update(
        parties=None, content_sha256=content_digest(version)
    )


def test_a_draft_shows_the_customer_as_it_is_now(customer):
    draft = draft_with_all_services(customer=customer)
    move_and_rename(customer)
    context = document_context(AgreementVersion.objects.get(pk=draft.pk), today=TODAY)
    assert context["customer"].legal_name == "Oak City Dental Group, PLLC"
    assert context["customer"].address == NEW_ADDRESS


def test_signer_can_still_sign_after_staff_moved_the_customer(
    customer, alice, staff, admin, client_for
):
    version = sent_agreement(customer=customer, customer_user=alice, sender=staff)
    digest = version.content_sha256
    client = client_for(staff)
    response = client.post(
        reverse("agreements:customer_edit", args=[customer.pk]),
        customer_form_data(customer, address_line1="500 Glenwood Avenue"),
    )
    assert response.status_code == 302
    version.refresh_from_db()
    assert content_digest(version) == digest

    signing.sign_as_customer(version, user=alice, evidence=evidence())
    signing.countersign(version, user=admin, evidence=evidence("Dana Whitfield"))
    version.refresh_from_db()
    assert version.status == AgreementVersion.Status.SIGNED
    html = agreement_html(version, today=TODAY, final=True)
    assert OLD_ADDRESS in html and NEW_ADDRESS not in html
    page = client_for(alice).get(reverse("portal:agreement_detail", args=[version.agreement_id]))
    assert OLD_ADDRESS in page.content.decode()
    assert NEW_ADDRESS not in page.content.decode()


def test_signed_pdf_names_the_customer_as_sent(customer, alice, admin):
    version = sent_agreement(customer=customer, customer_user=alice, sender=admin)
    move_and_rename(customer)
    signing.sign_as_customer(version, user=alice, evidence=evidence())
    signing.countersign(version, user=admin, evidence=evidence("Dana Whitfield"))
    stored = signing.store_signed_pdf(version.pk, today=TODAY)
    with stored.signed_pdf.open("rb") as handle:
        text = " ".join(pdf_text(handle.read()).split())
    assert "Oak City Dental, PLLC" in text
    assert "1 Old Mill Road" in text
    assert "Glenwood" not in text and "Dental Group" not in text


def test_a_signed_version_never_changes_after_a_customer_edit(customer, alice, admin, client_for):
    version = signed_agreement(customer=customer, customer_user=alice, admin=admin, pdf=False)
    version.refresh_from_db()
    digest = content_digest(version)
    move_and_rename(customer)
    version = AgreementVersion.objects.get(pk=version.pk)
    assert content_digest(version) == digest == version.content_sha256
    context = document_context(version, today=TODAY)
    assert (context["customer"].legal_name, context["customer"].address) == (
        "Oak City Dental, PLLC",
        OLD_ADDRESS,
    )
    assert "Dental Group" not in agreement_html(version, today=TODAY, final=True)
    url = reverse("agreements:agreement_detail", args=[version.agreement_id])
    page = client_for(admin).get(url)
    assert OLD_ADDRESS in page.content.decode()


def test_customer_form_warns_before_saving_and_offers_recall_and_resend(
    customer, alice, staff, client_for
):
    version = sent_agreement(customer=customer, customer_user=alice, sender=staff)
    client = client_for(staff)
    url = reverse("agreements:customer_edit", args=[customer.pk])
    form_page = client.get(url).content.decode()
    assert "Awaiting signature" in form_page
    assert f"{version.agreement.number}</a> version 1" in form_page

    response = client.post(
        url, customer_form_data(customer, address_line1="500 Glenwood Avenue"), follow=True
    )
    [saved, warning] = [str(m) for m in get_messages(response.wsgi_request)] or [None, None]
    assert saved == "Customer saved."
    assert "still names the customer as it was sent: Oak City Dental, PLLC, 1 Old Mill" in warning
    resend_url = reverse("agreements:agreement_resend", args=[version.agreement_id])
    assert f'href="{resend_url}"' in response.content.decode()


def test_saving_unrelated_fields_gives_no_warning(customer, alice, staff, client_for):
    sent_agreement(customer=customer, customer_user=alice, sender=staff)
    response = client_for(staff).post(
        reverse("agreements:customer_edit", args=[customer.pk]),
        customer_form_data(customer, phone="(919) 555-0199"),
        follow=True,
    )
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Customer saved."]


def test_agreement_page_offers_resend_when_the_record_differs(customer, alice, staff, client_for):
    version = sent_agreement(customer=customer, customer_user=alice, sender=staff)
    move_and_rename(customer)
    url = reverse("agreements:agreement_detail", args=[version.agreement_id])
    page = client_for(staff).get(url)
    assert 'id="parties-changed"' in page.content.decode()


def test_recall_and_resend_records_the_new_name_and_address(customer, alice, staff, client_for):
    version = sent_agreement(customer=customer, customer_user=alice, sender=staff)
    move_and_rename(customer)
    mail.outbox.clear()
    client = client_for(staff)
    url = reverse("agreements:agreement_resend", args=[version.agreement_id])
    confirm = client.get(url).content.decode()
    assert "1 Old Mill Road" in confirm and "500 Glenwood Avenue" in confirm
    assert client.post(url).status_code == 302
    version.refresh_from_db()
    assert version.status == AgreementVersion.Status.SENT
    assert version.parties["customer"] == {
        "legal_name": "Oak City Dental Group, PLLC",
        "address": NEW_ADDRESS,
    }
    assert version.content_sha256 == content_digest(version)
    assert version.agreement.events.filter(kind="recalled").exists()
    signing.sign_as_customer(version, user=alice, evidence=evidence())


def test_resend_is_refused_once_the_customer_signed(customer, alice, staff):
    version = sent_agreement(customer=customer, customer_user=alice, sender=staff)
    signing.sign_as_customer(version, user=alice, evidence=evidence())
    with pytest.raises(signing.ValidationError, match="nobody has signed"):
        signing.resend(version, by=staff, today=TODAY)


def test_recall_forgets_the_record(customer, alice, staff):
    version = sent_agreement(customer=customer, customer_user=alice, sender=staff)
    signing.recall(version, by=staff)
    version.refresh_from_db()
    assert version.parties is None


def test_api_update_warns_about_versions_awaiting_signature(customer, alice, staff, client):
    version = sent_agreement(customer=customer, customer_user=alice, sender=staff)
    response = client.patch(
        f"/api/v1/customers/{customer.pk}",
        {"address_line1": "500 Glenwood Avenue"},
        content_type="application/json",
        headers=bearer(staff),
    )
    assert response.status_code == 200, response.content
    [warning] = response.json()["warnings"]
    assert warning.startswith(f"{version.agreement.number} version 1 awaits signature")
    assert warning.endswith(reverse("agreements:agreement_detail", args=[version.agreement_id]))
    signing.sign_as_customer(version, user=alice, evidence=evidence())


def test_admin_site_warns_before_and_after_saving(customer, alice, admin, client_for):
    version = sent_agreement(customer=customer, customer_user=alice, sender=admin)
    admin.is_superuser = True  # as admins made with createsuperuser are
    admin.save(update_fields=["is_superuser"])
    client = client_for(admin)
    url = reverse("admin:agreements_customer_change", args=[customer.pk])
    page = client.get(url)
    assert f"Awaiting signature: {version.agreement.number} version 1" in page.content.decode()
    data = {
        **customer_form_data(customer, address_line1="500 Glenwood Avenue"),
        "contacts-TOTAL_FORMS": "0",
        "contacts-INITIAL_FORMS": "0",
        "contacts-MIN_NUM_FORMS": "0",
        "contacts-MAX_NUM_FORMS": "1000",
    }
    response = client.post(url, data, follow=True)
    text = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "still names the customer as it was sent" in text, response.content.decode()[:3000]
    customer.refresh_from_db()
    assert customer.address_line1 == "500 Glenwood Avenue"


def test_migration_records_the_customer_as_it_was_when_sent(customer, alice, staff):
    version = sent_agreement(customer=customer, customer_user=alice, sender=staff)
    as_sent_before_parties_were_recorded(version)
    move_and_rename(customer)
    migration = importlib.import_module("agreements.migrations.0012_versions_record_parties")
    migration.record_parties(apps, None)
    version.refresh_from_db()
    assert version.parties["customer"] == {
        "legal_name": "Oak City Dental, PLLC",
        "address": OLD_ADDRESS,
    }
    signing.sign_as_customer(version, user=alice, evidence=evidence())


def test_migration_keeps_the_record_that_matches_the_hash_when_history_missed_an_edit(
    customer, alice, staff
):
    # A bulk update leaves no history record: the customer as it is now is what was hashed.
    Customer.objects.filter(pk=customer.pk).update(address_line1="7 Quiet Lane")
    version = sent_agreement(customer=customer, customer_user=alice, sender=staff)
    as_sent_before_parties_were_recorded(version)
    migration = importlib.import_module("agreements.migrations.0012_versions_record_parties")
    migration.record_parties(apps, None)
    version.refresh_from_db()
    assert version.parties["customer"]["address"] == "7 Quiet Lane, Raleigh, NC 27603"
    signing.sign_as_customer(version, user=alice, evidence=evidence())

"""Sending, signing by both parties, activation with locked rates, freezing and amendments."""

import datetime as dt
import hashlib
from decimal import Decimal as D

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils import timezone

from agreements import signing
from agreements.models import Agreement, AgreementVersion, ServiceKind, ServiceLine, Term
from agreements.tests.factories import (
    ContactFactory,
    TermsTemplateFactory,
    draft_with_all_services,
    evidence,
    sent_agreement,
    signed_agreement,
    signer_contact,
)
from billing.models import RateCardLine
from billing.pricing import snapshot_rate
from billing.tests.factories import published_card

TODAY = dt.date(2026, 11, 28)


@pytest.fixture(autouse=True)
def rates(db):
    return published_card()


def test_send_freezes_exhibit_a_and_emails_the_signer(
    customer_a, alice, staff, django_capture_on_commit_callbacks
):
    version = draft_with_all_services(customer=customer_a)
    contact = signer_contact(customer_a, alice)
    with django_capture_on_commit_callbacks(execute=True):
        signing.send_for_signature(version, signer=contact, by=staff, today=TODAY)
    version.refresh_from_db()
    assert version.status == AgreementVersion.Status.SENT
    assert version.agreement.status == Agreement.Status.SENT
    assert snapshot_rate(version.rates_snapshot, "onsite_hourly") == D("150.00")
    assert version.rates_snapshot["discounts"]["maintenance"] == "25.00"
    assert len(version.content_sha256) == 64
    [email] = mail.outbox
    assert email.to == [alice.email]
    assert f"/portal/agreements/{version.agreement_id}/" in email.body


def test_a_signer_who_is_not_an_authorized_signer_is_refused(customer_a, staff):
    version = draft_with_all_services(customer=customer_a)
    not_a_signer = ContactFactory(customer=customer_a, is_authorized_signer=False)
    with pytest.raises(ValidationError, match="not an authorized signer"):
        signing.send_for_signature(version, signer=not_a_signer, by=staff, today=TODAY)
    version.refresh_from_db()
    assert version.is_draft and version.rates_snapshot is None


def test_a_start_date_in_the_past_cannot_be_sent(customer_a, alice, staff):
    version = draft_with_all_services(customer=customer_a, start_date=dt.date(2026, 11, 1))
    with pytest.raises(ValidationError, match="start date is in the past"):
        signing.send_for_signature(
            version, signer=signer_contact(customer_a, alice), by=staff, today=TODAY
        )


def test_a_draft_without_services_cannot_be_sent(customer_a, alice, staff):
    version = draft_with_all_services(customer=customer_a)
    version.lines.all().delete()
    with pytest.raises(ValidationError, match="at least one Exhibit B service line"):
        signing.send_for_signature(
            version, signer=signer_contact(customer_a, alice), by=staff, today=TODAY
        )


def test_content_is_frozen_once_sent(customer_a, alice, staff):
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=staff)
    line = version.lines.first()
    line.hours_per_visit = D("9")
    with pytest.raises(ValidationError, match="can no longer change"):
        line.save()
    with pytest.raises(ValidationError):
        line.delete()
    with pytest.raises(ValidationError):
        ServiceLine.objects.create(version=version, kind=ServiceKind.HOSTING, package_name="X")
    version.billing_day = 15
    with pytest.raises(ValidationError):
        version.save()


@time_machine.travel(dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC))
def test_both_signatures_activate_the_first_term_with_locked_rates(customer_a, alice, admin):
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    signing.sign_as_customer(version, user=alice, evidence=evidence())
    version.refresh_from_db()
    assert version.status == AgreementVersion.Status.CUSTOMER_SIGNED
    assert not Term.objects.exists()

    signing.countersign(version, user=admin, evidence=evidence("Dana Whitfield"))
    agreement = Agreement.objects.get(pk=version.agreement_id)
    term = agreement.terms.get()
    assert agreement.status == Agreement.Status.ACTIVE
    assert (term.start, term.end) == (dt.date(2026, 12, 3), dt.date(2027, 12, 3))
    assert term.last_day == dt.date(2027, 12, 2)
    assert term.notice_deadline == dt.date(2027, 11, 2)
    assert term.locked_rates == AgreementVersion.objects.get(pk=version.pk).rates_snapshot
    signature = version.signatures.get(party="customer")
    assert signature.ip_address == "203.0.113.7"
    assert signature.content_sha256 == version.content_sha256


def test_the_term_starts_on_the_last_signature_date_in_the_customers_zone(customer_a, alice, admin):
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    # 02:30 UTC on 1 March is still 28 February in Raleigh.
    late_evening = dt.datetime(2027, 3, 1, 2, 30, tzinfo=dt.UTC)
    signing.sign_as_customer(version, user=alice, evidence=evidence(), now=late_evening)
    signing.countersign(version, user=admin, evidence=evidence("Dana"), now=late_evening)
    assert version.agreement.terms.get().start == dt.date(2027, 2, 28)


def test_a_later_start_date_is_kept(customer_a, alice, admin):
    version = sent_agreement(
        customer=customer_a, customer_user=alice, sender=admin, start_date=dt.date(2027, 1, 1)
    )
    when = dt.datetime(2026, 12, 10, 15, tzinfo=dt.UTC)
    signing.sign_as_customer(version, user=alice, evidence=evidence(), now=when)
    signing.countersign(version, user=admin, evidence=evidence("Dana"), now=when)
    term = version.agreement.terms.get()
    assert (term.start, term.last_day) == (dt.date(2027, 1, 1), dt.date(2027, 12, 31))
    assert term.notice_deadline == dt.date(2027, 12, 1)


def test_rates_in_a_term_never_change_when_a_new_card_is_published(customer_a, alice, admin):
    version = signed_agreement(customer=customer_a, customer_user=alice, admin=admin)
    term = version.agreement.terms.get()
    draft = published_card_new_version(admin)
    RateCardLine.objects.filter(card=draft, kind="onsite_hourly").update(price=D("999.00"))
    draft.publish(by=admin, effective_date=TODAY, today=TODAY)
    term.refresh_from_db()
    assert snapshot_rate(term.locked_rates, "onsite_hourly") == D("150.00")
    term.locked_rates = {**term.locked_rates, "rates": []}
    with pytest.raises(ValidationError, match="never change"):
        term.save()


def published_card_new_version(admin):
    from billing.models import RateCard

    return RateCard.objects.get(status="published").start_new_version(by=admin)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"consent": False}, "consent"),
        ({"typed_name": " "}, "full name"),
        ({"drawing": ""}, "Draw your signature"),
        ({"drawing": "data:text/html;base64,PHNjcmlwdD4="}, "Draw your signature"),
    ],
)
def test_incomplete_signatures_are_refused_and_nothing_is_saved(
    customer_a, alice, staff, change, message
):
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=staff)
    with pytest.raises(ValidationError, match=message):
        signing.sign_as_customer(version, user=alice, evidence=evidence(**change))
    assert not version.signatures.exists()
    version.refresh_from_db()
    assert version.status == AgreementVersion.Status.SENT


def test_a_second_signature_by_the_customer_is_refused(customer_a, alice, staff):
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=staff)
    signing.sign_as_customer(version, user=alice, evidence=evidence())
    with pytest.raises(ValidationError, match="already signed"):
        signing.sign_as_customer(version, user=alice, evidence=evidence())
    assert version.signatures.count() == 1


def test_a_portal_user_who_is_not_a_signer_cannot_sign(customer_a, alice, staff):
    from allora.tests.factories import UserFactory

    version = sent_agreement(customer=customer_a, customer_user=alice, sender=staff)
    clerk = UserFactory(role="customer", customer=customer_a, email="clerk@oakcity.example")
    with pytest.raises(ValidationError, match="Only an authorized signer"):
        signing.sign_as_customer(version, user=clerk, evidence=evidence())


def test_allora_countersigns_only_after_the_customer_and_only_as_admin(
    customer_a, alice, staff, admin
):
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=staff)
    with pytest.raises(ValidationError, match="customer must sign before"):
        signing.countersign(version, user=admin, evidence=evidence("Dana"))
    signing.sign_as_customer(version, user=alice, evidence=evidence())
    with pytest.raises(ValidationError, match="Only an Allora admin"):
        signing.countersign(version, user=staff, evidence=evidence("Marcus"))


def test_signed_pdf_is_stored_with_its_hash_and_verify_detects_tampering(customer_a, alice, admin):
    version = signed_agreement(customer=customer_a, customer_user=alice, admin=admin)
    data = version.signed_pdf.open("rb").read()
    assert data.startswith(b"%PDF")
    assert version.signed_pdf_sha256 == hashlib.sha256(data).hexdigest()
    assert signing.verify_signed_pdf(version)[0] is True

    # Someone replaces the file in storage: verify says so.
    name = version.signed_pdf.name
    version.signed_pdf.storage.delete(name)
    version.signed_pdf.storage.save(name, ContentFile(data + b"%tampered"))
    intact, message = signing.verify_signed_pdf(version)
    assert intact is False and "does NOT match" in message


def test_storing_the_signed_pdf_twice_keeps_the_first(customer_a, alice, admin):
    version = signed_agreement(customer=customer_a, customer_user=alice, admin=admin)
    again = signing.store_signed_pdf(version.pk, today=TODAY)
    assert again.signed_pdf.name == version.signed_pdf.name
    assert again.signed_pdf_sha256 == version.signed_pdf_sha256


def test_amendment_is_a_new_version_signed_again_and_terms_stay(customer_a, alice, admin):
    original = signed_agreement(customer=customer_a, customer_user=alice, admin=admin)
    agreement = original.agreement
    term_before = agreement.terms.get()
    draft = signing.start_amendment(agreement, by=admin)
    assert draft.number == 2 and draft.is_draft
    assert draft.lines.count() == original.lines.count()
    with pytest.raises(ValidationError, match="already in progress"):
        signing.start_amendment(agreement, by=admin)

    line = draft.lines.get(kind=ServiceKind.PRESCHEDULED)
    line.hours_per_month = D("12")
    line.save()
    signing.send_for_signature(
        draft, signer=signer_contact(customer_a, alice), by=admin, today=TODAY
    )
    # The superseded-to-be original cannot be signed again.
    with pytest.raises(ValidationError):
        signing.sign_as_customer(original, user=alice, evidence=evidence())
    signing.sign_as_customer(draft, user=alice, evidence=evidence())
    signing.countersign(draft, user=admin, evidence=evidence("Dana"))

    original.refresh_from_db()
    assert original.status == AgreementVersion.Status.SUPERSEDED
    assert agreement.signed_version().pk == draft.pk
    assert list(agreement.terms.all()) == [term_before]
    assert agreement.terms.get().locked_rates == term_before.locked_rates
    with pytest.raises(ValidationError, match="superseded"):
        signing.sign_as_customer(original, user=alice, evidence=evidence())


def test_recall_returns_an_unsigned_version_to_draft(customer_a, alice, staff):
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=staff)
    signing.recall(version, by=staff)
    version.refresh_from_db()
    assert version.is_draft and version.rates_snapshot is None
    assert version.agreement.status == Agreement.Status.DRAFT


def test_agreement_numbers_are_sequential(customer_a, staff):
    from agreements import services

    template = TermsTemplateFactory()
    first = services.create_agreement(customer_a, by=staff, today=TODAY, terms_template=template)
    second = services.create_agreement(customer_a, by=staff, today=TODAY, terms_template=template)
    assert (first.agreement.number, second.agreement.number) == ("CA-2026-0001", "CA-2026-0002")
    assert timezone.is_aware(first.agreement.created_at)

"""No agreement gets stuck half-signed on a far date: the forms refuse start dates outside
2000-01-01 .. 2100-12-31, and a version that has one anyway (older or imported data) is neither
sent nor signed, with a message and nothing written, instead of a server error at the
countersignature (its term's arithmetic overflowed ``date.max``)."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from agreements import signing
from agreements.models import Agreement, AgreementVersion, Signature, Term, TermsTemplate
from agreements.tests.factories import (
    draft_with_all_services,
    evidence,
    sent_agreement,
    signer_contact,
)
from billing.tests.factories import published_card

TODAY = dt.date(2026, 11, 28)
FAR = dt.date(9998, 12, 31)
RANGE = "Enter a date from 2000-01-01 to 2100-12-31."

pytestmark = pytest.mark.usefixtures("rates")


@pytest.fixture
def rates(db):
    return published_card()


def _far(version, start=FAR):
    """Give a version a far start date behind the forms' back, as old or imported data may."""
    AgreementVersion.objects.filter(pk=version.pk).update(start_date=start)
    version.refresh_from_db()
    return version


@time_machine.travel(dt.datetime(2026, 11, 28, 15, tzinfo=dt.UTC))
def test_the_agreement_form_refuses_a_far_start_date(client_for, staff, customer_a):
    response = client_for(staff).post(
        reverse("agreements:agreement_create"),
        {
            "customer": customer_a.pk,
            "terms_template": TermsTemplate.objects.filter(published_at__isnull=False).first().pk,
            "billing_day": "1",
            "payment_terms_days": "30",
            "start_date": FAR.isoformat(),
        },
    )

    assert response.status_code == 200
    assert RANGE in response.content.decode()
    assert not Agreement.objects.exists()


def test_a_draft_with_a_far_start_date_is_not_sent(customer_a, alice, staff):
    version = _far(draft_with_all_services(customer=customer_a))

    with pytest.raises(ValidationError, match="start date 9998-12-31 is out of range"):
        signing.send_for_signature(
            version, signer=signer_contact(customer_a, alice), by=staff, today=TODAY
        )
    version.refresh_from_db()
    assert version.is_draft and version.rates_snapshot is None
    assert "start date 9998-12-31 is out of range" in " ".join(signing.check_ready_to_send(version))


@pytest.mark.parametrize("start", [FAR, dt.date(9999, 12, 31)])
def test_the_agreement_pages_explain_why_a_far_start_date_cannot_be_sent(
    client_for, customer_a, alice, staff, start
):
    version = _far(draft_with_all_services(customer=customer_a), start)
    contact = signer_contact(customer_a, alice)
    client = client_for(staff)
    problem = f"The start date {start.isoformat()} is out of range."

    detail = client.get(reverse("agreements:agreement_detail", args=[version.agreement_id]))
    response = client.post(
        reverse("agreements:agreement_send", args=[version.agreement_id]), {"signer": contact.pk}
    )

    assert problem in detail.content.decode()
    assert response.status_code == 200
    assert problem in response.content.decode()
    assert AgreementVersion.objects.get(pk=version.pk).is_draft


def test_the_customer_cannot_sign_a_sent_version_with_a_far_start_date(customer_a, alice, staff):
    version = _far(sent_agreement(customer=customer_a, customer_user=alice, sender=staff))

    with pytest.raises(ValidationError, match="cannot take effect"):
        signing.sign_as_customer(version, user=alice, evidence=evidence())
    assert not Signature.objects.exists()
    assert AgreementVersion.objects.get(pk=version.pk).status == AgreementVersion.Status.SENT


def test_countersigning_a_far_start_date_fails_cleanly_and_writes_nothing(
    client_for, customer_a, alice, admin
):
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    signing.sign_as_customer(version, user=alice, evidence=evidence())
    _far(version)

    response = client_for(admin).post(
        reverse("agreements:agreement_countersign", args=[version.agreement_id]),
        {"consent": "on", "typed_name": "Dana Whitfield", "drawing": evidence()["drawing"]},
    )

    assert response.status_code == 200
    assert "The start date 9998-12-31 is out of range." in response.content.decode()
    assert list(Signature.objects.values_list("party", flat=True)) == ["customer"]
    version.refresh_from_db()
    assert version.status == AgreementVersion.Status.CUSTOMER_SIGNED
    assert version.agreement.status == Agreement.Status.CUSTOMER_SIGNED
    assert not Term.objects.exists()


def test_the_last_accepted_start_date_still_takes_effect(customer_a, alice, admin):
    version = sent_agreement(
        customer=customer_a, customer_user=alice, sender=admin, start_date=dt.date(2100, 12, 31)
    )
    signing.sign_as_customer(version, user=alice, evidence=evidence())
    signing.countersign(version, user=admin, evidence=evidence("Dana"))

    term = version.agreement.terms.get()
    assert (term.start, term.end) == (dt.date(2100, 12, 31), dt.date(2101, 12, 31))

"""Pages that wait for the worker's signed PDF ask again by themselves (htmx) until it is there,
then stop asking."""

import pytest
from django.urls import reverse

from agreements import signing
from agreements.tests.factories import evidence, sent_agreement
from billing.tests.factories import published_card

POLL = 'hx-trigger="every 3s"'


@pytest.fixture
def countersigned(customer_a, alice, admin):
    """Signed by both parties; the worker has not stored the PDF yet (its task runs on commit)."""
    published_card()
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    signing.sign_as_customer(version, user=alice, evidence=evidence())
    signing.countersign(version, user=admin, evidence=evidence("Dana Whitfield"))
    return version


def test_the_customer_sees_the_pdf_being_prepared_then_the_download(
    countersigned, alice, client_for
):
    client = client_for(alice)
    page = client.get(reverse("portal:agreement_detail", args=[countersigned.agreement_id]))
    body = page.content.decode()
    fragment = reverse("portal:signed_documents", args=[countersigned.agreement_id])
    assert "being prepared" in body and POLL in body and fragment in body
    signing.store_signed_pdf(countersigned.pk, today=countersigned.sent_at.date())
    body = client.get(fragment, HTTP_HX_REQUEST="true").content.decode()
    assert reverse("portal:signed_pdf", args=[countersigned.pk]) in body
    assert POLL not in body  # ready: no more asking


def test_after_the_customer_signs_the_card_says_allora_countersigns_next(
    customer_a, alice, admin, client_for
):
    published_card()
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    signing.sign_as_customer(version, user=alice, evidence=evidence())
    fragment = reverse("portal:signed_documents", args=[version.agreement_id])
    body = client_for(alice).get(fragment).content.decode()
    assert "once Allora has countersigned" in body and POLL not in body


def test_staff_see_the_versions_list_poll_until_the_pdf_is_stored(countersigned, staff, client_for):
    client = client_for(staff)
    page = client.get(reverse("agreements:agreement_detail", args=[countersigned.agreement_id]))
    assert POLL in page.content.decode()
    signing.store_signed_pdf(countersigned.pk, today=countersigned.sent_at.date())
    fragment = reverse("agreements:agreement_versions", args=[countersigned.agreement_id])
    body = client.get(fragment).content.decode()
    assert "Signed PDF" in body and POLL not in body

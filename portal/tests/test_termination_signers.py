"""Only the customer's authorized signers (and Allora staff recording a letter) may file or
withdraw the written termination request, in the portal and the API; a billing contact sees why."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from agreements import lifecycle
from agreements.models import TerminationRequest
from agreements.tests.factories import agreement_for_2027
from allora.tests.api_support import bearer
from allora.tests.authz import billing_contact_of
from billing.tests.factories import published_card

NOW = dt.datetime(2027, 11, 15, 16, 0, tzinfo=dt.UTC)
REFUSAL = "Only an authorized signer of Oak City Dental, PLLC can file or withdraw"


@pytest.fixture
def agreement(customer_a, alice, admin):
    published_card(effective_date=dt.date(2026, 1, 1))
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


@pytest.fixture
def carol(customer_a):
    return billing_contact_of(customer_a)


def file_as(user, agreement, *, channel="portal"):
    return lifecycle.file_termination_request(
        agreement,
        by=user,
        received_at=timezone.now(),
        reason="Moving offices",
        typed_name="Alice Moore",
        channel=channel,
    )


@time_machine.travel(NOW)
def test_billing_contact_sees_why_she_cannot_end_the_agreement(client_for, carol, agreement):
    client = client_for(carol)
    page = client.get(reverse("portal:agreement_detail", args=[agreement.pk])).content.decode()
    assert reverse("portal:terminate", args=[agreement.pk]) not in page
    assert "Only an authorized signer of Oak City Dental, PLLC can file or withdraw" in page
    url = reverse("portal:terminate", args=[agreement.pk])
    refused = client.post(url, {"reason": "Budget", "typed_name": "Carol Diaz", "confirm": "on"})
    assert refused.status_code == 403
    assert REFUSAL in refused.content.decode()
    assert not TerminationRequest.objects.exists()


@time_machine.travel(NOW)
def test_billing_contact_cannot_withdraw_the_signers_request(client_for, alice, carol, agreement):
    request = file_as(alice, agreement)
    client = client_for(carol)
    page = client.get(reverse("portal:agreement_detail", args=[agreement.pk])).content.decode()
    withdraw_url = reverse("portal:withdraw_termination", args=[request.pk])
    assert withdraw_url not in page
    assert client.post(withdraw_url).status_code == 403
    request.refresh_from_db()
    assert request.status == TerminationRequest.Status.STANDING
    with pytest.raises(PermissionDenied, match="Only an authorized signer"):
        lifecycle.withdraw_termination_request(request, by=carol)


@time_machine.travel(NOW)
def test_the_signer_still_sees_the_button(client_for, alice, agreement):
    page = client_for(alice).get(reverse("portal:agreement_detail", args=[agreement.pk]))
    assert reverse("portal:terminate", args=[agreement.pk]) in page.content.decode()


@time_machine.travel(NOW)
def test_api_refuses_a_billing_contact_with_the_reason(client, carol, alice, agreement):
    url = f"/api/v1/agreements/{agreement.pk}/termination-requests"
    body = {"reason": "Budget", "typed_name": "Carol Diaz"}
    response = client.post(url, body, content_type="application/json", headers=bearer(carol))
    assert response.status_code == 403
    assert response.json()["detail"].startswith(REFUSAL)
    request = file_as(alice, agreement)
    withdraw = client.post(
        f"/api/v1/termination-requests/{request.pk}/withdraw", headers=bearer(carol)
    )
    assert withdraw.status_code == 403
    assert withdraw.json()["detail"].startswith(REFUSAL)


@time_machine.travel(NOW)
def test_staff_still_record_a_letter(staff, agreement):
    request = file_as(staff, agreement, channel="letter")
    assert request.filed_by == staff
    lifecycle.withdraw_termination_request(request, by=staff)


@time_machine.travel(NOW)
def test_the_rule_holds_below_the_pages(carol, agreement):
    with pytest.raises(PermissionDenied, match="Only an authorized signer"):
        file_as(carol, agreement)

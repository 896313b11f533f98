"""The customer's agreement pages in the portal: next term's rates once finalized, asking to end
the agreement (timely or late, with the exact dates), withdrawing that request, and the timeline
of what the customer may see."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.urls import reverse

from agreements import lifecycle
from agreements.models import TerminationRequest
from agreements.tests.factories import agreement_for_2027
from billing.tests.factories import published_card

NOW = dt.datetime(2027, 11, 15, 16, 0, tzinfo=dt.UTC)  # 11:00 in Raleigh


@pytest.fixture
def agreement(customer_a, alice, admin):
    """Term 1 [2027-01-01, 2028-01-01): ends in 47 days on NOW, deadline 2027-12-01."""
    published_card(effective_date=dt.date(2026, 1, 1))
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


@time_machine.travel(NOW)
def test_customer_sees_finalized_next_term_rates_in_the_portal(client_for, admin, alice, agreement):
    review = lifecycle.save_rate_review(
        agreement, method="uplift", uplift_percent=D("5"), by=admin, today=dt.date(2027, 11, 15)
    )
    url = reverse("portal:agreement_detail", args=[agreement.pk])
    assert "Rates for your next term" not in client_for(alice).get(url).content.decode()
    lifecycle.finalize_rate_review(review, by=admin, today=dt.date(2027, 11, 15))
    page = client_for(alice).get(url).content.decode()
    assert "Rates for your next term" in page and "$157.50" in page


@time_machine.travel(dt.datetime(2027, 12, 10, 16, tzinfo=dt.UTC))
def test_portal_late_request_shows_the_exact_dates(client_for, alice, agreement):
    client = client_for(alice)
    url = reverse("portal:terminate", args=[agreement.pk])
    assert "The notice deadline of December 1, 2027 has passed" in client.get(url).content.decode()
    response = client.post(
        url,
        {"reason": "Budget cuts", "typed_name": "Alice Moore", "confirm": "on"},
        follow=True,
    )
    page = response.content.decode()
    assert (
        "Your request arrived after the notice deadline of December 1, 2027. The agreement renews "
        "on January 1, 2028 for one year and will end on December 31, 2028" in page
    )
    request = TerminationRequest.objects.get()
    assert request.filed_by == alice and request.channel == "portal"


@time_machine.travel(NOW)
def test_portal_request_without_confirmation_is_a_form_error(client_for, alice, agreement):
    response = client_for(alice).post(
        reverse("portal:terminate", args=[agreement.pk]),
        {"reason": "x", "typed_name": "Alice Moore"},
    )
    assert "Tick the confirmation" in response.content.decode()
    assert not TerminationRequest.objects.exists()


@time_machine.travel(NOW)
def test_customer_withdraws_after_confirming(client_for, alice, agreement):
    request = lifecycle.file_termination_request(
        agreement,
        by=alice,
        received_at=NOW,
        reason="r",
        typed_name="Alice Moore",
        channel="portal",
    )
    url = reverse("portal:withdraw_termination", args=[request.pk])
    assert "Withdraw the termination request?" in client_for(alice).get(url).content.decode()
    client_for(alice).post(url)
    request.refresh_from_db()
    assert request.status == TerminationRequest.Status.WITHDRAWN


@time_machine.travel(NOW)
def test_portal_timeline_shows_the_customer_their_history(client_for, alice, agreement):
    lifecycle.file_termination_request(
        agreement, by=alice, received_at=NOW, reason="r", typed_name="Alice Moore", channel="portal"
    )
    page = (
        client_for(alice)
        .get(reverse("portal:agreement_detail", args=[agreement.pk]))
        .content.decode()
    )
    assert "Timeline" in page
    assert "Active: term 1 from January 1, 2027 to December 31, 2027" in page
    assert "Your agreement will end on December 31, 2027 and will not renew." in page
    assert "Agreement drafted" not in page  # internal history stays internal

"""Staff hear of a customer's termination request (issue 13): an email to Allora's staff and
admins, once, and a queue item on the staff home until someone acknowledges it."""

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agreements import lifecycle
from agreements.models import AgreementEvent, TerminationRequest
from agreements.tests.factories import CustomerFactory, agreement_for_2027
from allora import dashboard
from allora.tests.factories import UserFactory
from billing.tests.factories import published_card

UTC = dt.UTC
# 23:59 in Raleigh on the notice deadline (December 1, 2027): still timely.
DEADLINE_2359 = dt.datetime(2027, 12, 2, 4, 59, tzinfo=UTC)


@pytest.fixture(autouse=True)
def rates(db):
    return published_card(effective_date=dt.date(2026, 1, 1))


@pytest.fixture
def agreement(customer_a, alice, admin):
    """Active, term 1 = [2027-01-01, 2028-01-01): last day 2027-12-31, deadline 2027-12-01."""
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def file(agreement, user, received_at, channel="portal"):
    return lifecycle.file_termination_request(
        agreement,
        by=user,
        received_at=received_at,
        reason="We are moving to an in-house IT team.",
        typed_name="Alice Moore",
        channel=channel,
        now=received_at,
    )


def staff_emails():
    return [email for email in mail.outbox if "acknowledge" in email.subject.lower()]


def test_a_customers_request_emails_the_active_staff_and_admins_once(
    agreement, alice, staff, admin, django_capture_on_commit_callbacks
):
    UserFactory(role="staff", email="gone@allora.example", is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        request = file(agreement, alice, DEADLINE_2359)
    [email] = staff_emails()
    assert sorted(email.to) == sorted([admin.email, staff.email])
    assert email.subject == (
        f"{agreement.customer} asks to end agreement {agreement.number}: please acknowledge"
    )
    body = email.body
    assert f"Customer Agreement {agreement.number} for {agreement.customer}" in body
    assert "Alice Moore (alice@oakcity.example)" in body and "customer portal" in body
    # The customer's local time, not UTC: 23:59 on the deadline, so on time.
    assert "Received: Wednesday, December 1, 2027, 23:59 EST (the customer's time)" in body
    assert "On time: received on or before the notice deadline of December 1, 2027." in body
    assert "last day on December 31, 2027" in body
    assert "Reason: We are moving to an in-house IT team." in body
    link = f"{settings.SITE_URL}{reverse('agreements:agreement_detail', args=[agreement.pk])}"
    assert link in body
    html = email.alternatives[0][0]
    assert f'href="{link}"' in html and "23:59 EST" in html
    # The customer's own confirmation goes to the customer, not to the staff.
    customer_email = next(e for e in mail.outbox if e is not email)
    assert alice.email in customer_email.to and staff.email not in customer_email.to

    # Filing again while it stands is refused and emails nobody; so is a withdrawal.
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(ValidationError, match="already stands"):
            file(agreement, alice, DEADLINE_2359 + dt.timedelta(minutes=1))
        lifecycle.withdraw_termination_request(request, by=alice, now=DEADLINE_2359)
    assert len(staff_emails()) == 1


def test_a_late_request_tells_the_staff_it_renews_first(
    agreement, alice, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        file(agreement, alice, DEADLINE_2359 + dt.timedelta(minutes=2))
    [email] = staff_emails()
    assert "Received: Thursday, December 2, 2027, 00:01 EST" in email.body
    assert "Late: received after the notice deadline of December 1, 2027" in email.body
    assert "renews on January 1, 2028 first" in email.body
    assert "last day on December 31, 2028" in email.body


def test_a_rolled_back_request_emails_nobody(
    agreement, alice, staff, monkeypatch, django_capture_on_commit_callbacks
):
    def fail(*args, **kwargs):  # the last step of filing, after the staff email is queued
        raise RuntimeError("the database went away")

    monkeypatch.setattr(lifecycle, "_remind", fail)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        file(agreement, alice, DEADLINE_2359)
    assert not TerminationRequest.objects.exists()
    assert callbacks == [] and mail.outbox == []


def test_a_letter_staff_record_tells_the_other_staff_and_needs_no_acknowledging(
    agreement, staff, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        request = file(agreement, staff, DEADLINE_2359, channel="letter")
    [email] = [e for e in mail.outbox if e.subject.startswith("Termination request recorded")]
    assert email.subject.endswith(f"for {agreement.number} ({agreement.customer})")
    assert email.to == [admin.email]  # not to the one who recorded it
    assert f"{staff} recorded a written request" in email.body and "by letter" in email.body
    assert not request.to_acknowledge
    assert (request.acknowledged_by, request.acknowledged_at) == (staff, DEADLINE_2359)
    assert dashboard.standing_terminations() == [request]


@time_machine.travel(dt.datetime(2027, 6, 1, 16, tzinfo=UTC), tick=False)
def test_a_request_filed_in_the_portal_reaches_the_staff(
    agreement, alice, staff, admin, client_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client_for(alice).post(
            reverse("portal:terminate", args=[agreement.pk]),
            {"reason": "Budget cuts", "typed_name": "Alice Moore", "confirm": "on"},
        )
    [email] = staff_emails()
    assert sorted(email.to) == sorted([admin.email, staff.email])
    assert "Reason: Budget cuts" in email.body
    assert "Received: Tuesday, June 1, 2027, 12:00 EDT" in email.body


@time_machine.travel(dt.datetime(2027, 6, 1, 16, tzinfo=UTC), tick=False)
def test_staff_acknowledge_from_the_home_and_the_history_says_who(
    agreement, alice, staff, client_for
):
    request = file(agreement, alice, dt.datetime(2027, 6, 1, 15, tzinfo=UTC))
    client = client_for(staff)
    home = client.get(reverse("staff_home")).content.decode()
    url = reverse("agreements:acknowledge_termination", args=[request.pk])
    assert "To acknowledge" in home and f'action="{url}"' in home

    response = client.post(url, {"from": "home"}, follow=True)
    assert response.redirect_chain == [(reverse("staff_home"), 302)]
    page = response.content.decode()
    assert f"Termination request for {agreement.number} acknowledged" in page
    assert "To acknowledge" not in page and f'action="{url}"' not in page
    request.refresh_from_db()
    assert request.acknowledged_by == staff and not request.to_acknowledge
    assert request.acknowledged_at == dt.datetime(2027, 6, 1, 16, tzinfo=UTC)
    event = agreement.events.get(kind=AgreementEvent.Kind.REQUEST_ACKNOWLEDGED)
    assert event.actor == staff
    assert event.message == f"Termination request of June 1, 2027 acknowledged by {staff}"
    # Still standing, so still listed, but no longer waiting for anyone.
    assert dashboard.standing_terminations() == [request]

    # Twice is refused with who did it; the history keeps one line.
    again = client.post(url, follow=True)
    assert again.redirect_chain == [
        (reverse("agreements:agreement_detail", args=[agreement.pk]), 302)
    ]
    assert f"{staff} already acknowledged this request" in again.content.decode()
    assert agreement.events.filter(kind=AgreementEvent.Kind.REQUEST_ACKNOWLEDGED).count() == 1


@time_machine.travel(dt.datetime(2027, 6, 1, 16, tzinfo=UTC), tick=False)
def test_the_agreement_page_offers_the_acknowledgement_then_says_who_gave_it(
    agreement, alice, admin, client_for
):
    request = file(agreement, alice, dt.datetime(2027, 6, 1, 15, tzinfo=UTC))
    client = client_for(admin)
    page_url = reverse("agreements:agreement_detail", args=[agreement.pk])
    url = reverse("agreements:acknowledge_termination", args=[request.pk])
    assert f'action="{url}"' in client.get(page_url).content.decode()
    page = client.post(url, follow=True).content.decode()
    assert f'action="{url}"' not in page
    assert f"Acknowledged by {admin} on June 1, 2027" in page


@time_machine.travel(dt.datetime(2027, 6, 1, 16, tzinfo=UTC), tick=False)
def test_a_customer_cannot_acknowledge(agreement, alice, bob, client_for):
    request = file(agreement, alice, dt.datetime(2027, 6, 1, 15, tzinfo=UTC))
    url = reverse("agreements:acknowledge_termination", args=[request.pk])
    assert client_for(alice).post(url).status_code == 403
    assert client_for(bob).post(url).status_code == 403
    assert client_for(None).post(url).status_code == 302
    request.refresh_from_db()
    assert request.to_acknowledge
    assert not agreement.events.filter(kind=AgreementEvent.Kind.REQUEST_ACKNOWLEDGED).exists()
    with pytest.raises(PermissionDenied, match="Only Allora staff"):
        lifecycle.acknowledge_termination_request(request, by=alice)


def test_a_withdrawn_request_cannot_be_acknowledged(agreement, alice, staff):
    request = file(agreement, alice, DEADLINE_2359)
    lifecycle.withdraw_termination_request(request, by=alice, now=DEADLINE_2359)
    with pytest.raises(ValidationError, match="no longer standing"):
        lifecycle.acknowledge_termination_request(request, by=staff)


def test_the_queue_lists_requests_to_acknowledge_first(agreement, alice, staff, admin):
    # An acknowledged request ending sooner, then one to acknowledge ending later.
    other_customer = CustomerFactory(legal_name="Glenwood Dental")
    other_user = UserFactory(role="customer", customer=other_customer, email="g@glen.example")
    other = agreement_for_2027(customer=other_customer, customer_user=other_user, admin=admin)
    soon = file(agreement, alice, dt.datetime(2027, 6, 1, 15, tzinfo=UTC))
    lifecycle.acknowledge_termination_request(soon, by=staff)
    later = file(other, other_user, DEADLINE_2359 + dt.timedelta(days=1))  # late: ends 2029
    assert dashboard.standing_terminations() == [later, soon]


@time_machine.travel(dt.datetime(2027, 6, 1, 16, tzinfo=UTC), tick=False)
def test_the_staff_home_reads_the_queue_in_the_same_queries_whatever_its_length(
    agreement, alice, staff, admin, client_for
):
    file(agreement, alice, dt.datetime(2027, 6, 1, 15, tzinfo=UTC))
    client = client_for(staff)
    client.get(reverse("staff_home"))  # the first visit prices the new terms

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("staff_home")).status_code == 200
        return len(queries)

    one = count()
    for index in range(3):
        customer = CustomerFactory(legal_name=f"Queue customer {index}")
        user = UserFactory(role="customer", customer=customer, email=f"q{index}@q.example")
        other = agreement_for_2027(customer=customer, customer_user=user, admin=admin)
        file(other, user, dt.datetime(2027, 6, 1, 15, tzinfo=UTC))
    client.get(reverse("staff_home"))
    assert count() == one

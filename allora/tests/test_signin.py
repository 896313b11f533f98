"""Signing in safely: repeated wrong passwords lock the account-and-address pair for a while
(django-axes), password-reset emails are throttled, reset links live an hour while invitations
live a week, and sessions end after 12 hours (staff: after 30 idle minutes)."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from axes.models import AccessAttempt
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from agreements.services import set_password_url
from allora.models import User
from allora.tests.factories import UserFactory

PASSWORD = "correct-horse-battery"
MONDAY_9AM = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)


def sign_in(client, user, password=PASSWORD, **extra):
    return client.post(reverse("login"), {"username": user.email, "password": password}, **extra)


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY_9AM, tick=False) as traveller:
        yield traveller


# Lockout ---------------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_from_that_address_with_a_plain_message(
    client, staff, clock
):
    for _ in range(4):
        assert sign_in(client, staff, "wrong").status_code == 200
    assert sign_in(client, staff, "wrong").status_code == 429

    response = sign_in(client, staff)  # the right password, too late
    assert response.status_code == 429
    page = response.content.decode()
    assert "This account is locked for a while." in page
    assert "15 minutes" in page
    assert "_auth_user_id" not in client.session
    attempt = AccessAttempt.objects.get(username=staff.email)
    assert attempt.failures_since_start >= 5 and attempt.ip_address == "127.0.0.1"


def test_the_lock_is_for_the_pair_another_address_still_signs_in(client, staff, clock):
    for _ in range(5):
        sign_in(client, staff, "wrong")
    elsewhere = sign_in(Client(), staff, REMOTE_ADDR="198.51.100.7")
    assert elsewhere.status_code == 302


@override_settings(TRUSTED_PROXIES=["127.0.0.1"])
def test_behind_the_proxy_the_lock_is_for_the_client_not_the_proxy(client, staff, clock):
    """Every request arrives from the reverse proxy (127.0.0.1): locking the proxy's address
    would lock the account for everyone."""
    for _ in range(5):
        sign_in(client, staff, "wrong", HTTP_X_FORWARDED_FOR="203.0.113.9")
    attempt = AccessAttempt.objects.get(username=staff.email)
    assert attempt.ip_address == "203.0.113.9"
    assert sign_in(client, staff, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429
    assert sign_in(Client(), staff, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 302


def test_the_lock_lifts_after_the_cooling_off_period(client, staff, clock):
    for _ in range(5):
        sign_in(client, staff, "wrong")
    clock.shift(timedelta(minutes=14))
    assert sign_in(client, staff).status_code == 429
    clock.shift(timedelta(minutes=16))  # the try at 14 minutes started the pause again
    assert sign_in(client, staff).status_code == 302
    assert client.get(reverse("staff_home")).status_code == 200


def test_the_email_is_counted_whatever_its_case(client, staff, clock):
    for _ in range(5):
        client.post(reverse("login"), {"username": staff.email.upper(), "password": "wrong"})
    assert sign_in(client, staff).status_code == 429


def test_a_locked_out_sign_in_checks_no_password(client, staff, clock):
    for _ in range(5):
        sign_in(client, staff, "wrong")
    with mock.patch.object(User, "check_password", autospec=True) as check_password:
        assert sign_in(client, staff, "wrong").status_code == 429
    check_password.assert_not_called()


# Password resets -------------------------------------------------------------------------


def ask_for_reset(email, ip="203.0.113.5"):
    return Client().post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=ip)


def test_reset_emails_stop_after_three_an_hour_for_one_address(staff, clock):
    for n in range(5):
        response = ask_for_reset(staff.email, ip=f"203.0.113.{n}")
        assert response["Location"] == reverse("password_reset_done")  # the same neutral page
    assert len(mail.outbox) == 3
    clock.shift(timedelta(minutes=61))
    ask_for_reset(staff.email)
    assert len(mail.outbox) == 4


def test_reset_emails_stop_after_three_an_hour_from_one_client_address(db, clock):
    people = [UserFactory() for _ in range(5)]
    for person in people:
        response = ask_for_reset(person.email, ip="203.0.113.9")
        assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 3
    ask_for_reset(people[4].email, ip="203.0.113.10")
    assert len(mail.outbox) == 4


def _link(email):
    return next(word for word in email.body.split() if "/accounts/reset/" in word).replace(
        "http://testserver", ""
    )


def _link_works(link):
    page = Client().get(link, follow=True)
    return page.context["validlink"]


def test_a_reset_link_expires_after_an_hour_while_an_invitation_still_works_after_six_days(
    staff, customer_a, clock
):
    invited = UserFactory(role="customer", customer=customer_a, password=None)
    invitation = set_password_url(invited).removeprefix("http://127.0.0.1:8000")
    ask_for_reset(staff.email)
    reset = _link(mail.outbox[0])

    clock.shift(timedelta(minutes=59))
    assert _link_works(reset)
    clock.shift(timedelta(minutes=2))
    assert not _link_works(reset)

    clock.shift(timedelta(days=6))
    assert _link_works(invitation)
    clock.shift(timedelta(days=1, minutes=1))
    assert not _link_works(invitation)


def test_a_reset_token_is_not_an_invitation(staff, clock):
    ask_for_reset(staff.email)
    reset = _link(mail.outbox[0])
    uid, token = reset.rstrip("/").split("/")[-2:]
    invitation_url = reverse("invitation_accept", kwargs={"uidb64": uid, "token": token})
    assert not _link_works(invitation_url)


# Sessions --------------------------------------------------------------------------------


def test_staff_are_signed_out_after_30_idle_minutes(client, staff, clock):
    client.force_login(staff)
    clock.shift(timedelta(minutes=29))
    assert client.get(reverse("staff_home")).status_code == 200
    clock.shift(timedelta(minutes=29))  # active 29 minutes ago: still in
    assert client.get(reverse("staff_home")).status_code == 200
    clock.shift(timedelta(minutes=31))
    response = client.get(reverse("staff_home"))
    assert response["Location"] == f"{reverse('login')}?next={reverse('staff_home')}"
    page = client.get(response["Location"]).content.decode()
    assert "You were signed out after 30 minutes without activity." in page
    assert "_auth_user_id" not in client.session


def test_customer_users_stay_signed_in_while_idle_until_12_hours_have_passed(client, alice, clock):
    client.force_login(alice)
    clock.shift(timedelta(hours=3))
    assert client.get(reverse("portal:home")).status_code == 200
    clock.shift(timedelta(hours=8, minutes=59))
    assert client.get(reverse("portal:home")).status_code == 200
    clock.shift(timedelta(minutes=2))
    response = client.get(reverse("portal:home"))
    assert response["Location"].startswith(reverse("login"))


def test_a_session_ends_12_hours_after_signing_in_even_when_busy(client, staff, clock):
    client.force_login(staff)
    for _ in range(25):  # a request every half hour less a minute
        clock.shift(timedelta(minutes=29))
        client.get(reverse("staff_home"))
    assert client.get(reverse("staff_home")).status_code == 302

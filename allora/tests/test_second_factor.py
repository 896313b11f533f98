"""The second factor: staff set up an authenticator app on first sign-in (when enforced),
everyone with one confirms a code after the password (or a one-time recovery code), a browser
may be remembered for 30 days, admins reset someone's factor (recorded), and API tokens never
need a code."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from allora import second_factor
from allora.models import ApiToken, SecondFactorEvent

PASSWORD = "correct-horse-battery"
MONDAY_9AM = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)


def code_of(device):
    return f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"


def wrong_code(device):
    return f"{(int(code_of(device)) + 1) % 10**6:06d}"


def sign_in(client, user, password=PASSWORD):
    return client.post(reverse("login"), {"username": user.email, "password": password})


@pytest.fixture
def enforced(settings):
    settings.OTP_REQUIRED_FOR_STAFF = True


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY_9AM, tick=False) as traveller:
        yield traveller


def with_app(user):
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def test_staff_set_up_an_app_on_first_sign_in_and_see_recovery_codes_once(
    client, staff, enforced, clock
):
    sign_in(client, staff)
    response = client.get(reverse("staff_home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("second_factor_enroll"))

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "otpauth://totp/Allora" in html
    assert "<script" not in html.split("</main>")[0] and " style=" not in html
    device = TOTPDevice.objects.get(user=staff, confirmed=False)

    refused = client.post(response["Location"], {"code": wrong_code(device)})
    assert "That code does not match" in refused.content.decode()
    assert client.get(reverse("staff_home")).status_code == 302

    clock.shift(timedelta(seconds=2))  # django-otp makes a miss wait before the next try
    confirmed = client.post(response["Location"], {"code": code_of(device), "next": "/staff/"})
    assert confirmed["Location"].startswith(reverse("second_factor_recovery_codes"))
    codes = client.get(confirmed["Location"]).context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get(reverse("second_factor_recovery_codes")).context["codes"] is None
    assert client.get(reverse("staff_home")).status_code == 200
    assert SecondFactorEvent.objects.get(user=staff).kind == SecondFactorEvent.Kind.ENROLLED


@pytest.mark.parametrize(
    "name", ["staff_home", "agreements:customer_list", "profile", "billing:ratecard_list"]
)
def test_unverified_staff_reach_only_the_second_factor_pages(client, staff, enforced, name):
    with_app(staff)
    client.force_login(staff)
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('second_factor_verify')}?next={reverse(name)}"
    code_page = client.get(reverse("second_factor_verify"))
    assert code_page.status_code == 200
    # No navigation while the code is owed: every link would only lead back here.
    assert reverse("agreements:customer_list") not in code_page.content.decode()
    assert client.post(reverse("logout")).status_code == 302


def test_enforced_staff_without_an_app_cannot_use_the_admin_site(client, admin, enforced):
    client.force_login(admin)
    response = client.get(reverse("admin:index"))
    assert response["Location"].startswith(reverse("second_factor_enroll"))


def test_without_enforcement_the_demo_staff_sign_straight_in(client, staff):
    sign_in(client, staff)
    assert client.get(reverse("staff_home")).status_code == 200


def test_a_code_after_the_password_and_a_remembered_browser_skips_it_for_30_days(
    client, staff, enforced, clock
):
    device = with_app(staff)
    sign_in(client, staff)
    assert client.get(reverse("staff_home"))["Location"].startswith(reverse("second_factor_verify"))
    wrong = client.post(reverse("second_factor_verify"), {"code": wrong_code(device)})
    assert "That code does not match" in wrong.content.decode()

    clock.shift(timedelta(seconds=2))  # django-otp makes a miss wait before the next try
    ok = client.post(
        reverse("second_factor_verify"),
        {"code": code_of(device), "remember": "on", "next": "/staff/"},
    )
    assert ok["Location"] == "/staff/"
    cookie = ok.cookies[second_factor.REMEMBER_COOKIE]
    assert cookie["httponly"] and cookie["max-age"] == 30 * 24 * 60 * 60
    assert client.get(reverse("staff_home")).status_code == 200

    client.post(reverse("logout"))
    clock.shift(timedelta(days=29))
    sign_in(client, staff)
    assert client.get(reverse("staff_home")).status_code == 200  # remembered: no code

    client.post(reverse("logout"))
    clock.shift(timedelta(days=2))
    sign_in(client, staff)
    assert client.get(reverse("staff_home")).status_code == 302  # 31 days: asked again


def test_a_remembered_browser_is_forgotten_when_the_second_factor_is_reset(
    client, staff, admin, enforced, clock
):
    device = with_app(staff)
    sign_in(client, staff)
    client.post(reverse("second_factor_verify"), {"code": code_of(device), "remember": "on"})
    client.post(reverse("logout"))
    second_factor.reset_second_factor(staff, by=admin)
    with_app(staff)  # a new phone, set up again

    sign_in(client, staff)
    assert client.get(reverse("staff_home"))["Location"].startswith(reverse("second_factor_verify"))


def test_a_recovery_code_signs_in_once(client, alice, clock):
    with_app(alice)  # a customer user who turned it on
    codes = second_factor.new_recovery_codes(alice, now=MONDAY_9AM)
    client.force_login(alice)
    assert client.get(reverse("portal:home"))["Location"].startswith(
        reverse("second_factor_verify")
    )
    assert client.post(reverse("second_factor_verify"), {"code": codes[0].upper()}).status_code
    assert client.get(reverse("portal:home")).status_code == 200
    assert SecondFactorEvent.objects.filter(
        user=alice, kind=SecondFactorEvent.Kind.RECOVERY_CODE_USED
    ).exists()

    client.post(reverse("logout"))
    client.force_login(alice)
    clock.shift(timedelta(minutes=5))
    used_again = client.post(reverse("second_factor_verify"), {"code": codes[0]})
    assert used_again.status_code == 200  # refused: each code works once
    assert client.get(reverse("portal:home")).status_code == 302
    assert StaticDevice.objects.get(user=alice).token_set.count() == 9


def test_customer_users_may_turn_it_on_from_their_profile_and_off_again(client, alice, clock):
    client.force_login(alice)
    assert "Set up an authenticator app" in client.get(reverse("profile")).content.decode()
    client.get(reverse("second_factor_enroll"))
    device = TOTPDevice.objects.get(user=alice)
    client.post(reverse("second_factor_enroll"), {"code": code_of(device)})
    assert second_factor.has_second_factor(alice)

    client.post(reverse("second_factor_turn_off"))
    assert not second_factor.has_second_factor(alice)
    assert [event.kind for event in alice.second_factor_events.all()] == ["turned_off", "enrolled"]


def test_enforced_staff_cannot_turn_it_off(client, staff, enforced, clock):
    device = with_app(staff)
    client.force_login(staff)
    client.post(reverse("second_factor_verify"), {"code": code_of(device)})
    client.post(reverse("second_factor_turn_off"))
    assert second_factor.has_second_factor(staff)


def test_an_admin_resets_a_staff_members_second_factor_and_it_is_in_the_history(
    client_for, admin, staff
):
    with_app(staff)
    second_factor.new_recovery_codes(staff, now=MONDAY_9AM)
    url = reverse("second_factor_reset", args=[staff.pk])
    client = client_for(admin)
    assert "Reset the second factor of marcus@allora.example?" in client.get(url).content.decode()

    response = client.post(url, follow=True)
    assert not TOTPDevice.objects.filter(user=staff).exists()
    assert not StaticDevice.objects.filter(user=staff).exists()
    event = SecondFactorEvent.objects.get(user=staff, kind=SecondFactorEvent.Kind.RESET)
    assert event.by == admin
    assert "dana@allora.example" in response.content.decode()  # the history names the admin
    assert "reset the second factor" in response.content.decode()


def test_staff_cannot_reset_someone_elses_second_factor(client_for, staff, admin):
    with_app(admin)
    response = client_for(staff).post(reverse("second_factor_reset", args=[admin.pk]))
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=admin).exists()


def test_api_tokens_need_no_second_factor_but_the_browser_session_does(client, staff, enforced):
    _token, secret = ApiToken.issue(staff, name="RMM sync")
    answer = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200

    client.force_login(staff)  # password only: the code is still owed
    refused = client.get("/api/v1/me")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Confirm your second factor in the browser first"}

"""Revocation is complete: a revoked contact's password and API tokens stop working for good (a
re-invitation starts with a new password and no token), the customer's calendar feed gets a new
address when its last portal user leaves, and staff can give a customer's feed a new address at
any time (recorded in the customer's history)."""

from django.test import Client
from django.urls import reverse

from agreements import services
from agreements.models import Contact
from agreements.tests.factories import ContactFactory
from allora.models import ApiToken
from allora.tests.factories import UserFactory
from scheduling.models import CalendarFeed

PASSWORD = "correct-horse-battery"  # the factories' password


def feed_status(token):
    return Client().get(reverse("scheduling:feed", args=[token])).status_code


def signs_in_with_old_password(user):
    response = Client().post(reverse("login"), {"username": user.email, "password": PASSWORD})
    return response.status_code == 302


def api_status(secret):
    return Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code


def second_portal_user(customer):
    user = UserFactory(role="customer", customer=customer, email="carol@oakcity.example")
    ContactFactory(
        customer=customer, user=user, email=user.email, name="Carol Diaz", has_portal_access=True
    )
    return user


def test_revoking_the_last_portal_user_gives_the_feed_a_new_address(
    client_for, staff, alice, customer_a
):
    old = CalendarFeed.for_customer(customer_a).token
    assert feed_status(old) == 200
    contact = Contact.objects.get(user=alice)
    client_for(staff).post(reverse("agreements:contact_revoke", args=[contact.pk]))
    new = CalendarFeed.objects.get(customer=customer_a).token
    assert new != old
    assert feed_status(old) == 404
    assert feed_status(new) == 200
    page = client_for(staff).get(reverse("agreements:customer_detail", args=[customer_a.pk]))
    assert "Alice Moore, the last portal user, lost portal access" in page.content.decode()


def test_revoking_one_of_several_portal_users_keeps_the_feed(alice, customer_a):
    second_portal_user(customer_a)
    old = CalendarFeed.for_customer(customer_a).token
    services.revoke_portal_access(Contact.objects.get(user=alice))
    assert CalendarFeed.objects.get(customer=customer_a).token == old
    assert feed_status(old) == 200


def test_revocation_stops_the_password_and_the_api_tokens(alice):
    _token, secret = ApiToken.issue(alice, name="RMM sync")
    assert api_status(secret) == 200
    services.revoke_portal_access(Contact.objects.get(user=alice))
    alice.refresh_from_db()
    assert not alice.has_usable_password()
    assert not alice.api_tokens.filter(revoked_at__isnull=True).exists()
    assert api_status(secret) == 401


def test_reinvited_contact_needs_a_new_password_and_has_no_tokens(staff, alice):
    _token, secret = ApiToken.issue(alice, name="RMM sync")
    contact = Contact.objects.get(user=alice)
    services.revoke_portal_access(contact)
    services.invite_contact(contact, invited_by=staff)
    alice.refresh_from_db()
    assert alice.is_active
    assert not alice.has_usable_password()
    assert not signs_in_with_old_password(alice)
    assert api_status(secret) == 401
    assert not alice.api_tokens.filter(revoked_at__isnull=True).exists()


def test_reinviting_an_account_deactivated_before_this_change_also_clears_it(staff, alice):
    # Revoked the old way (only deactivated): the password and the token survived.
    _token, secret = ApiToken.issue(alice, name="RMM sync")
    type(alice).objects.filter(pk=alice.pk).update(is_active=False)
    services.invite_contact(Contact.objects.get(user=alice), invited_by=staff)
    alice.refresh_from_db()
    assert not signs_in_with_old_password(alice)
    assert api_status(secret) == 401


def test_staff_give_a_customer_feed_a_new_address_after_confirming(client_for, staff, customer_a):
    old = CalendarFeed.for_customer(customer_a).token
    client = client_for(staff)
    url = reverse("agreements:customer_feed_rotate", args=[customer_a.pk])
    detail = reverse("agreements:customer_detail", args=[customer_a.pk])
    assert url in client.get(detail).content.decode()
    confirm = client.get(url)
    assert "Create a new calendar address?" in confirm.content.decode()
    assert CalendarFeed.objects.get(customer=customer_a).token == old

    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == detail
    new = CalendarFeed.objects.get(customer=customer_a).token
    assert new != old
    assert feed_status(old) == 404
    assert feed_status(new) == 200
    page = client.get(detail).content.decode()
    assert "New address, made by Allora staff" in page
    assert old not in page and new not in page  # the history never shows the secret

"""The signing email's link: the invited signer chooses a password, is signed in, and lands on
the signing page; a `next` that leaves the site is ignored."""

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from agreements import signing
from agreements.services import set_password_url
from agreements.tests.factories import ContactFactory, draft_with_all_services, sent_agreement
from billing.tests.factories import published_card

PASSWORD = "a-long-new-passphrase-42"


@pytest.fixture
def invite(customer_a, admin, django_capture_on_commit_callbacks):
    """Send an agreement to a signer with no portal account yet: sending creates it, with no
    password, and emails the invitation."""

    def send():
        published_card()
        contact = ContactFactory(
            customer=customer_a, email="new.signer@oakcity.example", is_authorized_signer=True
        )
        version = draft_with_all_services(customer=customer_a)
        with django_capture_on_commit_callbacks(execute=True):
            signing.send_for_signature(
                version, signer=contact, by=admin, today=dt.date(2026, 11, 28)
            )
        return contact, version

    return send


def password_link(message):
    return re.search(r"https?://\S+/accounts/reset/invitation/\S+", message.body).group(0)


def choose_password(client, link):
    """Open the emailed link and set the password, as the person does."""
    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"], "the invitation link should work"
    return client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": PASSWORD, "new_password2": PASSWORD},
    )


def test_the_signing_emails_link_leads_after_the_password_straight_to_the_signing_page(invite):
    contact, version = invite()
    (message,) = mail.outbox
    sign_url = reverse("portal:agreement_sign", args=[version.agreement_id])
    link = password_link(message)
    assert "next=" in link and sign_url.replace("/", "%2F") in link
    client = Client()
    response = choose_password(client, link.replace("http://127.0.0.1:8000", ""))
    assert response.status_code == 302 and response["Location"] == sign_url
    page = client.get(sign_url)
    assert page.status_code == 200
    assert "Review and sign" in page.content.decode()
    user = get_user_model().objects.get(email=contact.email)
    assert user.check_password(PASSWORD)


def test_an_invitation_whose_next_leaves_the_site_goes_home(customer_a):
    user = get_user_model().objects.create_user(
        "x@oakcity.example", password=None, role="customer", customer=customer_a
    )
    link = set_password_url(user, next_url="https://evil.example/steal").replace(
        "http://127.0.0.1:8000", ""
    )
    response = choose_password(Client(), link)
    assert response["Location"] == reverse("home")


def test_an_invitation_without_next_still_signs_in_and_goes_home(customer_a, alice, admin):
    user = get_user_model().objects.create_user(
        "y@oakcity.example", password=None, role="customer", customer=customer_a
    )
    client = Client()
    response = choose_password(client, set_password_url(user).replace("http://127.0.0.1:8000", ""))
    assert response["Location"] == reverse("home")
    assert client.get(reverse("portal:home")).status_code == 200


def test_a_signer_with_a_password_gets_the_signing_page_link(
    customer_a, alice, admin, django_capture_on_commit_callbacks
):
    published_card()
    with django_capture_on_commit_callbacks(execute=True):
        version = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    message = mail.outbox[-1]
    sign_url = reverse("portal:agreement_sign", args=[version.agreement_id])
    assert sign_url in message.body and "/accounts/reset/invitation/" not in message.body

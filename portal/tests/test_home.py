"""The customer's home page: their own company and contacts, never another's."""

from django.urls import reverse

from agreements.tests.factories import ContactFactory


def test_portal_home_shows_only_the_users_own_company(client_for, alice, bob, customer_b):
    ContactFactory(customer=customer_b, name="Bob's Colleague")
    page = client_for(alice).get(reverse("portal:home")).content.decode()
    assert "Oak City Dental, PLLC" in page
    assert "Triangle Legal" not in page
    assert "Bob&#x27;s Colleague" not in page and "Bob's Colleague" not in page

"""The shared fixture set: an admin, a staff member, alice (a user of customer A) and bob
(a user of customer B, the outsider who must never see A's data)."""

import pytest


@pytest.fixture
def customer_a(db):
    from agreements.tests.factories import CustomerFactory

    return CustomerFactory(legal_name="Oak City Dental, PLLC")


@pytest.fixture
def customer_b(db):
    from agreements.tests.factories import CustomerFactory

    return CustomerFactory(legal_name="Triangle Legal Group, LLP")


@pytest.fixture
def admin(db):
    from allora.tests.factories import UserFactory

    return UserFactory(role="admin", email="dana@allora.example", is_staff=True)


@pytest.fixture
def staff(db):
    from allora.tests.factories import UserFactory

    return UserFactory(role="staff", email="marcus@allora.example")


@pytest.fixture
def alice(customer_a):
    from agreements.tests.factories import ContactFactory
    from allora.tests.factories import UserFactory

    user = UserFactory(role="customer", customer=customer_a, email="alice@oakcity.example")
    ContactFactory(
        customer=customer_a,
        user=user,
        email=user.email,
        name="Alice Moore",
        is_authorized_signer=True,
        has_portal_access=True,
    )
    return user


@pytest.fixture
def bob(customer_b):
    from allora.tests.factories import UserFactory

    return UserFactory(role="customer", customer=customer_b, email="bob@triangle.example")


@pytest.fixture
def client_for(client):
    """A test client signed in as the given user (None: anonymous)."""

    def sign_in(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return sign_in


@pytest.fixture(autouse=True)
def reference_rows(request):
    """Transactional tests (browser journeys, other processes) end with a flush that removes the
    rows the data migrations create: terms v1, the response tiers, the 25% discounts. Recreate
    them before each such test, as a fresh database would have them."""
    marker = request.node.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("transaction")):
        return
    request.getfixturevalue("transactional_db")
    from agreements.tests.factories import TermsTemplateFactory, response_tier
    from billing.tests.factories import agreement_discounts, default_reminder_steps

    TermsTemplateFactory()
    response_tier("1 hour, 24×7", 60)
    response_tier("4 business hours", 240, business_hours_only=True)
    agreement_discounts()
    default_reminder_steps()

"""The customer's home page: their own company and contacts, never another's."""

from django.urls import reverse

from agreements.tests.factories import ContactFactory


def test_portal_home_shows_only_the_users_own_company(client_for, alice, bob, customer_b):
    ContactFactory(customer=customer_b, name="Bob's Colleague")
    page = client_for(alice).get(reverse("portal:home")).content.decode()
    assert "Oak City Dental, PLLC" in page
    assert "Triangle Legal" not in page
    assert "Bob&#x27;s Colleague" not in page and "Bob's Colleague" not in page


def test_portal_home_names_the_approver_and_keeps_its_queries_constant(
    client_for, alice, admin, staff, customer_a
):
    """The approver is told the estimate awaits them (read from the company's contacts, listed on
    the page anyway); more agreements, contacts and projects add no query."""
    import datetime as dt
    from decimal import Decimal

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from agreements.models import Contact
    from agreements.tests.factories import signed_agreement
    from billing.tests.factories import published_card
    from delivery import projects

    published_card()
    client = client_for(alice)

    def home():
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("portal:home"))
        assert page.status_code == 200
        return page.content.decode(), len(queries)

    def project(title):
        projects.create_project(
            customer_a,
            title=title,
            scope="Scope",
            hours=Decimal("2"),
            by=staff,
            today=dt.date(2026, 11, 30),
        )

    signed_agreement(customer=customer_a, customer_user=alice, admin=admin, pdf=False)
    Contact.objects.filter(user=alice).update(is_project_approver=True)
    project("Move the office")
    page, few = home()
    assert "Awaiting your approval" in page and "Move the office" in page
    Contact.objects.filter(user=alice).update(is_project_approver=False)
    page, _ = home()
    assert "Awaiting approval by your designated approvers" in page
    Contact.objects.filter(user=alice).update(is_project_approver=True)
    for number in range(2):
        signed_agreement(customer=customer_a, customer_user=alice, admin=admin, pdf=False)
        ContactFactory(customer=customer_a, name=f"Colleague {number}")
        project(f"Project {number}")
    page, many = home()
    assert "Colleague 1" in page and "Project 1" in page
    # The session with its user; the company with its credit; the agreements to sign; the visits,
    # requests, projects awaiting approval (the waiting item told from them), invoices,
    # agreements and contacts (allora/dashboard.py). Was 13, then 10.
    assert many == few == 9

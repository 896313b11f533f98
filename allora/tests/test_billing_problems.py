"""An agreement the monthly run could not price: staff see the problem on the agreement page and
the staff home, admins get one email; the customer never sees the reason."""

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agreements.models import Agreement
from agreements.tests.factories import CustomerFactory, agreement_for_2027
from allora import dashboard
from allora.emails import build_email
from allora.tests.factories import UserFactory
from billing.tests.factories import published_card

NOW = dt.datetime(2028, 1, 2, 15, tzinfo=dt.UTC)
SINCE = dt.datetime(2028, 1, 1, 11, tzinfo=dt.UTC)
REASON = "The rates have no hosting package 'Cloud backup'"


@pytest.fixture
def agreement(db, admin, alice, customer_a):
    published_card()
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    Agreement.objects.filter(pk=agreement.pk).update(
        billing_problem=REASON, billing_problem_since=SINCE
    )
    agreement.refresh_from_db()
    return agreement


@time_machine.travel(NOW, tick=False)
def test_the_staff_agreement_page_shows_the_problem(agreement, staff, client_for):
    response = client_for(staff).get(reverse("agreements:agreement_detail", args=[agreement.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'class="alert alert-danger"' in body
    assert "Billing problem since Jan 1, 2028:" in body
    assert "The rates have no hosting package &#x27;Cloud backup&#x27;." in body
    assert "The monthly run skips this agreement until it can be priced" in body


@time_machine.travel(NOW, tick=False)
def test_an_agreement_without_a_problem_shows_no_alert(agreement, staff, client_for):
    Agreement.objects.filter(pk=agreement.pk).update(billing_problem="", billing_problem_since=None)
    response = client_for(staff).get(reverse("agreements:agreement_detail", args=[agreement.pk]))
    assert "Billing problem" not in response.content.decode()
    home = client_for(staff).get(reverse("staff_home")).content.decode()
    assert "dashboard-billing-problems" not in home


@time_machine.travel(NOW, tick=False)
def test_the_staff_home_lists_the_problem_linked_to_the_agreement(agreement, staff, client_for):
    response = client_for(staff).get(reverse("staff_home"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="dashboard-billing-problems"' in body and "Billing problems" in body
    link = reverse("agreements:agreement_detail", args=[agreement.pk])
    assert f'<a href="{link}">{agreement.number}</a>' in body
    assert "Oak City Dental, PLLC" in body and "Jan 1, 2028" in body
    assert "The rates have no hosting package &#x27;Cloud backup&#x27;" in body


@time_machine.travel(NOW, tick=False)
def test_the_portal_never_shows_the_reason(agreement, alice, client_for):
    client = client_for(alice)
    for url in (
        reverse("portal:agreement_detail", args=[agreement.pk]),
        reverse("portal:home"),
    ):
        body = client.get(url).content.decode()
        assert "Cloud backup" not in body and "Billing problem" not in body


def test_the_list_is_capped_and_counted_in_one_query(agreement, admin):
    for index in range(3):
        customer = CustomerFactory(legal_name=f"Problem customer {index}")
        user = UserFactory(role="customer", customer=customer, email=f"p{index}@p.example")
        other = agreement_for_2027(customer=customer, customer_user=user, admin=admin)
        Agreement.objects.filter(pk=other.pk).update(
            billing_problem=f"Problem {index}", billing_problem_since=SINCE + dt.timedelta(index)
        )
    with CaptureQueriesContext(connection) as queries:
        data = dashboard.billing_problems(limit=2)
    assert len(queries) == 1
    assert data["count"] == 4
    assert [a.number for a in data["agreements"]] == [
        agreement.number,
        Agreement.objects.get(billing_problem="Problem 0").number,
    ]
    assert data["agreements"][0].customer.legal_name == "Oak City Dental, PLLC"


def test_no_problem_no_rows(db):
    assert dashboard.billing_problems() == {"agreements": [], "count": 0}


def test_the_admin_email_says_what_happened_and_what_to_do(agreement, admin):
    message = build_email(
        "billing_problem",
        to=[admin.email],
        context={"agreement": agreement, "reason": REASON},
    )
    assert message.subject == (
        f"Agreement {agreement.number} could not be invoiced (Oak City Dental, PLLC)"
    )
    assert message.to == ["dana@allora.example"]
    text = message.body
    assert f"Reason: {REASON}" in text  # plain text: quotes are not HTML-escaped
    assert "start an amendment" in text and "publish a rate card with the missing rate" in text
    assert "the next daily run retries by itself" in text
    url = settings.SITE_URL + reverse("agreements:agreement_detail", args=[agreement.pk])
    assert url in text
    (html, mimetype) = message.alternatives[0]
    assert mimetype == "text/html"
    assert f'href="{url}"' in html
    assert "no hosting package &#x27;Cloud backup&#x27;" in html  # the HTML escapes it
    assert "start an amendment" in html and "retries by itself" in html


def test_the_email_escapes_names_in_html_only(agreement, admin):
    agreement.customer.legal_name = "O'Brien <Dental>"
    message = build_email(
        "billing_problem", to=[admin.email], context={"agreement": agreement, "reason": "<b>x</b>"}
    )
    assert "O'Brien <Dental>" in message.subject and "Reason: <b>x</b>" in message.body
    html = message.alternatives[0][0]
    assert "O&#x27;Brien &lt;Dental&gt;" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html

"""The customer filter of the staff lists and calendar, and the forms that choose a customer, are
a search box with suggestions, not a dropdown of every customer (issue 14: at 10,000 customers
the dropdown was most of the page)."""

import pytest
from django.urls import reverse

from agreements.pages import CUSTOMER_SUGGESTIONS
from agreements.tests.factories import AgreementFactory, CustomerFactory

PAGES = [
    "agreements:agreement_list",
    "billing:invoice_list",
    "scheduling:calendar",
    "scheduling:visit_list",
    # The forms that choose one customer (agreements/tests/test_search_fields.py).
    "agreements:agreement_create",
    "delivery:project_create",
    "delivery:emergency_create",
]


@pytest.fixture
def many_customers(db):
    return [CustomerFactory(legal_name=f"Wake Forest Pediatrics {n:02d}, PA") for n in range(15)]


@pytest.mark.parametrize("name", PAGES)
def test_no_page_lists_every_customer(client_for, staff, many_customers, name):
    page = client_for(staff).get(reverse(name)).content.decode()
    assert 'name="customer_name"' in page
    assert not any(customer.legal_name in page for customer in many_customers)


def test_the_search_box_suggests_the_first_matching_names(client_for, staff, many_customers):
    client = client_for(staff)
    url = reverse("agreements:customer_options")
    options = client.get(url, {"customer_name": "pediatrics"}, headers={"HX-Request": "true"})
    names = [customer.legal_name for customer in many_customers]
    suggested = options.content.decode().count("<option ")
    assert suggested == CUSTOMER_SUGGESTIONS < len(names)
    assert f'value="{sorted(names)[0]}"' in options.content.decode()
    assert client.get(url, {"customer_name": "  "}).content.decode().strip() == ""
    assert client.get(url, {"customer_name": "x" * 5000}).status_code == 200  # bounded


def test_the_lists_filter_by_part_of_the_name_or_by_a_customers_link(
    client_for, staff, customer_a, customer_b
):
    ours = AgreementFactory(customer=customer_a)
    theirs = AgreementFactory(customer=customer_b)
    client = client_for(staff)
    url = reverse("agreements:agreement_list")

    page = client.get(url, {"customer_name": "oak city"}).context["page"]
    assert [agreement.pk for agreement in page] == [ours.pk]

    linked = client.get(url, {"customer": customer_b.pk})
    assert [agreement.pk for agreement in linked.context["page"]] == [theirs.pk]
    assert f'value="{customer_b.legal_name}"' in linked.content.decode().replace("&#x27;", "'")

    assert len(client.get(url, {"customer": "9" * 5000}).context["page"]) == 2  # ignored

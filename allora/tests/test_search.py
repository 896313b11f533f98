"""The staff's global search (/search/): agreements by number, customers, contacts, invoices;
bounded input with a clear message, a constant number of queries, staff only."""

import pytest
from django.urls import reverse

from agreements.tests.factories import AgreementFactory, ContactFactory, CustomerFactory
from allora import search
from billing.tests.factories import make_invoice

URL = reverse("search")


def _found(response):
    return {group.kind: group for group in response.context["groups"]}


def test_search_finds_an_agreement_by_number_prefix_with_the_exact_one_first(
    client_for, staff, customer_a
):
    AgreementFactory(customer=customer_a, number="CA-2026-00420")
    exact = AgreementFactory(customer=customer_a, number="CA-2026-0042")
    AgreementFactory(customer=customer_a, number="CA-2025-0042")
    response = client_for(staff).get(URL, {"q": "ca-2026-0042"})
    agreements = _found(response)["agreement"].items
    assert [a.number for a in agreements] == ["CA-2026-0042", "CA-2026-00420"]
    assert agreements[0] == exact
    body = response.content.decode()
    assert reverse("agreements:agreement_detail", args=[exact.pk]) in body


def test_digits_find_numbers_by_their_end(client_for, staff, customer_a):
    AgreementFactory(customer=customer_a, number="CA-2026-0042")
    AgreementFactory(customer=customer_a, number="CA-2026-0043")
    invoice = make_invoice(AgreementFactory(customer=customer_a, number="CA-2027-0001"))
    found = _found(client_for(staff).get(URL, {"q": "0042"}))
    assert [a.number for a in found["agreement"].items] == ["CA-2026-0042"]
    digits = invoice.number.removeprefix("INV-")
    found = _found(client_for(staff).get(URL, {"q": digits}))
    assert found["invoice"].items == [invoice]


def test_search_finds_customers_contacts_and_invoices(client_for, staff, customer_a, customer_b):
    contact = ContactFactory(
        customer=customer_b, name="Priya Raman", email="priya@triangle.example"
    )
    invoice = make_invoice(AgreementFactory(customer=customer_a))
    client = client_for(staff)

    found = _found(client.get(URL, {"q": "oak city"}))
    assert found["customer"].items == [customer_a]

    found = _found(client.get(URL, {"q": "priya"}))
    assert found["contact"].items == [contact]
    found = _found(client.get(URL, {"q": "@triangle.exa"}))
    assert found["contact"].items == [contact]

    response = client.get(URL, {"q": invoice.number.lower()})
    assert _found(response)["invoice"].items == [invoice]
    assert reverse("billing:invoice_detail", args=[invoice.pk]) in response.content.decode()


def test_each_group_shows_ten_and_links_to_the_filtered_list(client_for, staff):
    customer = CustomerFactory(legal_name="Glenwood Partners")
    for n in range(12):
        AgreementFactory(customer=customer, number=f"CA-2030-{n:04d}")
        CustomerFactory(legal_name=f"Glenwood Shop {n}")
    response = client_for(staff).get(URL, {"q": "CA-2030"})
    agreements = _found(response)["agreement"]
    assert len(agreements.items) == search.PER_GROUP and agreements.more
    assert agreements.see_all == reverse("agreements:agreement_list") + "?number=CA-2030"
    listed = client_for(staff).get(agreements.see_all)
    assert listed.context["page"].paginator.count == 12

    customers = _found(client_for(staff).get(URL, {"q": "glenwood"}))["customer"]
    assert len(customers.items) == 10 and customers.more
    assert customers.see_all == reverse("agreements:customer_list") + "?q=glenwood"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Type an agreement or invoice number, a customer, or a contact."),
        ("a", "Type at least 2 characters to search."),
        ("x" * 101, "Search for at most 100 characters."),
    ],
)
def test_a_query_out_of_bounds_gets_a_clear_message(client_for, staff, query, message):
    response = client_for(staff).get(URL, {"q": query})
    assert response.status_code == 200
    assert response.context["groups"] is None
    assert message in response.content.decode()


def test_the_page_without_a_query_shows_only_the_box(client_for, staff):
    response = client_for(staff).get(URL)
    assert response.status_code == 200
    assert "at least 2 characters" not in response.content.decode()


def test_the_live_results_are_the_groups_alone_and_nothing_while_too_short(client_for, staff):
    AgreementFactory(number="CA-2026-0042")
    client = client_for(staff)
    live = client.get(URL, {"q": "CA-2026"}, headers={"HX-Request": "true"})
    assert "CA-2026-0042" in live.content.decode()
    assert "<html" not in live.content.decode()
    assert client.get(URL, {"q": "C"}, headers={"HX-Request": "true"}).content == b""


def test_customer_users_cannot_search(client_for, alice):
    assert client_for(alice).get(URL, {"q": "oak"}).status_code == 403


@pytest.mark.parametrize("rows", [5, 50])
def test_search_uses_one_query_per_group_whatever_the_data(
    client_for, staff, rows, django_assert_max_num_queries
):
    customer = CustomerFactory(legal_name="Match Holdings")
    for n in range(rows):
        agreement = AgreementFactory(customer=customer, number=f"CA-2031-{n:04d}")
        ContactFactory(customer=customer, name=f"Match Person {n}")
        if n < 12:
            make_invoice(agreement)
    client = client_for(staff)
    # the session with its user, then one query per group: agreements, customers, contacts,
    # invoices
    with django_assert_max_num_queries(5):
        response = client.get(URL, {"q": "match"})
    assert len(_found(response)["contact"].items) == min(rows, 10)
    with django_assert_max_num_queries(5):
        response = client.get(URL, {"q": "CA-2031"})
    assert len(_found(response)["agreement"].items) == min(rows, 10)

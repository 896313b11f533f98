"""Sortable columns (allora/sorting.py and the ``sort_header`` tag): a whitelist of keys,
ascending or descending, the primary key as tiebreaker, an unknown key ignored; the header links
keep the list's filters and start again at page 1."""

from django.http import QueryDict
from django.urls import reverse

from agreements.tests.factories import AgreementFactory, CustomerFactory
from allora.sorting import Sorting

SORTING = Sorting({"name": ("legal_name",), "newest": ("-created_at",)}, default="name")


def test_a_key_sorts_ascending_and_a_minus_descending_with_the_pk_as_tiebreaker():
    assert SORTING.parse(QueryDict("sort=name")).order_by() == ["legal_name", "pk"]
    assert SORTING.parse(QueryDict("sort=-name")).order_by() == ["-legal_name", "-pk"]
    assert SORTING.parse(QueryDict("sort=-newest")).order_by() == ["created_at", "-pk"]


def test_an_unknown_or_missing_key_is_the_default_order():
    for query in ("", "sort=password", "sort=--name", "sort=customer__user__password"):
        sort = SORTING.parse(QueryDict(query))
        assert (sort.param, sort.order_by()) == ("name", ["legal_name", "pk"])
        assert sort.is_default


def _names(response):
    return [customer.legal_name for customer in response.context["page"]]


def test_the_customer_list_sorts_by_name_both_ways_and_ignores_an_unknown_key(client_for, staff):
    for name in ("Beta Bakery", "Alpha Audio", "Cedar Clinic"):
        CustomerFactory(legal_name=name)
    client = client_for(staff)
    url = reverse("agreements:customer_list")
    ascending = ["Alpha Audio", "Beta Bakery", "Cedar Clinic"]
    assert _names(client.get(url, {"sort": "name"})) == ascending
    assert _names(client.get(url, {"sort": "-name"})) == ascending[::-1]
    response = client.get(url, {"sort": "phone; DROP TABLE"})
    assert response.status_code == 200
    assert _names(response) == ["Alpha Audio", "Beta Bakery", "Cedar Clinic"]


def test_a_header_marks_the_order_and_its_link_keeps_the_filters_without_the_page(
    client_for, staff
):
    CustomerFactory(legal_name="Alpha Audio")
    response = client_for(staff).get(
        reverse("agreements:customer_list"), {"q": "a", "status": "active", "page": "1"}
    )
    body = response.content.decode()
    assert 'aria-sort="ascending"><a href="?q=a&amp;status=active&amp;sort=-name">Customer' in body
    assert '<a href="?q=a&amp;status=active&amp;sort=city">City</a>' in body
    # The filter form keeps a chosen order.
    response = client_for(staff).get(reverse("agreements:customer_list"), {"sort": "-city"})
    assert '<input type="hidden" name="sort" value="-city">' in response.content.decode()
    assert 'aria-sort="descending"' in response.content.decode()


def test_the_agreement_list_sorts_by_number_and_customer(client_for, staff):
    zed, acme = CustomerFactory(legal_name="Zed Works"), CustomerFactory(legal_name="Acme Co")
    AgreementFactory(customer=zed, number="CA-2026-0001")
    AgreementFactory(customer=acme, number="CA-2026-0002")
    client = client_for(staff)
    url = reverse("agreements:agreement_list")

    def numbers(sort):
        return [a.number for a in client.get(url, {"sort": sort}).context["page"]]

    assert numbers("number") == ["CA-2026-0001", "CA-2026-0002"]
    assert numbers("-number") == ["CA-2026-0002", "CA-2026-0001"]
    assert numbers("customer") == ["CA-2026-0002", "CA-2026-0001"]
    assert numbers("-created") == numbers("") == ["CA-2026-0002", "CA-2026-0001"]

"""The forms that choose one customer or agreement (drafting an agreement, a project, an emergency
taken by phone, the time entry's agreement) use a search box with suggestions, not a dropdown of
every customer or agreement (issue 14: the agreement form listed 10,004 customers). The chosen
suggestion sends its id; without JavaScript the typed name (or import reference) is looked up, and
anything else gets a clear message."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from agreements.models import Agreement, Customer, TermsTemplate

NOW = dt.datetime(2026, 11, 28, 15, tzinfo=dt.UTC)


def test_the_forms_search_box_picks_an_id_and_loads_its_script(client_for, staff, customer_a):
    page = client_for(staff).get(reverse("agreements:agreement_create")).content.decode()
    assert 'type="search" name="customer_name"' in page and "<datalist" in page
    assert 'type="hidden" name="customer"' in page
    assert '<script src="/static/js/search-select.js"></script>' in page
    assert customer_a.legal_name not in page  # never an option of every customer


def _draft(client, **fields):
    template = TermsTemplate.objects.filter(published_at__isnull=False).earliest("version")
    data = {"terms_template": template.pk, "billing_day": "1", "payment_terms_days": "30"}
    return client.post(reverse("agreements:agreement_create"), {**data, **fields})


@time_machine.travel(NOW)
def test_the_chosen_suggestion_drafts_the_agreement_for_that_customer(
    client_for, staff, customer_a, customer_b
):
    # The suggestion carries the id (static/js/search-select.js puts it in the hidden field).
    options = client_for(staff).get(
        reverse("agreements:customer_options"), {"customer_name": "oak"}
    )
    assert f'data-id="{customer_a.pk}"' in options.content.decode()
    response = _draft(
        client_for(staff), customer=str(customer_a.pk), customer_name=customer_a.legal_name
    )
    assert response.status_code == 302
    assert Agreement.objects.get().customer == customer_a


@time_machine.travel(NOW)
def test_without_javascript_the_typed_name_or_reference_is_looked_up(
    client_for, staff, customer_a, customer_b
):
    Customer.objects.filter(pk=customer_b.pk).update(external_ref="CRM-77")
    client = client_for(staff)
    assert _draft(client, customer="", customer_name="  oak city dental, pllc ").status_code == 302
    assert _draft(client, customer="", customer_name="CRM-77").status_code == 302
    assert sorted(a.customer_id for a in Agreement.objects.all()) == sorted(
        [customer_a.pk, customer_b.pk]
    )


@time_machine.travel(NOW)
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"customer": "", "customer_name": "Oak"}, "No customer is named “Oak”"),
        ({"customer": "9" * 5000, "customer_name": "Oak"}, "is inactive or no longer exists"),
        ({"customer": "999999", "customer_name": ""}, "is inactive or no longer exists"),
        ({"customer": "", "customer_name": ""}, "This field is required"),
    ],
)
def test_a_customer_that_cannot_be_found_gets_a_clear_message(
    client_for, staff, customer_a, fields, message
):
    response = _draft(client_for(staff), **fields)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Agreement.objects.exists()


@time_machine.travel(NOW)
def test_an_inactive_customer_is_refused(client_for, staff, customer_a):
    Customer.objects.filter(pk=customer_a.pk).update(status=Customer.Status.INACTIVE)
    response = _draft(client_for(staff), customer=str(customer_a.pk))
    assert "is inactive or no longer exists" in response.content.decode()
    assert not Agreement.objects.exists()


def test_a_link_with_a_customer_fills_in_the_search_box(client_for, staff, customer_a):
    url = reverse("agreements:agreement_create")
    page = client_for(staff).get(url, {"customer": customer_a.pk}).content.decode()
    assert f'value="{customer_a.legal_name}"' in page
    assert f'name="customer" id="id_customer-id" value="{customer_a.pk}"' in page


def test_the_agreement_form_suggests_only_the_customers_it_accepts(client_for, staff, customer_a):
    """Drafting takes active customers only: its search box asks for those, so it never offers
    a suggestion the form then refuses; the list filters still find every customer."""
    inactive = Customer.objects.create(
        legal_name="Acme Closed, LLC",
        address_line1="1 Main St",
        city="Raleigh",
        state="NC",
        postal_code="27601",
        status=Customer.Status.INACTIVE,
    )
    client = client_for(staff)
    page = client.get(reverse("agreements:agreement_create")).content.decode()
    url = reverse("agreements:customer_options")
    assert f'hx-get="{url}?active=1"' in page
    for_the_form = client.get(url, {"active": "1", "customer_name": "Acme"}).content.decode()
    for_a_filter = client.get(url, {"customer_name": "Acme"}).content.decode()
    assert inactive.legal_name not in for_the_form
    assert inactive.legal_name in for_a_filter

"""The admins' webhook pages: adding one (the secret shown once), editing, deleting after a
confirmation, a test event, "Retry now", and the delivery log read in the same queries
whatever its length."""

import datetime as dt

import pytest
from django.urls import reverse

from integrations.models import Event, WebhookDelivery, WebhookEndpoint

UTC = dt.UTC


def make_deliveries(endpoint, count, *, status="failed"):
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event=Event.INVOICE_PAID,
            event_id=f"invoice.paid.{endpoint.pk}.{index}",
            payload={"id": index},
            status=status,
            attempts=6,
            response_status=500,
            response_body="Internal error",
        )
        for index in range(count)
    )


def test_an_admin_adds_a_webhook_and_sees_its_secret_once(client_for, admin):
    client = client_for(admin)
    response = client.post(
        reverse("integrations:endpoint_create"),
        {
            "url": "https://hooks.example.com/allora",
            "description": " Accounting sync ",
            "events": ["invoice.paid", "invoice.issued"],
            "is_active": "on",
        },
    )
    endpoint = WebhookEndpoint.objects.get()
    assert response["Location"] == reverse("integrations:endpoint_detail", args=[endpoint.pk])
    assert endpoint.events == ["invoice.issued", "invoice.paid"]
    assert endpoint.description == "Accounting sync"
    assert endpoint.created_by == admin
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    page = client.get(response["Location"]).content.decode()
    assert endpoint.secret in page
    assert "Invoice issued; Invoice paid in full" in page
    assert endpoint.secret not in client.get(response["Location"]).content.decode()
    listed = client.get(reverse("integrations:endpoint_list")).content.decode()
    assert "https://hooks.example.com/allora" in listed
    assert endpoint.secret not in listed


def test_an_admin_edits_events_and_turns_a_webhook_off(client_for, admin, endpoint_for):
    endpoint = endpoint_for("https://hooks.example.com/a")
    secret = endpoint.secret
    response = client_for(admin).post(
        reverse("integrations:endpoint_edit", args=[endpoint.pk]),
        {"url": "https://hooks.example.com/b", "events": ["agreement.signed"]},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.is_active) == (
        "https://hooks.example.com/b",
        ["agreement.signed"],
        False,
    )
    assert endpoint.secret == secret


def test_deleting_asks_first_and_takes_the_log_with_it(client_for, admin, endpoint_for):
    endpoint = endpoint_for("https://hooks.example.com/a")
    make_deliveries(endpoint, 2)
    client = client_for(admin)
    url = reverse("integrations:endpoint_delete", args=[endpoint.pk])
    page = client.get(url).content.decode()
    assert "Delete this webhook?" in page
    assert WebhookEndpoint.objects.exists()
    assert client.post(url)["Location"] == reverse("integrations:endpoint_list")
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_send_test_event_and_retry_now_send_to_the_receiver(
    client_for, admin, endpoint_for, receiver, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(receiver.url)
    client = client_for(admin)
    receiver.statuses = [500]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("integrations:endpoint_test", args=[endpoint.pk]))
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.status, delivery.response_status) == (
        "webhook.test",
        "pending",
        500,
    )
    page = client.get(reverse("integrations:endpoint_detail", args=[endpoint.pk])).content
    assert b"Internal error: try again later" in page and b"Retry now" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("integrations:delivery_retry", args=[delivery.pk]))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 2, 200)
    assert len(receiver.received) == 2
    response = client.post(reverse("integrations:delivery_retry", args=[delivery.pk]), follow=True)
    assert "This event was delivered: there is nothing to retry." in response.content.decode()
    detail = client.get(reverse("integrations:delivery_detail", args=[delivery.pk])).content
    assert b"webhook.test" in detail and b"A test event from Allora." in detail


@pytest.mark.parametrize("count", [3, 30])
def test_the_delivery_log_reads_the_same_queries_whatever_its_length(
    count, client_for, admin, endpoint_for, django_assert_num_queries
):
    endpoint = endpoint_for("https://hooks.example.com/a")
    make_deliveries(endpoint, count)
    client = client_for(admin)
    url = reverse("integrations:endpoint_detail", args=[endpoint.pk])
    # the session with its user, the endpoint (with who added it), the count, the page of
    # deliveries
    with django_assert_num_queries(4):
        response = client.get(url)
    assert response.content.decode().count("Retry now") == min(count, 25)


@pytest.mark.parametrize("count", [1, 4])
def test_the_webhook_list_is_one_query_whatever_its_length(
    count, client_for, admin, endpoint_for, django_assert_num_queries
):
    for index in range(count):
        make_deliveries(endpoint_for(f"https://hooks.example.com/{index}"), 2)
    client = client_for(admin)
    # the session with its user, the endpoints with their waiting and failed counts
    with django_assert_num_queries(2):
        response = client.get(reverse("integrations:endpoint_list"))
    assert response.content.decode().count("https://hooks.example.com/") == count

"""Webhooks delivered to a real HTTP server on 127.0.0.1: signed, retried with backoff after a
failure, given up after the last attempt; the job that sends them is safe to run again and
on two workers."""

import datetime as dt
import hashlib
import hmac
import socket

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction

from integrations import tasks, webhooks
from integrations.models import TEST_EVENT, Event, WebhookDelivery

UTC = dt.UTC
NOW = dt.datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
PAYLOAD = {"invoice": {"id": 1, "number": "INV-000001", "total": "1170.00"}}
pytestmark = pytest.mark.django_db


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """What a receiver does (the README's snippet)."""
    timestamp = headers["X-Allora-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(headers["X-Allora-Signature"], f"sha256={expected.hexdigest()}")


def emit(event=Event.INVOICE_PAID, *, now=NOW, run_after_commit=None, event_id="invoice.paid.1"):
    """Emit in a transaction, as a workflow does; ``run_after_commit`` (the fixture) runs what
    the commit queues (eager Celery: the sweep and the sending)."""
    if run_after_commit is None:
        with transaction.atomic():
            return webhooks.emit(event, PAYLOAD, event_id=event_id, now=now)
    with run_after_commit(execute=True), transaction.atomic():
        return webhooks.emit(event, PAYLOAD, event_id=event_id, now=now)


def sweep(at):
    with time_machine.travel(at, tick=False):
        return tasks.send_due_webhooks()


def test_a_failed_delivery_is_retried_after_the_backoff_then_delivered_with_a_valid_signature(
    receiver, endpoint_for, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    endpoint = endpoint_for(receiver.url, events=[Event.INVOICE_PAID])
    with time_machine.travel(NOW, tick=False):
        assert emit(run_after_commit=django_capture_on_commit_callbacks) == 1
    # The commit queued the sending: the receiver got it at once and answered 500.
    delivery = WebhookDelivery.objects.get()
    assert len(receiver.received) == 1
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, 500)
    assert delivery.response_body == "Internal error: try again later"
    assert delivery.next_attempt_at == NOW + dt.timedelta(minutes=1)

    assert sweep(NOW + dt.timedelta(seconds=59)) == 0  # the backoff has not passed
    assert sweep(NOW + dt.timedelta(minutes=1)) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 2, 200)
    assert delivery.delivered_at == NOW + dt.timedelta(minutes=1)
    assert delivery.next_attempt_at is None
    assert delivery.response_body == "ok"

    first, second = receiver.received
    assert first.body == second.body  # the same event, byte for byte
    assert second.json == {
        "id": "invoice.paid.1",
        "event": "invoice.paid",
        "created_at": "2027-03-01T12:00:00+00:00",
        "data": PAYLOAD,
    }
    assert second.headers["Content-Type"] == "application/json"
    assert second.headers["X-Allora-Event"] == "invoice.paid"
    assert second.headers["X-Allora-Event-Id"] == "invoice.paid.1"
    assert second.headers["X-Allora-Delivery"] == str(delivery.pk)
    assert (first.headers["X-Allora-Attempt"], second.headers["X-Allora-Attempt"]) == ("1", "2")
    assert first.headers["X-Allora-Timestamp"] == str(int(NOW.timestamp()))
    assert second.headers["X-Allora-Timestamp"] == str(int(NOW.timestamp()) + 60)
    assert endpoint.secret.startswith("whsec_")
    assert verify(endpoint.secret, first.headers, first.body)
    assert verify(endpoint.secret, second.headers, second.body)
    assert not verify(endpoint.secret, second.headers, second.body.replace(b"1170", b"9170"))
    assert not verify("whsec_another", second.headers, second.body)


def test_the_job_sends_each_due_attempt_once_however_often_it_runs(receiver, endpoint_for):
    receiver.statuses = [500]
    endpoint_for(receiver.url)
    emit()  # the commit's sending is not run here: only the job sends
    assert sweep(NOW) == 1
    assert sweep(NOW) == 0
    assert len(receiver.received) == 1
    assert sweep(NOW + dt.timedelta(minutes=1)) == 1
    assert sweep(NOW + dt.timedelta(minutes=1)) == 0
    assert sweep(NOW + dt.timedelta(days=3)) == 0
    assert len(receiver.received) == 2
    assert WebhookDelivery.objects.get().status == "delivered"


def test_of_two_workers_one_sends_and_a_dead_worker_s_attempt_is_taken_up_later(
    receiver, endpoint_for
):
    endpoint_for(receiver.url)
    emit()
    delivery = WebhookDelivery.objects.get()
    assert webhooks._claim(delivery.pk, now=NOW)  # worker A takes it, then dies
    assert webhooks.deliver(delivery.pk, now=NOW) is None  # worker B: not for it
    assert sweep(NOW + webhooks.LEASE - dt.timedelta(seconds=1)) == 0
    assert receiver.received == []
    assert sweep(NOW + webhooks.LEASE) == 1  # the lease ran out: taken up again
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert len(receiver.received) == 1


def test_after_the_last_attempt_the_delivery_has_failed_and_retry_now_tries_once_more(
    receiver, endpoint_for
):
    receiver.statuses = [503] * webhooks.MAX_ATTEMPTS
    endpoint_for(receiver.url)
    emit()
    delivery = WebhookDelivery.objects.get()
    at, waits = NOW, []
    for _ in range(webhooks.MAX_ATTEMPTS):
        assert sweep(at) == 1
        delivery.refresh_from_db()
        if delivery.next_attempt_at:
            waits.append(delivery.next_attempt_at - at)
            at = delivery.next_attempt_at
    assert waits == list(webhooks.BACKOFF)  # 1 min, 5 min, 30 min, 2 h, 12 h
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 6, 503)
    assert sweep(at + dt.timedelta(days=30)) == 0
    assert len(receiver.received) == webhooks.MAX_ATTEMPTS

    webhooks.retry_now(delivery, now=at + dt.timedelta(days=1))
    assert sweep(at + dt.timedelta(days=1)) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 7)
    with pytest.raises(ValidationError, match="was delivered"):
        webhooks.retry_now(delivery, now=at + dt.timedelta(days=1))


def test_retry_now_waits_for_an_attempt_under_way(receiver, endpoint_for):
    endpoint_for(receiver.url)
    emit()
    delivery = WebhookDelivery.objects.get()
    assert webhooks._claim(delivery.pk, now=NOW)  # a worker is sending it
    with pytest.raises(ValidationError, match="An attempt is under way"):
        webhooks.retry_now(delivery, now=NOW + dt.timedelta(seconds=5))
    webhooks.retry_now(delivery, now=NOW + webhooks.LEASE)  # that worker died
    assert sweep(NOW + webhooks.LEASE) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


def test_no_answer_is_retried_with_the_reason_recorded(endpoint_for):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint_for(f"http://127.0.0.1:{port}/hooks")
    emit()
    assert sweep(NOW) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.response_status is None
    assert delivery.error.startswith("No answer:")
    assert delivery.next_attempt_at == NOW + dt.timedelta(minutes=1)


def test_a_redirect_is_an_answer_not_followed(receiver, endpoint_for):
    receiver.statuses = [302]
    endpoint_for(receiver.url)
    emit()
    sweep(NOW)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_status) == ("pending", 302)
    assert len(receiver.received) == 1


def test_a_local_address_is_refused_at_sending_time_when_not_allowed(
    receiver, endpoint_for, settings
):
    endpoint_for(receiver.url)
    emit()
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    sweep(NOW)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert "local or private address (127.0.0.1)" in delivery.error
    assert receiver.received == []


def test_an_endpoint_turned_off_gets_nothing_more(receiver, endpoint_for):
    endpoint = endpoint_for(receiver.url)
    emit()
    endpoint.is_active = False
    endpoint.save()
    sweep(NOW)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.error) == ("failed", "The endpoint is turned off.")
    assert receiver.received == []


def test_a_test_event_goes_to_its_endpoint_alone(
    receiver, endpoint_for, admin, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(receiver.url, events=[Event.INVOICE_PAID])
    endpoint_for("https://hooks.example.com/other")
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        delivery = webhooks.send_test_event(endpoint, by=admin, now=NOW)
    delivery.refresh_from_db()
    assert (delivery.event, delivery.status) == (TEST_EVENT, "delivered")
    (received,) = receiver.received
    assert received.json["data"]["sent_by"] == admin.email
    assert verify(endpoint.secret, received.headers, received.body)

"""Each business event reaches the endpoints subscribed to it, once each, from the workflow
that makes it happen: signing, renewal, the end, invoices issued (the monthly run: one read
of the endpoints per chunk) and paid, termination requests, breached emergency responses."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agreements import lifecycle
from agreements.tests.factories import agreement_for_2027
from billing import invoicing
from billing.tests.factories import make_invoice, published_card
from delivery import emergencies
from integrations import webhooks
from integrations.models import Event, WebhookDelivery

UTC = dt.UTC


@pytest.fixture(autouse=True)
def card(db):
    return published_card(effective_date=dt.date(2026, 1, 1))


@pytest.fixture
def hooks(endpoint_for):
    """Three endpoints: one for every event, one for other events only, one turned off."""
    return {
        "all": endpoint_for("https://hooks.example.com/all"),
        "other": endpoint_for("https://hooks.example.com/other", events=[Event.INVOICE_ISSUED]),
        "off": endpoint_for("https://hooks.example.com/off", is_active=False),
    }


@pytest.fixture
def agreement(customer_a, alice, admin):
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def sent(event):
    """{endpoint url: [payload data]} of the deliveries of ``event``."""
    found: dict = {}
    for delivery in (
        WebhookDelivery.objects.filter(event=event).select_related("endpoint").order_by("pk")
    ):
        found.setdefault(delivery.endpoint.url, []).append(delivery.payload["data"])
    return found


ALL = "https://hooks.example.com/all"


def test_an_event_goes_once_to_each_active_endpoint_subscribed(hooks):
    now = dt.datetime(2027, 1, 1, tzinfo=UTC)
    assert webhooks.emit(Event.INVOICE_ISSUED, {"n": 1}, event_id="invoice.issued.1", now=now) == 2
    assert webhooks.emit(Event.INVOICE_ISSUED, {"n": 1}, event_id="invoice.issued.1", now=now)
    assert sent(Event.INVOICE_ISSUED) == {
        ALL: [{"n": 1}],
        "https://hooks.example.com/other": [{"n": 1}],
    }
    assert webhooks.emit(Event.INVOICE_PAID, {"n": 1}, now=now) == 1
    assert list(sent(Event.INVOICE_PAID)) == [ALL]


def test_with_no_endpoint_subscribed_an_event_costs_one_query_and_builds_nothing(
    endpoint_for, django_assert_num_queries
):
    endpoint_for("https://hooks.example.com/a", events=[Event.INVOICE_PAID])

    def payload():
        raise AssertionError("built for nobody")

    with django_assert_num_queries(1):
        assert webhooks.emit(Event.AGREEMENT_ENDED, payload, now=dt.datetime.now(UTC)) == 0


def test_signing_an_agreement_emits_agreement_signed(hooks, agreement):
    (data,) = sent(Event.AGREEMENT_SIGNED)[ALL]
    assert data == {
        "agreement": {"id": agreement.pk, "number": agreement.number, "status": "active"},
        "customer": {"id": agreement.customer_id, "name": "Oak City Dental, PLLC"},
        "version": 1,
        "amendment": False,
        "signed_at": "2026-12-10T15:00:00+00:00",
    }


def test_the_monthly_run_emits_invoice_issued_reading_the_endpoints_once_per_chunk(
    hooks, customer_a, alice, admin
):
    agreements = [
        agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin) for _ in range(3)
    ]
    with CaptureQueriesContext(connection) as queries:
        issued = invoicing.issue_invoices(today=dt.date(2027, 1, 1), chunk_size=2)
    assert len(issued) == 3
    reads = [q["sql"] for q in queries if 'FROM "integrations_webhookendpoint"' in q["sql"]]
    inserts = [q["sql"] for q in queries if 'INTO "integrations_webhookdelivery"' in q["sql"]]
    assert (len(reads), len(inserts)) == (2, 2)  # two chunks
    by_url = sent(Event.INVOICE_ISSUED)
    assert len(by_url[ALL]) == len(by_url["https://hooks.example.com/other"]) == 3
    first = min(issued, key=lambda invoice: invoice.pk)
    assert by_url[ALL][0] == {
        "invoice": {
            "id": first.pk,
            "number": first.number,
            "kind": "monthly",
            "status": "issued",
            "period": "2027-01-01",
            "issued_on": "2027-01-01",
            "due_on": first.due_on.isoformat(),
            "total": str(first.total),
            "amount_paid": "0.00",
            "balance": str(first.total),
            "paid_on": None,
            "currency": "USD",
        },
        "agreement": {"id": agreements[0].pk, "number": agreements[0].number},
        "customer": {"id": customer_a.pk, "name": "Oak City Dental, PLLC"},
    }


def test_invoice_paid_is_emitted_by_the_payment_that_pays_it_in_full(hooks, agreement, staff):
    invoice = make_invoice(agreement, total=D("1170.00"))
    pay = {"received_on": dt.date(2027, 1, 5), "method": "check", "by": staff}
    invoice.record_payment(amount="170.00", today=dt.date(2027, 1, 5), **pay)
    assert sent(Event.INVOICE_PAID) == {}
    invoice.record_payment(amount="1000.00", today=dt.date(2027, 1, 5), **pay)
    (data,) = sent(Event.INVOICE_PAID)[ALL]
    assert data["invoice"]["status"] == "paid"
    assert data["invoice"]["amount_paid"] == "1170.00"
    assert data["invoice"]["balance"] == "0.00"
    assert data["invoice"]["paid_on"] == "2027-01-05"


def test_a_termination_request_then_the_end_are_emitted(hooks, agreement, alice):
    received = dt.datetime(2027, 6, 1, 15, tzinfo=UTC)
    request = lifecycle.file_termination_request(
        agreement,
        by=alice,
        received_at=received,
        reason="Moving offices",
        typed_name="Alice Moore",
        channel="portal",
        now=received,
    )
    (filed,) = sent(Event.TERMINATION_REQUEST_FILED)[ALL]
    assert filed["termination_request"] == {
        "id": request.pk,
        "received_at": "2027-06-01T15:00:00+00:00",
        "channel": "portal",
        "timely": True,
        "notice_deadline": "2027-12-01",
        "last_day": "2027-12-31",
        "renews_on": None,
    }
    assert filed["agreement"]["status"] == "ending"
    assert lifecycle.end_due_agreements(today=dt.date(2028, 1, 1)) == [agreement.pk]
    assert lifecycle.end_due_agreements(today=dt.date(2028, 1, 2)) == []
    (ended,) = sent(Event.AGREEMENT_ENDED)[ALL]
    assert ended["agreement"]["status"] == "ended"
    assert ended["last_day"] == "2027-12-31"


def test_a_renewal_is_emitted_once_per_new_term(hooks, agreement):
    lifecycle.renew_due_agreements(today=dt.date(2028, 1, 1))
    lifecycle.renew_due_agreements(today=dt.date(2028, 1, 1))
    (data,) = sent(Event.AGREEMENT_RENEWED)[ALL]
    assert data["term"] == {"number": 2, "start": "2028-01-01", "last_day": "2028-12-31"}
    assert data["customer"]["name"] == "Oak City Dental, PLLC"


def test_an_early_termination_is_emitted_as_ended(hooks, agreement, admin):
    lifecycle.terminate_early(agreement, by=admin, today=dt.date(2027, 3, 15))
    (data,) = sent(Event.AGREEMENT_ENDED)[ALL]
    assert data["agreement"]["status"] == "terminated"
    assert data["last_day"] == "2027-03-15"
    assert len(sent(Event.INVOICE_ISSUED)[ALL]) >= 1  # the final invoice (and months due)


RECEIVED = dt.datetime(2027, 3, 12, 21, 0, tzinfo=UTC)


def emergency(customer, by, summary="The server room is flooding"):
    """A request received at RECEIVED under the 1-hour 24×7 guarantee (due 22:00 UTC)."""
    return emergencies.file_request(
        customer,
        summary=summary,
        contact_name="Alice Moore",
        contact_phone="(919) 555-0101",
        site="100 Hillsborough Street, Raleigh",
        channel="portal",
        received_at=RECEIVED,
        by=by,
        now=RECEIVED,
    )


def test_a_breached_emergency_response_is_emitted_once(hooks, agreement, customer_a, alice, staff):
    request = emergency(customer_a, alice)
    assert request.due_at == RECEIVED + dt.timedelta(hours=1)
    emergencies.alert_emergency_deadlines(now=RECEIVED + dt.timedelta(minutes=50))
    assert sent(Event.EMERGENCY_BREACHED) == {}
    emergencies.alert_emergency_deadlines(now=RECEIVED + dt.timedelta(minutes=61))
    emergencies.acknowledge(request, by=staff, now=RECEIVED + dt.timedelta(minutes=70))
    (data,) = sent(Event.EMERGENCY_BREACHED)[ALL]
    assert data["emergency_request"]["due_at"] == "2027-03-12T22:00:00+00:00"
    assert data["emergency_request"]["guarantee"] == "1 hour, 24×7"
    assert data["agreement"] == {"id": agreement.pk, "number": agreement.number}


def test_an_acknowledgment_too_late_is_a_breach_when_the_job_did_not_see_it(
    hooks, agreement, customer_a, alice, staff
):
    in_time = emergency(customer_a, alice)
    emergencies.acknowledge(in_time, by=staff, now=RECEIVED + dt.timedelta(minutes=59))
    assert sent(Event.EMERGENCY_BREACHED) == {}
    late = emergency(customer_a, alice, summary="No internet")
    emergencies.acknowledge(late, by=staff, now=RECEIVED + dt.timedelta(minutes=61))
    (data,) = sent(Event.EMERGENCY_BREACHED)[ALL]
    assert data["emergency_request"]["id"] == late.pk

"""Payments recorded by staff (full, partial or more than the balance: the excess is held as
credit, billing/tests/test_credit_notes.py), the clear refusals, and the daily overdue job."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from agreements.tests.factories import agreement_for_2027
from billing import invoicing
from billing.models import Invoice, Payment
from billing.tests.factories import make_invoice, published_card

JAN_1 = dt.date(2027, 1, 1)


@pytest.fixture
def invoice(customer_a, alice, admin):
    published_card(effective_date=dt.date(2026, 1, 1))
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    return make_invoice(agreement, issued_on=JAN_1, total=D("1170.00"))  # due Jan 31


def pay(invoice, amount, *, by, on=dt.date(2027, 1, 20)):
    return invoice.record_payment(
        amount=D(amount), received_on=on, method="ach", reference="", by=by, today=on
    )


def test_partial_then_full_payment_makes_the_invoice_paid(invoice, staff):
    pay(invoice, "500.00", by=staff)
    assert (invoice.status, invoice.amount_paid, invoice.balance) == (
        Invoice.Status.ISSUED,
        D("500.00"),
        D("670.00"),
    )
    pay(invoice, "670.00", by=staff, on=dt.date(2027, 1, 25))
    assert (invoice.status, invoice.balance, invoice.paid_on) == (
        Invoice.Status.PAID,
        D("0.00"),
        dt.date(2027, 1, 25),
    )


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "more than $0.00"),
        ("-5", "more than $0.00"),
        ("1.005", "dollars and cents"),
        ("1000000000", "less than $1,000,000,000.00"),
    ],
)
def test_a_wrong_amount_is_refused_plainly(invoice, staff, amount, message):
    with pytest.raises(ValidationError, match=message.replace("$", r"\$")):
        pay(invoice, amount, by=staff)
    assert not Payment.objects.exists()


def test_a_payment_on_a_void_invoice_is_refused(invoice, staff, admin):
    invoice.void(by=admin, reason="Issued by mistake", now=dt.datetime(2027, 1, 2, tzinfo=dt.UTC))
    with pytest.raises(ValidationError, match="void"):
        pay(invoice, "10", by=staff)


def test_an_invoice_with_payments_cannot_be_voided(invoice, staff, admin):
    pay(invoice, "10", by=staff)
    with pytest.raises(ValidationError, match="with payments cannot be voided"):
        invoice.void(by=admin, reason="Oops", now=dt.datetime(2027, 1, 21, tzinfo=dt.UTC))


def test_a_payment_dated_in_the_future_or_before_the_invoice_is_refused(invoice, staff):
    with pytest.raises(ValidationError, match="future"):
        invoice.record_payment(
            amount=D("1"), received_on=dt.date(2027, 1, 21), method="ach", by=staff, today=JAN_1
        )
    with pytest.raises(ValidationError, match="before the invoice date"):
        pay(invoice, "1", by=staff, on=dt.date(2026, 12, 31))


def test_the_overdue_job_marks_invoices_past_their_due_date_once(invoice, staff):
    assert invoicing.mark_overdue(today=dt.date(2027, 1, 31)) == 0  # due today: not yet
    call_command("mark_overdue", "--today", "2027-02-01")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OVERDUE
    assert invoicing.mark_overdue(today=dt.date(2027, 2, 2)) == 0  # a re-run changes nothing
    pay(invoice, "100", by=staff, on=dt.date(2027, 2, 2))
    assert invoice.status == Invoice.Status.OVERDUE  # still owes $1,070.00
    pay(invoice, "1070", by=staff, on=dt.date(2027, 2, 3))
    assert invoice.status == Invoice.Status.PAID


def test_paid_and_void_invoices_never_become_overdue(invoice, staff, admin):
    other = make_invoice(invoice.agreement, issued_on=dt.date(2027, 2, 1))
    pay(invoice, "1170", by=staff)
    other.void(by=admin, reason="Duplicate", now=dt.datetime(2027, 2, 2, tzinfo=dt.UTC))
    assert invoicing.mark_overdue(today=dt.date(2027, 6, 1)) == 0


@time_machine.travel(dt.datetime(2027, 1, 20, 15, tzinfo=dt.UTC))
def test_staff_record_a_payment_in_the_browser(invoice, staff, client_for):
    client = client_for(staff)
    url = reverse("billing:payment_create", args=[invoice.pk])
    response = client.post(url, {"amount": "1170", "received_on": "2027-01-20", "method": "ach"})
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


@time_machine.travel(dt.datetime(2027, 1, 20, 15, tzinfo=dt.UTC))
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"amount": "abc", "received_on": "2027-01-20"}, "Enter an amount in dollars"),
        ({"amount": "-1", "received_on": "2027-01-20"}, "A payment must be more than $0.00"),
        ({"amount": "10", "received_on": "20/01/2027"}, "Enter a date such as 2027-03-15"),
        ({"amount": "10", "received_on": "2027-01-20", "method": "bitcoin"}, "valid choice"),
    ],
)
def test_bad_payment_input_shows_a_message_never_a_500(invoice, staff, client_for, data, message):
    response = client_for(staff).post(
        reverse("billing:payment_create", args=[invoice.pk]), {"method": "ach", **data}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Payment.objects.exists()


@time_machine.travel(dt.datetime(2027, 1, 20, 15, tzinfo=dt.UTC))
def test_a_payment_on_a_void_invoice_says_so_in_the_browser(invoice, staff, admin, client_for):
    invoice.void(by=admin, reason="Wrong", now=dt.datetime(2027, 1, 20, tzinfo=dt.UTC))
    response = client_for(staff).post(
        reverse("billing:payment_create", args=[invoice.pk]),
        {"amount": "10", "received_on": "2027-01-20", "method": "ach"},
    )
    assert response.status_code == 200
    assert "This invoice is void" in response.content.decode()


@time_machine.travel(dt.datetime(2027, 1, 20, 15, tzinfo=dt.UTC))
def test_admins_void_only_the_latest_invoice_with_a_reason(invoice, admin, client_for):
    later = make_invoice(invoice.agreement, issued_on=dt.date(2027, 1, 15), kind="final")
    client = client_for(admin)
    response = client.post(reverse("billing:invoice_void", args=[invoice.pk]), {"reason": "x"})
    assert f"{later.number} came after this one" in response.content.decode()
    response = client.post(reverse("billing:invoice_void", args=[later.pk]), {"reason": ""})
    assert "This field is required" in response.content.decode()
    client.post(reverse("billing:invoice_void", args=[later.pk]), {"reason": "Duplicate"})
    later.refresh_from_db()
    assert later.status == Invoice.Status.VOID and later.void_reason == "Duplicate"

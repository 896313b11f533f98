"""The one-year commitment and early termination: the remaining recurring charges of the term at
its locked rates, a final invoice, future visits cancelled, and nothing invoiced afterwards."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from agreements import lifecycle
from agreements.models import Agreement
from agreements.tests.factories import agreement_for_2027
from billing import closing, invoicing
from billing.models import Invoice
from billing.tests.factories import log_hours, published_card
from scheduling.models import Visit

# Term 1 of agreement_for_2027 is [2027-01-01, 2028-01-01): 12 × $1,170.00 of recurring charges.
TERM_TOTAL = D("14040.00")


@pytest.fixture(autouse=True)
def rates(db):
    return published_card(effective_date=dt.date(2026, 1, 1))


@pytest.fixture
def agreement(customer_a, alice, admin):
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def test_commitment_is_the_term_total_billed_so_far_and_remaining(agreement):
    before = closing.commitment(agreement, today=dt.date(2026, 12, 20))
    assert (before.term.number, before.billed, before.remaining) == (1, D("0.00"), TERM_TOTAL)
    invoicing.issue_invoices(today=dt.date(2027, 3, 10))
    found = closing.commitment(agreement, today=dt.date(2027, 3, 10))
    assert (found.total, found.billed, found.remaining) == (
        TERM_TOTAL,
        D("3510.00"),  # January to March, billed in advance
        D("10530.00"),  # April to December: 9 × (225 + 900 + 45)
    )
    assert closing.early_termination_amount(agreement, today=dt.date(2027, 3, 10)) == D("10530.00")


def test_the_sum_billed_read_with_the_terms_is_the_sum_read_alone(agreement):
    """The agreement page reads each term with its recurring sum billed (`term_recurring_billed`)
    instead of a query of its own: the same sum, void invoices and usage left out either way."""
    invoicing.issue_invoices(today=dt.date(2027, 3, 10))
    march = Invoice.objects.get(agreement=agreement, period=dt.date(2027, 3, 1))
    Invoice.objects.filter(pk=march.pk).update(status=Invoice.Status.VOID)
    plain = list(agreement.terms.all())
    annotated = list(agreement.terms.annotate(recurring_billed=closing.term_recurring_billed()))
    assert closing.recurring_billed(plain) == D("2340.00")  # January and February
    assert closing.recurring_billed(annotated) == D("2340.00")
    assert [t.recurring_billed for t in annotated] == [D("2340.00")]
    unbilled = agreement.terms.annotate(recurring_billed=closing.term_recurring_billed())
    Invoice.objects.filter(agreement=agreement).update(status=Invoice.Status.VOID)
    assert closing.recurring_billed(list(unbilled)) == D("0.00")


def test_usage_is_not_part_of_the_commitment(agreement, staff):
    invoicing.issue_invoices(today=dt.date(2027, 2, 1))
    log_hours(agreement, "emergency", dt.date(2027, 1, 20), "3", by=staff)
    invoicing.issue_invoices(today=dt.date(2027, 3, 1))
    assert closing.commitment(agreement, today=dt.date(2027, 3, 2)).billed == D("3510.00")


def test_early_termination_bills_the_rest_of_the_term_cancels_visits_and_ends(
    agreement, staff, django_capture_on_commit_callbacks
):
    invoicing.issue_invoices(today=dt.date(2027, 3, 1))
    log_hours(agreement, "emergency", dt.date(2027, 3, 5), "2", by=staff)
    with django_capture_on_commit_callbacks(execute=False):
        invoice = lifecycle.terminate_early(agreement, by=staff, today=dt.date(2027, 3, 10))
    assert invoice.kind == Invoice.Kind.FINAL and invoice.issued_on == dt.date(2027, 3, 10)
    assert invoice.lines.filter(kind="emergency").get().amount == D("450.00")
    recurring = sum(line.amount for line in invoice.lines.exclude(kind="emergency"))
    assert recurring == D("10530.00")  # the remaining commitment, at the term's locked rates
    assert invoice.total == D("10980.00")
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.TERMINATED
    assert agreement.events.filter(kind="terminated").exists()
    open_after = Visit.objects.open().filter(agreement=agreement, starts_at__date__gt="2027-03-11")
    assert not open_after.exists()
    assert Visit.objects.filter(agreement=agreement, status="cancelled").count() > 30
    found = closing.commitment(agreement, today=dt.date(2027, 3, 10))
    assert (found.billed, found.remaining) == (TERM_TOTAL, D("0.00"))
    assert invoicing.issue_invoices(today=dt.date(2027, 6, 1)) == []


def test_an_agreement_that_has_ended_cannot_be_terminated_early(agreement, staff):
    agreement.set_status(Agreement.Status.ENDED)
    with pytest.raises(ValidationError, match="Only an active or ending agreement"):
        lifecycle.terminate_early(agreement, by=staff, today=dt.date(2027, 3, 10))
    assert not Invoice.objects.exists()


@time_machine.travel(dt.datetime(2027, 3, 10, 15, tzinfo=dt.UTC))
def test_staff_see_the_amount_before_confirming_and_then_the_final_invoice(
    agreement, staff, client_for
):
    invoicing.issue_invoices(today=dt.date(2027, 3, 1))
    client = client_for(staff)
    detail = client.get(reverse("agreements:agreement_detail", args=[agreement.pk])).content
    assert b"$10,530.00" in detail and b"Terminate early" in detail
    url = reverse("billing:early_termination", args=[agreement.pk])
    page = client.get(url).content.decode()
    assert "Terminate and issue the final invoice of $10,530.00" in page
    response = client.post(url, {"expected_total": "10530.00"})
    invoice = Invoice.objects.get(kind="final")
    assert response.url == reverse("billing:invoice_detail", args=[invoice.pk])
    assert invoice.total == D("10530.00")
    response = client.post(url, {"expected_total": "10530.00"}, follow=True)
    assert "Only an active or ending agreement" in response.content.decode()


@time_machine.travel(dt.datetime(2027, 3, 10, 15, tzinfo=dt.UTC))
def test_a_stale_confirmation_page_terminates_nothing(agreement, staff, client_for):
    url = reverse("billing:early_termination", args=[agreement.pk])
    response = client_for(staff).post(url, {"expected_total": "1.00"}, follow=True)
    assert "The amount changed since this page was opened" in response.content.decode()
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE


@time_machine.travel(dt.datetime(2027, 3, 10, 15, tzinfo=dt.UTC))
def test_the_customer_sees_the_commitment_in_the_portal(agreement, alice, client_for):
    page = client_for(alice).get(reverse("portal:agreement_detail", args=[agreement.pk]))
    assert b"Commitment, term 1" in page.content and b"$14,040.00" in page.content
    assert b"Terminate early" not in page.content


def test_early_termination_settles_a_standing_termination_request(agreement, staff, alice):
    from agreements.models import TerminationRequest

    request = lifecycle.file_termination_request(
        agreement,
        by=alice,
        received_at=dt.datetime(2027, 3, 1, 15, tzinfo=dt.UTC),
        reason="Closing the office",
        typed_name="Alice Moore",
        channel="portal",
        now=dt.datetime(2027, 3, 1, 15, tzinfo=dt.UTC),
    )
    lifecycle.terminate_early(agreement, by=staff, today=dt.date(2027, 3, 10))
    request.refresh_from_db()
    assert request.status == TerminationRequest.Status.FULFILLED
    assert "terminated" in agreement.events.filter(
        kind__in=agreement.events.model.CUSTOMER_KINDS
    ).values_list("kind", flat=True)

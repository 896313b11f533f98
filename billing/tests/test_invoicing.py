"""The monthly invoices: in advance and in arrears, from the term's locked rates, one per month
(unique constraint), numbers without gaps, catch-up after downtime, a crash loses nothing, and
nothing after the end."""

import datetime as dt
from decimal import Decimal as D
from functools import partial

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from agreements import lifecycle
from agreements.models import ServiceKind, ServiceLine
from agreements.tests.factories import agreement_for_2027, signed_agreement
from billing import invoicing
from billing.models import Invoice, InvoiceLine, TimeEntry
from billing.tests.factories import log_hours, published_card

JANUARY = dt.date(2027, 1, 1)
MONTHLY = D("1170.00")  # 2 h maintenance 225 + 8 h block 900 + hosting 45, after 25% off


@pytest.fixture(autouse=True)
def rates(db):
    return published_card(effective_date=dt.date(2026, 1, 1))


@pytest.fixture
def agreement(customer_a, alice, admin):
    """Term 1 [2027-01-01, 2028-01-01), billing day 1, Net 30."""
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def lines(invoice):
    return [
        (line.kind, line.quantity, line.list_amount, line.amount) for line in invoice.lines.all()
    ]


def test_the_billing_day_issues_the_month_in_advance(agreement):
    (invoice,) = invoicing.issue_invoices(today=dt.date(2027, 1, 1))
    assert (invoice.number, invoice.period, invoice.issued_on, invoice.due_on) == (
        "INV-000001",
        dt.date(2027, 1, 1),
        dt.date(2027, 1, 1),
        dt.date(2027, 1, 31),  # Net 30
    )
    assert lines(invoice) == [
        ("maintenance", D("2.00"), D("300.00"), D("225.00")),  # the visit on Jan 20
        ("prescheduled", D("8.00"), D("1200.00"), D("900.00")),
        ("hosting", D("1.00"), D("45.00"), D("45.00")),
    ]
    assert (invoice.subtotal, invoice.discount_total, invoice.total) == (
        D("1545.00"),
        D("375.00"),
        MONTHLY,
    )
    assert invoice.status == Invoice.Status.ISSUED and invoice.bill_to.startswith("Oak City")


def test_a_rerun_and_the_following_days_issue_nothing_twice(agreement):
    invoicing.issue_invoices(today=dt.date(2027, 1, 1))
    assert invoicing.issue_invoices(today=dt.date(2027, 1, 1)) == []
    assert invoicing.issue_invoices(today=dt.date(2027, 1, 31)) == []
    assert Invoice.objects.count() == 1


def test_after_downtime_each_missed_month_gets_its_own_invoice_dated_its_billing_day(agreement):
    issued = invoicing.issue_invoices(today=dt.date(2027, 4, 3))
    assert [(i.number, i.period.month, i.issued_on) for i in issued] == [
        ("INV-000001", 1, dt.date(2027, 1, 1)),
        ("INV-000002", 2, dt.date(2027, 2, 1)),
        ("INV-000003", 3, dt.date(2027, 3, 1)),
        ("INV-000004", 4, dt.date(2027, 4, 1)),
    ]
    assert all(invoice.total == MONTHLY for invoice in issued)


def test_nothing_is_issued_before_the_billing_day(customer_a, alice, admin):
    version = signed_agreement(
        customer=customer_a,
        customer_user=alice,
        admin=admin,
        signed_at=dt.datetime(2026, 12, 10, 15, tzinfo=dt.UTC),
        start_date=dt.date(2027, 1, 1),
        billing_day=15,
        pdf=False,
    )
    assert invoicing.issue_invoices(today=dt.date(2027, 1, 14)) == []
    (invoice,) = invoicing.issue_invoices(today=dt.date(2027, 1, 15))
    assert invoice.agreement_id == version.agreement_id and invoice.issued_on.day == 15


def test_a_first_month_starting_mid_month_is_prorated(customer_a, alice, admin):
    signed_agreement(
        customer=customer_a,
        customer_user=alice,
        admin=admin,
        signed_at=dt.datetime(2026, 12, 10, 15, tzinfo=dt.UTC),
        start_date=dt.date(2027, 1, 15),
        pdf=False,
    )
    assert invoicing.issue_invoices(today=dt.date(2027, 1, 14)) == []
    (invoice,) = invoicing.issue_invoices(today=dt.date(2027, 1, 15))
    assert invoice.issued_on == dt.date(2027, 1, 15)  # not before the term starts
    assert lines(invoice) == [
        ("maintenance", D("2.00"), D("300.00"), D("225.00")),  # Jan 20 is in the 17 days
        # 8 h × 17/31 = 4.3871 h: list 658.07, 25% off 164.52, net 493.55
        ("prescheduled", D("4.3871"), D("658.07"), D("493.55")),
        ("hosting", D("0.5484"), D("24.68"), D("24.68")),  # 17/31 of one month
    ]
    assert "prorated: 17 of 31 days" in invoice.lines.get(kind="hosting").description


def test_usage_is_billed_the_next_month_in_arrears(agreement, staff):
    invoicing.issue_invoices(today=dt.date(2027, 2, 1))
    log_hours(agreement, "emergency", dt.date(2027, 2, 10), "1.5", by=staff)
    for day in (2, 9, 16, 23):
        log_hours(agreement, "prescheduled", dt.date(2027, 2, day), "2.5", by=staff)  # 10 h
    (march,) = invoicing.issue_invoices(today=dt.date(2027, 3, 1))
    usage = [line for line in lines(march) if line[0] in ("emergency", "overage")]
    assert usage == [
        ("emergency", D("1.50"), D("337.50"), D("337.50")),  # 225/h, no discount
        ("overage", D("2.00"), D("300.00"), D("300.00")),  # 2 h beyond 8, at the standard 150/h
    ]
    assert march.total == MONTHLY + D("637.50")
    assert TimeEntry.objects.filter(invoice=march).count() == 5


def test_time_logged_late_is_billed_on_the_next_invoice_and_overage_never_twice(agreement, staff):
    for day in (2, 9, 16, 23):
        log_hours(agreement, "prescheduled", dt.date(2027, 2, day), "2.5", by=staff)
    invoicing.issue_invoices(today=dt.date(2027, 3, 1))  # bills February's 2 h of overage
    later = dt.date(2027, 3, 5)
    log_hours(agreement, "prescheduled", dt.date(2027, 2, 26), "1", by=staff, today=later)
    log_hours(agreement, "emergency", dt.date(2027, 2, 27), "2", by=staff, today=later)
    (april,) = invoicing.issue_invoices(today=dt.date(2027, 4, 1))
    usage = {line.kind: line for line in april.lines.exclude(kind__in=InvoiceLine.RECURRING)}
    assert usage["overage"].quantity == D("1.00")  # 11 h used, 8 included, 2 already billed
    assert "February 2027" in usage["overage"].description
    assert usage["emergency"].amount == D("450.00")


def test_the_unique_constraint_refuses_a_second_invoice_for_the_month(agreement):
    (invoice,) = invoicing.issue_invoices(today=dt.date(2027, 1, 1))
    invoice.pk, invoice.number = None, "INV-999999"
    with pytest.raises(IntegrityError), transaction.atomic():
        invoice.save()


def test_a_crash_midway_loses_nothing_and_a_rerun_completes_the_rest(
    customer_a, alice, admin, monkeypatch
):
    agreements = [
        agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin) for _ in range(3)
    ]
    real = invoicing._insert_lines

    def crash_storing_the_second(rows):  # rows of _LINE_FIELDS: the invoice id first
        if agreements[1].invoices.filter(pk__in=[row[0] for row in rows]).exists():
            raise RuntimeError("the worker was killed")
        return real(rows)

    monkeypatch.setattr(invoicing, "_insert_lines", crash_storing_the_second)
    invoicing.issue_invoices(today=dt.date(2027, 1, 1))
    # The chunk's transaction rolled back whole, then its invoices were stored one by one: the
    # second agreement's rolled back whole (its number given back), the run went on.
    assert Invoice.objects.count() == 2
    agreements[1].refresh_from_db()
    assert agreements[1].billing_problem == "the worker was killed"
    monkeypatch.setattr(invoicing, "_insert_lines", real)
    invoicing.issue_invoices(today=dt.date(2027, 1, 1))
    agreements[1].refresh_from_db()
    assert agreements[1].billing_problem == ""  # billed again: the problem is cleared
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == ["INV-000001", "INV-000002", "INV-000003"]  # no number lost
    assert {i.agreement_id for i in Invoice.objects.all()} == {a.pk for a in agreements}
    assert all(i.lines.count() == 3 for i in Invoice.objects.all())


def test_no_month_after_the_last_term_of_an_ending_agreement(agreement, alice):
    lifecycle.file_termination_request(
        agreement,
        by=alice,
        received_at=dt.datetime(2027, 6, 1, 15, tzinfo=dt.UTC),
        reason="Moving",
        typed_name="Alice Moore",
        channel="portal",
        now=dt.datetime(2027, 6, 1, 15, tzinfo=dt.UTC),
    )
    issued = invoicing.issue_invoices(today=dt.date(2028, 3, 1))
    assert [invoice.period.month for invoice in issued] == list(range(1, 13))  # 2027 only


def test_a_term_renewed_mid_month_bills_each_part_at_its_own_term_rates(customer_a, alice, admin):
    version = signed_agreement(
        customer=customer_a,
        customer_user=alice,
        admin=admin,
        signed_at=dt.datetime(2026, 12, 10, 15, tzinfo=dt.UTC),
        start_date=dt.date(2027, 1, 15),
        pdf=False,
    )
    agreement = version.agreement
    review = lifecycle.save_rate_review(
        agreement, method="uplift", uplift_percent=D("10"), by=admin, today=dt.date(2027, 12, 1)
    )
    lifecycle.finalize_rate_review(review, by=admin, today=dt.date(2027, 12, 1))
    invoicing.issue_invoices(today=dt.date(2028, 1, 1))
    january = Invoice.objects.get(period=dt.date(2028, 1, 1))
    assert (january.covers_from, january.covers_until) == (
        dt.date(2028, 1, 1),
        dt.date(2028, 1, 15),  # term 2 does not exist yet: its days wait for it
    )
    lifecycle.renew_due_agreements(today=dt.date(2028, 1, 15))
    (february,) = invoicing.issue_invoices(today=dt.date(2028, 2, 1))
    block = february.lines.filter(kind="prescheduled").order_by("service_start")
    assert [(b.service_start, b.list_rate, b.amount) for b in block] == [
        (dt.date(2028, 1, 15), D("165.00"), D("542.90")),  # 990 × 17/31 = 542.903…
        (dt.date(2028, 2, 1), D("165.00"), D("990.00")),  # 8 × 123.75 (165 less 25%)
    ]


def test_issue_invoice_explains_why_a_month_is_not_due(agreement):
    with pytest.raises(ValidationError, match="not due"):
        invoicing.issue_invoice(agreement, period=dt.date(2027, 2, 1), today=dt.date(2027, 1, 20))
    with pytest.raises(ValidationError, match="January 2027 first"):
        invoicing.issue_invoice(agreement, period=dt.date(2027, 2, 1), today=dt.date(2027, 2, 1))
    invoice = invoicing.issue_invoice(
        agreement, period=dt.date(2027, 1, 1), today=dt.date(2027, 1, 1)
    )
    assert invoice.number == "INV-000001"
    with pytest.raises(ValidationError, match="already invoiced"):
        invoicing.issue_invoice(agreement, period=dt.date(2027, 1, 1), today=dt.date(2027, 2, 1))


def test_a_voided_invoice_keeps_its_number_and_its_month_is_issued_anew(agreement, staff, admin):
    log_hours(agreement, "emergency", dt.date(2027, 1, 5), "1", by=staff)
    invoicing.issue_invoices(today=dt.date(2027, 1, 1))
    (february,) = invoicing.issue_invoices(today=dt.date(2027, 2, 1))
    february.void(by=admin, reason="Wrong hours", now=dt.datetime(2027, 2, 2, tzinfo=dt.UTC))
    assert not TimeEntry.objects.filter(invoice__isnull=False).exists()
    (again,) = invoicing.issue_invoices(today=dt.date(2027, 2, 2))
    assert (again.number, again.period, again.total) == (
        "INV-000003",
        february.period,
        february.total,
    )
    assert Invoice.objects.get(number="INV-000002").status == Invoice.Status.VOID


def test_a_catch_up_numbers_the_invoices_month_by_month_across_agreements(
    customer_a, customer_b, alice, bob, admin
):
    first = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    second = agreement_for_2027(customer=customer_b, customer_user=bob, admin=admin)
    invoicing.issue_invoices(today=dt.date(2027, 3, 1))
    issued = Invoice.objects.order_by("number").values_list("agreement_id", "period")
    assert [(pk, period.month) for pk, period in issued] == [
        (first.pk, 1),
        (second.pk, 1),
        (first.pk, 2),
        (second.pk, 2),
        (first.pk, 3),
        (second.pk, 3),
    ]


# The run stores a chunk of agreements in one transaction -----------------------------------


def agreements_for_2027(count, customer_a, alice, admin, *, billing_days=()):
    found = [
        agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
        for _ in range(count)
    ]
    for agreement, day in zip(found, billing_days, strict=False):
        agreement.versions.update(billing_day=day)
    return found


def statements(run) -> int:
    with CaptureQueriesContext(connection) as queries:
        run()
    return len(queries.captured_queries)


def test_a_chunk_is_stored_in_the_same_statements_whatever_its_size(
    customer_a, alice, admin, staff
):
    agreements = agreements_for_2027(4, customer_a, alice, admin)
    invoicing.issue_invoices(today=dt.date(2027, 1, 1))  # the number counter exists
    for agreement in agreements:
        for month in (1, 2, 3):
            log_hours(agreement, "prescheduled", dt.date(2027, month, 5), "2", by=staff)
            log_hours(agreement, "emergency", dt.date(2027, month, 6), "1", by=staff)
    one_chunk_of_4 = statements(lambda: invoicing.issue_invoices(today=dt.date(2027, 2, 1)))
    two_chunks_of_2 = partial(invoicing.issue_invoices, today=dt.date(2027, 3, 1), chunk_size=2)
    four_chunks_of_1 = partial(invoicing.issue_invoices, today=dt.date(2027, 4, 1), chunk_size=1)
    per_chunk = statements(two_chunks_of_2) - one_chunk_of_4
    assert statements(four_chunks_of_1) == one_chunk_of_4 + 3 * per_chunk
    # Per chunk, whatever its size: 8 reads (agreements with their invoicing state, terms,
    # versions, lines, schedule changes, unbilled time, billed time, billed overage), then the
    # savepoint (a transaction outside tests), the row locks, the block of numbers, the
    # invoices, their lines, the time entries, the webhook endpoints (integrations), the
    # release; then the customers holding credit to apply to the new invoices (none here: one
    # query).
    assert per_chunk == 17
    assert Invoice.objects.filter(period=dt.date(2027, 4, 1)).count() == 4
    assert TimeEntry.objects.filter(invoice__isnull=True).count() == 0
    numbers = list(Invoice.objects.order_by("number").values_list("number", flat=True))
    assert numbers == [f"INV-{n:06d}" for n in range(1, 17)]


def test_a_catch_up_with_mixed_billing_days_numbers_the_invoices_in_date_order(
    customer_a, alice, admin
):
    # Created in this order, so their ids do not follow their billing days.
    agreements_for_2027(3, customer_a, alice, admin, billing_days=(15, 1, 10))
    issued = invoicing.issue_invoices(today=dt.date(2027, 3, 20), chunk_size=2)
    invoices = Invoice.objects.order_by("number")
    assert [invoice.number for invoice in invoices] == [f"INV-{n:06d}" for n in range(1, 10)]
    assert [invoice.issued_on for invoice in invoices] == [
        dt.date(2027, month, day) for month in (1, 2, 3) for day in (1, 10, 15)
    ]
    assert [invoice.number for invoice in issued] == [invoice.number for invoice in invoices]


def test_an_agreement_that_cannot_be_priced_mid_chunk_leaves_the_others_to_be_issued(
    customer_a, alice, admin
):
    first, broken, last = agreements_for_2027(3, customer_a, alice, admin)
    ServiceLine.objects.filter(version__agreement=broken, kind=ServiceKind.HOSTING).update(
        package_name="Gone package"
    )
    issued = invoicing.issue_invoices(today=dt.date(2027, 2, 1), chunk_size=3)
    assert [(invoice.agreement_id, invoice.number) for invoice in issued] == [
        (first.pk, "INV-000001"),
        (last.pk, "INV-000002"),
        (first.pk, "INV-000003"),
        (last.pk, "INV-000004"),
    ]
    broken.refresh_from_db()
    assert "Gone package" in broken.billing_problem
    assert not broken.invoices.exists()


def test_an_agreement_skipped_in_a_month_of_a_catch_up_waits_for_the_next_run(
    customer_a, alice, admin, monkeypatch
):
    held, other = agreements_for_2027(2, customer_a, alice, admin)
    lock = invoicing._lock_unchanged
    calls = []

    def another_worker_holds_it_in_january(planned, **kwargs):
        calls.append(len(planned))
        found = lock(planned, **kwargs)
        return found - {held.pk} if len(calls) == 1 else found

    monkeypatch.setattr(invoicing, "_lock_unchanged", another_worker_holds_it_in_january)
    issued = invoicing.issue_invoices(today=dt.date(2027, 3, 1))
    # Billing February would have covered January too, and January would never get its own
    # invoice: the agreement is left for the next run.
    assert [(invoice.agreement_id, invoice.period.month) for invoice in issued] == [
        (other.pk, 1),
        (other.pk, 2),
        (other.pk, 3),
    ]
    assert not held.invoices.exists()
    issued = invoicing.issue_invoices(today=dt.date(2027, 3, 1))
    assert [
        (invoice.agreement_id, invoice.period, invoice.covers_from, invoice.covers_until)
        for invoice in issued
    ] == [
        (held.pk, dt.date(2027, month, 1), dt.date(2027, month, 1), dt.date(2027, month + 1, 1))
        for month in (1, 2, 3)
    ]


def test_a_worker_that_raced_into_the_unique_constraint_costs_the_chunk_nothing(
    agreement, customer_b, bob, admin, monkeypatch, caplog
):
    other = agreement_for_2027(customer=customer_b, customer_user=bob, admin=admin)
    loaded = invoicing.load_accounts
    raced: list[Invoice] = []

    def another_worker_issues_the_first_meanwhile(agreement_ids):
        accounts = loaded(agreement_ids)
        if len(accounts) == 2 and not raced:
            raced.append(invoicing.issue_invoice(agreement, period=JANUARY, today=JANUARY))
        return accounts

    monkeypatch.setattr(invoicing, "load_accounts", another_worker_issues_the_first_meanwhile)
    # As if the row lock and the check had both missed the other worker: the unique constraint
    # is the last word.
    monkeypatch.setattr(
        invoicing, "_lock_unchanged", lambda planned, **_: {a.agreement.pk for a, _ in planned}
    )
    issued = invoicing.issue_invoices(today=dt.date(2027, 1, 1))
    assert "Another worker raced this chunk" in caplog.text  # its transaction rolled back whole
    assert [(invoice.agreement_id, invoice.number) for invoice in issued] == [
        (other.pk, "INV-000002")  # then stored one by one: the number INV-000002 given back
    ]
    assert list(Invoice.objects.order_by("number").values_list("agreement_id", "number")) == [
        (agreement.pk, "INV-000001"),
        (other.pk, "INV-000002"),
    ]

"""Receivables: the aging's buckets at their boundaries, the statement, a credit note and an
overpayment credit reconciling the statement with the aging, and the pages (staff, portal)."""

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from agreements.tests.factories import CustomerFactory
from agreements.tests.test_document_pdf import pdf_text
from billing import receivables
from billing.models import Invoice
from billing.receivables import aging, statement
from billing.tests.receivables_data import apply_credit, credit_note, one_off, pay

NOW = dt.datetime(2027, 3, 31, 15, tzinfo=dt.UTC)


def row_of(report, customer):
    return next(row for row in report.rows if row.customer_id == customer.pk)


# The aging --------------------------------------------------------------------------------

# Days past due on the as-of date -> the bucket it falls in.
BOUNDARIES = [
    (-5, "current"),
    (0, "current"),  # due today is not late yet
    (1, "days_1_30"),
    (30, "days_1_30"),
    (31, "days_31_60"),
    (60, "days_31_60"),
    (61, "days_61_90"),
    (90, "days_61_90"),
    (91, "days_90_plus"),
    (400, "days_90_plus"),
]


@pytest.mark.parametrize(
    "as_of",
    [dt.date(2027, 3, 31), dt.date(2027, 2, 28), dt.date(2028, 2, 29), dt.date(2027, 12, 31)],
    ids=["month-end", "february-end", "leap-day", "year-end"],
)
def test_aging_buckets_at_their_boundaries_with_totals(customer_a, customer_b, as_of):
    expected = dict.fromkeys(receivables.BUCKET_KEYS, D("0.00"))
    for position, (days_late, bucket) in enumerate(BOUNDARIES, start=1):
        due_on = as_of - dt.timedelta(days=days_late)
        amount = D(10**position) / 100  # 0.10, 1.00, 10.00…: each shows where it landed
        one_off(
            customer_a,
            issued_on=min(due_on, as_of) - dt.timedelta(days=30),
            due_on=due_on,
            total=amount,
        )
        expected[bucket] += amount
    one_off(customer_b, issued_on=as_of, total="50.00")
    report = aging(as_of=as_of)
    row = row_of(report, customer_a)
    assert {key: getattr(row, key) for key in receivables.BUCKET_KEYS} == expected
    assert row.total == sum(expected.values())
    assert row.credit == 0 and row.net == row.total
    assert [r.customer_name for r in report.rows] == [
        customer_a.legal_name,
        "Triangle Legal Group, LLP",
    ]
    assert report.totals.total == row.total + D("50.00")
    assert report.totals.current == expected["current"] + D("50.00")


def test_the_aging_leaves_out_paid_void_and_later_invoices_and_counts_only_what_was_paid_by_then(
    customer_a, staff
):
    as_of = dt.date(2027, 3, 31)
    paid = one_off(customer_a, issued_on=dt.date(2027, 1, 1), total="100.00")
    pay(paid, "100.00", on=dt.date(2027, 1, 20), by=staff)
    one_off(customer_a, issued_on=dt.date(2027, 1, 5), total="999.00", status=Invoice.Status.VOID)
    one_off(customer_a, issued_on=dt.date(2027, 4, 1), total="70.00")  # issued after the date
    part = one_off(customer_a, issued_on=dt.date(2027, 2, 1), total="300.00")  # due March 3
    pay(part, "100.00", on=dt.date(2027, 3, 1), by=staff)
    pay(part, "200.00", on=dt.date(2027, 4, 2), by=staff)  # paid in full after the date
    row = row_of(aging(as_of=as_of), customer_a)
    assert row.days_1_30 == D("200.00")
    assert row.total == D("200.00")
    # A month later only the April invoice is open (and current).
    (later,) = aging(as_of=dt.date(2027, 4, 30)).rows
    assert (later.current, later.total) == (D("70.00"), D("70.00"))


@pytest.mark.parametrize("bad", [dt.date(1999, 12, 31), dt.date(2028, 4, 1)])
def test_the_aging_date_is_bounded(bad):
    with pytest.raises(ValidationError):
        receivables.check_aging_date(bad, today=dt.date(2027, 3, 31))
    receivables.check_aging_date(dt.date(2028, 3, 31), today=dt.date(2027, 3, 31))


# The statement, reconciled with the aging ----------------------------------------------------


@pytest.fixture
def account(customer_a, customer_b, staff):
    """Customer A in the first quarter of 2027: an overpayment held as credit, a credit note
    on an open invoice, that credit applied, a credit note on a paid invoice held as credit, a
    void invoice. Customer B has an invoice of its own."""
    first = one_off(customer_a, issued_on=dt.date(2027, 1, 1), total="1000.00")  # due Jan 31
    pay(first, "1100.00", on=dt.date(2027, 1, 20), by=staff, reference="CHK 1001")
    second = one_off(customer_a, issued_on=dt.date(2027, 2, 1), total="500.00")  # due Mar 3
    credit_note(second, "200.00", on=dt.date(2027, 2, 10), by=staff, reason="Outage credit")
    apply_credit(second, "100.00", on=dt.date(2027, 2, 15), by=staff)
    third = one_off(customer_a, issued_on=dt.date(2027, 2, 15), total="300.00")
    pay(third, "300.00", on=dt.date(2027, 2, 20), by=staff)
    credit_note(third, "50.00", on=dt.date(2027, 2, 25), by=staff, reason="Duplicate hours")
    one_off(customer_a, issued_on=dt.date(2027, 3, 1), total="999.00", status=Invoice.Status.VOID)
    one_off(customer_b, issued_on=dt.date(2027, 1, 10), total="777.00")
    return {"first": first, "second": second, "third": third}


def test_credit_note_and_overpayment_credit_reconcile_the_statement_with_the_aging(
    customer_a, account
):
    report = statement(customer_a, start=dt.date(2027, 1, 1), end=dt.date(2027, 3, 31))
    assert report.opening_balance == 0
    assert [
        (entry.on.isoformat(), entry.kind, entry.amount, entry.balance) for entry in report.entries
    ] == [
        ("2027-01-01", "invoice", D("1000.00"), D("1000.00")),
        ("2027-01-20", "payment", D("-1100.00"), D("-100.00")),
        ("2027-02-01", "invoice", D("500.00"), D("400.00")),
        ("2027-02-10", "credit_note", D("-200.00"), D("200.00")),
        ("2027-02-15", "invoice", D("300.00"), D("500.00")),  # on one day, invoices first
        ("2027-02-15", "credit_applied", None, D("500.00")),  # credit counted when held
        ("2027-02-20", "payment", D("-300.00"), D("200.00")),
        ("2027-02-25", "credit_note", D("-50.00"), D("150.00")),
    ]
    kinds = [entry.kind for entry in report.entries]
    assert kinds.count("invoice") == 3  # the void one left out
    assert report.closing_balance == D("150.00")
    assert report.credit_at_end == D("50.00")  # 100 held, 100 applied, 50 held
    assert report.owed_on_invoices == D("200.00")
    open_balances = sum(
        invoice.balance
        for invoice in Invoice.objects.filter(customer=customer_a, status__in=["issued", "overdue"])
    )
    assert report.closing_balance == open_balances - report.credit_at_end
    row = row_of(aging(as_of=dt.date(2027, 3, 31)), customer_a)
    assert (row.total, row.credit, row.net) == (D("200.00"), D("50.00"), D("150.00"))
    assert row.days_1_30 == D("200.00")  # the second invoice, due March 3
    overpaid = next(entry for entry in report.entries if entry.kind == "payment")
    assert "$100.00 beyond the invoice held as credit" in overpaid.description
    assert overpaid.credit == D("100.00")


def test_the_statement_and_the_aging_agree_on_every_day(customer_a, account):
    day = dt.date(2026, 12, 30)
    while day <= dt.date(2027, 4, 2):
        closing = statement(customer_a, start=dt.date(2026, 12, 1), end=day).closing_balance
        rows = {row.customer_id: row for row in aging(as_of=day).rows}
        net = rows[customer_a.pk].net if customer_a.pk in rows else D("0.00")
        assert closing == net, day
        day += dt.timedelta(days=1)


def test_a_later_statement_opens_with_the_balance_and_credit_carried(customer_a, account):
    report = statement(customer_a, start=dt.date(2027, 2, 1), end=dt.date(2027, 2, 28))
    assert report.opening_balance == D("-100.00")  # the overpayment, held as credit
    assert report.opening_credit == D("100.00")
    assert report.closing_balance == D("150.00")
    applied = next(entry for entry in report.entries if entry.kind == "credit_applied")
    assert applied.description == f"Credit applied to {account['second'].number}"
    assert applied.credit == D("0.00")


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (dt.date(2027, 3, 1), dt.date(2027, 2, 1), "The statement ends before it starts."),
        (dt.date(2020, 1, 1), dt.date(2025, 1, 1), "A statement covers at most 5 years."),
        (dt.date(1999, 1, 1), dt.date(2000, 1, 1), "Choose dates from 2000-01-01 to 2100-12-31."),
    ],
)
def test_a_bad_statement_period_is_refused_with_a_clear_message(customer_a, start, end, message):
    with pytest.raises(ValidationError) as error:
        statement(customer_a, start=start, end=end)
    assert error.value.messages == [message]
    receivables.check_statement_range(dt.date(2020, 1, 1), dt.date(2024, 12, 31))  # 5 years


# Pages ------------------------------------------------------------------------------------


@time_machine.travel(NOW)
def test_the_aging_page_shows_totals_and_links_in_constant_queries(
    client_for, staff, customer_a, django_assert_num_queries
):
    client = client_for(staff)
    url = reverse("billing:aging")
    one_off(customer_a, issued_on=dt.date(2027, 1, 1), total="100.00")
    # the session with its user, the open balances grouped by customer, the credit grouped by
    # customer
    with django_assert_num_queries(3):
        response = client.get(url)
    assert len(response.context["page"]) == 1
    for n in range(30):
        customer = CustomerFactory()
        one_off(customer, issued_on=dt.date(2027, 1, n % 28 + 1), total="10.00")
        one_off(customer, issued_on=dt.date(2027, 3, 1), total="5.00")
    with django_assert_num_queries(3):
        response = client.get(url)
    assert len(response.context["page"]) == 25  # 31 customers, 25 a page
    assert response.context["report"].totals.total == D("550.00")
    page = response.content.decode()
    assert "$550.00" in page
    first = response.context["page"][0]
    assert f'{reverse("billing:invoice_list")}?customer={first.customer_id}"' in page
    assert reverse("billing:customer_statement", args=[first.customer_id]) in page
    second = client.get(url, {"page": 2})
    assert [row.customer_name for row in second.context["page"]][-1] == customer_a.legal_name


@time_machine.travel(NOW)
@pytest.mark.parametrize("as_of", ["1999-01-01", "2030-01-01", "yesterday"])
def test_a_bad_aging_date_is_a_message_not_a_500(client_for, staff, as_of):
    response = client_for(staff).get(reverse("billing:aging"), {"as_of": as_of})
    assert response.status_code == 200
    assert response.context["form"].errors["as_of"]
    response = client_for(staff).get(reverse("billing:aging_csv"), {"as_of": as_of})
    assert response.status_code == 302


@time_machine.travel(NOW)
def test_the_aging_csv_has_the_same_numbers_and_is_safe_for_spreadsheets(
    client_for, staff, account, customer_a
):
    customer_a.legal_name = "=HYPERLINK(1)"
    customer_a.save()
    response = client_for(staff).get(reverse("billing:aging_csv"), {"as_of": "2027-03-31"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == receivables.AGING_CSV_COLUMNS
    assert rows[1] == [
        "'=HYPERLINK(1)",
        "0.00",
        "200.00",
        "0.00",
        "0.00",
        "0.00",
        "200.00",
        "50.00",
        "150.00",
    ]
    assert rows[2][0] == "Triangle Legal Group, LLP"
    assert rows[-1] == [
        "Total",
        "0.00",
        "200.00",
        "777.00",  # B's invoice, due February 9: 50 days
        "0.00",
        "0.00",
        "977.00",
        "50.00",
        "927.00",
    ]


@time_machine.travel(NOW)
def test_staff_see_a_customers_statement_and_its_pdf(client_for, staff, account, customer_a):
    client = client_for(staff)
    url = reverse("billing:customer_statement", args=[customer_a.pk])
    response = client.get(url, {"start": "2027-01-01", "end": "2027-03-31"})
    assert response.context["statement"].closing_balance == D("150.00")
    page = response.content.decode()
    assert "Outage credit" in page and "Credit applied to" in page
    pdf = client.get(
        reverse("billing:customer_statement_pdf", args=[customer_a.pk]),
        {"start": "2027-01-01", "end": "2027-03-31"},
    )
    assert pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content)
    assert "Statement of account" in text and "Closing balance" in text and "$150.00" in text
    # The default period: the last 90 days.
    default = client.get(url).context["statement"]
    assert (default.start, default.end) == (dt.date(2026, 12, 31), dt.date(2027, 3, 31))


@time_machine.travel(NOW)
def test_a_statement_that_ends_before_it_starts_is_a_message(client_for, staff, alice, customer_a):
    for user, url in (
        (staff, reverse("billing:customer_statement", args=[customer_a.pk])),
        (staff, reverse("billing:customer_statement_pdf", args=[customer_a.pk])),
        (alice, reverse("portal:statement")),
        (alice, reverse("portal:statement_pdf")),
    ):
        response = client_for(user).get(url, {"start": "2027-03-01", "end": "2027-02-01"})
        assert response.status_code == 200
        assert "The statement ends before it starts." in response.content.decode()


@time_machine.travel(NOW)
def test_the_portal_statement_is_always_the_users_own_customer(
    client_for, alice, bob, account, customer_a, customer_b
):
    response = client_for(alice).get(
        reverse("portal:statement"),
        {"start": "2027-01-01", "end": "2027-03-31", "customer": customer_b.pk},
    )
    assert response.context["statement"].customer == customer_a
    assert response.context["statement"].closing_balance == D("150.00")
    page = response.content.decode()
    assert reverse("portal:invoice_detail", args=[account["first"].pk]) in page
    response = client_for(bob).get(
        reverse("portal:statement"), {"start": "2027-01-01", "end": "2027-03-31"}
    )
    assert response.context["statement"].customer == customer_b
    assert response.context["statement"].closing_balance == D("777.00")
    assert "Outage credit" not in response.content.decode()
    # A's invoice linked from B's statement? None is there; and A's invoice page is a 404.
    assert (
        client_for(bob)
        .get(reverse("portal:invoice_detail", args=[account["first"].pk]))
        .status_code
        == 404
    )
    pdf = client_for(bob).get(reverse("portal:statement_pdf"))
    assert pdf.content.startswith(b"%PDF")
    assert customer_b.legal_name in pdf_text(pdf.content)


@time_machine.travel(NOW)
def test_the_statement_page_uses_a_constant_number_of_queries(
    client_for, staff, customer_a, account, django_assert_num_queries
):
    client = client_for(staff)
    url = reverse("billing:customer_statement", args=[customer_a.pk])
    query = {"start": "2027-01-01", "end": "2027-03-31"}
    # the session with its user, customer; opening balance (invoices, payments, credit notes,
    # credit); the range's invoices, payments, credit notes and credit movements
    with django_assert_num_queries(10):
        assert len(client.get(url, query).context["statement"].entries) == 8
    for n in range(10):
        invoice = one_off(customer_a, issued_on=dt.date(2027, 3, n + 1), total="10.00")
        pay(invoice, "15.00", on=dt.date(2027, 3, n + 2), by=staff)
    with django_assert_num_queries(10):
        assert len(client.get(url, query).context["statement"].entries) == 28

"""Accounting exports (issue 15): the invoice-lines CSV and the QuickBooks Online and Xero files.

The headers are checked against the vendors' documented column lists (below, with their
sources); every file is reconciled to the cent with the stored documents over generated data
(prorated quantities, discounts, reversals and negative totals, credit notes, overpayments and
customer credit), recomputing each row's amount the way the target system does (quantity ×
rate × (1 − discount), rounded to cents half up and half even: both must give the amount)."""

import csv
import datetime as dt
import io
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP
from decimal import Decimal as D

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from agreements.tests.factories import CustomerFactory, signed_agreement
from billing import bookkeeping, invoicing
from billing.documents import EXPORT_COLUMNS, export_rows
from billing.models import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    Payment,
    credit_note_number,
    invoice_number,
)
from billing.rules import line_money, prorated_quantity, totals
from billing.tests.factories import published_card

NOW = dt.datetime(2027, 6, 15, 15, tzinfo=dt.UTC)
START, END = dt.date(2027, 1, 1), dt.date(2027, 12, 31)

# The documented column lists ----------------------------------------------------------------

# QuickBooks Online, "Import invoices" (the headers it maps by itself):
# https://quickbooks.intuit.com/learn-support/en-us/help-article/import-export-data-files/import-invoices-quickbooks-online/L3Hy6uHgO_US_en_US
QUICKBOOKS_INVOICES = [
    "InvoiceNo",
    "Customer",
    "InvoiceDate",
    "DueDate",
    "Terms",
    "Location",
    "Memo",
    "Item(Product/Service)",
    "ItemDescription",
    "ItemQuantity",
    "ItemRate",
    "ItemAmount",
    "Taxable",
    "TaxRate",
    "Service Date",
]
# QuickBooks Online, "Import journal entries" (no credit memo import exists):
# https://quickbooks.intuit.com/learn-support/en-au/help-article/import-export-files/import-journal-entries-quickbooks-online/L4tQBwbs7_AU_en_AU
QUICKBOOKS_JOURNAL = [
    "JournalNo",
    "JournalDate",
    "AccountName",
    "Debits",
    "Credits",
    "Description",
    "Name",
]
# QuickBooks Online, bank transactions CSV, the 3-column format (no payment import exists):
# https://quickbooks.intuit.com/learn-support/en-uk/help-article/bank-transactions/format-csv-files-excel-get-bank-transactions/L4BjLWckq_GB_en_GB
QUICKBOOKS_BANK = ["Date", "Description", "Amount"]
# Xero, the sales invoice import template (credit notes: the same, negative):
# https://central.xero.com/s/article/Import-customer-invoices
XERO_SALES = [
    "*ContactName",
    "EmailAddress",
    "POAddressLine1",
    "POAddressLine2",
    "POAddressLine3",
    "POAddressLine4",
    "POCity",
    "PORegion",
    "POPostalCode",
    "POCountry",
    "*InvoiceNumber",
    "Reference",
    "*InvoiceDate",
    "*DueDate",
    "Total",
    "InventoryItemCode",
    "*Description",
    "*Quantity",
    "*UnitAmount",
    "Discount",
    "*AccountCode",
    "*TaxType",
    "TaxAmount",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "BrandingTheme",
]
# Xero, the bank statement import template (no payment import exists):
# https://central.xero.com/s/article/Import-a-CSV-bank-statement
XERO_BANK = ["*Date", "*Amount", "Payee", "Description", "Reference", "Cheque Number"]

HEADERS = {
    ("quickbooks", "invoices"): QUICKBOOKS_INVOICES,
    ("quickbooks", "credit-notes"): QUICKBOOKS_JOURNAL,
    ("quickbooks", "payments"): QUICKBOOKS_BANK,
    ("xero", "invoices"): XERO_SALES,
    ("xero", "credit-notes"): XERO_SALES,
    ("xero", "payments"): XERO_BANK,
}


class Rollback(Exception):
    pass


# Building documents directly (foundation-15: the models, the rules' figures) -----------------


def store_invoice(customer, *, issued_on, lines, agreement=None):
    """A one-off invoice whose lines are (kind, quantity, rate, percent), priced by the rules
    and totalled as invoicing does (sums of the lines' rounded figures)."""
    priced = []
    for position, (kind, quantity, rate, percent) in enumerate(lines):
        listed, discount, net = line_money(quantity, rate, percent)
        priced.append(
            InvoiceLine(
                position=position,
                kind=kind,
                description=f"Line {position + 1}: {InvoiceLine.Kind(kind).label}",
                quantity=quantity,
                unit="hour",
                list_rate=rate,
                discount_percent=percent,
                net_rate=rate,
                list_amount=listed,
                discount_amount=discount,
                amount=net,
                service_start=issued_on,
                service_end=issued_on,
            )
        )
    subtotal, discount, total = totals(priced)
    invoice = Invoice.objects.create(
        number=invoice_number(InvoiceSequence.take()),
        kind=Invoice.Kind.ONE_OFF,
        agreement=agreement,
        customer=customer,
        period=issued_on.replace(day=1),
        issued_on=issued_on,
        due_on=issued_on + dt.timedelta(days=30),
        payment_terms_days=30,
        bill_to=f"{customer.legal_name}\n1 Main St",
        subtotal=subtotal,
        discount_total=discount,
        total=total,
        covers_from=issued_on,
        covers_until=issued_on,
        usage_until=issued_on,
    )
    for line in priced:
        line.invoice = invoice
    InvoiceLine.objects.bulk_create(priced)
    return invoice


def store_credit_note(invoice, amounts, *, by, issued_on):
    total = sum(amounts, D("0.00"))
    note = CreditNote.objects.create(
        number=credit_note_number(InvoiceSequence.take(name=InvoiceSequence.CREDIT_NOTE)),
        invoice=invoice,
        customer=invoice.customer,
        issued_on=issued_on,
        reason="Service not delivered",
        total=total,
        applied_to_invoice=total,
        created_by=by,
    )
    lines = list(invoice.lines.all())
    CreditNoteLine.objects.bulk_create(
        CreditNoteLine(
            credit_note=note,
            position=position,
            invoice_line=lines[position % len(lines)] if lines else None,
            description=f"Credit {position + 1}",
            amount=amount,
        )
        for position, amount in enumerate(amounts)
    )
    return note


# Reading the files back the way the targets compute them ------------------------------------


def read(rows):
    text = "".join(bookkeeping.csv_lines(rows))
    header, *body = list(csv.reader(io.StringIO(text)))
    return header, [dict(zip(header, row, strict=True)) for row in body]


def export(fmt, kind, start=START, end=END):
    return read(bookkeeping.export_rows(fmt, kind, start=start, end=end))


def computed(quantity, rate, percent="0"):
    """The row's amount as the target computes it; both roundings must agree."""
    exact = D(quantity) * D(rate) * (100 - D(percent or "0")) / 100
    found = {exact.quantize(D("0.01"), rounding=mode) for mode in (ROUND_HALF_UP, ROUND_HALF_EVEN)}
    assert len(found) == 1, f"{quantity} × {rate} less {percent}% depends on the rounding"
    return found.pop()


def quickbooks_invoice_sums(rows):
    sums = defaultdict(D)
    for row in rows:
        amount = D(row["ItemAmount"])
        assert computed(row["ItemQuantity"], row["ItemRate"]) == amount
        sums[row["InvoiceNo"]] += amount
    return dict(sums)


def xero_sums(rows):
    sums = defaultdict(D)
    for row in rows:
        sums[row["*InvoiceNumber"]] += computed(
            row["*Quantity"], row["*UnitAmount"], row["Discount"]
        )
    return dict(sums)


def journal_credits(rows):
    """Per journal entry, the credit to Accounts Receivable; every entry balances."""
    debits, credits, receivable = defaultdict(D), defaultdict(D), {}
    for row in rows:
        number = row["JournalNo"]
        debits[number] += D(row["Debits"] or "0")
        credits[number] += D(row["Credits"] or "0")
        if row["AccountName"] == "Accounts Receivable (A/R)":
            receivable[number] = D(row["Credits"])
    assert debits == credits
    return receivable


# Generated data ---------------------------------------------------------------------------

money_rates = st.decimals(min_value=D("0.01"), max_value=D("2000"), places=2)
percents = st.one_of(
    st.sampled_from([D("0"), D("25"), D("25.00")]),
    st.decimals(min_value=D("0"), max_value=D("100"), places=2),
)


@st.composite
def quantities(draw):
    """Whole or quarter hours and months, or a prorated quantity (4 places); negative for a
    reversal."""
    base = draw(st.decimals(min_value=D("0.25"), max_value=D("40"), places=2))
    if draw(st.booleans()):
        month_days = draw(st.sampled_from([28, 29, 30, 31]))
        days = draw(st.integers(min_value=1, max_value=month_days - 1))
        base = prorated_quantity(base, days=days, days_in_month=month_days)
    return -base if draw(st.integers(0, 4)) == 0 else base


lines_strategy = st.lists(
    st.tuples(
        st.sampled_from([kind for kind, _ in InvoiceLine.Kind.choices]),
        quantities(),
        money_rates,
        percents,
    ),
    min_size=1,
    max_size=5,
)
books = st.fixed_dictionaries(
    {
        "invoices": st.lists(
            st.tuples(st.integers(0, 364), lines_strategy, st.booleans()), min_size=1, max_size=4
        ),
        "credit_share": st.sampled_from([D("0"), D("0.1"), D("0.5"), D("1")]),
        "payments": st.lists(
            st.tuples(
                st.sampled_from([m for m, _ in Payment.Method.choices]),
                st.decimals(min_value=D("0.01"), max_value=D("5000"), places=2),
                st.decimals(min_value=D("0"), max_value=D("1"), places=2),
            ),
            max_size=3,
        ),
    }
)


def build(data, customer, agreement, user):
    """The generated invoices (some with a negative total), credit notes and payments."""
    found = {"invoices": [], "notes": [], "payments": []}
    for offset, lines, on_agreement in data["invoices"]:
        issued_on = START + dt.timedelta(days=offset)
        invoice = store_invoice(
            customer,
            issued_on=issued_on,
            lines=lines,
            agreement=agreement if on_agreement else None,
        )
        found["invoices"].append(invoice)
        credit = (invoice.total * data["credit_share"]).quantize(D("0.01"))
        if invoice.total > 0 and credit > 0:
            parts = [credit] if credit < D("0.02") else [credit - D("0.01"), D("0.01")]
            found["notes"].append(store_credit_note(invoice, parts, by=user, issued_on=issued_on))
    for position, (method, amount, share) in enumerate(data["payments"]):
        invoice = found["invoices"][position % len(found["invoices"])]
        found["payments"].append(
            Payment.objects.create(
                invoice=invoice,
                amount=amount,
                to_credit=(amount * share).quantize(D("0.01")),
                received_on=invoice.issued_on,
                method=method,
                reference="1042" if method == "check" else "",
                recorded_by=user,
            )
        )
    return found


@pytest.fixture
def books_owner(db, customer_a, alice, admin):
    published_card(effective_date=dt.date(2026, 1, 1))
    from agreements.tests.factories import agreement_for_2027

    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=books)
def test_every_export_reconciles_to_the_cent_with_the_stored_documents(
    data, books_owner, customer_a, staff
):
    try:
        with transaction.atomic():
            found = build(data, customer_a, books_owner, staff)
            invoices = {i.number: i.total for i in found["invoices"] if i.total >= 0}
            credits = {i.number: -i.total for i in found["invoices"] if i.total < 0}
            credits.update({note.number: note.total for note in found["notes"]})
            money_in = [p.amount for p in found["payments"] if p.method != "credit"]
            for name, present in (
                ("a negative total", any(i.total < 0 for i in found["invoices"])),
                ("a credit note", bool(found["notes"])),
                ("customer credit applied", len(money_in) < len(found["payments"])),
            ):
                event(f"{name}: {present}")

            # The invoice-lines CSV: its rows sum to each invoice's list, discount and total.
            check_invoice_lines_csv(found["invoices"])

            header, rows = export("quickbooks", "invoices")
            assert header == QUICKBOOKS_INVOICES
            assert quickbooks_invoice_sums(rows) == invoices
            header, rows = export("xero", "invoices")
            assert header == XERO_SALES
            assert xero_sums(rows) == invoices

            header, rows = export("quickbooks", "credit-notes")
            assert header == QUICKBOOKS_JOURNAL
            assert journal_credits(rows) == credits
            header, rows = export("xero", "credit-notes")
            assert xero_sums(rows) == {number: -total for number, total in credits.items()}

            header, rows = export("quickbooks", "payments")
            assert header == QUICKBOOKS_BANK
            assert sorted(D(row["Amount"]) for row in rows) == sorted(money_in)
            header, rows = export("xero", "payments")
            assert header == XERO_BANK
            assert sorted(D(row["*Amount"]) for row in rows) == sorted(money_in)
            raise Rollback
    except Rollback:
        pass


def check_invoice_lines_csv(invoices):
    lines = export_rows(start=START, end=END)
    rows = [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in lines]
    sums = defaultdict(lambda: [D(0), D(0), D(0)])
    for row in rows:
        listed, discount, net = (D(row[c]) for c in ("List amount", "Discount", "Net amount"))
        # Each row reconciles on its own: list = quantity × rate (cents), net = list − discount.
        assert listed == (D(row["Quantity"]) * D(row["List rate"])).quantize(
            D("0.01"), rounding=ROUND_HALF_UP
        )
        assert net == listed - discount
        for index, value in enumerate((listed, discount, net)):
            sums[row["Invoice number"]][index] += value
        assert D(row["Invoice total"]) == D(row["Invoice list amount"]) - D(row["Invoice discount"])
    assert {number: tuple(s) for number, s in sums.items()} == {
        i.number: (i.subtotal, i.discount_total, i.total) for i in invoices
    }


# Real invoices: a prorated first month -------------------------------------------------------


@time_machine.travel(NOW)
def test_real_invoices_with_a_prorated_month_reconcile_in_every_file(customer_a, alice, admin):
    published_card(effective_date=dt.date(2026, 1, 1))
    signed_agreement(
        customer=customer_a,
        customer_user=alice,
        admin=admin,
        signed_at=dt.datetime(2026, 12, 10, 15, tzinfo=dt.UTC),
        start_date=dt.date(2027, 1, 15),
        pdf=False,
    )
    issued = invoicing.issue_invoices(today=dt.date(2027, 3, 1))
    assert any("prorated" in line.description for i in issued for line in i.lines.all())
    totals_by_number = {i.number: i.total for i in issued}
    check_invoice_lines_csv(issued)
    assert quickbooks_invoice_sums(export("quickbooks", "invoices")[1]) == totals_by_number
    _, rows = export("xero", "invoices")
    assert xero_sums(rows) == totals_by_number
    discounted = [row for row in rows if row["Discount"]]
    assert discounted and all(row["Discount"] == "25.00" for row in discounted)
    # QuickBooks has no discount column: the discount is its own negative row.
    _, rows = export("quickbooks", "invoices")
    discounts = [row for row in rows if row["Item(Product/Service)"] == "Discount"]
    assert discounts and all(D(row["ItemAmount"]) < 0 for row in discounts)
    assert rows[0]["Customer"] == "Oak City Dental, PLLC" and rows[0]["Terms"] == "Net 30"


def test_a_line_xero_would_round_differently_goes_at_its_net_amount(customer_a):
    # 1.0001 × $0.05 = $0.050005: list $0.05, 50% off $0.03 (half up), net $0.02; Xero's
    # 1.0001 × 0.05 × 0.5 = 0.0250025 would be $0.03.
    invoice = store_invoice(
        customer_a,
        issued_on=dt.date(2027, 2, 1),
        lines=[("maintenance", D("1.0001"), D("0.05"), D("50"))],
    )
    (row,) = export("xero", "invoices")[1]
    assert (row["*Quantity"], row["*UnitAmount"], row["Discount"]) == ("1.00", "0.02", "")
    assert "1.0001 hour at $0.05, 50% off" in row["*Description"]
    assert xero_sums([row]) == {invoice.number: D("0.02")}


def test_void_invoices_are_left_out_and_one_off_invoices_without_agreement_are_in(customer_a):
    kept = store_invoice(
        customer_a, issued_on=dt.date(2027, 2, 1), lines=[("item", D("2"), D("40"), D("0"))]
    )
    void = store_invoice(
        customer_a, issued_on=dt.date(2027, 2, 2), lines=[("item", D("1"), D("10"), D("0"))]
    )
    Invoice.objects.filter(pk=void.pk).update(status=Invoice.Status.VOID)
    _, rows = export("xero", "invoices")
    assert {row["*InvoiceNumber"] for row in rows} == {kept.number}
    assert rows[0]["Reference"] == "One-off" and rows[0]["*AccountCode"] == "200"


def test_customer_credit_applied_is_not_bank_money_and_an_overpayment_is_whole(customer_a, staff):
    invoice = store_invoice(
        customer_a, issued_on=dt.date(2027, 2, 1), lines=[("item", D("1"), D("100"), D("0"))]
    )
    for method, amount, to_credit in (("check", "120.00", "20.00"), ("credit", "5.00", "0")):
        Payment.objects.create(
            invoice=invoice,
            amount=D(amount),
            to_credit=D(to_credit),
            received_on=dt.date(2027, 2, 10),
            method=method,
            reference="1042",
            recorded_by=staff,
        )
    _, rows = export("xero", "payments")
    assert rows == [
        {
            "*Date": "02/10/2027",
            "*Amount": "120.00",
            "Payee": "Oak City Dental, PLLC",
            "Description": f"Payment of {invoice.number} (Check)",
            "Reference": invoice.number,
            "Cheque Number": "1042",
        }
    ]
    _, rows = export("quickbooks", "payments")
    assert [row["Amount"] for row in rows] == ["120.00"]


def test_text_a_spreadsheet_would_run_is_neutralized_and_credits_stay_numbers(customer_a, staff):
    customer_a.legal_name = "=HYPERLINK(1)"
    customer_a.save()
    invoice = store_invoice(
        customer_a, issued_on=dt.date(2027, 2, 1), lines=[("item", D("1"), D("100"), D("0"))]
    )
    store_credit_note(invoice, [D("12.50")], by=staff, issued_on=dt.date(2027, 2, 3))
    _, rows = export("xero", "credit-notes")
    assert rows[0]["*ContactName"] == "'=HYPERLINK(1)"
    assert rows[0]["*UnitAmount"] == "-12.50"


# Ranges, the command, the page ------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2027-03-01", "2027-02-01", "The export range ends (2027-02-01) before it starts"),
        ("2020-01-01", "2025-01-01", "An export covers at most 5 years"),
    ],
)
def test_a_bad_range_is_a_clear_message_and_writes_nothing(db, tmp_path, start, end, message):
    output = tmp_path / "out.csv"
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command(
            "export_accounting",
            "--format=xero",
            "--kind=invoices",
            f"--from={start}",
            f"--to={end}",
            f"--output={output}",
        )
    assert not output.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from=2027-13-01", "--to=2027-12-31"], "'2027-13-01' is not a date"),
        (["--from=1999-12-31", "--to=2000-01-31"], "Enter a date from 2000-01-01"),
        (["--format=sage", "--from=2027-01-01", "--to=2027-01-31"], "invalid choice: 'sage'"),
    ],
)
def test_the_command_refuses_bad_arguments(db, arguments, message):
    base = ["--format=xero", "--kind=payments"]
    with pytest.raises(CommandError, match=message):
        call_command("export_accounting", *base, *arguments)


@time_machine.travel(NOW)
def test_the_command_writes_the_file(customer_a, tmp_path):
    invoice = store_invoice(
        customer_a, issued_on=dt.date(2027, 2, 1), lines=[("item", D("3"), D("40"), D("0"))]
    )
    output = tmp_path / "qbo.csv"
    err = io.StringIO()
    call_command(
        "export_accounting",
        "--format=quickbooks",
        "--kind=invoices",
        "--from=2027-02-01",
        "--to=2027-02-28",
        f"--output={output}",
        stderr=err,
    )
    header, rows = read(csv.reader(io.StringIO(output.read_text(encoding="utf-8"))))
    assert header == QUICKBOOKS_INVOICES
    assert [(r["InvoiceNo"], r["ItemQuantity"], r["ItemRate"], r["ItemAmount"]) for r in rows] == [
        (invoice.number, "3.00", "40.00", "120.00")
    ]
    assert rows[0]["InvoiceDate"] == "02/01/2027" and rows[0]["DueDate"] == "03/03/2027"
    assert "1 rows in" in err.getvalue()


@pytest.mark.parametrize(("fmt", "kind"), list(HEADERS))
def test_each_header_is_the_documented_column_list(db, fmt, kind):
    assert export(fmt, kind)[0] == HEADERS[(fmt, kind)]


@time_machine.travel(NOW)
def test_the_page_downloads_the_file_and_shows_range_errors(client_for, staff, customer_a):
    store_invoice(
        customer_a, issued_on=dt.date(2027, 2, 1), lines=[("item", D("1"), D("10"), D("0"))]
    )
    client = client_for(staff)
    url = reverse("billing:accounting_export")
    assert "QuickBooks" in client.get(url).content.decode()
    query = {"format": "xero", "kind": "invoices", "start": "2027-01-01", "end": "2027-03-31"}
    response = client.get(url, query)
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert 'filename="xero-invoices-2027-01-01-2027-03-31.csv"' in response["Content-Disposition"]
    header, rows = read(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert header == XERO_SALES and len(rows) == 1
    bad = client.get(url, {**query, "start": "2027-04-01"})
    assert bad.status_code == 200
    message = "The export range ends (2027-03-31) before it starts (2027-04-01)."
    assert message in bad.content.decode()
    assert client.get(url, {**query, "kind": "bills"}).status_code == 200


@time_machine.travel(NOW)
def test_the_download_takes_the_same_queries_for_5_and_50_invoices(client_for, staff):
    client = client_for(staff)
    url = reverse("billing:accounting_export")
    counts = []
    for number in (5, 50):
        customer = CustomerFactory()
        for day in range(number):
            issued_on = dt.date(2027, 2, 1) + dt.timedelta(days=day % 28)
            invoice = store_invoice(
                customer,
                issued_on=issued_on,
                lines=[("item", D("1"), D("10"), D("0")), ("hosting", D("0.4516"), D("45"), D(25))],
            )
            store_credit_note(invoice, [D("1.00"), D("0.50")], by=staff, issued_on=issued_on)
            Payment.objects.create(
                invoice=invoice, amount=D("5.00"), received_on=issued_on, recorded_by=staff
            )
            store_invoice(customer, issued_on=issued_on, lines=[("item", D("-1"), D("3"), D(0))])
        for fmt, kind in HEADERS:
            query = {"format": fmt, "kind": kind, "start": "2027-01-01", "end": END}
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url, query)
                assert len(b"".join(response.streaming_content).splitlines()) > number
            counts.append((fmt, kind, len(queries)))
    # The session with its user, then per chunk of 500: invoices: the invoices, their lines;
    # credit notes: the negative invoices and their lines, the credit notes and theirs;
    # payments: the payments with their invoices and customers.
    assert counts[:6] == counts[6:]
    assert [count for *_, count in counts[:3]] == [3, 5, 2]

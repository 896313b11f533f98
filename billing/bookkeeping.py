"""Accounting exports: invoices, credit notes and payments of a date range as the CSV files
QuickBooks Online and Xero import as they are (``export_accounting``, the staff page
``billing:accounting_export``). The figures are the stored ones: per document, the amounts the
target system computes from the rows sum to the invoice's total (credit note's total, payment's
amount) to the cent.

The layouts, from the vendors' documentation (the column lists are copied, with these sources,
into ``billing/tests/test_bookkeeping.py``; [read] marks a page read in a stored copy while this
was written, [vendor] the vendor's help article named by its title, to check against a live
company before relying on a detail):

- QuickBooks Online, invoices: "Import invoices" (Settings > Import data > Invoices), the
  column headers QuickBooks maps by itself (InvoiceNo, Customer, InvoiceDate, DueDate, Terms,
  Location, Memo, Item(Product/Service), ItemDescription, ItemQuantity, ItemRate, ItemAmount,
  Taxable, TaxRate, Service Date) [vendor]
  https://quickbooks.intuit.com/learn-support/en-us/help-article/import-export-data-files/import-invoices-quickbooks-online/L3Hy6uHgO_US_en_US
  and
  https://quickbooks.intuit.com/learn-support/en-ca/help-articles/import-invoices-in-batches/01/338729
  (its mandatory fields listed by Intuit in [read]
  https://quickbooks.intuit.com/learn-support/en-ca/sales-and-invoicing/do-we-need-to-map-field-everytime-when-import-invoices/01/394876
  ).
  The importer has no discount column: a discounted line is two rows, its list amount and the
  discount as a negative row of the discount item.
- QuickBooks Online has no CSV import of credit memos or received payments. Credit notes go as
  journal entries ("Import journal entries": Journal No, Journal Date, Account Name, Debits,
  Credits, Description, Name) [read]
  https://quickbooks.intuit.com/learn-support/en-au/help-article/import-export-files/import-journal-entries-quickbooks-online/L4tQBwbs7_AU_en_AU
  (the income account debited, Accounts Receivable credited for the customer: an open credit
  the bookkeeper applies to the invoice). Payments go as bank transactions in the documented
  3-column layout (Date, Description, Amount), matched to the open invoice in Banking [read]
  https://quickbooks.intuit.com/learn-support/en-uk/help-article/bank-transactions/format-csv-files-excel-get-bank-transactions/L4BjLWckq_GB_en_GB
- Xero, invoices and credit notes: the sales invoice import template (Business > Invoices >
  Import) [vendor] https://central.xero.com/s/article/Import-customer-invoices (its required
  columns are described in [read] https://online.flippingbook.com/view/399081/31/). A document
  whose lines total less than zero is imported as a credit note, so a credit note (and an
  invoice with a negative total, a credit from an amendment) is the same layout with negative
  amounts. ``Discount`` is a percent: Xero computes quantity × unit amount × (1 − discount),
  rounded to the cent; where that would not give the stored net amount, the line goes as
  quantity 1 at its net amount, its quantity, rate and discount written into the description.
- Xero has no CSV import of invoice payments either: payments go as a bank statement (the
  statement template: *Date, *Amount, Payee, Description, Reference, Cheque Number) [vendor]
  https://central.xero.com/s/article/Import-a-CSV-bank-statement ([read]
  https://online.flippingbook.com/view/399081/34/), reconciled against the invoice whose number
  is the reference.

What is exported: invoices issued in the range, void ones left out, with a total of zero or
more (project and one-off invoices included, with or without an agreement); credit notes
issued in the range, and invoices with a negative total as credit notes under their invoice
number; payments received in the range. Customer credit applied to an invoice (a payment of
method "credit") moved no money: it is left out of the payments (in the books it is the credit
note or the overpayment already exported, applied to the invoice by the bookkeeper); an
overpayment is exported whole (the bank received all of it).

The account names, codes, tax type and discount item are settings (``ACCOUNTING_EXPORT``, from
the environment), defaulting to the names a new QuickBooks Online or Xero (US) company has.
"""

import csv
import datetime as dt
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Prefetch

from allora.spreadsheet import safe_row

from .documents import quantity_text
from .models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, Payment
from .rules import CENT, HUNDRED, ZERO

QUICKBOOKS, XERO = "quickbooks", "xero"
FORMATS = {QUICKBOOKS: "QuickBooks Online", XERO: "Xero"}
INVOICES, CREDIT_NOTES, PAYMENTS = "invoices", "credit-notes", "payments"
KINDS = {INVOICES: "Invoices", CREDIT_NOTES: "Credit notes", PAYMENTS: "Payments"}
MAX_YEARS = 5
CHUNK = 500
ONE = Decimal(1)

QUICKBOOKS_INVOICE_COLUMNS = [
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
QUICKBOOKS_JOURNAL_COLUMNS = [
    "JournalNo",
    "JournalDate",
    "AccountName",
    "Debits",
    "Credits",
    "Description",
    "Name",
]
QUICKBOOKS_BANK_COLUMNS = ["Date", "Description", "Amount"]
XERO_SALES_COLUMNS = [
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
XERO_BANK_COLUMNS = ["*Date", "*Amount", "Payee", "Description", "Reference", "Cheque Number"]

DATE_FORMAT = "%m/%d/%Y"  # a US company's dates, in both systems
CURRENCY = "USD"


def option(name: str) -> str:
    """An account, item or tax name of the target company (settings.ACCOUNTING_EXPORT)."""
    return settings.ACCOUNTING_EXPORT[name]


def check_range(start: dt.date, end: dt.date) -> None:
    """Refuse a range that ends before it starts or spans more than MAX_YEARS years."""
    if end < start:
        raise ValidationError(
            "The export range ends (%(end)s) before it starts (%(start)s).",
            params={"start": start.isoformat(), "end": end.isoformat()},
        )
    if end >= start + relativedelta(years=MAX_YEARS):
        raise ValidationError(
            "An export covers at most %(years)s years: export a shorter range.",
            params={"years": MAX_YEARS},
        )


# What is exported: documents in invoice sign, and payments --------------------------------


@dataclass(frozen=True)
class Line:
    item: str
    description: str
    quantity: Decimal
    unit: str
    rate: Decimal
    discount_percent: Decimal
    list_amount: Decimal
    discount_amount: Decimal
    amount: Decimal  # net; negative on a credit
    service_date: dt.date


@dataclass(frozen=True)
class Document:
    """An invoice or a credit note, its lines as an invoice shows them: a credit note's lines
    are negative, so ``total`` (the sum of the lines) is below zero for a credit."""

    number: str
    customer: str
    issued_on: dt.date
    due_on: dt.date
    terms_days: int
    reference: str
    lines: tuple[Line, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


@dataclass(frozen=True)
class Receipt:
    number: str  # the invoice paid
    customer: str
    received_on: dt.date
    amount: Decimal
    method: str
    method_label: str
    reference: str


def _reference(invoice) -> str:
    if invoice.project_id:
        return f"Project: {invoice.project.title}"
    if invoice.agreement_id:
        return f"Agreement {invoice.agreement.number}"
    return invoice.get_kind_display()


def _invoice_line(line) -> Line:
    return Line(
        item=line.get_kind_display(),
        description=line.description,
        quantity=line.quantity,
        unit=line.unit,
        rate=line.list_rate,
        discount_percent=line.discount_percent,
        list_amount=line.list_amount,
        discount_amount=line.discount_amount,
        amount=line.amount,
        service_date=line.service_start,
    )


def invoice_document(invoice) -> Document:
    """An invoice (its lines as stored)."""
    return Document(
        number=invoice.number,
        customer=invoice.customer.legal_name,
        issued_on=invoice.issued_on,
        due_on=invoice.due_on,
        terms_days=invoice.payment_terms_days,
        reference=_reference(invoice),
        lines=tuple(_invoice_line(line) for line in invoice.lines.all()),
    )


def credit_note_document(note) -> Document:
    """A credit note: each line a negative amount (quantity 1)."""
    lines = []
    for line in note.lines.all():
        lines.append(
            Line(
                item="Credit",
                description=line.description,
                quantity=ONE,
                unit="",
                rate=-line.amount,
                discount_percent=ZERO,
                list_amount=-line.amount,
                discount_amount=ZERO,
                amount=-line.amount,
                service_date=note.issued_on,
            )
        )
    return Document(
        number=note.number,
        customer=note.customer.legal_name,
        issued_on=note.issued_on,
        due_on=note.issued_on,
        terms_days=0,
        reference=f"Credit on {note.invoice.number}: {note.reason}"[:255],
        lines=tuple(lines),
    )


def _invoices(start, end):
    lines = Prefetch("lines", queryset=InvoiceLine.objects.order_by("position", "id"))
    return (
        Invoice.objects.not_void()
        .filter(issued_on__range=(start, end))
        .select_related("customer", "agreement", "project")
        .prefetch_related(lines)
        .order_by("issued_on", "number")
    )


def invoices(start: dt.date, end: dt.date) -> Iterator[Document]:
    """Invoices issued in [start, end], not void, with a total of zero or more."""
    found = _invoices(start, end).filter(total__gte=0)
    return (invoice_document(invoice) for invoice in found.iterator(chunk_size=CHUNK))


def credit_notes(start: dt.date, end: dt.date) -> Iterator[Document]:
    """Credit notes issued in [start, end] and invoices with a negative total, by date."""
    negative = _invoices(start, end).filter(total__lt=0).iterator(chunk_size=CHUNK)
    lines = Prefetch("lines", queryset=CreditNoteLine.objects.order_by("position", "id"))
    notes = (
        CreditNote.objects.filter(issued_on__range=(start, end))
        .select_related("customer", "invoice")
        .prefetch_related(lines)
        .order_by("issued_on", "number")
        .iterator(chunk_size=CHUNK)
    )
    return heapq.merge(
        (invoice_document(invoice) for invoice in negative),
        (credit_note_document(note) for note in notes),
        key=lambda document: (document.issued_on, document.number),
    )


def receipts(start: dt.date, end: dt.date) -> Iterator[Receipt]:
    """Money received in [start, end]: payments, customer credit applied left out."""
    found = (
        Payment.objects.filter(received_on__range=(start, end))
        .exclude(method=Payment.Method.CREDIT)
        .select_related("invoice__customer")
        .order_by("received_on", "id")
    )
    for payment in found.iterator(chunk_size=CHUNK):
        yield Receipt(
            number=payment.invoice.number,
            customer=payment.invoice.customer.legal_name,
            received_on=payment.received_on,
            amount=payment.amount,
            method=payment.method,
            method_label=payment.get_method_display(),
            reference=payment.reference,
        )


# Lines the way the target computes them ---------------------------------------------------


def _rounded(value: Decimal) -> set[Decimal]:
    """``value`` in cents, the ways an accounting system may round (half up, half even)."""
    return {value.quantize(CENT, rounding=mode) for mode in (ROUND_HALF_UP, ROUND_HALF_EVEN)}


def computes(quantity: Decimal, rate: Decimal, percent: Decimal, amount: Decimal) -> bool:
    """Whether quantity × rate × (1 − percent) gives ``amount`` whichever way it is rounded."""
    return _rounded(quantity * rate * (HUNDRED - percent) / HUNDRED) == {amount}


def _number(value: Decimal) -> str:
    return f"{value:f}"


def _spelled(line: Line) -> str:
    """The line's own figures, for a description when a row carries only its amount."""
    text = f"{quantity_text(line.quantity)} {line.unit or 'x'} at ${line.rate:,.2f}"
    if line.discount_percent:
        text += f", {line.discount_percent.normalize():f}% off"
    return f"{line.description} ({text})"


def priced(line: Line, *, amount: Decimal, percent: Decimal = ZERO):
    """(description, quantity, rate, as_is) of a row giving ``amount``: the line's quantity and
    list rate when the target computes ``amount`` from them (``as_is``), else quantity 1 at
    ``amount`` with the line's figures spelled out in the description."""
    if computes(line.quantity, line.rate, percent, amount):
        return line.description, line.quantity, line.rate, True
    return _spelled(line), ONE, amount, False


# QuickBooks Online ------------------------------------------------------------------------


def _date(day: dt.date) -> str:
    return day.strftime(DATE_FORMAT)


def quickbooks_invoice_rows(document: Document) -> Iterator[list[str]]:
    """One row per line (its list amount), and one negative row per discount."""
    head = [
        document.number,
        document.customer,
        _date(document.issued_on),
        _date(document.due_on),
        f"Net {document.terms_days}" if document.terms_days else "Due on receipt",
        "",
        document.reference,
    ]
    for line in document.lines:
        description, quantity, rate, _ = priced(line, amount=line.list_amount)
        yield [
            *head,
            line.item,
            description,
            quantity_text(quantity),
            _number(rate),
            _number(line.list_amount),
            "",
            "",
            _date(line.service_date),
        ]
        if line.discount_amount:
            yield [
                *head,
                option("quickbooks_discount_item"),
                f"{line.discount_percent.normalize():f}% discount: {line.description}",
                "1",
                _number(-line.discount_amount),
                _number(-line.discount_amount),
                "",
                "",
                _date(line.service_date),
            ]


def quickbooks_journal_rows(document: Document) -> Iterator[list[str]]:
    """A credit as a journal entry: the income account debited line by line (credited for a
    line billed again on a credit invoice), Accounts Receivable credited with the whole credit
    for the customer."""
    date = _date(document.issued_on)
    for line in document.lines:
        if not line.amount:
            continue
        taken = -line.amount  # what the credit takes off the income
        yield [
            document.number,
            date,
            option("quickbooks_income_account"),
            _number(taken) if taken > 0 else "",
            _number(-taken) if taken < 0 else "",
            line.description,
            document.customer,
        ]
    yield [
        document.number,
        date,
        option("quickbooks_receivable_account"),
        "",
        _number(-document.total),
        document.reference,
        document.customer,
    ]


def quickbooks_bank_row(receipt: Receipt) -> list[str]:
    reference = f" {receipt.reference}" if receipt.reference else ""
    return [
        _date(receipt.received_on),
        f"{receipt.customer}: payment of {receipt.number} ({receipt.method_label}{reference})",
        _number(receipt.amount),
    ]


# Xero ------------------------------------------------------------------------------------


def xero_sales_rows(document: Document) -> Iterator[list[str]]:
    """One row per line: quantity, list rate and discount percent when Xero's own arithmetic
    gives the stored net amount, else quantity 1 at the net amount."""
    for line in document.lines:
        description, quantity, rate, as_is = priced(
            line, amount=line.amount, percent=line.discount_percent
        )
        percent = line.discount_percent if as_is else ZERO  # else the rate is net already
        yield [
            document.customer,
            *[""] * 9,  # email and postal address: kept on the contact in Xero
            document.number,
            document.reference,
            _date(document.issued_on),
            _date(document.due_on),
            "",  # Total: Xero computes it
            "",
            description,
            quantity_text(quantity),
            _number(rate),
            _number(percent) if percent else "",
            option("xero_account_code"),
            option("xero_tax_type"),
            "",
            "",
            "",
            "",
            "",
            CURRENCY,
            "",
        ]


def xero_bank_row(receipt: Receipt) -> list[str]:
    return [
        _date(receipt.received_on),
        _number(receipt.amount),
        receipt.customer,
        f"Payment of {receipt.number} ({receipt.method_label})",
        receipt.number,
        receipt.reference if receipt.method == Payment.Method.CHECK else "",
    ]


# The files -------------------------------------------------------------------------------


def layout(fmt: str, kind: str) -> tuple[list[str], object]:
    """(header, rows of one exported item) of a format and kind."""
    table = {
        (QUICKBOOKS, INVOICES): (QUICKBOOKS_INVOICE_COLUMNS, quickbooks_invoice_rows),
        (QUICKBOOKS, CREDIT_NOTES): (QUICKBOOKS_JOURNAL_COLUMNS, quickbooks_journal_rows),
        (QUICKBOOKS, PAYMENTS): (QUICKBOOKS_BANK_COLUMNS, lambda r: [quickbooks_bank_row(r)]),
        (XERO, INVOICES): (XERO_SALES_COLUMNS, xero_sales_rows),
        (XERO, CREDIT_NOTES): (XERO_SALES_COLUMNS, xero_sales_rows),
        (XERO, PAYMENTS): (XERO_BANK_COLUMNS, lambda r: [xero_bank_row(r)]),
    }
    if (fmt, kind) not in table:
        raise ValidationError(
            "Choose a format (%(formats)s) and a kind (%(kinds)s).",
            params={"formats": ", ".join(FORMATS), "kinds": ", ".join(KINDS)},
        )
    return table[(fmt, kind)]


SOURCES = {INVOICES: invoices, CREDIT_NOTES: credit_notes, PAYMENTS: receipts}


def export_rows(fmt: str, kind: str, *, start: dt.date, end: dt.date) -> Iterator[list[str]]:
    """The header, then the rows of every exported item, each cell made safe for a
    spreadsheet (``allora.spreadsheet``: numbers stay numbers)."""
    check_range(start, end)
    header, rows_of = layout(fmt, kind)
    yield header
    for item in SOURCES[kind](start, end):
        for row in rows_of(item):
            yield safe_row(row)


class _Echo:
    def write(self, value):
        return value


def csv_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    """Each row as one CSV line (a generator: the file is never held in memory)."""
    writer = csv.writer(_Echo())
    return (writer.writerow(row) for row in rows)


def filename(fmt: str, kind: str, *, start: dt.date, end: dt.date) -> str:
    return f"{fmt}-{kind}-{start.isoformat()}-{end.isoformat()}.csv"

"""Receivables: what customers owe and how it is followed up.

- ``aging(as_of=…)``: each customer's open invoices by days past due (current, 1–30, 31–60,
  61–90, 90+), their credit and the net, in two grouped SQL queries whatever the number of
  invoices. Balances are as of the date: payments received and credit notes issued after it
  do not count yet.
- ``statement(customer, start=…, end=…)``: the opening balance, every invoice, payment, credit
  note and credit movement in the range with the running balance, and the closing balance.
- ``send_payment_reminders(today=…)``: the daily job; each active ``ReminderStep`` is sent once
  per open invoice (an ``InvoiceEvent`` claims it under a unique constraint).

Sign conventions (one rule for the aging, the statement and the screens): the balance is what
the customer owes net of the credit Allora holds for them. An invoice adds its total; a payment
takes off its whole amount (an overpayment makes the balance negative: the part beyond the
invoice is *credit held*); a credit note takes off its total; customer credit *applied* to an
invoice moves money from the credit held to the invoice and leaves the balance unchanged (it was
taken off when the credit was held). So, on any date,

    statement closing balance == Σ open invoice balances − credit held == aging net.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from agreements.models import Customer
from allora.models import remembering_company
from allora.validation import EARLIEST_DATE, LATEST_DATE

from .models import (
    CreditNote,
    CustomerCredit,
    Invoice,
    InvoiceEvent,
    Payment,
    ReminderStep,
)

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MONEY: DecimalField = DecimalField(max_digits=14, decimal_places=2)

# The aging's buckets: (key, label, the oldest and newest days past due it holds).
BUCKETS = (
    ("current", "Current", None, 0),
    ("days_1_30", "1–30 days", 1, 30),
    ("days_31_60", "31–60 days", 31, 60),
    ("days_61_90", "61–90 days", 61, 90),
    ("days_90_plus", "90+ days", 91, None),
)
BUCKET_KEYS = tuple(key for key, *_ in BUCKETS)

# How far ahead an aging may look (a planning date), and how long a statement may be.
AGING_DAYS_AHEAD = 366
STATEMENT_MAX_YEARS = 5
STATEMENT_DEFAULT_DAYS = 90

# A reminder step is sent from its date (due date + days) until this many days after it: a run
# after a shorter outage catches up; after a longer one, old reminders are not sent any more.
REMINDER_CATCH_UP_DAYS = 7

OPEN_STATUSES = (Invoice.Status.ISSUED, Invoice.Status.OVERDUE)


def _sum(queryset, expression):
    """A correlated subquery: the sum of ``expression`` over ``queryset`` (0 when empty)."""
    total = queryset.order_by().values("invoice").annotate(total=Sum(expression)).values("total")
    return Coalesce(Subquery(total, output_field=MONEY), Value(ZERO), output_field=MONEY)


def balances_as_of(as_of: dt.date):
    """Every invoice issued by ``as_of`` and not void, annotated with ``open_balance``: its
    total less the payments received (their applied part) and the credit notes issued (their
    part taken off the invoice) by that date."""
    paid = _sum(
        Payment.objects.filter(invoice=OuterRef("pk"), received_on__lte=as_of),
        F("amount") - F("to_credit"),
    )
    credited = _sum(
        CreditNote.objects.filter(invoice=OuterRef("pk"), issued_on__lte=as_of),
        F("applied_to_invoice"),
    )
    return (
        Invoice.objects.not_void()
        .filter(issued_on__lte=as_of)
        # An invoice settled before the date, with nothing dated after it, owes nothing then:
        # only open invoices and those with a payment or credit note later need the sums.
        .filter(
            Q(status__in=OPEN_STATUSES)
            | Q(pk__in=Payment.objects.filter(received_on__gt=as_of).values("invoice"))
            | Q(pk__in=CreditNote.objects.filter(issued_on__gt=as_of).values("invoice"))
        )
        .annotate(open_balance=ExpressionWrapper(F("total") - paid - credited, output_field=MONEY))
    )


# The aging ----------------------------------------------------------------------------------


@dataclass
class AgingRow:
    customer_id: int | None
    customer_name: str
    current: Decimal = ZERO
    days_1_30: Decimal = ZERO
    days_31_60: Decimal = ZERO
    days_61_90: Decimal = ZERO
    days_90_plus: Decimal = ZERO
    credit: Decimal = ZERO  # credit held, and open credit invoices (negative totals)

    @property
    def buckets(self) -> list[Decimal]:
        return [getattr(self, key) for key in BUCKET_KEYS]

    @property
    def total(self) -> Decimal:
        """What the open invoices owe."""
        return sum(self.buckets, ZERO)

    @property
    def net(self) -> Decimal:
        """What the customer owes once their credit is taken off."""
        return self.total - self.credit

    def add(self, other: "AgingRow"):
        for key in (*BUCKET_KEYS, "credit"):
            setattr(self, key, getattr(self, key) + getattr(other, key))


@dataclass
class Aging:
    as_of: dt.date
    rows: list[AgingRow]
    totals: AgingRow


def _cents(value) -> Decimal:
    """A sum from the database as dollars and cents (SQLite drops trailing zeros)."""
    return (value or ZERO).quantize(CENT)


def _bucket(as_of: dt.date, oldest: int | None, newest: int | None) -> Q:
    """Invoices ``oldest`` to ``newest`` days past due on ``as_of`` (days past due =
    as_of − due_on; "current" is up to 0: not due yet, or due that day)."""
    condition = Q()
    if newest is not None:
        condition &= Q(due_on__gte=as_of - dt.timedelta(days=newest))
    if oldest is not None:
        condition &= Q(due_on__lte=as_of - dt.timedelta(days=oldest))
    return condition


def aging(*, as_of: dt.date) -> Aging:
    """Each customer's open balances by days past due as of a date, their credit and the net,
    sorted by name, with the grand total (two queries: invoices and credit, each grouped by
    customer)."""
    owed = Q(open_balance__gt=0)
    sums = {
        key: Sum(
            Case(
                When(owed & _bucket(as_of, oldest, newest), then=F("open_balance")),
                default=Value(ZERO),
                output_field=MONEY,
            )
        )
        for key, _, oldest, newest in BUCKETS
    }
    # An open invoice with a negative total (an amendment's credit) is credit too.
    sums["credit"] = Sum(
        Case(
            When(open_balance__lt=0, then=-F("open_balance")),
            default=Value(ZERO),
            output_field=MONEY,
        )
    )
    rows: dict[int, AgingRow] = {}
    grouped = (
        balances_as_of(as_of)
        .order_by()
        .values("customer_id", "customer__legal_name")
        .annotate(**sums)
    )
    for found in grouped:
        rows[found["customer_id"]] = AgingRow(
            customer_id=found["customer_id"],
            customer_name=found["customer__legal_name"],
            **{key: _cents(found[key]) for key in (*BUCKET_KEYS, "credit")},
        )
    held = (
        CustomerCredit.objects.filter(on__lte=as_of)
        .order_by()
        .values("customer_id", "customer__legal_name")
        .annotate(held=Sum("amount"))
    )
    for found in held:
        row = rows.setdefault(
            found["customer_id"],
            AgingRow(customer_id=found["customer_id"], customer_name=found["customer__legal_name"]),
        )
        row.credit += _cents(found["held"])
    listed = sorted(
        (row for row in rows.values() if row.total or row.credit),
        key=lambda row: (row.customer_name.casefold(), row.customer_id),
    )
    totals = AgingRow(customer_id=None, customer_name="Total")
    for row in listed:
        totals.add(row)
    return Aging(as_of=as_of, rows=listed, totals=totals)


AGING_CSV_COLUMNS = [
    "Customer",
    *(label for _, label, *_ in BUCKETS),
    "Total open",
    "Credit",
    "Net",
]


def aging_csv_rows(report: Aging):
    """The aging's rows and its total row, as text cells (``allora.spreadsheet`` makes them
    safe)."""
    for row in (*report.rows, report.totals):
        amounts = [*row.buckets, row.total, row.credit, row.net]
        yield [row.customer_name, *(f"{amount:f}" for amount in amounts)]


def check_aging_date(as_of: dt.date, *, today: dt.date):
    if as_of < EARLIEST_DATE or as_of > today + dt.timedelta(days=AGING_DAYS_AHEAD):
        raise ValidationError(
            "Choose a date from %(first)s to %(last)s.",
            params={
                "first": EARLIEST_DATE.isoformat(),
                "last": (today + dt.timedelta(days=AGING_DAYS_AHEAD)).isoformat(),
            },
        )


# The customer statement -------------------------------------------------------------------


@dataclass
class StatementEntry:
    on: dt.date
    kind: str  # invoice, payment, credit_applied, credit_note, credit
    reference: str
    description: str
    amount: Decimal | None  # its effect on the balance (None: none, e.g. credit applied)
    credit_change: Decimal = ZERO  # its effect on the credit held
    invoice_id: int | None = None
    balance: Decimal = ZERO  # running, after this entry
    credit: Decimal = ZERO  # running credit held, after this entry


@dataclass
class Statement:
    customer: Customer
    start: dt.date
    end: dt.date
    opening_balance: Decimal
    opening_credit: Decimal
    entries: list[StatementEntry] = field(default_factory=list)
    closing_balance: Decimal = ZERO
    credit_at_end: Decimal = ZERO

    @property
    def owed_on_invoices(self) -> Decimal:
        """The closing balance before the credit held is taken off."""
        return self.closing_balance + self.credit_at_end


def check_statement_range(start: dt.date, end: dt.date):
    """A statement's dates: in the accepted range, in order, at most five years long."""
    for day in (start, end):
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            raise ValidationError(
                "Choose dates from %(first)s to %(last)s.",
                params={"first": EARLIEST_DATE.isoformat(), "last": LATEST_DATE.isoformat()},
            )
    if end < start:
        raise ValidationError("The statement ends before it starts.")
    if end >= start + relativedelta(years=STATEMENT_MAX_YEARS):
        raise ValidationError(
            "A statement covers at most %(years)s years.", params={"years": STATEMENT_MAX_YEARS}
        )


def default_statement_range(*, today: dt.date) -> tuple[dt.date, dt.date]:
    return today - dt.timedelta(days=STATEMENT_DEFAULT_DAYS), today


def _balance_before(customer, day: dt.date) -> tuple[Decimal, Decimal]:
    """The balance and the credit held at the end of the day before ``day`` (four queries).
    Credit applied (payments of method "credit") is left out: it was counted when held."""
    invoices = Invoice.objects.not_void().filter(customer=customer, issued_on__lt=day)
    payments = (
        Payment.objects.filter(invoice__customer=customer, received_on__lt=day)
        .exclude(invoice__status=Invoice.Status.VOID)
        .exclude(method=Payment.Method.CREDIT)
    )
    notes = CreditNote.objects.filter(customer=customer, issued_on__lt=day)
    credits = CustomerCredit.objects.filter(customer=customer, on__lt=day)
    sums = {
        "invoiced": invoices.aggregate(s=Sum("total"))["s"],
        "paid": payments.aggregate(s=Sum("amount"))["s"],
        "credited": notes.aggregate(s=Sum("total"))["s"],
    }
    ledger = credits.aggregate(
        held=Sum("amount"),
        loose=Sum("amount", filter=Q(payment__isnull=True, credit_note__isnull=True)),
    )
    balance = (
        _cents(sums["invoiced"])
        - _cents(sums["paid"])
        - _cents(sums["credited"])
        - _cents(ledger["loose"])
    )
    return balance, _cents(ledger["held"])


def _invoice_entries(customer, start, end):
    for invoice in Invoice.objects.not_void().filter(
        customer=customer, issued_on__range=(start, end)
    ):
        yield StatementEntry(
            on=invoice.issued_on,
            kind="invoice",
            reference=invoice.number,
            description=f"Invoice {invoice.number} ({invoice.period_label}), due "
            f"{invoice.due_on:%b %-d, %Y}",
            amount=invoice.total,
            invoice_id=invoice.pk,
        )


def _payment_entry(payment) -> StatementEntry:
    invoice = payment.invoice
    if payment.method == Payment.Method.CREDIT:
        return StatementEntry(
            on=payment.received_on,
            kind="credit_applied",
            reference=invoice.number,
            description=f"Credit applied to {invoice.number}",
            amount=None,
            invoice_id=invoice.pk,
        )
    text = f"Payment for {invoice.number} ({payment.get_method_display()}"
    text += f", {payment.reference})" if payment.reference else ")"
    if payment.to_credit:
        text += f"; ${payment.to_credit:,.2f} beyond the invoice held as credit"
    return StatementEntry(
        on=payment.received_on,
        kind="payment",
        reference=payment.reference,
        description=text,
        amount=-payment.amount,
        invoice_id=invoice.pk,
    )


def _credit_note_entry(note) -> StatementEntry:
    text = f"Credit note {note.number} on {note.invoice.number}: {note.reason}"
    if note.to_customer_credit:
        text += f"; ${note.to_customer_credit:,.2f} held as credit"
    return StatementEntry(
        on=note.issued_on,
        kind="credit_note",
        reference=note.number,
        description=text,
        amount=-note.total,
        invoice_id=note.invoice_id,
    )


def _ledger_entry(row) -> StatementEntry:
    """A credit movement of its own: held or refunded by staff (it changes the balance), or
    one whose payment or credit note is dated outside the range (counted with it)."""
    linked = row["payment_id"] or row["credit_note_id"]
    if linked:
        description = row["note"] or ("Credit held" if row["amount"] > 0 else "Credit applied")
    else:
        description = row["note"] or ("Credit" if row["amount"] > 0 else "Credit refunded")
    return StatementEntry(
        on=row["on"],
        kind="credit",
        reference="",
        description=description,
        amount=None if linked else -row["amount"],
        credit_change=row["amount"],
    )


ENTRY_ORDER = {"invoice": 0, "credit_note": 1, "payment": 2, "credit_applied": 3, "credit": 4}


def statement(customer, *, start: dt.date, end: dt.date) -> Statement:
    """The customer's statement from ``start`` to ``end`` (inclusive): the opening balance,
    each invoice, payment, credit note and credit movement in date order with the running
    balance and credit held, and the closing balance (void invoices are left out)."""
    check_statement_range(start, end)
    opening, opening_credit = _balance_before(customer, start)
    entries = list(_invoice_entries(customer, start, end))
    payments = (
        Payment.objects.filter(invoice__customer=customer, received_on__range=(start, end))
        .exclude(invoice__status=Invoice.Status.VOID)
        .select_related("invoice")
    )
    by_payment = {payment.pk: _payment_entry(payment) for payment in payments}
    notes = CreditNote.objects.filter(
        customer=customer, issued_on__range=(start, end)
    ).select_related("invoice")
    by_note = {note.pk: _credit_note_entry(note) for note in notes}
    entries += [*by_payment.values(), *by_note.values()]
    # The credit ledger: each movement goes with its payment or credit note when that is in
    # the range, else on its own line.
    ledger = CustomerCredit.objects.filter(customer=customer, on__range=(start, end)).values(
        "on", "amount", "note", "payment_id", "credit_note_id"
    )
    for row in ledger:
        owner = by_payment.get(row["payment_id"]) or by_note.get(row["credit_note_id"])
        if owner is not None:
            owner.credit_change += row["amount"]
        else:
            entries.append(_ledger_entry(row))
    entries.sort(key=lambda entry: (entry.on, ENTRY_ORDER[entry.kind], entry.reference))
    balance, credit = opening, opening_credit
    for entry in entries:
        balance += entry.amount or ZERO
        credit += entry.credit_change
        entry.balance, entry.credit = balance, credit
    return Statement(
        customer=customer,
        start=start,
        end=end,
        opening_balance=opening,
        opening_credit=opening_credit,
        entries=entries,
        closing_balance=balance,
        credit_at_end=credit,
    )


# Payment reminders --------------------------------------------------------------------------


def reminder_window(*, today: dt.date, days: int) -> tuple[dt.date, dt.date]:
    """The due dates whose reminder ``days`` from the due date is sent on ``today``: its date
    (due date + days) has come, and is at most REMINDER_CATCH_UP_DAYS old."""
    latest = today - dt.timedelta(days=days)
    return latest - dt.timedelta(days=REMINDER_CATCH_UP_DAYS), latest


def reminders_due(*, today: dt.date) -> dict[int, list[int]]:
    """{invoice id: [reminder steps due and not sent yet]}, in one query each for the steps,
    the candidate invoices and the reminders they already had.

    The rule: a step of ``d`` days is due for an invoice with a positive total that is open
    (issued or overdue) with a balance left, when its date ``due_on + d`` is after the issue
    date (the invoice email is the first notice), has come (``<= today``) and is at most
    REMINDER_CATCH_UP_DAYS days old. So daily runs and one run after an outage of up to that
    many days record the same steps."""
    steps = list(ReminderStep.objects.filter(active=True).values_list("days", flat=True))
    if not steps:
        return {}
    windows = {days: reminder_window(today=today, days=days) for days in steps}
    in_a_window = Q()
    for first, last in windows.values():
        in_a_window |= Q(due_on__range=(first, last))
    candidates = list(
        Invoice.objects.filter(in_a_window, status__in=OPEN_STATUSES, total__gt=0)
        .annotate(open_balance=F("total") - F("amount_paid") - F("amount_credited"))
        .filter(open_balance__gt=0)
        .values_list("pk", "due_on", "issued_on")
    )
    sent = set(
        InvoiceEvent.objects.filter(
            kind=InvoiceEvent.Kind.REMINDER, invoice_id__in=[pk for pk, *_ in candidates]
        ).values_list("invoice_id", "reminder_days")
    )
    due: dict[int, list[int]] = {}
    for pk, due_on, issued_on in candidates:
        for days, (first, last) in windows.items():
            step_date = due_on + dt.timedelta(days=days)
            if first <= due_on <= last and step_date > issued_on and (pk, days) not in sent:
                due.setdefault(pk, []).append(days)
    return due


def claim_reminders(invoice_id: int, steps: list[int], *, now) -> list[int]:
    """Record the steps as sent on the invoice (locked: a payment waits), if it is still open
    and owes something; the steps another run recorded first are left out. Returns those
    claimed by this call: only they are emailed."""
    invoice = (
        Invoice.objects.select_for_update()
        .filter(pk=invoice_id, status__in=OPEN_STATUSES, total__gt=0)
        .first()
    )
    if invoice is None or invoice.balance <= 0:
        return []
    claimed = []
    for days in sorted(steps):
        try:
            with transaction.atomic():
                InvoiceEvent.objects.create(
                    invoice=invoice,
                    kind=InvoiceEvent.Kind.REMINDER,
                    reminder_days=days,
                    at=now,
                    detail=str(ReminderStep(days=days)),
                )
        except IntegrityError:
            continue  # another run recorded it first: it sends that one
        claimed.append(days)
    return claimed


@remembering_company
def send_payment_reminders(*, today: dt.date) -> list[tuple[int, int]]:
    """Daily job: claim each due reminder step once per invoice (see ``reminders_due``) and
    email the customer's billing contacts after the commit, one email per invoice per run
    (after an outage, the steps caught up go in one message). Returns the (invoice id, days)
    claimed by this run."""
    claimed_all = []
    for invoice_id, steps in sorted(reminders_due(today=today).items()):
        with transaction.atomic():
            claimed = claim_reminders(invoice_id, steps, now=timezone.now())
            if claimed:
                transaction.on_commit(
                    partial(queue_reminder_email, invoice_id, claimed, today.isoformat())
                )
        claimed_all += [(invoice_id, days) for days in claimed]
    return claimed_all


def queue_reminder_email(invoice_id, steps, today):
    from .tasks import email_payment_reminder

    email_payment_reminder.delay(invoice_id, steps, today)


def reminder_wording(invoice, *, today: dt.date) -> str:
    """before, on or overdue: where the invoice stands on the day the reminder goes out."""
    if today < invoice.due_on:
        return "before"
    return "on" if today == invoice.due_on else "overdue"


def send_reminder_email(invoice_id: int, steps: list[int], today: dt.date) -> bool:
    """Email one reminder of an invoice (the steps claimed for it by one run) to the customer's
    billing contacts, with the invoice PDF. Nothing goes out if it was paid, credited or voided
    meanwhile. If sending fails the claims are released, so the next run sends them."""
    from django.conf import settings
    from django.urls import reverse

    from allora.emails import build_email

    from .documents import billing_recipients, invoice_filename, invoice_pdf

    invoice = Invoice.objects.select_related("customer", "agreement").get(pk=invoice_id)
    claims = InvoiceEvent.objects.filter(
        invoice=invoice, kind=InvoiceEvent.Kind.REMINDER, reminder_days__in=steps
    )
    if invoice.status not in OPEN_STATUSES or invoice.balance <= 0:
        claims.update(detail="Not sent: the invoice was settled first.")
        return False
    recipients = billing_recipients(invoice.customer)
    if not recipients:
        claims.update(detail="Not sent: the customer has no billing contact.")
        return False
    wording = reminder_wording(invoice, today=today)
    try:
        build_email(
            "payment_reminder",
            to=recipients,
            context={
                "invoice": invoice,
                "customer": invoice.customer,
                "wording": wording,
                "days": abs((invoice.due_on - today).days),
                "portal_url": settings.SITE_URL
                + reverse("portal:invoice_detail", args=[invoice.pk]),
            },
            attachments=[(invoice_filename(invoice), invoice_pdf(invoice), "application/pdf")],
        ).send()
    except Exception:
        claims.delete()
        raise
    sent_to = ", ".join(recipients)
    for event in claims:
        # The detail holds the step's name since the claim (a failed send deleted the claim).
        event.detail = f"{event.detail}: emailed to {sent_to}"[:300]
        event.save(update_fields=["detail"])
    return True


# Documents ----------------------------------------------------------------------------------


def statement_pdf(report: Statement) -> bytes:
    """The statement as a PDF (the invoice PDF's page, cover and table styles)."""
    from django.conf import settings
    from django.template.loader import render_to_string

    from allora.pdf import render_pdf

    customer = report.customer
    html = render_to_string(
        "billing/statement_pdf.html",
        {
            "statement": report,
            "customer": customer,
            "address": [customer.address],
            "generated_at": timezone.now(),
        },
    )
    return render_pdf(html, base_url=str(settings.BASE_DIR))


def statement_filename(report: Statement) -> str:
    return f"statement-{report.customer.pk}-{report.start}-{report.end}.pdf"

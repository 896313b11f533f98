"""Credit notes (whole invoice or some lines), overpayments held as customer credit and applied
to the next invoices, and the invariants of the money under any sequence of invoices, payments
and credit notes (hypothesis)."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from agreements.tests.factories import agreement_for_2027
from billing import invoicing
from billing.credits import (
    apply_customer_credit,
    credit_balance,
    creditable,
    issue_credit_note,
    line_remaining,
)
from billing.models import (
    CreditNote,
    CustomerCredit,
    Invoice,
    InvoiceEvent,
    InvoiceSequence,
    Payment,
)
from billing.oneoff import Item, issue_one_off_invoice
from billing.tests.factories import make_invoice, published_card

JAN_1 = dt.date(2027, 1, 1)
JAN_20 = dt.date(2027, 1, 20)


@pytest.fixture
def agreement(customer_a, alice, admin):
    published_card(effective_date=dt.date(2026, 1, 1))
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


@pytest.fixture
def invoice(agreement):
    return make_invoice(agreement, issued_on=JAN_1, total=D("1170.00"))


def one_off(customer, *, by, lines=None, on=JAN_20, agreement=None):
    """A one-off invoice: 2 × $450.00 and 1 × $125.50 ($1,025.50) unless told otherwise."""
    return issue_one_off_invoice(
        customer,
        agreement=agreement,
        lines=lines
        or [
            Item("Firewall appliance", D("2"), D("450.00")),
            Item("Site visit", D("1"), D("125.50")),
        ],
        issued_on=on,
        terms_days=30,
        by=by,
        today=on,
    )


def pay(invoice, amount, *, by, on=JAN_20):
    return invoice.record_payment(
        amount=D(amount), received_on=on, method="ach", reference="", by=by, today=on
    )


def credit(invoice, *, by, on=JAN_20, reason="Returned", **what):
    return issue_credit_note(invoice, reason=reason, by=by, today=on, **what)


# Credit notes -------------------------------------------------------------------------------


def test_a_credit_note_for_the_whole_invoice_settles_it(invoice, admin):
    note = credit(invoice, by=admin, amount=D("1170.00"), reason="Billed in error")
    invoice.refresh_from_db()
    assert note.number == "CN-000001"
    assert (note.total, note.applied_to_invoice, note.to_customer_credit) == (
        D("1170.00"),
        D("1170.00"),
        D("0.00"),
    )
    assert (invoice.amount_credited, invoice.balance, invoice.status, invoice.paid_on) == (
        D("1170.00"),
        D("0.00"),
        Invoice.Status.PAID,
        JAN_20,
    )
    assert credit_balance(invoice.customer) == 0
    assert invoice.events.filter(kind=InvoiceEvent.Kind.CREDIT_NOTE, by=admin).count() == 1


def test_credit_notes_on_some_lines_reduce_the_balance_then_become_credit(customer_a, staff, admin):
    invoice = one_off(customer_a, by=staff)
    firewall, visit = invoice.lines.all()
    pay(invoice, "500.00", by=staff)  # balance $525.50
    first = credit(invoice, by=admin, lines=[(firewall, D("300.00"))])
    invoice.refresh_from_db()
    assert (first.applied_to_invoice, first.to_customer_credit) == (D("300.00"), D("0.00"))
    assert invoice.balance == D("225.50") and invoice.status == Invoice.Status.ISSUED
    assert line_remaining(invoice) == {firewall.pk: D("600.00"), visit.pk: D("125.50")}
    with pytest.raises(ValidationError, match=r"more than what remains of it \(\$600.00\)"):
        credit(invoice, by=admin, lines=[(firewall, D("600.01"))])
    # $725.50 more: $225.50 settles the balance, $500.00 is held as the customer's credit.
    second = credit(invoice, by=admin, lines=[(firewall, D("600.00")), (visit, D("125.50"))])
    invoice.refresh_from_db()
    assert (second.total, second.applied_to_invoice, second.to_customer_credit) == (
        D("725.50"),
        D("225.50"),
        D("500.00"),
    )
    assert (invoice.amount_paid, invoice.amount_credited, invoice.balance, invoice.status) == (
        D("500.00"),
        D("525.50"),
        D("0.00"),
        Invoice.Status.PAID,
    )
    assert credit_balance(customer_a) == D("500.00")
    assert CustomerCredit.objects.get(credit_note=second).amount == D("500.00")
    assert creditable(invoice) == 0
    assert [line.description for line in second.lines.all()] == ["Firewall appliance", "Site visit"]


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ({"amount": D("1170.01")}, r"more than what remains to be credited on INV-000001"),
        ({"amount": D("0")}, r"more than \$0.00"),
        ({"amount": D("-5")}, r"more than \$0.00"),
        ({"amount": D("1.005")}, "dollars and cents"),
        ({"amount": D("10"), "reason": "  "}, "Give the reason"),
        ({"amount": D("10"), "reason": "x" * 301}, "under 300 characters"),
        ({"lines": []}, "at least one line"),
    ],
)
def test_a_wrong_credit_note_is_refused_and_nothing_is_written(invoice, admin, what, message):
    with pytest.raises(ValidationError, match=message):
        credit(invoice, by=admin, **{"reason": "Returned", **what})
    invoice.refresh_from_db()
    assert not CreditNote.objects.exists() and not CustomerCredit.objects.exists()
    assert invoice.amount_credited == 0 and not invoice.events.exists()
    assert not InvoiceSequence.objects.filter(name=InvoiceSequence.CREDIT_NOTE, last_number__gt=0)


def test_a_void_invoice_is_never_credited_and_a_credited_one_never_voided(
    agreement, invoice, admin
):
    credit(invoice, by=admin, amount=D("100"))
    with pytest.raises(ValidationError, match="with a credit note cannot be voided"):
        invoice.void(by=admin, reason="Oops", now=dt.datetime(2027, 1, 21, tzinfo=dt.UTC))
    other = make_invoice(agreement, issued_on=dt.date(2027, 2, 1))
    other.void(by=admin, reason="Duplicate", now=dt.datetime(2027, 2, 2, tzinfo=dt.UTC))
    assert other.events.get().kind == InvoiceEvent.Kind.VOIDED
    with pytest.raises(ValidationError, match="void"):
        credit(other, by=admin, amount=D("10"), on=dt.date(2027, 2, 2))


def test_two_credit_notes_never_add_up_to_more_than_the_total(invoice, admin):
    credit(invoice, by=admin, amount=D("700.00"))
    with pytest.raises(ValidationError, match=r"remains to be credited on INV-000001 \(\$470.00\)"):
        credit(invoice, by=admin, amount=D("700.00"))
    credit(invoice, by=admin, amount=D("470.00"))
    assert CreditNote.objects.aggregate(total=Sum("total"))["total"] == D("1170.00")
    assert list(CreditNote.objects.order_by("number").values_list("number", flat=True)) == [
        "CN-000001",
        "CN-000002",
    ]


# Overpayments and customer credit -------------------------------------------------------------


def test_an_overpayment_is_held_and_applied_to_the_next_monthly_invoice(agreement, staff):
    (january,) = invoicing.issue_invoices(today=JAN_1)
    payment = pay(january, "1500.00", by=staff)
    january.refresh_from_db()
    assert (payment.to_credit, payment.applied) == (D("330.00"), D("1170.00"))
    assert (january.amount_paid, january.status) == (D("1170.00"), Invoice.Status.PAID)
    assert credit_balance(agreement.customer) == D("330.00")
    assert january.events.get(kind=InvoiceEvent.Kind.PAYMENT).detail == (
        "$1,500.00 by ACH / bank transfer, $330.00 held as credit"
    )
    (february,) = invoicing.issue_invoices(today=dt.date(2027, 2, 1))
    february.refresh_from_db()
    applied = february.payments.get()
    assert (applied.method, applied.amount, applied.recorded_by) == (
        Payment.Method.CREDIT,
        D("330.00"),
        None,
    )
    assert (february.amount_paid, february.balance) == (D("330.00"), D("840.00"))
    assert credit_balance(agreement.customer) == 0
    assert february.events.filter(kind=InvoiceEvent.Kind.CREDIT_APPLIED).count() == 1
    # Applying again finds nothing left: nothing is spent twice.
    assert apply_customer_credit([february], today=dt.date(2027, 2, 2)) == []


def test_credit_is_applied_to_a_one_off_invoice_and_can_settle_it(agreement, customer_a, staff):
    january = make_invoice(agreement, issued_on=JAN_1, total=D("100.00"))
    pay(january, "1200.00", by=staff)  # $1,100.00 held
    invoice = one_off(customer_a, by=staff)  # $1,025.50
    assert (invoice.balance, invoice.status) == (D("0.00"), Invoice.Status.PAID)
    assert credit_balance(customer_a) == D("74.50")


def test_a_payment_refusals_stay_clear(invoice, staff, admin):
    with pytest.raises(ValidationError, match="Apply credit"):
        invoice.record_payment(
            amount=D("1"), received_on=JAN_20, method="credit", by=staff, today=JAN_20
        )
    pay(invoice, "1170.00", by=staff)
    with pytest.raises(ValidationError, match="already paid"):
        pay(invoice, "10", by=staff)
    assert not CustomerCredit.objects.exists()


# The invariants under any sequence (hypothesis) -----------------------------------------------


class Rollback(Exception):
    pass


amounts = st.decimals(min_value=D("0.01"), max_value=D("2000"), places=2)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("invoice"), amounts),
        st.tuples(st.just("pay"), amounts, st.integers(0, 5)),
        st.tuples(st.just("credit"), amounts, st.integers(0, 5)),
        st.tuples(st.just("credit_all"), st.integers(0, 5)),
    ),
    min_size=1,
    max_size=12,
)


def _check_invariants(customer):
    invoices = list(Invoice.objects.filter(customer=customer))
    for invoice in invoices:
        payments = list(invoice.payments.all())
        notes = list(invoice.credit_notes.all())
        assert invoice.amount_paid == sum((p.applied for p in payments), D(0))
        assert invoice.amount_credited == sum((n.applied_to_invoice for n in notes), D(0))
        assert invoice.balance == invoice.total - invoice.amount_paid - invoice.amount_credited
        assert invoice.balance >= 0
        assert sum((n.total for n in notes), D(0)) <= invoice.total
        assert (invoice.status == Invoice.Status.PAID) == (invoice.balance == 0)
    entries = CustomerCredit.objects.filter(customer=customer)
    held = sum((entry.amount for entry in entries), D(0))  # exact (SQLite sums as floats)
    assert held == credit_balance(customer) >= 0
    # Nothing lost or created: money in and credit notes = what settled invoices + credit held.
    money_in = sum(
        (
            p.amount
            for p in Payment.objects.filter(invoice__customer=customer)
            if p.method != "credit"
        ),
        D(0),
    )
    noted = sum((n.total for n in CreditNote.objects.filter(customer=customer)), D(0))
    settled = sum((i.amount_paid + i.amount_credited for i in invoices), D(0))
    assert money_in + noted == settled + held


@settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_any_sequence_of_invoices_payments_and_credit_notes_keeps_the_money_whole(
    steps, customer_b, staff, admin
):
    try:
        with transaction.atomic():
            invoices = []
            for step in steps:
                kind, *args = step
                if kind == "invoice":
                    lines = [Item("Work", D("1"), args[0])]
                    invoices.append(one_off(customer_b, by=staff, lines=lines))
                elif invoices:
                    target = invoices[args[-1] % len(invoices)]
                    target.refresh_from_db()
                    try:
                        if kind == "pay":
                            pay(target, args[0], by=staff)
                        elif kind == "credit":
                            credit(target, by=admin, amount=args[0])
                        else:
                            credit(target, by=admin, amount=creditable(target))
                    except ValidationError:
                        pass  # refused (paid already, more than remains): nothing written
                _check_invariants(customer_b)
            raise Rollback
    except Rollback:
        pass

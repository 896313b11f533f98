"""Credit notes and customer credit under concurrent writers, on PostgreSQL (row locks; CI runs
them, on SQLite they skip with the reason): two credit notes at once never add up to more than
the invoice, and credit applied by two workers at once is spent once."""

import datetime as dt
import threading
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Sum

from agreements.tests.factories import agreement_for_2027
from allora.tests.services import require
from billing.credits import apply_customer_credit, credit_balance, issue_credit_note
from billing.models import CreditNote, Invoice, Payment
from billing.tests.factories import make_invoice, published_card

pytestmark = pytest.mark.django_db(transaction=True)

JAN_20 = dt.date(2027, 1, 20)


@pytest.fixture
def agreement(customer_a, alice, admin):
    if connection.vendor != "postgresql":
        require("PostgreSQL", "SQLite has no row locks to race for")
    published_card(effective_date=dt.date(2026, 1, 1))
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def at_once(*actions):
    """Run the actions in threads released together; what each returned or raised."""
    start = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(index, action):
        try:
            start.wait(timeout=30)
            results[index] = action()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test checks
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_credit_notes_at_once_never_exceed_the_invoice(agreement, admin):
    invoice = make_invoice(agreement, total=D("1170.00"))

    def credit():
        return issue_credit_note(
            invoice, amount=D("700.00"), reason="Returned", by=admin, today=JAN_20
        )

    results = at_once(credit, credit)
    assert sorted(type(result).__name__ for result in results) == [
        "CreditNote",
        "ValidationError",
    ]
    assert any(isinstance(r, ValidationError) for r in results)
    invoice.refresh_from_db()
    assert CreditNote.objects.aggregate(total=Sum("total"))["total"] == D("700.00")
    assert invoice.amount_credited == D("700.00") and invoice.balance == D("470.00")


def test_credit_applied_by_two_workers_at_once_is_spent_once(agreement, staff):
    paid = make_invoice(agreement, total=D("100.00"))
    paid.record_payment(
        amount=D("430.00"), received_on=JAN_20, method="ach", by=staff, today=JAN_20
    )  # $330.00 held
    first = make_invoice(agreement, issued_on=dt.date(2027, 2, 1), total=D("300.00"))
    second = make_invoice(agreement, issued_on=dt.date(2027, 3, 1), total=D("300.00"))
    on = dt.date(2027, 3, 2)
    at_once(
        lambda: apply_customer_credit([first], today=on),
        lambda: apply_customer_credit([second], today=on),
    )
    applied = Payment.objects.filter(method=Payment.Method.CREDIT).aggregate(total=Sum("amount"))
    assert applied["total"] == D("330.00")
    assert credit_balance(agreement.customer) == 0
    balances = sorted(
        Invoice.objects.filter(pk__in=[first.pk, second.pk]).values_list("amount_paid", flat=True)
    )
    assert balances == [D("30.00"), D("300.00")]

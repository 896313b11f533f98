"""Payment reminders under concurrent job runs on PostgreSQL: two workers running the job at
the same moment send each reminder once (on SQLite, which has no concurrent writers, it skips
with the reason; CI runs it)."""

import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import connection, connections

from allora.tests.services import require
from billing.models import InvoiceEvent
from billing.receivables import send_payment_reminders
from billing.tests.factories import billing_contact
from billing.tests.receivables_data import one_off, reminder_steps

pytestmark = pytest.mark.django_db(transaction=True)

DUE = dt.date(2027, 3, 31)


def test_two_workers_running_the_job_at_once_send_each_reminder_once(customer_a):
    if connection.vendor != "postgresql":
        require("PostgreSQL", "SQLite cannot run two writing transactions at once")
    billing_contact(customer_a)
    reminder_steps(-3, 0, 7)
    invoices = [
        one_off(customer_a, issued_on=DUE - dt.timedelta(days=30), due_on=DUE) for _ in range(12)
    ]
    start = threading.Barrier(2)
    claimed, errors = [], []

    def worker():
        try:
            start.wait(timeout=30)
            # The job as the worker runs it: the emails go out after each commit (eager task).
            claimed.append(send_payment_reminders(today=DUE + dt.timedelta(days=1)))
        except Exception as error:  # noqa: BLE001 -- reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    both = sorted(claimed[0] + claimed[1])
    assert both == sorted((invoice.pk, days) for invoice in invoices for days in (-3, 0))
    assert InvoiceEvent.objects.filter(kind=InvoiceEvent.Kind.REMINDER).count() == 24
    # One email per invoice (its two steps caught up together), from whichever worker won.
    assert len(mail.outbox) == 12
    assert len({message.subject for message in mail.outbox}) == 12

"""The invoicing job under real conditions: two processes issuing at once on PostgreSQL (CI runs
it; on SQLite it skips with the reason)."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agreements.tests.factories import agreement_for_2027
from allora.tests.services import shared_database_url
from billing.models import Invoice
from billing.tests.factories import billing_contact, published_card

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def agreements(customer_a, alice, admin):
    published_card(effective_date=dt.date(2026, 1, 1))
    billing_contact(customer_a)
    return [
        agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin) for _ in range(6)
    ]


def test_two_processes_issuing_at_once_issue_each_month_once_with_no_gap(agreements):
    env = {
        **os.environ,
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "allora.settings",
        "DATABASE_URL": shared_database_url(),
        # The emails (with their PDFs) go out in each process, not to a broker.
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "EMAIL_URL": "dummymail://",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    # March 1st after a downtime since January: three months each, six agreements.
    command = [sys.executable, "manage.py", "issue_invoices", "--today", "2027-03-01"]
    runs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    invoices = list(Invoice.objects.order_by("number"))
    assert len(invoices) == 18
    assert len({(invoice.agreement_id, invoice.period) for invoice in invoices}) == 18
    assert [invoice.number for invoice in invoices] == [f"INV-{n:06d}" for n in range(1, 19)]
    assert all(invoice.emailed_at for invoice in invoices)

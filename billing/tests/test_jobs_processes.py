"""The invoicing job under real conditions on PostgreSQL: two processes issuing at once, a
process killed (SIGKILL) in the middle of a chunk, a second worker holding some agreements'
row locks (CI runs them; on SQLite they skip with the reason)."""

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection, transaction

from agreements.models import Agreement
from agreements.tests.factories import agreement_for_2027
from allora.tests.services import require, shared_database_url
from billing import invoicing
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


def process_env():
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
    return env


def numbers():
    return list(Invoice.objects.order_by("number").values_list("number", flat=True))


def test_two_processes_issuing_at_once_issue_each_month_once_with_no_gap(agreements):
    env = process_env()
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


# The run of a process killed once the second chunk's invoices are inserted, before their lines.
KILLED_MID_CHUNK = """
import datetime as dt, os, signal
import django
django.setup()
from billing import invoicing
insert_lines = invoicing._insert_lines
chunks = []
def killed_in_the_second(rows):
    chunks.append(rows)
    if len(chunks) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return insert_lines(rows)
invoicing._insert_lines = killed_in_the_second
invoicing.issue_invoices(today=dt.date(2027, 1, 1), chunk_size=2)
"""


def test_a_process_killed_mid_chunk_loses_the_chunk_whole_and_a_rerun_issues_it(agreements):
    env = process_env()
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MID_CHUNK],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # The first chunk committed; the second rolled back whole, its block of numbers with it.
    assert numbers() == ["INV-000001", "INV-000002"]
    assert not Invoice.objects.filter(lines__isnull=True).exists()
    command = [sys.executable, "manage.py", "issue_invoices", "--today", "2027-01-01"]
    rerun = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, timeout=180, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    assert numbers() == [f"INV-{n:06d}" for n in range(1, 7)]
    assert {invoice.agreement_id for invoice in Invoice.objects.all()} == {
        agreement.pk for agreement in agreements
    }


def test_agreements_another_worker_holds_are_skipped_not_waited_for(agreements):
    if connection.vendor != "postgresql":
        require("PostgreSQL", "SQLite has no row locks to skip (SELECT … FOR UPDATE SKIP LOCKED)")
    held, release = threading.Event(), threading.Event()
    busy = [agreement.pk for agreement in agreements[1:3]]

    def another_worker():
        try:
            with transaction.atomic():
                list(Agreement.objects.select_for_update().filter(pk__in=busy))
                held.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    worker = threading.Thread(target=another_worker)
    worker.start()
    try:
        assert held.wait(timeout=30)
        issued = invoicing.issue_invoices(today=dt.date(2027, 1, 1))
    finally:
        release.set()
        worker.join()
    assert [invoice.agreement_id for invoice in issued] == [
        agreement.pk for agreement in agreements if agreement.pk not in busy
    ]
    assert numbers() == [f"INV-{n:06d}" for n in range(1, 5)]
    # Once the other worker is done (having issued nothing), the next run bills the two.
    issued = invoicing.issue_invoices(today=dt.date(2027, 1, 1))
    assert [(invoice.agreement_id, invoice.number) for invoice in issued] == [
        (busy[0], "INV-000005"),
        (busy[1], "INV-000006"),
    ]

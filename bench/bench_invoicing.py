"""Benchmark: the monthly invoicing run for N agreements, against a plain bulk insert of the same
rows.

    .venv/bin/python bench/bench_invoicing.py                     # 10,000 agreements, SQLite
    .venv/bin/python bench/bench_invoicing.py --agreements 1000
    .venv/bin/python bench/bench_invoicing.py --database-url postgres://postgres@127.0.0.1:5432/allora_bench_billing

It builds its own database (a temporary SQLite file unless --database-url names an empty
database), with N active agreements in steady state on March 1st, 2027: each has the four
services (maintenance visit on the third Wednesday, an 8-hour prescheduled block, emergency
support, hosting), February's invoice already issued, one emergency hour logged in February and,
for every other agreement, 10 prescheduled hours (2 beyond the block). Then it times:

1. `billing.invoicing.issue_invoices(today=2027-03-01)`: the real job (set-based reads, then
   one transaction per chunk of 500 agreements: their row locks with SKIP LOCKED, one block of
   invoice numbers from the counter row, inserts of the invoices and of their lines, one
   UPDATE of the time entries, the unique constraints as the last word), emails left out (they
   are queued after each commit and rendered by the worker);
2. a plain `bulk_create` of the very same invoice and line rows, in one transaction.

The ratio of the two is the figure. A benchmark, not a test.
"""

import datetime as dt
import time
from decimal import Decimal as D
from unittest import mock

import benchkit

MARCH = dt.date(2027, 3, 1)


def main():
    args = benchkit.arguments(__doc__, agreements=10_000).parse_args()
    benchkit.start(args.database_url)

    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)

    from billing import accounts, invoicing
    from billing.models import Invoice, InvoiceLine, TimeEntry

    build(args.agreements)
    print(f"{args.agreements} agreements on {MARCH}, {connection.vendor}")

    with mock.patch.object(invoicing, "queue_invoice_email"):
        started = time.perf_counter()
        for period, ids in sorted(invoicing._due(MARCH).items()):
            for chunk in invoicing._chunks(ids, invoicing.CHUNK):
                for account in accounts.load_accounts(chunk).values():
                    invoicing.plan_monthly(account, period=period)
        reading = time.perf_counter() - started

        statements = []

        def count(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        commit = connection.commit
        with (
            connection.execute_wrapper(count),
            mock.patch.object(connection, "commit", wraps=commit) as commits,
        ):
            started = time.perf_counter()
            issued = invoicing.issue_invoices(today=MARCH)
            job = time.perf_counter() - started
        statements = [sql for sql in statements if not sql.startswith("BEGIN")]
    lines = InvoiceLine.objects.filter(invoice__period=MARCH).count()
    print(
        f"  issue_invoices: {len(issued)} invoices, {lines} lines in {job:.2f} s "
        f"({len(statements)} statements and {commits.call_count} commits; "
        f"reading and pricing alone {reading:.2f} s)"
    )

    # The same rows, inserted plainly: copies of what the job stored, without their ids.
    invoices = list(Invoice.objects.filter(period=MARCH).order_by("pk"))
    line_rows = list(InvoiceLine.objects.filter(invoice__period=MARCH).order_by("pk"))
    TimeEntry.objects.filter(invoice__period=MARCH).update(invoice=None)
    InvoiceLine.objects.filter(invoice__period=MARCH).delete()
    Invoice.objects.filter(period=MARCH).delete()
    stored = {invoice.pk: invoice for invoice in invoices}
    for row in [*invoices, *line_rows]:
        row.pk = None
    started = time.perf_counter()
    with transaction.atomic():
        Invoice.objects.bulk_create(invoices, batch_size=500)
        for line in line_rows:
            line.invoice = stored[line.invoice_id]
        InvoiceLine.objects.bulk_create(line_rows, batch_size=500)
    bulk = time.perf_counter() - started
    print(f"  plain bulk insert of the same rows: {bulk:.2f} s")
    print(f"  ratio: {job / bulk:.1f}×")


def build(count):
    """Agreements with term 1 [2027-01-01, 2028-01-01), February invoiced, March's visit and
    February's usage in place."""
    from agreements.models import (
        Agreement,
        AgreementVersion,
        Customer,
        ServiceKind,
        ServiceLine,
        Term,
        TermsTemplate,
    )
    from allora.models import User
    from billing.models import Invoice, InvoiceSequence, TimeEntry
    from billing.tests.factories import STANDARD_LINES
    from scheduling.models import Visit

    rates = {
        "rate_card": {"version": 1, "title": "Standard rates", "effective_date": "2026-01-01"},
        "discounts": {"maintenance": "25.00", "prescheduled": "25.00"},
        "rates": [
            {"kind": kind, "name": name, "unit": unit, "price": str(price)}
            for kind, name, unit, price in STANDARD_LINES
        ],
    }
    technician = User.objects.create(email="bench@allora.example", role="staff")
    template = TermsTemplate.objects.get(version=1)
    customers = Customer.objects.bulk_create(
        Customer(
            legal_name=f"Bench customer {n}",
            address_line1=f"{n} Main Street",
            postal_code="27601",
            phone="(919) 555-0100",
            status=Customer.Status.ACTIVE,
        )
        for n in range(count)
    )
    agreements = Agreement.objects.bulk_create(
        Agreement(customer=customer, number=f"BENCH-{n:05d}", status=Agreement.Status.ACTIVE)
        for n, customer in enumerate(customers)
    )
    versions = AgreementVersion.objects.bulk_create(
        AgreementVersion(
            agreement=agreement, terms_template=template, status="signed", rates_snapshot=rates
        )
        for agreement in agreements
    )
    lines = []
    for version in versions:
        lines += [
            # Maintenance is billed per visit its rule puts in the month (the third Wednesday).
            ServiceLine(
                version=version,
                kind=ServiceKind.MAINTENANCE,
                hours_per_visit=D("2"),
                rrule="FREQ=MONTHLY;BYDAY=+3WE",
                start_time=dt.time(10, 0),
                duration_minutes=120,
            ),
            ServiceLine(
                version=version, kind=ServiceKind.PRESCHEDULED, position=1, hours_per_month=D("8")
            ),
            ServiceLine(version=version, kind=ServiceKind.EMERGENCY, position=2),
            ServiceLine(
                version=version,
                kind=ServiceKind.HOSTING,
                position=3,
                package_name="Website hosting",
                quantity=1,
            ),
        ]
    lines = ServiceLine.objects.bulk_create(lines, batch_size=2000)
    terms = Term.objects.bulk_create(
        Term(
            agreement=version.agreement,
            number=1,
            start=dt.date(2027, 1, 1),
            end=dt.date(2028, 1, 1),
            locked_rates=rates,
            version=version,
        )
        for version in versions
    )
    visit_at = dt.datetime(2027, 3, 17, 14, tzinfo=dt.UTC)  # 10:00 in Raleigh
    Visit.objects.bulk_create(
        (
            Visit(
                agreement=term.agreement,
                term=term,
                line=lines[4 * n],
                occurrence_start=visit_at,
                starts_at=visit_at,
                ends_at=visit_at + dt.timedelta(hours=2),
            )
            for n, term in enumerate(terms)
        ),
        batch_size=2000,
    )
    entries = []
    for n, agreement in enumerate(agreements):
        work = {"agreement": agreement, "technician": technician, "created_by": technician}
        entries.append(
            TimeEntry(line=lines[4 * n + 2], work_date=dt.date(2027, 2, 10), hours=1, **work)
        )
        if n % 2 == 0:
            entries += [
                TimeEntry(line=lines[4 * n + 1], work_date=dt.date(2027, 2, day), hours=2, **work)
                for day in (2, 9, 16, 23, 24)
            ]
    TimeEntry.objects.bulk_create(entries, batch_size=2000)
    Invoice.objects.bulk_create(
        (
            Invoice(
                number=f"INV-{n + 1:06d}",
                agreement=agreement,
                customer_id=agreement.customer_id,
                period=dt.date(2027, 2, 1),
                issued_on=dt.date(2027, 2, 1),
                due_on=dt.date(2027, 3, 3),
                payment_terms_days=30,
                bill_to="Bench customer",
                subtotal=D("1545.00"),
                discount_total=D("375.00"),
                total=D("1170.00"),
                covers_from=dt.date(2027, 2, 1),
                covers_until=MARCH,
                usage_until=dt.date(2027, 2, 1),
            )
            for n, agreement in enumerate(agreements)
        ),
        batch_size=2000,
    )
    InvoiceSequence.objects.create(name="invoice", last_number=count)


if __name__ == "__main__":
    main()

"""Benchmark: plan one term for N agreements with two scheduled lines each.

    .venv/bin/python bench/bench_planning.py                      # 1,000 agreements, SQLite
    .venv/bin/python bench/bench_planning.py --agreements 200
    .venv/bin/python bench/bench_planning.py --database-url postgres://postgres@127.0.0.1:5432/allora_bench

It builds its own database (a temporary SQLite file unless --database-url names an empty
database, e.g. one made with `createdb`), creates the agreements in bulk, then times
`scheduling.planning.plan_terms` once (every visit is new) and again (nothing is new: the
idempotent re-run). A benchmark, not a test.
"""

import datetime as dt
import time
from decimal import Decimal as D

import benchkit


def main():
    args = benchkit.arguments(__doc__, agreements=1000).parse_args()
    benchkit.start(args.database_url)

    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)

    from scheduling.models import Visit
    from scheduling.planning import plan_terms

    terms = build(args.agreements)
    print(f"{args.agreements} agreements × 2 scheduled lines, {connection.vendor}")

    for run in ("first run (all new)", "second run (idempotent)"):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            created = plan_terms(terms)
            elapsed = time.perf_counter() - started
        inserts = sum(1 for q in queries.captured_queries if q["sql"].startswith("INSERT"))
        print(
            f"  {run}: {created} visits created in {elapsed:.2f} s "
            f"({len(queries.captured_queries)} queries, {inserts} of them multi-row inserts)"
        )
    print(f"  visits in the database: {Visit.objects.count()}")


def build(count):
    """Customers, signed agreements with a maintenance and a prescheduled line, and term 1."""
    from agreements.models import (
        Agreement,
        AgreementVersion,
        Customer,
        ServiceKind,
        ServiceLine,
        Term,
        TermsTemplate,
    )

    template = TermsTemplate.objects.get(version=1)
    start = dt.date(2027, 1, 4)
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
        AgreementVersion(agreement=agreement, terms_template=template, status="signed")
        for agreement in agreements
    )
    lines = []
    for version in versions:
        lines += [
            ServiceLine(
                version=version,
                kind=ServiceKind.MAINTENANCE,
                hours_per_visit=D("2"),
                rrule="FREQ=MONTHLY;BYDAY=+3WE",
                start_time=dt.time(10, 0),
                duration_minutes=120,
                checklist=["Inspections", "Updates", "Backups", "Scans"],
            ),
            ServiceLine(
                version=version,
                kind=ServiceKind.PRESCHEDULED,
                position=1,
                hours_per_month=D("8"),
                rrule="FREQ=WEEKLY;BYDAY=TU",
                start_time=dt.time(9, 0),
                duration_minutes=120,
            ),
        ]
    ServiceLine.objects.bulk_create(lines)
    return Term.objects.bulk_create(
        Term(
            agreement=version.agreement,
            number=1,
            start=start,
            end=dt.date(2028, 1, 4),
            locked_rates={},
            version=version,
        )
        for version in versions
    )


if __name__ == "__main__":
    main()

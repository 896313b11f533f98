"""Benchmark: the daily renewal of N agreements whose term ends today, against a plain bulk
insert of the same rows.

    .venv/bin/python bench/bench_renewal.py                       # 1,000 agreements, SQLite
    .venv/bin/python bench/bench_renewal.py --agreements 200
    .venv/bin/python bench/bench_renewal.py --database-url postgres://postgres@127.0.0.1:5432/allora_bench_renewal

It builds its own database (a temporary SQLite file unless --database-url names an empty
database) with bench_planning.py's N agreements, whose term 1 [2027-01-04, 2028-01-04) ends on
the day of the run, 2028-01-04: two scheduled lines each (maintenance on the third Wednesday,
prescheduled hours every Tuesday: 64 visits a term), Exhibit A rates, a billing contact, and
one in four a finalized rate review for term 2. Then it times:

1. `agreements.lifecycle.renew_due_agreements(today=2028-01-04)`: the real job (locks, the
   renewal rules, terms, visits planned, history, reminders, the emails rendered and sent to
   memory after each commit);
2. a plain `bulk_create` of the very same rows, in one transaction: the terms and their visits
   (the floor of the issue), and the same with the history events and reminder rows too.

The ratio of the two is the figure. A benchmark, not a test.
"""

import datetime as dt
import time
from decimal import Decimal as D
from typing import Any

import benchkit

TODAY = dt.date(2028, 1, 4)


def main():
    args = benchkit.arguments(__doc__, agreements=1000).parse_args()
    # Emails are rendered and kept in memory, not printed.
    benchkit.start(args.database_url, EMAIL_URL="memorymail://")

    from django.core import mail
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.urls import reverse

    call_command("migrate", verbosity=0)
    mail.outbox = []

    from agreements import lifecycle
    from agreements.models import AgreementEvent, Reminder, Term
    from scheduling.models import Visit

    build(args.agreements)
    print(f"{args.agreements} agreements due on {TODAY}, {connection.vendor}")
    last_event = AgreementEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    reverse("portal:agreement_detail", args=[1])  # the URL map loaded, as in a running worker
    with connection.execute_wrapper(count):
        started = time.perf_counter()
        renewed = lifecycle.renew_due_agreements(today=TODAY)
        job = time.perf_counter() - started
    statements = [
        sql for sql in statements if not sql.startswith(("BEGIN", "SAVEPOINT", "RELEASE"))
    ]
    assert len(renewed) == args.agreements, len(renewed)
    print(
        f"  renew_due_agreements: {len(renewed)} terms, "
        f"{Visit.objects.filter(term__number=2).count()} visits, {len(mail.outbox)} emails "
        f"in {job:.2f} s ({len(statements)} statements, "
        f"{len(statements) / args.agreements:.1f} per agreement)"
    )

    # The same rows, inserted plainly: copies of what the job stored, without their ids.
    terms = list(Term.objects.filter(number=2).order_by("pk"))
    visits = list(Visit.objects.filter(term__number=2).order_by("pk"))
    events = list(AgreementEvent.objects.filter(pk__gt=last_event).order_by("pk"))
    reminders = list(Reminder.objects.filter(kind=Reminder.Kind.RENEWED).order_by("pk"))
    Visit.objects.filter(term__number=2).delete()
    Term.objects.filter(number=2).delete()
    AgreementEvent.objects.filter(pk__gt=last_event).delete()
    Reminder.objects.filter(kind=Reminder.Kind.RENEWED).delete()
    by_agreement = {term.agreement_id: term for term in terms}
    for row in [*terms, *visits, *events, *reminders]:
        row.pk = None

    def bulk_insert(*, history):
        started = time.perf_counter()
        with transaction.atomic():
            Term.objects.bulk_create(terms, batch_size=500)
            for visit in visits:
                visit.term = by_agreement[visit.agreement_id]
            Visit.objects.bulk_create(visits, batch_size=500)
            if history:
                AgreementEvent.objects.bulk_create(events, batch_size=500)
                Reminder.objects.bulk_create(reminders, batch_size=500)
        elapsed = time.perf_counter() - started
        with transaction.atomic():  # undone, for the next measurement
            Visit.objects.filter(term__number=2).delete()
            Term.objects.filter(number=2).delete()
            AgreementEvent.objects.filter(pk__gt=last_event).delete()
            Reminder.objects.filter(kind=Reminder.Kind.RENEWED).delete()
        for row in [*terms, *visits, *events, *reminders]:
            row.pk = None
        return elapsed

    floor = bulk_insert(history=False)
    print(f"  plain bulk insert of the terms and visits: {floor:.2f} s")
    print(f"  ratio: {job / floor:.2f}×")
    floor_all = bulk_insert(history=True)
    print(f"  plain bulk insert with the events and reminders too: {floor_all:.2f} s")
    print(f"  ratio: {job / floor_all:.2f}×")


def build(count):
    """bench_planning's agreements (term 1 [2027-01-04, 2028-01-04), two scheduled lines), with
    Exhibit A rates, a billing contact each, and one in four its term 2 rates finalized (a 3%
    uplift)."""
    from bench_planning import build as build_planned

    from agreements.models import AgreementVersion, Contact, RateReview, Term
    from allora.models import User
    from billing.tests.factories import STANDARD_LINES

    terms = build_planned(count)
    rates: dict[str, Any] = {
        "rate_card": {"version": 1, "title": "Standard rates", "effective_date": "2026-01-01"},
        "discounts": {"maintenance": "25.00", "prescheduled": "25.00"},
        "rates": [
            {"kind": kind, "name": name, "unit": unit, "price": str(price)}
            for kind, name, unit, price in STANDARD_LINES
        ],
    }
    AgreementVersion.objects.update(rates_snapshot=rates)
    Term.objects.update(locked_rates=rates)
    Contact.objects.bulk_create(
        Contact(
            customer_id=term.agreement.customer_id,
            name=f"Billing {n}",
            email=f"billing{n}@customer.example",
            is_billing_contact=True,
        )
        for n, term in enumerate(terms)
    )
    admin = User.objects.create(email="bench-admin@allora.example", role="admin")
    uplifted = {
        **rates,
        "rates": [
            {**rate, "price": str((D(rate["price"]) * D("1.03")).quantize(D("0.01")))}
            for rate in rates["rates"]
        ],
    }
    RateReview.objects.bulk_create(
        RateReview(
            agreement_id=term.agreement_id,
            term_number=2,
            method=RateReview.Method.UPLIFT,
            uplift_percent=D("3"),
            rates=uplifted,
            status=RateReview.Status.FINALIZED,
            reviewed_by=admin,
            finalized_at=dt.datetime(2027, 10, 1, 12, tzinfo=dt.UTC),
        )
        for term in terms[::4]
    )


if __name__ == "__main__":
    main()

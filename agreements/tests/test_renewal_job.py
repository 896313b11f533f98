"""The daily renewal as a set (issue 14): a chunk of due agreements renewed in one transaction
with a fixed number of queries, a catch-up after downtime adding every missed term in order with
its rates, and one agreement whose data is wrong never stopping the others."""

import datetime as dt
import logging
from decimal import Decimal as D

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agreements import lifecycle
from agreements.models import AgreementEvent, Reminder, ServiceKind, Term
from agreements.tests.factories import agreement_for_2027
from billing.pricing import snapshot_rate
from billing.tests.factories import published_card
from scheduling.models import Visit

TERM_END = dt.date(2028, 1, 1)
VISITS_A_TERM = 12 + 52  # third Wednesdays and Tuesdays of draft_with_all_services' lines


@pytest.fixture(autouse=True)
def rates(db):
    return published_card(effective_date=dt.date(2026, 1, 1))


@pytest.fixture
def make_agreement(customer_a, alice, admin):
    def make():
        return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)

    return make


def renew_counting(today):
    """Renew; the terms and the statements run, less the visits' multi-row inserts (their
    number of batches grows with the rows, as any bulk insert's does)."""
    with CaptureQueriesContext(connection) as queries:
        terms = lifecycle.renew_due_agreements(today=today)
    statements = [query["sql"] for query in queries.captured_queries]
    visit_inserts = [
        sql for sql in statements if sql.startswith("INSERT") and '"scheduling_visit"' in sql
    ]
    return terms, len(statements) - len(visit_inserts), len(visit_inserts)


def test_renewing_twice_as_many_due_agreements_takes_the_same_queries(make_agreement):
    first = [make_agreement() for _ in range(2)]
    terms, queries, _ = renew_counting(TERM_END)
    assert sorted(term.agreement_id for term in terms) == sorted(a.pk for a in first)
    # Four more whose term 1 ends the same day (the first two now run until 2029).
    second = [make_agreement() for _ in range(4)]
    terms, queries_for_twice, visit_inserts = renew_counting(TERM_END)
    assert sorted(term.agreement_id for term in terms) == sorted(a.pk for a in second)
    # Locks, latest terms, requests, versions, reviews, reminders, contacts; the inserts of
    # terms, events and reminders; plan_terms' reads: the same for 2 and for 4 agreements.
    assert queries_for_twice == queries
    assert queries < 30
    visits = Visit.objects.filter(term__in=terms).count()
    assert visits == 4 * VISITS_A_TERM
    assert visit_inserts <= visits // 50 + 1  # multi-row inserts, never one per visit
    assert Reminder.objects.filter(kind=Reminder.Kind.RENEWED, key=2).count() == 6


def test_a_chunk_at_a_time_each_with_the_same_queries(make_agreement):
    agreements = [make_agreement() for _ in range(4)]
    with CaptureQueriesContext(connection) as one_chunk:
        lifecycle.renew_due_agreements(today=TERM_END, chunk_size=4)
    with CaptureQueriesContext(connection) as two_chunks:
        terms = lifecycle.renew_due_agreements(today=dt.date(2029, 1, 1), chunk_size=2)
    assert [(term.agreement_id, term.number) for term in terms] == [
        (agreement.pk, 3) for agreement in sorted(agreements, key=lambda a: a.pk)
    ]

    def reads(queries):
        return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]

    # The due agreements and Allora's details (the emails' signature) once, then per chunk the
    # same reads.
    assert len(reads(two_chunks)) - 2 == 2 * (len(reads(one_chunk)) - 2)


def test_a_catch_up_after_two_years_down_renews_each_term_in_order_with_its_rates(
    make_agreement, admin, django_capture_on_commit_callbacks
):
    agreement = make_agreement()
    review = lifecycle.save_rate_review(
        agreement, method="uplift", uplift_percent=D("10"), by=admin, today=dt.date(2027, 6, 1)
    )
    lifecycle.finalize_rate_review(review, by=admin, today=dt.date(2027, 6, 1))
    mail.outbox.clear()
    earlier = agreement.events.order_by("-pk").values_list("pk", flat=True).first()

    with django_capture_on_commit_callbacks(execute=True):
        terms = lifecycle.renew_due_agreements(today=dt.date(2029, 1, 5))

    assert [(t.number, t.start, t.end) for t in terms] == [
        (2, dt.date(2028, 1, 1), dt.date(2029, 1, 1)),
        (3, dt.date(2029, 1, 1), dt.date(2030, 1, 1)),
    ]
    term1, term2, term3 = Term.objects.filter(agreement=agreement).order_by("number")
    onsite = [snapshot_rate(t.locked_rates, "onsite_hourly") for t in (term1, term2, term3)]
    assert onsite[1] == (onsite[0] * D("1.10")).quantize(D("0.01"))
    assert onsite[2] == onsite[1]  # term 3 had no review: it carries term 2's rates
    for term in (term2, term3):
        assert Visit.objects.filter(term=term).count() == VISITS_A_TERM
    history = list(
        AgreementEvent.objects.filter(agreement=agreement, pk__gt=earlier)
        .order_by("pk")
        .values_list("message", flat=True)
    )
    assert history == [
        "Renewed with the reviewed rates: term 2 from January 1, 2028 to December 31, 2028",
        "Email sent: Renewed",
        "Renewed as is: term 3 from January 1, 2029 to December 31, 2029",
        "Email sent: Renewed",
    ]
    assert [m.subject for m in mail.outbox] == [
        "Agreement SA-0001 renewed until December 31, 2028".replace("SA-0001", agreement.number),
        "Agreement SA-0001 renewed until December 31, 2029".replace("SA-0001", agreement.number),
    ]
    assert lifecycle.renew_due_agreements(today=dt.date(2029, 1, 5)) == []


def break_schedule(agreement):
    """A maintenance rule that no longer parses: planning its visits fails."""
    agreement.signed_version().lines.filter(kind=ServiceKind.MAINTENANCE).update(
        rrule="FREQ=SOMETIMES"
    )


def break_rates(agreement):
    """Locked rates without their rates list: the renewal cannot carry them."""
    Term.objects.filter(agreement=agreement).update(locked_rates={"discounts": {}})


@pytest.mark.parametrize("breakage", [break_schedule, break_rates])
def test_one_agreement_that_cannot_be_renewed_never_stops_the_others(
    make_agreement, breakage, caplog, admin, django_capture_on_commit_callbacks
):
    before, broken, after = make_agreement(), make_agreement(), make_agreement()
    breakage(broken)
    with (
        caplog.at_level(logging.ERROR, logger="agreements.lifecycle"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        terms = lifecycle.renew_due_agreements(today=TERM_END)
    assert [(term.agreement_id, term.number) for term in terms] == [
        (before.pk, 2),
        (after.pk, 2),
    ]
    for agreement in (before, after):
        assert Visit.objects.filter(agreement=agreement, term__number=2).count() == VISITS_A_TERM
    # The broken one is logged and left as it was, due again for the next run.
    assert f"Agreement {broken.pk} could not be renewed" in caplog.text
    assert list(broken.terms.values_list("number", flat=True)) == [1]
    assert not broken.events.filter(kind="renewed").exists()
    assert not broken.reminders.filter(kind=Reminder.Kind.RENEWED).exists()
    assert not Visit.objects.filter(agreement=broken, term__number=2).exists()
    # Recorded as its billing problem (its next term cannot be billed), the admins told once.
    broken.refresh_from_db()
    assert broken.billing_problem.startswith("Not renewed on January 1, 2028")
    with django_capture_on_commit_callbacks(execute=True):
        assert lifecycle.renew_due_agreements(today=dt.date(2028, 1, 2)) == []
    assert broken.events.filter(kind="billing_problem").count() == 1
    alerts = [m for m in mail.outbox if m.subject.startswith(f"Agreement {broken.number} could")]
    assert len(alerts) == 1 and alerts[0].to == [admin.email]
    assert not before.events.filter(kind="billing_problem").exists()

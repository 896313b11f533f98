"""The staff home's recurring revenue (issue 14): each term's monthly amount is stored once and
summed by the database, and gives the same figures as pricing every term in Python did."""

import datetime as dt
import threading
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from agreements import lifecycle, signing
from agreements.models import Agreement, ServiceKind, Term
from agreements.tests.factories import (
    CustomerFactory,
    agreement_for_2027,
    evidence,
    hosting_line,
    signer_contact,
)
from allora import dashboard
from allora.tests.factories import UserFactory
from billing import services
from billing.models import RateKind
from billing.pricing import monthly_recurring
from billing.tests.factories import STANDARD_LINES, published_card

NOON = dt.time(12, tzinfo=dt.UTC)
# Each agreement of agreement_for_2027: maintenance 2 h × $112.50 + prescheduled 8 h × $112.50
# + Website hosting $45.
STANDARD = D("1170.00")


@pytest.fixture(autouse=True)
def rates(db):
    """Card 1 locks the agreements' rates; card 2 (2027) raises on-site support and adds a
    Cloud backup package, which only an amendment brings in, priced from its own Exhibit A."""
    published_card(effective_date=dt.date(2026, 1, 1))
    raised = [
        (kind, name, unit, D("160.00") if kind == RateKind.ONSITE else price)
        for kind, name, unit, price in STANDARD_LINES
    ]
    cloud = (RateKind.HOSTING, "Cloud backup", "month", D("30.00"))
    return published_card(effective_date=dt.date(2027, 1, 1), lines=[*raised, cloud])


def agreements(count, admin):
    made = []
    for index in range(count):
        customer = CustomerFactory(legal_name=f"Revenue customer {index}")
        user = UserFactory(role="customer", customer=customer, email=f"rev{index}@r.example")
        made.append((agreement_for_2027(customer=customer, customer_user=user, admin=admin), user))
    return made


def python_series(today):
    """What the staff home computed before issue 14: every term priced in Python from its
    version's lines; a month counts the terms in force on its first day, `current` the live
    agreements' terms in force today."""
    statuses = {*Agreement.LIVE, Agreement.Status.ENDED, Agreement.Status.TERMINATED}
    terms = [
        term
        for term in Term.objects.select_related("agreement", "version")
        if term.agreement.status in statuses
    ]
    amounts = {
        term.pk: monthly_recurring(
            term.locked_rates, term.version.rates_snapshot, term.version.lines.all()
        )
        for term in terms
    }
    return {
        "current": sum(
            (
                amounts[t.pk]
                for t in terms
                if t.start <= today < t.end and t.agreement.status in Agreement.LIVE
            ),
            D(0),
        ),
        "series": [
            {
                "month": month,
                "amount": sum((amounts[t.pk] for t in terms if t.start <= month < t.end), D(0)),
            }
            for month in dashboard._months_ending(today)
        ],
    }


def assert_same_as_python(today):
    found = dashboard.mrr_series(today=today)
    assert found["complete"]
    assert {"current": found["current"], "series": found["series"]} == python_series(today)
    return found


def amend_adding_cloud_backup(agreement, *, on, admin, signer):
    draft = signing.start_amendment(agreement, by=admin)
    hosting_line(draft, package_name="Cloud backup", quantity=2, position=9)
    signing.send_for_signature(
        draft, signer=signer_contact(agreement.customer, signer), by=admin, today=on
    )
    at = dt.datetime.combine(on, NOON)
    signing.sign_as_customer(draft, user=signer, evidence=evidence(), now=at)
    signing.countersign(draft, user=admin, evidence=evidence("Dana"), now=at)


def test_the_stored_series_equals_pricing_every_term_over_a_whole_life(admin):
    (amended, alice), (unpriceable, _), (ending, carol), (terminated, _), _ = agreements(5, admin)
    # A line no rate prices counts nothing (the monthly run reports it as a problem).
    unpriceable.signed_version().lines.filter(kind=ServiceKind.HOSTING).update(
        package_name="Gone package"
    )
    first = assert_same_as_python(dt.date(2027, 2, 15))
    assert first["current"] == 5 * STANDARD - D("45.00")
    assert Term.objects.filter(monthly_amount__isnull=True).count() == 0

    # The amendment re-points the term to its version: its amount is computed again, with
    # Cloud backup at the amendment's own price and the other services at the locked rates.
    amend_adding_cloud_backup(amended, on=dt.date(2027, 3, 10), admin=admin, signer=alice)
    assert amended.terms.get().monthly_amount is None
    assert_same_as_python(dt.date(2027, 3, 12))
    assert amended.terms.get().monthly_amount == STANDARD + 2 * D("30.00")

    lifecycle.file_termination_request(
        ending,
        by=carol,
        received_at=dt.datetime.combine(dt.date(2027, 6, 1), NOON),
        reason="Moving",
        typed_name="Carol",
        channel="portal",
        now=dt.datetime.combine(dt.date(2027, 6, 1), NOON),
    )
    lifecycle.terminate_early(terminated, by=admin, today=dt.date(2027, 9, 15))
    lifecycle.end_due_agreements(today=dt.date(2028, 1, 1))
    lifecycle.renew_due_agreements(today=dt.date(2028, 1, 1))
    statuses = Agreement.objects.in_bulk([ending.pk, terminated.pk])
    assert statuses[ending.pk].status == Agreement.Status.ENDED
    assert statuses[terminated.pk].status == Agreement.Status.TERMINATED
    assert Term.objects.filter(number=2).count() == 3  # the renewals: new terms, new amounts

    for today in (dt.date(2027, 12, 31), dt.date(2028, 1, 1), dt.date(2028, 3, 15)):
        assert_same_as_python(today)
    last = dashboard.mrr_series(today=dt.date(2028, 3, 15))
    assert last["current"] == (STANDARD + D("60.00")) + (STANDARD - D("45.00")) + STANDARD


def test_a_term_starting_after_the_first_of_this_month_counts_in_current(admin):
    agreements(1, admin)
    Term.objects.update(start=dt.date(2027, 1, 5))  # as if signed on January 5
    found = assert_same_as_python(dt.date(2027, 1, 20))
    assert found["current"] == STANDARD
    assert found["series"][-1]["amount"] == 0  # not in force on January 1


def test_the_staff_home_prices_one_bounded_chunk_and_the_job_the_rest(admin, monkeypatch):
    agreements(5, admin)
    monkeypatch.setattr(dashboard, "LAZY_FILL", 2)
    found = dashboard.mrr_series(today=dt.date(2027, 3, 12))
    assert not found["complete"]
    assert found["current"] == 2 * STANDARD  # what is stored, nothing more
    assert Term.objects.filter(monthly_amount__isnull=True).count() == 3
    call_command("fill_monthly_amounts")
    found = dashboard.mrr_series(today=dt.date(2027, 3, 12))
    assert found["complete"] and found["current"] == 5 * STANDARD


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_the_fill_skips_a_term_another_transaction_is_changing(rates, admin):
    """An amendment re-pointing a term holds its row: the fill leaves it for the next run rather
    than store an amount of the version it is about to lose."""
    (agreement, _), (other, _) = agreements(2, admin)
    term = agreement.terms.get()
    locked, release = threading.Event(), threading.Event()

    def amendment():
        with transaction.atomic():
            Term.objects.select_for_update().get(pk=term.pk)
            locked.set()
            release.wait(10)
        connections.close_all()

    thread = threading.Thread(target=amendment)
    thread.start()
    try:
        assert locked.wait(10)
        assert services.fill_monthly_amounts() == 1
    finally:
        release.set()
        thread.join()
    assert other.terms.get().monthly_amount == STANDARD
    assert Term.objects.get(pk=term.pk).monthly_amount is None
    assert services.fill_monthly_amounts() == 1  # the next run takes it


def test_the_daily_job_is_in_the_beat_schedule_and_fills_every_missing_amount(admin):
    from allora.celery import app
    from billing import tasks

    entries = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "billing.tasks.fill_monthly_amounts" in entries
    agreements(3, admin)
    assert services.fill_monthly_amounts(size=2) == 3  # two chunks
    assert tasks.fill_monthly_amounts() == 0  # nothing left: a second run changes nothing
    assert set(Term.objects.values_list("monthly_amount", flat=True)) == {STANDARD}

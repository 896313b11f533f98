"""Billing over an agreement's whole life (issue 11): amendments, endings, outages, usage after
the end, early termination bound by a renewal, reconciling lines, and one agreement that cannot
be priced never stops the run. Then generated lives (hypothesis): any schedule of daily runs
gives the same invoices as one catch-up run, and what is billed equals an independent
computation of what the contract owes."""

import datetime as dt
import os
from collections import defaultdict
from decimal import Decimal as D
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from django.core import mail
from django.db import transaction
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from agreements import lifecycle, signing
from agreements.models import Agreement, ServiceKind
from agreements.tests.factories import (
    agreement_for_2027,
    evidence,
    hosting_line,
    signer_contact,
)
from billing import closing, invoicing
from billing.charges import month_start, next_month
from billing.models import Invoice, InvoiceLine, RateKind, TimeEntry
from billing.pricing import merged_rates
from billing.rules import line_money, prorated_quantity
from billing.tests.factories import STANDARD_LINES, log_hours, published_card

TZ = ZoneInfo("America/New_York")
CLOUD = (RateKind.HOSTING, "Cloud backup", "month", D("30.00"))


@pytest.fixture(autouse=True)
def rates(db):
    """Card 1 (in effect when the agreements are sent, Nov 2026); card 2 from 2027 raises the
    on-site rate and adds a Cloud backup package, which only an amendment brings in."""
    published_card(effective_date=dt.date(2026, 1, 1))
    raised = [
        (kind, name, unit, D("160.00") if kind == RateKind.ONSITE else price)
        for kind, name, unit, price in STANDARD_LINES
    ]
    return published_card(effective_date=dt.date(2027, 1, 1), lines=[*raised, CLOUD])


@pytest.fixture
def agreement(customer_a, alice, admin):
    """Term 1 [2027-01-01, 2028-01-01), billing day 1: maintenance, an 8 h block, emergency
    support and website hosting."""
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def at_noon(day):
    return dt.datetime.combine(day, dt.time(12), tzinfo=TZ)


def amend(agreement, *, on, by, signer, add_cloud=1, drop_website=False):
    """An amendment signed by both parties on ``on``: adds Cloud backup, may drop hosting."""
    draft = signing.start_amendment(agreement, by=by)
    if add_cloud:
        hosting_line(draft, package_name="Cloud backup", quantity=add_cloud, position=9)
    if drop_website:
        draft.lines.filter(package_name="Website hosting").delete()
    contact = signer_contact(agreement.customer, signer)
    signing.send_for_signature(draft, signer=contact, by=by, today=on)
    signing.sign_as_customer(draft, user=signer, evidence=evidence(), now=at_noon(on))
    signing.countersign(draft, user=by, evidence=evidence("Dana"), now=at_noon(on))
    return draft


def request_termination(agreement, *, on, by):
    return lifecycle.file_termination_request(
        agreement,
        by=by,
        received_at=at_noon(on),
        reason="Moving",
        typed_name="Alice Moore",
        channel="portal",
        now=at_noon(on),
    )


def run_jobs(today):
    lifecycle.end_due_agreements(today=today)
    lifecycle.renew_due_agreements(today=today)
    return invoicing.issue_invoices(today=today)


def cloud_lines(agreement):
    return InvoiceLine.objects.filter(
        invoice__agreement=agreement, description__startswith="Cloud backup"
    ).exclude(invoice__status=Invoice.Status.VOID)


# The eight reproductions of the issue -------------------------------------------------------


def test_an_amendment_adding_a_package_is_billed_from_its_completion_and_after_renewal(
    agreement, alice, admin
):
    run_jobs(dt.date(2027, 3, 1))
    amend(agreement, on=dt.date(2027, 3, 10), by=admin, signer=alice, add_cloud=2)
    (april,) = run_jobs(dt.date(2027, 4, 1))
    cloud = {line.description: line for line in april.lines.filter(kind="hosting")}
    march = cloud["Cloud backup, March 10–31, 2027 (prorated: 22 of 31 days), as amended"]
    assert march.quantity == D("1.4194")  # 2 × 22/31, at the amendment's own price
    assert march.amount == D("42.58")  # 1.4194 × 30.00 = 42.582
    assert cloud["Cloud backup, April 2027"].amount == D("60.00")
    # The services that existed keep the term's locked rate (150), not card 2's 160.
    assert april.lines.get(kind="prescheduled").list_rate == D("150.00")
    issued = run_jobs(dt.date(2028, 1, 1))  # the renewal carries the package into term 2
    assert issued[-1].period == dt.date(2028, 1, 1)
    assert cloud_lines(agreement).filter(term__number=2).get().amount == D("60.00")
    agreement.refresh_from_db()
    assert agreement.billing_problem == ""


def test_the_renewal_comparison_of_an_amended_agreement_prices_the_added_package(
    agreement, alice, admin
):
    """The review page and the finalized email compare the renewal with what it would carry
    anyway: the locked rates plus the package an amendment added (its own Exhibit A price), so
    the package is neither a rate change nor a line the locked rates cannot price."""
    amend(agreement, on=dt.date(2027, 3, 10), by=admin, signer=alice, add_cloud=2)
    agreement.refresh_from_db()
    term = agreement.latest_term
    carried = lifecycle.carried_rates(term, agreement.signed_version())
    review = lifecycle.save_rate_review(
        agreement, method="keep", by=admin, today=dt.date(2027, 10, 1)
    )
    comparison = lifecycle.next_term_comparison(agreement, term, review)
    # Keeping the rates changes none of them, the package included.
    assert comparison["changes"] and all(c.old == c.new for c in comparison["changes"])
    assert comparison["monthly_difference"] == D("0.00")
    assert comparison["old_total"] > 0 and "Cloud backup" in str(carried)


def test_one_agreement_that_cannot_be_priced_never_stops_the_run(agreement, customer_b, bob, admin):
    other = agreement_for_2027(customer=customer_b, customer_user=bob, admin=admin)
    version = agreement.signed_version()
    version.lines.filter(kind=ServiceKind.HOSTING).update(package_name="Gone package")
    mail.outbox.clear()
    with django_capture_on_commit():
        issued = run_jobs(dt.date(2027, 1, 1))
        run_jobs(dt.date(2027, 1, 2))  # the admins are alerted once, not every day
    assert [invoice.agreement_id for invoice in issued] == [other.pk]
    agreement.refresh_from_db()
    assert "Gone package" in agreement.billing_problem
    alerts = [m for m in mail.outbox if agreement.number in m.subject]
    assert len(alerts) == 1


class django_capture_on_commit:
    """Run on-commit callbacks (emails) at once inside the test's transaction."""

    def __enter__(self):
        from django.db import connection

        self.connection = connection
        self.before = len(connection.run_on_commit)
        return self

    def __exit__(self, *exc):
        for _, callback, _ in self.connection.run_on_commit[self.before :]:
            callback()
        del self.connection.run_on_commit[self.before :]


def test_a_catch_up_after_the_end_bills_every_month_owed_and_the_last_usage(
    agreement, alice, staff
):
    request_termination(agreement, on=dt.date(2027, 6, 1), by=alice)  # timely: ends Dec 31
    log_hours(agreement, "emergency", dt.date(2027, 12, 20), "1.5", by=staff)
    lifecycle.end_due_agreements(today=dt.date(2028, 1, 1))  # the end job first, then an outage
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ENDED
    issued = invoicing.issue_invoices(today=dt.date(2028, 3, 1))
    assert [invoice.period for invoice in issued] == [
        dt.date(2027, month, 1) for month in range(1, 13)
    ] + [dt.date(2028, 1, 1)]
    closing = issued[-1]
    assert [(line.kind, line.quantity) for line in closing.lines.all()] == [
        ("emergency", D("1.5000"))
    ]
    assert invoicing.issue_invoices(today=dt.date(2028, 6, 1)) == []  # nothing after that


def test_early_termination_counts_the_renewal_locked_in_by_a_late_notice(agreement, alice, admin):
    run_jobs(dt.date(2027, 12, 1))
    request_termination(agreement, on=dt.date(2027, 12, 5), by=alice)  # late: renews
    plan = closing.final_invoice_preview(agreement, today=dt.date(2027, 12, 20))
    assert plan.covers_until == dt.date(2029, 1, 1)  # through the end of term 2
    found = closing.commitment(agreement, today=dt.date(2027, 12, 20))
    assert "arrived after the notice deadline" in found.binding.reason
    assert found.binding.last_day == dt.date(2028, 12, 31)
    invoice = lifecycle.terminate_early(agreement, by=admin, today=dt.date(2027, 12, 20))
    assert invoice.total == found.remaining
    months = {line.service_start for line in invoice.lines.filter(kind="prescheduled")}
    assert len(months) == 12  # January to December 2028, at term 1's rates (no review)


def test_every_line_reconciles_list_discount_and_net(customer_a, alice, admin):
    from agreements.tests.factories import signed_agreement

    signed_agreement(
        customer=customer_a,
        customer_user=alice,
        admin=admin,
        signed_at=dt.datetime(2026, 12, 10, 15, tzinfo=dt.UTC),
        start_date=dt.date(2027, 1, 15),
        pdf=False,
    )
    run_jobs(dt.date(2027, 3, 1))
    lines = list(InvoiceLine.objects.all())
    assert any("prorated" in line.description for line in lines)
    for line in lines:
        assert (line.list_amount, line.discount_amount, line.amount) == line_money(
            line.quantity, line.list_rate, line.discount_percent
        )


# Generated lives ------------------------------------------------------------------------------

START, HORIZON = dt.date(2027, 1, 1), dt.date(2028, 3, 15)
DAYS = (HORIZON - START).days


def day(offset):
    return START + dt.timedelta(days=offset)


lives = st.fixed_dictionaries(
    {
        "billing_day": st.sampled_from([1, 10, 28]),
        "amendment": st.none() | st.tuples(st.integers(1, 330), st.integers(0, 2), st.booleans()),
        "request": st.none() | st.integers(40, 364),
        "early": st.none() | st.integers(20, DAYS - 20),
        "usage": st.lists(
            st.tuples(
                st.integers(0, DAYS),
                st.sampled_from(["emergency", "after_hours", "prescheduled"]),
                st.sampled_from(["1.5", "3", "9"]),
            ),
            max_size=4,
        ),
        "runs": st.lists(st.integers(0, DAYS), max_size=25, unique=True).map(sorted),
    }
)


def natural_end(life) -> dt.date:
    """The first day the agreement no longer serves without an early termination: the end of
    term 1 after a timely request, else the horizon (a late request renews it)."""
    if life["request"] is not None and day(life["request"]) <= dt.date(2027, 12, 1):
        return dt.date(2028, 1, 1)
    return HORIZON


def terminated_early_on(life) -> dt.date | None:
    """The day of the early termination, when it comes before the natural end: an agreement
    that has already ended cannot be terminated early (a life drew one on the very day a timely
    request ended it)."""
    if life["early"] is not None and day(life["early"]) < natural_end(life):
        return day(life["early"])
    return None


def live_through(life) -> dt.date:
    """The first day the agreement no longer serves (for the events that need it live)."""
    return terminated_early_on(life) or natural_end(life)


def events(life, agreement, users):
    """(day, action) of one life, in date order; each action acts on its own day."""
    alice, admin, staff = users
    until = live_through(life)
    found = []
    if life["amendment"] is not None:
        offset, cloud, drop = life["amendment"]
        if day(offset) < until and (cloud or drop):
            found.append(
                (
                    day(offset),
                    partial(
                        amend,
                        agreement,
                        on=day(offset),
                        by=admin,
                        signer=alice,
                        add_cloud=cloud,
                        drop_website=drop,
                    ),
                )
            )
    if life["request"] is not None and day(life["request"]) < until:
        received = day(life["request"])
        found.append((received, partial(request_termination, agreement, on=received, by=alice)))
    for offset, kind, hours in life["usage"]:
        if day(offset) < until:
            worked = day(offset)
            after_hours = kind == "after_hours"  # emergency work billed at the after-hours rate
            line = "emergency" if after_hours else kind
            log = partial(log_hours, agreement, line, worked, hours, by=staff, today=worked)
            found.append((worked, partial(log, after_hours=after_hours)))
    if terminated_early_on(life):
        found.append((until, partial(lifecycle.terminate_early, agreement, by=admin, today=until)))
    return sorted(found, key=lambda item: item[0])


def live(life, agreement, users, run_days):
    """Play the life, running the daily jobs on ``run_days``; the invoices it ends with."""
    todo = events(life, agreement, users)
    for today in sorted(set(run_days) | {d for d, _ in todo} | {HORIZON}):
        for when, action in todo:
            if when == today:
                # The lifecycle jobs of the day have run when people act (time can be logged
                # only inside a term); only the invoice runs follow the schedule.
                lifecycle.end_due_agreements(today=today)
                lifecycle.renew_due_agreements(today=today)
                action()
        if today in run_days or today == HORIZON:
            run_jobs(today)
    return snapshot(agreement)


def snapshot(agreement):
    return [
        (
            invoice.kind,
            invoice.period,
            invoice.issued_on,
            invoice.due_on,
            invoice.covers_from,
            invoice.covers_until,
            invoice.total,
            tuple(
                (line.kind, line.description, line.quantity, line.list_rate, line.amount)
                for line in invoice.lines.all()
            ),
        )
        for invoice in agreement.invoices.order_by("issued_on", "pk")
    ]


def last_invoiced_month(billing_day) -> dt.date:
    """The last month whose billing day has come by the horizon."""
    if HORIZON.day >= billing_day:
        return month_start(HORIZON)
    return month_start(month_start(HORIZON) - dt.timedelta(days=1))


def owed_recurring(agreement, *, billing_day):
    """An independent computation of the recurring charges owed, by (month, service): day by
    day, the version in force and the term's rates; runs of equal days priced once."""
    agreement.refresh_from_db()
    terms = list(agreement.terms.order_by("start"))
    versions = list(
        agreement.versions.filter(status__in=["signed", "superseded"]).order_by("number")
    )
    final = agreement.invoices.filter(kind="final").first()
    end = final.covers_until if final else terms[-1].end
    if agreement.is_live:
        # Billed in advance: up to the end of the last month whose billing day has come.
        end = min(end, next_month(last_invoiced_month(billing_day)))
    roots = {}
    for version in versions:
        for line in version.lines.all():
            roots[line.pk] = roots.get(line.replaces_id, line.replaces_id) or line.pk
    effective = [
        (dt.date.min if index == 0 else v.completed_at.astimezone(TZ).date(), v)
        for index, v in enumerate(versions)
    ]
    extra = []
    if final and end > terms[-1].end:  # a renewal the customer was bound to
        extra = [(terms[-1].end, end, terms[-1].locked_rates)]
    days = defaultdict(list)  # (month, term start, service) → [(day, price key, line, rates)]
    current = START
    while current < end:
        term = next((t for t in terms if t.start <= current < t.end), None)
        start, locked = (term.start, term.locked_rates) if term else (extra[0][0], extra[0][2])
        version = [v for since, v in effective if since <= current][-1]
        rates = merged_rates(locked, version.rates_snapshot)
        for line in version.lines.exclude(kind=ServiceKind.EMERGENCY):
            price = _price(line, rates)
            days[(month_start(current), start, roots[line.pk])].append(
                (current, price, line, start)
            )
        current += dt.timedelta(days=1)
    owed = defaultdict(D)
    for (month, _, service), items in days.items():
        runs = []
        for item in items:
            if (
                runs
                and runs[-1][-1][1] == item[1]
                and runs[-1][-1][0] + dt.timedelta(days=1) == item[0]
            ):
                runs[-1].append(item)
            else:
                runs.append([item])
        for run in runs:
            owed[(month, service)] += _run_amount(run)
    return owed


def _price(line, rates):
    if line.kind == ServiceKind.HOSTING:
        price = next(r["price"] for r in rates["rates"] if r["name"] == line.package_name)
        return (line.kind, line.quantity, D(price), D(0))
    price = next(r["price"] for r in rates["rates"] if r["kind"] == line.labor_rate)
    hours = line.hours_per_month if line.kind == ServiceKind.PRESCHEDULED else line.hours_per_visit
    return (line.kind, hours, D(price), D(rates["discounts"][line.kind]), line.rrule)


def _run_amount(run):
    first, last = run[0][0], run[-1][0]
    kind, quantity, rate, percent = run[0][1][:4]
    line, term_start = run[0][2], run[0][3]
    if kind == ServiceKind.MAINTENANCE:
        rule = rrulestr(line.rrule, dtstart=dt.datetime.combine(term_start, line.start_time))
        visits = rule.between(
            dt.datetime.combine(first, dt.time.min),
            dt.datetime.combine(last, dt.time.max),
            inc=True,
        )
        if not visits:
            return D(0)
        return line_money(quantity * len(visits), rate, percent)[2]
    days_in_month = (next_month(first) - month_start(first)).days
    days = (last - first).days + 1
    if days != days_in_month:
        quantity = prorated_quantity(quantity, days=days, days_in_month=days_in_month)
    return line_money(quantity, rate, percent)[2]


def usage_owed_and_billed(agreement, *, billing_day):
    """By (kind, month): the emergency hours (after-hours ones apart) and the prescheduled hours
    beyond the 8 h block that are owed by the horizon (worked before the last invoiced month, or
    all of them once the agreement is over), and those billed."""
    agreement.refresh_from_db()
    live = agreement.is_live
    cutoff = last_invoiced_month(billing_day) if live else dt.date.max
    worked = defaultdict(D)
    for entry in TimeEntry.objects.filter(agreement=agreement, work_date__lt=cutoff):
        kind = "after_hours" if entry.after_hours else entry.line.kind
        worked[(kind, month_start(entry.work_date))] += entry.hours
    owed = {
        (kind, month): hours - D("8.00") if kind == ServiceKind.PRESCHEDULED else hours
        for (kind, month), hours in worked.items()
    }
    billed = defaultdict(D)
    lines = InvoiceLine.objects.filter(
        invoice__agreement=agreement,
        kind__in=[
            InvoiceLine.Kind.EMERGENCY,
            InvoiceLine.Kind.AFTER_HOURS,
            InvoiceLine.Kind.OVERAGE,
        ],
    ).exclude(invoice__status=Invoice.Status.VOID)
    usage_kinds = {
        InvoiceLine.Kind.EMERGENCY: ServiceKind.EMERGENCY,
        InvoiceLine.Kind.AFTER_HOURS: "after_hours",
        InvoiceLine.Kind.OVERAGE: ServiceKind.PRESCHEDULED,
    }
    for line in lines:
        kind = usage_kinds[line.kind]
        billed[(kind, month_start(line.service_start))] += line.quantity
    return (
        {key: hours for key, hours in owed.items() if hours > 0},
        {key: hours for key, hours in billed.items() if hours},
    )


def billed_recurring(agreement):
    billed = defaultdict(D)
    lines = InvoiceLine.objects.filter(
        invoice__agreement=agreement, kind__in=InvoiceLine.RECURRING
    ).exclude(invoice__status=Invoice.Status.VOID)
    roots = {}
    for version in agreement.versions.all():
        for line in version.lines.all():
            roots[line.pk] = roots.get(line.replaces_id, line.replaces_id) or line.pk
    for line in lines:
        billed[(month_start(line.service_start), roots[line.service_line_id])] += line.amount
    return billed


class Rollback(Exception):
    pass


# The lives are drawn in shards, so the parallel suite (pytest-xdist) runs them side by side:
# BILLING_LIVES in all (CI asks for more than a local run), each shard drawing its own.
SHARDS = 4
LIVES_PER_SHARD = max(1, int(os.environ.get("BILLING_LIVES", "24")) // SHARDS)


@pytest.mark.parametrize("shard", range(SHARDS))
@settings(
    max_examples=LIVES_PER_SHARD,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a database life shrinks slowly
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(life=lives)
# Found by a generated life: a timely request ends the agreement on 2028-01-01 and the early
# termination was drawn for that very day (the life must not act on an ended agreement).
@example(
    life={
        "billing_day": 28,
        "amendment": None,
        "request": 242,
        "early": 365,
        "usage": [],
        "runs": [7, 94, 150, 154, 178, 197, 212],
    }
)
def test_any_schedule_of_runs_bills_the_same_and_what_is_owed_once(
    shard, life, customer_a, alice, admin, staff
):
    results = []
    for run_days in ([day(offset) for offset in life["runs"]], []):
        try:
            with transaction.atomic():
                agreement = agreement_for_2027(
                    customer=customer_a, customer_user=alice, admin=admin
                )
                agreement.signed_version().__class__.objects.filter(agreement=agreement).update(
                    billing_day=life["billing_day"]
                )
                found = live(life, agreement, (alice, admin, staff), run_days)
                owed = owed_recurring(agreement, billing_day=life["billing_day"])
                billed = billed_recurring(agreement)
                usage = usage_owed_and_billed(agreement, billing_day=life["billing_day"])
                for invoice in agreement.invoices.all():
                    for line in invoice.lines.all():
                        assert (line.list_amount, line.discount_amount, line.amount) == line_money(
                            line.quantity, line.list_rate, line.discount_percent
                        )
                results.append((found, owed, billed, usage))
                raise Rollback
        except Rollback:
            pass
    (daily, owed, billed, (usage_owed, usage_billed)), (catch_up, *_) = results
    assert daily == catch_up  # same periods, dates, lines and totals
    # Every month owed billed, and billed once: net billed per month and service = owed.
    assert {k: v for k, v in billed.items() if v} == {k: v for k, v in owed.items() if v}
    # Usage in arrears, once: emergency hours and the hours beyond the block, month by month.
    assert usage_billed == usage_owed

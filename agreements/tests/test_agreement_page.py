"""The agreement page, staff and portal, reads each table once (issue 14: it made 22 queries at
10,000 agreements, the terms read five times and the commitment panel adding eight): the query
count does not grow with the agreement's terms or invoices, and the page still shows them."""

import datetime as dt

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from django.urls import reverse

from agreements import lifecycle, rules
from agreements.models import RateReview, ServiceKind, Term
from agreements.pages import get_agreement_page
from agreements.tests.factories import agreement_for_2027, draft_with_all_services
from billing import closing
from billing.accounts import account_of, load_accounts
from billing.models import Invoice
from billing.tests.factories import make_invoice, published_card
from scheduling.models import ScheduleChange
from scheduling.planning import change_schedule

NOW = dt.datetime(2027, 11, 15, 16, 0, tzinfo=dt.UTC)  # 11:00 in Raleigh


def _agreement(*, customer, customer_user, admin, terms, invoices):
    """Term 1 [2027-01-01, 2028-01-01) plus ``terms - 1`` renewals, ``invoices`` monthly
    invoices, and the finalized rates of the term after the last one."""
    agreement = agreement_for_2027(customer=customer, customer_user=customer_user, admin=admin)
    first = agreement.terms.get()
    for number in range(2, terms + 1):
        start = first.start + relativedelta(years=number - 1)
        Term.objects.create(
            agreement=agreement,
            number=number,
            start=start,
            end=rules.term_end(start),
            locked_rates=first.locked_rates,
            version=first.version,
        )
    for month in range(invoices):
        make_invoice(agreement, issued_on=dt.date(2027, 1, 1) + relativedelta(months=month))
    RateReview.objects.create(
        agreement=agreement,
        term_number=terms + 1,
        method=RateReview.Method.KEEP,
        rates=first.locked_rates,
        status=RateReview.Status.FINALIZED,
        reviewed_by=admin,
    )
    return agreement


@pytest.fixture(params=[(1, 5), (5, 50)], ids=["1 term, 5 invoices", "5 terms, 50 invoices"])
def agreement(request, customer_a, alice, admin):
    published_card(effective_date=dt.date(2026, 1, 1))
    terms, invoices = request.param
    return _agreement(
        customer=customer_a, customer_user=alice, admin=admin, terms=terms, invoices=invoices
    )


# Who asks, the page, its queries, what it must show. Staff: the session with its user; the
# agreement with its customer, where billing stands (its invoices joined, one GROUP BY) and which
# of its rare parts it has; its versions, their lines, their signatures; the terms with the sum
# billed of each (the commitment's); rate reviews (it has one; termination requests and schedule
# changes, none: not read); the timeline. Portal: the same, plus alice's contact (may she sign,
# may she end it) and her customer (the navigation bar).
SIDES = {
    "staff": ("admin", "agreements:agreement_detail", 8, "Rates for the next term (finalized)"),
    "portal": ("alice", "portal:agreement_detail", 10, "Rates for your next term"),
}


@time_machine.travel(NOW)
@pytest.mark.parametrize("side", SIDES)
def test_agreement_page_reads_each_table_once(
    client_for, admin, alice, agreement, django_assert_num_queries, side
):
    who, name, queries, next_rates = SIDES[side]
    client = client_for({"admin": admin, "alice": alice}[who])
    with django_assert_num_queries(queries):
        response = client.get(reverse(name, args=[agreement.pk]))
    page = response.content.decode()
    assert "Commitment, term 1" in page and next_rates in page
    assert response.context["commitment"].term.number == 1
    if side == "staff":
        assert f"Term {agreement.terms.count()}</strong>" in page  # every term is listed
    else:
        assert response.context["term"].number == 1 and response.context["may_end"] is True


@time_machine.travel(NOW)
@pytest.mark.parametrize("parts", ["none", "a rate review", "a rate review and a request"])
def test_the_staff_page_reads_termination_requests_and_rate_reviews_only_when_there_are_some(
    client_for, customer_a, alice, admin, django_assert_num_queries, parts
):
    """Most agreements have neither: the page's read of the agreement says which it has, and
    only those are read (one query each); those it has are shown as before."""
    published_card(effective_date=dt.date(2026, 1, 1))
    agreement = _agreement(
        customer=customer_a, customer_user=alice, admin=admin, terms=1, invoices=2
    )
    if parts == "none":
        agreement.rate_reviews.all().delete()
    if parts.endswith("request"):
        lifecycle.file_termination_request(
            agreement,
            by=alice,
            received_at=NOW - dt.timedelta(days=1),
            reason="We are moving to an in-house IT team.",
            typed_name="Alice Moore",
            channel="portal",
            now=NOW,
        )
    client = client_for(admin)
    with django_assert_num_queries({"none": 7, "a rate review": 8}.get(parts, 9)):
        response = client.get(reverse("agreements:agreement_detail", args=[agreement.pk]))

    page = response.content.decode()
    assert ("Rates for the next term (finalized)" in page) is (parts != "none")
    assert (response.context["next_review"] is not None) is (parts != "none")
    requests = list(response.context["requests"])
    assert len(requests) == (1 if parts.endswith("request") else 0)
    assert ("Termination requests</h2>" in page) is bool(requests)
    if requests:
        assert response.context["standing_request"] == requests[0]
        assert "Written termination request received November 14, 2027" in page
        assert f"(recorded by {alice})" in page and "<strong>Standing</strong>" in page


@time_machine.travel(NOW)
@pytest.mark.parametrize("changed", [False, True], ids=["no schedule change", "a change"])
def test_the_pages_commitment_reads_schedule_changes_only_when_there_are_some(
    client_for, customer_a, alice, admin, django_assert_num_queries, changed
):
    """The commitment counts a line's new schedule as the monthly run does (`load_accounts`);
    without any, they are not read (the page's read of the agreement says so)."""
    published_card(effective_date=dt.date(2026, 1, 1))
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    today = dt.date(2027, 11, 15)
    before = closing.commitment(agreement, today=today)
    assert before is not None
    if changed:
        change_schedule(
            agreement.versions.get().lines.get(kind=ServiceKind.MAINTENANCE),
            effective_from=dt.date(2027, 12, 1),
            rrule="FREQ=WEEKLY;BYDAY=MO",
            start_time=dt.time(9, 0),
            duration_minutes=60,
            schedule_text="Every Monday at 09:00 for 1 hour",
            by=admin,
            today=today,
        )
        # Known to billing from the day after it was made: made two days ago.
        ScheduleChange.objects.update(created_at=NOW - dt.timedelta(days=2))
    # the session with its user, agreement, versions, lines, signatures, terms with their sums
    # billed, [schedule changes], timeline
    client = client_for(admin)
    with django_assert_num_queries(8 if changed else 7):
        response = client.get(reverse("agreements:agreement_detail", args=[agreement.pk]))

    shown = response.context["commitment"]
    assert shown == closing.commitment(agreement, today=today)
    assert (shown.remaining != before.remaining) is changed
    assert f"{shown.remaining:,.2f}</div>" in response.content.decode()


@time_machine.travel(NOW)
def test_the_page_knows_where_billing_stands_as_the_monthly_run_does(customer_a, alice, admin):
    """The page's account (`account_of`, from the marks read with the agreement) has the marks
    `load_accounts` gives the monthly run: the newest invoice of the agreement not void, the
    newest monthly one for the period."""
    published_card(effective_date=dt.date(2026, 1, 1))
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    for month in (1, 2, 3):
        make_invoice(agreement, issued_on=dt.date(2027, month, 1))
    final = make_invoice(agreement, issued_on=dt.date(2027, 3, 15), kind=Invoice.Kind.FINAL)
    make_invoice(agreement, issued_on=dt.date(2027, 4, 1), status=Invoice.Status.VOID)

    page = account_of(get_agreement_page(admin, agreement.pk))
    run = load_accounts([agreement.pk])[agreement.pk]

    marks = ("cursor", "last_period", "last_invoice_id", "last_issued_on", "ends_on")
    assert [getattr(page, mark) for mark in marks] == [
        dt.date(2027, 3, 15),
        dt.date(2027, 3, 1),
        final.pk,
        dt.date(2027, 3, 15),
        None,
    ]
    assert [getattr(page, mark) for mark in marks] == [getattr(run, mark) for mark in marks]


@pytest.mark.parametrize("lines", [1, 4])
@time_machine.travel(NOW)
def test_draft_agreement_page_reads_the_rate_card_once(
    client_for, staff, customer_a, django_assert_num_queries, lines
):
    published_card(effective_date=dt.date(2026, 1, 1))
    version = draft_with_all_services(customer=customer_a)
    if lines == 1:
        version.lines.exclude(position=0).delete()  # the maintenance line only
    client = client_for(staff)
    # the session with its user, agreement, versions, lines, signatures, terms (a draft has no
    # termination request nor rate review: not read); the rate card in effect, its lines and the two
    # discounts; Allora's details (a draft names them as they are now); the timeline
    with django_assert_num_queries(12):
        response = client.get(reverse("agreements:agreement_detail", args=[version.agreement_id]))
    assert len(response.context["draft_lines"]) == lines
    assert response.context["commitment"] is None


@time_machine.travel(NOW)
def test_drafting_shows_each_services_monthly_price_and_the_total(client_for, staff, customer_a):
    published_card(effective_date=dt.date(2026, 1, 1))
    version = draft_with_all_services(customer=customer_a)
    client = client_for(staff)

    response = client.get(reverse("agreements:agreement_detail", args=[version.agreement_id]))

    page = response.content.decode()
    priced = [amount for _, amount, _ in response.context["draft_lines"] if amount]
    assert priced, "the draft has priced services"
    for amount in priced:
        assert f"${amount.net_amount:,.2f} a month" in page
    total = response.context["monthly_total"]
    assert total == sum(amount.net_amount for amount in priced)
    assert f"monthly total ${total:,.2f}" in page
    assert "billed by the hour when used" in page  # Emergency Support has no monthly price
    hosting = client.get(
        reverse("agreements:line_create", args=[version.agreement_id, "hosting"])
    ).content.decode()
    assert "a month (list price)</option>" in hosting

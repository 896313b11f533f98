"""A rate increase finalized after the customer's notice deadline (issue 11, item 6; DESIGN.md,
"Billing over a whole life"): it needs the admin's confirmation, and gives the customer 30 days
from the notification to end the agreement at the term end without it.

Term 1 is [2027-01-01, 2028-01-01): last covered day December 31, 2027, deadline December 1, 2027.
An increase finalized on December 10, 2027 opens a window until January 9, 2028."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from agreements import lifecycle
from agreements.models import Agreement, RateReview, TerminationRequest
from agreements.tests.factories import agreement_for_2027
from billing.pricing import snapshot_rate
from billing.tests.factories import published_card

UTC = dt.UTC
LATE = dt.date(2027, 12, 10)  # after the deadline of December 1, 2027
OPT_OUT_UNTIL = dt.date(2028, 1, 9)  # LATE + 30 days
TERM_END = dt.date(2028, 1, 1)
OPT_OUT_SENTENCE = (
    "You may end the agreement on December 31, 2027 without the new rates by sending a written "
    "termination request by January 9, 2028."
)


def at(year, month, day, hour=16, minute=0):
    """A UTC instant (16:00 UTC is 11:00 in Raleigh in winter)."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def on(day, hour=16):
    return time_machine.travel(at(day.year, day.month, day.day, hour), tick=False)


@pytest.fixture(autouse=True)
def rates(db):
    return published_card(effective_date=dt.date(2026, 1, 1))


@pytest.fixture
def agreement(customer_a, alice, admin):
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def review_of(agreement, admin, *, method="uplift", uplift=D("5"), today=LATE):
    with on(today):
        return lifecycle.save_rate_review(
            agreement,
            method=method,
            uplift_percent=uplift if method == "uplift" else None,
            by=admin,
            today=today,
        )


def finalize(review, admin, *, today=LATE, **kwargs):
    with on(today):
        return lifecycle.finalize_rate_review(review, by=admin, today=today, **kwargs)


def late_increase(agreement, admin):
    """A 5% uplift finalized on December 10, 2027 with the admin's confirmation."""
    return finalize(review_of(agreement, admin), admin, confirm_late_increase=True)


def file(agreement, user, received_at):
    with time_machine.travel(received_at, tick=False):
        return lifecycle.file_termination_request(
            agreement,
            by=user,
            received_at=received_at,
            reason="The new rates are beyond our budget.",
            typed_name="Alice Moore",
            channel="portal",
            now=received_at,
        )


# Finalizing ------------------------------------------------------------------------------------


def test_an_increase_after_the_deadline_without_confirmation_is_refused(agreement, admin):
    review = review_of(agreement, admin)
    with pytest.raises(ValidationError) as refused:
        finalize(review, admin)
    message = " ".join(refused.value.messages)
    assert "notice deadline of December 1, 2027 has passed" in message
    assert "until January 9, 2028" in message
    review.refresh_from_db()
    assert review.status == RateReview.Status.DRAFT and review.opt_out_until is None


def test_with_confirmation_the_customer_gets_30_days_from_today(agreement, admin):
    review = late_increase(agreement, admin)
    review.refresh_from_db()
    assert review.status == RateReview.Status.FINALIZED
    assert review.opt_out_until == LATE + dt.timedelta(days=30) == OPT_OUT_UNTIL
    logged = agreement.events.get(kind="rates_finalized").message
    assert "by a written request by January 9, 2028" in logged


@pytest.mark.parametrize(("method", "uplift"), [("uplift", D("-5")), ("keep", None)])
def test_a_decrease_or_keep_after_the_deadline_needs_no_confirmation(
    agreement, admin, method, uplift
):
    review = finalize(review_of(agreement, admin, method=method, uplift=uplift), admin)
    review.refresh_from_db()
    assert review.status == RateReview.Status.FINALIZED and review.opt_out_until is None


@pytest.mark.parametrize("today", [dt.date(2027, 11, 15), dt.date(2027, 12, 1)])
def test_an_increase_up_to_the_deadline_changes_nothing(agreement, admin, today):
    review = finalize(review_of(agreement, admin, today=today), admin, today=today)
    review.refresh_from_db()
    assert review.status == RateReview.Status.FINALIZED and review.opt_out_until is None
    # The renewal happens at the term end as always, with the new rates.
    [term2] = lifecycle.renew_due_agreements(today=TERM_END)
    assert snapshot_rate(term2.locked_rates, "onsite_hourly") == D("157.50")


# The opt-out window --------------------------------------------------------------------------


def test_a_request_in_the_window_before_the_term_end_ends_the_agreement_then(
    agreement, admin, alice
):
    late_increase(agreement, admin)
    request = file(agreement, alice, at(2027, 12, 20))
    assert (request.timely, request.term_number, request.effective_end, request.renews_on) == (
        True,
        1,
        TERM_END,
        None,
    )
    assert lifecycle.termination_message(request) == (
        "Because of the rate increase for the next term, your agreement will end on "
        "December 31, 2027 and will not renew (the increase was announced after the notice "
        "deadline of December 1, 2027)."
    )
    assert lifecycle.renew_due_agreements(today=TERM_END) == []
    assert lifecycle.end_due_agreements(today=TERM_END) == [agreement.pk]
    assert lifecycle.renew_due_agreements(today=dt.date(2028, 2, 1)) == []
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ENDED
    assert agreement.terms.count() == 1


def test_a_request_in_the_window_after_the_term_end_ends_it_at_the_old_end(agreement, admin, alice):
    late_increase(agreement, admin)
    # The window is open past the term end: the renewal waits for it.
    assert lifecycle.renew_due_agreements(today=TERM_END) == []
    assert lifecycle.renew_due_agreements(today=dt.date(2028, 1, 5)) == []
    assert lifecycle.end_due_agreements(today=dt.date(2028, 1, 5)) == []
    # 23:59 in Raleigh on the last day of the window (already January 10 in UTC).
    request = file(agreement, alice, at(2028, 1, 10, 4, 59))
    assert (request.timely, request.term_number, request.effective_end, request.renews_on) == (
        True,
        1,
        TERM_END,
        None,
    )
    assert "will end on December 31, 2027 and will not renew" in (
        lifecycle.termination_message(request)
    )
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ENDING
    assert lifecycle.renew_due_agreements(today=dt.date(2028, 1, 10)) == []
    assert lifecycle.end_due_agreements(today=dt.date(2028, 1, 10)) == [agreement.pk]
    assert lifecycle.renew_due_agreements(today=dt.date(2028, 3, 1)) == []
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ENDED
    assert agreement.terms.count() == 1
    request.refresh_from_db()
    assert request.status == TerminationRequest.Status.FULFILLED


def test_a_request_after_the_window_is_late_as_usual(agreement, admin, alice):
    late_increase(agreement, admin)
    # 00:01 in Raleigh the day after the window closed; the renewal job has not run yet.
    request = file(agreement, alice, at(2028, 1, 10, 5, 1))
    assert (request.term_number, request.effective_end) == (2, dt.date(2029, 1, 1))
    [term2] = lifecycle.renew_due_agreements(today=dt.date(2028, 1, 10))
    assert (term2.start, term2.end) == (TERM_END, dt.date(2029, 1, 1))
    assert snapshot_rate(term2.locked_rates, "onsite_hourly") == D("157.50")
    assert lifecycle.end_due_agreements(today=dt.date(2028, 1, 10)) == []
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ENDING


def test_a_request_on_the_old_deadline_terms_is_late_before_the_increase(agreement, alice):
    # No late increase: the usual rule (late request, renews, ends after the following term).
    request = file(agreement, alice, at(2027, 12, 20))
    assert (request.timely, request.effective_end) == (False, dt.date(2029, 1, 1))


def test_without_a_request_the_renewal_happens_when_the_window_closes(agreement, admin):
    late_increase(agreement, admin)
    assert lifecycle.renew_due_agreements(today=TERM_END) == []
    assert lifecycle.renew_due_agreements(today=OPT_OUT_UNTIL) == []
    [term2] = lifecycle.renew_due_agreements(today=OPT_OUT_UNTIL + dt.timedelta(days=1))
    assert (term2.number, term2.start, term2.end) == (2, TERM_END, dt.date(2029, 1, 1))
    assert snapshot_rate(term2.locked_rates, "onsite_hourly") == D("157.50")
    # Run again (or later): nothing more.
    assert lifecycle.renew_due_agreements(today=dt.date(2028, 1, 11)) == []
    assert agreement.terms.count() == 2


# What people are told ------------------------------------------------------------------------


def test_the_rates_finalized_email_gives_the_dates(
    agreement, admin, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        late_increase(agreement, admin)
    [email] = [m for m in mail.outbox if "Rates for your next term" in m.subject]
    assert alice.email in email.to
    assert OPT_OUT_SENTENCE in " ".join(email.body.split())


def test_the_email_of_an_increase_before_the_deadline_has_no_opt_out(
    agreement, admin, django_capture_on_commit_callbacks
):
    today = dt.date(2027, 11, 15)
    with django_capture_on_commit_callbacks(execute=True):
        finalize(review_of(agreement, admin, today=today), admin, today=today)
    [email] = [m for m in mail.outbox if "Rates for your next term" in m.subject]
    assert "without the new rates" not in email.body


def test_the_portal_pages_give_the_dates(client_for, agreement, admin, alice):
    late_increase(agreement, admin)
    detail = reverse("portal:agreement_detail", args=[agreement.pk])
    terminate = reverse("portal:terminate", args=[agreement.pk])
    for day in (dt.date(2027, 12, 15), dt.date(2028, 1, 5)):  # before and after the term end
        with on(day):
            client = client_for(alice)
            assert OPT_OUT_SENTENCE in " ".join(client.get(detail).content.decode().split())
            assert OPT_OUT_SENTENCE in " ".join(client.get(terminate).content.decode().split())
    with on(dt.date(2028, 1, 10)):  # the window has closed
        client = client_for(alice)
        assert "without the new rates" not in client.get(detail).content.decode()
        assert "without the new rates" not in client.get(terminate).content.decode()


def test_filing_in_the_portal_answers_with_the_rate_increase(client_for, agreement, admin, alice):
    late_increase(agreement, admin)
    with on(dt.date(2028, 1, 5)):
        response = client_for(alice).post(
            reverse("portal:terminate", args=[agreement.pk]),
            {"reason": "Budget", "typed_name": "Alice Moore", "confirm": "on"},
            follow=True,
        )
    page = " ".join(response.content.decode().split())
    assert "Because of the rate increase for the next term, your agreement will end on " in page
    assert TerminationRequest.objects.get().effective_end == TERM_END


def test_the_admin_confirms_on_the_finalize_page(client_for, agreement, admin):
    review = review_of(agreement, admin)
    url = reverse("agreements:renewal_finalize", args=[review.pk])
    warning = (
        "The customer's notice deadline of December 1, 2027 has passed. Finalizing this increase "
        "gives them until January 9, 2028 to end the agreement at the term end without it."
    )
    with on(LATE):
        client = client_for(admin)
        review_page = client.get(reverse("agreements:renewal_review", args=[agreement.pk]))
        assert warning in " ".join(review_page.content.decode().replace("&#x27;", "'").split())
        page = client.get(url).content.decode().replace("&#x27;", "'")
        assert warning in " ".join(page.split())
        assert 'name="confirm_late_increase" required' in page
        refused = client.post(url, {})
        assert "Tick the box to confirm" in refused.content.decode()
        review.refresh_from_db()
        assert review.status == RateReview.Status.DRAFT
        client.post(url, {"confirm_late_increase": "on"})
    review.refresh_from_db()
    assert review.status == RateReview.Status.FINALIZED
    assert review.opt_out_until == OPT_OUT_UNTIL


def test_the_finalize_page_asks_nothing_more_before_the_deadline(client_for, agreement, admin):
    today = dt.date(2027, 11, 15)
    review = review_of(agreement, admin, today=today)
    url = reverse("agreements:renewal_finalize", args=[review.pk])
    with on(today):
        assert "confirm_late_increase" not in client_for(admin).get(url).content.decode()
        client_for(admin).post(url, {})
    review.refresh_from_db()
    assert review.status == RateReview.Status.FINALIZED and review.opt_out_until is None

"""Renewal, the 30-day notice, termination requests, reminders and the daily jobs
(DESIGN.md, "Terms, renewal and termination"): followed to the day."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from agreements import lifecycle
from agreements.models import Agreement, RateReview, Reminder, TerminationRequest
from agreements.tests.factories import (
    agreement_for_2027,
    draft_with_all_services,
    signed_agreement,
)
from billing.pricing import snapshot_rate
from billing.tests.factories import published_card

UTC = dt.UTC


def at(year, month, day, hour=15, minute=0):
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(autouse=True)
def rates(db):
    return published_card(effective_date=dt.date(2026, 1, 1))


@pytest.fixture
def agreement(customer_a, alice, admin):
    """Active, term 1 = [2027-01-01, 2028-01-01): last day 2027-12-31, deadline 2027-12-01."""
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def file(agreement, user, received_at, **kwargs):
    return lifecycle.file_termination_request(
        agreement,
        by=user,
        received_at=received_at,
        reason=kwargs.get("reason", "We are moving to an in-house IT team."),
        typed_name=kwargs.get("typed_name", "Alice Moore"),
        channel=kwargs.get("channel", "portal"),
        now=received_at,
    )


def test_first_term_and_deadline(agreement):
    term = agreement.terms.get()
    assert (term.start, term.last_day, term.notice_deadline) == (
        dt.date(2027, 1, 1),
        dt.date(2027, 12, 31),
        dt.date(2027, 12, 1),
    )


def test_request_at_2359_local_on_the_deadline_is_timely(agreement, alice):
    # 23:59 EST on 1 December is 04:59 UTC on 2 December.
    request = file(agreement, alice, dt.datetime(2027, 12, 2, 4, 59, tzinfo=UTC))
    assert request.timely and request.effective_end == dt.date(2028, 1, 1)
    assert lifecycle.termination_message(request) == (
        "Your agreement will end on December 31, 2027 and will not renew."
    )
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ENDING


def test_request_at_0001_local_the_next_day_is_late_and_says_the_dates(agreement, alice):
    request = file(agreement, alice, dt.datetime(2027, 12, 2, 5, 1, tzinfo=UTC))
    assert not request.timely
    assert (request.renews_on, request.effective_end) == (dt.date(2028, 1, 1), dt.date(2029, 1, 1))
    assert lifecycle.termination_message(request) == (
        "Your request arrived after the notice deadline of December 1, 2027. The agreement "
        "renews on January 1, 2028 for one year and will end on December 31, 2028; no further "
        "notice is needed."
    )
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE


def test_the_deadline_is_a_local_date_across_a_dst_change(customer_a, alice, admin):
    # Term 1 [2026-04-14, 2027-04-14): last day 2027-04-13, deadline 2027-03-14, the day
    # clocks spring forward. 23:30 EDT that day is already 15 March in UTC.
    version = signed_agreement(
        customer=customer_a,
        customer_user=alice,
        admin=admin,
        signed_at=at(2026, 4, 14),
        today=dt.date(2026, 4, 14),
        pdf=False,
    )
    agreement = version.agreement
    assert agreement.terms.get().notice_deadline == dt.date(2027, 3, 14)
    request = file(agreement, alice, dt.datetime(2027, 3, 15, 3, 30, tzinfo=UTC))
    assert request.timely
    lifecycle.withdraw_termination_request(request, by=alice, now=at(2027, 3, 16))
    # 00:30 EDT on 15 March is 04:30 UTC: late.
    assert not file(agreement, alice, dt.datetime(2027, 3, 15, 4, 30, tzinfo=UTC)).timely


def test_a_request_before_the_first_term_starts_ends_it_after_the_first_term(agreement, alice):
    request = file(agreement, alice, at(2026, 12, 15))
    assert request.timely and request.term_number == 1
    assert request.last_day == dt.date(2027, 12, 31)


def test_withdrawal_lets_the_agreement_renew(agreement, alice):
    request = file(agreement, alice, at(2027, 6, 1))
    lifecycle.withdraw_termination_request(request, by=alice, now=at(2027, 6, 2))
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE
    assert lifecycle.renew_due_agreements(today=dt.date(2028, 1, 1))
    assert agreement.terms.count() == 2


def test_a_withdrawn_request_cannot_be_withdrawn_again(agreement, alice):
    request = file(agreement, alice, at(2027, 6, 1))
    lifecycle.withdraw_termination_request(request, by=alice, now=at(2027, 6, 2))
    with pytest.raises(ValidationError, match="no longer standing"):
        lifecycle.withdraw_termination_request(request, by=alice, now=at(2027, 6, 3))


def test_timely_request_ends_the_agreement_at_the_term_end_without_renewal(agreement, alice):
    file(agreement, alice, at(2027, 11, 1))
    assert lifecycle.renew_due_agreements(today=dt.date(2028, 1, 1)) == []
    assert lifecycle.end_due_agreements(today=dt.date(2027, 12, 31)) == []
    assert lifecycle.end_due_agreements(today=dt.date(2028, 1, 1)) == [agreement.pk]
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ENDED
    assert agreement.terms.count() == 1
    assert TerminationRequest.objects.get().status == TerminationRequest.Status.FULFILLED


def test_late_request_renews_and_ends_following_term(agreement, alice):
    file(agreement, alice, at(2027, 12, 20))
    # The end job has nothing to do at the first term's end: the agreement renews.
    assert lifecycle.end_due_agreements(today=dt.date(2028, 1, 1)) == []
    [term2] = lifecycle.renew_due_agreements(today=dt.date(2028, 1, 1))
    assert (term2.start, term2.end) == (dt.date(2028, 1, 1), dt.date(2029, 1, 1))
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ENDING
    # At the renewed term's end it ends, and never gets a third term.
    assert lifecycle.renew_due_agreements(today=dt.date(2029, 1, 1)) == []
    assert lifecycle.end_due_agreements(today=dt.date(2029, 1, 1)) == [agreement.pk]
    assert agreement.terms.count() == 2


def test_renewal_of_a_term_that_started_on_29_february(customer_a, alice, admin):
    version = signed_agreement(
        customer=customer_a,
        customer_user=alice,
        admin=admin,
        signed_at=at(2028, 2, 29),
        today=dt.date(2028, 2, 29),
        pdf=False,
    )
    agreement = version.agreement
    term1 = agreement.terms.get()
    assert (term1.start, term1.end, term1.last_day) == (
        dt.date(2028, 2, 29),
        dt.date(2029, 2, 28),
        dt.date(2029, 2, 27),
    )
    assert lifecycle.renew_due_agreements(today=dt.date(2029, 2, 27)) == []
    [term2] = lifecycle.renew_due_agreements(today=dt.date(2029, 2, 28))
    assert (term2.start, term2.end) == (dt.date(2029, 2, 28), dt.date(2030, 2, 28))


def test_renewal_without_review_renews_as_is(agreement):
    [term2] = lifecycle.renew_due_agreements(today=dt.date(2028, 1, 1))
    assert term2.locked_rates == agreement.terms.get(number=1).locked_rates
    assert term2.version == agreement.signed_version()


def test_finalized_review_sets_next_term_rates_and_running_term_keeps_old(agreement, admin):
    review = lifecycle.save_rate_review(
        agreement, method="uplift", uplift_percent=D("5"), by=admin, today=dt.date(2027, 11, 1)
    )
    lifecycle.finalize_rate_review(review, by=admin, today=dt.date(2027, 11, 2))
    term1 = agreement.terms.get(number=1)
    assert snapshot_rate(term1.locked_rates, "onsite_hourly") == D("150.00")
    [term2] = lifecycle.renew_due_agreements(today=dt.date(2028, 1, 1))
    assert snapshot_rate(term2.locked_rates, "onsite_hourly") == D("157.50")
    assert snapshot_rate(term2.locked_rates, "remote_hourly") == D("126.00")
    assert term2.locked_rates["discounts"] == term1.locked_rates["discounts"]


def test_a_draft_review_is_not_used_by_the_renewal(agreement, admin):
    lifecycle.save_rate_review(
        agreement, method="uplift", uplift_percent=D("10"), by=admin, today=dt.date(2027, 11, 1)
    )
    [term2] = lifecycle.renew_due_agreements(today=dt.date(2028, 1, 1))
    assert snapshot_rate(term2.locked_rates, "onsite_hourly") == D("150.00")


def test_review_with_the_current_card_takes_the_card_in_effect_at_renewal(agreement, admin):
    from billing.models import RateCard, RateCardLine

    draft = RateCard.objects.get().start_new_version(by=admin)
    RateCardLine.objects.filter(card=draft, kind="onsite_hourly").update(price=D("165.00"))
    draft.publish(by=admin, effective_date=dt.date(2027, 12, 15), today=dt.date(2027, 11, 1))
    review = lifecycle.save_rate_review(
        agreement, method="card", by=admin, today=dt.date(2027, 11, 1)
    )
    assert snapshot_rate(review.rates, "onsite_hourly") == D("165.00")


def test_a_review_for_a_term_already_started_is_refused(agreement, admin):
    with pytest.raises(ValidationError, match="already started"):
        lifecycle.save_rate_review(agreement, method="keep", by=admin, today=dt.date(2028, 1, 1))


def test_an_uplift_below_minus_100_percent_is_refused(agreement, admin):
    with pytest.raises(ValidationError, match="−100"):
        lifecycle.save_rate_review(
            agreement,
            method="uplift",
            uplift_percent=D("-101"),
            by=admin,
            today=dt.date(2027, 6, 1),
        )
    assert not RateReview.objects.exists()


@pytest.mark.parametrize("method", ["keep", "card"])
def test_an_uplift_percent_with_another_method_is_refused_not_dropped(agreement, admin, method):
    with pytest.raises(ValidationError, match="You entered an uplift of 3.5% but chose"):
        lifecycle.save_rate_review(
            agreement, method=method, uplift_percent=D("3.5"), by=admin, today=dt.date(2027, 6, 1)
        )
    assert not RateReview.objects.exists()


def test_the_uplift_method_needs_a_percent(agreement, admin):
    with pytest.raises(ValidationError, match="Enter the uplift in percent"):
        lifecycle.save_rate_review(agreement, method="uplift", by=admin, today=dt.date(2027, 6, 1))
    assert not RateReview.objects.exists()


def test_finalized_rates_cannot_be_changed(agreement, admin):
    review = lifecycle.save_rate_review(
        agreement, method="keep", by=admin, today=dt.date(2027, 6, 1)
    )
    lifecycle.finalize_rate_review(review, by=admin, today=dt.date(2027, 6, 1))
    with pytest.raises(ValidationError, match="already finalized"):
        lifecycle.save_rate_review(agreement, method="card", by=admin, today=dt.date(2027, 6, 2))


def test_renewal_job_twice_on_the_same_day_changes_and_sends_nothing_more(
    agreement, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = lifecycle.renew_due_agreements(today=dt.date(2028, 1, 1))
    sent = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        second = lifecycle.renew_due_agreements(today=dt.date(2028, 1, 1))
    assert len(first) == 1 and second == []
    assert len(mail.outbox) == sent == 1
    assert "renewed until December 31, 2028" in mail.outbox[0].subject


def test_after_a_five_day_gap_the_renewal_starts_at_the_term_end(agreement):
    [term2] = lifecycle.renew_due_agreements(today=dt.date(2028, 1, 6))
    assert term2.start == dt.date(2028, 1, 1)


def test_after_more_than_a_year_down_every_missed_term_is_added(agreement):
    terms = lifecycle.renew_due_agreements(today=dt.date(2029, 1, 5))
    assert [(t.number, t.start) for t in terms] == [
        (2, dt.date(2028, 1, 1)),
        (3, dt.date(2029, 1, 1)),
    ]


def test_a_catch_up_stops_at_the_term_a_late_request_ends_with(agreement, alice):
    file(agreement, alice, at(2027, 12, 10))  # after the deadline: late, ends after term 2
    [term2] = lifecycle.renew_due_agreements(today=dt.date(2029, 6, 1))
    assert (term2.number, term2.end) == (2, dt.date(2029, 1, 1))
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ENDING


def test_renewal_plans_the_visits_of_the_new_term(agreement):
    from scheduling.models import Visit

    [term2] = lifecycle.renew_due_agreements(today=dt.date(2028, 1, 1))
    visits = Visit.objects.filter(term=term2)
    # Third Wednesday (12) + every Tuesday (52 in 2028) of the draft_with_all_services lines.
    assert visits.count() == 12 + 52


def test_ending_cancels_the_visits_after_the_end(agreement, alice):
    from scheduling.models import Visit

    file(agreement, alice, at(2027, 11, 1))
    # One visit was moved past the end (an exception); the end cancels it, not the others.
    moved = Visit.objects.filter(agreement=agreement).order_by("-starts_at").first()
    Visit.objects.filter(pk=moved.pk).update(
        starts_at=at(2028, 1, 5, 15), ends_at=at(2028, 1, 5, 17), status="moved"
    )
    lifecycle.end_due_agreements(today=dt.date(2028, 1, 1))
    moved.refresh_from_db()
    assert moved.status == Visit.Status.CANCELLED
    assert not Visit.objects.filter(
        agreement=agreement, starts_at__lt=at(2028, 1, 1, 5), status="cancelled"
    ).exists()


def test_a_request_on_an_agreement_never_signed_is_refused(customer_a, alice):
    draft = draft_with_all_services(customer=customer_a)
    with pytest.raises(ValidationError, match="never signed"):
        file(draft.agreement, alice, at(2026, 12, 1))


def test_a_request_on_an_ended_agreement_is_refused(agreement, alice):
    file(agreement, alice, at(2027, 11, 1))
    lifecycle.end_due_agreements(today=dt.date(2028, 1, 1))
    with pytest.raises(ValidationError, match="already ended"):
        file(agreement, alice, at(2028, 1, 2))


def test_a_second_request_while_one_stands_is_refused(agreement, alice):
    file(agreement, alice, at(2027, 6, 1))
    with pytest.raises(ValidationError, match="already stands"):
        file(agreement, alice, at(2027, 6, 2))
    assert TerminationRequest.objects.count() == 1


def test_request_email_tells_the_late_dates(agreement, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        file(agreement, alice, at(2027, 12, 20))
    # The customer's email (the staff get their own: test_termination_staff.py).
    [email] = [email for email in mail.outbox if alice.email in email.to]
    assert "after the notice deadline of December 1, 2027" in email.body
    assert "renews on January 1, 2028" in email.body
    assert "will end on December 31, 2028" in email.body


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2027, 10, 2), []),
        (dt.date(2027, 10, 3), ["renewal_90"]),  # 90 days before 2028-01-01
        (dt.date(2027, 11, 2), ["renewal_90", "renewal_60"]),
        (dt.date(2027, 11, 24), ["renewal_90", "renewal_60", "notice_7"]),  # deadline − 7
        (dt.date(2027, 12, 1), ["renewal_90", "renewal_60", "notice_7"]),
        (dt.date(2027, 12, 2), ["renewal_90", "renewal_60"]),  # deadline passed: too late to say
    ],
)
def test_due_reminders_by_date(agreement, today, expected):
    term = agreement.terms.get()
    assert lifecycle.due_reminders(term, request=None, today=today) == expected


def test_each_reminder_is_sent_once_even_when_the_job_runs_daily(
    agreement, django_capture_on_commit_callbacks
):
    day = dt.date(2027, 10, 1)
    with django_capture_on_commit_callbacks(execute=True):
        while day < dt.date(2028, 1, 1):
            lifecycle.send_lifecycle_reminders(today=day)
            lifecycle.send_lifecycle_reminders(today=day)  # and twice on each day
            day += dt.timedelta(days=1)
    kinds = sorted(Reminder.objects.values_list("kind", flat=True))
    assert kinds == ["notice_7", "renewal_60", "renewal_90"]
    customer_emails = [m for m in mail.outbox if m.to != [] and "staff" not in m.subject.lower()]
    subjects = [m.subject for m in customer_emails]
    assert sum("renews on January 1, 2028" in s for s in subjects) == 2
    assert sum("Notice deadline" in s for s in subjects) == 1


def test_catch_up_reminders_after_downtime_send_what_was_missed(agreement):
    sent = lifecycle.send_lifecycle_reminders(today=dt.date(2027, 11, 25))
    assert sorted(label for _, label, _ in sent) == [
        "Notice deadline in 7 days",
        "Renewal in 60 days",
        "Renewal in 90 days",
    ]


def test_no_renewal_reminders_when_the_agreement_ends(agreement, alice):
    file(agreement, alice, at(2027, 9, 1))
    assert lifecycle.send_lifecycle_reminders(today=dt.date(2027, 11, 25)) == []


def test_commands_take_a_today_and_refuse_a_bad_date(agreement, capsys):
    call_command("renew_agreements", "--today", "2028-01-01")
    assert "Renewed terms as of 2028-01-01: 1" in capsys.readouterr().out
    with pytest.raises(CommandError, match="is not a date"):
        call_command("renew_agreements", "--today", "2028-02-30")
    call_command("end_agreements", "--today", "2028-01-01")
    call_command("send_lifecycle_reminders", "--today", "2028-01-01")


def test_the_celery_tasks_run_the_same_jobs(agreement):
    from agreements import tasks

    assert tasks.renew_agreements.delay(today="2028-01-01").get() == [
        "Term 2: 2028-01-01 – 2028-12-31"
    ]
    assert tasks.renew_agreements.delay(today="2028-01-01").get() == []

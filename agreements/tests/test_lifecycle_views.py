"""The staff lifecycle pages: the renewals queue and review (admins), and termination requests
recorded by staff. The customer's side is in portal/tests/test_agreements.py."""

import datetime as dt
import html
import re
from decimal import Decimal as D

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from agreements import lifecycle
from agreements.models import RateReview, Term, TerminationRequest
from agreements.tests.factories import agreement_for_2027
from billing.tests.factories import published_card

NOW = dt.datetime(2027, 11, 15, 16, 0, tzinfo=dt.UTC)  # 11:00 in Raleigh


@pytest.fixture
def agreement(customer_a, alice, admin):
    """Term 1 [2027-01-01, 2028-01-01): ends in 47 days on NOW, deadline 2027-12-01."""
    published_card(effective_date=dt.date(2026, 1, 1))
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def portal_request(agreement, alice, *, at):
    """Alice's written request not to renew, filed in the portal at ``at``."""
    return lifecycle.file_termination_request(
        agreement,
        by=alice,
        received_at=at,
        reason="Moving in-house.",
        typed_name="Alice Moore",
        channel="portal",
        now=at,
    )


@pytest.mark.parametrize("others", [0, 3])
@time_machine.travel(NOW)
def test_queue_lists_agreements_ending_within_90_days_in_constant_queries(
    client_for, admin, agreement, customer_b, bob, django_assert_num_queries, others
):
    for _ in range(others):
        agreement_for_2027(customer=customer_b, customer_user=bob, admin=admin)
    client = client_for(admin)
    # the session with its user, how many agreements are in the window (the stored ends'
    # index), a page of them with their latest term's number, standing request and next term's
    # review (subqueries for the page's rows): the same whatever the number of agreements
    with django_assert_num_queries(3):
        response = client.get(reverse("agreements:renewal_queue"))
    assert len(response.context["rows"]) == 1 + others
    assert agreement.number in response.content.decode()


@time_machine.travel(NOW)
def test_queue_follows_the_latest_terms_end_whatever_writes_the_terms(
    client_for, admin, alice, agreement, customer_b, bob
):
    """The queue reads the end stored on the agreement (kept by triggers): a term shortened
    by an update comes first, an agreement renewed past the window leaves it."""
    sooner, renewed = (
        agreement_for_2027(customer=customer_b, customer_user=bob, admin=admin) for _ in range(2)
    )
    Term.objects.filter(agreement=sooner).update(end=dt.date(2027, 12, 20))
    latest = renewed.terms.get()
    Term.objects.bulk_create(
        [
            Term(
                agreement=renewed,
                number=2,
                start=latest.end,
                end=dt.date(2029, 1, 1),
                locked_rates=latest.locked_rates,
                version=latest.version,
            )
        ]
    )
    # A standing (timely) request on one, a drafted uplift for the next term on the other.
    portal_request(agreement, alice, at=NOW)
    lifecycle.save_rate_review(
        sooner, method="uplift", uplift_percent=D("5"), by=admin, today=NOW.date()
    )
    client = client_for(admin)
    response = client.get(reverse("agreements:renewal_queue"))
    listed = response.context["rows"]
    assert [row.number for row in listed] == [sooner.number, agreement.number]
    assert [(row.last_day, row.notice_deadline) for row in listed] == [
        ("Dec 19, 2027", "Nov 19, 2027"),
        ("Dec 31, 2027", "Dec 1, 2027"),
    ]
    # NOW is 2027-11-15: the time left is until each term's end, as Django's |timeuntil says.
    assert [row.time_left for row in listed] == ["1\xa0month", "1\xa0month, 2\xa0weeks"]
    page = html.unescape(response.content.decode())
    assert "Timely: ends Dec 31, 2027" in page
    assert "Apply an uplift in percent (5.00%) · <strong>Draft</strong>" in page
    response = client.get(reverse("agreements:renewal_export"))
    export = b"".join(response.streaming_content).decode()
    assert renewed.number not in export and export.index(sooner.number) < export.index(
        agreement.number
    )
    assert "Apply an uplift in percent,5.00,Draft" in export and "Timely,2027-12-31" in export


def test_a_late_request_and_no_review_in_the_queue(client_for, admin, alice, agreement):
    late = dt.datetime(2027, 12, 10, 16, tzinfo=dt.UTC)  # after the deadline, Dec 1
    with time_machine.travel(late):
        request = portal_request(agreement, alice, at=late)
        response = client_for(admin).get(reverse("agreements:renewal_queue"))
    assert not request.timely
    [row] = response.context["rows"]
    assert (row.request_timely, row.review_method) == (False, "")
    page = html.unescape(response.content.decode())
    ends = request.last_day
    assert f"Late: ends {ends:%b} {ends.day}, {ends.year}" in page
    assert "Not reviewed (renews as is)" in page


@time_machine.travel(NOW)
def test_admin_applies_an_uplift_sees_both_rates_and_finalizes(
    client_for, admin, agreement, django_capture_on_commit_callbacks
):
    client = client_for(admin)
    url = reverse("agreements:renewal_review", args=[agreement.pk])
    client.post(url, {"method": "uplift", "uplift_percent": "5"})
    review = RateReview.objects.get()
    page = client.get(url).content.decode()
    assert "$150.00" in page and "$157.50" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("agreements:renewal_finalize", args=[review.pk]))
    review.refresh_from_db()
    assert review.status == RateReview.Status.FINALIZED
    assert any("Rates for your next term" in m.subject for m in mail.outbox)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-150", "cannot be below −100%"),
        ("lots", "Enter the uplift as a number"),
        ("", "Enter the uplift"),
        ("3.125", "Use at most two decimals."),
        ("10000", "That uplift is too large."),
    ],
)
@time_machine.travel(NOW)
def test_bad_uplifts_are_form_errors(client_for, admin, agreement, value, message):
    response = client_for(admin).post(
        reverse("agreements:renewal_review", args=[agreement.pk]),
        {"method": "uplift", "uplift_percent": value},
    )
    assert message in response.content.decode()
    assert not RateReview.objects.exists()


@pytest.mark.parametrize(
    ("method", "label"),
    [("keep", "Keep the current rates"), ("card", "Apply the current published rate card")],
)
@time_machine.travel(NOW)
def test_an_uplift_typed_beside_another_method_is_refused_next_to_the_percent(
    client_for, admin, agreement, method, label
):
    client = client_for(admin)
    url = reverse("agreements:renewal_review", args=[agreement.pk])
    client.post(url, {"method": "uplift", "uplift_percent": "5"}, follow=True)
    draft = RateReview.objects.get()
    response = client.post(url, {"method": method, "uplift_percent": "3.5"})
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert (
        f'<div class="invalid-feedback" id="uplift-errors">You entered an uplift of 3.5% but '
        f"chose “{label}”: choose “Apply an uplift in percent” or clear the percent.</div>"
    ) in page
    assert 'aria-describedby="uplift-errors"' in page
    assert not any(m.level_tag == "success" for m in get_messages(response.wsgi_request))
    # Nothing saved: the earlier 5% draft stands.
    assert RateReview.objects.get().updated_at == draft.updated_at
    assert (draft.method, draft.uplift_percent) == ("uplift", D("5.00"))


@time_machine.travel(NOW)
def test_the_form_previews_the_new_rates_and_monthly_total_before_saving(
    client_for, admin, agreement
):
    client = client_for(admin)
    url = reverse("agreements:renewal_review_preview", args=[agreement.pk])

    uplift = client.get(url, {"method": "uplift", "uplift_percent": "5"}).content.decode()
    keep = client.get(url, {"method": "keep", "uplift_percent": ""}).content.decode()
    mixed = html.unescape(
        client.get(url, {"method": "keep", "uplift_percent": "3"}).content.decode()
    )

    assert "Preview, not saved yet" in uplift
    assert "$150.00" in uplift and "$157.50" in uplift
    totals = re.search(r"Monthly recurring total</td>(.*?)</tr>", uplift, re.S).group(1)
    old, new, change = re.findall(r"\$?([\d,.+-]+)</td>", totals)
    assert D(new.replace(",", "")) == (D(old.replace(",", "")) * D("1.05")).quantize(D("0.01"))
    assert "+0.00" not in keep and "Preview, not saved yet" in keep
    assert "You entered an uplift of 3% but chose" in mixed
    assert not RateReview.objects.exists()  # a preview saves nothing
    page = client_for(admin).get(reverse("agreements:renewal_review", args=[agreement.pk]))
    assert f'hx-get="{url}"' in page.content.decode()


@time_machine.travel(NOW)
def test_keeping_the_rates_with_the_percent_cleared_saves(client_for, admin, agreement):
    client_for(admin).post(
        reverse("agreements:renewal_review", args=[agreement.pk]),
        {"method": "keep", "uplift_percent": ""},
    )
    review = RateReview.objects.get()
    assert (review.method, review.uplift_percent) == ("keep", None)


@time_machine.travel(NOW)
def test_the_review_page_loads_the_script_that_picks_the_uplift_method(
    client_for, admin, agreement
):
    page = client_for(admin).get(reverse("agreements:renewal_review", args=[agreement.pk]))
    assert "js/uplift-method.js" in page.content.decode()
    assert "data-uplift-form" in page.content.decode()


@time_machine.travel(NOW)
def test_finalized_rates_email_states_every_new_rate_and_the_monthly_total(
    client_for, admin, agreement, django_capture_on_commit_callbacks
):
    client = client_for(admin)
    client.post(
        reverse("agreements:renewal_review", args=[agreement.pk]),
        {"method": "uplift", "uplift_percent": "3.5"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("agreements:renewal_finalize", args=[RateReview.objects.get().pk]))
    [email] = [m for m in mail.outbox if "Rates for your next term" in m.subject]
    assert isinstance(email, EmailMultiAlternatives)
    [(html_body, _)] = email.alternatives
    # 3.5% on the card of the agreement, rounded half up: 225 × 1.035 = 232.875 → 232.88.
    assert "- On-site support (per hour): $150.00 now; $155.25 from January 1, 2028 (+$5.25)" in (
        email.body
    )
    assert "- Emergency support (per hour): $225.00 now; $232.88 from January 1, 2028" in (
        email.body
    )
    assert "- Website hosting (per month): $45.00 now; $46.58 from January 1, 2028" in email.body
    assert (
        "Monthly recurring total: $1,170.00 now; $1,210.95 from January 1, 2028 "
        "(+$40.95 a month)." in email.body
    )
    cells = re.findall(r"<td[^>]*>([^<]*)", str(html_body))
    assert cells[cells.index("On-site support ") :][:4] == [
        "On-site support ",
        "$150.00",
        "$155.25",
        "+$5.25",
    ]
    assert cells[cells.index("Monthly recurring total") :][:4] == [
        "Monthly recurring total",
        "$1,170.00",
        "$1,210.95",
        "+$40.95",
    ]


@time_machine.travel(NOW)
def test_bulk_review_refuses_an_uplift_beside_another_method(client_for, admin, agreement):
    response = client_for(admin).post(
        reverse("agreements:renewal_bulk"),
        {"agreements": [agreement.pk], "method": "keep", "uplift_percent": "3.5"},
        follow=True,
    )
    assert "You entered an uplift of 3.5% but chose" in html.unescape(response.content.decode())
    assert not RateReview.objects.exists()


@time_machine.travel(NOW)
def test_bulk_review_drafts_rates_for_the_selection(client_for, admin, agreement):
    client_for(admin).post(
        reverse("agreements:renewal_bulk"),
        {"agreements": [agreement.pk], "method": "uplift", "uplift_percent": "3"},
    )
    assert RateReview.objects.get().uplift_percent == D("3.00")


@time_machine.travel(dt.datetime(2027, 12, 5, 16, tzinfo=dt.UTC))
def test_staff_record_a_letter_in_the_customers_local_time(client_for, staff, agreement):
    # 23:59 on the deadline in Raleigh: timely, although it is already 2 December in UTC.
    client_for(staff).post(
        reverse("agreements:record_termination", args=[agreement.pk]),
        {
            "received_at": "2027-12-01T23:59",
            "channel": "letter",
            "typed_name": "Sam Ortiz",
            "reason": "Letter of 28 November",
        },
    )
    request = TerminationRequest.objects.get()
    assert request.received_at == dt.datetime(2027, 12, 2, 4, 59, tzinfo=dt.UTC)
    assert request.timely and request.filed_by == staff
    assert agreement.events.filter(kind="termination_request", actor=staff).exists()


@time_machine.travel(dt.datetime(2027, 11, 1, 16, tzinfo=dt.UTC))
def test_a_future_received_time_is_refused(client_for, staff, agreement):
    response = client_for(staff).post(
        reverse("agreements:record_termination", args=[agreement.pk]),
        {"received_at": "2027-12-01T10:00", "channel": "email", "typed_name": "Sam", "reason": "r"},
    )
    assert "cannot be in the future" in response.content.decode()

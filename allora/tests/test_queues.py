"""The "Waiting for you" card (allora/queues.py): what each role has to act on, each item a count
and a link, scoped to the customer in the portal, in a constant number of queries."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agreements import lifecycle, signing
from agreements.models import Agreement, Contact, RateReview, Term, TerminationRequest
from agreements.tests.factories import (
    CustomerFactory,
    agreement_for_2027,
    draft_with_all_services,
    evidence,
    sent_agreement,
)
from allora import queues
from allora.tests.factories import UserFactory
from billing.tests.factories import published_card
from delivery import emergencies, projects
from scheduling.models import Visit
from scheduling.tests.factories import local, make_term, make_visit

TODAY = dt.date(2027, 3, 12)
NOW = dt.datetime(2027, 3, 12, 21, 0, tzinfo=dt.UTC)


def count_queries(run):
    with CaptureQueriesContext(connection) as queries:
        result = run()
    return len(queries), result


def keyed(items):
    return {item.key: item for item in items}


@pytest.fixture
def card(db):
    return published_card()


def staff_queue(user, problems=None, clashing=0):
    return queues.staff_queue(
        user,
        today=TODAY,
        now=NOW,
        problems=problems or {"count": 0, "agreements": []},
        clashing=clashing,
    )


# The customer's portal ---------------------------------------------------------------------


def test_a_signer_sees_each_agreement_awaiting_their_signature_with_a_direct_link(
    card, admin, alice, customer_a, customer_b, bob
):
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    # Another customer's agreement awaiting signature is never counted for alice.
    sent_agreement(customer=customer_b, customer_user=bob, sender=admin)
    (item,) = queues.portal_queue(alice)
    assert (item.key, item.count, item.label) == (
        "to_sign",
        1,
        "Awaiting your signature",
    )
    (link,) = item.first
    assert link.url == reverse("portal:agreement_sign", args=[version.agreement_id])
    assert (link.text, link.action) == (version.agreement.number, "Review and sign")
    # Once signed, nothing waits for her.
    signing.sign_as_customer(version, user=alice, evidence=evidence())
    assert queues.portal_queue(alice) == []


def test_a_customer_user_who_may_not_sign_sees_nothing_to_sign(card, admin, alice, customer_a):
    sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    colleague = UserFactory(role="customer", customer=customer_a, email="c@oakcity.example")
    assert queues.portal_queue(colleague) == []
    Contact.objects.filter(user=alice).update(is_authorized_signer=False)
    assert queues.portal_queue(alice) == []


def test_an_approver_sees_the_estimates_awaiting_approval_of_their_customer_only(
    card, admin, staff, alice, customer_a, bob, customer_b
):
    Contact.objects.filter(user=alice).update(is_project_approver=True)
    agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    project = projects.create_project(
        customer_a, title="New office", scope="Move", hours=D("4"), by=staff, today=TODAY
    )
    item = keyed(queues.portal_queue(alice))["to_approve"]
    assert item.count == 1
    assert item.first[0].url == reverse("portal:project_detail", args=[project.pk])
    assert queues.portal_queue(bob) == []
    # Not an approver: the estimate is not waiting for her.
    Contact.objects.filter(user=alice).update(is_project_approver=False)
    assert "to_approve" not in keyed(queues.portal_queue(alice))


def test_the_portal_queue_runs_two_queries_whatever_the_data_size(card, admin, alice, customer_a):
    sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    small, _ = count_queries(lambda: queues.portal_queue(alice))
    for _ in range(4):
        sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    # Agreements to sign (the first three, the total as a window count), estimates to approve.
    queries, (item,) = count_queries(lambda: queues.portal_queue(alice))
    assert queries == small == 2
    assert (item.count, len(item.first)) == (5, queues.FIRST)


@time_machine.travel(NOW, tick=False)
def test_the_portal_home_starts_with_the_card_and_says_when_nothing_waits(
    card, admin, alice, customer_a, client_for
):
    body = client_for(alice).get(reverse("portal:home")).content.decode()
    assert "Waiting for you" in body and "Nothing is waiting for you." in body
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    body = client_for(alice).get(reverse("portal:home")).content.decode()
    assert "Nothing is waiting for you." not in body
    assert reverse("portal:agreement_sign", args=[version.agreement_id]) in body


# Staff and admins --------------------------------------------------------------------------


def test_staff_see_visits_emergencies_terminations_and_drafts(
    card, admin, staff, alice, customer_a
):
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    planned = queues.unassigned_visits(now=NOW).count  # its visits, planned with no technician
    term = make_term()
    day = TODAY + dt.timedelta(days=3)
    make_visit(term, local(day, 9), local(day, 10))  # unassigned
    make_visit(term, local(day, 11), local(day, 12), flag=Visit.Flag.CONFLICT)  # clash
    make_visit(term, local(day, 13), local(day, 14), technician=staff)  # neither
    past = TODAY - dt.timedelta(days=3)
    make_visit(term, local(past, 9), local(past, 10))  # gone: not waiting any more
    request = emergencies.file_request(
        customer_a,
        summary="Server down",
        contact_name="Pat",
        contact_phone="555",
        site="Office",
        channel="portal",
        received_at=NOW - dt.timedelta(minutes=50),  # 1-hour guarantee: past 80%
        by=alice,
        now=NOW,
    )
    emergencies.file_request(
        customer_a,
        summary="Printer",
        contact_name="Pat",
        contact_phone="555",
        site="Office",
        channel="portal",
        received_at=NOW - dt.timedelta(minutes=5),  # plenty of time left
        by=alice,
        now=NOW,
    )
    lifecycle.file_termination_request(
        agreement,
        by=alice,
        received_at=NOW,
        reason="Moving",
        typed_name="Alice Moore",
        channel=TerminationRequest.Channel.PORTAL,
        now=NOW,
    )
    draft = draft_with_all_services(customer=CustomerFactory())
    items = keyed(staff_queue(staff, clashing=queues.count_clashing_visits(now=NOW)))
    assert {key: item.count for key, item in items.items()} == {
        "unassigned_visits": planned + 2,
        "clashing_visits": 1,
        "emergencies": 1,
        "terminations": 1,
        "drafts": 1,
    }
    assert items["unassigned_visits"].url == reverse("scheduling:visit_list") + "?technician=none"
    assert items["clashing_visits"].url == reverse("scheduling:visit_list") + "?attention=conflict"
    assert items["emergencies"].first[0].url == reverse(
        "delivery:emergency_detail", args=[request.pk]
    )
    assert items["terminations"].first[0].url == reverse(
        "agreements:agreement_detail", args=[agreement.pk]
    )
    assert items["drafts"].url == reverse("agreements:agreement_list") + "?status=draft"
    assert items["drafts"].first[0].url == reverse(
        "agreements:agreement_detail", args=[draft.agreement_id]
    )
    # The admin-only items are not the staff's.
    assert "countersign" not in items


@time_machine.travel(NOW, tick=False)
def test_the_clash_link_lists_only_the_clashing_visits(card, admin, client_for):
    term = make_term()
    day = TODAY + dt.timedelta(days=3)
    clash = make_visit(term, local(day, 11), local(day, 12), flag=Visit.Flag.CONFLICT)
    holiday = make_visit(term, local(day, 13), local(day, 14), flag=Visit.Flag.HOLIDAY)
    page = client_for(admin).get(reverse("scheduling:visit_list") + "?attention=conflict")
    assert [v.pk for v in page.context["page"]] == [clash.pk]
    page = client_for(admin).get(reverse("scheduling:visit_list") + "?attention=1")
    assert {v.pk for v in page.context["page"]} == {clash.pk, holiday.pk}


def test_admins_see_countersignatures_renewal_reviews_and_billing_problems(
    card, admin, staff, alice, customer_a, customer_b, bob
):
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    signing.sign_as_customer(version, user=alice, evidence=evidence())
    # Term 1 ends 2028-01-01: the notice deadline is 2027-12-01.
    renewing = agreement_for_2027(customer=customer_b, customer_user=bob, admin=admin)
    Agreement.objects.filter(pk=renewing.pk).update(billing_problem="No rate", status="active")
    problems = {"count": 1, "agreements": [renewing]}
    on = dt.date(2027, 11, 1)
    items = keyed(queues.staff_queue(admin, today=on, now=NOW, problems=problems, clashing=0))
    countersign = items["countersign"]
    assert countersign.count == 1
    assert countersign.first[0].url == reverse(
        "agreements:agreement_countersign", args=[version.agreement_id]
    )
    assert countersign.first[0].action == "Countersign"
    assert items["renewal_reviews"].count == 1
    assert items["renewal_reviews"].first[0].url == reverse(
        "agreements:renewal_review", args=[renewing.pk]
    )
    assert items["billing_problems"].count == 1
    # The notice deadline is the last day a review is "due": after it, the review is late and
    # not in this item (the renewal queue still lists it).
    assert "renewal_reviews" in keyed(
        queues.staff_queue(
            admin, today=dt.date(2027, 12, 1), now=NOW, problems=problems, clashing=0
        )
    )
    late = queues.staff_queue(
        admin, today=dt.date(2027, 12, 2), now=NOW, problems=problems, clashing=0
    )
    assert "renewal_reviews" not in keyed(late)


def test_a_finalized_review_is_no_longer_waiting(card, admin, customer_a, alice):
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    on = dt.date(2027, 11, 1)
    assert queues.renewal_reviews_due(today=on).count == 1
    review = lifecycle.save_rate_review(agreement, method="keep", by=admin, today=on)
    lifecycle.finalize_rate_review(review, by=admin, today=on)
    assert queues.renewal_reviews_due(today=on) is None


def test_renewal_reviews_name_the_nearest_ends_and_count_them_all(admin):
    """Past the first few, the item counts every agreement due a review (one more query, the
    same for 5 as for 50): the latest term decides, and only a finalized review of the next
    term takes an agreement off."""
    on = dt.date(2027, 3, 1)
    starts = [dt.date(2026, 4, 1) + dt.timedelta(days=7 * n) for n in range(6)]
    terms = [make_term(start=start) for start in starts]  # ending Apr 1 to May 6, 2027
    make_term(start=dt.date(2026, 3, 20))  # ends Mar 20: the notice deadline has passed
    renewed = terms[5]
    Term.objects.create(
        agreement=renewed.agreement,
        number=2,
        start=renewed.end,
        end=renewed.end + dt.timedelta(days=365),
        locked_rates={},
        version=renewed.version,
    )  # its latest term ends in 2028: out of the window
    # Finalized: term 4's next term (off the list), and a term after term 3's next (still due).
    for term, number in ((terms[4], 2), (terms[3], 3)):
        RateReview.objects.create(
            agreement=term.agreement,
            term_number=number,
            method="keep",
            rates={},
            status="finalized",
            reviewed_by=admin,
        )
    queries, item = count_queries(lambda: queues.renewal_reviews_due(today=on))
    assert queries == 2
    assert item.count == 4  # terms 0-3
    assert [link.url for link in item.first] == [
        reverse("agreements:renewal_review", args=[term.agreement_id]) for term in terms[:3]
    ]
    RateReview.objects.filter(agreement=terms[3].agreement).update(term_number=2)
    queries, item = count_queries(lambda: queues.renewal_reviews_due(today=on))
    assert (queries, item.count, len(item.first)) == (2, 3, 3)  # three found: maybe more


def test_the_staff_queue_runs_a_constant_number_of_queries(card, admin, staff):
    def run():
        return staff_queue(admin)

    empty, items = count_queries(run)
    assert items == []
    for _ in range(5):
        draft_with_all_services(customer=CustomerFactory())
    queries, items = count_queries(run)
    # Countersignatures 1, renewal reviews 1 (billing problems and clashing visits come from the
    # dashboard), unassigned visits 1, emergencies 1, terminations 1, drafts 1.
    assert queries == empty == 6
    (drafts,) = items
    assert (drafts.count, len(drafts.first)) == (5, queues.FIRST)


@time_machine.travel(NOW, tick=False)
def test_the_admin_home_starts_with_the_card_and_a_countersign_button(
    card, admin, alice, customer_a, client_for
):
    body = client_for(admin).get(reverse("staff_home")).content.decode()
    assert "Nothing is waiting for you." in body
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    signing.sign_as_customer(version, user=alice, evidence=evidence())
    body = client_for(admin).get(reverse("staff_home")).content.decode()
    assert body.index('id="waiting-for-you"') < body.index("Monthly recurring revenue")
    assert reverse("agreements:agreement_countersign", args=[version.agreement_id]) in body

"""The home pages' "Waiting for you" items told from their panels' rows (allora/queues.py
`marked`): the same counts and first links as a count of their own, with fewer queries when the
panels hold every match, and still right when they do not."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agreements.models import Contact, TerminationRequest
from agreements.tests.factories import (
    AgreementFactory,
    ContactFactory,
    agreement_for_2027,
    sent_agreement,
)
from allora import dashboard, queues, snapshots
from allora.models import Heartbeat
from allora.tests.factories import UserFactory
from allora.tests.test_queues import count_queries, keyed
from billing.tests.factories import published_card
from delivery import emergencies, projects
from delivery.models import EmergencyRequest, Project

TODAY = dt.date(2027, 3, 12)
NOW = dt.datetime(2027, 3, 12, 21, 0, tzinfo=dt.UTC)


@pytest.fixture
def card(db):
    return published_card()


def summary(item):
    return item and (item.count, [(link.text, link.url) for link in item.first])


REQUEST = {
    "summary": "Down",
    "contact_name": "Pat",
    "contact_phone": "555",
    "site": "Office",
    "channel": "portal",
}


def emergency(customer, user, minutes_ago):
    received_at = NOW - dt.timedelta(minutes=minutes_ago)
    return emergencies.file_request(customer, **REQUEST, received_at=received_at, by=user, now=NOW)


def termination(agreement, by, *, hours_ago, acknowledged):
    TerminationRequest.objects.create(
        agreement=agreement,
        received_at=NOW - dt.timedelta(hours=hours_ago),
        channel="portal",
        reason="Moving",
        typed_name="Pat",
        filed_by=by,
        term_number=1,
        notice_deadline=TODAY,
        timely=True,
        effective_end=TODAY + dt.timedelta(days=hours_ago % 7),  # not the order received
        acknowledged_at=NOW if acknowledged else None,
        acknowledged_by=by if acknowledged else None,
    )


def staff_items(user, *, from_panels):
    figures = snapshots.staff_figures(today=TODAY, now=NOW, tz=dt.UTC)
    panels = dashboard.staff_dashboard(today=TODAY, now=NOW, figures=figures)
    extra = {"emergencies": panels["emergencies"], "terminations": panels["terminations"]}
    return count_queries(
        lambda: keyed(
            queues.staff_queue(
                user,
                today=TODAY,
                now=NOW,
                problems=panels["billing_problems"],
                clashing=0,
                **(extra if from_panels else {}),
            )
        )
    )


def expected_staff_items():
    """Counted and ordered here, independently of the queue and the panels."""
    near = EmergencyRequest.objects.filter(status="open", alert_80_at__lte=NOW)
    to_ack = TerminationRequest.objects.filter(status="standing", acknowledged_at=None)
    return {
        "emergencies": (
            near.count(),
            [
                (f"#{r.pk} {r.customer}", reverse("delivery:emergency_detail", args=[r.pk]))
                for r in near.order_by("due_at", "pk")[: queues.FIRST]
            ],
        ),
        "terminations": (
            to_ack.count(),
            [
                (
                    f"{r.agreement.number} {r.agreement.customer}",
                    reverse("agreements:agreement_detail", args=[r.agreement_id]),
                )
                for r in to_ack.order_by("received_at", "pk")[: queues.FIRST]
            ],
        ),
    }


@pytest.mark.parametrize(
    ("near_breach", "to_acknowledge", "saved"),
    [
        (0, 0, 2),  # nothing waiting: the panels say so
        (4, 5, 2),  # all in the panels: no query of their own
        (dashboard.LIST_LIMIT + 2, dashboard.LIST_LIMIT + 1, 0),  # beyond them: they query
    ],
)
def test_the_staff_homes_items_agree_with_its_panels(
    card, admin, staff, alice, customer_a, near_breach, to_acknowledge, saved
):
    agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)  # a guarantee
    for index in range(near_breach):
        emergency(customer_a, alice, 50 + index % 3)  # 1-hour guarantee: past 80%, some tied
    for minutes in (5, 6, 7):  # plenty of time left, or acknowledged: not near breach
        emergency(customer_a, alice, minutes)
    emergencies.acknowledge(emergency(customer_a, alice, 55), by=staff, now=NOW)
    for index in range(to_acknowledge + 3):
        agreement = AgreementFactory(customer=customer_a, status="active")
        termination(agreement, admin, hours_ago=index % 4, acknowledged=index < 3)

    queries, items = staff_items(staff, from_panels=True)
    own_queries, own_items = staff_items(staff, from_panels=False)
    expected = expected_staff_items()
    for key in ("emergencies", "terminations"):
        assert summary(items.get(key)) == summary(own_items.get(key))
        assert summary(items.get(key)) == (expected[key] if expected[key][0] else None)
    assert expected["emergencies"][0] == near_breach
    assert expected["terminations"][0] == to_acknowledge
    assert queries == own_queries - saved
    # The admin's extra items come from elsewhere: the same two queries saved.
    admin_queries, _ = staff_items(admin, from_panels=True)
    admin_own_queries, _ = staff_items(admin, from_panels=False)
    assert admin_queries == admin_own_queries - saved


def portal_items(user, *, from_dashboard):
    data = dashboard.portal_dashboard(user, today=TODAY, now=NOW)
    extra = {
        "signer": data["is_signer"],
        "approver": data["is_approver"],
        "projects": data["projects"],
    }
    return count_queries(
        lambda: keyed(queues.portal_queue(user, **(extra if from_dashboard else {})))
    )


def expected_to_approve(user):
    """Counted here: the projects with a pending estimate when the user's contact approves."""
    if not Contact.objects.filter(user=user, is_project_approver=True).exists():
        return None
    awaiting = Project.objects.filter(
        customer=user.customer, estimates__status="pending"
    ).distinct()
    first = awaiting.order_by("created_at", "pk")[: queues.FIRST]
    return awaiting.count() and (
        awaiting.count(),
        [(p.title, reverse("portal:project_detail", args=[p.pk])) for p in first],
    )


@pytest.mark.parametrize(("count", "saved"), [(2, 1), (dashboard.PORTAL_PROJECTS + 1, 0)])
def test_the_portal_homes_approval_item_agrees_with_its_projects(
    card, admin, staff, alice, customer_a, count, saved
):
    Contact.objects.filter(user=alice).update(is_project_approver=True)
    agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    for index in range(count):
        projects.create_project(
            customer_a, title=f"Project {index}", scope="Scope", hours=D("2"), by=staff, today=TODAY
        )
    queries, items = portal_items(alice, from_dashboard=True)
    own_queries, own_items = portal_items(alice, from_dashboard=False)
    assert summary(items["to_approve"]) == summary(own_items["to_approve"])
    assert summary(items["to_approve"]) == expected_to_approve(alice)
    assert queries == own_queries - saved
    # A colleague approves too: each project is still counted once.
    colleague = ContactFactory(customer=customer_a, name="Colleague", is_project_approver=True)
    assert summary(portal_items(alice, from_dashboard=True)[1]["to_approve"]) == summary(
        items["to_approve"]
    )
    assert summary(portal_items(alice, from_dashboard=False)[1]["to_approve"]) == summary(
        items["to_approve"]
    )
    # Alice no longer approves: nothing waits for her, whoever else approves (no query).
    Contact.objects.filter(user=alice).update(is_project_approver=False)
    assert colleague.is_project_approver and expected_to_approve(alice) is None
    queries, items = portal_items(alice, from_dashboard=True)
    own_queries, own_items = portal_items(alice, from_dashboard=False)
    assert "to_approve" not in items and "to_approve" not in own_items
    assert queries == own_queries - 1
    # The company's projects given without saying whether she approves: not taken as hers.
    listed = list(queues.marked(queues.awaiting_approval(alice)))
    assert len(listed) == count
    assert queues.to_approve(alice, listed=listed) is None


def test_the_portal_homes_signature_item_needs_no_contact_join(
    card, admin, alice, customer_a, bob, customer_b
):
    sent = [sent_agreement(customer=customer_a, customer_user=alice, sender=admin) for _ in "ab"]
    sent_agreement(customer=customer_b, customer_user=bob, sender=admin)  # not alice's
    queries, items = portal_items(alice, from_dashboard=True)
    own_queries, own_items = portal_items(alice, from_dashboard=False)
    assert summary(items["to_sign"]) == summary(own_items["to_sign"])
    assert summary(items["to_sign"]) == (
        2,
        [
            (v.agreement.number, reverse("portal:agreement_sign", args=[v.agreement_id]))
            for v in sent
        ],
    )
    assert queries == own_queries - 1  # alice approves no projects: that item needs no query
    # A colleague who may not sign (or alice once she may not): no item, and no query for it.
    colleague = UserFactory(role="customer", customer=customer_a, email="c@oakcity.example")
    ContactFactory(customer=customer_a, user=colleague, name="Colleague", email=colleague.email)
    Contact.objects.filter(user=alice).update(is_authorized_signer=False)
    for user in (colleague, alice):
        queries, items = portal_items(user, from_dashboard=True)
        own_queries, own_items = portal_items(user, from_dashboard=False)
        assert items == own_items == {}
        assert queries == own_queries - 2


@time_machine.travel(NOW, tick=False)
def test_the_staff_and_admin_homes_read_each_table_once(
    card, admin, staff, alice, customer_a, client_for
):
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    emergency(customer_a, alice, 50)
    termination(agreement, admin, hours_ago=1, acknowledged=False)
    # The session with its user; the stored figures with the worker's heartbeat; the renewals,
    # terminations, emergencies, overdue invoices and billing problems; the waiting items not
    # told from them (unassigned visits, drafts; an admin's countersignatures and renewal
    # reviews too); the rate card. Were 14 and 16, then 11 and 13.
    Heartbeat.objects.create(name="worker", last_seen=NOW - dt.timedelta(minutes=3))
    for user, expected in ((staff, 10), (admin, 12)):
        client = client_for(user)
        client.get(reverse("staff_home"))  # the stored figures computed
        with CaptureQueriesContext(connection) as queries:
            body = client.get(reverse("staff_home")).content.decode()
        assert len(queries) == expected
        assert 'id="queue-emergencies"' in body and 'id="queue-terminations"' in body
        assert "Worker seen 3\xa0minutes ago" in body

"""Projects: estimates approved by the customer's designated approvers before any work."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from agreements.models import Contact
from agreements.tests.factories import ContactFactory, agreement_for_2027
from allora.tests.factories import UserFactory
from billing.tests.factories import published_card
from delivery import projects
from delivery.models import Project, ProjectApproval, ProjectEstimate

TODAY = dt.date(2027, 3, 1)
NOW = dt.datetime(2027, 3, 1, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def approver(alice):
    Contact.objects.filter(user=alice).update(is_project_approver=True)
    return alice


@pytest.fixture
def project(customer_a, approver, admin, staff):
    published_card()
    agreement_for_2027(customer=customer_a, customer_user=approver, admin=admin)
    return projects.create_project(
        customer_a,
        title="Move to the new office",
        scope="Move the network, the server and 12 workstations.",
        hours=D("10"),
        by=staff,
        today=TODAY,
    )


def decide(estimate, user, *, approve=True, typed_name="Alice Moore"):
    return projects.decide(
        estimate, user=user, approve=approve, typed_name=typed_name, ip="203.0.113.9", now=NOW
    )


def test_the_estimate_uses_the_on_site_rate_of_the_terms_exhibit_a(project):
    estimate = project.estimates.get()
    assert (estimate.number, estimate.kind, estimate.status) == (1, "estimate", "pending")
    assert estimate.rate == D("150.00")
    assert estimate.total == D("1500.00")
    assert project.status == Project.Status.AWAITING


def test_a_project_needs_a_designated_approver(customer_b, staff):
    published_card()
    with pytest.raises(ValidationError, match="no designated project approver"):
        projects.create_project(
            customer_b, title="X", scope="Y", hours=D("2"), by=staff, today=TODAY
        )


def test_empty_title_scope_and_bad_hours_are_refused(customer_a, approver, staff):
    with pytest.raises(ValidationError) as error:
        projects.create_project(
            customer_a, title=" ", scope="", hours=D("2"), by=staff, today=TODAY
        )
    assert set(error.value.message_dict) == {"title", "scope"}
    with pytest.raises(ValidationError, match="more than zero"):
        projects.create_project(
            customer_a, title="T", scope="S", hours=D("-3"), by=staff, today=TODAY
        )


def test_the_approval_records_who_when_ip_and_the_estimate(project, approver):
    estimate = decide(project.estimates.get(), approver)
    approval = ProjectApproval.objects.get()
    assert approval.estimate == estimate and approval.decision == "approved"
    assert approval.contact == approver.contact and approval.user == approver
    assert (approval.decided_at, approval.ip_address) == (NOW, "203.0.113.9")
    assert (approval.hours, approval.rate, approval.total) == (D("10"), D("150"), D("1500"))
    project.refresh_from_db()
    assert project.status == Project.Status.APPROVED


def test_a_contact_who_is_not_a_designated_approver_is_refused(project, customer_a):
    user = UserFactory(role="customer", customer=customer_a, email="bea@oakcity.example")
    ContactFactory(customer=customer_a, user=user, email=user.email, has_portal_access=True)
    with pytest.raises(ValidationError, match="Only a designated project approver"):
        decide(project.estimates.get(), user)
    assert not ProjectApproval.objects.exists()
    assert project.estimates.get().status == ProjectEstimate.Status.PENDING


def test_a_user_of_another_customer_cannot_approve(project, bob):
    ContactFactory(customer=bob.customer, user=bob, email=bob.email, is_project_approver=True)
    with pytest.raises(ValidationError, match="Only a designated project approver"):
        decide(project.estimates.get(), bob)


def test_a_declined_estimate_cannot_be_approved_afterwards(project, approver):
    estimate = decide(project.estimates.get(), approver, approve=False)
    project.refresh_from_db()
    assert project.status == Project.Status.DECLINED
    with pytest.raises(ValidationError, match="already declined by Alice Moore"):
        decide(estimate, approver)


def test_a_superseded_estimate_cannot_be_approved(project, approver, staff):
    first = project.estimates.get()
    projects.propose_estimate(project, hours=D("8"), by=staff, today=TODAY)
    with pytest.raises(ValidationError, match="replaced by estimate #2"):
        decide(first, approver)
    first.refresh_from_db()
    assert first.status == ProjectEstimate.Status.SUPERSEDED


def test_a_typed_name_is_required(project, approver):
    with pytest.raises(ValidationError, match="Type your full name"):
        decide(project.estimates.get(), approver, typed_name=" ")


def test_an_unapproved_project_cannot_start(project, staff):
    with pytest.raises(ValidationError, match="cannot start: it is awaiting"):
        project.start(by=staff, now=NOW)


def test_an_approved_project_starts(project, approver, staff):
    decide(project.estimates.get(), approver)
    project.start(by=staff, now=NOW)
    assert project.status == Project.Status.IN_PROGRESS and project.started_by == staff


def test_time_on_an_unapproved_project_is_refused_with_a_message(project):
    with pytest.raises(ValidationError) as error:
        project.check_can_log(D("2"), logged=D("0"))
    assert "No time can be logged on “Move to the new office”" in error.value.messages[0]
    assert "must approve its estimate" in error.value.messages[0]


def test_hours_beyond_the_approved_estimate_need_a_change_order(project, approver, staff):
    decide(project.estimates.get(), approver)
    project.refresh_from_db()
    project.check_can_log(D("4"), logged=D("6"))  # exactly the approved 10 h
    with pytest.raises(ValidationError, match="Send a change order"):
        project.check_can_log(D("0.5"), logged=D("10"))
    order = projects.propose_estimate(
        project, hours=D("5"), description="Cabling of the annex", by=staff, today=TODAY
    )
    assert order.kind == ProjectEstimate.Kind.CHANGE_ORDER
    with pytest.raises(ValidationError, match="Send a change order"):
        project.check_can_log(D("0.5"), logged=D("10"))  # not approved yet
    decide(order, approver)
    project.refresh_from_db()
    assert project.approved_hours() == D("15")
    project.check_can_log(D("5"), logged=D("10"))


def test_a_change_order_needs_a_reason(project, approver, staff):
    decide(project.estimates.get(), approver)
    with pytest.raises(ValidationError):
        projects.propose_estimate(project, hours=D("5"), by=staff, today=TODAY)


def test_negative_hours_are_refused(project, approver):
    decide(project.estimates.get(), approver)
    with pytest.raises(ValidationError, match="more than zero"):
        project.check_can_log(D("-1"), logged=D("0"))


def test_a_declined_project_can_be_re_estimated(project, approver, staff):
    decide(project.estimates.get(), approver, approve=False)
    revised = projects.propose_estimate(project, hours=D("6"), by=staff, today=TODAY)
    project.refresh_from_db()
    assert project.status == Project.Status.AWAITING and revised.kind == "estimate"
    decide(revised, approver)
    project.refresh_from_db()
    assert project.status == Project.Status.APPROVED


# Views --------------------------------------------------------------------------------------


def test_the_approver_approves_in_the_portal(project, approver, client_for):
    estimate = project.estimates.get()
    client = client_for(approver)
    page = client.get(reverse("portal:project_detail", args=[project.pk]))
    assert "Approve" in page.content.decode()
    response = client.post(
        reverse("portal:estimate_decide", args=[estimate.pk]),
        {"decision": "approve", "typed_name": "Alice Moore"},
        REMOTE_ADDR="198.51.100.4",
    )
    assert response.status_code == 302
    approval = ProjectApproval.objects.get()
    assert approval.ip_address == "198.51.100.4" and approval.decided_at <= timezone.now()


def test_a_non_approver_in_the_portal_gets_a_message_not_an_error(project, customer_a, client_for):
    user = UserFactory(role="customer", customer=customer_a, email="bea@oakcity.example")
    ContactFactory(customer=customer_a, user=user, email=user.email)
    response = client_for(user).post(
        reverse("portal:estimate_decide", args=[project.estimates.get().pk]),
        {"decision": "approve", "typed_name": "Bea Smith"},
    )
    assert response.status_code == 200
    assert "Only a designated project approver" in response.content.decode()


def test_deciding_a_declined_estimate_in_the_portal_shows_the_reason(project, approver, client_for):
    estimate = decide(project.estimates.get(), approver, approve=False)
    response = client_for(approver).post(
        reverse("portal:estimate_decide", args=[estimate.pk]),
        {"decision": "approve", "typed_name": "Alice Moore"},
    )
    assert response.status_code == 200
    assert "already declined" in response.content.decode()


def test_another_customers_user_gets_404_for_the_estimate(project, bob, client_for):
    response = client_for(bob).post(
        reverse("portal:estimate_decide", args=[project.estimates.get().pk]),
        {"decision": "approve", "typed_name": "Bob"},
    )
    assert response.status_code == 404


def test_staff_create_a_project_and_bad_hours_get_a_message(
    customer_a, approver, client_for, staff
):
    published_card()
    client = client_for(staff)
    bad = client.post(
        reverse("delivery:project_create"),
        {"customer": customer_a.pk, "title": "Audit", "scope": "Security audit", "hours": "-2"},
    )
    assert bad.status_code == 200 and "more than zero" in bad.content.decode()
    good = client.post(
        reverse("delivery:project_create"),
        {"customer": customer_a.pk, "title": "Audit", "scope": "Security audit", "hours": "6"},
    )
    assert good.status_code == 302
    assert Project.objects.get().estimates.get().hours == D("6")


def test_staff_cannot_log_time_on_an_unapproved_project_in_the_browser(project, client_for, staff):
    response = client_for(staff).post(
        reverse("delivery:project_log_time", args=[project.pk]),
        {"work_date": "2026-11-01", "hours": "2"},
    )
    assert response.status_code == 200
    assert "No time can be logged" in response.content.decode()

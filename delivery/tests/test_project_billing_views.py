"""The pages of project invoicing: staff set the billing terms in the estimate form, the
approver sees them in the portal, staff complete milestones and invoice now, the customer sees
the project invoice (and another customer does not); after-hours time in the hours forms."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.urls import reverse

from agreements.models import Contact
from agreements.tests.factories import agreement_for_2027
from billing.models import Invoice, TimeEntry
from billing.tests.factories import published_card
from delivery import emergencies, projects
from delivery.models import Project, ProjectEstimate

NOW = dt.datetime(2027, 3, 10, 15, 0, tzinfo=dt.UTC)  # Wednesday 10:00 EST


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def agreement(customer_a, alice, admin):
    published_card(effective_date=dt.date(2026, 1, 1))
    Contact.objects.filter(user=alice).update(is_project_approver=True)
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def create(client, customer, **fields):
    return client.post(
        reverse("delivery:project_create"),
        {
            "customer": customer.pk,
            "title": "Office move",
            "scope": "Move the network",
            "hours": "20",
            **fields,
        },
    )


def test_staff_set_a_fixed_price_by_milestones_and_the_approver_sees_them(
    agreement, customer_a, alice, staff, client_for
):
    response = create(
        client_for(staff),
        customer_a,
        billing="fixed",
        schedule="milestones",
        fixed_price="3000",
        milestones="Design: 40%\nInstallation: 1,200.00\nHandover: 20%",
    )
    assert response.status_code == 302
    estimate = ProjectEstimate.objects.get()
    assert (estimate.billing, estimate.schedule, estimate.total) == ("fixed", "milestones", 3000)
    assert [(m.title, m.amount) for m in estimate.milestones.all()] == [
        ("Design", D("1200.00")),
        ("Installation", D("1200.00")),
        ("Handover", D("600.00")),
    ]
    page = client_for(alice).get(reverse("portal:project_detail", args=[estimate.project_id]))
    text = page.content.decode()
    assert "Fixed price $3,000.00, invoiced by milestones" in text
    assert "Installation: $1200.00" in text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"billing": "fixed", "schedule": "milestones", "milestones": "Design 40"}, "Line 1"),
        ({"billing": "fixed", "schedule": "milestones", "milestones": "A: 50%"}, "add up to"),
        ({"billing": "time", "schedule": "milestones"}, "Choose when a time and materials"),
        ({"billing": "fixed", "fixed_price": "-5"}, "greater than or equal to 0.01"),
        ({"billing": "bogus"}, "Select a valid choice"),
    ],
)
def test_bad_billing_terms_get_a_message_and_nothing_is_written(
    agreement, customer_a, staff, client_for, fields, message
):
    response = create(client_for(staff), customer_a, **{"schedule": "on_approval", **fields})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Project.objects.exists()


def test_staff_complete_a_milestone_and_invoice_it_now(
    agreement, customer_a, alice, bob, staff, client_for
):
    project = projects.create_project(
        customer_a,
        title="Office move",
        scope="Move the network",
        hours=D("20"),
        by=staff,
        today=NOW.date(),
        billing="fixed",
        schedule="milestones",
        milestones=[("Design", None, D("50")), ("Installation", None, D("50"))],
    )
    estimate = project.estimates.get()
    projects.decide(estimate, user=alice, approve=True, typed_name="Alice Moore", ip="", now=NOW)
    client = client_for(staff)
    detail = reverse("delivery:project_detail", args=[project.pk])
    assert "Invoice now" not in client.get(detail).content.decode()
    first = estimate.milestones.first()
    client.post(reverse("delivery:project_milestone_complete", args=[first.pk]))
    assert "Invoice now" in client.get(detail).content.decode()
    response = client.post(reverse("delivery:project_invoice", args=[project.pk]), follow=True)
    invoice = Invoice.objects.get(project=project)
    assert f"Invoiced: {invoice.number}" in response.content.decode()
    assert invoice.total == D("1500.00")
    again = client.post(reverse("delivery:project_invoice", args=[project.pk]), follow=True)
    assert "Nothing is due" in again.content.decode()
    assert Invoice.objects.filter(project=project).count() == 1
    # The customer sees it in the portal; another customer's user gets a 404.
    listing = client_for(alice).get(reverse("portal:invoice_list")).content.decode()
    assert invoice.number in listing and "Project “Office move”" in listing
    page = client_for(alice).get(reverse("portal:invoice_detail", args=[invoice.pk]))
    assert "Project “Office move”" in page.content.decode()
    assert (
        client_for(bob).get(reverse("portal:invoice_detail", args=[invoice.pk])).status_code == 404
    )
    assert (
        invoice.number not in client_for(bob).get(reverse("portal:invoice_list")).content.decode()
    )
    staff_page = client_for(staff).get(reverse("billing:invoice_detail", args=[invoice.pk]))
    assert staff_page.status_code == 200 and "project" in staff_page.content.decode()


def test_emergency_time_started_after_hours_is_marked_so(
    agreement, customer_a, alice, staff, client_for
):
    request = emergencies.file_request(
        customer_a,
        summary="Down",
        contact_name="Alice",
        contact_phone="(919) 555-0101",
        site="HQ",
        channel="portal",
        received_at=NOW - dt.timedelta(hours=20),
        by=alice,
        now=NOW,
    )
    emergencies.acknowledge(request, by=staff, now=NOW)
    url = reverse("delivery:emergency_log_time", args=[request.pk])
    client = client_for(staff)
    client.post(url, {"work_date": "2027-03-09", "hours": "1", "start_time": "21:30"})
    client.post(url, {"work_date": "2027-03-09", "hours": "1", "start_time": "11:00"})
    client.post(url, {"work_date": "2027-03-10", "hours": "1", "after_hours": "on"})
    entries = TimeEntry.objects.order_by("pk")
    assert [(e.start_time, e.after_hours) for e in entries] == [
        (dt.time(21, 30), True),
        (dt.time(11, 0), False),
        (None, True),
    ]
    bad = client.post(url, {"work_date": "2027-03-10", "hours": "1", "start_time": "25:00"})
    assert bad.status_code == 200 and "Enter a valid time" in bad.content.decode()


def test_project_time_marked_after_hours_in_the_browser(
    agreement, customer_a, alice, staff, client_for
):
    project = projects.create_project(
        customer_a, title="Move", scope="Move it", hours=D("5"), by=staff, today=NOW.date()
    )
    projects.decide(
        project.estimates.get(), user=alice, approve=True, typed_name="Alice Moore", ip="", now=NOW
    )
    url = reverse("delivery:project_log_time", args=[project.pk])
    response = client_for(staff).post(
        url,
        {"work_date": "2027-03-06", "hours": "2", "start_time": "10:00"},  # a Saturday
    )
    assert response.status_code == 302
    entry = TimeEntry.objects.get(project=project)
    assert (entry.start_time, entry.after_hours) == (dt.time(10), True)
    page = client_for(staff).get(reverse("delivery:project_detail", args=[project.pk]))
    assert "after hours" in page.content.decode()

"""Time on an emergency request (emergency hours of its agreement, on the next monthly invoice
at the emergency rate) and on a project (only once approved, within the approved hours, never on
the agreement's invoice): one `log_time`, the same checks."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from agreements.models import Contact, ServiceKind, ServiceLine
from agreements.tests.factories import agreement_for_2027
from billing import invoicing
from billing.models import Invoice, InvoiceLine, TimeEntry
from billing.tests.factories import line_of, published_card
from billing.timesheets import log_time
from delivery import emergencies, projects
from delivery.models import Project

RECEIVED = dt.datetime(2027, 3, 12, 21, 0, tzinfo=dt.UTC)  # Friday 16:00 EST
ACKNOWLEDGED = RECEIVED + dt.timedelta(minutes=20)
TODAY = dt.date(2027, 3, 15)
NOW = dt.datetime(2027, 3, 15, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def rates(db):
    return published_card(effective_date=dt.date(2026, 1, 1))


@pytest.fixture
def agreement(customer_a, alice, admin):
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def file(customer, by, *, acknowledged_by=None):
    request = emergencies.file_request(
        customer,
        summary="The server room is flooding",
        contact_name="Alice Moore",
        contact_phone="(919) 555-0101",
        site="100 Hillsborough Street, Raleigh",
        channel="portal",
        received_at=RECEIVED,
        by=by,
        now=RECEIVED,
    )
    if acknowledged_by is not None:
        emergencies.acknowledge(request, by=acknowledged_by, now=ACKNOWLEDGED)
    return request


def log(staff, *, work_date=dt.date(2027, 3, 12), hours=D("2"), **target):
    return log_time(
        **target, work_date=work_date, hours=hours, technician=staff, by=staff, today=TODAY, now=NOW
    )


def usage_lines(invoice):
    return [
        (line.kind, line.quantity, line.list_rate, line.amount, line.service_line_id)
        for line in invoice.lines.filter(kind=InvoiceLine.Kind.EMERGENCY)
    ]


def april_invoice(agreement):
    invoicing.issue_invoices(today=dt.date(2027, 4, 1))
    return Invoice.objects.get(agreement=agreement, period=dt.date(2027, 4, 1))


# Emergency requests ---------------------------------------------------------------------------


def test_request_hours_are_on_the_next_monthly_invoice_at_the_emergency_rate(
    agreement, customer_a, alice, staff
):
    request = file(customer_a, alice, acknowledged_by=staff)
    entry = log(staff, emergency_request=request)
    emergency_line = line_of(agreement, ServiceKind.EMERGENCY)
    assert (entry.agreement, entry.line, entry.invoice) == (agreement, emergency_line, None)
    assert entry.for_label == f"Emergency request #{request.pk}"
    april = april_invoice(agreement)
    # 225/h, no discount; March hours are billed in arrears on the April invoice.
    assert usage_lines(april) == [
        ("emergency", D("2.00"), D("225.00"), D("450.00"), emergency_line.pk)
    ]
    entry.refresh_from_db()
    assert entry.invoice == april


def test_hours_on_a_request_and_on_the_line_make_one_emergency_charge(
    agreement, customer_a, alice, staff
):
    request = file(customer_a, alice, acknowledged_by=staff)
    log(staff, emergency_request=request)
    log(staff, line=line_of(agreement, ServiceKind.EMERGENCY), agreement=agreement, hours=D("1"))
    assert [line[1:4] for line in usage_lines(april_invoice(agreement))] == [
        (D("3.00"), D("225.00"), D("675.00"))
    ]


def test_a_request_without_emergency_support_bills_at_the_agreements_emergency_rate(
    agreement, customer_a, alice, staff
):
    ServiceLine.objects.filter(version__agreement=agreement, kind=ServiceKind.EMERGENCY).update(
        response_tier=None
    )
    request = file(customer_a, alice, acknowledged_by=staff)
    assert (request.agreement, request.line, request.is_guaranteed) == (agreement, None, False)
    entry = log(staff, emergency_request=request, hours=D("1.5"))
    assert (entry.agreement, entry.line) == (agreement, None)
    assert usage_lines(april_invoice(agreement)) == [
        ("emergency", D("1.50"), D("225.00"), D("337.50"), None)
    ]


def test_a_request_of_a_customer_without_an_agreement_is_recorded_not_invoiced(
    agreement, customer_b, bob, staff
):
    request = file(customer_b, bob, acknowledged_by=staff)
    entry = log(staff, emergency_request=request)
    assert (entry.agreement, entry.line, entry.customer) == (None, None, customer_b)
    invoicing.issue_invoices(today=dt.date(2027, 4, 1))
    entry.refresh_from_db()
    assert entry.invoice is None
    assert not InvoiceLine.objects.filter(kind=InvoiceLine.Kind.EMERGENCY).exists()


def test_a_request_waiting_for_a_technician_takes_no_time(agreement, customer_a, alice, staff):
    request = file(customer_a, alice)
    with pytest.raises(ValidationError, match="Acknowledge the request first"):
        log(staff, emergency_request=request)


def test_a_resolved_request_still_takes_the_time_worked_on_it(agreement, customer_a, alice, staff):
    request = file(customer_a, alice, acknowledged_by=staff)
    emergencies.close(request, by=staff, now=NOW, resolution="Pumped out the water.")
    assert log(staff, emergency_request=request).emergency_request == request


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"hours": D("-2")}, "Hours must be more than zero"),
        ({"hours": D("25")}, "A day has 24 hours at most"),
        ({"work_date": dt.date(2027, 3, 16)}, "cannot be logged for a future date"),
        ({"work_date": dt.date(2027, 3, 11)}, "received on March 12, 2027"),
    ],
)
def test_bad_time_on_a_request_is_refused_with_a_message(
    agreement, customer_a, alice, staff, fields, message
):
    request = file(customer_a, alice, acknowledged_by=staff)
    with pytest.raises(ValidationError, match=message):
        log(staff, emergency_request=request, **fields)
    assert not TimeEntry.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_staff_log_time_from_the_request_page(agreement, customer_a, alice, staff, client_for):
    request = file(customer_a, alice)
    client = client_for(staff)
    url = reverse("delivery:emergency_log_time", args=[request.pk])
    refused = client.post(url, {"work_date": "2027-03-12", "hours": "2"})
    assert refused.status_code == 200
    assert "Acknowledge the request first" in refused.content.decode()
    emergencies.acknowledge(request, by=staff, now=ACKNOWLEDGED)
    negative = client.post(url, {"work_date": "2027-03-12", "hours": "-1"})
    assert "Hours must be more than zero" in negative.content.decode()
    done = client.post(url, {"work_date": "2027-03-12", "hours": "1.5", "note": "Pumps"})
    assert done.status_code == 302
    page = client.get(done.url).content.decode()
    assert "1.5 h logged on the request" in page and "Pumps" in page
    assert TimeEntry.objects.get().emergency_request == request


# Projects ---------------------------------------------------------------------------------------


@pytest.fixture
def project(agreement, customer_a, alice, staff):
    Contact.objects.filter(user=alice).update(is_project_approver=True)
    return projects.create_project(
        customer_a,
        title="Move to the new office",
        scope="Move the network, the server and 12 workstations.",
        hours=D("10"),
        by=staff,
        today=TODAY,
    )


def approve(estimate, alice):
    projects.decide(
        estimate, user=alice, approve=True, typed_name="Alice Moore", ip="203.0.113.9", now=NOW
    )


def test_time_logged_on_an_unapproved_project_is_refused_with_a_message(project, staff):
    with pytest.raises(ValidationError) as error:
        log(staff, project=project)
    assert "No time can be logged on “Move to the new office”" in error.value.messages[0]
    assert "must approve its estimate in the portal" in error.value.messages[0]
    assert not TimeEntry.objects.exists()


def test_negative_hours_on_a_project_are_refused(project, alice, staff):
    approve(project.estimates.get(), alice)
    with pytest.raises(ValidationError, match="Hours must be more than zero"):
        log(staff, project=project, hours=D("-1"))


def test_project_time_starts_the_project_and_stays_off_the_agreements_invoice(
    agreement, project, alice, staff
):
    approve(project.estimates.get(), alice)
    entry = log(staff, project=project, hours=D("4"))
    project.refresh_from_db()
    assert project.status == Project.Status.IN_PROGRESS and project.started_by == staff
    assert (entry.project, entry.agreement, entry.line) == (project, None, None)
    assert projects.logged_hours(project) == D("4.00")
    april = april_invoice(agreement)
    assert not april.lines.filter(kind__in=["emergency", "overage"]).exists()
    entry.refresh_from_db()
    assert entry.invoice is None


def test_hours_beyond_the_approved_estimate_need_an_approved_change_order(project, alice, staff):
    approve(project.estimates.get(), alice)
    log(staff, project=project, hours=D("8"))
    with pytest.raises(ValidationError, match="Send a change order"):
        log(staff, project=project, hours=D("3"), work_date=dt.date(2027, 3, 13))
    order = projects.propose_estimate(
        project, hours=D("5"), description="Cabling of the annex", by=staff, today=TODAY
    )
    with pytest.raises(ValidationError, match="Send a change order"):
        log(staff, project=project, hours=D("3"), work_date=dt.date(2027, 3, 13))
    approve(order, alice)
    log(staff, project=project, hours=D("3"), work_date=dt.date(2027, 3, 13))
    assert projects.logged_hours(project) == D("11.00")


def test_an_entry_is_for_exactly_one_thing(agreement, project, staff):
    base = {"work_date": dt.date(2027, 3, 12), "hours": D("1"), "technician": staff}
    emergency_line = line_of(agreement, ServiceKind.EMERGENCY)
    for fields in (
        {"project": project, "agreement": agreement},  # a project has no agreement to bill
        {"project": project, "line": emergency_line, "agreement": agreement},
        {"agreement": agreement},  # a line of the agreement, or a request, or a project
        {},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            TimeEntry.objects.create(**base, **fields, created_by=staff)

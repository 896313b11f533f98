"""Project invoices (an approved project billed by its estimate's terms: a fixed price by
milestones, on approval or on completion; time and materials monthly or on completion, never
beyond the approved hours) and after-hours work (emergency and project hours outside the
business hours, at the term's after-hours rate)."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction

from agreements.models import Contact, ServiceKind
from agreements.tests.factories import agreement_for_2027
from billing import invoicing
from billing.documents import invoice_pdf, send_invoice_email
from billing.models import Invoice, TimeEntry
from billing.pricing import snapshot_rate
from billing.projects import (
    _milestone_bill,
    _store,
    allocate,
    due_project_invoices,
    issue_project_invoices,
)
from billing.tests.factories import billing_contact, line_of, published_card
from billing.timesheets import log_time
from delivery import emergencies, projects
from delivery.models import Project, ProjectApproval, ProjectEstimate

START = dt.date(2027, 3, 1)
APPROVED_AT = dt.datetime(2027, 3, 1, 15, 0, tzinfo=dt.UTC)
Billing, Schedule = ProjectEstimate.Billing, ProjectEstimate.Schedule


@pytest.fixture(autouse=True)
def rates(db):
    return published_card(effective_date=dt.date(2026, 1, 1))


@pytest.fixture
def agreement(customer_a, alice, admin):
    Contact.objects.filter(user=alice).update(is_project_approver=True)
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def new_project(customer, staff, *, hours=D("10"), **terms):
    return projects.create_project(
        customer,
        title="Move to the new office",
        scope="Move the network, the server and 12 workstations.",
        hours=hours,
        by=staff,
        today=START,
        **terms,
    )


def approve(estimate, alice, *, now=APPROVED_AT):
    return projects.decide(
        estimate, user=alice, approve=True, typed_name="Alice Moore", ip="203.0.113.9", now=now
    )


def log(project, staff, work_date, hours, **fields):
    return log_time(
        project=project,
        work_date=work_date,
        hours=D(hours),
        technician=staff,
        by=staff,
        today=work_date,
        now=dt.datetime.combine(work_date, dt.time(18), tzinfo=dt.UTC),
        **fields,
    )


def days(start, end):
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def run_daily(start, end) -> list:
    return [invoice for day in days(start, end) for invoice in issue_project_invoices(today=day)]


def lines_of(invoice):
    return [
        (line.kind, line.description, line.quantity, line.list_rate, line.amount)
        for line in invoice.lines.all()
    ]


# Fixed price ---------------------------------------------------------------------------------


MILESTONES = [
    ("Design", None, D("40")),
    ("Installation", None, D("40")),
    ("Handover", None, D("20")),
]


@pytest.fixture
def by_milestones(agreement, customer_a, alice, staff):
    project = new_project(
        customer_a,
        staff,
        billing=Billing.FIXED,
        schedule=Schedule.MILESTONES,
        fixed_price=D("4800.00"),
        milestones=MILESTONES,
    )
    approve(project.estimates.get(), alice)
    return project


def test_a_fixed_price_by_milestones_invoices_each_completed_milestone_once(by_milestones, staff):
    estimate = by_milestones.estimates.get()
    assert estimate.total == D("4800.00") and estimate.billing == "fixed"
    milestones = list(estimate.milestones.all())
    assert [m.amount for m in milestones] == [D("1920.00"), D("1920.00"), D("960.00")]
    assert run_daily(START, dt.date(2027, 3, 3)) == []  # nothing completed: nothing due
    issued = []
    for milestone, day in zip(
        milestones, [dt.date(2027, 3, 4), dt.date(2027, 3, 18), dt.date(2027, 4, 9)], strict=True
    ):
        completed = dt.datetime.combine(day, dt.time(17), tzinfo=dt.UTC)
        projects.complete_milestone(milestone, by=staff, now=completed)
        issued += issue_project_invoices(today=day)
        issued += issue_project_invoices(today=day)  # a re-run issues nothing more
    assert [invoice.total for invoice in issued] == [D("1920.00"), D("1920.00"), D("960.00")]
    assert sum(invoice.total for invoice in issued) == estimate.total
    first = issued[0]
    assert (first.kind, first.project, first.agreement) == (
        "project",
        by_milestones,
        by_milestones.agreement,
    )
    assert first.issued_on == dt.date(2027, 3, 4) and first.due_on == dt.date(2027, 4, 3)
    assert lines_of(first) == [
        (
            "project",
            "Design (milestone completed March 4, 2027)",
            D("1"),
            D("1920.00"),
            D("1920.00"),
        )
    ]
    assert {m.invoice_id for m in estimate.milestones.all()} == {i.pk for i in issued}
    assert run_daily(START, dt.date(2027, 5, 1)) == []
    with pytest.raises(ValidationError, match="already completed"):
        projects.complete_milestone(milestones[0], by=staff, now=APPROVED_AT)


def test_milestones_must_add_up_to_the_fixed_price(agreement, customer_a, staff):
    with pytest.raises(ValidationError, match=r"add up to \$4,320.00, not the fixed price"):
        new_project(
            customer_a,
            staff,
            billing=Billing.FIXED,
            schedule=Schedule.MILESTONES,
            fixed_price=D("4800.00"),
            milestones=[("Design", None, D("40")), ("Rest", D("2400.00"), None)],
        )
    assert not Project.objects.exists()


def test_percent_milestones_take_the_rounding_cents_on_the_last_one():
    rows = projects.milestone_amounts(
        D("1000.00"), [("A", None, D("33.33")), ("B", None, D("33.33")), ("C", None, D("33.34"))]
    )
    assert [amount for _, _, amount in rows] == [D("333.30"), D("333.30"), D("333.40")]
    rows = projects.milestone_amounts(D("100.00"), [("A", None, D("50")), ("B", D("50.00"), None)])
    assert [amount for _, _, amount in rows] == [D("50.00"), D("50.00")]


def test_the_approval_records_the_billing_terms_and_the_milestones(by_milestones):
    approval = ProjectApproval.objects.get()
    assert approval.billing_terms == (
        "Fixed price $4,800.00, invoiced by milestones: Design $1,920.00; "
        "Installation $1,920.00; Handover $960.00"
    )


def test_a_fixed_price_on_approval_is_invoiced_once_after_the_approval(
    agreement, customer_a, alice, staff
):
    project = new_project(
        customer_a,
        staff,
        billing=Billing.FIXED,
        schedule=Schedule.ON_APPROVAL,
        fixed_price=D("900"),
    )
    assert due_project_invoices(today=START) == []  # not approved yet
    approve(project.estimates.get(), alice)
    (invoice,) = run_daily(START, dt.date(2027, 3, 10))
    assert invoice.total == D("900.00") and invoice.issued_on == START
    assert "Fixed price #1, on approval" in invoice.lines.get().description


def test_a_fixed_price_on_completion_and_its_change_order_wait_for_the_completion(
    agreement, customer_a, alice, staff
):
    project = new_project(customer_a, staff, billing=Billing.FIXED, schedule=Schedule.ON_COMPLETION)
    approve(project.estimates.get(), alice)
    change = projects.propose_estimate(
        project, hours=D("2"), description="Two more printers", by=staff, today=START
    )
    assert (change.kind, change.billing, change.schedule) == (
        "change_order",
        "fixed",
        "on_completion",
    )
    approve(change, alice)
    log(project, staff, dt.date(2027, 3, 2), "3")
    assert run_daily(START, dt.date(2027, 4, 5)) == []
    with pytest.raises(ValidationError, match="invoiced on completion, not by milestones"):
        projects.complete_milestone(change.milestones.get(), by=staff, now=APPROVED_AT)
    projects.complete(project, by=staff, now=dt.datetime(2027, 4, 6, 20, tzinfo=dt.UTC))
    (invoice,) = run_daily(dt.date(2027, 4, 6), dt.date(2027, 4, 8))
    # 10 h × $150 and the change order's 2 h × $150: the fixed prices, not the hours logged.
    assert [line[4] for line in lines_of(invoice)] == [D("1500.00"), D("300.00")]
    assert TimeEntry.objects.get().invoice is None  # fixed price: hours are not billed


# Time and materials ----------------------------------------------------------------------------


def tm_project(customer_a, alice, staff, schedule=Schedule.MONTHLY):
    project = new_project(customer_a, staff, billing=Billing.TIME, schedule=schedule)
    approve(project.estimates.get(), alice)
    return project


def tm_with_a_change_order(customer_a, alice, staff):
    """10 h approved at $150; 10 h logged in March; 2 more refused until a change order of
    5 h is approved on April 2; then 2 h in April and 3 h in May."""
    project = tm_project(customer_a, alice, staff)
    log(project, staff, dt.date(2027, 3, 10), "6")
    log(project, staff, dt.date(2027, 3, 31), "4")
    with pytest.raises(ValidationError, match="beyond the 10.00 h the customer approved"):
        log(project, staff, dt.date(2027, 4, 1), "2")
    change = projects.propose_estimate(
        project, hours=D("5"), description="Cabling of the annex", by=staff, today=START
    )
    approve(change, alice, now=dt.datetime(2027, 4, 2, 14, tzinfo=dt.UTC))
    log(project, staff, dt.date(2027, 4, 2), "2")
    log(project, staff, dt.date(2027, 5, 3), "3")
    return project


def test_time_and_materials_monthly_with_a_change_order(agreement, customer_a, alice, staff):
    project = tm_with_a_change_order(customer_a, alice, staff)
    issued = run_daily(START, dt.date(2027, 6, 1))
    assert [(i.issued_on, i.total) for i in issued] == [
        (dt.date(2027, 4, 1), D("1500.00")),
        (dt.date(2027, 5, 1), D("300.00")),
        (dt.date(2027, 6, 1), D("450.00")),
    ]
    assert lines_of(issued[0]) == [
        ("project", "Project work, March 2027: 10 h × $150.00", D("10"), D("150.00"), D("1500.00"))
    ]
    assert not TimeEntry.objects.filter(project=project, invoice__isnull=True).exists()
    assert sum(i.total for i in issued) == sum(e.total for e in project.approved_estimates())


def test_daily_runs_and_one_catch_up_run_give_the_same_monthly_project_invoices(
    agreement, customer_a, alice, staff
):
    tm_with_a_change_order(customer_a, alice, staff)
    caught_up = issue_project_invoices(today=dt.date(2027, 6, 1))
    assert [(i.period_label, i.total) for i in caught_up] == [
        ("Project invoice, June 1, 2027", D("1500.00")),
        ("Project invoice, June 1, 2027", D("300.00")),
        ("Project invoice, June 1, 2027", D("450.00")),
    ]
    assert [lines_of(i)[0][1] for i in caught_up] == [
        "Project work, March 2027: 10 h × $150.00",
        "Project work, April 2027: 2 h × $150.00",
        "Project work, May 2027: 3 h × $150.00",
    ]
    assert issue_project_invoices(today=dt.date(2027, 6, 2)) == []


def test_hours_beyond_the_approved_ones_are_held_until_a_change_order(
    agreement, customer_a, alice, staff
):
    project = tm_project(customer_a, alice, staff)
    log(project, staff, dt.date(2027, 3, 10), "9")
    # An entry past the approved hours (e.g. corrected by an admin) is never invoiced.
    TimeEntry.objects.create(
        project=project,
        work_date=dt.date(2027, 3, 11),
        hours=D("3"),
        technician=staff,
        created_by=staff,
    )
    (invoice,) = issue_project_invoices(today=dt.date(2027, 4, 1))
    assert invoice.total == D("1350.00")
    project.refresh_from_db()
    assert project.billing_hold.startswith("3 h logged beyond the 10 h approved are not invoiced")
    change = projects.propose_estimate(
        project, hours=D("4"), description="More cabling", by=staff, today=START
    )
    approve(change, alice, now=dt.datetime(2027, 4, 3, 14, tzinfo=dt.UTC))
    (later,) = issue_project_invoices(today=dt.date(2027, 4, 3))
    # 1 h left of the estimate and 2 h of the change order.
    assert later.total == D("450.00") and later.lines.count() == 1
    project.refresh_from_db()
    assert project.billing_hold == ""


def test_allocation_fills_the_estimate_then_the_change_orders_in_order():
    entries = [type("E", (), {"hours": D(h)})() for h in ("4", "3", "5")]
    placed, held = allocate([(D("150"), D("5")), (D("160"), D("4"))], used=D("2"), entries=entries)
    assert [pieces for _, pieces in placed] == [
        [(D("150"), D("3")), (D("160"), D("1"))],
        [(D("160"), D("3"))],
    ]
    assert held == [entries[2]]


def test_time_and_materials_on_completion_bills_everything_once_completed(
    agreement, customer_a, alice, staff
):
    project = tm_project(customer_a, alice, staff, schedule=Schedule.ON_COMPLETION)
    log(project, staff, dt.date(2027, 3, 10), "4")
    log(project, staff, dt.date(2027, 4, 10), "2.5")
    assert run_daily(START, dt.date(2027, 5, 2)) == []
    projects.complete(project, by=staff, now=dt.datetime(2027, 5, 3, 20, tzinfo=dt.UTC))
    (invoice,) = run_daily(dt.date(2027, 5, 3), dt.date(2027, 5, 5))
    assert invoice.total == D("975.00")
    assert [line[1] for line in lines_of(invoice)] == [
        "Project work, March 2027: 4 h × $150.00",
        "Project work, April 2027: 2.5 h × $150.00",
    ]


def test_an_after_hours_project_hour_is_billed_at_the_after_hours_rate(
    agreement, customer_a, alice, staff
):
    project = tm_project(customer_a, alice, staff)
    log(project, staff, dt.date(2027, 3, 10), "2", start_time=dt.time(10))  # a Wednesday
    late = log(project, staff, dt.date(2027, 3, 10), "1", start_time=dt.time(19, 30))
    saturday = log(project, staff, dt.date(2027, 3, 13), "1", start_time=dt.time(10))
    marked = log(project, staff, dt.date(2027, 3, 15), "1", after_hours=True)
    assert late.after_hours and saturday.after_hours and marked.after_hours
    (invoice,) = issue_project_invoices(today=dt.date(2027, 4, 1))
    assert lines_of(invoice) == [
        ("project", "Project work, March 2027: 2 h × $150.00", D("2"), D("150.00"), D("300.00")),
        (
            "after_hours",
            "After-hours project work, March 2027: 3 h × $195.00",
            D("3"),
            D("195.00"),
            D("585.00"),
        ),
    ]


# After-hours emergency hours on the monthly invoice -------------------------------------------


def test_an_after_hours_emergency_hour_is_billed_at_the_terms_after_hours_rate(
    agreement, customer_a, alice, staff
):
    received = dt.datetime(2027, 3, 12, 23, 0, tzinfo=dt.UTC)  # Friday 18:00 EST
    request = emergencies.file_request(
        customer_a,
        summary="The server is down",
        contact_name="Alice Moore",
        contact_phone="(919) 555-0101",
        site="100 Hillsborough Street, Raleigh",
        channel="portal",
        received_at=received,
        by=alice,
        now=received,
    )
    emergencies.acknowledge(request, by=staff, now=received + dt.timedelta(minutes=10))

    def worked(day, hours, **target):
        return log_time(
            **target, work_date=day, hours=D(hours), technician=staff, by=staff, today=day
        )

    late = worked(dt.date(2027, 3, 12), "1", emergency_request=request, start_time=dt.time(18, 15))
    emergency, prescheduled = (
        line_of(agreement, k) for k in (ServiceKind.EMERGENCY, ServiceKind.PRESCHEDULED)
    )
    day = worked(
        dt.date(2027, 3, 15), "2", agreement=agreement, line=emergency, start_time=dt.time(9)
    )
    block = worked(
        dt.date(2027, 3, 13), "1", agreement=agreement, line=prescheduled, after_hours=True
    )
    assert (late.after_hours, day.after_hours, block.after_hours) == (True, False, False)
    invoicing.issue_invoices(today=dt.date(2027, 4, 1))
    april = Invoice.objects.get(agreement=agreement, period=dt.date(2027, 4, 1))
    term = agreement.terms.get()
    assert snapshot_rate(term.locked_rates, "after_hours_hourly") == D("195.00")
    usage = [
        (line.kind, line.description, line.list_rate, line.discount_percent, line.amount)
        for line in april.lines.filter(kind__in=["emergency", "after_hours"])
    ]
    assert usage == [
        ("emergency", "Emergency Support, March 2027: 2 h", D("225.00"), D("0"), D("450.00")),
        (
            "after_hours",
            "After-hours emergency support, March 2027: 1 h × $195.00",
            D("195.00"),
            D("0"),
            D("195.00"),
        ),
    ]
    late.refresh_from_db()
    assert late.invoice == april


# One numbering, the PDF and the email ----------------------------------------------------------


def test_project_invoices_share_the_numbering_and_have_their_pdf_and_email(
    by_milestones, customer_a, staff, django_capture_on_commit_callbacks
):
    billing_contact(customer_a, email="ap@oakcity.example")
    monthly = invoicing.issue_invoices(today=dt.date(2027, 3, 1))
    milestone = by_milestones.estimates.get().milestones.first()
    projects.complete_milestone(milestone, by=staff, now=APPROVED_AT)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        (invoice,) = issue_project_invoices(today=dt.date(2027, 3, 2))
    assert [i.number for i in monthly] == ["INV-000001", "INV-000002", "INV-000003"]
    assert invoice.number == "INV-000004"
    mail.outbox.clear()
    for callback in callbacks:
        callback()
    (message,) = mail.outbox
    assert "INV-000004" in message.subject
    assert "project “Move to the new office”" in message.body
    assert message.attachments[0][1].startswith(b"%PDF")
    assert send_invoice_email(invoice.pk) is False
    pdf = invoice_pdf(invoice)
    assert pdf.startswith(b"%PDF")


def test_the_project_invoice_pdf_names_the_project(by_milestones, staff):
    from agreements.tests.test_document_pdf import pdf_text

    milestone = by_milestones.estimates.get().milestones.first()
    projects.complete_milestone(milestone, by=staff, now=APPROVED_AT)
    (invoice,) = issue_project_invoices(today=dt.date(2027, 3, 2))
    text = " ".join(pdf_text(invoice_pdf(invoice)).split())
    assert "Move to the new office" in text and "Project invoice, March 2, 2027" in text
    assert "Design (milestone completed March 1, 2027)" in text and "$1,920.00" in text


def test_voiding_a_project_invoice_bills_its_milestone_again(by_milestones, admin, staff):
    milestone = by_milestones.estimates.get().milestones.first()
    projects.complete_milestone(milestone, by=staff, now=APPROVED_AT)
    (invoice,) = issue_project_invoices(today=dt.date(2027, 3, 2))
    invoice.void(by=admin, reason="Wrong address", now=APPROVED_AT)
    (again,) = issue_project_invoices(today=dt.date(2027, 3, 3))
    assert again.total == D("1920.00") and again.number != invoice.number


def test_a_second_worker_with_a_stale_read_bills_nothing_twice_and_leaves_no_gap(
    by_milestones, staff
):
    first, second, _ = by_milestones.estimates.get().milestones.all()
    first = projects.complete_milestone(first, by=staff, now=APPROVED_AT)
    stale = _milestone_bill(
        [first], today=dt.date(2027, 3, 2), tz=dt.UTC
    )  # read before the other worker
    (issued,) = issue_project_invoices(today=dt.date(2027, 3, 2))
    with (
        pytest.raises(ValidationError, match="Another run is invoicing this project"),
        transaction.atomic(),
    ):
        _store(by_milestones, stale, today=dt.date(2027, 3, 2))
    assert list(Invoice.objects.values_list("number", flat=True)) == [issued.number]
    projects.complete_milestone(second, by=staff, now=APPROVED_AT)
    (following,) = issue_project_invoices(today=dt.date(2027, 3, 3))
    assert following.number == "INV-000002"  # the rolled-back number was given back


def test_a_project_invoice_on_the_agreement_does_not_hold_up_its_monthly_invoices(
    by_milestones, agreement, staff
):
    invoicing.issue_invoices(today=dt.date(2027, 3, 1))
    milestone = by_milestones.estimates.get().milestones.first()
    projects.complete_milestone(milestone, by=staff, now=APPROVED_AT)
    (project_invoice,) = issue_project_invoices(today=dt.date(2027, 3, 2))
    assert project_invoice.agreement == agreement
    (april,) = invoicing.issue_invoices(today=dt.date(2027, 4, 1))
    assert (april.agreement, april.kind, april.period) == (
        agreement,
        "monthly",
        dt.date(2027, 4, 1),
    )

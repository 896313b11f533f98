"""The API's writes for what staff do in the browser: draft an agreement with its Exhibit B,
change the draft, send it for signature, log time, open emergency requests, create projects and
their estimates. Each with the pages' checks (a bad request writes nothing) and audience; the
whole matrix of callers is in test_api_matrix.py."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine

from agreements.models import Agreement, AgreementEvent, AgreementVersion, Contact, ServiceLine
from agreements.tests.factories import (
    ContactFactory,
    CustomerFactory,
    TermsTemplateFactory,
    agreement_for_2027,
    draft_with_all_services,
    response_tier,
)
from allora.tests.api_support import send
from allora.tests.authz import billing_contact_of
from billing.models import TimeEntry
from billing.tests.factories import published_card
from delivery import emergencies, projects
from delivery.models import EmergencyRequest, Project, ProjectEstimate
from delivery.tests.factories import office_move

NOW = dt.datetime(2027, 3, 15, 15, 0, tzinfo=dt.UTC)  # Monday 11:00 in Raleigh
TODAY = dt.date(2027, 3, 15)


@pytest.fixture(autouse=True)
def frozen(db):
    with time_machine.travel(NOW, tick=False):
        published_card(effective_date=dt.date(2026, 1, 1))
        yield


@pytest.fixture
def agreement(customer_a, alice, admin):
    """Customer A's active agreement, term 1 from 2027-01-01, with all four services."""
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def answers(method, path, body, *people):
    """The status each person (None: no token) gets for the same call."""
    return [send(person, method, path, body).status_code for person in people]


def locs(response):
    return [error["loc"] for error in response.json()["detail"]]


# Drafting an agreement -------------------------------------------------------------------------

MAINTENANCE = {
    "kind": "maintenance",
    "hours_per_visit": "2",
    "schedule": {
        "frequency": "monthly",
        "monthly_mode": "weekday",
        "ordinal": 3,
        "weekday": "WE",
        "start_time": "10:00",
        "duration_hours": "2",
    },
}
PRESCHEDULED = {
    "kind": "prescheduled",
    "labor_rate": "remote_hourly",
    "hours_per_month": "8",
    "schedule": {
        "frequency": "weekly",
        "weekdays": ["TU"],
        "start_time": "09:00",
        "duration_hours": "2",
    },
}
EMERGENCY = {"kind": "emergency", "response_tier": "1 hour, 24×7", "notes": "After hours too"}
HOSTING = {"kind": "hosting", "package_name": "Website hosting", "quantity": 2}


@pytest.fixture
def terms(db):
    response_tier()
    return TermsTemplateFactory()


def draft_body(customer, **extra):
    return {
        "customer_id": customer.pk,
        "billing_day": 15,
        "payment_terms_days": 45,
        "start_date": "2027-04-01",
        "lines": [MAINTENANCE, PRESCHEDULED, EMERGENCY, HOSTING],
        **extra,
    }


def test_staff_draft_an_agreement_with_its_exhibit_b_lines(staff, customer_a, terms):
    response = send(staff, "post", "/agreements", draft_body(customer_a))
    assert response.status_code == 201, response.content
    agreement = Agreement.objects.get(pk=response.json()["id"])
    version = agreement.versions.get()
    assert (agreement.customer, agreement.status, agreement.created_by) == (
        customer_a,
        "draft",
        staff,
    )
    assert (version.status, version.billing_day, version.payment_terms_days) == ("draft", 15, 45)
    assert (version.start_date, version.terms_template) == (dt.date(2027, 4, 1), terms)
    lines = list(version.lines.order_by("position"))
    assert [(line.kind, line.position) for line in lines] == [
        ("maintenance", 0),
        ("prescheduled", 1),
        ("emergency", 2),
        ("hosting", 3),
    ]
    maintenance, prescheduled, emergency, hosting = lines
    assert (maintenance.rrule, maintenance.start_time, maintenance.duration_minutes) == (
        "FREQ=MONTHLY;BYDAY=+3WE",
        dt.time(10, 0),
        120,
    )
    assert maintenance.labor_rate == "onsite_hourly"  # the page's default
    assert maintenance.checklist == [
        "Inspections",
        "Updates",
        "Backups",
        "Scans",
        "Workplace optimization",
    ]
    assert (prescheduled.labor_rate, prescheduled.hours_per_month) == ("remote_hourly", D("8"))
    assert prescheduled.rrule == "FREQ=WEEKLY;BYDAY=TU"
    assert (emergency.response_tier.name, emergency.notes) == ("1 hour, 24×7", "After hours too")
    assert (hosting.package_name, hosting.quantity) == ("Website hosting", 2)
    assert agreement.events.filter(kind=AgreementEvent.Kind.EDITED).count() == 4
    body = response.json()
    assert [line["kind"] for line in body["versions"][0]["lines"]] == [
        "maintenance",
        "prescheduled",
        "emergency",
        "hosting",
    ]
    assert body["versions"][0]["lines"][0]["schedule"]["schedule_text"]


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"customer_id": 999_999}, ["body", "customer_id"]),
        ({"start_date": "2027-03-14"}, ["body", "start_date"]),  # in the past
        ({"start_date": "2101-01-01"}, ["body", "payload", "start_date"]),
        ({"billing_day": 29}, ["body", "payload", "billing_day"]),
        ({"terms_template_id": 999_999}, ["body", "terms_template_id"]),
        (
            {"lines": [{**MAINTENANCE, "schedule": None}]},
            ["body", "lines", 0, "schedule", "frequency"],
        ),
        (
            {"lines": [HOSTING, {**HOSTING, "package_name": "Gold"}]},
            ["body", "lines", 1, "package_name"],
        ),
        (
            {"lines": [{**EMERGENCY, "response_tier": "2 days"}]},
            ["body", "lines", 0, "response_tier"],
        ),
        (
            {"lines": [{**EMERGENCY, "hours_per_visit": "2"}]},
            ["body", "lines", 0, "hours_per_visit"],
        ),
        (
            {"lines": [{**HOSTING, "schedule": MAINTENANCE["schedule"]}]},
            ["body", "lines", 0, "schedule"],
        ),
        (
            {"lines": [{**MAINTENANCE, "hours_per_visit": "0"}]},
            ["body", "lines", 0, "hours_per_visit"],
        ),
        ({"lines": [{**MAINTENANCE, "checklist": []}]}, ["body", "lines", 0, "checklist"]),
        (
            {"lines": [{**PRESCHEDULED, "schedule": {**PRESCHEDULED["schedule"], "weekdays": []}}]},
            ["body", "lines", 0, "schedule", "weekdays"],
        ),
        ({"lines": [HOSTING] * 101}, ["body", "payload", "lines"]),
        ({"lines": [{**HOSTING, "quantity": 10**9}]}, ["body", "payload", "lines", 0, "quantity"]),
        ({"lines": [{**HOSTING, "notes": "x" * 301}]}, ["body", "payload", "lines", 0, "notes"]),
    ],
)
def test_a_bad_draft_is_a_422_naming_the_field_and_writes_nothing(
    staff, customer_a, terms, change, loc
):
    response = send(staff, "post", "/agreements", draft_body(customer_a, **change))
    assert response.status_code == 422, response.content
    assert loc in locs(response), locs(response)
    assert not Agreement.objects.exists()
    assert not ServiceLine.objects.exists()


def test_an_inactive_customer_gets_no_draft(staff, terms):
    inactive = CustomerFactory(status="inactive")
    response = send(staff, "post", "/agreements", draft_body(inactive))
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "customer_id"] and "inactive" in error["msg"]
    assert not Agreement.objects.exists()


def test_only_staff_draft_agreements(customer_a, alice, bob, admin, terms):
    body = draft_body(customer_a)
    assert answers("post", "/agreements", body, None, alice, bob) == [401, 403, 403]
    assert not Agreement.objects.exists()
    assert send(admin, "post", "/agreements", body).status_code == 201


@pytest.fixture
def draft(customer_a, terms):
    return draft_with_all_services(customer=customer_a, terms_template=terms)


def test_staff_change_a_draft_and_replace_its_exhibit_b(staff, draft):
    agreement = draft.agreement
    response = send(
        staff, "patch", f"/agreements/{agreement.pk}", {"billing_day": 20, "lines": [HOSTING]}
    )
    assert response.status_code == 200, response.content
    draft.refresh_from_db()
    assert (draft.billing_day, draft.payment_terms_days) == (20, 30)  # the rest as it was
    assert [(line.kind, line.quantity) for line in draft.lines.all()] == [("hosting", 2)]
    history = list(agreement.events.values_list("message", flat=True))
    assert "Version 1 settings changed" in history
    assert sum("line removed" in text for text in history) == 4
    only_lines = send(staff, "patch", f"/agreements/{agreement.pk}", {"lines": []})
    assert only_lines.status_code == 200
    assert not draft.lines.exists()


def test_the_lines_of_a_draft_whose_start_date_passed_can_still_change(staff, draft):
    AgreementVersion.objects.filter(pk=draft.pk).update(start_date=dt.date(2027, 3, 1))
    url = f"/agreements/{draft.agreement_id}"
    assert send(staff, "patch", url, {"lines": [HOSTING]}).status_code == 200
    assert draft.lines.count() == 1
    refused = send(staff, "patch", url, {"billing_day": 2})  # the settings are checked again
    assert refused.status_code == 422
    assert locs(refused) == [["body", "start_date"]]


def test_a_bad_change_leaves_the_draft_as_it_was(staff, draft):
    agreement = draft.agreement
    response = send(
        staff,
        "patch",
        f"/agreements/{agreement.pk}",
        {"billing_day": 10, "lines": [HOSTING, {**HOSTING, "package_name": "Gold"}]},
    )
    assert response.status_code == 422
    assert locs(response) == [["body", "lines", 1, "package_name"]]
    draft.refresh_from_db()
    assert draft.billing_day == 1
    assert draft.lines.count() == 4


def test_a_sent_version_cannot_change_through_the_api(staff, draft, alice, customer_a):
    signer = signer_of(customer_a)
    sent = send(staff, "post", f"/agreements/{draft.agreement_id}/send", {"signer_id": signer.pk})
    assert sent.status_code == 200, sent.content
    response = send(staff, "patch", f"/agreements/{draft.agreement_id}", {"lines": []})
    assert response.status_code == 400
    assert "can no longer change" in response.json()["detail"][0]["msg"]
    assert draft.lines.count() == 4


def test_only_staff_change_a_draft_and_customers_never_see_it(draft, alice, bob):
    url = f"/agreements/{draft.agreement_id}"
    assert answers("patch", url, {"billing_day": 2}, None, alice, bob) == [401, 403, 403]
    assert answers("post", f"{url}/send", {"signer_id": 1}, None, alice, bob) == [401, 403, 403]
    draft.refresh_from_db()
    assert draft.billing_day == 1


# Sending for signature ---------------------------------------------------------------------


def signer_of(customer):
    return customer.contacts.get(is_authorized_signer=True)


def test_staff_send_a_draft_to_an_authorized_signer(
    staff, draft, customer_a, alice, mailoutbox, django_capture_on_commit_callbacks
):
    signer = signer_of(customer_a)
    url = f"/agreements/{draft.agreement_id}/send"
    with django_capture_on_commit_callbacks(execute=True):
        response = send(staff, "post", url, {"signer_id": signer.pk})
    assert response.status_code == 200, response.content
    draft.refresh_from_db()
    assert (draft.status, draft.signer, draft.sent_at) == ("sent", signer, NOW)
    assert draft.rates_snapshot and draft.content_sha256
    assert response.json()["versions"][0]["status"] == "sent"
    assert [message.to for message in mailoutbox] == [[signer.email]]


def test_a_contact_who_may_not_sign_is_a_422_and_nothing_is_sent(
    staff, draft, customer_a, customer_b, mailoutbox
):
    carol = Contact.objects.get(user=billing_contact_of(customer_a))
    other = ContactFactory(customer=customer_b, is_authorized_signer=True)
    url = f"/agreements/{draft.agreement_id}/send"
    for contact in (carol, other):
        response = send(staff, "post", url, {"signer_id": contact.pk})
        assert response.status_code == 422
        assert locs(response) == [["body", "signer_id"]]
    draft.refresh_from_db()
    assert draft.status == "draft" and not mailoutbox


def test_a_draft_not_ready_to_send_is_a_400_listing_what_to_fix(staff, customer_a, terms, alice):
    response = send(staff, "post", "/agreements", draft_body(customer_a, lines=[]))
    agreement_id = response.json()["id"]
    signer = signer_of(customer_a)
    refused = send(staff, "post", f"/agreements/{agreement_id}/send", {"signer_id": signer.pk})
    assert refused.status_code == 400
    assert refused.json()["detail"][0]["msg"] == "Add at least one Exhibit B service line."
    assert AgreementVersion.objects.get(agreement_id=agreement_id).status == "draft"


# Time entries ------------------------------------------------------------------------------


def line_of_kind(agreement, kind):
    return ServiceLine.objects.get(version__agreement=agreement, kind=kind)


def test_staff_log_time_on_a_line_of_an_active_agreement(agreement, staff):
    line = line_of_kind(agreement, "prescheduled")
    body = {"line_id": line.pk, "work_date": "2027-03-12", "hours": "1.5", "note": " Printer "}
    response = send(staff, "post", "/time-entries", body)
    assert response.status_code == 201, response.content
    entry = TimeEntry.objects.get()
    assert (entry.agreement, entry.line, entry.visit, entry.technician, entry.created_by) == (
        agreement,
        line,
        None,
        staff,
        staff,
    )
    assert (entry.work_date, entry.hours, entry.note) == (
        dt.date(2027, 3, 12),
        D("1.50"),
        "Printer",
    )
    assert response.json()["hours"] == "1.50"


def test_staff_log_time_on_a_past_visit_for_a_technician(agreement, admin, staff):
    visit = agreement.visits.filter(starts_at__lt=NOW).order_by("starts_at").first()
    body = {
        "visit_id": visit.pk,
        "work_date": TODAY.isoformat(),
        "hours": "2",
        "technician_id": staff.pk,
    }
    response = send(admin, "post", "/time-entries", body)
    assert response.status_code == 201, response.content
    entry = TimeEntry.objects.get()
    assert (entry.visit, entry.line, entry.technician, entry.created_by) == (
        visit,
        visit.line,
        staff,
        admin,
    )


@pytest.mark.parametrize(
    ("who", "kind", "loc"),
    [
        ("admin", "prescheduled", ["body", "technician_id"]),  # admins are not technicians
        ("staff", "maintenance", ["body", "line_id"]),  # its time goes on one of its visits
    ],
)
def test_agreement_time_takes_the_forms_choices(agreement, admin, staff, who, kind, loc):
    line = line_of_kind(agreement, kind)
    body = {"line_id": line.pk, "work_date": "2027-03-12", "hours": "1"}
    response = send({"admin": admin, "staff": staff}[who], "post", "/time-entries", body)
    assert response.status_code == 422
    assert locs(response) == [loc]
    assert not TimeEntry.objects.exists()


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"work_date": "2027-03-16"}, 400, "Time cannot be logged for a future date."),
        ({"work_date": "2026-12-31"}, 400, "is outside the agreement's terms"),
        ({"hours": "25"}, 400, "A day has 24 hours at most"),
        ({"hours": "0"}, 400, "Hours must be more than zero"),
        ({"hours": "1.234"}, 422, "decimal"),
        ({"hours": "100000"}, 422, "digits"),
        ({"work_date": "1999-12-31"}, 422, "2000-01-01"),
        ({"note": "x" * 301}, 422, "at most 300 characters"),
        ({"line_id": None}, 422, "Give exactly one of"),
        ({"project_id": 1}, 422, "Give exactly one of"),
        ({"line_id": 999_999}, 422, "Choose a service"),
    ],
)
def test_bad_time_is_refused_with_the_pages_message_and_writes_nothing(
    agreement, staff, change, status, message
):
    line = line_of_kind(agreement, "prescheduled")
    body = {"line_id": line.pk, "work_date": "2027-03-12", "hours": "1", **change}
    response = send(staff, "post", "/time-entries", body)
    assert response.status_code == status, response.content
    assert message in str(response.json()["detail"])
    assert not TimeEntry.objects.exists()


def file_request(customer, user):
    return emergencies.file_request(
        customer,
        summary="The server room is flooding",
        contact_name="Alice Moore",
        contact_phone="(919) 555-0101",
        site="100 Hillsborough Street",
        channel="portal",
        received_at=NOW - dt.timedelta(days=1),
        by=user,
        now=NOW - dt.timedelta(days=1),
    )


def test_staff_log_time_on_an_acknowledged_emergency_request(agreement, customer_a, alice, staff):
    request = file_request(customer_a, alice)
    body = {"emergency_request_id": request.pk, "work_date": TODAY.isoformat(), "hours": "1"}
    waiting = send(staff, "post", "/time-entries", body)
    assert waiting.status_code == 400
    assert "Acknowledge the request first" in waiting.json()["detail"][0]["msg"]
    assert not TimeEntry.objects.exists()
    emergencies.acknowledge(request, by=staff, now=NOW - dt.timedelta(hours=23))
    response = send(staff, "post", "/time-entries", body)
    assert response.status_code == 201, response.content
    entry = TimeEntry.objects.get()
    assert (entry.emergency_request, entry.agreement, entry.technician) == (
        request,
        agreement,
        staff,
    )


def test_time_on_a_request_is_the_callers_own(agreement, customer_a, alice, staff, admin):
    request = file_request(customer_a, alice)
    emergencies.acknowledge(request, by=staff, now=NOW)
    body = {"emergency_request_id": request.pk, "work_date": TODAY.isoformat(), "hours": "1"}
    response = send(admin, "post", "/time-entries", {**body, "technician_id": staff.pk})
    assert response.status_code == 400
    assert locs(response) == [["body", "technician_id"]]
    assert not TimeEntry.objects.exists()


@pytest.fixture
def project(agreement, customer_a, alice, staff):
    return office_move(customer_a, approver=alice, by=staff, today=TODAY)


def approve(project, alice):
    estimate = project.estimates.get(status="pending")
    projects.decide(
        estimate, user=alice, approve=True, typed_name="Alice Moore", ip="203.0.113.7", now=NOW
    )


def test_project_time_needs_the_approval_and_stays_within_it(project, alice, staff):
    body = {"project_id": project.pk, "work_date": TODAY.isoformat(), "hours": "4"}
    refused = send(staff, "post", "/time-entries", body)
    assert refused.status_code == 400
    assert not TimeEntry.objects.exists()
    approve(project, alice)
    assert send(staff, "post", "/time-entries", body).status_code == 201
    project.refresh_from_db()
    assert project.status == Project.Status.IN_PROGRESS  # the first hours start it
    beyond = send(staff, "post", "/time-entries", {**body, "hours": "7"})
    assert beyond.status_code == 400
    assert TimeEntry.objects.get().hours == D("4")


def test_only_staff_log_time(agreement, alice, bob):
    line = line_of_kind(agreement, "prescheduled")
    body = {"line_id": line.pk, "work_date": "2027-03-12", "hours": "1"}
    assert answers("post", "/time-entries", body, None, alice, bob) == [401, 403, 403]
    assert not TimeEntry.objects.exists()


# Emergency requests ------------------------------------------------------------------------

CALL = {
    "summary": "The server room is flooding",
    "contact_name": "Alice Moore",
    "contact_phone": "(919) 555-0101",
    "site": "100 Hillsborough Street",
}


def test_staff_record_a_request_taken_by_phone_with_the_agreements_guarantee(
    agreement, customer_a, staff, mailoutbox, django_capture_on_commit_callbacks
):
    body = {**CALL, "customer_id": customer_a.pk, "received_at": "2027-03-15T10:40"}
    with django_capture_on_commit_callbacks(execute=True):
        response = send(staff, "post", "/emergency-requests", body)
    assert response.status_code == 201, response.content
    request = EmergencyRequest.objects.get()
    assert (request.customer, request.agreement, request.channel, request.filed_by) == (
        customer_a,
        agreement,
        "phone",
        staff,
    )
    # 10:40 in Raleigh (EDT since March 14) is 14:40 UTC; the guarantee is one hour.
    assert request.received_at == dt.datetime(2027, 3, 15, 14, 40, tzinfo=dt.UTC)
    assert (request.tier_name, request.due_at) == (
        "1 hour, 24×7",
        request.received_at + dt.timedelta(hours=1),
    )
    assert response.json()["due_at"].startswith("2027-03-15T15:40")
    assert len(mailoutbox) == 1  # the on-call staff


def test_a_customer_files_a_request_for_its_own_customer_as_in_the_portal(
    agreement, customer_a, alice, bob
):
    response = send(alice, "post", "/emergency-requests", CALL)
    assert response.status_code == 201, response.content
    request = EmergencyRequest.objects.get()
    assert (request.customer, request.channel, request.filed_by, request.received_at) == (
        customer_a,
        "portal",
        alice,
        NOW,
    )
    carol = billing_contact_of(customer_a)  # any user of the customer, as in the portal
    assert send(carol, "post", "/emergency-requests", CALL).status_code == 201
    own = send(alice, "post", "/emergency-requests", {**CALL, "customer_id": customer_a.pk})
    assert own.status_code == 201
    assert EmergencyRequest.objects.count() == 3
    other = send(bob, "post", "/emergency-requests", {**CALL, "customer_id": customer_a.pk})
    assert other.status_code == 404
    backdated = send(
        alice, "post", "/emergency-requests", {**CALL, "received_at": "2027-03-15T08:00"}
    )
    assert backdated.status_code == 400
    assert locs(backdated) == [["body", "received_at"]]
    assert EmergencyRequest.objects.count() == 3
    assert send(None, "post", "/emergency-requests", CALL).status_code == 401


@pytest.mark.parametrize(
    ("change", "status", "loc"),
    [
        ({"summary": "  "}, 400, ["body", "summary"]),
        ({"site": ""}, 400, ["body", "site"]),
        ({"summary": "x" * 2001}, 422, ["body", "payload", "summary"]),
        ({"customer_id": None}, 422, ["body", "customer_id"]),
        ({"customer_id": 999_999}, 422, ["body", "customer_id"]),
        ({"received_at": None}, 422, ["body", "received_at"]),
        ({"received_at": "2027-03-15T12:00"}, 400, ["body", "received_at"]),  # 16:00 UTC: future
        ({"received_at": "2101-01-01T00:00"}, 422, ["body", "payload", "received_at"]),
        ({"priority": "high"}, 422, ["body", "payload", "priority"]),
    ],
)
def test_a_bad_request_is_refused_naming_the_field_and_writes_nothing(
    customer_a, staff, change, status, loc
):
    body = {**CALL, "customer_id": customer_a.pk, "received_at": "2027-03-15T10:40", **change}
    response = send(staff, "post", "/emergency-requests", body)
    assert response.status_code == status, response.content
    assert loc in locs(response)
    assert not EmergencyRequest.objects.exists()


def test_the_service_says_what_is_missing_in_its_words(customer_a, alice):
    response = send(alice, "post", "/emergency-requests", {**CALL, "contact_phone": ""})
    assert response.status_code == 400
    [error] = response.json()["detail"]
    assert error == {
        "loc": ["body", "contact_phone"],
        "msg": emergencies.REQUIRED["contact_phone"],
        "type": "rule",
    }


# Projects and estimates ----------------------------------------------------------------------


@pytest.fixture
def approver(customer_a, alice):
    customer_a.contacts.filter(user=alice).update(is_project_approver=True)
    return alice


PROJECT = {"title": "Office move", "scope": "Move the network to the new office.", "hours": "12"}


def test_staff_create_a_project_with_its_estimate_at_the_on_site_rate(
    agreement, customer_a, approver, staff, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = send(staff, "post", "/projects", {**PROJECT, "customer_id": customer_a.pk})
    assert response.status_code == 201, response.content
    project = Project.objects.get()
    assert (project.customer, project.agreement, project.status, project.title) == (
        customer_a,
        agreement,
        "awaiting",
        "Office move",
    )
    estimate = project.estimates.get()
    assert (estimate.number, estimate.kind, estimate.hours) == (1, "estimate", D("12"))
    assert estimate.total == estimate.hours * estimate.rate
    [out] = response.json()["estimates"]
    assert (out["hours"], out["total"]) == ("12.00", f"{estimate.total:.2f}")
    assert [message.to for message in mailoutbox] == [[approver.email]]


@pytest.mark.parametrize(
    ("change", "status", "loc"),
    [
        ({"title": ""}, 422, ["body", "title"]),
        ({"scope": "x" * 10001}, 422, ["body", "payload", "scope"]),
        ({"hours": "0"}, 400, ["body", "hours"]),
        ({"hours": "10001"}, 400, ["body", "hours"]),
        ({"hours": "12.345"}, 422, ["body", "payload", "hours"]),
        ({"customer_id": 999_999}, 422, ["body", "customer_id"]),
    ],
)
def test_a_bad_project_is_refused_naming_the_field_and_writes_nothing(
    customer_a, approver, staff, change, status, loc
):
    response = send(staff, "post", "/projects", {**PROJECT, "customer_id": customer_a.pk, **change})
    assert response.status_code == status, response.content
    assert loc in locs(response)
    assert not Project.objects.exists()


def test_a_customer_without_an_approver_gets_no_project(customer_b, staff):
    response = send(staff, "post", "/projects", {**PROJECT, "customer_id": customer_b.pk})
    assert response.status_code == 400
    assert "no designated project approver" in response.json()["detail"][0]["msg"]
    assert not Project.objects.exists()


def test_only_staff_create_projects_and_estimates(project, customer_a, alice, bob):
    body = {**PROJECT, "customer_id": customer_a.pk}
    url = f"/projects/{project.pk}/estimates"
    assert answers("post", "/projects", body, None, alice, bob) == [401, 403, 403]
    assert answers("post", url, {"hours": "5"}, None, alice, bob) == [401, 403, 403]
    assert Project.objects.count() == 1 and ProjectEstimate.objects.count() == 1


def test_staff_revise_an_estimate_then_add_a_change_order(project, alice, staff):
    url = f"/projects/{project.pk}/estimates"
    revised = send(staff, "post", url, {"hours": "14"})
    assert revised.status_code == 201, revised.content
    first, second = project.estimates.order_by("number")
    assert (first.status, second.kind, second.status, second.hours) == (
        "superseded",
        "estimate",
        "pending",
        D("14"),
    )
    approve(project, alice)
    no_reason = send(staff, "post", url, {"hours": "3"})
    assert no_reason.status_code == 400
    assert locs(no_reason) == [["body", "description"]]
    assert project.estimates.count() == 2
    change = send(staff, "post", url, {"hours": "3", "description": "Cabling the annex"})
    assert change.status_code == 201
    assert [e["kind"] for e in change.json()["estimates"]] == [
        "estimate",
        "estimate",
        "change_order",
    ]
    assert project.estimates.get(number=3).description == "Cabling the annex"


def test_a_bad_estimate_writes_nothing(project, staff):
    url = f"/projects/{project.pk}/estimates"
    for body in ({"hours": "-1"}, {"hours": "1.001"}, {"hours": "2", "description": "x" * 2001}):
        assert send(staff, "post", url, body).status_code in (400, 422)
    assert project.estimates.count() == 1
    assert send(staff, "post", "/projects/999999/estimates", {"hours": "2"}).status_code == 404

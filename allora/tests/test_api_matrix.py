"""Every operation of the REST API, for every kind of caller: the API's rows of the
authorization matrix (the pages' rows are in test_authorization.py).

An operation of the OpenAPI schema without a row here fails ``test_every_api_operation_has_a_row``.
A row gives what the call needs (path parameters and body, built from fresh objects of customer
A) and the status that anonymous, bob (customer B, the outsider), alice (customer A), staff
and admin get, each calling with a personal API token. A customer's object asked for by the
other customer is a 404; an operation of another audience is a 403.
"""

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from agreements import lifecycle
from agreements.tests.factories import ContactFactory, draft_with_all_services, signed_agreement
from agreements.tests.import_samples import sample_document
from allora.api import api, urls
from allora.tests.api_support import bearer
from allora.tests.authz import ROLES, billing_contact_of
from billing.tests.factories import RateCardFactory, make_invoice, published_card

ALL = (401, 200, 200, 200, 200)
OF_A = (401, 404, 200, 200, 200)  # bob asks for customer A's object: never a hint it exists
STAFF_WRITE = (401, 403, 403, 200, 200)
STAFF_CREATE = (401, 403, 403, 201, 201)
STAFF_READ = (401, 403, 403, 200, 200)
ADMIN_WRITE = (401, 403, 403, 403, 200)
ADMIN_CREATE = (401, 403, 403, 403, 201)
ADMIN_READ = (401, 403, 403, 403, 200)


def _customer(objs, role):
    return {"path": {"customer_id": objs["customer"].pk}}


def _contact(objs, role):
    return {"path": {"contact_id": objs["contact"].pk}}


def _agreement(objs, role):
    return {"path": {"agreement_id": objs["agreement"].pk}}


def _termination(objs, role):
    return {"path": {"request_id": objs["termination"].pk}}


def _review(objs, role):
    return {"path": {"review_id": objs["review"].pk}}


def _visit(objs, role):
    return {"path": {"visit_id": objs["agreement"].visits.order_by("starts_at").first().pk}}


def _card(objs, role):
    return {"path": {"card_id": objs["card"].pk}}


def _new_customer(objs, role):
    body = {"legal_name": "Capital Dental, PA", "address_line1": "1 Main St"}
    return {"json": {**body, "postal_code": "27601", "phone": "(919) 555-0111"}}


def _change_customer(objs, role):
    return {**_customer(objs, role), "json": {"phone": "(919) 555-0199"}}


def _new_contact(objs, role):
    return {**_customer(objs, role), "json": {"name": "Rita Books", "email": "rita@a.example"}}


def _change_contact(objs, role):
    return {**_contact(objs, role), "json": {"title": "Office manager"}}


def _file_termination(objs, role):
    """A request on A's agreement, whose earlier request is withdrawn first."""
    lifecycle.withdraw_termination_request(objs["termination"], by=objs["admin"])
    body = {"reason": "Moving offices", "typed_name": "Alice Moore"}
    if role in ("staff", "admin"):
        body.update(channel="letter", received_at=timezone.now().isoformat())
    return {**_agreement(objs, role), "json": body}


def _rate_review(objs, role):
    return {**_agreement(objs, role), "json": {"method": "keep"}}


def _import(objs, role):
    data = json.dumps(sample_document(1, prefix="M")).encode()
    return {"files": {"file": ("agreements.json", data)}}


def _import_job(objs, role):
    from agreements.models import ImportJob

    job = ImportJob.objects.create(
        created_by=objs["admin"], file_name="big.json", file_path="imports/pending/x.json", size=1
    )
    return {"path": {"job_id": job.pk}}


def _invoice(objs, role):
    return {"path": {"invoice_id": objs["invoice"].pk}}


def _payment(objs, role):
    received = objs["invoice"].issued_on.isoformat()
    return {**_invoice(objs, role), "json": {"amount": "100.00", "received_on": received}}


def _void(objs, role):
    return {**_invoice(objs, role), "json": {"reason": "Issued twice"}}


def _new_card(objs, role):
    lines = [
        {"kind": kind, "name": kind, "price": "100.00"}
        for kind in ("onsite_hourly", "remote_hourly", "emergency_hourly", "after_hours_hourly")
    ]
    return {"json": {"title": "Rates 2027", "lines": lines}}


def _publish(objs, role):
    draft = RateCardFactory()
    effective = (timezone.localdate() + dt.timedelta(days=7)).isoformat()
    return {"path": {"card_id": draft.pk}, "json": {"effective_date": effective}}


def _new_agreement(objs, role):
    line = {"kind": "hosting", "package_name": "Website hosting", "quantity": 1}
    return {"json": {"customer_id": objs["customer"].pk, "lines": [line]}}


def _draft(objs, role):
    return {"path": {"agreement_id": objs["draft"].agreement_id}}


def _change_draft(objs, role):
    return {**_draft(objs, role), "json": {"billing_day": 15}}


def _send_draft(objs, role):
    signer = objs["customer"].contacts.get(is_authorized_signer=True)
    return {**_draft(objs, role), "json": {"signer_id": signer.pk}}


def _time_entry(objs, role):
    from agreements.models import ServiceLine

    line = ServiceLine.objects.get(version__agreement=objs["agreement"], kind="prescheduled")
    today = timezone.localdate().isoformat()
    body = {"line_id": line.pk, "work_date": today, "hours": "1.5"}
    return {"json": {**body, "technician_id": objs["staff"].pk}}


def _emergency(objs, role):
    """Staff record a phone call for customer A; a customer files for its own customer."""
    body = {
        "summary": "The server is down",
        "contact_name": "Alice Moore",
        "contact_phone": "(919) 555-0101",
        "site": "100 Hillsborough Street",
    }
    if role in ("staff", "admin"):
        body.update(customer_id=objs["customer"].pk, received_at=timezone.now().isoformat())
    return {"json": body}


def _new_project(objs, role):
    from agreements.models import Contact

    Contact.objects.filter(user=objs["alice"]).update(is_project_approver=True)
    body = {"title": "Office move", "scope": "Move the network.", "hours": "10"}
    return {"json": {**body, "customer_id": objs["customer"].pk}}


def _estimate(objs, role):
    from delivery.tests.factories import office_move

    project = office_move(
        objs["customer"], approver=objs["alice"], by=objs["staff"], today=timezone.localdate()
    )
    return {"path": {"project_id": project.pk}, "json": {"hours": "12"}}


ROWS = {
    "GET /api/v1/me": (None, ALL),
    "GET /api/v1/customers": (None, ALL),
    "POST /api/v1/customers": (_new_customer, STAFF_CREATE),
    "GET /api/v1/customers/{customer_id}": (_customer, OF_A),
    "PATCH /api/v1/customers/{customer_id}": (_change_customer, STAFF_WRITE),
    "GET /api/v1/contacts": (None, ALL),
    "POST /api/v1/customers/{customer_id}/contacts": (_new_contact, STAFF_CREATE),
    "GET /api/v1/contacts/{contact_id}": (_contact, OF_A),
    "PATCH /api/v1/contacts/{contact_id}": (_change_contact, STAFF_WRITE),
    "GET /api/v1/agreements": (None, ALL),
    "GET /api/v1/agreements/{agreement_id}": (_agreement, OF_A),
    "POST /api/v1/agreements": (_new_agreement, STAFF_CREATE),
    "PATCH /api/v1/agreements/{agreement_id}": (_change_draft, STAFF_WRITE),
    "POST /api/v1/agreements/{agreement_id}/send": (_send_draft, STAFF_WRITE),
    "GET /api/v1/termination-requests": (None, ALL),
    "GET /api/v1/termination-requests/{request_id}": (_termination, OF_A),
    # Customers file their own (received now, by the portal); staff record letters and emails.
    "POST /api/v1/agreements/{agreement_id}/termination-requests": (
        _file_termination,
        (401, 404, 201, 201, 201),
    ),
    "POST /api/v1/termination-requests/{request_id}/withdraw": (_termination, OF_A),
    "GET /api/v1/rate-reviews": (None, ALL),
    # A draft review is internal: the customer sees finalized rates only.
    "GET /api/v1/rate-reviews/{review_id}": (_review, (401, 404, 404, 200, 200)),
    "PUT /api/v1/agreements/{agreement_id}/rate-review": (_rate_review, ADMIN_WRITE),
    "POST /api/v1/rate-reviews/{review_id}/finalize": (_review, ADMIN_WRITE),
    "POST /api/v1/imports": (_import, ADMIN_WRITE),
    "GET /api/v1/imports/{job_id}": (_import_job, ADMIN_READ),
    "GET /api/v1/visits": (None, ALL),
    "GET /api/v1/visits/{visit_id}": (_visit, OF_A),
    "GET /api/v1/invoices": (None, ALL),
    "GET /api/v1/invoices/{invoice_id}": (_invoice, OF_A),
    "GET /api/v1/invoices/{invoice_id}/pdf": (_invoice, OF_A),
    "POST /api/v1/invoices/{invoice_id}/payments": (_payment, STAFF_CREATE),
    "POST /api/v1/invoices/{invoice_id}/void": (_void, ADMIN_WRITE),
    "GET /api/v1/rate-cards": (None, STAFF_READ),
    "POST /api/v1/rate-cards": (_new_card, ADMIN_CREATE),
    "GET /api/v1/rate-cards/{card_id}": (_card, STAFF_READ),
    "POST /api/v1/rate-cards/{card_id}/publish": (_publish, ADMIN_WRITE),
    "POST /api/v1/rate-cards/{card_id}/new-version": (_card, ADMIN_CREATE),
    "POST /api/v1/time-entries": (_time_entry, STAFF_CREATE),
    # Any customer user may file one for its own customer, as in the portal.
    "POST /api/v1/emergency-requests": (_emergency, (401, 201, 201, 201, 201)),
    "POST /api/v1/projects": (_new_project, STAFF_CREATE),
    "POST /api/v1/projects/{project_id}/estimates": (_estimate, STAFF_CREATE),
}


def api_operations():
    urls()  # every app's router attached, as the URLconf does
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    return {
        f"{method.upper()} {path}"
        for path, methods in schema["paths"].items()
        for method in methods
    }


def test_every_api_operation_has_a_row():
    operations = api_operations()
    assert operations - set(ROWS) == set(), "add these API operations to the matrix"
    assert set(ROWS) - operations == set(), "these rows name no API operation"


@pytest.fixture
def objects(customer_a, admin, alice, bob, staff):
    """Customer A's objects: an active agreement (with a review and a termination request, an
    invoice), a draft of another agreement, a contact, a rate card; and who made them."""
    card = published_card()
    signed = signed_agreement(customer=customer_a, customer_user=alice, admin=admin, pdf=False)
    review = lifecycle.save_rate_review(
        signed.agreement, method="keep", by=admin, today=timezone.localdate()
    )
    termination = lifecycle.file_termination_request(
        signed.agreement,
        by=alice,
        received_at=timezone.now(),
        reason="Moving offices",
        typed_name="Alice Moore",
        channel="portal",
    )
    return {
        "customer": customer_a,
        "contact": ContactFactory(customer=customer_a),
        "agreement": signed.agreement,
        "card": card,
        "review": review,
        "termination": termination,
        "invoice": make_invoice(signed.agreement, issued_on=timezone.localdate()),
        "draft": draft_with_all_services(customer=customer_a),
        "admin": admin,
        "staff": staff,
        "alice": alice,
    }


# Where carol, a customer user of A who is not an authorized signer (its billing contact), is
# answered otherwise than alice (a signer): she may not file or withdraw the termination request.
NON_SIGNER = {
    "POST /api/v1/agreements/{agreement_id}/termination-requests": 403,
    "POST /api/v1/termination-requests/{request_id}/withdraw": 403,
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", sorted(ROWS))
def test_api_authorization_matrix(operation, role, objects, alice, bob, staff, admin):
    people = {"anonymous": None, "bob": bob, "alice": alice, "staff": staff, "admin": admin}
    expected = dict(zip(ROLES, ROWS[operation][1], strict=True))[role]
    _check_call(operation, role, people[role], objects, expected)


@pytest.mark.parametrize("operation", sorted(ROWS))
def test_api_matrix_for_a_customer_user_who_is_not_a_signer(operation, objects, customer_a):
    alice_code = dict(zip(ROLES, ROWS[operation][1], strict=True))["alice"]
    carol = billing_contact_of(customer_a)
    response = _check_call(
        operation, "alice", carol, objects, NON_SIGNER.get(operation, alice_code)
    )
    if operation in NON_SIGNER:
        assert "Only an authorized signer of" in response.json()["detail"]


def _check_call(operation, role, person, objects, expected):
    build = ROWS[operation][0]
    call = build(objects, role) if build else {}
    method, template = operation.split(" ", 1)
    url = template.format(**call.get("path", {}))
    headers = bearer(person) if person else {}
    client = Client()
    if "files" in call:
        from django.core.files.uploadedfile import SimpleUploadedFile

        files = {k: SimpleUploadedFile(name, data) for k, (name, data) in call["files"].items()}
        response = client.post(url, files, headers=headers)
    elif method == "GET":
        response = client.get(url, headers=headers)
    else:
        body = json.dumps(call.get("json", {}))
        response = getattr(client, method.lower())(
            url, body, content_type="application/json", headers=headers
        )
    assert response.status_code == expected, (operation, role, response.content[:500])
    pdf = operation.endswith("/pdf") and response.status_code == 200
    assert response["Content-Type"].startswith("application/pdf" if pdf else "application/json")
    return response

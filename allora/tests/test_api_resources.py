"""The REST API resource by resource, for each role: the same scoping as the pages (another
customer's object is a 404), writes where the role may, and bad input as a 4xx naming the field."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agreements import lifecycle
from agreements.api import AgreementOut
from agreements.models import Agreement, Customer, RateReview
from agreements.tests.factories import ContactFactory, CustomerFactory, draft_with_all_services
from allora.models import ApiToken
from allora.tests.api_support import API, bearer, get, send
from billing.models import RateCard
from scheduling.models import Visit


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


@pytest.fixture
def signed(customer_a, alice, admin):
    """Customer A's active agreement (version 1 signed by both, term 1, visits planned)."""
    from agreements.tests.factories import signed_agreement
    from billing.tests.factories import published_card

    published_card()
    return signed_agreement(customer=customer_a, customer_user=alice, admin=admin, pdf=False)


# Customers and contacts ----------------------------------------------------------------------


def test_customers_are_scoped_like_the_pages(customer_a, customer_b, alice, bob, staff, admin):
    assert set(ids(get(staff, "/customers"))) == {customer_a.pk, customer_b.pk}
    assert ids(get(alice, "/customers")) == [customer_a.pk]
    assert ids(get(bob, "/customers")) == [customer_b.pk]
    assert get(alice, f"/customers/{customer_a.pk}").json()["legal_name"] == customer_a.legal_name
    assert get(bob, f"/customers/{customer_a.pk}").status_code == 404
    assert get(staff, "/customers", q="oak").json()["count"] == 1


CUSTOMER = {
    "legal_name": "Capital Dental, PA",
    "address_line1": "1 Fayetteville St",
    "postal_code": "27601",
    "phone": "(919) 555-0111",
    "state": "nc",
    "external_ref": "CW-1001",
}


def test_staff_create_and_change_customers_with_the_forms_checks(staff, alice):
    response = send(staff, "post", "/customers", CUSTOMER)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["state"], body["status"], body["external_ref"]) == ("NC", "prospect", "CW-1001")
    customer = Customer.objects.get(pk=body["id"])
    assert customer.history.first().history_user == staff  # the token's owner is recorded
    changed = send(staff, "patch", f"/customers/{customer.pk}", {"phone": "(919) 555-0199"})
    assert changed.json()["phone"] == "(919) 555-0199"
    assert changed.json()["legal_name"] == "Capital Dental, PA"
    assert send(alice, "post", "/customers", CUSTOMER).status_code == 403
    assert send(alice, "patch", f"/customers/{customer.pk}", {"phone": "1"}).status_code == 403


@pytest.mark.parametrize(
    ("change", "status", "loc"),
    [
        ({"state": "North Carolina"}, 422, ["body", "payload", "state"]),
        ({"state": "N1"}, 422, ["body", "state"]),
        ({"time_zone": "Mars/Olympus"}, 422, ["body", "time_zone"]),
        ({"colour": "blue"}, 422, ["body", "payload", "colour"]),
        ({"postal_code": 27601}, 422, ["body", "payload", "postal_code"]),
        ({"legal_name": None}, 422, ["body", "payload", "legal_name"]),
        ({"legal_name": "Nul\x00Name"}, 422, ["body", "payload", "legal_name"]),
        ({"legal_name": "x" * 201}, 422, ["body", "payload", "legal_name"]),
        ({"external_ref": "TAKEN"}, 400, ["body", "external_ref"]),
    ],
)
def test_bad_customer_input_is_a_4xx_naming_the_field(staff, change, status, loc):
    CustomerFactory(external_ref="TAKEN")
    response = send(staff, "post", "/customers", {**CUSTOMER, **change})
    assert response.status_code == status, response.content
    assert loc in [error["loc"] for error in response.json()["detail"]]


def test_missing_field_and_malformed_json_name_the_field(staff):
    missing = send(staff, "post", "/customers", {k: v for k, v in CUSTOMER.items() if k != "phone"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "payload", "phone"]
    malformed = send(staff, "post", "/customers", raw='{"legal_name": "x",')
    assert malformed.status_code == 400
    [error] = malformed.json()["detail"]
    assert error["loc"] == ["body"] and error["msg"].startswith("Malformed JSON")
    not_object = send(staff, "post", "/customers", raw="[1, 2]")
    assert not_object.status_code == 422


def test_contacts_are_scoped_and_staff_add_them(customer_a, customer_b, alice, bob, staff):
    contact = ContactFactory(customer=customer_a, email="front@oakcity.example")
    ContactFactory(customer=customer_b)
    assert contact.pk in ids(get(alice, "/contacts"))
    assert all(c["customer_id"] == customer_a.pk for c in get(alice, "/contacts").json()["items"])
    assert get(bob, f"/contacts/{contact.pk}").status_code == 404
    new = {"name": "Rita Books", "email": "Rita@OakCity.example", "is_billing_contact": True}
    created = send(staff, "post", f"/customers/{customer_a.pk}/contacts", new)
    assert created.status_code == 201
    assert created.json()["email"] == "rita@oakcity.example"
    again = send(staff, "post", f"/customers/{customer_a.pk}/contacts", new)
    assert again.status_code == 422
    assert again.json()["detail"][0]["loc"] == ["body", "email"]
    assert send(alice, "post", f"/customers/{customer_a.pk}/contacts", new).status_code == 403
    patch = send(staff, "patch", f"/contacts/{contact.pk}", {"title": "Office manager"})
    assert patch.json()["title"] == "Office manager"


# Agreements -------------------------------------------------------------------------------------


def test_agreements_show_terms_and_customers_never_see_drafts(
    signed, customer_a, alice, bob, staff
):
    draft = draft_with_all_services(customer=customer_a).agreement
    agreement = signed.agreement
    assert set(ids(get(staff, "/agreements"))) == {agreement.pk, draft.pk}
    listed = get(alice, "/agreements").json()["items"]
    assert [item["id"] for item in listed] == [agreement.pk]
    term = listed[0]["current_term"]
    first = agreement.terms.get()
    assert term["start"] == first.start.isoformat()
    assert term["last_day"] == first.last_day.isoformat()
    assert term["notice_deadline"] == first.notice_deadline.isoformat()
    assert term["locked_rates"]["rates"][0]["price"] == "150.00"
    assert get(bob, "/agreements").json()["count"] == 0
    assert get(bob, f"/agreements/{agreement.pk}").status_code == 404
    assert get(alice, f"/agreements/{draft.pk}").status_code == 404
    assert get(staff, "/agreements", status="draft").json()["count"] == 1


def test_agreement_detail_has_versions_exhibit_b_and_schedules(signed, alice):
    body = get(alice, f"/agreements/{signed.agreement_id}").json()
    assert body["status"] == "active"
    [version] = body["versions"]
    assert version["status"] == "signed" and version["has_signed_pdf"]
    kinds = [line["kind"] for line in version["lines"]]
    assert kinds == ["maintenance", "prescheduled", "emergency", "hosting"]
    maintenance = version["lines"][0]
    assert maintenance["hours_per_visit"] == "2.00"
    assert maintenance["schedule"] == {
        "rrule": "FREQ=MONTHLY;BYDAY=+3WE",
        "start_time": "10:00:00",
        "duration_minutes": 120,
        "schedule_text": "The third Wednesday of every month at 10:00 for 2 hours",
    }
    assert version["lines"][2]["response_tier"] == "1 hour, 24×7"
    assert version["lines"][3]["schedule"] is None
    assert [term["number"] for term in body["terms"]] == [1]


# Termination requests ------------------------------------------------------------------------


def test_customer_files_a_termination_request_and_reads_what_it_means(signed, alice, bob):
    agreement = signed.agreement
    path = f"/agreements/{agreement.pk}/termination-requests"
    payload = {"reason": "Moving offices", "typed_name": "Alice Moore"}
    assert send(bob, "post", path, payload).status_code == 404
    response = send(alice, "post", path, payload)
    assert response.status_code == 201, response.content
    body = response.json()
    term = agreement.terms.get()
    assert body["timely"] is True
    assert body["channel"] == "portal"
    assert body["last_day"] == term.last_day.isoformat()
    assert body["notice_deadline"] == term.notice_deadline.isoformat()
    assert (
        body["message"]
        == f"Your agreement will end on {term.last_day:%B %-d, %Y} and will not renew."
    )
    again = send(alice, "post", path, payload)
    assert again.status_code == 400
    assert "already stands" in again.json()["detail"][0]["msg"]
    assert get(alice, "/termination-requests").json()["count"] == 1
    assert get(bob, f"/termination-requests/{body['id']}").status_code == 404
    withdrawn = send(alice, "post", f"/termination-requests/{body['id']}/withdraw")
    assert withdrawn.json()["status"] == "withdrawn"


def test_staff_record_a_late_letter_in_the_customers_time(signed, alice, staff):
    agreement = signed.agreement
    term = agreement.terms.get()
    path = f"/agreements/{agreement.pk}/termination-requests"
    late = dt.datetime.combine(term.notice_deadline + dt.timedelta(days=1), dt.time(0, 30))
    payload = {"reason": "Budget", "typed_name": "Alice Moore", "channel": "letter"}
    missing = send(staff, "post", path, payload)
    assert missing.status_code == 400
    assert missing.json()["detail"][0]["loc"] == ["body", "received_at"]
    customer_time = send(alice, "post", path, {**payload, "received_at": late.isoformat()})
    assert customer_time.json()["detail"][0]["loc"] == ["body", "received_at"]
    # The future is refused by the lifecycle, so record it as of the day after the deadline
    # by pretending the letter came then: the API passes the local time through unchanged.
    past = dt.datetime(2020, 1, 2, 0, 30)
    response = send(staff, "post", path, {**payload, "received_at": past.isoformat()})
    assert response.status_code == 201, response.content
    received = dt.datetime.fromisoformat(response.json()["received_at"])
    assert received.astimezone(agreement.tz).replace(tzinfo=None) == past
    not_a_date = send(staff, "post", path, {**payload, "received_at": "2026-02-30T10:00"})
    assert not_a_date.status_code == 422
    assert not_a_date.json()["detail"][0]["loc"] == ["body", "payload", "received_at"]


# Rate reviews ------------------------------------------------------------------------------------


def test_admins_alone_set_and_finalize_next_term_rates(signed, alice, staff, admin):
    agreement = signed.agreement
    path = f"/agreements/{agreement.pk}/rate-review"
    assert send(staff, "put", path, {"method": "keep"}).status_code == 403
    assert send(alice, "put", path, {"method": "keep"}).status_code == 403
    too_precise = send(admin, "put", path, {"method": "uplift", "uplift_percent": "3.125"})
    assert too_precise.status_code == 422
    assert too_precise.json()["detail"][0]["loc"] == ["body", "payload", "uplift_percent"]
    no_percent = send(admin, "put", path, {"method": "uplift"})
    assert no_percent.status_code == 422
    assert no_percent.json()["detail"][0]["loc"] == ["body", "uplift_percent"]
    mixed = send(admin, "put", path, {"method": "keep", "uplift_percent": "3.5"})
    assert mixed.status_code == 422
    assert mixed.json()["detail"][0]["loc"] == ["body", "uplift_percent"]
    assert mixed.json()["detail"][0]["type"] == "uplift_with_another_method"
    saved = send(admin, "put", path, {"method": "uplift", "uplift_percent": "5"})
    assert saved.status_code == 200, saved.content
    review = saved.json()
    assert (review["status"], review["uplift_percent"], review["term_number"]) == (
        "draft",
        "5.00",
        2,
    )
    assert review["rates"]["rates"][0]["price"] == "157.50"
    assert get(alice, "/rate-reviews").json()["count"] == 0  # drafts stay internal
    assert get(staff, f"/rate-reviews/{review['id']}").status_code == 200
    finalize = f"/rate-reviews/{review['id']}/finalize"
    assert send(staff, "post", finalize).status_code == 403
    assert send(admin, "post", finalize).json()["status"] == "finalized"
    assert RateReview.objects.get().status == RateReview.Status.FINALIZED
    assert ids(get(alice, "/rate-reviews")) == [review["id"]]
    assert send(admin, "post", finalize).status_code == 400


# Rate cards --------------------------------------------------------------------------------------

CARD = {
    "title": "Standard rates 2027",
    "lines": [
        {"kind": "onsite_hourly", "name": "On-site support", "price": "160.00"},
        {"kind": "remote_hourly", "name": "Remote support", "price": 125},
        {"kind": "emergency_hourly", "name": "Emergency support", "price": "235.50"},
        {"kind": "after_hours_hourly", "name": "After-hours support", "price": "205.00"},
        {"kind": "hosting_monthly", "name": "Website hosting", "price": "49.00"},
    ],
}


def test_staff_read_rate_cards_customers_do_not_and_admins_alone_change_them(alice, staff, admin):
    assert get(alice, "/rate-cards").status_code == 403
    assert send(staff, "post", "/rate-cards", CARD).status_code == 403
    created = send(admin, "post", "/rate-cards", CARD)
    assert created.status_code == 201, created.content
    card = created.json()
    assert card["status"] == "draft"
    assert [line["price"] for line in card["lines"]] == [
        "160.00",
        "125.00",
        "235.50",
        "205.00",
        "49.00",
    ]
    assert [line["unit"] for line in card["lines"]][-2:] == ["hour", "month"]
    assert ids(get(staff, "/rate-cards")) == [card["id"]]
    second = send(admin, "post", "/rate-cards", CARD)
    assert second.status_code == 400  # one draft at a time
    publish = f"/rate-cards/{card['id']}/publish"
    assert send(staff, "post", publish, {"effective_date": "2027-01-01"}).status_code == 403
    not_a_date = send(admin, "post", publish, {"effective_date": "2027-02-30"})
    assert not_a_date.status_code == 422
    assert not_a_date.json()["detail"][0]["loc"] == ["body", "payload", "effective_date"]
    past = send(admin, "post", publish, {"effective_date": "2020-01-01"})
    assert past.status_code == 400
    future = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    published = send(admin, "post", publish, {"effective_date": future})
    assert published.json()["status"] == "published"
    copy = send(admin, "post", f"/rate-cards/{card['id']}/new-version")
    assert copy.status_code == 201 and copy.json()["version"] == card["version"] + 1


@pytest.mark.parametrize(
    ("line", "loc"),
    [
        ({"price": "150.005"}, ["body", "payload", "lines", 0, "price"]),
        ({"price": -1}, ["body", "payload", "lines", 0, "price"]),
        ({"kind": "gold"}, ["body", "payload", "lines", 0, "kind"]),
        ({"name": "Remote support"}, ["body", "lines", 1]),  # the duplicate, with "name"
    ],
)
def test_bad_rate_card_lines_name_the_line_and_field(admin, line, loc):
    lines = [dict(CARD["lines"][0], **line), *CARD["lines"][1:]]
    response = send(admin, "post", "/rate-cards", {**CARD, "lines": lines})
    assert response.status_code == 422, response.content
    assert loc in [error["loc"] for error in response.json()["detail"]]
    assert not RateCard.objects.exists()


# Visits ------------------------------------------------------------------------------------------


def test_visits_filter_by_dates_technician_and_customer(signed, alice, bob, staff):
    visits = Visit.objects.filter(agreement=signed.agreement).order_by("starts_at")
    first = visits.first()
    Visit.objects.filter(pk=first.pk).update(technician=staff)
    assert get(bob, "/visits").json()["count"] == 0
    assert get(bob, f"/visits/{first.pk}").status_code == 404
    assert get(alice, "/visits", page_size=100).json()["count"] == visits.count()
    start = timezone.localdate() + dt.timedelta(days=31)
    month = get(
        alice,
        "/visits",
        date_from=start.isoformat(),
        date_to=(start + dt.timedelta(days=30)).isoformat(),
    )
    days = [dt.datetime.fromisoformat(v["local_start"]).date() for v in month.json()["items"]]
    assert days and all(start <= day <= start + dt.timedelta(days=30) for day in days)
    mine = get(staff, "/visits", technician_id=staff.pk).json()
    assert [v["id"] for v in mine["items"]] == [first.pk]
    assert mine["items"][0]["technician"] == {"id": staff.pk, "name": str(staff)}
    customer = signed.agreement.customer_id
    assert get(staff, "/visits", customer_id=customer).json()["count"] == visits.count()
    assert get(staff, "/visits", customer_id=customer + 1000).json()["count"] == 0
    bad = get(staff, "/visits", date_from="next month")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "date_from"]


def test_huge_ids_and_pages_are_4xx_not_5xx(staff):
    assert get(staff, f"/customers/{2**70}").status_code == 422
    assert get(staff, "/customers", page=10**12).status_code == 422
    assert get(staff, "/customers", page_size=1000).status_code == 422


# Invoices --------------------------------------------------------------------------------------


def test_invoices_are_scoped_with_lines_payments_and_money_as_strings(signed, alice, bob, staff):
    from billing.tests.factories import make_invoice

    invoice = make_invoice(signed.agreement, issued_on=timezone.localdate())
    assert get(bob, "/invoices").json()["count"] == 0
    assert get(bob, f"/invoices/{invoice.pk}").status_code == 404
    assert get(bob, f"/invoices/{invoice.pk}/pdf").status_code == 404
    body = get(alice, f"/invoices/{invoice.pk}").json()
    assert (body["number"], body["total"], body["balance"]) == (
        invoice.number,
        "1170.00",
        "1170.00",
    )
    assert body["lines"][0]["amount"] == "1170.00" and body["lines"][0]["quantity"] == "1.00"
    pdf = get(alice, body["pdf_url"].removeprefix(API))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    path = f"/invoices/{invoice.pk}/payments"
    today = timezone.localdate().isoformat()
    assert send(alice, "post", path, {"amount": "1", "received_on": today}).status_code == 403
    cents = send(staff, "post", path, {"amount": "10.005", "received_on": today})
    assert cents.status_code == 422
    assert cents.json()["detail"][0]["loc"] == ["body", "payload", "amount"]
    as_credit = send(staff, "post", path, {"amount": "1", "received_on": today, "method": "credit"})
    assert as_credit.status_code == 400
    assert "Apply credit" in as_credit.json()["detail"][0]["msg"]
    paid = send(staff, "post", path, {"amount": "1200.00", "received_on": today, "method": "check"})
    assert paid.status_code == 201 and paid.json()["to_credit"] == "30.00"  # held as credit
    after = get(alice, f"/invoices/{invoice.pk}").json()
    assert (after["status"], after["balance"], after["payments"][0]["amount"]) == (
        "paid",
        "0.00",
        "1200.00",
    )
    assert get(staff, "/invoices", status="paid").json()["count"] == 1


# Query counts ------------------------------------------------------------------------------------


@pytest.fixture
def many(customer_a, alice, admin, staff):
    """Three signed agreements of customer A, each with a termination request and a review."""
    from agreements.tests.factories import signed_agreement
    from billing.tests.factories import published_card

    published_card()
    published_card(effective_date=dt.date(2026, 6, 1))
    for _ in range(3):
        version = signed_agreement(customer=customer_a, customer_user=alice, admin=admin, pdf=False)
        ContactFactory(customer=customer_a)
        lifecycle.save_rate_review(
            version.agreement, method="keep", by=admin, today=timezone.localdate()
        )
        lifecycle.file_termination_request(
            version.agreement,
            by=alice,
            received_at=timezone.now(),
            reason="Moving",
            typed_name="Alice Moore",
            channel="portal",
        )
    from billing.tests.factories import make_invoice

    for month, agreement in enumerate(Agreement.objects.all(), 1):
        make_invoice(agreement, issued_on=dt.date(2026, month, 1))
    Visit.objects.update(technician=staff)
    CustomerFactory.create_batch(3)
    return Agreement.objects.all()


# Every list: 1 query for the token (look-up with its user; its last use was noted less than a
# minute ago, so no write), the page, one per prefetched relation (agreements: terms; rate cards:
# lines), and the count when the page is full (a short page is the last one and tells the count).
LISTS = [
    ("/customers", 3),
    ("/contacts", 3),
    ("/agreements", 4),
    ("/termination-requests", 3),
    ("/rate-reviews", 3),
    ("/visits", 3),
    ("/rate-cards", 4),
    ("/invoices", 5),  # + the lines and the payments
]


@pytest.mark.parametrize(("path", "queries"), LISTS)
def test_list_endpoints_use_constant_queries_whatever_the_page_size(many, admin, path, queries):
    headers = bearer(admin)
    ApiToken.objects.filter(user=admin).update(last_used_at=timezone.now())
    for size in (1, 2, 100):
        with CaptureQueriesContext(connection) as done:
            response = Client().get(f"{API}{path}", {"page_size": size}, headers=headers)
        assert response.status_code == 200
        items = response.json()["items"]
        assert len(items) == min(size, response.json()["count"])
        assert len(done) == queries - (len(items) < size), [q["sql"] for q in done]
    assert response.json()["count"] >= 2
    assert response.json()["count_capped"] is False


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_a_list_counts_up_to_the_limit_and_says_when_there_are_more(
    customer_a, staff, monkeypatch, limit
):
    """The count is exact up to COUNT_LIMIT (here made small), then capped and flagged; every
    page, full, short or past the end, agrees with the rows there are."""
    from allora import api

    monkeypatch.setattr(api, "COUNT_LIMIT", limit)
    CustomerFactory.create_batch(3)
    total = Customer.objects.count()  # 4
    for size in (1, 2, 3, 4, 5):
        for page in range(1, total // size + 3):
            data = get(staff, "/customers", page=page, page_size=size).json()
            assert len(data["items"]) == max(0, min(size, total - (page - 1) * size))
            if data["items"] and len(data["items"]) < size:  # the last page: exact
                assert (data["count"], data["count_capped"]) == (total, False)
            else:
                assert data["count"] == min(total, limit)
                assert data["count_capped"] is (total > limit)


@pytest.mark.parametrize(
    ("path", "fields"),
    [("/visits", None), ("/invoices", None), ("/agreements", AgreementOut.model_fields)],
)
def test_each_list_row_is_what_the_schema_makes_of_the_object(many, staff, alice, path, fields):
    """The visit, invoice and agreement lists build their rows by hand (allora.api.paginate_rows):
    each equals the object's own endpoint, which ninja validates through the schema."""
    for user in (staff, alice):
        items = get(user, path, page_size=100).json()["items"]
        assert items
        for item in items:
            one = get(user, f"{path}/{item['id']}").json()
            assert item == (one if fields is None else {key: one[key] for key in fields})

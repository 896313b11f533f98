"""Dates and numbers people type are bounded where they come in: a date outside 2000-01-01 ..
2100-12-31, or a number of thousands of digits, is a form error or a 4xx naming the field (or a
query string that falls back to today), never a server error."""

import datetime as dt
import importlib
import inspect
import json
from decimal import Decimal

import pytest
from django import forms
from django.contrib.admin import site
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory
from django.urls import reverse
from pydantic import TypeAdapter, ValidationError

from agreements.forms import ServiceLineForm
from agreements.models import ServiceKind
from allora.tests.api_support import bearer
from allora.validation import (
    DATE_RANGE_MESSAGE,
    BoundedDate,
    BoundedDateField,
    BoundedDateTimeField,
    date_in_range,
    query_date,
    query_id,
)
from billing.forms import TimeEntryForm
from billing.models import DiscountPolicy
from scheduling.models import Holiday

OUT_OF_RANGE = ["1999-12-31", "2101-01-01", "9999-12-31", "0001-01-01"]
HUGE = "9" * 5000  # more digits than int() converts from text
LONG = "9" * 30  # more than the database's 64-bit integers


def test_the_accepted_range_includes_both_ends_for_dates_and_datetimes():
    assert date_in_range(dt.date(2000, 1, 1)) and date_in_range(dt.date(2100, 12, 31))
    assert not date_in_range(dt.date(1999, 12, 31)) and not date_in_range(dt.date(2101, 1, 1))
    assert date_in_range(dt.datetime(2100, 12, 31, 23, 59, tzinfo=dt.UTC))
    assert not date_in_range(dt.datetime(9999, 12, 31, 23, 59))


def test_a_query_string_date_out_of_range_falls_back_to_the_default():
    today = dt.date(2027, 3, 1)
    assert query_date("2100-12-31", default=today) == dt.date(2100, 12, 31)
    for text in [*OUT_OF_RANGE, "", None, "2027-02-30", "tomorrow"]:
        assert query_date(text, default=today) == today


def test_a_query_string_id_is_a_positive_64_bit_number_in_ascii_digits():
    assert query_id("42") == 42
    assert query_id(str(2**63 - 1)) == 2**63 - 1
    for text in [HUGE, LONG, str(2**63), "0", "-1", "²", "٣", " 4", "4a", "", None]:
        assert query_id(text) is None, text


@pytest.mark.parametrize("text", OUT_OF_RANGE)
def test_api_dates_out_of_range_are_refused_with_the_range(text):
    with pytest.raises(ValidationError, match=DATE_RANGE_MESSAGE):
        TypeAdapter(BoundedDate).validate_python(text)
    assert TypeAdapter(BoundedDate).validate_python("2100-12-31") == dt.date(2100, 12, 31)


# Forms -----------------------------------------------------------------------------------------

FORM_MODULES = ["agreements.forms", "billing.forms", "delivery.forms", "scheduling.forms"]


def _form_classes():
    for name in FORM_MODULES:
        module = importlib.import_module(name)
        for cls in vars(module).values():
            if inspect.isclass(cls) and issubclass(cls, forms.BaseForm) and cls.__module__ == name:
                yield cls


def test_every_date_field_of_every_form_is_bounded():
    """A new form with a plain DateField fails here: use allora.validation's fields."""
    checked = []
    for cls in _form_classes():
        for name, field in cls.base_fields.items():
            if isinstance(field, forms.DateField | forms.DateTimeField):
                assert isinstance(field, BoundedDateField | BoundedDateTimeField), (cls, name)
                checked.append(f"{cls.__name__}.{name}")
    # start dates, effective dates, visit moves, time entries, payments, exports, filters,
    # emergencies taken by phone, termination letters
    assert len(checked) >= 12, checked


@pytest.mark.parametrize("model", [Holiday, DiscountPolicy])
def test_admin_pages_refuse_far_dates(admin, model):
    request = RequestFactory().get("/")
    request.user = admin
    form = site._registry[model].get_form(request, None)(
        {"date": "9999-12-31", "effective_date": "9999-12-31"}
    )
    assert not form.is_valid()
    field = "date" if model is Holiday else "effective_date"
    assert form.errors[field] == [DATE_RANGE_MESSAGE]


def test_date_pickers_are_told_the_range():
    class Dates(forms.Form):
        day = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}))
        moment = BoundedDateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    form = Dates()
    assert 'min="2000-01-01" max="2100-12-31"' in str(form["day"])
    assert 'min="2000-01-01T00:00" max="2100-12-31T23:59"' in str(form["moment"])


@pytest.mark.parametrize("quantity", [HUGE[:4000], "1001", "99999999999"])
def test_a_huge_hosting_quantity_is_a_field_error(db, quantity):
    form = ServiceLineForm(
        {"package_name": "Website hosting", "quantity": quantity, "notes": ""},
        kind=ServiceKind.HOSTING,
        hosting_packages=[("Website hosting", Decimal("49.00"))],
    )
    assert not form.is_valid()
    assert form.errors["quantity"] == ["Enter a quantity from 1 to 1000."]


@pytest.mark.parametrize("work", [f"visit:{HUGE}", f"visit:{LONG}", "line:²", f"line:{HUGE}"])
def test_time_entry_work_with_a_huge_id_is_a_field_error(db, work):
    form = TimeEntryForm(
        {"work": work, "work_date": "2027-01-05", "hours": "1"},
        agreement=None,
        visits=[],
        lines=[],
    )
    assert not form.is_valid()
    assert form.errors["work"] == ["Choose a visit or a service of this agreement."]


# Pages reached with query strings ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("scheduling:calendar", {"customer": HUGE}),
        ("scheduling:calendar", {"technician": LONG, "customer": LONG}),
        ("scheduling:calendar", {"month": "9999-12"}),
        ("scheduling:my_calendar", {"month": "0001-01"}),
        ("scheduling:my_schedule", {"day": "9999-12-31"}),
        ("scheduling:visit_list", {"from": "9999-12-31", "customer": LONG}),
        ("agreements:agreement_list", {"customer": HUGE}),
        ("agreements:agreement_list", {"customer": LONG}),
        ("billing:invoice_list", {"issued_from": "9999-12-31", "customer": LONG}),
        ("billing:time_entry_create", {"visit": HUGE}),
        ("billing:time_entry_create", {"visit": LONG}),
    ],
)
def test_far_dates_and_huge_ids_in_the_query_string_are_not_server_errors(
    client_for, staff, url, params
):
    response = client_for(staff).get(reverse(url), params)
    assert response.status_code == 200


def test_the_invoice_filter_names_the_range(client_for, staff):
    page = client_for(staff).get(reverse("billing:invoice_list"), {"issued_to": "9999-12-31"})
    assert DATE_RANGE_MESSAGE in page.content.decode()


def test_the_portal_calendar_ignores_a_far_month(client_for, alice):
    response = client_for(alice).get(reverse("portal:calendar"), {"month": "9999-12"})
    assert response.status_code == 200


# API bodies and filters --------------------------------------------------------------------------

API = "/api/v1"


def _api(user, method, path, payload=None, **params):
    client = Client()
    if method == "get":
        return client.get(f"{API}{path}", params, headers=bearer(user))
    return client.post(
        f"{API}{path}", json.dumps(payload), content_type="application/json", headers=bearer(user)
    )


def _refused(response, loc):
    assert response.status_code == 422, response.content
    [error] = response.json()["detail"]
    assert error["loc"][-1] == loc
    assert DATE_RANGE_MESSAGE in error["msg"]


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_api_filters_and_bodies_refuse_far_dates_with_the_range(staff, admin, day):
    for path, field in [
        ("/visits", "date_from"),
        ("/visits", "date_to"),
        ("/invoices", "issued_from"),
        ("/invoices", "issued_to"),
    ]:
        _refused(_api(staff, "get", path, **{field: day}), field)
    _refused(
        _api(staff, "post", "/invoices/1/payments", {"amount": "10.00", "received_on": day}),
        "received_on",
    )
    _refused(
        _api(admin, "post", "/rate-cards/1/publish", {"effective_date": day}), "effective_date"
    )
    letter = {"reason": "Budget", "typed_name": "Alice", "channel": "letter"}
    _refused(
        _api(
            staff,
            "post",
            "/agreements/1/termination-requests",
            {**letter, "received_at": f"{day}T10:00:00"},
        ),
        "received_at",
    )


def test_the_jobs_commands_refuse_a_far_today(db):
    for day in ("9999-12-31", "1999-12-31"):
        with pytest.raises(CommandError, match="Enter a date from 2000-01-01 to 2100-12-31"):
            call_command("renew_agreements", "--today", day)

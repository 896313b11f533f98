"""A fuzz test of the import (issue 12): out-of-range dates and huge numbers in every date and
number field of an agreement, in JSON and in CSV. Never an exception; every bad value is an
error on its row's line, and nothing is written."""

import datetime as dt
import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreements import importing
from agreements.models import Agreement, Customer
from agreements.tests.import_samples import sample_document
from agreements.tests.test_import import _csv

TODAY = dt.date(2026, 11, 28)

DATES = ("signed_on", "start_date", "billed_through")
NUMBERS = ("billing_day", "payment_terms_days", "terms_version")
SERVICE_NUMBERS = (("duration_minutes", 0), ("hours_per_visit", 0), ("quantity", 4))

dates = st.one_of(
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)).map(dt.date.isoformat),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
)
numbers = st.one_of(
    st.integers(min_value=-(10**9), max_value=10**9).map(str),
    st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n),
    st.integers(min_value=1, max_value=6000).map(lambda n: "-1" + "0" * n),
    st.sampled_from(["1e999999", "-1e-999999", "1.5", "0.001", "1" + "0" * 400 + ".5", "NaN"]),
)


def _in_range(text):
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return False
    return dt.date(2000, 1, 1) <= day <= dt.date(2100, 12, 31)


ALLOWED = {
    "billing_day": range(1, 29),
    "payment_terms_days": (15, 30, 45, 60),
    # In range; an unpublished version is reported once the rest of the row is valid.
    "terms_version": range(1, 1_000_001),
    "duration_minutes": range(1, 24 * 60 + 1),
    "quantity": range(1, 10_001),
}


def _number_ok(name, text):
    if name == "hours_per_visit":
        return bool(re.fullmatch(r"\d{1,3}(\.\d{1,2})?", text)) and float(text) > 0
    return bool(re.fullmatch(r"-?\d{1,9}", text)) and int(text) in ALLOWED[name]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fmt=st.sampled_from(["json", "csv"]),
    date_field=st.sampled_from(DATES),
    date=dates,
    number_field=st.sampled_from(NUMBERS + SERVICE_NUMBERS),
    number=numbers,
)
def test_any_date_or_number_is_a_row_error_or_imports_never_an_exception(
    admin, fmt, date_field, date, number_field, number
):
    document = sample_document()
    agreement = document["agreements"][0]
    agreement[date_field] = date
    if isinstance(number_field, tuple):
        name, index = number_field
        agreement["services"][index][name] = "NUMBER_HERE"
    else:
        name = number_field
        agreement[name] = "NUMBER_HERE"
    if fmt == "json":
        # The number as the file writes it, digits and all (json.dumps cannot write 5,000).
        data = json.dumps(document, indent=1).replace('"NUMBER_HERE"', number).encode()
    else:
        data = _csv(document).replace(b"NUMBER_HERE", number.encode())
    report = importing.import_bytes(data, name=f"x.{fmt}", by=admin, today=TODAY, dry_run=True)

    fields = {error.field.rsplit(".", 1)[-1] for error in report.errors}
    if not _in_range(date):
        assert date_field in fields, report.errors
    if not _number_ok(name, number):
        assert name in fields, report.errors
    for error in report.errors:
        assert error.line > 0, error  # on its row, never "the file"
        assert len(error.reason) < 300  # a message, not the 5,000 digits echoed back
    assert not Agreement.objects.exists() and not Customer.objects.exists()

"""Importing existing agreements (JSON and CSV), exporting them, and the round trip."""

import base64
import copy
import csv
import datetime as dt
import io
import json

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction

from agreements import exporting, importing
from agreements.models import Agreement, AgreementEvent, Contact, Customer, RateReview
from agreements.tests.factories import CustomerFactory
from agreements.tests.import_samples import PDF, RATES, SERVICES, sample_document, uplifted
from scheduling.models import Visit

TODAY = dt.date(2026, 11, 28)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def run(document, admin, *, name="agreements.json", today=TODAY, **kwargs):
    data = json.dumps(document).encode() if name.endswith(".json") else document
    return importing.import_bytes(data, name=name, by=admin, today=today, **kwargs)


def test_imported_agreement_is_active_with_terms_up_to_today(admin):
    report = run(sample_document(), admin)
    assert report.ok, report.errors
    assert (report.customers_created, report.contacts_created, report.agreements_created) == (
        1,
        2,
        1,
    )
    agreement = Agreement.objects.get(external_ref="A-00001")
    assert agreement.status == Agreement.Status.ACTIVE
    assert agreement.number == "CA-2024-0001"
    assert agreement.customer.external_ref == "C-00001"
    terms = list(agreement.terms.order_by("number"))
    # Signed 2024-03-15: term 1 from the signature, then one renewal per year up to today.
    assert [(t.number, t.start, t.end) for t in terms] == [
        (1, dt.date(2024, 3, 15), dt.date(2025, 3, 15)),
        (2, dt.date(2025, 3, 15), dt.date(2026, 3, 15)),
        (3, dt.date(2026, 3, 15), dt.date(2027, 3, 15)),
    ]
    assert all(t.locked_rates == terms[0].locked_rates for t in terms)  # carried over
    assert terms[-1].notice_deadline == dt.date(2027, 2, 12)
    version = agreement.signed_version()
    assert version.signer.email == "pat@customer00001.example"
    assert version.content_sha256
    lines = list(version.lines.all())
    assert [line.kind for line in lines] == [
        "maintenance",
        "prescheduled",
        "emergency",
        "hosting",
        "hosting",
    ]
    assert lines[0].schedule_text == "The third Wednesday of every month at 10:00 for 2 hours"
    assert lines[0].checklist == ["Inspections", "Updates", "Backups", "Scans"]
    assert lines[4].notes == "12 mailboxes" and lines[4].quantity == 12
    assert AgreementEvent.objects.filter(agreement=agreement, kind="imported").exists()
    assert report.agreements[0].terms == 3


def test_visits_are_planned_from_today_for_the_current_term_only(admin):
    run(sample_document(), admin)
    visits = Visit.objects.filter(agreement__external_ref="A-00001")
    assert visits.exists()
    assert {visit.term.number for visit in visits} == {3}
    assert min(visit.local_day for visit in visits) >= TODAY
    # Every Tuesday and the third Wednesday, from Nov 28, 2026 to Mar 14, 2027.
    tuesdays = visits.filter(line__kind="prescheduled").count()
    assert tuesdays == 15
    assert visits.filter(line__kind="maintenance").count() == 3  # Dec 16, Jan 20, Feb 17


def test_rate_changes_lock_the_later_terms_as_finalized_reviews(admin):
    document = sample_document()
    raised = uplifted(RATES, 1.05)
    document["agreements"][0]["rate_changes"] = [
        {"term": 3, "method": "uplift", "uplift_percent": "5.00", "rates": raised}
    ]
    assert run(document, admin).ok
    agreement = Agreement.objects.get(external_ref="A-00001")
    terms = list(agreement.terms.order_by("number"))
    assert terms[1].locked_rates == terms[0].locked_rates
    assert terms[2].locked_rates["rates"][0]["price"] == "147.00"
    review = RateReview.objects.get(agreement=agreement)
    assert (review.term_number, review.status, review.method) == (3, "finalized", "uplift")


def test_a_signature_in_the_future_or_a_change_past_the_next_term_is_refused(admin):
    document = sample_document(signed_on=dt.date(2026, 12, 1))
    report = run(document, admin)
    assert [(e.field, e.reason) for e in report.errors] == [
        ("signed_on", "is after today (2026-11-28)")
    ]
    document = sample_document()
    document["agreements"][0]["rate_changes"] = [{"term": 5, "rates": RATES}]
    report = run(document, admin)
    assert [e.field for e in report.errors] == ["rate_changes"]


def test_importing_the_same_file_again_changes_nothing(admin):
    document = sample_document(3)
    assert run(document, admin).ok
    counts = (Customer.objects.count(), Contact.objects.count(), Visit.objects.count())
    again = run(document, admin)
    assert again.ok
    assert (again.customers_created, again.contacts_created, again.agreements_created) == (0, 0, 0)
    assert (again.customers_existing, again.agreements_existing) == (3, 3)
    assert (Customer.objects.count(), Contact.objects.count(), Visit.objects.count()) == counts


def test_an_existing_customer_with_the_same_legal_name_is_adopted(admin):
    existing = CustomerFactory(legal_name="Sample Customer 1, LLC")
    report = run(sample_document(), admin)
    assert report.ok and report.customers_existing == 1
    existing.refresh_from_db()
    assert existing.external_ref == "C-00001"
    assert existing.agreements.get().external_ref == "A-00001"


BAD_JSON = """{
  "customers": [
    {"external_ref": "C-1", "legal_name": "Oak City Dental, PLLC", "address_line1": "1 Main St",
     "postal_code": "27603", "phone": "919", "time_zone": "Mars/Olympus",
     "contacts": [{"name": "Pat", "email": "not-an-email"}]}
  ],
  "agreements": [
    {"external_ref": "A-1", "customer_ref": "C-1", "signed_on": "2024-02-30",
     "rates": {"rates": [{"kind": "onsite_hourly", "name": "On-site", "unit": "hour",
                          "price": 150.005}]},
     "services": [
       {"kind": "maintenance", "hours_per_visit": "2", "rrule": "FREQ=SOMETIMES",
        "start_time": "10:00", "duration_minutes": 120},
       {"kind": "hosting", "package_name": "Gold", "colour": "blue"}
     ]},
    {"external_ref": "A-2", "customer_ref": "C-404", "signed_on": "2024-01-01",
     "rates": {"rates": []}, "services": [{"kind": "emergency"}]}
  ]
}
"""


def test_each_bad_row_is_reported_with_its_line_and_nothing_is_written(admin):
    report = importing.import_bytes(BAD_JSON.encode(), name="bad.json", by=admin, today=TODAY)
    assert [(e.line, e.field, e.reason) for e in report.errors] == [
        (3, "time_zone", "'Mars/Olympus' is not a known time zone"),
        (5, "email", "is not an email address"),
        (
            8,
            "signed_on",
            "Input should be a valid date or datetime, day value is outside expected range",
        ),
        (9, "price", "has more than two decimals"),
        (12, "rrule", "The schedule must repeat daily, weekly, monthly or yearly."),
        (14, "colour", "is not a known field"),
        (16, "customer_ref", "names no customer: 'C-404'"),
        (17, "rates.rates", "List should have at least 1 item after validation, not 0"),
        (17, "response_tier", "is required for Emergency Support"),
    ]
    assert not report.ok
    assert Customer.objects.count() == 0 and Agreement.objects.count() == 0


def test_an_rrule_that_does_not_parse_is_reported_on_its_line(admin):
    document = sample_document()
    document["agreements"][0]["services"][0]["rrule"] = "FREQ=SOMETIMES"
    text = json.dumps(document, indent=2)
    report = importing.import_bytes(text.encode(), name="x.json", by=admin, today=TODAY)
    [error] = report.errors
    assert error.field == "rrule"
    assert error.reason == "The schedule must repeat daily, weekly, monthly or yearly."
    assert text.splitlines()[error.line - 1].strip() == "{"
    assert '"kind": "maintenance"' in text.splitlines()[error.line]


def test_malformed_json_and_csv_are_reported(admin):
    report = importing.import_bytes(
        b'{"customers": [\n  {"a": 1,,}\n]}', name="x.json", by=admin, today=TODAY
    )
    assert [(e.line, e.field) for e in report.errors] == [(2, "file")]
    assert report.errors[0].reason.startswith("Malformed JSON")
    report = importing.import_bytes(b"\xff\xfe", name="x.json", by=admin, today=TODAY)
    assert report.errors[0].field == "file"
    report = importing.import_bytes(b"kind,name\n", name="x.csv", by=admin, today=TODAY)
    assert report.errors[0].field == "type"
    report = importing.import_bytes(b"<xml/>", name="x.xml", by=admin, today=TODAY)
    assert report.errors[0].reason == "The file must be .json or .csv."


def test_dry_run_reports_what_would_happen_and_writes_nothing(admin):
    report = run(sample_document(2), admin, dry_run=True)
    assert report.ok and report.dry_run
    assert report.agreements_created == 2
    assert report.agreements[0].visits_planned > 0
    assert Agreement.objects.count() == 0 and Customer.objects.count() == 0


def test_paper_contract_pdf_from_base64_is_stored_with_its_digest(admin):
    document = sample_document()
    document["agreements"][0]["pdf_base64"] = base64.b64encode(PDF).decode()
    assert run(document, admin).ok
    version = Agreement.objects.get().signed_version()
    assert version.signed_pdf.read() == PDF
    from agreements.signing import verify_signed_pdf

    assert verify_signed_pdf(version)[0]


def test_pdf_path_is_read_beside_the_file_and_must_stay_there(admin, tmp_path):
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "a1.pdf").write_bytes(PDF)
    document = sample_document()
    document["agreements"][0]["pdf_path"] = "contracts/a1.pdf"
    path = tmp_path / "import.json"
    path.write_text(json.dumps(document))
    assert importing.import_path(path, by=admin, today=TODAY, dry_run=True).ok
    document["agreements"][0]["pdf_path"] = "../../etc/passwd"
    path.write_text(json.dumps(document))
    report = importing.import_path(path, by=admin, today=TODAY)
    assert [e.field for e in report.errors] == ["pdf_path"]
    # An upload has no folder: the PDF must travel inside the file.
    document["agreements"][0]["pdf_path"] = "contracts/a1.pdf"
    report = run(document, admin)
    assert "pdf_base64" in report.errors[0].reason


def _roundtrip(document, admin, *, fmt):
    """Import, export, forget everything; import the export, export again."""

    def export():
        buffer = io.StringIO()
        data = exporting.export_document()
        if fmt == "csv":
            exporting.write_csv(data, buffer)
        else:
            exporting.write_json(data, buffer)
        return buffer.getvalue()

    name = f"agreements.{fmt}"
    if fmt == "csv":
        buffer = io.StringIO()
        exporting.write_csv(document, buffer)
        document = buffer.getvalue().encode()
    with transaction.atomic():
        assert run(document, admin, name=name).ok
        first = export()
        transaction.set_rollback(True)
    assert Agreement.objects.count() == 0
    report = importing.import_bytes(first.encode(), name=name, by=admin, today=TODAY)
    assert report.ok, report.errors
    return first, export()


def test_round_trip_json_loses_nothing(admin):
    document = sample_document(2)
    document["agreements"][0]["pdf_base64"] = base64.b64encode(PDF).decode()
    document["agreements"][1]["start_date"] = "2024-04-01"
    document["agreements"][1]["rate_changes"] = [
        {"term": 2, "method": "card", "rates": uplifted(RATES, 1.1)},
        {"term": 4, "method": "uplift", "uplift_percent": "3.50", "rates": uplifted(RATES, 1.2)},
    ]
    first, second = _roundtrip(document, admin, fmt="json")
    assert first == second
    exported = json.loads(first)
    for original, back in zip(document["agreements"], exported["agreements"], strict=True):
        for key, value in original.items():
            if key == "services":
                for service, service_back in zip(value, back["services"], strict=True):
                    assert service.items() <= service_back.items()
            else:
                assert back[key] == value, key
    for original, back in zip(document["customers"], exported["customers"], strict=True):
        assert {k: v for k, v in original.items() if k != "contacts"}.items() <= back.items()
        assert [c["email"] for c in original["contacts"]] == sorted(
            (c["email"] for c in back["contacts"]),
            key=[c["email"] for c in original["contacts"]].index,
        )


def test_round_trip_csv_loses_nothing(admin):
    document = sample_document(2)
    document["agreements"][0]["pdf_base64"] = base64.b64encode(PDF).decode()
    document["agreements"][1]["rate_changes"] = [
        {"term": 3, "method": "uplift", "uplift_percent": "5.00", "rates": uplifted(RATES, 1.05)}
    ]
    first, second = _roundtrip(document, admin, fmt="csv")
    assert first == second
    exported = exporting.export_document()
    assert exported["agreements"][0]["pdf_base64"] == document["agreements"][0]["pdf_base64"]
    assert exported["agreements"][1]["rate_changes"] == document["agreements"][1]["rate_changes"]
    assert exported["agreements"][1]["services"][0]["checklist"] == [
        "Inspections",
        "Updates",
        "Backups",
        "Scans",
    ]


def test_csv_rows_report_their_line(admin):
    buffer = io.StringIO()
    exporting.write_csv(copy.deepcopy(sample_document()), buffer)
    lines = buffer.getvalue().splitlines()
    service = next(
        i for i, line in enumerate(lines) if line.startswith("service,") and "WEEKLY" in line
    )
    lines[service] = lines[service].replace("FREQ=WEEKLY;BYDAY=TU", "FREQ=WEEKLY;BYDAY=XX")
    report = importing.import_bytes("\n".join(lines).encode(), name="x.csv", by=admin, today=TODAY)
    assert [(e.line, e.field) for e in report.errors] == [(service + 1, "rrule")]


def test_commands_import_and_export_files(admin, tmp_path):
    document = sample_document(2)
    document["agreements"][0]["pdf_base64"] = base64.b64encode(PDF).decode()
    source = tmp_path / "in.json"
    source.write_text(json.dumps(document))
    out = io.StringIO()
    call_command("import_agreements", str(source), "--today", "2026-11-28", stdout=out)
    assert "Imported 2 customers" in out.getvalue()
    call_command("export_agreements", str(tmp_path / "out.csv"), stderr=io.StringIO())
    exported = (tmp_path / "out.csv").read_text()
    assert exported.startswith("type,")
    assert (tmp_path / "out-pdfs" / "A-00001.pdf").read_bytes() == PDF
    assert "out-pdfs/A-00001.pdf" in exported
    # The CSV with its PDF folder imports again: everything is already there.
    out = io.StringIO()
    call_command(
        "import_agreements", str(tmp_path / "out.csv"), "--today", "2026-11-28", stdout=out
    )
    assert "0 agreements (2 already imported)" in out.getvalue()
    stdout = io.StringIO()
    call_command("export_agreements", stdout=stdout)
    assert json.loads(stdout.getvalue())["agreements"][0]["external_ref"] == "A-00001"


def test_command_reports_bad_rows_and_fails(admin, tmp_path):
    document = sample_document()
    document["agreements"][0]["signed_on"] = "15/03/2024"
    source = tmp_path / "in.json"
    source.write_text(json.dumps(document, indent=1))
    err = io.StringIO()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_agreements", str(source), stderr=err)
    assert "signed_on: must be a date written YYYY-MM-DD" in err.getvalue()


# Imports never back-bill: billed_through ----------------------------------------------------

NOV_15 = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))


def _csv(document):
    buffer = io.StringIO()
    exporting.write_csv(document, buffer)
    return buffer.getvalue().encode()


@time_machine.travel(NOV_15, tick=False)
def test_an_agreement_signed_in_2024_imported_without_billed_through_is_billed_from_december(
    admin,
):
    """Regression (issue 11, item 4): a paper agreement signed in March 2024 with a
    Prescheduled block, imported on 2026-11-15, must not be billed back to its signature."""
    prescheduled = [service for service in SERVICES if service["kind"] == "prescheduled"]
    document = sample_document(services=prescheduled)
    assert "billed_through" not in document["agreements"][0]
    report = run(document, admin, today=dt.date(2026, 11, 15))
    assert report.ok, report.errors
    agreement = Agreement.objects.get(external_ref="A-00001")
    assert agreement.billed_through == dt.date(2026, 11, 30)
    [item] = report.agreements
    assert item.billed_through == dt.date(2026, 11, 30)
    assert (item.first_invoice_period, item.first_invoice_on) == (
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 1),
    )
    event = AgreementEvent.objects.get(agreement=agreement, kind="imported")
    assert "through November 30, 2026" in event.message
    assert "first invoice here: December 2026, issued December 1, 2026" in event.message


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_billed_through_from_the_file_is_stored(admin, fmt):
    document = sample_document(2)
    document["agreements"][0]["billed_through"] = "2026-12-31"
    document["agreements"][0]["billing_day"] = 5
    document["agreements"][1]["billed_through"] = "2025-06-15"
    data = document if fmt == "json" else _csv(document)
    report = run(data, admin, name=f"agreements.{fmt}")
    assert report.ok, report.errors
    stored = dict(Agreement.objects.values_list("external_ref", "billed_through"))
    assert stored == {"A-00001": dt.date(2026, 12, 31), "A-00002": dt.date(2025, 6, 15)}
    first, second = report.agreements
    assert (first.first_invoice_period, first.first_invoice_on) == (
        dt.date(2027, 1, 1),
        dt.date(2027, 1, 5),
    )
    # Mid-month: the old system billed part of June; this system starts with July.
    assert (second.first_invoice_period, second.first_invoice_on) == (
        dt.date(2025, 7, 1),
        dt.date(2025, 7, 1),
    )


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2026, 11, 28), dt.date(2026, 11, 30)),
        (dt.date(2026, 12, 1), dt.date(2026, 12, 31)),
        (dt.date(2028, 2, 10), dt.date(2028, 2, 29)),
    ],
)
def test_without_billed_through_everything_to_the_end_of_the_import_month_was_billed(
    admin, today, expected
):
    assert run(sample_document(), admin, today=today).ok
    assert Agreement.objects.get().billed_through == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1999-12-31", "must lie between 2000-01-01 and 2100-12-31"),
        ("2101-01-01", "must lie between 2000-01-01 and 2100-12-31"),
        ("2027-11-29", "is more than a year after today (2026-11-28): at the latest 2027-11-28"),
        ("30/11/2026", "must be a date written YYYY-MM-DD"),
        ("2026-11", "must be a date written YYYY-MM-DD"),
        (20261130, "must be a date written YYYY-MM-DD"),
        (
            "2026-02-30",
            "Input should be a valid date or datetime, day value is outside expected range",
        ),
    ],
)
def test_a_bad_billed_through_is_reported_on_its_line_and_nothing_is_imported(admin, value, reason):
    document = sample_document(2)
    document["agreements"][1]["billed_through"] = value
    text = json.dumps(document, indent=2)
    report = importing.import_bytes(text.encode(), name="x.json", by=admin, today=TODAY)
    assert [(e.field, e.reason) for e in report.errors] == [("billed_through", reason)]
    assert '"external_ref": "A-00002"' in text.splitlines()[report.errors[0].line]
    assert Agreement.objects.count() == 0 and Customer.objects.count() == 0


def test_a_bad_billed_through_in_csv_is_reported_on_its_row(admin):
    document = sample_document()
    document["agreements"][0]["billed_through"] = "2026-13-01"
    lines = _csv(document).decode().splitlines()
    report = importing.import_bytes(_csv(document), name="x.csv", by=admin, today=TODAY)
    [error] = report.errors
    assert error.field == "billed_through"
    assert lines[error.line - 1].startswith("agreement,")
    assert Agreement.objects.count() == 0


def test_billed_through_up_to_a_year_ahead_is_accepted(admin):
    document = sample_document()
    document["agreements"][0]["billed_through"] = "2027-11-28"
    report = run(document, admin)
    assert report.ok, report.errors
    assert report.agreements[0].first_invoice_period == dt.date(2027, 12, 1)


def test_dry_run_reports_the_first_invoice_and_writes_nothing(admin):
    document = sample_document()
    document["agreements"][0]["billed_through"] = "2026-12-31"
    report = run(document, admin, dry_run=True)
    assert report.ok
    [item] = report.agreements
    assert item.billed_through == dt.date(2026, 12, 31)
    assert (item.first_invoice_period, item.first_invoice_on) == (
        dt.date(2027, 1, 1),
        dt.date(2027, 1, 1),
    )
    assert Agreement.objects.count() == 0


def test_an_agreement_already_imported_has_no_first_invoice_in_the_report(admin):
    assert run(sample_document(), admin).ok
    document = sample_document()
    document["agreements"][0]["billed_through"] = "2026-12-31"
    again = run(document, admin)
    [item] = again.agreements
    assert item.existing
    assert (item.billed_through, item.first_invoice_period, item.first_invoice_on) == (
        None,
        None,
        None,
    )
    # Left as it is.
    assert Agreement.objects.get().billed_through == dt.date(2026, 11, 30)


@pytest.mark.parametrize(
    ("billed_through", "first_start", "billing_day", "period", "issued_on"),
    [
        # The month after the last day billed, on the billing day.
        ("2026-11-30", "2024-03-15", 1, "2026-12-01", "2026-12-01"),
        ("2026-12-31", "2024-03-15", 10, "2027-01-01", "2027-01-10"),
        ("2026-11-15", "2024-03-15", 1, "2026-12-01", "2026-12-01"),
        # Nothing billed before the first term starts: its month, from the start day.
        ("2026-11-30", "2026-12-15", 1, "2026-12-01", "2026-12-15"),
        ("2026-12-14", "2026-12-15", 20, "2026-12-01", "2026-12-20"),
        # Billed through part of the first month: the next month.
        ("2026-12-20", "2026-12-15", 1, "2027-01-01", "2027-01-01"),
    ],
)
def test_first_invoice(billed_through, first_start, billing_day, period, issued_on):
    day = dt.date.fromisoformat
    assert importing.first_invoice(
        billed_through=day(billed_through), first_start=day(first_start), billing_day=billing_day
    ) == (day(period), day(issued_on))


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_round_trip_keeps_billed_through(admin, fmt):
    document = sample_document(2)
    document["agreements"][0]["billed_through"] = "2026-10-31"
    first, second = _roundtrip(document, admin, fmt=fmt)
    assert first == second
    stored = dict(Agreement.objects.values_list("external_ref", "billed_through"))
    # The second without one: the default of the first import (end of TODAY's month).
    assert stored == {"A-00001": dt.date(2026, 10, 31), "A-00002": dt.date(2026, 11, 30)}
    exported = exporting.export_document()["agreements"]
    assert [a["billed_through"] for a in exported] == ["2026-10-31", "2026-11-30"]


def test_export_counts_the_months_invoiced_here_as_billed(admin):
    from billing.tests.factories import make_invoice

    document = sample_document(2)
    document["agreements"][0]["billed_through"] = "2026-10-31"
    assert run(document, admin).ok
    first = Agreement.objects.get(external_ref="A-00001")
    make_invoice(first, issued_on=dt.date(2026, 11, 1))
    make_invoice(first, issued_on=dt.date(2026, 12, 1))
    make_invoice(first, issued_on=dt.date(2027, 1, 1), status="void")
    exported = {a["external_ref"]: a for a in exporting.export_document()["agreements"]}
    assert exported["A-00001"]["billed_through"] == "2026-12-31"
    assert exported["A-00002"]["billed_through"] == "2026-11-30"  # the imported date is later


# No takeover: a number or reference of another customer's agreement is a row error ----------


def test_a_number_of_another_customers_agreement_is_a_row_error_not_a_takeover(admin, customer_a):
    """Regression (issue 12): the file's agreement CA-2026-0001 with a new reference and a new
    customer reported "1 already imported", dropped the file's agreement and gave Oak City
    Dental's agreement the file's reference."""
    from agreements.tests.factories import AgreementFactory

    oak = AgreementFactory(customer=customer_a, number="CA-2026-0001", status="active")
    document = sample_document()
    document["agreements"][0]["number"] = "CA-2026-0001"
    text = json.dumps(document, indent=2)
    report = importing.import_bytes(text.encode(), name="x.json", by=admin, today=TODAY)
    assert [(e.field, e.reason) for e in report.errors] == [
        (
            "number",
            "CA-2026-0001 is the number of an agreement of another customer "
            "(Oak City Dental, PLLC): leave number out to number this one anew",
        )
    ]
    assert '"external_ref": "A-00001"' in text.splitlines()[report.errors[0].line]
    assert report.agreements_existing == 0 and not report.agreements
    oak.refresh_from_db()
    assert oak.external_ref is None
    assert not Customer.objects.filter(external_ref="C-00001").exists()


def test_a_reference_of_another_customers_agreement_is_a_row_error(admin):
    assert run(sample_document(), admin).ok
    document = sample_document(2)
    # The second customer's agreement claims the first customer's agreement reference.
    document["agreements"][1]["external_ref"] = "A-00001"
    document["agreements"] = document["agreements"][1:]
    report = run(document, admin)
    assert [(e.field, e.reason) for e in report.errors] == [
        (
            "external_ref",
            "A-00001 is already the reference of agreement CA-2024-0001 of another customer "
            "(Sample Customer 1, LLC)",
        )
    ]
    assert Agreement.objects.get().customer.external_ref == "C-00001"
    assert not Customer.objects.filter(external_ref="C-00002").exists()


def test_a_customer_reference_of_a_customer_with_another_name_is_a_row_error(admin):
    assert run(sample_document(), admin).ok
    document = sample_document()
    document["customers"][0]["legal_name"] = "Somebody Else, Inc."
    document["agreements"][0]["external_ref"] = "A-NEW"
    report = run(document, admin)
    assert [(e.field, e.reason) for e in report.errors] == [
        (
            "external_ref",
            "C-00001 is already the reference of another customer (Sample Customer 1, LLC)",
        )
    ]
    assert Agreement.objects.count() == 1


def test_the_same_customers_agreement_without_a_reference_is_matched_by_number(admin):
    existing = CustomerFactory(legal_name="Sample Customer 1, LLC")
    from agreements.tests.factories import AgreementFactory

    ours = AgreementFactory(customer=existing, number="CA-2024-0009", status="active")
    document = sample_document()
    document["agreements"][0]["number"] = "CA-2024-0009"
    report = run(document, admin)
    assert report.ok, report.errors
    assert report.agreements_existing == 1
    ours.refresh_from_db()
    assert ours.external_ref == "A-00001"


# Numbers and dates are range-checked: a row error, never a 500 ------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("signed_on", "0001-01-01"),
        ("signed_on", "1999-12-31"),
        ("start_date", "9999-12-31"),
        ("start_date", "2101-01-01"),
    ],
)
def test_a_date_outside_2000_to_2100_is_a_row_error(admin, field, value):
    """Regression (issue 12): ``signed_on: 0001-01-01`` planned 2,026 terms; a start date of
    9999-12-31 was a 500."""
    document = sample_document()
    document["agreements"][0][field] = value
    report = run(document, admin, dry_run=True)
    assert [(e.field, e.reason) for e in report.errors] == [
        (field, "must lie between 2000-01-01 and 2100-12-31")
    ]
    assert not report.agreements


def test_a_rate_card_date_outside_the_range_is_a_row_error(admin):
    document = sample_document()
    document["agreements"][0]["rates"]["rate_card"]["effective_date"] = "9999-01-01"
    report = run(document, admin, dry_run=True)
    assert [(e.field, e.reason) for e in report.errors] == [
        ("rates.rate_card.effective_date", "must lie between 2000-01-01 and 2100-12-31")
    ]


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_number_of_5000_digits_is_a_row_error(admin, fmt):
    """Regression (issue 12): a ``billing_day`` of 5,000 digits was a 500."""
    document = sample_document()
    document["agreements"][0]["billing_day"] = 7
    document["agreements"][0]["services"][4]["quantity"] = 8
    if fmt == "json":
        data = json.dumps(document).replace('"billing_day": 7', '"billing_day": ' + "9" * 5000)
        data = data.replace('"quantity": 8', '"quantity": ' + "1" * 5000).encode()
    else:
        document["agreements"][0]["billing_day"] = "9" * 5000
        document["agreements"][0]["services"][4]["quantity"] = "1" * 5000
        data = _csv(document)
    report = importing.import_bytes(data, name=f"x.{fmt}", by=admin, today=TODAY)
    assert sorted(e.field for e in report.errors) == ["billing_day", "quantity"]
    assert all(len(e.reason) < 100 for e in report.errors)


@pytest.mark.parametrize("billing_day", [0, 29, -1])
def test_a_billing_day_outside_1_to_28_is_a_row_error(admin, billing_day):
    document = sample_document()
    document["agreements"][0]["billing_day"] = billing_day
    report = run(document, admin)
    assert [e.field for e in report.errors] == ["billing_day"]


# The CSV export neutralizes formula cells; the import reads them back -------------------------


def test_csv_export_neutralizes_formula_cells_and_imports_them_back(admin):
    document = sample_document(2)
    document["customers"][0]["legal_name"] = '=HYPERLINK("http://evil.example","x")'
    document["customers"][0]["phone"] = "+1 (919) 555-0100"
    document["customers"][1]["address_line2"] = "'Suite' 4"
    document["agreements"][0]["services"][4]["notes"] = "@SUM(A1:A2) mailboxes"
    document["agreements"][1]["rate_changes"] = [
        {"term": 3, "method": "uplift", "uplift_percent": "-5.00", "rates": uplifted(RATES, 0.95)}
    ]
    first, second = _roundtrip(document, admin, fmt="csv")
    assert first == second
    cells = list(csv.reader(io.StringIO(first)))
    flat = [cell for row in cells for cell in row]
    assert '\'=HYPERLINK("http://evil.example","x")' in flat
    assert "'+1 (919) 555-0100" in flat
    assert "'@SUM(A1:A2) mailboxes" in flat
    assert "''Suite' 4" in flat
    assert "-5.00" in flat  # a number stays a number
    assert not [c for c in flat if c[:1] in ("=", "+", "@", "\t", "\r")]
    customer = Customer.objects.get(external_ref="C-00001")
    assert customer.legal_name == '=HYPERLINK("http://evil.example","x")'
    assert customer.phone == "+1 (919) 555-0100"
    assert Customer.objects.get(external_ref="C-00002").address_line2 == "'Suite' 4"
    assert RateReview.objects.get().uplift_percent == -5

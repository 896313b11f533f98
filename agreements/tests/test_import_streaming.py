"""Big imports stream (issue 14): the file is read a record at a time with each record's line,
the checked agreements are written 500 at a time, and the content digest of each version is
computed from the lines in memory, the same as read back from the database."""

import copy
import datetime as dt
import json
import random

import pytest
from django.db import transaction

from agreements import importing
from agreements.document import content_digest
from agreements.importing import importer, reading
from agreements.models import Agreement, AgreementEvent, AgreementVersion, Customer
from agreements.tests.factories import draft_with_all_services
from agreements.tests.import_samples import SERVICES, sample_document
from scheduling.models import Visit

TODAY = dt.date(2026, 11, 28)
MAINTENANCE, PRESCHEDULED, EMERGENCY, WEBSITE, EMAIL = SERVICES
# Quick to check and to plan: one scheduled line (a visit a month), no rule per week.
LIGHT = [MAINTENANCE, EMERGENCY, WEBSITE]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def as_file(document):
    """The file as an export or a person writes it: one field a line, nested records indented."""
    return json.dumps(document, indent=2)


def run(text, admin, **kwargs):
    return importing.import_bytes(text.encode(), name="big.json", by=admin, today=TODAY, **kwargs)


# The content digest -------------------------------------------------------------------------


def test_the_digest_of_lines_in_memory_is_the_digest_read_from_the_database(admin):
    document = sample_document(3)
    first, second, third = document["agreements"]
    # Hours written without their two decimals: the database gives them back with them.
    second["services"] = copy.deepcopy([MAINTENANCE, PRESCHEDULED, WEBSITE])
    second["services"][0].update(hours_per_visit="2", checklist=["Backups"])
    second["services"][1]["hours_per_month"] = "7.5"
    third.update(start_date="2024-04-01", billing_day=15, payment_terms_days=45)
    third["services"] = copy.deepcopy([EMAIL, EMERGENCY, WEBSITE])
    report = run(as_file(document), admin)
    assert report.ok, report.errors
    versions = AgreementVersion.objects.order_by("agreement__number")
    stored = [v.content_sha256 for v in versions]
    assert len(set(stored)) == 3
    # Read again, each version's lines from the database:
    assert [content_digest(v) for v in AgreementVersion.objects.order_by("agreement__number")] == (
        stored
    )


def test_content_digest_takes_the_lines_in_memory_in_any_order(admin):
    version = draft_with_all_services()
    lines = list(version.lines.select_related("response_tier"))
    assert {line.kind for line in lines} == {"maintenance", "prescheduled", "emergency", "hosting"}
    read = content_digest(version)
    shuffled = lines[:]
    random.Random(14).shuffle(shuffled)
    assert content_digest(version, lines=shuffled) == read
    lines[-1].quantity += 1
    assert content_digest(version, lines=lines) != read
    assert content_digest(version, lines=lines[:-1]) != read


# Line numbers while streaming ---------------------------------------------------------------


def test_an_error_deep_in_a_big_file_is_reported_on_its_line(admin, monkeypatch):
    # Small chunks: the records cross many chunk boundaries, as a big file's do.
    monkeypatch.setattr(reading, "_CHUNK", 997)
    document = sample_document(1300, services=[EMERGENCY])
    document["customers"][1233]["contacts"][1]["email"] = "not an email"
    document["agreements"][1233]["services"][0]["response_tier"] = "Next week"
    text = as_file(document)
    lines = text.splitlines()
    report = run(text, admin)
    assert [(e.field, e.reason[:30]) for e in report.errors] == [
        ("email", "is not an email address"),
        ("response_tier", "is not a response guarantee (1"),
    ]
    contact, service = (error.line for error in report.errors)
    # Each error is on the line its record starts on ("{"), in record 1,234.
    customer = lines.index('      "external_ref": "C-01234",')
    assert contact == lines.index('          "name": "Sam Books",', customer)
    assert lines[contact - 1].strip() == "{"
    agreement = lines.index('      "external_ref": "A-01234",')
    assert service == lines.index('          "response_tier": "Next week"', agreement) - 1
    assert lines[service - 1].strip() == "{"
    assert not Customer.objects.exists() and not Agreement.objects.exists()


def test_a_file_whose_agreements_come_first_imports_the_same(admin, monkeypatch):
    monkeypatch.setattr(reading, "_CHUNK", 997)
    document = sample_document(3, services=LIGHT)
    text = json.dumps(
        {"agreements": document["agreements"], "version": 1, "customers": document["customers"]},
        indent=1,
    )
    report = run(text, admin)
    assert report.ok, report.errors
    assert (report.customers_created, report.agreements_created) == (3, 3)


# Written in chunks, all or nothing ----------------------------------------------------------


def snapshot():
    """What the import wrote, without ids: per agreement its customer, version, lines, terms,
    events and visits."""
    return [
        (
            a.number,
            a.external_ref,
            a.customer.external_ref,
            a.billed_through,
            [
                (v.number, v.content_sha256, v.signer.email, v.rates_snapshot)
                for v in a.versions.all()
            ],
            [
                (line.position, line.kind, line.hours_per_visit, line.package_name, line.rrule)
                for line in a.versions.get().lines.order_by("position")
            ],
            [(t.number, t.start, t.end, t.locked_rates) for t in a.terms.order_by("number")],
            [e.message for e in AgreementEvent.objects.filter(agreement=a)],
            list(
                Visit.objects.filter(term__agreement=a)
                .order_by("starts_at")
                .values_list("starts_at", "line__position")
            ),
        )
        for a in Agreement.objects.select_related("customer").order_by("number")
    ]


def imported(text, admin):
    """The report and snapshot of importing ``text``, rolled back afterwards."""
    with transaction.atomic():
        report = run(text, admin)
        written = snapshot()
        transaction.set_rollback(True)
    return report, written


def test_501_agreements_are_written_as_one_by_one(admin, monkeypatch):
    text = as_file(sample_document(501, services=LIGHT))
    report, written = imported(text, admin)
    assert report.ok, report.errors
    assert (report.agreements_created, len(written)) == (501, 501)
    assert written[-1][0] == "CA-2024-0501"
    assert [a.number for a in report.agreements] == [w[0] for w in written]
    monkeypatch.setattr(importer, "WRITE_CHUNK", 1)  # each agreement written on its own
    one_by_one, again = imported(text, admin)
    assert again == written
    assert one_by_one.agreements == report.agreements


def test_nothing_is_written_when_the_last_record_is_invalid(admin):
    document = sample_document(501, services=LIGHT)
    document["agreements"][-1]["billing_day"] = 31
    text = as_file(document)
    report = run(text, admin)
    [error] = report.errors
    assert (error.field, error.reason) == (
        "billing_day",
        "Input should be less than or equal to 28",
    )
    assert '"external_ref": "A-00501"' in text.splitlines()[error.line]
    assert not Customer.objects.exists() and not Agreement.objects.exists()


def test_a_file_cut_short_in_its_last_record_is_malformed_and_writes_nothing(admin):
    text = as_file(sample_document(501, services=LIGHT))
    cut = text[: text.rindex('"package_name"')]
    report = run(cut, admin)
    [error] = report.errors
    assert error.field == "file" and error.reason.startswith("Malformed JSON")
    assert error.line == len(cut.splitlines())
    assert not Customer.objects.exists() and not Agreement.objects.exists()


# After the import ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_imported_terms_are_priced_by_the_worker_right_after_the_import(admin):
    """The staff home sums each term's stored monthly amount: an import asks the worker to
    store them once it commits, instead of leaving them to the nightly fill."""
    from agreements.models import Term

    report = run(as_file(sample_document(3, services=LIGHT)), admin)
    assert report.ok, report.errors
    terms = Term.objects.filter(agreement__customer__in=Customer.objects.all())
    assert terms.count() == 9  # three terms each, signed in 2024
    assert not terms.filter(monthly_amount=None).exists()
    assert len(set(terms.values_list("monthly_amount", flat=True))) == 1
    assert terms.first().monthly_amount > 0

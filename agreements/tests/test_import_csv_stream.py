"""CSV imports stream (issue 14): the rows are read once into a temporary table and each
customer or agreement read back with the rows that name it, wherever they are in the file. The
result is the whole-file reader's (``csv_whole_file``): the same records, lines, errors, counts
and import, all or nothing."""

import copy
import csv
import dataclasses
import datetime as dt
import io
from pathlib import Path

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreements import exporting, importing
from agreements.importing import importer, reading
from agreements.models import Agreement, Customer
from agreements.tests import csv_whole_file
from agreements.tests.csv_whole_file import WholeCsvSource
from agreements.tests.import_samples import SERVICES, sample_document

TODAY = dt.date(2026, 11, 28)
MAINTENANCE, PRESCHEDULED, EMERGENCY, WEBSITE, EMAIL = SERVICES
LIGHT = [MAINTENANCE, EMERGENCY, WEBSITE]
LIMIT = 200  # MAX_PDF_BYTES while comparing: a cell over twice that is malformed CSV


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def csv_rows(count):
    """The rows of a file of ``count`` agreements (the first with a rate change for term 3)."""
    document = sample_document(count, services=LIGHT)
    raised = copy.deepcopy(document["agreements"][0]["rates"])
    raised["rates"][0]["price"] = "147.00"
    document["agreements"][0]["rate_changes"] = [
        {"term": 3, "method": "uplift", "uplift_percent": "5.00", "rates": raised}
    ]
    buffer = io.StringIO()
    exporting.write_csv(document, buffer)
    return list(csv.reader(io.StringIO(buffer.getvalue())))


def _cell(header, name):
    return header.index(name)


def _set_ref(header, row, value):
    for name in ("customer_ref", "agreement_ref"):
        if row[_cell(header, name)]:
            row[_cell(header, name)] = value


def _filled(row, rnd, *, empty=False):
    cells = [i for i, v in enumerate(row) if i and bool(v) != empty]
    return rnd.choice(cells) if cells else None


def mutate(kind, header, rows, index, rnd):
    """One error (or oddity) at row ``index``."""
    row = rows[index]
    if kind == "type":
        row[0] = "bogus"
    elif kind == "cells":
        row.pop()
    elif kind == "parent":
        _set_ref(header, row, "NOPE")
    elif kind == "no parent":
        _set_ref(header, row, "")
    elif kind == "term" and row[_cell(header, "term")]:
        row[_cell(header, "term")] = "9"
    elif kind == "value" and (cell := _filled(row, rnd)) is not None:
        row[cell] = "?bad"
    elif kind == "not applicable" and (cell := _filled(row, rnd, empty=True)) is not None:
        row[cell] = "1"
    elif kind == "two lines" and (cell := _filled(row, rnd)) is not None:
        row[cell] += "\nmore"
    elif kind == "twice":
        rows.insert(index, list(row))
    elif kind == "blank":
        rows.insert(index, [""] * len(row))
    elif kind == "too long":
        row[-1] = "x" * (3 * LIMIT)
    elif kind == "not utf-8" and (cell := _filled(row, rnd)) is not None:
        row[cell] = "NOTUTF8"


MUTATIONS = (
    "type",
    "cells",
    "parent",
    "no parent",
    "term",
    "value",
    "not applicable",
    "two lines",
    "twice",
    "blank",
    "too long",
    "not utf-8",
)


@st.composite
def csv_files(draw):
    """A file of 1-3 agreements, its rows in any order (parents before or after their
    children), with 0-3 errors anywhere."""
    rnd = draw(st.randoms(use_true_random=False))
    header, *rows = csv_rows(draw(st.integers(1, 3)))
    rnd.shuffle(rows)
    for kind in draw(st.lists(st.sampled_from(MUTATIONS), max_size=3)):
        mutate(kind, header, rows, rnd.randrange(len(rows)), rnd)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    return buffer.getvalue().encode().replace(b"NOTUTF8", b"\xff")


def lines_of(value, doc, path="$"):
    """The line of every dict of a record, by its path."""
    found = {}
    if isinstance(value, dict):
        found[path] = doc.line(value, None)
        for key, item in value.items():
            found.update(lines_of(item, doc, f"{path}.{key}"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.update(lines_of(item, doc, f"{path}[{index}]"))
    return found


def read(source, report):
    records = {
        key: [(raw, lines_of(raw, doc)) for raw, doc in source.records(key)]
        for key in ("customers", "agreements")
    }
    source.close()
    return records, report.errors, source.malformed, source.counts


@pytest.fixture
def small_cells(monkeypatch):
    monkeypatch.setattr(reading, "MAX_PDF_BYTES", LIMIT)
    monkeypatch.setattr(csv_whole_file, "MAX_PDF_BYTES", LIMIT)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=csv_files())
def test_the_streamed_reader_reads_what_the_whole_file_reader_read(small_cells, data):
    whole, streamed = importing.ImportReport(), importing.ImportReport()
    expected = read(WholeCsvSource(data, whole), whole)
    assert read(reading.CsvSource(lambda: io.BytesIO(data), streamed), streamed) == expected


def whole_file_source(open_file, *, name, report):
    with open_file() as stream:
        return WholeCsvSource(stream.read(), report)


class RolledBack(Exception):
    pass


def imported(data, admin):
    """The import's report and what it left written (rolled back afterwards)."""
    with pytest.raises(RolledBack), transaction.atomic():
        report = importing.import_bytes(data, name="x.csv", by=admin, today=TODAY)
        written = (Customer.objects.count(), Agreement.objects.count())
        raise RolledBack
    return dataclasses.asdict(report), written


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=csv_files())
def test_a_streamed_import_is_the_whole_file_import(admin, monkeypatch, data):
    streamed = imported(data, admin)
    with monkeypatch.context() as patched:
        patched.setattr(importer, "open_source", whole_file_source)
        assert streamed == imported(data, admin)
    report, written = streamed
    if report["errors"]:
        assert written == (0, 0)


def test_an_error_on_the_last_of_many_rows_writes_nothing(admin):
    header, *rows = csv_rows(501)
    rows[-1][_cell(header, "duration_minutes") if rows[-1][0] == "service" else -1] = "?bad"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    report = importing.import_bytes(buffer.getvalue().encode(), name="x.csv", by=admin, today=TODAY)
    [error] = report.errors
    assert error.line == len(rows) + 1
    assert not Customer.objects.exists() and not Agreement.objects.exists()


def test_children_before_their_parents_import_as_in_file_order(admin):
    header, *rows = csv_rows(2)
    report = importing.import_bytes(
        "\n".join(",".join(f'"{c}"' for c in row) for row in [header, *rows[::-1]]).encode(),
        name="x.csv",
        by=admin,
        today=TODAY,
    )
    assert report.ok, report.errors
    assert report.customers_created == 2 and report.contacts_created == 4
    assert sorted(a.external_ref for a in report.agreements) == ["A-00001", "A-00002"]
    terms = Agreement.objects.get(external_ref="A-00001").terms.order_by("number")
    prices = {rate["kind"]: rate["price"] for rate in terms.last().locked_rates["rates"]}
    assert prices["onsite_hourly"] == "147.00"  # the rate change's, named before it


def test_the_temporary_table_is_removed(admin, monkeypatch):
    sources = []
    real = reading.CsvSource

    def keep(*args):
        sources.append(real(*args))
        return sources[-1]

    monkeypatch.setattr(reading, "CsvSource", keep)
    header, *rows = csv_rows(1)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    assert importing.import_bytes(
        buffer.getvalue().encode(), name="x.csv", by=admin, today=TODAY
    ).ok
    [source] = sources
    assert not Path(source._dir.name).exists()

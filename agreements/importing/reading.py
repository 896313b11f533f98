"""Reading an import file: JSON (one document) or CSV (one row per record, by a ``type``
column) into the one JSON shape the rows are validated in (``agreements.importing``'s docstring
shows it), remembering the line each record starts on so every error names it. The CSV columns
are shared with the export (``agreements.exporting``)."""

import bisect
import csv
import io
import json
import math
import re
from array import array
from decimal import Decimal
from pathlib import Path

from django.conf import settings

from allora.spreadsheet import unescape_cell
from billing.rules import DISCOUNTED_KINDS

from .report import ImportReport

FORMAT = "allora-agreements"
FORMAT_VERSION = 1
MB = 1024 * 1024
MAX_PDF_BYTES = 20 * MB


def size_problem(size: int) -> str | None:
    """Why a file of ``size`` bytes is refused before it is parsed (the ``IMPORT_MAX_BYTES``
    setting), or None."""
    limit = settings.IMPORT_MAX_BYTES
    if size <= limit:
        return None
    # Rounded up, so a file just over the limit never reads as "20 MB; the limit is 20 MB".
    return f"The file is {file_size(size, up=True)}; the limit is {file_size(limit)}."


def file_size(size: int, *, up=False) -> str:
    """A size as people read it: 52.4 MB, 20 MB (one decimal at most), 3 KB."""
    unit, name = (MB, "MB") if size >= MB else (1024, "KB")
    tenths = math.ceil(size * 10 / unit) if up else round(size * 10 / unit)
    return f"{tenths / 10:.1f}".removesuffix(".0") + f" {name}"


class Document:
    """The parsed file: plain dicts and lists in the JSON shape, and where each dict started."""

    def __init__(self, data, lines):
        self.data = data
        self._lines = lines  # id(dict) -> line

    def line(self, obj, default=0):
        return self._lines.get(id(obj), default)


def read_document(data: bytes, *, name: str, report: ImportReport) -> Document | None:
    """Parse JSON or CSV (by the file name's extension) into the JSON shape, or report why not."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        report.error(0, "file", f"The file is not UTF-8 text ({error.reason}).")
        return None
    suffix = Path(name).suffix.lower()
    if suffix == ".json":
        return _read_json(text, report)
    if suffix == ".csv":
        return _read_csv(text, report)
    report.error(0, "file", "The file must be .json or .csv.")
    return None


def _json_int(digits: str):
    """An integer of the file; a very long one stays a Decimal (``int()`` refuses more than
    4,300 digits), so its field reports it as out of range instead of the parser failing."""
    return int(digits) if len(digits) <= 30 else Decimal(digits)


def _read_json(text, report):
    # The offset of every line break, packed (a list of ints costs 36 bytes a line).
    breaks = array("q", (match.start() for match in re.finditer("\n", text)))
    lines = {}

    def line_at(position):
        return bisect.bisect_left(breaks, position) + 1

    decoder = json.JSONDecoder(parse_float=Decimal, parse_int=_json_int)

    def parse_object(s_and_end, *args, **kwargs):
        obj, end = json.decoder.JSONObject(s_and_end, *args, **kwargs)
        lines[id(obj)] = line_at(s_and_end[1] - 1)
        return obj, end

    # The pure-Python scanner calls parse_object, so each dict can remember its line.
    decoder.parse_object = parse_object
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    try:
        data = decoder.decode(text)
    except json.JSONDecodeError as error:
        report.error(error.lineno, "file", f"Malformed JSON: {error.msg} (column {error.colno}).")
        return None
    except RecursionError:
        report.error(0, "file", "Malformed JSON: nested too deeply.")
        return None
    if not isinstance(data, dict):
        report.error(1, "file", "The file must hold one JSON object with customers and agreements.")
        return None
    unknown = set(data) - {"format", "version", "customers", "agreements"}
    for key in sorted(unknown):
        report.error(lines.get(id(data), 1), key, "is not a known field")
    if data.get("format", FORMAT) != FORMAT or data.get("version", FORMAT_VERSION) != 1:
        report.error(1, "format", f'Expected "format": "{FORMAT}", "version": 1.')
    for key in ("customers", "agreements"):
        if not isinstance(data.setdefault(key, []), list):
            report.error(lines.get(id(data), 1), key, "must be a list")
            data[key] = []
    return Document(data, lines)


CSV_COLUMNS = {
    "customer": (
        "external_ref legal_name address_line1 address_line2 city state postal_code phone "
        "time_zone status"
    ),
    "contact": (
        "customer_ref name title email phone is_authorized_signer is_project_approver "
        "is_billing_contact"
    ),
    "agreement": (
        "external_ref customer_ref number signed_on start_date signer_email terms_version "
        "billing_day billed_through payment_terms_days pdf_path pdf_base64 rate_card_version "
        "rate_card_title rate_card_effective_date discount_maintenance discount_prescheduled"
    ),
    "service": (
        "agreement_ref kind labor_rate hours_per_visit hours_per_month rrule start_time "
        "duration_minutes schedule_text checklist response_tier package_name quantity notes"
    ),
    "rate": "agreement_ref term rate_kind rate_name unit price",
    "rate_change": (
        "agreement_ref term method uplift_percent rate_card_version rate_card_title "
        "rate_card_effective_date discount_maintenance discount_prescheduled"
    ),
}
CSV_COLUMNS = {kind: tuple(columns.split()) for kind, columns in CSV_COLUMNS.items()}
CSV_HEADER = ("type", *dict.fromkeys(c for columns in CSV_COLUMNS.values() for c in columns))
CHECKLIST_SEPARATOR = "|"


def _rates_head(row):
    """The rate card and discounts of a rates snapshot, from CSV columns."""
    rates = {"rates": []}
    card = {
        key: row.pop(f"rate_card_{key}")
        for key in ("version", "title", "effective_date")
        if f"rate_card_{key}" in row
    }
    if card:
        rates["rate_card"] = card
    discounts = {
        kind: row.pop(f"discount_{kind}") for kind in DISCOUNTED_KINDS if f"discount_{kind}" in row
    }
    if discounts:
        rates["discounts"] = discounts
    return rates


def _read_csv(text, report):
    csv.field_size_limit(MAX_PDF_BYTES * 2)  # a PDF may travel as base64 in a cell
    reader = csv.reader(io.StringIO(text, newline=""))
    lines = {}
    try:
        header = [column.strip() for column in next(reader, [])]
    except csv.Error as error:
        report.error(1, "file", f"Malformed CSV: {error}.")
        return None
    if "type" not in header:
        report.error(1, "type", "The first line must be the header, with a “type” column.")
        return None
    for column in header:
        if column not in CSV_HEADER:
            report.error(1, column or "(empty)", "is not a known column")
    customers, agreements = {}, {}
    contacts, services, rates, changes = [], [], [], []
    end = 1
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            report.error(start, "file", f"Malformed CSV: {error}.")
            return None
        end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            report.error(start, "row", f"has {len(cells)} cells; the header has {len(header)}")
            continue
        # The export neutralized formula cells with a leading ' (allora.spreadsheet).
        row = {
            c: unescape_cell(v.strip())
            for c, v in zip(header, cells, strict=True)
            if v.strip() != ""
        }
        kind = row.pop("type", "")
        if kind not in CSV_COLUMNS:
            report.error(start, "type", f"must be one of {', '.join(CSV_COLUMNS)}")
            continue
        for column in sorted(set(row) - set(CSV_COLUMNS[kind])):
            report.error(start, column, f"does not apply to a {kind} row")
            row.pop(column)
        lines[id(row)] = start
        if kind == "customer":
            row["contacts"] = []
            customers.setdefault(row.get("external_ref"), []).append(row)
        elif kind == "contact":
            contacts.append(row)
        elif kind == "agreement":
            row.update(rates=_rates_head(row), rate_changes=[], services=[])
            lines[id(row["rates"])] = start
            agreements.setdefault(row.get("external_ref"), []).append(row)
        elif kind == "service":
            if CHECKLIST_SEPARATOR in row.get("checklist", "") or "checklist" in row:
                row["checklist"] = [i.strip() for i in row["checklist"].split(CHECKLIST_SEPARATOR)]
            services.append(row)
        elif kind == "rate":
            rates.append(row)
        else:
            change_rates = _rates_head(row)
            lines[id(change_rates)] = start
            row["rates"] = change_rates
            changes.append(row)

    def parent(row, table, ref_field, what):
        ref = row.pop(ref_field, None)
        found = table.get(ref)
        if not found:
            report.error(lines[id(row)], ref_field, f"names no {what} row of this file: {ref!r}")
            return None
        return found[0]

    for row in contacts:
        if customer := parent(row, customers, "customer_ref", "customer"):
            customer["contacts"].append(row)
    for row in services:
        if agreement := parent(row, agreements, "agreement_ref", "agreement"):
            agreement["services"].append(row)
    for row in changes:
        if agreement := parent(row, agreements, "agreement_ref", "agreement"):
            agreement["rate_changes"].append(row)
    for row in rates:
        line = lines[id(row)]
        agreement = parent(row, agreements, "agreement_ref", "agreement")
        if agreement is None:
            continue
        term = row.pop("term", None)
        rate = {key: row[f"rate_{key}"] for key in ("kind", "name") if f"rate_{key}" in row}
        rate.update({key: row[key] for key in ("unit", "price") if key in row})
        lines[id(rate)] = line
        if term is None:
            agreement["rates"]["rates"].append(rate)
            continue
        change = next((c for c in agreement["rate_changes"] if c.get("term") == term), None)
        if change is None:
            report.error(line, "term", f"no rate_change row for term {term} of this agreement")
            continue
        change["rates"]["rates"].append(rate)
    data = {
        "customers": [row for rows in customers.values() for row in rows],
        "agreements": [row for rows in agreements.values() for row in rows],
    }
    return Document(data, lines)

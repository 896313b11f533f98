"""Import and export of existing, signed agreements (``manage.py import_agreements FILE``,
``manage.py export_agreements [FILE]``, ``POST /api/v1/imports`` and the admin upload page).

The format, JSON (one document) or CSV (one row per record, by a ``type`` column):

    {"format": "allora-agreements", "version": 1,
     "customers": [{"external_ref": "C-1", "legal_name": "...", "address_line1": "...",
                    "postal_code": "27603", "phone": "...", "time_zone": "America/New_York",
                    "contacts": [{"name": "...", "email": "...", "is_authorized_signer": true}]}],
     "agreements": [{"external_ref": "A-1", "customer_ref": "C-1", "signed_on": "2024-03-15",
                     "billing_day": 1, "payment_terms_days": 30, "signer_email": "...",
                     "billed_through": "2026-11-30",
                     "rates": {"rate_card": {...}, "discounts": {"maintenance": "25.00"},
                               "rates": [{"kind": "onsite_hourly", "name": "On-site support",
                                          "unit": "hour", "price": "150.00"}, ...]},
                     "rate_changes": [{"term": 3, "method": "uplift", "uplift_percent": "5.00",
                                       "rates": {...}}],
                     "services": [{"kind": "maintenance", "hours_per_visit": "2.00",
                                   "rrule": "FREQ=MONTHLY;BYDAY=+3WE", "start_time": "10:00",
                                   "duration_minutes": 120}, ...],
                     "pdf_base64": "JVBERi0..."  (or "pdf_path": "contracts/a-1.pdf")}]}

An imported agreement is active: term 1 starts on the signature date (or the later start
date), the later terms follow the term rules up to today (``rules.term_end``; the rates carry
over, or take a ``rate_changes`` entry, recorded as a finalized rate review exactly as the
renewal job reads them), and the visits of the current term are planned from today. Imports
never back-bill: ``billed_through`` is the last day the previous system billed (default: the last
day of the import month); this system's first invoice is for the month after it
(``first_invoice``). A file is imported all or nothing; a record whose ``external_ref`` is
already in the system is left as it is, so importing the same file again changes nothing. Every
bad row is reported with its line.
"""

import base64
import binascii
import bisect
import csv
import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic import ValidationError as PydanticError
from simple_history.utils import bulk_create_with_history

from allora.validation import Money, NoNulText, text
from billing.accounts import billing_date, first_month
from billing.charges import next_month
from billing.models import HOURLY_KINDS, DiscountPolicy, Invoice, RateKind
from billing.rules import DISCOUNTED_KINDS
from scheduling import recurrence
from scheduling.models import Visit
from scheduling.planning import plan_terms

from . import rules
from .document import content_digest
from .forms import PAYMENT_TERMS, ServiceLineForm
from .models import (
    Agreement,
    AgreementEvent,
    AgreementVersion,
    Contact,
    Customer,
    RateReview,
    ResponseTier,
    ServiceKind,
    ServiceLine,
    Term,
    TermsTemplate,
    validate_time_zone,
)
from .services import next_agreement_number

FORMAT = "allora-agreements"
FORMAT_VERSION = 1
MAX_PDF_BYTES = 20 * 1024 * 1024
BILLED_THROUGH_RANGE = (dt.date(2000, 1, 1), dt.date(2100, 12, 31))


# Billing after an import ---------------------------------------------------------------------


def end_of_month(day: dt.date) -> dt.date:
    return next_month(day) - dt.timedelta(days=1)


def first_invoice(*, billed_through: dt.date, first_start: dt.date, billing_day: int):
    """(period, issued_on) of the first invoice this system issues for an imported agreement:
    the month after ``billed_through`` (the first term's month when nothing was billed before
    it starts), issued on that month's billing day, as the monthly run does."""
    period = first_month(last_period=None, billed_through=billed_through, first_start=first_start)
    return period, billing_date(period, billing_day=billing_day, first_start=first_start)


# The report -------------------------------------------------------------------------------


@dataclass
class RowError:
    line: int  # 1-based line of the file where the bad record starts; 0: the whole file
    field: str
    reason: str


@dataclass
class ImportedAgreement:
    external_ref: str
    number: str
    customer: str
    terms: int
    current_term_start: dt.date
    current_term_end: dt.date
    visits_planned: int
    existing: bool = False
    # New agreements only: the last day the previous system billed, and the first invoice
    # this system will issue (the month, first day; and its issue date).
    billed_through: dt.date | None = None
    first_invoice_period: dt.date | None = None
    first_invoice_on: dt.date | None = None


@dataclass
class ImportReport:
    dry_run: bool = False
    customers_created: int = 0
    customers_existing: int = 0
    contacts_created: int = 0
    agreements_created: int = 0
    agreements_existing: int = 0
    agreements: list[ImportedAgreement] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self):
        return not self.errors

    def error(self, line, field_name, reason):
        self.errors.append(RowError(line, field_name, reason))


class _DryRun(Exception):
    """Raised at the end of a dry run's transaction, to roll it back."""


# Reading the file -----------------------------------------------------------------------------


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


def _read_json(text, report):
    breaks = [match.start() for match in re.finditer("\n", text)]
    lines = {}

    def line_at(position):
        return bisect.bisect_left(breaks, position) + 1

    decoder = json.JSONDecoder(parse_float=Decimal)

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
        row = {c: v.strip() for c, v in zip(header, cells, strict=True) if v.strip() != ""}
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


# Validating rows ------------------------------------------------------------------------------


def _date_text(value):
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value.strip()


def _time_text(value):
    if isinstance(value, dt.time):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", value.strip()):
        raise ValueError("must be a time written HH:MM")
    return value.strip()


Date = Annotated[dt.date, BeforeValidator(_date_text)]
Time = Annotated[dt.time, BeforeValidator(_time_text)]
Percent = Annotated[Decimal, Field(max_digits=5, decimal_places=2, ge=0, le=100)]


class Row(NoNulText):
    model_config = ConfigDict(extra="forbid")


class ContactRow(Row):
    name: text(200, min_length=1)
    title: text(100) = ""
    email: text(254, min_length=3)
    phone: text(30) = ""
    is_authorized_signer: bool = False
    is_project_approver: bool = False
    is_billing_contact: bool = False

    @field_validator("email")
    @classmethod
    def _email(cls, value):
        try:
            validate_email(value)
        except ValidationError:
            raise ValueError("is not an email address") from None
        return value.lower()


class CustomerRow(Row):
    external_ref: text(100, min_length=1)
    legal_name: text(200, min_length=1)
    address_line1: text(200, min_length=1)
    address_line2: text(200) = ""
    city: text(100) = "Raleigh"
    state: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{2}$")] = "NC"
    postal_code: text(10, min_length=1)
    phone: text(30, min_length=1)
    time_zone: text(64) = "America/New_York"
    status: Literal[tuple(Customer.Status.values)] = Customer.Status.ACTIVE
    contacts: list[Any] = []

    @field_validator("state")
    @classmethod
    def _state(cls, value):
        return value.upper()

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value):
        try:
            validate_time_zone(value)
        except ValidationError:
            raise ValueError(f"{value!r} is not a known time zone") from None
        return value


class RateRow(Row):
    kind: Literal[tuple(RateKind.values)]
    name: text(120, min_length=1)
    unit: text(20, min_length=1)
    price: Money


class RateCardRow(Row):
    version: int = Field(0, ge=0, le=1_000_000)
    title: text(120) = "Imported rates"
    effective_date: Date | None = None


class RatesRow(Row):
    rate_card: RateCardRow | None = None
    discounts: dict[Literal[tuple(DISCOUNTED_KINDS)], Percent] | None = None
    rates: list[Any] = Field(min_length=1)


class ServiceRow(Row):
    kind: Literal[tuple(ServiceKind.values)]
    notes: text(300) = ""
    labor_rate: Literal[tuple(ServiceLine.LaborRate.values)] | None = None
    hours_per_visit: Annotated[Decimal, Field(max_digits=5, decimal_places=2, gt=0)] | None = None
    hours_per_month: Annotated[Decimal, Field(max_digits=6, decimal_places=2, gt=0)] | None = None
    checklist: list[text(200, min_length=1)] | None = None
    rrule: text(200, min_length=1) | None = None
    start_time: Time | None = None
    duration_minutes: int | None = Field(None, ge=1, le=24 * 60)
    schedule_text: text(200, min_length=1) | None = None
    response_tier: text(100, min_length=1) | None = None
    package_name: text(120, min_length=1) | None = None
    quantity: int | None = Field(None, ge=1, le=10_000)


SCHEDULE_FIELDS = ("rrule", "start_time", "duration_minutes")
SERVICE_FIELDS = {
    ServiceKind.MAINTENANCE: (
        ("hours_per_visit", *SCHEDULE_FIELDS),
        ("labor_rate", "checklist", "schedule_text"),
    ),
    ServiceKind.PRESCHEDULED: (
        ("hours_per_month", *SCHEDULE_FIELDS),
        ("labor_rate", "schedule_text"),
    ),
    ServiceKind.EMERGENCY: (("response_tier",), ()),
    ServiceKind.HOSTING: (("package_name",), ("quantity",)),
}


class RateChangeRow(Row):
    term: int = Field(ge=2, le=1000)
    method: Literal[tuple(RateReview.Method.values)] = RateReview.Method.CARD
    uplift_percent: Annotated[Decimal, Field(max_digits=6, decimal_places=2, ge=-100)] | None = None
    rates: Any


class AgreementRow(Row):
    external_ref: text(100, min_length=1)
    customer_ref: text(100, min_length=1)
    number: text(20, min_length=1) | None = None
    signed_on: Date
    start_date: Date | None = None
    signer_email: text(254) | None = None
    terms_version: int | None = Field(None, ge=1, le=1_000_000)
    billing_day: int = Field(1, ge=1, le=28)
    billed_through: Date | None = None
    payment_terms_days: int = 30
    rates: Any
    rate_changes: list[Any] = []
    services: list[Any] = Field(min_length=1)
    pdf_path: text(500, min_length=1) | None = None
    pdf_base64: str | None = None

    @field_validator("payment_terms_days")
    @classmethod
    def _net_days(cls, value):
        choices = [days for days, _label in PAYMENT_TERMS]
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(map(str, choices))} (Net days)")
        return value


def _validate(model, raw, *, line, report, where=""):
    """A validated row, or None with its errors reported (field names as in the file)."""
    if not isinstance(raw, dict):
        report.error(line, where or "row", "must be an object")
        return None
    try:
        return model.model_validate(raw)
    except PydanticError as error:
        for problem in error.errors():
            path = ".".join(str(part) for part in problem["loc"])
            name = f"{where}.{path}" if where and path else (where or path or "row")
            report.error(line, name, _reason(problem))
        return None


def _reason(problem):
    kind = problem["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "decimal_max_places":
        return "has more than two decimals"
    message = problem["msg"]
    return message.removeprefix("Value error, ")


# The import ---------------------------------------------------------------------------------


@dataclass
class _Customer:
    row: CustomerRow
    line: int
    contacts: list  # [(ContactRow, line)]
    instance: Customer | None = None
    adopt: bool = False  # an existing customer (same legal name) that gets the reference


@dataclass
class _Agreement:
    row: AgreementRow
    line: int
    customer_ref: str
    rates: dict
    services: list  # [(ServiceRow, line)]
    changes: dict  # term -> (RateChangeRow, rates)
    pdf: bytes | None
    billed_through: dt.date | None = None
    existing: Agreement | None = None
    # Set while writing:
    customer: Customer | None = None
    terms_template: TermsTemplate | None = None
    agreement: Agreement | None = None
    version: AgreementVersion | None = None
    terms: list = field(default_factory=list)


def import_bytes(data: bytes, *, name: str, by, today: dt.date, dry_run=False, base_dir=None):
    """Import a JSON or CSV file's content (see the module's docstring); returns the report.
    All or nothing: with any bad row, or ``dry_run``, nothing is written."""
    report = ImportReport(dry_run=dry_run)
    document = read_document(data, name=name, report=report)
    if document is None:
        return report
    importer = _Importer(document, report, by=by, today=today, base_dir=base_dir)
    importer.check()
    if not report.ok:
        return report
    try:
        with transaction.atomic():
            importer.write(store_pdfs=not dry_run)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    except IntegrityError:
        # Someone created the same agreement number or reference at this very moment.
        report.agreements.clear()
        report.error(0, "file", "Another change collided with this import; import it again.")
    return report


def import_path(path, *, by, today, dry_run=False):
    """Import a file from disk; a ``pdf_path`` is read relative to the file's folder."""
    path = Path(path)
    return import_bytes(
        path.read_bytes(), name=path.name, by=by, today=today, dry_run=dry_run, base_dir=path.parent
    )


class _Importer:
    def __init__(self, document, report, *, by, today, base_dir):
        self.doc = document
        self.report = report
        self.by = by
        self.today = today
        self.base_dir = Path(base_dir).resolve() if base_dir else None
        self.customers: dict[str, _Customer] = {}
        self.agreements: list[_Agreement] = []

    def error(self, line, field_name, reason):
        self.report.error(line, field_name, reason)

    # Checks (no writes) ---------------------------------------------------------------

    def check(self):
        for raw in self.doc.data["customers"]:
            self._check_customer(raw)
        self._match_customers()
        self.tiers = {tier.name: tier for tier in ResponseTier.objects.all()}
        self.templates = {
            t.version: t for t in TermsTemplate.objects.filter(published_at__isnull=False)
        }
        refs = set()
        for raw in self.doc.data["agreements"]:
            agreement = self._check_agreement(raw)
            if agreement is None:
                continue
            if agreement.row.external_ref in refs:
                self.error(agreement.line, "external_ref", "appears twice in this file")
                continue
            refs.add(agreement.row.external_ref)
            self.agreements.append(agreement)
        self._match_agreements()

    def _check_customer(self, raw):
        line = self.doc.line(raw)
        row = _validate(CustomerRow, raw, line=line, report=self.report)
        raw_contacts = (
            row.contacts if row else (raw.get("contacts") if isinstance(raw, dict) else [])
        )
        contacts, emails = [], set()
        for raw_contact in raw_contacts if isinstance(raw_contacts, list) else []:
            contact_line = self.doc.line(raw_contact, line)
            contact = _validate(ContactRow, raw_contact, line=contact_line, report=self.report)
            if contact is None:
                continue
            if contact.email in emails:
                self.error(contact_line, "email", "appears twice for this customer")
                continue
            emails.add(contact.email)
            contacts.append((contact, contact_line))
        if row is None:
            return
        if row.external_ref in self.customers:
            self.error(line, "external_ref", "appears twice in this file")
            return
        self.customers[row.external_ref] = _Customer(row, line, contacts)

    def _match_customers(self):
        """Existing customers: by reference (left as they are), else by legal name (adopted)."""
        refs = list(self.customers)
        by_ref = {
            c.external_ref: c
            for chunk in _chunks(refs)
            for c in Customer.objects.filter(external_ref__in=chunk)
        }
        names = [
            c.row.legal_name for c in self.customers.values() if c.row.external_ref not in by_ref
        ]
        by_name = {
            c.legal_name: c
            for chunk in _chunks(names)
            for c in Customer.objects.filter(legal_name__in=chunk)
        }
        seen_names = {}
        for ref, item in self.customers.items():
            name = item.row.legal_name
            if ref in by_ref:
                item.instance = by_ref[ref]
                continue
            if name in seen_names:
                self.error(
                    item.line, "legal_name", f"appears twice in this file ({seen_names[name]})"
                )
                continue
            seen_names[name] = ref
            existing = by_name.get(name)
            if existing is not None and existing.external_ref:
                self.error(
                    item.line,
                    "legal_name",
                    f"already belongs to the customer with external_ref {existing.external_ref!r}",
                )
            elif existing is not None:
                item.instance, item.adopt = existing, True
        existing_ids = [item.instance.pk for item in self.customers.values() if item.instance]
        known = {
            (customer_id, email.lower())
            for chunk in _chunks(existing_ids)
            for customer_id, email in Contact.objects.filter(customer_id__in=chunk).values_list(
                "customer_id", "email"
            )
        }
        for item in self.customers.values():
            if item.instance:  # add only the contacts it does not have yet
                item.contacts = [
                    (c, line)
                    for c, line in item.contacts
                    if (item.instance.pk, c.email) not in known
                ]

    def _check_agreement(self, raw):
        line = self.doc.line(raw)
        problems = len(self.report.errors)
        row = _validate(AgreementRow, raw, line=line, report=self.report)
        # The nested rates and services are checked even when the row itself is not valid,
        # so one pass reports every bad line.
        raw = raw if isinstance(raw, dict) else {}
        signed_on = row.signed_on if row else self.today
        customer_ref = row.customer_ref if row else str(raw.get("customer_ref"))
        customer = self.customers.get(customer_ref)
        if row is not None:
            if row.signed_on > self.today:
                self.error(line, "signed_on", f"is after today ({self.today.isoformat()})")
            if row.billed_through is not None:
                self._check_billed_through(row.billed_through, line)
            if customer is None and not Customer.objects.filter(external_ref=customer_ref).exists():
                self.error(line, "customer_ref", f"names no customer: {customer_ref!r}")
            if row.terms_version is not None and row.terms_version not in self.templates:
                self.error(line, "terms_version", f"no published terms version {row.terms_version}")
            if row.terms_version is None and not self.templates:
                self.error(line, "terms_version", "no published terms and conditions exist yet")
        rates = None
        if "rates" in raw:
            rates = self._check_rates(raw["rates"], line=line, where="rates", signed_on=signed_on)
        changes = {}
        raw_changes = raw.get("rate_changes")
        for raw_change in raw_changes if isinstance(raw_changes, list) else []:
            change_line = self.doc.line(raw_change, line)
            change = _validate(RateChangeRow, raw_change, line=change_line, report=self.report)
            if change is None:
                continue
            if change.term in changes:
                self.error(change_line, "term", "has two rate changes")
                continue
            if change.method == RateReview.Method.UPLIFT and change.uplift_percent is None:
                self.error(change_line, "uplift_percent", "is required for method uplift")
            change_rates = self._check_rates(
                change.rates, line=change_line, where="rates", signed_on=signed_on
            )
            changes[change.term] = (change, change_rates)
        if row is not None:
            start = rules.first_term_start(signed_on=row.signed_on, requested_start=row.start_date)
            next_term = len(term_dates(start, today=self.today)) + 1
            for term in sorted(changes):
                if term > next_term:
                    self.error(
                        line, "rate_changes", f"term {term} is past the next term ({next_term})"
                    )
        time_zone = (
            customer.row.time_zone
            if customer
            else Customer.objects.filter(external_ref=customer_ref)
            .values_list("time_zone", flat=True)
            .first()
        )
        services = []
        raw_services = raw.get("services")
        for position, raw_service in enumerate(
            raw_services if isinstance(raw_services, list) else []
        ):
            service_line = self.doc.line(raw_service, line)
            service = _validate(ServiceRow, raw_service, line=service_line, report=self.report)
            if service is not None:
                service = self._check_service(
                    service,
                    line=service_line,
                    rates=[rates, *(r for _c, r in changes.values())],
                    time_zone=time_zone or "America/New_York",
                    start=signed_on,
                )
                services.append((service, service_line, position))
        pdf = self._check_pdf(row, line) if row else None
        if len(self.report.errors) > problems:
            return None
        billed_through = row.billed_through or end_of_month(self.today)
        return _Agreement(row, line, customer_ref, rates, services, changes, pdf, billed_through)

    def _check_billed_through(self, day, line):
        low, high = BILLED_THROUGH_RANGE
        latest = self.today + relativedelta(years=1)
        if not low <= day <= high:
            self.error(
                line,
                "billed_through",
                f"must lie between {low.isoformat()} and {high.isoformat()}",
            )
        elif day > latest:
            self.error(
                line,
                "billed_through",
                f"is more than a year after today ({self.today.isoformat()}): "
                f"at the latest {latest.isoformat()}",
            )

    def _check_rates(self, raw, *, line, where, signed_on):
        rates_line = self.doc.line(raw, line)
        head = _validate(RatesRow, raw, line=rates_line, report=self.report, where=where)
        if head is None:
            return None
        items, hourly, names, invalid = [], set(), set(), False
        for raw_rate in head.rates:
            rate_line = self.doc.line(raw_rate, rates_line)
            rate = _validate(RateRow, raw_rate, line=rate_line, report=self.report)
            if rate is None:
                invalid = True
                continue
            if rate.kind in HOURLY_KINDS and rate.kind in hourly:
                self.error(rate_line, "kind", f"{rate.kind} appears twice in these rates")
            if (rate.kind, rate.name) in names:
                self.error(rate_line, "name", f"{rate.name!r} appears twice in these rates")
            hourly.add(rate.kind)
            names.add((rate.kind, rate.name))
            items.append(
                {
                    "kind": rate.kind,
                    "name": rate.name,
                    "unit": rate.unit,
                    "price": f"{rate.price:.2f}",
                }
            )
        missing = [RateKind(kind).label for kind in HOURLY_KINDS if kind not in hourly]
        if missing and not invalid:
            self.error(rates_line, where, f"lack these hourly rates: {', '.join(missing)}")
        card = head.rate_card or RateCardRow()
        if head.discounts is None:
            # The paper contract's discount is the policy that was in effect when it was signed.
            discounts = {
                kind: f"{DiscountPolicy.percent_for(kind, on=signed_on):.2f}"
                for kind in DISCOUNTED_KINDS
            }
        else:
            discounts = {kind: f"{percent:.2f}" for kind, percent in head.discounts.items()}
        return {
            "rate_card": {
                "version": card.version,
                "title": card.title,
                "effective_date": (card.effective_date or signed_on).isoformat(),
            },
            "discounts": discounts,
            "rates": items,
        }

    def _check_service(self, service, *, line, rates, time_zone, start):
        required, optional = SERVICE_FIELDS[service.kind]
        given = {
            name
            for name in ServiceRow.model_fields
            if name not in ("kind", "notes") and getattr(service, name) is not None
        }
        for name in sorted(given - set(required) - set(optional)):
            self.error(line, name, f"does not apply to {ServiceKind(service.kind).label}")
        for name in required:
            if getattr(service, name) is None:
                self.error(line, name, f"is required for {ServiceKind(service.kind).label}")
        tier = service.response_tier
        if service.kind == ServiceKind.EMERGENCY and tier and tier not in self.tiers:
            known = ", ".join(sorted(self.tiers))
            self.error(line, "response_tier", f"is not a response guarantee ({known})")
        if service.kind == ServiceKind.HOSTING and service.package_name:
            for snapshot in rates:
                names = {r["name"] for r in (snapshot or {}).get("rates", [])}
                if snapshot and service.package_name not in names:
                    self.error(line, "package_name", "is not a hosting package of the rates")
                    break
        if service.rrule and service.start_time and service.duration_minutes:
            try:
                recurrence.validate_rule(
                    service.rrule,
                    start_time=service.start_time,
                    duration_minutes=service.duration_minutes,
                    tz=time_zone,
                    start=start,
                )
            except recurrence.RecurrenceError as error:
                self.error(line, "rrule", str(error))
                return service
            if service.schedule_text is None:
                try:
                    service.schedule_text = recurrence.describe(
                        service.rrule,
                        start_time=service.start_time,
                        duration_minutes=service.duration_minutes,
                    )
                except recurrence.RecurrenceError:
                    self.error(
                        line, "schedule_text", "is required: this rule has no plain-English form"
                    )
        return service

    def _check_pdf(self, row, line):
        if row.pdf_path and row.pdf_base64:
            self.error(line, "pdf_path", "give either pdf_path or pdf_base64, not both")
            return None
        if row.pdf_base64:
            try:
                data = base64.b64decode(row.pdf_base64, validate=True)
            except (binascii.Error, ValueError):
                self.error(line, "pdf_base64", "is not valid base64")
                return None
        elif row.pdf_path:
            if self.base_dir is None:
                self.error(
                    line,
                    "pdf_path",
                    "works only with manage.py import_agreements; embed the PDF "
                    "as pdf_base64 to upload it",
                )
                return None
            path = (self.base_dir / row.pdf_path).resolve()
            if not path.is_relative_to(self.base_dir) or not path.is_file():
                self.error(line, "pdf_path", f"no such file beside the import: {row.pdf_path}")
                return None
            data = path.read_bytes()
        else:
            return None
        if not data.startswith(b"%PDF") or len(data) > MAX_PDF_BYTES:
            self.error(
                line, "pdf_base64" if row.pdf_base64 else "pdf_path", "is not a PDF (or over 20 MB)"
            )
            return None
        return data

    def _match_agreements(self):
        """Agreements already imported (same reference, or same number and no reference) are
        left as they are; a number in use by another agreement is an error."""
        agreements = Agreement.objects.select_related("customer")
        refs = [a.row.external_ref for a in self.agreements]
        by_ref = {
            a.external_ref: a
            for chunk in _chunks(refs)
            for a in agreements.filter(external_ref__in=chunk)
        }
        numbers = [a.row.number for a in self.agreements if a.row.number]
        by_number = {
            a.number: a for chunk in _chunks(numbers) for a in agreements.filter(number__in=chunk)
        }
        seen = {}
        for item in self.agreements:
            ref, number = item.row.external_ref, item.row.number
            item.existing = by_ref.get(ref)
            if item.existing is None and number in by_number:
                other = by_number[number]
                if other.external_ref is None and other.is_live:
                    item.existing = other
                else:
                    self.error(item.line, "number", f"{number} is already another agreement's")
            if number and number in seen:
                self.error(item.line, "number", f"appears twice in this file ({seen[number]})")
            seen[number] = ref
            if item.existing is None and item.row.signer_email:
                customer = self.customers.get(item.customer_ref)
                emails = {c.email for c, _line in customer.contacts} if customer else set()
                owner = customer.instance if customer else None
                if owner is None and customer is None:
                    owner = Customer.objects.filter(external_ref=item.customer_ref).first()
                if item.row.signer_email.lower() not in emails and not (
                    owner and owner.contacts.filter(email__iexact=item.row.signer_email).exists()
                ):
                    self.error(item.line, "signer_email", "is not a contact of the customer")

    # Writes (inside the transaction) -------------------------------------------------
    # Set-based: a few bulk inserts for the whole file, and one read per agreement (the
    # content digest reads its lines); no query per term, line or visit.

    def write(self, *, store_pdfs):
        report = self.report
        customers = self._write_customers()
        new = [item for item in self.agreements if item.existing is None]
        self._write_agreements(new, customers)
        self._write_versions(new, customers, store_pdfs=store_pdfs)
        self._write_terms(new)
        first_invoices = {
            id(item): first_invoice(
                billed_through=item.billed_through,
                first_start=item.terms[0].start,
                billing_day=item.row.billing_day,
            )
            for item in new
        }
        AgreementEvent.objects.bulk_create(
            (
                AgreementEvent(
                    agreement=item.agreement,
                    kind=AgreementEvent.Kind.IMPORTED,
                    actor=self.by,
                    message=(
                        f"Imported (reference {item.row.external_ref}), signed on "
                        f"{item.row.signed_on:%B %-d, %Y}: term {item.terms[-1].number} runs "
                        f"from {item.terms[-1].start:%B %-d, %Y} to "
                        f"{item.terms[-1].last_day:%B %-d, %Y}. Billed by the previous system "
                        f"through {item.billed_through:%B %-d, %Y}; first invoice here: "
                        f"{first_invoices[id(item)][0]:%B %Y}, issued "
                        f"{first_invoices[id(item)][1]:%B %-d, %Y}"
                    )[:500],
                )
                for item in new
            ),
            batch_size=500,
        )
        current = [item.terms[-1] for item in new]
        plan_terms(current, today=self.today)
        visits = {}
        for chunk in _chunks([term.pk for term in current]):
            visits.update(
                Visit.objects.filter(term_id__in=chunk)
                .values("term_id")
                .annotate(count=Count("id"))
                .values_list("term_id", "count")
            )
        existing = self._existing_terms()
        for item in self.agreements:
            first = (None, None)
            if item.existing is None:
                agreement, term = item.agreement, item.terms[-1]
                planned, terms = visits.get(term.pk, 0), len(item.terms)
                first = first_invoices[id(item)]
            else:
                agreement, term = item.existing, existing.get(item.existing.pk)
                planned, terms = 0, term.number if term else 0
            report.agreements.append(
                ImportedAgreement(
                    external_ref=item.row.external_ref,
                    number=agreement.number,
                    customer=agreement.customer.legal_name,
                    terms=terms,
                    current_term_start=term.start if term else None,
                    current_term_end=term.end if term else None,
                    visits_planned=planned,
                    existing=item.existing is not None,
                    billed_through=None if item.existing else item.billed_through,
                    first_invoice_period=first[0],
                    first_invoice_on=first[1],
                )
            )
        report.agreements_created = len(new)
        report.agreements_existing = len(self.agreements) - len(new)

    def _existing_terms(self):
        """The newest term of each agreement that was already imported; adopted ones (matched
        by number) get their reference."""
        old = [item for item in self.agreements if item.existing is not None]
        for item in old:
            if item.existing.external_ref is None:
                Agreement.objects.filter(pk=item.existing.pk).update(
                    external_ref=item.row.external_ref
                )
        latest = {}
        for chunk in _chunks([item.existing.pk for item in old]):
            for term in Term.objects.filter(agreement_id__in=chunk).order_by("number"):
                latest[term.agreement_id] = term
        return latest

    def _write_customers(self):
        report = self.report
        new = []
        for item in self.customers.values():
            if item.instance is None:
                fields = item.row.model_dump(exclude={"contacts"})
                item.instance = Customer(**fields)
                new.append(item.instance)
            elif item.adopt:
                item.instance.external_ref = item.row.external_ref
                item.instance.save(update_fields=["external_ref", "updated_at"])
                report.customers_existing += 1
            else:
                report.customers_existing += 1
        bulk_create_with_history(new, Customer, batch_size=500, default_user=self.by)
        if new and new[0].pk is None:  # a backend that does not return ids
            ids = {}
            for chunk in _chunks([c.external_ref for c in new]):
                ids.update(
                    Customer.objects.filter(external_ref__in=chunk).values_list(
                        "external_ref", "pk"
                    )
                )
            for customer in new:
                customer.pk = ids[customer.external_ref]
        report.customers_created = len(new)
        contacts = [
            Contact(customer=item.instance, **contact.model_dump())
            for item in self.customers.values()
            for contact, _line in item.contacts
        ]
        bulk_create_with_history(contacts, Contact, batch_size=500, default_user=self.by)
        report.contacts_created = len(contacts)
        found = {ref: item.instance for ref, item in self.customers.items()}
        missing = list({a.customer_ref for a in self.agreements} - set(found))
        for chunk in _chunks(missing):
            found.update(
                {c.external_ref: c for c in Customer.objects.filter(external_ref__in=chunk)}
            )
        return found

    def _write_agreements(self, items, customers):
        """Agreements with the file's numbers first; the others are numbered after them by
        ``next_agreement_number`` (CA-<year of signature>-<sequence>), in file order."""
        template = max(self.templates.values(), key=lambda t: t.version, default=None)
        for item in items:
            item.customer = customers[item.customer_ref]
            item.terms_template = self.templates.get(item.row.terms_version) or template
            item.agreement = Agreement(
                customer=item.customer,
                number=item.row.number or "",
                status=Agreement.Status.ACTIVE,
                time_zone=item.customer.time_zone,
                created_by=self.by,
                external_ref=item.row.external_ref,
                billed_through=item.billed_through,
            )
        Agreement.objects.bulk_create(
            [item.agreement for item in items if item.row.number], batch_size=500
        )
        by_year = {}
        for item in items:
            if not item.row.number:
                by_year.setdefault(item.row.signed_on.year, []).append(item)
        for year, group in by_year.items():
            prefix, first = next_agreement_number(year).rsplit("-", 1)
            for offset, item in enumerate(group):
                item.agreement.number = f"{prefix}-{int(first) + offset:0{len(first)}d}"
            Agreement.objects.bulk_create([item.agreement for item in group], batch_size=500)

    def _write_versions(self, items, customers, *, store_pdfs):
        """Version 1 of each agreement, recorded as signed on paper, with its Exhibit B lines.
        Lines go in with bulk_create: ServiceLine.save's draft-only guard is for editing a
        version, not for recording what was signed."""
        contacts = {}
        for chunk in _chunks(list({item.customer.pk for item in items})):
            for contact in Contact.objects.filter(customer_id__in=chunk):
                contacts[contact.customer_id, contact.email.lower()] = contact
        for item in items:
            customer = item.customer
            signed_at = dt.datetime.combine(item.row.signed_on, dt.time(12), tzinfo=customer.tz)
            email = (item.row.signer_email or "").lower()
            item.version = AgreementVersion(
                agreement=item.agreement,
                number=1,
                status=AgreementVersion.Status.SIGNED,
                terms_template=item.terms_template,
                billing_day=item.row.billing_day,
                payment_terms_days=item.row.payment_terms_days,
                start_date=item.row.start_date,
                rates_snapshot=item.rates,
                signer=contacts.get((customer.pk, email)),
                sent_at=signed_at,
                completed_at=signed_at,
                created_by=self.by,
            )
        AgreementVersion.objects.bulk_create([item.version for item in items], batch_size=500)
        ServiceLine.objects.bulk_create(
            (
                ServiceLine(
                    version=item.version,
                    position=position,
                    **self._line_fields(service, self.tiers),
                )
                for item in items
                for service, _line, position in item.services
            ),
            batch_size=500,
        )
        field = AgreementVersion._meta.get_field("signed_pdf")
        for item in items:
            version = item.version
            version.content_sha256 = content_digest(version)
            if item.pdf is not None and store_pdfs:
                name = field.generate_filename(version, f"{item.agreement.number}-v1-paper.pdf")
                version.signed_pdf = field.storage.save(name, ContentFile(item.pdf))
                version.signed_pdf_sha256 = hashlib.sha256(item.pdf).hexdigest()
        AgreementVersion.objects.bulk_update(
            [item.version for item in items],
            ["content_sha256", "signed_pdf", "signed_pdf_sha256"],
            batch_size=500,
        )

    @staticmethod
    def _line_fields(service, tiers):
        fields = {
            "kind": service.kind,
            "notes": service.notes,
            "labor_rate": service.labor_rate or ServiceLine.LaborRate.ONSITE,
            "hours_per_visit": service.hours_per_visit,
            "hours_per_month": service.hours_per_month,
            "rrule": service.rrule or "",
            "start_time": service.start_time,
            "duration_minutes": service.duration_minutes,
            "schedule_text": service.schedule_text or "",
            "response_tier": None,
            "package_name": service.package_name or "",
            "quantity": service.quantity or 1,
            "checklist": [],
        }
        if service.kind == ServiceKind.MAINTENANCE:
            fields["checklist"] = (
                service.checklist
                if service.checklist is not None
                else list(ServiceLineForm.DEFAULT_CHECKLIST)
            )
        if service.kind not in (ServiceKind.MAINTENANCE, ServiceKind.PRESCHEDULED):
            fields["labor_rate"] = ServiceLine.LaborRate.ONSITE
        if service.response_tier:
            fields["response_tier"] = tiers[service.response_tier]
        return fields

    def _write_terms(self, items):
        """The terms up to today (``term_dates``); each takes the rates of a rate change for
        it, else carries the previous term's over, as the renewal job does with finalized
        reviews (which the rate changes are recorded as)."""
        reviews = []
        for item in items:
            start = rules.first_term_start(
                signed_on=item.row.signed_on, requested_start=item.row.start_date
            )
            item.terms, rates = [], item.rates
            for number, (term_start, term_end) in enumerate(term_dates(start, today=self.today), 1):
                if number in item.changes:
                    rates = item.changes[number][1]
                item.terms.append(
                    Term(
                        agreement=item.agreement,
                        number=number,
                        start=term_start,
                        end=term_end,
                        locked_rates=rates,
                        version=item.version,
                    )
                )
            reviews += [
                RateReview(
                    agreement=item.agreement,
                    term_number=number,
                    method=change.method,
                    uplift_percent=change.uplift_percent,
                    rates=change_rates,
                    status=RateReview.Status.FINALIZED,
                    reviewed_by=self.by,
                    finalized_at=timezone.now(),
                )
                for number, (change, change_rates) in sorted(item.changes.items())
            ]
        Term.objects.bulk_create([term for item in items for term in item.terms], batch_size=500)
        RateReview.objects.bulk_create(reviews, batch_size=500)


def _chunks(values, size=500):
    """Slices of a list for ``__in`` look-ups (SQLite limits the parameters of a statement)."""
    values = list(values)
    return [values[i : i + size] for i in range(0, len(values), size)]


def term_dates(start: dt.date, *, today: dt.date):
    """[(start, end)] of an imported agreement's terms: the first from ``start``, then one
    more each time a term's end has come (``end <= today``), as the renewal job adds them."""
    dates = [(start, rules.term_end(start))]
    while dates[-1][1] <= today:
        dates.append((dates[-1][1], rules.term_end(dates[-1][1])))
    return dates


# Export -------------------------------------------------------------------------------------


def _time(value: dt.time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _service(line) -> dict:
    out = {"kind": line.kind}
    if line.kind in (ServiceKind.MAINTENANCE, ServiceKind.PRESCHEDULED):
        out["labor_rate"] = line.labor_rate
        if line.kind == ServiceKind.MAINTENANCE:
            out["hours_per_visit"] = f"{line.hours_per_visit:.2f}"
        else:
            out["hours_per_month"] = f"{line.hours_per_month:.2f}"
        if line.rrule:
            out.update(
                rrule=line.rrule,
                start_time=_time(line.start_time),
                duration_minutes=line.duration_minutes,
                schedule_text=line.schedule_text,
            )
        if line.kind == ServiceKind.MAINTENANCE:
            out["checklist"] = list(line.checklist)
    elif line.kind == ServiceKind.EMERGENCY:
        out["response_tier"] = line.response_tier.name
    else:
        out.update(package_name=line.package_name, quantity=line.quantity)
    if line.notes:
        out["notes"] = line.notes
    return out


def _customer_ref(customer) -> str:
    return customer.external_ref or f"customer-{customer.pk}"


def export_document(*, pdfs=True) -> dict:
    """Every customer and every live agreement in the import format (PDFs as base64)."""
    from django.db.models import Max, Prefetch

    customers = Customer.objects.prefetch_related(
        Prefetch("contacts", Contact.objects.order_by("name", "id"))
    ).order_by("legal_name")
    versions = AgreementVersion.objects.filter(
        status=AgreementVersion.Status.SIGNED
    ).select_related("terms_template", "signer")
    agreements = (
        Agreement.objects.live()
        .filter(terms__isnull=False)
        .distinct()
        .select_related("customer")
        .prefetch_related(
            Prefetch("terms", Term.objects.select_related("version__signer").order_by("number")),
            Prefetch(
                "rate_reviews",
                RateReview.objects.filter(status=RateReview.Status.FINALIZED),
                to_attr="finalized_reviews",
            ),
            Prefetch("versions", versions.order_by("-number"), to_attr="signed_versions"),
            Prefetch("signed_versions__lines", ServiceLine.objects.select_related("response_tier")),
        )
        .order_by("number")
    )
    # The last month this system invoiced, per agreement: an import of the export must not
    # bill it again.
    invoiced = dict(
        Invoice.objects.filter(kind=Invoice.Kind.MONTHLY)
        .exclude(status=Invoice.Status.VOID)
        .values("agreement_id")
        .annotate(last=Max("period"))
        .values_list("agreement_id", "last")
    )
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "customers": [
            {
                "external_ref": _customer_ref(customer),
                **{
                    name: getattr(customer, name)
                    for name in CSV_COLUMNS["customer"]
                    if name != "external_ref"
                },
                "contacts": [
                    {
                        name: getattr(contact, name)
                        for name in CSV_COLUMNS["contact"]
                        if name != "customer_ref"
                    }
                    for contact in customer.contacts.all()
                ],
            }
            for customer in customers
        ],
        "agreements": [
            _export_agreement(agreement, pdfs=pdfs, last_invoiced=invoiced.get(agreement.pk))
            for agreement in agreements
        ],
    }
    return document


def _billed_through(agreement, last_invoiced):
    """The last day billed: the previous system's (an import), or the end of the last month
    this system invoiced, whichever is later; None when neither billed anything."""
    days = [agreement.billed_through, last_invoiced and end_of_month(last_invoiced)]
    return max((day for day in days if day), default=None)


def _export_agreement(agreement, *, pdfs, last_invoiced=None):
    terms = list(agreement.terms.all())
    first = terms[0].version
    current = agreement.signed_versions[0] if agreement.signed_versions else first
    signed_on = (
        timezone.localdate(first.completed_at, agreement.tz)
        if first.completed_at
        else terms[0].start
    )
    out = {
        "external_ref": agreement.external_ref or agreement.number,
        "customer_ref": _customer_ref(agreement.customer),
        "number": agreement.number,
        "signed_on": signed_on.isoformat(),
    }
    if first.start_date:
        out["start_date"] = first.start_date.isoformat()
    if first.signer_id:
        out["signer_email"] = first.signer.email
    out.update(terms_version=current.terms_template.version, billing_day=current.billing_day)
    if billed_through := _billed_through(agreement, last_invoiced):
        out["billed_through"] = billed_through.isoformat()
    out.update(payment_terms_days=current.payment_terms_days, rates=terms[0].locked_rates)
    reviews = {review.term_number: review for review in agreement.finalized_reviews}
    changes = []
    for previous, term in zip(terms, terms[1:], strict=False):
        if term.number not in reviews and term.locked_rates != previous.locked_rates:
            changes.append({"term": term.number, "method": "card", "rates": term.locked_rates})
    for number, review in reviews.items():
        change = {"term": number, "method": review.method}
        if review.uplift_percent is not None:
            change["uplift_percent"] = f"{review.uplift_percent:.2f}"
        changes.append({**change, "rates": review.rates})
    if changes:
        out["rate_changes"] = sorted(changes, key=lambda change: change["term"])
    out["services"] = [_service(line) for line in current.lines.all()]
    pdf_version = current if current.signed_pdf else first
    if pdfs and pdf_version.signed_pdf:
        try:
            with pdf_version.signed_pdf.open("rb") as handle:
                out["pdf_base64"] = base64.b64encode(handle.read()).decode("ascii")
        except FileNotFoundError:
            pass  # the stored file is gone: export the rest
    return out


def dumps_json(document) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_json(document, stream):
    stream.write(dumps_json(document))


def _cell(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def write_csv(document, stream, *, pdf_dir: Path | None = None):
    """The document as CSV rows; with ``pdf_dir`` the PDFs are written there as files and
    referenced by ``pdf_path`` (relative to the CSV's folder), else embedded as base64."""
    writer = csv.DictWriter(stream, fieldnames=CSV_HEADER, lineterminator="\n")
    writer.writeheader()

    def row(kind, values):
        writer.writerow({"type": kind, **{key: _cell(value) for key, value in values.items()}})

    def rates_head(rates):
        card = rates.get("rate_card") or {}
        head = {f"rate_card_{key}": value for key, value in card.items()}
        head.update({f"discount_{k}": v for k, v in (rates.get("discounts") or {}).items()})
        return head

    def rate_rows(ref, rates, term=None):
        for rate in rates["rates"]:
            row(
                "rate",
                {
                    "agreement_ref": ref,
                    "term": term,
                    "rate_kind": rate["kind"],
                    "rate_name": rate["name"],
                    "unit": rate["unit"],
                    "price": rate["price"],
                },
            )

    for customer in document["customers"]:
        row("customer", {k: v for k, v in customer.items() if k != "contacts"})
        for contact in customer["contacts"]:
            row("contact", {"customer_ref": customer["external_ref"], **contact})
    for agreement in document["agreements"]:
        ref = agreement["external_ref"]
        values = {
            key: value
            for key, value in agreement.items()
            if key not in ("rates", "rate_changes", "services", "pdf_base64")
        }
        values.update(rates_head(agreement["rates"]))
        if "pdf_base64" in agreement:
            if pdf_dir is None:
                values["pdf_base64"] = agreement["pdf_base64"]
            else:
                pdf_dir.mkdir(parents=True, exist_ok=True)
                name = re.sub(r"[^A-Za-z0-9._-]+", "_", ref) + ".pdf"
                (pdf_dir / name).write_bytes(base64.b64decode(agreement["pdf_base64"]))
                values["pdf_path"] = f"{pdf_dir.name}/{name}"
        row("agreement", values)
        rate_rows(ref, agreement["rates"])
        for change in agreement.get("rate_changes", []):
            row(
                "rate_change",
                {
                    "agreement_ref": ref,
                    **{k: v for k, v in change.items() if k != "rates"},
                    **rates_head(change["rates"]),
                },
            )
            rate_rows(ref, change["rates"], term=change["term"])
        for service in agreement["services"]:
            values = dict(service)
            if "checklist" in values:
                values["checklist"] = CHECKLIST_SEPARATOR.join(values["checklist"])
            row("service", {"agreement_ref": ref, **values})


def export_to_path(path, *, document=None):
    """Write the export to ``path`` (.json, or .csv with the PDFs in a folder beside it)."""
    path = Path(path)
    document = document or export_document()
    with path.open("w", encoding="utf-8", newline="") as stream:
        if path.suffix.lower() == ".csv":
            write_csv(document, stream, pdf_dir=path.parent / f"{path.stem}-pdfs")
        else:
            write_json(document, stream)
    return document

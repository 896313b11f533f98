"""The rows of an import file and their validation: a pydantic schema per record (customer,
contact, agreement, rates, rate change, service) and the checks that need more than one field
(the hourly rates a snapshot must have, the fields each kind of service takes, its schedule,
the PDF). Every bad field is reported with its line, named as in the file."""

import base64
import binascii
import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic import ValidationError as PydanticError

from allora.validation import EARLIEST_DATE, LATEST_DATE, Money, NoNulText, date_in_range, text
from billing.models import HOURLY_KINDS, DiscountPolicy, RateKind
from billing.rules import DISCOUNTED_KINDS
from scheduling import recurrence

from ..forms import PAYMENT_TERMS
from ..models import Customer, RateReview, ServiceKind, ServiceLine, validate_time_zone
from .reading import MAX_PDF_BYTES


def _date_text(value):
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value.strip()


def _date_in_range(value: dt.date) -> dt.date:
    # The dates this system knows (allora.validation): every date of a file (signature, start,
    # billed through, rate card) lies between them, so no row plans centuries of terms.
    if not date_in_range(value):
        raise ValueError(
            f"must lie between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}"
        )
    return value


def _time_text(value):
    if isinstance(value, dt.time):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", value.strip()):
        raise ValueError("must be a time written HH:MM")
    return value.strip()


Date = Annotated[dt.date, BeforeValidator(_date_text), AfterValidator(_date_in_range)]
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


def validate_row(model, raw, *, line, report, where=""):
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
    if kind == "int_parsing_size":
        return "is far too large a number"
    message = problem["msg"]
    return message.removeprefix("Value error, ")


# Checks beyond one field ---------------------------------------------------------------------


def check_billed_through(day, line, *, today, report):
    """``billed_through`` (a ``Date``: in the years this system knows) is at most a year
    ahead."""
    latest = today + relativedelta(years=1)
    if day > latest:
        report.error(
            line,
            "billed_through",
            f"is more than a year after today ({today.isoformat()}): "
            f"at the latest {latest.isoformat()}",
        )


def check_rates(raw, *, doc, report, line, where, signed_on):
    """A rates snapshot as stored (rate card, discounts, rates), or None with its errors
    reported; without discounts, those of the policy in effect on ``signed_on``."""
    rates_line = doc.line(raw, line)
    head = validate_row(RatesRow, raw, line=rates_line, report=report, where=where)
    if head is None:
        return None
    items, hourly, names, invalid = [], set(), set(), False
    for raw_rate in head.rates:
        rate_line = doc.line(raw_rate, rates_line)
        rate = validate_row(RateRow, raw_rate, line=rate_line, report=report)
        if rate is None:
            invalid = True
            continue
        if rate.kind in HOURLY_KINDS and rate.kind in hourly:
            report.error(rate_line, "kind", f"{rate.kind} appears twice in these rates")
        if (rate.kind, rate.name) in names:
            report.error(rate_line, "name", f"{rate.name!r} appears twice in these rates")
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
        report.error(rates_line, where, f"lack these hourly rates: {', '.join(missing)}")
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


def check_service(service, *, report, tiers, line, rates, time_zone, start):
    """The fields a service of its kind needs, its response guarantee, hosting package and
    schedule (an RRULE in the customer's time zone); fills in ``schedule_text``."""
    required, optional = SERVICE_FIELDS[service.kind]
    given = {
        name
        for name in ServiceRow.model_fields
        if name not in ("kind", "notes") and getattr(service, name) is not None
    }
    for name in sorted(given - set(required) - set(optional)):
        report.error(line, name, f"does not apply to {ServiceKind(service.kind).label}")
    for name in required:
        if getattr(service, name) is None:
            report.error(line, name, f"is required for {ServiceKind(service.kind).label}")
    tier = service.response_tier
    if service.kind == ServiceKind.EMERGENCY and tier and tier not in tiers:
        known = ", ".join(sorted(tiers))
        report.error(line, "response_tier", f"is not a response guarantee ({known})")
    if service.kind == ServiceKind.HOSTING and service.package_name:
        for snapshot in rates:
            names = {r["name"] for r in (snapshot or {}).get("rates", [])}
            if snapshot and service.package_name not in names:
                report.error(line, "package_name", "is not a hosting package of the rates")
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
            report.error(line, "rrule", str(error))
            return service
        if service.schedule_text is None:
            try:
                service.schedule_text = recurrence.describe(
                    service.rrule,
                    start_time=service.start_time,
                    duration_minutes=service.duration_minutes,
                )
            except recurrence.RecurrenceError:
                report.error(
                    line, "schedule_text", "is required: this rule has no plain-English form"
                )
    return service


def check_pdf(row, line, *, report, base_dir):
    """The paper contract's PDF bytes (base64, or a file beside the import), or None."""
    if row.pdf_path and row.pdf_base64:
        report.error(line, "pdf_path", "give either pdf_path or pdf_base64, not both")
        return None
    if row.pdf_base64:
        try:
            data = base64.b64decode(row.pdf_base64, validate=True)
        except (binascii.Error, ValueError):
            report.error(line, "pdf_base64", "is not valid base64")
            return None
    elif row.pdf_path:
        if base_dir is None:
            report.error(
                line,
                "pdf_path",
                "works only with manage.py import_agreements; embed the PDF "
                "as pdf_base64 to upload it",
            )
            return None
        path = (base_dir / row.pdf_path).resolve()
        if not path.is_relative_to(base_dir) or not path.is_file():
            report.error(line, "pdf_path", f"no such file beside the import: {row.pdf_path}")
            return None
        data = path.read_bytes()
    else:
        return None
    if not data.startswith(b"%PDF") or len(data) > MAX_PDF_BYTES:
        report.error(
            line, "pdf_base64" if row.pdf_base64 else "pdf_path", "is not a PDF (or over 20 MB)"
        )
        return None
    return data

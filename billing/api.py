"""API routes of the billing app: rate cards (Allora staff read them; admins alone create and
publish them), invoices with their lines, payments and PDF (customers see their own), and the
time entries staff log (``timesheets.log_time``, the pages' one function)."""

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.db.models import Prefetch
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import model_validator

from agreements.models import ServiceLine
from allora.api import (
    ERRORS,
    Filters,
    FormInvalid,
    Input,
    MoneyOut,
    ObjectId,
    Pagination,
    QueryId,
    Rows,
    RuleError,
    form_errors,
    get_or_404,
    money_str,
    paginate_rows,
    require_admin,
    require_staff,
    valid_data,
)
from allora.timeutils import local_today
from allora.validation import BoundedDate, Money, text
from delivery import projects
from delivery.forms import HoursForm
from delivery.models import EmergencyRequest, Project
from scheduling.models import Visit

from .documents import invoice_filename, invoice_pdf
from .forms import PublishForm, RateCardForm, RateCardLineFormSet, TimeEntryForm
from .models import Invoice, InvoiceLine, Payment, RateCard, RateCardLine, RateKind
from .timesheets import describe, log_form_time, log_time, loggable_lines

router = Router()


class RateCardLineOut(Schema):
    kind: str
    name: str
    unit: str
    price: str
    position: int

    @staticmethod
    def resolve_price(line):
        return money_str(line.price)


class RateCardOut(Schema):
    id: int
    version: int
    title: str
    notes: str
    status: str
    effective_date: dt.date | None
    published_at: dt.datetime | None
    created_at: dt.datetime
    lines: list[RateCardLineOut]

    @staticmethod
    def resolve_lines(card):
        return card.lines.all()


class RateCardLineIn(Input):
    kind: Literal[tuple(RateKind.values)]
    name: text(120, min_length=1)
    unit: text(20) = Field("", description="Empty: hour, or month for hosting.")
    price: Money


class RateCardIn(Input):
    title: text(120, min_length=1) = "Standard rates"
    notes: text(2000) = ""
    lines: list[RateCardLineIn] = Field(min_length=1, max_length=100)


class PublishIn(Input):
    effective_date: BoundedDate


class RateCardFilters(Filters):
    status: Literal[tuple(RateCard.Status.values)] | None = None


def _cards(request):
    require_staff(request)
    return RateCard.objects.prefetch_related(
        Prefetch("lines", RateCardLine.objects.order_by("position", "id"))
    )


@router.get("/rate-cards", response={200: list[RateCardOut], **ERRORS}, tags=["rate cards"])
@paginate(Pagination)
def list_rate_cards(request, filters: Query[RateCardFilters]):
    """Rate cards, newest version first (Allora staff)."""
    cards = _cards(request).order_by("-version")
    if filters.status:
        cards = cards.filter(status=filters.status)
    return cards


@router.get("/rate-cards/{card_id}", response={200: RateCardOut, **ERRORS}, tags=["rate cards"])
def get_rate_card(request, card_id: ObjectId):
    return get_or_404(_cards(request), pk=card_id)


def _no_draft_yet():
    if RateCard.objects.filter(status=RateCard.Status.DRAFT).exists():
        raise RuleError(["A draft rate card already exists: publish it first."])


@router.post("/rate-cards", response={201: RateCardOut, **ERRORS}, tags=["rate cards"])
def create_rate_card(request, payload: RateCardIn):
    """Create a draft card with its lines (admins), checked like the rate card pages."""
    user = require_admin(request)
    _no_draft_yet()
    form = RateCardForm({"title": payload.title, "notes": payload.notes})
    data = {"lines-TOTAL_FORMS": len(payload.lines), "lines-INITIAL_FORMS": 0}
    for index, line in enumerate(payload.lines):
        values = {**line.model_dump(), "price": str(line.price), "position": index}
        data.update({f"lines-{index}-{key}": value for key, value in values.items()})
    card = RateCard(created_by=user, version=RateCard.next_version())
    formset = RateCardLineFormSet(data, instance=card)
    if not form.is_valid():
        raise FormInvalid(form_errors(form))
    if not formset.is_valid():
        errors = [
            error
            for index, line_form in enumerate(formset.forms)
            for error in form_errors(line_form, loc=("body", "lines", index))
        ]
        errors += [
            {"loc": ["body", "lines"], "msg": message, "type": "invalid"}
            for message in formset.non_form_errors()
        ]
        raise FormInvalid(errors)
    card.title, card.notes = form.cleaned_data["title"], form.cleaned_data["notes"]
    card.save()
    formset.instance = card
    formset.save()
    return Status(201, _cards(request).get(pk=card.pk))


@router.post(
    "/rate-cards/{card_id}/publish", response={200: RateCardOut, **ERRORS}, tags=["rate cards"]
)
def publish_rate_card(request, card_id: ObjectId, payload: PublishIn):
    """Publish a draft from its effective date on (admins); it never changes afterwards."""
    user = require_admin(request)
    card = get_or_404(RateCard.objects.all(), pk=card_id)
    form = PublishForm({"effective_date": payload.effective_date})
    if not form.is_valid():
        raise FormInvalid(form_errors(form))
    card.publish(by=user, effective_date=payload.effective_date, today=local_today())
    return _cards(request).get(pk=card.pk)


@router.post(
    "/rate-cards/{card_id}/new-version", response={201: RateCardOut, **ERRORS}, tags=["rate cards"]
)
def new_rate_card_version(request, card_id: ObjectId):
    """Start a new draft copied from this card (admins)."""
    user = require_admin(request)
    card = get_or_404(RateCard.objects.all(), pk=card_id)
    draft = card.start_new_version(by=user)
    return Status(201, _cards(request).get(pk=draft.pk))


# Invoices --------------------------------------------------------------------------------------


class InvoiceLineOut(Schema):
    position: int
    kind: str
    description: str
    quantity: MoneyOut
    unit: str
    list_rate: MoneyOut
    discount_percent: MoneyOut
    net_rate: MoneyOut
    list_amount: MoneyOut
    discount_amount: MoneyOut
    amount: MoneyOut = Field(description="The net amount of the line.")
    service_start: dt.date
    service_end: dt.date = Field(description="Exclusive.")


class PaymentOut(Schema):
    id: int
    amount: MoneyOut
    to_credit: MoneyOut = Field(description="The part beyond the balance, held as credit.")
    received_on: dt.date
    method: str
    reference: str
    recorded_at: dt.datetime


class InvoiceOut(Schema):
    id: int
    number: str
    agreement_id: int | None = Field(description="None for a one-off invoice without one.")
    agreement_number: str | None
    customer_id: int
    customer_name: str
    kind: str
    period: dt.date
    issued_on: dt.date
    due_on: dt.date
    payment_terms_days: int
    status: str
    bill_to: str
    subtotal: MoneyOut
    discount_total: MoneyOut
    total: MoneyOut
    amount_paid: MoneyOut
    amount_credited: MoneyOut = Field(description="What credit notes took off the balance.")
    balance: MoneyOut
    paid_on: dt.date | None
    lines: list[InvoiceLineOut]
    payments: list[PaymentOut]
    pdf_url: str

    @staticmethod
    def resolve_agreement_number(invoice):
        return invoice.agreement.number if invoice.agreement else None

    @staticmethod
    def resolve_customer_name(invoice):
        return invoice.customer.legal_name

    @staticmethod
    def resolve_lines(invoice):
        return invoice.lines.all()

    @staticmethod
    def resolve_payments(invoice):
        return invoice.payments.all()

    @staticmethod
    def resolve_pdf_url(invoice):
        return reverse("api:invoice_pdf", kwargs={"invoice_id": invoice.pk})


LINE_FIELDS = ("position", "kind", "description", "quantity", "unit", "list_rate")
LINE_FIELDS += ("discount_percent", "net_rate", "list_amount", "discount_amount", "amount")
LINE_FIELDS += ("service_start", "service_end")
PAYMENT_FIELDS = ("id", "amount", "to_credit", "received_on", "method", "reference", "recorded_at")


def invoice_rows(invoices):
    """A page of invoices as InvoiceOut's items (the list's rows, built without per-field
    validation: ``allora.api.paginate_rows``): their lines and payments read as plain values in
    one query each, the PDF address reversed once."""
    ids = [invoice.pk for invoice in invoices]
    lines = InvoiceLine.objects.filter(invoice__in=ids).order_by("position", "id")
    lines = _plain_by_invoice(lines, LINE_FIELDS)
    payments = _plain_by_invoice(Payment.objects.filter(invoice__in=ids), PAYMENT_FIELDS)
    head, _, tail = reverse("api:invoice_pdf", kwargs={"invoice_id": 0}).rpartition("/0/")
    return [
        {
            "id": invoice.pk,
            "number": invoice.number,
            "agreement_id": invoice.agreement_id,
            "agreement_number": invoice.agreement.number if invoice.agreement else None,
            "customer_id": invoice.customer_id,
            "customer_name": invoice.customer.legal_name,
            "kind": invoice.kind,
            "period": invoice.period,
            "issued_on": invoice.issued_on,
            "due_on": invoice.due_on,
            "payment_terms_days": invoice.payment_terms_days,
            "status": invoice.status,
            "bill_to": invoice.bill_to,
            "subtotal": money_str(invoice.subtotal),
            "discount_total": money_str(invoice.discount_total),
            "total": money_str(invoice.total),
            "amount_paid": money_str(invoice.amount_paid),
            "amount_credited": money_str(invoice.amount_credited),
            "balance": money_str(invoice.balance),
            "paid_on": invoice.paid_on,
            "lines": lines.get(invoice.pk, []),
            "payments": payments.get(invoice.pk, []),
            "pdf_url": f"{head}/{invoice.pk}/{tail}",
        }
        for invoice in invoices
    ]


def _plain_by_invoice(queryset, fields):
    """The rows of ``queryset`` (in its order) as dicts of ``fields``, money as strings,
    by invoice id."""
    found: dict[int, list[dict]] = {}
    for invoice_id, *values in queryset.values_list("invoice_id", *fields):
        row = dict(zip(fields, values, strict=True))
        for key, value in row.items():
            if isinstance(value, Decimal):
                row[key] = money_str(value)
        found.setdefault(invoice_id, []).append(row)
    return found


class InvoiceFilters(Filters):
    customer_id: QueryId | None = None
    agreement_id: QueryId | None = None
    status: Literal[tuple(Invoice.Status.values)] | None = None
    issued_from: BoundedDate | None = None
    issued_to: BoundedDate | None = None


class PaymentIn(Input):
    amount: Decimal = Field(max_digits=12, decimal_places=2, gt=0)
    received_on: BoundedDate
    method: Literal[tuple(Payment.Method.values)] = Payment.Method.ACH
    reference: text(100) = ""


class VoidIn(Input):
    reason: text(300, min_length=1)


def _invoices(request):
    return (
        Invoice.objects.for_user(request.auth)
        .select_related("customer", "agreement")
        .prefetch_related("lines", "payments")
    )


@router.get("/invoices", response=list[InvoiceOut], tags=["invoices"])
@paginate_rows
def list_invoices(request, filters: Query[InvoiceFilters]):
    """Invoices in scope (a customer's own, never void ones), newest first, with their lines
    and payments."""
    invoices = _invoices(request).prefetch_related(None).order_by("-issued_on", "-number")
    if filters.customer_id:
        invoices = invoices.filter(customer_id=filters.customer_id)
    if filters.agreement_id:
        invoices = invoices.filter(agreement_id=filters.agreement_id)
    if filters.status:
        invoices = invoices.filter(status=filters.status)
    if filters.issued_from:
        invoices = invoices.filter(issued_on__gte=filters.issued_from)
    if filters.issued_to:
        invoices = invoices.filter(issued_on__lte=filters.issued_to)
    return Rows(invoices, invoice_rows)


@router.get("/invoices/{invoice_id}", response={200: InvoiceOut, **ERRORS}, tags=["invoices"])
def get_invoice(request, invoice_id: ObjectId):
    return get_or_404(_invoices(request), pk=invoice_id)


@router.get(
    "/invoices/{invoice_id}/pdf",
    response={200: None, **ERRORS},
    tags=["invoices"],
    url_name="invoice_pdf",
    openapi_extra={
        "responses": {
            200: {
                "description": "The invoice as PDF",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def get_invoice_pdf(request, invoice_id: ObjectId):
    """The invoice PDF (the same document as the pages and the email)."""
    invoice = get_or_404(_invoices(request), pk=invoice_id)
    return HttpResponse(
        invoice_pdf(invoice),
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{invoice_filename(invoice)}"'},
    )


@router.post(
    "/invoices/{invoice_id}/payments",
    response={201: PaymentOut, **ERRORS},
    tags=["invoices"],
)
def record_payment(request, invoice_id: ObjectId, payload: PaymentIn):
    """Record a payment received (Allora staff), not in the future; the part beyond the
    balance is held as the customer's credit."""
    user = require_staff(request)
    invoice = get_or_404(Invoice.objects.all(), pk=invoice_id)
    payment = invoice.record_payment(**payload.model_dump(), by=user, today=local_today())
    return Status(201, payment)


@router.post("/invoices/{invoice_id}/void", response={200: InvoiceOut, **ERRORS}, tags=["invoices"])
def void_invoice(request, invoice_id: ObjectId, payload: VoidIn):
    """Void an invoice without payments (admins); it keeps its number."""
    user = require_admin(request)
    invoice = get_or_404(Invoice.objects.all(), pk=invoice_id)
    invoice.void(by=user, reason=payload.reason, now=timezone.now())
    return get_or_404(_invoices(request), pk=invoice_id)


# Time entries -----------------------------------------------------------------------------------


class TimeEntryOut(Schema):
    id: int
    agreement_id: int | None
    line_id: int | None
    visit_id: int | None
    emergency_request_id: int | None
    project_id: int | None
    work_date: dt.date
    hours: MoneyOut
    technician_id: int
    note: str
    worked_on: str = Field(description="What the time was for, in a few words.")
    created_at: dt.datetime

    @staticmethod
    def resolve_worked_on(entry):
        return describe(entry)


WORK_IDS = ("visit_id", "line_id", "emergency_request_id", "project_id")


class TimeEntryIn(Input):
    """Hours worked on exactly one thing: a visit or an Exhibit B line (prescheduled block or
    Emergency Support) of an active agreement, an emergency request, or an approved project."""

    visit_id: QueryId | None = None
    line_id: QueryId | None = None
    emergency_request_id: QueryId | None = None
    project_id: QueryId | None = None
    work_date: BoundedDate = Field(description="Not in the future.")
    hours: Decimal = Field(max_digits=5, decimal_places=2, description="More than 0, at most 24.")
    technician_id: QueryId | None = Field(
        None,
        description="Time on a visit or line: the technician who worked (default: you). Time on "
        "an emergency request or a project is yours, as on their pages.",
    )
    note: text(300) = ""

    @model_validator(mode="after")
    def _one_thing(self):
        given = [name for name in WORK_IDS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"Give exactly one of {', '.join(WORK_IDS)}.")
        return self


def _found(queryset, pk, field, message):
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise FormInvalid([{"loc": ["body", field], "msg": message, "type": "invalid_choice"}])
    return found


def _agreement_time(payload, *, user, today):
    """A visit or line: the time entry page's form, for the agreement the visit or line is of."""
    if payload.visit_id:
        visit = _found(
            Visit.objects.select_related("agreement"),
            payload.visit_id,
            "visit_id",
            "Choose a visit of an agreement.",
        )
        agreement, work, field = visit.agreement, f"visit:{visit.pk}", "visit_id"
    else:
        line = _found(
            ServiceLine.objects.select_related("version__agreement"),
            payload.line_id,
            "line_id",
            "Choose a service (an Exhibit B line) of an agreement.",
        )
        agreement, work, field = line.version.agreement, f"line:{line.pk}", "line_id"
    form = TimeEntryForm(
        {
            **payload.model_dump(include={"work_date", "hours", "note"}),
            "work": work,
            "technician": payload.technician_id or user.pk,
        },
        agreement=agreement,
        visits=[],
        lines=loggable_lines(agreement),
    )
    data = valid_data(form, names={"work": field, "technician": "technician_id"})
    return log_form_time(agreement, data, by=user, today=today)


@router.post("/time-entries", response={201: TimeEntryOut, **ERRORS}, tags=["time"])
def log_time_entry(request, payload: TimeEntryIn):
    """Log hours worked (Allora staff), with the checks of the time pages: an active agreement
    and a date in its terms, a visit not cancelled, an emergency request acknowledged, a project
    approved and within its approved hours, no future date."""
    user = require_staff(request)
    today = local_today()
    if payload.visit_id or payload.line_id:
        return Status(201, _agreement_time(payload, user=user, today=today))
    if payload.technician_id not in (None, user.pk):
        raise RuleError(
            [
                "Time on an emergency request or a project is logged by the technician who worked, "
                "with their own token."
            ],
            loc=("body", "technician_id"),
        )
    data = valid_data(HoursForm(payload.model_dump(include={"work_date", "hours", "note"})))
    if payload.emergency_request_id:
        emergency = _found(
            EmergencyRequest.objects.all(),
            payload.emergency_request_id,
            "emergency_request_id",
            "No such emergency request.",
        )
        entry = log_time(emergency_request=emergency, **data, technician=user, by=user, today=today)
    else:
        project = _found(
            Project.objects.all(), payload.project_id, "project_id", "No such project."
        )
        entry = projects.log_project_time(
            project, **data, technician=user, by=user, today=today, now=timezone.now()
        )
    return Status(201, entry)

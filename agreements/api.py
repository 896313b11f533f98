"""API routes of the agreements app: customers and contacts, agreements (versions, terms,
Exhibit B), termination requests, rate reviews and the import of existing agreements.

Handlers parse, authorize, call the same forms and lifecycle functions as the pages, and
serialize; the rules live in ``lifecycle.py`` and the forms.
"""

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone
from ninja import Field, File, Query, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError
from ninja.pagination import paginate

from allora.api import (
    ERRORS,
    Filters,
    FormInvalid,
    Input,
    Message,
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
from allora.validation import MAX_COUNT, BoundedDate, BoundedDateTime, text

from . import importing, lifecycle, services, signing, tasks
from .forms import (
    AgreementCreateForm,
    ContactForm,
    CustomerForm,
    RateReviewForm,
    SendForm,
    ServiceLineForm,
    VersionForm,
)
from .importing import jobs
from .importing.reading import size_problem
from .importing.report import report_from_json
from .models import (
    Agreement,
    AgreementVersion,
    Contact,
    Customer,
    FrozenContentError,
    ImportJob,
    RateReview,
    ResponseTier,
    ServiceKind,
    ServiceLine,
    Term,
    TerminationRequest,
    TermsTemplate,
)
from .pages import line_forms

router = Router()


# Customers and contacts ---------------------------------------------------------------------


class CustomerOut(Schema):
    id: int
    legal_name: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    phone: str
    time_zone: str
    status: str
    external_ref: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class CustomerUpdated(CustomerOut):
    warnings: list[str] = Field(
        default_factory=list,
        description="Versions awaiting signature that still name the customer as they were "
        "sent (the name and address are part of what is signed): recall and resend them on "
        "their agreement's page to have them signed with the new ones.",
    )


CustomerStatus = Literal[tuple(Customer.Status.values)]


class CustomerIn(Input):
    legal_name: text(200, min_length=1)
    address_line1: text(200, min_length=1)
    address_line2: text(200) = ""
    city: text(100) = "Raleigh"
    state: text(2, min_length=2) = "NC"
    postal_code: text(10, min_length=1)
    phone: text(30, min_length=1)
    time_zone: text(64) = "America/New_York"
    status: CustomerStatus = Customer.Status.PROSPECT
    external_ref: text(100, min_length=1) | None = None


class CustomerPatch(Input):
    legal_name: text(200, min_length=1) | None = None
    address_line1: text(200, min_length=1) | None = None
    address_line2: text(200) | None = None
    city: text(100) | None = None
    state: text(2, min_length=2) | None = None
    postal_code: text(10, min_length=1) | None = None
    phone: text(30, min_length=1) | None = None
    time_zone: text(64) | None = None
    status: CustomerStatus | None = None
    external_ref: text(100, min_length=1) | None = None


class CustomerFilters(Filters):
    q: text(100) | None = None
    status: CustomerStatus | None = None
    external_ref: text(100) | None = None


def _customers(request):
    return Customer.objects.for_user(request.auth)


def _check_external_ref(model, value, *, exclude=None):
    if value is None:
        return
    taken = model.objects.filter(external_ref=value)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise RuleError(
            [f"The external reference {value!r} is already used."], loc=("body", "external_ref")
        )


def _save_customer(payload: dict, *, instance=None):
    external_ref = payload.pop("external_ref", None)
    form = CustomerForm(payload, instance=instance)
    if not form.is_valid():
        raise FormInvalid(form_errors(form))
    _check_external_ref(Customer, external_ref, exclude=instance)
    customer = form.save(commit=False)
    if external_ref is not None:
        customer.external_ref = external_ref
    customer.save()
    return customer


@router.get("/customers", response=list[CustomerOut], tags=["customers"])
@paginate(Pagination)
def list_customers(request, filters: Query[CustomerFilters]):
    """Customers in scope: all for Allora staff, their own for a customer's token."""
    customers = _customers(request).order_by("legal_name")
    if filters.q:
        customers = customers.filter(legal_name__icontains=filters.q)
    if filters.status:
        customers = customers.filter(status=filters.status)
    if filters.external_ref:
        customers = customers.filter(external_ref=filters.external_ref)
    return customers


@router.post("/customers", response={201: CustomerOut, **ERRORS}, tags=["customers"])
def create_customer(request, payload: CustomerIn):
    """Create a customer (staff), with the same checks as the customer form."""
    require_staff(request)
    return Status(201, _save_customer(payload.model_dump()))


@router.get("/customers/{customer_id}", response={200: CustomerOut, **ERRORS}, tags=["customers"])
def get_customer(request, customer_id: ObjectId):
    return get_or_404(_customers(request), pk=customer_id)


@router.patch(
    "/customers/{customer_id}", response={200: CustomerUpdated, **ERRORS}, tags=["customers"]
)
def update_customer(request, customer_id: ObjectId, payload: CustomerPatch):
    """Change some fields of a customer (staff). A version awaiting signature keeps the name
    and address it was sent with; ``warnings`` names each one that now differs."""
    require_staff(request)
    customer = get_or_404(_customers(request), pk=customer_id)
    awaiting = list(signing.awaiting_signature(customer))
    current = model_to_dict(customer, fields=CustomerForm.Meta.fields)
    changes = payload.model_dump(exclude_unset=True)
    if "external_ref" not in changes:
        changes["external_ref"] = None
    saved = _save_customer({**current, **changes}, instance=customer)
    saved.warnings = [
        f"{notice} {settings.SITE_URL}"
        + reverse("agreements:agreement_detail", args=[version.agreement_id])
        for version in awaiting
        if (notice := signing.recorded_parties_notice(version))
    ]
    return saved


class ContactOut(Schema):
    id: int
    customer_id: int
    name: str
    title: str
    email: str
    phone: str
    is_authorized_signer: bool
    is_project_approver: bool
    is_billing_contact: bool
    has_portal_access: bool


class ContactIn(Input):
    name: text(200, min_length=1)
    title: text(100) = ""
    email: text(254, min_length=3)
    phone: text(30) = ""
    is_authorized_signer: bool = False
    is_project_approver: bool = False
    is_billing_contact: bool = False


class ContactPatch(Input):
    name: text(200, min_length=1) | None = None
    title: text(100) | None = None
    email: text(254, min_length=3) | None = None
    phone: text(30) | None = None
    is_authorized_signer: bool | None = None
    is_project_approver: bool | None = None
    is_billing_contact: bool | None = None


class ContactFilters(Filters):
    customer_id: QueryId | None = None
    q: text(100) | None = None


def _save_contact(payload, *, customer, instance=None):
    form = ContactForm(payload, customer=customer, instance=instance)
    if not form.is_valid():
        raise FormInvalid(form_errors(form))
    return form.save()


@router.get("/contacts", response=list[ContactOut], tags=["customers"])
@paginate(Pagination)
def list_contacts(request, filters: Query[ContactFilters]):
    contacts = Contact.objects.for_user(request.auth).order_by("customer_id", "name", "id")
    if filters.customer_id:
        contacts = contacts.filter(customer_id=filters.customer_id)
    if filters.q:
        contacts = contacts.filter(name__icontains=filters.q)
    return contacts


@router.post(
    "/customers/{customer_id}/contacts",
    response={201: ContactOut, **ERRORS},
    tags=["customers"],
)
def create_contact(request, customer_id: ObjectId, payload: ContactIn):
    """Add a contact to a customer (staff)."""
    require_staff(request)
    customer = get_or_404(_customers(request), pk=customer_id)
    return Status(201, _save_contact(payload.model_dump(), customer=customer))


@router.get("/contacts/{contact_id}", response={200: ContactOut, **ERRORS}, tags=["customers"])
def get_contact(request, contact_id: ObjectId):
    return get_or_404(Contact.objects.for_user(request.auth), pk=contact_id)


@router.patch("/contacts/{contact_id}", response={200: ContactOut, **ERRORS}, tags=["customers"])
def update_contact(request, contact_id: ObjectId, payload: ContactPatch):
    """Change some fields of a contact (staff)."""
    require_staff(request)
    contact = get_or_404(Contact.objects.select_related("customer", "user"), pk=contact_id)
    current = model_to_dict(contact, fields=ContactForm.Meta.fields)
    changes = payload.model_dump(exclude_unset=True)
    return _save_contact({**current, **changes}, customer=contact.customer, instance=contact)


# Agreements --------------------------------------------------------------------------------


class RateOut(Schema):
    kind: str
    name: str
    unit: str
    price: str


class RatesOut(Schema):
    """Exhibit A frozen as JSON (a rates snapshot): the card it came from, the discounts in
    percent by service kind, and the standard rates."""

    rate_card: dict[str, str | int | None]
    discounts: dict[str, str]
    rates: list[RateOut]


class TermOut(Schema):
    number: int
    start: dt.date
    end: dt.date = Field(description="Exclusive: the first day after the term.")
    last_day: dt.date
    notice_deadline: dt.date
    locked_rates: RatesOut


class ScheduleOut(Schema):
    rrule: str
    start_time: dt.time | None
    duration_minutes: int | None
    schedule_text: str


class LineOut(Schema):
    id: int
    kind: str
    position: int
    notes: str
    labor_rate: str | None
    hours_per_visit: str | None
    hours_per_month: str | None
    checklist: list[str]
    schedule: ScheduleOut | None
    response_tier: str | None
    package_name: str | None
    quantity: int | None

    @staticmethod
    def resolve_labor_rate(line):
        return line.labor_rate if line.is_scheduled else None

    @staticmethod
    def resolve_hours_per_visit(line):
        return money_str(line.hours_per_visit)

    @staticmethod
    def resolve_hours_per_month(line):
        return money_str(line.hours_per_month)

    @staticmethod
    def resolve_schedule(line):
        return line if line.rrule else None

    @staticmethod
    def resolve_response_tier(line):
        return line.response_tier.name if line.response_tier_id else None

    @staticmethod
    def resolve_package_name(line):
        return line.package_name or None

    @staticmethod
    def resolve_quantity(line):
        return line.quantity if line.kind == "hosting" else None


class VersionOut(Schema):
    number: int
    status: str
    terms_version: int
    billing_day: int
    payment_terms_days: int
    start_date: dt.date | None
    sent_at: dt.datetime | None
    completed_at: dt.datetime | None
    content_sha256: str
    rates: RatesOut | None
    has_signed_pdf: bool
    lines: list[LineOut]

    @staticmethod
    def resolve_terms_version(version):
        return version.terms_template.version

    @staticmethod
    def resolve_rates(version):
        return version.rates_snapshot

    @staticmethod
    def resolve_has_signed_pdf(version):
        return bool(version.signed_pdf)

    @staticmethod
    def resolve_lines(version):
        return version.lines.all()


class AgreementOut(Schema):
    id: int
    number: str
    customer_id: int
    customer_name: str
    status: str
    time_zone: str
    external_ref: str | None
    created_at: dt.datetime
    current_term: TermOut | None = Field(description="The newest term (None: unsigned).")

    @staticmethod
    def resolve_customer_name(agreement):
        return agreement.customer.legal_name

    @staticmethod
    def resolve_current_term(agreement):
        return agreement.latest_term


class TerminationOut(Schema):
    id: int
    agreement_id: int
    agreement_number: str
    status: str
    channel: str
    received_at: dt.datetime
    reason: str
    typed_name: str
    term_number: int
    notice_deadline: dt.date
    timely: bool
    effective_end: dt.date = Field(description="Exclusive end of the last term.")
    last_day: dt.date
    renews_on: dt.date | None
    message: str = Field(description="What the request means, in plain words.")
    withdrawn_at: dt.datetime | None

    @staticmethod
    def resolve_agreement_number(request):
        return request.agreement.number

    @staticmethod
    def resolve_message(request):
        return lifecycle.termination_message(request)


class AgreementDetailOut(AgreementOut):
    terms: list[TermOut]
    versions: list[VersionOut]
    termination_requests: list[TerminationOut]

    @staticmethod
    def resolve_terms(agreement):
        return agreement.terms.all()

    @staticmethod
    def resolve_versions(agreement):
        return agreement.api_versions

    @staticmethod
    def resolve_termination_requests(agreement):
        return agreement.termination_requests.all()


def agreement_rows(agreements):
    """A page of agreements as AgreementOut's items (the list's rows, built without per-field
    validation: ``allora.api.paginate_rows``)."""
    return [
        {
            "id": agreement.pk,
            "number": agreement.number,
            "customer_id": agreement.customer_id,
            "customer_name": agreement.customer.legal_name,
            "status": agreement.status,
            "time_zone": agreement.time_zone,
            "external_ref": agreement.external_ref,
            "created_at": agreement.created_at,
            "current_term": _term_row(agreement.latest_term),
        }
        for agreement in agreements
    ]


def _term_row(term):
    if term is None:
        return None
    rates = term.locked_rates
    return {
        "number": term.number,
        "start": term.start,
        "end": term.end,
        "last_day": term.last_day,
        "notice_deadline": term.notice_deadline,
        "locked_rates": {
            "rate_card": dict(rates["rate_card"]),
            "discounts": dict(rates["discounts"]),
            "rates": [
                {key: str(rate[key]) for key in ("kind", "name", "unit", "price")}
                for rate in rates["rates"]
            ],
        },
    }


AgreementStatus = Literal[tuple(Agreement.Status.values)]


class AgreementFilters(Filters):
    customer_id: QueryId | None = None
    status: AgreementStatus | None = None
    number: text(20) | None = None
    external_ref: text(100) | None = None


def agreements_for(user):
    """What a user may see of agreements: the pages' scoping; customers never see drafts."""
    agreements = Agreement.objects.for_user(user)
    if not user.is_allora_staff:
        agreements = agreements.exclude(status=Agreement.Status.DRAFT)
    return agreements


@router.get("/agreements", response=list[AgreementOut], tags=["agreements"])
@paginate_rows
def list_agreements(request, filters: Query[AgreementFilters]):
    """Agreements in scope with their newest term (dates, notice deadline, locked rates)."""
    agreements = (
        agreements_for(request.auth)
        .select_related("customer")
        .prefetch_related(Prefetch("terms", Term.objects.latest_of_each()))
        .order_by("-created_at", "-id")
    )
    if filters.customer_id:
        agreements = agreements.filter(customer_id=filters.customer_id)
    if filters.status:
        agreements = agreements.filter(status=filters.status)
    if filters.number:
        agreements = agreements.filter(number=filters.number)
    if filters.external_ref:
        agreements = agreements.filter(external_ref=filters.external_ref)
    return Rows(agreements, agreement_rows)


@router.get(
    "/agreements/{agreement_id}",
    response={200: AgreementDetailOut, **ERRORS},
    tags=["agreements"],
)
def get_agreement(request, agreement_id: ObjectId):
    """One agreement: its terms, its versions with the Exhibit B lines and schedules, and its
    termination requests."""
    return _agreement_detail(request.auth, agreement_id)


def _agreement_detail(user, agreement_id):
    versions = AgreementVersion.objects.select_related("terms_template").prefetch_related(
        Prefetch("lines", ServiceLine.objects.select_related("response_tier"))
    )
    if not user.is_allora_staff:
        versions = versions.exclude(status=AgreementVersion.Status.DRAFT)
    return get_or_404(
        agreements_for(user)
        .select_related("customer")
        .prefetch_related(
            "terms",
            Prefetch("versions", versions.order_by("-number"), to_attr="api_versions"),
            Prefetch(
                "termination_requests", TerminationRequest.objects.select_related("agreement")
            ),
        ),
        pk=agreement_id,
    )


# Drafting and sending agreements ------------------------------------------------------------

MAX_LINES = 100
WEEKDAY = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
DRAFTING_NAMES = {"customer": "customer_id", "terms_template": "terms_template_id"}


class ScheduleIn(Input):
    """When a scheduled line's visits happen, as on the line page ("the third Wednesday of every
    month at 10:00 for 2 hours"); checked by the same schedule form."""

    frequency: Literal["monthly", "weekly"]
    interval: int = Field(1, ge=1, le=12, description="Every 1 to 12 weeks or months.")
    monthly_mode: Literal["weekday", "date"] | None = Field(
        None, description="Monthly: on a weekday (ordinal + weekday) or a date (month_day)."
    )
    ordinal: Literal[1, 2, 3, 4, -1] | None = Field(None, description="-1: the last.")
    weekday: WEEKDAY | None = None
    weekdays: list[WEEKDAY] = Field(default_factory=list, max_length=7, description="Weekly.")
    month_day: int | None = Field(None, ge=1, le=31)
    start_time: text(8, min_length=1) = Field(description="Local time, HH:MM.")
    duration_hours: Decimal = Field(max_digits=4, decimal_places=2, description="0.25 to 12.")

    def form_data(self):
        data = self.model_dump(exclude_none=True)
        return {f"schedule-{name}": value for name, value in data.items()}


class LineIn(Input):
    """One Exhibit B line. Give the fields of its kind only (as the line page shows them):
    maintenance: labor_rate, hours_per_visit, checklist, schedule; prescheduled: labor_rate,
    hours_per_month, schedule; emergency: response_tier; hosting: package_name, quantity;
    notes for any kind."""

    kind: Literal[tuple(ServiceKind.values)]
    labor_rate: Literal[tuple(ServiceLine.LaborRate.values)] | None = Field(
        None, description="Default: onsite_hourly."
    )
    hours_per_visit: Decimal | None = Field(None, max_digits=5, decimal_places=2)
    hours_per_month: Decimal | None = Field(None, max_digits=6, decimal_places=2)
    checklist: list[text(200, min_length=1)] | None = Field(
        None, max_length=50, description="Tasks of each visit; default: the standard five."
    )
    response_tier: text(100) | None = Field(
        None, description="The guarantee's name, e.g. “1 hour, 24×7” (active tiers only)."
    )
    package_name: text(120) | None = Field(
        None, description="A hosting package of the rate card in effect."
    )
    quantity: int | None = Field(None, ge=1, le=MAX_COUNT)
    notes: text(300) = ""
    schedule: ScheduleIn | None = None


class AgreementIn(Input):
    customer_id: QueryId = Field(description="An active customer (not inactive).")
    terms_template_id: QueryId | None = Field(
        None, description="Published terms and conditions; default: the newest."
    )
    billing_day: int = Field(1, ge=1, le=28)
    payment_terms_days: Literal[15, 30, 45, 60] = 30
    start_date: BoundedDate | None = Field(
        None, description="A later start than the last signature (not in the past)."
    )
    lines: list[LineIn] = Field(default_factory=list, max_length=MAX_LINES)


class AgreementPatch(Input):
    terms_template_id: QueryId | None = None
    billing_day: int | None = Field(None, ge=1, le=28)
    payment_terms_days: Literal[15, 30, 45, 60] | None = None
    start_date: BoundedDate | None = Field(None, description="null clears it.")
    lines: list[LineIn] | None = Field(
        None, max_length=MAX_LINES, description="When given, replaces the whole Exhibit B."
    )


class SendIn(Input):
    signer_id: QueryId = Field(description="An authorized signer (contact) of the customer.")


def _line_data(line: LineIn):
    """A line of the body as the line page posts it (only the fields of its kind)."""
    kind_fields = ServiceLineForm.FIELDS_BY_KIND[line.kind]
    given = line.model_dump(exclude_none=True, exclude={"kind", "schedule"})
    unknown = [name for name in given if name not in kind_fields]
    data = {name: value for name, value in given.items() if name in kind_fields}
    if "checklist" in kind_fields:
        items = ServiceLineForm.DEFAULT_CHECKLIST if line.checklist is None else line.checklist
        data["checklist"] = "\n".join(items)
    if "response_tier" in data:
        tier = ResponseTier.objects.filter(name=data["response_tier"]).first()
        data["response_tier"] = tier.pk if tier else "unknown"
    return data, unknown


def _line_forms(lines, *, tz, anchor, today):
    """The line forms of every line of the body, checked; all their errors in one 422."""
    checked, errors = [], []
    for index, line in enumerate(lines):
        where = ("body", "lines", index)
        data, unknown = _line_data(line)
        errors += [
            {"loc": [*where, name], "msg": f"Not a field of a {line.kind} line.", "type": "extra"}
            for name in unknown
        ]
        form, schedule = line_forms(
            {**data, **(line.schedule.form_data() if line.schedule else {})},
            kind=line.kind,
            tz=tz,
            anchor=anchor,
            today=today,
        )
        if schedule is None and line.schedule is not None:
            errors.append(
                {"loc": [*where, "schedule"], "msg": "Only scheduled lines.", "type": "extra"}
            )
        if not form.is_valid():
            errors += form_errors(form, loc=where)
        if schedule is not None and not schedule.is_valid():
            errors += form_errors(schedule, loc=(*where, "schedule"))
        checked.append((line.kind, form, schedule))
    if errors:
        raise FormInvalid(errors)
    return checked


def _save_lines(version, checked, *, by):
    for kind, form, schedule in checked:
        services.save_service_line(
            form.save(commit=False),
            version=version,
            kind=kind,
            schedule=schedule.cleaned_data if schedule is not None else None,
            by=by,
        )


def _settings_data(payload: dict):
    data = {
        "terms_template": payload.get("terms_template_id"),
        "billing_day": payload.get("billing_day"),
        "payment_terms_days": payload.get("payment_terms_days"),
        "start_date": payload.get("start_date"),
    }
    if data["terms_template"] is None:
        newest = TermsTemplate.objects.filter(published_at__isnull=False).first()
        data["terms_template"] = newest.pk if newest else None
    return data


def _staff_agreement(request, agreement_id):
    return get_or_404(agreements_for(request.auth).select_related("customer"), pk=agreement_id)


def _draft_version(agreement):
    version = agreement.latest_version()
    if not version.is_draft:
        raise FrozenContentError()
    return version


@router.post("/agreements", response={201: AgreementDetailOut, **ERRORS}, tags=["agreements"])
def create_agreement(request, payload: AgreementIn):
    """Draft an agreement for an active customer (staff), with its Exhibit B lines: the checks of
    the new-agreement page and of each line page; nothing is saved unless everything is valid."""
    user = require_staff(request)
    today = local_today()
    data = payload.model_dump(exclude={"lines"})
    form = AgreementCreateForm(
        {**_settings_data(data), "customer": payload.customer_id}, today=today
    )
    valid_data(form, names=DRAFTING_NAMES)
    customer = form.cleaned_data["customer"]
    start = form.cleaned_data["start_date"]
    checked = _line_forms(payload.lines, tz=customer.time_zone, anchor=start, today=today)
    with transaction.atomic():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "customer"}
        version = services.create_agreement(customer, by=user, today=today, **fields)
        _save_lines(version, checked, by=user)
    return Status(201, _agreement_detail(user, version.agreement_id))


@router.patch(
    "/agreements/{agreement_id}", response={200: AgreementDetailOut, **ERRORS}, tags=["agreements"]
)
def update_draft(request, agreement_id: ObjectId, payload: AgreementPatch):
    """Change a draft (staff): its settings, and its Exhibit B when ``lines`` is given (the
    lines replace the draft's). Once sent for signature a version cannot change (400): recall it
    or start an amendment in the browser."""
    user = require_staff(request)
    today = local_today()
    with transaction.atomic():
        agreement = _staff_agreement(request, agreement_id)
        version = _draft_version(agreement)
        changes = payload.model_dump(exclude_unset=True)
        current = {
            "terms_template_id": version.terms_template_id,
            "billing_day": version.billing_day,
            "payment_terms_days": version.payment_terms_days,
            "start_date": version.start_date,
        }
        # Settings are checked when they change (a start date that has passed since does not
        # stop a change of the lines, as on the line pages).
        settings_changed = bool(set(changes) - {"lines"})
        anchor = version.start_date
        if settings_changed:
            form = VersionForm(
                _settings_data({**current, **changes}), instance=version, today=today
            )
            anchor = valid_data(form, names=DRAFTING_NAMES)["start_date"]
        if payload.lines is not None:
            checked = _line_forms(payload.lines, tz=agreement.time_zone, anchor=anchor, today=today)
        if settings_changed:
            version = services.save_draft_settings(form, by=user)
        if payload.lines is not None:
            for line in version.lines.select_related("version__agreement"):
                services.remove_service_line(line, by=user)
            _save_lines(version, checked, by=user)
    return _agreement_detail(user, agreement.pk)


@router.post(
    "/agreements/{agreement_id}/send",
    response={200: AgreementDetailOut, **ERRORS},
    tags=["agreements"],
)
def send_agreement(request, agreement_id: ObjectId, payload: SendIn):
    """Send the draft for signature to an authorized signer of the customer (staff): Exhibit A
    is frozen from today's rate card and the signer is emailed. A draft that is not ready (no
    services, a scheduled line without its schedule…) is a 400 listing what to fix."""
    user = require_staff(request)
    agreement = _staff_agreement(request, agreement_id)
    version = _draft_version(agreement)
    form = SendForm({"signer": payload.signer_id}, customer=agreement.customer)
    data = valid_data(form, names={"signer": "signer_id"})
    signing.send_for_signature(version, signer=data["signer"], by=user, today=local_today())
    return _agreement_detail(user, agreement.pk)


# Termination requests -------------------------------------------------------------------------


class TerminationIn(Input):
    reason: text(5000, min_length=1)
    typed_name: text(200, min_length=1)
    received_at: BoundedDateTime | None = Field(
        None,
        description="Staff only: when the letter or email arrived (ISO 8601; without an offset "
        "it is the customer's local time). A customer's request is received now.",
    )
    channel: Literal["letter", "email"] | None = Field(
        None, description="Staff only: how the request came. A customer's is the portal."
    )


class TerminationFilters(Filters):
    agreement_id: QueryId | None = None
    status: Literal[tuple(TerminationRequest.Status.values)] | None = None


def _terminations(user):
    return TerminationRequest.objects.filter(agreement__in=agreements_for(user)).select_related(
        "agreement"
    )


def _check_may_request_termination(agreement, user):
    if not signing.may_request_termination(agreement, user):
        raise HttpError(403, signing.termination_refusal(agreement))


@router.get("/termination-requests", response=list[TerminationOut], tags=["termination"])
@paginate(Pagination)
def list_termination_requests(request, filters: Query[TerminationFilters]):
    requests = _terminations(request.auth).order_by("-received_at", "-id")
    if filters.agreement_id:
        requests = requests.filter(agreement_id=filters.agreement_id)
    if filters.status:
        requests = requests.filter(status=filters.status)
    return requests


@router.get(
    "/termination-requests/{request_id}",
    response={200: TerminationOut, **ERRORS},
    tags=["termination"],
)
def get_termination_request(request, request_id: ObjectId):
    return get_or_404(_terminations(request.auth), pk=request_id)


@router.post(
    "/agreements/{agreement_id}/termination-requests",
    response={201: TerminationOut, **ERRORS},
    tags=["termination"],
)
def file_termination_request(request, agreement_id: ObjectId, payload: TerminationIn):
    """File the written termination request (Allora staff, or an authorized signer of the
    customer). A customer's is received now, through the portal; staff record a letter or email
    with the time it arrived. The answer says plainly
    whether it was timely and when the agreement ends (``message`` and the dates)."""
    user = request.auth
    agreement = get_or_404(agreements_for(user), pk=agreement_id)
    _check_may_request_termination(agreement, user)
    if user.is_allora_staff:
        if payload.received_at is None or payload.channel is None:
            missing = "received_at" if payload.received_at is None else "channel"
            raise RuleError(
                ["Staff record a letter or email: give when it arrived and how."],
                loc=("body", missing),
            )
        received_at = payload.received_at
        if timezone.is_naive(received_at):
            received_at = received_at.replace(tzinfo=agreement.tz)
        channel = payload.channel
    else:
        for field in ("received_at", "channel"):
            if getattr(payload, field) is not None:
                raise RuleError(
                    ["A customer's request is received now, through the portal."],
                    loc=("body", field),
                )
        received_at, channel = timezone.now(), TerminationRequest.Channel.PORTAL
    filed = lifecycle.file_termination_request(
        agreement,
        by=user,
        received_at=received_at,
        reason=payload.reason,
        typed_name=payload.typed_name,
        channel=channel,
    )
    return Status(201, filed)


@router.post(
    "/termination-requests/{request_id}/withdraw",
    response={200: TerminationOut, **ERRORS},
    tags=["termination"],
)
def withdraw_termination_request(request, request_id: ObjectId):
    """Withdraw a standing request (Allora staff, or an authorized signer of the customer) before
    the agreement ends."""
    filed = get_or_404(_terminations(request.auth), pk=request_id)
    _check_may_request_termination(filed.agreement, request.auth)
    return lifecycle.withdraw_termination_request(filed, by=request.auth)


# Rate reviews ------------------------------------------------------------------------------


class RateReviewOut(Schema):
    id: int
    agreement_id: int
    term_number: int = Field(description="The term these rates are for.")
    method: str
    uplift_percent: str | None
    rates: RatesOut
    status: str
    updated_at: dt.datetime
    finalized_at: dt.datetime | None

    @staticmethod
    def resolve_uplift_percent(review):
        return money_str(review.uplift_percent)


class RateReviewIn(Input):
    method: Literal[tuple(RateReview.Method.values)]
    uplift_percent: Decimal | None = Field(
        None, max_digits=6, decimal_places=2, ge=-100, description="Percent, for method uplift."
    )


class RateReviewFilters(Filters):
    agreement_id: QueryId | None = None
    status: Literal[tuple(RateReview.Status.values)] | None = None


def _reviews(user):
    reviews = RateReview.objects.filter(agreement__in=agreements_for(user))
    if not user.is_allora_staff:  # the portal shows finalized next-term rates only
        reviews = reviews.filter(status=RateReview.Status.FINALIZED)
    return reviews


@router.get("/rate-reviews", response=list[RateReviewOut], tags=["renewals"])
@paginate(Pagination)
def list_rate_reviews(request, filters: Query[RateReviewFilters]):
    """Next-term rates: drafts and finalized for Allora staff, finalized for customers."""
    reviews = _reviews(request.auth).order_by("-updated_at", "-id")
    if filters.agreement_id:
        reviews = reviews.filter(agreement_id=filters.agreement_id)
    if filters.status:
        reviews = reviews.filter(status=filters.status)
    return reviews


@router.get("/rate-reviews/{review_id}", response={200: RateReviewOut, **ERRORS}, tags=["renewals"])
def get_rate_review(request, review_id: ObjectId):
    return get_or_404(_reviews(request.auth), pk=review_id)


@router.put(
    "/agreements/{agreement_id}/rate-review",
    response={200: RateReviewOut, **ERRORS},
    tags=["renewals"],
)
def save_rate_review(request, agreement_id: ObjectId, payload: RateReviewIn):
    """Set the draft rates of the agreement's next term (admins): keep, card or uplift."""
    user = require_admin(request)
    agreement = get_or_404(Agreement.objects.all(), pk=agreement_id)
    form = RateReviewForm(payload.model_dump())
    if not form.is_valid():
        raise FormInvalid(form_errors(form))
    return lifecycle.save_rate_review(
        agreement,
        method=form.cleaned_data["method"],
        uplift_percent=form.cleaned_data["uplift_percent"],
        by=user,
        today=local_today(),
    )


@router.post(
    "/rate-reviews/{review_id}/finalize",
    response={200: RateReviewOut, **ERRORS},
    tags=["renewals"],
)
def finalize_rate_review(request, review_id: ObjectId):
    """Finalize the next term's rates (admins); the customer is told by email."""
    user = require_admin(request)
    review = get_or_404(RateReview.objects.all(), pk=review_id)
    return lifecycle.finalize_rate_review(review, by=user, today=local_today())


# Import ------------------------------------------------------------------------------------


class RowErrorOut(Schema):
    line: int = Field(description="Line of the file (1 is the first; 0: the file).")
    field: str
    reason: str


class ImportedAgreementOut(Schema):
    external_ref: str
    number: str
    customer: str
    terms: int
    current_term_start: dt.date
    current_term_end: dt.date
    visits_planned: int
    existing: bool
    billed_through: dt.date | None = Field(
        None, description="The last day the previous system billed (new agreements only)."
    )
    first_invoice_period: dt.date | None = Field(
        None, description="The month (first day) of the first invoice this system will issue."
    )
    first_invoice_on: dt.date | None = Field(None, description="That invoice's issue date.")


class ImportReportOut(Schema):
    ok: bool
    dry_run: bool
    customers_created: int
    customers_existing: int
    contacts_created: int
    agreements_created: int
    agreements_existing: int
    agreements: list[ImportedAgreementOut]
    errors: list[RowErrorOut]


class ImportOptions(Filters):
    dry_run: bool = Field(False, description="Check and report, change nothing.")


class ImportJobOut(Schema):
    id: int
    status: Literal[tuple(ImportJob.Status.values)] = Field(
        description="queued, running, done (see report) or failed (see error)."
    )
    dry_run: bool
    file_name: str
    rows_total: int = Field(description="Records in the file (customers and agreements).")
    rows_done: int = Field(description="Records checked so far.")
    report: ImportReportOut | None = None
    error: str


@router.post(
    "/imports",
    response={
        200: ImportReportOut,
        202: ImportJobOut,
        413: Message,
        422: ImportReportOut,
        **ERRORS,
    },
    tags=["import"],
)
def import_agreements(request, options: Query[ImportOptions], file: File[UploadedFile]):
    """Import customers, contacts and signed agreements from a JSON or CSV file (admins), all
    or nothing; a row already imported (same external_ref) is left as it is. A bad file is a
    422 whose ``errors`` give each bad row's line and the reason. PDFs travel as base64. A file
    over the size limit is a 413; a big one is imported by the worker: the answer is a 202 with
    the job, to follow at ``GET /imports/{id}``."""
    user = require_admin(request)
    name = file.name or ""
    if not name.lower().endswith((".json", ".csv")):
        raise RuleError(["Upload a .json or .csv file."], loc=("body", "file"))
    if problem := size_problem(file.size):
        raise HttpError(413, problem)
    if not jobs.runs_inline(file.size):
        job = jobs.create_import_job(file, by=user, dry_run=options.dry_run)
        tasks.run_import_job.delay(job.pk)
        job.refresh_from_db()
        return Status(202, _job_out(job))
    report = importing.import_bytes(
        file.read(), name=name, by=user, today=local_today(), dry_run=options.dry_run
    )
    return Status(200 if report.ok else 422, report)


@router.get("/imports/{job_id}", response={200: ImportJobOut, **ERRORS}, tags=["import"])
def import_job(request, job_id: ObjectId):
    """An import the worker runs (admins): its progress, then its report."""
    require_admin(request)
    return _job_out(get_or_404(ImportJob.objects.all(), pk=job_id))


def _job_out(job):
    job.report = report_from_json(job.report) if job.report else None
    return job

"""API routes of service delivery: emergency requests (staff record one taken by phone; a
customer's token files one for its own customer, as in the portal) and projects with their
estimates and change orders (staff).

Handlers parse, authorize and call the pages' forms and the services (``emergencies.py``,
``projects.py``); the rules live there."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from ninja import Field, Router, Schema, Status

from agreements.models import Customer
from allora.api import (
    ERRORS,
    Input,
    MoneyOut,
    ObjectId,
    QueryId,
    RuleError,
    get_or_404,
    require_staff,
    valid_data,
)
from allora.timeutils import local_today
from allora.validation import BoundedDateTime, text

from . import emergencies, projects
from .forms import EmergencyForm, EstimateForm, PhoneEmergencyForm, ProjectForm
from .models import EmergencyRequest, Project

router = Router()


# Emergency requests -----------------------------------------------------------------------------


class EmergencyRequestOut(Schema):
    id: int
    customer_id: int
    agreement_id: int | None
    channel: str
    status: str
    received_at: dt.datetime
    summary: str
    contact_name: str
    contact_phone: str
    site: str
    tier_name: str = Field(description="The response guarantee that applies (empty: none).")
    response_minutes: int | None
    business_hours_only: bool
    due_at: dt.datetime | None = Field(description="The response deadline (None: no guarantee).")
    outcome: str


class EmergencyRequestIn(Input):
    customer_id: QueryId | None = Field(
        None,
        description="Staff: the customer who called (required). A customer's token files for "
        "its own customer (omit it).",
    )
    received_at: BoundedDateTime | None = Field(
        None,
        description="Staff only (required): when the call came in (ISO 8601; without an offset "
        "it is the customer's local time). A customer's request is received now.",
    )
    summary: text(2000) = Field("", description="What is wrong.")
    contact_name: text(200) = Field("", description="Who should we call.")
    contact_phone: text(30) = ""
    site: text(300) = Field("", description="Where the technician should go.")


TEXT_FIELDS = ("summary", "contact_name", "contact_phone", "site")


def _filed(request, payload):
    """The request's text, customer, time received and channel, checked by the pages' forms:
    staff record a phone call (the phone form); a customer files through the portal, now."""
    user = request.auth
    text = payload.model_dump(include=set(TEXT_FIELDS))
    if not user.is_allora_staff:
        if payload.received_at is not None:
            raise RuleError(
                ["A customer's request is received now, through the portal."],
                loc=("body", "received_at"),
            )
        own = payload.customer_id or user.customer_id
        customer = get_or_404(Customer.objects.for_user(user), pk=own)
        data = valid_data(EmergencyForm(text))
        return data, customer, timezone.now(), EmergencyRequest.Channel.PORTAL
    form = PhoneEmergencyForm(
        {**text, "customer": payload.customer_id or "", "received_at": payload.received_at or ""}
    )
    data = valid_data(form, names={"customer": "customer_id"})
    customer, received = data["customer"], payload.received_at
    if timezone.is_naive(received):  # the customer's local time, as on the page
        received = received.replace(tzinfo=customer.tz)
    return data, customer, received, EmergencyRequest.Channel.PHONE


@router.post(
    "/emergency-requests",
    response={201: EmergencyRequestOut, **ERRORS},
    tags=["emergencies"],
)
def file_emergency_request(request, payload: EmergencyRequestIn):
    """Open an emergency request: staff record one taken by phone (customer, time received), a
    customer's user files one for its own customer as in the portal. The guarantee of the
    customer's agreement applies (there is no priority to choose: the response deadline follows
    the agreement) and the on-call staff are alerted."""
    data, customer, received_at, channel = _filed(request, payload)
    created = emergencies.file_request(
        customer,
        **{name: data.get(name) or "" for name in TEXT_FIELDS},
        channel=channel,
        received_at=received_at,
        by=request.auth,
        now=timezone.now(),
    )
    return Status(201, created)


# Projects -----------------------------------------------------------------------------------


class EstimateOut(Schema):
    id: int
    number: int
    kind: str
    status: str
    description: str
    hours: MoneyOut
    rate: MoneyOut
    total: MoneyOut
    created_at: dt.datetime


class ProjectOut(Schema):
    id: int
    customer_id: int
    agreement_id: int | None
    title: str
    scope: str
    status: str
    created_at: dt.datetime
    estimates: list[EstimateOut]

    @staticmethod
    def resolve_estimates(project):
        return project.estimates.order_by("number")


class ProjectIn(Input):
    customer_id: QueryId
    title: text(200)
    scope: text(10000)
    hours: Decimal = Field(
        max_digits=7, decimal_places=2, description="Estimated hours (at the on-site rate)."
    )


class EstimateIn(Input):
    hours: Decimal = Field(max_digits=7, decimal_places=2)
    description: text(2000) = Field(
        "", description="What the hours are for (required for a change order)."
    )


@router.post("/projects", response={201: ProjectOut, **ERRORS}, tags=["projects"])
def create_project(request, payload: ProjectIn):
    """Create a project and its estimate (hours × the on-site rate), sent to the customer's
    designated approvers (staff); no time can be logged until one of them approves it."""
    user = require_staff(request)
    data = valid_data(
        ProjectForm(
            {**payload.model_dump(exclude={"customer_id"}), "customer": payload.customer_id}
        ),
        names={"customer": "customer_id"},
    )
    project = projects.create_project(
        data["customer"],
        title=data["title"],
        scope=data["scope"],
        hours=data["hours"],
        by=user,
        today=local_today(),
    )
    return Status(201, project)


@router.post(
    "/projects/{project_id}/estimates",
    response={201: ProjectOut, **ERRORS},
    tags=["projects"],
)
def propose_estimate(request, project_id: ObjectId, payload: EstimateIn):
    """A revised estimate (before approval) or a change order (extra hours after approval, with
    what they are for), sent to the approvers (staff); a pending one it replaces is superseded.
    The answer is the project with all its estimates, the new one last."""
    user = require_staff(request)
    project = get_or_404(Project.objects.select_related("customer"), pk=project_id)
    data = valid_data(EstimateForm(payload.model_dump()))
    projects.propose_estimate(
        project,
        hours=data["hours"],
        description=data["description"],
        by=user,
        today=local_today(),
    )
    project.refresh_from_db()
    return Status(201, project)

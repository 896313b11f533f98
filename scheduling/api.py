"""API routes of the scheduling app: visits, with filters by date range, technician, customer.

Scoping is the pages' own (``Visit.objects.for_user``): a customer's token sees only its
customer's visits, and another customer's visit is a 404.
"""

import datetime as dt
from typing import Literal

from ninja import Field, Query, Router, Schema

from allora.api import (
    ERRORS,
    Filters,
    ObjectId,
    QueryId,
    Rows,
    get_or_404,
    money_str,
    paginate_rows,
)
from allora.validation import BoundedDate

from .models import Visit

router = Router(tags=["visits"])


class TechnicianOut(Schema):
    id: int
    name: str

    @staticmethod
    def resolve_name(user):
        return str(user)


class ChecklistItemOut(Schema):
    item: str
    done: bool


class VisitOut(Schema):
    id: int
    agreement_id: int
    agreement_number: str
    customer_id: int
    customer_name: str
    line_id: int
    service_kind: str
    starts_at: dt.datetime = Field(description="UTC")
    ends_at: dt.datetime = Field(description="UTC")
    local_start: dt.datetime = Field(description="In the agreement's time zone, with its offset")
    local_end: dt.datetime
    time_zone: str
    technician: TechnicianOut | None
    status: str
    flag: str
    note: str
    checklist: list[ChecklistItemOut]
    findings: str
    hours_worked: str | None
    completed_at: dt.datetime | None

    @staticmethod
    def resolve_agreement_number(visit):
        return visit.agreement.number

    @staticmethod
    def resolve_customer_id(visit):
        return visit.agreement.customer_id

    @staticmethod
    def resolve_customer_name(visit):
        return visit.agreement.customer.legal_name

    @staticmethod
    def resolve_service_kind(visit):
        return visit.line.kind

    @staticmethod
    def resolve_time_zone(visit):
        return visit.agreement.time_zone

    @staticmethod
    def resolve_hours_worked(visit):
        return money_str(visit.hours_worked)


def visit_rows(visits):
    """A page of visits as VisitOut's items (the list's rows, built without per-field
    validation: ``allora.api.paginate_rows``)."""
    return [_visit_row(visit) for visit in visits]


def _visit_row(visit):
    agreement, technician = visit.agreement, visit.technician
    return {
        "id": visit.pk,
        "agreement_id": visit.agreement_id,
        "agreement_number": agreement.number,
        "customer_id": agreement.customer_id,
        "customer_name": agreement.customer.legal_name,
        "line_id": visit.line_id,
        "service_kind": visit.line.kind,
        "starts_at": visit.starts_at,
        "ends_at": visit.ends_at,
        "local_start": visit.local_start,
        "local_end": visit.local_end,
        "time_zone": agreement.time_zone,
        "technician": technician and {"id": technician.pk, "name": str(technician)},
        "status": visit.status,
        "flag": visit.flag,
        "note": visit.note,
        "checklist": [
            {"item": str(check["item"]), "done": bool(check["done"])} for check in visit.checklist
        ],
        "findings": visit.findings,
        "hours_worked": money_str(visit.hours_worked),
        "completed_at": visit.completed_at,
    }


class VisitFilters(Filters):
    date_from: BoundedDate | None = Field(
        None, description="Visits on or after this local date (Allora's time zone)."
    )
    date_to: BoundedDate | None = Field(None, description="Visits on or before this local date.")
    technician_id: QueryId | None = None
    customer_id: QueryId | None = None
    agreement_id: QueryId | None = None
    status: Literal[tuple(Visit.Status.values)] | None = None


@router.get("/visits", response=list[VisitOut])
@paginate_rows
def list_visits(request, filters: Query[VisitFilters]):
    """Visits in scope, in time order: ``date_from``/``date_to`` (inclusive local dates),
    ``technician_id``, ``customer_id``, ``agreement_id``, ``status``."""
    visits = Visit.objects.for_user(request.auth).for_display().order_by("starts_at", "id")
    if filters.date_from:
        visits = visits.filter(starts_at__date__gte=filters.date_from)
    if filters.date_to:
        visits = visits.filter(starts_at__date__lte=filters.date_to)
    if filters.technician_id:
        visits = visits.filter(technician_id=filters.technician_id)
    if filters.customer_id:
        visits = visits.filter(agreement__customer_id=filters.customer_id)
    if filters.agreement_id:
        visits = visits.filter(agreement_id=filters.agreement_id)
    if filters.status:
        visits = visits.filter(status=filters.status)
    return Rows(visits, visit_rows)


@router.get("/visits/{visit_id}", response={200: VisitOut, **ERRORS})
def get_visit(request, visit_id: ObjectId):
    return get_or_404(Visit.objects.for_user(request.auth).for_display(), pk=visit_id)

"""The queries behind the staff home and the customer's portal home.

Each panel is one or two queries whatever the data size (the tests assert the counts): lists are
capped, series are aggregated by the database or from one bounded query.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum, Window
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.db.models.lookups import IsNull
from django.utils import timezone

from agreements.models import Agreement, Contact, Term, TermDates, TerminationRequest
from agreements.rules import RENEWAL_WINDOW, last_covered_day, notice_deadline
from billing.models import Invoice, TimeEntry
from billing.services import MONTHLY_AMOUNT_CHUNK, fill_monthly_amounts
from delivery import emergencies, response_clock
from delivery.models import EmergencyRequest
from scheduling.models import Visit, technicians

from . import queues
from .statements import Read, customer_user

LIST_LIMIT = 25
PROBLEMS_LIMIT = 20
MONTHS = 12
WEEKS_BACK, WEEKS_AHEAD = 4, 4
LAZY_FILL = MONTHLY_AMOUNT_CHUNK  # terms priced at most by one request of the staff home
ZERO = Decimal("0.00")


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _months_ending(today: dt.date, count=MONTHS) -> list[dt.date]:
    last = _month(today)
    return [last - relativedelta(months=back) for back in range(count - 1, -1, -1)]


# Staff panels ------------------------------------------------------------------------------


def _renewals(today, soon):
    return (
        Agreement.objects.in_renewal_window(today, soon)
        .select_related("customer")
        .only("id", "number", "term_end", "customer__legal_name")
        .order_by("term_end", "number")[:LIST_LIMIT]
    )


_RENEWALS = Read(_renewals, today=dt.date, soon=dt.date)


def renewals(*, today):
    """Agreements whose latest term ends within 90 days, with their notice deadlines (1 query:
    the first rows of the index on the stored latest term end, `Agreement.term_end`)."""
    return [
        {
            "agreement": agreement,
            "last_day": last_covered_day(agreement.term_end),
            "notice_deadline": notice_deadline(agreement.term_end),
            "notice_passed": notice_deadline(agreement.term_end) < today,
        }
        for agreement in _RENEWALS.run(today=today, soon=today + RENEWAL_WINDOW)
    ]


def _standing_terminations():
    requests = TerminationRequest.objects.filter(status=TerminationRequest.Status.STANDING)
    return (
        queues.marked(requests, queues.TO_ACKNOWLEDGE)
        .select_related("agreement__customer")
        .only(
            *("id", "received_at", "timely", "effective_end", "status", "acknowledged_at"),
            *("agreement__number", "agreement__customer__legal_name"),
        )
        .order_by(IsNull(F("acknowledged_at"), True).desc(), "effective_end", "pk")[:LIST_LIMIT]
    )


_STANDING_TERMINATIONS = Read(_standing_terminations)


def standing_terminations():
    """Termination requests that still stand, those nobody has acknowledged yet first (the
    staff's queue: ``to_acknowledge``), then by the day the agreement ends (1 query). Marked for
    the waiting item of those to acknowledge (`queues.terminations_to_acknowledge`)."""
    return _STANDING_TERMINATIONS.run()


def _open_requests(requests):
    return (
        emergencies.by_time_left(requests.exclude(status=EmergencyRequest.Status.CLOSED))
        .select_related("customer")
        .only("id", "status", "due_at", "tier_name", "summary", "customer__legal_name")
    )[:LIST_LIMIT]


# The staff's: every customer's, marked for the waiting item of those near breach
# (`queues.emergencies_near_breach`); a customer user's: their company's.
_STAFF_EMERGENCIES = Read(
    lambda now: _open_requests(
        queues.marked(EmergencyRequest.objects.all(), queues.near_breach(now))
    ),
    now=dt.datetime,
)
_PORTAL_EMERGENCIES = Read(
    lambda customer: _open_requests(EmergencyRequest.objects.for_user(customer_user(customer))),
    customer=int,
)


def open_emergencies(*, now, user=None):
    """Requests not resolved yet, the nearest deadline first, with the time left (1 query): every
    customer's for the staff, else the customer ``user``'s."""
    if user is None:
        found = _STAFF_EMERGENCIES.run(now=now)
    else:
        found = _PORTAL_EMERGENCIES.run(customer=user.customer_id)
    rows = []
    for request in found:
        left = request.due_at and response_clock.time_left(request.due_at, now)
        rows.append(
            {
                "request": request,
                "left": response_clock.describe_left(left) if left and request.is_open else "",
                "overdue": bool(left and left.total_seconds() < 0 and request.is_open),
            }
        )
    return rows


def sla_by_month(*, today, tz):
    """Met and breached guaranteed requests per month of receipt, last 12 months (1 query)."""
    months = _months_ending(today)
    since = dt.datetime.combine(months[0], dt.time(), tzinfo=tz)
    rows = (
        EmergencyRequest.objects.filter(
            received_at__gte=since,
            outcome__in=[EmergencyRequest.Outcome.MET, EmergencyRequest.Outcome.BREACHED],
        )
        .annotate(month=TruncMonth("received_at", tzinfo=tz))
        .values("month")
        .annotate(
            met=Count("pk", filter=Q(outcome=EmergencyRequest.Outcome.MET)), total=Count("pk")
        )
    )
    counts = {row["month"].date(): row for row in rows}
    series = []
    for month in months:
        row = counts.get(month, {"met": 0, "total": 0})
        rate = round(100 * row["met"] / row["total"], 1) if row["total"] else None
        series.append({"month": month, "met": row["met"], "total": row["total"], "rate": rate})
    return series


def mrr_series(*, today):
    """Monthly recurring revenue from the terms' stored monthly amounts, for the 12 months ending
    this month: each month counts the terms in force on its first day; `current` the live
    agreements' terms in force today (2 queries: whether any term is still to price, then one
    sum per month in SQL; 3 more when some are: see fill_monthly_amounts).

    A term gets its amount from the daily job; any still missing are priced here, one bounded
    chunk per request (so the page never does unbounded work): if more remain, the series counts
    what is stored and `complete` is False until the job has run."""
    # A look through the index of pending terms first, so that a page with nothing to price
    # opens no transaction and locks nothing.
    pending = Term.objects.filter(monthly_amount__isnull=True).exists()
    complete = not pending or fill_monthly_amounts(chunks=1, size=LAZY_FILL) < LAZY_FILL
    months = _months_ending(today)

    def total(in_force):
        return Sum("monthly_amount", filter=in_force, default=ZERO)

    sums = Term.objects.filter(
        agreement__status__in=[
            *Agreement.LIVE,
            Agreement.Status.ENDED,
            Agreement.Status.TERMINATED,
        ],
        start__lte=today,
        end__gt=months[0],
    ).aggregate(
        current=total(Q(start__lte=today, end__gt=today, agreement__status__in=Agreement.LIVE)),
        **{
            f"m{index}": total(Q(start__lte=month, end__gt=month))
            for index, month in enumerate(months)
        },
    )
    return {
        "current": sums["current"],
        "series": [
            {"month": month, "amount": sums[f"m{index}"]} for index, month in enumerate(months)
        ],
        "complete": complete,
    }


def _week(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def utilization(*, today, tz):
    """Scheduled (visits) and logged (time entries) hours per technician and week, from four
    weeks back to four weeks ahead (3 queries, each summed per technician and day)."""
    first = _week(today) - dt.timedelta(weeks=WEEKS_BACK)
    weeks = [first + dt.timedelta(weeks=n) for n in range(WEEKS_BACK + WEEKS_AHEAD)]
    end = weeks[-1] + dt.timedelta(weeks=1)
    start_at = dt.datetime.combine(first, dt.time(), tzinfo=tz)
    end_at = dt.datetime.combine(end, dt.time(), tzinfo=tz)
    # Summed per technician and local day by the database, per week here (a week starts on the
    # local Monday); seconds stay whole until the week's total is turned into hours.
    seconds: defaultdict[tuple[int, dt.date], int] = defaultdict(int)
    for tech_id, day, duration in (
        Visit.objects.active()
        .filter(technician__isnull=False, starts_at__gte=start_at, starts_at__lt=end_at)
        .annotate(day=TruncDate("starts_at", tzinfo=tz))
        .values("technician_id", "day")
        .annotate(duration=Sum(F("ends_at") - F("starts_at")))
        .values_list("technician_id", "day", "duration")
        .order_by()
    ):
        seconds[(tech_id, _week(day))] += round(duration.total_seconds())
    scheduled = defaultdict(Decimal, {key: Decimal(total) / 3600 for key, total in seconds.items()})
    logged: defaultdict[tuple[int, dt.date], Decimal] = defaultdict(Decimal)
    for tech_id, day, hours in (
        TimeEntry.objects.filter(work_date__gte=first, work_date__lt=end)
        .values_list("technician_id", "work_date")
        .annotate(hours=Sum("hours"))
        .values_list("technician_id", "work_date", "hours")
    ):
        logged[(tech_id, _week(day))] += hours
    rows = []
    for person in technicians():
        cells = [
            {
                "week": week,
                "scheduled": round(scheduled[(person.pk, week)], 1),
                "logged": round(logged[(person.pk, week)], 1),
            }
            for week in weeks
        ]
        rows.append({"technician": person, "weeks": cells})
    return {"weeks": weeks, "current": _week(today), "rows": rows}


_OVERDUE_INVOICES = Read(
    lambda: (
        Invoice.objects.filter(status=Invoice.Status.OVERDUE)
        .select_related("customer")
        .only(
            *("id", "number", "due_on", "total", "amount_paid", "amount_credited"),
            "customer__legal_name",
        )
        .order_by("due_on", "number")[:LIST_LIMIT]
    )
)


def overdue_invoices():
    """Overdue invoices, the oldest due first, and what they add up to (1 query)."""
    invoices = _OVERDUE_INVOICES.run()
    return {"invoices": invoices, "balance": sum((i.balance for i in invoices), ZERO)}


def _billing_problems(limit):
    return (
        Agreement.objects.exclude(billing_problem="")
        .select_related("customer")
        .only("id", "number", "billing_problem", "billing_problem_since", "customer__legal_name")
        .annotate(problems=Window(Count("pk")))
        .order_by("billing_problem_since", "number")[:limit]
    )


_BILLING_PROBLEMS = Read(_billing_problems)  # the shape: how many are listed


def billing_problems(limit=PROBLEMS_LIMIT):
    """Agreements the monthly run could not price, the oldest problem first, and how many there
    are in all (1 query: the count rides along on each row as a window)."""
    agreements = _BILLING_PROBLEMS.run(shape=(limit,))
    return {"agreements": agreements, "count": agreements[0].problems if agreements else 0}


def staff_dashboard(*, today: dt.date, now: dt.datetime, figures: dict) -> dict:
    """Everything the staff home shows, in a constant number of queries: the lists live, the
    costly figures (revenue, SLA, utilization, clash count) as `figures` gives them
    (allora/snapshots.py `staff_figures`, which computes them with this module's functions),
    with `figures_as_of`, the moment they were computed, and `worker_seen`, the last heartbeat
    of the worker that computes them."""
    mrr, sla = figures["mrr"], figures["sla"]
    return {
        "renewals": renewals(today=today),
        "terminations": standing_terminations(),
        # Marked for the waiting item of those near breach (`queues.emergencies_near_breach`).
        "emergencies": open_emergencies(now=now),
        "sla": sla,
        "mrr": mrr,
        "utilization": figures["utilization"],
        "clashing_visits": figures["clashing_visits"],
        "figures_as_of": figures["as_of"],
        "worker_seen": figures["worker_seen"],
        "overdue": overdue_invoices(),
        "billing_problems": billing_problems(),
        "chart_data": {
            "mrr": {
                "labels": [f"{row['month']:%b %Y}" for row in mrr["series"]],
                "values": [float(row["amount"]) for row in mrr["series"]],
            },
            "sla": {
                "labels": [f"{row['month']:%b %Y}" for row in sla],
                "values": [row["rate"] for row in sla],
            },
        },
    }


# The customer's portal home ----------------------------------------------------------------


@dataclass(frozen=True)
class AgreementTerm(TermDates):
    """A live agreement and the end of the term the portal home shows: the one in force today,
    else its latest (its last day and notice deadline from `TermDates`)."""

    agreement: Agreement
    end: dt.date


PORTAL_AGREEMENTS = 10
PORTAL_PROJECTS = 10


def _live_agreements(customer, today):
    # The agreements whose latest term ends first (the stored end, `Agreement.term_end`), with
    # how many there are; all of them are on the agreements page (issue 14).
    in_force = Term.objects.filter(agreement=OuterRef("pk"), start__lte=today, end__gt=today)
    return (
        Agreement.objects.for_user(customer_user(customer))
        .filter(status__in=Agreement.LIVE)
        .annotate(
            shown_end=Coalesce(Subquery(in_force.order_by("start").values("end")[:1]), "term_end"),
            total=Window(Count("pk")),
        )
        .only("id", "number")
        .order_by("term_end", "number")[:PORTAL_AGREEMENTS]
    )


# What a customer user's home reads, each for their company (`customer_user`).
_PORTAL_AGREEMENTS = Read(_live_agreements, customer=int, today=dt.date)
# The user's own contact is one of the company's, listed on the page anyway.
_PORTAL_CONTACTS = Read(
    lambda customer: Contact.objects.for_user(customer_user(customer)).only(
        *("id", "name", "user_id", "is_authorized_signer", "is_project_approver"),
        *("is_billing_contact", "has_portal_access"),
    ),
    customer=int,
)
# Marked for the waiting item of the estimates awaiting the user's approval.
_PORTAL_PROJECTS = Read(
    lambda customer: queues.marked(queues.awaiting_approval(customer_user(customer))).only(
        "id", "title", "created_at"
    )[:PORTAL_PROJECTS],
    customer=int,
)
_PORTAL_VISITS = Read(
    lambda customer, now: (
        Visit.objects.for_user(customer_user(customer))
        .open()
        .filter(starts_at__gte=now)
        .select_related("agreement", "line")
        .only("id", "starts_at", "ends_at", "agreement__time_zone", "line__kind")[:5]
    ),
    customer=int,
    now=dt.datetime,
)
_PORTAL_INVOICES = Read(
    lambda customer: (
        Invoice.objects.for_user(customer_user(customer))
        .only("id", "number", "total", "status")
        .order_by("-issued_on", "-number")[:5]
    ),
    customer=int,
)


def portal_dashboard(user, *, today: dt.date, now: dt.datetime) -> dict:
    """What a customer user sees first: next visits, open requests, projects awaiting their
    approval, latest invoices, each live agreement's term end and notice deadline, and their
    company's contacts (6 queries, each reading only the columns the page shows)."""
    customer = user.customer_id
    agreements = _PORTAL_AGREEMENTS.run(customer=customer, today=today)
    contacts = _PORTAL_CONTACTS.run(customer=customer)
    return {
        "visits": _PORTAL_VISITS.run(customer=customer, now=now),
        "emergencies": open_emergencies(now=now, user=user),
        "projects": _PORTAL_PROJECTS.run(customer=customer),
        # Whether the user signs for the company and approves its projects (their own contact).
        "is_signer": any(c.user_id == user.pk and c.is_authorized_signer for c in contacts),
        "is_approver": any(c.user_id == user.pk and c.is_project_approver for c in contacts),
        "contacts": contacts,
        "invoices": _PORTAL_INVOICES.run(customer=customer),
        "agreements": [AgreementTerm(agreement, agreement.shown_end) for agreement in agreements],
        "agreements_count": agreements[0].total if agreements else 0,
        "now": timezone.localtime(now),
    }

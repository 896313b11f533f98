"""The staff schedule pages: the calendar and visit lists, one visit (move, reassign, cancel,
complete), service lines' technicians and schedules, a technician's own visits; and the iCalendar
feeds at their secret addresses. The customer's schedule is in ``portal/views/schedule.py``; what
both use is in ``scheduling/pages.py``."""

import datetime as dt
from dataclasses import dataclass
from html import escape

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from agreements.models import Agreement, ServiceLine
from agreements.pages import customer_filter
from allora.pagination import CappedPaginator, page_slice
from allora.sorting import Sorting
from allora.spreadsheet import EXPORT_CHUNK, csv_download
from allora.statements import CountRead, Read
from allora.templatetags.listing import row_url, short_date, visit_badge
from allora.tenancy import public, staff_required
from allora.timeutils import local_today
from allora.validation import query_id

from . import calendars, feeds, planning
from .conflicts import VisitConflict, alternatives, find_clashes
from .forms import (
    ResolveForm,
    ScheduleChangeForm,
    ScheduleForm,
    TechnicianForm,
    VisitCompleteForm,
    VisitMoveForm,
)
from .models import CalendarFeed, LineAssignment, Visit, listed_visits, technician_list
from .pages import calendar_period, days_period, regenerate_feed_view
from .recurrence import RecurrenceError

UPCOMING_PAGE = 50
UPCOMING_CAP = 20 * UPCOMING_PAGE  # the visit list counts no further: "Page 1 of 20+"


@staff_required
@require_GET
def schedule_preview(request):
    """The htmx fragment under the schedule fields: the rule in words and its next visits."""
    form = ScheduleForm(
        request.GET,
        prefix="schedule",
        # An unknown zone is not replaced: the form reports it rather than show wrong times.
        tz=request.GET.get("tz") or settings.DEFAULT_CUSTOMER_TIME_ZONE,
        anchor=_date_or_today(request.GET.get("anchor", "")),
    )
    context = {"form": form}
    line = _preview_line(request.GET.get("line"))
    technician = getattr(getattr(line, "assignment", None), "technician", None)
    if line is not None and technician is not None and form.is_valid():
        # Changing a line's schedule: warn of the new times its technician is busy at.
        occurrences = form.occurrences_preview()
        probes = [
            Visit(pk=index, starts_at=start, ends_at=end)
            for index, (start, end) in enumerate(occurrences)
        ]
        busy = dict(planning.clashes_for(probes, technician, line=line))
        context.update(
            technician=technician,
            occurrences=[
                (start, end, busy.get(probe))
                for probe, (start, end) in zip(probes, occurrences, strict=True)
            ],
            clash_count=len(busy),
        )
    return render(request, "scheduling/_schedule_preview.html", context)


def _preview_line(text):
    pk = query_id(text)
    if pk is None:
        return None
    return (
        ServiceLine.objects.filter(pk=pk, kind__in=planning.SCHEDULED_KINDS)
        .select_related("assignment__technician")
        .first()
    )


def _date_or_today(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return local_today()


# Staff: calendars and lists -------------------------------------------------------------


@staff_required
def calendar(request):
    """All technicians' visits in a month, week or day, filterable by technician and customer:
    per day its count and the first visits (``pages.calendar_period``)."""
    technician, customer = request.GET.get("technician", ""), customer_filter(request)
    visits = _for_technician(
        customer.apply(Visit.objects.all(), via="agreement__customer"), technician
    )
    counted = _counted(technician, customer)
    return render(
        request,
        "scheduling/calendar.html",
        {
            **calendar_period(request, visits, today=local_today(), counted=counted),
            "technicians": technician_list(),
            "technician": technician,
            "customer": customer,
            "extra_query": "&" + urlencode({"technician": technician, **customer.query}),
            "title": "Visit calendar",
            "tab": "calendar",
        },
    )


def _technician_filter(technician: str) -> str:
    """The technician filter as `_for_technician` reads it: "none", an id, or "" (everyone)."""
    if technician == "none":
        return technician
    return str(query_id(technician) or "")


def _for_technician(visits, technician: str):
    """The technician filter: "none" is unassigned visits, an id one technician's, else all."""
    if technician == "none":
        return visits.filter(technician__isnull=True)
    if query_id(technician):
        return visits.filter(technician_id=query_id(technician))
    return visits


def _counted(technician: str, customer) -> calendars.Counted | None:
    """The stored counts that hold the calendar's visits for the same filters as
    ``_for_technician``; none for a customer's (the counts are not per customer: counted live)."""
    if customer.query:
        return None
    if technician == "none":
        return calendars.Counted(technician=0)
    return calendars.Counted(technician=query_id(technician))


# Only the start: the list has no end (180,000 upcoming visits at 10,000 agreements) and the
# (starts_at, id) index gives either direction; any other order would sort every future visit.
VISIT_SORTING = Sorting({"when": ("starts_at",)}, default="when")
VISIT_COLUMNS = (
    "Date", "Start", "End", "Time zone", "Customer", "Agreement", "Service", "Technician",
    "Status", "Flag",
)  # fmt: skip


def _visit_row(visit):
    times = (visit.local_day, f"{visit.local_start:%H:%M}", f"{visit.local_end:%H:%M}")
    return (*times, visit.zone_abbr, visit.customer, visit.agreement_number, visit.service,
            visit.technician or "", visit.get_status_display(),
            visit.get_flag_display() if visit.flag else "")  # fmt: skip


@dataclass(frozen=True, slots=True)
class VisitRow:
    """One row of the visit list as the page prints it, each cell worked out once here so the
    template prints strings (issue 14: its filters and tags on 50 rows were half the page)."""

    url: str
    when: str  # "Tue Dec 1, 2026 09:00–11:00", in the customer's zone
    zone: str
    customer: str
    agreement_number: str
    service: str
    technician: str  # "—": unassigned
    badge: str  # safe HTML

    def html(self) -> SafeString:
        """The table row, as the list's template printed it: written here at once (50 rows of
        seven values were most of the page's rendering), each value escaped as Django's
        ``escape`` does (``html.escape``, which it wraps), the URL and badge ours."""
        when, zone, customer = escape(self.when), escape(self.zone), escape(self.customer)
        number, service = escape(self.agreement_number), escape(self.service)
        return mark_safe(  # noqa: S308 - every value above escaped
            "\n    <tr>\n"
            f'      <td><a href="{self.url}">{when}</a> '
            f'<span class="small text-muted">{zone}</span></td>\n'
            f'      <td>{customer}<div class="small text-muted">{number}</div></td>\n'
            f'      <td class="d-none d-md-table-cell">{service}</td>\n'
            f'      <td class="d-none d-sm-table-cell">{escape(self.technician)}</td>\n'
            f"      <td>{self.badge}</td>\n"
            "    </tr>\n  "
        )


def _visit_list_rows(visits) -> list[VisitRow]:
    return [
        VisitRow(
            url=row_url("scheduling:visit_detail", visit.pk),
            when=f"{short_date(visit.local_day, 'weekday')} {visit.local_times}",
            zone=visit.zone_abbr,
            customer=visit.customer,
            agreement_number=visit.agreement_number,
            service=visit.service,
            technician=str(visit.technician) if visit.technician else "—",
            badge=visit_badge(visit),
        )
        for visit in visits
    ]


def _upcoming(technician, customer, attention, *, start, started_after):
    """The open visits still going on at ``start``, for the list's filters (``technician`` as
    `_for_technician` reads it, a `CustomerFilter`, ``attention``: "1" every flagged visit,
    "conflict" only the clashes). ``started_after``: a day before ``start`` (no visit lasts a
    day): the bound on starts_at lets the database walk its index on starts_at instead of
    reading every future visit."""
    visits = _for_technician(
        Visit.objects.open().filter(ends_at__gt=start, starts_at__gt=started_after), technician
    )
    visits = customer.apply(visits, via="agreement__customer")
    if attention == "conflict":
        return visits.filter(flag=Visit.Flag.CONFLICT)
    return visits.exclude(flag="") if attention else visits


_UPCOMING_PAGE = Read(
    lambda technician, customer, attention, order, first, last, start, started_after: (
        _upcoming(technician, customer, attention, start=start, started_after=started_after)
        .order_by(*order)
        .listed()[first:last]
    ),
    start=dt.datetime,
    started_after=dt.datetime,
)
# How many there are, up to one past the cap: one COUNT over a LIMIT.
_UPCOMING_COUNT = CountRead(
    lambda technician, customer, attention, start, started_after: _upcoming(
        technician, customer, attention, start=start, started_after=started_after
    )[: UPCOMING_CAP + 1],
    start=dt.datetime,
    started_after=dt.datetime,
)


@staff_required
def visit_list(request, export=False):
    """The next visits (from a date, today by default), filterable, 50 a page; ``export``: all
    of them (not capped) as a CSV download."""
    today = local_today()
    since = calendars.parse_day(request.GET.get("from", ""), today=today)
    technician = _technician_filter(request.GET.get("technician", ""))
    customer = customer_filter(request)
    # "1": every flagged visit; "conflict" (the home's "Waiting for you"): only the clashes.
    attention = request.GET.get("attention", "")
    attention = attention if attention in ("1", "conflict") else ""
    # From midnight in Allora's zone (where staff work) on the chosen day.
    start = timezone.make_aware(dt.datetime.combine(since, dt.time.min))
    window = {"start": start, "started_after": start - dt.timedelta(days=1)}
    sort = VISIT_SORTING.parse(request.GET)
    if export:
        visits = sort.apply(_upcoming(technician, customer, attention, **window))
        rows = listed_visits(visits.listed().iterator(chunk_size=EXPORT_CHUNK))
        return csv_download(f"visits-from-{since}.csv", VISIT_COLUMNS, map(_visit_row, rows))
    # Counted without the joins (the count of the values' query kept them: 1.5 -> 37 ms), then
    # the page's rows: each a read compiled once per filters (and order and page).
    filters = (technician, customer, attention)
    [(found,)] = _UPCOMING_COUNT.run(shape=filters, **window)
    page = CappedPaginator(range(found), UPCOMING_PAGE, cap=UPCOMING_CAP).get_page(
        request.GET.get("page")
    )
    shape = (*filters, tuple(sort.order_by()), *page_slice(page))
    page.object_list = list(listed_visits(_UPCOMING_PAGE.run(shape=shape, **window)))
    return render(
        request,
        "scheduling/visit_list.html",
        {
            "page": page,
            "rows": _visit_list_rows(page),
            "technicians": technician_list(),
            "technician": technician,
            "customer": customer,
            "attention": attention,
            "since": since,
            "tab": "list",
            "sort": sort,
        },
    )


@staff_required
def line_list(request):
    """Scheduled Exhibit B lines of agreements in force, with their default technician."""
    lines = (
        ServiceLine.objects.filter(
            kind__in=planning.SCHEDULED_KINDS,
            version__agreement__status__in=Agreement.LIVE,
            version__status="signed",
        )
        .select_related("version__agreement__customer", "assignment__technician")
        .order_by(
            "version__agreement__customer__legal_name", "version__agreement__number", "position"
        )
    )
    page = Paginator(lines, UPCOMING_PAGE).get_page(request.GET.get("page"))
    to_resolve = dict(
        Visit.objects.open()
        .filter(
            line_id__in=[line.pk for line in page],
            flag=Visit.Flag.CONFLICT,
            starts_at__gte=timezone.now(),
        )
        .values_list("line_id")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for line in page:
        line.to_resolve = to_resolve.get(line.pk, 0)
    return render(request, "scheduling/line_list.html", {"page": page, "tab": "lines"})


def _staff_line(pk):
    return get_object_or_404(
        ServiceLine.objects.select_related(
            "version__agreement__customer", "assignment__technician"
        ),
        pk=pk,
        kind__in=planning.SCHEDULED_KINDS,
    )


@staff_required
def line_assign(request, pk):
    """Make a technician the default of a line; its open visits from today go to them. The
    page shows, as the technician is picked, which visits would clash."""
    line = _staff_line(pk)
    current = getattr(line, "assignment", None)
    form = TechnicianForm(
        request.POST or None, initial={"technician": current.technician_id if current else None}
    )
    if request.method == "POST" and form.is_valid():
        technician = form.cleaned_data["technician"]
        result = planning.assign_line(
            line, technician=technician, by=request.user, today=local_today()
        )
        messages.success(
            request,
            f"{technician} is now the technician for {line.get_kind_display()} at "
            f"{line.version.agreement.customer} ({result.assigned} upcoming visits assigned).",
        )
        if not result.clashing:
            return redirect("scheduling:line_list")
        messages.warning(
            request,
            f"{len(result.clashing)} visits clash with other visits of {technician}: they have "
            "no technician yet. Resolve them together below.",
        )
        return redirect("scheduling:line_resolve", pk=line.pk)
    return render(
        request,
        "scheduling/line_assign.html",
        {"form": form, "line": line, "tab": "lines"},
    )


@staff_required
@require_GET
def line_assign_preview(request, pk):
    """The htmx fragment of the technician page: the visits that would clash."""
    line = _staff_line(pk)
    form = TechnicianForm(request.GET)
    context = {"line": line}
    if form.is_valid():
        technician = form.cleaned_data["technician"]
        upcoming, clashing = planning.preview_assignment(
            line, technician=technician, today=local_today()
        )
        context.update(technician=technician, upcoming=upcoming, clashing=clashing)
    return render(request, "scheduling/_assign_preview.html", context)


@staff_required
def line_resolve(request, pk):
    """The line's visits left without a technician (the default one was busy), resolved
    together: another technician, another time for all, or one by one."""
    line = _staff_line(pk)
    today = local_today()
    visits = planning.visits_to_resolve(line, today=today)
    current = getattr(line, "assignment", None)
    form = ResolveForm(
        request.POST or None,
        visits=visits,
        initial={
            "visits": [visit.pk for visit in visits],
            "technician": current.technician_id if current else None,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = planning.resolve_visits(
                line,
                data["visits"],
                technician=data["technician"],
                start_time=data["start_time"],
                now=timezone.now(),
                today=today,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if result.done:
                messages.success(
                    request, f"{len(result.done)} visits booked with {data['technician']}."
                )
            for visit, why in result.still:
                messages.warning(request, f"Not changed: {visit.local_label}. {why}")
            return redirect("scheduling:line_resolve", pk=line.pk)
    return render(
        request,
        "scheduling/line_resolve.html",
        {"line": line, "visits": visits, "form": form, "tab": "lines"},
    )


@staff_required
def line_schedule(request, pk):
    """Change a line's rule from a date onward: only future, not completed visits change."""
    line = _staff_line(pk)
    agreement = line.version.agreement
    today = local_today()
    change = line.schedule_changes.order_by("-effective_from", "-series").first()
    rule = change or line
    data = request.POST or None
    form = ScheduleChangeForm(data, today=today, initial={"effective_from": today})
    anchor = form["effective_from"].value() or today
    try:
        initial = ScheduleForm.initial_for(
            rrule=rule.rrule, start_time=rule.start_time, duration_minutes=rule.duration_minutes
        )
    except RecurrenceError:
        initial = None  # a rule the friendly form cannot show: start from the defaults
    schedule_form = ScheduleForm(
        data,
        prefix="schedule",
        initial=initial,
        tz=agreement.time_zone,
        anchor=calendars.parse_day(str(anchor), today=today),
    )
    if request.method == "POST" and form.is_valid() and schedule_form.is_valid():
        schedule = schedule_form.cleaned_data
        try:
            result = planning.change_schedule(
                line,
                effective_from=form.cleaned_data["effective_from"],
                rrule=schedule["rrule"],
                start_time=schedule["start_time"],
                duration_minutes=schedule["duration_minutes"],
                schedule_text=schedule["schedule_text"],
                by=request.user,
                today=today,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"New schedule from {form.cleaned_data['effective_from']:%b %-d, %Y}: "
                f"{result.replaced} visits replaced by {result.created}; completed visits kept.",
            )
            if not result.needs_technician:
                return redirect("scheduling:line_list")
            messages.warning(
                request,
                f"{len(result.needs_technician)} new visits clash with other visits of the "
                "technician: they have no technician yet. Resolve them together below.",
            )
            return redirect("scheduling:line_resolve", pk=line.pk)
    return render(
        request,
        "scheduling/line_schedule.html",
        {
            "line": line,
            "agreement": agreement,
            "form": form,
            "schedule_form": schedule_form,
            "current": rule.schedule_text,
            "tab": "lines",
        },
    )


# Staff: one visit -----------------------------------------------------------------------


def _staff_visit(pk):
    return get_object_or_404(Visit.objects.for_display().select_related("completed_by"), pk=pk)


@staff_required
def visit_detail(request, pk):
    visit = _staff_visit(pk)
    context = {"visit": visit, "today": local_today()}
    if visit.is_open and visit.flag == Visit.Flag.CONFLICT:
        # The default technician is busy: show who is in the way and what would work instead.
        assignment = (
            LineAssignment.objects.filter(line_id=visit.line_id)
            .select_related("technician")
            .first()
        )
        wanted = assignment.technician if assignment else None
        context.update(_conflict_context(visit, visit.starts_at, visit.ends_at, wanted))
        context["show_alternatives"] = True
    return render(request, "scheduling/visit_detail.html", context)


def _conflict_context(visit, starts_at, ends_at, technician):
    return {
        "wanted": technician,
        "clashes": find_clashes(technician, starts_at, ends_at, exclude=visit),
        "slots": alternatives(
            visit, starts_at=starts_at, ends_at=ends_at, technician=technician, now=timezone.now()
        ),
    }


@staff_required
def visit_move(request, pk):
    """Move one visit (an exception: the series stays), possibly to another technician."""
    visit = _staff_visit(pk)
    form = VisitMoveForm(request.POST or None, visit=visit)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        return _reschedule(
            request, visit, form, data["starts_at"], data["ends_at"], data["technician"]
        )
    return _visit_form(request, visit, form, "Move this visit", "Move")


@staff_required
def visit_reassign(request, pk):
    """Give one visit to another technician, at the same time."""
    visit = _staff_visit(pk)
    form = TechnicianForm(request.POST or None, initial={"technician": visit.technician_id})
    if request.method == "POST" and form.is_valid():
        technician = form.cleaned_data["technician"]
        return _reschedule(request, visit, form, visit.starts_at, visit.ends_at, technician)
    return _visit_form(request, visit, form, "Reassign this visit", "Reassign")


def _reschedule(request, visit, form, starts_at, ends_at, technician):
    if not visit.is_open:
        messages.error(
            request,
            f"This visit is {visit.get_status_display().lower()}; it can no longer be changed.",
        )
        return redirect("scheduling:visit_detail", pk=visit.pk)
    try:
        planning.reschedule_visit(
            visit, starts_at=starts_at, ends_at=ends_at, technician=technician, now=timezone.now()
        )
    except VisitConflict as conflict:
        return render(
            request,
            "scheduling/conflict.html",
            {
                "visit": visit,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "conflict": conflict,
                **_conflict_context(visit, starts_at, ends_at, technician),
            },
            status=409,
        )
    except ValidationError as error:
        form.add_error(None, error)
        return _visit_form(request, visit, form, "Change this visit", "Save")
    visit = _staff_visit(visit.pk)
    who = f" with {visit.technician}" if visit.technician else ""
    messages.success(request, f"Visit now {visit.local_label}{who}.")
    return redirect("scheduling:visit_detail", pk=visit.pk)


def _visit_form(request, visit, form, title, submit):
    return render(
        request,
        "scheduling/form.html",
        {
            "form": form,
            "visit": visit,
            "title": title,
            "subtitle": f"{visit.agreement.customer} · {visit.line.get_kind_display()} · "
            f"{visit.local_label}",
            "submit": submit,
            "cancel_url": reverse("scheduling:visit_detail", args=[visit.pk]),
            "help": f"Times are in the customer's zone, {visit.agreement.time_zone}.",
        },
    )


@staff_required
def visit_cancel(request, pk):
    visit = _staff_visit(pk)
    if request.method == "POST":
        try:
            visit.cancel(now=timezone.now(), reason=f"Cancelled by {request.user}")
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Visit of {visit.local_label} cancelled.")
        return redirect("scheduling:visit_detail", pk=visit.pk)
    return render(
        request,
        "allora/confirm.html",
        {
            "title": "Cancel this visit?",
            "body": f"{visit.agreement.customer}, {visit.line.get_kind_display()}, "
            f"{visit.local_label}. The customer's calendar shows it as cancelled; the other "
            "visits of the series stay as they are.",
            "confirm_label": "Cancel the visit",
            "cancel_url": reverse("scheduling:visit_detail", args=[visit.pk]),
        },
    )


@staff_required
def visit_complete(request, pk):
    """The technician's report: checklist ticks, findings, hours worked. Recorded once."""
    visit = _staff_visit(pk)
    if visit.status == Visit.Status.COMPLETED:
        messages.info(
            request,
            f"This visit was already completed on {visit.completed_on:%b %-d, %Y} by "
            f"{visit.completed_by}; a report is recorded only once.",
        )
        return redirect("scheduling:visit_detail", pk=visit.pk)
    form = VisitCompleteForm(request.POST or None, visit=visit)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            visit.complete(
                done_items=data.get("done", []),
                findings=data["findings"],
                hours_worked=data["hours_worked"],
                by=request.user,
                now=timezone.now(),
                today=local_today(),
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("scheduling:visit_detail", pk=visit.pk)
        messages.success(
            request, "Visit completed; the customer can read the report in the portal."
        )
        return redirect("scheduling:my_schedule")
    return render(request, "scheduling/visit_complete.html", {"visit": visit, "form": form})


# Technicians ----------------------------------------------------------------------------


@staff_required
def my_schedule(request):
    """The signed-in technician's day or week: customer, address, checklist of each visit."""
    today = local_today()
    view = "day" if request.GET.get("view") == "day" else "week"
    mine = Visit.objects.filter(technician=request.user)
    return render(
        request,
        "scheduling/my_schedule.html",
        {
            **days_period(request, mine, view=view, today=today, instances=True),
            "today": today,
            "to_report": mine.open()
            .for_display()
            .filter(starts_at__lt=timezone.now())
            .order_by("starts_at")[:20],
            "feed": CalendarFeed.for_technician(request.user),
            "tab": "mine",
        },
    )


@staff_required
def my_calendar(request):
    """The signed-in technician's month; a day's "+N more" opens that day of their schedule."""
    today = local_today()
    first = calendars.parse_month(request.GET.get("month", ""), today=today)
    return render(
        request,
        "scheduling/calendar.html",
        {
            "view": "month",
            "month": calendars.month_grid(
                first,
                Visit.objects.filter(technician=request.user),
                today=today,
                counted=calendars.Counted(technician=request.user.pk),
            ),
            "day_url": reverse("scheduling:my_schedule") + "?view=day&",
            "title": "My calendar",
            "tab": "mine",
        },
    )


@staff_required
def my_feed_regenerate(request):
    url = reverse("scheduling:my_schedule")
    return regenerate_feed_view(
        request, CalendarFeed.for_technician(request.user), done=url, cancel_url=url
    )


# Feeds ----------------------------------------------------------------------------------


@public
@require_GET
def feed(request, token):
    """An iCalendar feed at its secret address; a wrong or revoked token is a plain 404."""
    found = (
        CalendarFeed.objects.select_related("customer", "technician")
        .filter(Q(customer__isnull=False) | Q(technician__is_active=True), token=token)
        .first()
    )
    if found is None:
        raise Http404("No such calendar")
    response = HttpResponse(
        feeds.feed_for(found, now=timezone.now()), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="allora-visits.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response

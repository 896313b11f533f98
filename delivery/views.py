"""Staff pages of service delivery. Emergency Support: open requests by time left, requests
taken by phone, acknowledge (the clock stops), resolve, log time. Projects: create one and send
its estimate, revised estimates and change orders, start, complete, log time.

The customer's pages (filing a request, approving an estimate) are in
``portal/views/emergencies.py`` and ``portal/views/projects.py``. Rules live in
``delivery/emergencies.py`` and ``delivery/projects.py``; forms in ``delivery/forms.py``."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from allora.tenancy import staff_required
from allora.timeutils import local_today
from billing.models import Invoice
from billing.pricing import PricingError
from billing.projects import due_project_invoices, issue_project_invoice
from billing.timesheets import log_time

from . import emergencies, projects
from .forms import (
    CloseForm,
    EstimateForm,
    HoursForm,
    PhoneEmergencyForm,
    ProjectForm,
    add_errors,
    posted,
)
from .models import EmergencyRequest, Project, ProjectMilestone

RECENT_CLOSED = 20


def _redirect_after(request, pk, action, done, *, to):
    """Run a one-button action on the object; its refusal or success becomes a message."""
    try:
        action()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return redirect(to, pk=pk)


def _log_time(request, pk, log, *, done, page, to):
    """The hours form posted from an object's page: ``log`` them through the service, then back
    to the page; a refusal goes onto the form, shown on the page again."""
    form = HoursForm(request.POST)
    if form.is_valid():
        try:
            entry = log(form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, done(entry, form.cleaned_data))
            return redirect(to, pk=pk)
    messages.error(request, "The time was not logged: see the form below.")
    return page(request, pk, time_form=form)


# Emergency Support ----------------------------------------------------------------------------


@staff_required
def emergency_list(request):
    """Open requests, the nearest deadline first; then the latest resolved ones."""
    now = timezone.now()
    base = EmergencyRequest.objects.select_related("customer", "acknowledged_by")
    active = list(emergencies.by_time_left(base.exclude(status=EmergencyRequest.Status.CLOSED)))
    closed = base.filter(status=EmergencyRequest.Status.CLOSED).order_by("-closed_at")
    return render(
        request,
        "delivery/emergency_list.html",
        {"active": emergencies.with_time_left(active, now), "closed": closed[:RECENT_CLOSED]},
    )


@staff_required
def emergency_create(request):
    """A request taken by phone, with the time it was received."""
    form = PhoneEmergencyForm(posted(request))
    if request.method == "POST" and form.is_valid():
        customer = form.cleaned_data["customer"]
        received = timezone.make_naive(form.cleaned_data["received_at"]).replace(tzinfo=customer.tz)
        created = form.file(
            customer=customer,
            received_at=received,
            channel=EmergencyRequest.Channel.PHONE,
            by=request.user,
        )
        if created:
            messages.success(request, f"Emergency request #{created.pk} recorded.")
            return redirect("delivery:emergency_detail", pk=created.pk)
    return render(request, "delivery/emergency_form.html", {"form": form, "staff": True})


@staff_required
def emergency_detail(request, pk, *, time_form=None):
    emergency = get_object_or_404(
        EmergencyRequest.objects.select_related(
            "customer", "agreement", "filed_by", "acknowledged_by", "closed_by"
        ),
        pk=pk,
    )
    emergencies.with_time_left([emergency], timezone.now())
    return render(
        request,
        "delivery/emergency_detail.html",
        {
            "emergency": emergency,
            "close_form": CloseForm(),
            "alerts": emergency.alerts.all(),
            "entries": emergency.time_entries.select_related("technician", "invoice"),
            "time_form": time_form or HoursForm(initial={"work_date": local_today()}),
        },
    )


@staff_required
@require_POST
def emergency_log_time(request, pk):
    """Hours worked on the request: emergency hours of its agreement (billing's rules)."""
    emergency = get_object_or_404(EmergencyRequest, pk=pk)
    return _log_time(
        request,
        pk,
        lambda data: log_time(
            emergency_request=emergency,
            **data,
            technician=request.user,
            by=request.user,
            today=local_today(),
        ),
        done=lambda entry, data: f"{entry.hours:g} h logged on the request.",
        page=emergency_detail,
        to="delivery:emergency_detail",
    )


def _act(request, pk, action, done):
    emergency = get_object_or_404(EmergencyRequest, pk=pk)
    return _redirect_after(
        request, pk, lambda: action(emergency), done, to="delivery:emergency_detail"
    )


@staff_required
@require_POST
def emergency_acknowledge(request, pk):
    """The technician takes the request: the response clock stops."""
    return _act(
        request,
        pk,
        lambda emergency: emergencies.acknowledge(emergency, by=request.user, now=timezone.now()),
        "Acknowledged: the clock has stopped. Call the customer now.",
    )


@staff_required
@require_POST
def emergency_close(request, pk):
    form = CloseForm(request.POST)
    form.is_valid()
    return _act(
        request,
        pk,
        lambda emergency: emergencies.close(
            emergency,
            by=request.user,
            now=timezone.now(),
            resolution=form.cleaned_data.get("resolution") or "",
        ),
        "The request is resolved.",
    )


# Projects -------------------------------------------------------------------------------------


def _staff_project(pk):
    return get_object_or_404(
        Project.objects.select_related("customer", "agreement", "created_by"), pk=pk
    )


@staff_required
def project_list(request):
    items = Project.objects.select_related("customer").prefetch_related("estimates")
    status = request.GET.get("status", "")
    if status in Project.Status.values:
        items = items.filter(status=status)
    return render(
        request,
        "delivery/project_list.html",
        {"projects": items[:200], "status": status, "statuses": Project.Status.choices},
    )


@staff_required
def project_create(request):
    form = ProjectForm(posted(request), initial={"customer": request.GET.get("customer")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            project = projects.create_project(
                data["customer"],
                title=data["title"],
                scope=data["scope"],
                hours=data["hours"],
                by=request.user,
                today=local_today(),
                **form.terms(),
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(
                request, "Project created; its estimate went to the customer's approvers."
            )
            return redirect("delivery:project_detail", pk=project.pk)
    return render(request, "delivery/project_form.html", {"form": form})


@staff_required
def project_detail(request, pk, *, estimate_form=None, time_form=None):
    project = _staff_project(pk)
    estimates = project.estimates.select_related("approval", "created_by").prefetch_related(
        "milestones__invoice"
    )
    today = local_today()
    return render(
        request,
        "delivery/project_detail.html",
        {
            "project": project,
            "estimates": estimates,
            "terms": project.billing_terms(),
            "approved_hours": project.approved_hours(),
            "logged_hours": projects.logged_hours(project),
            "entries": projects.time_entries(project).select_related("technician", "invoice")[:50],
            "approvers": projects.approvers(project.customer),
            "invoices": Invoice.objects.filter(project=project).order_by("-issued_on", "-number"),
            "invoice_due": bool(due_project_invoices(today=today, project=project)),
            "estimate_form": estimate_form or EstimateForm(change_order=project.is_approved),
            "time_form": time_form or HoursForm(initial={"work_date": local_today()}),
        },
    )


@staff_required
@require_POST
def project_estimate(request, pk):
    """A revised estimate or a change order, sent to the approvers."""
    project = _staff_project(pk)
    form = EstimateForm(request.POST, change_order=project.is_approved)
    if form.is_valid():
        try:
            estimate = projects.propose_estimate(
                project,
                hours=form.cleaned_data["hours"],
                description=form.cleaned_data["description"],
                by=request.user,
                today=local_today(),
                **form.terms(),
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(
                request, f"{estimate.get_kind_display()} #{estimate.number} sent for approval."
            )
            return redirect("delivery:project_detail", pk=pk)
    return project_detail(request, pk, estimate_form=form)


@staff_required
@require_POST
def project_log_time(request, pk):
    project = _staff_project(pk)
    return _log_time(
        request,
        pk,
        lambda data: projects.log_project_time(
            project,
            **data,
            technician=request.user,
            by=request.user,
            today=local_today(),
            now=timezone.now(),
        ),
        done=lambda entry, data: f"{data['hours']} h logged on the project.",
        page=project_detail,
        to="delivery:project_detail",
    )


def _staff_action(request, pk, action, done):
    project = _staff_project(pk)
    return _redirect_after(request, pk, lambda: action(project), done, to="delivery:project_detail")


@staff_required
@require_POST
def project_start(request, pk):
    return _staff_action(
        request,
        pk,
        lambda project: project.start(by=request.user, now=timezone.now()),
        "The project has started.",
    )


@staff_required
@require_POST
def project_complete(request, pk):
    return _staff_action(
        request,
        pk,
        lambda project: projects.complete(project, by=request.user, now=timezone.now()),
        "The project is completed.",
    )


@staff_required
@require_POST
def project_milestone_complete(request, pk):
    """A milestone of the approved fixed price is done: it is due for invoicing."""
    milestone = get_object_or_404(ProjectMilestone.objects.select_related("estimate"), pk=pk)
    return _redirect_after(
        request,
        milestone.estimate.project_id,
        lambda: projects.complete_milestone(milestone, by=request.user, now=timezone.now()),
        f"“{milestone.title}” is completed: invoice it now or with tonight's run.",
        to="delivery:project_detail",
    )


@staff_required
@require_POST
def project_invoice(request, pk):
    """Invoice now what is due (the milestones completed, past months' or the completed
    project's hours), rather than waiting for the daily run."""
    project = _staff_project(pk)
    try:
        invoices = issue_project_invoice(project, today=local_today())
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except PricingError as error:  # a rate missing from the term's Exhibit A
        messages.error(request, str(error))
    else:
        numbers = ", ".join(invoice.number for invoice in invoices)
        if numbers:
            messages.success(request, f"Invoiced: {numbers}, emailed to the customer.")
        else:
            messages.info(request, "Nothing is due for invoicing on this project today.")
    return redirect("delivery:project_detail", pk=pk)

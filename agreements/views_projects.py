"""Project pages: staff create projects and change orders and log time; the customer's designated
approvers approve or decline in the portal. Rules live in ``agreements/projects.py``."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from allora.tenancy import portal_required, staff_required
from allora.timeutils import local_today
from billing.forms import HoursForm as TimeForm

from . import projects
from .models import Customer, Project, ProjectEstimate


def _control(widget):
    widget.attrs.setdefault(
        "class", "form-select" if isinstance(widget, forms.Select) else "form-control"
    )
    return widget


class _Form(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            _control(field.widget)


class ProjectForm(_Form):
    customer = forms.ModelChoiceField(Customer.objects.all())
    title = forms.CharField(max_length=200)
    scope = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}))
    hours = forms.DecimalField(label="Estimated hours", max_digits=7, decimal_places=2)


class EstimateForm(_Form):
    hours = forms.DecimalField(label="Hours", max_digits=7, decimal_places=2)
    description = forms.CharField(
        label="What the hours are for", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class DecisionForm(_Form):
    typed_name = forms.CharField(label="Type your full name", max_length=200, required=False)
    comment = forms.CharField(
        label="Comment (optional)", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


def _errors_to_form(form, error):
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _client_ip(request):
    return request.META.get("REMOTE_ADDR")


def _posted(request):
    """The POST data, even when empty (an empty form must show its errors, not a blank form)."""
    return request.POST if request.method == "POST" else None


# Staff ----------------------------------------------------------------------------------------


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
        "agreements/project_list.html",
        {"projects": items[:200], "status": status, "statuses": Project.Status.choices},
    )


@staff_required
def project_create(request):
    form = ProjectForm(_posted(request), initial={"customer": request.GET.get("customer")})
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
            )
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(
                request, "Project created; its estimate went to the customer's approvers."
            )
            return redirect("agreements:project_detail", pk=project.pk)
    return render(request, "agreements/project_form.html", {"form": form})


@staff_required
def project_detail(request, pk, *, estimate_form=None, time_form=None):
    project = _staff_project(pk)
    estimates = project.estimates.select_related("approval", "created_by")
    return render(
        request,
        "agreements/project_detail.html",
        {
            "project": project,
            "estimates": estimates,
            "approved_hours": project.approved_hours(),
            "logged_hours": projects.logged_hours(project),
            "entries": projects.time_entries(project).select_related("technician")[:50],
            "approvers": projects.approvers(project.customer),
            "estimate_form": estimate_form or EstimateForm(),
            "time_form": time_form or TimeForm(initial={"work_date": local_today()}),
        },
    )


@staff_required
@require_POST
def project_estimate(request, pk):
    """A revised estimate or a change order, sent to the approvers."""
    project = _staff_project(pk)
    form = EstimateForm(request.POST)
    if form.is_valid():
        try:
            estimate = projects.propose_estimate(
                project,
                hours=form.cleaned_data["hours"],
                description=form.cleaned_data["description"],
                by=request.user,
                today=local_today(),
            )
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(
                request, f"{estimate.get_kind_display()} #{estimate.number} sent for approval."
            )
            return redirect("agreements:project_detail", pk=pk)
    return project_detail(request, pk, estimate_form=form)


@staff_required
@require_POST
def project_log_time(request, pk):
    project = _staff_project(pk)
    form = TimeForm(request.POST)
    if form.is_valid():
        try:
            projects.log_project_time(
                project,
                work_date=form.cleaned_data["work_date"],
                hours=form.cleaned_data["hours"],
                note=form.cleaned_data["note"],
                technician=request.user,
                by=request.user,
                today=local_today(),
                now=timezone.now(),
            )
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(request, f"{form.cleaned_data['hours']} h logged on the project.")
            return redirect("agreements:project_detail", pk=pk)
    messages.error(request, "The time was not logged: see the form below.")
    return project_detail(request, pk, time_form=form)


def _staff_action(request, pk, action, done):
    project = _staff_project(pk)
    try:
        action(project)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return redirect("agreements:project_detail", pk=pk)


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
        request, pk, lambda project: projects.complete(project), "The project is completed."
    )


# Portal ---------------------------------------------------------------------------------------


@portal_required
def portal_project_list(request):
    items = Project.objects.for_user(request.user).prefetch_related("estimates")
    return render(request, "portal/project_list.html", {"projects": items})


@portal_required
def portal_project_detail(request, pk, *, form=None):
    project = get_object_or_404(Project.objects.for_user(request.user), pk=pk)
    estimates = project.estimates.select_related("approval")
    pending = next((e for e in estimates if e.status == ProjectEstimate.Status.PENDING), None)
    contact = getattr(request.user, "contact", None)
    return render(
        request,
        "portal/project_detail.html",
        {
            "project": project,
            "estimates": estimates,
            "pending": pending,
            "can_decide": bool(contact and contact.is_project_approver),
            "form": form or DecisionForm(),
        },
    )


@portal_required
@require_POST
def portal_estimate_decide(request, pk):
    """A designated approver approves or declines an estimate or change order."""
    estimate = get_object_or_404(
        ProjectEstimate.objects.filter(project__in=Project.objects.for_user(request.user)), pk=pk
    )
    form = DecisionForm(request.POST)
    form.is_valid()
    approve = request.POST.get("decision") == "approve"
    try:
        projects.decide(
            estimate,
            user=request.user,
            approve=approve,
            typed_name=form.cleaned_data.get("typed_name") or "",
            comment=form.cleaned_data.get("comment") or "",
            ip=_client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
            now=timezone.now(),
        )
    except ValidationError as error:
        _errors_to_form(form, error)
        return portal_project_detail(request, estimate.project_id, form=form)
    messages.success(
        request,
        f"You {'approved' if approve else 'declined'} {estimate.get_kind_display().lower()} "
        f"#{estimate.number}; Allora is notified.",
    )
    return redirect("agreements:portal_project_detail", pk=estimate.project_id)

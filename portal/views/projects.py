"""The customer's projects: the list, a project with its estimates, and the designated
approver's decision on an estimate or change order. Staff pages are in ``delivery/views.py``;
rules in ``delivery/projects.py``."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from allora.clientip import client_ip
from allora.tenancy import portal_required
from delivery import projects
from delivery.forms import DecisionForm, add_errors
from delivery.models import Project, ProjectEstimate


@portal_required
def project_list(request):
    items = Project.objects.for_user(request.user).prefetch_related("estimates")
    return render(request, "portal/project_list.html", {"projects": items})


@portal_required
def project_detail(request, pk, *, form=None):
    project = get_object_or_404(Project.objects.for_user(request.user), pk=pk)
    estimates = project.estimates.select_related("approval").prefetch_related("milestones")
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
def estimate_decide(request, pk):
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
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
            now=timezone.now(),
        )
    except ValidationError as error:
        add_errors(form, error)
        return project_detail(request, estimate.project_id, form=form)
    messages.success(
        request,
        f"You {'approved' if approve else 'declined'} {estimate.get_kind_display().lower()} "
        f"#{estimate.number}; Allora is notified.",
    )
    return redirect("portal:project_detail", pk=estimate.project_id)

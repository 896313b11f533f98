"""Emergency Support pages: staff see open requests by time left, enter phone calls, acknowledge
and resolve; customers file requests in the portal and follow them. Rules live in
``scheduling/emergencies.py``."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from agreements.models import Customer
from allora.tenancy import portal_required, staff_required
from allora.timeutils import local_today
from billing.forms import HoursForm
from billing.timesheets import log_time

from . import emergencies, response_clock
from .models import EmergencyRequest

RECENT_CLOSED = 20


class EmergencyForm(forms.Form):
    summary = forms.CharField(
        label="What is wrong",
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
        max_length=2000,
    )
    contact_name = forms.CharField(
        label="Who should we call",
        max_length=200,
        widget=forms.TextInput({"class": "form-control"}),
    )
    contact_phone = forms.CharField(
        label="Their phone number", max_length=30, widget=forms.TextInput({"class": "form-control"})
    )
    site = forms.CharField(
        label="Site (where to go)",
        max_length=300,
        widget=forms.TextInput({"class": "form-control"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            # The service gives the plain message; the browser must not block an empty field
            # first (and the form must not report it in other words).
            field.required = False
            field.error_messages["required"] = emergencies.REQUIRED.get(name, "Required.")


class PhoneEmergencyForm(EmergencyForm):
    customer = forms.ModelChoiceField(
        Customer.objects.all(), widget=forms.Select({"class": "form-select"})
    )
    received_at = forms.DateTimeField(
        label="Received at (the customer's local time)",
        widget=forms.DateTimeInput({"type": "datetime-local", "class": "form-control"}),
    )

    field_order = ["customer", "received_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"].required = True
        self.fields["customer"].error_messages["required"] = "Choose the customer who called."
        self.fields["received_at"].required = True
        self.fields["received_at"].error_messages["required"] = "Enter when the call came in."


class CloseForm(forms.Form):
    resolution = forms.CharField(
        label="What was done",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
    )


def _file(form, request, *, customer, received_at, channel):
    """Hand the form to the service; its errors go back onto the form. None on error."""
    data = form.cleaned_data
    try:
        return emergencies.file_request(
            customer,
            summary=data.get("summary") or "",
            contact_name=data.get("contact_name") or "",
            contact_phone=data.get("contact_phone") or "",
            site=data.get("site") or "",
            channel=channel,
            received_at=received_at,
            by=request.user,
            now=timezone.now(),
        )
    except ValidationError as error:
        _add_errors(form, error)
        return None


def _add_errors(form, error):
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _with_time_left(requests, now):
    for request in requests:
        request.left = (
            response_clock.describe_left(response_clock.time_left(request.due_at, now))
            if request.due_at and request.is_open
            else ""
        )
    return requests


def _posted(request):
    """The POST data, even when empty (an empty form must show its errors, not a blank form)."""
    return request.POST if request.method == "POST" else None


# Staff ----------------------------------------------------------------------------------------


@staff_required
def emergency_list(request):
    """Open requests, the nearest deadline first; then the latest resolved ones."""
    now = timezone.now()
    base = EmergencyRequest.objects.select_related("customer", "acknowledged_by")
    active = list(emergencies.by_time_left(base.exclude(status=EmergencyRequest.Status.CLOSED)))
    closed = base.filter(status=EmergencyRequest.Status.CLOSED).order_by("-closed_at")
    return render(
        request,
        "scheduling/emergency_list.html",
        {"active": _with_time_left(active, now), "closed": closed[:RECENT_CLOSED]},
    )


@staff_required
def emergency_create(request):
    """A request taken by phone, with the time it was received."""
    form = PhoneEmergencyForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        customer = form.cleaned_data["customer"]
        received = timezone.make_naive(form.cleaned_data["received_at"]).replace(tzinfo=customer.tz)
        created = _file(
            form,
            request,
            customer=customer,
            received_at=received,
            channel=EmergencyRequest.Channel.PHONE,
        )
        if created:
            messages.success(request, f"Emergency request #{created.pk} recorded.")
            return redirect("scheduling:emergency_detail", pk=created.pk)
    return render(request, "scheduling/emergency_form.html", {"form": form, "staff": True})


@staff_required
def emergency_detail(request, pk, *, time_form=None):
    emergency = get_object_or_404(
        EmergencyRequest.objects.select_related(
            "customer", "agreement", "filed_by", "acknowledged_by", "closed_by"
        ),
        pk=pk,
    )
    _with_time_left([emergency], timezone.now())
    return render(
        request,
        "scheduling/emergency_detail.html",
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
    form = HoursForm(request.POST)
    if form.is_valid():
        try:
            entry = log_time(
                emergency_request=emergency,
                **form.cleaned_data,
                technician=request.user,
                by=request.user,
                today=local_today(),
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"{entry.hours:g} h logged on the request.")
            return redirect("scheduling:emergency_detail", pk=pk)
    messages.error(request, "The time was not logged: see the form below.")
    return emergency_detail(request, pk, time_form=form)


def _act(request, pk, action, done):
    emergency = get_object_or_404(EmergencyRequest, pk=pk)
    try:
        action(emergency)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return redirect("scheduling:emergency_detail", pk=pk)


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


# Portal ---------------------------------------------------------------------------------------


@portal_required
def portal_emergency_list(request):
    requests = EmergencyRequest.objects.for_user(request.user).select_related("acknowledged_by")
    return render(
        request,
        "portal/emergency_list.html",
        {"requests": _with_time_left(list(requests[:50]), timezone.now())},
    )


@portal_required
def portal_emergency_create(request):
    """The customer files an emergency request; the guarantee of their agreement applies."""
    form = EmergencyForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        created = _file(
            form,
            request,
            customer=request.user.customer,
            received_at=timezone.now(),
            channel=EmergencyRequest.Channel.PORTAL,
        )
        if created:
            messages.success(
                request,
                "Your emergency request is received; our on-call technicians are alerted.",
            )
            return redirect("scheduling:portal_emergency_detail", pk=created.pk)
    return render(request, "scheduling/emergency_form.html", {"form": form, "staff": False})


@portal_required
def portal_emergency_detail(request, pk):
    emergency = get_object_or_404(
        EmergencyRequest.objects.for_user(request.user).select_related("acknowledged_by"), pk=pk
    )
    _with_time_left([emergency], timezone.now())
    return render(request, "portal/emergency_detail.html", {"emergency": emergency})

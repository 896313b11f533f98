"""The customer's emergency requests: the list with the time left on each clock, filing a new
request (the guarantee of their agreement applies) and following one. Staff pages are in
``delivery/views.py``; rules in ``delivery/emergencies.py``."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from allora.models import CompanyProfile
from allora.tenancy import portal_required
from delivery import emergencies
from delivery.forms import EmergencyForm, posted
from delivery.models import EmergencyRequest


@portal_required
def emergency_list(request):
    requests = EmergencyRequest.objects.for_user(request.user).select_related("acknowledged_by")
    return render(
        request,
        "portal/emergency_list.html",
        {"requests": emergencies.with_time_left(list(requests[:50]), timezone.now())},
    )


@portal_required
def emergency_create(request):
    """The customer files an emergency request; the guarantee of their agreement applies."""
    form = EmergencyForm(posted(request))
    if request.method == "POST" and form.is_valid():
        created = form.file(
            customer=request.user.customer,
            received_at=timezone.now(),
            channel=EmergencyRequest.Channel.PORTAL,
            by=request.user,
        )
        if created:
            messages.success(
                request,
                "Your emergency request is received; our on-call technicians are alerted.",
            )
            return redirect("portal:emergency_detail", pk=created.pk)
    return render(
        request,
        "delivery/emergency_form.html",
        {"form": form, "staff": False, "company": CompanyProfile.current()},
    )


@portal_required
def emergency_detail(request, pk):
    emergency = get_object_or_404(
        EmergencyRequest.objects.for_user(request.user).select_related("acknowledged_by"), pk=pk
    )
    emergencies.with_time_left([emergency], timezone.now())
    return render(request, "portal/emergency_detail.html", {"emergency": emergency})

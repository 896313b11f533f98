"""The admins' webhook pages (/settings/webhooks/): endpoints (list, create with the secret
shown once, edit, delete with a confirmation, send a test event) and each endpoint's delivery
log (newest first, with "Retry now"). The rules are in ``webhooks.py``."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from allora.tenancy import admin_required

from . import webhooks
from .forms import WebhookEndpointForm
from .models import WebhookDelivery, WebhookEndpoint

# The session remembers the endpoint just created, so its page shows the secret once.
JUST_CREATED = "integrations_new_endpoint"
Status = WebhookDelivery.Status


@admin_required
def endpoint_list(request):
    endpoints = WebhookEndpoint.objects.annotate(
        pending=Count("deliveries", filter=Q(deliveries__status=Status.PENDING)),
        failed=Count("deliveries", filter=Q(deliveries__status=Status.FAILED)),
    )
    return render(request, "integrations/endpoint_list.html", {"endpoints": endpoints})


@admin_required
def endpoint_create(request):
    form = WebhookEndpointForm(request.POST or None, request_host=request.get_host())
    if request.method == "POST" and form.is_valid():
        endpoint = form.save(commit=False)
        endpoint.created_by = request.user
        endpoint.save()
        request.session[JUST_CREATED] = endpoint.pk
        messages.success(request, "Webhook added. Copy its signing secret now.")
        return redirect("integrations:endpoint_detail", pk=endpoint.pk)
    return render(request, "integrations/endpoint_form.html", {"form": form})


@admin_required
def endpoint_detail(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint.objects.select_related("created_by"), pk=pk)
    show_secret = request.session.get(JUST_CREATED) == endpoint.pk
    if show_secret:
        del request.session[JUST_CREATED]
    deliveries = endpoint.deliveries.defer("payload").order_by("-created_at", "-pk")
    page = Paginator(deliveries, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "integrations/endpoint_detail.html",
        {"endpoint": endpoint, "page": page, "show_secret": show_secret},
    )


@admin_required
def endpoint_edit(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    form = WebhookEndpointForm(
        request.POST or None, instance=endpoint, request_host=request.get_host()
    )
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Webhook saved.")
        return redirect("integrations:endpoint_detail", pk=endpoint.pk)
    return render(request, "integrations/endpoint_form.html", {"form": form, "endpoint": endpoint})


@admin_required
def endpoint_delete(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    if request.method == "POST":
        endpoint.delete()
        messages.success(request, f"Webhook {endpoint.url} deleted, with its delivery log.")
        return redirect("integrations:endpoint_list")
    return render(
        request,
        "allora/confirm.html",
        {
            "title": "Delete this webhook?",
            "body": f"{endpoint.url} will receive no more events, and its delivery log is "
            "deleted with it. To pause it instead, edit it and untick Active.",
            "confirm_label": "Delete",
            "cancel_url": reverse("integrations:endpoint_detail", args=[endpoint.pk]),
        },
    )


@admin_required
@require_POST
def endpoint_test(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    webhooks.send_test_event(endpoint, by=request.user, now=timezone.now())
    messages.success(request, "Test event queued: its delivery is at the top of the log.")
    return redirect("integrations:endpoint_detail", pk=endpoint.pk)


@admin_required
def delivery_detail(request, pk):
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("endpoint"), pk=pk)
    return render(
        request,
        "integrations/delivery_detail.html",
        {"delivery": delivery, "body": json.dumps(delivery.payload, indent=2, sort_keys=True)},
    )


@admin_required
@require_POST
def delivery_retry(request, pk):
    delivery = get_object_or_404(WebhookDelivery, pk=pk)
    try:
        webhooks.retry_now(delivery, now=timezone.now())
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Retrying now: reload the log in a moment to see the answer.")
    return redirect("integrations:endpoint_detail", pk=delivery.endpoint_id)

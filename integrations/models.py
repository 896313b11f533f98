"""Webhooks: the URLs admins register for events (`WebhookEndpoint`) and each event sent to
one of them (`WebhookDelivery`), with its attempts and the last response. Sending, signing and
retrying are in ``integrations/webhooks.py``; what each event carries in ``events.py``."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

URL_MAX_LENGTH = 500
RESPONSE_MAX_LENGTH = 2000


class Event(models.TextChoices):
    AGREEMENT_SIGNED = "agreement.signed", "Agreement signed (both parties)"
    AGREEMENT_RENEWED = "agreement.renewed", "Agreement renewed for a new term"
    AGREEMENT_ENDED = "agreement.ended", "Agreement ended or terminated early"
    INVOICE_ISSUED = "invoice.issued", "Invoice issued"
    INVOICE_PAID = "invoice.paid", "Invoice paid in full"
    TERMINATION_REQUEST_FILED = "termination_request.filed", "Termination request filed"
    EMERGENCY_BREACHED = "emergency.breached", "Emergency response time breached"


# Sent by "Send test event" only; no endpoint subscribes to it.
TEST_EVENT = "webhook.test"


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


class WebhookEndpoint(models.Model):
    """A URL that receives the events it subscribes to, signed with its own secret."""

    url = models.URLField("URL", max_length=URL_MAX_LENGTH)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event names it receives.")
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    is_active = models.BooleanField("active", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["url", "pk"]

    def __str__(self):
        return self.url

    def event_labels(self) -> list[str]:
        return [Event(name).label for name in self.events if name in Event.values]


class WebhookDelivery(models.Model):
    """One event for one endpoint: pending until a 2xx answer (delivered) or the last attempt
    (failed). `next_attempt_at` is when the worker tries (again); while an attempt is under
    way it is pushed past the attempt's timeout, so no other worker takes it meanwhile."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=50)
    # The same for every endpoint and every attempt of one event: receivers de-duplicate by it.
    event_id = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # An event emitted twice (a job run again) is delivered once to each endpoint.
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="one_delivery_per_endpoint_and_event"
            ),
            models.CheckConstraint(
                name="pending_delivery_has_next_attempt",
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self):
        return f"{self.event} → {self.endpoint_id} ({self.status})"

    @property
    def succeeded(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300

"""Customers, their contacts and their agreements.

This module imports no other app of the project: scheduling and billing build on it.
"""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords


def validate_time_zone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "“%(value)s” is not a known time zone; pick one such as America/New_York.",
            params={"value": value},
        )


class ServiceKind(models.TextChoices):
    """The four kinds of service an agreement sells (Exhibit B lines)."""

    MAINTENANCE = "maintenance", "Monthly Maintenance"
    PRESCHEDULED = "prescheduled", "Prescheduled Services"
    EMERGENCY = "emergency", "Emergency Support"
    HOSTING = "hosting", "Hosting"


class CustomerQuerySet(models.QuerySet):
    def for_user(self, user):
        """Customers this user may see: all for Allora staff, their own for a customer user."""
        if user.is_allora_staff:
            return self
        if user.is_customer_user:
            return self.filter(pk=user.customer_id)
        return self.none()


class Customer(models.Model):
    class Status(models.TextChoices):
        PROSPECT = "prospect", "Prospect"
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    legal_name = models.CharField(max_length=200, unique=True)
    address_line1 = models.CharField("address", max_length=200)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100, default="Raleigh")
    state = models.CharField(max_length=2, default="NC")
    postal_code = models.CharField(max_length=10)
    phone = models.CharField(max_length=30)
    time_zone = models.CharField(
        max_length=64, default=settings.DEFAULT_CUSTOMER_TIME_ZONE, validators=[validate_time_zone]
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROSPECT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["legal_name"]

    def __str__(self):
        return self.legal_name

    @property
    def address(self):
        lines = [self.address_line1, self.address_line2]
        return ", ".join(
            [line for line in lines if line] + [f"{self.city}, {self.state} {self.postal_code}"]
        )

    @property
    def tz(self):
        return zoneinfo.ZoneInfo(self.time_zone)


class ContactQuerySet(models.QuerySet):
    def for_user(self, user):
        if user.is_allora_staff:
            return self
        if user.is_customer_user:
            return self.filter(customer_id=user.customer_id)
        return self.none()


class Contact(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    title = models.CharField(max_length=100, blank=True)
    email = models.EmailField()
    phone = models.CharField(max_length=30, blank=True)
    is_authorized_signer = models.BooleanField("authorized signer", default=False)
    is_project_approver = models.BooleanField("designated project approver", default=False)
    is_billing_contact = models.BooleanField("billing contact", default=False)
    has_portal_access = models.BooleanField("portal access", default=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contact",
    )
    history = HistoricalRecords()

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "email"], name="unique_contact_email")
        ]

    def __str__(self):
        return f"{self.name} ({self.customer})"

    @property
    def roles(self):
        flags = [
            (self.is_authorized_signer, "Authorized signer"),
            (self.is_project_approver, "Project approver"),
            (self.is_billing_contact, "Billing"),
            (self.has_portal_access, "Portal"),
        ]
        return [label for flag, label in flags if flag]

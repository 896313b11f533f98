"""Rate cards (the source of Exhibit A) and the agreement discount policy."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from agreements.models import ServiceKind

ZERO = Decimal("0.00")


class RateKind(models.TextChoices):
    ONSITE = "onsite_hourly", "On-site hourly"
    REMOTE = "remote_hourly", "Remote hourly"
    EMERGENCY = "emergency_hourly", "Emergency hourly"
    AFTER_HOURS = "after_hours_hourly", "After-hours hourly"
    HOSTING = "hosting_monthly", "Hosting package (monthly)"


HOURLY_KINDS = (RateKind.ONSITE, RateKind.REMOTE, RateKind.EMERGENCY, RateKind.AFTER_HOURS)


class RateCardQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=RateCard.Status.PUBLISHED)

    def current(self, *, on):
        """The card in effect on a date: the latest published one whose effective date has come."""
        return (
            self.published()
            .filter(effective_date__lte=on)
            .order_by("-effective_date", "-version")
            .first()
        )


class RateCard(models.Model):
    """A versioned list of standard rates. Once published it never changes: edit a new version."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    version = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=120, default="Standard rates")
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    effective_date = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    published_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    objects = RateCardQuerySet.as_manager()

    class Meta:
        ordering = ["-version"]
        constraints = [
            # One draft at a time: two drafts would race to become the next version.
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="draft"), name="one_draft_rate_card"
            ),
            models.CheckConstraint(
                name="published_card_has_effective_date",
                condition=Q(status="draft") | Q(effective_date__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.title} v{self.version}"

    @property
    def is_draft(self):
        return self.status == self.Status.DRAFT

    @classmethod
    def next_version(cls):
        last = cls.objects.aggregate(models.Max("version"))["version__max"]
        return (last or 0) + 1

    def missing_kinds(self):
        """Hourly rates a card needs before it can be published."""
        present = set(self.lines.values_list("kind", flat=True))
        return [kind for kind in HOURLY_KINDS if kind not in present]

    def publish(self, *, by, effective_date: dt.date, today: dt.date):
        """Publish this draft from ``effective_date`` on; it is immutable afterwards."""
        with transaction.atomic():
            card = RateCard.objects.select_for_update().get(pk=self.pk)
            if not card.is_draft:
                raise ValidationError("This rate card is already published.")
            if effective_date < today:
                raise ValidationError(
                    "The effective date cannot be in the past (today is %(today)s).",
                    params={"today": today.isoformat()},
                )
            missing = card.missing_kinds()
            if missing:
                labels = ", ".join(RateKind(kind).label for kind in missing)
                raise ValidationError(
                    "Add these rates before publishing: %(labels)s.", params={"labels": labels}
                )
            card.status = self.Status.PUBLISHED
            card.effective_date = effective_date
            card.published_by = by
            card.published_at = timezone.now()
            card.save(update_fields=["status", "effective_date", "published_by", "published_at"])
        self.refresh_from_db()

    def start_new_version(self, *, by):
        """A new draft copied from this card, for the next change of rates."""
        with transaction.atomic():
            if RateCard.objects.filter(status=self.Status.DRAFT).exists():
                raise ValidationError("A draft rate card already exists: edit or publish it first.")
            draft = RateCard.objects.create(
                version=RateCard.next_version(), title=self.title, notes=self.notes, created_by=by
            )
            RateCardLine.objects.bulk_create(
                RateCardLine(
                    card=draft,
                    kind=line.kind,
                    name=line.name,
                    unit=line.unit,
                    price=line.price,
                    position=line.position,
                )
                for line in self.lines.all()
            )
        return draft


class RateCardLine(models.Model):
    card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=32, choices=RateKind.choices)
    name = models.CharField(max_length=120)
    unit = models.CharField(max_length=20, default="hour")
    price = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(ZERO)]
    )
    position = models.PositiveSmallIntegerField(default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["card", "name"], name="unique_rate_line_name"),
            # Each hourly rate appears once per card; hosting packages may be many.
            models.UniqueConstraint(
                fields=["card", "kind"],
                condition=~Q(kind="hosting_monthly"),
                name="unique_hourly_rate_per_card",
            ),
            models.CheckConstraint(name="rate_price_not_negative", condition=Q(price__gte=0)),
        ]

    def __str__(self):
        return f"{self.name}: ${self.price}/{self.unit}"

    def save(self, *args, **kwargs):
        if not RateCard.objects.filter(pk=self.card_id, status=RateCard.Status.DRAFT).exists():
            raise ValidationError("A published rate card cannot be changed; start a new version.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if not self.card.is_draft:
            raise ValidationError("A published rate card cannot be changed; start a new version.")
        return super().delete(*args, **kwargs)


class DiscountPolicy(models.Model):
    """The agreement discount for a service kind (25% for maintenance and prescheduled)."""

    service_kind = models.CharField(max_length=20, choices=ServiceKind.choices)
    percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(ZERO), MaxValueValidator(Decimal("100"))],
    )
    effective_date = models.DateField()
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "discount policies"
        ordering = ["service_kind", "-effective_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["service_kind", "effective_date"], name="one_discount_per_kind_and_date"
            ),
            models.CheckConstraint(
                name="discount_percent_in_range", condition=Q(percent__gte=0, percent__lte=100)
            ),
        ]

    def __str__(self):
        return f"{self.get_service_kind_display()}: {self.percent}% from {self.effective_date}"

    @classmethod
    def percent_for(cls, service_kind, *, on: dt.date) -> Decimal:
        """The discount percent for a service kind on a date (0 when none applies)."""
        policy = (
            cls.objects.filter(service_kind=service_kind, effective_date__lte=on)
            .order_by("-effective_date")
            .first()
        )
        return policy.percent if policy else ZERO

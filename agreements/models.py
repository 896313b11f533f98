"""Customers, their contacts and their agreements.

This module imports no other app of the project: scheduling and billing build on it.
"""

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone
from simple_history.models import HistoricalRecords

from . import rules


def validate_time_zone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "“%(value)s” is not a known time zone; pick one such as America/New_York.",
            params={"value": value},
        )


def prefetched(instance, relation: str) -> list | None:
    """The rows ``prefetch_related`` loaded for ``instance.<relation>``, or None when it did not
    (the caller then reads them itself). A page that prefetched an agreement's parts once passes
    it down, and what it calls reads no table again (issue 14: the agreement page read its terms
    five times); a job or a PDF calling the same function queries as before."""
    cache = getattr(instance, "_prefetched_objects_cache", {})
    return list(cache[relation]) if relation in cache else None


def delete_unless_refused(instance, refusal) -> None:
    """Delete ``instance`` unless ``refusal(row)`` gives a reason (then ValidationError with it).
    The row is re-read under a lock, so a use that starts meanwhile is seen."""
    with transaction.atomic():
        locked = type(instance).objects.select_for_update().get(pk=instance.pk)
        if reason := refusal(locked):
            raise ValidationError(reason)
        locked.delete()


class ServiceKind(models.TextChoices):
    """The four kinds of service an agreement sells (Exhibit B lines)."""

    MAINTENANCE = "maintenance", "Monthly Maintenance"
    PRESCHEDULED = "prescheduled", "Prescheduled Services"
    EMERGENCY = "emergency", "Emergency Support"
    HOSTING = "hosting", "Hosting"


class CustomerScopedQuerySet(models.QuerySet):
    """The one scoping rule, for every model that belongs to a customer: Allora staff see all
    rows, a customer user only their own customer's, anyone else nothing."""

    customer_lookup = "customer_id"

    def for_user(self, user):
        if user.is_allora_staff:
            return self
        if user.is_customer_user:
            return self.filter(**{self.customer_lookup: user.customer_id})
        return self.none()


class CustomerQuerySet(CustomerScopedQuerySet):
    customer_lookup = "pk"


class AgreementPartQuerySet(CustomerScopedQuerySet):
    """Rows that belong to one agreement (its versions, its termination requests): scoped
    through the agreement's customer."""

    customer_lookup = "agreement__customer_id"


@functools.cache
def _latest_term_start():
    # Built once: building the subquery costs more than running it for a page of rows.
    latest = Term.objects.filter(agreement=models.OuterRef("pk")).order_by("-number")
    return models.Subquery(latest.values("start")[:1])


class AgreementQuerySet(CustomerScopedQuerySet):
    def live(self):
        """Agreements in force: active, or ending at the term's end after a notice."""
        return self.filter(status__in=Agreement.LIVE)

    def in_renewal_window(self, today, last=None):
        """Live agreements whose latest term ends after ``today`` and at the latest on ``last``
        (today + `rules.RENEWAL_WINDOW`; a `Read` passes it as a value of its own): the renewal
        queue and the staff home's renewals. The latest end is stored on the agreement
        (``term_end``, kept by triggers): one range of its index."""
        last = today + rules.RENEWAL_WINDOW if last is None else last
        return self.live().filter(term_end__gt=today, term_end__lte=last)

    def with_latest_term_dates(self):
        """Each agreement with its latest term's start beside that term's stored end
        (``term_end``), for ``Agreement.listed_term``: what a list row shows of the term,
        without reading the terms themselves."""
        return self.annotate(latest_term_start=_latest_term_start())


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
    # The customer's reference in the system it was imported from (import_agreements).
    external_ref = models.CharField(max_length=100, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["legal_name"]
        indexes = [models.Index(fields=["legal_name"], name="customer_legal_name")]

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

    objects = CustomerScopedQuerySet.as_manager()

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


class StatusTransitionError(ValidationError):
    """An agreement status change the transition table does not allow."""


class FrozenContentError(ValidationError):
    """Raised on any attempt to change the content of an agreement version once it was sent."""

    def __init__(self):
        super().__init__(
            "This agreement version was sent for signature and can no longer change; "
            "start an amendment instead."
        )


class TermsTemplate(models.Model):
    """Versioned terms and conditions (part 1 of an agreement). Published versions are immutable.

    The body is plain text: a line starting with "## " is a section heading, blank lines
    separate paragraphs.
    """

    # The edge's bound on a body (the settings form): a long contract is some 20,000 characters.
    BODY_MAX_LENGTH = 100_000

    version = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=200, default="Customer Agreement")
    body = models.TextField()
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self):
        return f"{self.title} (terms v{self.version})"

    def save(self, *args, **kwargs):
        if (
            self.pk
            and TermsTemplate.objects.filter(pk=self.pk, published_at__isnull=False).exists()
        ):
            raise ValidationError("Published terms cannot change; create a new version.")
        super().save(*args, **kwargs)

    @classmethod
    def next_version(cls) -> int:
        """The number a new version takes: one more than the highest."""
        return (cls.objects.aggregate(highest=models.Max("version"))["highest"] or 0) + 1

    def is_in_use(self) -> bool:
        """Whether an agreement version (drafted, sent or signed) was written on these terms."""
        return AgreementVersion.objects.filter(terms_template=self).exists()

    def is_frozen(self) -> bool:
        """Published terms, or terms an agreement was written on, never change and stay: a
        signed document is immutable. New terms are a new version."""
        return self.published_at is not None or self.is_in_use()

    def frozen_reason(self) -> str:
        """Why these terms can no longer be edited or deleted, or "" for a draft nobody uses."""
        if not self.is_frozen():
            return ""
        state = "used by agreements" if self.is_in_use() else "published"
        return (
            f"Terms v{self.version} are {state}, so they can no longer be edited or deleted: "
            "a signed document never changes. To change the terms, add a new version and "
            "publish it; new agreements are drafted on it and signed ones keep theirs."
        )

    @classmethod
    def with_usage(cls):
        """All versions, each with ``agreement_count``: how many agreements were written on it
        (drafted, sent or signed), in one query."""
        used = (
            AgreementVersion.objects.filter(terms_template=models.OuterRef("pk"))
            .order_by()
            .values("terms_template")
            .annotate(count=models.Count("agreement", distinct=True))
            .values("count")
        )
        return cls.objects.annotate(agreement_count=Coalesce(models.Subquery(used), 0))

    @classmethod
    def latest(cls):
        """The highest version, draft or published (a new version starts as a copy of it)."""
        return cls.objects.order_by("-version").first()

    @classmethod
    def add_version(cls, *, title: str, body: str) -> "TermsTemplate":
        """A new draft with the next version number (two admins adding at once get two
        numbers: the unique version is retried)."""
        for attempt in range(3):
            try:
                with transaction.atomic():
                    return cls.objects.create(version=cls.next_version(), title=title, body=body)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def revise(self, *, title: str, body: str) -> None:
        """Change a draft's title and body; ValidationError (saying why) once it is frozen."""
        with transaction.atomic():
            locked = TermsTemplate.objects.select_for_update().get(pk=self.pk)
            if reason := locked.frozen_reason():
                raise ValidationError(reason)
            locked.title, locked.body = title, body
            locked.save(update_fields=["title", "body"])
        self.title, self.body = title, body

    def remove(self) -> None:
        """Delete a draft nobody uses; ValidationError (saying why) otherwise."""
        delete_unless_refused(self, lambda locked: locked.frozen_reason())

    def publish(self, *, now) -> bool:
        """Offer this version to new agreements from ``now`` on; False if it already was."""
        with transaction.atomic():
            locked = TermsTemplate.objects.select_for_update().get(pk=self.pk)
            if locked.published_at is not None:
                self.published_at = locked.published_at
                return False
            TermsTemplate.objects.filter(pk=self.pk).update(published_at=now)
        self.published_at = now
        return True

    def sections(self):
        """[(heading, [paragraph, ...]), ...] for rendering."""
        sections, heading, paragraphs, current = [], "", [], []
        for line in [*self.body.splitlines(), ""]:
            if line.startswith("## "):
                if current:
                    paragraphs.append(" ".join(current))
                    current = []
                if heading or paragraphs:
                    sections.append((heading, paragraphs))
                heading, paragraphs = line[3:].strip(), []
            elif line.strip():
                current.append(line.strip())
            elif current:
                paragraphs.append(" ".join(current))
                current = []
        if heading or paragraphs:
            sections.append((heading, paragraphs))
        return sections


class ResponseTier(models.Model):
    """An Emergency Support guarantee, e.g. "1 hour, 24×7" or "4 business hours".

    The guarantee (name, minutes, business hours) is part of what is sent and signed (Exhibit B,
    the content digest, the emergency clock): once an agreement sent for signature names the
    tier, it never changes. The tier can still be retired (``is_active``: no new agreement offers
    it) and a new one added.
    """

    GUARANTEE_FIELDS = ("name", "response_minutes", "business_hours_only")

    name = models.CharField(max_length=100, unique=True)
    response_minutes = models.PositiveIntegerField()
    business_hours_only = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["response_minutes"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self.pk and self.is_in_sent_agreement():
            stored = ResponseTier.objects.values(*self.GUARANTEE_FIELDS).get(pk=self.pk)
            if any(stored[name] != getattr(self, name) for name in self.GUARANTEE_FIELDS):
                raise ValidationError(
                    "This response tier is named in agreements sent for signature, which "
                    "cannot change; retire it and add a new tier."
                )
        super().save(*args, **kwargs)

    @staticmethod
    def sent_lines():
        """Service lines of versions sent for signature or signed: their content is frozen."""
        return ServiceLine.objects.exclude(version__status=AgreementVersion.Status.DRAFT)

    def is_in_sent_agreement(self) -> bool:
        return self.sent_lines().filter(response_tier=self).exists()

    def is_in_use(self) -> bool:
        """Whether any service line, a draft's included, names the tier (it cannot be deleted)."""
        return ServiceLine.objects.filter(response_tier=self).exists()

    @classmethod
    def with_usage(cls):
        """All tiers, each with ``in_sent`` (named by a sent or signed agreement: its guarantee
        is locked) and ``in_use`` (named by any service line: it cannot be deleted)."""
        return cls.objects.annotate(
            in_sent=models.Exists(cls.sent_lines().filter(response_tier=models.OuterRef("pk"))),
            in_use=models.Exists(ServiceLine.objects.filter(response_tier=models.OuterRef("pk"))),
        )

    def locked_fields(self) -> tuple[str, ...]:
        """The fields that can no longer change: the guarantee, once a sent agreement names it."""
        return self.GUARANTEE_FIELDS if self.is_in_sent_agreement() else ()

    def lock_reason(self) -> str:
        """Why the guarantee is read-only, or "" when it can still be corrected."""
        if not self.is_in_sent_agreement():
            return ""
        return (
            f"“{self.name}” is named in agreements sent for signature, which never change: "
            "its name, response time and business-hours rule are read-only. Deactivate it to "
            "stop offering it to new agreements, and add a new tier for a different guarantee."
        )

    def set_active(self, active: bool) -> None:
        """Offer the tier to new agreements (or stop): agreements naming it keep it."""
        ResponseTier.objects.filter(pk=self.pk).update(is_active=active)
        self.is_active = active

    def deletion_refusal(self) -> str:
        """Why the tier cannot be deleted, or "" when no service line names it."""
        if not self.is_in_use():
            return ""
        return (
            f"“{self.name}” is named by agreements (drafts included), so it cannot be deleted: "
            "deactivate it instead, and it is no longer offered to new ones."
        )

    def remove(self) -> None:
        """Delete a tier no service line names; ValidationError (saying why) otherwise."""
        delete_unless_refused(self, lambda locked: locked.deletion_refusal())


class Agreement(models.Model):
    """A Customer Agreement: one number, its versions (the original and amendments) and terms."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENT = "sent", "Sent for signature"
        CUSTOMER_SIGNED = "customer_signed", "Signed by customer"
        ACTIVE = "active", "Active"
        ENDING = "ending", "Ending"
        ENDED = "ended", "Ended"
        TERMINATED = "terminated", "Terminated early"

    # In force: billed, scheduled and renewed. The one definition of "live".
    LIVE = (Status.ACTIVE, Status.ENDING)
    # Which status may follow which. ``set_status`` refuses anything else; nothing else writes
    # the status (an agreement is created in its first status: draft, or active when imported).
    TRANSITIONS = {
        Status.DRAFT: {Status.SENT},
        Status.SENT: {Status.DRAFT, Status.CUSTOMER_SIGNED},  # recalled, or signed
        Status.CUSTOMER_SIGNED: {Status.ACTIVE},  # countersigned
        Status.ACTIVE: {Status.ENDING, Status.ENDED, Status.TERMINATED},
        Status.ENDING: {Status.ACTIVE, Status.ENDED, Status.TERMINATED},  # ACTIVE: withdrawn
        Status.ENDED: set(),
        Status.TERMINATED: set(),
    }

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="agreements")
    number = models.CharField(max_length=20, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    time_zone = models.CharField(
        max_length=64, default=settings.DEFAULT_CUSTOMER_TIME_ZONE, validators=[validate_time_zone]
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The agreement's reference in the system it was imported from: a re-import skips it.
    external_ref = models.CharField(max_length=100, null=True, blank=True, unique=True)
    # The last day the previous system billed (imports): this system never bills before it.
    billed_through = models.DateField(null=True, blank=True)
    # Why the monthly run could not price this agreement (empty: it bills normally).
    billing_problem = models.CharField(max_length=500, blank=True)
    billing_problem_since = models.DateTimeField(null=True, blank=True)
    # The latest term's end (exclusive; NULL before the first term), for the renewal queue.
    # Kept by database triggers on agreements_term (migration 0018) whatever writes the terms;
    # a write of it from here is put back to the terms' value.
    term_end = models.DateField(
        null=True, editable=False, help_text="The end of the latest term (kept by triggers)."
    )

    objects = AgreementQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The agreement list's order (newest first, then id).
            models.Index(fields=["-created_at", "-id"], name="agreement_newest"),
            # Live agreements (``LIVE``) by the end of their latest term: the renewal queue's
            # window and order, a page read without the others.
            models.Index(
                fields=["term_end", "number"],
                condition=models.Q(status__in=["active", "ending"]),
                name="agreement_live_term_end",
            ),
            # The few drafts and billing problems of the staff home, found without reading
            # every agreement, in the order their lists show.
            models.Index(
                fields=["created_at", "id"],
                condition=models.Q(status="draft"),
                name="agreement_drafts",
            ),
            models.Index(
                fields=["billing_problem_since", "number"],
                condition=~models.Q(billing_problem=""),
                name="agreement_billing_problems",
            ),
        ]

    def __str__(self):
        return f"{self.number} – {self.customer}"

    def save(self, *args, **kwargs):
        stored = getattr(self, "_stored_status", None)
        if not self._state.adding and stored is not None and self.status != stored:
            raise StatusTransitionError(
                f"The status of {self.number} changes only through set_status() "
                f"({stored} → {self.status})."
            )
        super().save(*args, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        agreement = super().from_db(db, field_names, values)
        agreement._stored_status = agreement.__dict__.get("status")
        return agreement

    def set_status(self, status):
        """Move the agreement to ``status`` if the transition table allows it from the status
        stored now (one conditional UPDATE, so two workers cannot both move it); the same
        status again is a no-op. Raises StatusTransitionError otherwise."""
        status = self.Status(status)
        allowed_from = [old for old, new in self.TRANSITIONS.items() if status in new]
        moved = Agreement.objects.filter(pk=self.pk, status__in=[*allowed_from, status]).update(
            status=status
        )
        if not moved:
            stored = Agreement.objects.values_list("status", flat=True).get(pk=self.pk)
            raise StatusTransitionError(
                f"{self.number} cannot go from “{self.Status(stored).label}” to “{status.label}”."
            )
        self.status = self._stored_status = status

    @property
    def tz(self):
        return zoneinfo.ZoneInfo(self.time_zone)

    def latest_version(self):
        """The newest version (uses prefetched versions when the page prefetched them)."""
        versions = prefetched(self, "versions")
        if versions is None:
            return self.versions.order_by("-number").first()
        return max(versions, key=lambda version: version.number, default=None)

    def signed_version(self):
        """The version in force: the latest one signed by both parties."""
        versions = prefetched(self, "versions")
        if versions is None:
            signed_ones = self.versions.filter(status=AgreementVersion.Status.SIGNED)
            return signed_ones.order_by("-number").first()
        signed = [v for v in versions if v.status == AgreementVersion.Status.SIGNED]
        return max(signed, key=lambda version: version.number, default=None)

    @property
    def listed_term(self) -> "ListedTerm | None":
        """The latest term's dates, from ``with_latest_term_dates`` (None before a first term)."""
        if self.term_end is None or self.latest_term_start is None:
            return None
        return ListedTerm(start=self.latest_term_start, end=self.term_end)

    @property
    def latest_term(self):
        """The newest term (uses prefetched terms when the list page prefetched them)."""
        terms = list(self.terms.all())
        return max(terms, key=lambda term: term.number) if terms else None

    @property
    def is_live(self):
        return self.status in self.LIVE

    def current_term(self, *, today):
        terms = prefetched(self, "terms")
        if terms is None:
            return self.terms.filter(start__lte=today, end__gt=today).first()
        return next((term for term in terms if term.start <= today < term.end), None)

    def log(self, kind, message, *, actor=None):
        """Add a line to the history; ``kind`` must be one of ``AgreementEvent.Kind``."""
        event = self.event(kind, message, actor=actor)
        event.save(force_insert=True)
        return event

    def event(self, kind, message, *, actor=None):
        """A line for the history, not saved yet (a set-based job inserts many at once)."""
        kind = AgreementEvent.Kind(kind)  # an unknown kind is a ValueError, not a hidden event
        return AgreementEvent(agreement=self, kind=kind, message=message, actor=actor)


class AgreementVersion(models.Model):
    """The content of an agreement as drafted, sent and signed. Version 1 is the original; each
    amendment is a new version, signed again. Content is frozen once the version is sent."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENT = "sent", "Sent for signature"
        CUSTOMER_SIGNED = "customer_signed", "Signed by customer"
        SIGNED = "signed", "Signed by both parties"
        SUPERSEDED = "superseded", "Superseded"

    CONTENT_FIELDS = (
        "terms_template_id",
        "billing_day",
        "payment_terms_days",
        "start_date",
        "rates_snapshot",
        "parties",
    )

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    terms_template = models.ForeignKey(TermsTemplate, on_delete=models.PROTECT, related_name="+")
    billing_day = models.PositiveSmallIntegerField(
        default=1, help_text="Day of the month invoices are issued (1–28)."
    )
    payment_terms_days = models.PositiveSmallIntegerField(
        "payment terms (days)", default=30, help_text="Net days: 30 means Net 30."
    )
    start_date = models.DateField(
        null=True, blank=True, help_text="Optional: a start later than the last signature."
    )
    # Exhibit A as sent: the rate card lines and discounts in effect when the version was sent.
    rates_snapshot = models.JSONField(null=True, blank=True)
    # The parties as sent: {"customer": {"legal_name", "address"}}, recorded when the version is
    # sent so that a later edit of the customer changes neither what is signed nor what a sent
    # or signed version shows (None while a draft: the document shows the customer as it is).
    parties = models.JSONField(null=True, blank=True)
    signer = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    content_sha256 = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    signed_pdf = models.FileField(upload_to="agreements/signed/", blank=True)
    signed_pdf_sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AgreementPartQuerySet.as_manager()

    class Meta:
        ordering = ["agreement_id", "-number"]
        indexes = [
            # The few versions awaiting Allora's countersignature (the admins' waiting item),
            # found without reading every version.
            models.Index(
                fields=["id"],
                condition=models.Q(status="customer_signed"),
                name="version_to_countersign",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "number"], name="unique_version_number"),
            models.CheckConstraint(
                name="billing_day_1_to_28",
                condition=models.Q(billing_day__gte=1, billing_day__lte=28),
            ),
        ]

    def __str__(self):
        return f"{self.agreement.number} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk:
            stored = (
                AgreementVersion.objects.filter(pk=self.pk)
                .values("status", *[f.removesuffix("_id") for f in self.CONTENT_FIELDS])
                .first()
            )
            if stored and stored["status"] != self.Status.DRAFT:
                for field in self.CONTENT_FIELDS:
                    if stored[field.removesuffix("_id")] != getattr(self, field):
                        raise FrozenContentError()
        super().save(*args, **kwargs)

    @property
    def is_draft(self):
        return self.status == self.Status.DRAFT

    @property
    def is_amendment(self):
        return self.number > 1


class ServiceLine(models.Model):
    """An Exhibit B line: what is sold, on which schedule, at which rate."""

    class LaborRate(models.TextChoices):
        ONSITE = "onsite_hourly", "On-site"
        REMOTE = "remote_hourly", "Remote"

    version = models.ForeignKey(AgreementVersion, on_delete=models.CASCADE, related_name="lines")
    # The line of the previous version this one continues (an amendment's copy): the same service.
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=ServiceKind.choices)
    position = models.PositiveSmallIntegerField(default=0)
    notes = models.CharField(max_length=300, blank=True)
    # Monthly Maintenance and Prescheduled Services
    labor_rate = models.CharField(
        max_length=20, choices=LaborRate.choices, default=LaborRate.ONSITE, blank=True
    )
    hours_per_visit = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    hours_per_month = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    checklist = models.JSONField(default=list, blank=True)
    rrule = models.CharField(max_length=200, blank=True)
    start_time = models.TimeField(null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    schedule_text = models.CharField(max_length=200, blank=True)
    # Emergency Support
    response_tier = models.ForeignKey(
        ResponseTier, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Hosting
    package_name = models.CharField(max_length=120, blank=True)
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                name="service_hours_positive",
                condition=(models.Q(hours_per_visit__isnull=True) | models.Q(hours_per_visit__gt=0))
                & (models.Q(hours_per_month__isnull=True) | models.Q(hours_per_month__gt=0)),
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.summary}"

    def save(self, *args, **kwargs):
        self._check_draft()
        super().save(*args, **kwargs)

    @property
    def is_scheduled(self):
        return self.kind in (ServiceKind.MAINTENANCE, ServiceKind.PRESCHEDULED)

    @property
    def summary(self):
        if self.kind == ServiceKind.MAINTENANCE:
            return f"{self.hours_per_visit:g} h per visit, {self.schedule_text}"
        if self.kind == ServiceKind.PRESCHEDULED:
            return f"{self.hours_per_month:g} h per month, {self.schedule_text}"
        if self.kind == ServiceKind.EMERGENCY:
            return f"response within {self.response_tier}"
        return f"{self.quantity} × {self.package_name}"

    def _check_draft(self):
        if not AgreementVersion.objects.filter(
            pk=self.version_id, status=AgreementVersion.Status.DRAFT
        ).exists():
            raise FrozenContentError()

    def delete(self, *args, **kwargs):
        self._check_draft()
        return super().delete(*args, **kwargs)


class Signature(models.Model):
    """One party's electronic signature of one version, with its evidence."""

    class Party(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        ALLORA = "allora", "Allora"

    class Method(models.TextChoices):
        DRAWN = "drawn", "Drawn"
        TYPED = "typed", "Typed (the name in a script font)"

    version = models.ForeignKey(
        AgreementVersion, on_delete=models.PROTECT, related_name="signatures"
    )
    party = models.CharField(max_length=10, choices=Party.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    typed_name = models.CharField(max_length=200)
    title = models.CharField(max_length=100, blank=True)
    method = models.CharField(max_length=5, choices=Method.choices, default=Method.DRAWN)
    drawing = models.TextField(
        blank=True, help_text="The drawn signature as a PNG data URL (empty when typed)."
    )
    consent = models.BooleanField()
    signed_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    content_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["signed_at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "party"], name="one_signature_per_party"),
            models.CheckConstraint(
                name="signature_needs_consent", condition=models.Q(consent=True)
            ),
            models.CheckConstraint(
                name="drawn_signature_has_drawing",
                condition=models.Q(method="typed") | ~models.Q(drawing=""),
            ),
        ]

    def __str__(self):
        return (
            f"{self.typed_name} for {self.get_party_display()} at {self.signed_at:%Y-%m-%d %H:%M}"
        )


class TermQuerySet(models.QuerySet):
    def latest_of_each(self):
        """Each agreement's latest term only (no term after it)."""
        later = Term.objects.filter(
            agreement=models.OuterRef("agreement"), number__gt=models.OuterRef("number")
        )
        return self.exclude(models.Exists(later))

    def dates_only(self):
        """What a list row shows of a term (its number and dates): no locked rates to decode
        and no sort (a prefetch groups the rows by agreement itself)."""
        return self.order_by().only("id", "agreement_id", "number", "start", "end")


class TermDates:
    """What follows from a term's end: its last covered day and the deadline of a notice not
    to renew (``rules``)."""

    end: dt.date

    @property
    def last_day(self):
        return rules.last_covered_day(self.end)

    @property
    def notice_deadline(self):
        return rules.notice_deadline(self.end)


@dataclass(frozen=True)
class ListedTerm(TermDates):
    """A term's dates as a list row shows them (``Agreement.listed_term``)."""

    start: dt.date
    end: dt.date


class Term(TermDates, models.Model):
    """A one-year term [start, end) with its locked rates (a snapshot of Exhibit A)."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="terms")
    number = models.PositiveIntegerField()
    start = models.DateField()
    end = models.DateField(help_text="Exclusive: the first day after the term.")
    locked_rates = models.JSONField()
    version = models.ForeignKey(AgreementVersion, on_delete=models.PROTECT, related_name="+")
    # The recurring charges of one month at the locked rates and the version's lines (billing's
    # pricing.monthly_recurring), stored because neither changes without clearing it (an
    # amendment gives the term a new version and sets it back to NULL). NULL: not computed yet;
    # billing.services.fill_monthly_amounts fills it (daily job; the staff home, lazily).
    monthly_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TermQuerySet.as_manager()

    class Meta:
        ordering = ["agreement_id", "number"]
        indexes = [
            # Terms ending in a window (renewals, the staff home), found without a full read.
            models.Index(fields=["end"], name="term_end"),
            # The few terms still to compute, found without reading the others.
            models.Index(
                fields=["id"],
                condition=models.Q(monthly_amount__isnull=True),
                name="term_amount_pending",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "number"], name="unique_term_number"),
            models.CheckConstraint(
                name="term_end_after_start", condition=models.Q(end__gt=models.F("start"))
            ),
        ]

    def __str__(self):
        return f"Term {self.number}: {self.start} – {self.last_day}"

    def save(self, *args, **kwargs):
        # Rates never change inside a term: a stored term's rates and dates are fixed.
        if self.pk:
            stored = Term.objects.filter(pk=self.pk).values("locked_rates", "start", "end").first()
            if stored and (
                stored["locked_rates"] != self.locked_rates
                or stored["start"] != self.start
                or stored["end"] != self.end
            ):
                raise ValidationError("A term's dates and locked rates never change.")
        super().save(*args, **kwargs)


class AgreementEvent(models.Model):
    """One line of an agreement's history: who did what, when."""

    class Kind(models.TextChoices):
        DRAFTED = "drafted", "Drafted"
        EDITED = "edited", "Draft edited"
        SENT = "sent", "Sent for signature"
        RECALLED = "recalled", "Recalled to draft"
        SIGNED = "signed", "Signed by the customer"
        COUNTERSIGNED = "countersigned", "Countersigned by Allora"
        PDF = "pdf", "Signed PDF stored"
        ACTIVATED = "activated", "Activated"
        AMENDMENT_DRAFTED = "amendment", "Amendment drafted"
        AMENDED = "amended", "Amendment in effect"
        VISITS_REPLANNED = "visits_replanned", "Visits re-planned"
        TERMINATION_REQUEST = "termination_request", "Termination request"
        REQUEST_WITHDRAWN = "request_withdrawn", "Termination request withdrawn"
        REQUEST_ACKNOWLEDGED = "request_acknowledged", "Termination request acknowledged"
        RATES_FINALIZED = "rates_finalized", "Rates finalized"
        REMINDER = "reminder", "Reminder sent"
        RENEWED = "renewed", "Renewed"
        ENDED = "ended", "Ended"
        TERMINATED = "terminated", "Terminated early"
        BILLING_PROBLEM = "billing_problem", "Billing problem"
        IMPORTED = "imported", "Imported"

    # What the customer sees of the history in the portal (drafting and billing stay internal).
    CUSTOMER_KINDS = frozenset(
        {
            Kind.SENT,
            Kind.SIGNED,
            Kind.COUNTERSIGNED,
            Kind.ACTIVATED,
            Kind.AMENDED,
            Kind.TERMINATION_REQUEST,
            Kind.REQUEST_WITHDRAWN,
            Kind.RATES_FINALIZED,
            Kind.REMINDER,
            Kind.RENEWED,
            Kind.ENDED,
            Kind.TERMINATED,
        }
    )

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}: {self.message}"


class TerminationRequest(models.Model):
    """A written request to end an agreement, with the exact time it was received.

    Timely (received on or before the notice deadline, local date): the agreement ends at the end
    of that term. Late: it renews once and ends at the end of the following term."""

    class Channel(models.TextChoices):
        PORTAL = "portal", "Customer portal"
        LETTER = "letter", "Letter"
        EMAIL = "email", "Email"

    class Status(models.TextChoices):
        STANDING = "standing", "Standing"
        WITHDRAWN = "withdrawn", "Withdrawn"
        FULFILLED = "fulfilled", "Fulfilled (agreement ended)"

    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="termination_requests"
    )
    received_at = models.DateTimeField()
    channel = models.CharField(max_length=10, choices=Channel.choices)
    reason = models.TextField()
    typed_name = models.CharField(max_length=200)
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # The term the request was received in (or the first term, if it had not started yet),
    # and the notice deadline that applied to it.
    term_number = models.PositiveIntegerField()
    notice_deadline = models.DateField()
    timely = models.BooleanField()
    effective_end = models.DateField(
        help_text="Exclusive end of the last term: the first day not covered."
    )
    renews_on = models.DateField(
        null=True, blank=True, help_text="Late requests: the renewal that still happens."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STANDING)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A customer's request waits in the staff's queue until someone at Allora acknowledges it;
    # a letter or email staff record is acknowledged by whoever records it.
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = AgreementPartQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement"],
                condition=models.Q(status="standing"),
                name="one_standing_termination_request",
            )
        ]

    def __str__(self):
        kind = "timely" if self.timely else "late"
        return f"{kind} request of {self.received_at:%Y-%m-%d}, ends {self.last_day}"

    @property
    def last_day(self):
        """The last day the agreement covers under this request."""
        return rules.last_covered_day(self.effective_end)

    @property
    def to_acknowledge(self):
        """A standing request nobody at Allora has acknowledged yet."""
        return self.status == self.Status.STANDING and self.acknowledged_at is None


class RateReview(models.Model):
    """An admin's decision on the rates of an agreement's next term (the renewal review)."""

    class Method(models.TextChoices):
        KEEP = "keep", "Keep the current rates"
        CARD = "card", "Apply the current published rate card"
        UPLIFT = "uplift", "Apply an uplift in percent"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        FINALIZED = "finalized", "Finalized"

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="rate_reviews")
    term_number = models.PositiveIntegerField(help_text="The term these rates are for.")
    method = models.CharField(max_length=10, choices=Method.choices)
    uplift_percent = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    rates = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    # A rate increase finalized after the notice deadline: until this local date the customer may
    # still end the agreement at the term end without the increase.
    opt_out_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["agreement_id", "-term_number"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "term_number"], name="one_review_per_term")
        ]

    def __str__(self):
        return f"Rates for term {self.term_number} of {self.agreement.number} ({self.status})"

    def opt_out_open(self, on) -> bool:
        """Whether a late increase's window to end at the term end without it is open on the
        local date ``on`` (the renewal waits for it to close)."""
        return self.opt_out_until is not None and on <= self.opt_out_until


class Reminder(models.Model):
    """A lifecycle email that was sent: the unique key makes each one go out once."""

    class Kind(models.TextChoices):
        RENEWAL_90 = "renewal_90", "Renewal in 90 days"
        RENEWAL_60 = "renewal_60", "Renewal in 60 days"
        NOTICE_7 = "notice_7", "Notice deadline in 7 days"
        REQUEST_RECEIVED = "request_received", "Termination request received"
        RATES_FINALIZED = "rates_finalized", "Rates for the next term finalized"
        RENEWED = "renewed", "Renewed"
        ENDED = "ended", "Ended"

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Which occurrence: the term number for term reminders, the request id for requests.
    key = models.PositiveIntegerField()
    sent_on = models.DateField()
    recipients = models.TextField(blank=True)

    class Meta:
        ordering = ["-sent_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "kind", "key"], name="reminder_sent_once")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.agreement.number}, {self.sent_on})"


class ImportJob(models.Model):
    """An uploaded import file on its way through the worker (``agreements.importing.jobs``):
    first checked and previewed (``dry_run``), then, once an admin confirms, imported for real.
    The file waits in storage until then; unconfirmed previews are removed after a day."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="import_jobs"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=500, help_text="Where the file waits in storage.")
    size = models.PositiveBigIntegerField()
    # True: a preview (check, write, roll back); False: the import itself (after confirming).
    dry_run = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    report = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The last sign of life (queued, claimed, progress, finished): a job silent for hours lost
    # its worker, and the daily clean-up fails it rather than leave its page polling forever.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Import of {self.file_name} ({self.get_status_display()})"

    @property
    def finished(self):
        return self.status in (self.Status.DONE, self.Status.FAILED)

"""Service delivery: emergency requests (with their guaranteed response clock and the alerts
sent to the on-call staff) and projects (work outside the agreement, with their estimates, change
orders and the designated approvers' decisions).

The models moved here from ``agreements`` and ``scheduling`` without touching the data: each
keeps its table (``db_table``) and its content type moved with it (``delivery/migrations``).
The rules are in ``delivery/emergencies.py``, ``delivery/response_clock.py`` and
``delivery/projects.py``, not in the views.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from agreements.models import Agreement, Contact, Customer, CustomerScopedQuerySet, ServiceLine

# Emergency Support ------------------------------------------------------------------------


class EmergencyRequest(models.Model):
    """A customer's call for Emergency Support, with its guaranteed response clock.

    The guarantee is copied from the agreement's Emergency Support line when the request is
    received (tier name, minutes, business hours or 24×7), so later amendments never move a
    deadline. A customer without an active Emergency Support line is still served: the request
    has no guarantee (no deadline) and is billed at the standard emergency rate."""

    class Channel(models.TextChoices):
        PORTAL = "portal", "Customer portal"
        PHONE = "phone", "Phone (entered by staff)"

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for a technician"
        ACKNOWLEDGED = "acknowledged", "A technician is on it"
        CLOSED = "closed", "Resolved"

    class Outcome(models.TextChoices):
        PENDING = "", "Clock running"
        MET = "met", "Response time met"
        BREACHED = "breached", "Response time breached"
        NO_GUARANTEE = "no_guarantee", "No guarantee"

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="emergency_requests"
    )
    agreement = models.ForeignKey(
        Agreement,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="emergency_requests",
    )
    line = models.ForeignKey(
        ServiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    summary = models.TextField("what is wrong")
    contact_name = models.CharField("who to call", max_length=200)
    contact_phone = models.CharField("phone", max_length=30)
    site = models.CharField("site", max_length=300)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    received_at = models.DateTimeField()
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # The guarantee as it stood when the request was received (empty: no guarantee).
    tier_name = models.CharField(max_length=100, blank=True)
    response_minutes = models.PositiveIntegerField(null=True, blank=True)
    business_hours_only = models.BooleanField(default=False)
    alert_50_at = models.DateTimeField(null=True, blank=True)
    alert_80_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    outcome = models.CharField(
        max_length=12, choices=Outcome.choices, default=Outcome.PENDING, blank=True
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.TextField(blank=True)

    objects = CustomerScopedQuerySet.as_manager()

    class Meta:
        db_table = "scheduling_emergencyrequest"
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="emergency_guarantee_has_deadline",
                condition=Q(response_minutes__isnull=True) | Q(due_at__isnull=False),
            ),
            models.CheckConstraint(
                name="emergency_ack_after_receipt",
                condition=Q(acknowledged_at__isnull=True)
                | Q(acknowledged_at__gte=F("received_at")),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="emergency_status_due"),
            models.Index(fields=["customer", "received_at"], name="emergency_customer_received"),
        ]

    def __str__(self):
        return f"Emergency #{self.pk} – {self.customer}"

    @property
    def is_guaranteed(self):
        return self.response_minutes is not None

    @property
    def is_open(self):
        return self.status == self.Status.OPEN

    @property
    def tz(self):
        return self.customer.tz

    @property
    def local_received(self):
        return self.received_at.astimezone(self.tz)

    @property
    def local_due(self):
        return self.due_at and self.due_at.astimezone(self.tz)

    @property
    def local_acknowledged(self):
        return self.acknowledged_at and self.acknowledged_at.astimezone(self.tz)

    @property
    def guarantee_label(self):
        return self.tier_name or "No guarantee (no active Emergency Support line)"


class EmergencyAlert(models.Model):
    """An alert sent to the on-call staff: the unique key sends each threshold once."""

    class Threshold(models.IntegerChoices):
        HALF = 50, "50% of the window used"
        MOST = 80, "80% of the window used"
        BREACH = 100, "Deadline passed"

    request = models.ForeignKey(EmergencyRequest, on_delete=models.CASCADE, related_name="alerts")
    threshold = models.PositiveSmallIntegerField(choices=Threshold.choices)
    sent_at = models.DateTimeField()
    recipients = models.TextField(blank=True)

    class Meta:
        db_table = "scheduling_emergencyalert"
        ordering = ["request_id", "threshold"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "threshold"], name="emergency_alert_sent_once"
            )
        ]

    def __str__(self):
        return f"{self.get_threshold_display()} (request {self.request_id})"


# Projects: work outside the agreement, approved by the customer's designated approvers ------


class Project(models.Model):
    """Work outside the agreement (a migration, a new office), estimated in hours × rate.

    A designated approver of the customer approves the estimate in the portal before any work
    starts or any time is logged; hours beyond the approved ones need a change order, approved
    the same way. The rules are here and in ``delivery/projects.py``, not in the views."""

    class Status(models.TextChoices):
        AWAITING = "awaiting", "Awaiting the customer's approval"
        APPROVED = "approved", "Approved, not started"
        IN_PROGRESS = "in_progress", "In progress"
        DECLINED = "declined", "Declined by the customer"
        COMPLETED = "completed", "Completed"

    APPROVED_STATUSES = (Status.APPROVED, Status.IN_PROGRESS)

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="projects")
    agreement = models.ForeignKey(
        Agreement,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="projects",
        help_text="The agreement whose Exhibit A rates the estimate uses.",
    )
    title = models.CharField(max_length=200)
    scope = models.TextField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.AWAITING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    # Why some of its time is not invoiced (hours beyond the approved ones), shown on its page.
    billing_hold = models.CharField(max_length=300, blank=True)

    objects = CustomerScopedQuerySet.as_manager()

    class Meta:
        db_table = "agreements_project"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.title} ({self.customer})"

    @property
    def is_approved(self):
        return self.status in self.APPROVED_STATUSES

    def approved_estimates(self) -> list:
        """The approved estimate and change orders, in their order."""
        return sorted(
            (e for e in self.estimates.all() if e.status == ProjectEstimate.Status.APPROVED),
            key=lambda estimate: estimate.number,
        )

    def approved_hours(self):
        """Hours of every approved estimate and change order."""
        return sum((e.hours for e in self.approved_estimates()), start=0)

    def billing_terms(self):
        """The approved estimate whose terms the project is billed by (None before approval)."""
        return next(
            (e for e in self.approved_estimates() if e.kind == ProjectEstimate.Kind.ESTIMATE),
            None,
        )

    def check_can_log(self, hours, *, logged):
        """Refuse time that the customer has not approved (plain message for the technician)."""
        if hours is None or hours <= 0:
            raise ValidationError("Hours must be more than zero, e.g. 1.5.")
        if not self.is_approved:
            raise ValidationError(
                "No time can be logged on “%(title)s”: it is %(status)s. A designated approver "
                "of %(customer)s must approve its estimate in the portal first.",
                params={
                    "title": self.title,
                    "status": self.get_status_display().lower(),
                    "customer": self.customer,
                },
            )
        approved = self.approved_hours()
        if logged + hours > approved:
            raise ValidationError(
                "That would bring the project to %(total)s h, beyond the %(approved)s h the "
                "customer approved (%(logged)s h logged). Send a change order for the extra "
                "hours and log them once it is approved.",
                params={"total": logged + hours, "approved": approved, "logged": logged},
            )

    def start(self, *, by, now):
        """Start the work: only an approved project can start."""
        with transaction.atomic():
            project = Project.objects.select_for_update().get(pk=self.pk)
            if project.status == Project.Status.IN_PROGRESS:
                return project
            if project.status != Project.Status.APPROVED:
                raise ValidationError(
                    "“%(title)s” cannot start: it is %(status)s.",
                    params={"title": project.title, "status": project.get_status_display().lower()},
                )
            project.status = Project.Status.IN_PROGRESS
            project.started_at, project.started_by = now, by
            project.save(update_fields=["status", "started_at", "started_by"])
        self.refresh_from_db()
        return project


class ProjectEstimate(models.Model):
    """The estimate of a project (number 1, revised as new numbers) or a change order for
    hours beyond the approved ones. Exactly one can be pending at a time."""

    class Kind(models.TextChoices):
        ESTIMATE = "estimate", "Estimate"
        CHANGE_ORDER = "change_order", "Change order"

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting approval"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"
        SUPERSEDED = "superseded", "Superseded by a newer one"

    class Billing(models.TextChoices):
        FIXED = "fixed", "Fixed price"
        TIME = "time", "Time and materials"

    class Schedule(models.TextChoices):
        ON_APPROVAL = "on_approval", "on approval"
        ON_COMPLETION = "on_completion", "on completion"
        MILESTONES = "milestones", "by milestones"
        MONTHLY = "monthly", "monthly"

    # Which schedules each billing method takes.
    SCHEDULES = {
        Billing.FIXED: (Schedule.ON_APPROVAL, Schedule.ON_COMPLETION, Schedule.MILESTONES),
        Billing.TIME: (Schedule.MONTHLY, Schedule.ON_COMPLETION),
    }

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="estimates")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.ESTIMATE)
    description = models.TextField(blank=True)
    hours = models.DecimalField(max_digits=7, decimal_places=2)
    rate = models.DecimalField(max_digits=12, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # How the project is invoiced (a change order follows its project's estimate): a fixed
    # price (``total``) on approval, on completion or by milestones, or the hours logged at
    # ``rate``, monthly or on completion.
    billing = models.CharField(max_length=10, choices=Billing.choices, default=Billing.TIME)
    schedule = models.CharField(max_length=14, choices=Schedule.choices, default=Schedule.MONTHLY)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "agreements_projectestimate"
        ordering = ["project_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="unique_estimate_number"),
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status="pending"),
                name="one_pending_estimate_per_project",
            ),
            models.CheckConstraint(
                name="estimate_hours_positive", condition=models.Q(hours__gt=0, rate__gte=0)
            ),
            models.CheckConstraint(
                name="estimate_schedule_fits_billing",
                condition=Q(
                    billing="fixed", schedule__in=["on_approval", "on_completion", "milestones"]
                )
                | Q(billing="time", schedule__in=["monthly", "on_completion"]),
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.number}: {self.hours} h × ${self.rate}"

    @property
    def is_fixed_price(self):
        return self.billing == self.Billing.FIXED

    @property
    def terms_label(self) -> str:
        """The billing terms in words, e.g. "Fixed price $4,800.00, invoiced by milestones"."""
        if self.is_fixed_price:
            return f"Fixed price ${self.total:,.2f}, invoiced {self.get_schedule_display()}"
        return (
            f"Time and materials at ${self.rate:,.2f}/h, up to {self.hours} h, invoiced "
            f"{self.get_schedule_display()}"
        )


class ProjectMilestone(models.Model):
    """A part of a fixed price, invoiced once when staff mark it completed. A fixed price
    invoiced on approval or on completion is one milestone completed then; a change order of a
    fixed-price project is one more. ``invoice`` is the project invoice that billed it."""

    estimate = models.ForeignKey(
        ProjectEstimate, on_delete=models.CASCADE, related_name="milestones"
    )
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    invoice = models.ForeignKey(
        "billing.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="milestones",
    )

    class Meta:
        ordering = ["estimate_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["estimate", "position"], name="unique_milestone_position"
            ),
            models.CheckConstraint(name="milestone_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="milestone_invoiced_once_completed",
                condition=Q(invoice__isnull=True) | Q(completed_at__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.title}: ${self.amount}"


class ProjectApproval(models.Model):
    """A designated approver's decision on one estimate, with its evidence: who, when, from
    which IP, and the hours, rate and total they approved (or declined)."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    estimate = models.OneToOneField(
        ProjectEstimate, on_delete=models.PROTECT, related_name="approval"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices)
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    typed_name = models.CharField(max_length=200)
    decided_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    hours = models.DecimalField(max_digits=7, decimal_places=2)
    rate = models.DecimalField(max_digits=12, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    # The billing terms approved, in words (with the milestones), as the approver saw them.
    billing_terms = models.TextField(blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        db_table = "agreements_projectapproval"
        ordering = ["decided_at"]

    def __str__(self):
        when = f"{self.decided_at:%Y-%m-%d %H:%M}"
        return f"{self.get_decision_display()} by {self.typed_name} at {when}"

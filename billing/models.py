"""Rate cards (the source of Exhibit A), the agreement discount policy, and invoicing: invoices,
their lines, payments, time entries and the invoice number sequence."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from agreements.models import (
    Agreement,
    Customer,
    CustomerScopedQuerySet,
    ServiceKind,
    ServiceLine,
    Term,
)
from allora.statements import Read
from integrations import events as webhook_events

from .rules import money

ZERO = Decimal("0.00")
# Amounts are whole cents; checks that add or subtract them allow half a cent, as SQLite computes
# in floating point (PostgreSQL is exact).
CENT_SLACK = models.Value(Decimal("0.005"))


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

    def in_effect(self, *, on):
        """The published cards whose effective date has come by a date, the latest first."""
        return (
            self.published().filter(effective_date__lte=on).order_by("-effective_date", "-version")
        )


class RateCardManager(models.Manager.from_queryset(RateCardQuerySet)):  # type: ignore[misc]
    def current(self, *, on):
        """The card in effect on a date: the latest published one whose effective date has come
        (a `Read`, compiled once: the staff home and the rates pages ask on every visit)."""
        found = _CURRENT_CARD.run(on=on)
        return found[0] if found else None


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

    objects = RateCardManager()

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


_CURRENT_CARD = Read(lambda on: RateCard.objects.in_effect(on=on)[:1], on=dt.date)


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


# Invoicing ---------------------------------------------------------------------------------


class InvoiceSequence(models.Model):
    """The last invoice number taken. Its row is locked while a number is taken, so numbers are
    sequential without gaps and never reused: an invoice rolled back gives its number back."""

    name = models.CharField(max_length=20, unique=True, default="invoice")
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.name}: {self.last_number}"

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"

    @classmethod
    def take(cls, count: int = 1, *, name: str = INVOICE) -> int:
        """The next number, or the first of ``count`` consecutive ones (a block: one statement
        for a whole chunk of invoices). Call it inside the transaction that stores the invoices:
        the UPDATE locks the counter row until that transaction ends, so two workers never get
        the same number and rolled-back invoices give their numbers back."""
        if count < 1:
            raise ValueError("Take at least one invoice number.")
        table = connection.ops.quote_name(cls._meta.db_table)
        sql = f"UPDATE {table} SET last_number = last_number + %s WHERE name = %s RETURNING last_number"  # noqa: E501, S608 -- no user input
        for _ in range(2):
            with connection.cursor() as cursor:
                cursor.execute(sql, [count, name])
                row = cursor.fetchone()
            if row is not None:
                return row[0] - count + 1
            try:  # the very first invoice: create the counter, then take from it
                with transaction.atomic():
                    cls.objects.create(name=name)
            except IntegrityError:
                pass  # another worker created it first
        raise RuntimeError("The invoice number sequence could not be read.")


def invoice_number(sequence_number: int) -> str:
    return f"INV-{sequence_number:06d}"


def credit_note_number(sequence_number: int) -> str:
    return f"CN-{sequence_number:06d}"


class InvoiceQuerySet(CustomerScopedQuerySet):
    def for_user(self, user):
        """The project's scoping rule; customers never see void invoices."""
        scoped = super().for_user(user)
        return scoped.not_void() if user.is_customer_user else scoped

    def not_void(self):
        return self.exclude(status=Invoice.Status.VOID)


class Invoice(models.Model):
    """One invoice of a customer, in one numbering:

    - monthly (an agreement's recurring charges of the month in advance, usage in arrears) or
      final (the rest of the term's commitment when it is terminated early): the agreement's
      billing, which `billing.accounts` follows (`AGREEMENT_KINDS`);
    - project (an approved project, by its estimate's terms: `project` is set; `agreement` is
      the project's when it has one);
    - one-off (hardware, a site visit outside any agreement: lines typed by staff; `agreement`
      optional).

    `covers_from`/`covers_until` is the stretch of recurring charges it billed ([from, until));
    `usage_until` the first day whose usage it did not bill. The next invoice starts there. A
    project or one-off invoice bills no stretch: all three are its issue date.

    The balance is `total - amount_paid - amount_credited`: `amount_paid` is what payments (and
    customer credit applied, a payment of method "credit") settled, `amount_credited` what credit
    notes took off it."""

    class Kind(models.TextChoices):
        MONTHLY = "monthly", "Monthly"
        FINAL = "final", "Final (early termination)"
        PROJECT = "project", "Project"
        ONE_OFF = "one_off", "One-off"

    class Status(models.TextChoices):
        ISSUED = "issued", "Issued"
        PAID = "paid", "Paid"
        OVERDUE = "overdue", "Overdue"
        VOID = "void", "Void"

    # The kinds an agreement's billing (`billing.accounts`) follows.
    AGREEMENT_KINDS = (Kind.MONTHLY, Kind.FINAL)

    number = models.CharField(max_length=20, unique=True)
    agreement = models.ForeignKey(
        Agreement, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    project = models.ForeignKey(
        "delivery.Project",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MONTHLY)
    period = models.DateField(help_text="The first day of the month invoiced.")
    issued_on = models.DateField()
    due_on = models.DateField()
    payment_terms_days = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ISSUED)
    bill_to = models.TextField(help_text="The customer's name and address when issued.")
    subtotal = models.DecimalField("list amount", max_digits=12, decimal_places=2)
    discount_total = models.DecimalField(max_digits=12, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    amount_paid = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    amount_credited = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    paid_on = models.DateField(null=True, blank=True)
    covers_from = models.DateField()
    covers_until = models.DateField()
    usage_until = models.DateField()
    emailed_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    void_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_on", "-number"]
        constraints = [
            # A re-run or a second worker can never issue a month twice.
            models.UniqueConstraint(
                fields=["agreement", "period"],
                condition=Q(kind="monthly") & ~Q(status="void"),
                name="one_monthly_invoice_per_agreement_and_month",
            ),
            models.UniqueConstraint(
                fields=["agreement"],
                condition=Q(kind="final") & ~Q(status="void"),
                name="one_final_invoice_per_agreement",
            ),
            # A negative total is a credit (an amendment that removed a service already billed).
            models.CheckConstraint(
                name="invoice_paid_within_total",
                condition=Q(amount_paid=0, amount_credited=0)
                | Q(
                    amount_paid__gte=0,
                    amount_credited__gte=0,
                    # Half a cent of slack: SQLite does this arithmetic in floating point.
                    amount_paid__lte=models.F("total") - models.F("amount_credited") + CENT_SLACK,
                ),
            ),
            # An agreement's own invoices have its agreement; a project invoice its project.
            models.CheckConstraint(
                name="invoice_kind_has_its_owner",
                condition=(
                    Q(kind__in=["monthly", "final"], agreement__isnull=False, project__isnull=True)
                    | Q(kind="project", project__isnull=False)
                    | Q(kind="one_off", project__isnull=True)
                ),
            ),
            models.CheckConstraint(
                name="invoice_due_after_issue", condition=Q(due_on__gte=models.F("issued_on"))
            ),
            models.CheckConstraint(
                name="invoice_coverage_ordered",
                condition=Q(covers_until__gte=models.F("covers_from")),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_on"], name="invoice_status_due"),
            # The lists' order (newest first, then number): a page is read from the index, even
            # when a month's run issued thousands on one day.
            models.Index(fields=["issued_on", "number"], name="invoice_issued_on_number"),
            models.Index(fields=["customer", "issued_on"], name="invoice_customer_issued"),
        ]

    def __str__(self):
        return f"{self.number} ({self.customer})"

    @property
    def balance(self) -> Decimal:
        return self.total - self.amount_paid - self.amount_credited

    @property
    def is_agreement_billing(self):
        """A monthly or final invoice: part of its agreement's billing (`billing.accounts`)."""
        return self.kind in self.AGREEMENT_KINDS

    @property
    def is_open(self):
        return self.status in (self.Status.ISSUED, self.Status.OVERDUE)

    @property
    def regarding(self) -> str:
        """What the invoice is for, as the invoice lists name it: the project's title, else the
        agreement's number, else its kind (a one-off invoice of no agreement)."""
        if self.kind == self.Kind.PROJECT and self.project_id:
            return f"Project “{self.project.title}”"
        if self.agreement_id:
            return self.agreement.number
        return self.get_kind_display()

    @property
    def period_label(self):
        if self.kind == self.Kind.FINAL:
            return f"Final invoice, {self.issued_on:%B %-d, %Y}"
        if self.kind == self.Kind.PROJECT:
            return f"Project invoice, {self.issued_on:%B %-d, %Y}"
        if self.kind == self.Kind.ONE_OFF:
            return f"Invoice of {self.issued_on:%B %-d, %Y}"
        return f"{self.period:%B %Y}"

    def _locked(self):
        return Invoice.objects.select_for_update().get(pk=self.pk)

    def settle(self, *, paid=ZERO, credited=ZERO, on):
        """Add to this locked invoice's paid or credited amount (a payment, customer credit
        applied, a credit note); paid in full, on ``on``, when nothing remains."""
        self.amount_paid += paid
        self.amount_credited += credited
        fields = ["amount_paid", "amount_credited"]
        if self.balance == 0 and self.is_open:
            self.status, self.paid_on = self.Status.PAID, on
            fields += ["status", "paid_on"]
        self.save(update_fields=fields)

    def record_payment(self, *, amount, received_on, method, reference="", by, today):
        """Record a payment (full or partial). The part of a payment beyond the balance (an
        overpayment) is held as the customer's credit: `Payment.to_credit` and a
        `CustomerCredit` entry, applied to the customer's next invoices (`billing.credits`)."""
        amount = Decimal(amount)
        with transaction.atomic():
            invoice = self._locked()
            if invoice.status == self.Status.VOID:
                raise ValidationError("This invoice is void: no payment can be recorded on it.")
            if invoice.status == self.Status.PAID or invoice.balance <= 0:
                raise ValidationError("This invoice is already paid in full.")
            if method == Payment.Method.CREDIT:
                raise ValidationError(
                    "Customer credit is applied with “Apply credit”, not recorded as a payment."
                )
            if amount <= 0:
                raise ValidationError("A payment must be more than $0.00.")
            if amount != money(amount):
                raise ValidationError("A payment is in dollars and cents, e.g. 1170.00.")
            if amount >= 10**9:
                raise ValidationError("A payment is less than $1,000,000,000.00.")
            if received_on > today:
                raise ValidationError("The payment date cannot be in the future.")
            if received_on < invoice.issued_on:
                raise ValidationError(
                    "The payment date is before the invoice date (%(date)s).",
                    params={"date": f"{invoice.issued_on:%B %-d, %Y}"},
                )
            to_credit = max(amount - invoice.balance, ZERO)
            payment = Payment.objects.create(
                invoice=invoice,
                amount=amount,
                to_credit=to_credit,
                received_on=received_on,
                method=method,
                reference=reference.strip()[:100],
                recorded_by=by,
            )
            if to_credit:
                CustomerCredit.objects.create(
                    customer_id=invoice.customer_id,
                    amount=to_credit,
                    on=received_on,
                    payment=payment,
                    note=f"Overpayment of {invoice.number}",
                    created_by=by,
                )
            invoice.settle(paid=payment.applied, on=received_on)
            held = f", ${to_credit:,.2f} held as credit" if to_credit else ""
            InvoiceEvent.objects.create(
                invoice=invoice,
                kind=InvoiceEvent.Kind.PAYMENT,
                detail=f"${amount:,.2f} by {payment.get_method_display()}{held}",
                by=by,
            )
            webhook_events.invoice_paid(invoice, now=timezone.now())
        self.refresh_from_db()
        return payment

    def void(self, *, by, reason, now):
        """Cancel this invoice; it keeps its number. Its time entries become billable again and
        the next run of the job issues its month anew."""
        reason = reason.strip()
        with transaction.atomic():
            invoice = self._locked()
            if invoice.status == self.Status.VOID:
                raise ValidationError("This invoice is already void.")
            if invoice.amount_paid > 0:
                raise ValidationError("An invoice with payments cannot be voided.")
            if invoice.amount_credited > 0:
                raise ValidationError(
                    "An invoice with a credit note cannot be voided: credit what remains instead."
                )
            later = invoice.is_agreement_billing and (
                Invoice.objects.not_void()
                .filter(
                    agreement_id=invoice.agreement_id,
                    kind__in=self.AGREEMENT_KINDS,
                    pk__gt=invoice.pk,
                )
                .order_by("pk")
                .first()
            )
            if later:
                raise ValidationError(
                    "Only the latest invoice of an agreement can be voided: %(number)s came "
                    "after this one.",
                    params={"number": later.number},
                )
            if not reason:
                raise ValidationError("Give the reason for voiding the invoice.")
            invoice.status = self.Status.VOID
            invoice.voided_at, invoice.voided_by, invoice.void_reason = now, by, reason[:300]
            invoice.save(update_fields=["status", "voided_at", "voided_by", "void_reason"])
            TimeEntry.objects.filter(invoice=invoice).update(invoice=None)
            invoice.milestones.update(invoice=None)  # a project's: invoiced again next run
            InvoiceEvent.objects.create(
                invoice=invoice, kind=InvoiceEvent.Kind.VOIDED, detail=reason[:300], by=by
            )
        self.refresh_from_db()
        return self


class InvoiceLine(models.Model):
    """One priced line: quantity, list rate, the discount and the net amount, each rounded to
    cents half-up. Recurring lines record the stretch [service_start, service_end) they bill."""

    class Kind(models.TextChoices):
        MAINTENANCE = "maintenance", "Monthly Maintenance"
        PRESCHEDULED = "prescheduled", "Prescheduled Services"
        HOSTING = "hosting", "Hosting"
        EMERGENCY = "emergency", "Emergency Support"
        OVERAGE = "overage", "Prescheduled hours beyond the block"
        AFTER_HOURS = "after_hours", "After-hours work"
        PROJECT = "project", "Project work"
        ITEM = "item", "Item"

    RECURRING = (Kind.MAINTENANCE, Kind.PRESCHEDULED, Kind.HOSTING)

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.CharField(max_length=300)
    # A prorated line carries the prorated quantity (4 places), so list = quantity × list rate.
    quantity = models.DecimalField(max_digits=12, decimal_places=4)
    unit = models.CharField(max_length=20)
    list_rate = models.DecimalField(max_digits=12, decimal_places=2)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=ZERO)
    net_rate = models.DecimalField(max_digits=12, decimal_places=2)
    list_amount = models.DecimalField(max_digits=12, decimal_places=2)
    discount_amount = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    amount = models.DecimalField("net amount", max_digits=12, decimal_places=2)
    term = models.ForeignKey(
        Term, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    service_line = models.ForeignKey(
        ServiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    service_start = models.DateField()
    service_end = models.DateField()

    class Meta:
        ordering = ["invoice_id", "position", "id"]
        indexes = [models.Index(fields=["term", "kind"], name="invoice_line_term_kind")]

    def __str__(self):
        return f"{self.description}: ${self.amount}"

    @property
    def is_discounted(self):
        return self.discount_percent > 0


class Payment(models.Model):
    """Money received against an invoice, or customer credit applied to it (method "credit").
    `to_credit` is the part of the amount beyond the invoice's balance, held as customer credit
    (an overpayment): the invoice's `amount_paid` counts `amount - to_credit`."""

    class Method(models.TextChoices):
        CHECK = "check", "Check"
        ACH = "ach", "ACH / bank transfer"
        CARD = "card", "Card"
        OTHER = "other", "Other"
        CREDIT = "credit", "Customer credit"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    to_credit = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    received_on = models.DateField()
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.ACH)
    reference = models.CharField(max_length=100, blank=True)
    # None: customer credit applied automatically when the invoice was issued.
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["received_on", "id"]
        constraints = [
            models.CheckConstraint(name="payment_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="payment_credit_within_amount",
                condition=Q(to_credit__gte=0, to_credit__lte=models.F("amount")),
            ),
        ]

    def __str__(self):
        return f"${self.amount} on {self.received_on} for {self.invoice.number}"

    @property
    def applied(self) -> Decimal:
        """The part of the payment that settled the invoice."""
        return self.amount - self.to_credit


class TimeEntry(models.Model):
    """Hours a technician worked, for exactly one thing:

    - a line of an agreement: a visit, the Prescheduled Services block or Emergency Support
      (`agreement` and `line` set, `visit` when it was a visit);
    - an emergency request (`emergency_request`): `agreement` and `line` are the request's (its
      Emergency Support line, None when the customer has none; no agreement when the customer
      has no live agreement: then the hours are recorded but never invoiced);
    - a project (`project`): work outside the agreement, on no Exhibit B line and no agreement,
      so it is never billed on the agreement's monthly invoice.

    Billing reads the prescheduled and emergency ones (the hours of an emergency request are
    emergency hours); `invoice` is the invoice that billed them (maintenance visits are billed by
    the visit, not by the hour)."""

    agreement = models.ForeignKey(
        Agreement, null=True, blank=True, on_delete=models.PROTECT, related_name="time_entries"
    )
    line = models.ForeignKey(
        ServiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    visit = models.ForeignKey(
        "scheduling.Visit",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="time_entries",
    )
    emergency_request = models.ForeignKey(
        "delivery.EmergencyRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="time_entries",
    )
    project = models.ForeignKey(
        "delivery.Project",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="time_entries",
    )
    work_date = models.DateField("date")
    start_time = models.TimeField(
        null=True, blank=True, help_text="When the work started (local time), if known."
    )
    after_hours = models.BooleanField(
        default=False, help_text="Worked outside the customer's business hours."
    )
    hours = models.DecimalField(max_digits=5, decimal_places=2)
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="time_entries"
    )
    note = models.CharField(max_length=300, blank=True)
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="time_entries"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-work_date", "-id"]
        verbose_name_plural = "time entries"
        constraints = [
            models.CheckConstraint(
                name="time_entry_hours_in_a_day", condition=Q(hours__gt=0, hours__lte=24)
            ),
            models.CheckConstraint(
                name="time_entry_for_exactly_one_thing",
                condition=(
                    # a line of an agreement (a visit, the block, Emergency Support)
                    Q(
                        project__isnull=True,
                        emergency_request__isnull=True,
                        agreement__isnull=False,
                        line__isnull=False,
                    )
                    # an emergency request (its agreement and line when it has them)
                    | (
                        Q(project__isnull=True, emergency_request__isnull=False, visit__isnull=True)
                        & (Q(line__isnull=True) | Q(agreement__isnull=False))
                    )
                    # a project: never on an agreement's invoice (on the project's own invoices)
                    | Q(
                        project__isnull=False,
                        emergency_request__isnull=True,
                        agreement__isnull=True,
                        line__isnull=True,
                        visit__isnull=True,
                    )
                ),
            ),
            models.CheckConstraint(
                name="time_entry_invoiced_on_its_agreement",
                condition=Q(invoice__isnull=True)
                | Q(agreement__isnull=False)
                | Q(project__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["agreement", "work_date"], name="time_entry_agreement_date")
        ]

    def __str__(self):
        return f"{self.hours} h on {self.work_date} ({self.for_label})"

    @property
    def customer(self):
        """Whose work it was (a project or a request may have no agreement)."""
        for owner in (self.project, self.emergency_request, self.agreement):
            if owner is not None:
                return owner.customer
        return None

    @property
    def is_emergency(self):
        """Billed as emergency hours: on a request or on the Emergency Support line."""
        return self.emergency_request_id is not None or (
            self.line is not None and self.line.kind == ServiceKind.EMERGENCY
        )

    @property
    def for_label(self) -> str:
        """What the time was for, in a few words."""
        if self.project_id:
            return f"Project “{self.project.title}”"
        if self.emergency_request_id:
            return f"Emergency request #{self.emergency_request_id}"
        if self.visit_id:
            return f"{self.line.get_kind_display()} visit"
        return self.line.get_kind_display()


class CreditNote(models.Model):
    """A credit against one invoice (all of it or some lines), with a reason. It takes
    `applied_to_invoice` off the invoice's balance; the rest (the invoice was already paid) is
    held as customer credit (`to_customer_credit`, a `CustomerCredit` entry). Numbered CN-…,
    never reused; nothing issued is deleted."""

    number = models.CharField(max_length=20, unique=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="credit_notes")
    issued_on = models.DateField()
    reason = models.CharField(max_length=300)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    applied_to_invoice = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    to_customer_credit = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = CustomerScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_on", "-number"]
        constraints = [
            models.CheckConstraint(name="credit_note_positive", condition=Q(total__gt=0)),
            models.CheckConstraint(
                name="credit_note_parts_add_up",
                condition=Q(
                    applied_to_invoice__gte=0,
                    to_customer_credit__gte=0,
                    # Equal to the cent (SQLite adds in floating point).
                    total__gte=models.F("applied_to_invoice")
                    + models.F("to_customer_credit")
                    - CENT_SLACK,
                    total__lte=models.F("applied_to_invoice")
                    + models.F("to_customer_credit")
                    + CENT_SLACK,
                ),
            ),
        ]
        indexes = [models.Index(fields=["customer", "issued_on"], name="credit_note_customer")]

    def __str__(self):
        return f"{self.number} ({self.customer})"


class CreditNoteLine(models.Model):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    invoice_line = models.ForeignKey(
        InvoiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="credits"
    )
    description = models.CharField(max_length=300)
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["credit_note_id", "position", "id"]
        constraints = [
            models.CheckConstraint(name="credit_note_line_positive", condition=Q(amount__gt=0))
        ]

    def __str__(self):
        return f"{self.description}: ${self.amount}"


class CustomerCredit(models.Model):
    """One movement of a customer's credit: held (+, an overpayment or a credit note on a paid
    invoice) or applied to an invoice (-, with the "credit" payment that applied it). The
    customer's credit is the sum of its entries, never below zero."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="credits")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    on = models.DateField()
    note = models.CharField(max_length=300, blank=True)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="credits"
    )
    credit_note = models.ForeignKey(
        CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="credits"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["customer_id", "on", "id"]
        constraints = [
            models.CheckConstraint(name="customer_credit_not_zero", condition=~Q(amount=0))
        ]
        indexes = [models.Index(fields=["customer", "on"], name="customer_credit_on")]

    def __str__(self):
        return f"{self.amount} for {self.customer} on {self.on}"


class ReminderStep(models.Model):
    """When payment reminders go out, set by admins: days relative to the due date (negative
    before it, 0 on it, positive after). Each is sent once per invoice, until it is paid."""

    days = models.SmallIntegerField(
        unique=True, validators=[MinValueValidator(-60), MaxValueValidator(365)]
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["days"]

    def __str__(self):
        if self.days < 0:
            return f"{-self.days} days before the due date"
        if self.days == 0:
            return "On the due date"
        return f"{self.days} days after the due date"


class InvoiceEvent(models.Model):
    """The invoice's timeline: issued, emailed, resent, each reminder, payments, credits, void.
    A reminder step is recorded once per invoice (the constraint), so repeated or concurrent
    runs of the reminder job never send it twice."""

    class Kind(models.TextChoices):
        ISSUED = "issued", "Issued"
        EMAILED = "emailed", "Emailed"
        RESENT = "resent", "Resent"
        REMINDER = "reminder", "Payment reminder"
        PAYMENT = "payment", "Payment"
        CREDIT_NOTE = "credit_note", "Credit note"
        CREDIT_APPLIED = "credit_applied", "Customer credit applied"
        VOIDED = "voided", "Voided"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)
    detail = models.CharField(max_length=300, blank=True)
    reminder_days = models.SmallIntegerField(null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["invoice_id", "at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "reminder_days"],
                condition=Q(kind="reminder"),
                name="one_reminder_per_step",
            )
        ]

    def __str__(self):
        return f"{self.invoice_id}: {self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"

"""Visits (the materialized occurrences of scheduled Exhibit B lines), technicians, company
holidays and calendar feeds.

A visit is identified by its line, its term, its series (0 for the line's own rule, n for the
n-th schedule change) and the start its rule gave it (`occurrence_start`): planning twice finds
the same keys and creates nothing twice. `starts_at`/`ends_at` are where the visit really is
(after a holiday shift or a move). Times are stored in UTC and shown in the agreement's zone.
"""

import datetime as dt
import secrets
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from agreements.models import Agreement, CustomerScopedQuerySet, ServiceKind, ServiceLine, Term
from allora.models import Role, User
from allora.statements import Read


def technicians():
    """People visits can be assigned to: active Allora staff (admins manage, they do not visit)."""
    return User.objects.filter(role=Role.STAFF, is_active=True).order_by("first_name", "last_name")


_TECHNICIANS = Read(technicians)


def technician_list() -> list[User]:
    """`technicians()`, read with a statement compiled once: the pages' technician filters."""
    return _TECHNICIANS.run()


class HolidayPolicy(models.TextChoices):
    MOVE = "move", "Move the visit to the next business day"
    FLAG = "flag", "Keep the date and flag the visit for staff to decide"


class SchedulingSettings(models.Model):
    """Company-wide scheduling choices (one row, edited by admins in the admin site)."""

    holiday_policy = models.CharField(
        "visits on a company holiday",
        max_length=10,
        choices=HolidayPolicy.choices,
        default=HolidayPolicy.MOVE,
    )

    class Meta:
        verbose_name = verbose_name_plural = "scheduling settings"

    def __str__(self):
        return "Scheduling settings"

    def save(self, *args, **kwargs):
        self.pk = 1  # a single row
        super().save(*args, **kwargs)

    @classmethod
    def load(cls):
        """The settings row, or the defaults while an admin has not saved any (one query)."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class Holiday(models.Model):
    """A day the company is closed: no visit is planned on it (see HolidayPolicy)."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]

    def __str__(self):
        return f"{self.name} ({self.date:%b %-d, %Y})"


class LineAssignment(models.Model):
    """The default technician of a scheduled line: new visits of the line go to them."""

    line = models.OneToOneField(ServiceLine, on_delete=models.CASCADE, related_name="assignment")
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="line_assignments"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.technician} for line {self.line_id}"


class ScheduleChange(models.Model):
    """A new rule for a line from a date onward. Exhibit B's line stays as signed; planning uses
    the latest change in effect on each date (series n), the line's own rule before (series 0)."""

    line = models.ForeignKey(ServiceLine, on_delete=models.CASCADE, related_name="schedule_changes")
    series = models.PositiveSmallIntegerField()
    effective_from = models.DateField()
    rrule = models.CharField(max_length=200)
    start_time = models.TimeField()
    duration_minutes = models.PositiveIntegerField()
    schedule_text = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["line_id", "effective_from", "series"]
        constraints = [
            models.UniqueConstraint(fields=["line", "series"], name="unique_schedule_series"),
            models.CheckConstraint(name="schedule_series_from_1", condition=Q(series__gte=1)),
        ]

    def __str__(self):
        return f"{self.schedule_text} from {self.effective_from}"


class VisitQuerySet(CustomerScopedQuerySet):
    customer_lookup = "agreement__customer_id"

    def active(self):
        """Visits that take up a technician's time (everything but cancelled ones)."""
        return self.exclude(status=Visit.Status.CANCELLED)

    def open(self):
        """Visits still to be done: scheduled or moved."""
        return self.filter(status__in=[Visit.Status.SCHEDULED, Visit.Status.MOVED])

    def overlapping(self, starts_at, ends_at):
        # Half-open intervals: 10:00–12:00 and 12:00–13:00 touch but do not overlap.
        return self.filter(starts_at__lt=ends_at, ends_at__gt=starts_at)

    def for_display(self):
        return self.select_related("agreement__customer", "line", "technician")

    def listed(self):
        """What a list row shows of each visit (``ListedVisit.COLUMNS``), as plain values for
        ``listed_visits``: no model instances (building the 250 of a 50-row page was the
        largest part of reading it)."""
        return self.values_list(*ListedVisit.COLUMNS)


class VisitTimes:
    """A visit's times as its customer reads them: from its start and end on the wall clock of
    the agreement's zone (``local_start``, ``local_end``). ``Visit`` and the list rows
    (``ListedVisit``) share these."""

    local_start: dt.datetime
    local_end: dt.datetime

    @property
    def local_day(self):
        return self.local_start.date()

    @property
    def local_times(self):
        """E.g. "10:00–12:00" (wall-clock in the customer's zone)."""
        return f"{self.local_start:%H:%M}–{self.local_end:%H:%M}"

    @property
    def zone_abbr(self):
        return f"{self.local_start:%Z}"

    @property
    def local_label(self):
        """E.g. "Wed Mar 17, 2027 10:00–12:00 EDT", in the customer's zone."""
        start, end = self.local_start, self.local_end
        return f"{start:%a %b %-d, %Y %H:%M}–{end:%H:%M} {end:%Z}"


class Visit(VisitTimes, models.Model):
    """One visit of a scheduled line in one term."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        MOVED = "moved", "Moved"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class Flag(models.TextChoices):
        NONE = "", "—"
        HOLIDAY = "holiday", "On a company holiday"
        CONFLICT = "conflict", "Needs a technician (the default one is busy)"

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="visits")
    term = models.ForeignKey(Term, on_delete=models.CASCADE, related_name="visits")
    line = models.ForeignKey(ServiceLine, on_delete=models.CASCADE, related_name="visits")
    series = models.PositiveSmallIntegerField(default=0)
    occurrence_start = models.DateTimeField(help_text="Where the rule put it (UTC).")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="visits",
        limit_choices_to={"role": Role.STAFF},
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    flag = models.CharField(max_length=10, choices=Flag.choices, default=Flag.NONE, blank=True)
    note = models.CharField(max_length=200, blank=True)
    # Maintenance visits copy the line's checklist: [{"item": "Backups", "done": false}, ...]
    checklist = models.JSONField(default=list, blank=True)
    findings = models.TextField(blank=True)
    hours_worked = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # iCalendar SEQUENCE: bumped on every change a calendar must pick up (time, status).
    sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = VisitQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["line", "term", "series", "occurrence_start"],
                name="one_visit_per_occurrence",
            ),
            models.CheckConstraint(
                name="visit_ends_after_start", condition=Q(ends_at__gt=F("starts_at"))
            ),
            models.CheckConstraint(
                name="visit_hours_positive",
                condition=Q(hours_worked__isnull=True) | Q(hours_worked__gt=0),
            ),
        ]
        indexes = [
            models.Index(fields=["technician", "starts_at"], name="visit_technician_start"),
            models.Index(fields=["agreement", "starts_at"], name="visit_agreement_start"),
            # Lists and calendar days read visits in (starts_at, id) order: the index gives it.
            models.Index(fields=["starts_at", "id"], name="visit_start_id"),
            # The open ones alone, with their end (PostgreSQL): the visit list's capped count
            # reads this index only, not 1,001 rows of the table (issue 14).
            models.Index(
                fields=["starts_at", "id"],
                include=["ends_at"],
                condition=Q(status__in=["scheduled", "moved"]),
                name="visit_open_start",
            ),
        ]

    def __str__(self):
        return f"{self.line.get_kind_display()} visit, {self.agreement.customer} {self.local_label}"

    @property
    def tz(self):
        return zoneinfo.ZoneInfo(self.agreement.time_zone)

    @property
    def local_start(self):
        return self.starts_at.astimezone(self.tz)

    @property
    def local_end(self):
        return self.ends_at.astimezone(self.tz)

    @property
    def is_open(self):
        return self.status in (self.Status.SCHEDULED, self.Status.MOVED)

    @property
    def uid(self):
        """Stable iCalendar UID: the row never changes identity, whatever happens to it."""
        return f"visit-{self.pk}@allora.example"

    @property
    def completed_on(self):
        """The local date the report was recorded (None while not completed)."""
        return self.completed_at and self.completed_at.astimezone(self.tz).date()

    @property
    def checklist_done(self):
        return sum(1 for entry in self.checklist if entry.get("done"))

    def _locked(self):
        return (
            Visit.objects.select_for_update(of=("self",))
            .select_related("agreement", "completed_by")
            .get(pk=self.pk)
        )

    @transaction.atomic
    def complete(self, *, done_items, findings, hours_worked, by, now, today):
        """Record the visit report: ticked checklist items (indexes), findings and hours."""
        visit = self._locked()
        if visit.status == Visit.Status.COMPLETED:
            raise ValidationError(
                "This visit was already completed on %(day)s by %(who)s; "
                "a report is recorded only once.",
                params={
                    "day": f"{visit.completed_on:%b %-d, %Y}",
                    "who": visit.completed_by or "someone",
                },
            )
        if visit.status == Visit.Status.CANCELLED:
            raise ValidationError("This visit was cancelled; it cannot be completed.")
        if visit.local_start.date() > today:
            raise ValidationError(
                "This visit is on %(day)s; complete it on that day or later.",
                params={"day": f"{visit.local_start:%b %-d, %Y}"},
            )
        if hours_worked is None or hours_worked <= 0:
            raise ValidationError("Enter the hours worked, e.g. 2 or 1.5.")
        done = {int(index) for index in done_items}
        visit.checklist = [
            {"item": entry["item"], "done": index in done}
            for index, entry in enumerate(visit.checklist)
        ]
        visit.findings = findings.strip()
        visit.hours_worked = hours_worked
        visit.status = Visit.Status.COMPLETED
        visit.completed_at = now
        visit.completed_by = by
        # A visit nobody was assigned to was done by whoever reports it: record that.
        visit.technician = visit.technician or by
        visit.updated_at = now
        visit.save(
            update_fields=[
                "technician",
                "checklist",
                "findings",
                "hours_worked",
                "status",
                "completed_at",
                "completed_by",
                "updated_at",
            ]
        )
        return visit

    @transaction.atomic
    def cancel(self, *, now, reason=""):
        """Cancel this one visit; the series and its other visits stay as they are."""
        visit = self._locked()
        if visit.status == Visit.Status.COMPLETED:
            raise ValidationError("A completed visit cannot be cancelled.")
        if visit.status == Visit.Status.CANCELLED:
            raise ValidationError("This visit is already cancelled.")
        visit.status = Visit.Status.CANCELLED
        visit.note = (reason or "Cancelled by Allora")[:200]
        visit.sequence += 1
        visit.updated_at = now
        visit.save(update_fields=["status", "note", "sequence", "updated_at"])
        return visit


@dataclass(frozen=True)
class ListedVisit(VisitTimes):
    """A visit as the lists and calendars show it (the visit list and its CSV, the calendar
    days): its times in the customer's zone, customer, agreement, service, technician, status
    and flag, built by ``listed_visits`` from plain values (``VisitQuerySet.listed``)."""

    pk: int
    local_start: dt.datetime
    local_end: dt.datetime
    status: str
    flag: str
    customer: str  # the customer's legal name, as ``str(customer)``
    agreement_number: str
    service: str  # the line's kind, as ``line.get_kind_display()``
    technician: User | None  # its id and names only

    COLUMNS: ClassVar[tuple[str, ...]] = (
        *("id", "starts_at", "ends_at", "status", "flag", "agreement__time_zone"),
        *("agreement__customer__legal_name", "agreement__number", "line__kind"),
        *("technician_id", "technician__first_name", "technician__last_name", "technician__email"),
    )

    def get_status_display(self) -> str:
        return Visit.Status(self.status).label

    def get_flag_display(self) -> str:
        return Visit.Flag(self.flag).label


def listed_visits(rows: Iterable[tuple]) -> Iterator[ListedVisit]:
    """``ListedVisit`` of each row of ``VisitQuerySet.listed()``. A technician is one ``User``
    (id and names) however many rows they have, so their name reads as everywhere else."""
    people: dict[int, User] = {}
    names = ["id", "first_name", "last_name", "email"]
    for pk, starts_at, ends_at, status, flag, zone, customer, number, kind, *person in rows:
        tz = zoneinfo.ZoneInfo(zone)
        technician = None
        if person[0] is not None:
            technician = people.get(person[0]) or people.setdefault(
                person[0], User.from_db(None, names, person)
            )
        yield ListedVisit(
            pk,
            starts_at.astimezone(tz),
            ends_at.astimezone(tz),
            status,
            flag,
            customer,
            number,
            ServiceKind(kind).label,
            technician,
        )


class VisitCount(models.Model):
    """How many active visits (not cancelled) start in one 15-minute UTC bucket, for one zone
    (their agreement's) and one technician (0: unassigned): what the calendar pages count their
    days from (``calendars.visits_by_day``) instead of counting the month's visits (issue 14).

    Derived data, written by database triggers only (migration 0006, for PostgreSQL and
    SQLite): every write to a visit, whether ``save``, ``bulk_create``, ``queryset.update()``,
    a delete or raw SQL, and a change of an agreement's zone, adjusts these rows in the same
    transaction, so they cannot drift from the visits. Never write them from Python.

    Every real zone's offset and every change of offset is a whole number of quarter hours,
    so a bucket lies within one local day of its zone: a day's count is the sum of its buckets.
    A row whose visits went elsewhere stays at 0."""

    bucket = models.DateTimeField(help_text="The start (UTC) of the 15 minutes.")
    time_zone = models.CharField(max_length=64)
    technician = models.IntegerField(help_text="The technician's id; 0 for unassigned visits.")
    visits = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bucket", "time_zone", "technician"], name="one_count_per_bucket"
            )
        ]

    def __str__(self):
        return f"{self.visits} visits from {self.bucket:%Y-%m-%d %H:%M} UTC ({self.time_zone})"


class CalendarFeed(models.Model):
    """The secret address of an iCalendar feed: a customer's visits or a technician's.

    Regenerating replaces the token, so the old address stops working at once (404)."""

    customer = models.OneToOneField(
        "agreements.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="calendar_feed",
    )
    technician = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="calendar_feed",
    )
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Who replaced the address, when and why (shown on the customer's page); never the secret.
    history = HistoricalRecords(excluded_fields=["token"])

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="feed_has_one_owner",
                condition=(Q(customer__isnull=False) & Q(technician__isnull=True))
                | (Q(customer__isnull=True) & Q(technician__isnull=False)),
            )
        ]

    def __str__(self):
        return f"Calendar feed of {self.customer or self.technician}"

    @staticmethod
    def new_token():
        return secrets.token_urlsafe(32)

    @classmethod
    def for_customer(cls, customer):
        feed, _ = cls.objects.get_or_create(customer=customer, defaults={"token": cls.new_token()})
        return feed

    @classmethod
    def for_technician(cls, user):
        feed, _ = cls.objects.get_or_create(technician=user, defaults={"token": cls.new_token()})
        return feed

    def regenerate(self, *, now, reason=""):
        """A new secret address; the old one is revoked. ``reason`` goes into the history."""
        self.token = self.new_token()
        self.created_at = now
        self._change_reason = reason or "New address; the old one no longer works"
        self.save(update_fields=["token", "created_at"])
        return self

    @classmethod
    def rotate_for_customer(cls, customer, *, now, reason):
        """Give the customer's feed a new address, if it has a feed (None otherwise)."""
        feed = cls.objects.filter(customer=customer).first()
        return feed.regenerate(now=now, reason=reason) if feed else None

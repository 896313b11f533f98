"""Invoicing workflows: the monthly invoices (the daily job), the final invoice of an early
termination, the commitment and overdue invoices. (Time entries: timesheets.py; the PDF, the
email and the CSV export: documents.py; the money of one line: rules.py.)

The rules of a whole life (DESIGN.md, "Billing over a whole life"):

- Each day is billed from the version in force that day (an amendment takes effect on its
  completion date). Services that existed keep the term's locked rates; what an amendment added
  is priced from its own Exhibit A (`pricing.merged_rates`).
- An invoice knows what was signed before its issue date, never later. A version that becomes
  known after the days it affects were billed in advance re-bills those months on the next
  invoice: the lines billed for the month are reversed and the month is billed anew. So daily
  runs and one catch-up run give the same invoices, whatever the order of the jobs on a day.
- Maintenance is billed per visit the rule puts in the stretch (pure recurrence, never the
  visit rows, which move and get cancelled): the same answer whenever it is asked.
- Ended and terminated agreements are billed for every month they owe, and the month after the
  end carries the last usage. Imports start after `Agreement.billed_through`.
- One agreement that cannot be priced never stops the run: the problem is recorded on it and
  the admins are told once.

Reading is set-based: the inputs of a chunk of agreements come in a fixed number of queries
whatever the chunk's size. Writing is one short transaction per invoice: it locks the
agreement row, checks that nothing was issued meanwhile, takes the next number and stores the
invoice with its lines. The unique constraints on invoices are the last word.
"""

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from types import SimpleNamespace

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Exists, Max, Min, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from agreements import rules
from agreements.models import (
    Agreement,
    AgreementEvent,
    AgreementVersion,
    RateReview,
    ServiceKind,
    ServiceLine,
    Term,
    TerminationRequest,
)
from allora.emails import send_after_commit
from allora.models import Role
from scheduling import recurrence
from scheduling.models import ScheduleChange
from scheduling.planning import segments

from .charges import (
    Charge,
    Stretch,
    emergency_charge,
    included_hours,
    month_start,
    next_month,
    overage_charge,
    recurring_charges,
    stretches,
    term_on,
)
from .models import Invoice, InvoiceLine, InvoiceSequence, TimeEntry, invoice_number
from .pricing import hosting_price, merged_rates, snapshot_rate
from .rules import ZERO, discount_percent, totals

Event = AgreementEvent.Kind

logger = logging.getLogger(__name__)

OVER = (Agreement.Status.ENDED, Agreement.Status.TERMINATED)
BILLED_STATUSES = (*Agreement.LIVE, *OVER)
BILLABLE_KINDS = (ServiceKind.PRESCHEDULED, ServiceKind.EMERGENCY)
SIGNED = (AgreementVersion.Status.SIGNED, AgreementVersion.Status.SUPERSEDED)
CHUNK = 500
# An ended agreement is looked at this long after its end for the months it still owes.
_ENDED_LOOKBACK = dt.timedelta(days=400)


# What one agreement's billing needs, loaded set-based --------------------------------------


@dataclass(frozen=True)
class Version:
    """A signed version as billing sees it: in force from `effective` (its completion date),
    known to the invoices issued from `known_from` on (the day after its completion)."""

    pk: int
    number: int
    effective: dt.date
    known_from: dt.date
    billing_day: int
    payment_terms_days: int
    snapshot: dict | None


@dataclass
class Account:
    """One agreement's billing inputs. `cursor` is the first day whose recurring charges are not
    billed yet; `used` and `overage` are the prescheduled hours and the overage already billed,
    by (service, stretch start); `billed` the recurring lines billed for the months that may need
    re-billing, by (month, service)."""

    agreement: Agreement
    terms: list
    versions: list
    lines: dict  # version id → its lines
    root: dict  # line id → the id of the first line of that service (through amendments)
    changes: dict  # line id → its schedule changes
    entries: list  # time entries not billed yet (prescheduled and emergency)
    cursor: dt.date
    last_period: dt.date | None
    last_invoice_id: int | None
    last_issued_on: dt.date | None
    ends_on: dt.date | None  # the first day not served, once the agreement is over
    used: dict = field(default_factory=lambda: defaultdict(Decimal))
    overage: dict = field(default_factory=lambda: defaultdict(Decimal))
    billed: dict = field(default_factory=lambda: defaultdict(list))
    _dates: dict = field(default_factory=dict)
    _rates: dict = field(default_factory=dict)

    @property
    def first_start(self):
        return self.terms[0].start

    @property
    def latest_end(self):
        return self.terms[-1].end

    @property
    def floor(self) -> dt.date:
        """The first day this system bills (after what an earlier system billed)."""
        billed_through = self.agreement.billed_through
        if billed_through is None:
            return self.first_start
        return max(self.first_start, billed_through + dt.timedelta(days=1))

    # Versions ----------------------------------------------------------------------------

    def known(self, on: dt.date) -> list:
        """The versions an invoice issued on ``on`` knows (the first one always)."""
        return [v for v in self.versions if v is self.versions[0] or v.known_from <= on]

    def version_on(self, day: dt.date, *, known_on: dt.date) -> Version:
        found = self.versions[0]
        for version in self.known(known_on):
            if version.effective <= day:
                found = version
        return found

    def billing_day_for(self, period: dt.date) -> int:
        """The billing day of a month: the version in force (and known) on its first day."""
        return self.version_on(period, known_on=period).billing_day

    def issue_date(self, period: dt.date) -> dt.date:
        day = self.billing_day_for(period)
        return billing_date(period, billing_day=day, first_start=self.first_start)

    def pieces(self, start, end, *, known_on):
        """[start, end) cut where a known version takes effect: (start, end, version)."""
        cuts = sorted({v.effective for v in self.known(known_on) if start < v.effective < end})
        bounds = [start, *cuts, end]
        return [
            (a, b, self.version_on(a, known_on=known_on))
            for a, b in zip(bounds, bounds[1:], strict=False)
        ]

    def rates(self, term, version) -> dict:
        """The rates of a term under a version: the locked ones, plus what the version added."""
        key = (term.start, version.pk)
        if key not in self._rates:
            self._rates[key] = merged_rates(term.locked_rates, version.snapshot)
        return self._rates[key]

    # Recurring charges -------------------------------------------------------------------

    def recurring(self, *, start, end, known_on, terms=None) -> list:
        """The recurring charges of [start, end) as known on ``known_on``: per term and month,
        each service priced by the version in force each day (a service whose price does not
        change across an amendment stays one line)."""
        charges = []
        for stretch in stretches(terms or self.terms, start=start, end=end):
            charges += self._stretch_charges(stretch.term, stretch.start, stretch.end, known_on)
        return charges

    def _stretch_charges(self, term, start, end, known_on):
        runs = {}  # service (root line id) → [[start, end, line, rates, signature], ...]
        for piece_start, piece_end, version in self.pieces(start, end, known_on=known_on):
            rates = self.rates(term, version)
            for line in self.lines.get(version.pk, []):
                if line.kind == ServiceKind.EMERGENCY:
                    continue
                signature = self._signature(line, rates, known_on)
                found = runs.setdefault(self.root.get(line.pk, line.pk), [])
                if found and found[-1][1] == piece_start and found[-1][4] == signature:
                    found[-1][1] = piece_end
                else:
                    found.append([piece_start, piece_end, line, rates, signature])
        charges = []
        for items in runs.values():
            for run_start, run_end, line, rates, _ in items:
                stretch = Stretch(term, run_start, run_end)
                counts = {}
                if line.kind == ServiceKind.MAINTENANCE:
                    dates = self._visit_dates(term, line, known_on)
                    counts[line.pk] = sum(1 for day in dates if run_start <= day < run_end)
                charges += recurring_charges(stretch, [line], counts, rates=rates)
        return charges

    def _known_changes(self, line, known_on):
        return tuple(
            (c.effective_from, c.rrule, c.start_time, c.duration_minutes, c.series)
            for c in self.changes.get(line.pk, [])
            if c.known_from <= known_on
        )

    def _signature(self, line, rates, known_on):
        """What decides a service's price: equal signatures on both sides of an amendment keep
        one line for the month."""
        kind = line.kind
        if kind == ServiceKind.HOSTING:
            return (kind, line.package_name, line.quantity, hosting_price(rates, line.package_name))
        price = snapshot_rate(rates, line.labor_rate)
        percent = discount_percent(rates, kind)
        if kind == ServiceKind.PRESCHEDULED:
            return (kind, line.labor_rate, line.hours_per_month, price, percent)
        schedule = (line.rrule, line.start_time, line.duration_minutes)
        changes = self._known_changes(line, known_on)
        return (kind, line.labor_rate, line.hours_per_visit, schedule, changes, price, percent)

    def _visit_dates(self, term, line, known_on) -> list:
        """The local dates the line's rule (with its known schedule changes) puts in the term."""
        changes = self._known_changes(line, known_on)
        key = (term.start, line.pk, changes)
        if key not in self._dates:
            dates = []
            if line.rrule and line.start_time and line.duration_minutes:
                known = [c for c in self.changes.get(line.pk, []) if c.known_from <= known_on]
                zone = self.agreement.tz
                for segment in segments(line, known, start=term.start, end=term.end):
                    for starts_at, _ in recurrence.occurrences(
                        segment.rrule,
                        start_time=segment.start_time,
                        duration_minutes=segment.duration_minutes,
                        tz=self.agreement.time_zone,
                        start=segment.start,
                        end=segment.end,
                    ):
                        dates.append(starts_at.astimezone(zone).date())
            self._dates[key] = dates
        return self._dates[key]

    # Re-billing what changed after it was billed ---------------------------------------------

    def recheck_from(self, *, issued_on) -> dt.date | None:
        """The first day whose billed charges may be wrong: the effective date of a version or
        schedule change signed after the last invoice and known on ``issued_on``."""
        since = self.last_issued_on
        if since is None:
            return None
        days = [v.effective for v in self.versions[1:] if since < v.known_from <= issued_on]
        days += [
            c.effective_from
            for found in self.changes.values()
            for c in found
            if since < c.known_from <= issued_on
        ]
        if not days:
            return None
        day = max(min(days), self.floor)
        return day if day < self.cursor else None

    def adjustments(self, *, issued_on) -> list:
        """Reversals and re-billed lines for the months billed before a change became known."""
        since = self.recheck_from(issued_on=issued_on)
        if since is None:
            return []
        charges = []
        month = month_start(since)
        while month < self.cursor:
            start, end = max(month, self.floor), min(next_month(month), self.cursor)
            owed = defaultdict(list)
            for charge in self.recurring(start=start, end=end, known_on=issued_on):
                owed[self.root.get(charge.service_line_id, charge.service_line_id)].append(charge)
            for service in list(owed) + [s for (m, s) in self.billed if m == month]:
                billed = self.billed.get((month, service), [])
                if totals(billed) == totals(owed[service]):
                    continue
                charges += [_reversal(line) for line in billed]
                charges += [_rebilled(charge) for charge in owed[service]]
                self.billed[(month, service)] = []  # handled (a service may be listed twice)
                owed[service] = []
            month = next_month(month)
        return charges

    # Usage -------------------------------------------------------------------------------

    def stretch_of(self, day) -> Stretch:
        """The stretch (month inside a term) a day of usage belongs to."""
        earlier = [term for term in self.terms if term.start <= day]
        term = term_on(self.terms, day) or (earlier[-1] if earlier else self.terms[0])
        return Stretch(term, max(month_start(day), term.start), min(next_month(day), term.end))

    def _block(self, stretch, service, known_on) -> Decimal:
        """The prescheduled hours included in a stretch for a service, version by version."""
        hours = ZERO
        for start, end, version in self.pieces(stretch.start, stretch.end, known_on=known_on):
            for line in self.lines.get(version.pk, []):
                if line.kind == ServiceKind.PRESCHEDULED and self.root.get(line.pk) == service:
                    hours += included_hours(Stretch(stretch.term, start, end), line)
        return hours

    def usage(self, *, before, known_on) -> tuple[list, list]:
        """(charges, time entry ids) of the usage not billed yet dated before ``before``."""
        hours, lines, ids = defaultdict(Decimal), {}, []
        for entry in self.entries:
            if entry.work_date < before:
                service = self.root.get(entry.line_id, entry.line_id)
                key = (service, self.stretch_of(entry.work_date))
                hours[key] += entry.hours
                lines[service] = entry.line  # None: a request without an ES line
                ids.append(entry.pk)
        charges = []
        for (service, stretch), worked in sorted(hours.items(), key=_usage_order(lines)):
            line = lines[service]
            version = self.version_on(stretch.start, known_on=known_on)
            rates = self.rates(stretch.term, version)
            if _is_emergency(line):
                charges.append(emergency_charge(stretch, line, worked, rates=rates))
            else:
                key = (service, stretch.start)
                charge = overage_charge(
                    stretch,
                    line,
                    used=worked + self.used[key],
                    already_billed=self.overage[key],
                    included=self._block(stretch, service, known_on),
                    rates=rates,
                )
                charges += [charge] if charge else []
        return charges, ids


def _reversal(line) -> Charge:
    """A billed line taken back, figure by figure (so it reconciles like the original)."""
    return Charge(
        kind=line.kind,
        description=f"Reversal of invoice {line.invoice_number}: {line.description}"[:300],
        quantity=-line.quantity,
        unit=line.unit,
        list_rate=line.list_rate,
        discount_percent=line.discount_percent,
        net_rate=line.net_rate,
        list_amount=-line.list_amount,
        amount=-line.amount,
        stretch=Stretch(SimpleNamespace(pk=line.term_id), line.service_start, line.service_end),
        service_line_id=line.service_line_id,
    )


def _rebilled(charge) -> Charge:
    return dataclasses.replace(charge, description=f"{charge.description}, as amended")


def _usage_order(lines):
    # By month, emergency hours before the overage of the same month.
    def key(item):
        (service, stretch), _ = item
        return stretch.start, not _is_emergency(lines[service]), service or 0

    return key


def _is_emergency(line) -> bool:
    """Usage on the Emergency Support line, or on a request that has no line."""
    return line is None or line.kind == ServiceKind.EMERGENCY


def _billable_entries():
    """Time billed on the monthly invoice: prescheduled and emergency hours."""
    return TimeEntry.objects.filter(
        Q(line__kind__in=BILLABLE_KINDS) | Q(emergency_request__isnull=False)
    )


def _non_void_invoices():
    return Invoice.objects.not_void().filter(agreement=OuterRef("pk"))


def _versions(agreement_ids, tzs) -> dict:
    """agreement id → its signed versions (superseded ones too), oldest first."""
    found = defaultdict(list)
    rows = (
        AgreementVersion.objects.filter(agreement_id__in=agreement_ids, status__in=SIGNED)
        .order_by("agreement_id", "number")
        .values_list(
            "pk",
            "agreement_id",
            "number",
            "completed_at",
            "billing_day",
            "payment_terms_days",
            "rates_snapshot",
        )
    )
    for pk, agreement_id, number, completed_at, day, terms_days, snapshot in rows:
        completed = (
            timezone.localdate(completed_at, tzs[agreement_id]) if completed_at else dt.date.min
        )
        first = not found[agreement_id]
        found[agreement_id].append(
            Version(
                pk=pk,
                number=number,
                effective=dt.date.min if first else completed,
                known_from=dt.date.min if first else completed + dt.timedelta(days=1),
                billing_day=day,
                payment_terms_days=terms_days,
                snapshot=snapshot,
            )
        )
    return found


def load_accounts(agreement_ids) -> dict:
    """The billing inputs of these agreements (those with a signed term), in a fixed number of
    queries."""
    invoices = _non_void_invoices()
    agreements = (
        Agreement.objects.filter(pk__in=agreement_ids)
        .select_related("customer")
        .order_by("pk")
        .annotate(
            cursor=Subquery(invoices.order_by("-covers_until").values("covers_until")[:1]),
            last_period=Subquery(
                invoices.filter(kind=Invoice.Kind.MONTHLY).order_by("-period").values("period")[:1]
            ),
            last_invoice_id=Subquery(invoices.order_by("-pk").values("pk")[:1]),
            last_issued_on=Subquery(invoices.order_by("-issued_on").values("issued_on")[:1]),
            final_usage_until=Subquery(
                invoices.filter(kind=Invoice.Kind.FINAL).values("usage_until")[:1]
            ),
        )
    )
    agreements = list(agreements)
    terms = defaultdict(list)
    for term in Term.objects.filter(agreement_id__in=agreement_ids).order_by("start"):
        terms[term.agreement_id].append(term)
    versions = _versions(agreement_ids, {a.pk: a.tz for a in agreements})
    lines = defaultdict(list)
    line_versions = {v.pk for found in versions.values() for v in found}
    all_lines = list(
        ServiceLine.objects.filter(version_id__in=line_versions).order_by("position", "id")
    )
    parent = {line.pk: line.replaces_id for line in all_lines}
    root = {}
    for line in all_lines:
        lines[line.version_id].append(line)
        service, seen = line.pk, set()
        while parent.get(service) and service not in seen:
            seen.add(service)
            service = parent[service]
        root[line.pk] = service
    changes = defaultdict(list)
    tz_of_line = {}
    for agreement in agreements:
        for version in versions[agreement.pk]:
            for line in lines[version.pk]:
                tz_of_line[line.pk] = agreement.tz
    for change in ScheduleChange.objects.filter(line_id__in=list(tz_of_line)).order_by(
        "effective_from", "series"
    ):
        created = timezone.localdate(change.created_at, tz_of_line[change.line_id])
        change.known_from = created + dt.timedelta(days=1)
        changes[change.line_id].append(change)
    accounts = {}
    for agreement in agreements:
        if not terms[agreement.pk] or not versions[agreement.pk]:
            continue
        ends_on = None
        if agreement.status == Agreement.Status.ENDED:
            ends_on = terms[agreement.pk][-1].end
        elif agreement.status == Agreement.Status.TERMINATED:
            ends_on = agreement.final_usage_until or terms[agreement.pk][-1].end
        account = Account(
            agreement=agreement,
            terms=terms[agreement.pk],
            versions=versions[agreement.pk],
            lines=lines,
            root=root,
            changes=changes,
            entries=[],
            cursor=terms[agreement.pk][0].start,
            last_period=agreement.last_period,
            last_invoice_id=agreement.last_invoice_id,
            last_issued_on=agreement.last_issued_on,
            ends_on=ends_on,
        )
        account.cursor = max(agreement.cursor or account.floor, account.floor)
        accounts[agreement.pk] = account
    if accounts:
        _load_usage(accounts)
        _load_billed(accounts)
    return accounts


def _load_billed(accounts):
    # Only the months a change signed since the last invoice may touch: usually none.
    since = [
        day
        for account in accounts.values()
        for day in [account.recheck_from(issued_on=dt.date.max)]
        if day is not None
    ]
    if not since:
        return
    rows = InvoiceLine.objects.filter(
        invoice__agreement_id__in=[
            pk for pk, account in accounts.items() if account.last_issued_on
        ],
        kind__in=InvoiceLine.RECURRING,
        service_start__gte=month_start(min(since)),
    ).exclude(invoice__status=Invoice.Status.VOID)
    for line in rows.select_related("invoice").order_by("invoice__issued_on", "position", "pk"):
        account = accounts[line.invoice.agreement_id]
        line.invoice_number = line.invoice.number
        service = account.root.get(line.service_line_id, line.service_line_id)
        account.billed[(month_start(line.service_start), service)].append(line)


def _load_usage(accounts):
    # Prescheduled and emergency hours, those of emergency requests included (a request of a
    # customer without an Emergency Support line has no line: its hours are emergency hours at
    # the term's emergency rate all the same). Project time has no agreement: never billed here.
    # Nothing on or before `billed_through`: the previous system billed it.
    entries = (
        _billable_entries()
        .filter(agreement_id__in=list(accounts), invoice__isnull=True)
        .select_related("line")
    )
    since = None
    for entry in entries.order_by("work_date", "pk"):
        account = accounts[entry.agreement_id]
        if entry.work_date < account.floor:
            continue
        account.entries.append(entry)
        if not entry.is_emergency:
            since = min(since or entry.work_date, entry.work_date)
    if since is None:
        return  # no prescheduled hours to weigh against their block
    since = month_start(since)
    billed = TimeEntry.objects.filter(
        agreement_id__in=list(accounts),
        invoice__isnull=False,
        line__kind=ServiceKind.PRESCHEDULED,
        work_date__gte=since,
    ).values_list("agreement_id", "line_id", "work_date", "hours")
    for agreement_id, line_id, day, hours in billed:
        account = accounts[agreement_id]
        service = account.root.get(line_id, line_id)
        account.used[(service, account.stretch_of(day).start)] += hours
    overage = (
        InvoiceLine.objects.filter(
            invoice__agreement_id__in=list(accounts),
            kind=InvoiceLine.Kind.OVERAGE,
            service_start__gte=since,
        )
        .exclude(invoice__status=Invoice.Status.VOID)
        .values_list("invoice__agreement_id", "service_line_id", "service_start")
        .annotate(hours=Sum("quantity"))
    )
    for agreement_id, line_id, start, hours in overage:
        account = accounts[agreement_id]
        account.overage[(account.root.get(line_id, line_id), start)] += hours


# Planning an invoice (pure, given an account) ---------------------------------------------


@dataclass
class Plan:
    kind: str
    period: dt.date
    issued_on: dt.date
    due_on: dt.date
    charges: list
    covers_from: dt.date
    covers_until: dt.date
    usage_until: dt.date
    entry_ids: list

    @property
    def totals(self):
        return totals(self.charges)

    @property
    def total(self) -> Decimal:
        return self.totals[2]

    @property
    def recurring_total(self) -> Decimal:
        return totals([c for c in self.charges if c.kind in InvoiceLine.RECURRING])[2]


def billing_date(period: dt.date, *, billing_day: int, first_start: dt.date) -> dt.date:
    """The billing day of the month, or the first covered day when the agreement starts later."""
    return max(period.replace(day=billing_day), first_start)


def first_month(*, last_period, billed_through, first_start) -> dt.date:
    """The first month not invoiced yet: after the last one invoiced, else after what an earlier
    system billed (an import), else the first term's month."""
    if last_period:
        return next_month(last_period)
    if billed_through and billed_through >= first_start:
        return next_month(billed_through)
    return month_start(first_start)


def months_due(*, first, latest_end, ends_on, issue_date, today) -> list:
    """The months from ``first`` whose invoice is due by ``today``, in order (``issue_date``:
    month → its billing date). A live agreement (``ends_on`` None) waits for the term its
    billing day falls in (the renewal job adds it); one that is over owes the months up to the
    one after its last day, which carries the last usage."""
    last = next_month(ends_on - dt.timedelta(days=1)) if ends_on else None
    period, due = first, []
    while True:
        issued_on = issue_date(period)
        if issued_on > today:
            break
        if last is None and max(period, issued_on) >= latest_end:
            break
        if last is not None and period > last:
            break
        due.append(period)
        period = next_month(period)
    return due


def due_periods(account, *, today: dt.date) -> list:
    """The months (first days) whose invoice is due by ``today`` and not issued yet, in order."""
    first = first_month(
        last_period=account.last_period,
        billed_through=account.agreement.billed_through,
        first_start=account.first_start,
    )
    return months_due(
        first=first,
        latest_end=account.latest_end,
        ends_on=account.ends_on,
        issue_date=account.issue_date,
        today=today,
    )


def covers_until(account, *, period, issued_on) -> dt.date:
    """The end of the recurring charges an invoice bills in advance: the month, within the term
    its billing day falls in (never a term that starts after it was issued)."""
    term = term_on(account.terms, issued_on)
    end = term.end if term else account.latest_end
    return max(account.cursor, min(next_month(period), end))


def _plan(account, *, kind, period, issued_on, until, usage_until, terms=None) -> Plan:
    until = max(until, account.cursor)
    usage, entry_ids = account.usage(before=usage_until, known_on=issued_on)
    version = account.version_on(issued_on, known_on=issued_on)
    charges = (
        account.adjustments(issued_on=issued_on)
        + account.recurring(start=account.cursor, end=until, known_on=issued_on, terms=terms)
        + usage
    )
    return Plan(
        kind=kind,
        period=period,
        issued_on=issued_on,
        due_on=issued_on + dt.timedelta(days=version.payment_terms_days),
        charges=charges,
        covers_from=account.cursor,
        covers_until=until,
        usage_until=usage_until,
        entry_ids=entry_ids,
    )


def plan_monthly(account, *, period: dt.date) -> Plan:
    """The month in advance (and any earlier days not billed yet, e.g. the first days of a term
    that started after the previous invoice), with the usage of earlier months in arrears and
    the re-billing of months a later-signed amendment changed."""
    issued_on = account.issue_date(period)
    return _plan(
        account,
        kind=Invoice.Kind.MONTHLY,
        period=period,
        issued_on=issued_on,
        until=covers_until(account, period=period, issued_on=issued_on),
        usage_until=period,
    )


# What the customer is bound to (early termination) ------------------------------------------


@dataclass(frozen=True)
class Binding:
    """The terms the customer is bound to on a day: the recorded ones, plus a renewal that can
    no longer be avoided (a late notice, or the notice deadline has passed)."""

    terms: list  # the recorded terms and any locked-in renewal (not recorded yet: pk None)
    end: dt.date
    reason: str

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)


def binding(account, *, today: dt.date) -> Binding:
    """What ending early on ``today`` leaves the customer bound to (DESIGN.md: "Early
    termination counts every term the customer is bound to")."""
    agreement, latest = account.agreement, account.terms[-1]
    request = (
        agreement.termination_requests.filter(status=TerminationRequest.Status.STANDING)
        .order_by("-received_at")
        .first()
    )
    reviews = {
        review.term_number: review
        for review in agreement.rate_reviews.filter(status=RateReview.Status.FINALIZED)
    }
    following = reviews.get(latest.number + 1)
    opt_out_open = following is not None and following.opt_out_open(today)
    if request is not None and request.effective_end > latest.end:
        reason = (
            f"the written termination request received on "
            f"{timezone.localdate(request.received_at, agreement.tz):%B %-d, %Y} arrived after "
            f"the notice deadline, so the renewal of {latest.end:%B %-d, %Y} is locked in"
        )
    elif request is None and today > latest.notice_deadline and not opt_out_open:
        reason = (
            f"the notice deadline of {latest.notice_deadline:%B %-d, %Y} has passed, so the "
            f"renewal of {latest.end:%B %-d, %Y} is locked in"
        )
    else:
        return Binding(list(account.terms), latest.end, "")
    version = account.versions[-1]
    rates = following.rates if following else merged_rates(latest.locked_rates, version.snapshot)
    renewal = SimpleNamespace(
        pk=None,
        number=latest.number + 1,
        start=latest.end,
        end=rules.term_end(latest.end),
        locked_rates=rates,
        version_id=version.pk,
    )
    return Binding([*account.terms, renewal], renewal.end, reason)


def plan_final(account, *, today: dt.date) -> Plan:
    """Early termination: every recurring charge the customer is bound to and not billed yet,
    and all usage to date."""
    bound = binding(account, today=today)
    return _plan(
        account,
        kind=Invoice.Kind.FINAL,
        period=month_start(today),
        issued_on=today,
        until=bound.end,
        usage_until=today + dt.timedelta(days=1),
        terms=bound.terms,
    )


# Storing an invoice: one transaction ------------------------------------------------------


def _store(account, plan, *, skip_locked=True) -> Invoice | None:
    """Store a planned invoice, unless the agreement is locked by another worker or got an
    invoice since it was loaded (then None: nothing is issued twice)."""
    agreement = account.agreement
    last_invoice = _non_void_invoices().order_by("-pk").values("pk")[:1]
    try:
        with transaction.atomic():
            row = (
                Agreement.objects.select_for_update(skip_locked=skip_locked, of=("self",))
                .filter(pk=agreement.pk, status__in=BILLED_STATUSES)
                .annotate(last_invoice_id=Subquery(last_invoice))
                .values_list("pk", "last_invoice_id")
                .first()
            )
            if row is None or row[1] != account.last_invoice_id:
                return None
            subtotal, discount, total = plan.totals
            invoice = Invoice.objects.create(
                number=invoice_number(InvoiceSequence.take()),
                agreement=agreement,
                customer=agreement.customer,
                kind=plan.kind,
                period=plan.period,
                issued_on=plan.issued_on,
                due_on=plan.due_on,
                payment_terms_days=(plan.due_on - plan.issued_on).days,
                bill_to=f"{agreement.customer.legal_name}\n{agreement.customer.address}",
                subtotal=subtotal,
                discount_total=discount,
                total=total,
                covers_from=plan.covers_from,
                covers_until=plan.covers_until,
                usage_until=plan.usage_until,
            )
            InvoiceLine.objects.bulk_create(_lines(invoice, plan.charges))
            if plan.entry_ids:
                TimeEntry.objects.filter(pk__in=plan.entry_ids, invoice__isnull=True).update(
                    invoice=invoice
                )
            _clear_billing_problem(agreement)
            transaction.on_commit(partial(queue_invoice_email, invoice.pk))
    except IntegrityError:
        if _already_issued(agreement, plan):
            return None  # the unique constraint: another worker issued it a moment ago
        raise
    account.last_invoice_id = invoice.pk
    _advance(account, plan)
    return invoice


def _advance(account, plan):
    """What an issued plan changes in the account, so the next plan starts after it."""
    ids = set(plan.entry_ids)
    for entry in account.entries:
        if entry.pk in ids and not entry.is_emergency:
            service = account.root.get(entry.line_id, entry.line_id)
            account.used[(service, account.stretch_of(entry.work_date).start)] += entry.hours
    account.entries = [entry for entry in account.entries if entry.pk not in ids]
    for charge in plan.charges:
        if charge.kind == InvoiceLine.Kind.OVERAGE:
            service = account.root.get(charge.service_line_id, charge.service_line_id)
            account.overage[(service, charge.stretch.start)] += charge.quantity
    account.cursor = max(account.cursor, plan.covers_until)
    account.last_issued_on = plan.issued_on
    if plan.kind == Invoice.Kind.MONTHLY:
        account.last_period = plan.period


def _already_issued(agreement, plan) -> bool:
    invoices = Invoice.objects.not_void().filter(agreement=agreement, kind=plan.kind)
    if plan.kind == Invoice.Kind.MONTHLY:
        invoices = invoices.filter(period=plan.period)
    return invoices.exists()


def _lines(invoice, charges):
    return [
        InvoiceLine(
            invoice=invoice,
            position=position,
            kind=charge.kind,
            description=charge.description[:300],
            quantity=charge.quantity,
            unit=charge.unit,
            list_rate=charge.list_rate,
            discount_percent=charge.discount_percent,
            net_rate=charge.net_rate,
            list_amount=charge.list_amount,
            discount_amount=charge.discount_amount,
            amount=charge.amount,
            term_id=charge.stretch.term.pk,
            service_line_id=charge.service_line_id,
            service_start=charge.stretch.start,
            service_end=charge.stretch.end,
        )
        for position, charge in enumerate(charges)
    ]


def queue_invoice_email(invoice_id):
    from .tasks import email_invoice

    email_invoice.delay(invoice_id)


# Billing problems: one agreement never stops the run ---------------------------------------


def record_billing_problem(agreement, error) -> bool:
    """Record why an agreement could not be billed; alert the admins the first time (True)."""
    reason = (str(error) or error.__class__.__name__)[:500]
    now = timezone.now()
    with transaction.atomic():
        # A conditional UPDATE: only the run that finds no problem recorded alerts the admins.
        first = bool(
            Agreement.objects.filter(pk=agreement.pk, billing_problem="").update(
                billing_problem=reason, billing_problem_since=now
            )
        )
        if not first:
            Agreement.objects.filter(pk=agreement.pk).update(billing_problem=reason)
        else:
            agreement.log(Event.BILLING_PROBLEM, f"Not invoiced: {reason}")
            admins = get_user_model().objects.filter(role=Role.ADMIN, is_active=True)
            send_after_commit(
                "billing_problem",
                to=list(admins.values_list("email", flat=True)),
                context={"agreement": agreement, "reason": reason},
            )
    agreement.billing_problem = reason
    return first


def _clear_billing_problem(agreement):
    """The agreement was priced again: its recorded problem is over."""
    if agreement.billing_problem:
        Agreement.objects.filter(pk=agreement.pk).update(
            billing_problem="", billing_problem_since=None
        )
        agreement.billing_problem = ""


# The daily jobs ---------------------------------------------------------------------------


def _due(today: dt.date) -> dict:
    """{month: [agreement ids]} of the monthly invoices that may be due by ``today`` (one
    query; `due_periods` decides exactly)."""
    invoices = _non_void_invoices().filter(kind=Invoice.Kind.MONTHLY)
    signed = Q(versions__status__in=SIGNED)
    rows = (
        Agreement.objects.filter(terms__start__lte=today)
        .filter(
            Q(status__in=Agreement.LIVE)
            | Q(status__in=OVER, terms__end__gte=today - _ENDED_LOOKBACK)
        )
        .annotate(
            first_start=Min("terms__start"),
            latest_end=Max("terms__end"),
            last_period=Subquery(invoices.order_by("-period").values("period")[:1]),
            billing_day=Min("versions__billing_day", filter=signed),
            cursor=Subquery(
                _non_void_invoices().order_by("-covers_until").values("covers_until")[:1]
            ),
            has_usage=Exists(
                _billable_entries().filter(agreement=OuterRef("pk"), invoice__isnull=True)
            ),
        )
        .exclude(billing_day=None)
        .order_by("pk")
        .values_list(
            "pk",
            "status",
            "first_start",
            "latest_end",
            "last_period",
            "billing_day",
            "billed_through",
            "cursor",
            "has_usage",
        )
    )
    due = defaultdict(list)
    for pk, status, first_start, latest_end, last_period, day, billed, cursor, usage in rows:
        if status in OVER and cursor and cursor >= latest_end and not usage:
            continue  # over, every recurring day billed and no usage left: nothing more to bill
        # The earliest billing day of its versions: a superset of what `due_periods` finds.
        for period in months_due(
            first=first_month(
                last_period=last_period, billed_through=billed, first_start=first_start
            ),
            latest_end=latest_end,
            ends_on=latest_end if status in OVER else None,
            issue_date=partial(billing_date, billing_day=day, first_start=first_start),
            today=today,
        ):
            due[period].append(pk)
    return due


def _chunks(items, size):
    for index in range(0, len(items), size):
        yield items[index : index + size]


def _bring_lifecycle_up_to_date(today):
    """Renewals and endings due by ``today`` first, so the order of the daily jobs never
    changes an invoice (both are idempotent and catch-up safe)."""
    from agreements import lifecycle

    lifecycle.renew_due_agreements(today=today)  # a late request's following term first,
    lifecycle.end_due_agreements(today=today)  # then the endings it makes due


def issue_invoices(*, today: dt.date, chunk_size: int = CHUNK) -> list:
    """Daily job: issue every monthly invoice due by ``today``. Catch-up safe: after downtime
    each missed month gets its own invoice, dated its billing day, month by month so numbers
    follow the dates. One transaction per invoice; a re-run or a concurrent run issues nothing
    twice; an agreement that cannot be priced is recorded and skipped, never stops the run."""
    _bring_lifecycle_up_to_date(today)
    issued, failed = [], set()
    for period, agreement_ids in sorted(_due(today).items()):
        for chunk in _chunks([pk for pk in agreement_ids if pk not in failed], chunk_size):
            for account in load_accounts(chunk).values():
                try:
                    invoice = _issue_due(account, period=period, today=today)
                except DatabaseError:
                    raise
                except Exception as error:  # noqa: BLE001 - one agreement never stops the run
                    logger.exception("Agreement %s could not be invoiced", account.agreement.pk)
                    failed.add(account.agreement.pk)
                    record_billing_problem(account.agreement, error)
                    continue
                if invoice is not None:
                    issued.append(invoice)
    return issued


def _issue_due(account, *, period, today):
    if period not in due_periods(account, today=today):
        return None  # issued meanwhile by another worker, or not due for this agreement
    plan = plan_monthly(account, period=period)
    if not plan.charges:
        _clear_billing_problem(account.agreement)  # it could be priced: nothing was owed
        return None  # nothing to bill this month (no visit, no usage): no empty invoice
    return _store(account, plan)  # None: another worker has (or had) this agreement


def issue_due_invoices(agreement, *, today: dt.date) -> list:
    """Issue one agreement's monthly invoices due by ``today`` (before a final invoice)."""
    account = load_accounts([agreement.pk]).get(agreement.pk)
    issued = []
    for period in due_periods(account, today=today) if account else []:
        account = load_accounts([agreement.pk])[agreement.pk]  # what the last one billed
        invoice = _issue_due(account, period=period, today=today)
        issued += [invoice] if invoice else []
    return issued


def issue_invoice(agreement, *, period: dt.date, today: dt.date) -> Invoice:
    """Issue one agreement's invoice for one month (and refuse plainly when it is not due)."""
    period = month_start(period)
    account = load_accounts([agreement.pk]).get(agreement.pk)
    if account is None or agreement.status not in BILLED_STATUSES:
        raise ValidationError("Only a signed agreement is invoiced.")
    due = due_periods(account, today=today)
    if period not in due:
        if account.last_period and period <= account.last_period:
            raise ValidationError(
                "%(month)s is already invoiced.", params={"month": f"{period:%B %Y}"}
            )
        raise ValidationError(
            "The invoice for %(month)s is not due on %(today)s.",
            params={"month": f"{period:%B %Y}", "today": f"{today:%B %-d, %Y}"},
        )
    for earlier in due[: due.index(period)]:
        if plan_monthly(account, period=earlier).charges:
            raise ValidationError(
                "Issue the invoice for %(month)s first.", params={"month": f"{earlier:%B %Y}"}
            )
    plan = plan_monthly(account, period=period)
    if not plan.charges:
        raise ValidationError(
            "There is nothing to bill for %(month)s.", params={"month": f"{period:%B %Y}"}
        )
    invoice = _store(account, plan)
    if invoice is None:
        raise ValidationError("Another run is invoicing this agreement right now.")
    return invoice


def mark_overdue(*, today: dt.date) -> int:
    """Daily job: issued invoices past their due date become overdue. One conditional UPDATE,
    so a re-run or a second worker changes nothing twice. (A credit is never overdue.)"""
    return Invoice.objects.filter(
        status=Invoice.Status.ISSUED, due_on__lt=today, total__gt=0
    ).update(status=Invoice.Status.OVERDUE)


# Commitment and early termination ---------------------------------------------------------


@dataclass(frozen=True)
class Commitment:
    """What the customer owes for the recurring charges it is bound to: billed so far and
    remaining (the early-termination charge), through `binding.end`. `problem` says why the
    remaining amount could not be computed (then it is None)."""

    term: Term
    billed: Decimal
    remaining: Decimal | None
    is_live: bool
    binding: Binding | None = None
    problem: str = ""

    @property
    def total(self) -> Decimal | None:
        return None if self.remaining is None else self.billed + self.remaining


def _term_for(terms, today):
    return term_on(terms, today) or (terms[0] if today < terms[0].start else terms[-1])


def commitment(agreement, *, today: dt.date) -> Commitment | None:
    """The commitment from the term in force on ``today`` (None before the first term)."""
    account = load_accounts([agreement.pk]).get(agreement.pk)
    if account is None:
        return None
    term = _term_for(account.terms, today)
    live = agreement.is_live
    bound = binding(account, today=today) if live else None
    term_ids = [t.pk for t in account.terms if t.start >= term.start]
    billed = (
        InvoiceLine.objects.filter(term_id__in=term_ids, kind__in=InvoiceLine.RECURRING)
        .exclude(invoice__status=Invoice.Status.VOID)
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    if not live:
        return Commitment(term=term, billed=billed, remaining=ZERO, is_live=False)
    start = max(account.cursor, term.start)
    try:
        charges = account.recurring(start=start, end=bound.end, known_on=today, terms=bound.terms)
    except Exception as error:  # noqa: BLE001 - a page shows the problem, never a 500
        return Commitment(term, billed, None, True, bound, str(error) or "cannot be priced")
    return Commitment(term, billed, totals(charges)[2], True, bound)


def early_termination_amount(agreement, *, today: dt.date) -> Decimal:
    """The early-termination charge: the recurring charges bound and not billed yet."""
    found = commitment(agreement, today=today)
    return found.remaining if found and found.is_live and found.remaining else ZERO


def _final_account(agreement, *, today):
    if not agreement.is_live:
        raise ValidationError("Only an active or ending agreement can be terminated early.")
    account = load_accounts([agreement.pk]).get(agreement.pk)
    if account is None:
        raise ValidationError("This agreement has no term yet, so nothing is owed.")
    return account


def _plan_final(account, *, today):
    try:
        return plan_final(account, today=today)
    except (LookupError, ArithmeticError, ValueError) as error:
        raise ValidationError(f"This agreement cannot be priced: {error}") from error


def final_invoice_preview(agreement, *, today: dt.date) -> Plan:
    """What terminating early today would invoice: the months due not issued yet, then the rest
    of what the customer is bound to and the usage to date (one plan, for the page)."""
    account = _final_account(agreement, today=today)
    charges, entry_ids = [], []
    for period in due_periods(account, today=today):
        monthly = plan_monthly(account, period=period)
        charges += monthly.charges
        entry_ids += monthly.entry_ids
        _advance(account, monthly)
    final = _plan_final(account, today=today)
    return dataclasses.replace(
        final, charges=charges + final.charges, entry_ids=entry_ids + final.entry_ids
    )


def issue_final_invoice(agreement, *, today: dt.date) -> Invoice | None:
    """The final invoice of an early termination; the caller holds the agreement's row lock.
    The monthly invoices due by today are issued first, so a catch-up gives the same invoices
    as daily runs. None when nothing is left to bill."""
    issue_due_invoices(agreement, today=today)
    account = _final_account(agreement, today=today)
    plan = _plan_final(account, today=today)
    if not plan.charges:
        return None
    invoice = _store(account, plan, skip_locked=False)
    if invoice is None:
        raise ValidationError("A final invoice was already issued for this agreement.")
    return invoice

"""One agreement's billing as invoicing sees it: the `Account` (DESIGN.md, "Billing over a
whole life") and which months are due.

- `load_accounts` reads the inputs of a chunk of agreements set-based, in a fixed number of
  queries whatever the chunk's size: terms, signed versions (`Version`: in force from its
  completion date, known to invoices issued from the day after), their lines and which service
  each continues (`root`), schedule changes, the usage not billed yet and what was billed. The
  many rows come as light rows (`Line`, `Entry`: the fields billing uses), the snapshots as JSON
  decoded once per distinct text; `account_of` turns a page's prefetched lines into the same
  rows.
- An `Account` prices what is owed as known on a day: the recurring charges of a date range, each
  service priced by the version in force each day (`pricing.merged_rates`: what existed keeps the
  term's locked rates), maintenance per visit its rule puts in the stretch; the reversals and
  re-billed lines of months a later-known version or schedule change affects; and the usage
  (emergency hours, overage beyond the block) in arrears.
- `billing_date`, `first_month`, `months_due` and `due_periods` say which monthly invoices are
  due by a day.

The charges of a stretch are charges.py's; the money of each line rules.py's; planning, storing
and the daily run invoicing.py's.
"""

import dataclasses
import datetime as dt
import functools
import json
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.db.models import Max, OuterRef, Q, Sum, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from agreements.models import Agreement, AgreementVersion, ServiceKind, ServiceLine, Term
from scheduling import recurrence
from scheduling.models import ScheduleChange
from scheduling.planning import Segment, segments

from .charges import (
    Charge,
    Stretch,
    after_hours_charge,
    emergency_charge,
    included_hours,
    month_start,
    next_month,
    overage_charge,
    recurring_charges,
    stretches,
    term_on,
)
from .models import Invoice, InvoiceLine, TimeEntry
from .pricing import hosting_price, merged_rates, snapshot_rate
from .rules import ZERO, discount_percent, totals

BILLABLE_KINDS = (ServiceKind.PRESCHEDULED, ServiceKind.EMERGENCY)
SIGNED = (AgreementVersion.Status.SIGNED, AgreementVersion.Status.SUPERSEDED)


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


class Line(NamedTuple):
    """A service line as billing reads it: only the fields billing uses (a row, not a model
    instance: a chunk reads tens of thousands of them, and building model instances cost more
    than the query)."""

    pk: int
    version_id: int
    replaces_id: int | None
    kind: str
    labor_rate: str
    hours_per_visit: Decimal | None
    hours_per_month: Decimal | None
    rrule: str
    start_time: dt.time | None
    duration_minutes: int | None
    package_name: str
    quantity: int

    @classmethod
    def of(cls, line) -> "Line":
        """The row of a `ServiceLine` instance (one a page already read)."""
        return cls._make(getattr(line, name) for name in cls._fields)


class Entry(NamedTuple):
    """A time entry not billed yet, as billing reads it; ``line`` is its `Line` (None: a
    request without an Emergency Support line, or a line on no signed version)."""

    pk: int
    agreement_id: int
    line_id: int | None
    emergency_request_id: int | None
    work_date: dt.date
    hours: Decimal
    after_hours: bool
    line: Line | None

    @property
    def is_emergency(self) -> bool:
        """Billed as emergency hours: on a request or on the Emergency Support line (as
        `TimeEntry.is_emergency`)."""
        return self.emergency_request_id is not None or (
            self.line is not None and self.line.kind == ServiceKind.EMERGENCY
        )


def _line_rows(lines) -> list[Line]:
    """These lines (a ServiceLine query) as `Line` rows."""
    return [Line._make(row) for row in lines.values_list(*Line._fields)]


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
    entries: list  # `Entry` rows: time entries not billed yet (prescheduled and emergency)
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
    _stretches: dict = field(default_factory=dict)

    @property
    def first_start(self):
        return self.terms[0].start

    @property
    def latest_end(self):
        return self.terms[-1].end

    @functools.cached_property
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
        if len(self.versions) == 1:  # most agreements: never amended
            return self.versions[0]
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
        # service (root line id) → [[start, end, line, rates, signature], ...]
        runs: dict[int, list[list]] = {}
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
            dates: list[dt.date] = []
            if line.rrule and line.start_time and line.duration_minutes:
                known = [c for c in self.changes.get(line.pk, []) if c.known_from <= known_on]
                found = (
                    segments(line, known, start=term.start, end=term.end)
                    if known
                    else [_whole_term(line, term)]
                )
                for segment in found:
                    dates += _local_dates(
                        segment.rrule,
                        start_time=segment.start_time,
                        duration_minutes=segment.duration_minutes,
                        time_zone=self.agreement.time_zone,
                        start=segment.start,
                        end=segment.end,
                    )
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
        if day not in self._stretches:
            earlier = [term for term in self.terms if term.start <= day]
            term = term_on(self.terms, day) or (earlier[-1] if earlier else self.terms[0])
            start, end = max(month_start(day), term.start), min(next_month(day), term.end)
            self._stretches[day] = Stretch(term, start, end)
        return self._stretches[day]

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
        hours: defaultdict[tuple[int, Stretch, bool], Decimal] = defaultdict(Decimal)
        lines, ids = {}, []
        for entry in self.entries:
            if entry.work_date < before:
                service = self.root.get(entry.line_id, entry.line_id)
                # After-hours emergency hours: a line of their own, at the after-hours rate.
                after = entry.after_hours and entry.is_emergency
                key = (service, self.stretch_of(entry.work_date), after)
                hours[key] += entry.hours
                lines[service] = entry.line  # None: a request without an ES line
                ids.append(entry.pk)
        charges = []
        for (service, stretch, after), worked in sorted(hours.items(), key=_usage_order(lines)):
            line = lines[service]
            version = self.version_on(stretch.start, known_on=known_on)
            rates = self.rates(stretch.term, version)
            if _is_emergency(line):
                price = after_hours_charge if after else emergency_charge
                charges.append(price(stretch, line, worked, rates=rates))
            else:
                block = (service, stretch.start)
                charge = overage_charge(
                    stretch,
                    line,
                    used=worked + self.used[block],
                    already_billed=self.overage[block],
                    included=self._block(stretch, service, known_on),
                    rates=rates,
                )
                charges += [charge] if charge else []
        return charges, ids


def _whole_term(line, term) -> Segment:
    """The one segment of a line without schedule changes: its own rule over the whole term
    (what `segments` gives it, without its work for the thousands of lines of a run)."""
    return Segment(0, line.rrule, line.start_time, line.duration_minutes, term.start, term.end)


@functools.lru_cache(maxsize=4096)
def _local_dates(rule, *, start_time, duration_minutes, time_zone, start, end) -> tuple:
    """The local dates of a rule's occurrences in [start, end). Pure, and the same rule, hour
    and term dates recur across agreements: a run works each one out once."""
    zone = zoneinfo.ZoneInfo(time_zone)
    found = recurrence.occurrences(
        rule,
        start_time=start_time,
        duration_minutes=duration_minutes,
        tz=time_zone,
        start=start,
        end=end,
    )
    return tuple(starts_at.astimezone(zone).date() for starts_at, _ in found)


def _reversal(line) -> Charge:
    """A billed line taken back, figure by figure (so it reconciles like the original)."""
    return Charge(
        kind=line.kind,
        description=f"Reversal of invoice {line.invoice.number}: {line.description}"[:300],
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
        (service, stretch, after), _ = item
        return stretch.start, not _is_emergency(lines[service]), after, service or 0

    return key


def _is_emergency(line) -> bool:
    """Usage on the Emergency Support line, or on a request that has no line."""
    return line is None or line.kind == ServiceKind.EMERGENCY


def billable_entries():
    """Time billed on the monthly invoice: prescheduled and emergency hours."""
    return TimeEntry.objects.filter(
        Q(line__kind__in=BILLABLE_KINDS) | Q(emergency_request__isnull=False)
    )


def non_void_invoices():
    """The agreement's own billing (monthly and final invoices), not void."""
    return Invoice.objects.not_void().filter(
        agreement=OuterRef("pk"), kind__in=Invoice.AGREEMENT_KINDS
    )


def _version_rows(agreement_ids) -> list:
    rows = (
        AgreementVersion.objects.filter(agreement_id__any=agreement_ids, status__in=SIGNED)
        .order_by("agreement_id", "number")
        .values_list(*VERSION_FIELDS[:-1], Cast("rates_snapshot", TextField()))
    )
    return [(*row[:-1], rates_json(row[-1])) for row in rows]


@functools.lru_cache(maxsize=256)
def rates_json(text: str | None) -> Any:
    """A rates snapshot read as JSON text, decoded once per distinct text: the agreements of a
    chunk share a few snapshots (one per rate card), and decoding 10,000 copies of them cost
    more than the query. The dict is shared: billing reads snapshots, never changes them."""
    return None if text is None else json.loads(text)


VERSION_FIELDS = (
    "pk",
    "agreement_id",
    "number",
    "completed_at",
    "billing_day",
    "payment_terms_days",
    "rates_snapshot",
)


def _versions(rows, tzs) -> dict:
    """agreement id → its signed versions (superseded ones too), oldest first, from rows of
    `VERSION_FIELDS` in that order."""
    found: defaultdict[int, list] = defaultdict(list)
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


# What an account needs of an agreement's invoices not void: mark → (the invoice field whose
# newest value it is, the kind of invoice it looks at, None: any).
_MARKS = {
    "cursor": ("covers_until", None),
    "last_period": ("period", Invoice.Kind.MONTHLY),
    "last_invoice_id": ("id", None),
    "last_issued_on": ("issued_on", None),
    "final_usage_until": ("usage_until", Invoice.Kind.FINAL),
}


def invoice_marks() -> dict:
    """Where billing stands (`_MARKS`), as aggregates of the agreement's invoices not void: one
    join and a GROUP BY, for a read of agreements that joins nothing else to many rows (the
    chunks of `load_accounts`, an agreement's page with its customer). Cheaper to build and to
    run than one subquery per mark; the fields are never null, so the newest value is the
    maximum."""
    not_void = ~Q(invoices__status=Invoice.Status.VOID) & Q(
        invoices__kind__in=Invoice.AGREEMENT_KINDS
    )
    return {
        name: Max(
            f"invoices__{field}", filter=not_void & Q(invoices__kind=kind) if kind else not_void
        )
        for name, (field, kind) in _MARKS.items()
    }


def load_accounts(agreement_ids) -> dict:
    """The billing inputs of these agreements (those with a signed term), in a fixed number of
    queries."""
    agreements = list(
        Agreement.objects.filter(pk__any=agreement_ids)
        .select_related("customer")
        .order_by("pk")
        .annotate(**invoice_marks())
    )
    terms = defaultdict(list)
    found = (
        Term.objects.filter(agreement_id__any=agreement_ids)
        .defer("locked_rates")  # read as text, decoded once per distinct snapshot
        .annotate(locked_text=Cast("locked_rates", TextField()))
        .order_by("start")
    )
    for term in found:
        term.locked_rates = rates_json(term.locked_text)
        terms[term.agreement_id].append(term)
    versions = _versions(_version_rows(agreement_ids), {a.pk: a.tz for a in agreements})
    line_versions = {v.pk for found in versions.values() for v in found}
    all_lines = _line_rows(
        ServiceLine.objects.filter(version_id__any=line_versions).order_by("position", "id")
    )
    return _accounts(agreements, terms, versions, all_lines)


def account_of(agreement) -> Account | None:
    """One agreement's account built from what its page already read: the agreement annotated
    with `invoice_marks()`, its terms and its versions with their lines prefetched. Only the
    schedule changes are read, not the usage nor the billed lines (``entries`` and ``billed``
    stay empty): enough for the recurring charges and the commitment, not for an invoice (that
    is `load_accounts`'). An agreement read with ``has_schedule_changes`` false (the page's
    read, `agreements.pages`) has none, and they are not read either."""
    terms = {agreement.pk: sorted(agreement.terms.all(), key=lambda term: term.start)}
    signed = sorted(
        (v for v in agreement.versions.all() if v.status in SIGNED), key=lambda v: v.number
    )
    rows = [tuple(getattr(v, name) for name in VERSION_FIELDS) for v in signed]
    versions = _versions(rows, {agreement.pk: agreement.tz})
    all_lines = [Line.of(line) for version in signed for line in version.lines.all()]
    read_changes = getattr(agreement, "has_schedule_changes", True)
    accounts = _accounts(
        [agreement], terms, versions, all_lines, usage=False, read_changes=read_changes
    )
    return accounts.get(agreement.pk)


def _accounts(agreements, terms, versions, all_lines, *, usage=True, read_changes=True) -> dict:
    lines = defaultdict(list)
    parent = {line.pk: line.replaces_id for line in all_lines}
    root = {}
    for line in all_lines:
        lines[line.version_id].append(line)
        service, seen = line.pk, set()
        while (up := parent.get(service)) and service not in seen:
            seen.add(service)
            service = up
        root[line.pk] = service
    changes = defaultdict(list)
    tz_of_line = {}
    for agreement in agreements:
        for version in versions[agreement.pk]:
            for line in lines[version.pk]:
                tz_of_line[line.pk] = agreement.tz
    line_versions = {line.version_id for line in all_lines}
    known: Any  # a ScheduleChange that also carries `known_from`, the day invoices learn of it
    found = ScheduleChange.objects.filter(line__version_id__any=line_versions).order_by(
        "effective_from", "series"
    )
    for known in found if read_changes else ():
        created = timezone.localdate(known.created_at, tz_of_line[known.line_id])
        known.known_from = created + dt.timedelta(days=1)
        changes[known.line_id].append(known)
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
    if accounts and usage:
        _load_usage(accounts, {line.pk: line for line in all_lines})
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
        invoice__agreement_id__any=[
            pk for pk, account in accounts.items() if account.last_issued_on
        ],
        kind__in=InvoiceLine.RECURRING,
        service_start__gte=month_start(min(since)),
    ).exclude(invoice__status=Invoice.Status.VOID)
    for line in rows.select_related("invoice").order_by("invoice__issued_on", "position", "pk"):
        account = accounts[line.invoice.agreement_id]
        service = account.root.get(line.service_line_id, line.service_line_id)
        account.billed[(month_start(line.service_start), service)].append(line)


def _load_usage(accounts, lines):
    # Prescheduled and emergency hours, those of emergency requests included (a request of a
    # customer without an Emergency Support line has no line: its hours are emergency hours at
    # the term's emergency rate all the same). Project time has no agreement: never billed here.
    # Nothing on or before `billed_through`: the previous system billed it.
    rows = list(
        billable_entries()
        .filter(agreement_id__any=list(accounts), invoice__isnull=True)
        .order_by("work_date", "pk")
        .values_list(*Entry._fields[:-1])
    )
    # Each entry's line is one of the lines read already (not a copy per entry), unless it is
    # on no signed version.
    missing = {row[2] for row in rows if row[2] not in lines} - {None}
    if missing:
        found = _line_rows(ServiceLine.objects.filter(pk__in=missing))
        lines = {**lines, **{line.pk: line for line in found}}
    since = None
    for row in rows:
        entry = Entry._make((*row, lines.get(row[2])))
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
        agreement_id__any=list(accounts),
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
            invoice__agreement_id__any=list(accounts),
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


# Which months are due -----------------------------------------------------------------------


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

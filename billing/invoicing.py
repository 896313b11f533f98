"""Invoicing workflows: the monthly invoices (the daily job), the final invoice of an early
termination, the commitment of a term and overdue invoices. (Time entries: timesheets.py; the
PDF, the email and the CSV export: documents.py.)

Reading is set-based: the inputs of a chunk of agreements (terms, Exhibit B lines, visits, time
entries, what was billed before) come in a fixed number of queries whatever the chunk's size, and
the pure functions of `billing.charges` price them. Writing is one short transaction per invoice:
it locks the agreement row, checks that nothing was issued meanwhile, takes the next number and
stores the invoice with its lines. The unique constraints on invoices are the last word: a re-run
or a second worker never issues a month twice.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Min, OuterRef, Q, Subquery, Sum

from agreements.models import Agreement, AgreementVersion, ServiceKind, ServiceLine, Term
from scheduling.models import Visit

from .charges import (
    ZERO,
    Stretch,
    emergency_charge,
    month_start,
    next_month,
    overage_charge,
    recurring_charges,
    stretches,
    term_on,
    totals,
)
from .models import Invoice, InvoiceLine, InvoiceSequence, TimeEntry, invoice_number

LIVE = (Agreement.Status.ACTIVE, Agreement.Status.ENDING)
BILLABLE_KINDS = (ServiceKind.PRESCHEDULED, ServiceKind.EMERGENCY)
CHUNK = 500


# What one agreement's billing needs, loaded set-based --------------------------------------


@dataclass
class Account:
    """One agreement's billing inputs. `cursor` is the first day whose recurring charges are not
    billed yet; `used` and `overage` are the prescheduled hours and the overage already billed,
    by (line id, stretch start)."""

    agreement: Agreement
    billing_day: int
    payment_terms_days: int
    terms: list
    lines: dict
    visits: list  # (term id, line id, local date) of maintenance visits that are not cancelled
    entries: list  # time entries not billed yet (prescheduled and emergency)
    cursor: dt.date
    last_period: dt.date | None
    last_invoice_id: int | None
    used: dict = field(default_factory=lambda: defaultdict(Decimal))
    overage: dict = field(default_factory=lambda: defaultdict(Decimal))

    @property
    def first_start(self):
        return self.terms[0].start

    @property
    def latest_end(self):
        return self.terms[-1].end

    def recurring(self, *, start, end) -> list:
        """The recurring charges of [start, end), stretch by stretch, at each term's rates."""
        charges = []
        for stretch in stretches(self.terms, start=start, end=end):
            counts = defaultdict(int)
            for term_id, line_id, day in self.visits:
                if term_id == stretch.term.pk and stretch.start <= day < stretch.end:
                    counts[line_id] += 1
            charges += recurring_charges(stretch, self.lines[stretch.term.version_id], counts)
        return charges

    def stretch_of(self, day) -> Stretch:
        """The stretch (month inside a term) a day of usage belongs to."""
        earlier = [term for term in self.terms if term.start <= day]
        term = term_on(self.terms, day) or (earlier[-1] if earlier else self.terms[0])
        return Stretch(term, max(month_start(day), term.start), min(next_month(day), term.end))

    def usage(self, *, before) -> tuple[list, list]:
        """(charges, time entry ids) of the usage not billed yet dated before ``before``."""
        hours, lines, ids = defaultdict(Decimal), {}, []
        for entry in self.entries:
            if entry.work_date < before:
                key = (entry.line_id, self.stretch_of(entry.work_date))
                hours[key] += entry.hours
                lines[entry.line_id] = entry.line  # None: a request without an ES line
                ids.append(entry.pk)
        charges = []
        for (line_id, stretch), worked in sorted(hours.items(), key=_usage_order(lines)):
            line = lines[line_id]
            if _is_emergency(line):
                charges.append(emergency_charge(stretch, line, worked))
            else:
                key = (line_id, stretch.start)
                charge = overage_charge(
                    stretch,
                    line,
                    used=worked + self.used[key],
                    already_billed=self.overage[key],
                )
                charges += [charge] if charge else []
        return charges, ids


def _usage_order(lines):
    # By month, emergency hours before the overage of the same month.
    def key(item):
        (line_id, stretch), _ = item
        return stretch.start, not _is_emergency(lines[line_id]), line_id or 0

    return key


def _is_emergency(line) -> bool:
    """Usage on the Emergency Support line, or on a request that has no line."""
    return line is None or line.kind == ServiceKind.EMERGENCY


def _non_void_invoices():
    return Invoice.objects.not_void().filter(agreement=OuterRef("pk"))


def _versions_in_force(agreement_ids):
    """agreement id → (billing day, payment terms days) of its latest signed version."""
    found = {}
    for row in (
        AgreementVersion.objects.filter(
            agreement_id__in=agreement_ids, status=AgreementVersion.Status.SIGNED
        )
        .order_by("agreement_id", "number")
        .values_list("agreement_id", "billing_day", "payment_terms_days")
    ):
        found[row[0]] = row[1:]
    return found


def _local_midnight(day, tz_name="America/New_York"):
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(tz_name))


def load_accounts(agreement_ids, *, until: dt.date) -> dict:
    """The billing inputs of these agreements (those with a signed term), in a fixed number of
    queries; visits are loaded up to ``until``."""
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
        )
    )
    terms = defaultdict(list)
    for term in Term.objects.filter(agreement_id__in=agreement_ids).order_by("start"):
        terms[term.agreement_id].append(term)
    lines = defaultdict(list)
    for line in ServiceLine.objects.filter(
        version_id__in={term.version_id for found in terms.values() for term in found}
    ).order_by("position", "id"):
        lines[line.version_id].append(line)
    versions = _versions_in_force(agreement_ids)
    accounts = {}
    for agreement in agreements:
        if not terms[agreement.pk] or agreement.pk not in versions:
            continue
        billing_day, payment_terms = versions[agreement.pk]
        accounts[agreement.pk] = Account(
            agreement=agreement,
            billing_day=billing_day,
            payment_terms_days=payment_terms,
            terms=terms[agreement.pk],
            lines=lines,
            visits=[],
            entries=[],
            cursor=agreement.cursor or terms[agreement.pk][0].start,
            last_period=agreement.last_period,
            last_invoice_id=agreement.last_invoice_id,
        )
    if accounts:
        _load_visits(accounts, until=until)
        _load_usage(accounts)
    return accounts


def _load_visits(accounts, *, until):
    # A visit counts in the month its rule put it (occurrence_start): a move does not bill twice.
    low = min(account.cursor for account in accounts.values()) - dt.timedelta(days=1)
    visits = (
        Visit.objects.filter(
            agreement_id__in=list(accounts),
            line__kind=ServiceKind.MAINTENANCE,
            occurrence_start__gte=_local_midnight(low),
            occurrence_start__lt=_local_midnight(until + dt.timedelta(days=1)),
        )
        .exclude(status=Visit.Status.CANCELLED)
        .values_list("agreement_id", "term_id", "line_id", "occurrence_start")
    )
    for agreement_id, term_id, line_id, starts_at in visits:
        account = accounts[agreement_id]
        day = starts_at.astimezone(account.agreement.tz).date()
        account.visits.append((term_id, line_id, day))


def _load_usage(accounts):
    # Prescheduled and emergency hours, those of emergency requests included (a request of a
    # customer without an Emergency Support line has no line: its hours are emergency hours at
    # the term's emergency rate all the same). Project time has no agreement: never billed here.
    entries = (
        TimeEntry.objects.filter(agreement_id__in=list(accounts), invoice__isnull=True)
        .filter(Q(line__kind__in=BILLABLE_KINDS) | Q(emergency_request__isnull=False))
        .select_related("line")
    )
    since = None
    for entry in entries.order_by("work_date", "pk"):
        accounts[entry.agreement_id].entries.append(entry)
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
        account.used[(line_id, account.stretch_of(day).start)] += hours
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
        accounts[agreement_id].overage[(line_id, start)] += hours


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


def issue_date(account, period: dt.date) -> dt.date:
    return billing_date(period, billing_day=account.billing_day, first_start=account.first_start)


def due_months(*, first_start, latest_end, billing_day, last_period, today) -> list:
    """The months (first days) whose invoice is due by ``today`` and not issued yet, in order:
    after the last one invoiced, covered by a term that exists, billing day come."""
    period = next_month(last_period) if last_period else month_start(first_start)
    due = []
    while (
        period < latest_end
        and billing_date(period, billing_day=billing_day, first_start=first_start) <= today
    ):
        due.append(period)
        period = next_month(period)
    return due


def due_periods(account, *, today: dt.date) -> list:
    return due_months(
        first_start=account.first_start,
        latest_end=account.latest_end,
        billing_day=account.billing_day,
        last_period=account.last_period,
        today=today,
    )


def _plan(account, *, kind, period, issued_on, covers_until, usage_until) -> Plan:
    covers_until = max(covers_until, account.cursor)
    usage, entry_ids = account.usage(before=usage_until)
    return Plan(
        kind=kind,
        period=period,
        issued_on=issued_on,
        due_on=issued_on + dt.timedelta(days=account.payment_terms_days),
        charges=account.recurring(start=account.cursor, end=covers_until) + usage,
        covers_from=account.cursor,
        covers_until=covers_until,
        usage_until=usage_until,
        entry_ids=entry_ids,
    )


def plan_monthly(account, *, period: dt.date) -> Plan:
    """The month in advance (and any earlier days not billed yet, e.g. the first days of a term
    that started after the previous invoice), with the usage of earlier months in arrears."""
    return _plan(
        account,
        kind=Invoice.Kind.MONTHLY,
        period=period,
        issued_on=issue_date(account, period),
        covers_until=min(next_month(period), account.latest_end),
        usage_until=period,
    )


def plan_final(account, *, today: dt.date) -> Plan:
    """Early termination: every recurring charge left in the term, and all usage to date."""
    return _plan(
        account,
        kind=Invoice.Kind.FINAL,
        period=month_start(today),
        issued_on=today,
        covers_until=account.latest_end,
        usage_until=today + dt.timedelta(days=1),
    )


# Storing an invoice: one transaction ------------------------------------------------------


def _store(account, plan, *, skip_locked=True) -> Invoice | None:
    """Store a planned invoice, unless the agreement is locked by another worker, is no longer
    live, or got an invoice since it was loaded (then None: nothing is issued twice)."""
    agreement = account.agreement
    last_invoice = _non_void_invoices().order_by("-pk").values("pk")[:1]
    try:
        with transaction.atomic():
            row = (
                Agreement.objects.select_for_update(skip_locked=skip_locked, of=("self",))
                .filter(pk=agreement.pk, status__in=LIVE)
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
                payment_terms_days=account.payment_terms_days,
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
            transaction.on_commit(partial(queue_invoice_email, invoice.pk))
    except IntegrityError:
        if _already_issued(agreement, plan):
            return None  # the unique constraint: another worker issued it a moment ago
        raise
    return invoice


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


# The daily jobs ---------------------------------------------------------------------------


def _due(today: dt.date) -> dict:
    """{month: [agreement ids]} of the monthly invoices due by ``today`` (one query)."""
    invoices = _non_void_invoices().filter(kind=Invoice.Kind.MONTHLY)
    billing_day = (
        AgreementVersion.objects.filter(
            agreement=OuterRef("pk"), status=AgreementVersion.Status.SIGNED
        )
        .order_by("-number")
        .values("billing_day")[:1]
    )
    rows = (
        Agreement.objects.filter(status__in=LIVE, terms__start__lte=today)
        .annotate(
            first_start=Min("terms__start"),
            latest_end=Max("terms__end"),
            last_period=Subquery(invoices.order_by("-period").values("period")[:1]),
            billing_day=Subquery(billing_day),
        )
        .exclude(billing_day=None)
        .order_by("pk")
        .values_list("pk", "first_start", "latest_end", "last_period", "billing_day")
    )
    due = defaultdict(list)
    for pk, first_start, latest_end, last_period, day in rows:
        for period in due_months(
            first_start=first_start,
            latest_end=latest_end,
            billing_day=day,
            last_period=last_period,
            today=today,
        ):
            due[period].append(pk)
    return due


def _chunks(items, size):
    for index in range(0, len(items), size):
        yield items[index : index + size]


def issue_invoices(*, today: dt.date, chunk_size: int = CHUNK) -> list:
    """Daily job: issue every monthly invoice due by ``today``. Catch-up safe: after downtime
    each missed month gets its own invoice, dated its billing day, month by month so numbers
    follow the dates. One transaction per invoice; a re-run or a concurrent run issues nothing
    twice."""
    issued = []
    for period, agreement_ids in sorted(_due(today).items()):
        for chunk in _chunks(agreement_ids, chunk_size):
            for account in load_accounts(chunk, until=next_month(period)).values():
                if period not in due_periods(account, today=today):
                    continue  # issued meanwhile by another worker
                plan = plan_monthly(account, period=period)
                if not plan.charges:
                    continue  # nothing to bill this month (no visit, no usage): no empty invoice
                invoice = _store(account, plan)
                if invoice is not None:  # None: another worker has (or had) this agreement
                    issued.append(invoice)
    return issued


def issue_invoice(agreement, *, period: dt.date, today: dt.date) -> Invoice:
    """Issue one agreement's invoice for one month (and refuse plainly when it is not due)."""
    period = month_start(period)
    account = load_accounts([agreement.pk], until=next_month(period)).get(agreement.pk)
    if account is None or agreement.status not in LIVE:
        raise ValidationError("Only an active agreement is invoiced.")
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
    so a re-run or a second worker changes nothing twice."""
    return Invoice.objects.filter(status=Invoice.Status.ISSUED, due_on__lt=today).update(
        status=Invoice.Status.OVERDUE
    )


# Commitment and early termination ---------------------------------------------------------


@dataclass(frozen=True)
class Commitment:
    """What the customer owes for the recurring charges of a term: billed so far and remaining
    (the early-termination charge, at the term's locked rates)."""

    term: Term
    billed: Decimal
    remaining: Decimal
    is_live: bool

    @property
    def total(self) -> Decimal:
        return self.billed + self.remaining


def _term_for(terms, today):
    return term_on(terms, today) or (terms[0] if today < terms[0].start else terms[-1])


def commitment(agreement, *, today: dt.date) -> Commitment | None:
    """The commitment of the term in force on ``today`` (None before the first term exists)."""
    terms = list(agreement.terms.order_by("start"))
    if not terms:
        return None
    term = _term_for(terms, today)
    billed = (
        InvoiceLine.objects.filter(term=term, kind__in=InvoiceLine.RECURRING)
        .exclude(invoice__status=Invoice.Status.VOID)
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    remaining, live = ZERO, agreement.status in LIVE
    if live:
        account = load_accounts([agreement.pk], until=term.end).get(agreement.pk)
        if account is not None:
            start = max(account.cursor, term.start)
            remaining = totals(account.recurring(start=start, end=term.end))[2]
    return Commitment(term=term, billed=billed, remaining=remaining, is_live=live)


def early_termination_amount(agreement, *, today: dt.date) -> Decimal:
    """The early-termination charge: the term's recurring charges not billed yet."""
    found = commitment(agreement, today=today)
    return found.remaining if found and found.is_live else ZERO


def _final(agreement, *, today):
    if agreement.status not in LIVE:
        raise ValidationError("Only an active or ending agreement can be terminated early.")
    until = agreement.terms.aggregate(end=Max("end"))["end"]
    account = load_accounts([agreement.pk], until=until or today).get(agreement.pk)
    if account is None:
        raise ValidationError("This agreement has no term yet, so nothing is owed.")
    return account, plan_final(account, today=today)


def final_invoice_preview(agreement, *, today: dt.date) -> Plan:
    """What terminating early today would invoice: the rest of the term and usage to date."""
    return _final(agreement, today=today)[1]


def issue_final_invoice(agreement, *, today: dt.date) -> Invoice | None:
    """The final invoice of an early termination; the caller holds the agreement's row lock.
    None when nothing is left to bill."""
    account, plan = _final(agreement, today=today)
    if not plan.charges:
        return None
    invoice = _store(account, plan, skip_locked=False)
    if invoice is None:
        raise ValidationError("A final invoice was already issued for this agreement.")
    return invoice

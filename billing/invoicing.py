"""Invoicing: planning an invoice from an `Account` (accounts.py), storing it, and the daily jobs
that issue the monthly invoices and mark the overdue ones. (What an agreement owes and which
months are due: accounts.py; the commitment and the final invoice of an early termination:
closing.py; time entries: timesheets.py; the PDF, the email and the CSV export: documents.py;
the charges of a stretch: charges.py; the money of one line: rules.py.)

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

The daily run works month by month, and each month in chunks of `CHUNK` agreements taken in
the order of their billing dates. Reading is set-based (`accounts.load_accounts`): the inputs
of a chunk come in a fixed number of queries whatever its size, the many rows (service lines,
time entries) as light rows rather than model instances; pricing is pure Python. Writing
is one transaction per chunk (`store_invoices`), in a fixed number of statements: it locks the
chunk's agreement rows (`SELECT … FOR UPDATE SKIP LOCKED`: an agreement another worker holds is
left to it) and leaves out any that got an invoice since it was loaded; takes one block of
numbers from the counter row (one `UPDATE … RETURNING`, locked until the commit, so numbers
have no gaps), given in issue-date order so numbers follow the dates; inserts the invoices
(`bulk_create`) and their lines (one statement of rows, `_insert_lines`), marks the time
entries billed (one UPDATE) and clears the
billing problems; the emails are queued after the commit. A crash (even `kill -9`) rolls back
the chunk whole, numbers included, and a re-run issues it. The unique constraints on invoices
are the last word: if a chunk runs into one (a worker that raced), or one of its invoices cannot
be stored, the chunk is stored again invoice by invoice (`store_invoice`, also what issuing one
agreement's invoice and the final invoice use), so nothing is lost and one agreement's problem
is recorded on it alone. (SQLite has no row locks: its write lock on the whole database, taken
when a transaction begins, serializes the workers instead.) After each commit, the credit the
invoices' customers hold is applied to them (`credits.apply_customer_credit`: one query when
none holds any).
"""

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Exists, Max, Min, OuterRef, Q, Subquery
from django.utils import timezone

from agreements.models import Agreement, AgreementEvent
from allora.batches import collector_paused
from allora.emails import send_after_commit
from allora.models import Role
from integrations import events as webhook_events

from .accounts import (
    SIGNED,
    billable_entries,
    billing_date,
    due_periods,
    first_month,
    load_accounts,
    months_due,
    non_void_invoices,
)
from .charges import month_start, next_month, term_on
from .credits import apply_customer_credit
from .models import Invoice, InvoiceLine, InvoiceSequence, TimeEntry, invoice_number
from .rules import totals

Event = AgreementEvent.Kind

logger = logging.getLogger(__name__)

OVER = (Agreement.Status.ENDED, Agreement.Status.TERMINATED)
BILLED_STATUSES = (*Agreement.LIVE, *OVER)
CHUNK = 500
# The most values one statement binds (SQLite's limit can be 32,766, PostgreSQL's is 65,535).
_MAX_PARAMS = 20_000
# An ended agreement is looked at this long after its end for the months it still owes.
_ENDED_LOOKBACK = dt.timedelta(days=400)


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


def covers_until(account, *, period, issued_on) -> dt.date:
    """The end of the recurring charges an invoice bills in advance: the month, within the term
    its billing day falls in (never a term that starts after it was issued)."""
    term = term_on(account.terms, issued_on)
    end = term.end if term else account.latest_end
    return max(account.cursor, min(next_month(period), end))


def plan_invoice(account, *, kind, period, issued_on, until, usage_until, terms=None) -> Plan:
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
    return plan_invoice(
        account,
        kind=Invoice.Kind.MONTHLY,
        period=period,
        issued_on=issued_on,
        until=covers_until(account, period=period, issued_on=issued_on),
        usage_until=period,
    )


# Storing invoices: one transaction for a chunk --------------------------------------------


def store_invoice(account, plan, *, skip_locked=True) -> Invoice | None:
    """Store one planned invoice, unless the agreement is locked by another worker or got an
    invoice since it was loaded (then None: nothing is issued twice)."""
    try:
        stored = store_invoices([(account, plan)], skip_locked=skip_locked)
    except IntegrityError:
        if _already_issued(account.agreement, plan):
            return None  # the unique constraint: another worker issued it a moment ago
        raise
    return stored[0] if stored else None


def store_invoices(planned, *, skip_locked=True) -> list:
    """Store planned invoices, (account, plan) pairs of distinct agreements, in one transaction
    and a fixed number of statements: lock the agreements' rows, leave out those another worker
    holds or that got an invoice since they were loaded, take one block of numbers (given in
    issue-date order, so numbers follow the dates), insert the invoices, then their lines, mark
    their time entries billed, clear their billing problems. The emails are queued after the
    commit. The unique constraints on invoices are the last word (an IntegrityError)."""
    if not planned:
        return []
    planned = sorted(planned, key=_number_order)
    if len({account.agreement.pk for account, _ in planned}) != len(planned):
        raise ValueError("One transaction stores at most one invoice per agreement.")
    with transaction.atomic():
        unchanged = _lock_unchanged(planned, skip_locked=skip_locked)
        planned = [
            (account, plan) for account, plan in planned if account.agreement.pk in unchanged
        ]
        if not planned:
            return []
        first = InvoiceSequence.take(len(planned))
        invoices = _insert_invoices(
            [
                _invoice(account, plan, number=invoice_number(first + offset))
                for offset, (account, plan) in enumerate(planned)
            ]
        )
        stored = list(zip(invoices, planned, strict=True))
        _insert_lines(
            [row for invoice, (_, plan) in stored for row in _line_rows(invoice, plan.charges)]
        )
        _mark_billed([(invoice, plan.entry_ids) for invoice, (_, plan) in stored])
        _clear_billing_problems([account.agreement for account, _ in planned])
        webhook_events.invoices_issued(invoices, now=timezone.now())
        for invoice in invoices:
            transaction.on_commit(partial(queue_invoice_email, invoice.pk))
    apply_customer_credit(invoices, today=min(plan.issued_on for _, plan in planned))
    for invoice, (account, plan) in stored:
        account.last_invoice_id = invoice.pk
        advance(account, plan)
    return invoices


def _insert_invoices(invoices) -> list:
    """Insert new invoices in one statement and give them their ids. On PostgreSQL each column
    goes as one array (`unnest`, one parameter per column: the driver binds the tens of
    thousands of separate values of a multi-row INSERT slowly, and `bulk_create` prepares each
    value through its field), and the ids come back with the numbers (unique), so nothing rests
    on the order of RETURNING. (Invoice has no auto_now field: the values are the attributes.)
    Elsewhere `bulk_create`."""
    if connection.vendor != "postgresql":
        return Invoice.objects.bulk_create(invoices)
    fields = [field for field in Invoice._meta.concrete_fields if not field.primary_key]
    table = connection.ops.quote_name(Invoice._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
    number = connection.ops.quote_name(Invoice._meta.get_field("number").column)
    sql = (
        f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) "  # noqa: S608 -- no user input
        f"RETURNING {connection.ops.quote_name(Invoice._meta.pk.column)}, {number}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [[getattr(i, field.attname) for i in invoices] for field in fields])
        ids = {number: pk for pk, number in cursor.fetchall()}
    for invoice in invoices:
        invoice.pk = ids[invoice.number]
        invoice._state.adding = False
        invoice._state.db = connection.alias
    return invoices


def _number_order(pair):
    account, plan = pair
    return plan.issued_on, account.agreement.pk


def _lock_unchanged(planned, *, skip_locked) -> set:
    """Lock the rows of the planned agreements that got no invoice since they were loaded (the
    newest one not void of its own billing, monthly or final, is the same: a project or one-off
    invoice on the agreement is not part of it) and that no other worker holds (SKIP LOCKED);
    their ids.
    A row that changed is left unlocked: a worker never holds an agreement it will not bill, so
    it never makes another one skip it. (SQLite has no row locks: its write lock on the whole
    database, taken when the transaction begins, does.) One statement: the loaded ids join the
    agreements as a table of pairs (a condition per agreement would cost Django more to build)."""
    table = connection.ops.quote_name(Agreement._meta.db_table)
    invoices = connection.ops.quote_name(Invoice._meta.db_table)
    loaded = [(account.agreement.pk, account.last_invoice_id or 0) for account, _ in planned]
    lock = ""
    if connection.features.has_select_for_update:
        lock = f"FOR UPDATE OF {table}{' SKIP LOCKED' if skip_locked else ''}"
    pairs, params = _pairs_table(loaded, "loaded")
    sql = (
        f"SELECT {table}.id FROM {table} "  # noqa: S608 -- no user input
        f"JOIN {pairs} ON {table}.id = loaded.column1 "
        f"WHERE {table}.status IN ({', '.join(['%s'] * len(BILLED_STATUSES))}) "
        f"AND loaded.column2 = COALESCE((SELECT MAX({invoices}.id) FROM {invoices} "
        f"WHERE {invoices}.agreement_id = {table}.id AND {invoices}.status <> %s "
        f"AND {invoices}.kind IN ({', '.join(['%s'] * len(Invoice.AGREEMENT_KINDS))})), 0) "
        f"ORDER BY {table}.id {lock}"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [*params, *BILLED_STATUSES, Invoice.Status.VOID, *Invoice.AGREEMENT_KINDS]
        )
        return {row[0] for row in cursor.fetchall()}


def _pairs_table(pairs, name) -> tuple[str, list]:
    """(SQL, params) of a table ``name`` of these pairs of integers, columns ``column1`` and
    ``column2``, to join in a statement: on PostgreSQL two arrays unnested side by side (two
    parameters: the driver binds thousands of separate ones slowly), elsewhere VALUES."""
    if connection.vendor == "postgresql":
        sql = f"unnest(%s::bigint[], %s::bigint[]) AS {name} (column1, column2)"
        return sql, [[pair[0] for pair in pairs], [pair[1] for pair in pairs]]
    values = ", ".join(["(%s, %s)"] * len(pairs))
    return f"(VALUES {values}) AS {name}", [value for pair in pairs for value in pair]


def _invoice(account, plan, *, number) -> Invoice:
    agreement = account.agreement
    subtotal, discount, total = plan.totals
    return Invoice(
        number=number,
        agreement=agreement,
        customer=agreement.customer,
        kind=plan.kind,
        period=plan.period,
        issued_on=plan.issued_on,
        due_on=plan.due_on,
        payment_terms_days=(plan.due_on - plan.issued_on).days,
        bill_to=bill_to(agreement.customer),
        subtotal=subtotal,
        discount_total=discount,
        total=total,
        covers_from=plan.covers_from,
        covers_until=plan.covers_until,
        usage_until=plan.usage_until,
    )


def bill_to(customer) -> str:
    """What an invoice says it is billed to: the customer's name and address when issued."""
    return f"{customer.legal_name}\n{customer.address}"


def _mark_billed(billed):
    """The time entries each invoice bills, [(invoice, entry ids)], point at it: one UPDATE
    joined to the (entry id, invoice id) pairs, split only when they would pass `_MAX_PARAMS`
    (a long catch-up). (Set-based both ways: a CASE of one branch per invoice costs Django more
    to build than the UPDATE costs the database, and a subquery per entry costs SQLite more.)"""
    table = connection.ops.quote_name(TimeEntry._meta.db_table)
    column = connection.ops.quote_name(TimeEntry._meta.get_field("invoice").column)
    pairs = [(pk, invoice.pk) for invoice, ids in billed for pk in ids]
    for batch in _chunks(pairs, _MAX_PARAMS // 2):
        joined, params = _pairs_table(batch, "billed")
        sql = (
            f"UPDATE {table} SET {column} = billed.column2 FROM {joined} "  # noqa: S608 -- no user input
            f"WHERE {table}.id = billed.column1 AND {table}.{column} IS NULL"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def advance(account, plan):
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


# The columns of an invoice line, in the order of `_line_rows`' tuples.
_LINE_FIELDS = (
    "invoice",
    "position",
    "kind",
    "description",
    "quantity",
    "unit",
    "list_rate",
    "discount_percent",
    "net_rate",
    "list_amount",
    "discount_amount",
    "amount",
    "term",
    "service_line",
    "service_start",
    "service_end",
)
if {f.name for f in InvoiceLine._meta.concrete_fields if not f.primary_key} != {*_LINE_FIELDS}:
    raise ImproperlyConfigured("invoicing._LINE_FIELDS must name every field of InvoiceLine.")


def _line_rows(invoice, charges) -> list[tuple]:
    """The invoice's lines as rows of `_LINE_FIELDS`."""
    return [
        (
            invoice.pk,
            position,
            charge.kind,
            charge.description[:300],
            charge.quantity,
            charge.unit,
            charge.list_rate,
            charge.discount_percent,
            charge.net_rate,
            charge.list_amount,
            charge.discount_amount,
            charge.amount,
            charge.stretch.term.pk,
            charge.service_line_id,
            charge.stretch.start,
            charge.stretch.end,
        )
        for position, charge in enumerate(charges)
    ]


def _insert_lines(rows):
    """Insert invoice lines, rows of `_LINE_FIELDS`, in one statement: on PostgreSQL a COPY
    (the driver writes the rows in C), elsewhere one prepared statement run for each row. Not
    through `bulk_create`: a run inserts tens of thousands of lines whose values are already
    what the columns take (decimals, dates, ids, text cut to its length), and building a model
    instance per line and preparing each value through its field cost more than the insert."""
    if not rows:
        return
    by_name = {field.name: field for field in InvoiceLine._meta.concrete_fields}
    table = connection.ops.quote_name(InvoiceLine._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(by_name[name].column) for name in _LINE_FIELDS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            values = ", ".join(["%s"] * len(_LINE_FIELDS))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({values})"  # noqa: S608 -- no user input
            cursor.executemany(sql, rows)


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


def _clear_billing_problems(agreements):
    """These agreements were priced again: their recorded problems are over (one UPDATE, and
    none when no problem was recorded)."""
    troubled = [agreement for agreement in agreements if agreement.billing_problem]
    if troubled:
        Agreement.objects.filter(pk__in=[agreement.pk for agreement in troubled]).update(
            billing_problem="", billing_problem_since=None
        )
        for agreement in troubled:
            agreement.billing_problem = ""


# The daily jobs ---------------------------------------------------------------------------


def _due(today: dt.date) -> dict:
    """{month: [agreement ids]} of the monthly invoices that may be due by ``today`` (one
    query; `due_periods` decides exactly), each month's agreements in the order of their
    billing dates, so chunk after chunk the numbers follow the dates."""
    invoices = non_void_invoices().filter(kind=Invoice.Kind.MONTHLY)
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
                non_void_invoices().order_by("-covers_until").values("covers_until")[:1]
            ),
            has_usage=Exists(
                billable_entries().filter(agreement=OuterRef("pk"), invoice__isnull=True)
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
        issue_date = partial(billing_date, billing_day=day, first_start=first_start)
        for period in months_due(
            first=first_month(
                last_period=last_period, billed_through=billed, first_start=first_start
            ),
            latest_end=latest_end,
            ends_on=latest_end if status in OVER else None,
            issue_date=issue_date,
            today=today,
        ):
            due[period].append((issue_date(period), pk))
    return {period: [pk for _, pk in sorted(found)] for period, found in due.items()}


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
    follow the dates. One transaction per chunk of agreements; a re-run or a concurrent run
    issues nothing twice; an agreement that cannot be priced is recorded and skipped, never
    stops the run. An agreement left out of a month (it cannot be priced, or another worker
    holds it, or it changed since it was read) is left out of the later months of this run
    too: billing a later month would cover the one it missed (its recurring days, its usage),
    which would never get an invoice of its own. The next run takes it up month by month."""
    _bring_lifecycle_up_to_date(today)
    issued: list = []
    left_out: set = set()
    for period, agreement_ids in sorted(_due(today).items()):
        for chunk in _chunks([pk for pk in agreement_ids if pk not in left_out], chunk_size):
            with collector_paused():
                issued += _issue_chunk(chunk, period=period, today=today, left_out=left_out)
    return issued


def _issue_chunk(agreement_ids, *, period, today, left_out) -> list:
    """One month's invoices of a chunk of agreements: planned in memory, stored in one
    transaction. Should that transaction fail (another worker raced past the locks into the
    unique constraint, or one invoice cannot be stored), it rolls back whole and the chunk is
    stored invoice by invoice, so nothing is lost and one agreement never stops the others.
    Agreements planned but not stored (another worker holds them, or they changed) are added
    to ``left_out``."""
    planned, nothing_owed = [], []
    for account in load_accounts(agreement_ids).values():
        plan = _attempt(account, left_out, partial(_plan_due, account, period=period, today=today))
        if plan is not None and plan.charges:
            planned.append((account, plan))
        elif plan is not None:
            nothing_owed.append(account.agreement)  # no visit, no usage: no empty invoice
    _clear_billing_problems(nothing_owed)  # they could be priced
    try:
        return _left_out_unless_stored(planned, store_invoices(planned), left_out)
    except IntegrityError:
        logger.warning("Another worker raced this chunk: storing its invoices one by one")
    except DatabaseError:
        raise
    except Exception:  # noqa: BLE001 - find the agreement whose invoice cannot be stored
        logger.exception("A chunk could not be stored: storing its invoices one by one")
    issued = []
    for account, plan in sorted(planned, key=_number_order):
        invoice = _attempt(account, left_out, partial(store_invoice, account, plan))
        issued += [invoice] if invoice else []
    return _left_out_unless_stored(planned, issued, left_out)


def _left_out_unless_stored(planned, stored, left_out) -> list:
    """The stored invoices; the agreements of ``planned`` that got none are added to
    ``left_out`` (for the rest of the run)."""
    left_out |= {account.agreement.pk for account, _ in planned} - {
        invoice.agreement_id for invoice in stored
    }
    return stored


def _attempt(account, left_out, action):
    """``action()``, or None when it fails for this agreement: the problem is recorded on it, it
    is left out of the rest of the run, and the run goes on. (A database error is no one
    agreement's problem: it stops the run.)"""
    try:
        return action()
    except DatabaseError:
        raise
    except Exception as error:  # noqa: BLE001 - one agreement never stops the run
        logger.exception("Agreement %s could not be invoiced", account.agreement.pk)
        left_out.add(account.agreement.pk)
        record_billing_problem(account.agreement, error)
        return None


def _plan_due(account, *, period, today) -> Plan | None:
    """The month's invoice for this agreement, if it is still due (None: not due for it, or
    issued meanwhile by another worker)."""
    if period not in due_periods(account, today=today):
        return None
    return plan_monthly(account, period=period)


def _issue_due(account, *, period, today):
    plan = _plan_due(account, period=period, today=today)
    if plan is None:
        return None
    if not plan.charges:
        _clear_billing_problems([account.agreement])  # it could be priced: nothing was owed
        return None  # nothing to bill this month (no visit, no usage): no empty invoice
    return store_invoice(account, plan)  # None: another worker has (or had) this agreement


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
    invoice = store_invoice(account, plan)
    if invoice is None:
        raise ValidationError("Another run is invoicing this agreement right now.")
    return invoice


def mark_overdue(*, today: dt.date) -> int:
    """Daily job: issued invoices past their due date become overdue. One conditional UPDATE,
    so a re-run or a second worker changes nothing twice. (A credit is never overdue.)"""
    return Invoice.objects.filter(
        status=Invoice.Status.ISSUED, due_on__lt=today, total__gt=0
    ).update(status=Invoice.Status.OVERDUE)

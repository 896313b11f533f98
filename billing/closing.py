"""Closing an agreement early (DESIGN.md: "Early termination counts every term the customer is
bound to"): what the customer is bound to on a day (`binding`: the recorded terms, plus a
renewal a late notice or a passed notice deadline locked in), the commitment of the term in force
(billed so far and remaining: the early-termination charge), and the final invoice — its
preview for the page and its issue when the agreement is terminated (agreements.lifecycle).
(Planning and storing invoices: invoicing.py; what an agreement owes: accounts.py.)
"""

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from agreements import rules
from agreements.models import RateReview, Term, TerminationRequest

from .accounts import due_periods, load_accounts
from .charges import month_start, term_on
from .invoicing import Plan, advance, issue_due_invoices, plan_invoice, plan_monthly, store_invoice
from .models import Invoice, InvoiceLine
from .pricing import merged_rates
from .rules import ZERO, totals

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
    # The agreement's requests and reviews: as its page prefetched them, else read here.
    standing = [
        request
        for request in agreement.termination_requests.all()
        if request.status == TerminationRequest.Status.STANDING
    ]
    request = max(standing, key=lambda request: request.received_at, default=None)
    reviews = {
        review.term_number: review
        for review in agreement.rate_reviews.all()
        if review.status == RateReview.Status.FINALIZED
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
    return plan_invoice(
        account,
        kind=Invoice.Kind.FINAL,
        period=month_start(today),
        issued_on=today,
        until=bound.end,
        usage_until=today + dt.timedelta(days=1),
        terms=bound.terms,
    )


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
    return None if account is None else account_commitment(account, today=today)


def billed_recurring_lines(**terms):
    """The recurring invoice lines billed for the terms that ``terms`` filters the lines by
    (``term=…``, ``term__in=…``), void invoices left out: what a commitment counts as billed."""
    return InvoiceLine.objects.filter(kind__in=InvoiceLine.RECURRING, **terms).exclude(
        invoice__status=Invoice.Status.VOID
    )


def term_recurring_billed():
    """An annotation of a term: the sum of its `billed_recurring_lines` (0 when none), for a
    page that reads the terms anyway (`agreements.pages`) instead of a query of its own."""
    lines = billed_recurring_lines(term=OuterRef("pk")).order_by().values("term")
    total = lines.annotate(total=Sum("amount")).values("total")
    return Coalesce(Subquery(total), Value(ZERO), output_field=DecimalField())


def recurring_billed(terms) -> Decimal:
    """What was billed of the recurring charges of ``terms``: from their `term_recurring_billed`
    annotation when they were read with it, else read."""
    if all(hasattr(term, "recurring_billed") for term in terms):
        return sum((term.recurring_billed for term in terms), ZERO)
    lines = billed_recurring_lines(term__in=[term.pk for term in terms])
    return lines.aggregate(total=Sum("amount"))["total"] or ZERO


def account_commitment(account, *, today: dt.date) -> Commitment:
    """The commitment of an account (from `load_accounts`, or `accounts.account_of` on a page
    that already read the agreement), from the term in force on ``today``."""
    term = _term_for(account.terms, today)
    live = account.agreement.is_live
    billed = recurring_billed([t for t in account.terms if t.start >= term.start])
    if not live:
        return Commitment(term=term, billed=billed, remaining=ZERO, is_live=False)
    bound = binding(account, today=today)
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
        advance(account, monthly)
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
    invoice = store_invoice(account, plan, skip_locked=False)
    if invoice is None:
        raise ValidationError("A final invoice was already issued for this agreement.")
    return invoice

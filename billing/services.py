"""Billing workflows used by other apps."""

import datetime as dt
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, DecimalField, Value, When

from agreements.models import Term

from .models import DiscountPolicy, RateCard
from .pricing import monthly_recurring
from .rules import DISCOUNTED_KINDS

MONTHLY_AMOUNT_CHUNK = 500


def rates_snapshot(*, on: dt.date):
    """Exhibit A as JSON: the rate card and discounts in effect on a date."""
    card = RateCard.objects.current(on=on)
    if card is None:
        raise ValidationError(
            "No rate card is in effect on %(date)s; an admin must publish one first.",
            params={"date": on.isoformat()},
        )
    return {
        "rate_card": {
            "version": card.version,
            "title": card.title,
            "effective_date": card.effective_date.isoformat(),
        },
        "discounts": {
            kind: str(DiscountPolicy.percent_for(kind, on=on)) for kind in DISCOUNTED_KINDS
        },
        "rates": [
            {"kind": line.kind, "name": line.name, "unit": line.unit, "price": str(line.price)}
            for line in card.lines.all()
        ],
    }


def hosting_packages(*, on: dt.date):
    """[(name, monthly list price)] of the hosting packages on the rate card in effect (for
    Exhibit B forms, which show each package's price)."""
    card = RateCard.objects.current(on=on)
    if card is None:
        return []
    return list(card.lines.filter(kind="hosting_monthly").values_list("name", "price"))


def fill_monthly_amounts(*, chunks: int | None = None, size: int = MONTHLY_AMOUNT_CHUNK) -> int:
    """Store the monthly recurring amount of the terms that have none yet, `size` terms per
    chunk (3 queries each), at most `chunks` chunks (all by default); returns how many."""
    stored = done = last = 0
    while chunks is None or done < chunks:
        count, last = _fill_chunk(after=last, size=size)
        stored, done = stored + count, done + 1
        if count < size:
            break
    return stored


# No savepoint: inside a caller's transaction (a test's) the chunk adds no statements of its own.
@transaction.atomic(savepoint=False)
def _fill_chunk(*, after: int, size: int) -> tuple[int, int]:
    # The rows stay locked from the read to the write, so an amendment re-pointing a term to
    # its version (and clearing the amount) waits for this chunk or is skipped by it: a term
    # never keeps an amount computed from a version it no longer has.
    terms = list(
        Term.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(monthly_amount__isnull=True, pk__gt=after)
        .select_related("version")
        .prefetch_related("version__lines")
        .order_by("pk")[:size]
    )
    if not terms:
        return 0, after
    by_amount = defaultdict(list)  # most terms share a few amounts: a short UPDATE
    for term in terms:
        amount = monthly_recurring(
            term.locked_rates, term.version.rates_snapshot, term.version.lines.all()
        )
        by_amount[amount].append(term.pk)
    Term.objects.filter(pk__in=[term.pk for term in terms]).update(
        monthly_amount=Case(
            *[When(pk__in=pks, then=Value(amount)) for amount, pks in by_amount.items()],
            output_field=DecimalField(max_digits=12, decimal_places=2),
        )
    )
    return len(terms), terms[-1].pk

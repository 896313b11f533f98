"""Billing workflows used by other apps."""

import datetime as dt
from functools import reduce
from operator import or_

from django.core.exceptions import ValidationError
from django.db.models import Case, DecimalField, Q, Value, When

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
    """Names of the hosting packages on the rate card in effect (for Exhibit B forms)."""
    card = RateCard.objects.current(on=on)
    if card is None:
        return []
    return list(card.lines.filter(kind="hosting_monthly").values_list("name", flat=True))


def fill_monthly_amounts(*, chunks: int | None = None, size: int = MONTHLY_AMOUNT_CHUNK) -> int:
    """Store the monthly recurring amount of the terms that have none yet, `size` terms per
    chunk (3 queries each), at most `chunks` chunks (all by default); returns how many."""
    stored = done = last = 0
    while chunks is None or done < chunks:
        terms = list(
            Term.objects.filter(monthly_amount__isnull=True, pk__gt=last)
            .select_related("version")
            .prefetch_related("version__lines")
            .order_by("pk")[:size]
        )
        if not terms:
            break
        stored += _store_monthly_amounts(terms)
        last, done = terms[-1].pk, done + 1
        if len(terms) < size:
            break
    return stored


def _store_monthly_amounts(terms) -> int:
    # One UPDATE for the chunk, of the terms that still have the version their amount was
    # computed from: an amendment that re-pointed a term meanwhile (clearing its amount) leaves
    # it NULL for the next fill instead of giving it the old version's amount.
    amounts = Case(
        *[
            When(
                pk=term.pk,
                then=Value(
                    monthly_recurring(
                        term.locked_rates, term.version.rates_snapshot, term.version.lines.all()
                    )
                ),
            )
            for term in terms
        ],
        output_field=DecimalField(max_digits=12, decimal_places=2),
    )
    unchanged = reduce(or_, [Q(pk=term.pk, version_id=term.version_id) for term in terms])
    return Term.objects.filter(unchanged, monthly_amount__isnull=True).update(
        monthly_amount=amounts
    )

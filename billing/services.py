"""Billing workflows used by other apps."""

import datetime as dt

from django.core.exceptions import ValidationError

from .models import DiscountPolicy, RateCard
from .rules import DISCOUNTED_KINDS


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

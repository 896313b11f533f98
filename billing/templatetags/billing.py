"""Money in templates, and the commitment panel of the agreement pages."""

from decimal import Decimal

from django import template

from allora.timeutils import local_today
from billing import closing

register = template.Library()


@register.filter
def usd(value):
    """Dollars with cents and thousands separators: $1,170.00 (−$75.00 when negative)."""
    if value in (None, ""):
        return ""
    amount = Decimal(value)
    sign = "−" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


@register.filter
def number(value):
    """A quantity without trailing zeros: 2.00 → 2, 1.50 → 1.5."""
    return f"{Decimal(value).normalize():f}"


@register.filter
def percent(value):
    """25.00 → 25%, 12.50 → 12.5%."""
    return f"{number(value)}%"


@register.simple_tag
def commitment_for(agreement):
    """The commitment of the agreement's term in force today (None before it has a term)."""
    return closing.commitment(agreement, today=local_today())

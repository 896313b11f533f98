"""Money in templates."""

from decimal import Decimal

from django import template

from billing import timesheets

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
def usd_change(value):
    """A change in dollars with its sign: +$7.50, −$7.50, $0.00."""
    if value in (None, ""):
        return ""
    return f"+{usd(value)}" if Decimal(value) > 0 else usd(value)


@register.filter
def number(value):
    """A quantity without trailing zeros: 2.00 → 2, 1.50 → 1.5."""
    return f"{Decimal(value).normalize():f}"


@register.filter
def percent(value):
    """25.00 → 25%, 12.50 → 12.5%."""
    return f"{number(value)}%"


@register.filter
def billing_state(entry):
    """Where a time entry is billed (``billing.timesheets.billing_state``)."""
    return timesheets.billing_state(entry)
